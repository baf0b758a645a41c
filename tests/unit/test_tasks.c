/*
 * test_tasks.c
 *		The task engine: dependency order, choice of the next task,
 *		capabilities, retry, failure, cancellation and resume.
 *
 * Linked against tasks.o and the utilities only: the engine needs no
 * connection.  Tasks are small structs whose run callback records the
 * order they ran in and does what the test asks (fail, fail transiently,
 * set the stop flag).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/failure.h"
#include "core/tasks.h"
#include "util/log.h"

#define MAXT 64

typedef struct ttask
{
	int			id;
	int			fail_times;		/* TASK_RETRY this many times first */
	int			conflict_times; /* a filled 40001 failure this many times */
	bool		fail_hard;		/* TASK_FAILED */
	bool		set_stop;		/* sets the stop flag when it runs */
	int			sleep_ms;
	atomic_int	runs;
	atomic_int	ran_on;			/* worker number + 1 */
} ttask;

typedef struct tctx
{
	pthread_mutex_t lock;
	int			order[MAXT * 4];
	int			norder;
	atomic_int	connects;
	atomic_int	disconnects;
	atomic_int	recovers;
	atomic_int	cancels;
	atomic_int	stop;
	int			connect_fail_worker;	/* worker number + 1 that cannot connect */
} tctx;

typedef struct tworker
{
	tctx	   *c;
	int			no;
	bool		open;
} tworker;

static void
sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static task_outcome
t_connect(void *w_, void *arg)
{
	tworker    *w = w_;
	tctx	   *c = arg;

	atomic_fetch_add(&c->connects, 1);
	if (c->connect_fail_worker == w->no + 1)
	{
		error("could not connect to target server: test");
		return TASK_FAILED;
	}
	w->open = true;
	return TASK_DONE;
}

static void
t_disconnect(void *w_, void *arg)
{
	tworker    *w = w_;
	tctx	   *c = arg;

	if (w->open)
		atomic_fetch_add(&c->disconnects, 1);
	w->open = false;
}

static task_outcome
t_run(void *w_, void *payload, int attempt, void *arg)
{
	tworker    *w = w_;
	tctx	   *c = arg;
	ttask	   *t = payload;

	assert_true(w->open);
	atomic_fetch_add(&t->runs, 1);
	atomic_store(&t->ran_on, w->no + 1);
	if (t->sleep_ms)
		sleep_ms(t->sleep_ms);
	if (t->set_stop)
		atomic_store(&c->stop, 1);
	if (t->fail_hard)
	{
		error("could not run task %d", t->id);
		return TASK_FAILED;
	}
	if (attempt <= t->conflict_times)
	{
		failure_set("target", "40001", NULL, false,
					"could not run task %d: serialization failure", t->id);
		return TASK_FAILED;
	}
	if (attempt <= t->fail_times)
	{
		error("could not run task %d: transient", t->id);
		return TASK_RETRY;
	}
	pthread_mutex_lock(&c->lock);
	c->order[c->norder++] = t->id;
	pthread_mutex_unlock(&c->lock);
	return TASK_DONE;
}

static int
t_recover(void *w_, void *arg)
{
	(void) w_;
	atomic_fetch_add(&((tctx *) arg)->recovers, 1);
	return 0;
}

static const char *
t_name(const void *payload, char *buf, size_t size, void *arg)
{
	(void) arg;
	snprintf(buf, size, "task %d", ((const ttask *) payload)->id);
	return buf;
}

static void
t_cancel(void *arg)
{
	tctx	   *c = arg;

	atomic_fetch_add(&c->cancels, 1);
	atomic_store(&c->stop, 1);
}

static const tasks_ops ops = {t_connect, t_disconnect, t_run, t_recover, t_name, NULL};

typedef struct fixture
{
	tctx		c;
	ttask		t[MAXT];
	tworker		w[8];
	tasks	   *g;
	tasks_config cfg;
	tasks_stats st;
} fixture;

static fixture *
fixture_new(int ntasks, int nworkers)
{
	fixture    *f = calloc(1, sizeof(fixture));

	pthread_mutex_init(&f->c.lock, NULL);
	f->g = tasks_create();
	for (int i = 0; i < ntasks; i++)
		f->t[i].id = i;
	for (int i = 0; i < nworkers; i++)
	{
		f->w[i].c = &f->c;
		f->w[i].no = i;
	}
	f->cfg = (tasks_config)
	{
		.ops = &ops,.arg = &f->c,.workers = f->w,.worker_size = sizeof(tworker),
			.nworkers = nworkers,.max_attempts = 1,.retry_delay_ms = 10,
			.stop = &f->c.stop,.cancel = t_cancel
	};
	return f;
}

static void
fixture_free(fixture *f)
{
	tasks_free(f->g);
	pthread_mutex_destroy(&f->c.lock);
	free(f);
}

static int
pos_of(const fixture *f, int id)
{
	for (int i = 0; i < f->c.norder; i++)
		if (f->c.order[i] == id)
			return i;
	return -1;
}

/* A diamond and a chain: every task runs once, after what it waits for. */
static void
test_dependency_order(void **state)
{
	fixture    *f = fixture_new(8, 3);

	(void) state;
	for (int i = 0; i < 8; i++)
		tasks_add(f->g, &f->t[i], 0, 8 - i, 0);
	tasks_after(f->g, 1, 0);
	tasks_after(f->g, 2, 0);
	tasks_after(f->g, 3, 1);
	tasks_after(f->g, 3, 2);
	tasks_after(f->g, 5, 4);
	tasks_after(f->g, 6, 5);
	tasks_after(f->g, 7, 6);
	tasks_after(f->g, 7, 3);
	f->t[0].sleep_ms = f->t[4].sleep_ms = 20;
	assert_int_equal(tasks_run(f->g, &f->cfg, &f->st), 0);
	assert_int_equal(f->c.norder, 8);
	for (int i = 0; i < 8; i++)
		assert_int_equal(atomic_load(&f->t[i].runs), 1);
	assert_true(pos_of(f, 1) > pos_of(f, 0));
	assert_true(pos_of(f, 2) > pos_of(f, 0));
	assert_true(pos_of(f, 3) > pos_of(f, 1));
	assert_true(pos_of(f, 3) > pos_of(f, 2));
	assert_true(pos_of(f, 6) > pos_of(f, 5));
	assert_true(pos_of(f, 7) > pos_of(f, 6));
	assert_true(pos_of(f, 7) > pos_of(f, 3));
	assert_int_equal(f->st.done, 8);
	assert_int_equal(f->st.failed, 0);
	/* Each worker connected once and closed what it opened. */
	assert_int_equal(atomic_load(&f->c.connects), 3);
	assert_int_equal(atomic_load(&f->c.disconnects), 3);
	fixture_free(f);
}

/* One worker takes ready tasks by priority, then cost, then order added. */
static void
test_choice_order(void **state)
{
	fixture    *f = fixture_new(6, 1);
	int			want[] = {4, 1, 3, 0, 5, 2};

	(void) state;
	tasks_add(f->g, &f->t[0], 0, 10, 0);
	tasks_add(f->g, &f->t[1], 0, 50, 0);
	tasks_add(f->g, &f->t[2], 0, 10, 0);
	tasks_add(f->g, &f->t[3], 0, 30, 0);
	tasks_add(f->g, &f->t[4], 1, 1, 0);
	tasks_add(f->g, &f->t[5], 0, 10, 0);
	/* 2 waits for 0 and is added before 5, but becomes ready after 0. */
	tasks_after(f->g, 2, 0);
	tasks_after(f->g, 2, 5);
	assert_int_equal(tasks_run(f->g, &f->cfg, &f->st), 0);
	assert_int_equal(f->c.norder, 6);
	assert_memory_equal(f->c.order, want, sizeof(want));
	fixture_free(f);
}

/*
 * The ready task that starts the longest chain goes first, however small
 * it is itself: a short copy followed by a long index build beats a
 * longer copy with nothing after it.
 */
static void
test_critical_path(void **state)
{
	fixture    *f = fixture_new(5, 1);

	(void) state;
	tasks_add(f->g, &f->t[0], 0, 1, 0);		/* then 1: a chain of 101 */
	tasks_add(f->g, &f->t[1], 0, 100, 0);
	tasks_add(f->g, &f->t[2], 0, 50, 0);	/* alone: 50 */
	tasks_add(f->g, &f->t[3], 0, 10, 0);	/* then 4, done already */
	tasks_add(f->g, &f->t[4], 0, 1000, 0);
	tasks_after(f->g, 1, 0);
	tasks_after(f->g, 4, 3);
	assert_int_equal(tasks_run(f->g, &f->cfg, &f->st), 0);
	assert_int_equal(f->c.norder, 5);
	/* 3's chain (1010) is the longest, then 0's (101), then 2 (50). */
	assert_int_equal(f->c.order[0], 3);
	assert_int_equal(f->c.order[1], 4);
	assert_int_equal(f->c.order[2], 0);
	assert_int_equal(f->c.order[3], 1);
	assert_int_equal(f->c.order[4], 2);
	fixture_free(f);
}

/* A task already done adds nothing to the chains that lead to it. */
static void
test_rank_skips_done(void **state)
{
	fixture    *f = fixture_new(3, 1);

	(void) state;
	tasks_add(f->g, &f->t[0], 0, 1, 0);
	tasks_add(f->g, &f->t[1], 0, 1000, 0);
	tasks_add(f->g, &f->t[2], 0, 50, 0);
	tasks_after(f->g, 1, 0);
	tasks_mark_done(f->g, 1);
	assert_int_equal(tasks_run(f->g, &f->cfg, &f->st), 0);
	assert_int_equal(f->c.norder, 2);
	assert_int_equal(f->c.order[0], 2);
	assert_int_equal(f->c.order[1], 0);
	fixture_free(f);
}

/* A task that needs a capability runs only on a worker that has it. */
static void
test_capabilities(void **state)
{
	fixture    *f = fixture_new(10, 2);
	unsigned	caps[2] = {0, 1};

	(void) state;
	f->cfg.caps = caps;
	for (int i = 0; i < 10; i++)
		tasks_add(f->g, &f->t[i], 0, 1, i % 2 ? 1u : 0u);
	assert_int_equal(tasks_run(f->g, &f->cfg, &f->st), 0);
	for (int i = 1; i < 10; i += 2)
		assert_int_equal(atomic_load(&f->t[i].ran_on), 2);
	fixture_free(f);
}

/* Work no worker can run ends the run instead of waiting for ever. */
static void
test_unrunnable(void **state)
{
	fixture    *f = fixture_new(3, 2);
	unsigned	caps[2] = {0, 0};

	(void) state;
	f->cfg.caps = caps;
	tasks_add(f->g, &f->t[0], 0, 1, 0);
	tasks_add(f->g, &f->t[1], 0, 1, 4u);
	tasks_add(f->g, &f->t[2], 0, 1, 0);
	tasks_after(f->g, 2, 1);
	assert_int_equal(tasks_run(f->g, &f->cfg, &f->st), -1);
	assert_int_equal(atomic_load(&f->t[0].runs), 1);
	assert_int_equal(atomic_load(&f->t[1].runs), 0);
	assert_int_equal(atomic_load(&f->t[2].runs), 0);
	fixture_free(f);
}

/* A transient failure is retried on new sessions and then succeeds. */
static void
test_retry_recovers(void **state)
{
	fixture    *f = fixture_new(2, 1);

	(void) state;
	f->cfg.max_attempts = 5;
	tasks_add(f->g, &f->t[0], 0, 1, 0);
	tasks_add(f->g, &f->t[1], 0, 1, 0);
	f->t[0].fail_times = 2;
	assert_int_equal(tasks_run(f->g, &f->cfg, &f->st), 0);
	assert_int_equal(atomic_load(&f->t[0].runs), 3);
	assert_int_equal(f->st.retries, 2);
	/* Connected at start and again before each retry. */
	assert_int_equal(atomic_load(&f->c.connects), 3);
	assert_int_equal(atomic_load(&f->c.cancels), 0);
	fixture_free(f);
}

/*
 * A task that fails with a transient failure filled (a serialization
 * failure) is retried like one that says TASK_RETRY; a failure logged
 * without facts is permanent.
 */
static void
test_retry_by_failure(void **state)
{
	fixture    *f = fixture_new(2, 1);

	(void) state;
	f->cfg.max_attempts = 5;
	tasks_add(f->g, &f->t[0], 1, 1, 0);
	tasks_add(f->g, &f->t[1], 0, 1, 0);
	f->t[0].conflict_times = 2;
	assert_int_equal(tasks_run(f->g, &f->cfg, &f->st), 0);
	assert_int_equal(atomic_load(&f->t[0].runs), 3);
	assert_int_equal(f->st.retries, 2);
	fixture_free(f);
}

/* Retries end at max_attempts; the run fails and cancels the rest. */
static void
test_retry_gives_up(void **state)
{
	fixture    *f = fixture_new(2, 1);

	(void) state;
	f->cfg.max_attempts = 3;
	tasks_add(f->g, &f->t[0], 1, 1, 0);
	tasks_add(f->g, &f->t[1], 0, 1, 0);
	f->t[0].fail_times = 10;
	assert_int_equal(tasks_run(f->g, &f->cfg, &f->st), -1);
	assert_int_equal(atomic_load(&f->t[0].runs), 3);
	assert_int_equal(atomic_load(&f->t[1].runs), 0);
	assert_int_equal(f->st.failed, 1);
	assert_int_equal(atomic_load(&f->c.cancels), 1);
	fixture_free(f);
}

/* A failure for good is never retried and stops the run. */
static void
test_failure_stops(void **state)
{
	fixture    *f = fixture_new(5, 1);

	(void) state;
	f->cfg.max_attempts = 5;
	for (int i = 0; i < 5; i++)
		tasks_add(f->g, &f->t[i], 0, 5 - i, 0);
	f->t[1].fail_hard = true;
	assert_int_equal(tasks_run(f->g, &f->cfg, &f->st), -1);
	assert_int_equal(atomic_load(&f->t[1].runs), 1);
	assert_int_equal(f->c.norder, 1);
	assert_int_equal(atomic_load(&f->c.cancels), 1);
	fixture_free(f);
}

/* keep_going: a failure skips its dependents only; the worker recovers. */
static void
test_keep_going(void **state)
{
	fixture    *f = fixture_new(6, 2);

	(void) state;
	f->cfg.keep_going = true;
	for (int i = 0; i < 6; i++)
		tasks_add(f->g, &f->t[i], 0, 1, 0);
	tasks_after(f->g, 1, 0);
	tasks_after(f->g, 2, 1);
	tasks_after(f->g, 4, 3);
	f->t[0].fail_hard = true;
	assert_int_equal(tasks_run(f->g, &f->cfg, &f->st), -1);
	assert_int_equal(atomic_load(&f->t[1].runs), 0);
	assert_int_equal(atomic_load(&f->t[2].runs), 0);
	assert_int_equal(atomic_load(&f->t[3].runs), 1);
	assert_int_equal(atomic_load(&f->t[4].runs), 1);
	assert_int_equal(atomic_load(&f->t[5].runs), 1);
	assert_int_equal(f->st.failed, 1);
	assert_int_equal(f->st.skipped, 2);
	assert_int_equal(f->st.done, 3);
	assert_int_equal(atomic_load(&f->c.recovers), 1);
	assert_int_equal(atomic_load(&f->c.cancels), 0);
	fixture_free(f);
}

/* Setting the stop flag (Ctrl-C) lets no new task start. */
static void
test_stop_flag(void **state)
{
	fixture    *f = fixture_new(6, 1);

	(void) state;
	for (int i = 0; i < 6; i++)
		tasks_add(f->g, &f->t[i], 0, 6 - i, 0);
	f->t[2].set_stop = true;
	assert_int_equal(tasks_run(f->g, &f->cfg, &f->st), -1);
	assert_int_equal(f->c.norder, 3);
	for (int i = 3; i < 6; i++)
		assert_int_equal(atomic_load(&f->t[i].runs), 0);
	fixture_free(f);
}

/* Resume: tasks marked done do not run and release what waits for them. */
static void
test_mark_done(void **state)
{
	fixture    *f = fixture_new(4, 2);

	(void) state;
	for (int i = 0; i < 4; i++)
		tasks_add(f->g, &f->t[i], 0, 1, 0);
	tasks_after(f->g, 1, 0);
	tasks_after(f->g, 2, 1);
	tasks_mark_done(f->g, 0);
	tasks_mark_done(f->g, 1);
	/* An edge from a task already done adds no wait. */
	tasks_after(f->g, 3, 0);
	assert_int_equal(tasks_run(f->g, &f->cfg, &f->st), 0);
	assert_int_equal(atomic_load(&f->t[0].runs), 0);
	assert_int_equal(atomic_load(&f->t[1].runs), 0);
	assert_int_equal(atomic_load(&f->t[2].runs), 1);
	assert_int_equal(atomic_load(&f->t[3].runs), 1);
	assert_int_equal(f->st.done, 4);
	assert_true(tasks_is_done(f->g, 2));
	fixture_free(f);
}

/* A worker that cannot connect fails the run; the others still stop. */
static void
test_connect_failure(void **state)
{
	fixture    *f = fixture_new(4, 2);

	(void) state;
	f->c.connect_fail_worker = 2;
	for (int i = 0; i < 4; i++)
	{
		tasks_add(f->g, &f->t[i], 0, 1, 0);
		f->t[i].sleep_ms = 20;
	}
	assert_int_equal(tasks_run(f->g, &f->cfg, &f->st), -1);
	assert_int_equal(atomic_load(&f->c.cancels), 1);
	fixture_free(f);
}

/* An empty graph is done at once. */
static void
test_empty(void **state)
{
	fixture    *f = fixture_new(0, 2);

	(void) state;
	assert_int_equal(tasks_count(f->g), 0);
	assert_int_equal(tasks_run(f->g, &f->cfg, &f->st), 0);
	fixture_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dependency_order),
		cmocka_unit_test(test_choice_order),
		cmocka_unit_test(test_critical_path),
		cmocka_unit_test(test_rank_skips_done),
		cmocka_unit_test(test_capabilities),
		cmocka_unit_test(test_unrunnable),
		cmocka_unit_test(test_retry_recovers),
		cmocka_unit_test(test_retry_by_failure),
		cmocka_unit_test(test_retry_gives_up),
		cmocka_unit_test(test_failure_stops),
		cmocka_unit_test(test_keep_going),
		cmocka_unit_test(test_stop_flag),
		cmocka_unit_test(test_mark_done),
		cmocka_unit_test(test_connect_failure),
		cmocka_unit_test(test_empty),
	};

	log_set_level(LOG_ERROR + 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
