/*
 * slot.c
 *		Publication and replication slot on the source.
 */
#include "cdc/slot.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdc/pgoutput.h"
#include "core/conn.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/str.h"

/*
 * The connection string with replication=database added: a URI takes the
 * option as a parameter, a key/value string as a pair.
 */
static char *
repl_conninfo(const char *source)
{
	if (strncmp(source, "postgres", 8) == 0 && strstr(source, "://"))
		return str_printf("%s%sreplication=database", source,
						  strchr(source, '?') ? "&" : "?");
	return str_printf("%s replication=database", source);
}

PGconn *
cdc_repl_try_connect(const char *source, char sqlstate[6], char *msg,
					 size_t msgsize)
{
	char	   *conninfo = repl_conninfo(source);
	PGconn	   *conn = conn_try_open(conninfo, sqlstate, msg, msgsize);

	free(conninfo);
	return conn;
}

PGconn *
cdc_repl_connect(const char *source)
{
	char		msg[1024];
	PGconn	   *conn = cdc_repl_try_connect(source, NULL, msg, sizeof(msg));

	if (conn == NULL)
		error("could not open a replication connection to the source server: %s", msg);
	return conn;
}

#define WAITERS_FIRST 3.0		/* seconds before the first word */
#define WAITERS_INTERVAL 5.0

/* Transactions with an xid, then prepared ones, in every database. */
static const char *const waiters_sql =
"SELECT 'pid ' || pid || ' in database \"' || coalesce(datname, '') || '\" (user \"'"
"  || coalesce(usename, '') || '\", ' || coalesce(state, 'unknown') || ', transaction open '"
"  || coalesce(pg_catalog.floor(extract(epoch FROM pg_catalog.now() - xact_start))::text, '?')"
"  || ' s): ' || pg_catalog.left(pg_catalog.regexp_replace(coalesce(query, ''), '\\s+', ' ', 'g'), 80)"
" FROM pg_catalog.pg_stat_activity"
" WHERE backend_xid IS NOT NULL AND pid <> pg_catalog.pg_backend_pid() AND pid <> $1::int"
" UNION ALL "
"SELECT 'prepared transaction \"' || gid || '\" in database \"' || database"
"  || '\" (owner \"' || owner || '\", prepared '"
"  || pg_catalog.floor(extract(epoch FROM pg_catalog.now() - prepared))::text || ' s ago)'"
" FROM pg_catalog.pg_prepared_xacts";

int
cdc_slot_waiters(PGconn *src, int self, strbuf *out)
{
	char		pid[16];
	const char *params[1] = {pid};
	PGresult   *res;
	int			n;

	snprintf(pid, sizeof(pid), "%d", self);
	res = src ? PQexecParams(src, waiters_sql, 1, NULL, params, NULL, NULL, 0) : NULL;
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
		strbuf_adds(out, PQgetvalue(res, i, 0));
	}
	PQclear(res);
	return n;
}

/* Say what the slot creation waits for; *watch is opened on first use. */
static void
report_waiters(const char *source, PGconn **watch, PGconn *repl, const char *slot,
			   double waited)
{
	strbuf		sb = STRBUF_INIT;
	int			n;

	if (*watch == NULL && source != NULL)
		*watch = conn_try_open(source, NULL, NULL, 0);
	n = cdc_slot_waiters(*watch, PQbackendPID(repl), &sb);
	if (n < 0 && *watch != NULL)
	{
		PQfinish(*watch);
		*watch = NULL;
	}
	if (n == 0)
		log_info("creating replication slot \"%s\": waiting %.0f s for the source to reach a consistent point",
				 slot, waited);
	else if (n > 0)
	{
		const char *p = strbuf_str(&sb);

		log_info("creating replication slot \"%s\": waiting %.0f s for %d transaction%s on the source to end",
				 slot, waited, n, n == 1 ? "" : "s");
		while (*p)
		{
			size_t		len = strcspn(p, "\n");

			log_info("  %.*s", (int) len, p);
			p += len + (p[len] == '\n');
		}
	}
	strbuf_release(&sb);
}

/*
 * Send sql on repl and wait for its result, saying every few seconds
 * what the server waits for.  The result (NULL if the connection broke).
 */
static PGresult *
create_and_watch(PGconn *repl, const char *source, const char *slot, const char *sql)
{
	double		start = clock_now();
	double		next = start + WAITERS_FIRST;
	PGconn	   *watch = NULL;
	PGresult   *res = NULL;
	PGresult   *r;

	if (!PQsendQuery(repl, sql))
		return NULL;
	while (PQisBusy(repl))
	{
		struct pollfd pfd = {PQsocket(repl), POLLIN, 0};

		(void) poll(&pfd, 1, 500);
		if (!PQconsumeInput(repl))
			break;
		if (clock_now() >= next && PQisBusy(repl))
		{
			report_waiters(source, &watch, repl, slot, clock_now() - start);
			next = clock_now() + WAITERS_INTERVAL;
		}
	}
	while ((r = PQgetResult(repl)) != NULL)
	{
		if (res == NULL)
			res = r;
		else
			PQclear(r);
	}
	if (watch)
		PQfinish(watch);
	return res;
}

int
cdc_slot_create(PGconn *repl, const char *source, const char *slot,
				char **snapshot, uint64_t *consistent_lsn)
{
	char	   *name = conn_quote_ident(repl, slot);
	char	   *sql = str_printf("CREATE_REPLICATION_SLOT %s LOGICAL pgoutput EXPORT_SNAPSHOT",
								 name);
	PGresult   *res = create_and_watch(repl, source, slot, sql);
	int			rc = 0;

	free(sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		char	   *what = str_printf("create replication slot \"%s\"", slot);

		if (res)
			conn_log_result_error(res, SIDE_SOURCE, what);
		else
			error("could not %s on source server: %s", what, PQerrorMessage(repl));
		free(what);
		rc = -1;
	}
	else if (!pgo_lsn_parse(PQgetvalue(res, 0, 1), consistent_lsn))
		rc = error("could not parse the consistent point \"%s\" of slot \"%s\"",
				   PQgetvalue(res, 0, 1), slot);
	else
		*snapshot = xstrdup(PQgetvalue(res, 0, 2));
	PQclear(res);
	free(name);
	return rc;
}

/* Whether the rules (NULL: none) copy the rows of the table with this OID. */
static bool
copied(const selres *rules, const char *oid)
{
	const selres_rel *r;

	if (rules == NULL)
		return true;
	r = selres_find(rules, (uint32_t) strtoul(oid, NULL, 10));
	return r != NULL && r->why == NULL && !r->no_data;
}

/*
 * CREATE PUBLICATION name FOR TABLE each table the role may publish (and
 * the rules copy); why says why FOR TABLE, for the message.
 */
static int
publish_tables(PGconn *src, const char *publication, const selres *rules,
			   const char *why)
{
	PGresult   *res = conn_query(src, SIDE_SOURCE, "list the tables to publish",
								 "SELECT n.nspname, c.relname, c.oid FROM pg_catalog.pg_class c"
								 " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
								 CDC_PUBLISHED_TABLES_WHERE " ORDER BY 1, 2", 0, NULL);
	char	   *name = conn_quote_ident(src, publication);
	strbuf		sql = STRBUF_INIT;
	int			n = 0;
	int			rc;

	if (res == NULL)
	{
		free(name);
		return -1;
	}
	strbuf_addf(&sql, "CREATE PUBLICATION %s", name);
	for (int i = 0; i < PQntuples(res); i++)
	{
		char	   *table;

		if (!copied(rules, PQgetvalue(res, i, 2)))
			continue;
		table = conn_qualified_name(src, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
		strbuf_addf(&sql, "%s%s", n++ == 0 ? " FOR TABLE " : ", ", table);
		free(table);
	}
	rc = conn_exec_as(src, SIDE_SOURCE, strbuf_str(&sql), "create publication");
	if (rc == 0)
		log_info("publication \"%s\" created FOR TABLE, %d table%s (%s)",
				 publication, n, n == 1 ? "" : "s", why);
	PQclear(res);
	strbuf_release(&sql);
	free(name);
	return rc;
}

int
cdc_publication_create(PGconn *src, const char *publication, const selres *rules)
{
	const char *params[1] = {publication};
	PGresult   *res = conn_query(src, SIDE_SOURCE, "look up publication",
								 "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_publication"
								 " WHERE pubname = $1), " CDC_PUBLISH_ALL_SQL,
								 1, params);
	bool		exists,
				all;

	if (res == NULL)
		return -1;
	exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	all = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	PQclear(res);
	if (exists)
		return 0;
	if (rules != NULL)
		return publish_tables(src, publication, rules,
							  "the tables whose rows the selection copies");
	if (!all)
		return publish_tables(src, publication, NULL,
							  "the source role may not publish all tables");
	return conn_exec_ident(src, SIDE_SOURCE, "CREATE PUBLICATION %s FOR ALL TABLES",
						   publication);
}

static const char *const missing_sql =
"SELECT c.oid, n.nspname, c.relname"
"  FROM pg_catalog.pg_class c"
"  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
CDC_PUBLISHED_TABLES_WHERE
"   AND EXISTS (SELECT 1 FROM pg_catalog.pg_publication p"
"                WHERE p.pubname = $1 AND NOT p.puballtables)"
"   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication_rel pr"
"                    JOIN pg_catalog.pg_publication p ON p.oid = pr.prpubid"
"                   WHERE p.pubname = $1 AND pr.prrelid = c.oid)"
" ORDER BY 2, 3";

int
cdc_publication_missing(PGconn *src, const char *publication, cdc_new_table **out)
{
	const char *params[1] = {publication};
	PGresult   *res = PQexecParams(src, missing_sql, 1, NULL, params, NULL, NULL, 0);
	int			n;

	*out = NULL;
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		log_debug("could not look up the tables publication \"%s\" lacks: %s",
				  publication, PQresultErrorMessage(res));
		PQclear(res);
		return -1;
	}
	n = PQntuples(res);
	*out = n > 0 ? xcalloc((size_t) n, sizeof(cdc_new_table)) : NULL;
	for (int i = 0; i < n; i++)
	{
		(*out)[i].oid = (uint32_t) strtoul(PQgetvalue(res, i, 0), NULL, 10);
		(*out)[i].nspname = xstrdup(PQgetvalue(res, i, 1));
		(*out)[i].relname = xstrdup(PQgetvalue(res, i, 2));
		(*out)[i].display = str_printf("%s.%s", PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
	}
	PQclear(res);
	return n;
}

void
cdc_new_tables_free(cdc_new_table *t, int n)
{
	for (int i = 0; i < n; i++)
	{
		free(t[i].nspname);
		free(t[i].relname);
		free(t[i].display);
	}
	free(t);
}

int
cdc_publication_add(PGconn *src, const char *publication, const char *qname,
					const char *display)
{
	char	   *name = conn_quote_ident(src, publication);
	char	   *sql = str_printf("ALTER PUBLICATION %s ADD TABLE ONLY %s", name, qname);
	char	   *what = str_printf("add table \"%s\" to publication \"%s\"", display, publication);
	int			rc = conn_exec_as(src, SIDE_SOURCE, sql, what);

	free(what);
	free(sql);
	free(name);
	return rc;
}

int
cdc_publication_drop(PGconn *conn, const char *side, const char *publication)
{
	return conn_exec_ident(conn, side, "DROP PUBLICATION IF EXISTS %s", publication);
}

int
cdc_source_cleanup(PGconn *src, const char *slot, const char *publication)
{
	const char *params[1] = {slot};
	PGresult   *res = conn_query(src, SIDE_SOURCE, "drop replication slot",
								 "SELECT pg_catalog.pg_drop_replication_slot(slot_name)"
								 " FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
								 1, params);
	if (res == NULL)
		return -1;
	PQclear(res);
	if (publication == NULL || publication[0] == '\0')
		return 0;
	return cdc_publication_drop(src, SIDE_SOURCE, publication);
}

int
cdc_slot_wait_inactive(PGconn *src, const char *slot, int timeout)
{
	const char *params[1] = {slot};

	for (int i = 0; i <= timeout * 10; i++)
	{
		PGresult   *res = conn_query(src, SIDE_SOURCE, "look up replication slot",
									 "SELECT active_pid FROM pg_catalog.pg_replication_slots"
									 " WHERE slot_name = $1 AND active",
									 1, params);
		bool		active;

		if (res == NULL)
			return -1;
		active = PQntuples(res) > 0;
		PQclear(res);
		if (!active)
			return 0;
		usleep(100 * 1000);
	}
	return error("replication slot \"%s\" is still in use on the source after %d seconds",
				 slot, timeout);
}

char *
cdc_slot_retained(PGconn *src, const char *slot)
{
	const char *params[1] = {slot};
	PGresult   *res = conn_query(src, SIDE_SOURCE, "read replication slot",
								 "SELECT pg_catalog.pg_size_pretty(pg_catalog.pg_wal_lsn_diff("
								 " CASE WHEN pg_catalog.pg_is_in_recovery()"
								 "  THEN pg_catalog.pg_last_wal_replay_lsn()"
								 "  ELSE pg_catalog.pg_current_wal_lsn() END,"
								 " restart_lsn))"
								 " FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
								 1, params);
	char	   *size = NULL;

	if (res && PQntuples(res) == 1)
		size = xstrdup(PQgetisnull(res, 0, 0) ? "an unknown amount" : PQgetvalue(res, 0, 0));
	PQclear(res);
	return size;
}

void
cdc_slot_report_retained(const char *slot, const char *retained,
						 const char *dir, const char *resume_cmd)
{
	if (retained)
		log_warning("replication slot \"%s\" remains on the source and retains %s of WAL",
					slot, retained);
	else
		log_warning("replication slot \"%s\" may remain on the source, retaining WAL",
					slot);
	log_hint("Go on with \"%s\", or remove the slot with \"pgcrane cleanup --dir %s\".",
			 resume_cmd, dir);
}

void
cdc_slot_report_left(const char *source, const char *slot, const char *dir,
					 const char *resume_cmd)
{
	PGconn	   *src;
	char	   *size;

	if (slot == NULL || slot[0] == '\0')
		return;
	src = source ? conn_try_open(source, NULL, NULL, 0) : NULL;
	if (src == NULL)
	{
		cdc_slot_report_retained(slot, NULL, dir, resume_cmd);
		return;
	}
	size = cdc_slot_retained(src, slot);
	PQfinish(src);
	if (size)
		cdc_slot_report_retained(slot, size, dir, resume_cmd);
	free(size);
}

/*
 * The slot's transactions from the first commit after its confirmed
 * position, with their commit messages' LSN (the commit's end) and the
 * number of row changes in each, decoded without consuming anything.
 */
static const char *const between_sql =
"SELECT count(*) FILTER (WHERE k = 67),"
" count(*) FILTER (WHERE k IN (73, 85, 68, 84))"
" FROM (SELECT k, max(lsn) FILTER (WHERE k = 67) OVER (PARTITION BY t) AS end_lsn"
"  FROM (SELECT lsn, k, sum((k = 66)::int) OVER (ORDER BY n) AS t"
"   FROM (SELECT lsn, pg_catalog.get_byte(data, 0) AS k,"
"         pg_catalog.row_number() OVER () AS n"
"     FROM pg_catalog.pg_logical_slot_peek_binary_changes($1, $3::pg_lsn, NULL,"
"       'proto_version', '1', 'publication_names', $4)) r) s) u"
" WHERE end_lsn > $2::pg_lsn AND end_lsn <= $3::pg_lsn";

int
cdc_slot_count_between(PGconn *src, const char *slot, const char *publication,
					   uint64_t after, uint64_t upto, int64_t *transactions,
					   int64_t *changes)
{
	char		lo[PGO_LSN_BUFSIZE];
	char		hi[PGO_LSN_BUFSIZE];
	char	   *pub = conn_quote_ident(src, publication);
	const char *params[4] = {slot, lo, hi, pub};
	PGresult   *res;
	int			rc = -1;

	pgo_lsn_format(after, lo, sizeof(lo));
	pgo_lsn_format(upto, hi, sizeof(hi));
	res = PQexecParams(src, between_sql, 4, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
		str_to_int64(PQgetvalue(res, 0, 0), transactions) &&
		str_to_int64(PQgetvalue(res, 0, 1), changes))
		rc = 0;
	else
		log_debug("could not count the transactions of slot \"%s\" between %s and %s: %s",
				  slot, lo, hi, PQresultErrorMessage(res));
	PQclear(res);
	free(pub);
	return rc;
}
