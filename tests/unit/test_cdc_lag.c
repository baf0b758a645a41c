/*
 * test_cdc_lag.c
 *		Unit tests of the lag in seconds: the age of the oldest source
 *		commit the target does not hold, 0 when it holds them all.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>

#include <cmocka.h>

#include "cdc/lag.h"

#define SEC 1000000LL

/* A quiet source, everything applied: 0, however old the last commit. */
static void
test_caught_up(void **state)
{
	cdc_lag		l = CDC_LAG_INIT;

	(void) state;
	cdc_lag_begin(&l, 100, 10 * SEC);
	cdc_lag_applied(&l, 120);
	assert_true(cdc_lag_seconds(&l, 1000 * SEC, false, 10 * SEC) == 0.0);
	cdc_lag_release(&l);
}

/* The oldest transaction received and not applied sets the lag. */
static void
test_oldest_pending(void **state)
{
	cdc_lag		l = CDC_LAG_INIT;

	(void) state;
	cdc_lag_begin(&l, 100, 10 * SEC);
	cdc_lag_begin(&l, 200, 20 * SEC);
	cdc_lag_begin(&l, 300, 30 * SEC);
	assert_true(cdc_lag_seconds(&l, 40 * SEC, false, 0) == 30.0);
	cdc_lag_applied(&l, 150);	/* the first one's end */
	assert_true(cdc_lag_seconds(&l, 40 * SEC, false, 0) == 20.0);
	cdc_lag_applied(&l, 350);
	assert_true(cdc_lag_seconds(&l, 40 * SEC, false, 0) == 0.0);
	cdc_lag_release(&l);
}

/*
 * A transaction whose commit record starts exactly where the applied one
 * ends is not applied yet.
 */
static void
test_adjacent_commit(void **state)
{
	cdc_lag		l = CDC_LAG_INIT;

	(void) state;
	cdc_lag_begin(&l, 100, 10 * SEC);
	cdc_lag_begin(&l, 150, 12 * SEC);
	cdc_lag_applied(&l, 150);
	assert_true(cdc_lag_seconds(&l, 20 * SEC, false, 0) == 8.0);
	cdc_lag_release(&l);
}

/* Nothing received but a backlog on the source: the bound from the last. */
static void
test_backlog_bound(void **state)
{
	cdc_lag		l = CDC_LAG_INIT;

	(void) state;
	assert_true(cdc_lag_seconds(&l, 50 * SEC, true, 45 * SEC) == 5.0);
	assert_true(cdc_lag_seconds(&l, 50 * SEC, true, 0) == 0.0);
	/* A clock behind the source's: never negative. */
	cdc_lag_begin(&l, 100, 60 * SEC);
	assert_true(cdc_lag_seconds(&l, 50 * SEC, true, 45 * SEC) == 0.0);
	cdc_lag_release(&l);
}

/* The ring grows past its first size and keeps the order. */
static void
test_many(void **state)
{
	cdc_lag		l = CDC_LAG_INIT;

	(void) state;
	for (int i = 0; i < 1000; i++)
	{
		cdc_lag_begin(&l, (uint64_t) (i + 1) * 10, (int64_t) i * SEC);
		if (i % 3 == 0)
			cdc_lag_applied(&l, (uint64_t) (i / 2) * 10);
	}
	cdc_lag_applied(&l, 5005);	/* holds the first 500 */
	assert_int_equal(l.n, 500);
	assert_true(cdc_lag_seconds(&l, 2000 * SEC, false, 0) == 1500.0);
	cdc_lag_reset(&l);
	assert_true(cdc_lag_seconds(&l, 2000 * SEC, false, 0) == 0.0);
	cdc_lag_release(&l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_caught_up),
		cmocka_unit_test(test_oldest_pending),
		cmocka_unit_test(test_adjacent_commit),
		cmocka_unit_test(test_backlog_bound),
		cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
