/*
 * rollback.h
 *		Remove what a fresh clone created, when it copied no row.
 *
 * A fresh clone that fails (or died: kill -9, a reboot) before its first
 * row was copied leaves nothing worth resuming, only things that cost:
 * the snapshot holder (a source session that holds back VACUUM), the
 * replication slot and publication of --follow (the slot retains WAL
 * without limit) and the target database it created (the corrected rerun
 * would find it "not empty").  rollback_run() removes exactly those, as
 * the work directory records them:
 *
 *   snapshot.holder_pid           the holder, stopped
 *   follow.slot, .publication     dropped on the source, after proving
 *                                 by identity that source is the
 *                                 recorded source
 *   target.created = on           the target database, dropped after
 *                                 proving it is the recorded one, not
 *                                 the source and not a template
 *
 * and forgets them in the state file.  A target database that existed
 * before is never dropped.
 */
#ifndef PGCRANE_ROLLBACK_H
#define PGCRANE_ROLLBACK_H

#include <stdbool.h>

#include "core/identity.h"
#include "core/state.h"

/*
 * Remove what st records as created.  source and target are the
 * connection strings to use (with their passwords); source_id is the
 * source's identity, which no DROP DATABASE may reach.  0 when all is
 * gone, -1 (logged) when something could not be removed: the state then
 * still records it.
 */
int			rollback_run(state *st, const char *source, const char *target,
						 const db_identity *source_id);

/*
 * Stop the snapshot holder st records, if it still runs (it would hold
 * its source session, and VACUUM's horizon, for up to its hold time).
 */
void		rollback_stop_holder(state *st);

#endif
