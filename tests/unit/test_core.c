/*
 * test_core.c
 *		Unit tests of pgcrane's pure core functions: size and number
 *		parsing, string buffers, table split planning, TOC line filtering,
 *		connection-string rewriting and JSON string escaping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/catalog.h"
#include "core/conn.h"
#include "core/copy.h"
#include "clone/schema.h"
#include "util/json.h"
#include "util/str.h"

/* ------------------------------------------------------------------ */
/* str_parse_size                                                      */
/* ------------------------------------------------------------------ */

/* Parse s, which must be accepted, and return the bytes. */
static int64_t
size_ok(const char *s)
{
	int64_t		bytes = -12345;

	assert_true(str_parse_size(s, &bytes));
	return bytes;
}

static void
size_rejected(const char *s)
{
	int64_t		bytes = -12345;

	assert_false(str_parse_size(s, &bytes));
	assert_int_equal(bytes, -12345);
}

static void
test_parse_size_plain_bytes(void **state)
{
	(void) state;
	assert_int_equal(size_ok("0"), 0);
	assert_int_equal(size_ok("1000000"), 1000000);
	assert_int_equal(size_ok("10B"), 10);
	assert_int_equal(size_ok("10 b"), 10);
}

static void
test_parse_size_units(void **state)
{
	(void) state;
	assert_int_equal(size_ok("1kB"), 1024);
	assert_int_equal(size_ok("512MB"), INT64_C(512) * 1048576);
	assert_int_equal(size_ok("10GB"), INT64_C(10) * 1073741824);
	assert_int_equal(size_ok("2TB"), INT64_C(2) * 1099511627776);
	assert_int_equal(size_ok("3k"), 3072);
	assert_int_equal(size_ok("3m"), 3145728);
	assert_int_equal(size_ok("1g"), 1073741824);
	assert_int_equal(size_ok("1t"), INT64_C(1099511627776));
}

static void
test_parse_size_case_insensitive(void **state)
{
	(void) state;
	assert_int_equal(size_ok("1KB"), 1024);
	assert_int_equal(size_ok("1kb"), 1024);
	assert_int_equal(size_ok("1Mb"), 1048576);
	assert_int_equal(size_ok("1gB"), 1073741824);
	assert_int_equal(size_ok("1tb"), INT64_C(1099511627776));
}

static void
test_parse_size_fractions_and_spaces(void **state)
{
	(void) state;
	assert_int_equal(size_ok("1.5 GB"), INT64_C(1610612736));
	assert_int_equal(size_ok("1.5GB"), INT64_C(1610612736));
	assert_int_equal(size_ok("0.5kB"), 512);
	assert_int_equal(size_ok(".5kB"), 512);
	assert_int_equal(size_ok("  64 MB"), INT64_C(67108864));
	/* Fractions of a byte are truncated. */
	assert_int_equal(size_ok("1.9"), 1);
}

static void
test_parse_size_rejects_bad_input(void **state)
{
	(void) state;
	size_rejected(NULL);
	size_rejected("");
	size_rejected("   ");
	size_rejected("GB");
	size_rejected("-1");
	size_rejected("-1GB");
	size_rejected("+1GB");
	size_rejected(".");
	size_rejected("10 XB");
	size_rejected("10 PB");
	size_rejected("10GBs");
	size_rejected("10 G B");
	size_rejected("nan");
	size_rejected("inf");
}

static void
test_parse_size_rejects_overflow(void **state)
{
	(void) state;
	size_rejected("9999999999TB");
	size_rejected("9223372036854775807");
	size_rejected("8388608TB");
	size_rejected("1e400");
	size_rejected("100000000000000000000");
}

static void
test_parse_size_large_in_range(void **state)
{
	(void) state;
	/* 2^62 bytes: large but representable. */
	assert_int_equal(size_ok("4194304TB"), INT64_C(4611686018427387904));
}

/* ------------------------------------------------------------------ */
/* str_format_size                                                     */
/* ------------------------------------------------------------------ */

static void
expect_format(int64_t bytes, const char *expected)
{
	char		buf[64];

	memset(buf, 'x', sizeof(buf));
	str_format_size(bytes, buf, sizeof(buf));
	assert_string_equal(buf, expected);
}

static void
test_format_size_bytes(void **state)
{
	(void) state;
	expect_format(0, "0 bytes");
	expect_format(1, "1 bytes");
	expect_format(1023, "1023 bytes");
}

static void
test_format_size_units(void **state)
{
	(void) state;
	expect_format(1024, "1.0 kB");
	expect_format(1536, "1.5 kB");
	expect_format(INT64_C(1048576), "1.0 MB");
	expect_format(INT64_C(1610612736), "1.5 GB");
	expect_format(INT64_C(10) * 1073741824, "10.0 GB");
	expect_format(INT64_C(1099511627776), "1.0 TB");
}

static void
test_format_size_caps_at_tb(void **state)
{
	(void) state;
	expect_format(INT64_C(1024) * 1099511627776, "1024.0 TB");
}

static void
test_format_size_truncates_to_buffer(void **state)
{
	char		buf[5];

	(void) state;
	str_format_size(INT64_C(1610612736), buf, sizeof(buf));
	assert_string_equal(buf, "1.5 ");
}

/* ------------------------------------------------------------------ */
/* str_to_int, str_to_int64                                            */
/* ------------------------------------------------------------------ */

static void
test_to_int64_valid(void **state)
{
	int64_t		v = 0;

	(void) state;
	assert_true(str_to_int64("0", &v));
	assert_int_equal(v, 0);
	assert_true(str_to_int64("-42", &v));
	assert_int_equal(v, -42);
	assert_true(str_to_int64("9223372036854775807", &v));
	assert_int_equal(v, INT64_MAX);
	assert_true(str_to_int64("-9223372036854775808", &v));
	assert_int_equal(v, INT64_MIN);
}

static void
test_to_int64_invalid(void **state)
{
	int64_t		v = 7;

	(void) state;
	assert_false(str_to_int64(NULL, &v));
	assert_false(str_to_int64("", &v));
	assert_false(str_to_int64("12a", &v));
	assert_false(str_to_int64("12 ", &v));
	assert_false(str_to_int64("1.5", &v));
	assert_false(str_to_int64("abc", &v));
	assert_false(str_to_int64("9223372036854775808", &v));
	assert_false(str_to_int64("-9223372036854775809", &v));
	assert_int_equal(v, 7);
}

static void
test_to_int_range(void **state)
{
	int			v = -1;

	(void) state;
	assert_true(str_to_int("1", 1, 64, &v));
	assert_int_equal(v, 1);
	assert_true(str_to_int("64", 1, 64, &v));
	assert_int_equal(v, 64);
	assert_true(str_to_int("-5", -10, 10, &v));
	assert_int_equal(v, -5);
	v = 99;
	assert_false(str_to_int("0", 1, 64, &v));
	assert_false(str_to_int("65", 1, 64, &v));
	assert_false(str_to_int("4294967296", INT32_MIN, INT32_MAX, &v));
	assert_false(str_to_int("x", 0, 10, &v));
	assert_int_equal(v, 99);
}

/* ------------------------------------------------------------------ */
/* str_copy, str_printf                                                */
/* ------------------------------------------------------------------ */

static void
test_str_copy_fits(void **state)
{
	char		buf[8];

	(void) state;
	assert_true(str_copy(buf, "abc", sizeof(buf)));
	assert_string_equal(buf, "abc");
	assert_true(str_copy(buf, "1234567", sizeof(buf)));
	assert_string_equal(buf, "1234567");
	assert_true(str_copy(buf, "", sizeof(buf)));
	assert_string_equal(buf, "");
}

static void
test_str_copy_truncates(void **state)
{
	char		buf[8];

	(void) state;
	assert_false(str_copy(buf, "12345678", sizeof(buf)));
	assert_string_equal(buf, "1234567");
	assert_false(str_copy(buf, "a much longer string", sizeof(buf)));
	assert_string_equal(buf, "a much ");
}

static void
test_str_copy_tiny_buffers(void **state)
{
	char		buf[2] = {'z', 'z'};

	(void) state;
	assert_false(str_copy(buf, "abc", 0));
	assert_int_equal(buf[0], 'z');
	assert_false(str_copy(buf, "abc", 1));
	assert_int_equal(buf[0], '\0');
	assert_true(str_copy(buf, "", 1));
	assert_int_equal(buf[0], '\0');
}

static void
test_str_printf(void **state)
{
	char	   *s = str_printf("%s-%d-%lld", "t", 5, (long long) INT64_MIN);

	(void) state;
	assert_string_equal(s, "t-5--9223372036854775808");
	free(s);
	s = str_printf("%s", "");
	assert_string_equal(s, "");
	free(s);
}

/* ------------------------------------------------------------------ */
/* strbuf                                                              */
/* ------------------------------------------------------------------ */

static void
test_strbuf_empty(void **state)
{
	strbuf		sb = STRBUF_INIT;
	char	   *s;

	(void) state;
	assert_string_equal(strbuf_str(&sb), "");
	assert_int_equal(sb.len, 0);
	s = strbuf_detach(&sb);
	assert_string_equal(s, "");
	assert_null(sb.buf);
	free(s);
	strbuf_release(&sb);
}

static void
test_strbuf_add_variants(void **state)
{
	strbuf		sb = STRBUF_INIT;

	(void) state;
	strbuf_adds(&sb, "abc");
	strbuf_add(&sb, "defXYZ", 3);
	strbuf_addf(&sb, "-%d-%s", 42, "x");
	assert_string_equal(strbuf_str(&sb), "abcdef-42-x");
	assert_int_equal(sb.len, 11);
	assert_true(sb.alloc > sb.len);
	strbuf_release(&sb);
	assert_null(sb.buf);
	assert_int_equal(sb.len, 0);
	assert_int_equal(sb.alloc, 0);
}

static void
test_strbuf_grows(void **state)
{
	strbuf		sb = STRBUF_INIT;
	char		expect[1001];

	(void) state;
	for (int i = 0; i < 1000; i++)
	{
		strbuf_add(&sb, "0123456789" + (i % 10), 1);
		expect[i] = (char) ('0' + i % 10);
	}
	expect[1000] = '\0';
	assert_int_equal(sb.len, 1000);
	assert_string_equal(strbuf_str(&sb), expect);
	strbuf_release(&sb);
}

static void
test_strbuf_addf_long(void **state)
{
	strbuf		sb = STRBUF_INIT;
	char		big[300];

	(void) state;
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	strbuf_adds(&sb, "<");
	strbuf_addf(&sb, "%s>", big);
	assert_int_equal(sb.len, 301);
	assert_int_equal(sb.buf[0], '<');
	assert_int_equal(sb.buf[299], 'q');
	assert_int_equal(sb.buf[300], '>');
	assert_int_equal(sb.buf[301], '\0');
	strbuf_release(&sb);
}

static void
test_strbuf_embedded_nul(void **state)
{
	strbuf		sb = STRBUF_INIT;

	(void) state;
	strbuf_add(&sb, "a\0b", 3);
	assert_int_equal(sb.len, 3);
	assert_memory_equal(sb.buf, "a\0b\0", 4);
	strbuf_release(&sb);
}

static void
test_strbuf_reset_keeps_storage(void **state)
{
	strbuf		sb = STRBUF_INIT;
	char	   *before;

	(void) state;
	strbuf_reset(&sb);
	assert_string_equal(strbuf_str(&sb), "");
	strbuf_adds(&sb, "hello");
	before = sb.buf;
	strbuf_reset(&sb);
	assert_int_equal(sb.len, 0);
	assert_string_equal(strbuf_str(&sb), "");
	assert_ptr_equal(sb.buf, before);
	strbuf_adds(&sb, "x");
	assert_string_equal(strbuf_str(&sb), "x");
	strbuf_release(&sb);
}

static void
test_strbuf_detach(void **state)
{
	strbuf		sb = STRBUF_INIT;
	char	   *s;

	(void) state;
	strbuf_addf(&sb, "%s=%d", "n", 3);
	s = strbuf_detach(&sb);
	assert_string_equal(s, "n=3");
	assert_null(sb.buf);
	assert_int_equal(sb.len, 0);
	assert_int_equal(sb.alloc, 0);
	assert_string_equal(strbuf_str(&sb), "");
	free(s);
}

/* ------------------------------------------------------------------ */
/* copy_plan_parts                                                     */
/* ------------------------------------------------------------------ */

static cat_table
table_of(int64_t bytes, int64_t heap_pages)
{
	cat_table	t;

	memset(&t, 0, sizeof(t));
	t.oid = 16384;
	t.nspname = "public";
	t.relname = "t";
	t.qname = "\"public\".\"t\"";
	t.display = "public.t";
	t.columns = "\"a\"";
	t.ncolumns = 1;
	t.bytes = bytes;
	t.heap_pages = heap_pages;
	t.reltuples = 1000;
	return t;
}

/* Plan t, check the parts are well formed and return their number. */
static int
plan(int64_t bytes, int64_t heap_pages, int64_t split, copy_part *parts)
{
	cat_table	t = table_of(bytes, heap_pages);
	int			n;

	memset(parts, 0xAB, sizeof(copy_part) * (COPY_MAX_PARTS + 1));
	n = copy_plan_parts(&t, split, 1, parts);
	assert_in_range(n, 1, COPY_MAX_PARTS);
	return n;
}

static void
assert_single_part(const copy_part *p)
{
	assert_int_equal(p->partno, 0);
	assert_int_equal(p->nparts, 1);
	assert_int_equal(p->first_block, 0);
	assert_int_equal(p->end_block, -1);
}

/*
 * The parts cover [0, heap_pages) in order, with no gaps or overlaps; every
 * part but the last ends where the next begins; the last is open-ended.
 */
static void
assert_covering(const copy_part *parts, int n, int64_t heap_pages)
{
	assert_true(n <= COPY_MAX_PARTS);
	assert_true(n == 1 || n <= heap_pages);
	assert_int_equal(parts[0].first_block, 0);
	for (int i = 0; i < n; i++)
	{
		assert_int_equal(parts[i].partno, i);
		assert_int_equal(parts[i].nparts, n);
		if (i < n - 1)
		{
			assert_true(parts[i].first_block < parts[i].end_block);
			assert_int_equal(parts[i].end_block, parts[i + 1].first_block);
		}
	}
	assert_int_equal(parts[n - 1].end_block, -1);
}

static void
test_plan_zero_split_never_splits(void **state)
{
	copy_part	parts[COPY_MAX_PARTS + 1];

	(void) state;
	assert_int_equal(plan(INT64_C(1) << 40, 1000000, 0, parts), 1);
	assert_single_part(&parts[0]);
}

static void
test_plan_below_threshold(void **state)
{
	copy_part	parts[COPY_MAX_PARTS + 1];

	(void) state;
	assert_int_equal(plan(999, 1000, 1000, parts), 1);
	assert_single_part(&parts[0]);
	/* Equal to the threshold is not above it. */
	assert_int_equal(plan(1000, 1000, 1000, parts), 1);
	assert_single_part(&parts[0]);
}

static void
test_plan_just_above_threshold(void **state)
{
	copy_part	parts[COPY_MAX_PARTS + 1];

	(void) state;
	assert_int_equal(plan(1001, 1000, 1000, parts), 2);
	assert_int_equal(parts[0].first_block, 0);
	assert_int_equal(parts[0].end_block, 500);
	assert_int_equal(parts[1].first_block, 500);
	assert_int_equal(parts[1].end_block, -1);
	assert_covering(parts, 2, 1000);
}

static void
test_plan_even_split(void **state)
{
	copy_part	parts[COPY_MAX_PARTS + 1];
	int			n;

	(void) state;
	n = plan(INT64_C(10) << 30, 1000, INT64_C(1) << 30, parts);
	assert_int_equal(n, 10);
	for (int i = 0; i < 9; i++)
	{
		assert_int_equal(parts[i].first_block, i * 100);
		assert_int_equal(parts[i].end_block, (i + 1) * 100);
	}
	assert_int_equal(parts[9].first_block, 900);
	assert_int_equal(parts[9].end_block, -1);
}

static void
test_plan_uneven_split(void **state)
{
	copy_part	parts[COPY_MAX_PARTS + 1];
	int			n;

	(void) state;
	/* 3 parts of 1001 pages: part i starts at 1001 * i / 3. */
	n = plan(2500, 1001, 1000, parts);
	assert_int_equal(n, 3);
	assert_int_equal(parts[0].end_block, 333);
	assert_int_equal(parts[1].first_block, 333);
	assert_int_equal(parts[1].end_block, 667);
	assert_int_equal(parts[2].first_block, 667);
	assert_int_equal(parts[2].end_block, -1);
	assert_covering(parts, n, 1001);
}

static void
test_plan_capped_at_max_parts(void **state)
{
	copy_part	parts[COPY_MAX_PARTS + 1];
	int			n;

	(void) state;
	n = plan(INT64_C(1) << 40, INT64_C(100000000), 1024, parts);
	assert_int_equal(n, COPY_MAX_PARTS);
	assert_covering(parts, n, INT64_C(100000000));
	/* Nothing written past the last part. */
	assert_int_equal(parts[COPY_MAX_PARTS].partno, (int) 0xABABABAB);
}

static void
test_plan_capped_at_heap_pages(void **state)
{
	copy_part	parts[COPY_MAX_PARTS + 1];
	int			n;

	(void) state;
	n = plan(INT64_C(1) << 40, 5, 1024, parts);
	assert_int_equal(n, 5);
	for (int i = 0; i < 4; i++)
	{
		assert_int_equal(parts[i].first_block, i);
		assert_int_equal(parts[i].end_block, i + 1);
	}
	assert_int_equal(parts[4].first_block, 4);
	assert_int_equal(parts[4].end_block, -1);
}

static void
test_plan_two_pages(void **state)
{
	copy_part	parts[COPY_MAX_PARTS + 1];

	(void) state;
	assert_int_equal(plan(INT64_C(1) << 40, 2, 1, parts), 2);
	assert_int_equal(parts[0].end_block, 1);
	assert_int_equal(parts[1].first_block, 1);
	assert_int_equal(parts[1].end_block, -1);
}

static void
test_plan_tiny_tables(void **state)
{
	copy_part	parts[COPY_MAX_PARTS + 1];

	(void) state;
	assert_int_equal(plan(INT64_C(1) << 40, 1, 1, parts), 1);
	assert_single_part(&parts[0]);
	assert_int_equal(plan(INT64_C(1) << 40, 0, 1, parts), 1);
	assert_single_part(&parts[0]);
	/* An empty table, or statistics that report no pages at all. */
	assert_int_equal(plan(0, 0, 1, parts), 1);
	assert_single_part(&parts[0]);
	assert_int_equal(plan(8192, 0, 0, parts), 1);
	assert_single_part(&parts[0]);
}

static void
test_plan_unknown_page_count(void **state)
{
	copy_part	parts[COPY_MAX_PARTS + 1];

	(void) state;
	assert_int_equal(plan(INT64_C(1) << 40, -1, 1, parts), 1);
	assert_single_part(&parts[0]);
}

static void
test_plan_rounds_to_workers(void **state)
{
	cat_table	t;
	copy_part	parts[COPY_MAX_PARTS + 1];
	int			n;

	(void) state;
	memset(&t, 0, sizeof(t));
	t.bytes = 3000;
	t.heap_pages = 300;
	/* Three shares of 1000 bytes on two workers become four. */
	assert_int_equal(copy_split_shares(&t, 1000, 2), 4);
	/* Unsplit tables stay whole whatever the worker count. */
	assert_int_equal(copy_split_shares(&t, 5000, 4), 1);
	n = copy_plan_parts(&t, 5000, 4, parts);
	assert_int_equal(n, 1);
	assert_single_part(&parts[0]);
}

/* Blocks in part p of a table of "pages" blocks. */
static int64_t
part_blocks(const copy_part *p, int64_t pages)
{
	return (p->end_block < 0 ? pages : p->end_block) - p->first_block;
}

static void
test_plan_tapers_last_round(void **state)
{
	cat_table	t = table_of(4000, 800);
	copy_part	parts[COPY_MAX_PARTS + 1];
	static const int64_t sizes[] = {200, 200, 100, 100, 50, 50, 25, 25, 25, 25};
	int			n;

	(void) state;
	/*
	 * Four shares of 200 blocks on two workers: two whole shares, then two
	 * halves, two quarters and four eighths of one.
	 */
	n = copy_plan_parts(&t, 1000, 2, parts);
	assert_int_equal(n, 10);
	assert_covering(parts, n, 800);
	for (int i = 0; i < n; i++)
		assert_int_equal(part_blocks(&parts[i], 800), sizes[i]);
	/* One round only (two shares, two workers): no whole share. */
	t.bytes = 2000;
	n = copy_plan_parts(&t, 1000, 2, parts);
	assert_int_equal(n, 8);
	assert_covering(parts, n, 800);
	assert_int_equal(part_blocks(&parts[0], 800), 200);
	assert_int_equal(part_blocks(&parts[7], 800), 50);
}

static void
test_plan_taper_needs_room(void **state)
{
	cat_table	t = table_of(4000, 31);
	copy_part	parts[COPY_MAX_PARTS + 1];
	int			n;

	(void) state;
	/* Fewer blocks than eighths: the four shares stay whole. */
	n = copy_plan_parts(&t, 1000, 2, parts);
	assert_int_equal(n, 4);
	assert_covering(parts, n, 31);
	/* One worker has nobody to share the last round with. */
	t.heap_pages = 400;
	n = copy_plan_parts(&t, 1000, 1, parts);
	assert_int_equal(n, 4);
	/* Shares plus the taper would pass COPY_MAX_PARTS: no taper. */
	t.bytes = 64000;
	t.heap_pages = 100000;
	n = copy_plan_parts(&t, 1000, 2, parts);
	assert_int_equal(n, COPY_MAX_PARTS);
	assert_covering(parts, n, 100000);
	for (int i = 1; i < n; i++)
		assert_true(llabs(part_blocks(&parts[i], 100000) -
						  part_blocks(&parts[0], 100000)) <= 1);
}

static void
test_plan_taper_sweep(void **state)
{
	static const int64_t pages[] = {8, 16, 17, 31, 64, 65, 1000, 4099};
	copy_part	parts[COPY_MAX_PARTS + 1];

	(void) state;
	for (size_t p = 0; p < sizeof(pages) / sizeof(pages[0]); p++)
		for (int workers = 2; workers <= 8; workers++)
			for (int64_t want = 2; want <= 40; want++)
			{
				cat_table	t = table_of(want * 1000, pages[p]);
				int			n = copy_plan_parts(&t, 1000, workers, parts);

				assert_in_range(n, 1, COPY_MAX_PARTS);
				assert_covering(parts, n, pages[p]);
				for (int i = 0; i < n; i++)
					assert_true(parts[i].first_block < pages[p]);
				bool		tapered = n != copy_split_shares(&t, 1000, workers);

				/*
				 * Never larger than the part before it: tapered parts not
				 * at all (equal ones are taken in order), whole shares but
				 * by rounding.
				 */
				for (int i = 1; i < n; i++)
					assert_true(part_blocks(&parts[i], pages[p]) <=
								part_blocks(&parts[i - 1], pages[p]) + (tapered ? 0 : 1));
			}
}

static void
test_plan_sweep_invariants(void **state)
{
	static const int64_t pages[] = {2, 3, 7, 63, 64, 65, 100, 127, 1000, 4099};
	copy_part	parts[COPY_MAX_PARTS + 1];

	(void) state;
	for (size_t p = 0; p < sizeof(pages) / sizeof(pages[0]); p++)
	{
		for (int64_t want = 1; want <= 80; want++)
		{
			int64_t		expect = want;
			int			n = plan(want * 1000, pages[p], 1000, parts);

			if (expect > COPY_MAX_PARTS)
				expect = COPY_MAX_PARTS;
			if (expect > pages[p])
				expect = pages[p];
			/* Rounding the part size up may need fewer parts, never more. */
			assert_true(n >= 1 && n <= expect);
			assert_true(n > expect / 2 || n == 1);
			assert_covering(parts, n, pages[p]);
			/* No empty part: every part starts inside the table. */
			for (int i = 0; i < n; i++)
				assert_true(parts[i].first_block < pages[p]);
		}
	}
}

/* ------------------------------------------------------------------ */
/* schema_toc_line_matches                                             */
/* ------------------------------------------------------------------ */

static const schema_toc_key toc_keys[] = {
	{SCHEMA_TOC_INDEX, 16850},
	{SCHEMA_TOC_CONSTRAINT, 16900},
	{SCHEMA_TOC_CONSTRAINT, 17000},
	{SCHEMA_TOC_INDEX, 17001},
	{0, 0},
};
#define NTOC_KEYS ((int) (sizeof(toc_keys) / sizeof(toc_keys[0])))

/* Result of matching line against toc_keys; *which is -1 if unset. */
static bool
toc_match(const char *line, int *which)
{
	*which = -1;
	return schema_toc_line_matches(line, toc_keys, NTOC_KEYS, which);
}

static void
test_toc_index_matches(void **state)
{
	int			which;

	(void) state;
	assert_true(toc_match("3756; 1259 16850 INDEX public idx_actor_last_name postgres",
						  &which));
	assert_int_equal(which, 0);
	assert_true(toc_match("3756; 1259 16850 INDEX public idx_actor_last_name postgres\n",
						  &which));
	assert_int_equal(which, 0);
}

static void
test_toc_constraint_matches(void **state)
{
	int			which;

	(void) state;
	assert_true(toc_match("3650; 2606 16900 CONSTRAINT public actor actor_pkey postgres",
						  &which));
	assert_int_equal(which, 1);
}

static void
test_toc_fk_constraint_matches(void **state)
{
	int			which;

	(void) state;
	/* Foreign keys between copied tables are added by pgcrane too. */
	assert_true(toc_match("4000; 2606 17000 FK CONSTRAINT public a a_fk postgres",
						  &which));
	assert_int_equal(which, 2);
	/* Another OID, or an FK entry of an unexpected shape, is not. */
	assert_false(toc_match("4002; 2606 17002 FK CONSTRAINT public a b_fk postgres",
						   &which));
	assert_false(toc_match("4000; 2606 17000 FK TRIGGER public a a_fk postgres",
						   &which));
	assert_int_equal(which, -1);
}

static void
test_toc_index_attach_not_matched(void **state)
{
	int			which;

	(void) state;
	assert_false(toc_match("4001; 0 0 INDEX ATTACH public x y postgres", &which));
	assert_int_equal(which, -1);
}

static void
test_toc_comment_lines_not_matched(void **state)
{
	int			which;

	(void) state;
	assert_false(toc_match(";", &which));
	assert_false(toc_match("; Archive created at 2024-01-01 00:00:00 UTC", &which));
	assert_false(toc_match(";3756; 1259 16850 INDEX public idx_actor_last_name postgres",
						   &which));
	assert_int_equal(which, -1);
}

static void
test_toc_other_kinds_not_matched(void **state)
{
	int			which;

	(void) state;
	assert_false(toc_match("222; 1259 16850 TABLE public actor postgres", &which));
	assert_false(toc_match("5000; 2620 16850 TRIGGER public t trg postgres", &which));
	assert_false(toc_match("3756; 1259 16850 INDEXES public i postgres", &which));
	assert_false(toc_match("", &which));
	assert_false(toc_match("\n", &which));
	assert_false(toc_match("garbage line", &which));
	assert_int_equal(which, -1);
}

static void
test_toc_unknown_oid_or_catalog(void **state)
{
	int			which;

	(void) state;
	assert_false(toc_match("3756; 1259 99999 INDEX public other postgres", &which));
	/* Right OID, wrong catalog. */
	assert_false(toc_match("3756; 2606 16850 CONSTRAINT public t c postgres", &which));
	assert_false(toc_match("3756; 1259 16900 INDEX public t i postgres", &which));
	assert_int_equal(which, -1);
}

static void
test_toc_names_with_spaces(void **state)
{
	int			which;

	(void) state;
	assert_true(toc_match("3800; 1259 17001 INDEX my schema my index name postgres",
						  &which));
	assert_int_equal(which, 3);
	assert_true(toc_match("3801; 2606 17000 CONSTRAINT public my table my pkey the owner",
						  &which));
	assert_int_equal(which, 2);
}

static void
test_toc_which_may_be_null(void **state)
{
	(void) state;
	assert_true(schema_toc_line_matches("3650; 2606 16900 CONSTRAINT public a a_pkey postgres",
										toc_keys, NTOC_KEYS, NULL));
}

static void
test_toc_empty_key_list(void **state)
{
	int			which = -1;

	(void) state;
	assert_false(schema_toc_line_matches("3756; 1259 16850 INDEX public i postgres",
										 toc_keys, 0, &which));
	assert_int_equal(which, -1);
}

/* ------------------------------------------------------------------ */
/* Connection strings                                                  */
/* ------------------------------------------------------------------ */

static void
expect_redact(const char *conninfo, const char *expected)
{
	char	   *r = conn_redact(conninfo);

	assert_non_null(r);
	assert_string_equal(r, expected);
	free(r);
}

static void
test_redact_keyword_value(void **state)
{
	(void) state;
	expect_redact("host=db1 port=5433 user=alice password=s3cret dbname=app",
				  "user='alice' dbname='app' host='db1' port='5433'");
}

static void
test_redact_quoted_password(void **state)
{
	(void) state;
	expect_redact("password='a b\\'c' host=h", "host='h'");
}

static void
test_redact_uri(void **state)
{
	(void) state;
	expect_redact("postgresql://alice:s3cret@db1:5433/app?sslmode=require",
				  "user='alice' dbname='app' host='db1' port='5433' sslmode='require'");
}

static void
test_redact_uri_password_parameter(void **state)
{
	(void) state;
	expect_redact("postgres://db1/app?password=s3cret&application_name=x",
				  "dbname='app' host='db1' application_name='x'");
}

static void
test_redact_without_password(void **state)
{
	(void) state;
	expect_redact("postgresql://alice@db1/app", "user='alice' dbname='app' host='db1'");
	expect_redact("", "");
}

static void
test_redact_never_leaks(void **state)
{
	char	   *r = conn_redact("host=h password=TopSecret99 options='-c x=TopSecret'");

	(void) state;
	assert_non_null(r);
	assert_null(strstr(r, "password"));
	assert_non_null(strstr(r, "host='h'"));
	assert_non_null(strstr(r, "options='-c x=TopSecret'"));
	free(r);
}

static void
test_redact_escapes_values(void **state)
{
	(void) state;
	expect_redact("host=h application_name='it\\'s a\\\\b'",
				  "host='h' application_name='it\\'s a\\\\b'");
}

static void
test_conn_invalid_strings(void **state)
{
	static const char *const bad[] = {
		"host=h bogus=1",
		"host='unterminated",
		"postgresql://[::1",
		"host",
	};

	(void) state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		assert_null(conn_redact(bad[i]));
		assert_null(conn_with_dbname(bad[i], "x"));
		assert_null(conn_dbname(bad[i]));
		{
			conn_child	child;

			assert_int_equal(conn_child_prepare(bad[i], &child), -1);
		}
	}
}

static void
test_with_dbname_replaces(void **state)
{
	char	   *r = conn_with_dbname("host=db1 user=alice password=pw dbname=app",
									 "other");

	(void) state;
	assert_non_null(r);
	assert_string_equal(r, "user='alice' password='pw' dbname='other' host='db1'");
	free(r);
}

static void
test_with_dbname_adds(void **state)
{
	char	   *r = conn_with_dbname("host=db1", "postgres");

	(void) state;
	assert_non_null(r);
	assert_string_equal(r, "dbname='postgres' host='db1'");
	free(r);
	r = conn_with_dbname("", "postgres");
	assert_non_null(r);
	assert_string_equal(r, "dbname='postgres'");
	free(r);
}

static void
test_with_dbname_uri(void **state)
{
	char	   *r = conn_with_dbname("postgresql://alice:pw@db1:5433/app?sslmode=require",
									 "my db");

	(void) state;
	assert_non_null(r);
	assert_string_equal(r, "user='alice' password='pw' dbname='my db' host='db1' "
						"port='5433' sslmode='require'");
	free(r);
}

static void
test_with_dbname_quotes(void **state)
{
	char	   *r = conn_with_dbname("host=h", "o'brien\\db");

	(void) state;
	assert_non_null(r);
	assert_string_equal(r, "dbname='o\\'brien\\\\db' host='h'");
	free(r);
}

static void
expect_dbname(const char *conninfo, const char *expected)
{
	char	   *db = conn_dbname(conninfo);

	assert_non_null(db);
	assert_string_equal(db, expected);
	free(db);
}

static void
test_dbname_explicit(void **state)
{
	(void) state;
	setenv("PGDATABASE", "envdb", 1);
	expect_dbname("host=h dbname=app user=u", "app");
	expect_dbname("postgresql://u@h/uridb", "uridb");
	unsetenv("PGDATABASE");
}

static void
test_dbname_defaults(void **state)
{
	(void) state;
	setenv("PGDATABASE", "envdb", 1);
	setenv("PGUSER", "envuser", 1);
	expect_dbname("host=h user=u", "envdb");
	unsetenv("PGDATABASE");
	expect_dbname("host=h user=u", "u");
	expect_dbname("host=h", "envuser");
	unsetenv("PGUSER");
	setenv("USER", "osuser", 1);
	expect_dbname("host=h", "osuser");
}

/* ------------------------------------------------------------------ */
/* json_add_string                                                     */
/* ------------------------------------------------------------------ */

static void
expect_json(const char *s, const char *expected)
{
	strbuf		sb = STRBUF_INIT;

	json_add_string(&sb, s);
	assert_string_equal(strbuf_str(&sb), expected);
	assert_int_equal(sb.len, strlen(expected));
	strbuf_release(&sb);
}

static void
test_json_plain(void **state)
{
	(void) state;
	expect_json("", "\"\"");
	expect_json(NULL, "\"\"");
	expect_json("public.actor", "\"public.actor\"");
	expect_json("a/b 'c'", "\"a/b 'c'\"");
}

static void
test_json_quotes_and_backslashes(void **state)
{
	(void) state;
	expect_json("say \"hi\"", "\"say \\\"hi\\\"\"");
	expect_json("C:\\dir\\", "\"C:\\\\dir\\\\\"");
	expect_json("\\\"", "\"\\\\\\\"\"");
}

static void
test_json_whitespace_escapes(void **state)
{
	(void) state;
	expect_json("a\nb", "\"a\\nb\"");
	expect_json("a\tb", "\"a\\tb\"");
	expect_json("a\r\nb", "\"a\\r\\nb\"");
}

static void
test_json_control_chars(void **state)
{
	(void) state;
	expect_json("\x01", "\"\\u0001\"");
	expect_json("\x08\x0c", "\"\\u0008\\u000c\"");
	expect_json("a\x1f" "b", "\"a\\u001fb\"");
	expect_json("\x1b[0m", "\"\\u001b[0m\"");
	/* DEL needs no escape in JSON. */
	expect_json("\x7f", "\"\x7f\"");
}

static void
test_json_utf8_passthrough(void **state)
{
	(void) state;
	expect_json("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x90\x98",
				"\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x90\x98\"");
	expect_json("\xe6\x97\xa5\xe6\x9c\xac", "\"\xe6\x97\xa5\xe6\x9c\xac\"");
}

static void
test_json_appends(void **state)
{
	strbuf		sb = STRBUF_INIT;

	(void) state;
	strbuf_adds(&sb, "{\"table\":");
	json_add_string(&sb, "s.\"t\"");
	strbuf_adds(&sb, ",\"x\":");
	json_add_string(&sb, "1\n");
	strbuf_adds(&sb, "}");
	assert_string_equal(strbuf_str(&sb), "{\"table\":\"s.\\\"t\\\"\",\"x\":\"1\\n\"}");
	strbuf_release(&sb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size_plain_bytes),
		cmocka_unit_test(test_parse_size_units),
		cmocka_unit_test(test_parse_size_case_insensitive),
		cmocka_unit_test(test_parse_size_fractions_and_spaces),
		cmocka_unit_test(test_parse_size_rejects_bad_input),
		cmocka_unit_test(test_parse_size_rejects_overflow),
		cmocka_unit_test(test_parse_size_large_in_range),
		cmocka_unit_test(test_format_size_bytes),
		cmocka_unit_test(test_format_size_units),
		cmocka_unit_test(test_format_size_caps_at_tb),
		cmocka_unit_test(test_format_size_truncates_to_buffer),
		cmocka_unit_test(test_to_int64_valid),
		cmocka_unit_test(test_to_int64_invalid),
		cmocka_unit_test(test_to_int_range),
		cmocka_unit_test(test_str_copy_fits),
		cmocka_unit_test(test_str_copy_truncates),
		cmocka_unit_test(test_str_copy_tiny_buffers),
		cmocka_unit_test(test_str_printf),
		cmocka_unit_test(test_strbuf_empty),
		cmocka_unit_test(test_strbuf_add_variants),
		cmocka_unit_test(test_strbuf_grows),
		cmocka_unit_test(test_strbuf_addf_long),
		cmocka_unit_test(test_strbuf_embedded_nul),
		cmocka_unit_test(test_strbuf_reset_keeps_storage),
		cmocka_unit_test(test_strbuf_detach),
		cmocka_unit_test(test_plan_zero_split_never_splits),
		cmocka_unit_test(test_plan_below_threshold),
		cmocka_unit_test(test_plan_just_above_threshold),
		cmocka_unit_test(test_plan_even_split),
		cmocka_unit_test(test_plan_uneven_split),
		cmocka_unit_test(test_plan_capped_at_max_parts),
		cmocka_unit_test(test_plan_capped_at_heap_pages),
		cmocka_unit_test(test_plan_two_pages),
		cmocka_unit_test(test_plan_tiny_tables),
		cmocka_unit_test(test_plan_unknown_page_count),
		cmocka_unit_test(test_plan_rounds_to_workers),
		cmocka_unit_test(test_plan_tapers_last_round),
		cmocka_unit_test(test_plan_taper_needs_room),
		cmocka_unit_test(test_plan_taper_sweep),
		cmocka_unit_test(test_plan_sweep_invariants),
		cmocka_unit_test(test_toc_index_matches),
		cmocka_unit_test(test_toc_constraint_matches),
		cmocka_unit_test(test_toc_fk_constraint_matches),
		cmocka_unit_test(test_toc_index_attach_not_matched),
		cmocka_unit_test(test_toc_comment_lines_not_matched),
		cmocka_unit_test(test_toc_other_kinds_not_matched),
		cmocka_unit_test(test_toc_unknown_oid_or_catalog),
		cmocka_unit_test(test_toc_names_with_spaces),
		cmocka_unit_test(test_toc_which_may_be_null),
		cmocka_unit_test(test_toc_empty_key_list),
		cmocka_unit_test(test_redact_keyword_value),
		cmocka_unit_test(test_redact_quoted_password),
		cmocka_unit_test(test_redact_uri),
		cmocka_unit_test(test_redact_uri_password_parameter),
		cmocka_unit_test(test_redact_without_password),
		cmocka_unit_test(test_redact_never_leaks),
		cmocka_unit_test(test_redact_escapes_values),
		cmocka_unit_test(test_conn_invalid_strings),
		cmocka_unit_test(test_with_dbname_replaces),
		cmocka_unit_test(test_with_dbname_adds),
		cmocka_unit_test(test_with_dbname_uri),
		cmocka_unit_test(test_with_dbname_quotes),
		cmocka_unit_test(test_dbname_explicit),
		cmocka_unit_test(test_dbname_defaults),
		cmocka_unit_test(test_json_plain),
		cmocka_unit_test(test_json_quotes_and_backslashes),
		cmocka_unit_test(test_json_whitespace_escapes),
		cmocka_unit_test(test_json_control_chars),
		cmocka_unit_test(test_json_utf8_passthrough),
		cmocka_unit_test(test_json_appends),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
