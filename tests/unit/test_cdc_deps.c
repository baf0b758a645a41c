/*
 * test_cdc_deps.c
 *		Unit tests of the keys of parallel apply: which change of a later
 *		batch must wait for an earlier batch.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>

#include <cmocka.h>

#include "cdc/deps.h"

/* The key of a row of relation relid whose identity is the text v. */
static cdc_dep
row(uint32_t relid, const char *v)
{
	cdc_dep		k = {relid, false, false, false, 0};

	k.hash = cdc_deps_hash_add(cdc_deps_hash_start(relid), 't', v, strlen(v));
	return k;
}

static cdc_dep
whole(uint32_t relid)
{
	cdc_dep		k = {relid, true, false, false, 0};

	return k;
}

/* An insert into a table without unique constraints, keyed by v or not. */
static cdc_dep
append(uint32_t relid, const char *v)
{
	cdc_dep		k = v ? row(relid, v) : (cdc_dep) {relid, false, false, true, 0};

	k.append = true;
	return k;
}

/* The same row conflicts; another row, or the same value elsewhere, does not. */
static void
test_rows(void **state)
{
	cdc_deps	d = CDC_DEPS_INIT;
	cdc_dep		k1 = row(10, "1");
	cdc_dep		k2 = row(10, "2");
	cdc_dep		other = row(11, "1");

	(void) state;
	cdc_deps_add(&d, &k1);
	assert_true(cdc_deps_conflict(&d, &k1));
	assert_false(cdc_deps_conflict(&d, &k2));
	assert_false(cdc_deps_conflict(&d, &other));
	assert_int_equal(cdc_deps_count(&d), 1);
	cdc_deps_release(&d);
}

/* Values are told apart by their length and kind, not only their bytes. */
static void
test_hash_separates_columns(void **state)
{
	uint64_t	a = cdc_deps_hash_start(1);
	uint64_t	b = cdc_deps_hash_start(1);

	(void) state;
	a = cdc_deps_hash_add(cdc_deps_hash_add(a, 't', "ab", 2), 't', "c", 1);
	b = cdc_deps_hash_add(cdc_deps_hash_add(b, 't', "a", 1), 't', "bc", 2);
	assert_true(a != b);
	assert_true(cdc_deps_hash_add(cdc_deps_hash_start(1), 'n', NULL, 0) !=
				cdc_deps_hash_add(cdc_deps_hash_start(1), 't', "", 0));
}

/* A whole table conflicts with any row of it, and any row with it. */
static void
test_whole_table(void **state)
{
	cdc_deps	rows = CDC_DEPS_INIT;
	cdc_deps	tables = CDC_DEPS_INIT;
	cdc_dep		k = row(10, "1");
	cdc_dep		w = whole(10);
	cdc_dep		w2 = whole(12);
	cdc_dep		k12 = row(12, "1");

	(void) state;
	cdc_deps_add(&rows, &k);
	assert_true(cdc_deps_conflict(&rows, &w));
	assert_false(cdc_deps_conflict(&rows, &w2));
	cdc_deps_add(&tables, &w);
	assert_true(cdc_deps_conflict(&tables, &k));
	assert_true(cdc_deps_conflict(&tables, &w));
	assert_false(cdc_deps_conflict(&tables, &k12));
	cdc_deps_release(&rows);
	cdc_deps_release(&tables);
}

/*
 * An insert into a table without unique constraints meets nothing, but a
 * later change of its row, or of the whole table, must wait for it.
 */
static void
test_append(void **state)
{
	cdc_deps	d = CDC_DEPS_INIT;
	cdc_deps	e = CDC_DEPS_INIT;
	cdc_dep		a = append(20, NULL);
	cdc_dep		a7 = append(20, "7");
	cdc_dep		w = whole(20);
	cdc_dep		r7 = row(20, "7");
	cdc_dep		r8 = row(20, "8");

	(void) state;
	cdc_deps_add(&d, &a);
	assert_false(cdc_deps_conflict(&d, &a));
	assert_true(cdc_deps_conflict(&d, &w));
	assert_int_equal(cdc_deps_count(&d), 0);
	cdc_deps_add(&d, &a7);
	assert_false(cdc_deps_conflict(&d, &a7));
	assert_true(cdc_deps_conflict(&d, &r7));
	assert_false(cdc_deps_conflict(&d, &r8));
	cdc_deps_add(&e, &w);
	assert_false(cdc_deps_conflict(&e, &a));
	cdc_deps_release(&d);
	cdc_deps_release(&e);
}

/* Many keys: the set grows and forgets none; 0 is a value like another. */
static void
test_growth(void **state)
{
	cdc_keyset	s = {NULL, 0, 0};

	(void) state;
	for (uint64_t v = 0; v < 10000; v++)
		cdc_keyset_add(&s, v * 7919);
	for (uint64_t v = 0; v < 10000; v++)
		assert_true(cdc_keyset_has(&s, v * 7919));
	assert_false(cdc_keyset_has(&s, 3));
	cdc_keyset_add(&s, 7919);
	assert_int_equal(s.n, 10000);
	cdc_keyset_release(&s);
	assert_false(cdc_keyset_has(&s, 7919));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_hash_separates_columns),
		cmocka_unit_test(test_whole_table),
		cmocka_unit_test(test_append),
		cmocka_unit_test(test_growth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
