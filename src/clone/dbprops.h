/*
 * dbprops.h
 *		The target database's own properties, as pg_restore --create sets
 *		them.
 *
 * The schema archive is dumped with --create, so it holds the entries of
 * the database itself: DATABASE (its owner), COMMENT, SECURITY LABEL and
 * ACL on the database, and DATABASE PROPERTIES (CONNECTION LIMIT,
 * ALTER DATABASE ... SET, ALTER ROLE ... IN DATABASE ... SET).
 * pg_restore writes their SQL (with --no-owner and --no-acl honoured); the
 * CREATE DATABASE is left out, as pgcrane created (or kept) the database
 * itself, and every reference to the source's database name is turned
 * into the target's.
 *
 * They are applied in two steps.  The owner comes first, before the
 * schema is restored, as with pg_restore --create: schema public belongs
 * to pg_database_owner, and a restore that makes the database owner's
 * role the owner of objects in it needs that role to own the database
 * (a target role that is not a superuser is a member of the owner, and
 * keeps its rights through it; a target role that is not a member keeps
 * the database, with a warning).  The rest comes at the very end of the
 * clone, after the post-data restore: a setting such as
 * default_transaction_read_only, a connection limit or REVOKE CONNECT
 * would otherwise hit the clone's own later sessions;
 * default_transaction_read_only is the last statement of all.
 */
#ifndef PGCRANE_DBPROPS_H
#define PGCRANE_DBPROPS_H

#include <libpq-fe.h>

#include <stdbool.h>

#include "clone/schema.h"

typedef struct dbprops_opts
{
	const char *dump;			/* the schema archive */
	const char *work_path;		/* prefix for the files written */
	const char *source_db;		/* the database's name in the archive */
	const char *target_db;
	schema_restore_opts restore;	/* no_owner, no_acl, cancel */
} dbprops_opts;

typedef enum dbprops_part
{
	DBPROPS_OWNER,				/* ALTER DATABASE ... OWNER TO */
	DBPROPS_REST				/* every other statement */
} dbprops_part;

/*
 * Apply one part of the archive's database properties to the target
 * database, through tgt (the caller's, proved to reach the recorded
 * target).  0 or -1 (logged: could not set a property of the target
 * database on target server: ...).
 */
int			dbprops_apply(const pg_tools *tools, PGconn *tgt,
						  const dbprops_opts *o, dbprops_part part);

/*
 * Split sql (as pg_restore writes it) into statements, without psql
 * meta-commands, comments and CREATE DATABASE, with the reference to
 * database from (quoted as pg_dump quotes it, from_quoted) changed into
 * to (quoted); of part, in order (settings of default_transaction_read_only
 * last).  Returns their number; *stmts is an array of new strings, freed
 * by dbprops_free.  -1 (logged) when a statement other than SET, RESET or
 * SELECT does not name database from: run unchanged it could alter the
 * source.  Pure but for that message (tests/unit/test_dbprops.c).
 */
int			dbprops_statements(const char *sql, const char *from,
							   const char *from_quoted, const char *to,
							   dbprops_part part, char ***stmts);
void		dbprops_free(char **stmts, int n);

#endif
