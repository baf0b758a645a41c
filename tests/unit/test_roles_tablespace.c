/*
 * test_roles_tablespace.c
 *		Unit tests of the pure parts of --roles and --tablespace-map:
 *		reserved role names, text[] literals, the tablespace map.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clone/roles.h"
#include "clone/tablespace.h"
#include "util/str.h"

static void
test_reserved_names(void **state)
{
	(void) state;
	assert_true(roles_name_reserved("pg_read_all_data"));
	assert_true(roles_name_reserved("rds_superuser"));
	assert_true(roles_name_reserved("rdsadmin"));
	assert_true(roles_name_reserved("cloudsqlsuperuser"));
	assert_true(roles_name_reserved("azure_pg_admin"));
	assert_false(roles_name_reserved("app_owner"));
	assert_false(roles_name_reserved("pgcrane"));
	assert_false(roles_name_reserved("rd"));
}

static void
test_text_array(void **state)
{
	const char *items[] = {"a", "b c", "q\"uote", "back\\slash"};
	char	   *lit;

	(void) state;
	lit = str_text_array(items, 0);
	assert_string_equal(lit, "{}");
	free(lit);
	lit = str_text_array(items, 4);
	assert_string_equal(lit, "{\"a\",\"b c\",\"q\\\"uote\",\"back\\\\slash\"}");
	free(lit);
}

static void
test_tablespace_map(void **state)
{
	tablespace_map m = TABLESPACE_MAP_INIT;

	(void) state;
	assert_false(tablespace_restore_without(&m, false));
	assert_true(tablespace_restore_without(&m, true));
	assert_true(tablespace_map_add(&m, "fast=nvme"));
	assert_true(tablespace_map_add(&m, "old=new=er"));
	assert_false(tablespace_map_add(&m, "fast=other"));
	assert_false(tablespace_map_add(&m, "=x"));
	assert_false(tablespace_map_add(&m, "x="));
	assert_false(tablespace_map_add(&m, "noequals"));
	assert_int_equal(m.n, 2);
	assert_string_equal(tablespace_map_lookup(&m, "fast"), "nvme");
	assert_string_equal(tablespace_map_lookup(&m, "old"), "new=er");
	assert_string_equal(tablespace_map_lookup(&m, "other"), "other");
	assert_string_equal(tablespace_map_lookup(NULL, "other"), "other");
	assert_true(tablespace_restore_without(&m, false));
	tablespace_map_release(&m);
	assert_int_equal(m.n, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reserved_names),
		cmocka_unit_test(test_text_array),
		cmocka_unit_test(test_tablespace_map),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
