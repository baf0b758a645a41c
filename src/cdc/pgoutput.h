/*
 * pgoutput.h
 *		Decoder for the messages of PostgreSQL's built-in pgoutput plugin.
 *
 * pgo_decode() turns the payload of one XLogData ('w') message of a logical
 * replication stream into a pgo_message.  It is pure: bytes in, a record
 * out, no I/O and no libpq.  It never reads past the length it is given
 * and fails cleanly on any malformed input.  Protocol versions 1 to 4 are
 * understood.
 *
 * Ownership and lifetime:
 *
 *	- Column values (pgo_value.data) and the strings of every message kind
 *	  except Relation (origin name, type names, message prefix and content,
 *	  two-phase gid) point INTO the input buffer: they are valid only as
 *	  long as that buffer is.  Strings are NUL-terminated; column values
 *	  are not (use pgo_value_strdup() for a C string).
 *	- A Relation message's pgo_relation is allocated by the decoder.  It
 *	  belongs to the message until pgo_message_take_relation() hands it to
 *	  the caller, usually straight on to pgo_relcache_put(), which keeps it.
 *	- Tuple column arrays and Truncate relid arrays are allocated; they are
 *	  freed by pgo_message_release(), which every successful pgo_decode()
 *	  must be paired with.  After a failed decode there is nothing to free.
 *
 * Errors are PostgreSQL-style: lowercase, no trailing period, e.g.
 * "invalid pgoutput message: truncated Insert at byte 12".
 *
 * The decoder does not check message order (a Begin inside a Stream Start
 * block, a change outside a transaction); the caller's state machine does,
 * and tells pgo_decode() whether a streamed block is open, since changes
 * inside one carry the streamed transaction's xid.
 */
#ifndef PGCRANE_PGOUTPUT_H
#define PGCRANE_PGOUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define PGO_PROTO_MIN 1
#define PGO_PROTO_MAX 4

/* Message kinds: the first byte of each message. */
#define PGO_BEGIN				'B'
#define PGO_COMMIT				'C'
#define PGO_ORIGIN				'O'
#define PGO_RELATION			'R'
#define PGO_TYPE				'Y'
#define PGO_INSERT				'I'
#define PGO_UPDATE				'U'
#define PGO_DELETE				'D'
#define PGO_TRUNCATE			'T'
#define PGO_MESSAGE				'M'
#define PGO_STREAM_START		'S'		/* protocol 2 and later */
#define PGO_STREAM_STOP			'E'
#define PGO_STREAM_COMMIT		'c'
#define PGO_STREAM_ABORT		'A'
#define PGO_BEGIN_PREPARE		'b'		/* protocol 3 and later */
#define PGO_PREPARE				'P'
#define PGO_COMMIT_PREPARED		'K'
#define PGO_ROLLBACK_PREPARED	'r'
#define PGO_STREAM_PREPARE		'p'

/* Column value kinds in tuple data. */
#define PGO_VALUE_NULL			'n'
#define PGO_VALUE_UNCHANGED		'u'		/* unchanged TOASTed value, not sent */
#define PGO_VALUE_TEXT			't'
#define PGO_VALUE_BINARY		'b'

/* pgo_attr.flags */
#define PGO_ATTR_KEY			0x01	/* part of the replica identity */

/* Truncate options */
#define PGO_TRUNCATE_CASCADE	0x01
#define PGO_TRUNCATE_RESTART_IDENTITY 0x02

/* Message flags */
#define PGO_MESSAGE_TRANSACTIONAL 0x01

/* Replica identity settings (pgo_relation.replident). */
#define PGO_REPLIDENT_DEFAULT	'd'
#define PGO_REPLIDENT_NOTHING	'n'
#define PGO_REPLIDENT_FULL		'f'
#define PGO_REPLIDENT_INDEX		'i'

/* One column of a tuple; data points into the message buffer. */
typedef struct pgo_value
{
	char		kind;			/* PGO_VALUE_* */
	uint32_t	len;			/* bytes at data; 0 for null/unchanged */
	const uint8_t *data;		/* NULL for null/unchanged, not terminated */
} pgo_value;

typedef struct pgo_tuple
{
	int			ncols;
	pgo_value  *cols;			/* allocated, ncols entries */
} pgo_tuple;

typedef struct pgo_attr
{
	uint8_t		flags;			/* PGO_ATTR_KEY */
	char	   *name;
	uint32_t	typoid;
	int32_t		typmod;
} pgo_attr;

/* A relation as described by a Relation message; all storage allocated. */
typedef struct pgo_relation
{
	uint32_t	oid;
	char	   *nspname;		/* "pg_catalog" when the wire says "" */
	char	   *relname;
	char		replident;		/* PGO_REPLIDENT_* */
	int			natts;
	pgo_attr   *atts;
} pgo_relation;

typedef struct pgo_begin
{
	uint64_t	final_lsn;
	int64_t		commit_time;
	uint32_t	xid;
} pgo_begin;

typedef struct pgo_commit
{
	uint8_t		flags;
	uint64_t	commit_lsn;
	uint64_t	end_lsn;
	int64_t		commit_time;
} pgo_commit;

typedef struct pgo_origin
{
	uint64_t	lsn;			/* commit LSN on the origin server */
	const char *name;
} pgo_origin;

typedef struct pgo_type
{
	uint32_t	oid;
	const char *nspname;		/* "pg_catalog" when the wire says "" */
	const char *name;
} pgo_type;

typedef struct pgo_insert
{
	uint32_t	relid;
	pgo_tuple	newtuple;
} pgo_insert;

typedef struct pgo_update
{
	uint32_t	relid;
	char		old_kind;		/* 'K' old key, 'O' old tuple, 0 none */
	pgo_tuple	oldtuple;		/* empty unless old_kind */
	pgo_tuple	newtuple;
} pgo_update;

typedef struct pgo_delete
{
	uint32_t	relid;
	char		old_kind;		/* 'K' key columns only, 'O' whole row */
	pgo_tuple	oldtuple;
} pgo_delete;

typedef struct pgo_truncate
{
	int			nrels;
	uint32_t   *relids;			/* allocated, nrels entries */
	uint8_t		options;		/* PGO_TRUNCATE_* */
} pgo_truncate;

typedef struct pgo_logical_message
{
	bool		transactional;
	uint8_t		flags;
	uint64_t	lsn;
	const char *prefix;
	const uint8_t *content;		/* into the buffer, len bytes */
	uint32_t	len;
} pgo_logical_message;

typedef struct pgo_stream_start
{
	uint32_t	xid;
	bool		first_segment;
} pgo_stream_start;

typedef struct pgo_stream_commit
{
	uint32_t	xid;
	uint8_t		flags;
	uint64_t	commit_lsn;
	uint64_t	end_lsn;
	int64_t		commit_time;
} pgo_stream_commit;

typedef struct pgo_stream_abort
{
	uint32_t	xid;
	uint32_t	subxid;			/* equals xid when the whole xact aborts */
	bool		has_abort_info; /* protocol 4 with streaming=parallel */
	uint64_t	abort_lsn;
	int64_t		abort_time;
} pgo_stream_abort;

/* Begin Prepare; Prepare and Stream Prepare use the same fields. */
typedef struct pgo_prepare
{
	uint8_t		flags;			/* 0 for Begin Prepare, which has none */
	uint64_t	prepare_lsn;
	uint64_t	end_lsn;
	int64_t		prepare_time;
	uint32_t	xid;
	const char *gid;
} pgo_prepare;

typedef struct pgo_commit_prepared
{
	uint8_t		flags;
	uint64_t	commit_lsn;
	uint64_t	end_lsn;
	int64_t		commit_time;
	uint32_t	xid;
	const char *gid;
} pgo_commit_prepared;

typedef struct pgo_rollback_prepared
{
	uint8_t		flags;
	uint64_t	prepare_end_lsn;
	uint64_t	rollback_end_lsn;
	int64_t		prepare_time;
	int64_t		rollback_time;
	uint32_t	xid;
	const char *gid;
} pgo_rollback_prepared;

typedef struct pgo_message
{
	char		kind;			/* PGO_* message kind */

	/*
	 * The transaction the message names: for changes inside a stream
	 * block the xid they carry (the subtransaction's when the change was
	 * made under a savepoint, see Stream Abort's subxid), otherwise the
	 * xid field of Begin, the stream and the two-phase messages; 0 when
	 * the message has none (changes of a non-streamed transaction take
	 * their xid from its Begin).
	 */
	uint32_t	xid;
	union
	{
		pgo_begin	begin;
		pgo_commit	commit;
		pgo_origin	origin;
		pgo_relation *relation;
		pgo_type	type;
		pgo_insert	insert;
		pgo_update	update;
		pgo_delete	delete;
		pgo_truncate truncate;
		pgo_logical_message message;
		pgo_stream_start stream_start;
		pgo_stream_commit stream_commit;
		pgo_stream_abort stream_abort;
		pgo_prepare prepare;	/* Begin Prepare, Prepare, Stream Prepare */
		pgo_commit_prepared commit_prepared;
		pgo_rollback_prepared rollback_prepared;
	}			u;
} pgo_message;

/*
 * Decode one pgoutput message of len bytes.  proto_version is the
 * proto_version the stream was started with (1-4); in_stream says that a
 * Stream Start has been seen without its Stream Stop, so that changes carry
 * an xid.  Returns 0 and fills *out, or -1 with the reason in errbuf
 * (errsize bytes, may be 0) and *out zeroed.
 */
int			pgo_decode(const uint8_t *buf, size_t len, int proto_version,
					   bool in_stream, pgo_message *out,
					   char *errbuf, size_t errsize);

/* Free what pgo_decode() allocated; *msg is zeroed.  NULL is fine. */
void		pgo_message_release(pgo_message *msg);

/*
 * Take the relation out of a decoded Relation message: the caller owns it
 * from now on (pgo_relation_free() or pgo_relcache_put()).  NULL if msg is
 * not a Relation message or its relation was taken already.
 */
pgo_relation *pgo_message_take_relation(pgo_message *msg);

/* Free a relation and everything in it.  NULL is fine. */
void		pgo_relation_free(pgo_relation *rel);

/* "Insert", "Stream Abort", ...; "unknown" for anything else. */
const char *pgo_kind_name(char kind);

/* A NUL-terminated copy of a text or binary value; caller frees. */
char	   *pgo_value_strdup(const pgo_value *value);

/*
 * Relation cache keyed by relation OID.  It owns the relations put in it;
 * a pointer from pgo_relcache_get() is valid until that OID is put again
 * or the cache is freed.
 */
typedef struct pgo_relcache pgo_relcache;

/* What pgo_relcache_put() found compared with the relation it replaced. */
#define PGO_RELCHANGE_NEW		0x01	/* OID not seen before */
#define PGO_RELCHANGE_COLUMNS	0x02	/* column count, names, types or typmods */
#define PGO_RELCHANGE_NAME		0x04	/* schema or table name */
#define PGO_RELCHANGE_IDENTITY	0x08	/* replica identity or key columns */

pgo_relcache *pgo_relcache_create(void);
void		pgo_relcache_free(pgo_relcache *cache);

/*
 * Store rel, taking ownership, and free the relation it replaces.  Returns
 * PGO_RELCHANGE_* bits; 0 means an identical description was re-sent.
 */
unsigned	pgo_relcache_put(pgo_relcache *cache, pgo_relation *rel);

/* The relation with this OID, or NULL. */
const pgo_relation *pgo_relcache_get(const pgo_relcache *cache, uint32_t oid);

/* Number of relations held. */
size_t		pgo_relcache_count(const pgo_relcache *cache);

/* Buffer size that holds any formatted LSN with its terminator. */
#define PGO_LSN_BUFSIZE 18

/* Format an LSN as PostgreSQL does: "16/B374D848". */
void		pgo_lsn_format(uint64_t lsn, char *buf, size_t bufsize);

/* Parse "16/B374D848" (1-8 hex digits each side); false on bad input. */
bool		pgo_lsn_parse(const char *s, uint64_t *lsn);

/* Microseconds between 1970-01-01 and 2000-01-01 (PostgreSQL's epoch). */
#define PGO_EPOCH_OFFSET_USEC INT64_C(946684800000000)

/*
 * PostgreSQL timestamps (microseconds since 2000-01-01 UTC) to Unix time
 * and back; results saturate at the int64 range instead of overflowing
 * (PostgreSQL's infinity values are INT64_MIN and INT64_MAX).
 */
int64_t		pgo_time_to_unix_usec(int64_t pgtime);
int64_t		pgo_time_from_unix_usec(int64_t unix_usec);

/* Whole seconds since 1970-01-01, rounded down. */
time_t		pgo_time_to_unix(int64_t pgtime);

#endif
