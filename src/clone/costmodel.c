/*
 * costmodel.c
 *		Estimated time of the data phase's tasks and of the other phases.
 *
 * The rates are bytes per microsecond of one worker while --jobs workers
 * share the machine, measured on the benchmark machine (2 cores, source
 * and target servers on it, --jobs 2; bench/run.sh --shape issue and
 * mixed, 2026-12-02): binary COPY of plain rows (pgbench_accounts: 36 to
 * 63 bytes/us of heap), TOASTed values through pglz (27 to 49) or lz4
 * (84 to 155: the 2.9 GB issue shape's data phase took 34.6 to 50.6 s with
 * pglz and 20.5 to 35.4 s with lz4 in the runs of 2026-12-02, the longest
 * in a slower spell of the machine, against 42.9 s and 25.9 s predicted
 * with these rates), CREATE INDEX per access method on a table's
 * heap (B-tree 120 to 330, B-tree over an expression about a third of
 * that, GIN on jsonb 15 to 28, GIN with jsonb_path_ops or over an array
 * up to 100), ANALYZE by the pages of its sample.  The first build on a
 * table copied in parts also sets its hint bits (the huge shape: a B-tree
 * on 420 MB took 4.2 s after a copy in two parts, 1.2 s after a whole
 * copy with FREEZE).  Every task also pays
 * a fixed round trip.  The phases around the data phase cost a fixed
 * time plus a time per table, index, sequence and partitioned table,
 * fitted on the same runs (the issue database's 6 tables, the mixed
 * one's 211 with a partitioned table, many-small's 2000).
 */
#include "clone/costmodel.h"

#include <string.h>


#define COPY_HEAP_RATE		60	/* bytes/us: COPY of rows */
#define COPY_TOAST_PGLZ		38	/* TOASTed bytes, recompressed with pglz */
#define COPY_TOAST_LZ4		100	/* ... with lz4 */
#define FK_RATE				100 /* referencing heap checked */
#define ANALYZE_RATE		600 /* bytes/us of the sample's pages */
#define ANALYZE_SAMPLE		((int64_t) 30000 * 8192)	/* 30,000 pages at most */
#define TASK_FIXED			2000	/* us: a statement's round trip */
#define EXPRESSION_FACTOR	3	/* an index over an expression: 3 times */
#define HINT_RATE			140 /* bytes/us: hint bits set, pages written */

typedef struct method_rate
{
	const char *name;
	int64_t		rate;			/* heap bytes/us */
} method_rate;

static const method_rate index_rates[] = {
	{"btree", 150}, {"hash", 100}, {"gin", 25}, {"gist", 15},
	{"spgist", 25}, {"brin", 1000}
};

#define OTHER_INDEX_RATE 30

/* Heap bytes of t: its size without its TOAST. */
static int64_t
heap_bytes(const cat_table *t)
{
	int64_t		toast = t->toast_bytes > 0 ? t->toast_bytes : 0;

	return t->bytes > toast ? t->bytes - toast : 0;
}

int64_t
cost_copy(const cat_table *t, int nparts, bool lz4)
{
	int64_t		toast = t->toast_bytes > 0 ? t->toast_bytes : 0;
	int64_t		us = heap_bytes(t) / COPY_HEAP_RATE +
		toast / (lz4 ? COPY_TOAST_LZ4 : COPY_TOAST_PGLZ);

	return TASK_FIXED + us / (nparts > 0 ? nparts : 1);
}

int64_t
cost_copy_part(const cat_table *t, const copy_part *p, bool lz4)
{
	int64_t		whole = cost_copy(t, 1, lz4) - TASK_FIXED;
	int64_t		blocks = t->heap_pages;
	int64_t		end = p->end_block < 0 ? blocks : p->end_block;

	if (p->nparts <= 1 || blocks <= 0 || end <= p->first_block)
		return cost_copy(t, p->nparts, lz4);
	return TASK_FIXED + (int64_t) ((double) whole * (double) (end - p->first_block) / (double) blocks);
}

/*
 * Whether the key of an index definition has an expression: a
 * parenthesis inside the column list ("(lower(email))").
 */
static bool
has_expression(const char *indexdef)
{
	const char *u = indexdef ? strstr(indexdef, " USING ") : NULL;
	const char *open = u ? strchr(u, '(') : NULL;

	if (open == NULL)
		return false;
	for (const char *c = open + 1; *c && *c != ')'; c++)
		if (*c == '(')
			return true;
	return false;
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
	int64_t		rate = OTHER_INDEX_RATE;
	int64_t		us;

	cost_index_method(ix->indexdef, method, sizeof(method));
	for (size_t i = 0; i < sizeof(index_rates) / sizeof(index_rates[0]); i++)
		if (strcmp(method, index_rates[i].name) == 0)
			rate = index_rates[i].rate;
	us = heap_bytes(t) / rate;
	if (has_expression(ix->indexdef))
		us *= EXPRESSION_FACTOR;
	return TASK_FIXED + us;
}

int64_t
cost_hint_bits(const cat_table *t)
{
	return heap_bytes(t) / HINT_RATE;
}

/* t NULL: a partitioned parent, whose sample comes from its partitions. */
int64_t
cost_analyze(const cat_table *t)
{
	int64_t		sample = t ? heap_bytes(t) : ANALYZE_SAMPLE;

	return TASK_FIXED + (sample < ANALYZE_SAMPLE ? sample : ANALYZE_SAMPLE) / ANALYZE_RATE;
}

/* A phase around the data phase: fixed, and per object it handles (us). */
typedef struct phase_cost
{
	const char *name;
	int64_t		fixed;
	int64_t		per_table;
	int64_t		per_index;
	int64_t		per_sequence;
	int64_t		per_partitioned;	/* its indexes are built by post-data */
} phase_cost;

static const phase_cost phase_costs[] = {
	{"preflight", 100000, 100, 0, 0, 0},
	{"roles", 50000, 0, 0, 0, 0},
	{"target", 50000, 0, 0, 0, 0},
	{"snapshot", 15000, 0, 0, 0, 0},
	{"schema", 250000, 2000, 200, 500, 0},
	{"sequences", 10000, 0, 0, 5000, 0},
	{"post-data", 80000, 100, 0, 0, 500000},
	{"rename", 50000, 200, 0, 0, 0},
	{"database", 120000, 0, 0, 0, 0}
};

int64_t
cost_phase(const char *name, const catalog *cat)
{
	for (size_t i = 0; i < sizeof(phase_costs) / sizeof(phase_costs[0]); i++)
	{
		const phase_cost *p = &phase_costs[i];

		if (strcmp(p->name, name) == 0)
			return p->fixed + p->per_table * cat->ntables +
				p->per_index * cat->nindexes + p->per_sequence * cat->nsequences +
				p->per_partitioned * cat->npartitioned;
	}
	return 0;
}

int64_t
cost_fk(const cat_table *t)
{
	return TASK_FIXED + heap_bytes(t) / FK_RATE;
}
