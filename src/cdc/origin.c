/*
 * origin.c
 *		How far the target has applied: a replication origin, or a table.
 *
 * The origin functions used (pg_replication_origin_create, _advance,
 * _progress, _oid, _drop) need a superuser, or a role granted EXECUTE on
 * them; the table needs only the right to create schema pgcrane.
 */
#include "cdc/origin.h"

#include <stdlib.h>
#include <string.h>

#include "cdc/pgoutput.h"
#include "core/conn.h"
#include "core/failure.h"
#include "util/log.h"
#include "util/str.h"

static const char *const table_ensure_sql[] = {
	"CREATE SCHEMA IF NOT EXISTS pgcrane",
	"CREATE TABLE IF NOT EXISTS pgcrane.follow_progress ("
	" origin text PRIMARY KEY, lsn pg_catalog.pg_lsn NOT NULL,"
	" committed_at timestamptz)",
};

/* The table's row for origin, at start_lsn, unless it is there. */
static int
ensure_table(PGconn *tgt, const char *origin, const char *lsn)
{
	const char *params[2] = {origin, lsn};
	PGresult   *res;

	for (size_t i = 0; i < sizeof(table_ensure_sql) / sizeof(table_ensure_sql[0]); i++)
		if (conn_exec_as(tgt, SIDE_TARGET, table_ensure_sql[i],
						 "create table pgcrane.follow_progress") != 0)
			return -1;
	res = conn_query(tgt, SIDE_TARGET, "record the start in pgcrane.follow_progress",
					 "INSERT INTO pgcrane.follow_progress (origin, lsn)"
					 " VALUES ($1, $2::pg_catalog.pg_lsn) ON CONFLICT (origin) DO NOTHING",
					 2, params);
	if (res == NULL)
		return -1;
	if (strcmp(PQcmdTuples(res), "1") == 0)
		log_info("progress of \"%s\" recorded in table pgcrane.follow_progress on the target from %s",
				 origin, lsn);
	PQclear(res);
	return 0;
}

int
cdc_origin_ensure(PGconn *tgt, bool table, const char *origin, uint64_t start_lsn)
{
	char		lsn[PGO_LSN_BUFSIZE];
	const char *params[2] = {origin, lsn};
	PGresult   *res;
	uint64_t	progress;
	bool		exists;

	pgo_lsn_format(start_lsn, lsn, sizeof(lsn));
	if (table)
		return ensure_table(tgt, origin, lsn);
	if (cdc_origin_progress(tgt, false, origin, false, &progress, &exists) != 0)
		return -1;
	if (exists)
		return 0;
	res = conn_query(tgt, SIDE_TARGET, "create replication origin",
					 "SELECT pg_catalog.pg_replication_origin_create($1)",
					 1, params);
	if (res == NULL)
		return -1;
	PQclear(res);
	res = conn_query(tgt, SIDE_TARGET, "set the position of the replication origin",
					 "SELECT pg_catalog.pg_replication_origin_advance($1, $2::pg_catalog.pg_lsn)",
					 2, params);
	if (res == NULL)
		return -1;
	PQclear(res);
	log_info("replication origin \"%s\" created on the target at %s", origin, lsn);
	return 0;
}

/*
 * The table's row, read in a transaction that takes a transaction ID and
 * commits with synchronous_commit on: its commit record lies after every
 * commit the read saw, and flushing it flushes them.
 */
static const char *const table_progress_sql[2] = {
	"SELECT true, (SELECT lsn FROM pgcrane.follow_progress WHERE origin = $1)",
	"SELECT true, (SELECT lsn FROM pgcrane.follow_progress WHERE origin = $1),"
	" pg_catalog.txid_current()",
};

int
cdc_origin_progress(PGconn *tgt, bool table, const char *origin, bool flush,
					uint64_t *lsn, bool *exists)
{
	const char *params[2] = {origin, flush ? "true" : "false"};
	PGresult   *res;
	int			rc = 0;

	if (table && flush &&
		conn_exec(tgt, SIDE_TARGET, "SET synchronous_commit = on") != 0)
		return -1;
	res = conn_query(tgt, SIDE_TARGET, "read the replication origin's progress",
					 table ? table_progress_sql[flush] :
					 "SELECT pg_catalog.pg_replication_origin_oid($1) IS NOT NULL,"
					 " CASE WHEN pg_catalog.pg_replication_origin_oid($1) IS NOT NULL"
					 " THEN pg_catalog.pg_replication_origin_progress($1, $2::boolean) END",
					 table ? 1 : 2, params);
	if (res == NULL)
		return -1;
	*lsn = 0;
	if (exists)
		*exists = table ? !PQgetisnull(res, 0, 1) : strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	if (!PQgetisnull(res, 0, 1) && !pgo_lsn_parse(PQgetvalue(res, 0, 1), lsn))
		rc = error("could not parse the progress \"%s\" of replication origin \"%s\"",
				   PQgetvalue(res, 0, 1), origin);
	PQclear(res);
	return rc;
}

/* The table's row, then the table and the schema once they are empty. */
static const char *const table_drop_sql[] = {
	"DELETE FROM pgcrane.follow_progress WHERE origin = $1",
	"DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pgcrane.follow_progress) THEN"
	" DROP TABLE pgcrane.follow_progress; END IF; END$$",
	"DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c"
	"  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'pgcrane')"
	" AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc p"
	"  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'pgcrane')"
	" THEN DROP SCHEMA pgcrane; END IF; END$$",
};

static int
drop_table_row(PGconn *tgt, const char *origin, bool *dropped)
{
	const char *params[1] = {origin};
	PGresult   *res;

	res = conn_query(tgt, SIDE_TARGET, "look up table pgcrane.follow_progress",
					 "SELECT pg_catalog.to_regclass('pgcrane.follow_progress') IS NOT NULL",
					 0, NULL);
	if (res == NULL)
		return -1;
	*dropped = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!*dropped)
		return 0;
	res = conn_query(tgt, SIDE_TARGET, "drop the progress in pgcrane.follow_progress",
					 table_drop_sql[0], 1, params);
	if (res == NULL)
		return -1;
	PQclear(res);
	for (int i = 1; i < 3; i++)
		if (conn_exec_as(tgt, SIDE_TARGET, table_drop_sql[i],
						 "drop table pgcrane.follow_progress") != 0)
			return -1;
	return 0;
}

int
cdc_origin_drop(PGconn *tgt, bool table, const char *origin, bool *dropped)
{
	const char *params[1] = {origin};
	PGresult   *res;

	if (table)
		return drop_table_row(tgt, origin, dropped);
	res = conn_query(tgt, SIDE_TARGET, "drop replication origin",
					 "SELECT pg_catalog.pg_replication_origin_drop($1)"
					 " WHERE pg_catalog.pg_replication_origin_oid($1) IS NOT NULL",
					 1, params);
	if (res == NULL)
		return -1;
	*dropped = PQntuples(res) > 0;
	PQclear(res);
	return 0;
}

char *
cdc_origin_lane_name(const char *origin, int lane)
{
	return lane == 0 ? xstrdup(origin) : str_printf("%s_l%d", origin, lane);
}

/* The digits after origin_l in name, or -1. */
static int
lane_number(const char *name, size_t prefix)
{
	char	   *end;
	long		n;

	if (name[prefix] < '1' || name[prefix] > '9')
		return -1;
	n = strtol(name + prefix, &end, 10);
	return *end == '\0' && n > 0 && n < 1000 ? (int) n : -1;
}

int
cdc_origin_lanes(PGconn *tgt, bool table, const char *origin, int **lanes, int *n)
{
	char	   *prefix = str_printf("%s_l", origin);
	const char *params[1] = {prefix};
	PGresult   *res;

	*lanes = NULL;
	*n = 0;
	res = conn_query(tgt, SIDE_TARGET, "list the follow's lanes",
					 table ? "SELECT origin FROM pgcrane.follow_progress"
					 " WHERE pg_catalog.left(origin, pg_catalog.length($1)) = $1"
					 : "SELECT roname FROM pg_catalog.pg_replication_origin"
					 " WHERE pg_catalog.left(roname, pg_catalog.length($1)) = $1",
					 1, params);
	if (res == NULL)
	{
		free(prefix);
		return -1;
	}
	*lanes = xcalloc((size_t) PQntuples(res) + 1, sizeof(int));
	for (int i = 0; i < PQntuples(res); i++)
	{
		int			lane = lane_number(PQgetvalue(res, i, 0), strlen(prefix));

		if (lane > 0)
			(*lanes)[(*n)++] = lane;
	}
	PQclear(res);
	free(prefix);
	return 0;
}

#define PROGRESS_LOCK_ARGS \
	"pg_catalog.hashtext('pgcrane.follow_progress'), pg_catalog.hashtext($1))"

int
cdc_origin_claim(PGconn *tgt, bool table, const char *name)
{
	const char *params[1] = {name};
	PGresult   *res;
	bool		free_now = true;

	res = conn_query(tgt, SIDE_TARGET, "claim the follow's progress",
					 table ? "SELECT pg_catalog.pg_try_advisory_lock(" PROGRESS_LOCK_ARGS
					 : CDC_ORIGIN_SESSION_SQL, 1, params);
	if (res == NULL)
		return -1;				/* 55006 when in use: heals by waiting */
	if (table)
		free_now = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!free_now)
	{
		(void) failure_set(SIDE_TARGET, "55006", name, false,
						   "the progress of \"%s\" is in use by another session on the target",
						   name);
		return -1;
	}
	res = conn_query(tgt, SIDE_TARGET, "release the follow's progress",
					 table ? "SELECT pg_catalog.pg_advisory_unlock(" PROGRESS_LOCK_ARGS
					 : "SELECT pg_catalog.pg_replication_origin_session_reset()",
					 table ? 1 : 0, table ? params : NULL);
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}
