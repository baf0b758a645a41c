/*
 * costmodel.h
 *		How long each task of the clone's data phase takes, estimated from
 *		the source catalog, so that the task engine can start the longest
 *		chains of work first (tasks.h ranks every task by its cost plus
 *		the longest chain after it).
 *
 * Estimates are microseconds of one worker on a machine like the ones
 * pgcrane's benchmarks run on; only their ratios matter for the order.
 * A copy costs by the bytes it moves, TOASTed bytes more (they are
 * decompressed on the source and compressed again on the target, with
 * pglz unless --toast-compression says lz4); an index build by the heap
 * it reads and its access method (a GIN index over jsonb is six times a
 * B-tree, an expression three times); a foreign key by the referencing table it checks; ANALYZE by
 * the pages of its sample.  The phases around the data phase cost a fixed time plus
 * a time per object they handle (cost_phase).  The module is pure: no
 * I/O.  costmodel.c says how the rates were measured.
 */
#ifndef PGCRANE_COSTMODEL_H
#define PGCRANE_COSTMODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/catalog.h"
#include "core/copy.h"

/* One part of nparts of table t's copy; lz4: the TOAST is written with lz4. */
int64_t		cost_copy(const cat_table *t, int nparts, bool lz4);

/*
 * Part p of table t's copy: its share of the table's blocks (parts of a
 * split may differ in size).
 */
int64_t		cost_copy_part(const cat_table *t, const copy_part *p, bool lz4);

/* Building index ix of table t (and attaching its constraint). */
int64_t		cost_index(const cat_table *t, const cat_index *ix);

/*
 * What the first reader of table t pays when t was copied in parts: the
 * parts are not copied with FREEZE (only a whole table is, in the
 * transaction that empties it), so the first index build or ANALYZE
 * sets the hint bits of every row and writes every page again.
 */
int64_t		cost_hint_bits(const cat_table *t);

/* ANALYZE of table t. */
int64_t		cost_analyze(const cat_table *t);

/* Adding and checking a foreign key whose referencing table is t. */
int64_t		cost_fk(const cat_table *t);

/*
 * A phase of the clone other than the data phase ("preflight", "schema",
 * "post-data" ...: clone.c's names), for the objects of cat; 0 for a name
 * it does not know.
 */
int64_t		cost_phase(const char *name, const catalog *cat);

/* The access method of an index definition ("btree", "gin" ...) into buf. */
const char *cost_index_method(const char *indexdef, char *buf, size_t size);

#endif
