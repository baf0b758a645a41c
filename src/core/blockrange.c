/*
 * blockrange.c
 *		Ranges of a table's heap blocks.
 */
#include "core/blockrange.h"

#include "util/str.h"

block_range
blockrange_part(int64_t blocks, int i, int n)
{
	block_range r;

	if (blocks < 0)
		blocks = 0;
	r.first = blocks * i / n;
	r.end = i == n - 1 ? -1 : blocks * (i + 1) / n;
	return r;
}

void
blockrange_split(int64_t blocks, int n, block_range *out)
{
	for (int i = 0; i < n; i++)
		out[i] = blockrange_part(blocks, i, n);
}

char *
blockrange_condition(const block_range *r)
{
	if (r->first <= 0 && r->end < 0)
		return NULL;
	if (r->first <= 0)
		return str_printf("ctid < '(%lld,0)'::pg_catalog.tid", (long long) r->end);
	if (r->end < 0)
		return str_printf("ctid >= '(%lld,0)'::pg_catalog.tid", (long long) r->first);
	return str_printf("ctid >= '(%lld,0)'::pg_catalog.tid AND ctid < '(%lld,0)'::pg_catalog.tid",
					  (long long) r->first, (long long) r->end);
}
