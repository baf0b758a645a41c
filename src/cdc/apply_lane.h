/*
 * apply_lane.h
 *		One apply session on the target (a lane of cdc_apply, apply.h).
 *
 * What apply.h says of the apply holds for one lane; apply.c drives one
 * or several.  An apply_lane owns two target connections: the apply session, in libpq
 * pipeline mode, which replays each source transaction as one target
 * transaction; and a control session for catalog lookups, the origin's
 * progress and the sequences at cutover.  Messages go in with
 * apply_lane_message() as they come out of the decoder; nothing waits for
 * the target there.  apply_lane_poll() sends what is queued and reads the
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
 * one has been sent with its COMMIT (apply_lane_drain() waits for it) and
 * nothing of the failing one: the origin then points just before it.
 * CDC_REPLAY: the failing one shared an open target transaction
 * with earlier ones and had sent changes already; everything open was
 * rolled back, and a new session that commits each source transaction up
 * to apply_lane_replay_until() on its own (apply_lane_commit_each_until)
 * reaches the CDC_MISMATCH above.
 */
#ifndef PGCRANE_CDC_APPLY_LANE_H
#define PGCRANE_CDC_APPLY_LANE_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "cdc/apply.h"
#include "cdc/outcome.h"
#include "cdc/pgoutput.h"
#include "core/selection.h"

typedef struct apply_lane apply_lane;


/*
 * Connect to the target, create the origin if needed (at start_lsn), bind
 * the apply session to it and enter pipeline mode.  *resume_lsn is where
 * streaming must start: the origin's durable progress.  With
 * progress_table the progress is pgcrane.follow_progress's row for origin
 * instead (origin.h), updated in each target transaction.  With
 * shared_ctl (not owned) the lane uses that control session instead of
 * its own, and leaves to the lane that owns it the messages about tables.
 */
int			apply_lane_open(const char *target, const char *origin,
							bool progress_table, uint64_t start_lsn,
							PGconn *shared_ctl, apply_lane **out,
							uint64_t *resume_lsn);
void		apply_lane_close(apply_lane *ap);

/*
 * Apply one decoded message (Begin, Relation, Insert, ..., Commit).  A
 * Relation message's relation is taken from msg.  The message may be
 * released as soon as this returns.
 */
int			apply_lane_message(apply_lane *ap, pgo_message *msg);

/*
 * Commit the target transaction, which holds every complete source
 * transaction received since the last commit (see apply.c).  Call it when
 * the stream has nothing more to give at once.
 */
int			apply_lane_flush(apply_lane *ap);

/*
 * Commit each source transaction whose commit ends at or before lsn on its
 * own (after CDC_REPLAY); 0 (the default) groups as usual.
 */
void		apply_lane_commit_each_until(apply_lane *ap, uint64_t lsn);

/* After CDC_REPLAY: the commit LSN of the transaction that failed. */
uint64_t	apply_lane_replay_until(const apply_lane *ap);

/* Send what is queued and read the results that arrived, without waiting. */
int			apply_lane_poll(apply_lane *ap);

/*
 * Give up the transaction in progress, if any (the stream broke in the
 * middle of it): it is rolled back on the target.
 */
int			apply_lane_rollback(apply_lane *ap);

/* Wait until the target has answered everything sent, at most timeout s. */
int			apply_lane_drain(apply_lane *ap, double timeout);

/*
 * The origin's progress with the target's WAL flushed up to it: what the
 * target holds even if it crashes now.
 */
int			apply_lane_durable_lsn(apply_lane *ap, uint64_t *lsn);

/* The apply session's socket, and whether it waits to be writable. */
int			apply_lane_socket(const apply_lane *ap);
bool		apply_lane_wants_write(const apply_lane *ap);

/* Too much is in flight: stop reading the source until the target catches up. */
bool		apply_lane_busy(const apply_lane *ap);

/* A source transaction is open (Begin seen, not its Commit). */
bool		apply_lane_in_transaction(const apply_lane *ap);

/* Commands sent and not yet answered, plus one for an uncommitted target
 * transaction: 0 means the target has committed all it was given. */
int			apply_lane_in_flight(const apply_lane *ap);

const cdc_apply_stats *apply_lane_get_stats(const apply_lane *ap);

/* The apply session is connected and nothing has failed in it. */
bool		apply_lane_ok(const apply_lane *ap);

/*
 * Apply the source's schema changes with ddl (cdc/ddl.h, not owned) on the
 * control session, before the changes that need them; without it (the
 * default) a table that no longer matches stops the follow.
 */
struct ddl_ctx;
void		apply_lane_set_ddl(apply_lane *ap, struct ddl_ctx *ddl);

/*
 * The clone's selection and transformation rules (not owned, NULL for
 * none): changes go to the renamed tables, without the columns left out,
 * and the schema changes of a table the rules transform are not applied
 * (the follow stops when the target no longer matches).
 */
void		apply_lane_set_selection(apply_lane *ap, const selection *sel);

/* The control session, for the sequences at cutover (owned by ap). */
PGconn	   *apply_lane_control(apply_lane *ap);

/*
 * Driven by apply.c: the changes given after apply_lane_begin_xact() are
 * those of the source transaction whose commit is at final_lsn, up to
 * apply_lane_end_xact(), with no Begin or Commit message; they join the
 * open target transaction, which only apply_lane_commit() commits, with
 * the lane's origin at end_lsn (nothing sent when nothing was written).
 */
void		apply_lane_begin_xact(apply_lane *ap, uint64_t final_lsn);
void		apply_lane_end_xact(apply_lane *ap);
int			apply_lane_commit(apply_lane *ap, uint64_t end_lsn, int64_t commit_time);

/* The target holds everything up to lsn (another lane's progress). */
void		apply_lane_set_resume(apply_lane *ap, uint64_t lsn);

/* The lane failed, or its connection broke, with what heals by waiting. */
bool		apply_lane_failed_transient(const apply_lane *ap);

/* The apply session's backend process ID on the target. */
int			apply_lane_backend_pid(const apply_lane *ap);

/* The quoted target table the stream's relation relid maps to, or NULL. */
const char *apply_lane_target_table(const apply_lane *ap, uint32_t relid);

/*
 * Send the changes held so far (compact.h) into the open target
 * transaction; apply.c calls it once a batch's changes are handed over.
 */
int			apply_lane_send_pending(apply_lane *ap);

#endif
