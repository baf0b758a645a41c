/*
 * blockrange.h
 *		Ranges of a table's heap blocks, so several sessions can each
 *		read one part of a table at the same time.
 *
 * One planner for every reader: the clone's copy of a split table
 * (clone/copy.c) and verify's checksum of a large one (verify/
 * verify_data.c).  A range selects rows by ctid, which PostgreSQL 14 and
 * later scan as a TID range (only the blocks asked for are read).  The
 * first range starts at block 0 and the last has no upper bound, so rows
 * in blocks added after the size was read are still read once.  The
 * module is pure: no I/O, no state.
 */
#ifndef PGCRANE_BLOCKRANGE_H
#define PGCRANE_BLOCKRANGE_H

#include <stdint.h>

/* Blocks [first, end) of a table; end -1: to the table's end. */
typedef struct block_range
{
	int64_t		first;
	int64_t		end;
} block_range;

/*
 * Split a table of "blocks" heap blocks into n ranges (n >= 1) of about
 * equal size: range i starts at blocks * i / n, the last is open-ended.
 * With fewer blocks than ranges some ranges are empty, which is harmless
 * to a reader; callers that want no empty range ask for at most "blocks".
 */
void		blockrange_split(int64_t blocks, int n, block_range *out);

/* Range i (0 <= i < n) of the same split. */
block_range blockrange_part(int64_t blocks, int i, int n);

/*
 * The SQL condition selecting the rows of r, for after WHERE or AND:
 * "ctid >= '(a,0)'::pg_catalog.tid AND ctid < '(b,0)'::pg_catalog.tid",
 * each bound left out when it is the table's start or end; NULL when r
 * is the whole table.  Newly allocated (caller frees); aborts on out of
 * memory.  The numbers are pgcrane's own, so printing them is safe.
 */
char	   *blockrange_condition(const block_range *r);

#endif
