/*
 * origin.c
 *		The replication origin on the target.
 *
 * The functions used (pg_replication_origin_create, _advance, _progress,
 * _drop) need a superuser, or a role granted EXECUTE on them.
 */
#include "cdc/origin.h"

#include <stdlib.h>
#include <string.h>

#include "cdc/pgoutput.h"
#include "core/conn.h"
#include "util/log.h"
#include "util/str.h"

int
cdc_origin_ensure(PGconn *tgt, const char *origin, uint64_t start_lsn)
{
	char		lsn[PGO_LSN_BUFSIZE];
	const char *params[2] = {origin, lsn};
	PGresult   *res;
	uint64_t	progress;
	bool		exists;

	if (cdc_origin_progress(tgt, origin, false, &progress, &exists) != 0)
		return -1;
	if (exists)
		return 0;
	pgo_lsn_format(start_lsn, lsn, sizeof(lsn));
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

int
cdc_origin_progress(PGconn *tgt, const char *origin, bool flush,
					uint64_t *lsn, bool *exists)
{
	const char *params[2] = {origin, flush ? "true" : "false"};
	PGresult   *res;
	int			rc = 0;

	res = conn_query(tgt, SIDE_TARGET, "read the replication origin's progress",
					 "SELECT pg_catalog.pg_replication_origin_oid($1) IS NOT NULL,"
					 " CASE WHEN pg_catalog.pg_replication_origin_oid($1) IS NOT NULL"
					 " THEN pg_catalog.pg_replication_origin_progress($1, $2::boolean) END",
					 2, params);
	if (res == NULL)
		return -1;
	*lsn = 0;
	if (exists)
		*exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	if (!PQgetisnull(res, 0, 1) && !pgo_lsn_parse(PQgetvalue(res, 0, 1), lsn))
		rc = error("could not parse the progress \"%s\" of replication origin \"%s\"",
				   PQgetvalue(res, 0, 1), origin);
	PQclear(res);
	return rc;
}

int
cdc_origin_drop(PGconn *tgt, const char *origin, bool *dropped)
{
	const char *params[1] = {origin};
	PGresult   *res;

	res = conn_query(tgt, SIDE_TARGET, "drop replication origin",
					 "SELECT pg_catalog.pg_replication_origin_drop(roname)"
					 " FROM pg_catalog.pg_replication_origin WHERE roname = $1",
					 1, params);
	if (res == NULL)
		return -1;
	*dropped = PQntuples(res) > 0;
	PQclear(res);
	return 0;
}
