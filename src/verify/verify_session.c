/*
 * verify_session.c
 *		A pair of connections, one to each server, set up for verify.
 *
 * conn_open() already starts sessions with ISO dates, UTC and the other
 * output settings; verify sets them again, explicitly, because its
 * checksums are only as good as the promise that both servers print equal
 * values alike, and a connection string's "options" could override them.
 * search_path is pg_catalog alone, so names the catalog functions print
 * (types in pg_get_indexdef, regclass values in rows) come out qualified
 * the same way on both sides.  JIT compilation is off: it costs more than
 * it saves on the many mid-sized queries of a descent.
 *
 * Sending one query to each side and only then waiting for the results
 * lets both servers scan at the same time: libpq sends the whole query in
 * PQsendQueryParams, so neither server waits for the other.
 */
#include "verify/verify_session.h"

#include <stdlib.h>
#include <string.h>

#include "core/conn.h"
#include "util/log.h"
#include "util/str.h"

static const char *const session_settings =
"SET DateStyle = 'ISO, MDY'; "
"SET IntervalStyle = 'postgres'; "
"SET extra_float_digits = 3; "
"SET TimeZone = 'UTC'; "
"SET bytea_output = 'hex'; "
"SET lc_monetary = 'C'; "
"SET search_path = pg_catalog; "
"SET statement_timeout = 0; "
"SET lock_timeout = 0; "
"SET idle_in_transaction_session_timeout = 0; "
"SET jit = off";

static const char *const begin_sql =
"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

/* Begin the transaction, in the given snapshot if there is one. */
static int
begin_in_snapshot(PGconn *conn, const char *side, const char *snapshot)
{
	char	   *lit;
	char	   *sql;
	int			rc;

	if (conn_exec(conn, side, begin_sql) != 0)
		return -1;
	if (snapshot == NULL)
		return 0;
	lit = PQescapeLiteral(conn, snapshot, strlen(snapshot));
	if (lit == NULL)
		return error("could not quote snapshot name for %s server", side);
	sql = str_printf("SET TRANSACTION SNAPSHOT %s", lit);
	PQfreemem(lit);
	rc = conn_exec(conn, side, sql);
	free(sql);
	return rc;
}

/*
 * Export the transaction's snapshot; NULL when the server cannot (the
 * transaction is then begun again, so the session stays usable).
 */
static char *
export_snapshot(PGconn *conn, const char *side, int *rc)
{
	PGresult   *res = PQexec(conn, "SELECT pg_catalog.pg_export_snapshot()");
	char	   *snap = NULL;

	*rc = 0;
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		snap = xstrdup(PQgetvalue(res, 0, 0));
	else
	{
		log_debug("%s server cannot export a snapshot: %s", side,
				  PQresultErrorMessage(res));
		if (conn_exec(conn, side, "ROLLBACK") != 0 ||
			conn_exec(conn, side, begin_sql) != 0)
			*rc = -1;
	}
	PQclear(res);
	return snap;
}

static PGconn *
open_side(const char *conninfo, const char *side, const char *snapshot,
		  char **exported)
{
	PGconn	   *conn = conn_open(conninfo, side);
	int			rc = 0;

	if (conn == NULL)
		return NULL;
	if (conn_exec(conn, side, session_settings) != 0 ||
		begin_in_snapshot(conn, side, snapshot) != 0)
		rc = -1;
	else if (exported)
		*exported = export_snapshot(conn, side, &rc);
	if (rc != 0)
	{
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

int
vsession_open(vsession *s, const char *source, const char *target,
			  const char *src_snapshot, const char *tgt_snapshot,
			  interrupt *intr)
{
	bool		leader = (src_snapshot == NULL && tgt_snapshot == NULL);

	memset(s, 0, sizeof(vsession));
	s->intr = intr;
	s->src = open_side(source, SIDE_SOURCE, src_snapshot,
					   leader ? &s->src_snapshot : NULL);
	if (s->src == NULL)
		return -1;
	if (intr)
		interrupt_register(intr, s->src);
	s->tgt = open_side(target, SIDE_TARGET, tgt_snapshot,
					   leader ? &s->tgt_snapshot : NULL);
	if (s->tgt == NULL)
	{
		vsession_close(s);
		return -1;
	}
	if (intr)
		interrupt_register(intr, s->tgt);
	if (!leader)
	{
		s->src_snapshot = src_snapshot ? xstrdup(src_snapshot) : NULL;
		s->tgt_snapshot = tgt_snapshot ? xstrdup(tgt_snapshot) : NULL;
	}
	return 0;
}

void
vsession_close(vsession *s)
{
	if (s->src && s->intr)
		interrupt_unregister(s->intr, s->src);
	if (s->tgt && s->intr)
		interrupt_unregister(s->intr, s->tgt);
	if (s->src)
		PQfinish(s->src);
	if (s->tgt)
		PQfinish(s->tgt);
	free(s->src_snapshot);
	free(s->tgt_snapshot);
	memset(s, 0, sizeof(vsession));
}

int
vsession_recover(vsession *s)
{
	if (conn_exec(s->src, SIDE_SOURCE, "ROLLBACK") != 0 ||
		begin_in_snapshot(s->src, SIDE_SOURCE, s->src_snapshot) != 0)
		return -1;
	if (conn_exec(s->tgt, SIDE_TARGET, "ROLLBACK") != 0 ||
		begin_in_snapshot(s->tgt, SIDE_TARGET, s->tgt_snapshot) != 0)
		return -1;
	return 0;
}

static bool
send_query(PGconn *conn, const char *side, const char *what, const vquery *q)
{
	char		buf[512];

	if (PQsendQueryParams(conn, q->sql, q->nparams, q->types, q->params,
						  NULL, NULL, 0))
		return true;
	error("could not %s on %s server: %s", what, side,
		  conn_error_message(conn, buf, sizeof(buf)));
	return false;
}

/*
 * Read every result of the query sent; return the first when it holds
 * rows, else log (unless the run was interrupted) and return NULL.
 */
static PGresult *
collect(vsession *s, PGconn *conn, const char *side, const char *what)
{
	PGresult   *first = NULL;
	PGresult   *res;
	bool		lost = true;

	while ((res = PQgetResult(conn)) != NULL)
	{
		lost = false;
		if (first == NULL)
			first = res;
		else
			PQclear(res);
	}
	if (first && PQresultStatus(first) == PGRES_TUPLES_OK)
		return first;
	if (s->intr && s->intr->stop)
		;						/* canceled: the interruption is reported */
	else if (lost || first == NULL)
	{
		char		buf[512];

		error("could not %s on %s server: %s", what, side,
			  conn_error_message(conn, buf, sizeof(buf)));
	}
	else
		conn_log_result_error(first, side, what);
	PQclear(first);
	return NULL;
}

int
vsession_query2(vsession *s, const char *what, const vquery *q_src,
				const vquery *q_tgt, PGresult **res_src, PGresult **res_tgt)
{
	bool		sent_src = send_query(s->src, SIDE_SOURCE, what, q_src);
	bool		sent_tgt = sent_src && send_query(s->tgt, SIDE_TARGET, what,
												  q_tgt);

	*res_src = sent_src ? collect(s, s->src, SIDE_SOURCE, what) : NULL;
	*res_tgt = sent_tgt ? collect(s, s->tgt, SIDE_TARGET, what) : NULL;
	if (*res_src && *res_tgt)
		return 0;
	PQclear(*res_src);
	PQclear(*res_tgt);
	*res_src = *res_tgt = NULL;
	return -1;
}

PGresult *
vsession_query(vsession *s, bool target, const char *what, const vquery *q)
{
	PGconn	   *conn = target ? s->tgt : s->src;
	const char *side = target ? SIDE_TARGET : SIDE_SOURCE;

	if (!send_query(conn, side, what, q))
		return NULL;
	return collect(s, conn, side, what);
}
