/*
 * test_cdc_apply_sql.c
 *		Unit tests of the statements that apply changes to the target:
 *		INSERT, UPDATE and DELETE for each replica identity and column
 *		mask, TRUNCATE of several tables, and the commit timestamp text;
 *		the typed parameters, the preference for an identical row (*=)
 *		under FULL, and the row moved when an identity column changes.
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
	{"\"id\"", "integer", false, 23, false, false},
	{"\"doc\"", "json", true, 114, false, false},
	{"\"Name\"", "text", false, 25, false, false},
	{"\"at\"", "timestamp with time zone", false, 1184, false, false},
};

static const apply_sql_rel rel = {"\"public\".\"t\"", 4, cols, false, 0, NULL};

/* A table whose key is an identity column, with a column only the target has. */
static const apply_sql_col icols[] = {
	{"\"id\"", "integer", false, 23, true, false},
	{"\"v\"", "text", false, 25, false, false},
	{"\"p\"", "public.pair", false, 16390, false, false},
};
static const char *const iextra[] = {"\"note\""};
static const apply_sql_rel irel = {"\"public\".\"i\"", 3, icols, true, 1, iextra};

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
			  " COALESCE((SELECT ctid FROM ONLY \"public\".\"t\" WHERE"
			  " \"id\" IS NOT DISTINCT FROM $2 AND"
			  " \"doc\"::text IS NOT DISTINCT FROM ($3::json)::text AND"
			  " \"Name\" IS NOT DISTINCT FROM $4 AND"
			  " \"at\" IS NOT DISTINCT FROM $5 AND"
			  " ROW(\"id\", \"doc\", \"Name\", \"at\")::record *= ROW($2, $3, $4, $5)::record"
			  " LIMIT 1),"
			  " (SELECT ctid FROM ONLY \"public\".\"t\" WHERE"
			  " \"id\" IS NOT DISTINCT FROM $2 AND"
			  " \"doc\"::text IS NOT DISTINCT FROM ($3::json)::text AND"
			  " \"Name\" IS NOT DISTINCT FROM $4 AND"
			  " \"at\" IS NOT DISTINCT FROM $5 LIMIT 1))");
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
			  "DELETE FROM ONLY \"public\".\"t\" WHERE ctid = COALESCE((SELECT ctid FROM ONLY"
			  " \"public\".\"t\" WHERE \"id\" IS NOT DISTINCT FROM $1 AND"
			  " \"Name\" IS NOT DISTINCT FROM $2 AND"
			  " ROW(\"id\", \"Name\")::record *= ROW($1, $2)::record LIMIT 1),"
			  " (SELECT ctid FROM ONLY \"public\".\"t\" WHERE \"id\" IS NOT DISTINCT FROM $1"
			  " AND \"Name\" IS NOT DISTINCT FROM $2 LIMIT 1))");
}

/* Parameter types: SET columns, then key columns, each its column's OID. */
static void
test_param_types(void **state)
{
	const bool	set[] = {false, true, false, true};
	const bool	key[] = {true, false, true, false};
	uint32_t	types[8];

	(void) state;
	assert_int_equal(apply_sql_param_types(&rel, set, key, types), 4);
	assert_int_equal(types[0], 114);
	assert_int_equal(types[1], 1184);
	assert_int_equal(types[2], 23);
	assert_int_equal(types[3], 25);
	assert_int_equal(apply_sql_param_types(&irel, key, NULL, types), 2);
	assert_int_equal(types[0], 23);
	assert_int_equal(types[1], 16390);
}

/* A new identity key: deleted and inserted again, the unsent value kept. */
static void
test_move_by_key(void **state)
{
	const bool	set[] = {true, true, false};
	const bool	key[] = {true, false, false};

	(void) state;
	check_sql(apply_sql_move(&irel, set, key, false),
			  "WITH d AS (DELETE FROM ONLY \"public\".\"i\" WHERE \"id\" = $3 RETURNING *)"
			  " INSERT INTO \"public\".\"i\" (\"id\", \"v\", \"p\", \"note\")"
			  " OVERRIDING SYSTEM VALUE SELECT $1, $2, d.\"p\", d.\"note\" FROM d");
}

/* A column left out by the selection is not named, not even kept from d. */
static void
test_move_excluded(void **state)
{
	const apply_sql_col xcols[] = {
		{"\"id\"", "integer", false, 23, true, false},
		{"\"v\"", "text", false, 25, false, true},
		{"\"p\"", "public.pair", false, 16390, false, false},
	};
	const apply_sql_rel xrel = {"\"app\".\"i\"", 3, xcols, true, 1, iextra};
	const bool	set[] = {true, false, true};
	const bool	key[] = {true, false, false};

	(void) state;
	check_sql(apply_sql_move(&xrel, set, key, false),
			  "WITH d AS (DELETE FROM ONLY \"app\".\"i\" WHERE \"id\" = $3 RETURNING *)"
			  " INSERT INTO \"app\".\"i\" (\"id\", \"p\", \"note\")"
			  " OVERRIDING SYSTEM VALUE SELECT $1, $2, d.\"note\" FROM d");
}

/* FULL: the old row is found as for an update. */
static void
test_move_full(void **state)
{
	const bool	set[] = {true, false, true};
	const bool	key[] = {true, true, true};

	(void) state;
	check_sql(apply_sql_move(&irel, set, key, true),
			  "WITH d AS (DELETE FROM ONLY \"public\".\"i\" WHERE ctid = COALESCE("
			  "(SELECT ctid FROM ONLY \"public\".\"i\" WHERE \"id\" IS NOT DISTINCT FROM $3"
			  " AND \"v\" IS NOT DISTINCT FROM $4 AND \"p\" IS NOT DISTINCT FROM $5 AND"
			  " ROW(\"id\", \"v\", \"p\")::record *= ROW($3, $4, $5)::record LIMIT 1),"
			  " (SELECT ctid FROM ONLY \"public\".\"i\" WHERE \"id\" IS NOT DISTINCT FROM $3"
			  " AND \"v\" IS NOT DISTINCT FROM $4 AND \"p\" IS NOT DISTINCT FROM $5 LIMIT 1))"
			  " RETURNING *)"
			  " INSERT INTO \"public\".\"i\" (\"id\", \"v\", \"p\", \"note\")"
			  " OVERRIDING SYSTEM VALUE SELECT $1, d.\"v\", $2, d.\"note\" FROM d");
}

/* The identity column is not the key: moved only when it differs. */
static void
test_update_or_move(void **state)
{
	const bool	set[] = {true, true, false};
	const bool	key[] = {false, false, true};

	(void) state;
	check_sql(apply_sql_update_or_move(&irel, set, key),
			  "WITH d AS (DELETE FROM ONLY \"public\".\"i\" WHERE \"p\" = $3"
			  " AND NOT (\"id\" IS NOT DISTINCT FROM $1) RETURNING *),"
			  " m AS (INSERT INTO \"public\".\"i\" (\"id\", \"v\", \"p\", \"note\")"
			  " OVERRIDING SYSTEM VALUE SELECT $1, $2, d.\"p\", d.\"note\" FROM d RETURNING 1),"
			  " u AS (UPDATE ONLY \"public\".\"i\" SET \"v\" = $2 WHERE \"p\" = $3"
			  " AND \"id\" IS NOT DISTINCT FROM $1 RETURNING 1)"
			  " SELECT 1 FROM m UNION ALL SELECT 1 FROM u");
}

/* Nothing but the identity column to set: the row in place is only found. */
static void
test_update_or_move_identity_only(void **state)
{
	const bool	set[] = {true, false, false};
	const bool	key[] = {false, false, true};

	(void) state;
	check_sql(apply_sql_update_or_move(&irel, set, key),
			  "WITH d AS (DELETE FROM ONLY \"public\".\"i\" WHERE \"p\" = $2"
			  " AND NOT (\"id\" IS NOT DISTINCT FROM $1) RETURNING *),"
			  " m AS (INSERT INTO \"public\".\"i\" (\"id\", \"v\", \"p\", \"note\")"
			  " OVERRIDING SYSTEM VALUE SELECT $1, d.\"v\", d.\"p\", d.\"note\" FROM d RETURNING 1),"
			  " u AS (SELECT 1 FROM ONLY \"public\".\"i\" WHERE \"p\" = $2"
			  " AND \"id\" IS NOT DISTINCT FROM $1)"
			  " SELECT 1 FROM m UNION ALL SELECT 1 FROM u");
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

/* Statements of many rows: parameters row after row, set then key. */
static void
test_rows(void **state)
{
	const bool	use[] = {true, false, true, false};
	const bool	set[] = {false, true, true, false};
	const bool	key[] = {true, false, false, false};
	apply_sql_rel r = rel;

	(void) state;
	check_sql(apply_sql_insert_rows(&rel, use, 3),
			  "INSERT INTO \"public\".\"t\" (\"id\", \"Name\")"
			  " VALUES ($1, $2), ($3, $4), ($5, $6)");
	r.overriding = true;
	check_sql(apply_sql_insert_rows(&r, use, 2),
			  "INSERT INTO \"public\".\"t\" (\"id\", \"Name\")"
			  " OVERRIDING SYSTEM VALUE VALUES ($1, $2), ($3, $4)");
	check_sql(apply_sql_update_rows(&rel, set, key, 2),
			  "UPDATE ONLY \"public\".\"t\" AS t SET \"doc\" = v.s1, \"Name\" = v.s2"
			  " FROM (VALUES ($1, $2, $3), ($4, $5, $6)) AS v(s1, s2, k1)"
			  " WHERE t.\"id\" = v.k1");
	check_sql(apply_sql_delete_rows(&rel, use, 2),
			  "DELETE FROM ONLY \"public\".\"t\" AS t USING (VALUES ($1, $2), ($3, $4))"
			  " AS v(k1, k2) WHERE t.\"id\" = v.k1 AND t.\"Name\" = v.k2");
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
		cmocka_unit_test(test_param_types),
		cmocka_unit_test(test_move_by_key),
		cmocka_unit_test(test_move_full),
		cmocka_unit_test(test_update_or_move),
		cmocka_unit_test(test_update_or_move_identity_only),
		cmocka_unit_test(test_truncate_one),
		cmocka_unit_test(test_truncate_many),
		cmocka_unit_test(test_move_excluded),
		cmocka_unit_test(test_count),
		cmocka_unit_test(test_timestamp),
		cmocka_unit_test(test_rows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
