/*
 * test_state.c
 *		Unit tests of the state file: values, absent against unreadable,
 *		the format number and a file of a newer format refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "core/identity.h"
#include "core/state.h"
#include "util/str.h"

static char *
new_dir(void)
{
	char		tmpl[] = "/tmp/pgcrane-state-XXXXXX";
	char	   *dir = mkdtemp(tmpl);

	assert_non_null(dir);
	return xstrdup(dir);
}

static void
remove_dir(char *dir)
{
	char	   *cmd = str_printf("rm -rf '%s'", dir);

	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(dir);
}

static int
file_format(const char *dir)
{
	char	   *path = str_printf("%s/state.db", dir);
	sqlite3    *db;
	sqlite3_stmt *stmt;
	int			v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL), SQLITE_OK);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		v = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	free(path);
	return v;
}

static void
set_format(const char *dir, int v)
{
	char	   *path = str_printf("%s/state.db", dir);
	char	   *sql = str_printf("PRAGMA user_version = %d", v);
	sqlite3    *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	free(sql);
	free(path);
}

/* A value put is found; a key never put is absent, not an error. */
static void
test_lookup_found_and_absent(void **unused)
{
	char	   *dir = new_dir();
	state	   *st = state_open(dir);
	char	   *v = NULL;

	(void) unused;
	assert_non_null(st);
	assert_int_equal(state_put(st, "snapshot", "00000003-1"), 0);
	assert_int_equal(state_lookup(st, "snapshot", &v), 1);
	assert_string_equal(v, "00000003-1");
	free(v);
	assert_int_equal(state_lookup(st, "no.such.key", &v), 0);
	assert_null(v);
	assert_int_equal(state_delete(st, "snapshot"), 0);
	assert_int_equal(state_lookup(st, "snapshot", &v), 0);
	assert_int_equal(state_delete(st, "snapshot"), 0);
	state_close(st);
	remove_dir(dir);
}

/* A new file has the current format; an unnumbered one is brought to it. */
static void
test_format_numbered_and_migrated(void **unused)
{
	char	   *dir = new_dir();
	state	   *st = state_open(dir);

	(void) unused;
	assert_non_null(st);
	assert_int_equal(state_put(st, "status", "ok"), 0);
	state_close(st);
	assert_int_equal(file_format(dir), 1);
	set_format(dir, 0);
	st = state_open(dir);
	assert_non_null(st);
	{
		char	   *v = state_get(st, "status");

		assert_non_null(v);
		assert_string_equal(v, "ok");
		free(v);
	}
	state_close(st);
	assert_int_equal(file_format(dir), 1);
	remove_dir(dir);
}

/* A file of a newer format is refused, by both ways of opening it. */
static void
test_newer_format_refused(void **unused)
{
	char	   *dir = new_dir();
	state	   *st = state_open(dir);

	(void) unused;
	assert_non_null(st);
	state_close(st);
	set_format(dir, 99);
	assert_null(state_open(dir));
	assert_null(state_open_shared(dir));
	assert_int_equal(file_format(dir), 99);
	remove_dir(dir);
}

/* Identities round-trip; none recorded is 0, and checks then pass. */
static void
test_identity_record_and_load(void **unused)
{
	char	   *dir = new_dir();
	state	   *st = state_open(dir);
	db_identity id = {"7714461440400580929", "", 16384, "shop", false};
	db_identity back;

	(void) unused;
	assert_non_null(st);
	assert_int_equal(identity_load(st, "target", &back), 0);
	assert_int_equal(identity_check_id(st, "target", &id, "dbname=shop"), 0);
	assert_int_equal(identity_record(st, "target", &id), 0);
	assert_int_equal(identity_load(st, "target", &back), 1);
	assert_string_equal(back.system, id.system);
	assert_int_equal(back.db_oid, 16384);
	assert_string_equal(back.dbname, "shop");
	assert_true(identity_same_database(&id, &back));
	assert_int_equal(identity_check_id(st, "target", &id, "dbname=shop"), 0);
	back.db_oid = 16390;		/* dropped and created again */
	assert_int_equal(identity_check_id(st, "target", &back, "dbname=shop"), -1);
	state_close(st);
	remove_dir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup_found_and_absent),
		cmocka_unit_test(test_format_numbered_and_migrated),
		cmocka_unit_test(test_newer_format_refused),
		cmocka_unit_test(test_identity_record_and_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
