/*
 * roles.h
 *		Create on the target server the roles a clone needs (--roles).
 *
 * A plan is read from both servers: the source roles to create (those the
 * restore names, and the roles they are members of, transitively; or,
 * with --roles=all, every role of the source server), each with its
 * attributes, settings (ALTER ROLE ... SET) and, when the source role may
 * read pg_authid, its password verifier; the memberships among them; and
 * what the target role may grant.  Roles that already exist on the target
 * are left as they are; roles a managed service reserves (pg_*, rds*,
 * cloudsql*, azure*, ...) are never created.  Attributes the target role
 * may not give (SUPERUSER, REPLICATION, BYPASSRLS without superuser) are
 * left out, and said.
 *
 * A password verifier is a secret: it lives in memory only (cleared when
 * the plan is released), goes to the target in one ALTER ROLE statement
 * on the libpq connection, and is never logged or written anywhere.
 */
#ifndef PGCRANE_ROLES_H
#define PGCRANE_ROLES_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "core/identity.h"

typedef enum roles_mode
{
	ROLES_NONE = 0,				/* create nothing */
	ROLES_NEEDED,				/* --roles: the roles the database needs */
	ROLES_ALL					/* --roles=all: every role of the server */
} roles_mode;

typedef struct role_def
{
	char	   *name;
	bool		exists;			/* on the target: left untouched */
	bool		reserved;		/* a provider's or predefined role */
	bool		super;
	bool		inherit;
	bool		createrole;
	bool		createdb;
	bool		login;
	bool		replication;
	bool		bypassrls;
	int			connlimit;
	char	   *valid_until;	/* NULL: none */
	char	   *password;		/* verifier, a secret; NULL: none or unread */
	bool		had_password;	/* the source role has one (when readable) */
	char	  **settings;		/* "name=value", from pg_db_role_setting */
	int			nsettings;
} role_def;

typedef struct role_grant
{
	char	   *role;			/* granted role */
	char	   *member;
	bool		admin;
} role_grant;

typedef struct roles_plan
{
	role_def   *roles;			/* sorted by name */
	int			nroles;
	role_grant *grants;
	int			ngrants;
	bool		passwords_read; /* pg_authid was readable on the source */
	bool		tgt_super;		/* the target role is a superuser */
	bool		tgt_createrole;
} roles_plan;

#define ROLES_PLAN_INIT {NULL, 0, NULL, 0, false, false, false}

/*
 * Read the plan: mode ROLES_ALL takes every source role, ROLES_NEEDED the
 * roles named in needed (a text[] literal, as preflight builds it), the
 * source database's owner with db_owner, and the roles they are members
 * of.  0 or -1 (logged).  Release with roles_plan_release(), which also
 * clears the verifiers.
 */
int			roles_plan_read(PGconn *src, PGconn *tgt, roles_mode mode,
							const char *needed, bool db_owner, roles_plan *plan);
void		roles_plan_release(roles_plan *plan);

/* How many roles of the plan are to be created. */
int			roles_plan_missing(const roles_plan *plan);

/*
 * The attributes of r the target role may not give, as " SUPERUSER
 * REPLICATION" (static buffer; "" when none).
 */
const char *roles_skipped_attributes(const roles_plan *plan, const role_def *r);

/*
 * Log what the plan will do or did (verb "will be created" or "created"):
 * roles existing and untouched, reserved roles skipped, attributes left
 * out, roles without a password.  Info lines, warnings for what is lost.
 */
void		roles_plan_report(const roles_plan *plan, bool done);

/*
 * Create the missing roles on tgt, then their settings and memberships.
 * The names of the roles created go into *created (a NULL-terminated
 * array, the caller's to free with roles_free_names), also on failure.
 * 0 or -1 (logged); a setting or membership the target refuses is a
 * warning only.
 */
int			roles_create(PGconn *tgt, const roles_plan *plan, char ***created);

/*
 * Drop the roles in names (created by this run), newest first, on the
 * target server's maintenance database, once that connection is proved to
 * reach the server "server" (the target preflight saw: system identifier
 * and start time).  A role that still owns or holds something elsewhere
 * stays, with a warning.  0 or -1 (logged).
 */
int			roles_drop_created(const char *target, char **names,
							   const db_identity *server);

void		roles_free_names(char **names);

/* Whether name is reserved by PostgreSQL or a managed service (pure). */
bool		roles_name_reserved(const char *name);

#endif
