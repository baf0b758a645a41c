/*
 * tasks.h
 *		One task engine: a dependency graph of tasks run by a pool of
 *		workers, each with its own sessions.
 *
 * The clone's data phase (table parts, indexes, ANALYZE, foreign keys)
 * and verify's comparison (table parts, the table's verdict, sequences,
 * large objects) are both graphs of this kind.  The caller adds every
 * task with what it needs and what it waits for, then runs the graph:
 *
 *  - a task is ready when every task it waits for is done; a worker takes
 *    the ready task it can run (the task's needs are among the worker's
 *    capabilities) with the highest priority, then the longest chain of
 *    work it starts (its cost plus the longest chain of the tasks waiting
 *    for it: its critical path), then the one added first; so the longest
 *    chains start early and small tasks fill the gaps at the end;
 *  - each worker opens its sessions when it starts (ops->connect) and
 *    closes them when it ends (ops->disconnect); a task runs on the
 *    sessions of the worker that took it;
 *  - a task that fails transiently (TASK_RETRY, or TASK_FAILED with a
 *    transient failure filled: a lost connection, a server restart, a
 *    deadlock; errclass.h decides) is tried again, up to
 *    max_attempts, after 1, 2, 4, 8 ... seconds (retry_delay_ms doubled),
 *    on new sessions;
 *  - a task that fails for good stops the run (cfg->cancel is called to
 *    stop the queries of the other workers), or with keep_going only its
 *    dependents are skipped and the worker's sessions are recovered
 *    (ops->recover) before it takes the next task;
 *  - *cfg->stop becoming non-zero (Ctrl-C) ends the run: running tasks
 *    are expected to watch it, no new task starts.
 *
 * The engine is the layer that decides about a failure, so it is the one
 * that logs it: each attempt runs inside a failure capture (failure.h),
 * whose lines are printed as warnings when the task is retried or
 * recovers, as errors when the run gives up.  A callback that fails on
 * one connection while another broke says so with conn_note_broken()
 * before it returns, so the failure counts as transient.  The module knows nothing of PostgreSQL: the
 * caller's callbacks do the work.
 */
#ifndef PGCRANE_TASKS_H
#define PGCRANE_TASKS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tasks tasks;

/* What a task or a connect attempt came to. */
typedef enum task_outcome
{
	TASK_DONE = 0,
	TASK_FAILED,				/* tried again only when the failure the
								 * attempt filled (failure.h) is transient */
	TASK_RETRY					/* transient whatever was filled */
} task_outcome;

/*
 * The caller's side.  "worker" is the caller's per-worker struct (cfg
 * below), "arg" is cfg->arg.  Every callback runs in the worker's own
 * thread, without the engine's lock, except tick (the thread calling
 * tasks_run).
 */
typedef struct tasks_ops
{
	/* Open the worker's sessions. */
	task_outcome (*connect) (void *worker, void *arg);
	/* Close them (also after a failed connect); must be idempotent. */
	void		(*disconnect) (void *worker, void *arg);
	/* Run one task; attempt counts from 1. */
	task_outcome (*run) (void *worker, void *payload, int attempt, void *arg);
	/*
	 * With keep_going: make the worker usable again after a failed task;
	 * 0, or -1 when it cannot (the worker then ends).  May be NULL.
	 */
	int			(*recover) (void *worker, void *arg);
	/* The task's name for messages ("table \"public.t\" part 2/4"). */
	const char *(*name) (const void *payload, char *buf, size_t size,
						 void *arg);
	/* Called about five times a second while the run goes on; may be NULL. */
	void		(*tick) (void *arg);
} tasks_ops;

typedef struct tasks_config
{
	const tasks_ops *ops;
	void	   *arg;
	void	   *workers;		/* nworkers structs of worker_size bytes */
	size_t		worker_size;
	int			nworkers;
	const unsigned *caps;		/* per worker: what it can run; NULL: all */
	int			max_attempts;	/* 1: never retry */
	int			retry_delay_ms; /* first pause, doubled each time; 0: 1000 */
	bool		keep_going;		/* a failure skips only its dependents */
	const atomic_int *stop;		/* non-zero: stop (may be NULL) */
	void		(*cancel) (void *arg);	/* stop the others' running tasks */
} tasks_config;

typedef struct tasks_stats
{
	int			done;			/* tasks done (marked done included) */
	int			failed;			/* tasks failed for good */
	int			skipped;		/* not run: a task they wait for failed */
	int			retries;		/* attempts after the first */
	double		idle_seconds;	/* workers waiting for ready work, summed */
} tasks_stats;

/* An empty graph; free with tasks_free().  Aborts on out of memory. */
tasks	   *tasks_create(void);
void		tasks_free(tasks *g);

/*
 * Add a task and return its number (0, 1, ...).  payload is the
 * caller's (not freed here); cost is its own estimated work, in any unit
 * the caller uses for all its tasks (INT64_MAX: before everything of its
 * priority); needs is a set of capability bits a worker must have (0: any
 * worker).  Only before tasks_run().
 */
int			tasks_add(tasks *g, void *payload, int priority, int64_t cost,
					  unsigned needs);

/* Task "task" waits for task "first" to be done.  Only before tasks_run(). */
void		tasks_after(tasks *g, int task, int first);

/*
 * Count a task as done without running it (resume: a previous run did
 * it); the tasks waiting for it are released.  Only before tasks_run().
 */
void		tasks_mark_done(tasks *g, int task);

/* Number of tasks added. */
int			tasks_count(const tasks *g);

/*
 * Run the graph on cfg->nworkers workers until every task is done, one
 * failed for good (without keep_going) or *cfg->stop is set.  0 when
 * every task is done, -1 otherwise.  stats may be NULL.
 */
int			tasks_run(tasks *g, const tasks_config *cfg, tasks_stats *stats);

/* What a simulated run (tasks_simulate) came to, in the unit of the costs. */
typedef struct tasks_sim
{
	int64_t		makespan;		/* the last task's end */
	int64_t		idle;			/* workers without a task before it, summed */
	int			unrun;			/* tasks no worker could take (needs) */
} tasks_sim;

/*
 * Simulate a run of the graph instead of running it: nworkers workers
 * with capabilities caps (NULL: all), each task being cost units of work
 * (a cost of INT64_MAX, "unknown, first", is none), workers taking ready
 * tasks by the very rule tasks_run uses (priority, longest chain, order
 * added), the free workers in their order.  At most capacity tasks run at
 * full speed (0: any number); with more running, they share it: each
 * goes at capacity/running.  ends, when not NULL, receives each task's
 * simulated end (0 for a task marked done).  The graph is left as it was:
 * it can still be run.
 */
tasks_sim	tasks_simulate(tasks *g, int nworkers, const unsigned *caps,
						   int capacity, int64_t *ends);

/* Tasks running now; callable from the callbacks (takes the lock). */
int			tasks_running(tasks *g);

/* Whether task "task" is done: for callbacks and after the run. */
bool		tasks_is_done(tasks *g, int task);

#endif
