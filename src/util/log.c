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

/* This thread's sink (log_set_sink), if any. */
static _Thread_local log_sink_fn sink_fn;
static _Thread_local void *sink_arg;

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
	if (sink_fn && sink_fn(sink_arg, prefix, line))
		return;
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
log_set_sink(log_sink_fn fn, void *arg)
{
	sink_fn = fn;
	sink_arg = arg;
}

void
log_bug(const char *file, int line, const char *msg)
{
	fprintf(stderr, "pgcrane: BUG: %s:%d: %s\n", file, line, msg);
	abort();
}
