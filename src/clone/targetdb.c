/*
 * targetdb.c
 *		Create or recreate the target database.
 *
 * CREATE DATABASE takes no parameters, so names are quoted with
 * PQescapeIdentifier and settings with PQescapeLiteral.
 */
#include "clone/targetdb.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/conn.h"
#include "core/identity.h"
#include "util/log.h"
#include "util/str.h"

static void
add_literal(PGconn *conn, strbuf *sb, const char *key, const char *value)
{
	char	   *lit = PQescapeLiteral(conn, value, strlen(value));

	if (lit == NULL)
		BUG("could not quote a literal");
	strbuf_addf(sb, " %s %s", key, lit);
	PQfreemem(lit);
}

static char *
create_sql(PGconn *conn, const preflight_info *info)
{
	char	   *name = conn_quote_ident(conn, info->target_db);
	strbuf		sb = STRBUF_INIT;

	strbuf_addf(&sb, "CREATE DATABASE %s WITH TEMPLATE template0", name);
	add_literal(conn, &sb, "ENCODING", info->encoding);
	add_literal(conn, &sb, "LC_COLLATE", info->collate);
	add_literal(conn, &sb, "LC_CTYPE", info->ctype);
	if (info->locale_provider && info->locale_provider[0] == 'i' &&
		info->target_num >= 150000)
	{
		strbuf_adds(&sb, " LOCALE_PROVIDER icu");
		if (info->icu_locale)
			add_literal(conn, &sb, "ICU_LOCALE", info->icu_locale);
	}
	free(name);
	return strbuf_detach(&sb);
}

/*
 * Before a DROP DATABASE: prove through conn (the target server's
 * maintenance database) that dbname is the database expected, on the
 * server expected, and not the source.  0 or -1 (logged).
 */
static int
prove_drop(PGconn *conn, const char *dbname, const db_identity *expected,
		   const db_identity *source)
{
	db_identity now;
	char		buf[512];

	if (identity_read_server(conn, SIDE_TARGET, dbname, &now) != 0)
		return -1;
	if (now.db_oid == 0)
		return 0;				/* gone already: nothing to drop */
	if (identity_same_database(&now, source))
	{
		error("refusing to drop database \"%s\": it is the source database", dbname);
		log_detail("It is %s.", identity_describe(&now, buf, sizeof(buf)));
		return -1;
	}
	if (now.is_template)
		return error("refusing to drop database \"%s\": it is a template database", dbname);
	if (!identity_same_database(&now, expected))
	{
		error("refusing to drop database \"%s\": it is not the target database checked before",
			  dbname);
		log_detail("Expected %s, found %s.", identity_describe(expected, buf, sizeof(buf)),
				   identity_describe(&now, buf + 256, sizeof(buf) - 256));
		return -1;
	}
	return 0;
}

/* The target server's maintenance database, to create or drop the target. */
static PGconn *
open_maintenance(const char *target)
{
	char	   *maint = conn_with_dbname(target, "postgres");
	PGconn	   *conn = maint ? conn_open(maint, SIDE_TARGET) : NULL;

	free(maint);
	return conn;
}

static int
create_target(PGconn *conn, const preflight_info *info, db_identity *created)
{
	char	   *sql = create_sql(conn, info);
	int			rc;

	log_info("creating target database \"%s\"", info->target_db);
	rc = conn_exec_as(conn, SIDE_TARGET, sql, "create the target database");
	free(sql);
	if (rc == 0)
		rc = identity_read_server(conn, SIDE_TARGET, info->target_db, created);
	return rc;
}

int
targetdb_prepare(const char *target, const preflight_info *info, bool drop,
				 db_identity *created)
{
	PGconn	   *conn;
	int			rc = 0;

	memset(created, 0, sizeof(*created));
	if (info->target_exists && (info->target_empty || !drop))
		return 0;
	if ((conn = open_maintenance(target)) == NULL)
		return -1;
	if (info->target_exists)
	{
		rc = prove_drop(conn, info->target_db, &info->target_id, &info->source_id);
		if (rc == 0)
		{
			log_info("dropping target database \"%s\"", info->target_db);
			rc = conn_exec_ident(conn, SIDE_TARGET, "DROP DATABASE %s", info->target_db);
		}
	}
	if (rc == 0)
		rc = create_target(conn, info, created);
	PQfinish(conn);
	return rc;
}

int
targetdb_drop_created(const char *target, const db_identity *created,
					  const db_identity *source)
{
	PGconn	   *conn;
	int			rc;

	if (created->db_oid == 0)
		return 0;
	if ((conn = open_maintenance(target)) == NULL)
		return -1;
	rc = prove_drop(conn, created->dbname, created, source);
	if (rc == 0)
	{
		/* Sessions of this run may linger a moment after their PQfinish. */
		if (PQserverVersion(conn) >= 130000)
			rc = conn_exec_ident(conn, SIDE_TARGET, "DROP DATABASE IF EXISTS %s WITH (FORCE)",
								 created->dbname);
		else
			rc = conn_exec_ident(conn, SIDE_TARGET, "DROP DATABASE IF EXISTS %s",
								 created->dbname);
	}
	if (rc == 0)
		log_info("dropped target database \"%s\", which this run had created",
				 created->dbname);
	PQfinish(conn);
	return rc;
}

int
targetdb_end_leftovers(const char *target)
{
	const char *params[1] = {CONN_APPLICATION_NAME};
	PGconn	   *conn = conn_open(target, SIDE_TARGET);
	int			rc = -1;

	if (conn == NULL)
		return -1;
	for (int i = 0; i < 300; i++)
	{
		PGresult   *res = conn_query(conn, SIDE_TARGET, "end sessions of the interrupted clone",
									 "SELECT count(pg_catalog.pg_terminate_backend(pid))"
									 " FROM pg_catalog.pg_stat_activity"
									 " WHERE datname = current_database()"
									 " AND pid <> pg_catalog.pg_backend_pid()"
									 " AND application_name = $1", 1, params);
		bool		none;

		if (res == NULL)
			break;
		none = strcmp(PQgetvalue(res, 0, 0), "0") == 0;
		if (i == 0 && !none)
			log_info("ending %s session(s) an interrupted pgcrane left on the target",
					 PQgetvalue(res, 0, 0));
		PQclear(res);
		if (none)
		{
			rc = 0;
			break;
		}
		usleep(100 * 1000);
	}
	if (rc != 0)
		error("sessions of the interrupted clone are still running on the target");
	PQfinish(conn);
	return rc;
}

/* Indexes (i, ic) with their table (t, n) and key constraint (con), if any. */
#define INDEXES_WITH_KEYS \
" FROM pg_catalog.pg_index i" \
" JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid" \
" JOIN pg_catalog.pg_class t ON t.oid = i.indrelid" \
" JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace" \
" LEFT JOIN pg_catalog.pg_constraint con ON con.conindid = i.indexrelid" \
"   AND con.conrelid = t.oid AND con.contype IN ('p', 'u', 'x')"

static const char *const partitioned_indexes_sql =
"SELECT format(CASE WHEN con.oid IS NOT NULL"
"   THEN 'ALTER TABLE IF EXISTS %1$I.%2$I DROP CONSTRAINT IF EXISTS %3$I CASCADE'"
"   ELSE 'DROP INDEX IF EXISTS %1$I.%4$I CASCADE' END,"
"   n.nspname, t.relname, con.conname, ic.relname)"
INDEXES_WITH_KEYS
" WHERE t.relkind = 'p'"
" AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
" AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits ih"
"   WHERE ih.inhrelid = i.indexrelid)";

/*
 * Indexes of partitions attached to no partitioned index: those the
 * restore created before it was interrupted ahead of its ATTACH, and
 * those pgcrane built (not attached on the source either).  With the
 * name, to tell them apart, and the statement that drops one.
 */
static const char *const unattached_sql =
"SELECT n.nspname || '.' || ic.relname,"
" format(CASE WHEN con.oid IS NOT NULL"
"   THEN 'ALTER TABLE IF EXISTS %1$I.%2$I DROP CONSTRAINT IF EXISTS %3$I'"
"   ELSE 'DROP INDEX IF EXISTS %1$I.%4$I' END,"
"   n.nspname, t.relname, con.conname, ic.relname)"
INDEXES_WITH_KEYS
" WHERE t.relispartition"
" AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
" AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits ih"
"   WHERE ih.inhrelid = i.indexrelid)";

static bool
built_by_pgcrane(const catalog *cat, const char *display)
{
	for (int i = 0; i < cat->nindexes; i++)
		if (strcmp(cat->indexes[i].display, display) == 0)
			return true;
	return false;
}

/* Run the statements a query builds (column stmt_col), unless skipped. */
static int
run_built(PGconn *conn, const char *what, const char *sql, int stmt_col,
		  const catalog *cat)
{
	PGresult   *res = conn_query(conn, SIDE_TARGET, what, sql, 0, NULL);
	int			rc = res ? 0 : -1;

	/* The statements are built by the server with format(%I): quoted. */
	for (int i = 0; res && i < PQntuples(res) && rc == 0; i++)
		if (cat == NULL || !built_by_pgcrane(cat, PQgetvalue(res, i, 0)))
			rc = conn_exec(conn, SIDE_TARGET, PQgetvalue(res, i, stmt_col));
	PQclear(res);
	return rc;
}

int
targetdb_drop_partitioned_indexes(const char *target, const catalog *cat)
{
	PGconn	   *conn = conn_open(target, SIDE_TARGET);
	int			rc;

	if (conn == NULL)
		return -1;
	rc = run_built(conn, "list indexes of partitioned tables",
				   partitioned_indexes_sql, 0, NULL);
	if (rc == 0)
		rc = run_built(conn, "list unattached indexes of partitions",
					   unattached_sql, 1, cat);
	PQfinish(conn);
	return rc;
}

static const char *const foreign_keys_sql =
"SELECT format('ALTER TABLE IF EXISTS %I.%I DROP CONSTRAINT IF EXISTS %I',"
"   n.nspname, t.relname, con.conname)"
" FROM pg_catalog.pg_constraint con"
" JOIN pg_catalog.pg_class t ON t.oid = con.conrelid"
" JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace"
" WHERE con.contype = 'f' AND con.conparentid = 0"
" AND n.nspname NOT IN ('pg_catalog', 'information_schema')";

int
targetdb_drop_foreign_keys(const char *target)
{
	PGconn	   *conn = conn_open(target, SIDE_TARGET);
	int			rc;

	if (conn == NULL)
		return -1;
	rc = run_built(conn, "list foreign keys", foreign_keys_sql, 0, NULL);
	PQfinish(conn);
	return rc;
}
