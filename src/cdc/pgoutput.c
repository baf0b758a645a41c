/*
 * pgoutput.c
 *		Decoder for the messages of PostgreSQL's built-in pgoutput plugin.
 *
 * A logical replication stream is started with START_REPLICATION SLOT ...
 * LOGICAL with options such as proto_version, publication_names, streaming,
 * two_phase, binary and messages.  The walsender then sends CopyData
 * messages; an XLogData one ('w') carries a header (start LSN, end LSN,
 * send time) and a payload, and that payload is what this file decodes.
 * Each payload is exactly one pgoutput message: a kind byte followed by
 * fields in network byte order.  Strings are NUL-terminated; a namespace
 * sent as "" means pg_catalog.
 *
 * A plain transaction arrives as Begin, then changes, then Commit.  Before
 * the first change to a table in a session (and after the table's catalog
 * entry changes) a Relation message describes it: OID, schema, name,
 * replica identity and the published columns, each with a key flag, name,
 * type OID and typmod.  A Type message may precede it for columns of
 * non-built-in types.  Changes name the relation only by OID:
 *
 *	Insert		relid, 'N', new tuple
 *	Update		relid, optionally 'K' (old key, replica identity default or
 *				index, sent only when a key column changed) or 'O' (old
 *				row, replica identity full) with a tuple, then 'N' and the
 *				new tuple
 *	Delete		relid, 'K' or 'O', old tuple
 *	Truncate	relation count, option bits (cascade 1, restart identity
 *				2), then the OIDs
 *
 * A tuple is a 16-bit column count then, per column, 'n' (null), 'u'
 * (unchanged TOASTed value: the value was not sent and the subscriber
 * keeps the old one), 't' (text) or 'b' (binary, with binary=true), the
 * last two followed by a 32-bit length and that many bytes.
 *
 * Origin follows Begin for a transaction replayed from elsewhere; Message
 * carries pg_logical_emit_message() output (messages=true), transactional
 * or not.
 *
 * Protocol 2 (streaming=on) lets the server send a large transaction before
 * it commits, in blocks between Stream Start (xid, first-segment flag) and
 * Stream Stop.  Inside a block Relation, Type, Insert, Update, Delete,
 * Truncate and Message carry an xid as an extra field right after the kind
 * byte: that of the subtransaction that made the change, which is the
 * streamed transaction's own xid only for changes made outside any
 * savepoint.  Nothing in the message itself says the field is there, which
 * is why pgo_decode() is told whether a block is open.  The transaction
 * ends with Stream Commit or Stream Abort (xid and the aborted
 * subtransaction's xid, equal to xid when the whole transaction aborts).
 * Protocol 4 with streaming=parallel appends the abort LSN and time to
 * Stream Abort; since the option is not visible here, the message length
 * decides.
 *
 * Protocol 3 (two_phase=on) adds Begin Prepare, Prepare, Commit Prepared,
 * Rollback Prepared and Stream Prepare, each with the transaction's gid.
 *
 * The decoder is strict: a message must be exactly as long as its fields
 * (so a prefix of a message never decodes, Stream Abort's optional tail
 * aside), kinds newer than the negotiated protocol version are rejected,
 * and all reads are bounds-checked through a reader whose first failure
 * sticks.  Counts are checked against the bytes left before anything is
 * allocated, so garbage cannot make it allocate much.
 */
#include "cdc/pgoutput.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/str.h"

/* Bytes a column needs at least: its kind byte. */
#define MIN_COLUMN_BYTES 1
/* Bytes an attribute needs at least: flags, "", type OID, typmod. */
#define MIN_ATTR_BYTES 10

typedef struct reader
{
	const uint8_t *buf;
	size_t		len;
	size_t		pos;
	char		kind;			/* message kind, for error messages */
	bool		failed;
	char	   *errbuf;
	size_t		errsize;
} reader;

static const struct
{
	char		kind;
	int			min_proto;
	const char *name;
}			kinds[] = {
	{PGO_BEGIN, 1, "Begin"},
	{PGO_COMMIT, 1, "Commit"},
	{PGO_ORIGIN, 1, "Origin"},
	{PGO_RELATION, 1, "Relation"},
	{PGO_TYPE, 1, "Type"},
	{PGO_INSERT, 1, "Insert"},
	{PGO_UPDATE, 1, "Update"},
	{PGO_DELETE, 1, "Delete"},
	{PGO_TRUNCATE, 1, "Truncate"},
	{PGO_MESSAGE, 1, "Message"},
	{PGO_STREAM_START, 2, "Stream Start"},
	{PGO_STREAM_STOP, 2, "Stream Stop"},
	{PGO_STREAM_COMMIT, 2, "Stream Commit"},
	{PGO_STREAM_ABORT, 2, "Stream Abort"},
	{PGO_BEGIN_PREPARE, 3, "Begin Prepare"},
	{PGO_PREPARE, 3, "Prepare"},
	{PGO_COMMIT_PREPARED, 3, "Commit Prepared"},
	{PGO_ROLLBACK_PREPARED, 3, "Rollback Prepared"},
	{PGO_STREAM_PREPARE, 3, "Stream Prepare"},
};

#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

/*
 * Index of kind in kinds[], or -1 if it is no pgoutput message kind.
 */
static int
kind_index(char kind)
{
	for (size_t i = 0; i < NKINDS; i++)
	{
		if (kinds[i].kind == kind)
			return (int) i;
	}
	return -1;
}

/*
 * The message kind's name as the PostgreSQL documentation spells it.
 */
const char *
pgo_kind_name(char kind)
{
	int			i = kind_index(kind);

	return i < 0 ? "unknown" : kinds[i].name;
}

/*
 * Describe a byte for a message: 'x' when printable, 0x07 otherwise.
 * buf must hold at least 8 bytes.
 */
static const char *
byte_repr(uint8_t b, char *buf, size_t bufsize)
{
	if (b >= 0x20 && b < 0x7f && b != '\'')
		snprintf(buf, bufsize, "'%c'", (char) b);
	else
		snprintf(buf, bufsize, "0x%02x", (unsigned) b);
	return buf;
}

/*
 * Record the reader's first failure: the message is formatted into the
 * caller's errbuf with the "invalid pgoutput message: " prefix.  Later
 * failures are ignored so that the first cause is reported.
 */
static void
rd_fail(reader *r, const char *fmt,...) __attribute__((format(printf, 2, 3)));

static void
rd_fail(reader *r, const char *fmt,...)
{
	va_list		ap;
	int			n;

	if (r->failed)
		return;
	r->failed = true;
	if (r->errbuf == NULL || r->errsize == 0)
		return;
	n = snprintf(r->errbuf, r->errsize, "invalid pgoutput message: ");
	if (n < 0 || (size_t) n >= r->errsize)
		return;
	va_start(ap, fmt);
	vsnprintf(r->errbuf + n, r->errsize - (size_t) n, fmt, ap);
	va_end(ap);
}

/*
 * True if n more bytes can be read; otherwise records a truncation at the
 * current position and returns false.  Always false once failed.
 */
static bool
rd_need(reader *r, size_t n)
{
	if (r->failed)
		return false;
	if (r->len - r->pos < n)
	{
		rd_fail(r, "truncated %s at byte %zu", pgo_kind_name(r->kind), r->pos);
		return false;
	}
	return true;
}

/*
 * Read an unsigned big-endian integer of n bytes (1 to 8); 0 on failure.
 */
static uint64_t
rd_uint(reader *r, size_t n)
{
	uint64_t	v = 0;

	if (!rd_need(r, n))
		return 0;
	for (size_t i = 0; i < n; i++)
		v = (v << 8) | r->buf[r->pos + i];
	r->pos += n;
	return v;
}

/* Read one byte; 0 on failure. */
static uint8_t
rd_u8(reader *r)
{
	return (uint8_t) rd_uint(r, 1);
}

/* Read a big-endian 16-bit integer; 0 on failure. */
static uint16_t
rd_u16(reader *r)
{
	return (uint16_t) rd_uint(r, 2);
}

/* Read a big-endian 32-bit integer; 0 on failure. */
static uint32_t
rd_u32(reader *r)
{
	return (uint32_t) rd_uint(r, 4);
}

/* Read a big-endian 64-bit integer; 0 on failure. */
static uint64_t
rd_u64(reader *r)
{
	return rd_uint(r, 8);
}

/*
 * Read a signed 64-bit integer (timestamps); two's complement on the wire.
 */
static int64_t
rd_i64(reader *r)
{
	uint64_t	u = rd_u64(r);
	int64_t		v;

	memcpy(&v, &u, sizeof(v));
	return v;
}

/*
 * Read a signed 32-bit integer (typmods, lengths).
 */
static int32_t
rd_i32(reader *r)
{
	uint32_t	u = rd_u32(r);
	int32_t		v;

	memcpy(&v, &u, sizeof(v));
	return v;
}

/*
 * Read a NUL-terminated string; returns a pointer into the buffer, or ""
 * on failure (an unterminated string counts as truncated).
 */
static const char *
rd_str(reader *r)
{
	const uint8_t *start;
	const uint8_t *nul;

	if (!rd_need(r, 1))
		return "";
	start = r->buf + r->pos;
	nul = memchr(start, '\0', r->len - r->pos);
	if (nul == NULL)
	{
		r->pos = r->len;
		rd_need(r, 1);
		return "";
	}
	r->pos += (size_t) (nul - start) + 1;
	return (const char *) start;
}

/*
 * Read a schema name, where "" stands for pg_catalog.
 */
static const char *
rd_namespace(reader *r)
{
	const char *s = rd_str(r);

	return (s[0] == '\0' && !r->failed) ? "pg_catalog" : s;
}

/*
 * Read n raw bytes; returns a pointer into the buffer, NULL on failure.
 */
static const uint8_t *
rd_bytes(reader *r, size_t n)
{
	const uint8_t *p;

	if (!rd_need(r, n))
		return NULL;
	p = r->buf + r->pos;
	r->pos += n;
	return p;
}

/*
 * Read a 32-bit length followed by that many bytes into *data and *len.
 * A negative length is invalid ("what" names the field for the message).
 */
static void
rd_counted(reader *r, const char *what, const uint8_t **data, uint32_t *len)
{
	size_t		at = r->pos;
	int32_t		n = rd_i32(r);

	*data = NULL;
	*len = 0;
	if (r->failed)
		return;
	if (n < 0)
	{
		rd_fail(r, "invalid %s length %" PRId32 " in %s at byte %zu",
				what, n, pgo_kind_name(r->kind), at);
		return;
	}
	*data = rd_bytes(r, (size_t) n);
	if (*data != NULL)
		*len = (uint32_t) n;
}

/*
 * Read tuple data into *t.  The column array is allocated before the
 * columns are read, so on failure the caller still frees t->cols.
 */
static void
read_tuple(reader *r, pgo_tuple *t)
{
	uint16_t	ncols = rd_u16(r);
	char		rb[8];

	if (r->failed)
		return;
	if ((size_t) ncols * MIN_COLUMN_BYTES > r->len - r->pos)
	{
		rd_fail(r, "truncated %s at byte %zu: %u columns announced",
				pgo_kind_name(r->kind), r->pos, (unsigned) ncols);
		return;
	}
	t->ncols = ncols;
	t->cols = ncols ? xcalloc(ncols, sizeof(pgo_value)) : NULL;
	for (int i = 0; i < ncols && !r->failed; i++)
	{
		pgo_value  *v = &t->cols[i];
		size_t		at = r->pos;

		v->kind = (char) rd_u8(r);
		if (r->failed)
			break;
		switch (v->kind)
		{
			case PGO_VALUE_NULL:
			case PGO_VALUE_UNCHANGED:
				break;
			case PGO_VALUE_TEXT:
			case PGO_VALUE_BINARY:
				rd_counted(r, "column", &v->data, &v->len);
				break;
			default:
				rd_fail(r, "unrecognized column kind %s in %s at byte %zu",
						byte_repr((uint8_t) v->kind, rb, sizeof(rb)),
						pgo_kind_name(r->kind), at);
				break;
		}
	}
}

/*
 * Read the byte that announces a tuple and check it is one of the two
 * allowed; returns it, or 0 after recording the failure.
 */
static char
read_tuple_tag(reader *r, const char *allowed)
{
	size_t		at = r->pos;
	uint8_t		tag = rd_u8(r);
	char		rb[8];

	if (r->failed)
		return 0;
	if (tag == 0 || strchr(allowed, (char) tag) == NULL)
	{
		rd_fail(r, "unexpected tuple type %s in %s at byte %zu",
				byte_repr(tag, rb, sizeof(rb)), pgo_kind_name(r->kind), at);
		return 0;
	}
	return (char) tag;
}

/*
 * Read the column descriptions of a Relation message into rel.
 */
static void
read_attrs(reader *r, pgo_relation *rel)
{
	uint16_t	natts = rd_u16(r);

	if (r->failed)
		return;
	if ((size_t) natts * MIN_ATTR_BYTES > r->len - r->pos)
	{
		rd_fail(r, "truncated %s at byte %zu: %u columns announced",
				pgo_kind_name(r->kind), r->pos, (unsigned) natts);
		return;
	}
	rel->natts = natts;
	rel->atts = natts ? xcalloc(natts, sizeof(pgo_attr)) : NULL;
	for (int i = 0; i < natts && !r->failed; i++)
	{
		pgo_attr   *a = &rel->atts[i];

		a->flags = rd_u8(r);
		a->name = xstrdup(rd_str(r));
		a->typoid = rd_u32(r);
		a->typmod = rd_i32(r);
	}
}

/*
 * Read the xid that changes carry inside a streamed block.
 */
static void
read_stream_xid(reader *r, bool in_stream, pgo_message *out)
{
	if (in_stream)
		out->xid = rd_u32(r);
}

/* Begin: final LSN, commit time, xid. */
static void
decode_begin(reader *r, pgo_message *out)
{
	pgo_begin  *b = &out->u.begin;

	b->final_lsn = rd_u64(r);
	b->commit_time = rd_i64(r);
	b->xid = rd_u32(r);
	out->xid = b->xid;
}

/* Commit: flags, commit LSN, end LSN, commit time. */
static void
decode_commit(reader *r, pgo_message *out)
{
	pgo_commit *c = &out->u.commit;

	c->flags = rd_u8(r);
	c->commit_lsn = rd_u64(r);
	c->end_lsn = rd_u64(r);
	c->commit_time = rd_i64(r);
}

/* Origin: the origin's commit LSN and its name. */
static void
decode_origin(reader *r, pgo_message *out)
{
	out->u.origin.lsn = rd_u64(r);
	out->u.origin.name = rd_str(r);
}

/*
 * Relation: the only message whose strings are copied, since the relation
 * outlives the buffer in the relation cache.
 */
static void
decode_relation(reader *r, bool in_stream, pgo_message *out)
{
	pgo_relation *rel;

	read_stream_xid(r, in_stream, out);
	rel = xcalloc(1, sizeof(pgo_relation));
	out->u.relation = rel;
	rel->oid = rd_u32(r);
	rel->nspname = xstrdup(rd_namespace(r));
	rel->relname = xstrdup(rd_str(r));
	rel->replident = (char) rd_u8(r);
	read_attrs(r, rel);
}

/* Type: [xid], OID, schema, name; the strings stay in the buffer. */
static void
decode_type(reader *r, bool in_stream, pgo_message *out)
{
	read_stream_xid(r, in_stream, out);
	out->u.type.oid = rd_u32(r);
	out->u.type.nspname = rd_namespace(r);
	out->u.type.name = rd_str(r);
}

/* Insert: [xid], relation OID, 'N' and the new tuple. */
static void
decode_insert(reader *r, bool in_stream, pgo_message *out)
{
	read_stream_xid(r, in_stream, out);
	out->u.insert.relid = rd_u32(r);
	if (read_tuple_tag(r, "N") != 0)
		read_tuple(r, &out->u.insert.newtuple);
}

/* Update: [xid], relation OID, optional 'K' or 'O' old tuple, 'N' new tuple. */
static void
decode_update(reader *r, bool in_stream, pgo_message *out)
{
	pgo_update *u = &out->u.update;
	char		tag;

	read_stream_xid(r, in_stream, out);
	u->relid = rd_u32(r);
	tag = read_tuple_tag(r, "KON");
	if (tag == 'K' || tag == 'O')
	{
		u->old_kind = tag;
		read_tuple(r, &u->oldtuple);
		tag = read_tuple_tag(r, "N");
	}
	if (tag == 'N')
		read_tuple(r, &u->newtuple);
}

/* Delete: [xid], relation OID, 'K' or 'O' and the old tuple. */
static void
decode_delete(reader *r, bool in_stream, pgo_message *out)
{
	pgo_delete *d = &out->u.delete;

	read_stream_xid(r, in_stream, out);
	d->relid = rd_u32(r);
	d->old_kind = read_tuple_tag(r, "KO");
	if (d->old_kind != 0)
		read_tuple(r, &d->oldtuple);
}

/*
 * Truncate: [xid], relation count, option bits, relation OIDs.
 * The count is checked against the bytes left before allocating.
 */
static void
decode_truncate(reader *r, bool in_stream, pgo_message *out)
{
	pgo_truncate *t = &out->u.truncate;
	size_t		at;
	int32_t		nrels;

	read_stream_xid(r, in_stream, out);
	at = r->pos;
	nrels = rd_i32(r);
	t->options = rd_u8(r);
	if (r->failed)
		return;
	if (nrels < 0)
	{
		rd_fail(r, "invalid relation count %" PRId32 " in Truncate at byte %zu",
				nrels, at);
		return;
	}
	if (!rd_need(r, (size_t) nrels * 4))
		return;
	t->nrels = nrels;
	t->relids = xcalloc(nrels ? (size_t) nrels : 1, sizeof(uint32_t));
	for (int32_t i = 0; i < nrels; i++)
		t->relids[i] = rd_u32(r);
}

/* Message: [xid], flags, LSN, prefix, counted content. */
static void
decode_message(reader *r, bool in_stream, pgo_message *out)
{
	pgo_logical_message *m = &out->u.message;

	read_stream_xid(r, in_stream, out);
	m->flags = rd_u8(r);
	m->transactional = (m->flags & PGO_MESSAGE_TRANSACTIONAL) != 0;
	m->lsn = rd_u64(r);
	m->prefix = rd_str(r);
	rd_counted(r, "content", &m->content, &m->len);
}

/* Stream Start: xid and whether this is the first block of it. */
static void
decode_stream_start(reader *r, pgo_message *out)
{
	out->u.stream_start.xid = rd_u32(r);
	out->u.stream_start.first_segment = rd_u8(r) == 1;
	out->xid = out->u.stream_start.xid;
}

/* Stream Commit: xid, flags, commit LSN, end LSN, commit time. */
static void
decode_stream_commit(reader *r, pgo_message *out)
{
	pgo_stream_commit *c = &out->u.stream_commit;

	c->xid = rd_u32(r);
	c->flags = rd_u8(r);
	c->commit_lsn = rd_u64(r);
	c->end_lsn = rd_u64(r);
	c->commit_time = rd_i64(r);
	out->xid = c->xid;
}

/*
 * Stream Abort: protocol 4 with streaming=parallel adds the abort LSN and
 * time; the option is not known here, so the remaining length decides.
 */
static void
decode_stream_abort(reader *r, int proto_version, pgo_message *out)
{
	pgo_stream_abort *a = &out->u.stream_abort;

	a->xid = rd_u32(r);
	a->subxid = rd_u32(r);
	out->xid = a->xid;
	if (!r->failed && proto_version >= 4 && r->pos < r->len)
	{
		a->abort_lsn = rd_u64(r);
		a->abort_time = rd_i64(r);
		a->has_abort_info = !r->failed;
	}
}

/*
 * Begin Prepare (no flags), Prepare and Stream Prepare share their layout.
 */
static void
decode_prepare(reader *r, bool has_flags, pgo_message *out)
{
	pgo_prepare *p = &out->u.prepare;

	if (has_flags)
		p->flags = rd_u8(r);
	p->prepare_lsn = rd_u64(r);
	p->end_lsn = rd_u64(r);
	p->prepare_time = rd_i64(r);
	p->xid = rd_u32(r);
	p->gid = rd_str(r);
	out->xid = p->xid;
}

/* Commit Prepared: flags, commit LSN, end LSN, commit time, xid, gid. */
static void
decode_commit_prepared(reader *r, pgo_message *out)
{
	pgo_commit_prepared *c = &out->u.commit_prepared;

	c->flags = rd_u8(r);
	c->commit_lsn = rd_u64(r);
	c->end_lsn = rd_u64(r);
	c->commit_time = rd_i64(r);
	c->xid = rd_u32(r);
	c->gid = rd_str(r);
	out->xid = c->xid;
}

/*
 * Rollback Prepared: flags, prepare end LSN, rollback end LSN, prepare
 * and rollback times, xid, gid.
 */
static void
decode_rollback_prepared(reader *r, pgo_message *out)
{
	pgo_rollback_prepared *rp = &out->u.rollback_prepared;

	rp->flags = rd_u8(r);
	rp->prepare_end_lsn = rd_u64(r);
	rp->rollback_end_lsn = rd_u64(r);
	rp->prepare_time = rd_i64(r);
	rp->rollback_time = rd_i64(r);
	rp->xid = rd_u32(r);
	rp->gid = rd_str(r);
	out->xid = rp->xid;
}

/*
 * Decode the body of a message whose kind byte has been read and checked.
 */
static void
decode_body(reader *r, int proto_version, bool in_stream, pgo_message *out)
{
	switch (out->kind)
	{
		case PGO_BEGIN:
			decode_begin(r, out);
			break;
		case PGO_COMMIT:
			decode_commit(r, out);
			break;
		case PGO_ORIGIN:
			decode_origin(r, out);
			break;
		case PGO_RELATION:
			decode_relation(r, in_stream, out);
			break;
		case PGO_TYPE:
			decode_type(r, in_stream, out);
			break;
		case PGO_INSERT:
			decode_insert(r, in_stream, out);
			break;
		case PGO_UPDATE:
			decode_update(r, in_stream, out);
			break;
		case PGO_DELETE:
			decode_delete(r, in_stream, out);
			break;
		case PGO_TRUNCATE:
			decode_truncate(r, in_stream, out);
			break;
		case PGO_MESSAGE:
			decode_message(r, in_stream, out);
			break;
		case PGO_STREAM_START:
			decode_stream_start(r, out);
			break;
		case PGO_STREAM_STOP:
			break;
		case PGO_STREAM_COMMIT:
			decode_stream_commit(r, out);
			break;
		case PGO_STREAM_ABORT:
			decode_stream_abort(r, proto_version, out);
			break;
		case PGO_BEGIN_PREPARE:
			decode_prepare(r, false, out);
			break;
		case PGO_PREPARE:
		case PGO_STREAM_PREPARE:
			decode_prepare(r, true, out);
			break;
		case PGO_COMMIT_PREPARED:
			decode_commit_prepared(r, out);
			break;
		case PGO_ROLLBACK_PREPARED:
			decode_rollback_prepared(r, out);
			break;
	}
}

/*
 * Check the kind byte against the protocol version; false (recorded in r)
 * for an unknown kind or one newer than the protocol.
 */
static bool
check_kind(reader *r, uint8_t kind, int proto_version)
{
	int			i = kind_index((char) kind);
	char		rb[8];

	if (i < 0)
	{
		rd_fail(r, "unrecognized message type %s at byte 0",
				byte_repr(kind, rb, sizeof(rb)));
		return false;
	}
	if (proto_version < kinds[i].min_proto)
	{
		rd_fail(r, "%s requires protocol version %d, stream uses version %d",
				kinds[i].name, kinds[i].min_proto, proto_version);
		return false;
	}
	return true;
}

/*
 * Decode one message; see pgoutput.h for the contract.  Every path that
 * fails releases what was allocated so far and leaves *out zeroed.
 */
int
pgo_decode(const uint8_t *buf, size_t len, int proto_version,
		   bool in_stream, pgo_message *out, char *errbuf, size_t errsize)
{
	reader		r = {buf, len, 0, 0, false, errbuf, errsize};

	memset(out, 0, sizeof(*out));
	if (errbuf != NULL && errsize > 0)
		errbuf[0] = '\0';
	if (proto_version < PGO_PROTO_MIN || proto_version > PGO_PROTO_MAX)
		rd_fail(&r, "unsupported protocol version %d", proto_version);
	else if (in_stream && proto_version < 2)
		rd_fail(&r, "streamed transactions require protocol version 2");
	else if (buf == NULL || len == 0)
		rd_fail(&r, "empty message");
	else if (check_kind(&r, buf[0], proto_version))
	{
		r.kind = (char) buf[0];
		r.pos = 1;
		out->kind = r.kind;
		decode_body(&r, proto_version, in_stream, out);
		if (!r.failed && r.pos != r.len)
			rd_fail(&r, "trailing data after %s at byte %zu",
					pgo_kind_name(r.kind), r.pos);
	}
	if (!r.failed)
		return 0;
	pgo_message_release(out);
	return -1;
}

/*
 * Free a tuple's column array; the values themselves live in the buffer.
 */
static void
tuple_free(pgo_tuple *t)
{
	free(t->cols);
	t->cols = NULL;
	t->ncols = 0;
}

/*
 * Free what pgo_decode() allocated for msg and zero it.
 */
void
pgo_message_release(pgo_message *msg)
{
	if (msg == NULL)
		return;
	switch (msg->kind)
	{
		case PGO_RELATION:
			pgo_relation_free(msg->u.relation);
			break;
		case PGO_INSERT:
			tuple_free(&msg->u.insert.newtuple);
			break;
		case PGO_UPDATE:
			tuple_free(&msg->u.update.oldtuple);
			tuple_free(&msg->u.update.newtuple);
			break;
		case PGO_DELETE:
			tuple_free(&msg->u.delete.oldtuple);
			break;
		case PGO_TRUNCATE:
			free(msg->u.truncate.relids);
			break;
		default:
			break;
	}
	memset(msg, 0, sizeof(*msg));
}

/*
 * Hand a Relation message's relation to the caller.
 */
pgo_relation *
pgo_message_take_relation(pgo_message *msg)
{
	pgo_relation *rel;

	if (msg == NULL || msg->kind != PGO_RELATION)
		return NULL;
	rel = msg->u.relation;
	msg->u.relation = NULL;
	return rel;
}

/*
 * Free a relation, its names and its attributes.
 */
void
pgo_relation_free(pgo_relation *rel)
{
	if (rel == NULL)
		return;
	for (int i = 0; i < rel->natts; i++)
		free(rel->atts[i].name);
	free(rel->atts);
	free(rel->nspname);
	free(rel->relname);
	free(rel);
}

/*
 * Copy a column value into a NUL-terminated string; "" for null and
 * unchanged values.  Embedded NULs in binary values end the C string.
 */
char *
pgo_value_strdup(const pgo_value *value)
{
	char	   *s = xmalloc((size_t) value->len + 1);

	if (value->len > 0)
		memcpy(s, value->data, value->len);
	s[value->len] = '\0';
	return s;
}

/*
 * Open-addressing hash table of relations keyed by OID; slots hold owned
 * pointers, NULL marks a free slot.  Relations are never removed one by
 * one, so lookups stop at the first free slot.
 */
struct pgo_relcache
{
	pgo_relation **slots;
	size_t		cap;			/* power of two */
	size_t		count;
};

#define RELCACHE_INITIAL_CAP 64

/*
 * An empty cache.
 */
pgo_relcache *
pgo_relcache_create(void)
{
	pgo_relcache *cache = xmalloc(sizeof(pgo_relcache));

	cache->cap = RELCACHE_INITIAL_CAP;
	cache->count = 0;
	cache->slots = xcalloc(cache->cap, sizeof(pgo_relation *));
	return cache;
}

/*
 * Free the cache and every relation in it.  NULL is fine.
 */
void
pgo_relcache_free(pgo_relcache *cache)
{
	if (cache == NULL)
		return;
	for (size_t i = 0; i < cache->cap; i++)
		pgo_relation_free(cache->slots[i]);
	free(cache->slots);
	free(cache);
}

/*
 * The slot that holds oid, or the free slot where it would go.
 */
static size_t
relcache_slot(pgo_relation *const *slots, size_t cap, uint32_t oid)
{
	size_t		i = (size_t) ((oid * UINT32_C(2654435761)) & (cap - 1));

	while (slots[i] != NULL && slots[i]->oid != oid)
		i = (i + 1) & (cap - 1);
	return i;
}

/*
 * Double the table, moving every relation to its new slot.
 */
static void
relcache_grow(pgo_relcache *cache)
{
	size_t		newcap = cache->cap * 2;
	pgo_relation **slots = xcalloc(newcap, sizeof(pgo_relation *));

	for (size_t i = 0; i < cache->cap; i++)
	{
		pgo_relation *rel = cache->slots[i];

		if (rel != NULL)
			slots[relcache_slot(slots, newcap, rel->oid)] = rel;
	}
	free(cache->slots);
	cache->slots = slots;
	cache->cap = newcap;
}

/*
 * Compare two descriptions of a relation; PGO_RELCHANGE_* bits.
 */
static unsigned
relation_diff(const pgo_relation *a, const pgo_relation *b)
{
	unsigned	diff = 0;

	if (strcmp(a->nspname, b->nspname) != 0 ||
		strcmp(a->relname, b->relname) != 0)
		diff |= PGO_RELCHANGE_NAME;
	if (a->replident != b->replident)
		diff |= PGO_RELCHANGE_IDENTITY;
	if (a->natts != b->natts)
		return diff | PGO_RELCHANGE_COLUMNS;
	for (int i = 0; i < a->natts; i++)
	{
		const pgo_attr *x = &a->atts[i];
		const pgo_attr *y = &b->atts[i];

		if (strcmp(x->name, y->name) != 0 || x->typoid != y->typoid ||
			x->typmod != y->typmod)
			diff |= PGO_RELCHANGE_COLUMNS;
		if ((x->flags & PGO_ATTR_KEY) != (y->flags & PGO_ATTR_KEY))
			diff |= PGO_RELCHANGE_IDENTITY;
	}
	return diff;
}

/*
 * Store rel (now owned by the cache), replacing and freeing any relation
 * with the same OID; returns what differs from the replaced one.
 */
unsigned
pgo_relcache_put(pgo_relcache *cache, pgo_relation *rel)
{
	size_t		i;
	unsigned	diff;

	if (rel == NULL)
		return 0;
	if ((cache->count + 1) * 2 > cache->cap)
		relcache_grow(cache);
	i = relcache_slot(cache->slots, cache->cap, rel->oid);
	if (cache->slots[i] == NULL)
	{
		cache->count++;
		diff = PGO_RELCHANGE_NEW;
	}
	else
	{
		diff = relation_diff(cache->slots[i], rel);
		pgo_relation_free(cache->slots[i]);
	}
	cache->slots[i] = rel;
	return diff;
}

/*
 * Look a relation up by OID.
 */
const pgo_relation *
pgo_relcache_get(const pgo_relcache *cache, uint32_t oid)
{
	return cache->slots[relcache_slot(cache->slots, cache->cap, oid)];
}

/*
 * Number of relations in the cache.
 */
size_t
pgo_relcache_count(const pgo_relcache *cache)
{
	return cache->count;
}

/*
 * Format an LSN the way PostgreSQL prints pg_lsn values.
 */
void
pgo_lsn_format(uint64_t lsn, char *buf, size_t bufsize)
{
	snprintf(buf, bufsize, "%" PRIX32 "/%" PRIX32,
			 (uint32_t) (lsn >> 32), (uint32_t) lsn);
}

/*
 * Parse 1-8 hex digits at *s, advancing it; false if there are none or
 * more than 8.
 */
static bool
parse_hex32(const char **s, uint32_t *out)
{
	uint32_t	v = 0;
	int			n = 0;

	for (; n < 9; n++)
	{
		char		c = (*s)[n];
		int			d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			break;
		v = (v << 4) | (uint32_t) d;
	}
	if (n == 0 || n > 8)
		return false;
	*s += n;
	*out = v;
	return true;
}

/*
 * Parse an LSN written as two hex numbers separated by '/'.
 */
bool
pgo_lsn_parse(const char *s, uint64_t *lsn)
{
	uint32_t	hi,
				lo;

	if (s == NULL || !parse_hex32(&s, &hi) || *s++ != '/' ||
		!parse_hex32(&s, &lo) || *s != '\0')
		return false;
	*lsn = ((uint64_t) hi << 32) | lo;
	return true;
}

/*
 * Add b to a, saturating at the int64 range.
 */
static int64_t
add_saturating(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	if (b < 0 && a < INT64_MIN - b)
		return INT64_MIN;
	return a + b;
}

/*
 * PostgreSQL timestamp to microseconds since the Unix epoch.
 */
int64_t
pgo_time_to_unix_usec(int64_t pgtime)
{
	return add_saturating(pgtime, PGO_EPOCH_OFFSET_USEC);
}

/*
 * Microseconds since the Unix epoch to a PostgreSQL timestamp.
 */
int64_t
pgo_time_from_unix_usec(int64_t unix_usec)
{
	return add_saturating(unix_usec, -PGO_EPOCH_OFFSET_USEC);
}

/*
 * PostgreSQL timestamp to Unix seconds, rounding toward minus infinity.
 */
time_t
pgo_time_to_unix(int64_t pgtime)
{
	int64_t		usec = pgo_time_to_unix_usec(pgtime);
	int64_t		sec = usec / 1000000;

	if (usec % 1000000 < 0)
		sec--;
	return (time_t) sec;
}
