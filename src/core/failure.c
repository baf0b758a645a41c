/*
 * failure.c
 *		The failure of an operation and the capture of its lines (see
 *		failure.h).
 *
 * Each thread has a stack of open captures (the innermost is "active");
 * while one is open, log.c hands this thread's lines to capture_line()
 * through its sink, which keeps the error lines and what belongs to them.
 */
#include "core/failure.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errclass.h"
#include "util/str.h"

#define SQLSTATE_CANCELED "57014"

/* The innermost open capture of this thread, NULL when none. */
static _Thread_local failure *active;

static void
hold(failure *f, char kind, const char *text)
{
	if (f->nlines == f->cap)
	{
		f->cap = f->cap ? f->cap * 2 : 8;
		f->lines = xrealloc(f->lines, f->cap * sizeof(failure_line));
	}
	f->lines[f->nlines].kind = kind;
	f->lines[f->nlines].text = xstrdup(text);
	f->nlines++;
}

static bool
canceled(const failure *f)
{
	return strcmp(f->sqlstate, SQLSTATE_CANCELED) == 0;
}

/*
 * Whether a new failure takes f's facts: the first wins, but not a cancel,
 * nor a bare error line (its facts are not known).
 */
static bool
takes_facts(const failure *f, const char *sqlstate)
{
	return !f->present || f->bare ||
		(canceled(f) && (sqlstate == NULL || strcmp(sqlstate, SQLSTATE_CANCELED) != 0));
}

static void
fill(failure *f, const char *side, const char *sqlstate, const char *object,
	 const char *message, bool transient)
{
	f->present = true;
	str_copy(f->side, side ? side : "", sizeof(f->side));
	str_copy(f->sqlstate, sqlstate ? sqlstate : "", sizeof(f->sqlstate));
	str_copy(f->object, object ? object : "", sizeof(f->object));
	str_copy(f->message, message, sizeof(f->message));
	f->transient = transient;
	f->bare = false;
}

/*
 * log.c's sink: error lines are held, and the detail and hint lines right
 * after a held line; everything else is printed.  A first error line that
 * failure_set() did not announce is the failure (bare: permanent, its
 * facts unknown) until one with facts comes.
 */
static bool
capture_line(void *arg, const char *prefix, const char *line)
{
	failure    *f = arg;
	bool		is_error = strcmp(prefix, "error: ") == 0;
	bool		is_detail = strcmp(prefix, "detail: ") == 0;
	bool		is_hint = strcmp(prefix, "hint: ") == 0;

	if (!is_error && !(f->tail && (is_detail || is_hint)))
	{
		f->tail = false;
		return false;
	}
	if (is_error && !f->present)
	{
		fill(f, NULL, NULL, NULL, line, false);
		f->bare = true;
	}
	hold(f, is_error ? 'e' : is_detail ? 'd' : 'h', line);
	f->tail = true;
	return true;
}

void
failure_capture_begin(failure *f)
{
	failure_release(f);
	f->capturing = true;
	f->outer = active;
	active = f;
	log_set_sink(capture_line, f);
}

void
failure_capture_end(failure *f)
{
	if (active != f)
		BUG("failure capture ended out of order");
	active = f->outer;
	f->outer = NULL;
	f->capturing = false;
	if (active)
		active->tail = false;	/* its last line was before f began */
	log_set_sink(active ? capture_line : NULL, active);
}

/* An inner decider gives up: the outer capture learns what failed. */
static void
pass_facts(const failure *f)
{
	if (active == NULL || !f->present || !takes_facts(active, f->sqlstate) ||
		(f->bare && active->present))
		return;
	fill(active, f->side, f->sqlstate, f->object, f->message, f->transient);
	active->bare = f->bare;
	active->connection_bad |= f->connection_bad;
}

void
failure_report(const failure *f, log_level level)
{
	bool		shown = level >= log_get_level();

	if (f->capturing)
		BUG("failure reported while capturing");
	if (level >= LOG_ERROR)
		pass_facts(f);
	for (size_t i = 0; i < f->nlines; i++)
	{
		const failure_line *l = &f->lines[i];

		if (l->kind == 'e')
			log_msg(level, "%s", l->text);
		else if (shown && l->kind == 'd')
			log_detail("%s", l->text);
		else if (shown)
			log_hint("%s", l->text);
	}
}

void
failure_release(failure *f)
{
	if (f->capturing)
		BUG("failure released while capturing");
	for (size_t i = 0; i < f->nlines; i++)
		free(f->lines[i].text);
	free(f->lines);
	memset(f, 0, sizeof(*f));
}

bool
failure_is_transient(const failure *f)
{
	return f->transient || f->connection_bad;
}

bool
failure_note(const char *side, const char *sqlstate, const char *object,
			 bool connection_bad, const char *message)
{
	bool		transient = errclass_transient(sqlstate, message, connection_bad);

	if (active == NULL)
		return transient;
	if (takes_facts(active, sqlstate))
		fill(active, side, sqlstate, object, message, transient);
	if (connection_bad)
		active->connection_bad = true;
	return transient;
}

bool
failure_set(const char *side, const char *sqlstate, const char *object,
			bool connection_bad, const char *fmt,...)
{
	char		message[sizeof(((failure *) 0)->message)];
	va_list		ap;
	bool		transient;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	transient = failure_note(side, sqlstate, object, connection_bad, message);
	log_error("%s", message);
	return transient;
}

void
failure_connection_broken(const char *side)
{
	if (active == NULL)
		return;
	active->connection_bad = true;
	if (!active->present)
		str_copy(active->side, side ? side : "", sizeof(active->side));
}
