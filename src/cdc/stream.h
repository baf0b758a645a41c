/*
 * stream.h
 *		The logical replication stream from the source's slot.
 *
 * A cdc_stream is one replication connection streaming a slot with the
 * pgoutput plugin (protocol version 1, no streaming of transactions in
 * progress: the source sends each transaction whole at its commit).
 * Reading never blocks: the caller waits on cdc_stream_socket() itself,
 * together with the target's socket, and calls cdc_stream_read() when it
 * is readable.  The header of each CopyData message is decoded here; the
 * pgoutput payload of an XLogData message is left to pgo_decode().
 *
 * Failures fill the caller's failure value here (core/failure.h): the
 * caller captures them and shows them as warnings when it tries again.  A
 * failure errclass.h counts as transient (a lost connection, a server
 * shutting down or starting, a slot still held by an earlier session) is
 * reported as CDC_LOST, which the caller answers by reconnecting
 * later; any other failure is CDC_FAILED.
 */
#ifndef PGCRANE_CDC_STREAM_H
#define PGCRANE_CDC_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "cdc/outcome.h"

/*
 * Results of cdc_stream_start() and cdc_stream_read(): these two, or
 * CDC_FAILED (give up) and CDC_LOST (try again later) of outcome.h.
 */
#define CDC_STREAM_MESSAGE	1		/* *msg filled */
#define CDC_STREAM_NONE		0		/* nothing complete yet: wait */

/* The pgoutput protocol version pgcrane asks for. */
#define CDC_PROTO_VERSION	1

/* Sizes of the replication protocol's messages. */
#define CDC_XLOGDATA_HEADER 25	/* 'w', start, end, send time */
#define CDC_KEEPALIVE_SIZE	18	/* 'k', wal end, send time, reply flag */
#define CDC_FEEDBACK_SIZE	34	/* 'r', write, flush, apply, time, reply */

typedef struct cdc_stream_msg
{
	char		kind;			/* 'w' XLogData or 'k' keepalive */
	uint64_t	wal_start;		/* 'w' only */
	uint64_t	wal_end;		/* the server's WAL end (sent position) */
	int64_t		send_time;		/* PostgreSQL timestamp */
	bool		reply_requested;	/* 'k' only */
	const uint8_t *data;		/* 'w' payload; valid until the next read */
	size_t		len;
} cdc_stream_msg;

typedef struct cdc_stream
{
	PGconn	   *conn;			/* replication connection, owned */
	bool		broken;			/* the stream ended or failed */
	char	   *buf;			/* last CopyData buffer, PQfreemem'd on next read */
	uint64_t	received_lsn;	/* highest WAL end seen in any message */
	uint64_t	sent_flush;		/* flush position in the last status update */
	double		last_feedback;	/* clock_now() of the last status update */
} cdc_stream;

#define CDC_STREAM_INIT {NULL, false, NULL, 0, 0, 0.0}

/*
 * Connect to the source and START_REPLICATION SLOT slot LOGICAL at
 * start_lsn for the publication.  CDC_STREAM_MESSAGE (started),
 * CDC_LOST or CDC_FAILED.
 */
int			cdc_stream_start(cdc_stream *s, const char *source, const char *slot,
							 const char *publication, uint64_t start_lsn);

/*
 * Read the next message without waiting; see the CDC_STREAM_* results.
 * A message's data stays valid until the next call or cdc_stream_close().
 */
int			cdc_stream_read(cdc_stream *s, cdc_stream_msg *msg);

/*
 * Send a standby status update: write, flush and apply positions, and
 * whether the server should answer with a keepalive at once.  0, or
 * CDC_LOST / CDC_FAILED (logged; CDC_LOST without a
 * message when the stream has ended already).
 */
int			cdc_stream_feedback(cdc_stream *s, uint64_t write, uint64_t flush,
								uint64_t apply, bool reply);

/* The socket to wait on, -1 when not connected. */
int			cdc_stream_socket(const cdc_stream *s);

/* End the stream and close the connection.  Safe to call twice. */
void		cdc_stream_close(cdc_stream *s);

/*
 * Protocol pieces, pure (exposed for unit tests).
 */

/* Decode a CopyData message; 0, or -1 with the reason in err. */
int			cdc_stream_parse(const uint8_t *buf, size_t len, cdc_stream_msg *msg,
							 char *err, size_t errsize);

/* Encode a standby status update into buf (CDC_FEEDBACK_SIZE bytes). */
void		cdc_stream_encode_feedback(uint8_t *buf, uint64_t write, uint64_t flush,
									   uint64_t apply, int64_t now, bool reply);

/* The START_REPLICATION command text; you own it. */
char	   *cdc_stream_command(const char *quoted_slot, const char *publication_literal,
							   uint64_t start_lsn);

/* Now as a PostgreSQL timestamp (microseconds since 2000-01-01 UTC). */
int64_t		cdc_now(void);

#endif
