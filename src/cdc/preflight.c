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
 * Unlogged tables are not in the WAL, so their changes never arrive.
 * A primary key or index that PostgreSQL does not take as the replica
 * identity (DEFERRABLE, partial, ...) leaves the table with none
 * (replident.c finds those; with --replica-identity-full pgcrane sets
 * REPLICA IDENTITY FULL on them).
 * The publication pgcrane creates is FOR ALL TABLES, which only a
 * superuser may create (rds_superuser on Amazon RDS).
 */
#include "cdc/preflight.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/replident.h"
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
"       r.rolsuper OR"
"       CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_roles"
"                          WHERE rolname = 'rds_superuser')"
"            THEN pg_catalog.pg_has_role('rds_superuser', 'MEMBER')"
"            ELSE false END"
"  FROM pg_catalog.pg_roles r WHERE r.rolname = current_user";

/* Unlogged tables: logical decoding never sees their changes. */
static const char *const unlogged_sql =
"SELECT pg_catalog.format('%I.%I', n.nspname, c.relname)"
"  FROM pg_catalog.pg_class c"
"  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
" WHERE c.relkind = 'r' AND c.relpersistence = 'u'"
"   AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
" ORDER BY 1";

static int
check_settings(PGconn *src, bool *ok)
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
	if (strcmp(PQgetvalue(res, 0, 5), "t") != 0)
	{
		error("the source role may not create a publication FOR ALL TABLES: it must be a superuser");
		log_hint("Connect to the source as a superuser: no other privilege allows a publication of all tables.");
		*ok = false;
	}
	if (strcmp(PQgetvalue(res, 0, 4), "t") == 0)
		log_warning("the source has large objects: changes to them after the clone are not followed");
	PQclear(res);
	return 0;
}

static int
check_unlogged(PGconn *src, bool *ok)
{
	PGresult   *res = conn_query(src, SIDE_SOURCE, "look up unlogged tables",
								 unlogged_sql, 0, NULL);

	if (res == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res); i++)
	{
		error("table \"%s\" is unlogged: its changes cannot be followed",
			  PQgetvalue(res, i, 0));
		*ok = false;
	}
	if (PQntuples(res) > 0)
		log_hint("Make them logged with ALTER TABLE ... SET LOGGED.");
	PQclear(res);
	return 0;
}

int
cdc_preflight(PGconn *src, bool replica_identity_full, bool *ok)
{
	*ok = true;
	if (check_settings(src, ok) != 0 || check_unlogged(src, ok) != 0 ||
		cdc_replident_check(src, replica_identity_full, ok) != 0)
		return -1;
	return 0;
}

int
cdc_preflight_target(PGconn *tgt, bool *ok)
{
	const char *sql = PQserverVersion(tgt) >= 150000 ?
	"SELECT r.rolsuper OR"
	" (pg_catalog.has_parameter_privilege('session_replication_role', 'SET') AND"
	"  pg_catalog.has_function_privilege('pg_catalog.pg_replication_origin_session_setup(text)', 'EXECUTE') AND"
	"  pg_catalog.has_function_privilege('pg_catalog.pg_replication_origin_create(text)', 'EXECUTE') AND"
	"  pg_catalog.has_function_privilege("
	"    'pg_catalog.pg_replication_origin_xact_setup(pg_lsn, timestamptz)', 'EXECUTE'))"
	" FROM pg_catalog.pg_roles r WHERE r.rolname = current_user" :
	"SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user";
	PGresult   *res = conn_query(tgt, SIDE_TARGET, "check privileges for applying changes",
								 sql, 0, NULL);

	if (res == NULL)
		return -1;
	*ok = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	if (!*ok)
	{
		error("the target role may not apply changes as a replica: it must be a superuser");
		log_hint("Connect to the target as a superuser, or grant SET on session_replication_role "
				 "and EXECUTE on the pg_replication_origin functions.");
	}
	PQclear(res);
	return 0;
}
