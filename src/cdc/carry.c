/*
 * carry.c
 *		What a follow does not carry to the target (see carry.h).
 */
#include "cdc/carry.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/conn.h"
#include "util/log.h"

static const char *const prepared_sql =
"SELECT gid, owner,"
" pg_catalog.to_char(prepared AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS\"Z\"'),"
" pg_catalog.floor(extract(epoch FROM pg_catalog.now() - prepared))::bigint"
" FROM pg_catalog.pg_prepared_xacts"
" WHERE database = pg_catalog.current_database() ORDER BY prepared";

/* Counts of what exists on the source that the cutover does not carry. */
static const char *const counts_sql =
"SELECT (SELECT count(*) FROM pg_catalog.pg_class c"
"   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
"   WHERE c.relkind = 'm' AND n.nspname <> 'information_schema'"
"   AND n.nspname NOT LIKE 'pg\\_%'),"
" (SELECT count(*) FROM pg_catalog.pg_class c"
"   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
"   WHERE c.relkind = 'S' AND n.nspname <> 'information_schema'"
"   AND n.nspname NOT LIKE 'pg\\_%')";

int
cdc_carry_prepared(PGconn *src, strbuf *out)
{
	PGresult   *res = src ? PQexec(src, prepared_sql) : NULL;
	int			n;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		PQclear(res);
		return -1;
	}
	n = PQntuples(res);
	for (int i = 0; i < n; i++)
	{
		if (out->len > 0)
			strbuf_adds(out, "\n");
		strbuf_addf(out, "gid \"%s\", owner \"%s\", prepared %s (%s s ago)",
					PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
					PQgetvalue(res, i, 2), PQgetvalue(res, i, 3));
	}
	PQclear(res);
	return n;
}

/* Append one line to the list. */
static void
add_line(strbuf *out, const char *line)
{
	if (out->len > 0)
		strbuf_adds(out, "\n");
	strbuf_adds(out, line);
}

/* The lines that depend on what exists on the source. */
static void
list_counts(PGconn *src, bool refreshed, strbuf *out)
{
	PGresult   *res = src ? PQexec(src, counts_sql) : NULL;
	char	   *line;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
	{
		add_line(out, refreshed ? "sequences: only their values at the cutover; the source "
				 "could not be asked how many it has"
				 : "sequences, materialized views: the source could not be asked "
				 "whether it has any");
		PQclear(res);
		return;
	}
	line = str_printf("sequences: only their values at the cutover (%s on the source)",
					  PQgetvalue(res, 0, 1));
	add_line(out, line);
	free(line);
	if (!refreshed && strcmp(PQgetvalue(res, 0, 0), "0") != 0)
	{
		line = str_printf("materialized views: %s, not refreshed (--no-refresh-matviews); "
						  "the target's hold their contents as of the clone: refresh them there",
						  PQgetvalue(res, 0, 0));
		add_line(out, line);
		free(line);
	}
	PQclear(res);
}

void
cdc_carry_list(PGconn *src, bool refreshed, strbuf *out)
{
	strbuf		prepared = STRBUF_INIT;
	int			n;

	add_line(out, "schema changes (DDL) the follow does not apply (with --ddl=apply, "
			 "all but column changes, new tables and new sequences), roles and "
			 "privileges made on the source since the clone");
	list_counts(src, refreshed, out);
	n = cdc_carry_prepared(src, &prepared);
	if (n < 0)
		add_line(out, "prepared transactions: the source could not be asked");
	else if (n > 0)
	{
		char	   *line = str_printf("prepared transactions still prepared on the source "
									  "(their changes are not on the target): %d", n);
		char	   *p = prepared.buf;

		add_line(out, line);
		free(line);
		while (p && *p)
		{
			size_t		len = strcspn(p, "\n");

			strbuf_adds(out, "\n  ");
			strbuf_add(out, p, len);
			p += len + (p[len] == '\n');
		}
	}
	strbuf_release(&prepared);
}

void
cdc_carry_ask(const char *conninfo, bool refreshed, strbuf *out)
{
	PGconn	   *src = conn_try_open(conninfo, NULL, NULL, 0);

	cdc_carry_list(src, refreshed, out);
	if (src)
		PQfinish(src);
}
