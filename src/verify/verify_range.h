/*
 * verify_range.h
 *		Key-range descent and row diffs for verify, without any I/O.
 *
 * A table with a primary key (or a unique key over NOT NULL columns) whose
 * checksums differ is compared range by range.  A range is a half-open
 * interval [lo, hi) of key values; lo NULL means "from the first key", hi
 * NULL "to the last".  For a differing range this module decides whether
 * to fetch its rows (few enough) or to split it: the caller then samples
 * split points from one side, has both servers sum the rows of every
 * sub-range with the SAME split points, and hands the sums back here to
 * learn which sub-ranges still differ.  Once a range is small, the caller
 * fetches (key, row hash) from both sides and vrange_diff() tells which
 * keys are missing on the target, extra on the target or changed.
 *
 * Keys are arrays of ncols text values, as the servers print them; key
 * columns are NOT NULL, so no value is NULL.  Everything returned is
 * allocated here and owned by the caller, freed with the matching
 * *_free() function.
 */
#ifndef PGCRANE_VERIFY_RANGE_H
#define PGCRANE_VERIFY_RANGE_H

#include <stdbool.h>
#include <stdint.h>

/* Limits of the descent. */
typedef struct vrange_params
{
	int64_t		leaf_rows;		/* fetch rows once both sides have at most this */
	int			fanout;			/* sub-ranges per split, at least 2 */
	int			max_depth;		/* splits before rows are fetched regardless */
} vrange_params;

#define VRANGE_PARAMS_INIT {1000, 32, 16}

/* How keys compare, per column: integers by value, the rest bytewise. */
typedef struct vrange_keyspec
{
	int			ncols;
	const bool *integer;		/* ncols flags; NULL means none */
} vrange_keyspec;

typedef struct vrange
{
	char	  **lo;				/* inclusive lower bound or NULL; owned */
	char	  **hi;				/* exclusive upper bound or NULL; owned */
	int64_t		nsrc;			/* rows of the range on the source */
	int64_t		ntgt;			/* rows of the range on the target */
	int			depth;			/* 0 for the whole table */
} vrange;

/* One sub-range's row count and checksum on one side, as sent by a server. */
typedef struct vrange_sum
{
	int64_t		count;
	const char *sum;			/* NULL when the sub-range is empty */
} vrange_sum;

/* What to do with a differing range. */
typedef enum vrange_action
{
	VRANGE_FETCH,				/* fetch (key, hash) rows from both sides */
	VRANGE_SPLIT				/* sample split points, sum the sub-ranges */
} vrange_action;

/*
 * Decide for range r.  For VRANGE_SPLIT, *step is the distance in rows
 * between two split points and *from_target tells which side to sample
 * (the one with more rows in r, so that the split points cut it evenly).
 */
vrange_action vrange_next(const vrange *r, const vrange_params *p,
						  int64_t *step, bool *from_target);

/* The whole table as a range. */
vrange	   *vrange_root(int64_t nsrc, int64_t ntgt);

/*
 * Given the nbounds sorted split points sampled inside parent and the sums
 * of the nbounds + 1 sub-ranges on each side (src[i], tgt[i] for i in
 * 0..nbounds), return the sub-ranges whose counts or sums differ, in key
 * order, in a new array (*out, caller frees with vrange_free_array).
 * Sub-range i runs from bound i - 1 (parent's lo for i = 0) to bound i
 * (parent's hi for the last).  Returns the number of ranges in *out.
 */
int			vrange_children(const vrange *parent, int ncols,
							char **const *bounds, int nbounds,
							const vrange_sum *src, const vrange_sum *tgt,
							vrange ***out);

void		vrange_free(vrange *r, int ncols);
void		vrange_free_array(vrange **rs, int n, int ncols);

/* A copy of a key; free with vrange_key_free. */
char	  **vrange_key_copy(char *const *key, int ncols);
void		vrange_key_free(char **key, int ncols);

/* Order two keys as vrange_diff does: <0, 0, >0. */
int			vrange_keycmp(const vrange_keyspec *ks, char *const *a,
						  char *const *b);

/* A row of a fetched range: its key and the hash of the whole row. */
typedef struct vrange_row
{
	char	  **key;
	char	   *hash;
} vrange_row;

typedef enum vrange_diffkind
{
	VRANGE_MISSING,				/* key on the source only */
	VRANGE_EXTRA,				/* key on the target only */
	VRANGE_CHANGED				/* key on both, rows differ */
} vrange_diffkind;

/*
 * Called for each difference with the row concerned: the source's row for
 * VRANGE_MISSING and VRANGE_CHANGED, the target's for VRANGE_EXTRA.
 */
typedef void (*vrange_diff_cb) (void *arg, vrange_diffkind kind,
								const vrange_row *row);

/*
 * Sort both row lists by key (in place) and merge them, calling cb for
 * each difference in key order, at most limit times (limit < 0: no
 * limit).  Returns the number of calls; *truncated tells whether more
 * differences were left unreported.  Duplicate keys on one side (which a
 * unique key forbids) compare in order, row by row.
 */
int			vrange_diff(const vrange_keyspec *ks, vrange_row *src, int nsrc,
						vrange_row *tgt, int ntgt, int limit,
						vrange_diff_cb cb, void *arg, bool *truncated);

/*
 * The differences of one table, gathered over several fetched ranges
 * before they are reported.
 */
typedef struct vrange_found
{
	vrange_diffkind kind;
	char	  **key;			/* owned */
	char	   *hash;			/* owned */
} vrange_found;

/*
 * Sort found differences by key and settle the ones two ranges disagree
 * about: when the servers order a key differently (different collations)
 * the row can land in one range on the source and in another on the
 * target, and be found from both.  The same difference found twice is
 * kept once; a key missing from one range and extra in another is
 * dropped when the row hashes match and becomes one VRANGE_CHANGED when
 * they do not.  Returns the new count; entries dropped are freed.
 */
int			vrange_reconcile(const vrange_keyspec *ks, vrange_found *f, int n);

/*
 * Format a key as PostgreSQL prints one in a unique violation:
 * "(a, b)=(1, x)".  Returns a new string; the caller frees it.
 */
char	   *vrange_key_format(const char *const *colnames, char *const *key,
							  int ncols);

#endif
