/*
 * test_cdc_stream.c
 *		Unit tests of the replication protocol pieces: the CopyData
 *		messages the walsender sends (XLogData, keepalive), the standby
 *		status update pgcrane sends, the START_REPLICATION command, and the
 *		follow state's time format.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cdc/report.h"
#include "cdc/stream.h"

static void
put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t) (v & 0xff);
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t	v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static void
test_parse_xlogdata(void **state)
{
	uint8_t		buf[CDC_XLOGDATA_HEADER + 3];
	cdc_stream_msg m;
	char		err[128];

	(void) state;
	buf[0] = 'w';
	put64(buf + 1, UINT64_C(0x16B374D848));
	put64(buf + 9, UINT64_C(0x16B374D8F0));
	put64(buf + 17, UINT64_C(785000000123456));
	memcpy(buf + CDC_XLOGDATA_HEADER, "B\x01\x02", 3);
	assert_int_equal(cdc_stream_parse(buf, sizeof(buf), &m, err, sizeof(err)), 0);
	assert_int_equal(m.kind, 'w');
	assert_true(m.wal_start == UINT64_C(0x16B374D848));
	assert_true(m.wal_end == UINT64_C(0x16B374D8F0));
	assert_true(m.send_time == INT64_C(785000000123456));
	assert_int_equal(m.len, 3);
	assert_ptr_equal(m.data, buf + CDC_XLOGDATA_HEADER);
	assert_false(m.reply_requested);
}

/* An XLogData message may carry an empty payload; the header is required. */
static void
test_parse_xlogdata_empty_and_short(void **state)
{
	uint8_t		buf[CDC_XLOGDATA_HEADER] = {'w'};
	cdc_stream_msg m;
	char		err[128];

	(void) state;
	assert_int_equal(cdc_stream_parse(buf, sizeof(buf), &m, err, sizeof(err)), 0);
	assert_int_equal(m.len, 0);
	assert_int_equal(cdc_stream_parse(buf, sizeof(buf) - 1, &m, err, sizeof(err)), -1);
	assert_string_equal(err, "truncated XLogData message of 24 bytes in the replication stream");
}

static void
test_parse_keepalive(void **state)
{
	uint8_t		buf[CDC_KEEPALIVE_SIZE];
	cdc_stream_msg m;
	char		err[128];

	(void) state;
	buf[0] = 'k';
	put64(buf + 1, UINT64_C(0x300000060));
	put64(buf + 9, UINT64_C(12345));
	buf[17] = 1;
	assert_int_equal(cdc_stream_parse(buf, sizeof(buf), &m, err, sizeof(err)), 0);
	assert_int_equal(m.kind, 'k');
	assert_true(m.wal_end == UINT64_C(0x300000060));
	assert_true(m.send_time == 12345);
	assert_true(m.reply_requested);
	assert_null(m.data);
	buf[17] = 0;
	assert_int_equal(cdc_stream_parse(buf, sizeof(buf), &m, err, sizeof(err)), 0);
	assert_false(m.reply_requested);
	assert_int_equal(cdc_stream_parse(buf, 10, &m, err, sizeof(err)), -1);
	assert_string_equal(err, "truncated keepalive message of 10 bytes in the replication stream");
}

static void
test_parse_unknown(void **state)
{
	uint8_t		buf[] = {'x', 0, 0};
	cdc_stream_msg m;
	char		err[128];

	(void) state;
	assert_int_equal(cdc_stream_parse(buf, sizeof(buf), &m, err, sizeof(err)), -1);
	assert_string_equal(err, "unrecognized message type 0x78 in the replication stream");
	assert_int_equal(cdc_stream_parse(buf, 0, &m, err, sizeof(err)), -1);
	assert_string_equal(err, "empty message in the replication stream");
}

static void
test_encode_feedback(void **state)
{
	uint8_t		buf[CDC_FEEDBACK_SIZE];

	(void) state;
	memset(buf, 0xee, sizeof(buf));
	cdc_stream_encode_feedback(buf, UINT64_C(0x1000), UINT64_C(0x0F00),
							   UINT64_C(0x0E00), INT64_C(-2), true);
	assert_int_equal(buf[0], 'r');
	assert_true(get64(buf + 1) == 0x1000);
	assert_true(get64(buf + 9) == 0x0F00);
	assert_true(get64(buf + 17) == 0x0E00);
	assert_true((int64_t) get64(buf + 25) == -2);
	assert_int_equal(buf[33], 1);
	cdc_stream_encode_feedback(buf, 0, 0, 0, 0, false);
	assert_int_equal(buf[33], 0);
}

static void
test_command(void **state)
{
	char	   *sql;

	(void) state;
	sql = cdc_stream_command("\"pgcrane_1\"", "'\"my pub\"'", UINT64_C(0x16B374D848));
	assert_string_equal(sql, "START_REPLICATION SLOT \"pgcrane_1\" LOGICAL 16/B374D848 "
						"(proto_version '1', publication_names '\"my pub\"')");
	free(sql);
}

static void
test_now_is_recent(void **state)
{
	int64_t		now = cdc_now();

	(void) state;
	/* After 2024-01-01 (757382400 s after 2000-01-01) in microseconds. */
	assert_true(now > INT64_C(757382400) * 1000000);
}

static void
test_report_time(void **state)
{
	char		buf[32];
	time_t		t;

	(void) state;
	cdc_report_format_time((time_t) 1763720198, buf, sizeof(buf));
	assert_string_equal(buf, "2025-11-21 10:16:38Z");
	assert_true(cdc_report_parse_time(buf, &t));
	assert_int_equal((long) t, 1763720198L);
	assert_false(cdc_report_parse_time("2025-11-21 10:16:38", &t));
	assert_false(cdc_report_parse_time("yesterday", &t));
	assert_false(cdc_report_parse_time(NULL, &t));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_xlogdata),
		cmocka_unit_test(test_parse_xlogdata_empty_and_short),
		cmocka_unit_test(test_parse_keepalive),
		cmocka_unit_test(test_parse_unknown),
		cmocka_unit_test(test_encode_feedback),
		cmocka_unit_test(test_command),
		cmocka_unit_test(test_now_is_recent),
		cmocka_unit_test(test_report_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
