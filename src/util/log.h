/*
 * log.h
 *		PostgreSQL-style messages: "pgcrane: error: could not ...".
 *
 * Messages are lowercase, have no trailing period and quote the object.
 * Every function here is thread-safe: a line is written with one call.
 * The verbosity is configuration set once in main() before any thread
 * starts; the only other state is each thread's own sink (log_set_sink).
 */
#ifndef PGCRANE_LOG_H
#define PGCRANE_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum log_level
{
	LOG_DEBUG = 0,
	LOG_INFO,
	LOG_WARNING,
	LOG_ERROR
} log_level;

/* Set the lowest level that is printed (default LOG_INFO). */
void		log_set_level(log_level level);
log_level	log_get_level(void);

void		log_msg(log_level level, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

/* log_msg with a va_list. */
void		log_vmsg(log_level level, const char *fmt, va_list ap);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* Second and third lines of a message: "pgcrane: detail: ...". */
void		log_detail(const char *fmt,...) __attribute__((format(printf, 1, 2)));
void		log_hint(const char *fmt,...) __attribute__((format(printf, 1, 2)));

/* Log at error level and return -1, for "return error(...)". */
int			error(const char *fmt,...) __attribute__((format(printf, 1, 2)));

/*
 * A sink takes this thread's lines instead of stderr: it is given each
 * line that would be printed, its prefix ("error: ", "detail: ",
 * "warning: ", "" for info ...) and its text, and returns true when it
 * took the line (it is then not printed).  core/failure.c installs one to
 * hold a failure's lines until its decider reports them; nothing else
 * should.  fn NULL removes the sink.
 */
typedef bool (*log_sink_fn) (void *arg, const char *prefix, const char *line);

void		log_set_sink(log_sink_fn fn, void *arg);

/* Report a broken invariant and abort. */
#define BUG(msg) log_bug(__FILE__, __LINE__, (msg))
void		log_bug(const char *file, int line, const char *msg)
			__attribute__((noreturn));

#endif
