/*
 * apply.h
 *		Apply decoded changes to the target, in source commit order.
 *
 * A cdc_apply owns one or more apply sessions on the target (lanes,
 * apply_lane.h), each in libpq pipeline mode, and a control session for
 * catalog lookups, the origins' progress and the sequences at cutover.
 * With one lane every source transaction is applied in that session; with
 * more, batches of source transactions that touch different rows are
 * applied at once on different lanes and committed in source order
 * (apply.c tells how).  Messages go in with
 * cdc_apply_message() as they come out of the decoder; nothing waits for
 * the target there.  cdc_apply_poll() sends what is queued and reads the
 * results that have arrived; a transaction counts as applied when the
 * target has answered its COMMIT.
 *
 * Failures fill the follow's failure value where they are detected
 * (core/failure.h): the follow decides what they are and logs them once,
 * as warnings when it tries again.  Functions return 0, -1 (failed: the
 * failure value tells whether it heals by waiting, as errclass.h
 * classifies it: a connection broke, the server is shutting down or
 * starting, the origin is still held by a session that is going away),
 * CDC_LOST (a failure found here that heals by waiting: try again
 * later) or CDC_MISMATCH
 * (the target's table does not match what the source describes: changes
 * cannot be applied until someone changes the target).  Before returning
 * CDC_MISMATCH, every complete source transaction before the failing
 * one has been sent with its COMMIT (cdc_apply_drain() waits for it) and
 * nothing of the failing one: the origin then points just before it.
 * CDC_REPLAY: the failing one shared an open target transaction
 * with earlier ones and had sent changes already; everything open was
 * rolled back, and a new session that commits each source transaction up
 * to cdc_apply_replay_until() on its own (cdc_apply_commit_each_until)
 * reaches the CDC_MISMATCH above.  With several lanes CDC_REPLAY also
 * means that batches applied at once got in each other's way (apply.c's
 * safety net): everything not committed was rolled back, and the same
 * new session applies serially, on one lane, up to
 * cdc_apply_replay_until().
 */
#ifndef PGCRANE_CDC_APPLY_H
#define PGCRANE_CDC_APPLY_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "cdc/outcome.h"
#include "cdc/pgoutput.h"
#include "core/selection.h"

typedef struct cdc_apply cdc_apply;

typedef struct cdc_apply_stats
{
	uint64_t	applied_lsn;	/* end LSN of the last source transaction the
								 * target committed (or the resume point) */
	int64_t		applied_time;	/* its source commit time, 0 if none yet */
	uint64_t	committed_lsn;	/* the same, counting only transactions that
								 * wrote on the target (the origin's progress) */
	uint64_t	queued_lsn;		/* end LSN of the last transaction sent */
	int64_t		transactions;	/* committed in this session */
	int64_t		changes;		/* rows inserted, updated, deleted; truncates */
	int64_t		missing_rows;	/* updates and deletes that found no row */
} cdc_apply_stats;

/* Most lanes --apply-jobs takes. */
#define CDC_APPLY_MAX_JOBS 16

/*
 * Connect to the target with jobs lanes (1 to CDC_APPLY_MAX_JOBS; 0: the
 * half the CPUs, 1 to 4), create
 * their origins if needed (at start_lsn), bind each apply session to its
 * own and enter pipeline mode.  *resume_lsn is where streaming must start:
 * the greatest durable progress of every lane the target has a record of,
 * this run's or an earlier run's with another number of lanes.  With
 * progress_table the progress is pgcrane.follow_progress's row for each
 * lane instead (origin.h), updated in each target transaction.
 */
int			cdc_apply_open(const char *target, const char *origin,
						   bool progress_table, uint64_t start_lsn, int jobs,
						   cdc_apply **out, uint64_t *resume_lsn);
void		cdc_apply_close(cdc_apply *ap);

/*
 * Apply one decoded message (Begin, Relation, Insert, ..., Commit).  A
 * Relation message's relation is taken from msg.  The message may be
 * released as soon as this returns.
 */
int			cdc_apply_message(cdc_apply *ap, pgo_message *msg);

/*
 * Commit the target transaction, which holds every complete source
 * transaction received since the last commit (see apply.c).  Call it when
 * the stream has nothing more to give at once.
 */
int			cdc_apply_flush(cdc_apply *ap);

/*
 * Commit each source transaction whose commit ends at or before lsn on its
 * own (after CDC_REPLAY); 0 (the default) groups as usual.
 */
void		cdc_apply_commit_each_until(cdc_apply *ap, uint64_t lsn);

/* After CDC_REPLAY: the commit LSN of the transaction that failed. */
uint64_t	cdc_apply_replay_until(const cdc_apply *ap);

/* Send what is queued and read the results that arrived, without waiting. */
int			cdc_apply_poll(cdc_apply *ap);

/*
 * Give up the transaction in progress, if any (the stream broke in the
 * middle of it): it is rolled back on the target.
 */
int			cdc_apply_rollback(cdc_apply *ap);

/* Wait until the target has answered everything sent, at most timeout s. */
int			cdc_apply_drain(cdc_apply *ap, double timeout);

/*
 * The origin's progress with the target's WAL flushed up to it: what the
 * target holds even if it crashes now.
 */
int			cdc_apply_durable_lsn(cdc_apply *ap, uint64_t *lsn);

/*
 * The apply sessions' sockets, each waiting to be readable, and writable
 * when it has something to send, into pfd (room for max entries, at least
 * CDC_APPLY_MAX_JOBS); returns how many.
 */
struct pollfd;
int			cdc_apply_pollfds(const cdc_apply *ap, struct pollfd *pfd, int max);

/* Too much is in flight: stop reading the source until the target catches up. */
bool		cdc_apply_busy(const cdc_apply *ap);

/* A source transaction is open (Begin seen, not its Commit). */
bool		cdc_apply_in_transaction(const cdc_apply *ap);

/* Commands sent and not yet answered, plus one for an uncommitted target
 * transaction: 0 means the target has committed all it was given. */
int			cdc_apply_in_flight(const cdc_apply *ap);

const cdc_apply_stats *cdc_apply_get_stats(const cdc_apply *ap);

/* The apply session is connected and nothing has failed in it. */
bool		cdc_apply_ok(const cdc_apply *ap);

/*
 * Apply the source's schema changes with ddl (cdc/ddl.h, not owned) on the
 * control session, before the changes that need them; without it (the
 * default) a table that no longer matches stops the follow.
 */
struct ddl_ctx;
void		cdc_apply_set_ddl(cdc_apply *ap, struct ddl_ctx *ddl);

/*
 * The clone's selection and transformation rules (not owned, NULL for
 * none): changes go to the renamed tables, without the columns left out,
 * and the schema changes of a table the rules transform are not applied
 * (the follow stops when the target no longer matches).
 */
void		cdc_apply_set_selection(cdc_apply *ap, const selection *sel);

/* The control session, for the sequences at cutover (owned by ap). */
PGconn	   *cdc_apply_control(cdc_apply *ap);

#endif
