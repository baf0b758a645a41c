/*
 * preflight.h
 *		Check both servers before anything is touched.
 *
 * preflight_run() connects to both sides and checks everything a clone
 * needs, so that a clone that would fail stops before it creates anything
 * (the target database, a slot, a snapshot holder): versions, a pg_dump at
 * least as new as the source, read access to every table and sequence
 * without row-level security in the way, a target server that can be
 * written (not a standby, not read-only), a target database that is not a
 * template and is present and empty or absent and creatable (or droppable
 * with --drop-if-exists), the target role's right to create what the
 * restore creates, the roles that own or hold privileges on source
 * objects (and, with --roles, whether the target role can create the
 * missing ones), the tablespaces the source uses, enough free connections on both servers for --jobs and
 * --index-jobs, the extensions the source uses, encodings.  It logs every
 * problem it finds, one line each, and never changes anything.
 */
#ifndef PGCRANE_PREFLIGHT_H
#define PGCRANE_PREFLIGHT_H

#include <stdbool.h>

#include "core/identity.h"
#include "clone/roles.h"
#include "clone/schema.h"
#include "clone/tablespace.h"
#include "core/selection.h"

typedef struct preflight_options
{
	const char *source;
	const char *target;
	bool		drop_if_exists;
	bool		resume;			/* the target holds an unfinished clone */
	bool		follow;			/* also check what following changes needs */
	const char *toast_compression;	/* "pglz", "lz4" or NULL: the target's */
	bool		no_owner;		/* the restore sets no owners */
	bool		no_acl;			/* the restore sets no privileges */
	int			jobs;			/* copy workers (at least 1) */
	int			index_jobs;		/* index workers (at least 1) */
	roles_mode	roles;			/* the clone creates missing roles */
	bool		quiet_roles;	/* do not list what --roles will do */
	const tablespace_map *tablespace_map;	/* --tablespace-map, or NULL */
	bool		no_tablespaces; /* objects to the default tablespace */
	const selection *sel;		/* the selection's rules, or NULL */
	bool		replica_identity_full;	/* with follow: pgcrane sets it on the
										 * tables without a replica identity */
} preflight_options;

typedef struct preflight_info
{
	int			source_num;		/* server_version_num */
	int			target_num;
	char	   *source_db;		/* owned */
	char	   *target_db;		/* owned */
	bool		target_exists;
	bool		target_empty;
	char	   *encoding;		/* the source database's; owned */
	char	   *collate;
	char	   *ctype;
	char	   *locale_provider;	/* "c", "i" or NULL before PostgreSQL 15 */
	char	   *icu_locale;
	pg_tools tools;
	char	   *toast_default;	/* target's default_toast_compression, NULL
								 * before PostgreSQL 14; owned */
	bool		toast_lz4;		/* the target can compress with lz4 */
	int64_t		wal_buffers;	/* the target's wal_buffers in bytes, 0
								 * when not known */
	db_identity source_id;		/* what the source connection reaches */
	db_identity target_id;		/* the target database, or its server when
								 * the database does not exist (db_oid 0) */
	bool		same_database;	/* source and target are one database */
	int			problems;		/* problems found */
	bool		unreachable;	/* a server could not be reached */
	bool		progress_table; /* with follow, in a target database that
								 * is kept: the role may not use
								 * replication origins there */
	char	   *roles_needed;	/* the roles the restore names, as a
								 * text[] literal; owned */
} preflight_info;

/*
 * Run every check.  Returns 0 when there is no problem, otherwise -1; the
 * problems were logged, and info says what was found.  Release info with
 * preflight_info_release().
 */
int			preflight_run(const preflight_options *o, preflight_info *info);
void		preflight_info_release(preflight_info *info);

/* Print what preflight found (versions, tools) as text or JSON. */
void		preflight_print(const preflight_info *info, bool json);

#endif
