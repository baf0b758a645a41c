/*
 * cleanup.c
 *		Remove what following changes left on both servers.
 *
 * The slot holds WAL on the source for as long as it exists, so it must go
 * once the migration is over, or once it is abandoned.  The publication
 * goes from both sides: the target has a copy when the clone's schema dump
 * carried it along.  Tables pgcrane set to REPLICA IDENTITY FULL get back
 * what they had.  A slot is dropped
 * only when no walsender uses it: a follow that just ended leaves its
 * walsender for a moment, so this waits a little for it.
 */
#include "cdc/cleanup.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cdc/follow.h"
#include "cdc/origin.h"
#include "cdc/replident.h"
#include "cdc/report.h"
#include "cdc/slot.h"
#include "core/conn.h"
#include "core/identity.h"
#include "util/log.h"
#include "util/str.h"

#define SLOT_WAIT_SECONDS 30

/* A session whose "does not exist, skipping" notices are not printed. */
static PGconn *
open_quiet(const char *conninfo, const char *side)
{
	PGconn	   *conn = conn_open(conninfo, side);

	if (conn && conn_exec(conn, side, "SET client_min_messages = warning") != 0)
	{
		PQfinish(conn);
		conn = NULL;
	}
	return conn;
}

int
cdc_cleanup_source(state *st, const char *source, const char *slot,
				   const char *publication)
{
	PGconn	   *src = open_quiet(source, SIDE_SOURCE);
	int			rc = -1;

	if (src == NULL)
		return -1;
	if (identity_check_conn(st, SIDE_SOURCE, src, source) == 0 &&
		cdc_slot_wait_inactive(src, slot, SLOT_WAIT_SECONDS) == 0 &&
		cdc_source_cleanup(src, slot, publication) == 0)
	{
		log_info("dropped replication slot \"%s\" and publication \"%s\" on the source",
				 slot, publication ? publication : "");
		rc = cdc_replident_restore(st, src);
	}
	PQfinish(src);
	return rc;
}

/*
 * The progress of the lanes above 0 (cdc/apply.h) that a parallel follow
 * kept, before lane 0's, whose row keeps the table while they go.
 */
static int
drop_lanes(PGconn *tgt, bool table, const char *origin)
{
	int		   *lanes;
	int			n;
	bool		dropped;
	int			rc = cdc_origin_lanes(tgt, table, origin, &lanes, &n);

	for (int i = 0; i < n && rc == 0; i++)
	{
		char	   *name = cdc_origin_lane_name(origin, lanes[i]);

		rc = cdc_origin_drop(tgt, table, name, &dropped);
		if (rc == 0 && dropped)
			log_debug("dropped the progress of \"%s\" on the target", name);
		free(name);
	}
	free(lanes);
	return rc;
}

/* Whether pgcrane.follow_progress exists (false when unreadable). */
static bool
progress_table_exists(PGconn *tgt)
{
	PGresult   *res = PQexec(tgt, "SELECT pg_catalog.to_regclass('pgcrane.follow_progress') IS NOT NULL");
	bool		exists = PQresultStatus(res) == PGRES_TUPLES_OK &&
		strcmp(PQgetvalue(res, 0, 0), "t") == 0;

	PQclear(res);
	return exists;
}

/*
 * The target side: the origin (or pgcrane.follow_progress), and a copy of
 * the publication, which a schema dump taken after the publication was
 * made carries along.
 */
static int
cleanup_target(state *st, const char *target, const char *origin,
			   const char *publication)
{
	int			table = state_follow_progress_table(st);
	PGconn	   *tgt = table >= 0 ? open_quiet(target, SIDE_TARGET) : NULL;
	bool		dropped;
	int			rc = -1;

	if (tgt == NULL)
		return -1;
	if ((table == 1 && !progress_table_exists(tgt)) || drop_lanes(tgt, table == 1, origin) == 0)
		rc = cdc_origin_drop(tgt, table == 1, origin, &dropped);
	if (rc == 0)
	{
		if (dropped)
			log_info(table == 1 ? "dropped the progress of \"%s\" (table pgcrane.follow_progress) on the target"
					 : "dropped replication origin \"%s\" on the target", origin);
		rc = cdc_publication_drop(tgt, SIDE_TARGET, publication);
	}
	PQfinish(tgt);
	return rc;
}

/* Drop the slot, publication and origin f names. */
static int
cleanup_names(state *st, const char *src, const char *tgt, const state_follow *f)
{
	int			rc;

	if (src == NULL || tgt == NULL)
		return error("work directory \"%s\" records no %s connection", state_dir(st),
					 src == NULL ? "source" : "target");
	if (identity_check_recorded(st, SIDE_TARGET, tgt) != 0)
		return -1;				/* the target proved before anything is dropped */
	rc = cdc_cleanup_source(st, src, f->slot, f->publication);
	if (rc == 0)
		rc = cleanup_target(st, tgt, f->origin, f->publication);
	return rc;
}

int
cdc_cleanup(state *st, const char *source, const char *target)
{
	state_run	run;
	state_follow f;
	char		now[32];
	int			rc;

	if (state_load_run(st, &run) != 0)
		return -1;
	if (state_load_follow(st, &f) != 0)
	{
		state_run_release(&run);
		return -1;
	}
	rc = 0;
	if (f.slot == NULL || f.publication == NULL || f.origin == NULL)
		log_info("work directory \"%s\" records no replication slot", state_dir(st));
	else
		rc = cleanup_names(st, source ? source : run.source,
						   target ? target : run.target, &f);
	if (rc == 0)
	{
		cdc_report_format_time(time(NULL), now, sizeof(now));
		rc = state_record_cleanup_done(st, now);
	}
	state_run_release(&run);
	state_follow_release(&f);
	return rc;
}
