/*
 * identity.c
 *		Which server and which database a connection reaches.
 */
#include "core/identity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/conn.h"
#include "util/log.h"
#include "util/str.h"

/*
 * The server part.  pg_control_system() may be revoked on a managed
 * service: the system identifier is then unknown, not an error.
 */
#define SERVER_SQL \
"SELECT CASE WHEN pg_catalog.has_function_privilege(" \
"  'pg_catalog.pg_control_system()', 'EXECUTE')" \
"  THEN (SELECT system_identifier::text FROM pg_catalog.pg_control_system())" \
"  END, pg_catalog.pg_postmaster_start_time()::text"

static const char *const database_sql =
SERVER_SQL ", d.oid, d.datname, d.datistemplate OR d.datname IN ('template0', 'template1')"
" FROM pg_catalog.pg_database d WHERE d.datname = $1";

static const char *const current_sql =
SERVER_SQL ", d.oid, d.datname, d.datistemplate OR d.datname IN ('template0', 'template1')"
" FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()";

static const char *const server_sql = SERVER_SQL;

static void
fill_server(const PGresult *res, db_identity *id)
{
	str_copy(id->system, PQgetisnull(res, 0, 0) ? "" : PQgetvalue(res, 0, 0),
			 sizeof(id->system));
	str_copy(id->started, PQgetvalue(res, 0, 1), sizeof(id->started));
}

static void
fill_database(const PGresult *res, db_identity *id)
{
	id->db_oid = (uint32_t) strtoul(PQgetvalue(res, 0, 2), NULL, 10);
	str_copy(id->dbname, PQgetvalue(res, 0, 3), sizeof(id->dbname));
	id->is_template = PQgetvalue(res, 0, 4)[0] == 't';
}

int
identity_read(PGconn *conn, const char *side, db_identity *id)
{
	PGresult   *res = conn_query(conn, side, "read the server's identity",
								 current_sql, 0, NULL);

	memset(id, 0, sizeof(*id));
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1)
	{
		PQclear(res);
		return error("could not read the server's identity on %s server: no such database",
					 side);
	}
	fill_server(res, id);
	fill_database(res, id);
	PQclear(res);
	return 0;
}

int
identity_read_server(PGconn *conn, const char *side, const char *dbname,
					 db_identity *id)
{
	const char *params[1] = {dbname};
	PGresult   *res = conn_query(conn, side, "read the server's identity",
								 database_sql, 1, params);

	memset(id, 0, sizeof(*id));
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1)
	{
		fill_server(res, id);
		fill_database(res, id);
		PQclear(res);
		return 0;
	}
	PQclear(res);
	res = conn_query(conn, side, "read the server's identity", server_sql, 0, NULL);
	if (res == NULL)
		return -1;
	fill_server(res, id);
	str_copy(id->dbname, dbname, sizeof(id->dbname));
	id->is_template = strcmp(dbname, "template0") == 0 ||
		strcmp(dbname, "template1") == 0;
	PQclear(res);
	return 0;
}

bool
identity_same_server(const db_identity *a, const db_identity *b)
{
	/* A recorded identity has no start time: the system decides then. */
	return strcmp(a->system, b->system) == 0 &&
		(a->started[0] == '\0' || b->started[0] == '\0' ||
		 strcmp(a->started, b->started) == 0);
}

bool
identity_same_database(const db_identity *a, const db_identity *b)
{
	return identity_same_server(a, b) && a->db_oid != 0 &&
		a->db_oid == b->db_oid;
}

const char *
identity_describe(const db_identity *id, char *buf, size_t size)
{
	if (id->db_oid)
		snprintf(buf, size, "database \"%s\" (OID %u) on system %s", id->dbname,
				 id->db_oid, id->system[0] ? id->system : "(identifier not readable)");
	else
		snprintf(buf, size, "database \"%s\" (not created yet) on system %s",
				 id->dbname, id->system[0] ? id->system : "(identifier not readable)");
	return buf;
}

/* The state's name of side ("source" or "target"). */
static state_side
side_of(const char *side)
{
	return strcmp(side, SIDE_SOURCE) == 0 ? STATE_SOURCE : STATE_TARGET;
}

int
identity_record(state *st, const char *side, const db_identity *id)
{
	return state_record_identity(st, side_of(side), id->system, id->db_oid,
								 id->dbname);
}

int
identity_load(state *st, const char *side, db_identity *id)
{
	char	   *system,
			   *dbname;
	uint32_t	oid;
	int			found = state_load_identity(st, side_of(side), &system, &oid, &dbname);

	memset(id, 0, sizeof(*id));
	if (found == 1)
	{
		str_copy(id->system, system, sizeof(id->system));
		id->db_oid = oid;
		str_copy(id->dbname, dbname, sizeof(id->dbname));
	}
	free(system);
	free(dbname);
	return found;
}

/* The recorded database and the one reached now: the same one? */
static bool
matches_recorded(const db_identity *rec, const db_identity *now)
{
	/* A system identifier not readable on one side cannot disprove it. */
	if (rec->system[0] && now->system[0] && strcmp(rec->system, now->system) != 0)
		return false;
	return rec->db_oid == now->db_oid && strcmp(rec->dbname, now->dbname) == 0;
}

static int
report_mismatch(state *st, const char *side, const db_identity *rec,
				const db_identity *now, const char *conninfo)
{
	char		a[512],
				b[512];
	char	   *given = conn_redact(conninfo);
	state_run	run;
	const char *recorded;

	if (state_load_run(st, &run) != 0)
		memset(&run, 0, sizeof(run));
	recorded = side_of(side) == STATE_SOURCE ? run.source : run.target;

	error("the %s given is not the %s database recorded in \"%s\"", side, side,
		  state_dir(st));
	log_detail("Recorded: %s (%s); given: %s (%s).",
			   identity_describe(rec, a, sizeof(a)), recorded ? recorded : "?",
			   identity_describe(now, b, sizeof(b)), given ? given : "?");
	log_hint("Give the --%s of the clone recorded there, or use another --dir.", side);
	free(given);
	state_run_release(&run);
	return -1;
}

int
identity_check_id(state *st, const char *side, const db_identity *now,
				  const char *conninfo)
{
	db_identity rec;
	int			found = identity_load(st, side, &rec);

	if (found <= 0)
		return found;			/* nothing recorded passes; unreadable fails */
	if (!matches_recorded(&rec, now))
		return report_mismatch(st, side, &rec, now, conninfo);
	return 0;
}

int
identity_check_conn(state *st, const char *side, PGconn *conn,
					const char *conninfo)
{
	db_identity rec,
				now;
	int			found = identity_load(st, side, &rec);

	if (found <= 0)
		return found;
	if (identity_read(conn, side, &now) != 0)
		return -1;
	return identity_check_id(st, side, &now, conninfo);
}

int
identity_check_recorded(state *st, const char *side, const char *conninfo)
{
	db_identity rec;
	PGconn	   *conn;
	int			rc = identity_load(st, side, &rec);

	if (rc <= 0)
		return rc;
	conn = conn_open(conninfo, side);
	if (conn == NULL)
		return -1;
	rc = identity_check_conn(st, side, conn, conninfo);
	PQfinish(conn);
	return rc;
}

int
identity_open(state *st, const char *side, const char *conninfo, PGconn **out)
{
	char		sqlstate[6];
	char		msg[1024];
	PGconn	   *conn = conn_try_open(conninfo, sqlstate, msg, sizeof(msg));

	*out = NULL;
	if (conn == NULL)
		return conn_connect_failed(side, sqlstate, msg) ? 1 : -1;
	if (identity_check_conn(st, side, conn, conninfo) != 0)
	{
		int			rc = PQstatus(conn) == CONNECTION_BAD ? 1 : -1;

		PQfinish(conn);
		return rc;
	}
	*out = conn;
	return 0;
}
