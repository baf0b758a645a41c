/*
 * verify_session.h
 *		A pair of connections, one to each server, set up for verify.
 *
 * Every verify session sets the output settings that checksums depend on
 * (DateStyle, IntervalStyle, extra_float_digits, TimeZone, bytea_output,
 * lc_monetary, search_path) so that two servers, even of different major
 * versions, print equal data the same way, and runs in one read-only
 * REPEATABLE READ transaction.  The first pair exports its snapshots;
 * the pairs of the workers import them, so that every query of a run,
 * on each side, sees the same data.
 *
 * A query can be sent to both sides at once (vsession_query2): both
 * servers work at the same time and the call returns when the slower one
 * is done.  Failures are logged once, naming the side, and returned as -1.
 */
#ifndef PGCRANE_VERIFY_SESSION_H
#define PGCRANE_VERIFY_SESSION_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "core/interrupt.h"

typedef struct vsession
{
	PGconn	   *src;
	PGconn	   *tgt;
	char	   *src_snapshot;	/* the snapshot this pair uses, or NULL */
	char	   *tgt_snapshot;
	interrupt  *intr;			/* cancels the queries on Ctrl-C, or NULL */
} vsession;

/*
 * Connect both sides, apply the settings and begin the transaction.  With
 * snapshots NULL (the first pair), export the snapshots for the others;
 * a server that cannot export one is used without (logged at debug level).
 * The connections are registered with intr (may be NULL), whose Ctrl-C
 * cancels their queries; a query canceled so fails without a message.
 * 0 or -1 (logged); on failure the session is closed.
 */
int			vsession_open(vsession *s, const char *source, const char *target,
						  const char *src_snapshot, const char *tgt_snapshot,
						  interrupt *intr);
void		vsession_close(vsession *s);

/*
 * After a failed query the transaction is aborted: roll it back and begin
 * again in the same snapshots.  0 or -1 (logged).
 */
int			vsession_recover(vsession *s);

/* A query for one side: text parameters with optional type OIDs. */
typedef struct vquery
{
	const char *sql;
	int			nparams;
	const char *const *params;
	const Oid  *types;
} vquery;

/*
 * Run q_src on the source and q_tgt on the target at the same time.  On
 * success both results (PGRES_TUPLES_OK) are the caller's to PQclear.
 * On failure both are NULL and -1 is returned, logged as: could not
 * <what> on <side> server: ...
 */
int			vsession_query2(vsession *s, const char *what, const vquery *q_src,
							const vquery *q_tgt, PGresult **res_src,
							PGresult **res_tgt);

/* Run one query on one side: the target's if target, else the source's. */
PGresult   *vsession_query(vsession *s, bool target, const char *what,
						   const vquery *q);

#endif
