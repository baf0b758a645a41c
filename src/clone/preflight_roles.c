/*
 * preflight_roles.c
 *		The roles a clone depends on.
 *
 * On the source, the copy reads every row with row_security = off, as
 * pg_dump does: a table whose policies apply to the source role then
 * fails the copy instead of silently yielding fewer rows.  Such tables
 * are found here first.
 *
 * On the target, pg_restore names the source's roles: as owners (ALTER
 * ... OWNER TO, unless --no-owner), as grantees and grantors (GRANT,
 * unless --no-acl), in policies (CREATE POLICY ... TO) and in user
 * mappings, which no option removes.  A role the target server does not
 * have fails the restore after the database was created.  A target role
 * that is not a superuser may only give objects to roles it is a member
 * of.  With --roles the missing roles are created by the clone
 * (roles.h): then the target role must be able to create them, and what
 * it cannot give them is said.
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

/* The most tables or roles named. */
#define MAX_LISTED 10

static const char *const rls_sql =
"SELECT pg_catalog.format('%I.%I', n.nspname, c.relname)"
" FROM pg_catalog.pg_class c"
" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
" WHERE c.relkind = 'r' AND c.relrowsecurity"
" AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'"
" AND NOT (SELECT rolsuper OR rolbypassrls FROM pg_catalog.pg_roles"
"  WHERE rolname = current_user)"
" AND (c.relforcerowsecurity OR NOT pg_catalog.pg_has_role(c.relowner, 'USAGE'))"
" ORDER BY 1";

void
preflight_source_rls(preflight_ctx *c)
{
	PGresult   *res = conn_query(c->src, SIDE_SOURCE, "check row-level security",
								 rls_sql, 0, NULL);
	int			n;

	if (res == NULL)
	{
		c->info->problems++;
		return;
	}
	n = PQntuples(res);
	for (int i = 0; i < n && i < MAX_LISTED; i++)
		problem(c->info, "table \"%s\" has row-level security that applies to the source role: its rows cannot all be copied",
				PQgetvalue(res, i, 0));
	if (n > MAX_LISTED)
		log_detail("%d more tables have row-level security that applies to the source role.",
				   n - MAX_LISTED);
	if (n > 0)
		log_hint("Connect to the source as a role with BYPASSRLS (ALTER ROLE ... BYPASSRLS), "
				 "or as the owner of the tables (without FORCE ROW LEVEL SECURITY).");
	PQclear(res);
}

/*
 * Every role the restore may name: is_owner (owns a restored object),
 * is_acl (grantee or grantor of a privilege, or of default privileges;
 * the owner's own entries are pg_dump's defaults and not restored),
 * always (named by a policy or a user mapping).  Objects of extensions
 * and of the system (OID below 16384) are not restored.
 */
static const char *const source_roles_sql =
"WITH obj(owner, acl, oid) AS ("
" SELECT c.relowner, c.relacl, c.oid FROM pg_catalog.pg_class c"
"  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
"  WHERE c.relpersistence <> 't' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'"
" UNION ALL SELECT nspowner, nspacl, oid FROM pg_catalog.pg_namespace"
"  WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'"
" UNION ALL SELECT proowner, proacl, oid FROM pg_catalog.pg_proc"
" UNION ALL SELECT typowner, typacl, oid FROM pg_catalog.pg_type"
" UNION ALL SELECT lomowner, lomacl, oid FROM pg_catalog.pg_largeobject_metadata"
" UNION ALL SELECT fdwowner, fdwacl, oid FROM pg_catalog.pg_foreign_data_wrapper"
" UNION ALL SELECT srvowner, srvacl, oid FROM pg_catalog.pg_foreign_server"
" UNION ALL SELECT lanowner, lanacl, oid FROM pg_catalog.pg_language"
" UNION ALL SELECT collowner, NULL, oid FROM pg_catalog.pg_collation"
" UNION ALL SELECT conowner, NULL, oid FROM pg_catalog.pg_conversion"
" UNION ALL SELECT oprowner, NULL, oid FROM pg_catalog.pg_operator"
" UNION ALL SELECT opfowner, NULL, oid FROM pg_catalog.pg_opfamily"
" UNION ALL SELECT opcowner, NULL, oid FROM pg_catalog.pg_opclass"
" UNION ALL SELECT dictowner, NULL, oid FROM pg_catalog.pg_ts_dict"
" UNION ALL SELECT cfgowner, NULL, oid FROM pg_catalog.pg_ts_config"
" UNION ALL SELECT evtowner, NULL, oid FROM pg_catalog.pg_event_trigger"
" UNION ALL SELECT pubowner, NULL, oid FROM pg_catalog.pg_publication"
"  WHERE pubname !~ '^pgcrane_'"
" UNION ALL SELECT stxowner, NULL, oid FROM pg_catalog.pg_statistic_ext"
" UNION ALL SELECT c.relowner, a.attacl, a.attrelid FROM pg_catalog.pg_attribute a"
"  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid WHERE a.attacl IS NOT NULL"
"), live AS (SELECT * FROM obj o WHERE o.oid >= 16384 AND NOT EXISTS"
"  (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.objid = o.oid AND d.deptype = 'e')"
"), named(role, kind) AS ("
" SELECT owner, 'o' FROM live"
" UNION ALL SELECT a.grantee, 'a' FROM live, pg_catalog.aclexplode(live.acl) a"
"  WHERE a.grantee <> live.owner"
" UNION ALL SELECT a.grantor, 'a' FROM live, pg_catalog.aclexplode(live.acl) a"
"  WHERE a.grantor <> live.owner"
" UNION ALL SELECT defaclrole, 'a' FROM pg_catalog.pg_default_acl"
" UNION ALL SELECT a.grantee, 'a' FROM pg_catalog.pg_default_acl d,"
"  pg_catalog.aclexplode(d.defaclacl) a"
" UNION ALL SELECT r, 'p' FROM pg_catalog.pg_policy p, pg_catalog.unnest(p.polroles) r"
" UNION ALL SELECT umuser, 'p' FROM pg_catalog.pg_user_mappings"
")"
" SELECT r.rolname, pg_catalog.bool_or(kind = 'o'), pg_catalog.bool_or(kind = 'a'),"
"  pg_catalog.bool_or(kind = 'p')"
" FROM named JOIN pg_catalog.pg_roles r ON r.oid = named.role"
" GROUP BY r.rolname ORDER BY 1";

/* For each role of $1 (text[]): whether it exists; whether we may use it. */
static const char *const target_roles_sql =
"SELECT x.n, r.oid IS NOT NULL,"
" CASE WHEN r.oid IS NOT NULL THEN pg_catalog.pg_has_role(r.oid, $2) END"
" FROM pg_catalog.unnest($1::text[]) WITH ORDINALITY x(n, i)"
" LEFT JOIN pg_catalog.pg_roles r ON r.rolname = x.n ORDER BY x.i";

typedef struct role_need
{
	char		kind;			/* 'o' owner, 'a' privileges, 'p' policy */
	bool		owner;			/* also an owner */
} role_need;

/* The source roles the restore names, as a text[] literal, with why. */
static char *
needed_roles(preflight_ctx *c, role_need **needs, int *n)
{
	PGresult   *res = conn_query(c->src, SIDE_SOURCE, "list the roles of the source objects",
								 source_roles_sql, 0, NULL);
	const char **names;
	char	   *lit;

	*n = 0;
	if (res == NULL)
		return NULL;
	*needs = xcalloc((size_t) PQntuples(res) + 1, sizeof(role_need));
	names = xcalloc((size_t) PQntuples(res) + 1, sizeof(char *));
	for (int i = 0; i < PQntuples(res); i++)
	{
		bool		owner = PQgetvalue(res, i, 1)[0] == 't' && !c->o->no_owner;
		bool		acl = PQgetvalue(res, i, 2)[0] == 't' && !c->o->no_acl;
		bool		policy = PQgetvalue(res, i, 3)[0] == 't';

		if (!owner && !acl && !policy)
			continue;
		(*needs)[*n].kind = policy ? 'p' : owner ? 'o' : 'a';
		(*needs)[*n].owner = owner;
		names[(*n)++] = PQgetvalue(res, i, 0);
	}
	lit = str_text_array(names, *n);
	free(names);
	PQclear(res);
	return lit;
}

static void
report_missing(preflight_info *info, const char *name, char kind)
{
	if (kind == 'p')
		problem(info, "role \"%s\" is named by a policy or user mapping on the source but does not exist on the target server",
				name);
	else if (kind == 'o')
		problem(info, "role \"%s\" owns objects on the source but does not exist on the target server",
				name);
	else
		problem(info, "role \"%s\" holds privileges on the source but does not exist on the target server",
				name);
}

/* Whether the clone creates the missing role name (--roles). */
static bool
will_create(const preflight_ctx *c, const char *name)
{
	return c->o->roles != ROLES_NONE && !roles_name_reserved(name);
}

static void
hint_missing(const preflight_ctx *c, int missing, bool policy)
{
	if (missing > MAX_LISTED)
		log_detail("%d more roles are missing on the target server.", missing - MAX_LISTED);
	if (missing > 0 && c->o->roles != ROLES_NONE)
		log_hint("Reserved roles (pg_*, rds*, cloudsql*, azure*, ...) are never created: create them on the target first, or use --no-owner --no-acl.");
	else if (missing > 0 && policy)
		log_hint("Use --roles to create them, or create the roles on the target first: policies and user mappings name them whatever the options.");
	else if (missing > 0)
		log_hint("Use --roles to create them, create the roles on the target first, or use --no-owner --no-acl to restore without owners and privileges.");
}

/* Report the roles of res (target_roles_sql) that are missing or unusable. */
static void
report_roles(preflight_ctx *c, PGresult *res, const role_need *needs)
{
	int			missing = 0,
				listed = 0;
	bool		policy = false;

	for (int i = 0; i < PQntuples(res); i++)
	{
		const char *name = PQgetvalue(res, i, 0);

		if (PQgetvalue(res, i, 1)[0] != 't')
		{
			if (will_create(c, name))
				continue;
			if (missing++ < MAX_LISTED)
				report_missing(c->info, name, needs[i].kind);
			policy = policy || needs[i].kind == 'p';
		}
		else if (needs[i].owner && !c->tgt_super && PQgetvalue(res, i, 2)[0] != 't' &&
				 listed++ < MAX_LISTED)
		{
			problem(c->info, "the target role may not make role \"%s\" the owner of objects: it is not a member of it",
					name);
		}
	}
	if (listed > MAX_LISTED)
		log_detail("%d more roles the target role is not a member of own objects.",
				   listed - MAX_LISTED);
	if (listed > 0)
		log_hint("Grant those roles to the target role, connect as a superuser, or use --no-owner.");
	hint_missing(c, missing, policy);
}

/*
 * --roles: what the clone will create, and whether the target role may
 * create roles at all.
 */
static void
check_creatable(preflight_ctx *c, const char *names)
{
	roles_plan	plan = ROLES_PLAN_INIT;

	if (roles_plan_read(c->src, c->tgt, c->o->roles, names, !c->o->no_owner, &plan) != 0)
	{
		c->info->problems++;
		return;
	}
	if (roles_plan_missing(&plan) > 0 && !plan.tgt_super && !plan.tgt_createrole)
	{
		problem(c->info, "the target role may not create roles: it has neither CREATEROLE nor SUPERUSER");
		log_detail("%d roles the clone needs do not exist on the target server.",
				   roles_plan_missing(&plan));
		log_hint("Connect to the target as a role with CREATEROLE, or use --no-owner --no-acl.");
	}
	else if (!c->o->quiet_roles)
		roles_plan_report(&plan, false);
	roles_plan_release(&plan);
}

void
preflight_roles(preflight_ctx *c)
{
	role_need  *needs = NULL;
	int			n;
	char	   *names = needed_roles(c, &needs, &n);
	const char *params[2];
	PGresult   *res;

	if (names == NULL)
	{
		c->info->problems++;
		return;
	}
	params[0] = names;
	params[1] = PQserverVersion(c->tgt) >= 160000 ? "SET" : "MEMBER";
	res = n > 0 ? conn_query(c->tgt, SIDE_TARGET, "look up roles", target_roles_sql,
							 2, params) : NULL;
	if (n > 0 && res == NULL)
		c->info->problems++;
	else if (res)
		report_roles(c, res, needs);
	PQclear(res);
	if (c->o->roles != ROLES_NONE)
		check_creatable(c, names);
	c->info->roles_needed = names;
	free(needs);
}
