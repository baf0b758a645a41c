/*
 * test_cdc_apply_sql.c
 *		Unit tests of the statements that apply changes to the target:
 *		INSERT, UPDATE and DELETE for each replica identity and column
 *		mask, TRUNCATE of several tables, and the commit timestamp text.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cdc/apply_sql.h"
#include "cdc/pgoutput.h"

static const apply_sql_col cols[] = {
	{"\"id\"", "integer", false},
	{"\"doc\"", "json", true},
	{"\"Name\"", "text", false},
	{"\"at\"", "timestamp with time zone", false},
};

static const apply_sql_rel rel = {"\"public\".\"t\"", 4, cols, false};

/* Compare a built statement and free it. */
static void
check_sql(char *got, const char *want)
{
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void
test_insert_all_columns(void **state)
{
	const bool	use[] = {true, true, true, true};

	(void) state;
	check_sql(apply_sql_insert(&rel, use),
			  "INSERT INTO \"public\".\"t\" (\"id\", \"doc\", \"Name\", \"at\")"
			  " VALUES ($1, $2, $3, $4)");
}

static void
test_insert_overriding_and_mask(void **state)
{
	const bool	use[] = {true, false, true, false};
	apply_sql_rel r = rel;

	(void) state;
	r.overriding = true;
	check_sql(apply_sql_insert(&r, use),
			  "INSERT INTO \"public\".\"t\" (\"id\", \"Name\")"
			  " OVERRIDING SYSTEM VALUE VALUES ($1, $2)");
}

static void
test_update_by_key(void **state)
{
	const bool	set[] = {false, true, true, true};
	const bool	key[] = {true, false, false, false};

	(void) state;
	check_sql(apply_sql_update(&rel, set, key, false),
			  "UPDATE ONLY \"public\".\"t\" SET \"doc\" = $1, \"Name\" = $2,"
			  " \"at\" = $3 WHERE \"id\" = $4");
}

/* An unchanged TOASTed column is left out of SET; numbering closes up. */
static void
test_update_unchanged_toast(void **state)
{
	const bool	set[] = {false, false, true, false};
	const bool	key[] = {true, false, false, false};

	(void) state;
	check_sql(apply_sql_update(&rel, set, key, false),
			  "UPDATE ONLY \"public\".\"t\" SET \"Name\" = $1 WHERE \"id\" = $2");
}

/* The key changed: it is set too, and found by its old value. */
static void
test_update_key_change(void **state)
{
	const bool	set[] = {true, true, true, true};
	const bool	key[] = {true, false, true, false};

	(void) state;
	check_sql(apply_sql_update(&rel, set, key, false),
			  "UPDATE ONLY \"public\".\"t\" SET \"id\" = $1, \"doc\" = $2,"
			  " \"Name\" = $3, \"at\" = $4"
			  " WHERE \"id\" = $5 AND \"Name\" = $6");
}

/* Replica identity FULL: one row by ctid, null-safe, json by its text. */
static void
test_update_full(void **state)
{
	const bool	set[] = {false, false, true, false};
	const bool	key[] = {true, true, true, true};

	(void) state;
	check_sql(apply_sql_update(&rel, set, key, true),
			  "UPDATE ONLY \"public\".\"t\" SET \"Name\" = $1 WHERE ctid ="
			  " (SELECT ctid FROM ONLY \"public\".\"t\" WHERE"
			  " \"id\" IS NOT DISTINCT FROM $2 AND"
			  " \"doc\"::text IS NOT DISTINCT FROM ($3::json)::text AND"
			  " \"Name\" IS NOT DISTINCT FROM $4 AND"
			  " \"at\" IS NOT DISTINCT FROM $5 LIMIT 1)");
}

static void
test_delete_by_key(void **state)
{
	const bool	key[] = {true, false, false, false};

	(void) state;
	check_sql(apply_sql_delete(&rel, key, false),
			  "DELETE FROM ONLY \"public\".\"t\" WHERE \"id\" = $1");
}

static void
test_delete_full_partial(void **state)
{
	const bool	key[] = {true, false, true, false};

	(void) state;
	check_sql(apply_sql_delete(&rel, key, true),
			  "DELETE FROM ONLY \"public\".\"t\" WHERE ctid = (SELECT ctid FROM ONLY"
			  " \"public\".\"t\" WHERE \"id\" IS NOT DISTINCT FROM $1 AND"
			  " \"Name\" IS NOT DISTINCT FROM $2 LIMIT 1)");
}

static void
test_truncate_one(void **state)
{
	const char *const names[] = {"\"s\".\"a\""};
	const bool	only[] = {true};

	(void) state;
	check_sql(apply_sql_truncate(names, only, 1, false, false),
			  "TRUNCATE ONLY \"s\".\"a\"");
}

static void
test_truncate_many(void **state)
{
	const char *const names[] = {"\"s\".\"a\"", "\"s\".\"parted\"", "\"s\".\"b\""};
	const bool	only[] = {true, false, true};

	(void) state;
	check_sql(apply_sql_truncate(names, only, 3, true, true),
			  "TRUNCATE ONLY \"s\".\"a\", \"s\".\"parted\", ONLY \"s\".\"b\""
			  " RESTART IDENTITY CASCADE");
}

static void
test_count(void **state)
{
	const bool	mask[] = {true, false, true, true, false};

	(void) state;
	assert_int_equal(apply_sql_count(mask, 5), 3);
	assert_int_equal(apply_sql_count(mask, 0), 0);
}

static void
test_timestamp(void **state)
{
	char		buf[40];

	(void) state;
	apply_sql_timestamp(0, buf, sizeof(buf));
	assert_string_equal(buf, "2000-01-01 00:00:00.000000+00");
	/* 2024-11-15 15:33:20.123456 UTC */
	apply_sql_timestamp(INT64_C(785000000123456), buf, sizeof(buf));
	assert_string_equal(buf, "2024-11-15 15:33:20.123456+00");
	/* Before 2000: the fraction stays positive. */
	apply_sql_timestamp(INT64_C(-1), buf, sizeof(buf));
	assert_string_equal(buf, "1999-12-31 23:59:59.999999+00");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_insert_all_columns),
		cmocka_unit_test(test_insert_overriding_and_mask),
		cmocka_unit_test(test_update_by_key),
		cmocka_unit_test(test_update_unchanged_toast),
		cmocka_unit_test(test_update_key_change),
		cmocka_unit_test(test_update_full),
		cmocka_unit_test(test_delete_by_key),
		cmocka_unit_test(test_delete_full_partial),
		cmocka_unit_test(test_truncate_one),
		cmocka_unit_test(test_truncate_many),
		cmocka_unit_test(test_count),
		cmocka_unit_test(test_timestamp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
