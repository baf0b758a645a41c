/*
 * copy.h
 *		Stream a table's rows from the source to the target.
 *
 * A table is copied whole or, when it is larger than the split threshold,
 * as several parts, each a range of heap blocks (ctid ranges) that another
 * worker can copy at the same time.  Rows flow from COPY ... TO STDOUT on
 * the source straight into COPY ... FROM STDIN on the target; nothing is
 * written to disk.  A whole table is copied as TRUNCATE + COPY FREEZE in
 * one target transaction, so it needs no VACUUM afterwards and a retry
 * never duplicates rows.
 */
#ifndef PGCRANE_COPY_H
#define PGCRANE_COPY_H

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "core/interrupt.h"

#include "core/catalog.h"

/* Part of a table: heap blocks [first_block, end_block); end -1 = to the end. */
typedef struct copy_part
{
	int			partno;
	int			nparts;
	int64_t		first_block;
	int64_t		end_block;
} copy_part;

/* Most parts a table is split into. */
#define COPY_MAX_PARTS 64

/*
 * The number of equal shares t is split into for the threshold
 * split_bytes (0 = never split): a multiple of workers where it can, at
 * most COPY_MAX_PARTS and one per heap block.  Pure function.
 */
int			copy_split_shares(const cat_table *t, int64_t split_bytes, int workers);

/*
 * Plan the parts of t: its shares in block order, whole, except that
 * with several workers the last round of shares is cut into one half,
 * one quarter and two eighths of a share per worker (smaller parts last,
 * so the workers end together).  Returns the number of parts written to parts[] (at
 * most COPY_MAX_PARTS); they cover every block once, the last is
 * open-ended.  Pure function.
 */
int			copy_plan_parts(const cat_table *t, int64_t split_bytes, int workers,
							copy_part *parts);

typedef struct copy_result
{
	int64_t		rows;
	int64_t		bytes;
} copy_result;

/*
 * Copy one part.  src must be in the clone's snapshot; tgt idle.  Bytes
 * are added to *bytes_counter as they flow (for progress).  When *cancel
 * becomes non-zero the copy stops and the target transaction rolls back.
 * 0 or -1 (logged: could not copy table "s.t": ...).
 */
int			copy_table_part(PGconn *src, PGconn *tgt, const cat_table *t,
							const copy_part *part, copy_result *result,
							_Atomic int64_t *bytes_counter,
							const interrupt_flag *cancel);

#endif
