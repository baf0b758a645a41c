/*
 * costmodel.c
 *		Estimated time of the data phase's tasks.
 *
 * The rates are bytes per microsecond of one worker, measured on the
 * benchmark machine (2 cores): binary COPY of plain rows, TOASTed values
 * through pglz or lz4, and CREATE INDEX per access method on a table's
 * heap.  They need not be exact: the order they give is what counts.
 */
#include "clone/costmodel.h"

#include <string.h>


#define COPY_HEAP_RATE		80	/* bytes/us: COPY of rows */
#define COPY_TOAST_PGLZ		25	/* TOASTed bytes, recompressed with pglz */
#define COPY_TOAST_LZ4		60	/* ... with lz4 */
#define FK_RATE				50	/* referencing heap checked */
#define ANALYZE_FIXED		200000	/* us: a 30,000-row sample and stats */
#define MIN_COST			1000	/* us: a statement's round trip */

typedef struct method_rate
{
	const char *name;
	int64_t		rate;			/* heap bytes/us */
} method_rate;

static const method_rate index_rates[] = {
	{"btree", 80}, {"hash", 60}, {"gin", 7}, {"gist", 10},
	{"spgist", 15}, {"brin", 500}
};

#define OTHER_INDEX_RATE 20

static int64_t
at_least(int64_t us)
{
	return us < MIN_COST ? MIN_COST : us;
}

int64_t
cost_copy(const cat_table *t, int nparts, bool lz4)
{
	int64_t		toast = t->toast_bytes > 0 ? t->toast_bytes : 0;
	int64_t		heap = t->bytes > toast ? t->bytes - toast : 0;
	int64_t		us = heap / COPY_HEAP_RATE +
		toast / (lz4 ? COPY_TOAST_LZ4 : COPY_TOAST_PGLZ);

	return at_least(us / (nparts > 0 ? nparts : 1));
}

const char *
cost_index_method(const char *indexdef, char *buf, size_t size)
{
	const char *u = indexdef ? strstr(indexdef, " USING ") : NULL;
	size_t		n = 0;

	buf[0] = '\0';
	if (u == NULL || size == 0)
		return buf;
	u += strlen(" USING ");
	while (u[n] && u[n] != ' ' && u[n] != '(' && n + 1 < size)
		n++;
	memcpy(buf, u, n);
	buf[n] = '\0';
	return buf;
}

int64_t
cost_index(const cat_table *t, const cat_index *ix)
{
	char		method[64];
	int64_t		toast = t->toast_bytes > 0 ? t->toast_bytes : 0;
	int64_t		heap = t->bytes > toast ? t->bytes - toast : 0;
	int64_t		rate = OTHER_INDEX_RATE;

	cost_index_method(ix->indexdef, method, sizeof(method));
	for (size_t i = 0; i < sizeof(index_rates) / sizeof(index_rates[0]); i++)
		if (strcmp(method, index_rates[i].name) == 0)
			rate = index_rates[i].rate;
	return at_least(heap / rate);
}

int64_t
cost_analyze(const cat_table *t)
{
	(void) t;
	return ANALYZE_FIXED;
}

int64_t
cost_fk(const cat_table *t)
{
	int64_t		toast = t->toast_bytes > 0 ? t->toast_bytes : 0;
	int64_t		heap = t->bytes > toast ? t->bytes - toast : 0;

	return at_least(heap / FK_RATE);
}
