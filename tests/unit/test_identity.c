/*
 * test_identity.c
 *		Unit tests of identities recorded in a work directory: they
 *		round-trip, none recorded passes the checks, another database
 *		fails them.
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

#include "core/identity.h"
#include "core/state.h"
#include "util/str.h"

/* Identities round-trip; none recorded is 0, and checks then pass. */
static void
test_identity_record_and_load(void **unused)
{
	char		tmpl[] = "/tmp/pgcrane-identity-XXXXXX";
	char	   *dir = mkdtemp(tmpl);
	state	   *st;
	db_identity id = {"7714461440400580929", "", 16384, "shop", false};
	db_identity back;
	char	   *cmd;

	(void) unused;
	assert_non_null(dir);
	st = state_open(dir);
	assert_non_null(st);
	assert_int_equal(identity_load(st, "target", &back), 0);
	assert_int_equal(identity_check_id(st, "target", &id, "dbname=shop"), 0);
	assert_int_equal(identity_record(st, "target", &id), 0);
	assert_int_equal(identity_load(st, "target", &back), 1);
	assert_int_equal(identity_load(st, "source", &back), 0);
	assert_int_equal(identity_load(st, "target", &back), 1);
	assert_string_equal(back.system, id.system);
	assert_int_equal(back.db_oid, 16384);
	assert_string_equal(back.dbname, "shop");
	assert_true(identity_same_database(&id, &back));
	assert_int_equal(identity_check_id(st, "target", &id, "dbname=shop"), 0);
	back.db_oid = 16390;		/* dropped and created again */
	assert_int_equal(identity_check_id(st, "target", &back, "dbname=shop"), -1);
	state_close(st);
	cmd = str_printf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_record_and_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
