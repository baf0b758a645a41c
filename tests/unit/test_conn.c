/*
 * test_conn.c
 *		Unit tests of what conn.c gives child programs and what its
 *		messages may contain: the child's connection string and
 *		environment, secrets that cannot be passed, parse errors that
 *		quote nothing of the string.  No server is needed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/conn.h"

static void
assert_contains(const char *s, const char *part)
{
	if (strstr(s, part) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", s, part);
}

static void
assert_lacks(const char *s, const char *part)
{
	if (strstr(s, part) != NULL)
		fail_msg("\"%s\" contains \"%s\"", s, part);
}

static void
test_child_keyword_value(void **state)
{
	conn_child	c;

	(void) state;
	unsetenv("PGCONNECT_TIMEOUT");
	assert_int_equal(conn_child_prepare("host=db1 port=5433 user=alice password=s3cret dbname=app", &c), 0);
	assert_contains(c.dbname_arg, "--dbname=");
	assert_contains(c.dbname_arg, "user='alice'");
	assert_contains(c.dbname_arg, "host='db1'");
	assert_contains(c.dbname_arg, "port='5433'");
	assert_contains(c.dbname_arg, "dbname='app'");
	assert_contains(c.dbname_arg, "application_name='pgcrane'");
	assert_contains(c.dbname_arg, "connect_timeout='10'");
	assert_contains(c.dbname_arg, "keepalives='1'");
	assert_contains(c.dbname_arg, "keepalives_idle='30'");
	assert_lacks(c.dbname_arg, "s3cret");
	assert_lacks(c.dbname_arg, "password");
	assert_string_equal(c.env[0], "PGPASSWORD=s3cret");
	assert_string_equal(c.env[1], "PGCRANE_SOURCE");
	assert_string_equal(c.env[2], "PGCRANE_TARGET");
	assert_null(c.env[3]);
	conn_child_release(&c);
	conn_child_release(&c);
}

static void
test_child_uri_and_user_options(void **state)
{
	conn_child	c;

	(void) state;
	assert_int_equal(conn_child_prepare("postgresql://alice:s3cret@db1:5433/app?sslmode=require"
										"&keepalives_idle=5&tcp_user_timeout=9000"
										"&application_name=mine&connect_timeout=3",
										&c), 0);
	assert_contains(c.dbname_arg, "sslmode='require'");
	assert_contains(c.dbname_arg, "keepalives_idle='5'");
	assert_lacks(c.dbname_arg, "keepalives_idle='30'");
	assert_contains(c.dbname_arg, "keepalives_interval='10'");
	assert_contains(c.dbname_arg, "tcp_user_timeout='9000'");
	assert_contains(c.dbname_arg, "application_name='mine'");
	assert_lacks(c.dbname_arg, "pgcrane");
	assert_contains(c.dbname_arg, "connect_timeout='3'");
	assert_lacks(c.dbname_arg, "s3cret");
	assert_string_equal(c.env[0], "PGPASSWORD=s3cret");
	conn_child_release(&c);
}

static void
test_child_timeout_from_environment(void **state)
{
	conn_child	c;

	(void) state;
	setenv("PGCONNECT_TIMEOUT", "4", 1);
	assert_int_equal(conn_child_prepare("host=h dbname=d", &c), 0);
	assert_lacks(c.dbname_arg, "connect_timeout");
	assert_string_equal(c.env[0], "PGCRANE_SOURCE");
	conn_child_release(&c);
	unsetenv("PGCONNECT_TIMEOUT");
}

/* Database names that look like connection strings stay names. */
static void
test_child_database_names(void **state)
{
	static const char *const names[][2] = {
		{"a=b", "dbname='a=b'"},
		{"postgresql://x@y/z", "dbname='postgresql://x@y/z'"},
		{"it's a \\ name", "dbname='it\\'s a \\\\ name'"},
		{"h\xc3\xa9", "dbname='h\xc3\xa9'"},
	};

	(void) state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
	{
		char	   *conninfo = conn_with_dbname("host=h user=u", names[i][0]);
		conn_child	c;

		assert_non_null(conninfo);
		assert_int_equal(conn_child_prepare(conninfo, &c), 0);
		assert_contains(c.dbname_arg, names[i][1]);
		conn_child_release(&c);
		free(conninfo);
	}
}

static void
test_child_unpassable(void **state)
{
	conn_child	c;

	(void) state;
	assert_string_equal(conn_child_unpassable("host=h sslpassword=kp"), "sslpassword");
	assert_string_equal(conn_child_unpassable("postgresql://h/d?sslpassword=kp"), "sslpassword");
	assert_null(conn_child_unpassable("host=h password=pw"));
	assert_null(conn_child_unpassable("host='unterminated"));
	assert_null(conn_child_unpassable(NULL));
	assert_int_equal(conn_child_prepare("host=h sslpassword=kp", &c), -1);
}

static void
test_redact_drops_every_secret(void **state)
{
	char	   *r = conn_redact("host=h sslpassword=KeyPass password=pw");

	(void) state;
	assert_non_null(r);
	assert_string_equal(r, "host='h'");
	free(r);
}

static void
test_env_password_added(void **state)
{
	char	   *r;

	(void) state;
	unsetenv("PGPASSWORD");
	r = conn_with_env_password("postgresql://u@h/d");
	assert_string_equal(r, "postgresql://u@h/d");
	free(r);
	setenv("PGPASSWORD", "fromenv", 1);
	r = conn_with_env_password("postgresql://u@h/d");
	assert_contains(r, "password='fromenv'");
	assert_contains(r, "host='h'");
	free(r);
	r = conn_with_env_password("host=h password=own");
	assert_string_equal(r, "host=h password=own");
	free(r);
	unsetenv("PGPASSWORD");
}

/* A malformed string's error names the problem, never a part of it. */
static void
test_parse_error_quotes_nothing(void **state)
{
	static const char *const bad[][2] = {
		{"postgresql://u:Leak%zzPw@localhost/db", "invalid percent-encoded token"},
		{"host=h password=Leak Secret", "missing \"=\" after"},
		{"host=h password='Leak\"x Secret", "unterminated quoted string"},
		{"postgresql://u@h/db?Leak=1", "invalid URI query parameter"},
		{"host=h LeakSecret=1", "invalid connection option"},
	};

	(void) state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		char		msg[512];
		char		sqlstate[6];

		assert_null(conn_try_open(bad[i][0], sqlstate, msg, sizeof(msg)));
		assert_contains(msg, "invalid connection string: ");
		assert_contains(msg, bad[i][1]);
		assert_lacks(msg, "Leak");
		assert_lacks(msg, "Secret");
		assert_lacks(msg, "zzPw");
		assert_null(strchr(msg, '\n'));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_child_keyword_value),
		cmocka_unit_test(test_child_uri_and_user_options),
		cmocka_unit_test(test_child_timeout_from_environment),
		cmocka_unit_test(test_child_database_names),
		cmocka_unit_test(test_child_unpassable),
		cmocka_unit_test(test_redact_drops_every_secret),
		cmocka_unit_test(test_env_password_added),
		cmocka_unit_test(test_parse_error_quotes_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
