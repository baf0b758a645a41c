/*
 * test_blockrange.c
 *		The block-range planner shared by the clone's copy and verify.
 *		Linked against blockrange.o and str.o only: the planner is pure.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>

#include "core/blockrange.h"

/* Every split covers [0, blocks) in order and ends open. */
static void
test_split_covers(void **state)
{
	static const int64_t sizes[] = {0, 1, 2, 3, 7, 63, 64, 65, 1000, 4099};
	block_range r[300];

	(void) state;
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++)
		for (int n = 1; n <= 256; n++)
		{
			blockrange_split(sizes[k], n, r);
			assert_int_equal(r[0].first, 0);
			assert_int_equal(r[n - 1].end, -1);
			for (int i = 0; i + 1 < n; i++)
			{
				assert_int_equal(r[i].end, r[i + 1].first);
				assert_true(r[i].first <= r[i].end);
				/* Sizes differ by at most one block. */
				assert_true(r[i].end - r[i].first <= sizes[k] / n + 1);
			}
		}
}

/* blockrange_part gives the same ranges one at a time. */
static void
test_part_matches_split(void **state)
{
	block_range r[10];

	(void) state;
	blockrange_split(1001, 10, r);
	for (int i = 0; i < 10; i++)
	{
		block_range p = blockrange_part(1001, i, 10);

		assert_int_equal(p.first, r[i].first);
		assert_int_equal(p.end, r[i].end);
	}
	assert_int_equal(r[3].first, 300);
	assert_int_equal(r[3].end, 400);
}

static void
check_condition(int64_t first, int64_t end, const char *want)
{
	block_range r = {first, end};
	char	   *got = blockrange_condition(&r);

	if (want == NULL)
		assert_null(got);
	else
		assert_string_equal(got, want);
	free(got);
}

/* Bounds at the table's start or end are left out. */
static void
test_condition(void **state)
{
	(void) state;
	check_condition(0, -1, NULL);
	check_condition(0, 10, "ctid < '(10,0)'::pg_catalog.tid");
	check_condition(10, -1, "ctid >= '(10,0)'::pg_catalog.tid");
	check_condition(10, 20, "ctid >= '(10,0)'::pg_catalog.tid AND "
					"ctid < '(20,0)'::pg_catalog.tid");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_covers),
		cmocka_unit_test(test_part_matches_split),
		cmocka_unit_test(test_condition),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
