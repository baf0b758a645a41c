/*
 * str.h
 *		Memory and string helpers.
 *
 * Allocation failure aborts the program: callers never check for NULL from
 * the x* functions.  A strbuf is a growable string; STRBUF_INIT gives an
 * empty one, strbuf_release() frees it, strbuf_detach() hands the storage
 * to the caller (you now own it, free() it).
 */
#ifndef PGCRANE_STR_H
#define PGCRANE_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void	   *xmalloc(size_t size);
void	   *xcalloc(size_t n, size_t size);
void	   *xrealloc(void *ptr, size_t size);
char	   *xstrdup(const char *s);

/* printf into newly allocated memory; the caller frees the result. */
char	   *str_printf(const char *fmt,...) __attribute__((format(printf, 1, 2)));

/* Bounded copy that always terminates dst; returns false if truncated. */
bool		str_copy(char *dst, const char *src, size_t dstsize);

/* Parse a base-10 integer; false unless the whole string is a number in range. */
bool		str_to_int(const char *s, int min, int max, int *out);
bool		str_to_int64(const char *s, int64_t *out);

/*
 * Parse a size such as "10GB", "512MB", "1.5 GB", "1000000" (bytes) into
 * bytes.  Units are kB, MB, GB, TB (powers of 1024, as PostgreSQL uses),
 * case-insensitive.  Returns false on bad input.
 */
bool		str_parse_size(const char *s, int64_t *bytes);

/* Format bytes as "1.5 GB" into buf. */
void		str_format_size(int64_t bytes, char *buf, size_t bufsize);

typedef struct strbuf
{
	char	   *buf;
	size_t		len;
	size_t		alloc;
} strbuf;

#define STRBUF_INIT {NULL, 0, 0}

void		strbuf_add(strbuf *sb, const char *data, size_t len);
void		strbuf_adds(strbuf *sb, const char *s);
void		strbuf_addf(strbuf *sb, const char *fmt,...) __attribute__((format(printf, 2, 3)));
void		strbuf_reset(strbuf *sb);
/* Never NULL: an empty buffer returns "". */
const char *strbuf_str(const strbuf *sb);
char	   *strbuf_detach(strbuf *sb);
void		strbuf_release(strbuf *sb);

/*
 * A PostgreSQL text[] literal of the n strings of items ("{\"a\",\"b\"}"),
 * for a query parameter; caller frees.
 */
char	   *str_text_array(const char *const *items, int n);

#endif
