/*
 * test_dbprops.c
 *		Unit tests of the statements the database's own properties become.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>

#include <cmocka.h>

#include "clone/dbprops.h"

/* What pg_restore --create --file writes for a database "src". */
static const char *const restore_sql =
"--\n-- PostgreSQL database dump\n--\n\n"
"\\restrict abc\n"
"SET statement_timeout = 0;\n"
"SELECT pg_catalog.set_config('search_path', '', false);\n\n"
"--\n-- Name: src; Type: DATABASE; Schema: -; Owner: alice\n--\n\n"
"CREATE DATABASE src WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE = 'C';\n\n\n"
"ALTER DATABASE src OWNER TO alice;\n\n"
"\\unrestrict abc\n"
"\\connect src\n"
"COMMENT ON DATABASE src IS 'DATABASE src; -- not SQL\n\\connect x';\n\n"
"ALTER DATABASE src SET default_transaction_read_only TO 'on';\n"
"ALTER DATABASE src CONNECTION LIMIT = 7;\n"
"ALTER ROLE \"DATABASE src\" IN DATABASE src SET work_mem TO '8MB';\n"
"REVOKE CONNECT,TEMPORARY ON DATABASE src FROM PUBLIC;\n";

static void
test_owner_part(void **state)
{
	char	  **stmts;
	int			n;

	(void) state;
	n = dbprops_statements(restore_sql, "src", "\"src\"", "\"dst db\"",
						   DBPROPS_OWNER, &stmts);
	assert_int_equal(n, 1);
	assert_string_equal(stmts[0], "ALTER DATABASE \"dst db\" OWNER TO alice");
	dbprops_free(stmts, n);
}

/* Renamed outside quotes only, CREATE DATABASE and meta-commands left out. */
static void
test_rest_part(void **state)
{
	char	  **stmts;
	int			n;

	(void) state;
	n = dbprops_statements(restore_sql, "src", "\"src\"", "dst",
						   DBPROPS_REST, &stmts);
	assert_int_equal(n, 7);
	assert_string_equal(stmts[0], "SET statement_timeout = 0");
	assert_string_equal(stmts[2],
						"COMMENT ON DATABASE dst IS 'DATABASE src; -- not SQL\n\\connect x'");
	assert_string_equal(stmts[3], "ALTER DATABASE dst CONNECTION LIMIT = 7");
	assert_string_equal(stmts[4],
						"ALTER ROLE \"DATABASE src\" IN DATABASE dst SET work_mem TO '8MB'");
	assert_string_equal(stmts[5],
						"REVOKE CONNECT,TEMPORARY ON DATABASE dst FROM PUBLIC");
	/* default_transaction_read_only comes last. */
	assert_string_equal(stmts[6],
						"ALTER DATABASE dst SET default_transaction_read_only TO 'on'");
	dbprops_free(stmts, n);
}

/* A name pg_dump quoted is found in its quoted form. */
static void
test_quoted_name(void **state)
{
	char	  **stmts;
	int			n;

	(void) state;
	n = dbprops_statements("ALTER DATABASE \"My \"\"DB\"\"\" SET lc_time TO 'C';",
						   "My \"DB\"", "\"My \"\"DB\"\"\"", "x", DBPROPS_REST, &stmts);
	assert_int_equal(n, 1);
	assert_string_equal(stmts[0], "ALTER DATABASE x SET lc_time TO 'C'");
	dbprops_free(stmts, n);
}

/* A statement that does not name the database is refused, not run. */
static void
test_unnamed_refused(void **state)
{
	char	  **stmts;

	(void) state;
	assert_int_equal(dbprops_statements("SET x = 1;\nALTER DATABASE other SET lc_time TO 'C';",
										"src", "\"src\"", "dst", DBPROPS_REST, &stmts), -1);
	assert_null(stmts);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_owner_part),
		cmocka_unit_test(test_rest_part),
		cmocka_unit_test(test_quoted_name),
		cmocka_unit_test(test_unnamed_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
