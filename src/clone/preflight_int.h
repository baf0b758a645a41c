/*
 * preflight_int.h
 *		What the preflight modules share; not for other callers.
 *
 * preflight.c opens the connections and runs the checks in order;
 * preflight_target.c checks what the target server lets the clone write,
 * preflight_roles.c the roles (row-level security on the source, owners
 * and grantees missing on the target), preflight_database.c what the
 * database's own properties need, preflight_conns.c the connections
 * --jobs and --index-jobs need.  Each check logs its problems through
 * preflight_problem(), one error line each, and goes on.
 */
#ifndef PGCRANE_PREFLIGHT_INT_H
#define PGCRANE_PREFLIGHT_INT_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "clone/preflight.h"

typedef struct preflight_ctx
{
	const preflight_options *o;
	preflight_info *info;
	PGconn	   *src;			/* NULL when the source is unreachable */
	PGconn	   *tgt;			/* the target database, or "postgres" */
	bool		tgt_maint;		/* tgt is the maintenance database */
	bool		recreate;		/* the clone creates the target database */
	bool		tgt_super;		/* the target role is a superuser */
	bool		refused;		/* the target database is never usable */
} preflight_ctx;

/*
 * The selection's rules (selection.h) on the source: every problem
 * selres_read finds, the renamed schemas on the target, and the
 * functions whose body names a renamed schema (warnings).
 */
void		preflight_selection(preflight_ctx *c);

/* Log one problem (at error level) and count it. */
void		preflight_problem(preflight_info *info, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

/* The first column of the one row of sql on conn, as a new string, or NULL. */
char	   *preflight_value(PGconn *conn, const char *side, const char *sql);

/*
 * The target server accepts writes: not in recovery, and
 * default_transaction_read_only off for every database the clone writes
 * into (the target database, and "postgres" when the clone creates the
 * target database from there), wherever it was set.
 */
void		preflight_target_writable(preflight_ctx *c);

/*
 * The target database is not a template (template0, template1 or any
 * other with datistemplate) and accepts connections.  Sets c->refused
 * when it is not usable whatever the options.
 */
void		preflight_target_usable(preflight_ctx *c);

/* The target role may create databases (the clone creates the target). */
void		preflight_target_can_create(preflight_ctx *c);

/*
 * With --drop-if-exists on a non-empty target: the clone can connect to
 * the maintenance database "postgres", and the target role may drop
 * it (owner or superuser), no other session is connected to it, and it
 * is not the maintenance database.
 */
void		preflight_target_droppable(preflight_ctx *c);

/*
 * On an existing target database that is kept: CREATE (and USAGE) on
 * schema public when the source has objects there, CREATE on the
 * database when the source has other schemas or extensions.
 */
void		preflight_target_create_rights(preflight_ctx *c);

/*
 * A target role that is not a superuser: the source objects only a
 * superuser can create (extensions that are not trusted, event triggers,
 * foreign-data wrappers, functions in untrusted languages, publications
 * FOR ALL TABLES).
 */
void		preflight_target_superuser_objects(preflight_ctx *c);

/*
 * Tables with row-level security the source role is subject to (neither
 * superuser, nor BYPASSRLS, nor owner without FORCE): the copy, with
 * row_security = off, would fail on them.
 */
void		preflight_source_rls(preflight_ctx *c);

/*
 * Roles the restore names that the target server does not have: owners
 * (unless --no-owner), grantees and grantors (unless --no-acl), roles in
 * policies and user mappings (always); and, for a target role that is not
 * a superuser, owners it may not give objects to.
 */
void		preflight_roles(preflight_ctx *c);

/*
 * Unless --no-tablespaces: every tablespace the source database uses
 * (its objects', its own default) that, as --tablespace-map maps it, the
 * target server lacks or the target role may not create objects in.
 */
void		preflight_tablespaces(preflight_ctx *c);

/*
 * What the target role needs to give the target database the source
 * database's own properties (preflight_database.c): the owner role
 * (unless --no-owner), the roles of its privileges (unless --no-acl) and
 * of its role settings, the rights to set its settings, and ownership of
 * a target database that is kept.
 */
void		preflight_database(preflight_ctx *c);

/*
 * The connections the clone opens at most, against what each server, the
 * roles and the databases have free (see preflight_conns.c).
 */
void		preflight_connections(preflight_ctx *c);

#endif
