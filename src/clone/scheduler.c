/*
 * scheduler.c
 *		The data phase as a graph of tasks for the task engine (tasks.h).
 *
 * The tasks and what each waits for:
 *
 *  - the large objects' contents, first (their size is unknown);
 *  - for a split table copied again on resume, emptying it first;
 *  - every table part (needs a source session in the clone's snapshot);
 *  - per table, "rows in" once its parts are copied (it only counts the
 *    table as copied), then one build per index (those that attach a
 *    constraint or set REPLICA IDENTITY or CLUSTER ON one after the other
 *    first, as their locks wait for every other build on the table; the
 *    rest in parallel after them), then ANALYZE once its indexes are
 *    built;
 *  - "all analyzed", then an ANALYZE of each partitioned parent;
 *  - each foreign key once both its tables are analyzed.
 *
 * Every task has a cost estimated from the source catalog (costmodel.h).
 * The copies are taken in an order after Johnson's rule for a two-stage
 * flow shop (copy_order): first the tables whose copy is shorter than the
 * work it starts on the target (index builds, ANALYZE), shortest copy
 * first; so a table whose copy is followed by long index builds is
 * copied before a larger one with cheap indexes, and its builds overlap
 * the copies still running instead of coming last.  The others go in the
 * order of one of copy_rules (longest copy first; longest work after the
 * copy first; whole tables first, parts of split tables last), the one
 * that ends first when each is played in the engine's simulation.  The
 * rest of the work is taken by the longest chain it starts (tasks.h).
 * sched_predict() plays the same graph and order in the simulation.
 *
 * A copy worker holds a source connection inside the clone's snapshot and
 * a target connection; it takes copy tasks while there are any (they have
 * the higher priority) and then helps with the rest.  An index worker has
 * only a target connection and never takes a copy, so index builds
 * overlap with copies still running.  What a previous run recorded as
 * done is marked done in the graph, so resume runs only what is left.
 * The engine retries transient failures (a lost connection, a server
 * restart, a deadlock) on new sessions; each attempt starts over in a
 * fresh target transaction, so a retry never duplicates rows.  On a
 * failure for good it cancels every running query through the interrupt
 * module, so sched_run() returns promptly.  The same happens on Ctrl-C.
 */
#include "clone/scheduler.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/conn.h"
#include "core/tasks.h"
#include "clone/costmodel.h"
#include "clone/fkey.h"
#include "clone/index.h"
#include "core/largeobject.h"
#include "clone/snapshot.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/str.h"

/* Most parallel maintenance workers one index build is given. */
#define MAX_PARALLEL_BUILD 4

/* Attempts of a task that fails transiently. */
#define MAX_ATTEMPTS 5

/* The capability of copy workers: a source session in the snapshot. */
#define NEEDS_SOURCE 1u

/*
 * Priorities: emptying before copying, copying before the rest; the
 * copies of the tables in the order copy_order() gives, from
 * PRIO_COPY + ntables (first) down to PRIO_COPY + 1; the large objects
 * above every table, the emptying of a split table above them.
 */
#define PRIO_COPY 0
#define PRIO_FOLLOW_UP 0

typedef enum task_kind
{
	TASK_LARGE_OBJECTS,
	TASK_TRUNCATE,
	TASK_COPY,
	TASK_ROWS_IN,
	TASK_INDEX,
	TASK_ANALYZE,
	TASK_ALL_ANALYZED,
	TASK_ANALYZE_PARENT,
	TASK_FK
} task_kind;

typedef struct task
{
	struct sched *s;
	task_kind	kind;
	int			item;			/* table, index, parent or key number */
	copy_part	part;			/* for TASK_COPY */
} task;

/* The task numbers of a table's milestones in the graph. */
typedef struct table_nodes
{
	int			rows_in;
	int			analyze;
} table_nodes;

typedef struct sched
{
	const sched_config *cfg;
	sched_result *res;
	tasks	   *graph;
	task	   *tasks;			/* payloads, one per graph task */
	int			ntasks;
	int			cap;
	table_nodes *tables;
	int		   *copy_prio;		/* per table: its copies' priority */
	bool		dry;			/* planned to be simulated, not run */
	pthread_mutex_t lock;		/* guards res->tables */
} sched;

/* The emptying of a split table copied again: before every copy. */
static int
prio_truncate(const catalog *cat)
{
	return PRIO_COPY + cat->ntables + 2;
}

/* Whether the plan goes into the state file: not on resume, nor predicting. */
static bool
records(const sched *s)
{
	return !s->dry && !s->cfg->resume && s->cfg->st != NULL;
}

typedef struct worker
{
	sched	   *s;
	bool		copier;
	PGconn	   *src;
	PGconn	   *tgt;
	int			parallel;		/* max_parallel_maintenance_workers set */
} worker;

/*
 * Add a task to the graph.  Payloads live in one array that is sized
 * before planning, so pointers to them stay valid.
 */
static int
add_task(sched *s, task_kind kind, int item, int priority, int64_t cost,
		 unsigned needs)
{
	task	   *k = &s->tasks[s->ntasks++];

	k->s = s;
	k->kind = kind;
	k->item = item;
	return tasks_add(s->graph, k, priority, cost, needs);
}

/* Unreadable (logged) counts as not done: they are copied again. */
static bool
lo_done(state *st)
{
	return state_large_objects_done(st) == 1;
}

/*
 * The parts of table t: planned afresh, or on resume those recorded in the
 * state file with what is done.  A split table with a part not done is
 * redone whole (its committed parts cannot be told apart on the target):
 * *truncate says so.  Returns the number of parts.
 */
static int
table_parts(sched *s, int t, copy_part *parts, bool *done, bool *truncate)
{
	const cat_table *tb = &s->cfg->cat->tables[t];
	int64_t		first[COPY_MAX_PARTS],
				end[COPY_MAX_PARTS];
	int			n = 0;
	bool		all_done = true;

	*truncate = false;
	if (s->cfg->resume)
		n = state_load_parts(s->cfg->st, tb->oid, first, end, done, COPY_MAX_PARTS);
	if (n <= 0)
	{
		n = copy_plan_parts(tb, s->cfg->split_bytes, s->cfg->jobs, parts);
		memset(done, 0, sizeof(bool) * (size_t) n);
		return n;
	}
	for (int i = 0; i < n; i++)
	{
		parts[i] = (copy_part)
		{
			i, n, first[i], end[i]
		};
		all_done = all_done && done[i];
	}
	if (n > 1 && !all_done)
	{
		memset(done, 0, sizeof(bool) * (size_t) n);
		*truncate = true;
	}
	return n;
}

/* Whether TOASTed values are written with lz4 (--toast-compression). */
static bool
lz4(const sched_config *cfg)
{
	return cfg->toast_compression && strcmp(cfg->toast_compression, "lz4") == 0;
}

/*
 * The copy of table t: its parts (recorded in the plan unless resuming)
 * and its "rows in" milestone after them.
 */
static int
plan_table(sched *s, int t)
{
	const sched_config *cfg = s->cfg;
	const cat_table *tb = &cfg->cat->tables[t];
	copy_part	parts[COPY_MAX_PARTS];
	bool		done[COPY_MAX_PARTS];
	bool		truncate;
	int			n = table_parts(s, t, parts, done, &truncate);
	int			empty = -1;

	s->res->tables[t].parts = n;
	if (records(s) &&
		state_plan_table(cfg->st, tb->oid, tb->display, tb->bytes, n,
						 tb->binary ? "binary" : "text") != 0)
		return -1;
	s->tables[t].rows_in = add_task(s, TASK_ROWS_IN, t, PRIO_FOLLOW_UP, 0, 0);
	if (truncate)
		empty = add_task(s, TASK_TRUNCATE, t, prio_truncate(cfg->cat), 0, 0);
	for (int i = 0; i < n; i++)
	{
		int			k;

		if (records(s) &&
			state_plan_part(cfg->st, tb->oid, i, parts[i].first_block,
							parts[i].end_block) != 0)
			return -1;
		if (done[i])
			continue;
		k = add_task(s, TASK_COPY, t, s->copy_prio[t],
					 cost_copy_part(tb, &parts[i], lz4(cfg)), NEEDS_SOURCE);
		s->tasks[s->ntasks - 1].part = parts[i];
		if (empty >= 0)
			tasks_after(s->graph, k, empty);
		tasks_after(s->graph, s->tables[t].rows_in, k);
	}
	return 0;
}

/*
 * Whether building ix takes a lock that conflicts with the table's other
 * builds: attaching a constraint, REPLICA IDENTITY and CLUSTER ON take
 * ACCESS EXCLUSIVE (or SHARE UPDATE EXCLUSIVE), which waits for every
 * CREATE INDEX running on the table.
 */
static bool
strong_lock(const cat_index *ix)
{
	return ix->contype != '\0' || ix->replident || ix->clustered;
}

/*
 * The order of a table's builds: the ones with a strong lock one after
 * the other, then the rest, in parallel, after them; so no build waits
 * for a lock another build of the table holds, which would keep a worker
 * busy doing nothing.
 */
static void
order_builds(sched *s, const int *task_of)
{
	const catalog *cat = s->cfg->cat;
	int		   *last = xcalloc((size_t) cat->ntables + 1, sizeof(int));

	for (int t = 0; t < cat->ntables; t++)
		last[t] = -1;
	for (int i = 0; i < cat->nindexes; i++)
	{
		int			t = cat->indexes[i].table;

		if (!strong_lock(&cat->indexes[i]))
			continue;
		if (last[t] >= 0)
			tasks_after(s->graph, task_of[i], last[t]);
		last[t] = task_of[i];
	}
	for (int i = 0; i < cat->nindexes; i++)
	{
		int			t = cat->indexes[i].table;

		if (!strong_lock(&cat->indexes[i]) && last[t] >= 0)
			tasks_after(s->graph, task_of[i], last[t]);
	}
	free(last);
}

/*
 * Per table, the index its builds start with (the first with a strong
 * lock, else the first), -1 for none: the first reader of its rows.
 * Returns an array of ntables (free it).
 */
static int *
first_builds(const catalog *cat)
{
	int		   *first = xcalloc((size_t) cat->ntables + 1, sizeof(int));

	for (int t = 0; t < cat->ntables; t++)
		first[t] = -1;
	for (int i = 0; i < cat->nindexes; i++)
	{
		int			t = cat->indexes[i].table;

		if (first[t] < 0 ||
			(strong_lock(&cat->indexes[i]) && !strong_lock(&cat->indexes[first[t]])))
			first[t] = i;
	}
	return first;
}

/* What the first reader of table t pays: hint bits, when copied in parts. */
static int64_t
first_read(const catalog *cat, int t, int nparts)
{
	return nparts > 1 ? cost_hint_bits(&cat->tables[t]) : 0;
}

/* Indexes after their table's rows, its ANALYZE after its indexes. */
static int
plan_indexes(sched *s)
{
	const sched_config *cfg = s->cfg;
	const catalog *cat = cfg->cat;
	int		   *task_of = xcalloc((size_t) cat->nindexes + 1, sizeof(int));
	int		   *first = first_builds(cat);

	for (int t = 0; t < cat->ntables; t++)
	{
		int64_t		hint = first[t] < 0 ? first_read(cat, t, s->res->tables[t].parts) : 0;

		s->tables[t].analyze = add_task(s, TASK_ANALYZE, t, PRIO_FOLLOW_UP,
										cost_analyze(&cat->tables[t]) + hint, 0);
		tasks_after(s->graph, s->tables[t].analyze, s->tables[t].rows_in);
		if (cfg->resume && state_table_is_analyzed(cfg->st, cat->tables[t].oid))
			tasks_mark_done(s->graph, s->tables[t].analyze);
	}
	for (int i = 0; i < cat->nindexes; i++)
	{
		const cat_index *ix = &cat->indexes[i];
		int64_t		hint = first[ix->table] == i ?
			first_read(cat, ix->table, s->res->tables[ix->table].parts) : 0;
		int			k = add_task(s, TASK_INDEX, i, PRIO_FOLLOW_UP,
								 cost_index(&cat->tables[ix->table], ix) + hint, 0);

		task_of[i] = k;
		if (records(s) &&
			state_plan_index(cfg->st, ix->oid, ix->table_oid, ix->display) != 0)
		{
			free(task_of);
			free(first);
			return -1;
		}
		tasks_after(s->graph, k, s->tables[ix->table].rows_in);
		tasks_after(s->graph, s->tables[ix->table].analyze, k);
		if (cfg->resume && state_index_is_done(cfg->st, ix->oid))
		{
			tasks_mark_done(s->graph, k);
			if (!s->dry)
				atomic_fetch_add(&cfg->prog->indexes_done, 1);
		}
	}
	order_builds(s, task_of);
	free(task_of);
	free(first);
	return 0;
}

/* Parents after every table's ANALYZE; keys after both their tables'. */
static int
plan_parents_and_keys(sched *s)
{
	const sched_config *cfg = s->cfg;
	const catalog *cat = cfg->cat;
	int			all = add_task(s, TASK_ALL_ANALYZED, 0, PRIO_FOLLOW_UP, 0, 0);

	for (int t = 0; t < cat->ntables; t++)
		tasks_after(s->graph, all, s->tables[t].analyze);
	for (int i = 0; i < cat->npartitioned; i++)
		tasks_after(s->graph, add_task(s, TASK_ANALYZE_PARENT, i, PRIO_FOLLOW_UP,
									   cost_analyze(NULL), 0), all);
	for (int i = 0; i < cat->nfks; i++)
	{
		const cat_fk *fk = &cat->fks[i];
		int			k = add_task(s, TASK_FK, i, PRIO_FOLLOW_UP,
								 cost_fk(&cat->tables[fk->table]), 0);

		if (records(s) &&
			state_plan_fk(cfg->st, fk->oid, cat->tables[fk->table].oid,
						  fk->display) != 0)
			return -1;
		tasks_after(s->graph, k, s->tables[fk->table].analyze);
		tasks_after(s->graph, k, s->tables[fk->ref_table].analyze);
		if (cfg->resume && state_fk_is_done(cfg->st, fk->oid))
			tasks_mark_done(s->graph, k);
	}
	return 0;
}

/*
 * The work a table's rows start on the target: its builds with a strong
 * lock one after the other, then the longest of its other builds (they
 * run in parallel), then its ANALYZE; the first of them also sets the
 * hint bits of a table copied in parts.
 */
static int64_t
table_tail(const catalog *cat, int t, int nparts)
{
	int64_t		strong = 0,
				longest = 0;

	for (int i = 0; i < cat->nindexes; i++)
	{
		const cat_index *ix = &cat->indexes[i];
		int64_t		c;

		if (ix->table != t)
			continue;
		c = cost_index(&cat->tables[t], ix);
		if (strong_lock(ix))
			strong += c;
		else if (c > longest)
			longest = c;
	}
	return strong + longest + cost_analyze(&cat->tables[t]) + first_read(cat, t, nparts);
}

typedef struct copy_key
{
	int			table;
	int64_t		copy;			/* one part's copy */
	int64_t		tail;			/* table_tail */
	bool		split;			/* copied in several parts */
} copy_key;

/*
 * The first group of Johnson's rule for a two-stage flow shop (copy
 * workers, then the index workers): the tables whose copy is shorter than
 * the work it starts, shortest copy first, so their builds start early
 * and overlap the copies still to come.  Returns 0 when both are in the
 * second group, where the orders below differ.
 */
static int
johnson_first(const copy_key *x, const copy_key *y)
{
	bool		xa = x->copy < x->tail;
	bool		ya = y->copy < y->tail;

	if (xa != ya)
		return xa ? -1 : 1;
	if (xa && x->copy != y->copy)
		return x->copy < y->copy ? -1 : 1;
	if (xa)
		return x->table - y->table;
	return 0;
}

/* Larger first: -1 when a goes before b, 0 on a tie. */
static int
larger_first(int64_t a, int64_t b)
{
	return a == b ? 0 : a > b ? -1 : 1;
}

/*
 * Johnson's first group first, then the larger first key (x1, y1), then
 * the larger second key (x2, y2), then the table's number.
 */
static int
group_then_larger(const copy_key *x, const copy_key *y,
				  int64_t x1, int64_t y1, int64_t x2, int64_t y2)
{
	int			r = johnson_first(x, y);

	if (r == 0)
		r = larger_first(x1, y1);
	if (r == 0)
		r = larger_first(x2, y2);
	return r != 0 ? r : x->table - y->table;
}

/*
 * The second group, longest copy first: with several copy workers, a
 * long copy taken last would run alone at the end while the other
 * workers wait, as a 200 MB table of TOASTed values did after the parts
 * of a 300 MB one.
 */
static int
by_copy(const void *a, const void *b)
{
	const copy_key *x = a;
	const copy_key *y = b;

	return group_then_larger(x, y, x->copy, y->copy, x->tail, y->tail);
}

/*
 * The second group by Johnson's rule itself, longest work after the copy
 * first: the tables copied last are those whose index builds are short.
 */
static int
by_tail(const void *a, const void *b)
{
	const copy_key *x = a;
	const copy_key *y = b;

	return group_then_larger(x, y, x->tail, y->tail, x->copy, y->copy);
}

/*
 * The second group with the tables copied whole first, longest copy
 * first, and the parts of split tables last: parts are short and as many
 * as the workers, so they end together, and the index builds of a whole
 * table copied before them overlap them instead of coming last (a 160 MB
 * table whose primary key took 0.6 s was copied after the parts of a
 * 600 MB one, and its key was built with the other core idle).
 */
static int
by_split_last(const void *a, const void *b)
{
	const copy_key *x = a;
	const copy_key *y = b;
	int			r = johnson_first(x, y);

	if (r == 0 && x->split != y->split)
		r = x->split ? 1 : -1;
	if (r == 0 && x->split)
		r = larger_first(x->tail, y->tail);
	return r != 0 ? r : by_copy(a, b);
}

static int	(*const copy_rules[]) (const void *, const void *) = {
	by_copy, by_tail, by_split_last
};
static const char *const copy_rule_names[] = {
	"longest copy first", "longest work after the copy first",
	"split tables last"
};

/* Up to this many tables the orders are compared by simulation. */
#define ORDER_SIMULATED_TABLES 2000

static int64_t simulate_order(const sched_config *cfg, int *prio,
							  sched_prediction *out);

/* The copies' priorities of keys in their order: ntables of them. */
static int *
order_priorities(const copy_key *keys, int ntables)
{
	int		   *prio = xcalloc((size_t) ntables + 1, sizeof(int));

	for (int i = 0; i < ntables; i++)
		prio[keys[i].table] = PRIO_COPY + ntables - i;
	return prio;
}

/*
 * The priority of each table's copies: the engine takes the copies in
 * that order, and the simulation of sched_predict plays the same.  Each
 * rule of copy_rules gives an order; with a catalog small enough, each is
 * played in the engine's simulation and the one ending first is taken
 * (the first on a tie), else the first; say: the predicted ends go to
 * the debug messages.  Returns an array of ntables
 * priorities (free it).
 */
static int *
copy_order(const sched_config *cfg, bool say)
{
	const catalog *cat = cfg->cat;
	copy_key   *keys = xcalloc((size_t) cat->ntables + 1, sizeof(copy_key));
	int			nrules = cat->ntables <= ORDER_SIMULATED_TABLES ?
		(int) (sizeof(copy_rules) / sizeof(copy_rules[0])) : 1;
	int		   *best = NULL;
	int64_t		best_span = 0;

	for (int t = 0; t < cat->ntables; t++)
	{
		int			n = copy_split_shares(&cat->tables[t], cfg->split_bytes, cfg->jobs);

		keys[t] = (copy_key)
		{
			t, cost_copy(&cat->tables[t], n, lz4(cfg)), table_tail(cat, t, n), n > 1
		};
	}
	for (int r = 0; r < nrules; r++)
	{
		int		   *prio;
		int64_t		span;

		qsort(keys, (size_t) cat->ntables, sizeof(copy_key), copy_rules[r]);
		prio = order_priorities(keys, cat->ntables);
		span = nrules > 1 ? simulate_order(cfg, prio, NULL) : 0;
		if (nrules > 1 && say)
			log_debug("copy order \"%s\": predicted data phase %.2f s",
					  copy_rule_names[r], (double) span / 1e6);
		if (best == NULL || (span >= 0 && span < best_span))
		{
			free(best);
			best = prio;
			best_span = span;
		}
		else
			free(prio);
	}
	free(keys);
	return best;
}

/* Build the graph and record the plan in the state file. */
static int
plan(sched *s)
{
	const sched_config *cfg = s->cfg;
	const catalog *cat = cfg->cat;

	/* Per table: parts, truncate, rows in, analyze; then the rest. */
	s->cap = cat->ntables * (COPY_MAX_PARTS + 3) + cat->nindexes +
		cat->npartitioned + cat->nfks + 2;
	s->tasks = xcalloc((size_t) s->cap, sizeof(task));
	s->tables = xcalloc((size_t) cat->ntables + 1, sizeof(table_nodes));
	if (s->copy_prio == NULL)
		s->copy_prio = copy_order(cfg, true);
	s->graph = tasks_create();
	if (cat->nlargeobjects > 0 && !(cfg->resume && lo_done(cfg->st)))
		/* First: their size is not known. */
		add_task(s, TASK_LARGE_OBJECTS, 0, prio_truncate(cat) - 1, INT64_MAX,
				 NEEDS_SOURCE);
	if (records(s) && state_plan_begin(cfg->st) != 0)
		return -1;
	for (int t = 0; t < cat->ntables; t++)
		if (plan_table(s, t) != 0)
			return -1;
	if (plan_indexes(s) != 0 || plan_parents_and_keys(s) != 0)
		return -1;
	return records(s) ? state_plan_end(cfg->st) : 0;
}

static int
run_copy(worker *w, const task *k)
{
	sched	   *s = w->s;
	const cat_table *t = &s->cfg->cat->tables[k->item];
	sched_table_stats *ts = &s->res->tables[k->item];
	copy_result r;
	double		start = clock_now();
	int			rc;

	rc = copy_table_part(w->src, w->tgt, t, &k->part, &r, &s->cfg->prog->bytes,
						 &s->cfg->intr->stop);
	if (state_part_end(s->cfg->st, t->oid, k->part.partno,
					   rc == 0 ? STATE_DONE : STATE_FAILED, r.rows, r.bytes,
					   clock_now() - start) != 0)
		rc = -1;
	pthread_mutex_lock(&s->lock);
	ts->rows += r.rows;
	ts->bytes += r.bytes;
	if (ts->first_start == 0 || start < ts->first_start)
		ts->first_start = start;
	if (clock_now() > ts->last_end)
		ts->last_end = clock_now();
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/*
 * Let an index build use the CPUs no other task uses: as many parallel
 * maintenance workers as --jobs leaves free (none while the others are
 * busy), each 256MB of maintenance_work_mem.  Set only when it changes.
 */
static int
size_index_build(worker *w)
{
	sched	   *s = w->s;
	int			n = s->cfg->jobs - tasks_running(s->graph);
	char		sql[160];

	n = n < 0 ? 0 : n > MAX_PARALLEL_BUILD ? MAX_PARALLEL_BUILD : n;
	if (n == w->parallel)
		return 0;
	snprintf(sql, sizeof(sql), "SET max_parallel_maintenance_workers = %d; "
			 "SET maintenance_work_mem = '%dMB'", n, 256 * (n + 1));
	w->parallel = n;
	return conn_exec(w->tgt, SIDE_TARGET, sql);
}

static int
run_index(worker *w, const task *k, int attempt)
{
	sched	   *s = w->s;
	const cat_index *ix = &s->cfg->cat->indexes[k->item];
	double		start = clock_now();
	int			rc = size_index_build(w);
	double		secs;

	if (rc == 0)
		rc = index_build(w->tgt, &s->cfg->cat->tables[ix->table], ix,
						 s->cfg->resume || attempt > 1);
	secs = clock_now() - start;

	s->res->index_seconds[k->item] = secs;
	if (state_index_end(s->cfg->st, ix->oid, rc == 0 ? STATE_DONE : STATE_FAILED,
						secs) != 0)
		rc = -1;
	if (rc == 0)
		atomic_fetch_add(&s->cfg->prog->indexes_done, 1);
	return rc;
}

static int
run_fk(worker *w, const task *k, int attempt)
{
	sched	   *s = w->s;
	const cat_fk *fk = &s->cfg->cat->fks[k->item];
	double		start = clock_now();
	int			rc = fkey_add(w->tgt, &s->cfg->cat->tables[fk->table], fk,
							  s->cfg->resume || attempt > 1);

	if (state_fk_end(s->cfg->st, fk->oid, rc == 0 ? STATE_DONE : STATE_FAILED,
					 clock_now() - start) != 0)
		rc = -1;
	return rc;
}

static int
run_analyze(worker *w, const char *qname, const char *display)
{
	char	   *sql = str_printf("ANALYZE %s", qname);
	PGresult   *res = PQexec(w->tgt, sql);
	int			rc = 0;

	free(sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		char	   *what = str_printf("analyze table \"%s\"", display);

		conn_log_result_error(res, SIDE_TARGET, what);
		free(what);
		rc = -1;
	}
	PQclear(res);
	return rc;
}

/* ANALYZE of table t, recorded: resume trusts the state file. */
static int
run_analyze_table(worker *w, int t)
{
	const cat_table *tb = &w->s->cfg->cat->tables[t];

	if (run_analyze(w, tb->qname, tb->display) != 0)
		return -1;
	return state_table_analyzed(w->s->cfg->st, tb->oid);
}

/* Empty a split table that is copied again from the start. */
static int
run_truncate(worker *w, int t)
{
	const cat_table *tb = &w->s->cfg->cat->tables[t];
	char	   *sql = str_printf("TRUNCATE ONLY %s", tb->qname);
	int			rc;

	log_info("table \"%s\" was copied in parts and not finished: copying it again",
			 tb->display);
	rc = conn_exec(w->tgt, SIDE_TARGET, sql);
	free(sql);
	return rc;
}

static int
run_large_objects(worker *w)
{
	sched	   *s = w->s;

	if (largeobject_copy_all(w->src, w->tgt, &s->res->large_objects,
							 &s->cfg->prog->bytes, &s->cfg->intr->stop) != 0)
		return -1;
	return state_record_large_objects_done(s->cfg->st);
}

static int
dispatch(worker *w, const task *k, int attempt)
{
	const catalog *cat = w->s->cfg->cat;

	switch (k->kind)
	{
		case TASK_LARGE_OBJECTS:
			return run_large_objects(w);
		case TASK_TRUNCATE:
			return run_truncate(w, k->item);
		case TASK_COPY:
			return run_copy(w, k);
		case TASK_ROWS_IN:
			atomic_fetch_add(&w->s->cfg->prog->tables_done, 1);
			return 0;
		case TASK_INDEX:
			return run_index(w, k, attempt);
		case TASK_ANALYZE:
			return run_analyze_table(w, k->item);
		case TASK_ALL_ANALYZED:
			return 0;
		case TASK_ANALYZE_PARENT:
			return run_analyze(w, cat->partitioned[k->item],
							   cat->partitioned[k->item]);
		case TASK_FK:
			return run_fk(w, k, attempt);
	}
	return -1;
}

static task_outcome
op_run(void *worker_, void *payload, int attempt, void *arg)
{
	worker	   *w = worker_;

	(void) arg;
	if (dispatch(w, payload, attempt) == 0)
		return TASK_DONE;
	/* A task failing on one connection while the other broke heals too. */
	conn_note_broken(w->src, SIDE_SOURCE);
	conn_note_broken(w->tgt, SIDE_TARGET);
	return TASK_FAILED;
}

static const char *
op_name(const void *payload, char *buf, size_t size, void *arg)
{
	const task *k = payload;
	const catalog *cat = k->s->cfg->cat;

	(void) arg;
	switch (k->kind)
	{
		case TASK_LARGE_OBJECTS:
			return "large objects";
		case TASK_COPY:
			snprintf(buf, size, "table \"%s\" part %d/%d",
					 cat->tables[k->item].display, k->part.partno + 1, k->part.nparts);
			return buf;
		case TASK_TRUNCATE:
			snprintf(buf, size, "table \"%s\"", cat->tables[k->item].display);
			return buf;
		case TASK_ROWS_IN:
			snprintf(buf, size, "all rows of \"%s\" in", cat->tables[k->item].display);
			return buf;
		case TASK_INDEX:
			snprintf(buf, size, "index \"%s\"", cat->indexes[k->item].display);
			return buf;
		case TASK_ANALYZE:
			snprintf(buf, size, "analyze of \"%s\"", cat->tables[k->item].display);
			return buf;
		case TASK_ANALYZE_PARENT:
			snprintf(buf, size, "analyze of %s", cat->partitioned[k->item]);
			return buf;
		case TASK_FK:
			snprintf(buf, size, "foreign key \"%s\"", cat->fks[k->item].display);
			return buf;
		case TASK_ALL_ANALYZED:
			return "every table analyzed";
	}
	return "task";
}

/* Compress the TOASTed values a copy writes with method ("pglz", "lz4"). */
static int
set_toast_compression(PGconn *tgt, const char *method)
{
	const char *params[1] = {method};
	PGresult   *res = conn_query(tgt, SIDE_TARGET, "set default_toast_compression",
								 "SELECT pg_catalog.set_config('default_toast_compression', $1, false)",
								 1, params);

	PQclear(res);
	return res ? 0 : -1;
}

/* Connect a worker: target always, source in the snapshot for copiers. */
static int
worker_connect(worker *w)
{
	const sched_config *cfg = w->s->cfg;

	w->tgt = conn_open(cfg->target, SIDE_TARGET);
	if (w->tgt == NULL)
		return -1;
	interrupt_register(cfg->intr, w->tgt);
	w->parallel = -1;
	if (conn_exec(w->tgt, SIDE_TARGET, "SET synchronous_commit = off") != 0 ||
		conn_exec(w->tgt, SIDE_TARGET, "SET maintenance_work_mem = '256MB'") != 0)
		return -1;
	if (!w->copier)
		return 0;
	if (cfg->toast_compression && set_toast_compression(w->tgt, cfg->toast_compression) != 0)
		return -1;
	w->src = conn_open(cfg->source, SIDE_SOURCE);
	if (w->src == NULL)
		return -1;
	interrupt_register(cfg->intr, w->src);
	if (conn_exec(w->src, SIDE_SOURCE, "SET row_security = off") != 0)
		return -1;
	return snapshot_import(w->src, cfg->snapshot);
}

/*
 * A server still down is worth waiting for, a lost snapshot is not: the
 * failure filled says which.
 */
static task_outcome
op_connect(void *worker_, void *arg)
{
	worker	   *w = worker_;

	(void) arg;
	return worker_connect(w) == 0 ? TASK_DONE : TASK_FAILED;
}

static void
op_disconnect(void *worker_, void *arg)
{
	worker	   *w = worker_;
	interrupt  *in = w->s->cfg->intr;

	(void) arg;
	if (w->src)
	{
		interrupt_unregister(in, w->src);
		PQfinish(w->src);
	}
	if (w->tgt)
	{
		interrupt_unregister(in, w->tgt);
		PQfinish(w->tgt);
	}
	w->src = w->tgt = NULL;
}

static void
op_tick(void *arg)
{
	const sched *s = arg;

	progress_tick(s->cfg->prog, false);
}

static void
op_cancel(void *arg)
{
	const sched *s = arg;

	interrupt_cancel_all(s->cfg->intr);
}

static const tasks_ops sched_ops = {
	op_connect, op_disconnect, op_run, NULL, op_name, op_tick
};

/* What each worker can run: copy workers first, then index workers. */
static void
worker_caps(const sched_config *cfg, unsigned *caps)
{
	for (int i = 0; i < cfg->jobs + cfg->index_jobs; i++)
		caps[i] = i < cfg->jobs ? NEEDS_SOURCE : 0;
}

/* Run the graph on --jobs copy workers and --index-jobs index workers. */
static int
run_graph(sched *s, sched_result *res)
{
	const sched_config *cfg = s->cfg;
	int			nw = cfg->jobs + cfg->index_jobs;
	worker	   *ws = xcalloc((size_t) nw, sizeof(worker));
	unsigned   *caps = xcalloc((size_t) nw, sizeof(unsigned));
	tasks_config tc = {
		.ops = &sched_ops, .arg = s, .workers = ws, .worker_size = sizeof(worker),
		.nworkers = nw, .caps = caps, .max_attempts = MAX_ATTEMPTS,
		.keep_going = false, .stop = &cfg->intr->stop, .cancel = op_cancel
	};
	tasks_stats st;
	int			rc;

	worker_caps(cfg, caps);
	for (int i = 0; i < nw; i++)
	{
		ws[i].s = s;
		ws[i].copier = i < cfg->jobs;
	}
	rc = tasks_run(s->graph, &tc, &st);
	res->idle_seconds = st.idle_seconds;
	free(caps);
	free(ws);
	return rc;
}

int
sched_run(const sched_config *cfg, sched_result *res)
{
	sched		s;
	int			rc;

	memset(&s, 0, sizeof(s));
	memset(res, 0, sizeof(*res));
	s.cfg = cfg;
	s.res = res;
	res->tables = xcalloc((size_t) cfg->cat->ntables + 1, sizeof(sched_table_stats));
	res->index_seconds = xcalloc((size_t) cfg->cat->nindexes + 1, sizeof(double));
	res->workers = cfg->jobs + cfg->index_jobs;
	pthread_mutex_init(&s.lock, NULL);
	rc = plan(&s);
	if (rc == 0)
		rc = run_graph(&s, res);
	progress_tick(cfg->prog, true);
	progress_end_line(cfg->prog);
	tasks_free(s.graph);
	free(s.tasks);
	free(s.tables);
	free(s.copy_prio);
	pthread_mutex_destroy(&s.lock);
	return rc;
}

/* The prediction of a simulated run: its end, idle time, last copy. */
static void
predicted(const sched *s, const tasks_sim *sim, const int64_t *ends,
		  sched_prediction *out)
{
	out->seconds = (double) sim->makespan / 1e6;
	out->idle_seconds = (double) sim->idle / 1e6;
	for (int i = 0; i < s->ntasks; i++)
		if (s->tasks[i].kind == TASK_COPY && ends[i] > 0 &&
			(double) ends[i] / 1e6 > out->copy_seconds)
			out->copy_seconds = (double) ends[i] / 1e6;
	out->tasks = s->ntasks;
}

/*
 * The graph with the copies in the order prio gives, played by
 * tasks_simulate() on the same workers, at most --jobs of them at full
 * speed (the servers' CPUs that --jobs stands for), each task lasting its
 * estimated cost.  Fills out when not NULL; returns the simulated end, -1
 * when the plan could not be made.
 */
static int64_t
simulate_order(const sched_config *cfg, int *prio, sched_prediction *out)
{
	sched		s;
	sched_result res;
	int			nw = cfg->jobs + cfg->index_jobs;
	unsigned   *caps = xcalloc((size_t) nw + 1, sizeof(unsigned));
	int64_t		span = -1;

	memset(&s, 0, sizeof(s));
	memset(&res, 0, sizeof(res));
	s.cfg = cfg;
	s.res = &res;
	s.dry = true;
	s.copy_prio = prio;
	res.tables = xcalloc((size_t) cfg->cat->ntables + 1, sizeof(sched_table_stats));
	if (plan(&s) == 0)
	{
		int64_t    *ends = xcalloc((size_t) s.ntasks + 1, sizeof(int64_t));
		tasks_sim	sim;

		worker_caps(cfg, caps);
		sim = tasks_simulate(s.graph, nw, caps, cfg->jobs, ends);
		span = sim.makespan;
		if (out)
			predicted(&s, &sim, ends, out);
		free(ends);
	}
	tasks_free(s.graph);
	free(s.tasks);
	free(s.tables);
	free(res.tables);
	free(caps);
	return span;
}

/* The predicted phase: the order sched_run takes, simulated. */
int
sched_predict(const sched_config *cfg, sched_prediction *out)
{
	int		   *prio = copy_order(cfg, false);
	int64_t		span;

	memset(out, 0, sizeof(*out));
	span = simulate_order(cfg, prio, out);
	free(prio);
	return span < 0 ? -1 : 0;
}

void
sched_result_release(sched_result *res)
{
	free(res->tables);
	free(res->index_seconds);
	memset(res, 0, sizeof(*res));
}
