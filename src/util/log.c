/*
 * log.c
 *		PostgreSQL-style messages on stderr.
 */
#include "util/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static log_level min_level = LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * The lines a thread holds back while it tries something it may retry
 * (log_hold_begin): each is its kind ('e' error, 'o' other) and its text,
 * one per line.
 */
typedef struct held_lines
{
	char	   *buf;
	size_t		len;
	size_t		cap;
} held_lines;

static _Thread_local held_lines *held;

static void
hold_line(char kind, const char *prefix, const char *line)
{
	size_t		need = strlen(prefix) + strlen(line) + 3;

	if (held->len + need > held->cap)
	{
		size_t		cap = held->cap ? held->cap * 2 : 1024;

		while (cap < held->len + need)
			cap *= 2;
		held->buf = realloc(held->buf, cap);
		if (held->buf == NULL)
			abort();
		held->cap = cap;
	}
	held->len += (size_t) snprintf(held->buf + held->len, held->cap - held->len,
								   "%c%s%s\n", kind, prefix, line);
}

void
log_set_level(log_level level)
{
	min_level = level;
}

log_level
log_get_level(void)
{
	return min_level;
}

static void
log_write(const char *prefix, const char *fmt, va_list ap)
{
	char		line[4096];
	size_t		len;

	vsnprintf(line, sizeof(line), fmt, ap);
	/* Server messages end in a newline; one line per message here. */
	len = strlen(line);
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == ' '))
		line[--len] = '\0';
	if (held && (strcmp(prefix, "error: ") == 0 || strcmp(prefix, "detail: ") == 0 ||
				 strcmp(prefix, "hint: ") == 0))
	{
		hold_line(prefix[0] == 'e' ? 'e' : 'o', prefix[0] == 'e' ? "" : prefix, line);
		return;
	}
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "pgcrane: %s%s\n", prefix, line);
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
}

static const char *
level_prefix(log_level level)
{
	switch (level)
	{
		case LOG_DEBUG:
			return "debug: ";
		case LOG_INFO:
			return "";
		case LOG_WARNING:
			return "warning: ";
		case LOG_ERROR:
			return "error: ";
	}
	return "";
}

void
log_msg(log_level level, const char *fmt,...)
{
	va_list		ap;

	if (level < min_level)
		return;
	va_start(ap, fmt);
	log_write(level_prefix(level), fmt, ap);
	va_end(ap);
}

void
log_vmsg(log_level level, const char *fmt, va_list ap)
{
	if (level >= min_level)
		log_write(level_prefix(level), fmt, ap);
}

void
log_detail(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	log_write("detail: ", fmt, ap);
	va_end(ap);
}

void
log_hint(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	log_write("hint: ", fmt, ap);
	va_end(ap);
}

int
error(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	log_write("error: ", fmt, ap);
	va_end(ap);
	return -1;
}

void
log_hold_begin(void)
{
	if (held == NULL)
	{
		held = calloc(1, sizeof(held_lines));
		if (held == NULL)
			abort();
	}
}

void
log_hold_end(log_level level)
{
	held_lines *h = held;
	char	   *line;

	if (h == NULL)
		return;
	held = NULL;
	for (line = h->buf; line && line < h->buf + h->len;)
	{
		char	   *end = strchr(line, '\n');

		*end = '\0';
		if (line[0] == 'e' && level >= min_level)
			log_msg(level, "%s", line + 1);
		else if (line[0] != 'e' && level >= min_level)
		{
			pthread_mutex_lock(&log_lock);
			fprintf(stderr, "pgcrane: %s\n", line + 1);
			fflush(stderr);
			pthread_mutex_unlock(&log_lock);
		}
		line = end + 1;
	}
	free(h->buf);
	free(h);
}

bool
log_hold_last_error(char *buf, size_t bufsize)
{
	const char *last = NULL;
	size_t		len = 0;

	if (bufsize > 0)
		buf[0] = '\0';
	for (const char *line = held ? held->buf : NULL;
		 line && line < held->buf + held->len;)
	{
		const char *end = strchr(line, '\n');

		if (line[0] == 'e')
		{
			last = line + 1;
			len = (size_t) (end - last);
		}
		line = end + 1;
	}
	if (last == NULL || bufsize == 0)
		return false;
	if (len >= bufsize)
		len = bufsize - 1;
	memcpy(buf, last, len);
	buf[len] = '\0';
	return true;
}

void
log_bug(const char *file, int line, const char *msg)
{
	fprintf(stderr, "pgcrane: BUG: %s:%d: %s\n", file, line, msg);
	abort();
}
