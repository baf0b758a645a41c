/*
 * stream.c
 *		The logical replication stream from the source's slot.
 *
 * The protocol, as pg_recvlogical speaks it:
 *
 *	1.	A connection with replication=database runs
 *
 *			START_REPLICATION SLOT "slot" LOGICAL X/Y
 *				(proto_version '1', publication_names '"pub"')
 *
 *		and the server answers CopyBothResponse.  X/Y is where to start:
 *		the walsender begins at the later of X/Y and the slot's confirmed
 *		flush position, and skips every transaction whose commit record
 *		starts before that point.  Giving the end LSN of the last commit
 *		the target holds therefore resumes exactly after it.
 *
 *	2.	The server then sends CopyData messages of two kinds:
 *
 *			'w' XLogData:  int64 start LSN, int64 WAL end, int64 send time,
 *						   then one pgoutput message (pgoutput.h)
 *			'k' keepalive: int64 WAL end, int64 send time, byte reply
 *						   requested
 *
 *		The WAL end of a keepalive is how far the walsender has decoded
 *		the source's WAL: every transaction that committed before it has
 *		been sent already, on the same connection, before the keepalive.
 *
 *	3.	The client sends CopyData 'r' standby status updates: int64 write,
 *		flush and apply LSNs, int64 send time and a byte asking the server
 *		to answer with a keepalive at once.  The flush position is what
 *		the slot keeps: the source may remove WAL up to it, and a later
 *		START_REPLICATION never goes back before it.  pgcrane reports as
 *		flushed only what the target holds durably (follow.c decides), so
 *		a crash of either side loses nothing.  The walsender ends a
 *		session it has not heard from in wal_sender_timeout (default one
 *		minute); updates go out every few seconds and whenever the server
 *		asks for one.
 *
 *	4.	Either side may end the copy; a server shutting down ends it with
 *		an error or simply closes the connection.
 *
 * Transactions are not streamed while in progress (no "streaming" option):
 * a transaction larger than logical_decoding_work_mem is spilled to disk
 * by the walsender and sent whole at its commit, so every transaction
 * arrives as Begin, changes, Commit, in commit order.
 *
 * Nothing here blocks waiting for the server: cdc_stream_read() reads what
 * has arrived (PQconsumeInput, PQgetCopyData in async mode) and the caller
 * waits on the socket.
 */
#include "cdc/stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "cdc/pgoutput.h"
#include "cdc/slot.h"
#include "core/conn.h"
#include "core/failure.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/str.h"

/* Read a big-endian unsigned integer of n bytes. */
static uint64_t
get_be(const uint8_t *p, int n)
{
	uint64_t	v = 0;

	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Write a big-endian 64-bit integer. */
static void
put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--)
	{
		p[i] = (uint8_t) (v & 0xff);
		v >>= 8;
	}
}

int64_t
cdc_now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return pgo_time_from_unix_usec((int64_t) tv.tv_sec * 1000000 + tv.tv_usec);
}

int
cdc_stream_parse(const uint8_t *buf, size_t len, cdc_stream_msg *msg,
				 char *err, size_t errsize)
{
	memset(msg, 0, sizeof(*msg));
	if (len == 0)
	{
		snprintf(err, errsize, "empty message in the replication stream");
		return -1;
	}
	msg->kind = (char) buf[0];
	if (msg->kind == 'w' && len >= CDC_XLOGDATA_HEADER)
	{
		msg->wal_start = get_be(buf + 1, 8);
		msg->wal_end = get_be(buf + 9, 8);
		msg->send_time = (int64_t) get_be(buf + 17, 8);
		msg->data = buf + CDC_XLOGDATA_HEADER;
		msg->len = len - CDC_XLOGDATA_HEADER;
		return 0;
	}
	if (msg->kind == 'k' && len >= CDC_KEEPALIVE_SIZE)
	{
		msg->wal_end = get_be(buf + 1, 8);
		msg->send_time = (int64_t) get_be(buf + 9, 8);
		msg->reply_requested = buf[17] != 0;
		return 0;
	}
	if (msg->kind == 'w' || msg->kind == 'k')
		snprintf(err, errsize, "truncated %s message of %zu bytes in the replication stream",
				 msg->kind == 'w' ? "XLogData" : "keepalive", len);
	else
		snprintf(err, errsize, "unrecognized message type 0x%02x in the replication stream",
				 (unsigned) buf[0]);
	return -1;
}

void
cdc_stream_encode_feedback(uint8_t *buf, uint64_t write, uint64_t flush,
						   uint64_t apply, int64_t now, bool reply)
{
	buf[0] = 'r';
	put_be64(buf + 1, write);
	put_be64(buf + 9, flush);
	put_be64(buf + 17, apply);
	put_be64(buf + 25, (uint64_t) now);
	buf[33] = reply ? 1 : 0;
}

char *
cdc_stream_command(const char *quoted_slot, const char *publication_literal,
				   uint64_t start_lsn)
{
	char		lsn[PGO_LSN_BUFSIZE];

	pgo_lsn_format(start_lsn, lsn, sizeof(lsn));
	return str_printf("START_REPLICATION SLOT %s LOGICAL %s "
					  "(proto_version '%d', publication_names %s)",
					  quoted_slot, lsn, CDC_PROTO_VERSION, publication_literal);
}

/*
 * A failure of the stream: fill the follow's failure value (which logs it
 * as a warning when the session is tried again) and classify it by
 * errclass.h: the server going away or starting, a broken connection, a
 * slot still held by a walsender that has not noticed yet that its client
 * (an earlier pgcrane) is gone are CDC_LOST.  Without a result,
 * libpq itself failed on the connection: lost as well.
 */
static int
stream_failure(cdc_stream *s, const PGresult *res, const char *what)
{
	const char *state = res ? conn_sqlstate(res) : "";
	const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char		buf[512];
	bool		transient;

	if (m == NULL)
		m = conn_error_message(s->conn, buf, sizeof(buf));
	s->broken = true;
	transient = failure_set(SIDE_SOURCE, state, NULL,
							res == NULL || PQstatus(s->conn) == CONNECTION_BAD,
							"%s on source server: %s%s%s%s", what, m,
							state[0] ? " (SQLSTATE " : "", state, state[0] ? ")" : "");
	return transient ? CDC_LOST : CDC_FAILED;
}

/* Run START_REPLICATION on the open connection. */
static int
start_replication(cdc_stream *s, const char *slot, const char *publication,
				  uint64_t start_lsn)
{
	char	   *qslot = conn_quote_ident(s->conn, slot);
	char	   *qpub = conn_quote_ident(s->conn, publication);
	char	   *lit = PQescapeLiteral(s->conn, qpub, strlen(qpub));
	char	   *sql;
	PGresult   *res;
	int			rc = CDC_STREAM_MESSAGE;

	if (lit == NULL)
		BUG("could not quote a publication name");
	sql = cdc_stream_command(qslot, lit, start_lsn);
	PQfreemem(lit);
	free(qslot);
	free(qpub);
	log_debug("%s", sql);
	res = PQexec(s->conn, sql);
	free(sql);
	if (PQresultStatus(res) != PGRES_COPY_BOTH)
	{
		char	   *what = str_printf("could not start streaming from slot \"%s\"", slot);

		rc = stream_failure(s, res, what);
		free(what);
	}
	PQclear(res);
	return rc;
}

int
cdc_stream_start(cdc_stream *s, const char *source, const char *slot,
				 const char *publication, uint64_t start_lsn)
{
	char		state[6];
	char		msg[1024];
	int			rc;

	cdc_stream_close(s);
	s->conn = cdc_repl_try_connect(source, state, msg, sizeof(msg));
	if (s->conn == NULL)
	{
		/* A wrong password or database will not fix itself. */
		return failure_set(SIDE_SOURCE, state, NULL, false,
						   "could not open a replication connection to the source server: %s",
						   msg) ? CDC_LOST : CDC_FAILED;
	}
	rc = start_replication(s, slot, publication, start_lsn);
	if (rc != CDC_STREAM_MESSAGE)
	{
		cdc_stream_close(s);
		return rc;
	}
	if (PQsetnonblocking(s->conn, 1) != 0)
	{
		cdc_stream_close(s);
		return error("could not make the replication connection non-blocking");
	}
	s->broken = false;
	s->received_lsn = start_lsn;
	s->sent_flush = 0;
	s->last_feedback = 0.0;
	return CDC_STREAM_MESSAGE;
}

/* The copy ended or broke: fetch the server's reason and classify it. */
static int
stream_ended(cdc_stream *s)
{
	PGresult   *res = PQgetResult(s->conn);
	int			rc;

	if (res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK)
	{
		/* The server ended the copy on its own: a clean shutdown. */
		(void) failure_set(SIDE_SOURCE, NULL, NULL, true,
						   "the source server ended the replication stream");
		s->broken = true;
		rc = CDC_LOST;
	}
	else
		rc = stream_failure(s, res, "replication stream lost");
	PQclear(res);
	return rc;
}

int
cdc_stream_read(cdc_stream *s, cdc_stream_msg *msg)
{
	char		err[256];
	int			n;

	if (s->buf)
	{
		PQfreemem(s->buf);
		s->buf = NULL;
	}
	if (s->conn == NULL)
		BUG("cdc_stream_read without a connection");
	/* A status update the socket could not take at once goes out now. */
	if (PQflush(s->conn) < 0)
		return stream_failure(s, NULL, "replication stream lost");
	n = PQgetCopyData(s->conn, &s->buf, 1);
	if (n == 0)
	{
		if (PQconsumeInput(s->conn) == 0)
			return stream_failure(s, NULL, "replication stream lost");
		n = PQgetCopyData(s->conn, &s->buf, 1);
	}
	if (n == 0)
		return CDC_STREAM_NONE;
	if (n == -1)
		return stream_ended(s);
	if (n < 0)
		return stream_failure(s, NULL, "replication stream lost");
	if (cdc_stream_parse((const uint8_t *) s->buf, (size_t) n, msg, err,
						 sizeof(err)) != 0)
		return error("%s", err);
	if (msg->wal_end > s->received_lsn)
		s->received_lsn = msg->wal_end;
	return CDC_STREAM_MESSAGE;
}

int
cdc_stream_feedback(cdc_stream *s, uint64_t write, uint64_t flush,
					uint64_t apply, bool reply)
{
	uint8_t		buf[CDC_FEEDBACK_SIZE];

	if (s->conn == NULL || s->broken)
		return CDC_LOST;
	cdc_stream_encode_feedback(buf, write, flush, apply, cdc_now(), reply);
	if (PQputCopyData(s->conn, (const char *) buf, sizeof(buf)) <= 0 ||
		PQflush(s->conn) < 0)
		return stream_failure(s, NULL, "could not send a status update");
	s->sent_flush = flush;
	s->last_feedback = clock_now();
	return 0;
}

int
cdc_stream_socket(const cdc_stream *s)
{
	return s->conn ? PQsocket(s->conn) : -1;
}

void
cdc_stream_close(cdc_stream *s)
{
	if (s->buf)
	{
		PQfreemem(s->buf);
		s->buf = NULL;
	}
	if (s->conn)
	{
		PQfinish(s->conn);
		s->conn = NULL;
	}
}
