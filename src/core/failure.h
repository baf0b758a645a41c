/*
 * failure.h
 *		The failure of an operation: filled where it is detected, logged
 *		once by the layer that decides what it means.
 *
 * A layer that may retry work (the clone's tasks, the follow's sessions)
 * is the decider.  It opens a capture around one attempt:
 *
 *		failure		f = FAILURE_INIT;
 *
 *		failure_capture_begin(&f);
 *		rc = attempt();
 *		failure_capture_end(&f);
 *		failure_report(&f, retried ? LOG_WARNING : LOG_ERROR);
 *		failure_release(&f);
 *
 * While the capture is open, the error lines this thread logs (and the
 * detail and hint lines that follow them) go into f instead of stderr;
 * other lines (info, warnings) are printed at once.  Where a failure is
 * detected, failure_set() fills the facts of the capture: the side, the
 * SQLSTATE, the object, the message and whether it is transient (by
 * errclass.h, so every layer classifies the same way); conn.c does so for
 * every failure of a statement or a connection.  The first failure wins:
 * what fails afterwards (a rollback on a broken connection) is a
 * consequence, kept as a held line only.  An error line logged without
 * failure_set() stands for the failure when it comes first, permanent and
 * with no side or SQLSTATE, until a failure whose facts are known comes;
 * so does a failure canceled by pgcrane itself (57014).
 *
 * failure_report() then logs the held lines once, in order, their error
 * lines at the level the decider chose: LOG_WARNING when it tries again
 * (a run that recovered shows no "error:" line), LOG_ERROR when it gives
 * up, LOG_DEBUG when the failure does not matter.
 *
 * Captures nest: an inner decider's capture takes the lines while it is
 * open; what it reports at error level goes to the outer capture, which
 * takes over its facts when it has none of its own.  Each thread has its
 * own captures; the failure struct belongs to the caller, who must end a
 * capture (innermost first) before reporting it and release it after.
 */
#ifndef PGCRANE_FAILURE_H
#define PGCRANE_FAILURE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/log.h"

/* A held line: its kind ('e' error, 'd' detail, 'h' hint) and text. */
typedef struct failure_line
{
	char		kind;
	char	   *text;
} failure_line;

typedef struct failure
{
	bool		present;		/* a failure was detected */
	char		side[8];		/* "source", "target" or "" */
	char		sqlstate[6];	/* "" when there is none */
	char		object[256];	/* what it concerns, "" when not known */
	char		message[1024];	/* the error line, without "error: " */
	bool		transient;		/* heals by waiting (errclass.h) */
	bool		connection_bad; /* a connection of the attempt broke */
	bool		bare;			/* from an error line alone: facts unknown */

	/* Held lines, in order; owned by the struct. */
	failure_line *lines;
	size_t		nlines;
	size_t		cap;
	bool		tail;			/* the last line was held: its detail too */
	bool		capturing;
	struct failure *outer;		/* the capture this one is nested in */
} failure;

#define FAILURE_INIT {0}

/*
 * Start capturing this thread's error lines and failures into f (reset
 * first).  Nested in the thread's open capture, if any.
 */
void		failure_capture_begin(failure *f);

/* Stop capturing into f, the innermost open capture of this thread. */
void		failure_capture_end(failure *f);

/*
 * Log f's held lines once, in order: error lines at level, detail and
 * hint lines when level is printed.  f must not be capturing; it keeps
 * its lines (report twice, print twice).
 */
void		failure_report(const failure *f, log_level level);

/* Free f's held lines; f is FAILURE_INIT again. */
void		failure_release(failure *f);

/* Whether f holds a failure that heals by waiting. */
bool		failure_is_transient(const failure *f);

/*
 * A failure detected here: fill the innermost open capture's facts, unless
 * it holds a failure already, and log the message as an error (held by
 * the capture).  side, sqlstate and object may be NULL.  Transient by
 * errclass_transient(sqlstate, message, connection_bad).  Without a
 * capture, only logged.  Returns whether this failure is transient, for
 * code that answers it at once.
 */
bool		failure_set(const char *side, const char *sqlstate,
						const char *object, bool connection_bad,
						const char *fmt,...)
			__attribute__((format(printf, 5, 6)));

/*
 * failure_set() without logging, for a failure the caller logs its own
 * way (a canceled query at debug level).  message is the line it logs.
 */
bool		failure_note(const char *side, const char *sqlstate,
						 const char *object, bool connection_bad,
						 const char *message);

/*
 * A connection to side was found broken: the innermost open capture's
 * failure (there may be none yet) is transient, as a broken connection
 * heals by reconnecting.  Logs nothing.
 */
void		failure_connection_broken(const char *side);

#endif
