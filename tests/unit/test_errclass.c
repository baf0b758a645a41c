/*
 * test_errclass.c
 *		Unit tests of the one classification of transient errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>

#include <cmocka.h>

#include "core/conn.h"
#include "core/errclass.h"
#include "core/failure.h"
#include "util/log.h"

/* The SQLSTATEs that heal by waiting, with their classes. */
static void
test_transient_sqlstates(void **state)
{
	(void) state;
	assert_int_equal(errclass_of_sqlstate("08006"), ERRCLASS_CONNECTION);
	assert_int_equal(errclass_of_sqlstate("08001"), ERRCLASS_CONNECTION);
	assert_int_equal(errclass_of_sqlstate("08003"), ERRCLASS_CONNECTION);
	assert_int_equal(errclass_of_sqlstate("57P01"), ERRCLASS_SHUTDOWN);
	assert_int_equal(errclass_of_sqlstate("57P02"), ERRCLASS_SHUTDOWN);
	assert_int_equal(errclass_of_sqlstate("57P03"), ERRCLASS_STARTING);
	assert_int_equal(errclass_of_sqlstate("53300"), ERRCLASS_CAPACITY);
	assert_int_equal(errclass_of_sqlstate("40001"), ERRCLASS_CONFLICT);
	assert_int_equal(errclass_of_sqlstate("40P01"), ERRCLASS_CONFLICT);
	assert_int_equal(errclass_of_sqlstate("55006"), ERRCLASS_IN_USE);
	assert_int_equal(errclass_of_sqlstate("55P03"), ERRCLASS_IN_USE);
}

/* Errors that waiting does not mend, and pgcrane's own cancel. */
static void
test_permanent_sqlstates(void **state)
{
	const char *permanent[] = {"28P01", "28000", "3D000", "42P01", "42804",
	"23505", "22023", "0A000", "08P01", "57P04", "XX000", "", "5", "5700"};

	(void) state;
	for (size_t i = 0; i < sizeof(permanent) / sizeof(permanent[0]); i++)
		assert_int_equal(errclass_of_sqlstate(permanent[i]), ERRCLASS_PERMANENT);
	assert_int_equal(errclass_of_sqlstate(NULL), ERRCLASS_PERMANENT);
	assert_int_equal(errclass_of_sqlstate("57014"), ERRCLASS_CANCELED);
	assert_false(errclass_is_transient(ERRCLASS_CANCELED));
	assert_false(errclass_is_transient(ERRCLASS_PERMANENT));
	assert_true(errclass_is_transient(ERRCLASS_IN_USE));
}

/* libpq's failures that carry no SQLSTATE, as the servers' faults give them. */
static void
test_messages(void **state)
{
	(void) state;
	assert_int_equal(errclass_of_message("server closed the connection unexpectedly"),
					 ERRCLASS_CONNECTION);
	assert_int_equal(errclass_of_message("connection to server at \"127.0.0.1\", port 5432 failed: Connection refused"),
					 ERRCLASS_CONNECTION);
	assert_int_equal(errclass_of_message("connection to server on socket \"/tmp/x/.s.PGSQL.5432\" failed: No such file or directory"),
					 ERRCLASS_CONNECTION);
	assert_int_equal(errclass_of_message("connection to server on socket \"/tmp/x/.s.PGSQL.5432\" failed: FATAL:  the database system is not yet accepting connections"),
					 ERRCLASS_STARTING);
	assert_int_equal(errclass_of_message("FATAL:  the database system is starting up"),
					 ERRCLASS_STARTING);
	assert_int_equal(errclass_of_message("FATAL:  the database system is in recovery mode"),
					 ERRCLASS_STARTING);
	assert_int_equal(errclass_of_message("FATAL:  the database system is shutting down"),
					 ERRCLASS_STARTING);
	assert_int_equal(errclass_of_message("FATAL:  sorry, too many clients already"),
					 ERRCLASS_CAPACITY);
	assert_int_equal(errclass_of_message("FATAL:  number of requested standby connections exceeds max_wal_senders (currently 10)"),
					 ERRCLASS_CAPACITY);
	assert_int_equal(errclass_of_message("terminating connection due to administrator command"),
					 ERRCLASS_SHUTDOWN);
	assert_int_equal(errclass_of_message("could not receive data from server: Connection reset by peer"),
					 ERRCLASS_CONNECTION);
	assert_int_equal(errclass_of_message("no connection to the server"),
					 ERRCLASS_CONNECTION);
	assert_int_equal(errclass_of_message("connection to server at \"h\", port 5432 failed: timeout expired"),
					 ERRCLASS_CONNECTION);
	/* Not transient: a file that is not a socket, a standby without hot standby. */
	assert_int_equal(errclass_of_message("could not open file \"x\": No such file or directory"),
					 ERRCLASS_PERMANENT);
	assert_int_equal(errclass_of_message("FATAL:  the database system is not accepting connections"),
					 ERRCLASS_PERMANENT);
	assert_int_equal(errclass_of_message("FATAL:  password authentication failed for user \"u\""),
					 ERRCLASS_PERMANENT);
	assert_int_equal(errclass_of_message(NULL), ERRCLASS_PERMANENT);
	assert_int_equal(errclass_of_message(""), ERRCLASS_PERMANENT);
}

/* The SQLSTATE decides first, then a broken connection, then the message. */
static void
test_classify(void **state)
{
	(void) state;
	assert_int_equal(errclass_classify("57P01", "terminating connection due to administrator command", false),
					 ERRCLASS_SHUTDOWN);
	assert_int_equal(errclass_classify("42P01", "relation \"t\" does not exist", false),
					 ERRCLASS_PERMANENT);
	assert_int_equal(errclass_classify("42P01", "whatever", true), ERRCLASS_CONNECTION);
	assert_int_equal(errclass_classify("57014", "canceling statement", false), ERRCLASS_CANCELED);
	/* The clone's COPY: stopped (57014) because the other side broke. */
	assert_int_equal(errclass_classify("57014", "COPY from stdin failed: copy stopped", true),
					 ERRCLASS_CONNECTION);
	assert_int_equal(errclass_classify("", "server closed the connection unexpectedly", false),
					 ERRCLASS_CONNECTION);
	assert_int_equal(errclass_classify(NULL, NULL, true), ERRCLASS_CONNECTION);
	assert_int_equal(errclass_classify(NULL, NULL, false), ERRCLASS_PERMANENT);
	/* A permanent SQLSTATE is not overridden by words of its message. */
	assert_int_equal(errclass_classify("22P02", "invalid input: Connection refused", false),
					 ERRCLASS_PERMANENT);
	assert_true(errclass_transient("55006", "replication slot \"s\" is active for PID 1", false));
	assert_false(errclass_transient("3D000", "database \"x\" does not exist", false));
}

/* What a failed connection attempt is taken for. */
static void
test_connect_sqlstate(void **state)
{
	(void) state;
	assert_string_equal(errclass_connect_sqlstate("connection to server at \"h\", port 1 failed: FATAL:  database \"nope\" does not exist"),
						"3D000");
	assert_string_equal(errclass_connect_sqlstate("connection to server at \"h\", port 1 failed: FATAL:  password authentication failed for user \"u\""),
						"28P01");
	assert_string_equal(errclass_connect_sqlstate("connection to server at \"h\", port 1 failed: FATAL:  role \"x\" does not exist"),
						"28000");
	assert_string_equal(errclass_connect_sqlstate("FATAL:  no pg_hba.conf entry for host \"1.2.3.4\""),
						"28000");
	assert_string_equal(errclass_connect_sqlstate("FATAL:  the database system is not yet accepting connections"),
						"57P03");
	assert_string_equal(errclass_connect_sqlstate("FATAL:  the database system is starting up"),
						"57P03");
	assert_string_equal(errclass_connect_sqlstate("FATAL:  sorry, too many clients already"),
						"53300");
	assert_string_equal(errclass_connect_sqlstate("connection to server at \"h\", port 1 failed: Connection refused"),
						"08001");
	assert_string_equal(errclass_connect_sqlstate("connection to server on socket \"/tmp/.s.PGSQL.1\" failed: No such file or directory"),
						"08001");
	assert_string_equal(errclass_connect_sqlstate("FATAL:  permission denied for database \"d\""), "");
	assert_string_equal(errclass_connect_sqlstate("invalid connection option \"x\""), "");
	assert_string_equal(errclass_connect_sqlstate(NULL), "");
	/* Whatever is inferred classifies as the message does. */
	assert_true(errclass_transient(errclass_connect_sqlstate("Connection refused"),
								   "Connection refused", false));
	assert_false(errclass_transient(errclass_connect_sqlstate("FATAL:  permission denied for database \"d\""),
									"FATAL:  permission denied for database \"d\"", false));
}

/* conn.c fills the failure of a connection it could not open. */
static void
test_conn_failures(void **state)
{
	char		sqlstate[6];
	char		msg[512];
	failure		f = FAILURE_INIT;

	(void) state;
	/* No server behind the socket: a connection failure, worth waiting for. */
	assert_null(conn_try_open("host=/nonexistent-pgcrane-dir port=1 dbname=x",
							  sqlstate, msg, sizeof(msg)));
	assert_string_equal(sqlstate, "08001");
	assert_true(errclass_transient(sqlstate, msg, false));
	failure_capture_begin(&f);
	assert_null(conn_open("host=/nonexistent-pgcrane-dir port=1 dbname=x", SIDE_SOURCE));
	failure_capture_end(&f);
	assert_true(f.present);
	assert_string_equal(f.side, SIDE_SOURCE);
	assert_string_equal(f.sqlstate, "08001");
	assert_true(failure_is_transient(&f));
	failure_release(&f);
	/* A string libpq cannot parse will not heal. */
	assert_null(conn_try_open("no_such_option=1", sqlstate, msg, sizeof(msg)));
	assert_string_equal(sqlstate, "");
	failure_capture_begin(&f);
	assert_null(conn_open("no_such_option=1", SIDE_TARGET));
	failure_capture_end(&f);
	assert_true(f.present);
	assert_string_equal(f.sqlstate, "");
	assert_false(failure_is_transient(&f));
	failure_release(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transient_sqlstates),
		cmocka_unit_test(test_permanent_sqlstates),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_connect_sqlstate),
		cmocka_unit_test(test_conn_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
