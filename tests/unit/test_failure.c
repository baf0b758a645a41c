/*
 * test_failure.c
 *		Unit tests of the failure value and its capture: linked against
 *		failure.c, log.c, errclass.c and str.c only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/failure.h"
#include "util/log.h"

/* What this process writes on stderr between stderr_begin and stderr_end. */
static FILE *stderr_file;
static int	stderr_saved = -1;
static char stderr_text[8192];

static void
stderr_begin(void)
{
	fflush(stderr);
	stderr_file = tmpfile();
	assert_non_null(stderr_file);
	stderr_saved = dup(STDERR_FILENO);
	assert_true(dup2(fileno(stderr_file), STDERR_FILENO) >= 0);
}

static const char *
stderr_end(void)
{
	size_t		n;

	fflush(stderr);
	assert_true(dup2(stderr_saved, STDERR_FILENO) >= 0);
	close(stderr_saved);
	rewind(stderr_file);
	n = fread(stderr_text, 1, sizeof(stderr_text) - 1, stderr_file);
	stderr_text[n] = '\0';
	fclose(stderr_file);
	return stderr_text;
}

/* Error lines are held; warnings pass; the report picks the level. */
static void
test_report_levels(void **state)
{
	failure		f = FAILURE_INIT;

	(void) state;
	stderr_begin();
	failure_capture_begin(&f);
	(void) error("could not copy table \"t\"");
	log_detail("the detail");
	log_warning("passes at once");
	log_hint("a hint after a warning is not held");
	failure_capture_end(&f);
	assert_string_equal(stderr_end(),
						"pgcrane: warning: passes at once\n"
						"pgcrane: hint: a hint after a warning is not held\n");
	assert_int_equal(f.nlines, 2);

	stderr_begin();
	failure_report(&f, LOG_WARNING);
	assert_string_equal(stderr_end(),
						"pgcrane: warning: could not copy table \"t\"\n"
						"pgcrane: detail: the detail\n");
	stderr_begin();
	failure_report(&f, LOG_ERROR);
	assert_string_equal(stderr_end(),
						"pgcrane: error: could not copy table \"t\"\n"
						"pgcrane: detail: the detail\n");
	stderr_begin();
	failure_report(&f, LOG_DEBUG);
	assert_string_equal(stderr_end(), "");
	failure_release(&f);
	assert_false(f.present);
	assert_int_equal(f.nlines, 0);

	/* No capture: an error is printed at once. */
	stderr_begin();
	(void) failure_set("source", NULL, NULL, false, "printed");
	assert_string_equal(stderr_end(), "pgcrane: error: printed\n");
}

/* The first failure is the failure; later lines are kept in order. */
static void
test_first_error_wins(void **state)
{
	failure		f = FAILURE_INIT;

	(void) state;
	stderr_begin();
	failure_capture_begin(&f);
	assert_true(failure_set("target", "57P01", "public.t", false,
							"could not copy table \"t\" on target server: terminating connection due to administrator command (SQLSTATE 57P01)"));
	log_detail("first detail");
	(void) error("could not roll back on target server: no connection to the server");
	(void) failure_set("source", "42P01", NULL, false, "a later failure");
	failure_capture_end(&f);
	assert_string_equal(stderr_end(), "");
	assert_true(f.present);
	assert_string_equal(f.side, "target");
	assert_string_equal(f.sqlstate, "57P01");
	assert_string_equal(f.object, "public.t");
	assert_string_equal(f.message,
						"could not copy table \"t\" on target server: terminating connection due to administrator command (SQLSTATE 57P01)");
	assert_true(failure_is_transient(&f));
	assert_int_equal(f.nlines, 4);
	assert_int_equal(f.lines[1].kind, 'd');
	assert_string_equal(f.lines[3].text, "a later failure");
	stderr_begin();
	failure_report(&f, LOG_ERROR);
	assert_string_equal(stderr_end(),
						"pgcrane: error: could not copy table \"t\" on target server: terminating connection due to administrator command (SQLSTATE 57P01)\n"
						"pgcrane: detail: first detail\n"
						"pgcrane: error: could not roll back on target server: no connection to the server\n"
						"pgcrane: error: a later failure\n");
	failure_release(&f);

	/* A bare error line first: the failure, permanent, until one with facts. */
	stderr_begin();
	failure_capture_begin(&f);
	(void) error("the COPY of table \"t\" ended early");
	assert_true(f.present);
	assert_string_equal(f.message, "the COPY of table \"t\" ended early");
	assert_string_equal(f.sqlstate, "");
	assert_false(failure_is_transient(&f));
	(void) failure_set("target", "40001", NULL, false, "serialization failure");
	(void) failure_set("target", "42P01", NULL, false, "a consequence");
	failure_capture_end(&f);
	stderr_end();
	assert_string_equal(f.message, "serialization failure");
	assert_string_equal(f.sqlstate, "40001");
	assert_true(failure_is_transient(&f));
	assert_int_equal(f.nlines, 3);
	failure_release(&f);
}

/* Transient by errclass.h: the SQLSTATE, the message, a broken connection. */
static void
test_transient(void **state)
{
	failure		f = FAILURE_INIT;

	(void) state;
	stderr_begin();
	failure_capture_begin(&f);
	assert_false(failure_set("source", "42P01", NULL, false, "relation does not exist"));
	assert_false(failure_is_transient(&f));
	failure_connection_broken("target");
	assert_true(failure_is_transient(&f));
	assert_string_equal(f.side, "source");
	failure_capture_end(&f);
	failure_release(&f);

	failure_capture_begin(&f);
	assert_true(failure_set("target", "", NULL, false,
							"could not receive data from server: server closed the connection unexpectedly"));
	failure_capture_end(&f);
	assert_true(failure_is_transient(&f));
	failure_release(&f);

	/* A broken connection makes a permanent-looking SQLSTATE transient. */
	failure_capture_begin(&f);
	assert_true(failure_set("target", "22P02", NULL, true, "copy failed"));
	failure_capture_end(&f);
	assert_true(failure_is_transient(&f));
	failure_release(&f);

	/* pgcrane's own cancel is not transient and gives way to what follows. */
	failure_capture_begin(&f);
	assert_false(failure_note("target", "57014", NULL, false, "canceling statement"));
	assert_string_equal(f.sqlstate, "57014");
	assert_false(failure_is_transient(&f));
	(void) failure_set("source", "55006", NULL, false, "slot \"s\" is active");
	assert_string_equal(f.sqlstate, "55006");
	assert_string_equal(f.side, "source");
	assert_true(failure_is_transient(&f));
	failure_capture_end(&f);
	failure_release(&f);

	/* A broken connection alone: transient, with no message. */
	failure_capture_begin(&f);
	failure_connection_broken("source");
	failure_capture_end(&f);
	assert_false(f.present);
	assert_true(failure_is_transient(&f));
	assert_string_equal(f.message, "");
	failure_release(&f);
	assert_string_equal(stderr_end(), "");
}

/* An inner decider inside an outer capture. */
static void
test_nested(void **state)
{
	failure		outer = FAILURE_INIT;
	failure		inner = FAILURE_INIT;

	(void) state;
	stderr_begin();
	failure_capture_begin(&outer);
	/* Retried inside: warnings, printed; the outer saw no failure. */
	failure_capture_begin(&inner);
	(void) failure_set("source", "40001", NULL, false, "could not serialize access");
	log_detail("inner detail");
	failure_capture_end(&inner);
	failure_report(&inner, LOG_WARNING);
	failure_release(&inner);
	assert_false(outer.present);
	assert_int_equal(outer.nlines, 0);
	/* Given up inside: the outer holds its lines and takes its facts. */
	failure_capture_begin(&inner);
	(void) failure_set("target", "23505", "t_pkey", false, "duplicate key");
	log_hint("inner hint");
	failure_capture_end(&inner);
	failure_report(&inner, LOG_ERROR);
	failure_release(&inner);
	assert_true(outer.present);
	assert_string_equal(outer.side, "target");
	assert_string_equal(outer.sqlstate, "23505");
	assert_string_equal(outer.object, "t_pkey");
	assert_string_equal(outer.message, "duplicate key");
	assert_false(failure_is_transient(&outer));
	(void) error("outer line");
	failure_capture_end(&outer);
	assert_string_equal(stderr_end(),
						"pgcrane: warning: could not serialize access\n"
						"pgcrane: detail: inner detail\n");
	assert_int_equal(outer.nlines, 3);
	stderr_begin();
	failure_report(&outer, LOG_ERROR);
	assert_string_equal(stderr_end(),
						"pgcrane: error: duplicate key\n"
						"pgcrane: hint: inner hint\n"
						"pgcrane: error: outer line\n");
	failure_release(&outer);
	/* Every capture ended: errors print again. */
	stderr_begin();
	(void) error("direct");
	assert_string_equal(stderr_end(), "pgcrane: error: direct\n");
}

/* Two threads capture at the same time, each its own. */
typedef struct thread_case
{
	const char *sqlstate;
	const char *message;
	failure		f;
} thread_case;

static pthread_barrier_t barrier;

static void *
capture_thread(void *arg)
{
	thread_case *c = arg;

	failure_capture_begin(&c->f);
	pthread_barrier_wait(&barrier);
	for (int i = 0; i < 100; i++)
		(void) failure_set("source", c->sqlstate, NULL, false, "%s %d", c->message, i);
	pthread_barrier_wait(&barrier);
	failure_capture_end(&c->f);
	return NULL;
}

static void
test_threads(void **state)
{
	thread_case cases[2] = {
		{"40P01", "deadlock", FAILURE_INIT},
		{"42501", "permission denied", FAILURE_INIT},
	};
	pthread_t	threads[2];

	(void) state;
	assert_int_equal(pthread_barrier_init(&barrier, NULL, 2), 0);
	stderr_begin();
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&threads[i], NULL, capture_thread, &cases[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(threads[i], NULL);
	assert_string_equal(stderr_end(), "");
	pthread_barrier_destroy(&barrier);
	assert_string_equal(cases[0].f.message, "deadlock 0");
	assert_true(failure_is_transient(&cases[0].f));
	assert_string_equal(cases[1].f.message, "permission denied 0");
	assert_string_equal(cases[1].f.sqlstate, "42501");
	assert_false(failure_is_transient(&cases[1].f));
	for (int i = 0; i < 2; i++)
	{
		assert_int_equal(cases[i].f.nlines, 100);
		for (size_t j = 0; j < cases[i].f.nlines; j++)
			assert_non_null(strstr(cases[i].f.lines[j].text, cases[i].message));
		failure_release(&cases[i].f);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report_levels),
		cmocka_unit_test(test_first_error_wins),
		cmocka_unit_test(test_transient),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
