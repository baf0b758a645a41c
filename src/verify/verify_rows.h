/*
 * verify_rows.h
 *		Find the differing rows of a keyed table, by key range.
 *
 * The servers' side of the descent that verify_range.h plans: the SQL
 * that samples split points, sums the rows of every sub-range on both
 * sides and fetches (key, row hash) lists.  Key values come back from the
 * servers as text and return to them only as query parameters of the key
 * columns' types.
 */
#ifndef PGCRANE_VERIFY_ROWS_H
#define PGCRANE_VERIFY_ROWS_H

#include <stdbool.h>
#include <stdint.h>

#include "verify/verify_report.h"
#include "verify/verify_session.h"
#include "verify/verify_table.h"

/*
 * Descend into table t, known to hold nsrc rows on the source and ntgt on
 * the target with different checksums, and add to r each differing row
 * (at most max_rows).  *found gets the number added, *truncated whether
 * more differ.  0 or -1 (logged).
 */
int			vrows_descend(vsession *s, const vtable *t, int64_t nsrc,
						  int64_t ntgt, int max_rows, vreport *r, int *found,
						  bool *truncated);

#endif
