/*
 * index.h
 *		Build a table's indexes and index-backed constraints on the target.
 *
 * A primary key or unique constraint is built as its unique index first,
 * then attached with ALTER TABLE ... ADD CONSTRAINT ... USING INDEX, which
 * takes the strong lock only for a moment; an exclusion constraint, or a
 * key whose index USING INDEX cannot take, is added directly.  What
 * pg_dump would have appended to the index's entry (REPLICA IDENTITY,
 * CLUSTER ON, ALTER INDEX ... ALTER COLUMN ... SET STATISTICS, DEPENDS ON
 * EXTENSION) is applied too.  The index goes to ix->tablespace (the
 * source's, as --tablespace-map maps it; see tablespace.h).  The entries
 * that depend on it in the archive (COMMENT, SECURITY LABEL) are restored
 * after the post-data restore (schema.h).
 */
#ifndef PGCRANE_INDEX_H
#define PGCRANE_INDEX_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "core/catalog.h"

/*
 * Build ix on table t; 0 or -1 (logged: could not create index "s.i": ...).
 * With retry, first drop what an earlier attempt may have left.
 */
int			index_build(PGconn *tgt, const cat_table *t, const cat_index *ix,
						bool retry);

#endif
