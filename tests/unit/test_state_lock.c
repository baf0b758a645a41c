/*
 * test_state_lock.c
 *		Unit tests of the work directory's lock probe: status and cutover
 *		tell from it whether a pgcrane works in a directory.
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

#include "cdc/carry.h"
#include "core/state.h"
#include "util/str.h"

/* No lock file yet: nobody works there. */
static void
test_no_lock_file(void **unused)
{
	char		tmpl[] = "/tmp/pgcrane-lock-XXXXXX";
	char	   *dir = mkdtemp(tmpl);
	long		pid = 42;

	(void) unused;
	assert_non_null(dir);
	assert_int_equal(state_lock_probe(dir, &pid), 0);
	assert_int_equal(pid, 0);
	rmdir(dir);
}

/* Held while a state is open (with its pid), free once it is closed. */
static void
test_held_then_free(void **unused)
{
	char		tmpl[] = "/tmp/pgcrane-lock-XXXXXX";
	char	   *dir = mkdtemp(tmpl);
	state	   *st;
	state	   *again;
	long		pid = 0;
	char	   *path;

	(void) unused;
	assert_non_null(dir);
	st = state_open(dir);
	assert_non_null(st);
	assert_int_equal(state_lock_probe(dir, &pid), 1);
	assert_int_equal(pid, (long) getpid());
	/* Probing does not keep the lock: the holder can still be refused. */
	assert_int_equal(state_lock_probe(dir, NULL), 1);
	state_close(st);
	assert_int_equal(state_lock_probe(dir, &pid), 0);
	/* Probing left nothing held: a new holder gets the lock. */
	again = state_open(dir);
	assert_non_null(again);
	state_close(again);
	path = str_printf("rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
	free(path);
}

/* Without a source, the list says what could not be asked. */
static void
test_carry_list_without_source(void **unused)
{
	strbuf		sb = STRBUF_INIT;

	(void) unused;
	cdc_carry_list(NULL, true, &sb);
	assert_non_null(strstr(strbuf_str(&sb), "schema changes (DDL)"));
	assert_non_null(strstr(strbuf_str(&sb), "sequences: only their values at the cutover; the source could not be asked how many it has"));
	assert_null(strstr(strbuf_str(&sb), "materialized views"));
	assert_non_null(strstr(strbuf_str(&sb), "prepared transactions: the source could not be asked"));
	assert_int_equal(cdc_carry_prepared(NULL, &sb), -1);
	strbuf_release(&sb);
	/* --no-refresh-matviews: the materialized views are not carried. */
	cdc_carry_list(NULL, false, &sb);
	assert_non_null(strstr(strbuf_str(&sb), "sequences, materialized views: the source could not be asked whether it has any"));
	strbuf_release(&sb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_lock_file),
		cmocka_unit_test(test_held_then_free),
		cmocka_unit_test(test_carry_list_without_source),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
