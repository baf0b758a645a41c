/*
 * str.c
 *		Memory and string helpers.
 */
#include "util/str.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
out_of_memory(void)
{
	fputs("pgcrane: error: out of memory\n", stderr);
	abort();
}

void *
xmalloc(size_t size)
{
	void	   *p = malloc(size ? size : 1);

	if (p == NULL)
		out_of_memory();
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void	   *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		out_of_memory();
	return p;
}

void *
xrealloc(void *ptr, size_t size)
{
	void	   *p = realloc(ptr, size ? size : 1);

	if (p == NULL)
		out_of_memory();
	return p;
}

char *
xstrdup(const char *s)
{
	size_t		len = strlen(s) + 1;
	char	   *p = xmalloc(len);

	memcpy(p, s, len);
	return p;
}

char *
str_printf(const char *fmt,...)
{
	va_list		ap;
	int			n;
	char	   *p;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		out_of_memory();
	p = xmalloc((size_t) n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t) n + 1, fmt, ap);
	va_end(ap);
	return p;
}

bool
str_copy(char *dst, const char *src, size_t dstsize)
{
	size_t		len = strlen(src);

	if (dstsize == 0)
		return false;
	if (len >= dstsize)
	{
		memcpy(dst, src, dstsize - 1);
		dst[dstsize - 1] = '\0';
		return false;
	}
	memcpy(dst, src, len + 1);
	return true;
}

bool
str_to_int64(const char *s, int64_t *out)
{
	char	   *end;
	long long	v;

	/* Digits with an optional minus sign, nothing else. */
	if (s == NULL || (*s != '-' && !isdigit((unsigned char) *s)))
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*out = (int64_t) v;
	return true;
}

bool
str_to_int(const char *s, int min, int max, int *out)
{
	int64_t		v;

	if (!str_to_int64(s, &v) || v < min || v > max)
		return false;
	*out = (int) v;
	return true;
}

static bool
unit_multiplier(const char *unit, double *mult)
{
	static const struct
	{
		const char *name;
		double		mult;
	}			units[] = {
		{"", 1}, {"b", 1}, {"kb", 1024.0}, {"k", 1024.0},
		{"mb", 1048576.0}, {"m", 1048576.0},
		{"gb", 1073741824.0}, {"g", 1073741824.0},
		{"tb", 1099511627776.0}, {"t", 1099511627776.0},
	};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
	{
		if (strcasecmp(unit, units[i].name) == 0)
		{
			*mult = units[i].mult;
			return true;
		}
	}
	return false;
}

bool
str_parse_size(const char *s, int64_t *bytes)
{
	char	   *end;
	double		v,
				mult;

	if (s == NULL)
		return false;
	while (isspace((unsigned char) *s))
		s++;
	if (!isdigit((unsigned char) *s) && *s != '.')
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || v < 0)
		return false;
	while (isspace((unsigned char) *end))
		end++;
	if (!unit_multiplier(end, &mult))
		return false;
	v *= mult;
	/* (double) INT64_MAX rounds up to 2^63, itself out of range. */
	if (v >= 9223372036854775808.0)
		return false;
	*bytes = (int64_t) v;
	return true;
}

void
str_format_size(int64_t bytes, char *buf, size_t bufsize)
{
	static const char *units[] = {"bytes", "kB", "MB", "GB", "TB"};
	double		v = (double) bytes;
	int			u = 0;

	while (v >= 1024.0 && u < 4)
	{
		v /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, bufsize, "%lld bytes", (long long) bytes);
	else
		snprintf(buf, bufsize, "%.1f %s", v, units[u]);
}

static void
strbuf_grow(strbuf *sb, size_t extra)
{
	size_t		need = sb->len + extra + 1;

	if (need <= sb->alloc)
		return;
	if (sb->alloc == 0)
		sb->alloc = 64;
	while (sb->alloc < need)
		sb->alloc *= 2;
	sb->buf = xrealloc(sb->buf, sb->alloc);
}

void
strbuf_add(strbuf *sb, const char *data, size_t len)
{
	strbuf_grow(sb, len);
	memcpy(sb->buf + sb->len, data, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
}

void
strbuf_adds(strbuf *sb, const char *s)
{
	strbuf_add(sb, s, strlen(s));
}

void
strbuf_addf(strbuf *sb, const char *fmt,...)
{
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		out_of_memory();
	strbuf_grow(sb, (size_t) n);
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, (size_t) n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t) n;
}

void
strbuf_reset(strbuf *sb)
{
	sb->len = 0;
	if (sb->buf)
		sb->buf[0] = '\0';
}

const char *
strbuf_str(const strbuf *sb)
{
	return sb->buf ? sb->buf : "";
}

char *
strbuf_detach(strbuf *sb)
{
	char	   *p = sb->buf ? sb->buf : xstrdup("");

	sb->buf = NULL;
	sb->len = sb->alloc = 0;
	return p;
}

void
strbuf_release(strbuf *sb)
{
	free(sb->buf);
	sb->buf = NULL;
	sb->len = sb->alloc = 0;
}

char *
str_text_array(const char *const *items, int n)
{
	strbuf		sb = STRBUF_INIT;

	strbuf_adds(&sb, "{");
	for (int i = 0; i < n; i++)
	{
		strbuf_adds(&sb, i > 0 ? ",\"" : "\"");
		for (const char *p = items[i]; *p; p++)
		{
			if (*p == '"' || *p == '\\')
				strbuf_add(&sb, "\\", 1);
			strbuf_add(&sb, p, 1);
		}
		strbuf_adds(&sb, "\"");
	}
	strbuf_adds(&sb, "}");
	return strbuf_detach(&sb);
}
