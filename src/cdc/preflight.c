/*
 * preflight.c (cdc)
 *		What following changes needs from both servers.
 *
 * Logical decoding reads the source's WAL through a replication slot on a
 * WAL sender, which needs wal_level = logical, a free slot, a free WAL
 * sender and a role allowed to replicate.  pgoutput then sends, for an
 * update or a delete, the row's replica identity (primary key, a chosen
 * unique index, or the whole row); a table with none makes the source
 * refuse the update or delete altogether once it is in the publication.
 * Unlogged tables are not in the WAL, so their changes never arrive: the
 * cutover copies them again (cutover_extra.h), preflight says so.
 * A primary key or index that PostgreSQL does not take as the replica
 * identity (DEFERRABLE, partial, ...) leaves the table with none
 * (replident.c finds those; with --replica-identity-full pgcrane sets
 * REPLICA IDENTITY FULL on them).
 * The publication pgcrane creates is FOR ALL TABLES, which only a
 * superuser may create (rds_superuser on Amazon RDS); another role
 * publishes the copied tables FOR TABLE, which needs CREATE on the
 * database and the ownership of every table.
 */
#include "cdc/preflight.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/replident.h"
#include "cdc/slot.h"
#include "core/conn.h"
#include "util/log.h"
#include "util/str.h"

static const char *const settings_sql =
"SELECT pg_catalog.current_setting('wal_level'),"
"       pg_catalog.current_setting('max_replication_slots')::int -"
"       (SELECT count(*) FROM pg_catalog.pg_replication_slots),"
"       pg_catalog.current_setting('max_wal_senders')::int -"
"       (SELECT count(*) FROM pg_catalog.pg_stat_activity"
"         WHERE backend_type = 'walsender'),"
"       r.rolsuper OR r.rolreplication OR"
"       CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_roles"
"                          WHERE rolname = 'rds_replication')"
"            THEN pg_catalog.pg_has_role('rds_replication', 'MEMBER')"
"            ELSE false END,"
"       EXISTS (SELECT 1 FROM pg_catalog.pg_largeobject_metadata),"
"       " CDC_PUBLISH_ALL_SQL
"  FROM pg_catalog.pg_roles r WHERE r.rolname = current_user";

/*
 * For a publication FOR TABLE: CREATE on the database, the database's
 * name and the role's, and the tables to publish the role does not own.
 */
static const char *const publish_sql =
"SELECT pg_catalog.has_database_privilege(pg_catalog.current_database(), 'CREATE'),"
"       pg_catalog.current_database(), current_user,"
"       (SELECT pg_catalog.string_agg(pg_catalog.format('\"%I.%I\"', n.nspname, c.relname),"
"                                     ', ' ORDER BY n.nspname, c.relname)"
"          FROM pg_catalog.pg_class c"
"          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
CDC_PUBLISHED_TABLES_WHERE
"           AND c.oid <> ALL ($1::pg_catalog.oid[])"
"           AND NOT pg_catalog.pg_has_role(c.relowner, 'USAGE'))";

/* Unlogged tables: logical decoding never sees their changes. */
static const char *const unlogged_sql =
"SELECT pg_catalog.format('%I.%I', n.nspname, c.relname)"
"  FROM pg_catalog.pg_class c"
"  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
" WHERE c.relkind = 'r' AND c.relpersistence = 'u'"
"   AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
" ORDER BY 1";

/*
 * A role that may not publish all tables publishes the copied ones FOR
 * TABLE: it needs CREATE on the database and to own each table.
 */
/* The OIDs of the tables the rules do not publish, as an oid[] literal. */
static char *
unpublished_oids(const selres *rules)
{
	strbuf		sb = STRBUF_INIT;

	strbuf_adds(&sb, "{");
	for (int i = 0; rules && i < rules->nrels; i++)
		if (rules->rels[i].why || rules->rels[i].no_data)
			strbuf_addf(&sb, "%s%u", sb.len > 1 ? "," : "", (unsigned) rules->rels[i].oid);
	strbuf_adds(&sb, "}");
	return strbuf_detach(&sb);
}

static int
check_publish_tables(PGconn *src, const selres *rules, bool *ok)
{
	char	   *oids = unpublished_oids(rules);
	const char *params[1] = {oids};
	PGresult   *res = conn_query(src, SIDE_SOURCE, "check the right to publish the tables",
								 publish_sql, 1, params);

	free(oids);
	if (res == NULL)
		return -1;
	log_info("the source role may not create a publication FOR ALL TABLES: pgcrane publishes the copied tables FOR TABLE, "
			 "and a table created on the source during the follow joins it when the source role owns it");
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
	{
		char	   *db = conn_quote_ident(src, PQgetvalue(res, 0, 1));
		char	   *user = conn_quote_ident(src, PQgetvalue(res, 0, 2));

		error("the source role may not create a publication in database \"%s\": it needs CREATE on the database",
			  PQgetvalue(res, 0, 1));
		log_hint("A superuser or the database's owner can grant it with: GRANT CREATE ON DATABASE %s TO %s;",
				 db, user);
		free(db);
		free(user);
		*ok = false;
	}
	if (!PQgetisnull(res, 0, 3))
	{
		error("the source role does not own every table to publish: %s", PQgetvalue(res, 0, 3));
		log_hint("A publication FOR TABLE needs the owner of each table: connect to the source as their owner "
				 "(or a member of its role), or as a superuser, which publishes FOR ALL TABLES.");
		*ok = false;
	}
	PQclear(res);
	return 0;
}

static int
check_settings(PGconn *src, const selres *rules, bool *ok)
{
	PGresult   *res = conn_query(src, SIDE_SOURCE, "read replication settings",
								 settings_sql, 0, NULL);

	if (res == NULL)
		return -1;
	if (strcmp(PQgetvalue(res, 0, 0), "logical") != 0)
	{
		error("wal_level on the source server is \"%s\"; following changes needs \"logical\"",
			  PQgetvalue(res, 0, 0));
		log_hint("Set wal_level = logical in postgresql.conf and restart the source server.");
		*ok = false;
	}
	if (strtol(PQgetvalue(res, 0, 1), NULL, 10) < 1)
	{
		error("no replication slot is free on the source server (max_replication_slots)");
		log_hint("Raise max_replication_slots, or drop a slot that is no longer used.");
		*ok = false;
	}
	if (strtol(PQgetvalue(res, 0, 2), NULL, 10) < 1)
	{
		error("no WAL sender is free on the source server (max_wal_senders)");
		log_hint("Raise max_wal_senders on the source server.");
		*ok = false;
	}
	if (strcmp(PQgetvalue(res, 0, 3), "t") != 0)
	{
		error("the source role may not replicate: it needs the REPLICATION attribute");
		log_hint("Run ALTER ROLE ... REPLICATION on the source, or connect as a superuser.");
		*ok = false;
	}
	if (strcmp(PQgetvalue(res, 0, 4), "t") == 0)
		log_info("the source has large objects: large objects are carried at cutover "
				 "(those created, changed or removed while following)");
	if (strcmp(PQgetvalue(res, 0, 5), "t") != 0 && check_publish_tables(src, rules, ok) != 0)
	{
		PQclear(res);
		return -1;
	}
	PQclear(res);
	return 0;
}

static int
check_unlogged(PGconn *src)
{
	PGresult   *res = conn_query(src, SIDE_SOURCE, "look up unlogged tables",
								 unlogged_sql, 0, NULL);

	if (res == NULL)
		return -1;
	/* Not in the WAL, so not streamed: the cutover copies them again. */
	for (int i = 0; i < PQntuples(res); i++)
		log_info("table \"%s\" is unlogged: its changes are not streamed, it is copied "
				 "again at the cutover", PQgetvalue(res, i, 0));
	PQclear(res);
	return 0;
}

int
cdc_preflight(PGconn *src, bool replica_identity_full, const selres *rules, bool *ok)
{
	*ok = true;
	if (check_settings(src, rules, ok) != 0 || check_unlogged(src) != 0 ||
		cdc_replident_check(src, replica_identity_full, rules, ok) != 0)
		return -1;
	return 0;
}

/*
 * The target role: whether it is a superuser, may set
 * session_replication_role (PostgreSQL 15 and later: GRANT SET ON
 * PARAMETER, cluster-wide), may create schema pgcrane in this database,
 * whether the server is 15 or later, and the database's name.  %s is
 * the SET privilege's test (has_parameter_privilege() is new in 15).
 */
static const char *const target_role_sql =
"SELECT r.rolsuper, %s,"
"       pg_catalog.has_database_privilege(pg_catalog.current_database(), 'CREATE')"
"        OR EXISTS (SELECT 1 FROM pg_catalog.pg_namespace"
"                    WHERE nspname = 'pgcrane'"
"                      AND pg_catalog.pg_has_role(nspowner, 'USAGE')),"
"       pg_catalog.current_setting('server_version_num')::int >= 150000,"
"       pg_catalog.current_database()"
"  FROM pg_catalog.pg_roles r WHERE r.rolname = current_user";

/* The origin functions the follow calls and whether the role may. */
static const char *const origin_functions_sql =
"SELECT p.oid::pg_catalog.regprocedure,"
"       pg_catalog.has_function_privilege(p.oid, 'EXECUTE')"
"  FROM pg_catalog.pg_proc p"
" WHERE p.pronamespace = 'pg_catalog'::pg_catalog.regnamespace"
"   AND p.proname IN ('pg_replication_origin_oid', 'pg_replication_origin_progress',"
"                     'pg_replication_origin_create', 'pg_replication_origin_advance',"
"                     'pg_replication_origin_session_setup',"
"                     'pg_replication_origin_xact_setup', 'pg_replication_origin_drop')"
" ORDER BY 1";

/* SET session_replication_role: applying as a replica needs it. */
static void
check_replica_role(const PGresult *role, const char *user, bool *ok)
{
	if (strcmp(PQgetvalue(role, 0, 1), "t") == 0)
		return;
	error("the target role may not set session_replication_role, which applying changes as a replica needs");
	if (strcmp(PQgetvalue(role, 0, 3), "t") == 0)
		log_hint("A superuser of the target can grant it with: GRANT SET ON PARAMETER session_replication_role TO %s;",
				 user);
	else
		log_hint("Before PostgreSQL 15 only a superuser may set it: connect to the target as a superuser.");
	*ok = false;
}

/*
 * EXECUTE on the origin functions: without it the follow records its
 * progress in pgcrane.follow_progress (*table), which needs the right to
 * create schema pgcrane.
 */
static int
check_origin_functions(PGconn *tgt, const PGresult *role, const char *user,
					   bool *ok, bool *table)
{
	PGresult   *res = conn_query(tgt, SIDE_TARGET, "check the replication origin functions",
								 origin_functions_sql, 0, NULL);
	strbuf		grants = STRBUF_INIT;
	const char *db = PQgetvalue(role, 0, 4);

	if (res == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res); i++)
		if (strcmp(PQgetvalue(res, i, 1), "t") != 0)
			strbuf_addf(&grants, "%sGRANT EXECUTE ON FUNCTION pg_catalog.%s TO %s;",
						grants.len ? " " : "", PQgetvalue(res, i, 0), user);
	PQclear(res);
	*table = grants.len > 0;
	if (*table)
	{
		log_info("the target role may not use replication origins in database \"%s\": the follow records its progress in table pgcrane.follow_progress there",
				 db);
		log_hint("To use replication origins instead, a superuser runs in database \"%s\": %s",
				 db, strbuf_str(&grants));
	}
	if (*table && strcmp(PQgetvalue(role, 0, 2), "t") != 0)
	{
		char	   *qdb = conn_quote_ident(tgt, db);

		error("the target role may not create schema \"pgcrane\" in database \"%s\", where the follow records its progress without replication origins",
			  db);
		log_hint("A superuser can grant it with: GRANT CREATE ON DATABASE %s TO %s; or the EXECUTE privileges above.",
				 qdb, user);
		free(qdb);
		*ok = false;
	}
	strbuf_release(&grants);
	return 0;
}

int
cdc_preflight_target(PGconn *tgt, bool in_database, bool *ok, bool *table)
{
	char	   *sql = str_printf(target_role_sql, PQserverVersion(tgt) >= 150000 ?
									 "pg_catalog.has_parameter_privilege('session_replication_role', 'SET')"
									 : "false");
	PGresult   *role = conn_query(tgt, SIDE_TARGET, "check privileges for applying changes",
								  sql, 0, NULL);
	char	   *user;
	int			rc = 0;

	free(sql);
	*ok = true;
	*table = false;
	if (role == NULL)
		return -1;
	if (strcmp(PQgetvalue(role, 0, 0), "t") == 0)
	{
		PQclear(role);
		return 0;
	}
	user = conn_quote_ident(tgt, PQuser(tgt));
	check_replica_role(role, user, ok);
	if (in_database)
		rc = check_origin_functions(tgt, role, user, ok, table);
	else
		log_info("the privileges the follow needs in the target database are checked once the clone has created it");
	free(user);
	PQclear(role);
	return rc;
}
