/*
 * test_tasks_sim.c
 *		tasks_simulate(): the task engine's order rule played on virtual
 *		workers, each task lasting its cost.  Linked against tasks.o and
 *		the failure module only, like test_tasks: no connection.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>

#include "core/tasks.h"

/* A task of priority 0 that any worker can run. */
static int
task(tasks *g, int64_t cost)
{
	return tasks_add(g, NULL, 0, cost, 0);
}

/*
 * Two workers; A (10) is followed by B (10); C, D, E (5 each) stand
 * alone.  The longest chain starts first: A and C at 0, D at 5, then B
 * and E at 10; B ends at 20 and the second worker waits from 15.
 */
static void
test_chain_first(void **state)
{
	tasks	   *g = tasks_create();
	int			a = task(g, 10);
	int			b = task(g, 10);
	int			c = task(g, 5);
	int			d = task(g, 5);
	int			e = task(g, 5);
	int64_t		ends[5];
	tasks_sim	sim;

	(void) state;
	tasks_after(g, b, a);
	sim = tasks_simulate(g, 2, NULL, 0, ends);
	assert_int_equal(sim.makespan, 20);
	assert_int_equal(sim.idle, 5);
	assert_int_equal(sim.unrun, 0);
	assert_int_equal(ends[a], 10);
	assert_int_equal(ends[c], 5);
	assert_int_equal(ends[d], 10);
	assert_int_equal(ends[b], 20);
	assert_int_equal(ends[e], 15);
	/* The graph is left as it was: the same again. */
	sim = tasks_simulate(g, 2, NULL, 0, NULL);
	assert_int_equal(sim.makespan, 20);
	tasks_free(g);
}

/*
 * The chain a (6) -> b (6) ranks 12, above the larger lone task (11):
 * it starts first, and the small task fills the gap after the large one.
 */
static void
test_longest_chain_not_largest(void **state)
{
	tasks	   *g = tasks_create();
	int			big = task(g, 11);
	int			a = task(g, 6);
	int			b = task(g, 6);
	int			small = task(g, 1);
	int64_t		ends[4];
	tasks_sim	sim;

	(void) state;
	tasks_after(g, b, a);
	sim = tasks_simulate(g, 2, NULL, 0, ends);
	/* a (rank 12) and big (11) at 0; b at 6; small after big, at 11. */
	assert_int_equal(ends[a], 6);
	assert_int_equal(ends[b], 12);
	assert_int_equal(ends[big], 11);
	assert_int_equal(ends[small], 12);
	assert_int_equal(sim.makespan, 12);
	tasks_free(g);
}

/* Priority first, whatever the chains. */
static void
test_priority(void **state)
{
	tasks	   *g = tasks_create();
	int			low = task(g, 100);
	int			high = tasks_add(g, NULL, 1, 1, 0);
	int64_t		ends[2];

	(void) state;
	tasks_simulate(g, 1, NULL, 0, ends);
	assert_int_equal(ends[high], 1);
	assert_int_equal(ends[low], 101);
	tasks_free(g);
}

/* A task needing a capability runs only on a worker that has it. */
static void
test_caps(void **state)
{
	tasks	   *g = tasks_create();
	unsigned	caps[2] = {1u, 0u};
	int			x = tasks_add(g, NULL, 0, 10, 1u);
	int			y = tasks_add(g, NULL, 0, 10, 1u);
	int64_t		ends[2];
	tasks_sim	sim;

	(void) state;
	sim = tasks_simulate(g, 2, caps, 0, ends);
	assert_int_equal(ends[x], 10);
	assert_int_equal(ends[y], 20);
	assert_int_equal(sim.idle, 20);
	/* No worker at all can: counted, not run. */
	caps[0] = 0u;
	sim = tasks_simulate(g, 2, caps, 0, NULL);
	assert_int_equal(sim.unrun, 2);
	assert_int_equal(sim.makespan, 0);
	tasks_free(g);
}

/* More tasks running than the capacity share it. */
static void
test_capacity(void **state)
{
	tasks	   *g = tasks_create();
	int64_t		ends[3];
	tasks_sim	sim;

	(void) state;
	task(g, 10);
	task(g, 10);
	task(g, 4);
	/* Three share a capacity of one: a third of the speed each, so 4 ends at 12. */
	sim = tasks_simulate(g, 3, NULL, 1, ends);
	assert_int_equal(ends[2], 12);
	/* Then the two others, 6 left each, at half speed: 12 more. */
	assert_int_equal(ends[0], 24);
	assert_int_equal(ends[1], 24);
	assert_int_equal(sim.makespan, 24);
	/* Unlimited: 10. */
	assert_int_equal(tasks_simulate(g, 3, NULL, 0, NULL).makespan, 10);
	tasks_free(g);
}

/* Done tasks take nothing; an unknown cost (INT64_MAX) none either. */
static void
test_done_and_unknown(void **state)
{
	tasks	   *g = tasks_create();
	int			lo = tasks_add(g, NULL, 1, INT64_MAX, 0);
	int			done = task(g, 50);
	int			next = task(g, 7);
	int64_t		ends[3];
	tasks_sim	sim;

	(void) state;
	tasks_after(g, next, done);
	tasks_after(g, next, lo);
	tasks_mark_done(g, done);
	sim = tasks_simulate(g, 1, NULL, 0, ends);
	assert_int_equal(ends[done], 0);
	assert_int_equal(ends[lo], 0);
	assert_int_equal(ends[next], 7);
	assert_int_equal(sim.makespan, 7);
	tasks_free(g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain_first),
		cmocka_unit_test(test_longest_chain_not_largest),
		cmocka_unit_test(test_priority),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_done_and_unknown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
