/*
 * rollback.c
 *		Remove what a fresh clone created, when it copied no row.
 */
#include "clone/rollback.h"

#include <stdlib.h>
#include <string.h>

#include "cdc/cleanup.h"
#include "cdc/follow.h"
#include "core/conn.h"
#include "clone/snapshot.h"
#include "clone/targetdb.h"
#include "util/log.h"
#include "util/str.h"

void
rollback_stop_holder(state *st)
{
	int			pid;

	if (state_load_snapshot(st, NULL, &pid) == 0 && pid && snapshot_holder_alive(pid))
	{
		snapshot_holder_stop(pid);
		log_info("stopped the snapshot holder (pid %d)", pid);
	}
}

/* The slot and publication, on the recorded source only. */
static int
drop_follow_objects(state *st, const char *source)
{
	state_follow f;
	int			rc = state_load_follow(st, &f);

	if (rc == 0 && f.slot)
		rc = cdc_cleanup_source(st, source, f.slot, f.publication);
	state_follow_release(&f);
	return rc;
}

static int
drop_target(state *st, const char *target, const db_identity *source_id)
{
	db_identity created;
	int			rc = state_target_created(st);

	if (rc <= 0)
		return rc;
	if (identity_load(st, SIDE_TARGET, &created) != 1)
		return error("the work directory records no identity of the target database it created");
	return targetdb_drop_created(target, &created, source_id);
}

int
rollback_run(state *st, const char *source, const char *target,
			 const db_identity *source_id)
{
	int			rc = 0;

	rollback_stop_holder(st);
	if (drop_follow_objects(st, source) != 0)
		rc = -1;
	if (drop_target(st, target, source_id) != 0)
		rc = -1;
	if (rc == 0)
		rc = state_forget_created(st);
	return rc;
}
