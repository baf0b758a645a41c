/*
 * scheduler.c
 *		Leader and workers of the data phase.
 *
 * The leader (the thread calling sched_run) plans the work, starts the
 * workers, redraws the progress line once a second and waits for them.
 * Workers share one queue structure protected by a mutex:
 *
 *  - copy tasks, planned up front: the large-object contents first (their
 *    size is unknown), then every table part, largest table first, so the
 *    longest copies start early and small tables fill the gaps at the end;
 *  - follow-up tasks, added as work completes: when the last part of a
 *    table is in, one task per index of that table; when its last index is
 *    built (or at once if it has none), an ANALYZE of the table; when
 *    every table is analyzed, an ANALYZE of each partitioned parent; when
 *    both tables of a foreign key are analyzed, the foreign key.
 *
 * A copy worker holds a source connection inside the clone's snapshot and
 * a target connection; it takes copy tasks while there are any and then
 * helps with follow-up tasks.  An index worker has only a target
 * connection and takes only follow-up tasks, so index builds overlap with
 * copies still running.  A worker with nothing to take waits on the
 * condition variable; the time it waits is reported as idle time.
 *
 * When a task fails, its module has already logged why; the scheduler
 * stops handing out work and cancels every running query through the
 * interrupt module, so sched_run() returns promptly instead of waiting
 * for long copies to end.  The same happens on Ctrl-C.
 */
#include "clone/scheduler.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/conn.h"
#include "core/failure.h"
#include "clone/fkey.h"
#include "clone/index.h"
#include "clone/largeobject.h"
#include "clone/snapshot.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/str.h"

/* Most parallel maintenance workers one index build is given. */
#define MAX_PARALLEL_BUILD 4

typedef enum task_kind
{
	TASK_LARGE_OBJECTS,
	TASK_COPY,
	TASK_INDEX,
	TASK_ANALYZE,
	TASK_ANALYZE_PARENT,
	TASK_FK
} task_kind;

typedef struct task
{
	task_kind	kind;
	int			item;			/* table, index or parent number */
	copy_part	part;			/* for TASK_COPY */
} task;

typedef struct table_track
{
	int			parts_left;
	int			indexes_left;
} table_track;

typedef struct sched
{
	const sched_config *cfg;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	task	   *copy_q;			/* planned copy tasks, in order */
	int			ncopy,
				next_copy;
	task	   *follow_q;		/* FIFO of ready follow-up tasks */
	int			follow_head,
				follow_tail;
	int			remaining;		/* tasks not finished */
	int			tables_left_to_analyze;
	bool		failed;
	table_track *track;
	int		   *truncate;		/* split tables to empty before copying */
	int			ntruncate;
	bool	   *analyzed;		/* per table, on resume */
	bool	   *index_done;		/* per index, on resume */
	int		   *table_indexes;	/* index numbers grouped by table */
	int		   *table_index_start;
	int		   *table_fks;		/* foreign keys grouped by their tables */
	int		   *table_fk_start;
	int		   *fk_waits;		/* per foreign key: tables not analyzed */
	bool	   *fk_done;		/* per foreign key, on resume */
	int			running;		/* tasks being run */
	sched_result *res;
} sched;

typedef struct worker
{
	sched	   *s;
	bool		copier;
	PGconn	   *src;
	PGconn	   *tgt;
	pthread_t	thread;
	double		idle;
	int			attempt;		/* of the task being run, from 1 */
	int			parallel;		/* max_parallel_maintenance_workers set */
} worker;

static void
push_follow(sched *s, task_kind kind, int item)
{
	s->follow_q[s->follow_tail].kind = kind;
	s->follow_q[s->follow_tail++].item = item;
}

static bool
lo_done(state *st)
{
	char	   *v = state_get(st, "large_objects");
	bool		done = v && strcmp(v, STATE_DONE) == 0;

	free(v);
	return done;
}

/* All rows of table t are in: queue its indexes, or its ANALYZE.  Lock held. */
static void
table_ready(sched *s, int t)
{
	atomic_fetch_add(&s->cfg->prog->tables_done, 1);
	for (int i = s->table_index_start[t]; i < s->table_index_start[t + 1]; i++)
		if (!s->index_done[s->table_indexes[i]])
			push_follow(s, TASK_INDEX, s->table_indexes[i]);
	if (s->track[t].indexes_left == 0 && !s->analyzed[t])
		push_follow(s, TASK_ANALYZE, t);
}

/* Group index numbers by table so a finished table finds its indexes. */
static void
index_by_table(sched *s, const catalog *cat)
{
	int			pos = 0;

	s->table_index_start = xcalloc((size_t) cat->ntables + 1, sizeof(int));
	s->table_indexes = xcalloc((size_t) cat->nindexes + 1, sizeof(int));
	for (int i = 0; i < cat->nindexes; i++)
		s->track[cat->indexes[i].table].indexes_left++;
	for (int t = 0; t < cat->ntables; t++)
	{
		s->table_index_start[t] = pos;
		pos += s->track[t].indexes_left;
	}
	s->table_index_start[cat->ntables] = pos;
	{
		int		   *fill = xcalloc((size_t) cat->ntables + 1, sizeof(int));

		for (int i = 0; i < cat->nindexes; i++)
		{
			int			t = cat->indexes[i].table;

			s->table_indexes[s->table_index_start[t] + fill[t]++] = i;
		}
		free(fill);
	}
}

/*
 * Group foreign keys by the tables they join (a key on a table that refers
 * to itself is listed once) and count, per key, the tables to wait for.
 */
static void
fks_by_table(sched *s, const catalog *cat)
{
	int		   *count = xcalloc((size_t) cat->ntables + 1, sizeof(int));
	int			pos = 0;

	s->fk_waits = xcalloc((size_t) cat->nfks + 1, sizeof(int));
	s->fk_done = xcalloc((size_t) cat->nfks + 1, sizeof(bool));
	s->table_fk_start = xcalloc((size_t) cat->ntables + 1, sizeof(int));
	s->table_fks = xcalloc((size_t) cat->nfks * 2 + 1, sizeof(int));
	for (int pass = 0; pass < 2; pass++)
	{
		for (int i = 0; i < cat->nfks; i++)
		{
			int			ends[2] = {cat->fks[i].table, cat->fks[i].ref_table};

			for (int e = 0; e < (ends[0] == ends[1] ? 1 : 2); e++)
			{
				if (pass == 0)
				{
					count[ends[e]]++;
					s->fk_waits[i]++;
				}
				else
					s->table_fks[s->table_fk_start[ends[e]] + count[ends[e]]++] = i;
			}
		}
		if (pass == 1)
			break;
		for (int t = 0; t < cat->ntables; t++)
		{
			s->table_fk_start[t] = pos;
			pos += count[t];
			count[t] = 0;
		}
		s->table_fk_start[cat->ntables] = pos;
	}
	free(count);
}

/* Table t is analyzed: queue the foreign keys that waited only for it. */
static void
fks_table_analyzed(sched *s, int t)
{
	for (int i = s->table_fk_start[t]; i < s->table_fk_start[t + 1]; i++)
	{
		int			fk = s->table_fks[i];

		if (--s->fk_waits[fk] == 0 && !s->fk_done[fk])
			push_follow(s, TASK_FK, fk);
	}
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

/* Queue the copy tasks of table t; record its plan unless resuming. */
static int
plan_table(sched *s, int t)
{
	const sched_config *cfg = s->cfg;
	const cat_table *tb = &cfg->cat->tables[t];
	copy_part	parts[COPY_MAX_PARTS];
	bool		done[COPY_MAX_PARTS];
	bool		truncate;
	int			n = table_parts(s, t, parts, done, &truncate);

	s->res->tables[t].parts = n;
	if (truncate)
		s->truncate[s->ntruncate++] = t;
	if (!cfg->resume &&
		state_plan_table(cfg->st, tb->oid, tb->display, tb->bytes, n,
						 tb->binary ? "binary" : "text") != 0)
		return -1;
	for (int i = 0; i < n; i++)
	{
		if (!cfg->resume &&
			state_plan_part(cfg->st, tb->oid, i, parts[i].first_block,
							parts[i].end_block) != 0)
			return -1;
		if (done[i])
			continue;
		s->copy_q[s->ncopy].kind = TASK_COPY;
		s->copy_q[s->ncopy].item = t;
		s->copy_q[s->ncopy++].part = parts[i];
		s->track[t].parts_left++;
	}
	return 0;
}

/*
 * Count what is left of each table's follow-up work and queue what is
 * ready at once (on resume: tables whose rows are all in already).
 */
static void
plan_follow_ups(sched *s)
{
	const catalog *cat = s->cfg->cat;
	bool		resume = s->cfg->resume;

	s->remaining = s->ncopy + cat->npartitioned;
	for (int i = 0; i < cat->nindexes; i++)
	{
		if (resume && state_index_is_done(s->cfg->st, cat->indexes[i].oid))
		{
			s->index_done[i] = true;
			s->track[cat->indexes[i].table].indexes_left--;
			atomic_fetch_add(&s->cfg->prog->indexes_done, 1);
		}
		else
			s->remaining++;
	}
	for (int i = 0; i < cat->nfks; i++)
	{
		s->fk_done[i] = resume && state_fk_is_done(s->cfg->st, cat->fks[i].oid);
		if (!s->fk_done[i])
			s->remaining++;
	}
	for (int t = 0; t < cat->ntables; t++)
	{
		s->analyzed[t] = resume && state_table_is_analyzed(s->cfg->st, cat->tables[t].oid);
		if (s->analyzed[t])
		{
			s->tables_left_to_analyze--;
			fks_table_analyzed(s, t);
		}
		else
			s->remaining++;
		if (s->track[t].parts_left == 0)
			table_ready(s, t);
	}
	if (s->tables_left_to_analyze == 0)
		for (int i = 0; i < cat->npartitioned; i++)
			push_follow(s, TASK_ANALYZE_PARENT, i);
}

/* Plan every task and record the plan in the state file. */
static int
plan(sched *s)
{
	const sched_config *cfg = s->cfg;
	const catalog *cat = cfg->cat;
	int			cap = cat->ntables * COPY_MAX_PARTS + 1;

	s->copy_q = xcalloc((size_t) cap, sizeof(task));
	s->follow_q = xcalloc((size_t) (cat->nindexes + cat->ntables + cat->npartitioned +
									cat->nfks + 1), sizeof(task));
	s->track = xcalloc((size_t) cat->ntables + 1, sizeof(table_track));
	s->truncate = xcalloc((size_t) cat->ntables + 1, sizeof(int));
	s->analyzed = xcalloc((size_t) cat->ntables + 1, sizeof(bool));
	s->index_done = xcalloc((size_t) cat->nindexes + 1, sizeof(bool));
	s->tables_left_to_analyze = cat->ntables;
	index_by_table(s, cat);
	fks_by_table(s, cat);
	if (cat->nlargeobjects > 0 && !(cfg->resume && lo_done(cfg->st)))
		s->copy_q[s->ncopy++].kind = TASK_LARGE_OBJECTS;
	if (!cfg->resume && state_plan_begin(cfg->st) != 0)
		return -1;
	for (int t = 0; t < cat->ntables; t++)
		if (plan_table(s, t) != 0)
			return -1;
	for (int i = 0; !cfg->resume && i < cat->nindexes; i++)
		if (state_plan_index(cfg->st, cat->indexes[i].oid,
							 cat->indexes[i].table_oid, cat->indexes[i].display) != 0)
			return -1;
	for (int i = 0; !cfg->resume && i < cat->nfks; i++)
		if (state_plan_fk(cfg->st, cat->fks[i].oid,
						  cat->tables[cat->fks[i].table].oid, cat->fks[i].display) != 0)
			return -1;
	plan_follow_ups(s);
	return cfg->resume ? 0 : state_plan_end(cfg->st);
}

/* Next task for w, or false if none is ready now.  Lock held. */
static bool
next_task(sched *s, const worker *w, task *out)
{
	if (w->copier && s->next_copy < s->ncopy)
	{
		*out = s->copy_q[s->next_copy++];
		return true;
	}
	if (s->follow_head < s->follow_tail)
	{
		*out = s->follow_q[s->follow_head++];
		return true;
	}
	return false;
}

/* Account for a finished task and release what it unblocks.  Lock held. */
static void
complete(sched *s, const task *k)
{
	const catalog *cat = s->cfg->cat;

	s->remaining--;
	if (k->kind == TASK_COPY && --s->track[k->item].parts_left == 0)
		table_ready(s, k->item);
	else if (k->kind == TASK_INDEX)
	{
		int			t = cat->indexes[k->item].table;

		atomic_fetch_add(&s->cfg->prog->indexes_done, 1);
		if (--s->track[t].indexes_left == 0)
			push_follow(s, TASK_ANALYZE, t);
	}
	else if (k->kind == TASK_ANALYZE)
	{
		/* Resume trusts the state file: a run that cannot record stops. */
		if (state_table_analyzed(s->cfg->st, cat->tables[k->item].oid) != 0 &&
			!s->failed)
		{
			s->failed = true;
			interrupt_cancel_all(s->cfg->intr);
		}
		fks_table_analyzed(s, k->item);
	}
	if (k->kind == TASK_ANALYZE && --s->tables_left_to_analyze == 0)
	{
		for (int i = 0; i < cat->npartitioned; i++)
			push_follow(s, TASK_ANALYZE_PARENT, i);
	}
	pthread_cond_broadcast(&s->cond);
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
	int			n;
	char		sql[160];

	pthread_mutex_lock(&s->lock);
	n = s->cfg->jobs - s->running;
	pthread_mutex_unlock(&s->lock);
	n = n < 0 ? 0 : n > MAX_PARALLEL_BUILD ? MAX_PARALLEL_BUILD : n;
	if (n == w->parallel)
		return 0;
	snprintf(sql, sizeof(sql), "SET max_parallel_maintenance_workers = %d; "
			 "SET maintenance_work_mem = '%dMB'", n, 256 * (n + 1));
	w->parallel = n;
	return conn_exec(w->tgt, SIDE_TARGET, sql);
}

static int
run_index(worker *w, const task *k)
{
	sched	   *s = w->s;
	const cat_index *ix = &s->cfg->cat->indexes[k->item];
	double		start = clock_now();
	int			rc = size_index_build(w);
	double		secs;

	if (rc == 0)
		rc = index_build(w->tgt, &s->cfg->cat->tables[ix->table], ix,
						 s->cfg->resume || w->attempt > 1);
	secs = clock_now() - start;

	s->res->index_seconds[k->item] = secs;
	if (state_index_end(s->cfg->st, ix->oid, rc == 0 ? STATE_DONE : STATE_FAILED,
						secs) != 0)
		rc = -1;
	return rc;
}

static int
run_fk(worker *w, const task *k)
{
	sched	   *s = w->s;
	const cat_fk *fk = &s->cfg->cat->fks[k->item];
	double		start = clock_now();
	int			rc = fkey_add(w->tgt, &s->cfg->cat->tables[fk->table], fk,
							  s->cfg->resume || w->attempt > 1);

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

static int
run_task(worker *w, const task *k)
{
	const catalog *cat = w->s->cfg->cat;

	switch (k->kind)
	{
		case TASK_LARGE_OBJECTS:
			if (largeobject_copy_all(w->src, w->tgt, &w->s->res->large_objects,
									 &w->s->cfg->prog->bytes,
									 &w->s->cfg->intr->stop) != 0)
				return -1;
			return state_put(w->s->cfg->st, "large_objects", STATE_DONE);
		case TASK_COPY:
			return run_copy(w, k);
		case TASK_INDEX:
			return run_index(w, k);
		case TASK_ANALYZE:
			return run_analyze(w, cat->tables[k->item].qname,
							   cat->tables[k->item].display);
		case TASK_ANALYZE_PARENT:
			return run_analyze(w, cat->partitioned[k->item],
							   cat->partitioned[k->item]);
		case TASK_FK:
			return run_fk(w, k);
	}
	return -1;
}

#define MAX_ATTEMPTS 5

static int	worker_connect(worker *w);
static void worker_disconnect(worker *w);

static const char *
task_name(const sched *s, const task *k, char *buf, size_t size)
{
	const catalog *cat = s->cfg->cat;

	switch (k->kind)
	{
		case TASK_LARGE_OBJECTS:
			return "large objects";
		case TASK_COPY:
			snprintf(buf, size, "table \"%s\" part %d/%d",
					 cat->tables[k->item].display, k->part.partno + 1, k->part.nparts);
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
	}
	return "task";
}

/* Sleep for secs seconds unless the run is stopped meanwhile. */
static void
backoff(const sched *s, int secs)
{
	for (int i = 0; i < secs * 10 && !s->cfg->intr->stop; i++)
	{
		struct timespec ts = {0, 100 * 1000 * 1000};

		nanosleep(&ts, NULL);
	}
}

/*
 * Run a task; a transient failure (lost connection, server shutdown,
 * serialization failure, deadlock) is retried with new connections after
 * 1, 2, 4, 8 seconds.  Each attempt starts over in a fresh target
 * transaction, so a retry never duplicates rows.
 */
static int
run_with_retry(worker *w, const task *k)
{
	sched	   *s = w->s;
	char		name[512];
	failure		f = FAILURE_INIT;

	for (int attempt = 1;; attempt++)
	{
		bool		last;

		w->attempt = attempt;
		failure_capture_begin(&f);
		if (w->tgt && run_task(w, k) == 0)
		{
			failure_capture_end(&f);
			failure_report(&f, LOG_WARNING);
			failure_release(&f);
			return 0;
		}
		conn_note_broken(w->src, SIDE_SOURCE);
		conn_note_broken(w->tgt, SIDE_TARGET);
		failure_capture_end(&f);
		last = s->cfg->intr->stop || attempt >= MAX_ATTEMPTS ||
			(w->tgt && !failure_is_transient(&f));
		/* Held errors are errors only when nothing is tried again. */
		failure_report(&f, last ? LOG_ERROR : LOG_WARNING);
		failure_release(&f);
		if (last)
			return -1;
		log_warning("%s failed; retrying in %d s (attempt %d of %d)",
					task_name(s, k, name, sizeof(name)), 1 << (attempt - 1),
					attempt + 1, MAX_ATTEMPTS);
		backoff(s, 1 << (attempt - 1));
		worker_disconnect(w);
		failure_capture_begin(&f);
		if (worker_connect(w) != 0)
		{
			/* A server still down is worth waiting for; a lost snapshot is not. */
			bool		again;

			failure_capture_end(&f);
			again = failure_is_transient(&f);
			failure_report(&f, again && attempt + 1 < MAX_ATTEMPTS ? LOG_WARNING : LOG_ERROR);
			failure_release(&f);
			worker_disconnect(w);
			if (!again)
				return -1;
		}
		else
		{
			failure_capture_end(&f);
			failure_report(&f, LOG_WARNING);
			failure_release(&f);
		}
	}
}

/* Take tasks until none is left, one failed or the run was interrupted. */
static void *
worker_main(void *arg)
{
	worker	   *w = arg;
	sched	   *s = w->s;

	pthread_mutex_lock(&s->lock);
	for (;;)
	{
		task		k;
		double		wait_start;

		if (s->failed || s->cfg->intr->stop || s->remaining == 0)
			break;
		if (!next_task(s, w, &k))
		{
			wait_start = clock_now();
			pthread_cond_wait(&s->cond, &s->lock);
			w->idle += clock_now() - wait_start;
			continue;
		}
		s->running++;
		pthread_mutex_unlock(&s->lock);
		if (run_with_retry(w, &k) != 0)
		{
			pthread_mutex_lock(&s->lock);
			s->running--;
			if (!s->failed && !s->cfg->intr->stop)
			{
				s->failed = true;
				interrupt_cancel_all(s->cfg->intr);
			}
			pthread_cond_broadcast(&s->cond);
			break;
		}
		pthread_mutex_lock(&s->lock);
		s->running--;
		complete(s, &k);
	}
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return NULL;
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

static void
worker_disconnect(worker *w)
{
	interrupt  *in = w->s->cfg->intr;

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
sched_free(sched *s)
{
	free(s->copy_q);
	free(s->follow_q);
	free(s->track);
	free(s->truncate);
	free(s->analyzed);
	free(s->index_done);
	free(s->table_indexes);
	free(s->table_index_start);
	free(s->table_fks);
	free(s->table_fk_start);
	free(s->fk_waits);
	free(s->fk_done);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
}

/* Empty the split tables that are copied again from the start. */
static int
truncate_redone(sched *s, PGconn *tgt)
{
	for (int i = 0; i < s->ntruncate; i++)
	{
		const cat_table *t = &s->cfg->cat->tables[s->truncate[i]];
		char	   *sql = str_printf("TRUNCATE ONLY %s", t->qname);
		int			rc;

		log_info("table \"%s\" was copied in parts and not finished: copying it again",
				 t->display);
		rc = conn_exec(tgt, SIDE_TARGET, sql);
		free(sql);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* Start the workers, show progress until they are done, join them. */
static int
run_workers(sched *s, worker *ws, int nw)
{
	int			started = 0;

	for (int i = 0; i < nw; i++)
	{
		if (worker_connect(&ws[i]) != 0)
		{
			s->failed = true;
			break;
		}
	}
	if (!s->failed && truncate_redone(s, ws[0].tgt) != 0)
		s->failed = true;
	for (int i = 0; i < nw && !s->failed; i++, started++)
		if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) != 0)
		{
			s->failed = true;
			error("could not start worker thread");
			break;
		}
	for (;;)
	{
		bool		done;

		pthread_mutex_lock(&s->lock);
		done = s->remaining == 0 || s->failed || s->cfg->intr->stop;
		pthread_mutex_unlock(&s->lock);
		progress_tick(s->cfg->prog, false);
		if (done)
			break;
		{
			struct timespec ts = {0, 200 * 1000 * 1000};

			nanosleep(&ts, NULL);
		}
	}
	pthread_mutex_lock(&s->lock);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	for (int i = 0; i < started; i++)
		pthread_join(ws[i].thread, NULL);
	return s->failed || s->remaining > 0 ? -1 : 0;
}

int
sched_run(const sched_config *cfg, sched_result *res)
{
	sched		s;
	int			nw = cfg->jobs + cfg->index_jobs;
	worker	   *ws = xcalloc((size_t) nw, sizeof(worker));
	int			rc;

	memset(&s, 0, sizeof(s));
	memset(res, 0, sizeof(*res));
	s.cfg = cfg;
	s.res = res;
	res->tables = xcalloc((size_t) cfg->cat->ntables + 1, sizeof(sched_table_stats));
	res->index_seconds = xcalloc((size_t) cfg->cat->nindexes + 1, sizeof(double));
	res->workers = nw;
	pthread_mutex_init(&s.lock, NULL);
	pthread_cond_init(&s.cond, NULL);
	rc = plan(&s);
	if (rc == 0)
	{
		for (int i = 0; i < nw; i++)
		{
			ws[i].s = &s;
			ws[i].copier = i < cfg->jobs;
		}
		rc = run_workers(&s, ws, nw);
	}
	progress_tick(cfg->prog, true);
	progress_end_line(cfg->prog);
	for (int i = 0; i < nw; i++)
	{
		res->idle_seconds += ws[i].idle;
		worker_disconnect(&ws[i]);
	}
	free(ws);
	sched_free(&s);
	return rc;
}

void
sched_result_release(sched_result *res)
{
	free(res->tables);
	free(res->index_seconds);
	memset(res, 0, sizeof(*res));
}
