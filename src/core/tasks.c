/*
 * tasks.c
 *		The task engine: a dependency graph, a ready set, a worker pool.
 *
 * Each task counts the tasks it still waits for and lists the tasks that
 * wait for it, as pg_restore's parallel restore does (depCount and
 * revDeps): when a task is done, every task waiting for it counts down,
 * and those reaching zero join the ready set.  The ready set is small
 * (ready work, not all work), so a worker scans it for the best task it
 * may run.  One mutex guards the graph; one condition variable wakes the
 * workers when work becomes ready or the run ends.
 *
 * tasks_simulate() plays the same graph on virtual workers with each
 * task lasting its cost (list scheduling): at each moment every free
 * worker takes the best ready task it can run by the same better() rule,
 * then the clock moves to the next task's end.  It keeps its own counts
 * and ready set, so the graph can still be run afterwards.
 */
#include "core/tasks.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/failure.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/str.h"

typedef enum node_state
{
	NODE_WAITING,
	NODE_READY,
	NODE_RUNNING,
	NODE_DONE,
	NODE_FAILED,
	NODE_SKIPPED
} node_state;

typedef struct node
{
	void	   *payload;
	int			priority;
	int64_t		cost;			/* its own estimated work */
	int64_t		rank;			/* cost of the longest chain it starts */
	unsigned	needs;
	node_state	state;
	int			waits;			/* tasks not done that this one waits for */
	int		   *next;			/* tasks that wait for this one */
	int			nnext;
	int			capnext;
} node;

/* One worker: the caller's struct and what the engine keeps about it. */
typedef struct slot
{
	tasks	   *g;
	void	   *worker;
	unsigned	caps;
	bool		alive;
	bool		connected;
	double		idle;
	pthread_t	thread;
} slot;

struct tasks
{
	node	   *nodes;
	int			n;
	int			cap;
	int		   *ready;			/* numbers of ready tasks, unordered */
	int			nready;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	const tasks_config *cfg;
	slot	   *slots;
	int			running;
	int			unfinished;
	int			alive;
	bool		stopping;		/* no new task starts */
	bool		any_failed;
	double		started;		/* clock_now() at tasks_run */
	tasks_stats stats;
};

tasks *
tasks_create(void)
{
	tasks	   *g = xcalloc(1, sizeof(tasks));

	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	return g;
}

void
tasks_free(tasks *g)
{
	if (g == NULL)
		return;
	for (int i = 0; i < g->n; i++)
		free(g->nodes[i].next);
	free(g->nodes);
	free(g->ready);
	pthread_mutex_destroy(&g->lock);
	pthread_cond_destroy(&g->cond);
	free(g);
}

int
tasks_add(tasks *g, void *payload, int priority, int64_t cost, unsigned needs)
{
	node	   *nd;

	if (g->n == g->cap)
	{
		g->cap = g->cap ? g->cap * 2 : 64;
		g->nodes = xrealloc(g->nodes, (size_t) g->cap * sizeof(node));
	}
	nd = &g->nodes[g->n];
	memset(nd, 0, sizeof(*nd));
	nd->payload = payload;
	nd->priority = priority;
	nd->cost = cost;
	nd->needs = needs;
	nd->state = NODE_WAITING;
	return g->n++;
}

void
tasks_after(tasks *g, int task, int first)
{
	node	   *f = &g->nodes[first];

	if (f->state == NODE_DONE || task == first)
		return;
	if (f->nnext == f->capnext)
	{
		f->capnext = f->capnext ? f->capnext * 2 : 4;
		f->next = xrealloc(f->next, (size_t) f->capnext * sizeof(int));
	}
	f->next[f->nnext++] = task;
	g->nodes[task].waits++;
}

/* Task t is done: count down the tasks waiting for it.  Lock held. */
static void
release_next(tasks *g, int t)
{
	node	   *nd = &g->nodes[t];

	for (int i = 0; i < nd->nnext; i++)
	{
		node	   *w = &g->nodes[nd->next[i]];

		if (--w->waits == 0 && w->state == NODE_WAITING && g->ready != NULL)
		{
			w->state = NODE_READY;
			g->ready[g->nready++] = nd->next[i];
		}
	}
}

void
tasks_mark_done(tasks *g, int task)
{
	if (g->nodes[task].state == NODE_DONE)
		return;
	g->nodes[task].state = NODE_DONE;
	release_next(g, task);
}

int
tasks_count(const tasks *g)
{
	return g->n;
}

int
tasks_running(tasks *g)
{
	int			n;

	pthread_mutex_lock(&g->lock);
	n = g->running;
	pthread_mutex_unlock(&g->lock);
	return n;
}

bool
tasks_is_done(tasks *g, int task)
{
	bool		done;

	pthread_mutex_lock(&g->lock);
	done = g->nodes[task].state == NODE_DONE;
	pthread_mutex_unlock(&g->lock);
	return done;
}

/*
 * Whether task a goes before task b: priority, then the longer chain of
 * work it starts (its critical path), then the order added.
 */
static bool
better(const tasks *g, int a, int b)
{
	const node *x = &g->nodes[a];
	const node *y = &g->nodes[b];

	if (x->priority != y->priority)
		return x->priority > y->priority;
	if (x->rank != y->rank)
		return x->rank > y->rank;
	return a < b;
}

/* Add b to a without overflow: costs may be INT64_MAX ("first of all"). */
static int64_t
add_capped(int64_t a, int64_t b)
{
	return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/*
 * Task t's rank: its cost plus the largest rank among the tasks that wait
 * for it (the "bottom level" of list scheduling).  seen: 0 not yet, 1 on
 * the current path (a cycle, a caller's bug: not followed), 2 ranked.  A
 * task already done adds nothing.  The depth is that of the longest
 * chain, a handful of tasks in pgcrane's graphs.
 */
static int64_t
rank_task(tasks *g, int t, char *seen)
{
	node	   *nd = &g->nodes[t];
	int64_t		longest = 0;

	if (seen[t] == 2)
		return nd->rank;
	if (seen[t] == 1)
		return 0;
	seen[t] = 1;
	for (int i = 0; i < nd->nnext; i++)
	{
		int64_t		r = rank_task(g, nd->next[i], seen);

		if (r > longest)
			longest = r;
	}
	nd->rank = add_capped(nd->state == NODE_DONE ? 0 : nd->cost, longest);
	seen[t] = 2;
	return nd->rank;
}

static void
rank_tasks(tasks *g)
{
	char	   *seen = xcalloc((size_t) g->n + 1, 1);

	for (int i = 0; i < g->n; i++)
		rank_task(g, i, seen);
	free(seen);
}

/* Position in the ready set of the best task for caps, or -1.  Lock held. */
static int
best_ready(const tasks *g, unsigned caps)
{
	int			best = -1;

	for (int i = 0; i < g->nready; i++)
		if ((g->nodes[g->ready[i]].needs & ~caps) == 0 &&
			(best < 0 || better(g, g->ready[i], g->ready[best])))
			best = i;
	return best;
}

/* Take the best ready task for caps out of the ready set; -1 if none. */
static int
take(tasks *g, unsigned caps)
{
	int			pos = best_ready(g, caps);
	int			t;

	if (pos < 0)
		return -1;
	t = g->ready[pos];
	g->ready[pos] = g->ready[--g->nready];
	g->nodes[t].state = NODE_RUNNING;
	g->running++;
	return t;
}

/*
 * Whether nothing can become runnable any more: no task is running (so
 * none will be released) and no live worker can run a ready task.
 */
static bool
starved(const tasks *g)
{
	if (g->running > 0)
		return false;
	for (int i = 0; i < g->cfg->nworkers; i++)
		if (g->slots[i].alive && best_ready(g, g->slots[i].caps) >= 0)
			return false;
	return true;
}

static bool
stop_requested(const tasks *g)
{
	return g->cfg->stop != NULL && atomic_load(g->cfg->stop) != 0;
}

/* Stop handing out work and cancel what runs.  Lock held. */
static void
stop_all(tasks *g)
{
	if (g->stopping)
		return;
	g->stopping = true;
	if (g->cfg->cancel)
		g->cfg->cancel(g->cfg->arg);
}

/* Task t failed for good: skip every task that waits for it.  Lock held. */
static void
skip_dependents(tasks *g, int t)
{
	int		   *stack = xcalloc((size_t) g->n + 1, sizeof(int));
	int			top = 0;

	stack[top++] = t;
	while (top > 0)
	{
		node	   *nd = &g->nodes[stack[--top]];

		for (int i = 0; i < nd->nnext; i++)
		{
			node	   *w = &g->nodes[nd->next[i]];

			if (w->state != NODE_WAITING)
				continue;
			w->state = NODE_SKIPPED;
			g->unfinished--;
			g->stats.skipped++;
			stack[top++] = nd->next[i];
		}
	}
	free(stack);
}

/* Sleep for ms milliseconds unless the run is stopped meanwhile. */
static void
backoff(const tasks *g, int64_t ms)
{
	for (int64_t left = ms; left > 0 && !stop_requested(g); left -= 50)
	{
		struct timespec ts = {0, (left < 50 ? left : 50) * 1000 * 1000};

		nanosleep(&ts, NULL);
	}
}

/* (Re)open the worker's sessions. */
static task_outcome
connect_slot(slot *s)
{
	const tasks_config *cfg = s->g->cfg;
	task_outcome out;

	if (s->connected)
		return TASK_DONE;
	cfg->ops->disconnect(s->worker, cfg->arg);
	out = cfg->ops->connect(s->worker, cfg->arg);
	s->connected = out == TASK_DONE;
	return out;
}

/* One attempt at task t on the worker's sessions, opened first if need be. */
static task_outcome
attempt_task(slot *s, int t, int attempt, failure *f)
{
	const tasks_config *cfg = s->g->cfg;
	task_outcome out;

	failure_capture_begin(f);
	out = connect_slot(s);
	if (out == TASK_DONE)
		out = cfg->ops->run(s->worker, s->g->nodes[t].payload, attempt, cfg->arg);
	failure_capture_end(f);
	if (out == TASK_FAILED && failure_is_transient(f))
		out = TASK_RETRY;
	return out;
}

/*
 * Run task t, trying again on new sessions while it fails transiently.
 * The errors of an attempt are held and printed once this decides what
 * they are: warnings when it tries again or succeeds, errors when not.
 */
static bool
run_task(slot *s, int t)
{
	tasks	   *g = s->g;
	const tasks_config *cfg = g->cfg;
	int			max = cfg->max_attempts > 0 ? cfg->max_attempts : 1;
	int64_t		delay = cfg->retry_delay_ms > 0 ? cfg->retry_delay_ms : 1000;

	for (int attempt = 1;; attempt++)
	{
		failure		f = FAILURE_INIT;
		task_outcome out = attempt_task(s, t, attempt, &f);
		bool		last = out == TASK_FAILED || attempt >= max || stop_requested(g);
		char		name[512];

		failure_report(&f, out == TASK_DONE || !last ? LOG_WARNING : LOG_ERROR);
		failure_release(&f);
		if (out == TASK_DONE)
			return true;
		if (last)
			return false;
		log_warning("%s failed; retrying in %g s (attempt %d of %d)",
					cfg->ops->name(g->nodes[t].payload, name, sizeof(name), cfg->arg),
					(double) delay / 1000, attempt + 1, max);
		pthread_mutex_lock(&g->lock);
		g->stats.retries++;
		pthread_mutex_unlock(&g->lock);
		backoff(g, delay);
		delay *= 2;
		s->connected = false;
	}
}

/* Account for task t, run with result ok.  Lock held. */
static void
finish(slot *s, int t, bool ok)
{
	tasks	   *g = s->g;

	g->running--;
	g->unfinished--;
	if (ok)
	{
		g->nodes[t].state = NODE_DONE;
		g->stats.done++;
		release_next(g, t);
	}
	else
	{
		g->nodes[t].state = NODE_FAILED;
		g->stats.failed++;
		g->any_failed = true;
		if (g->cfg->keep_going && !stop_requested(g))
			skip_dependents(g, t);
		else
			stop_all(g);
	}
	pthread_cond_broadcast(&g->cond);
}

/* After a failed task with keep_going: can the worker go on? */
static bool
recover(slot *s)
{
	const tasks_config *cfg = s->g->cfg;
	failure		f = FAILURE_INIT;
	bool		ok;

	if (!cfg->keep_going || !s->connected)
		return cfg->keep_going;
	if (cfg->ops->recover == NULL)
	{
		s->connected = false;
		return true;
	}
	failure_capture_begin(&f);
	ok = cfg->ops->recover(s->worker, cfg->arg) == 0;
	failure_capture_end(&f);
	failure_report(&f, LOG_ERROR);
	failure_release(&f);
	s->connected = ok;
	return ok;
}

/* Wait for work; the time waited is the worker's idle time.  Lock held. */
static void
wait_for_work(slot *s)
{
	double		start = clock_now();

	pthread_cond_wait(&s->g->cond, &s->g->lock);
	s->idle += clock_now() - start;
}

/* Open the worker's sessions first; a failure ends the worker. */
static bool
start_slot(slot *s)
{
	tasks	   *g = s->g;
	failure		f = FAILURE_INIT;
	task_outcome out;

	failure_capture_begin(&f);
	out = connect_slot(s);
	failure_capture_end(&f);
	failure_report(&f, LOG_ERROR);
	failure_release(&f);
	if (out == TASK_DONE)
		return true;
	pthread_mutex_lock(&g->lock);
	g->any_failed = true;
	if (!g->cfg->keep_going)
		stop_all(g);
	pthread_mutex_unlock(&g->lock);
	return false;
}

/* run_task, with its start and end in the debug messages (-v). */
static bool
timed_task(slot *s, int t)
{
	const tasks_config *cfg = s->g->cfg;
	double		start = clock_now() - s->g->started;
	bool		ok = run_task(s, t);
	char		name[512];

	if (log_get_level() > LOG_DEBUG)
		return ok;
	log_debug("worker %d: %s from %.2f s to %.2f s",
			  (int) (s - s->g->slots) + 1,
			  cfg->ops->name(s->g->nodes[t].payload, name, sizeof(name), cfg->arg),
			  start, clock_now() - s->g->started);
	return ok;
}

/* Take tasks until none is left or will come, or the run stops. */
static void *
worker_main(void *arg)
{
	slot	   *s = arg;
	tasks	   *g = s->g;
	bool		go = start_slot(s);

	pthread_mutex_lock(&g->lock);
	while (go && !g->stopping && g->unfinished > 0)
	{
		int			t;
		bool		ok;

		if (stop_requested(g))
		{
			stop_all(g);
			break;
		}
		if ((t = take(g, s->caps)) < 0)
		{
			if (starved(g))
				break;
			wait_for_work(s);
			continue;
		}
		pthread_mutex_unlock(&g->lock);
		ok = timed_task(s, t);
		go = ok || recover(s);
		pthread_mutex_lock(&g->lock);
		finish(s, t, ok);
	}
	s->alive = false;
	g->alive--;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
	g->cfg->ops->disconnect(s->worker, g->cfg->arg);
	return NULL;
}

/* Prepare the run: the ready set and the count of what is left. */
static void
prepare(tasks *g, const tasks_config *cfg)
{
	g->cfg = cfg;
	rank_tasks(g);
	g->ready = xcalloc((size_t) g->n + 1, sizeof(int));
	g->nready = 0;
	g->unfinished = 0;
	memset(&g->stats, 0, sizeof(g->stats));
	for (int i = 0; i < g->n; i++)
	{
		node	   *nd = &g->nodes[i];

		if (nd->state == NODE_DONE)
		{
			g->stats.done++;
			continue;
		}
		g->unfinished++;
		if (nd->waits == 0)
		{
			nd->state = NODE_READY;
			g->ready[g->nready++] = i;
		}
	}
	g->slots = xcalloc((size_t) cfg->nworkers + 1, sizeof(slot));
	for (int i = 0; i < cfg->nworkers; i++)
	{
		g->slots[i].g = g;
		g->slots[i].worker = (char *) cfg->workers + (size_t) i * cfg->worker_size;
		g->slots[i].caps = cfg->caps ? cfg->caps[i] : ~0u;
		g->slots[i].alive = true;
	}
	g->alive = cfg->nworkers;
}

/* Show progress until every worker has ended. */
static void
watch(tasks *g)
{
	for (;;)
	{
		bool		done;
		struct timespec ts = {0, 200 * 1000 * 1000};

		pthread_mutex_lock(&g->lock);
		done = g->alive == 0;
		if (stop_requested(g))
		{
			stop_all(g);
			pthread_cond_broadcast(&g->cond);
		}
		pthread_mutex_unlock(&g->lock);
		if (g->cfg->ops->tick)
			g->cfg->ops->tick(g->cfg->arg);
		if (done)
			return;
		nanosleep(&ts, NULL);
	}
}

/* The state of a simulated run; times in the unit of the costs. */
typedef struct sim
{
	tasks	   *g;
	int		   *waits;			/* per task: not yet ended that it waits for */
	int		   *ready;
	int			nready;
	int		   *task_of;		/* per worker: its task, or -1 */
	double	   *work_left;		/* per worker: of its task */
	const unsigned *caps;
	int			nworkers;
	int			capacity;
	int			left;			/* tasks not ended */
	double		now;
} sim;

/* The best ready task for caps in sim's ready set, taken out; -1 if none. */
static int
sim_take(sim *m, unsigned caps)
{
	int			best = -1;
	int			t;

	for (int i = 0; i < m->nready; i++)
		if ((m->g->nodes[m->ready[i]].needs & ~caps) == 0 &&
			(best < 0 || better(m->g, m->ready[i], m->ready[best])))
			best = i;
	if (best < 0)
		return -1;
	t = m->ready[best];
	m->ready[best] = m->ready[--m->nready];
	return t;
}

/* Give every free worker the best ready task it can run; how many run. */
static int
sim_assign(sim *m)
{
	int			running = 0;

	for (int w = 0; w < m->nworkers; w++)
	{
		if (m->task_of[w] < 0)
		{
			int			t = sim_take(m, m->caps ? m->caps[w] : ~0u);
			int64_t		cost = t >= 0 ? m->g->nodes[t].cost : 0;

			m->task_of[w] = t;
			m->work_left[w] = cost == INT64_MAX || cost < 0 ? 0 : (double) cost;
		}
		running += m->task_of[w] >= 0;
	}
	return running;
}

/*
 * Move the clock to the next end (running tasks sharing the capacity),
 * end those tasks and release the tasks waiting for them.
 */
static void
sim_advance(sim *m, int running, tasks_sim *out, int64_t *ends)
{
	double		rate = m->capacity > 0 && running > m->capacity ?
		(double) m->capacity / running : 1.0;
	double		step = -1;

	for (int w = 0; w < m->nworkers; w++)
		if (m->task_of[w] >= 0 && (step < 0 || m->work_left[w] < step))
			step = m->work_left[w];
	step /= rate;
	out->idle += (int64_t) (step * (m->nworkers - running) + 0.5);
	m->now += step;
	for (int w = 0; w < m->nworkers; w++)
	{
		int			t = m->task_of[w];
		const node *nd;

		if (t < 0)
			continue;
		m->work_left[w] -= step * rate;
		if (m->work_left[w] > 1e-6 * step)
			continue;
		nd = &m->g->nodes[t];
		if (ends)
			ends[t] = (int64_t) (m->now + 0.5);
		for (int i = 0; i < nd->nnext; i++)
			if (--m->waits[nd->next[i]] == 0)
				m->ready[m->nready++] = nd->next[i];
		m->task_of[w] = -1;
		m->left--;
	}
}

tasks_sim
tasks_simulate(tasks *g, int nworkers, const unsigned *caps, int capacity,
			   int64_t *ends)
{
	sim			m = {g, NULL, NULL, 0, NULL, NULL, caps, nworkers, capacity, 0, 0};
	tasks_sim	out = {0, 0, 0};
	int			running;

	rank_tasks(g);
	m.waits = xcalloc((size_t) g->n + 1, sizeof(int));
	m.ready = xcalloc((size_t) g->n + 1, sizeof(int));
	m.task_of = xcalloc((size_t) nworkers + 1, sizeof(int));
	m.work_left = xcalloc((size_t) nworkers + 1, sizeof(double));
	for (int i = 0; i < g->n; i++)
	{
		m.waits[i] = g->nodes[i].waits;
		if (ends)
			ends[i] = 0;
		if (g->nodes[i].state == NODE_DONE)
			continue;
		m.left++;
		if (m.waits[i] == 0)
			m.ready[m.nready++] = i;
	}
	for (int w = 0; w < nworkers; w++)
		m.task_of[w] = -1;
	while (m.left > 0 && (running = sim_assign(&m)) > 0)
		sim_advance(&m, running, &out, ends);
	out.makespan = (int64_t) (m.now + 0.5);
	out.unrun = m.left;
	free(m.waits);
	free(m.ready);
	free(m.task_of);
	free(m.work_left);
	return out;
}

int
tasks_run(tasks *g, const tasks_config *cfg, tasks_stats *stats)
{
	int			started = 0;
	int			rc;

	prepare(g, cfg);
	g->started = clock_now();
	for (int i = 0; i < cfg->nworkers; i++, started++)
		if (pthread_create(&g->slots[i].thread, NULL, worker_main, &g->slots[i]) != 0)
		{
			error("could not start worker thread");
			pthread_mutex_lock(&g->lock);
			g->any_failed = true;
			stop_all(g);
			for (int j = i; j < cfg->nworkers; j++)
				g->slots[j].alive = false;
			g->alive -= cfg->nworkers - i;
			pthread_cond_broadcast(&g->cond);
			pthread_mutex_unlock(&g->lock);
			break;
		}
	watch(g);
	for (int i = 0; i < started; i++)
	{
		pthread_join(g->slots[i].thread, NULL);
		g->stats.idle_seconds += g->slots[i].idle;
	}
	rc = g->unfinished == 0 && !g->any_failed && !stop_requested(g) ? 0 : -1;
	if (stats)
		*stats = g->stats;
	free(g->slots);
	g->slots = NULL;
	return rc;
}
