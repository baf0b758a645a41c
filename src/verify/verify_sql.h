/*
 * verify_sql.h
 *		SQL fragments the catalog queries of verify share.
 *
 * The objects verify compares are the user's: not those of the system
 * schemas, nor those an extension created (compared as the extension's
 * name and version instead), nor schema pgcrane, where the follow may
 * keep its progress on the target (cdc/origin.h).
 */
#ifndef PGCRANE_VERIFY_SQL_H
#define PGCRANE_VERIFY_SQL_H

/* Namespace n is a user schema. */
#define VSQL_USER_NS(n) \
	n ".nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'pgcrane') " \
	"AND " n ".nspname NOT LIKE 'pg\\_temp\\_%' " \
	"AND " n ".nspname NOT LIKE 'pg\\_toast\\_temp\\_%'"

/* The object oid of catalog (a quoted name such as "pg_class") is no
 * extension's member. */
#define VSQL_NOT_EXT(catalog, oid) \
	"NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '" catalog \
	"'::regclass AND e.objid = " oid " AND e.deptype = 'e')"

#endif
