/*
 * follow.h
 *		Keep the target up to date with the source until cutover.
 *
 * After a clone made with a replication slot (clone --follow), the target
 * holds the source as of the slot's consistent point.  follow_run()
 * streams every change committed after that point from the slot and
 * applies it to the target, until a cutover is requested (pgcrane
 * cutover): then it catches up to the source's position at that moment,
 * copies the sequence values and returns.
 *
 * It reads from the state's key/value pairs what clone --follow recorded:
 *
 *	follow.slot, follow.publication		on the source
 *	follow.origin						replication origin on the target
 *	follow.start_lsn					the slot's consistent point ("X/Y")
 *	source, target						connections (redacted; passwords
 *										from ~/.pgpass or PGPASSWORD)
 *
 * and records, about once a second: follow.phase (catching-up, streaming,
 * cutover, done; reconnecting, stopped, failed), follow.applied_lsn and
 * follow.durable_lsn (both only ever move forward), follow.source_lsn, follow.lag_bytes, follow.lag_seconds,
 * follow.changes_per_second, follow.transactions, follow.changes,
 * follow.updated_at and follow.pid (the counts also as soon as the
 * target answers a commit); while reconnecting
 * follow.reconnect_attempt (1, 2, ...; 0 once a session works again) and
 * follow.last_error (the failure that ended the last session or attempt);
 * at the end cutover.lsn and cutover.done_at.  It watches cutover.requested, which pgcrane cutover
 * sets.
 */
#ifndef PGCRANE_CDC_FOLLOW_H
#define PGCRANE_CDC_FOLLOW_H

#include "cdc/keys.h"
#include "core/status.h"

#include <stdbool.h>

#include "core/interrupt.h"
#include "core/state.h"

typedef struct follow_options
{
	const char *source;			/* NULL: the state's "source" */
	const char *target;			/* NULL: the state's "target" */
	state	   *st;				/* open with the directory lock; not closed */
	interrupt  *intr;			/* started by the caller; not stopped */
	bool		json;			/* final summary as JSON on stdout */
	int			timeout_seconds;	/* give up when a server stays out of
									 * reach this long; 0: 600 */
	bool		no_summary;		/* the caller prints the cutover summary */
} follow_options;

/*
 * Follow until the cutover is done (RUN_OK), Ctrl-C or SIGTERM
 * (RUN_INTERRUPTED; run it again to go on), or an error (RUN_FAILED,
 * logged with what to do).  A failure that heals by waiting (errclass.h:
 * a lost connection to either server, a shutdown, a restart, crash
 * recovery, a slot or origin still held) is retried with backoff for up
 * to timeout_seconds, resuming after the last transaction the target
 * committed: nothing is lost and nothing applied twice.
 */
run_status	follow_run(const follow_options *o);

/*
 * Whether dir holds a state file; logs an error when not (state_open()
 * would create an empty one).
 */
bool		follow_workdir_exists(const char *dir);

#endif
