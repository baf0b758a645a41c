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
 * It reads from the state what clone --follow recorded (state_load_run,
 * state_load_follow): the slot and publication on the source, the
 * replication origin on the target, the slot's consistent point and the
 * connections (redacted; passwords from ~/.pgpass or PGPASSWORD).
 *
 * It records, about once a second, its phase (catching-up, streaming,
 * cutover, done; reconnecting, stopped, failed), the applied and durable
 * LSNs (both only ever move forward), the source's LSN, the lag in bytes
 * and seconds, the changes per second, the time and its pid; the counts of
 * transactions and changes as soon as the target answers a commit; while
 * reconnecting the attempt (1, 2, ...; 0 once a session works again) and
 * the failure that ended the last session or attempt; at the end the
 * cutover's LSN and time.  It watches for the cutover request, which
 * pgcrane cutover records (state_request_cutover).
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
	const char *ddl;			/* --ddl: "apply" or "stop", recorded for
								 * later runs; NULL: as recorded */
	int			apply_jobs;		/* target sessions that apply at once
								 * (cdc/apply.h); 0 or 1: one */
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
