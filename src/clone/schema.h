/*
 * schema.h
 *		The schema, moved by pg_dump and pg_restore.
 *
 * The schema is dumped once, in the clone's snapshot, as a custom-format
 * archive of the pre-data and post-data sections (DIR/schema.dump; no
 * table data goes through files).  Pre-data is restored before the copy.
 * Of post-data, the indexes and the primary key, unique and exclusion
 * constraints are built by pgcrane's own workers as soon as each table's
 * rows are in (see index.h); everything else (foreign keys, triggers,
 * rules, policies, partition index attachments, materialized view data,
 * comments on those) is restored by pg_restore at the end from a TOC list
 * with the entries pgcrane built commented out.
 */
#ifndef PGCRANE_SCHEMA_H
#define PGCRANE_SCHEMA_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/interrupt.h"
#include "core/pgtools.h"

typedef struct schema_restore_opts
{
	bool		no_owner;
	bool		no_acl;
	int			jobs;
	bool		clean;			/* drop what an earlier attempt created first */
	const interrupt_flag *cancel;
	bool		no_tablespaces; /* objects to the default tablespace (or as
								 * tablespace.h places them after) */
} schema_restore_opts;

/* Dump pre-data and post-data in snapshot snap to path; 0 or -1 (logged). */
int			schema_dump(const pg_tools *tools, const char *source,
						const char *snap, const char *path,
						const interrupt_flag *cancel);

/* Restore the pre-data section into the target; 0 or -1 (logged). */
int			schema_restore_pre(const pg_tools *tools, const char *target,
							   const char *dump, const schema_restore_opts *o);

/*
 * A TOC entry pgcrane builds itself, identified like pg_restore -l does:
 * the catalog's OID (1259 pg_class for an index, 2606 pg_constraint for a
 * constraint) and the object's OID.
 */
typedef struct schema_toc_key
{
	uint32_t	catalog;
	uint32_t	oid;
} schema_toc_key;

#define SCHEMA_TOC_INDEX 1259
#define SCHEMA_TOC_CONSTRAINT 2606
#define SCHEMA_TOC_RELATION 1259
#define SCHEMA_TOC_SCHEMA 2615
#define SCHEMA_TOC_FUNCTION 1255
/* With OID 0: every large object (pg_largeobject_metadata). */
#define SCHEMA_TOC_LARGE_OBJECT 2613

/*
 * What a selection leaves out of the archive: entries with these keys,
 * and every entry that depends on one of them, directly or not (an index
 * on a table left out, the functions of a schema left out, comments and
 * privileges on them).
 */
typedef struct schema_exclusion
{
	const schema_toc_key *keys;
	int			nkeys;
} schema_exclusion;

/*
 * Write the archive's TOC list to list_path with the entries in skip
 * commented out, and the comments and security labels that depend on them
 * moved to a list of their own (list_path with ".dependents" appended),
 * restored by schema_restore_post after the rest; report through found[i] whether skip[i] was in the
 * archive at all.  The publication named skip_publication (if not NULL),
 * pgcrane's own for following changes, is left out too.  0 or -1 (logged).
 */
int			schema_write_list(const pg_tools *tools, const char *dump,
							  const char *list_path, const schema_toc_key *skip,
							  int nskip, bool *found,
							  const char *skip_publication,
							  const schema_exclusion *out);

/*
 * The archive's TOC list with what out leaves out commented out, into
 * list_path, for the pre-data restore of a selection.  0 or -1 (logged).
 */
int			schema_write_selection_list(const pg_tools *tools, const char *dump,
										const char *list_path,
										const schema_exclusion *out);

/* Restore the pre-data section of the entries of list_path; 0 or -1 (logged). */
int			schema_restore_pre_list(const pg_tools *tools, const char *target,
									const char *dump, const char *list_path,
									const schema_restore_opts *o);

/*
 * Filter one line of "pg_restore -l" output: returns true when the line is
 * an entry whose catalog and object OIDs are keys in skip (pure; tested).
 */
bool		schema_toc_line_matches(const char *line, const schema_toc_key *skip,
									int nskip, int *which);

/*
 * "pg_restore --list" of dump (with create, as with --create: the
 * database's own entries too) into out_path.  0 or -1 (logged).
 */
int			schema_list(const pg_tools *tools, const char *dump, bool create,
						const char *out_path);

/*
 * The SQL of the entries of list_path, as "pg_restore --create" writes it
 * (--no-owner and --no-acl from o), into out_path; no connection is made.
 * 0 or -1 (logged).
 */
int			schema_restore_sql(const pg_tools *tools, const char *dump,
							   const char *list_path, const char *out_path,
							   const schema_restore_opts *o);

/*
 * Restore post-data from the list; then, without --section, the comments
 * and security labels of the entries pgcrane built (schema_write_list put
 * them in their own list).  0 or -1 (logged).
 */
int			schema_restore_post(const pg_tools *tools, const char *target,
								const char *dump, const char *list_path,
								const schema_restore_opts *o);

#endif
