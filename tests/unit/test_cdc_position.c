/*
 * test_cdc_position.c
 *		Unit tests of the feedback computation: the flush position reported
 *		to the source never passes what the target holds durably.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>

#include <cmocka.h>

#include "cdc/position.h"

/* Everything answered and durable: the furthest known position. */
static void
test_idle_and_durable(void **state)
{
	cdc_position p = {.durable = 100, .committed = 100, .applied = 120,
	.keepalive = 150, .idle = true};

	(void) state;
	assert_int_equal(cdc_position_flush(&p), 150);
	p.keepalive = 0;
	assert_int_equal(cdc_position_flush(&p), 120);
}

/* A commit answered but not flushed yet: only the durable position. */
static void
test_not_durable(void **state)
{
	cdc_position p = {.durable = 100, .committed = 130, .applied = 130,
	.keepalive = 150, .idle = true};

	(void) state;
	assert_int_equal(cdc_position_flush(&p), 100);
}

/* An open target transaction or commands in flight: only the durable one. */
static void
test_busy(void **state)
{
	cdc_position p = {.durable = 100, .committed = 100, .applied = 100,
	.keepalive = 150, .idle = false};

	(void) state;
	assert_int_equal(cdc_position_flush(&p), 100);
}

/*
 * The lost transaction: a keepalive arrives while a target transaction
 * (holding a source commit at 110) is open; the session ends, the
 * transaction is rolled back, the apply is idle.  Neither the keepalive
 * nor anything past 100 may be reported.
 */
static void
test_keepalive_during_open_transaction(void **state)
{
	uint64_t	ka = 90;
	cdc_position p;

	(void) state;
	ka = cdc_position_keepalive(ka, 140, false);
	assert_int_equal(ka, 90);
	ka = cdc_position_after_rollback(ka, 100);
	p = (cdc_position) {.durable = 100, .committed = 100, .applied = 100,
	.keepalive = ka, .idle = true};
	assert_true(cdc_position_flush(&p) <= 100);
}

/* Even a keepalive taken while idle falls back after a rollback. */
static void
test_rollback_bounds_keepalive(void **state)
{
	(void) state;
	assert_int_equal(cdc_position_after_rollback(200, 100), 100);
	assert_int_equal(cdc_position_after_rollback(80, 100), 80);
}

/* Keepalives taken while idle move the position on, never back. */
static void
test_keepalive_monotonic(void **state)
{
	(void) state;
	assert_int_equal(cdc_position_keepalive(100, 150, true), 150);
	assert_int_equal(cdc_position_keepalive(150, 120, true), 150);
	assert_int_equal(cdc_position_keepalive(150, 200, false), 150);
}

/* Every combination: the result never passes durable unless all is durable. */
static void
test_never_past_durable(void **state)
{
	const uint64_t v[] = {0, 50, 100, 150, 200};

	(void) state;
	for (size_t a = 0; a < 5; a++)
		for (size_t b = 0; b < 5; b++)
			for (size_t c = 0; c < 5; c++)
				for (size_t d = 0; d < 5; d++)
					for (int idle = 0; idle < 2; idle++)
					{
						cdc_position p = {v[a], v[b], v[c], v[d], idle == 1};
						uint64_t	f = cdc_position_flush(&p);

						if (!p.idle || p.durable < p.committed)
							assert_int_equal(f, p.durable);
						else
							assert_true(f >= p.durable);
					}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_and_durable),
		cmocka_unit_test(test_not_durable),
		cmocka_unit_test(test_busy),
		cmocka_unit_test(test_keepalive_during_open_transaction),
		cmocka_unit_test(test_rollback_bounds_keepalive),
		cmocka_unit_test(test_keepalive_monotonic),
		cmocka_unit_test(test_never_past_durable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
