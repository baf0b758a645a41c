/*
 * select.h
 *		A clone of part of a database, or into another shape.
 *
 * The archive is always dumped whole (pg_dump's own -n/-t would leave
 * out the schemas and extensions that the selected tables need, and
 * pg_dump 15 has no --filter); what the selection (selres.h) leaves out
 * is commented out of the TOC lists of both restores, with every entry
 * that depends on it.  The data phase copies the tables the catalog
 * keeps: csel_apply_catalog drops the others, the tables whose rows stay
 * behind, the sequences left out, and the columns left out of the copy's
 * column list.  The columns are dropped on the target right after the
 * pre-data restore (csel_drop_columns), while the tables are empty.
 *
 * Renames are the clone's very last step before the database's
 * properties (csel_rename): the restore and the copy write under the
 * source's names, then ALTER TABLE ... RENAME and ALTER SCHEMA ... RENAME
 * in one transaction.  Every reference the catalog keeps by OID follows
 * (defaults, foreign keys, views, OWNED BY, types of columns); function
 * bodies are text and keep the old names.
 */
#ifndef PGCRANE_CLONE_SELECT_H
#define PGCRANE_CLONE_SELECT_H

#include <libpq-fe.h>

#include "clone/schema.h"
#include "core/catalog.h"
#include "core/selection.h"
#include "core/selres.h"

/* The TOC keys r leaves out (you own the array); *n of them. */
schema_toc_key *csel_toc_keys(const selres *r, int *n);

/*
 * Keep in cat what the selection copies (see above); src is the source
 * connection the catalog was read on.  0 or -1 (logged).
 */
int			csel_apply_catalog(PGconn *src, const selection *sel, const selres *r,
							   catalog *cat);

/*
 * Drop the columns --exclude-column names on the target, through tgt (the
 * caller's, proved to reach the recorded target); 0 or -1 (logged).
 */
int			csel_drop_columns(PGconn *tgt, const selection *sel);

/* The renames, in one transaction on tgt (as above); 0 or -1 (logged). */
int			csel_rename(PGconn *tgt, const selection *sel);

#endif
