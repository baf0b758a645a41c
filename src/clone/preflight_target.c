/*
 * preflight_target.c
 *		What the target server lets the clone write.
 *
 * The clone creates the target database from the maintenance database
 * ("postgres"), or drops and recreates it with --drop-if-exists, then
 * restores the schema into it as the target role.  Each check here finds
 * a reason one of those steps would fail after something was created.
 *
 * default_transaction_read_only can come from postgresql.conf, from the
 * connection options, or from pg_db_role_setting (ALTER DATABASE, ALTER
 * ROLE, ALTER ROLE ... IN DATABASE); for the database preflight is
 * connected to the session shows the result, for the others the settings
 * are read from pg_db_role_setting in the server's order of precedence.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/conn.h"
#include "clone/preflight_int.h"
#include "util/log.h"
#include "util/str.h"

#define problem preflight_problem

/* The most objects needing a superuser that are named. */
#define MAX_LISTED 10

static const char *const session_sql =
"SELECT pg_catalog.pg_is_in_recovery(),"
" pg_catalog.current_setting('transaction_read_only'), s.setting, s.source"
" FROM pg_catalog.pg_settings s WHERE s.name = 'default_transaction_read_only'";

/* The winning pg_db_role_setting entry for the current role in $1 (or none). */
static const char *const stored_sql =
"SELECT s.v, CASE s.prio WHEN 1 THEN 'database user' WHEN 2 THEN 'user'"
" WHEN 3 THEN 'database' ELSE 'global' END FROM ("
" SELECT pg_catalog.substr(c, pg_catalog.strpos(c, '=') + 1) AS v,"
"  CASE WHEN d.setrole <> 0 AND d.setdatabase <> 0 THEN 1"
"   WHEN d.setrole <> 0 THEN 2 WHEN d.setdatabase <> 0 THEN 3 ELSE 4 END AS prio"
" FROM pg_catalog.pg_db_role_setting d, pg_catalog.unnest(d.setconfig) c"
" WHERE pg_catalog.split_part(c, '=', 1) = 'default_transaction_read_only'"
" AND d.setrole IN (0, (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user))"
" AND d.setdatabase IN (0, COALESCE((SELECT oid FROM pg_catalog.pg_database"
"  WHERE datname = $1), 0))) s ORDER BY s.prio LIMIT 1";

/* A boolean setting's text as the server reads it. */
static bool
guc_on(const char *v)
{
	static const char *const yes[] = {"on", "true", "yes", "1", "t", "tr", "tru", "y", "ye"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (strcasecmp(v, yes[i]) == 0)
			return true;
	return false;
}

/* Where a setting with pg_settings source "source" was set, for a detail. */
static const char *
source_text(const char *source)
{
	if (strcmp(source, "database") == 0)
		return "for the database (ALTER DATABASE ... SET)";
	if (strcmp(source, "user") == 0)
		return "for the target role (ALTER ROLE ... SET)";
	if (strcmp(source, "database user") == 0)
		return "for the target role in the database (ALTER ROLE ... IN DATABASE ... SET)";
	if (strcmp(source, "global") == 0)
		return "for all roles (ALTER ROLE ALL SET)";
	if (strcmp(source, "client") == 0)
		return "in the connection options";
	return "in the server configuration";
}

static bool
source_is_stored(const char *source)
{
	return strcmp(source, "database") == 0 || strcmp(source, "user") == 0 ||
		strcmp(source, "database user") == 0 || strcmp(source, "global") == 0;
}

/*
 * Whether default_transaction_read_only is on for the target role in
 * database dbname (NULL: a database not created yet), given the session's
 * value and source; *where says where it was set.  -1 on a failed query.
 */
static int
read_only_in(PGconn *tgt, const char *dbname, const char *value,
			 const char *source, const char **where)
{
	const char *params[1] = {dbname};
	PGresult   *res;
	int			on;

	*where = source_text(source);
	/* Connection options apply to every session the clone opens. */
	if (strcmp(source, "client") == 0)
		return guc_on(value);
	res = conn_query(tgt, SIDE_TARGET, "read database and role settings",
					 stored_sql, 1, params);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1)
	{
		on = guc_on(PQgetvalue(res, 0, 0));
		*where = source_text(PQgetvalue(res, 0, 1));
	}
	else
		on = source_is_stored(source) ? false : guc_on(value);
	PQclear(res);
	return on;
}

/* The clone creates the database: from "postgres", then writes into it. */
static void
check_new_database(preflight_ctx *c, const char *value, const char *source)
{
	const char *where;
	int			maint = c->tgt_maint ? guc_on(value) :
		read_only_in(c->tgt, "postgres", value, source, &where);
	int			fresh;

	if (c->tgt_maint)
		where = source_text(source);
	if (maint < 0)
	{
		c->info->problems++;
		return;
	}
	if (maint)
	{
		problem(c->info, "target database \"%s\" cannot be created: default_transaction_read_only is on in database \"postgres\"",
				c->info->target_db);
		log_detail("It is set %s.", where);
		log_hint("Set default_transaction_read_only to off where it is set.");
		return;
	}
	fresh = read_only_in(c->tgt, NULL, value, source, &where);
	if (fresh < 0)
		c->info->problems++;
	else if (fresh)
	{
		problem(c->info, "target database \"%s\" would be created read-only: default_transaction_read_only is on",
				c->info->target_db);
		log_detail("It is set %s.", where);
		log_hint("Set default_transaction_read_only to off where it is set.");
	}
}

void
preflight_target_writable(preflight_ctx *c)
{
	PGresult   *res = conn_query(c->tgt, SIDE_TARGET, "check that the server accepts writes",
								 session_sql, 0, NULL);

	if (res == NULL)
	{
		c->info->problems++;
		return;
	}
	if (PQgetvalue(res, 0, 0)[0] == 't')
	{
		problem(c->info, "target server is a hot standby (in recovery): nothing can be written to it");
		log_hint("Use the primary server as the target.");
	}
	else if (c->recreate)
		check_new_database(c, PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3));
	else if (PQgetvalue(res, 0, 1)[0] == 'o' && PQgetvalue(res, 0, 1)[1] == 'n')
	{
		problem(c->info, "target database \"%s\" is read-only: default_transaction_read_only is on",
				c->info->target_db);
		log_detail("It is set %s.", source_text(PQgetvalue(res, 0, 3)));
		log_hint("Set default_transaction_read_only to off where it is set.");
	}
	PQclear(res);
}

void
preflight_target_usable(preflight_ctx *c)
{
	const char *params[1] = {c->info->target_db};
	PGresult   *res = conn_query(c->tgt, SIDE_TARGET, "look up the target database",
								 "SELECT datistemplate, datallowconn FROM pg_catalog.pg_database"
								 " WHERE datname = $1", 1, params);

	if (res == NULL)
	{
		c->info->problems++;
		c->refused = true;
		return;
	}
	if (PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't')
	{
		problem(c->info, "target database \"%s\" is a template database", c->info->target_db);
		log_hint("Choose another target database: a clone never writes into a template.");
		c->refused = true;
	}
	else if (PQntuples(res) == 1 && PQgetvalue(res, 0, 1)[0] != 't')
	{
		problem(c->info, "target database \"%s\" does not accept connections", c->info->target_db);
		log_hint("Choose another target database, or run ALTER DATABASE ... ALLOW_CONNECTIONS true.");
		c->refused = true;
	}
	PQclear(res);
}

void
preflight_target_can_create(preflight_ctx *c)
{
	PGresult   *res = conn_query(c->tgt, SIDE_TARGET, "check privileges",
								 "SELECT rolcreatedb OR rolsuper FROM pg_catalog.pg_roles"
								 " WHERE rolname = current_user", 0, NULL);

	if (res == NULL)
	{
		c->info->problems++;
		return;
	}
	if (PQgetvalue(res, 0, 0)[0] != 't' && c->info->target_exists)
	{
		problem(c->info, "target database \"%s\" cannot be recreated: the target role may not create databases",
				c->info->target_db);
		log_hint("Grant CREATEDB to the target role, or empty the database and clone without --drop-if-exists.");
	}
	else if (PQgetvalue(res, 0, 0)[0] != 't')
	{
		problem(c->info, "target database \"%s\" does not exist and the target role may not create databases",
				c->info->target_db);
		log_hint("Create the database on the target first (owned by the target role), or grant CREATEDB.");
	}
	PQclear(res);
}

static const char *const drop_sql =
"SELECT r.rolsuper OR pg_catalog.pg_has_role(d.datdba, 'USAGE'),"
" pg_catalog.pg_get_userbyid(d.datdba),"
" (SELECT count(*) FROM pg_catalog.pg_stat_activity a WHERE a.datid = d.oid"
"  AND a.pid <> pg_catalog.pg_backend_pid()"
"  AND a.backend_type IN ('client backend', 'walsender'))"
" FROM pg_catalog.pg_database d, pg_catalog.pg_roles r"
" WHERE d.datname = $1 AND r.rolname = current_user";

/* The clone drops and creates the database from "postgres": can it connect? */
static void
check_maint_reachable(preflight_ctx *c)
{
	char	   *maint = conn_with_dbname(c->o->target, "postgres");
	char		msg[1024] = "";
	PGconn	   *conn = maint ? conn_try_open(maint, NULL, msg, sizeof(msg)) : NULL;

	free(maint);
	if (conn)
	{
		PQfinish(conn);
		return;
	}
	problem(c->info, "target database \"%s\" cannot be dropped: the maintenance database \"postgres\" cannot be connected to",
			c->info->target_db);
	log_detail("%s", msg);
}

void
preflight_target_droppable(preflight_ctx *c)
{
	const char *db = c->info->target_db;
	const char *params[1] = {db};
	PGresult   *res;

	if (strcmp(db, "postgres") == 0)
	{
		problem(c->info, "target database \"postgres\" cannot be dropped: the clone creates the target database from it");
		log_hint("Clone into another database.");
		return;
	}
	check_maint_reachable(c);
	res = conn_query(c->tgt, SIDE_TARGET, "check the right to drop the target database",
					 drop_sql, 1, params);
	if (res == NULL || PQntuples(res) != 1)
	{
		PQclear(res);
		c->info->problems++;
		return;
	}
	if (PQgetvalue(res, 0, 0)[0] != 't')
	{
		problem(c->info, "target database \"%s\" cannot be dropped: the target role is neither its owner (\"%s\") nor a superuser",
				db, PQgetvalue(res, 0, 1));
		log_hint("Connect to the target as the owner of the database or a superuser, or empty it and clone without --drop-if-exists.");
	}
	if (strcmp(PQgetvalue(res, 0, 2), "0") != 0)
	{
		problem(c->info, "target database \"%s\" cannot be dropped: %s other session(s) are connected to it",
				db, PQgetvalue(res, 0, 2));
		log_hint("End those sessions first (pg_terminate_backend).");
	}
	PQclear(res);
}

/* What the restore creates: other schemas or extensions, objects in public. */
static const char *const source_needs_sql =
"SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE oid >= 16384"
"  AND nspname !~ '^pg_' AND nspname <> 'public')"
" OR EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname <> 'plpgsql')"
" OR EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname !~ '^pgcrane_'),"
" EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n"
"  ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relpersistence <> 't')"
" OR EXISTS (SELECT 1 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n"
"  ON n.oid = p.pronamespace WHERE n.nspname = 'public')"
" OR EXISTS (SELECT 1 FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n"
"  ON n.oid = t.typnamespace WHERE n.nspname = 'public')";

static const char *const target_rights_sql =
"SELECT pg_catalog.has_database_privilege(current_database(), 'CREATE'),"
" n.oid IS NOT NULL,"
" n.oid IS NOT NULL AND pg_catalog.has_schema_privilege(n.oid, 'CREATE')"
"  AND pg_catalog.has_schema_privilege(n.oid, 'USAGE')"
" FROM (SELECT 1) x LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = 'public'";

void
preflight_target_create_rights(preflight_ctx *c)
{
	const char *db = c->info->target_db;
	PGresult   *need = conn_query(c->src, SIDE_SOURCE, "list what the restore creates",
									source_needs_sql, 0, NULL);
	PGresult   *have = need ? conn_query(c->tgt, SIDE_TARGET, "check privileges",
										 target_rights_sql, 0, NULL) : NULL;

	if (need == NULL || have == NULL)
		c->info->problems++;
	else
	{
		if (PQgetvalue(need, 0, 0)[0] == 't' && PQgetvalue(have, 0, 0)[0] != 't')
		{
			problem(c->info, "the target role lacks CREATE on target database \"%s\": the restore creates schemas and extensions there",
					db);
			log_hint("Run GRANT CREATE ON DATABASE on the target, or let the clone create the database.");
		}
		if (PQgetvalue(need, 0, 1)[0] == 't' && PQgetvalue(have, 0, 1)[0] != 't')
		{
			problem(c->info, "schema \"public\" does not exist in target database \"%s\": the restore creates objects in it",
					db);
			log_hint("Run CREATE SCHEMA public on the target, or let the clone create the database.");
		}
		else if (PQgetvalue(need, 0, 1)[0] == 't' && PQgetvalue(have, 0, 2)[0] != 't')
		{
			problem(c->info, "the target role lacks CREATE or USAGE on schema \"public\" of target database \"%s\": the restore creates objects in it",
					db);
			log_hint("Run GRANT CREATE, USAGE ON SCHEMA public on the target, or let the clone create the database.");
		}
	}
	PQclear(need);
	PQclear(have);
}

/* Source objects whose creation needs a superuser: kind, name, note. */
static const char *const superuser_sql =
"SELECT kind, name, note FROM ("
" SELECT 'event trigger' AS kind, evtname::text AS name, '' AS note, oid"
"  FROM pg_catalog.pg_event_trigger"
" UNION ALL SELECT 'foreign-data wrapper', fdwname::text, '', oid"
"  FROM pg_catalog.pg_foreign_data_wrapper"
" UNION ALL SELECT 'function', n.nspname || '.' || p.proname || '('"
"  || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')',"
"  ' in untrusted language \"' || l.lanname || '\"', p.oid"
"  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang"
"  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace"
"  WHERE NOT l.lanpltrusted AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'"
" UNION ALL SELECT 'publication', pubname::text, ' FOR ALL TABLES', oid"
"  FROM pg_catalog.pg_publication WHERE puballtables AND pubname !~ '^pgcrane_'"
" UNION ALL SELECT 'extension', extname::text, '', oid FROM pg_catalog.pg_extension"
"  WHERE extname = ANY ($1::text[])"
") o WHERE o.oid >= 16384 AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d"
"  WHERE d.objid = o.oid AND d.deptype = 'e')"
" ORDER BY 1, 2";

/* As a text[] literal: the extensions only a superuser may create. */
static char *
untrusted_extensions(PGconn *tgt)
{
	const char *sql = PQserverVersion(tgt) >= 130000 ?
	"SELECT pg_catalog.array_agg(e.name)::text FROM pg_catalog.pg_available_extensions e"
	" JOIN pg_catalog.pg_available_extension_versions v"
	" ON v.name = e.name AND v.version = e.default_version"
	" WHERE v.superuser AND NOT v.trusted" :
	"SELECT pg_catalog.array_agg(e.name)::text FROM pg_catalog.pg_available_extensions e"
	" JOIN pg_catalog.pg_available_extension_versions v"
	" ON v.name = e.name AND v.version = e.default_version WHERE v.superuser";
	char	   *v = preflight_value(tgt, SIDE_TARGET, sql);

	return v ? v : xstrdup("{}");
}

void
preflight_target_superuser_objects(preflight_ctx *c)
{
	char	   *exts;
	const char *params[1];
	PGresult   *res;
	int			n;

	if (c->tgt_super)
		return;
	exts = untrusted_extensions(c->tgt);
	params[0] = exts;
	res = conn_query(c->src, SIDE_SOURCE, "list objects only a superuser can create",
					 superuser_sql, 1, params);
	free(exts);
	if (res == NULL)
	{
		c->info->problems++;
		return;
	}
	n = PQntuples(res);
	for (int i = 0; i < n && i < MAX_LISTED; i++)
		problem(c->info, "%s \"%s\"%s can only be created by a superuser on the target server",
				PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
	if (n > MAX_LISTED)
		log_detail("%d more objects need a superuser.", n - MAX_LISTED);
	if (n > 0)
		log_hint("Connect to the target as a superuser.");
	PQclear(res);
}

/* For each tablespace of $1: whether it exists; whether we may use it. */
static const char *const target_tablespaces_sql =
"SELECT x.n, t.oid IS NOT NULL, t.spcname = 'pg_default'"
" OR pg_catalog.has_tablespace_privilege(t.oid, 'CREATE')"
" FROM pg_catalog.unnest($1::text[]) WITH ORDINALITY x(n, i)"
" LEFT JOIN pg_catalog.pg_tablespace t ON t.spcname = x.n ORDER BY x.i";

static void
report_tablespace(preflight_ctx *c, const char *src, const PGresult *res, int i)
{
	const char *dst = PQgetvalue(res, i, 0);
	bool		mapped = strcmp(src, dst) != 0;

	if (PQgetvalue(res, i, 1)[0] != 't' && mapped)
		problem(c->info, "tablespace \"%s\", to which --tablespace-map maps \"%s\", does not exist on the target server",
				dst, src);
	else if (PQgetvalue(res, i, 1)[0] != 't')
		problem(c->info, "tablespace \"%s\" is used on the source but does not exist on the target server",
				src);
	else if (!c->tgt_super && PQgetvalue(res, i, 2)[0] != 't')
		problem(c->info, "the target role may not create objects in tablespace \"%s\"", dst);
	else
		return;
	if (PQgetvalue(res, i, 1)[0] != 't')
		log_hint("Create it on the target, map it with --tablespace-map %s=TARGET_TABLESPACE, or use --no-tablespaces to put the objects in the default tablespace.",
				 src);
	else
		log_hint("GRANT CREATE ON TABLESPACE to the target role, or use --tablespace-map or --no-tablespaces.");
}

void
preflight_tablespaces(preflight_ctx *c)
{
	char	  **used;
	const char **dst;
	const char *params[1];
	PGresult   *res;
	int			n = 0;

	if (c->o->no_tablespaces)
		return;
	if ((used = tablespace_used(c->src)) == NULL)
	{
		c->info->problems++;
		return;
	}
	while (used[n])
		n++;
	dst = xcalloc((size_t) n + 1, sizeof(char *));
	for (int i = 0; i < n; i++)
		dst[i] = tablespace_map_lookup(c->o->tablespace_map, used[i]);
	params[0] = str_text_array(dst, n);
	res = n > 0 ? conn_query(c->tgt, SIDE_TARGET, "look up tablespaces",
							 target_tablespaces_sql, 1, params) : NULL;
	if (n > 0 && res == NULL)
		c->info->problems++;
	for (int i = 0; res && i < PQntuples(res) && i < n; i++)
		report_tablespace(c, used[i], res, i);
	PQclear(res);
	free((char *) params[0]);
	free(dst);
	tablespace_free_names(used);
}
