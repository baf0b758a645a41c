/*
 * roles.c
 *		Create on the target server the roles a clone needs.
 *
 * The plan comes from the source's catalogs (pg_roles, pg_auth_members,
 * pg_db_role_setting, and pg_authid for the verifiers), not from the
 * script of pg_dumpall --roles-only: that script has to be filtered by
 * role and by attribute anyway (to the roles the database needs, to what
 * a target role without SUPERUSER may grant), which means parsing its
 * quoted names and ALTER ROLE lines; and it carries the verifiers in
 * text that would have to go through a pipe or a file.  The catalogs give
 * each fact as a column, the statements are then built here as
 * pg_dumpall builds them (CREATE ROLE with its attributes, ALTER ROLE
 * ... SET with list-valued settings written as they are, GRANT ... WITH
 * ADMIN OPTION).
 */
#include "clone/roles.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/conn.h"
#include "util/log.h"
#include "util/str.h"

/* The most names on one line of the report. */
#define MAX_LISTED 20

/*
 * The roles of the plan: $2 (all) every role, otherwise those named in $1,
 * the database owner when $3, and the roles they are members of,
 * transitively.
 */
static const char *const plan_roles_sql =
"WITH RECURSIVE up(oid) AS ("
" SELECT r.oid FROM pg_catalog.pg_roles r"
"  WHERE $2::boolean OR r.rolname = ANY ($1::text[])"
"  OR $3::boolean AND r.oid = (SELECT datdba FROM pg_catalog.pg_database"
"   WHERE datname = pg_catalog.current_database())"
" UNION SELECT m.roleid FROM pg_catalog.pg_auth_members m JOIN up ON m.member = up.oid)"
" SELECT r.rolname, r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb,"
"  r.rolcanlogin, r.rolreplication, r.rolbypassrls, r.rolconnlimit,"
"  CASE WHEN r.rolvaliduntil IS NULL THEN NULL"
"   WHEN NOT pg_catalog.isfinite(r.rolvaliduntil) THEN r.rolvaliduntil::text"
"   ELSE pg_catalog.to_char(r.rolvaliduntil AT TIME ZONE 'UTC',"
"    'YYYY-MM-DD HH24:MI:SS.US') || '+00' END"
" FROM pg_catalog.pg_roles r WHERE r.oid IN (SELECT oid FROM up)"
" ORDER BY r.rolname COLLATE \"C\"";

static const char *const settings_sql =
"SELECT r.rolname, s.cfg FROM pg_catalog.pg_db_role_setting d"
" JOIN pg_catalog.pg_roles r ON r.oid = d.setrole,"
" pg_catalog.unnest(d.setconfig) WITH ORDINALITY s(cfg, i)"
" WHERE d.setdatabase = 0 ORDER BY r.rolname, s.i";

static const char *const grants_sql =
"SELECT g.rolname, m.rolname, am.admin_option FROM pg_catalog.pg_auth_members am"
" JOIN pg_catalog.pg_roles g ON g.oid = am.roleid"
" JOIN pg_catalog.pg_roles m ON m.oid = am.member ORDER BY 2, 1";

static const char *const authid_readable_sql =
"SELECT pg_catalog.has_table_privilege('pg_catalog.pg_authid', 'SELECT')";

static const char *const passwords_sql =
"SELECT rolname, rolpassword FROM pg_catalog.pg_authid"
" WHERE rolpassword IS NOT NULL";

static const char *const target_caps_sql =
"SELECT rolsuper, rolcreaterole FROM pg_catalog.pg_roles WHERE rolname = current_user";

static const char *const target_exists_sql =
"SELECT rolname FROM pg_catalog.pg_roles WHERE rolname = ANY ($1::text[])";

/* Settings whose value is a list written as is (pg_dump's own list). */
static const char *const list_quote_settings[] = {
	"local_preload_libraries", "search_path", "session_preload_libraries",
	"shared_preload_libraries", "temp_tablespaces", "unix_socket_directories",
};

/* Prefixes of the roles PostgreSQL and managed services reserve. */
static const char *const reserved_prefixes[] = {
	"pg_", "rds_", "rdsadmin", "rdsrepladmin", "rdstopmgr", "cloudsql",
	"azure_", "azuresu", "alloydb", "aurora_",
};

bool
roles_name_reserved(const char *name)
{
	for (size_t i = 0; i < sizeof(reserved_prefixes) / sizeof(reserved_prefixes[0]); i++)
		if (strncmp(name, reserved_prefixes[i], strlen(reserved_prefixes[i])) == 0)
			return true;
	return false;
}

static bool
is_true(const PGresult *res, int row, int col)
{
	return PQgetvalue(res, row, col)[0] == 't';
}

static role_def *
find_role(const roles_plan *p, const char *name)
{
	for (int i = 0; i < p->nroles; i++)
		if (strcmp(p->roles[i].name, name) == 0)
			return &p->roles[i];
	return NULL;
}

static void
read_role(const PGresult *res, int i, role_def *r)
{
	r->name = xstrdup(PQgetvalue(res, i, 0));
	r->reserved = roles_name_reserved(r->name);
	r->super = is_true(res, i, 1);
	r->inherit = is_true(res, i, 2);
	r->createrole = is_true(res, i, 3);
	r->createdb = is_true(res, i, 4);
	r->login = is_true(res, i, 5);
	r->replication = is_true(res, i, 6);
	r->bypassrls = is_true(res, i, 7);
	if (!str_to_int(PQgetvalue(res, i, 8), -1, 1 << 30, &r->connlimit))
		r->connlimit = -1;
	if (!PQgetisnull(res, i, 9))
		r->valid_until = xstrdup(PQgetvalue(res, i, 9));
}

static int
read_roles(PGconn *src, roles_mode mode, const char *needed, bool db_owner,
		   roles_plan *p)
{
	const char *params[3] = {needed ? needed : "{}", mode == ROLES_ALL ? "true" : "false",
	db_owner ? "true" : "false"};
	PGresult   *res = conn_query(src, SIDE_SOURCE, "list the roles to create",
								 plan_roles_sql, 3, params);

	if (res == NULL)
		return -1;
	p->roles = xcalloc((size_t) PQntuples(res) + 1, sizeof(role_def));
	for (int i = 0; i < PQntuples(res); i++)
		read_role(res, i, &p->roles[p->nroles++]);
	PQclear(res);
	return 0;
}

static int
read_settings(PGconn *src, roles_plan *p)
{
	PGresult   *res = conn_query(src, SIDE_SOURCE, "read the settings of roles",
								 settings_sql, 0, NULL);

	if (res == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res); i++)
	{
		role_def   *r = find_role(p, PQgetvalue(res, i, 0));

		if (r == NULL)
			continue;
		r->settings = xrealloc(r->settings, sizeof(char *) * (size_t) (r->nsettings + 1));
		r->settings[r->nsettings++] = xstrdup(PQgetvalue(res, i, 1));
	}
	PQclear(res);
	return 0;
}

/* Memberships whose both roles are in the plan. */
static int
read_grants(PGconn *src, roles_plan *p)
{
	PGresult   *res = conn_query(src, SIDE_SOURCE, "read role memberships",
								 grants_sql, 0, NULL);

	if (res == NULL)
		return -1;
	p->grants = xcalloc((size_t) PQntuples(res) + 1, sizeof(role_grant));
	for (int i = 0; i < PQntuples(res); i++)
	{
		role_grant *g = &p->grants[p->ngrants];

		if (!find_role(p, PQgetvalue(res, i, 0)) || !find_role(p, PQgetvalue(res, i, 1)))
			continue;
		g->role = xstrdup(PQgetvalue(res, i, 0));
		g->member = xstrdup(PQgetvalue(res, i, 1));
		g->admin = is_true(res, i, 2);
		p->ngrants++;
	}
	PQclear(res);
	return 0;
}

/*
 * The verifiers, when pg_authid can be read.  A verifier the target does
 * not take as it is (neither SCRAM-SHA-256 nor MD5) is not kept.
 */
static int
read_passwords(PGconn *src, roles_plan *p)
{
	PGresult   *res = conn_query(src, SIDE_SOURCE, "check access to pg_authid",
								 authid_readable_sql, 0, NULL);

	if (res == NULL)
		return -1;
	p->passwords_read = is_true(res, 0, 0);
	PQclear(res);
	if (!p->passwords_read)
		return 0;
	if ((res = conn_query(src, SIDE_SOURCE, "read role passwords", passwords_sql,
						  0, NULL)) == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res); i++)
	{
		role_def   *r = find_role(p, PQgetvalue(res, i, 0));
		const char *v = PQgetvalue(res, i, 1);

		if (r == NULL)
			continue;
		r->had_password = true;
		if (strncmp(v, "SCRAM-SHA-256$", 14) == 0 ||
			(strncmp(v, "md5", 3) == 0 && strlen(v) == 35))
			r->password = xstrdup(v);
	}
	PQclear(res);
	return 0;
}

/* The plan's names as a text[] literal; caller frees. */
static char *
names_array(const roles_plan *p)
{
	const char **names = xcalloc((size_t) p->nroles + 1, sizeof(char *));
	char	   *lit;

	for (int i = 0; i < p->nroles; i++)
		names[i] = p->roles[i].name;
	lit = str_text_array(names, p->nroles);
	free(names);
	return lit;
}

static int
read_target(PGconn *tgt, roles_plan *p)
{
	char	   *names = names_array(p);
	const char *params[1] = {names};
	PGresult   *res = conn_query(tgt, SIDE_TARGET, "look up roles", target_exists_sql,
								 1, params);

	free(names);
	if (res == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res); i++)
	{
		role_def   *r = find_role(p, PQgetvalue(res, i, 0));

		if (r)
			r->exists = true;
	}
	PQclear(res);
	if ((res = conn_query(tgt, SIDE_TARGET, "read the target role", target_caps_sql,
						  0, NULL)) == NULL)
		return -1;
	p->tgt_super = PQntuples(res) == 1 && is_true(res, 0, 0);
	p->tgt_createrole = PQntuples(res) == 1 && is_true(res, 0, 1);
	PQclear(res);
	return 0;
}

int
roles_plan_read(PGconn *src, PGconn *tgt, roles_mode mode, const char *needed,
				bool db_owner, roles_plan *plan)
{
	if (read_roles(src, mode, needed, db_owner, plan) != 0 || read_settings(src, plan) != 0 ||
		read_grants(src, plan) != 0 || read_passwords(src, plan) != 0 ||
		read_target(tgt, plan) != 0)
	{
		roles_plan_release(plan);
		return -1;
	}
	return 0;
}

void
roles_plan_release(roles_plan *plan)
{
	for (int i = 0; i < plan->nroles; i++)
	{
		role_def   *r = &plan->roles[i];

		if (r->password)
		{
			explicit_bzero(r->password, strlen(r->password));
			free(r->password);
		}
		free(r->name);
		free(r->valid_until);
		for (int j = 0; j < r->nsettings; j++)
			free(r->settings[j]);
		free(r->settings);
	}
	for (int i = 0; i < plan->ngrants; i++)
	{
		free(plan->grants[i].role);
		free(plan->grants[i].member);
	}
	free(plan->roles);
	free(plan->grants);
	memset(plan, 0, sizeof(*plan));
}

static bool
to_create(const role_def *r)
{
	return !r->exists && !r->reserved;
}

int
roles_plan_missing(const roles_plan *plan)
{
	int			n = 0;

	for (int i = 0; i < plan->nroles; i++)
		n += to_create(&plan->roles[i]);
	return n;
}

/*
 * Only a superuser gives SUPERUSER, REPLICATION and BYPASSRLS (a role with
 * CREATEROLE gives the others).
 */
const char *
roles_skipped_attributes(const roles_plan *plan, const role_def *r)
{
	static char buf[64];

	buf[0] = '\0';
	if (plan->tgt_super)
		return buf;
	if (r->super)
		strncat(buf, " SUPERUSER", sizeof(buf) - strlen(buf) - 1);
	if (r->replication)
		strncat(buf, " REPLICATION", sizeof(buf) - strlen(buf) - 1);
	if (r->bypassrls)
		strncat(buf, " BYPASSRLS", sizeof(buf) - strlen(buf) - 1);
	return buf;
}

/* A login role that gets no password on the target. */
static bool
no_password(const roles_plan *plan, const role_def *r)
{
	if (r->password)
		return false;
	return plan->passwords_read ? r->had_password : r->login;
}

/* One info line: prefix, then up to MAX_LISTED names that pass keep. */
static void
report_list(const roles_plan *plan, const char *fmt,
			bool (*keep) (const roles_plan *, const role_def *), bool warn)
{
	strbuf		sb = STRBUF_INIT;
	int			n = 0;

	for (int i = 0; i < plan->nroles; i++)
	{
		if (!keep(plan, &plan->roles[i]))
			continue;
		if (n < MAX_LISTED)
			strbuf_addf(&sb, "%s\"%s\"", n ? ", " : "", plan->roles[i].name);
		n++;
	}
	if (n > MAX_LISTED)
		strbuf_addf(&sb, " and %d more", n - MAX_LISTED);
	if (n > 0)
		log_msg(warn ? LOG_WARNING : LOG_INFO, fmt, n, strbuf_str(&sb));
	strbuf_release(&sb);
}

static bool
keep_existing(const roles_plan *p, const role_def *r)
{
	(void) p;
	return r->exists && !r->reserved;
}

/* Reserved roles the target lacks (predefined ones it has are not news). */
static bool
keep_reserved(const roles_plan *p, const role_def *r)
{
	(void) p;
	return r->reserved && !r->exists;
}

static bool
keep_created(const roles_plan *p, const role_def *r)
{
	(void) p;
	return to_create(r);
}

static bool
keep_no_password(const roles_plan *p, const role_def *r)
{
	return to_create(r) && no_password(p, r);
}

void
roles_plan_report(const roles_plan *plan, bool done)
{
	report_list(plan, done ? "roles: created %d roles: %s" : "roles: %d roles will be created: %s",
				keep_created, false);
	report_list(plan, "roles: %d roles exist on the target server and are left untouched: %s",
				keep_existing, false);
	report_list(plan, "roles: %d reserved roles are skipped: %s", keep_reserved, false);
	for (int i = 0; i < plan->nroles; i++)
	{
		const role_def *r = &plan->roles[i];
		const char *skipped = roles_skipped_attributes(plan, r);

		if (to_create(r) && skipped[0])
			log_warning("role \"%s\" %s without%s: only a superuser may grant %s",
						r->name, done ? "was created" : "will be created", skipped,
						strchr(skipped + 1, ' ') ? "them" : "it");
	}
	report_list(plan, plan->passwords_read ?
				"roles: %d roles get no password (the target does not take their verifier): %s" :
				"roles: %d login roles get no password (pg_authid is not readable on the source): %s",
				keep_no_password, true);
}

/* Run sql; a failure is a warning naming what (never the statement). */
static bool
exec_or_warn(PGconn *tgt, const char *sql, const char *what, const char *name)
{
	PGresult   *res = PQexec(tgt, sql);
	bool		ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
	{
		const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

		log_warning("could not %s of role \"%s\" on target server: %s", what, name,
					m ? m : "no result from server");
	}
	PQclear(res);
	return ok;
}

static char *
create_sql(PGconn *tgt, const roles_plan *p, const role_def *r)
{
	char	   *q = conn_quote_ident(tgt, r->name);
	strbuf		sb = STRBUF_INIT;

	strbuf_addf(&sb, "CREATE ROLE %s WITH %sSUPERUSER %sINHERIT %sCREATEROLE %sCREATEDB"
				" %sLOGIN %sREPLICATION %sBYPASSRLS CONNECTION LIMIT %d", q,
				r->super && p->tgt_super ? "" : "NO", r->inherit ? "" : "NO",
				r->createrole ? "" : "NO", r->createdb ? "" : "NO", r->login ? "" : "NO",
				r->replication && p->tgt_super ? "" : "NO",
				r->bypassrls && p->tgt_super ? "" : "NO", r->connlimit);
	if (r->valid_until)
	{
		char	   *lit = PQescapeLiteral(tgt, r->valid_until, strlen(r->valid_until));

		strbuf_addf(&sb, " VALID UNTIL %s", lit ? lit : "'infinity'");
		PQfreemem(lit);
	}
	free(q);
	return strbuf_detach(&sb);
}

/*
 * The verifier, in a statement built and cleared here.  A superuser
 * target keeps it out of the server log too.
 */
static bool
set_password(PGconn *tgt, const roles_plan *p, const role_def *r)
{
	char	   *q = conn_quote_ident(tgt, r->name);
	char	   *lit = PQescapeLiteral(tgt, r->password, strlen(r->password));
	char	   *sql = lit ? str_printf("ALTER ROLE %s PASSWORD %s", q, lit) : NULL;
	bool		ok = sql != NULL;

	if (p->tgt_super)
		(void) exec_or_warn(tgt, "BEGIN; SET LOCAL log_statement = 'none';"
							" SET LOCAL log_min_error_statement = 'panic'", "hide the password",
							r->name);
	if (ok)
		ok = exec_or_warn(tgt, sql, "set the password", r->name);
	if (p->tgt_super)
		(void) exec_or_warn(tgt, "COMMIT", "set the password", r->name);
	if (lit)
	{
		explicit_bzero(lit, strlen(lit));
		PQfreemem(lit);
	}
	if (sql)
		explicit_bzero(sql, strlen(sql));
	free(sql);
	free(q);
	return ok;
}

static bool
is_list_setting(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(list_quote_settings) / sizeof(list_quote_settings[0]); i++)
		if (strlen(list_quote_settings[i]) == len &&
			strncasecmp(list_quote_settings[i], name, len) == 0)
			return true;
	return false;
}

/* ALTER ROLE ... SET for "name=value", as pg_dumpall writes it. */
static void
apply_setting(PGconn *tgt, const role_def *r, const char *cfg)
{
	const char *eq = strchr(cfg, '=');
	char	   *name,
			   *qname,
			   *qrole,
			   *value,
			   *sql;

	if (eq == NULL)
		return;
	name = xstrdup(cfg);
	name[eq - cfg] = '\0';
	qname = conn_quote_ident(tgt, name);
	qrole = conn_quote_ident(tgt, r->name);
	if (is_list_setting(name, strlen(name)))
		value = xstrdup(eq + 1);
	else
	{
		char	   *lit = PQescapeLiteral(tgt, eq + 1, strlen(eq + 1));

		value = xstrdup(lit ? lit : "''");
		PQfreemem(lit);
	}
	sql = str_printf("ALTER ROLE %s SET %s TO %s", qrole, qname, value);
	(void) exec_or_warn(tgt, sql, "copy a setting", r->name);
	free(sql);
	free(value);
	free(qrole);
	free(qname);
	free(name);
}

static void
add_name(char ***names, int *n, const char *name)
{
	*names = xrealloc(*names, sizeof(char *) * (size_t) (*n + 2));
	(*names)[(*n)++] = xstrdup(name);
	(*names)[*n] = NULL;
}

/* Create r with its password and settings; -1 (logged) when CREATE fails. */
static int
create_role(PGconn *tgt, const roles_plan *p, const role_def *r)
{
	char	   *sql = create_sql(tgt, p, r);
	char	   *what = str_printf("create role \"%s\"", r->name);
	int			rc = conn_exec_as(tgt, SIDE_TARGET, sql, what);

	free(what);
	free(sql);
	if (rc != 0)
		return -1;
	log_debug("created role \"%s\"", r->name);
	if (r->password)
		(void) set_password(tgt, p, r);
	for (int j = 0; j < r->nsettings; j++)
		apply_setting(tgt, r, r->settings[j]);
	return 0;
}

/* The memberships of the roles created, in roles now on the target. */
static void
grant_memberships(PGconn *tgt, const roles_plan *p)
{
	for (int i = 0; i < p->ngrants; i++)
	{
		const role_grant *g = &p->grants[i];
		const role_def *member = find_role(p, g->member);
		const role_def *role = find_role(p, g->role);
		char	   *qr,
				   *qm,
				   *sql;

		if (!to_create(member) || (role->reserved && !role->exists))
			continue;
		qr = conn_quote_ident(tgt, g->role);
		qm = conn_quote_ident(tgt, g->member);
		sql = str_printf("GRANT %s TO %s%s", qr, qm, g->admin ? " WITH ADMIN OPTION" : "");
		(void) exec_or_warn(tgt, sql, "grant a membership", g->member);
		free(sql);
		free(qm);
		free(qr);
	}
}

/*
 * A target role without SUPERUSER may give objects only to roles it is a
 * member of: it becomes a member of the roles it created.
 */
static void
join_created(PGconn *tgt, char **created)
{
	for (int i = 0; created && created[i]; i++)
	{
		char	   *q = conn_quote_ident(tgt, created[i]);
		char	   *sql = str_printf("GRANT %s TO CURRENT_USER", q);

		(void) exec_or_warn(tgt, sql, "join the target role to the membership", created[i]);
		free(sql);
		free(q);
	}
	if (created && created[0])
		log_info("roles: the target role was made a member of the roles it created, to give objects to them");
}

int
roles_create(PGconn *tgt, const roles_plan *plan, char ***created)
{
	int			n = 0;

	*created = NULL;
	for (int i = 0; i < plan->nroles; i++)
	{
		const role_def *r = &plan->roles[i];

		if (!to_create(r))
			continue;
		if (create_role(tgt, plan, r) != 0)
			return -1;
		add_name(created, &n, r->name);
	}
	grant_memberships(tgt, plan);
	if (!plan->tgt_super)
		join_created(tgt, *created);
	return 0;
}

/* Whether conn reaches the server the roles were created on. */
static bool
proved_server(PGconn *conn, const db_identity *server, char **names)
{
	db_identity now;
	strbuf		sb = STRBUF_INIT;

	if (identity_read_server(conn, SIDE_TARGET, "postgres", &now) != 0)
		return false;
	if (identity_same_server(&now, server))
		return true;
	for (int i = 0; names[i]; i++)
		strbuf_addf(&sb, "%s\"%s\"", i ? ", " : "", names[i]);
	error("the target server reached to drop the roles created by this run is not the one preflight checked");
	log_detail("Roles left: %s.", strbuf_str(&sb));
	log_hint("Drop them yourself on the target server if they are not wanted.");
	strbuf_release(&sb);
	return false;
}

int
roles_drop_created(const char *target, char **names, const db_identity *server)
{
	char	   *maint;
	PGconn	   *conn;
	int			n = 0,
				rc = 0;

	while (names && names[n])
		n++;
	if (n == 0)
		return 0;
	maint = conn_with_dbname(target, "postgres");
	conn = maint ? conn_open(maint, SIDE_TARGET) : NULL;
	free(maint);
	if (conn == NULL)
		return -1;
	if (!proved_server(conn, server, names))
	{
		PQfinish(conn);
		return -1;
	}
	for (int i = n - 1; i >= 0; i--)
	{
		char	   *q = conn_quote_ident(conn, names[i]);
		char	   *sql = str_printf("DROP ROLE %s", q);

		if (exec_or_warn(conn, sql, "drop the role created", names[i]))
			log_info("dropped role \"%s\", created by this run", names[i]);
		else
			rc = -1;
		free(sql);
		free(q);
	}
	PQfinish(conn);
	return rc;
}

void
roles_free_names(char **names)
{
	for (int i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
}
