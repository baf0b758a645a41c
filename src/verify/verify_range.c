/*
 * verify_range.c
 *		Key-range descent and row diffs for verify, without any I/O.
 *
 * The descent starts from the whole table, whose row counts on both sides
 * are known from the checksum pass.  A range with more than leaf_rows rows
 * on either side is split into up to fanout sub-ranges: the side with more
 * rows in it is sampled every "step" rows in key order, which cuts that
 * side evenly; both sides then sum the same sub-ranges, and only those
 * whose count or sum differ are kept.  The other side may still hold many
 * rows in one sub-range, but then it is the larger side at the next level
 * and gets cut there, so the ranges shrink at least every second level;
 * max_depth bounds the descent anyway.
 *
 * A small range is fetched from both sides as (key, row hash) lists and
 * merged.  The servers order keys by their own rules, which pgcrane cannot
 * reproduce for every type, so the merge sorts both lists itself with one
 * comparison used on both sides: integer columns by value, everything else
 * bytewise.  Any total order works for matching keys; integers by value
 * only make the report read in the natural order.
 */
#include "verify/verify_range.h"

#include <stdlib.h>
#include <string.h>

#include "util/str.h"

vrange_action
vrange_next(const vrange *r, const vrange_params *p, int64_t *step,
			bool *from_target)
{
	int64_t		n = r->nsrc > r->ntgt ? r->nsrc : r->ntgt;
	int			fanout = p->fanout < 2 ? 2 : p->fanout;

	*step = 0;
	*from_target = r->ntgt > r->nsrc;
	if (n <= p->leaf_rows || r->depth >= p->max_depth)
		return VRANGE_FETCH;
	*step = (n + fanout - 1) / fanout;
	if (*step < 1)
		*step = 1;
	return VRANGE_SPLIT;
}

vrange *
vrange_root(int64_t nsrc, int64_t ntgt)
{
	vrange	   *r = xcalloc(1, sizeof(vrange));

	r->nsrc = nsrc;
	r->ntgt = ntgt;
	return r;
}

char	  **
vrange_key_copy(char *const *key, int ncols)
{
	char	  **copy;

	if (key == NULL)
		return NULL;
	copy = xcalloc((size_t) (ncols > 0 ? ncols : 1), sizeof(char *));
	for (int i = 0; i < ncols; i++)
		copy[i] = xstrdup(key[i]);
	return copy;
}

void
vrange_key_free(char **key, int ncols)
{
	if (key == NULL)
		return;
	for (int i = 0; i < ncols; i++)
		free(key[i]);
	free(key);
}

void
vrange_free(vrange *r, int ncols)
{
	if (r == NULL)
		return;
	vrange_key_free(r->lo, ncols);
	vrange_key_free(r->hi, ncols);
	free(r);
}

void
vrange_free_array(vrange **rs, int n, int ncols)
{
	for (int i = 0; i < n; i++)
		vrange_free(rs[i], ncols);
	free(rs);
}

static bool
sums_equal(const vrange_sum *a, const vrange_sum *b)
{
	if (a->count != b->count)
		return false;
	if (a->count == 0)
		return true;
	if (a->sum == NULL || b->sum == NULL)
		return a->sum == b->sum;
	return strcmp(a->sum, b->sum) == 0;
}

int
vrange_children(const vrange *parent, int ncols, char **const *bounds,
				int nbounds, const vrange_sum *src, const vrange_sum *tgt,
				vrange ***out)
{
	vrange	  **kids = xcalloc((size_t) nbounds + 1, sizeof(vrange *));
	int			n = 0;

	for (int i = 0; i <= nbounds; i++)
	{
		vrange	   *k;

		if (sums_equal(&src[i], &tgt[i]))
			continue;
		k = xcalloc(1, sizeof(vrange));
		k->lo = vrange_key_copy(i == 0 ? parent->lo : bounds[i - 1], ncols);
		k->hi = vrange_key_copy(i == nbounds ? parent->hi : bounds[i], ncols);
		k->nsrc = src[i].count;
		k->ntgt = tgt[i].count;
		k->depth = parent->depth + 1;
		kids[n++] = k;
	}
	*out = kids;
	return n;
}

/* Compare two integers printed in base 10 ("-12", "7") by value. */
static int
intcmp(const char *a, const char *b)
{
	bool		nega = (*a == '-');
	bool		negb = (*b == '-');
	size_t		la,
				lb;
	int			c;

	if (nega != negb)
		return nega ? -1 : 1;
	if (nega)
	{
		a++;
		b++;
	}
	la = strlen(a);
	lb = strlen(b);
	if (la != lb)
		c = la < lb ? -1 : 1;
	else
		c = strcmp(a, b);
	if (c != 0)
		c = c < 0 ? -1 : 1;
	return nega ? -c : c;
}

int
vrange_keycmp(const vrange_keyspec *ks, char *const *a, char *const *b)
{
	for (int i = 0; i < ks->ncols; i++)
	{
		int			c;

		if (ks->integer && ks->integer[i])
			c = intcmp(a[i], b[i]);
		else
			c = strcmp(a[i], b[i]);
		if (c != 0)
			return c < 0 ? -1 : 1;
	}
	return 0;
}

static int
rowcmp(const void *a, const void *b, void *arg)
{
	const vrange_row *ra = a;
	const vrange_row *rb = b;

	return vrange_keycmp(arg, ra->key, rb->key);
}

/* Report one difference unless the limit is reached; false when it is. */
static bool
emit(int limit, int *count, bool *truncated, vrange_diff_cb cb, void *arg,
	 vrange_diffkind kind, const vrange_row *row)
{
	if (limit >= 0 && *count >= limit)
	{
		*truncated = true;
		return false;
	}
	cb(arg, kind, row);
	(*count)++;
	return true;
}

int
vrange_diff(const vrange_keyspec *ks, vrange_row *src, int nsrc,
			vrange_row *tgt, int ntgt, int limit, vrange_diff_cb cb,
			void *arg, bool *truncated)
{
	int			i = 0,
				j = 0,
				count = 0;

	*truncated = false;
	qsort_r(src, (size_t) nsrc, sizeof(vrange_row), rowcmp, (void *) ks);
	qsort_r(tgt, (size_t) ntgt, sizeof(vrange_row), rowcmp, (void *) ks);
	while (i < nsrc || j < ntgt)
	{
		int			c;
		bool		ok = true;

		if (i >= nsrc)
			c = 1;
		else if (j >= ntgt)
			c = -1;
		else
			c = vrange_keycmp(ks, src[i].key, tgt[j].key);

		if (c < 0)
			ok = emit(limit, &count, truncated, cb, arg, VRANGE_MISSING,
					  &src[i++]);
		else if (c > 0)
			ok = emit(limit, &count, truncated, cb, arg, VRANGE_EXTRA,
					  &tgt[j++]);
		else
		{
			if (strcmp(src[i].hash, tgt[j].hash) != 0)
				ok = emit(limit, &count, truncated, cb, arg, VRANGE_CHANGED,
						  &src[i]);
			i++;
			j++;
		}
		if (!ok)
			break;
	}
	return count;
}

static int
found_cmp(const void *a, const void *b, void *arg)
{
	const vrange_found *x = a;
	const vrange_found *y = b;
	int			c = vrange_keycmp(arg, x->key, y->key);

	if (c != 0)
		return c;
	return (int) x->kind - (int) y->kind;
}

int
vrange_reconcile(const vrange_keyspec *ks, vrange_found *f, int n)
{
	int			out = 0;

	qsort_r(f, (size_t) n, sizeof(vrange_found), found_cmp, (void *) ks);
	for (int i = 0; i < n; i++)
	{
		vrange_found *next = i + 1 < n ? &f[i + 1] : NULL;

		if (out > 0 && f[out - 1].kind == f[i].kind &&
			vrange_keycmp(ks, f[out - 1].key, f[i].key) == 0)
		{
			vrange_key_free(f[i].key, ks->ncols);
			free(f[i].hash);
			continue;
		}

		if (next && f[i].kind == VRANGE_MISSING && next->kind == VRANGE_EXTRA &&
			vrange_keycmp(ks, f[i].key, next->key) == 0)
		{
			bool		same = strcmp(f[i].hash, next->hash) == 0;

			vrange_key_free(next->key, ks->ncols);
			free(next->hash);
			i++;
			if (same)
			{
				vrange_key_free(f[i - 1].key, ks->ncols);
				free(f[i - 1].hash);
				continue;
			}
			f[i - 1].kind = VRANGE_CHANGED;
			f[out++] = f[i - 1];
			continue;
		}
		f[out++] = f[i];
	}
	return out;
}

char *
vrange_key_format(const char *const *colnames, char *const *key, int ncols)
{
	strbuf		sb = STRBUF_INIT;

	strbuf_adds(&sb, "(");
	for (int i = 0; i < ncols; i++)
		strbuf_addf(&sb, "%s%s", i > 0 ? ", " : "", colnames[i]);
	strbuf_adds(&sb, ")=(");
	for (int i = 0; i < ncols; i++)
		strbuf_addf(&sb, "%s%s", i > 0 ? ", " : "", key[i]);
	strbuf_adds(&sb, ")");
	return strbuf_detach(&sb);
}
