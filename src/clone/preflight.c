/*
 * preflight.c
 *		Checks before a clone.
 *
 * Every check logs its own problem and counts it; the run goes on so the
 * user sees every problem at once.  A target database that does not exist
 * (or does not accept connections) is checked through the maintenance
 * database ("postgres") of the same server, where the clone will create
 * it.  The checks of the target server, of the roles and of the
 * connections are in preflight_target.c, preflight_roles.c and
 * preflight_conns.c.
 */
#include "clone/preflight.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/preflight.h"
#include "core/conn.h"
#include "clone/preflight_int.h"
#include "core/selres.h"
#include "util/json.h"
#include "util/log.h"
#include "util/str.h"

#define MIN_SERVER_NUM 120000

#define problem preflight_problem

void
preflight_problem(preflight_info *info, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	log_vmsg(LOG_ERROR, fmt, ap);
	va_end(ap);
	info->problems++;
}

char *
preflight_value(PGconn *conn, const char *side, const char *sql)
{
	PGresult   *res = conn_query(conn, side, "run a check", sql, 0, NULL);
	char	   *v = NULL;

	if (res == NULL)
		return NULL;
	if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
		v = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

static char *
value_or_null(const PGresult *res, int col)
{
	return PQgetisnull(res, 0, col) ? NULL : xstrdup(PQgetvalue(res, 0, col));
}

static int
read_source_db(PGconn *src, preflight_info *info)
{
	const char *sql = info->source_num >= 150000 ?
	"SELECT pg_catalog.pg_encoding_to_char(encoding), datcollate, datctype,"
	" datlocprovider::text, daticulocale, current_database()"
	" FROM pg_catalog.pg_database WHERE datname = current_database()" :
	"SELECT pg_catalog.pg_encoding_to_char(encoding), datcollate, datctype,"
	" NULL, NULL, current_database()"
	" FROM pg_catalog.pg_database WHERE datname = current_database()";
	PGresult   *res = conn_query(src, SIDE_SOURCE, "read database settings",
								 sql, 0, NULL);

	if (res == NULL)
		return -1;
	info->encoding = xstrdup(PQgetvalue(res, 0, 0));
	info->collate = xstrdup(PQgetvalue(res, 0, 1));
	info->ctype = xstrdup(PQgetvalue(res, 0, 2));
	info->locale_provider = value_or_null(res, 3);
	info->icu_locale = value_or_null(res, 4);
	PQclear(res);
	return 0;
}

/* Tables and sequences the source user cannot read (first ten). */
static void
check_read_access(PGconn *src, preflight_info *info)
{
	PGresult   *res = conn_query(src, SIDE_SOURCE, "check privileges",
								 "SELECT n.nspname || '.' || c.relname"
								 " FROM pg_catalog.pg_class c"
								 " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
								 " WHERE c.relkind IN ('r', 'p', 'S', 'm')"
								 " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
								 " AND n.nspname !~ '^pg_(toast|temp_)'"
								 " AND NOT pg_catalog.has_table_privilege(c.oid, 'SELECT')"
								 " ORDER BY 1 LIMIT 10", 0, NULL);

	if (res == NULL)
	{
		info->problems++;
		return;
	}
	for (int i = 0; i < PQntuples(res); i++)
		problem(info, "permission denied to read \"%s\" on the source server",
				PQgetvalue(res, i, 0));
	PQclear(res);
}

static void
check_versions(preflight_info *info)
{
	char		num[32];

	if (info->source_num > 0 && info->source_num < MIN_SERVER_NUM)
	{
		snprintf(num, sizeof(num), "%d", info->source_num);
		problem(info, "source server version %s is not supported (PostgreSQL 12 or later is)", num);
	}
	if (info->target_num > 0 && info->target_num < MIN_SERVER_NUM)
	{
		snprintf(num, sizeof(num), "%d", info->target_num);
		problem(info, "target server version %s is not supported (PostgreSQL 12 or later is)", num);
	}
	if (info->source_num > 0 && info->target_num > 0 &&
		info->target_num / 10000 < info->source_num / 10000)
		log_warning("the target server (%d) is older than the source (%d): objects may not restore",
					info->target_num / 10000, info->source_num / 10000);
	if (info->source_num > 0 &&
		pgtools_find(info->source_num / 10000, &info->tools) != 0)
	{
		snprintf(num, sizeof(num), "%d", info->source_num / 10000);
		problem(info, "no pg_dump of version %s or later found on PATH or in /usr/lib/postgresql/*/bin",
				num);
		log_hint("Install the PostgreSQL client package of that version.");
	}
}

static void
check_source(const preflight_options *o, preflight_info *info, PGconn **src)
{
	*src = conn_open(o->source, SIDE_SOURCE);
	if (*src == NULL)
	{
		info->problems++;
		info->unreachable = true;
		return;
	}
	info->source_num = PQserverVersion(*src);
	info->source_db = xstrdup(PQdb(*src));
	if (read_source_db(*src, info) != 0)
		info->problems++;
	check_read_access(*src, info);
}

static const char *const empty_sql =
"SELECT (SELECT count(*) FROM pg_catalog.pg_class c"
"  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
"  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')"
"  AND n.nspname !~ '^pg_(toast|temp_)')"
" + (SELECT count(*) FROM pg_catalog.pg_namespace"
"  WHERE nspname NOT IN ('information_schema', 'public') AND nspname !~ '^pg_')"
" + (SELECT count(*) FROM pg_catalog.pg_extension WHERE extname <> 'plpgsql')"
" + (SELECT count(*) FROM pg_catalog.pg_proc p"
"  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace"
"  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema'))"
" + (SELECT count(*) FROM pg_catalog.pg_type t"
"  JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace"
"  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')"
"  AND t.typtype IN ('d', 'e', 'r', 'b', 'm'))"
" + (SELECT count(*) FROM pg_catalog.pg_largeobject_metadata),"
" pg_catalog.pg_encoding_to_char(d.encoding)"
" FROM pg_catalog.pg_database d WHERE d.datname = current_database()";

static void
check_target_contents(PGconn *tgt, const preflight_options *o,
					  preflight_info *info)
{
	PGresult   *res = conn_query(tgt, SIDE_TARGET, "check target contents",
								 empty_sql, 0, NULL);

	if (res == NULL)
	{
		info->problems++;
		return;
	}
	info->target_empty = strcmp(PQgetvalue(res, 0, 0), "0") == 0;
	if (!info->target_empty && !o->drop_if_exists)
	{
		problem(info, "target database \"%s\" is not empty", info->target_db);
		log_hint("Use --drop-if-exists to drop and recreate it, or choose another database.");
	}
	else if (info->target_empty && info->encoding &&
			 strcmp(PQgetvalue(res, 0, 1), info->encoding) != 0 &&
			 !o->drop_if_exists)
		problem(info, "target database \"%s\" has encoding %s, the source has another",
				info->target_db, PQgetvalue(res, 0, 1));
	PQclear(res);
}

/*
 * The target database could not be connected to for a reason other than
 * its absence: look at it through the maintenance database.  A template
 * or a database that takes no connections is a problem to report (exit
 * 1), anything else (password, pg_hba.conf, a server down) an error.
 */
static PGconn *
open_target_maint(preflight_ctx *c, const char *msg)
{
	char	   *maint = conn_with_dbname(c->o->target, "postgres");
	PGconn	   *tgt = maint ? conn_try_open(maint, NULL, NULL, 0) : NULL;
	const char *params[1] = {c->info->target_db};
	PGresult   *res = NULL;

	free(maint);
	if (tgt && c->info->target_db)
		res = conn_query(tgt, SIDE_TARGET, "look up the target database",
						 "SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1"
						 " AND (datistemplate OR NOT datallowconn)", 1, params);
	if (res == NULL || PQntuples(res) == 0)
	{
		PQclear(res);
		if (tgt)
			PQfinish(tgt);
		error("could not connect to target server: %s", msg);
		return NULL;
	}
	PQclear(res);
	c->info->target_exists = true;
	c->tgt_maint = true;
	return tgt;
}

static PGconn *
open_target(preflight_ctx *c)
{
	char		sqlstate[6];
	char		msg[1024];
	PGconn	   *tgt = conn_try_open(c->o->target, sqlstate, msg, sizeof(msg));
	char	   *maint;

	c->info->target_db = conn_dbname(c->o->target);
	if (tgt != NULL)
	{
		c->info->target_exists = true;
		return tgt;
	}
	if (strcmp(sqlstate, "3D000") != 0)
		return open_target_maint(c, msg);
	/* No such database: look at the server through its maintenance one. */
	maint = conn_with_dbname(c->o->target, "postgres");
	tgt = maint ? conn_open(maint, SIDE_TARGET) : NULL;
	free(maint);
	c->tgt_maint = true;
	return tgt;
}

static void
check_extensions(PGconn *src, PGconn *tgt, preflight_info *info)
{
	PGresult   *have = conn_query(src, SIDE_SOURCE, "list extensions",
								  "SELECT extname FROM pg_catalog.pg_extension ORDER BY 1",
								  0, NULL);
	PGresult   *avail = conn_query(tgt, SIDE_TARGET, "list available extensions",
								   "SELECT name FROM pg_catalog.pg_available_extensions",
								   0, NULL);

	if (have == NULL || avail == NULL)
		info->problems++;
	for (int i = 0; have && avail && i < PQntuples(have); i++)
	{
		const char *name = PQgetvalue(have, i, 0);
		bool		found = false;

		for (int j = 0; j < PQntuples(avail) && !found; j++)
			found = strcmp(name, PQgetvalue(avail, j, 0)) == 0;
		if (!found)
			problem(info, "extension \"%s\" is not available on the target server",
					name);
	}
	PQclear(have);
	PQclear(avail);
}

/*
 * The target's TOAST compression: its default, whether it has lz4, and
 * whether it can write what --toast-compression asks for.
 */
static void
check_toast_compression(PGconn *tgt, const preflight_options *o,
						preflight_info *info)
{
	PGresult   *res = conn_query(tgt, SIDE_TARGET, "read default_toast_compression",
								 "SELECT setting, 'lz4' = ANY (enumvals)"
								 " FROM pg_catalog.pg_settings"
								 " WHERE name = 'default_toast_compression'",
								 0, NULL);

	if (res == NULL)
	{
		info->problems++;
		return;
	}
	if (PQntuples(res) == 1)
	{
		info->toast_default = xstrdup(PQgetvalue(res, 0, 0));
		info->toast_lz4 = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	}
	PQclear(res);
	if (o->toast_compression && strcmp(o->toast_compression, "lz4") == 0 &&
		!info->toast_lz4)
		problem(info, "target server cannot compress TOAST values with lz4 "
				"(needs PostgreSQL 14 or later built with lz4)");
}

/*
 * The target's wal_buffers, for the hint after a clone (clone.c): a
 * setting the role may not read leaves it unknown, not a problem.
 */
static void
read_wal_buffers(PGconn *tgt, preflight_info *info)
{
	PGresult   *res = PQexec(tgt, "SELECT setting::bigint * pg_catalog.pg_size_bytes(unit)"
							 " FROM pg_catalog.pg_settings WHERE name = 'wal_buffers'");

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
		!PQgetisnull(res, 0, 0))
		info->wal_buffers = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
}

/*
 * Source and target must be two databases, whatever the spelling of the
 * connection strings: proved by server identity (identity.h).
 */
static void
check_identity(PGconn *src, PGconn *tgt, preflight_info *info)
{
	char		buf[512];
	int			rc = identity_read(src, SIDE_SOURCE, &info->source_id);

	if (rc == 0)
		rc = info->target_exists ?
			identity_read(tgt, SIDE_TARGET, &info->target_id) :
			identity_read_server(tgt, SIDE_TARGET, info->target_db, &info->target_id);
	if (rc != 0)
	{
		info->problems++;
		return;
	}
	if (identity_same_database(&info->source_id, &info->target_id))
	{
		info->same_database = true;
		problem(info, "the source and the target are the same database");
		log_detail("Both connections reach %s.",
				   identity_describe(&info->source_id, buf, sizeof(buf)));
		log_hint("Give a target database on another server, or another database name.");
	}
}

/* clone --follow: replication on the source, apply rights on the target. */
static void
check_follow(preflight_ctx *c)
{
	bool		ok = true;
	bool		table = false;
	selres		rules = SELRES_INIT;
	bool		with_rules = c->o->sel && !sel_is_empty(c->o->sel);

	if (c->src && with_rules && selres_read(c->src, c->o->sel, &rules) != 0)
		c->info->problems++;
	else if (c->src && (cdc_preflight(c->src, c->o->replica_identity_full,
									  with_rules ? &rules : NULL, &ok) != 0 || !ok))
		c->info->problems++;
	selres_release(&rules);
	ok = true;
	if (c->tgt && (cdc_preflight_target(c->tgt, c->info->target_exists && !c->recreate,
										&ok, &table) != 0 || !ok))
		c->info->problems++;
	c->info->progress_table = table;
}

static void
read_target_role(preflight_ctx *c)
{
	char	   *v = preflight_value(c->tgt, SIDE_TARGET,
									"SELECT rolsuper FROM pg_catalog.pg_roles"
									" WHERE rolname = current_user");

	c->tgt_super = v && v[0] == 't';
	free(v);
}

/* The target database and what the clone will do to it. */
static void
check_target(preflight_ctx *c)
{
	const preflight_options *o = c->o;
	preflight_info *info = c->info;

	info->target_num = PQserverVersion(c->tgt);
	read_target_role(c);
	/* One database as both sides: nothing else about the target matters. */
	if (c->src)
		check_identity(c->src, c->tgt, info);
	c->refused = c->refused || info->same_database;
	if (info->target_exists && !c->refused)
		preflight_target_usable(c);
	if (!c->refused)
	{
		if (info->target_exists && !o->resume)
			check_target_contents(c->tgt, o, info);
		c->recreate = !info->target_exists ||
			(o->drop_if_exists && !info->target_empty && !o->resume);
		preflight_target_writable(c);
		if (c->recreate)
			preflight_target_can_create(c);
		if (c->recreate && info->target_exists)
			preflight_target_droppable(c);
		if (c->src && !c->recreate && !o->resume)
			preflight_target_create_rights(c);
		if (c->src)
			preflight_target_superuser_objects(c);
	}
	check_toast_compression(c->tgt, o, info);
	read_wal_buffers(c->tgt, info);
}

int
preflight_run(const preflight_options *o, preflight_info *info)
{
	preflight_ctx c;
	const char *unpassable;

	memset(info, 0, sizeof(*info));
	memset(&c, 0, sizeof(c));
	c.o = o;
	c.info = info;
	/* pg_dump and pg_restore get no secret on their command line. */
	if ((unpassable = conn_child_unpassable(o->source)) != NULL ||
		(unpassable = conn_child_unpassable(o->target)) != NULL)
	{
		problem(info, "connection option \"%s\" cannot be passed to pg_dump safely",
				unpassable);
		log_hint("Use a client key without a pass phrase, readable only by its owner.");
	}
	check_source(o, info, &c.src);
	c.tgt = open_target(&c);
	if (c.tgt == NULL)
	{
		info->problems++;
		info->unreachable = true;
	}
	else
		check_target(&c);
	check_versions(info);
	if (c.src && c.tgt)
	{
		check_extensions(c.src, c.tgt, info);
		preflight_source_rls(&c);
		if (!c.refused)
		{
			preflight_roles(&c);
			preflight_tablespaces(&c);
			preflight_database(&c);
			preflight_connections(&c);
			preflight_selection(&c);
		}
	}
	if (o->follow)
		check_follow(&c);
	if (c.src)
		PQfinish(c.src);
	if (c.tgt)
		PQfinish(c.tgt);
	return info->problems == 0 ? 0 : -1;
}

void
preflight_info_release(preflight_info *info)
{
	free(info->source_db);
	free(info->target_db);
	free(info->encoding);
	free(info->collate);
	free(info->ctype);
	free(info->locale_provider);
	free(info->icu_locale);
	free(info->toast_default);
	free(info->roles_needed);
	memset(info, 0, sizeof(*info));
}

static void
version_text(int num, char *buf, size_t size)
{
	if (num <= 0)
		str_copy(buf, "unknown", size);
	else
		snprintf(buf, size, "%d.%d", num / 10000, num % 10000);
}

void
preflight_print(const preflight_info *info, bool json)
{
	char		sv[32],
				tv[32];

	version_text(info->source_num, sv, sizeof(sv));
	version_text(info->target_num, tv, sizeof(tv));
	if (json)
	{
		strbuf		sb = STRBUF_INIT;

		strbuf_addf(&sb, "{\"command\":\"preflight\",\"ok\":%s,\"problems\":%d,"
					"\"source_version\":\"%s\",\"target_version\":\"%s\","
					"\"target_database\":", info->problems ? "false" : "true",
					info->problems, sv, tv);
		json_add_string(&sb, info->target_db ? info->target_db : "");
		strbuf_addf(&sb, ",\"target_exists\":%s,\"target_toast_compression\":",
					info->target_exists ? "true" : "false");
		if (info->toast_default)
			json_add_string(&sb, info->toast_default);
		else
			strbuf_adds(&sb, "null");
		strbuf_addf(&sb, ",\"target_lz4\":%s,\"target_wal_buffers\":%lld,\"pg_dump\":",
					info->toast_lz4 ? "true" : "false", (long long) info->wal_buffers);
		json_add_string(&sb, info->tools.pg_dump);
		strbuf_adds(&sb, "}\n");
		fputs(strbuf_str(&sb), stdout);
		strbuf_release(&sb);
		return;
	}
	log_info("source server %s, database \"%s\"", sv,
			 info->source_db ? info->source_db : "?");
	log_info("target server %s, database \"%s\" (%s)", tv,
			 info->target_db ? info->target_db : "?",
			 info->target_exists ? "exists" : "will be created");
	if (info->tools.major)
		log_info("using %s (%s)", info->tools.pg_dump, info->tools.version);
}
