/*
 * snapshot.c
 *		Export and import the clone's snapshot.
 */
#include "snapshot.h"

#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "util/log.h"
#include "util/str.h"

int
snapshot_export(const char *conninfo, snapshot *snap)
{
	PGresult   *res;

	snap->holder = conn_open(conninfo, SIDE_SOURCE);
	if (snap->holder == NULL)
		return -1;
	if (conn_exec(snap->holder, SIDE_SOURCE,
				  "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") != 0)
		goto fail;
	res = conn_query(snap->holder, SIDE_SOURCE, "export snapshot",
					 "SELECT pg_catalog.pg_export_snapshot()", 0, NULL);
	if (res == NULL)
		goto fail;
	snap->name = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;

fail:
	snapshot_release(snap);
	return -1;
}

int
snapshot_import(PGconn *conn, const char *name)
{
	const char *params[1] = {name};
	PGresult   *res;

	if (conn_exec(conn, SIDE_SOURCE,
				  "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") != 0)
		return -1;
	/* SET TRANSACTION SNAPSHOT takes no parameters: quote as a literal. */
	{
		char	   *lit = PQescapeLiteral(conn, params[0], strlen(params[0]));
		char	   *sql;

		if (lit == NULL)
			return error("could not quote snapshot name \"%s\"", name);
		sql = str_printf("SET TRANSACTION SNAPSHOT %s", lit);
		PQfreemem(lit);
		res = conn_query(conn, SIDE_SOURCE, "import snapshot", sql, 0, NULL);
		free(sql);
	}
	if (res == NULL)
	{
		log_hint("The snapshot exists only while the clone that exported it is running.");
		return -1;
	}
	PQclear(res);
	return 0;
}

void
snapshot_release(snapshot *snap)
{
	if (snap->holder)
		PQfinish(snap->holder);
	free(snap->name);
	snap->holder = NULL;
	snap->name = NULL;
}
