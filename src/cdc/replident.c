/*
 * replident.c
 *		Tables without a replica identity, and --replica-identity-full.
 *
 * The replica identity index (the primary key for DEFAULT, the chosen
 * index for USING INDEX) counts only as PostgreSQL counts it (relcache.c,
 * RelationGetIndexList(), and ALTER TABLE ... REPLICA IDENTITY): valid,
 * unique, immediate (not DEFERRABLE), not partial, without expressions,
 * on NOT NULL columns.  Otherwise, or when the index named by USING INDEX
 * is gone, or with NOTHING, the table has none.
 *
 * REPLICA IDENTITY FULL makes every UPDATE and DELETE of the table write
 * the whole old row into the WAL: the write rate shown with each table
 * (n_tup_upd + n_tup_del of pg_stat_user_tables, per second since the
 * database's statistics were reset, or as raw counts when they never
 * were) tells what that costs.
 */
#include "cdc/replident.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/conn.h"
#include "util/log.h"
#include "util/str.h"

/*
 * Logged tables without a replica identity.  Columns: oid, name, schema,
 * table, relreplident, index oid, index name, what is wrong with the
 * index, size, updates, deletes, owned by the role, statistics reset
 * (text), seconds since.
 */
static const char *const keyless_sql =
"SELECT c.oid, pg_catalog.format('%I.%I', n.nspname, c.relname), n.nspname, c.relname,"
"       c.relreplident, ix.oid, ix.relname, ix.problem,"
"       pg_catalog.pg_size_pretty(pg_catalog.pg_total_relation_size(c.oid)),"
"       coalesce(s.n_tup_upd, 0), coalesce(s.n_tup_del, 0),"
"       pg_catalog.pg_has_role(c.relowner, 'USAGE'),"
"       pg_catalog.to_char(d.stats_reset AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS\"Z\"'),"
"       extract(epoch FROM pg_catalog.now() - d.stats_reset)"
"  FROM pg_catalog.pg_class c"
"  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
"  LEFT JOIN pg_catalog.pg_stat_user_tables s ON s.relid = c.oid"
"  LEFT JOIN pg_catalog.pg_stat_database d ON d.datname = pg_catalog.current_database()"
"  LEFT JOIN LATERAL"
"       (SELECT ic.oid, ic.relname,"
"               CASE WHEN NOT i.indisvalid THEN 'is not valid'"
"                    WHEN NOT i.indisunique THEN 'is not unique'"
"                    WHEN NOT i.indimmediate THEN 'is DEFERRABLE'"
"                    WHEN i.indpred IS NOT NULL THEN 'is partial'"
"                    WHEN i.indexprs IS NOT NULL THEN 'has expressions'"
"                    WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a"
"                                  WHERE a.attrelid = c.oid"
"                                    AND a.attnum = ANY (i.indkey)"
"                                    AND NOT a.attnotnull)"
"                    THEN 'has a column that may be NULL' END AS problem"
"          FROM pg_catalog.pg_index i"
"          JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid"
"         WHERE i.indrelid = c.oid"
"           AND CASE c.relreplident WHEN 'd' THEN i.indisprimary"
"                                   WHEN 'i' THEN i.indisreplident"
"                                   ELSE false END"
"         LIMIT 1) ix ON true"
" WHERE c.relkind = 'r' AND c.relpersistence = 'p'"
"   AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
"   AND n.nspname !~ '^pg_(toast|temp_)'"
"   AND (c.relreplident = 'n'"
"        OR (c.relreplident IN ('d', 'i')"
"            AND (ix.relname IS NULL OR ix.problem IS NOT NULL)))"
" ORDER BY 2";

enum
{
	K_OID, K_NAME, K_SCHEMA, K_TABLE, K_IDENT, K_INDEX_OID, K_INDEX, K_PROBLEM,
	K_SIZE, K_UPD, K_DEL, K_OWNED, K_RESET, K_SECONDS
};

static PGresult *
read_keyless(PGconn *src)
{
	return conn_query(src, SIDE_SOURCE, "look up tables without a replica identity",
					  keyless_sql, 0, NULL);
}

/* Why a table's index is not its replica identity, when it has one. */
static void
explain_index(const PGresult *res, int row)
{
	bool		primary = PQgetvalue(res, row, K_IDENT)[0] == 'd';

	if (PQgetisnull(res, row, K_INDEX) || PQgetisnull(res, row, K_PROBLEM))
		return;
	log_detail("Its %s \"%s\" %s; PostgreSQL takes as replica identity only a valid, unique, "
			   "immediate (not DEFERRABLE), non-partial index without expressions on NOT NULL "
			   "columns, and refuses the table's updates and deletes on the source otherwise.",
			   primary ? "primary key" : "replica identity index",
			   PQgetvalue(res, row, K_INDEX), PQgetvalue(res, row, K_PROBLEM));
}

/* The table's size and how often it is updated or deleted from. */
static void
describe_writes(const PGresult *res, int row)
{
	int64_t		upd = 0,
				del = 0;
	double		seconds = PQgetisnull(res, row, K_SECONDS) ? 0.0 :
		strtod(PQgetvalue(res, row, K_SECONDS), NULL);

	(void) str_to_int64(PQgetvalue(res, row, K_UPD), &upd);
	(void) str_to_int64(PQgetvalue(res, row, K_DEL), &del);
	if (seconds >= 1.0)
		log_detail("%s; %lld updates and %lld deletes since the statistics were reset at %s, "
				   "%.2f a second (each writes its whole old row to the WAL under REPLICA IDENTITY FULL).",
				   PQgetvalue(res, row, K_SIZE), (long long) upd, (long long) del,
				   PQgetvalue(res, row, K_RESET), (double) (upd + del) / seconds);
	else
		log_detail("%s; %lld updates and %lld deletes counted by the statistics, which were never reset "
				   "(each writes its whole old row to the WAL under REPLICA IDENTITY FULL).",
				   PQgetvalue(res, row, K_SIZE), (long long) upd, (long long) del);
}

/* With --replica-identity-full: announce the table, or refuse it. */
static void
check_settable(const PGresult *res, int row, bool *ok)
{
	const char *name = PQgetvalue(res, row, K_NAME);

	if (strcmp(PQgetvalue(res, row, K_OWNED), "t") != 0)
	{
		error("the source role does not own table \"%s\": --replica-identity-full cannot set its replica identity",
			  name);
		describe_writes(res, row);
		log_hint("Connect to the source as the table's owner (or a member of its role), "
				 "or give the table a primary key or a replica identity yourself.");
		*ok = false;
		return;
	}
	log_info("table \"%s\" has no replica identity: pgcrane will set REPLICA IDENTITY FULL on it on the source (--replica-identity-full)",
			 name);
	describe_writes(res, row);
}

/*
 * Whether the table of row i is followed: every table without rules, else
 * those whose rows the clone copies (the others are not published).
 */
static bool
followed(const PGresult *res, int i, const selres *rules)
{
	const selres_rel *rel;

	if (rules == NULL)
		return true;
	rel = selres_find(rules, (uint32_t) strtoul(PQgetvalue(res, i, K_OID), NULL, 10));
	return rel == NULL || (rel->why == NULL && !rel->no_data);
}

int
cdc_replident_check(PGconn *src, bool set_full, const selres *rules, bool *ok)
{
	PGresult   *res = read_keyless(src);
	int			n = 0;

	if (res == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res); i++)
	{
		if (!followed(res, i, rules))
			continue;
		n++;
		if (set_full)
		{
			check_settable(res, i, ok);
			continue;
		}
		error("table \"%s\" has no replica identity: its updates and deletes cannot be followed",
			  PQgetvalue(res, i, K_NAME));
		explain_index(res, i);
		describe_writes(res, i);
		*ok = false;
	}
	if (n > 0 && !set_full)
		log_hint("Use --replica-identity-full to have pgcrane set REPLICA IDENTITY FULL on %s on the source "
				 "(\"pgcrane cleanup\" gives back what %s had), or add a primary key to each.",
				 n == 1 ? "it" : "them", n == 1 ? "it" : "they");
	PQclear(res);
	return 0;
}

/* Row i of a keyless_sql result as a state record. */
static state_replident
replident_of(const PGresult *res, int i)
{
	state_replident r = {0, 'd', 0};

	r.table_oid = (uint32_t) strtoul(PQgetvalue(res, i, K_OID), NULL, 10);
	r.identity = PQgetvalue(res, i, K_IDENT)[0];
	if (r.identity == 'i' && !PQgetisnull(res, i, K_INDEX_OID))
		r.index_oid = (uint32_t) strtoul(PQgetvalue(res, i, K_INDEX_OID), NULL, 10);
	return r;
}

/* The recorded list with every table of res not in it yet added. */
static int
record_all(state *st, const PGresult *res, const selres *rules)
{
	state_replident *list;
	int			n;
	int			rc;

	if (state_load_replica_identities(st, &list, &n) != 0)
		return -1;
	for (int i = 0; i < PQntuples(res); i++)
	{
		state_replident r = replident_of(res, i);
		bool		known = !followed(res, i, rules);

		for (int j = 0; j < n && !known; j++)
			known = list[j].table_oid == r.table_oid;
		if (known)
			continue;
		list = xrealloc(list, (size_t) (n + 1) * sizeof(state_replident));
		list[n++] = r;
	}
	rc = state_record_replica_identities(st, list, n);
	free(list);
	return rc;
}

/* ALTER TABLE schema.table REPLICA IDENTITY what (what is SQL). */
static int
alter_identity(PGconn *src, const char *schema, const char *table, const char *what)
{
	char	   *name = conn_qualified_name(src, schema, table);
	char	   *sql = str_printf("ALTER TABLE %s REPLICA IDENTITY %s", name, what);
	int			rc = conn_exec(src, SIDE_SOURCE, sql);

	free(sql);
	free(name);
	return rc;
}

int
cdc_replident_set_full(state *st, PGconn *src, const selres *rules)
{
	PGresult   *res = read_keyless(src);
	int			rc;

	if (res == NULL)
		return -1;
	rc = record_all(st, res, rules);
	for (int i = 0; rc == 0 && i < PQntuples(res); i++)
	{
		if (!followed(res, i, rules))
			continue;
		rc = alter_identity(src, PQgetvalue(res, i, K_SCHEMA), PQgetvalue(res, i, K_TABLE),
							"FULL");
		if (rc == 0)
			log_info("set REPLICA IDENTITY FULL on table \"%s\" on the source",
					 PQgetvalue(res, i, K_NAME));
	}
	PQclear(res);
	return rc;
}

/*
 * The table of r as it is now: schema, name, identity and the recorded
 * index's name (NULL when gone).  NULL when the table is gone.
 */
static PGresult *
read_table(PGconn *src, const state_replident *r)
{
	char		toid[16],
				ioid[16];
	const char *params[2] = {toid, ioid};
	PGresult   *res;

	snprintf(toid, sizeof(toid), "%u", (unsigned) r->table_oid);
	snprintf(ioid, sizeof(ioid), "%u", (unsigned) r->index_oid);
	res = conn_query(src, SIDE_SOURCE, "look up a table whose replica identity pgcrane set",
					 "SELECT n.nspname, c.relname, c.relreplident,"
					 " (SELECT i.relname FROM pg_catalog.pg_index x"
					 "   JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid"
					 "  WHERE x.indexrelid = $2::oid AND x.indrelid = c.oid)"
					 " FROM pg_catalog.pg_class c"
					 " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
					 " WHERE c.oid = $1::oid",
					 2, params);
	return res;
}

/* Give one table its recorded identity back, if it is still FULL. */
static int
restore_one(PGconn *src, const state_replident *r)
{
	PGresult   *res = read_table(src, r);
	char	   *what;
	int			rc = 0;

	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0 || PQgetvalue(res, 0, 2)[0] != 'f')
	{
		PQclear(res);
		return 0;				/* dropped, or changed since by someone else */
	}
	if (r->identity == 'i' && !PQgetisnull(res, 0, 3))
	{
		char	   *index = conn_quote_ident(src, PQgetvalue(res, 0, 3));

		what = str_printf("USING INDEX %s", index);
		free(index);
	}
	else
		/* An index identity whose index is gone is none: NOTHING. */
		what = xstrdup(r->identity == 'd' ? "DEFAULT" : "NOTHING");
	rc = alter_identity(src, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), what);
	if (rc == 0)
		log_info("restored REPLICA IDENTITY %s of table \"%s.%s\" on the source", what,
				 PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
	free(what);
	PQclear(res);
	return rc;
}

int
cdc_replident_restore(state *st, PGconn *src)
{
	state_replident *list;
	int			n;
	int			rc;

	if (state_load_replica_identities(st, &list, &n) != 0)
		return -1;
	rc = 0;
	for (int i = 0; rc == 0 && i < n; i++)
		rc = restore_one(src, &list[i]);
	free(list);
	if (rc == 0 && n > 0)
		rc = state_record_replica_identities(st, NULL, 0);
	return rc;
}
