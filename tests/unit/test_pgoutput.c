/*
 * test_pgoutput.c
 *		Unit tests for the pgoutput message decoder and relation cache.
 *
 * Synthetic messages are built byte by byte with a small builder, one
 * per message kind, and every decoded field is checked.  Each message is
 * also decoded from an exactly sized heap copy at every shorter length,
 * so that an over-read shows under valgrind.  Finally the streams that
 * a PostgreSQL 15 server really sent (data/pgoutput/capture.h, recorded
 * by data/pgoutput/capture.sh) are decoded message by message.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/pgoutput.h"
#include "util/str.h"

#include "data/pgoutput/capture.h"

#define LSN_A	UINT64_C(0x16B374D848)
#define LSN_B	UINT64_C(0x16B374D8F0)
#define LSN_C	UINT64_C(0x000000001234ABCD)
#define TS_A	INT64_C(785000000123456)	/* 2024-11-15 */
#define TS_B	INT64_C(-1)
#define XID		UINT32_C(733)
#define SUBXID	UINT32_C(734)
#define REL_A	UINT32_C(16391)
#define REL_B	UINT32_C(16398)
#define TYPE_MOOD UINT32_C(16385)

#define ERRSIZE 256
#define PREFIX "invalid pgoutput message: "

/* ---------- byte builder ---------- */

typedef struct bytes
{
	uint8_t    *data;
	size_t		len;
	size_t		cap;
} bytes;

/* Append n bytes, growing the buffer. */
static void
put_raw(bytes *b, const void *p, size_t n)
{
	if (b->len + n > b->cap)
	{
		b->cap = (b->len + n) * 2 + 16;
		b->data = xrealloc(b->data, b->cap);
	}
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
}

/* Append v as an n-byte big-endian integer. */
static void
put_be(bytes *b, uint64_t v, int n)
{
	uint8_t		tmp[8];

	for (int i = 0; i < n; i++)
		tmp[i] = (uint8_t) (v >> (8 * (n - 1 - i)));
	put_raw(b, tmp, (size_t) n);
}

/* Append one byte. */
static void
put_u8(bytes *b, uint8_t v)
{
	put_be(b, v, 1);
}

/* Append a 16-bit integer. */
static void
put_u16(bytes *b, uint16_t v)
{
	put_be(b, v, 2);
}

/* Append a 32-bit integer. */
static void
put_u32(bytes *b, uint32_t v)
{
	put_be(b, v, 4);
}

/* Append a 64-bit integer. */
static void
put_u64(bytes *b, uint64_t v)
{
	put_be(b, v, 8);
}

/* Append a signed 64-bit integer, two's complement. */
static void
put_i64(bytes *b, int64_t v)
{
	put_be(b, (uint64_t) v, 8);
}

/* A string with its terminating NUL. */
static void
put_str(bytes *b, const char *s)
{
	put_raw(b, s, strlen(s) + 1);
}

/* A 't' column. */
static void
put_text(bytes *b, const char *s)
{
	put_u8(b, 't');
	put_u32(b, (uint32_t) strlen(s));
	put_raw(b, s, strlen(s));
}

/* Free the buffer and empty it. */
static void
bytes_free(bytes *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* The xid that changes carry inside a stream block. */
static void
put_stream_xid(bytes *b, bool stream)
{
	if (stream)
		put_u32(b, SUBXID);
}

/* ---------- message builders ---------- */

/*
 * Each build_* appends one message of its kind; stream adds the
 * in-block xid where the kind has one.  This one: Begin of XID.
 */
static void
build_begin(bytes *b, bool stream)
{
	(void) stream;
	put_u8(b, 'B');
	put_u64(b, LSN_A);
	put_i64(b, TS_A);
	put_u32(b, XID);
}

/* Commit with LSN_A as commit LSN and LSN_B as end LSN. */
static void
build_commit(bytes *b, bool stream)
{
	(void) stream;
	put_u8(b, 'C');
	put_u8(b, 0);
	put_u64(b, LSN_A);
	put_u64(b, LSN_B);
	put_i64(b, TS_A);
}

/* Origin "upstream" at LSN_C. */
static void
build_origin(bytes *b, bool stream)
{
	(void) stream;
	put_u8(b, 'O');
	put_u64(b, LSN_C);
	put_str(b, "upstream");
}

/* One column description of a Relation message. */
static void
put_attr(bytes *b, uint8_t flags, const char *name, uint32_t typoid,
		 int32_t typmod)
{
	put_u8(b, flags);
	put_str(b, name);
	put_u32(b, typoid);
	put_u32(b, (uint32_t) typmod);
}

/* Relation public.items: id (key), name varchar(64), m mood. */
static void
build_relation(bytes *b, bool stream)
{
	put_u8(b, 'R');
	put_stream_xid(b, stream);
	put_u32(b, REL_A);
	put_str(b, "public");
	put_str(b, "items");
	put_u8(b, 'd');
	put_u16(b, 3);
	put_attr(b, 1, "id", 23, -1);
	put_attr(b, 0, "name", 1043, 68);
	put_attr(b, 0, "m", TYPE_MOOD, -1);
}

/* Type public.mood. */
static void
build_type(bytes *b, bool stream)
{
	put_u8(b, 'Y');
	put_stream_xid(b, stream);
	put_u32(b, TYPE_MOOD);
	put_str(b, "public");
	put_str(b, "mood");
}

/* Insert with one column of each kind: t, n, u, b. */
static void
build_insert(bytes *b, bool stream)
{
	static const uint8_t bin[4] = {0x00, 0x00, 0x00, 0x2a};

	put_u8(b, 'I');
	put_stream_xid(b, stream);
	put_u32(b, REL_A);
	put_u8(b, 'N');
	put_u16(b, 4);
	put_text(b, "42");
	put_u8(b, 'n');
	put_u8(b, 'u');
	put_u8(b, 'b');
	put_u32(b, sizeof(bin));
	put_raw(b, bin, sizeof(bin));
}

/* A two-column tuple: text id, then text v or null. */
static void
put_pair(bytes *b, const char *id, const char *v)
{
	put_u16(b, 2);
	put_text(b, id);
	if (v == NULL)
		put_u8(b, 'n');
	else
		put_text(b, v);
}

/* Update without old tuple; the second column is unchanged TOAST. */
static void
build_update(bytes *b, bool stream)
{
	put_u8(b, 'U');
	put_stream_xid(b, stream);
	put_u32(b, REL_A);
	put_u8(b, 'N');
	put_u16(b, 2);
	put_text(b, "1");
	put_u8(b, 'u');
}

/* Update with the old key ('K'). */
static void
build_update_key(bytes *b, bool stream)
{
	put_u8(b, 'U');
	put_stream_xid(b, stream);
	put_u32(b, REL_A);
	put_u8(b, 'K');
	put_pair(b, "1", NULL);
	put_u8(b, 'N');
	put_pair(b, "2", "two");
}

/* Update with the whole old row ('O'). */
static void
build_update_old(bytes *b, bool stream)
{
	put_u8(b, 'U');
	put_stream_xid(b, stream);
	put_u32(b, REL_B);
	put_u8(b, 'O');
	put_pair(b, "1", "a");
	put_u8(b, 'N');
	put_pair(b, "1", "b");
}

/* Delete by old key ('K'). */
static void
build_delete_key(bytes *b, bool stream)
{
	put_u8(b, 'D');
	put_stream_xid(b, stream);
	put_u32(b, REL_A);
	put_u8(b, 'K');
	put_pair(b, "3", NULL);
}

/* Delete with the whole old row ('O'). */
static void
build_delete_old(bytes *b, bool stream)
{
	put_u8(b, 'D');
	put_stream_xid(b, stream);
	put_u32(b, REL_B);
	put_u8(b, 'O');
	put_pair(b, "1", "b");
}

/* Truncate of REL_A and REL_B with both options. */
static void
build_truncate(bytes *b, bool stream)
{
	put_u8(b, 'T');
	put_stream_xid(b, stream);
	put_u32(b, 2);
	put_u8(b, PGO_TRUNCATE_CASCADE | PGO_TRUNCATE_RESTART_IDENTITY);
	put_u32(b, REL_A);
	put_u32(b, REL_B);
}

/* Transactional logical decoding message with a NUL in its content. */
static void
build_message(bytes *b, bool stream)
{
	put_u8(b, 'M');
	put_stream_xid(b, stream);
	put_u8(b, 1);
	put_u64(b, LSN_C);
	put_str(b, "pgcrane");
	put_u32(b, 5);
	put_raw(b, "he\0lo", 5);
}

/* Stream Start of the first block of XID. */
static void
build_stream_start(bytes *b, bool stream)
{
	(void) stream;
	put_u8(b, 'S');
	put_u32(b, XID);
	put_u8(b, 1);
}

/* Stream Stop, just the kind byte. */
static void
build_stream_stop(bytes *b, bool stream)
{
	(void) stream;
	put_u8(b, 'E');
}

/* Stream Commit of XID. */
static void
build_stream_commit(bytes *b, bool stream)
{
	(void) stream;
	put_u8(b, 'c');
	put_u32(b, XID);
	put_u8(b, 0);
	put_u64(b, LSN_A);
	put_u64(b, LSN_B);
	put_i64(b, TS_A);
}

/* Stream Abort of subtransaction SUBXID of XID, protocol 2 layout. */
static void
build_stream_abort(bytes *b, bool stream)
{
	(void) stream;
	put_u8(b, 'A');
	put_u32(b, XID);
	put_u32(b, SUBXID);
}

/* Protocol 4 with streaming=parallel. */
static void
build_stream_abort_v4(bytes *b, bool stream)
{
	build_stream_abort(b, stream);
	put_u64(b, LSN_C);
	put_i64(b, TS_B);
}

/* The fields Begin Prepare, Prepare and Stream Prepare share. */
static void
put_prepare_fields(bytes *b)
{
	put_u64(b, LSN_A);
	put_u64(b, LSN_B);
	put_i64(b, TS_A);
	put_u32(b, XID);
	put_str(b, "gx1");
}

/* Begin Prepare "gx1". */
static void
build_begin_prepare(bytes *b, bool stream)
{
	(void) stream;
	put_u8(b, 'b');
	put_prepare_fields(b);
}

/* Prepare "gx1". */
static void
build_prepare(bytes *b, bool stream)
{
	(void) stream;
	put_u8(b, 'P');
	put_u8(b, 0);
	put_prepare_fields(b);
}

/* Stream Prepare "gx1". */
static void
build_stream_prepare(bytes *b, bool stream)
{
	(void) stream;
	put_u8(b, 'p');
	put_u8(b, 0);
	put_prepare_fields(b);
}

/* Commit Prepared "gx1". */
static void
build_commit_prepared(bytes *b, bool stream)
{
	(void) stream;
	put_u8(b, 'K');
	put_u8(b, 0);
	put_prepare_fields(b);
}

/* Rollback Prepared "gx2". */
static void
build_rollback_prepared(bytes *b, bool stream)
{
	(void) stream;
	put_u8(b, 'r');
	put_u8(b, 0);
	put_u64(b, LSN_A);
	put_u64(b, LSN_B);
	put_i64(b, TS_A);
	put_i64(b, TS_B);
	put_u32(b, XID);
	put_str(b, "gx2");
}

typedef void (*builder) (bytes *b, bool stream);

static const struct
{
	const char *name;
	builder		build;
	int			proto;
	bool		stream;
}			cases[] = {
	{"begin", build_begin, 1, false},
	{"commit", build_commit, 1, false},
	{"origin", build_origin, 1, false},
	{"relation", build_relation, 1, false},
	{"relation streamed", build_relation, 2, true},
	{"type", build_type, 1, false},
	{"type streamed", build_type, 2, true},
	{"insert", build_insert, 1, false},
	{"insert streamed", build_insert, 2, true},
	{"update", build_update, 1, false},
	{"update key", build_update_key, 1, false},
	{"update old", build_update_old, 1, false},
	{"update streamed", build_update_old, 2, true},
	{"delete key", build_delete_key, 1, false},
	{"delete old", build_delete_old, 1, false},
	{"delete streamed", build_delete_key, 2, true},
	{"truncate", build_truncate, 1, false},
	{"truncate streamed", build_truncate, 2, true},
	{"message", build_message, 1, false},
	{"message streamed", build_message, 2, true},
	{"stream start", build_stream_start, 2, false},
	{"stream stop", build_stream_stop, 2, true},
	{"stream commit", build_stream_commit, 2, false},
	{"stream abort", build_stream_abort, 2, false},
	{"stream abort v4", build_stream_abort_v4, 4, false},
	{"begin prepare", build_begin_prepare, 3, false},
	{"prepare", build_prepare, 3, false},
	{"stream prepare", build_stream_prepare, 3, false},
	{"commit prepared", build_commit_prepared, 3, false},
	{"rollback prepared", build_rollback_prepared, 3, false},
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* ---------- decoding helpers ---------- */

/*
 * Decode the first n bytes of src from an exactly sized heap copy, so
 * that valgrind reports any read past n.  *copy receives the copy (the
 * decoded values point into it); the caller frees it.
 */
static int
decode_copy(const uint8_t *src, size_t n, int proto, bool stream,
			pgo_message *m, char *err, uint8_t **copy)
{
	*copy = xmalloc(n);
	if (n > 0)
		memcpy(*copy, src, n);
	return pgo_decode(*copy, n, proto, stream, m, err, ERRSIZE);
}

/* Build with f and decode; the test fails if decoding fails. */
static void
decode_built(builder f, int proto, bool stream, bytes *b, pgo_message *m)
{
	char		err[ERRSIZE];
	int			rc;

	f(b, stream);
	rc = pgo_decode(b->data, b->len, proto, stream, m, err, sizeof(err));
	if (rc != 0)
		fail_msg("decode failed: %s", err);
	assert_int_equal(err[0], '\0');
}

/* Expect decoding to fail with exactly this message. */
static void
expect_error(const uint8_t *buf, size_t len, int proto, bool stream,
			 const char *expected)
{
	pgo_message m;
	char		err[ERRSIZE];
	uint8_t    *copy;

	assert_int_equal(decode_copy(buf, len, proto, stream, &m, err, &copy), -1);
	assert_string_equal(err, expected);
	assert_int_equal(m.kind, 0);
	free(copy);
}

/* Check a column's kind and bytes; text NULL means no data. */
static void
assert_value(const pgo_value *v, char kind, const char *text)
{
	assert_int_equal(v->kind, kind);
	if (text == NULL)
	{
		assert_null(v->data);
		assert_int_equal(v->len, 0);
		return;
	}
	assert_int_equal(v->len, strlen(text));
	assert_memory_equal(v->data, text, v->len);
}

/* ---------- one test per message kind ---------- */

/* Begin, Commit and Origin fields. */
static void
test_begin_commit_origin(void **state)
{
	bytes		b = {0};
	pgo_message m;

	(void) state;
	decode_built(build_begin, 1, false, &b, &m);
	assert_int_equal(m.kind, PGO_BEGIN);
	assert_true(m.u.begin.final_lsn == LSN_A);
	assert_true(m.u.begin.commit_time == TS_A);
	assert_int_equal(m.u.begin.xid, XID);
	assert_int_equal(m.xid, XID);
	pgo_message_release(&m);
	bytes_free(&b);

	decode_built(build_commit, 1, false, &b, &m);
	assert_int_equal(m.kind, PGO_COMMIT);
	assert_int_equal(m.u.commit.flags, 0);
	assert_true(m.u.commit.commit_lsn == LSN_A);
	assert_true(m.u.commit.end_lsn == LSN_B);
	assert_true(m.u.commit.commit_time == TS_A);
	assert_int_equal(m.xid, 0);
	pgo_message_release(&m);
	bytes_free(&b);

	decode_built(build_origin, 1, false, &b, &m);
	assert_int_equal(m.kind, PGO_ORIGIN);
	assert_true(m.u.origin.lsn == LSN_C);
	assert_string_equal(m.u.origin.name, "upstream");
	assert_ptr_equal(m.u.origin.name, (const char *) b.data + 9);
	pgo_message_release(&m);
	bytes_free(&b);
}

/* Relation fields, copied strings, and handing the relation over. */
static void
test_relation(void **state)
{
	bytes		b = {0};
	pgo_message m;
	pgo_relation *rel;

	(void) state;
	decode_built(build_relation, 1, false, &b, &m);
	assert_int_equal(m.kind, PGO_RELATION);
	assert_int_equal(m.xid, 0);
	rel = m.u.relation;
	assert_int_equal(rel->oid, REL_A);
	assert_string_equal(rel->nspname, "public");
	assert_string_equal(rel->relname, "items");
	assert_int_equal(rel->replident, PGO_REPLIDENT_DEFAULT);
	assert_int_equal(rel->natts, 3);
	assert_int_equal(rel->atts[0].flags, PGO_ATTR_KEY);
	assert_string_equal(rel->atts[0].name, "id");
	assert_int_equal(rel->atts[0].typoid, 23);
	assert_int_equal(rel->atts[0].typmod, -1);
	assert_int_equal(rel->atts[1].flags, 0);
	assert_string_equal(rel->atts[1].name, "name");
	assert_int_equal(rel->atts[1].typoid, 1043);
	assert_int_equal(rel->atts[1].typmod, 68);
	assert_string_equal(rel->atts[2].name, "m");
	assert_int_equal(rel->atts[2].typoid, TYPE_MOOD);

	/* The relation's strings are copies: they outlive the buffer. */
	memset(b.data, 0, b.len);
	bytes_free(&b);
	assert_string_equal(rel->relname, "items");

	/* Taking the relation leaves nothing for release to free. */
	assert_ptr_equal(pgo_message_take_relation(&m), rel);
	assert_null(pgo_message_take_relation(&m));
	pgo_message_release(&m);
	pgo_relation_free(rel);
}

/* Type fields, and "" read as pg_catalog. */
static void
test_type(void **state)
{
	bytes		b = {0};
	pgo_message m;

	(void) state;
	decode_built(build_type, 1, false, &b, &m);
	assert_int_equal(m.kind, PGO_TYPE);
	assert_int_equal(m.u.type.oid, TYPE_MOOD);
	assert_string_equal(m.u.type.nspname, "public");
	assert_string_equal(m.u.type.name, "mood");
	assert_null(pgo_message_take_relation(&m));
	pgo_message_release(&m);
	bytes_free(&b);

	/* An empty namespace on the wire means pg_catalog. */
	put_u8(&b, 'Y');
	put_u32(&b, 16);
	put_str(&b, "");
	put_str(&b, "bool");
	assert_int_equal(pgo_decode(b.data, b.len, 1, false, &m, NULL, 0), 0);
	assert_string_equal(m.u.type.nspname, "pg_catalog");
	assert_string_equal(m.u.type.name, "bool");
	pgo_message_release(&m);
	bytes_free(&b);
}

/* Insert with text, null, unchanged and binary columns. */
static void
test_insert(void **state)
{
	bytes		b = {0};
	pgo_message m;
	const pgo_tuple *t;
	char	   *s;

	(void) state;
	decode_built(build_insert, 1, false, &b, &m);
	assert_int_equal(m.kind, PGO_INSERT);
	assert_int_equal(m.xid, 0);
	assert_int_equal(m.u.insert.relid, REL_A);
	t = &m.u.insert.newtuple;
	assert_int_equal(t->ncols, 4);
	assert_value(&t->cols[0], PGO_VALUE_TEXT, "42");
	assert_value(&t->cols[1], PGO_VALUE_NULL, NULL);
	assert_value(&t->cols[2], PGO_VALUE_UNCHANGED, NULL);
	assert_int_equal(t->cols[3].kind, PGO_VALUE_BINARY);
	assert_int_equal(t->cols[3].len, 4);
	assert_int_equal(t->cols[3].data[3], 0x2a);

	/* Values point into the buffer. */
	assert_true(t->cols[0].data > b.data && t->cols[0].data < b.data + b.len);
	s = pgo_value_strdup(&t->cols[0]);
	assert_string_equal(s, "42");
	free(s);
	s = pgo_value_strdup(&t->cols[1]);
	assert_string_equal(s, "");
	free(s);
	pgo_message_release(&m);
	assert_int_equal(m.kind, 0);
	assert_null(m.u.insert.newtuple.cols);
	bytes_free(&b);
}

/* Update without old tuple, with old key, with old row. */
static void
test_update(void **state)
{
	bytes		b = {0};
	pgo_message m;
	const pgo_update *u;

	(void) state;
	decode_built(build_update, 1, false, &b, &m);
	u = &m.u.update;
	assert_int_equal(m.kind, PGO_UPDATE);
	assert_int_equal(u->relid, REL_A);
	assert_int_equal(u->old_kind, 0);
	assert_int_equal(u->oldtuple.ncols, 0);
	assert_null(u->oldtuple.cols);
	assert_int_equal(u->newtuple.ncols, 2);
	assert_value(&u->newtuple.cols[0], PGO_VALUE_TEXT, "1");
	/* an unchanged TOASTed column: the value was not sent */
	assert_value(&u->newtuple.cols[1], PGO_VALUE_UNCHANGED, NULL);
	pgo_message_release(&m);
	bytes_free(&b);

	decode_built(build_update_key, 1, false, &b, &m);
	assert_int_equal(u->old_kind, 'K');
	assert_int_equal(u->oldtuple.ncols, 2);
	assert_value(&u->oldtuple.cols[0], PGO_VALUE_TEXT, "1");
	assert_value(&u->oldtuple.cols[1], PGO_VALUE_NULL, NULL);
	assert_value(&u->newtuple.cols[0], PGO_VALUE_TEXT, "2");
	assert_value(&u->newtuple.cols[1], PGO_VALUE_TEXT, "two");
	pgo_message_release(&m);
	bytes_free(&b);

	decode_built(build_update_old, 1, false, &b, &m);
	assert_int_equal(u->relid, REL_B);
	assert_int_equal(u->old_kind, 'O');
	assert_value(&u->oldtuple.cols[1], PGO_VALUE_TEXT, "a");
	assert_value(&u->newtuple.cols[1], PGO_VALUE_TEXT, "b");
	pgo_message_release(&m);
	bytes_free(&b);
}

/* Delete by old key and by old row. */
static void
test_delete(void **state)
{
	bytes		b = {0};
	pgo_message m;

	(void) state;
	decode_built(build_delete_key, 1, false, &b, &m);
	assert_int_equal(m.kind, PGO_DELETE);
	assert_int_equal(m.u.delete.relid, REL_A);
	assert_int_equal(m.u.delete.old_kind, 'K');
	assert_int_equal(m.u.delete.oldtuple.ncols, 2);
	assert_value(&m.u.delete.oldtuple.cols[0], PGO_VALUE_TEXT, "3");
	assert_value(&m.u.delete.oldtuple.cols[1], PGO_VALUE_NULL, NULL);
	pgo_message_release(&m);
	bytes_free(&b);

	decode_built(build_delete_old, 1, false, &b, &m);
	assert_int_equal(m.u.delete.relid, REL_B);
	assert_int_equal(m.u.delete.old_kind, 'O');
	assert_value(&m.u.delete.oldtuple.cols[0], PGO_VALUE_TEXT, "1");
	assert_value(&m.u.delete.oldtuple.cols[1], PGO_VALUE_TEXT, "b");
	pgo_message_release(&m);
	bytes_free(&b);
}

/* Truncate with several relations and options, and with none. */
static void
test_truncate(void **state)
{
	bytes		b = {0};
	pgo_message m;

	(void) state;
	decode_built(build_truncate, 1, false, &b, &m);
	assert_int_equal(m.kind, PGO_TRUNCATE);
	assert_int_equal(m.u.truncate.nrels, 2);
	assert_int_equal(m.u.truncate.relids[0], REL_A);
	assert_int_equal(m.u.truncate.relids[1], REL_B);
	assert_int_equal(m.u.truncate.options,
					 PGO_TRUNCATE_CASCADE | PGO_TRUNCATE_RESTART_IDENTITY);
	pgo_message_release(&m);
	bytes_free(&b);

	/* No options, no relations. */
	put_u8(&b, 'T');
	put_u32(&b, 0);
	put_u8(&b, 0);
	assert_int_equal(pgo_decode(b.data, b.len, 1, false, &m, NULL, 0), 0);
	assert_int_equal(m.u.truncate.nrels, 0);
	assert_int_equal(m.u.truncate.options, 0);
	pgo_message_release(&m);
	bytes_free(&b);
}

/* Transactional and non-transactional logical decoding messages. */
static void
test_logical_message(void **state)
{
	bytes		b = {0};
	pgo_message m;
	const pgo_logical_message *lm = &m.u.message;

	(void) state;
	decode_built(build_message, 1, false, &b, &m);
	assert_int_equal(m.kind, PGO_MESSAGE);
	assert_true(lm->transactional);
	assert_int_equal(lm->flags, PGO_MESSAGE_TRANSACTIONAL);
	assert_true(lm->lsn == LSN_C);
	assert_string_equal(lm->prefix, "pgcrane");
	assert_int_equal(lm->len, 5);
	assert_memory_equal(lm->content, "he\0lo", 5);
	pgo_message_release(&m);
	bytes_free(&b);

	/* non-transactional, empty content */
	put_u8(&b, 'M');
	put_u8(&b, 0);
	put_u64(&b, LSN_A);
	put_str(&b, "p");
	put_u32(&b, 0);
	assert_int_equal(pgo_decode(b.data, b.len, 4, false, &m, NULL, 0), 0);
	assert_false(lm->transactional);
	assert_int_equal(lm->len, 0);
	pgo_message_release(&m);
	bytes_free(&b);
}

/* Stream Start, Stream Stop, Stream Commit. */
static void
test_stream_control(void **state)
{
	bytes		b = {0};
	pgo_message m;

	(void) state;
	decode_built(build_stream_start, 2, false, &b, &m);
	assert_int_equal(m.kind, PGO_STREAM_START);
	assert_int_equal(m.u.stream_start.xid, XID);
	assert_true(m.u.stream_start.first_segment);
	assert_int_equal(m.xid, XID);
	pgo_message_release(&m);
	bytes_free(&b);

	decode_built(build_stream_stop, 2, true, &b, &m);
	assert_int_equal(m.kind, PGO_STREAM_STOP);
	assert_int_equal(m.xid, 0);
	pgo_message_release(&m);
	bytes_free(&b);

	decode_built(build_stream_commit, 3, false, &b, &m);
	assert_int_equal(m.kind, PGO_STREAM_COMMIT);
	assert_int_equal(m.u.stream_commit.xid, XID);
	assert_int_equal(m.u.stream_commit.flags, 0);
	assert_true(m.u.stream_commit.commit_lsn == LSN_A);
	assert_true(m.u.stream_commit.end_lsn == LSN_B);
	assert_true(m.u.stream_commit.commit_time == TS_A);
	assert_int_equal(m.xid, XID);
	pgo_message_release(&m);
	bytes_free(&b);
}

/* Stream Abort in protocols 2-4, with and without abort info. */
static void
test_stream_abort(void **state)
{
	bytes		b = {0};
	pgo_message m;
	const pgo_stream_abort *a = &m.u.stream_abort;

	(void) state;
	for (int proto = 2; proto <= 4; proto++)
	{
		decode_built(build_stream_abort, proto, false, &b, &m);
		assert_int_equal(m.kind, PGO_STREAM_ABORT);
		assert_int_equal(a->xid, XID);
		assert_int_equal(a->subxid, SUBXID);
		assert_false(a->has_abort_info);
		assert_int_equal(m.xid, XID);
		pgo_message_release(&m);
		bytes_free(&b);
	}

	/* protocol 4 with streaming=parallel */
	decode_built(build_stream_abort_v4, 4, false, &b, &m);
	assert_true(a->has_abort_info);
	assert_true(a->abort_lsn == LSN_C);
	assert_true(a->abort_time == TS_B);
	pgo_message_release(&m);

	/* before protocol 4 the extra fields are trailing data */
	expect_error(b.data, b.len, 3, false,
				 PREFIX "trailing data after Stream Abort at byte 9");
	/* a partial abort LSN is truncated */
	expect_error(b.data, 13, 4, false,
				 PREFIX "truncated Stream Abort at byte 9");
	bytes_free(&b);
}

/* Begin Prepare, Prepare, Stream Prepare, Commit and Rollback Prepared. */
static void
test_two_phase(void **state)
{
	static const builder prep[] = {build_begin_prepare, build_prepare,
	build_stream_prepare};
	static const char kinds[] = {PGO_BEGIN_PREPARE, PGO_PREPARE,
	PGO_STREAM_PREPARE};
	bytes		b = {0};
	pgo_message m;

	(void) state;
	for (int i = 0; i < 3; i++)
	{
		decode_built(prep[i], 3, false, &b, &m);
		assert_int_equal(m.kind, kinds[i]);
		assert_int_equal(m.u.prepare.flags, 0);
		assert_true(m.u.prepare.prepare_lsn == LSN_A);
		assert_true(m.u.prepare.end_lsn == LSN_B);
		assert_true(m.u.prepare.prepare_time == TS_A);
		assert_int_equal(m.u.prepare.xid, XID);
		assert_int_equal(m.xid, XID);
		assert_string_equal(m.u.prepare.gid, "gx1");
		pgo_message_release(&m);
		bytes_free(&b);
	}

	decode_built(build_commit_prepared, 4, false, &b, &m);
	assert_int_equal(m.kind, PGO_COMMIT_PREPARED);
	assert_true(m.u.commit_prepared.commit_lsn == LSN_A);
	assert_true(m.u.commit_prepared.end_lsn == LSN_B);
	assert_true(m.u.commit_prepared.commit_time == TS_A);
	assert_int_equal(m.u.commit_prepared.xid, XID);
	assert_string_equal(m.u.commit_prepared.gid, "gx1");
	pgo_message_release(&m);
	bytes_free(&b);

	decode_built(build_rollback_prepared, 3, false, &b, &m);
	assert_int_equal(m.kind, PGO_ROLLBACK_PREPARED);
	assert_true(m.u.rollback_prepared.prepare_end_lsn == LSN_A);
	assert_true(m.u.rollback_prepared.rollback_end_lsn == LSN_B);
	assert_true(m.u.rollback_prepared.prepare_time == TS_A);
	assert_true(m.u.rollback_prepared.rollback_time == TS_B);
	assert_int_equal(m.u.rollback_prepared.xid, XID);
	assert_string_equal(m.u.rollback_prepared.gid, "gx2");
	pgo_message_release(&m);
	bytes_free(&b);
}

/*
 * Inside a stream block every change-like message carries the xid of the
 * subtransaction that made it, right after the kind byte.
 */
static void
test_streamed_changes_carry_xid(void **state)
{
	static const builder streamed[] = {build_relation, build_type,
		build_insert, build_update_key, build_delete_key, build_truncate,
	build_message};
	bytes		b = {0};
	pgo_message m;

	(void) state;
	for (size_t i = 0; i < sizeof(streamed) / sizeof(streamed[0]); i++)
	{
		decode_built(streamed[i], 2, true, &b, &m);
		assert_int_equal(m.xid, SUBXID);
		pgo_message_release(&m);
		bytes_free(&b);
	}
	decode_built(build_insert, 4, true, &b, &m);
	assert_int_equal(m.xid, SUBXID);
	assert_int_equal(m.u.insert.relid, REL_A);
	assert_value(&m.u.insert.newtuple.cols[0], PGO_VALUE_TEXT, "42");
	pgo_message_release(&m);
	bytes_free(&b);

	/* The same bytes outside a block do not decode as an Insert. */
	build_insert(&b, true);
	expect_error(b.data, b.len, 2, false,
				 PREFIX "unexpected tuple type 0x00 in Insert at byte 5");
	bytes_free(&b);
}

/* ---------- malformed input ---------- */

/*
 * Every message, cut at every shorter length, fails without reading past
 * the cut; one extra byte is trailing data.
 */
static void
test_truncated_everywhere(void **state)
{
	(void) state;
	for (size_t c = 0; c < NCASES; c++)
	{
		bytes		b = {0};
		pgo_message m;
		char		err[ERRSIZE];
		uint8_t    *copy;

		cases[c].build(&b, cases[c].stream);
		assert_int_equal(decode_copy(b.data, b.len, cases[c].proto,
									 cases[c].stream, &m, err, &copy), 0);
		pgo_message_release(&m);
		free(copy);
		for (size_t n = 0; n < b.len; n++)
		{
			int			rc = decode_copy(b.data, n, cases[c].proto,
										 cases[c].stream, &m, err, &copy);

			/* the one variable-length message: abort info is optional */
			if (rc == 0 && cases[c].build == build_stream_abort_v4 && n == 9)
			{
				assert_false(m.u.stream_abort.has_abort_info);
				free(copy);
				continue;
			}
			if (rc != -1)
				fail_msg("%s cut at %zu decoded", cases[c].name, n);
			assert_int_equal(strncmp(err, PREFIX, strlen(PREFIX)), 0);
			assert_int_equal(m.kind, 0);
			free(copy);
		}
		put_u8(&b, 0);
		assert_int_equal(decode_copy(b.data, b.len, cases[c].proto,
									 cases[c].stream, &m, err, &copy), -1);
		assert_non_null(strstr(err, "trailing data after"));
		free(copy);
		bytes_free(&b);
	}
}

/* The exact error text for malformed messages. */
static void
test_error_messages(void **state)
{
	static const uint8_t unknown[] = {'z', 0, 0};
	static const uint8_t nul[] = {0};
	static const uint8_t start[] = {'S', 0, 0, 0, 1, 1};
	static const uint8_t prep[] = {'b'};
	bytes		b = {0};

	(void) state;
	expect_error(unknown, 0, 1, false, PREFIX "empty message");
	expect_error(unknown, sizeof(unknown), 1, false,
				 PREFIX "unrecognized message type 'z' at byte 0");
	expect_error(nul, sizeof(nul), 4, false,
				 PREFIX "unrecognized message type 0x00 at byte 0");
	expect_error(start, sizeof(start), 1, false,
				 PREFIX "Stream Start requires protocol version 2, "
				 "stream uses version 1");
	expect_error(prep, sizeof(prep), 2, false,
				 PREFIX "Begin Prepare requires protocol version 3, "
				 "stream uses version 2");
	expect_error(start, sizeof(start), 0, false,
				 PREFIX "unsupported protocol version 0");
	expect_error(start, sizeof(start), 5, false,
				 PREFIX "unsupported protocol version 5");
	expect_error(start, sizeof(start), 1, true,
				 PREFIX "streamed transactions require protocol version 2");

	build_insert(&b, false);
	expect_error(b.data, 14, 1, false, PREFIX "truncated Insert at byte 13");
	b.data[8] = 'x';
	expect_error(b.data, b.len, 1, false,
				 PREFIX "unrecognized column kind 'x' in Insert at byte 8");
	b.data[8] = 't';
	b.data[9] = 0xff;
	expect_error(b.data, b.len, 1, false,
				 PREFIX "invalid column length -16777214 in Insert at byte 9");
	b.data[9] = 0;
	b.data[5] = 'K';
	expect_error(b.data, b.len, 1, false,
				 PREFIX "unexpected tuple type 'K' in Insert at byte 5");
	b.data[5] = 'N';
	b.data[6] = 0xff;
	expect_error(b.data, b.len, 1, false,
				 PREFIX "truncated Insert at byte 8: 65284 columns announced");
	bytes_free(&b);
	expect_error((const uint8_t *) "O\0\0\0\0\0\0\0\0abc", 12, 1, false,
				 PREFIX "truncated Origin at byte 12");
}

/* More malformed messages, and small or missing error buffers. */
static void
test_error_messages_more(void **state)
{
	bytes		b = {0};
	char		small[16];
	pgo_message m;

	(void) state;
	build_truncate(&b, false);
	b.data[1] = 0x80;
	expect_error(b.data, b.len, 1, false,
				 PREFIX "invalid relation count -2147483646 in Truncate "
				 "at byte 1");
	b.data[1] = 0x00;
	b.data[4] = 9;
	expect_error(b.data, b.len, 1, false,
				 PREFIX "truncated Truncate at byte 6");
	bytes_free(&b);

	build_update_key(&b, false);
	b.data[5] = 'N';
	b.data[6] = 0;
	b.data[7] = 0;
	expect_error(b.data, b.len, 1, false,
				 PREFIX "trailing data after Update at byte 8");
	bytes_free(&b);

	build_delete_key(&b, false);
	b.data[5] = 'N';
	expect_error(b.data, b.len, 1, false,
				 PREFIX "unexpected tuple type 'N' in Delete at byte 5");

	/* A small error buffer gets a truncated, terminated message. */
	assert_int_equal(pgo_decode(b.data, 3, 1, false, &m, small, sizeof(small)),
					 -1);
	assert_string_equal(small, "invalid pgoutpu");
	assert_int_equal(pgo_decode(b.data, 3, 1, false, &m, NULL, 0), -1);
	bytes_free(&b);
}

/* A deterministic pseudo-random generator for the fuzz tests. */
static uint32_t
next_rand(uint32_t *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return *seed >> 8;
}

/* Decode from an exact copy: success, or a proper error and no output. */
static void
decode_checked(const uint8_t *buf, size_t n, int proto, bool stream)
{
	pgo_message m;
	char		err[ERRSIZE];
	uint8_t    *copy;

	if (decode_copy(buf, n, proto, stream, &m, err, &copy) == 0)
		pgo_message_release(&m);
	else
	{
		assert_int_equal(strncmp(err, PREFIX, strlen(PREFIX)), 0);
		assert_int_equal(m.kind, 0);
	}
	free(copy);
}

/*
 * Random bytes behind valid kind bytes, and random changes to valid
 * messages, never crash, over-read or leak.
 */
static void
test_fuzz(void **state)
{
	static const char kinds[] = "BCORYIUDTMSEcAbPKrpz";
	uint32_t	seed = 42;
	uint8_t		buf[96];

	(void) state;
	for (int i = 0; i < 20000; i++)
	{
		size_t		n = next_rand(&seed) % sizeof(buf);
		int			proto = 1 + (int) (next_rand(&seed) % 4);

		for (size_t j = 0; j < n; j++)
			buf[j] = (uint8_t) (next_rand(&seed) % ((i % 3) ? 4 : 256));
		if (n > 0)
			buf[0] = (uint8_t) kinds[next_rand(&seed) % (sizeof(kinds) - 1)];
		decode_checked(buf, n, proto, proto >= 2 && (i & 1));
	}
	for (size_t c = 0; c < NCASES; c++)
	{
		bytes		b = {0};

		cases[c].build(&b, cases[c].stream);
		for (int i = 0; i < 500; i++)
		{
			bytes		mut = {0};

			put_raw(&mut, b.data, b.len);
			for (int k = 0; k < 1 + i % 3; k++)
			{
				size_t		at = next_rand(&seed) % mut.len;

				mut.data[at] = (uint8_t) next_rand(&seed);
			}
			decode_checked(mut.data, mut.len, cases[c].proto, cases[c].stream);
			bytes_free(&mut);
		}
		bytes_free(&b);
	}
}

/* ---------- relation cache ---------- */

/* A relation with natts int4 columns c0..; c0 is the key. */
static pgo_relation *
make_rel(uint32_t oid, const char *relname, int natts)
{
	pgo_relation *rel = xcalloc(1, sizeof(pgo_relation));

	rel->oid = oid;
	rel->nspname = xstrdup("public");
	rel->relname = xstrdup(relname);
	rel->replident = PGO_REPLIDENT_DEFAULT;
	rel->natts = natts;
	rel->atts = xcalloc((size_t) natts, sizeof(pgo_attr));
	for (int i = 0; i < natts; i++)
	{
		rel->atts[i].flags = i == 0 ? PGO_ATTR_KEY : 0;
		rel->atts[i].name = str_printf("c%d", i);
		rel->atts[i].typoid = 23;
		rel->atts[i].typmod = -1;
	}
	return rel;
}

/*
 * Put the three-column baseline back, then rel; return what rel changed
 * relative to the baseline.
 */
static unsigned
put_over_baseline(pgo_relcache *cache, pgo_relation *rel)
{
	pgo_relcache_put(cache, make_rel(REL_A, "t", 3));
	return pgo_relcache_put(cache, rel);
}

/* Each kind of difference between two descriptions is reported. */
static void
test_relcache_changes(void **state)
{
	pgo_relcache *cache = pgo_relcache_create();
	pgo_relation *rel;

	(void) state;
	assert_null(pgo_relcache_get(cache, REL_A));
	assert_int_equal(pgo_relcache_put(cache, make_rel(REL_A, "t", 3)),
					 PGO_RELCHANGE_NEW);
	assert_int_equal(pgo_relcache_put(cache, make_rel(REL_A, "t", 3)), 0);
	assert_int_equal(pgo_relcache_put(cache, make_rel(REL_A, "t", 4)),
					 PGO_RELCHANGE_COLUMNS);
	assert_int_equal(pgo_relcache_get(cache, REL_A)->natts, 4);
	assert_int_equal(put_over_baseline(cache, make_rel(REL_A, "t", 2)),
					 PGO_RELCHANGE_COLUMNS);

	rel = make_rel(REL_A, "t", 3);
	free(rel->atts[2].name);
	rel->atts[2].name = xstrdup("renamed");
	assert_int_equal(put_over_baseline(cache, rel), PGO_RELCHANGE_COLUMNS);
	rel = make_rel(REL_A, "t", 3);
	rel->atts[1].typoid = 20;
	assert_int_equal(put_over_baseline(cache, rel), PGO_RELCHANGE_COLUMNS);
	rel = make_rel(REL_A, "t", 3);
	rel->atts[2].typmod = 14;
	assert_int_equal(put_over_baseline(cache, rel), PGO_RELCHANGE_COLUMNS);
	rel = make_rel(REL_A, "t", 3);
	rel->atts[1].flags = PGO_ATTR_KEY;
	assert_int_equal(put_over_baseline(cache, rel), PGO_RELCHANGE_IDENTITY);
	rel = make_rel(REL_A, "t", 3);
	rel->replident = PGO_REPLIDENT_FULL;
	assert_int_equal(put_over_baseline(cache, rel), PGO_RELCHANGE_IDENTITY);
	rel = make_rel(REL_A, "t2", 3);
	free(rel->nspname);
	rel->nspname = xstrdup("other");
	assert_int_equal(put_over_baseline(cache, rel), PGO_RELCHANGE_NAME);
	assert_string_equal(pgo_relcache_get(cache, REL_A)->relname, "t2");
	assert_string_equal(pgo_relcache_get(cache, REL_A)->nspname, "other");

	assert_int_equal(pgo_relcache_put(cache, make_rel(REL_B, "u", 1)),
					 PGO_RELCHANGE_NEW);
	assert_int_equal(pgo_relcache_count(cache), 2);
	assert_int_equal(pgo_relcache_get(cache, REL_B)->natts, 1);
	assert_int_equal(pgo_relcache_put(cache, NULL), 0);
	pgo_relcache_free(cache);
	pgo_relcache_free(NULL);
}

/* A relation decoded from a message, replaced by one with a new column. */
static void
test_relcache_from_messages(void **state)
{
	pgo_relcache *cache = pgo_relcache_create();
	bytes		b = {0};
	pgo_message m;

	(void) state;
	decode_built(build_relation, 1, false, &b, &m);
	assert_int_equal(pgo_relcache_put(cache, pgo_message_take_relation(&m)),
					 PGO_RELCHANGE_NEW);
	pgo_message_release(&m);
	bytes_free(&b);

	decode_built(build_relation, 2, true, &b, &m);
	assert_int_equal(pgo_relcache_put(cache, pgo_message_take_relation(&m)), 0);
	pgo_message_release(&m);
	b.data[4 + 4 + 7 + 6 + 1 + 1 + 1] = 4;	/* natts: 3 -> 4 */
	put_attr(&b, 0, "added", 25, -1);
	assert_int_equal(pgo_decode(b.data, b.len, 2, true, &m, NULL, 0), 0);
	assert_int_equal(pgo_relcache_put(cache, pgo_message_take_relation(&m)),
					 PGO_RELCHANGE_COLUMNS);
	pgo_message_release(&m);
	bytes_free(&b);
	assert_string_equal(pgo_relcache_get(cache, REL_A)->atts[3].name, "added");
	pgo_relcache_free(cache);
}

/* Growth past the initial size keeps every relation reachable. */
static void
test_relcache_many(void **state)
{
	pgo_relcache *cache = pgo_relcache_create();

	(void) state;
	for (uint32_t oid = 0; oid < 3000; oid += 3)
		assert_int_equal(pgo_relcache_put(cache, make_rel(oid, "t", 1)),
						 PGO_RELCHANGE_NEW);
	assert_int_equal(pgo_relcache_count(cache), 1000);
	for (uint32_t oid = 0; oid < 3000; oid++)
	{
		const pgo_relation *rel = pgo_relcache_get(cache, oid);

		if (oid % 3 == 0)
			assert_int_equal(rel->oid, oid);
		else
			assert_null(rel);
	}
	pgo_relcache_free(cache);
}

/* ---------- helpers ---------- */

/* LSN formatting and strict parsing. */
static void
test_lsn(void **state)
{
	char		buf[PGO_LSN_BUFSIZE];
	uint64_t	lsn = 1;
	static const char *bad[] = {"", "/", "1/", "/1", "123456789/0",
		"0/123456789", "1/2/3", "g/1", "1/ 2", " 1/2", "1/2 ", "1-2",
	"0x1/2"};

	(void) state;
	pgo_lsn_format(UINT64_C(0x16B374D848), buf, sizeof(buf));
	assert_string_equal(buf, "16/B374D848");
	pgo_lsn_format(0, buf, sizeof(buf));
	assert_string_equal(buf, "0/0");
	pgo_lsn_format(UINT64_MAX, buf, sizeof(buf));
	assert_string_equal(buf, "FFFFFFFF/FFFFFFFF");
	pgo_lsn_format(LSN_C, buf, sizeof(buf));
	assert_string_equal(buf, "0/1234ABCD");

	assert_true(pgo_lsn_parse("16/B374D848", &lsn));
	assert_true(lsn == UINT64_C(0x16B374D848));
	assert_true(pgo_lsn_parse("ffffffff/ffffffff", &lsn));
	assert_true(lsn == UINT64_MAX);
	assert_true(pgo_lsn_parse("0/0", &lsn));
	assert_true(lsn == 0);
	assert_true(pgo_lsn_parse("00000001/0000000A", &lsn));
	assert_true(lsn == UINT64_C(0x10000000A));
	lsn = 7;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		if (pgo_lsn_parse(bad[i], &lsn))
			fail_msg("parsed \"%s\"", bad[i]);
	}
	assert_false(pgo_lsn_parse(NULL, &lsn));
	assert_true(lsn == 7);
}

/* PostgreSQL epoch conversions, rounding and saturation. */
static void
test_time(void **state)
{
	(void) state;
	assert_true(pgo_time_to_unix_usec(0) == PGO_EPOCH_OFFSET_USEC);
	assert_true(pgo_time_to_unix(0) == 946684800);
	/* 2024-11-15 17:33:20.123456 UTC */
	assert_true(pgo_time_to_unix(TS_A) == 1731684800);
	assert_true(pgo_time_to_unix(-1) == 946684799);
	assert_true(pgo_time_to_unix(-PGO_EPOCH_OFFSET_USEC - 1) == -1);
	assert_true(pgo_time_from_unix_usec(pgo_time_to_unix_usec(TS_A)) == TS_A);
	assert_true(pgo_time_to_unix_usec(INT64_MAX) == INT64_MAX);
	assert_true(pgo_time_from_unix_usec(INT64_MIN) == INT64_MIN);
	assert_true(pgo_time_to_unix_usec(INT64_MIN) ==
				INT64_MIN + PGO_EPOCH_OFFSET_USEC);
}

/* Kind names, and NULL-safe release functions. */
static void
test_kind_names(void **state)
{
	(void) state;
	assert_string_equal(pgo_kind_name(PGO_INSERT), "Insert");
	assert_string_equal(pgo_kind_name(PGO_STREAM_ABORT), "Stream Abort");
	assert_string_equal(pgo_kind_name(PGO_ROLLBACK_PREPARED),
						"Rollback Prepared");
	assert_string_equal(pgo_kind_name('z'), "unknown");
	assert_string_equal(pgo_kind_name(0), "unknown");
	pgo_message_release(NULL);
	pgo_relation_free(NULL);
}

/* ---------- streams recorded from a real server ---------- */

/* Where a message lies in the recorded stream. */
typedef struct span
{
	size_t		off;
	size_t		len;
	bool		in_stream;
} span;

typedef struct capture
{
	const uint8_t *data;
	int			proto;
	pgo_message *msgs;
	span	   *spans;
	int			n;
	char		rle[1024];		/* kinds, runs as "I40" */
} capture;

/*
 * Split pg_recvlogical output (each message followed by '\n') and decode
 * it.  A newline may also occur inside a message, so each message ends at
 * the first newline before which the bytes decode: the decoder is strict
 * about length, so a shorter prefix never does.
 */
static void
load_capture(const uint8_t *data, size_t len, int proto, capture *cs)
{
	size_t		pos = 0;
	bool		in_stream = false;
	int			cap = 0;

	memset(cs, 0, sizeof(*cs));
	cs->data = data;
	cs->proto = proto;
	while (pos < len)
	{
		size_t		end = pos;
		pgo_message m = {0};

		while (end < len && (data[end] != '\n' ||
							 pgo_decode(data + pos, end - pos, proto,
										in_stream, &m, NULL, 0) != 0))
			end++;
		if (end == len)
			fail_msg("undecodable message at byte %zu", pos);
		if (cs->n == cap)
		{
			cap = cap ? cap * 2 : 64;
			cs->msgs = xrealloc(cs->msgs, (size_t) cap * sizeof(pgo_message));
			cs->spans = xrealloc(cs->spans, (size_t) cap * sizeof(span));
		}
		cs->spans[cs->n] = (span) {pos, end - pos, in_stream};
		cs->msgs[cs->n++] = m;
		if (m.kind == PGO_STREAM_START)
			in_stream = true;
		else if (m.kind == PGO_STREAM_STOP)
			in_stream = false;
		pos = end + 1;
	}
}

/* Run-length encode the kinds: "BYRI2C...". */
static void
capture_rle(capture *cs)
{
	strbuf		sb = STRBUF_INIT;

	for (int i = 0; i < cs->n;)
	{
		int			j = i;

		while (j < cs->n && cs->msgs[j].kind == cs->msgs[i].kind)
			j++;
		strbuf_add(&sb, &cs->msgs[i].kind, 1);
		if (j - i > 1)
			strbuf_addf(&sb, "%d", j - i);
		i = j;
	}
	assert_true(str_copy(cs->rle, strbuf_str(&sb), sizeof(cs->rle)));
	strbuf_release(&sb);
}

/* Release every message of a capture. */
static void
free_capture(capture *cs)
{
	for (int i = 0; i < cs->n; i++)
		pgo_message_release(&cs->msgs[i]);
	free(cs->msgs);
	free(cs->spans);
}

/* Index of the first message of this kind at or after from. */
static int
find_kind(const capture *cs, char kind, int from)
{
	for (int i = from; i < cs->n; i++)
	{
		if (cs->msgs[i].kind == kind)
			return i;
	}
	fail_msg("no %s after message %d", pgo_kind_name(kind), from);
	return -1;
}

/* Message kinds common to all three captures, up to the origin txn. */
#define CAPTURED_PLAIN \
	"BYRI2C" "BU3C" "BRIUDC" "BDC" "BYR2TC" "BMC" "M" "BOYRIC"
/* Streamed: committed, aborted, with a rolled back savepoint. */
#define CAPTURED_STREAMS \
	"SRI40ESI40Ec" "SRI40ESI40EA" "SRI40ESI40EASRIEc"

/*
 * Each Begin and the next Commit agree on the commit LSN and time, and
 * the commit time is after the capture's tooling existed.
 */
static void
check_txn_bounds(const capture *cs)
{
	int			ntxn = 0;

	for (int i = 0; i < cs->n; i++)
	{
		const pgo_message *begin = &cs->msgs[i];
		const pgo_message *commit;

		if (begin->kind != PGO_BEGIN)
			continue;
		commit = &cs->msgs[find_kind(cs, PGO_COMMIT, i)];
		assert_int_not_equal(begin->xid, 0);
		assert_true(begin->u.begin.final_lsn == commit->u.commit.commit_lsn);
		assert_true(begin->u.begin.commit_time == commit->u.commit.commit_time);
		assert_true(commit->u.commit.end_lsn > commit->u.commit.commit_lsn);
		assert_true(pgo_time_to_unix(commit->u.commit.commit_time) >
					1700000000);
		ntxn++;
	}
	assert_true(ntxn >= 7);
}

/* Type and Relation messages of the captured schema. */
static void
check_captured_relations(const capture *cs)
{
	const pgo_relation *items = cs->msgs[2].u.relation;
	const pgo_relation *full = cs->msgs[12].u.relation;
	static const char *names[] = {"id", "name", "note", "m"};

	assert_int_equal(cs->msgs[1].kind, PGO_TYPE);
	assert_string_equal(cs->msgs[1].u.type.nspname, "public");
	assert_string_equal(cs->msgs[1].u.type.name, "mood");
	assert_string_equal(items->nspname, "public");
	assert_string_equal(items->relname, "items");
	assert_int_equal(items->replident, PGO_REPLIDENT_DEFAULT);
	assert_int_equal(items->natts, 4);
	for (int i = 0; i < 4; i++)
	{
		assert_string_equal(items->atts[i].name, names[i]);
		assert_int_equal(items->atts[i].flags, i == 0 ? PGO_ATTR_KEY : 0);
		assert_int_equal(items->atts[i].typmod, -1);
	}
	assert_int_equal(items->atts[0].typoid, 23);
	assert_int_equal(items->atts[1].typoid, 25);
	assert_int_equal(items->atts[3].typoid, cs->msgs[1].u.type.oid);
	assert_string_equal(full->relname, "items_full");
	assert_int_equal(full->replident, PGO_REPLIDENT_FULL);
	assert_int_equal(full->atts[0].flags & full->atts[1].flags, PGO_ATTR_KEY);
}

/* The text-format changes of the first transactions. */
static void
check_captured_text_changes(const capture *cs)
{
	const pgo_tuple *t;

	t = &cs->msgs[3].u.insert.newtuple;
	assert_int_equal(cs->msgs[3].u.insert.relid, cs->msgs[2].u.relation->oid);
	assert_value(&t->cols[0], PGO_VALUE_TEXT, "1");
	assert_value(&t->cols[1], PGO_VALUE_TEXT, "one");
	assert_value(&t->cols[2], PGO_VALUE_NULL, NULL);
	assert_value(&t->cols[3], PGO_VALUE_TEXT, "happy");
	t = &cs->msgs[4].u.insert.newtuple;
	assert_int_equal(t->cols[2].len, 2100);
	assert_int_equal(t->cols[2].data[2099], 'x');

	assert_int_equal(cs->msgs[7].u.update.old_kind, 0);
	assert_value(&cs->msgs[7].u.update.newtuple.cols[1], PGO_VALUE_TEXT, "uno");
	/* the TOASTed note did not change: 'u', value not sent */
	t = &cs->msgs[8].u.update.newtuple;
	assert_value(&t->cols[1], PGO_VALUE_TEXT, "dos");
	assert_value(&t->cols[2], PGO_VALUE_UNCHANGED, NULL);
	/* key change: old key 'K' with only the key column set */
	assert_int_equal(cs->msgs[9].u.update.old_kind, 'K');
	t = &cs->msgs[9].u.update.oldtuple;
	assert_value(&t->cols[0], PGO_VALUE_TEXT, "1");
	assert_value(&t->cols[1], PGO_VALUE_NULL, NULL);
	assert_value(&cs->msgs[9].u.update.newtuple.cols[0], PGO_VALUE_TEXT, "3");

	assert_int_equal(cs->msgs[14].u.update.relid, cs->msgs[12].u.relation->oid);
	assert_int_equal(cs->msgs[14].u.update.old_kind, 'O');
	assert_value(&cs->msgs[14].u.update.oldtuple.cols[1], PGO_VALUE_TEXT, "a");
	assert_value(&cs->msgs[14].u.update.newtuple.cols[1], PGO_VALUE_TEXT, "b");
	assert_int_equal(cs->msgs[15].u.delete.old_kind, 'O');
	assert_value(&cs->msgs[15].u.delete.oldtuple.cols[1], PGO_VALUE_TEXT, "b");
	assert_int_equal(cs->msgs[18].u.delete.old_kind, 'K');
	assert_value(&cs->msgs[18].u.delete.oldtuple.cols[0], PGO_VALUE_TEXT, "3");
}

/* Truncate, logical decoding messages and origin. */
static void
check_captured_misc(const capture *cs)
{
	const pgo_message *m;

	m = &cs->msgs[24];
	assert_int_equal(m->u.truncate.nrels, 2);
	assert_int_equal(m->u.truncate.options,
					 PGO_TRUNCATE_CASCADE | PGO_TRUNCATE_RESTART_IDENTITY);
	assert_int_equal(m->u.truncate.relids[0], cs->msgs[2].u.relation->oid);
	assert_int_equal(m->u.truncate.relids[1], cs->msgs[12].u.relation->oid);

	m = &cs->msgs[27];
	assert_true(m->u.message.transactional);
	assert_string_equal(m->u.message.prefix, "pgcrane");
	assert_int_equal(m->u.message.len, 5);
	assert_memory_equal(m->u.message.content, "hello", 5);
	assert_true(m->u.message.lsn != 0);
	assert_true(m->u.message.lsn <= cs->msgs[26].u.begin.final_lsn);
	m = &cs->msgs[29];
	assert_false(m->u.message.transactional);
	assert_int_equal(m->xid, 0);
	assert_memory_equal(m->u.message.content, "bye", 3);

	assert_string_equal(cs->msgs[31].u.origin.name, "upstream");
	assert_true(cs->msgs[31].u.origin.lsn == LSN_C);
}

/*
 * Hand every Relation to a cache, as the apply loop will: the first of
 * each OID is new, the ones re-sent later are identical.
 */
static void
check_captured_relcache(capture *cs, size_t nrels)
{
	pgo_relcache *cache = pgo_relcache_create();

	for (int i = 0; i < cs->n; i++)
	{
		pgo_message *m = &cs->msgs[i];
		uint32_t	oid;
		unsigned	diff;

		if (m->kind != PGO_RELATION)
			continue;
		oid = m->u.relation->oid;
		diff = pgo_relcache_put(cache, pgo_message_take_relation(m));
		assert_true(diff == 0 || diff == PGO_RELCHANGE_NEW);
		assert_int_equal(pgo_relcache_get(cache, oid)->oid, oid);
	}
	assert_int_equal(pgo_relcache_count(cache), nrels);
	pgo_relcache_free(cache);
}

/* Protocol 1: plain transactions, text columns, messages, origin. */
static void
test_capture_v1(void **state)
{
	capture		cs;

	(void) state;
	load_capture(capture_v1, sizeof(capture_v1), 1, &cs);
	capture_rle(&cs);
	assert_string_equal(cs.rle, CAPTURED_PLAIN "BIC");
	check_captured_relations(&cs);
	check_captured_text_changes(&cs);
	check_captured_misc(&cs);
	check_txn_bounds(&cs);
	for (int i = 0; i < cs.n; i++)
		assert_int_equal(cs.msgs[i].xid != 0, cs.msgs[i].kind == PGO_BEGIN);
	check_captured_relcache(&cs, 2);
	free_capture(&cs);
}

/*
 * Walk the stream blocks: changes inside carry an xid, Stream Commit and
 * Stream Abort name the xid of the blocks before them, and an aborted
 * subtransaction is one whose changes were seen.  Returns the number of
 * streamed transactions that committed or prepared.
 */
static int
check_captured_streams(const capture *cs)
{
	uint32_t	top = 0;
	bool		seen_sub = false;
	int			ndone = 0;

	for (int i = 0; i < cs->n; i++)
	{
		const pgo_message *m = &cs->msgs[i];

		switch (m->kind)
		{
			case PGO_STREAM_START:
				assert_int_equal(m->u.stream_start.first_segment,
								 m->xid != top);
				top = m->xid;
				break;
			case PGO_STREAM_STOP:
				break;
			case PGO_STREAM_COMMIT:
			case PGO_STREAM_PREPARE:
				assert_false(cs->spans[i].in_stream);
				assert_int_equal(m->xid, top);
				ndone++;
				break;
			case PGO_STREAM_ABORT:
				assert_int_equal(m->xid, top);
				if (m->u.stream_abort.subxid != top)
					assert_true(seen_sub);
				assert_false(m->u.stream_abort.has_abort_info);
				break;
			default:
				assert_int_equal(m->xid != 0, cs->spans[i].in_stream ||
								 strchr("BbPKr", m->kind) != NULL);
				if (cs->spans[i].in_stream && m->xid != top)
					seen_sub = true;
				break;
		}
	}
	return ndone;
}

/* Protocol 2 with streaming=on: streamed, aborted, subxact-aborted. */
static void
test_capture_v2(void **state)
{
	capture		cs;
	int			i;

	(void) state;
	load_capture(capture_v2, sizeof(capture_v2), 2, &cs);
	capture_rle(&cs);
	assert_string_equal(cs.rle, CAPTURED_PLAIN CAPTURED_STREAMS "BIC"
						"SRI40ESI40Ec");
	check_captured_relations(&cs);
	check_captured_text_changes(&cs);
	check_captured_misc(&cs);
	check_txn_bounds(&cs);
	assert_int_equal(check_captured_streams(&cs), 3);

	/* the first streamed transaction's rows arrive in order */
	i = find_kind(&cs, PGO_STREAM_START, 0);
	assert_string_equal(cs.msgs[i + 1].u.relation->relname, "big");
	assert_int_equal(cs.msgs[i + 1].u.relation->natts, 1);
	for (int row = 1; row <= 80; row++)
	{
		char		want[8];
		int			k = i + 1 + row + (row > 40 ? 2 : 0);

		snprintf(want, sizeof(want), "%d", row);
		assert_int_equal(cs.msgs[k].kind, PGO_INSERT);
		assert_int_equal(cs.msgs[k].xid, cs.msgs[i].xid);
		assert_value(&cs.msgs[k].u.insert.newtuple.cols[0], PGO_VALUE_TEXT,
					 want);
	}
	check_captured_relcache(&cs, 3);
	free_capture(&cs);
}

/* Two-phase messages of a capture with two_phase=on. */
static void
check_captured_two_phase(const capture *cs)
{
	const pgo_message *bp = &cs->msgs[find_kind(cs, PGO_BEGIN_PREPARE, 0)];
	const pgo_message *p = &cs->msgs[find_kind(cs, PGO_PREPARE, 0)];
	const pgo_message *k = &cs->msgs[find_kind(cs, PGO_COMMIT_PREPARED, 0)];
	const pgo_message *r = &cs->msgs[find_kind(cs, PGO_ROLLBACK_PREPARED, 0)];
	const pgo_message *sp = &cs->msgs[find_kind(cs, PGO_STREAM_PREPARE, 0)];

	assert_string_equal(bp->u.prepare.gid, "gx1");
	assert_string_equal(p->u.prepare.gid, "gx1");
	assert_string_equal(k->u.commit_prepared.gid, "gx1");
	assert_int_equal(bp->xid, p->xid);
	assert_int_equal(p->xid, k->xid);
	assert_true(bp->u.prepare.prepare_lsn == p->u.prepare.prepare_lsn);
	assert_true(bp->u.prepare.end_lsn == p->u.prepare.end_lsn);
	assert_true(k->u.commit_prepared.commit_lsn >= p->u.prepare.end_lsn);
	assert_value(&bp[1].u.insert.newtuple.cols[1], PGO_VALUE_BINARY,
				 "prepared");

	assert_string_equal(r->u.rollback_prepared.gid, "gx2");
	assert_true(r->u.rollback_prepared.rollback_end_lsn >
				r->u.rollback_prepared.prepare_end_lsn);
	assert_true(r->u.rollback_prepared.rollback_time >=
				r->u.rollback_prepared.prepare_time);

	assert_string_equal(sp->u.prepare.gid, "gx3");
	assert_int_equal(sp[1].kind, PGO_COMMIT_PREPARED);
	assert_string_equal(sp[1].u.commit_prepared.gid, "gx3");
	assert_int_equal(sp[1].xid, sp->xid);
}

/* Protocol 3 with two_phase=on and binary=true. */
static void
test_capture_v3(void **state)
{
	capture		cs;
	const pgo_tuple *t;

	(void) state;
	load_capture(capture_v3, sizeof(capture_v3), 3, &cs);
	capture_rle(&cs);
	assert_string_equal(cs.rle, CAPTURED_PLAIN CAPTURED_STREAMS "bIPK" "bIPr"
						"SRI40ESI40EpK");
	check_captured_relations(&cs);
	check_captured_misc(&cs);
	check_txn_bounds(&cs);
	assert_int_equal(check_captured_streams(&cs), 3);
	check_captured_two_phase(&cs);

	/* binary=true: int4 as 4 bytes, text and enums as their bytes */
	t = &cs.msgs[3].u.insert.newtuple;
	assert_int_equal(t->cols[0].kind, PGO_VALUE_BINARY);
	assert_int_equal(t->cols[0].len, 4);
	assert_memory_equal(t->cols[0].data, "\0\0\0\1", 4);
	assert_value(&t->cols[1], PGO_VALUE_BINARY, "one");
	assert_value(&t->cols[2], PGO_VALUE_NULL, NULL);
	assert_value(&t->cols[3], PGO_VALUE_BINARY, "happy");
	assert_value(&cs.msgs[8].u.update.newtuple.cols[2], PGO_VALUE_UNCHANGED,
				 NULL);
	check_captured_relcache(&cs, 3);
	free_capture(&cs);
}

/*
 * Every real message, cut short at every length, fails cleanly; decoded
 * from an exact copy it gives what the stream walk gave.
 */
static void
check_capture_cuts(const uint8_t *data, size_t len, int proto)
{
	capture		cs;

	load_capture(data, len, proto, &cs);
	for (int i = 0; i < cs.n; i++)
	{
		const span *s = &cs.spans[i];
		pgo_message m;
		char		err[ERRSIZE];
		uint8_t    *copy;

		assert_int_equal(decode_copy(data + s->off, s->len, proto,
									 s->in_stream, &m, err, &copy), 0);
		assert_int_equal(m.kind, cs.msgs[i].kind);
		assert_int_equal(m.xid, cs.msgs[i].xid);
		pgo_message_release(&m);
		free(copy);
		for (size_t n = 0; n < s->len; n++)
		{
			if (decode_copy(data + s->off, n, proto, s->in_stream, &m, err,
							&copy) != -1)
				fail_msg("message %d cut at %zu decoded", i, n);
			free(copy);
		}
	}
	free_capture(&cs);
}

/* Every captured message of every protocol version, cut short. */
static void
test_capture_truncated(void **state)
{
	(void) state;
	check_capture_cuts(capture_v1, sizeof(capture_v1), 1);
	check_capture_cuts(capture_v2, sizeof(capture_v2), 2);
	check_capture_cuts(capture_v3, sizeof(capture_v3), 3);
}

/* Run every test; the exit status is the number of failures. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_begin_commit_origin),
		cmocka_unit_test(test_relation),
		cmocka_unit_test(test_type),
		cmocka_unit_test(test_insert),
		cmocka_unit_test(test_update),
		cmocka_unit_test(test_delete),
		cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_logical_message),
		cmocka_unit_test(test_stream_control),
		cmocka_unit_test(test_stream_abort),
		cmocka_unit_test(test_two_phase),
		cmocka_unit_test(test_streamed_changes_carry_xid),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_error_messages),
		cmocka_unit_test(test_error_messages_more),
		cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_relcache_changes),
		cmocka_unit_test(test_relcache_from_messages),
		cmocka_unit_test(test_relcache_many),
		cmocka_unit_test(test_lsn),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_kind_names),
		cmocka_unit_test(test_capture_v1),
		cmocka_unit_test(test_capture_v2),
		cmocka_unit_test(test_capture_v3),
		cmocka_unit_test(test_capture_truncated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
