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

bool
rollback_created_target(state *st)
{
	return state_is_on(st, "target.created");
}

void
rollback_stop_holder(state *st)
{
	char	   *pid = state_get(st, "snapshot.holder_pid");
	int			n;

	if (pid && str_to_int(pid, 1, 1 << 30, &n) && snapshot_holder_alive(n))
	{
		snapshot_holder_stop(n);
		log_info("stopped the snapshot holder (pid %d)", n);
	}
	free(pid);
}

/* The slot and publication, on the recorded source only. */
static int
drop_follow_objects(state *st, const char *source)
{
	char	   *slot = state_get(st, FOLLOW_KEY_SLOT);
	char	   *pub = state_get(st, FOLLOW_KEY_PUBLICATION);
	int			rc = slot ? cdc_cleanup_source(st, source, slot, pub) : 0;

	free(slot);
	free(pub);
	return rc;
}

static int
drop_target(state *st, const char *target, const db_identity *source_id)
{
	db_identity created;

	if (!rollback_created_target(st))
		return 0;
	if (identity_load(st, SIDE_TARGET, &created) != 1)
		return error("the work directory records no identity of the target database it created");
	return targetdb_drop_created(target, &created, source_id);
}

static int
forget(state *st)
{
	static const char *const keys[] = {
		FOLLOW_KEY_SLOT, FOLLOW_KEY_PUBLICATION, FOLLOW_KEY_ORIGIN,
		FOLLOW_KEY_START_LSN, "follow", "snapshot", "snapshot.holder_pid",
		"target.created",
	};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (state_delete(st, keys[i]) != 0)
			return -1;
	return 0;
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
		rc = forget(st);
	return rc;
}
