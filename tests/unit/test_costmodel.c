/*
 * test_costmodel.c
 *		The data phase's cost model: the order it gives.  Linked against
 *		costmodel.o only: the model is pure.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "clone/costmodel.h"

static cat_table
table(int64_t bytes, int64_t toast)
{
	cat_table	t;

	memset(&t, 0, sizeof(t));
	t.bytes = bytes;
	t.toast_bytes = toast;
	return t;
}

static cat_index
index_using(const char *def)
{
	cat_index	ix;

	memset(&ix, 0, sizeof(ix));
	ix.indexdef = (char *) def;
	return ix;
}

static void
test_method(void **state)
{
	char		buf[16];

	(void) state;
	assert_string_equal(cost_index_method("CREATE INDEX i ON public.t USING gin (doc)", buf,
										  sizeof(buf)), "gin");
	assert_string_equal(cost_index_method("CREATE UNIQUE INDEX i ON s.t USING btree (a)", buf,
										  sizeof(buf)), "btree");
	assert_string_equal(cost_index_method("no method here", buf, sizeof(buf)), "");
	assert_string_equal(cost_index_method(NULL, buf, sizeof(buf)), "");
}

/* TOASTed bytes cost more than plain rows, and less with lz4. */
static void
test_copy(void **state)
{
	cat_table	plain = table(1000000000, 0);
	cat_table	toasted = table(1000000000, 900000000);

	(void) state;
	assert_true(cost_copy(&toasted, 1, false) > cost_copy(&plain, 1, false));
	assert_true(cost_copy(&toasted, 1, true) < cost_copy(&toasted, 1, false));
	/* Parts share the table's cost; each pays its own round trip. */
	assert_true(cost_copy(&plain, 4, false) * 4 < cost_copy(&plain, 1, false) * 11 / 10);
	assert_true(cost_copy(&plain, 4, false) * 4 > cost_copy(&plain, 1, false));
	/* Even an empty table costs a round trip. */
	assert_true(cost_copy(&(cat_table) {0}, 1, false) > 0);
}

/* A GIN build over a table costs more than copying it; a B-tree less. */
static void
test_index(void **state)
{
	cat_table	t = table(165000000, 0);
	cat_index	gin = index_using("CREATE INDEX e ON public.events USING gin (payload)");
	cat_index	bt = index_using("CREATE INDEX e ON public.events USING btree (id)");

	(void) state;
	assert_true(cost_index(&t, &gin) > cost_copy(&t, 1, false));
	assert_true(cost_index(&t, &bt) <= cost_copy(&t, 1, false));
	assert_true(cost_index(&t, &gin) > 5 * cost_index(&t, &bt));
}

/* An index over an expression costs more than one over a column. */
static void
test_expression(void **state)
{
	cat_table	t = table(165000000, 0);
	cat_index	expr = index_using("CREATE INDEX e ON public.events USING btree (lower(email))");
	cat_index	col = index_using("CREATE INDEX e ON public.events USING btree (email)");
	cat_index	partial = index_using("CREATE INDEX e ON public.o USING btree (amount) WHERE (status = 'f'::s)");

	(void) state;
	assert_true(cost_index(&t, &expr) > 2 * cost_index(&t, &col));
	/* A predicate is not an expression of the key. */
	assert_int_equal(cost_index(&t, &partial), cost_index(&t, &col));
}

/* ANALYZE reads a bounded sample: a huge table costs no more than 30,000 pages. */
static void
test_analyze(void **state)
{
	cat_table	small = table(8192, 0);
	cat_table	big = table((int64_t) 100 * 1024 * 1024 * 1024, 0);
	cat_table	bigger = table((int64_t) 400 * 1024 * 1024 * 1024, 0);

	(void) state;
	assert_true(cost_analyze(&small) < cost_analyze(&big));
	assert_int_equal(cost_analyze(&big), cost_analyze(&bigger));
	assert_int_equal(cost_analyze(NULL), cost_analyze(&big));
}

/* Setting the hint bits of a table copied in parts costs by its heap, not its TOAST. */
static void
test_hint_bits(void **state)
{
	cat_table	heap = table(400000000, 0);
	cat_table	toasted = table(400000000, 390000000);

	(void) state;
	assert_true(cost_hint_bits(&heap) > 1000000);
	assert_true(cost_hint_bits(&toasted) * 10 < cost_hint_bits(&heap));
}

/* The phases around the data phase: fixed, plus per object. */
static void
test_phase(void **state)
{
	catalog		one = CATALOG_INIT;
	catalog		many = CATALOG_INIT;

	(void) state;
	one.ntables = 1;
	many.ntables = 2000;
	many.nindexes = 4000;
	assert_true(cost_phase("schema", &one) > 0);
	assert_true(cost_phase("schema", &many) > cost_phase("schema", &one));
	assert_true(cost_phase("post-data", &many) > cost_phase("post-data", &one));
	/* post-data builds the indexes of partitioned tables. */
	many.npartitioned = 1;
	assert_true(cost_phase("post-data", &many) > cost_phase("post-data", &one) + 100000);
	assert_int_equal(cost_phase("target", &many), cost_phase("target", &one));
	assert_int_equal(cost_phase("no such phase", &many), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_method),
		cmocka_unit_test(test_copy),
		cmocka_unit_test(test_index),
		cmocka_unit_test(test_expression),
		cmocka_unit_test(test_analyze),
		cmocka_unit_test(test_hint_bits),
		cmocka_unit_test(test_phase),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
