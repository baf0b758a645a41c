/*
 * preflight_database.c
 *		Whether the target role can give the target database the source
 *		database's own properties.
 *
 * At the end of a clone the target database gets what pg_restore
 * --create would give it (dbprops.h): the owner (unless --no-owner), the
 * privileges (unless --no-acl), the comment, the connection limit, the
 * settings of ALTER DATABASE ... SET and of ALTER ROLE ... IN DATABASE
 * ... SET.  Each can fail for want of a role or a right; this check finds
 * that before anything is created.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/conn.h"
#include "clone/preflight_int.h"
#include "clone/roles.h"
#include "util/log.h"
#include "util/str.h"

#define problem preflight_problem

/*
 * The source database: owner, roles of its privileges (besides the
 * owner), roles with settings in it, names of its own settings, and
 * whether it has any property the owner alone may set.
 */
static const char *const source_sql =
"SELECT ARRAY[pg_catalog.pg_get_userbyid(d.datdba)]::text,"
" ARRAY(SELECT DISTINCT r.rolname FROM pg_catalog.aclexplode(d.datacl) a"
"  JOIN pg_catalog.pg_roles r ON r.oid IN (a.grantee, a.grantor)"
"  WHERE r.oid <> d.datdba ORDER BY 1)::text,"
" ARRAY(SELECT r.rolname FROM pg_catalog.pg_db_role_setting s"
"  JOIN pg_catalog.pg_roles r ON r.oid = s.setrole"
"  WHERE s.setdatabase = d.oid ORDER BY 1)::text,"
" ARRAY(SELECT pg_catalog.split_part(c, '=', 1) FROM pg_catalog.pg_db_role_setting s,"
"  pg_catalog.unnest(s.setconfig) c WHERE s.setdatabase = d.oid AND s.setrole = 0"
"  ORDER BY 1)::text,"
" d.datconnlimit <> -1 OR d.datacl IS NOT NULL"
"  OR pg_catalog.shobj_description(d.oid, 'pg_database') IS NOT NULL"
"  OR EXISTS (SELECT 1 FROM pg_catalog.pg_db_role_setting s"
"   WHERE s.setdatabase = d.oid AND s.setrole = 0)"
" FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()";

/* Roles of $1 (text[]): name, exists, usable by the target role ($2). */
static const char *const roles_sql =
"SELECT x.n, r.oid IS NOT NULL,"
" CASE WHEN r.oid IS NOT NULL THEN pg_catalog.pg_has_role(r.oid, $2) END,"
/* may the target role set this role's settings (ALTER ROLE ... SET)? */
" r.rolname = current_user OR (NOT r.rolsuper"
"  AND (SELECT rolcreaterole FROM pg_catalog.pg_roles WHERE rolname = current_user)"
"  AND (pg_catalog.current_setting('server_version_num')::int < 160000"
"   OR pg_catalog.pg_has_role(r.oid, 'MEMBER WITH ADMIN OPTION')))"
" FROM pg_catalog.unnest($1::text[]) WITH ORDINALITY x(n, i)"
" LEFT JOIN pg_catalog.pg_roles r ON r.rolname = x.n ORDER BY x.i";

/*
 * Parameters of $1 (text[]) the target role may not set for a database:
 * unknown ones (not custom), and those only a superuser may set ($2: the
 * target role is one), unless granted (GRANT SET ON PARAMETER, 15 on).
 */
#define PARAMS_SQL(granted) \
"SELECT x.n, s.name IS NOT NULL FROM pg_catalog.unnest($1::text[]) x(n)" \
" LEFT JOIN pg_catalog.pg_settings s ON s.name = pg_catalog.lower(x.n)" \
" WHERE (s.name IS NULL AND pg_catalog.strpos(x.n, '.') = 0)" \
" OR (s.context = 'superuser' AND NOT $2::bool" granted ")" \
" ORDER BY 1"

static const char *const params_sql = PARAMS_SQL("");
static const char *const params_sql_15 =
PARAMS_SQL(" AND NOT pg_catalog.has_parameter_privilege(s.name, 'SET')");

typedef struct db_needs
{
	char	   *owner;			/* text[] literals */
	char	   *acl_roles;
	char	   *setting_roles;
	char	   *settings;
	bool		owned_props;	/* a property only its owner may set */
} db_needs;

static void
db_needs_release(db_needs *n)
{
	free(n->owner);
	free(n->acl_roles);
	free(n->setting_roles);
	free(n->settings);
}

static int
read_needs(preflight_ctx *c, db_needs *n)
{
	PGresult   *res = conn_query(c->src, SIDE_SOURCE, "read the source database's properties",
								 source_sql, 0, NULL);

	memset(n, 0, sizeof(*n));
	if (res == NULL || PQntuples(res) != 1)
	{
		PQclear(res);
		return -1;
	}
	n->owner = xstrdup(PQgetvalue(res, 0, 0));
	n->acl_roles = xstrdup(PQgetvalue(res, 0, 1));
	n->setting_roles = xstrdup(PQgetvalue(res, 0, 2));
	n->settings = xstrdup(PQgetvalue(res, 0, 3));
	n->owned_props = PQgetvalue(res, 0, 4)[0] == 't';
	PQclear(res);
	return 0;
}

static PGresult *
look_up_roles(preflight_ctx *c, const char *names)
{
	const char *params[2] = {names,
	PQserverVersion(c->tgt) >= 160000 ? "SET" : "MEMBER"};

	return conn_query(c->tgt, SIDE_TARGET, "look up roles", roles_sql, 2, params);
}

static void
check_owner(preflight_ctx *c, const db_needs *n)
{
	PGresult   *res = look_up_roles(c, n->owner);
	const char *name;
	bool		exists;

	if (res == NULL || PQntuples(res) != 1)
	{
		PQclear(res);
		c->info->problems++;
		return;
	}
	name = PQgetvalue(res, 0, 0);
	exists = PQgetvalue(res, 0, 1)[0] == 't';
	/* --roles creates the owner of the database before the target. */
	if (!exists && (c->o->roles == ROLES_NONE || roles_name_reserved(name)))
	{
		problem(c->info, "role \"%s\" owns source database \"%s\" but does not exist on the target server",
				name, c->info->source_db);
		log_hint("Use --roles to create it, create the role on the target first, or use --no-owner.");
	}
	else if (exists && !c->tgt_super && PQgetvalue(res, 0, 2)[0] != 't')
	{
		/* Not worth failing for: the database keeps the target role. */
		log_warning("target database \"%s\" will stay owned by the target role: it may not make role \"%s\" its owner (it is not a member of it)",
					c->info->target_db, name);
		log_hint("Grant the role to the target role, or connect as a superuser.");
	}
	PQclear(res);
}

/* Roles of the database's privileges (why 'a') or settings (why 's'). */
static void
check_roles(preflight_ctx *c, const char *names, char why)
{
	PGresult   *res = look_up_roles(c, names);

	if (res == NULL)
	{
		c->info->problems++;
		return;
	}
	for (int i = 0; i < PQntuples(res); i++)
	{
		const char *name = PQgetvalue(res, i, 0);

		if (PQgetvalue(res, i, 1)[0] != 't' && why == 'a')
		{
			problem(c->info, "role \"%s\" holds privileges on source database \"%s\" but does not exist on the target server",
					name, c->info->source_db);
			log_hint("Create the role on the target first, or use --no-acl.");
		}
		else if (PQgetvalue(res, i, 1)[0] != 't')
		{
			problem(c->info, "role \"%s\" has settings in source database \"%s\" but does not exist on the target server",
					name, c->info->source_db);
			log_hint("Create the role on the target first: its settings in the database are restored whatever the options.");
		}
		else if (why == 's' && !c->tgt_super && PQgetvalue(res, i, 3)[0] != 't')
		{
			problem(c->info, "the target role may not set the settings of role \"%s\" in target database \"%s\"",
					name, c->info->target_db);
			log_hint("Connect as a superuser, or as a role with CREATEROLE that may administer role \"%s\".",
					 name);
		}
	}
	PQclear(res);
}

static void
check_settings(preflight_ctx *c, const char *names)
{
	const char *params[2] = {names, c->tgt_super ? "true" : "false"};
	PGresult   *res = conn_query(c->tgt, SIDE_TARGET, "look up parameters",
								 PQserverVersion(c->tgt) >= 150000 ? params_sql_15 : params_sql,
								 2, params);

	if (res == NULL)
	{
		c->info->problems++;
		return;
	}
	for (int i = 0; i < PQntuples(res); i++)
	{
		if (PQgetvalue(res, i, 1)[0] != 't')
			problem(c->info, "parameter \"%s\", set for source database \"%s\", does not exist on the target server",
					PQgetvalue(res, i, 0), c->info->source_db);
		else
		{
			problem(c->info, "the target role may not set parameter \"%s\" for target database \"%s\": only a superuser may",
					PQgetvalue(res, i, 0), c->info->target_db);
			log_hint("Connect as a superuser.");
		}
	}
	PQclear(res);
}

/* A target that is kept: only its owner may set what the source has. */
static void
check_kept_owner(preflight_ctx *c)
{
	char	   *v = preflight_value(c->tgt, SIDE_TARGET,
									"SELECT pg_catalog.pg_has_role(datdba, 'MEMBER')"
									" FROM pg_catalog.pg_database"
									" WHERE datname = pg_catalog.current_database()");

	if (v && v[0] != 't')
	{
		problem(c->info, "the target role may not set the properties of target database \"%s\": it does not own it",
				c->info->target_db);
		log_hint("Connect as its owner or a superuser, or use --drop-if-exists to recreate it.");
	}
	else if (v == NULL)
		c->info->problems++;
	free(v);
}

void
preflight_database(preflight_ctx *c)
{
	db_needs	n;

	if (read_needs(c, &n) != 0)
	{
		c->info->problems++;
		return;
	}
	if (!c->o->no_owner)
		check_owner(c, &n);
	if (!c->o->no_acl && strcmp(n.acl_roles, "{}") != 0)
		check_roles(c, n.acl_roles, 'a');
	if (strcmp(n.setting_roles, "{}") != 0)
		check_roles(c, n.setting_roles, 's');
	if (strcmp(n.settings, "{}") != 0)
		check_settings(c, n.settings);
	if (!c->recreate && !c->tgt_super && !c->tgt_maint && n.owned_props)
		check_kept_owner(c);
	db_needs_release(&n);
}
