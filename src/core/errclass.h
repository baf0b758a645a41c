/*
 * errclass.h
 *		Which failures heal by waiting: one classification for the whole
 *		program.
 *
 * Every layer that retries asks here, and nowhere else, through the
 * failure value filled where a failure is detected (failure.h): the
 * clone's tasks and the follow's sessions (the replication stream, the
 * apply session and its control session).  A failure is described by what is known of it: the
 * SQLSTATE the server sent (or "" when there is none), the one-line
 * message, and whether libpq already counts the connection as broken.
 *
 * Transient, that is worth trying again with a new connection after a
 * pause:
 *
 *	connection		class 08, a broken connection, and libpq's own failures
 *					that carry no SQLSTATE ("server closed the connection
 *					unexpectedly", "Connection refused", a missing socket
 *					file, a timeout)
 *	shutdown		57P01 admin_shutdown (-m fast), 57P02 crash_shutdown
 *					(another backend crashed, -m immediate), 57P05
 *					idle_session_timeout
 *	starting		57P03 cannot_connect_now: starting up, crash recovery,
 *					shutting down
 *	capacity		53300 too_many_connections
 *	conflict		40001 serialization_failure, 40P01 deadlock_detected
 *	in use			55006 object_in_use (a replication slot or origin still
 *					held by a session that is going away), 55P03
 *					lock_not_available
 *
 * Everything else is permanent: a wrong password or database, a missing
 * table, a type that does not match, a protocol violation (08P01).
 * 57014 (query_canceled) is pgcrane stopping its own work and is never
 * retried.  The module is pure: no I/O, no state.
 */
#ifndef PGCRANE_ERRCLASS_H
#define PGCRANE_ERRCLASS_H

#include <stdbool.h>

typedef enum errclass_kind
{
	ERRCLASS_PERMANENT = 0,		/* waiting does not help */
	ERRCLASS_CANCELED,			/* 57014: pgcrane's own interrupt */
	ERRCLASS_CONNECTION,		/* network, server gone or unreachable */
	ERRCLASS_SHUTDOWN,			/* the server is shutting down or crashed */
	ERRCLASS_STARTING,			/* not accepting connections yet */
	ERRCLASS_CAPACITY,			/* no connection slot free */
	ERRCLASS_CONFLICT,			/* serialization failure, deadlock */
	ERRCLASS_IN_USE				/* held by a session that is ending */
} errclass_kind;

/* The class of a SQLSTATE ("" or NULL: ERRCLASS_PERMANENT). */
errclass_kind errclass_of_sqlstate(const char *sqlstate);

/*
 * The class of a message without a SQLSTATE: libpq's connection failures
 * and the server's startup refusals as libpq reports them.  Other
 * messages are ERRCLASS_PERMANENT.
 */
errclass_kind errclass_of_message(const char *message);

/*
 * The class of a failure: a transient SQLSTATE's class; else
 * ERRCLASS_CONNECTION when the connection is broken (whatever SQLSTATE
 * came last: a COPY stopped with 57014 because its other side broke is a
 * connection failure); else the SQLSTATE's class when it has one; else
 * the message's.  sqlstate and message may be NULL.
 */
errclass_kind errclass_classify(const char *sqlstate, const char *message,
								bool connection_bad);

/* Whether a class heals by waiting. */
bool		errclass_is_transient(errclass_kind kind);

/* errclass_is_transient(errclass_classify(...)). */
bool		errclass_transient(const char *sqlstate, const char *message,
							   bool connection_bad);

/* A word for the class, for debug messages ("connection", "shutdown"). */
const char *errclass_name(errclass_kind kind);

/*
 * The SQLSTATE of a failed connection attempt, inferred from its message
 * (libpq gives none): 3D000, 28P01, 28000, 57P03, 53300, 57P01, 57P02, or
 * 08001 for a connection failure; "" when the message is none of those.
 * The result is a constant.
 */
const char *errclass_connect_sqlstate(const char *message);

#endif
