/*
 * clone.h
 *		A whole clone, phase by phase.
 */
#ifndef PGCRANE_CLONE_H
#define PGCRANE_CLONE_H

#include "clone/roles.h"
#include "clone/tablespace.h"
#include "core/selection.h"
#include "core/status.h"

#include <stdbool.h>
#include <stdint.h>

/* split_bytes: choose from the database's size (see clone.c). */
#define CLONE_SPLIT_AUTO (-1)
/* Tables below this are never split with "auto". */
#define CLONE_SPLIT_MIN ((int64_t) 256 * 1024 * 1024)

typedef struct clone_options
{
	const char *source;
	const char *target;
	const char *dir;
	int			jobs;
	int			index_jobs;
	int64_t		split_bytes;
	bool		no_owner;
	bool		no_acl;
	bool		drop_if_exists;
	bool		json;
	bool		verify;
	bool		resume;			/* finish the clone recorded in dir */
	bool		follow;			/* then apply changes until cutover */
	int			hold_seconds;	/* snapshot kept this long for a resume */
	const char *toast_compression;	/* "pglz", "lz4"; NULL: the target's */
	roles_mode	roles;			/* --roles: create the missing roles */
	tablespace_map tablespaces; /* --tablespace-map */
	bool		no_tablespaces;
	selection	sel;			/* --include-schema, --rename-schema, ... */
	bool		plan;			/* --plan: say what would be done, only */
	bool		replica_identity_full;	/* with follow: set it on the source's
										 * tables without one (cdc/replident.h) */
	const char *ddl;			/* --ddl with --follow: "apply" or "stop";
								 * NULL: apply */
	int			apply_jobs;		/* --apply-jobs with --follow; 0: default */
} clone_options;

/*
 * Run preflight, then the clone (or, with resume, what the state file in
 * dir records as not done): snapshot, schema, data and indexes,
 * sequences, post-data; print the summary.  Returns a run status
 * (RUN_OK, RUN_CHECK_FAILED when preflight found problems, RUN_FAILED,
 * RUN_INTERRUPTED).
 */
run_status			clone_run(const clone_options *o);

/*
 * clone --plan: what the clone would copy, rename and leave out, with
 * sizes, as text or (json) JSON on stdout; reads the source only and
 * creates nothing anywhere.  RUN_OK, RUN_CHECK_FAILED when the
 * selection has problems (logged), or RUN_FAILED.
 */
run_status			clone_plan(const clone_options *o);

#endif
