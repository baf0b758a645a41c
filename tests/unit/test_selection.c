/*
 * test_selection.c
 *		The rules of a selection: patterns as pg_dump reads them, the
 *		filter format, and the text a clone records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/selection.h"

static void
check_regex(const char *pattern, bool schema, const char *want_s, const char *want_n)
{
	char	   *s,
			   *n;
	char	   *msg = sel_pattern_regex(pattern, schema, &s, &n);

	assert_null(msg);
	if (want_s)
		assert_string_equal(s, want_s);
	else
		assert_null(s);
	if (want_n)
		assert_string_equal(n, want_n);
	else
		assert_null(n);
	free(s);
	free(n);
}

static void
test_patterns(void **unused)
{
	(void) unused;
	check_regex("public", true, "^(public)$", NULL);
	check_regex("App*", true, "^(app.*)$", NULL);
	check_regex("film", false, NULL, "^(film)$");
	check_regex("public.film_?", false, "^(public)$", "^(film_.)$");
	check_regex("\"MixedCase\".\"a.b*\"", false, "^(MixedCase)$", "^(a\\.b\\*)$");
	check_regex("s.t$", false, "^(s)$", "^(t\\$)$");
	check_regex("\"say \"\"hi\"\"\"", true, "^(say \"hi\")$", NULL);
	check_regex("p[0-9]", true, "^(p[0-9])$", NULL);
}

static void
test_bad_patterns(void **unused)
{
	selection	s = SELECTION_INIT;
	char	   *msg;

	(void) unused;
	msg = sel_add_pattern(&s, SEL_INCLUDE_SCHEMA, "a.b");
	assert_non_null(msg);
	assert_non_null(strstr(msg, "too many dotted names"));
	free(msg);
	msg = sel_add_pattern(&s, SEL_EXCLUDE_TABLE, "a.b.c");
	assert_non_null(msg);
	free(msg);
	msg = sel_add_pattern(&s, SEL_EXCLUDE_TABLE, "");
	assert_non_null(msg);
	free(msg);
	assert_true(sel_is_empty(&s));
	sel_release(&s);
}

static void
test_renames_and_columns(void **unused)
{
	selection	s = SELECTION_INIT;
	char	   *msg;

	(void) unused;
	assert_null(sel_add_schema_rename(&s, "public=App"));
	assert_null(sel_add_table_rename(&s, "public.\"Film\"=movie"));
	assert_null(sel_add_column(&s, "public.customer.\"Email\""));
	assert_string_equal(s.schema_renames[0].schema, "public");
	assert_string_equal(s.schema_renames[0].to, "app");
	assert_string_equal(s.table_renames[0].from, "Film");
	assert_string_equal(s.columns[0].column, "Email");
	assert_string_equal(sel_schema_target(&s, "public"), "app");
	assert_string_equal(sel_schema_target(&s, "other"), "other");
	assert_string_equal(sel_table_target(&s, "public", "Film"), "movie");
	msg = sel_add_schema_rename(&s, "public");
	assert_non_null(msg);
	free(msg);
	msg = sel_add_table_rename(&s, "film=movie");
	assert_non_null(msg);
	free(msg);
	msg = sel_add_column(&s, "customer.email");
	assert_non_null(msg);
	free(msg);
	assert_false(sel_is_empty(&s));
	sel_release(&s);
}

static void
test_filter_text(void **unused)
{
	selection	s = SELECTION_INIT;
	const char *text =
		"# what stays behind\n"
		"include schema public\n"
		"  exclude table public.payment_p*   # partitions\n"
		"\n"
		"exclude table_data \"public\".\"Log # 1\"\n"
		"exclude large_objects\n";

	(void) unused;
	assert_null(sel_parse_text(&s, text, "rules.txt"));
	assert_int_equal(s.npatterns[SEL_INCLUDE_SCHEMA], 1);
	assert_string_equal(s.patterns[SEL_EXCLUDE_TABLE][0], "public.payment_p*");
	assert_string_equal(s.patterns[SEL_EXCLUDE_TABLE_DATA][0], "\"public\".\"Log # 1\"");
	assert_int_equal(s.large_objects, SEL_LO_EXCLUDE);
	sel_release(&s);
}

static void
test_filter_errors(void **unused)
{
	selection	s = SELECTION_INIT;
	char	   *msg;

	(void) unused;
	msg = sel_parse_text(&s, "include table a\ninclude function f\n", "f.txt");
	assert_non_null(msg);
	assert_string_equal(msg, "f.txt: line 2: unsupported filter object type \"include function\"");
	free(msg);
	msg = sel_parse_text(&s, "keep table a\n", "f.txt");
	assert_non_null(msg);
	assert_non_null(strstr(msg, "invalid filter command \"keep\""));
	free(msg);
	msg = sel_parse_text(&s, "exclude table\n", "f.txt");
	assert_non_null(msg);
	free(msg);
	sel_release(&s);
}

/* What a clone records reads back as the same rules. */
static void
test_round_trip(void **unused)
{
	selection	s = SELECTION_INIT;
	selection	back = SELECTION_INIT;
	char	   *text,
			   *again;

	(void) unused;
	assert_null(sel_add_pattern(&s, SEL_EXCLUDE_SCHEMA, "archive*"));
	assert_null(sel_add_pattern(&s, SEL_INCLUDE_TABLE, "public.\"Odd\"\"Name\""));
	assert_null(sel_add_schema_rename(&s, "public=\"App\""));
	assert_null(sel_add_table_rename(&s, "public.film=movie"));
	assert_null(sel_add_column(&s, "public.customer.email"));
	s.exclude_dependents = true;
	s.large_objects = SEL_LO_INCLUDE;
	text = sel_format(&s);
	assert_null(sel_parse_text(&back, text, "state"));
	again = sel_format(&back);
	assert_string_equal(text, again);
	assert_string_equal(back.schema_renames[0].to, "App");
	assert_true(back.exclude_dependents);
	assert_int_equal(back.large_objects, SEL_LO_INCLUDE);
	free(text);
	free(again);
	sel_release(&s);
	sel_release(&back);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_patterns),
		cmocka_unit_test(test_bad_patterns),
		cmocka_unit_test(test_renames_and_columns),
		cmocka_unit_test(test_filter_text),
		cmocka_unit_test(test_filter_errors),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
