/*
 * copy.c
 *		Stream rows from the source to the target with COPY.
 *
 * The target side is started first (COPY ... FROM STDIN), then the source
 * side (COPY ... TO STDOUT); each chunk libpq hands over from the source is
 * passed to the target as it is, so memory use does not depend on table
 * size.  The row count is the target's own (the COPY command tag).
 */
#include "core/copy.h"

#include <stdlib.h>
#include <string.h>

#include "core/blockrange.h"
#include "core/conn.h"
#include "core/failure.h"
#include "util/log.h"
#include "util/str.h"

int
copy_split_shares(const cat_table *t, int64_t split_bytes, int workers)
{
	int64_t		n = 1;

	/* An extension's configuration table: one filtered part. */
	if (split_bytes > 0 && t->bytes > split_bytes && t->heap_pages > 1 && !t->filter)
		n = (t->bytes + split_bytes - 1) / split_bytes;
	/* A whole number of rounds: no worker copies the last share alone. */
	if (n > 1 && workers > 1 && n % workers != 0)
		n += workers - n % workers;
	if (n > COPY_MAX_PARTS)
		n = COPY_MAX_PARTS;
	/* No empty part: at most one per block. */
	if (n > t->heap_pages)
		n = t->heap_pages > 1 ? t->heap_pages : 1;
	return (int) n;
}

/*
 * The size of each part in eighths of a share.  With several workers the
 * last round is tapered: instead of one share per worker, one half, one
 * quarter and two eighths of a share per worker, so that a worker whose
 * earlier parts ran slower (beside index builds, or on larger rows)
 * leaves the small parts to the others, and the workers end within about
 * an eighth of a share of each other.  Only where every eighth has a
 * block of its own.
 */
static int
part_eighths(const cat_table *t, int shares, int workers, int *e)
{
	int			n = 0;

	if (workers > 1 && shares >= workers &&
		shares + 3 * workers <= COPY_MAX_PARTS &&
		8 * (int64_t) shares <= t->heap_pages)
	{
		for (int i = 0; i < shares - workers; i++)
			e[n++] = 8;
		for (int i = 0; i < workers; i++)
			e[n++] = 4;
		for (int i = 0; i < workers; i++)
			e[n++] = 2;
		for (int i = 0; i < 2 * workers; i++)
			e[n++] = 1;
		return n;
	}
	for (int i = 0; i < shares; i++)
		e[n++] = 8;
	return n;
}

int
copy_plan_parts(const cat_table *t, int64_t split_bytes, int workers,
				copy_part *parts)
{
	int			shares = copy_split_shares(t, split_bytes, workers);
	int			e[COPY_MAX_PARTS];
	int			n = part_eighths(t, shares, workers, e);
	int64_t		blocks = t->heap_pages,
				left = blocks,
				at = 0;

	/* Whole shares: cut as every reader of block ranges cuts. */
	if (n == shares)
	{
		for (int i = 0; i < n; i++)
		{
			block_range r = blockrange_part(blocks, i, n);

			parts[i] = (copy_part) {i, n, r.first, r.end};
		}
		return n;
	}
	/*
	 * Tapered: parts of one size get the same number of blocks (the engine
	 * then takes them in order), and the first part the rest.
	 */
	for (int i = 0; i < n; i++)
		left -= blocks * e[i] / (8 * (int64_t) shares);
	for (int i = 0; i < n; i++)
	{
		int64_t		size = blocks * e[i] / (8 * (int64_t) shares) + (i == 0 ? left : 0);

		parts[i] = (copy_part) {i, n, at, i < n - 1 ? at + size : -1};
		at += size;
	}
	return n;
}

static char *
source_sql(const cat_table *t, const copy_part *part)
{
	const char *fmt = t->binary ? " (FORMAT binary)" : "";
	strbuf		sb = STRBUF_INIT;
	char	   *range;

	/* The condition is the extension's, from the source's catalog. */
	if (t->filter)
	{
		strbuf_addf(&sb, "COPY (SELECT %s FROM ONLY %s %s) TO STDOUT%s",
					t->columns, t->qname, t->filter, fmt);
		return strbuf_detach(&sb);
	}
	if (part->nparts == 1)
	{
		if (t->ncolumns > 0)
			strbuf_addf(&sb, "COPY %s (%s) TO STDOUT%s", t->qname, t->columns, fmt);
		else
			strbuf_addf(&sb, "COPY %s TO STDOUT%s", t->qname, fmt);
		return strbuf_detach(&sb);
	}
	range = blockrange_condition(&(block_range) {part->first_block, part->end_block});
	strbuf_addf(&sb, "COPY (SELECT %s FROM ONLY %s WHERE %s", t->columns, t->qname,
				range ? range : "true");
	free(range);
	strbuf_addf(&sb, ") TO STDOUT%s", fmt);
	return strbuf_detach(&sb);
}

static char *
target_sql(const cat_table *t, const copy_part *part)
{
	strbuf		sb = STRBUF_INIT;
	bool		freeze = part->nparts == 1 && !t->filter;

	strbuf_addf(&sb, "COPY %s", t->qname);
	if (t->ncolumns > 0)
		strbuf_addf(&sb, " (%s)", t->columns);
	strbuf_adds(&sb, " FROM STDIN");
	if (t->binary && freeze)
		strbuf_adds(&sb, " (FORMAT binary, FREEZE)");
	else if (t->binary)
		strbuf_adds(&sb, " (FORMAT binary)");
	else if (freeze)
		strbuf_adds(&sb, " (FREEZE)");
	return strbuf_detach(&sb);
}

/* Start a COPY; expects status want.  0 or -1 (logged). */
static int
start_copy(PGconn *conn, const char *side, const char *sql,
		   ExecStatusType want, const cat_table *t)
{
	PGresult   *res = PQexec(conn, sql);
	int			rc = 0;

	if (PQresultStatus(res) != want)
	{
		char	   *what = str_printf("copy table \"%s\"", t->display);

		conn_log_result_error(res, side, what);
		free(what);
		rc = -1;
	}
	PQclear(res);
	return rc;
}

/*
 * Stop a COPY TO STDOUT that is still sending: ask the server to cancel it
 * and read what is left, so the connection leaves COPY mode.
 */
static void
abandon_copy_out(PGconn *conn)
{
	PGcancel   *cancel = PQgetCancel(conn);
	char		err[256];
	char	   *buf;

	if (cancel)
	{
		PQcancel(cancel, err, sizeof(err));
		PQfreeCancel(cancel);
	}
	while (PQgetCopyData(conn, &buf, 0) > 0)
		PQfreemem(buf);
}

/* Final result of a COPY; rows from its tag when rows is not NULL. */
static int
finish_copy(PGconn *conn, const char *side, const cat_table *t, int64_t *rows)
{
	PGresult   *res;
	int			rc = 0;

	while ((res = PQgetResult(conn)) != NULL)
	{
		ExecStatusType st = PQresultStatus(res);

		if (st == PGRES_COPY_OUT)
			abandon_copy_out(conn);
		else if (st == PGRES_COPY_IN)
			PQputCopyEnd(conn, "copy stopped");
		if (st == PGRES_COPY_OUT || st == PGRES_COPY_IN)
			rc = -1;
		else if (st != PGRES_COMMAND_OK && rc == 0)
		{
			char	   *what = str_printf("copy table \"%s\"", t->display);

			conn_log_result_error(res, side, what);
			free(what);
			rc = -1;
		}
		else if (rows && st == PGRES_COMMAND_OK)
			*rows = strtoll(PQcmdTuples(res), NULL, 10);
		PQclear(res);
	}
	return rc;
}

/* Move the data; 0 when the source reached its end normally. */
static int
pump(PGconn *src, PGconn *tgt, const cat_table *t, copy_result *r,
	 _Atomic int64_t *bytes_counter, const interrupt_flag *cancel)
{
	char	   *buf;
	int			n;
	char		msg[512];

	while ((n = PQgetCopyData(src, &buf, 0)) > 0)
	{
		int			ok = PQputCopyData(tgt, buf, n);

		PQfreemem(buf);
		if (ok != 1)
		{
			(void) failure_set(SIDE_TARGET, NULL, t->display,
							   PQstatus(tgt) == CONNECTION_BAD,
							   "could not copy table \"%s\" on target server: %s",
							   t->display, conn_error_message(tgt, msg, sizeof(msg)));
			return -1;
		}
		r->bytes += n;
		atomic_fetch_add(bytes_counter, n);
		if (*cancel)
			return -1;
	}
	/* The source's COPY ended early: its reason, as libpq has it. */
	if (n == -2 && !*cancel)
	{
		(void) failure_set(SIDE_SOURCE, NULL, t->display,
						   PQstatus(src) == CONNECTION_BAD,
						   "could not copy table \"%s\" on source server: %s",
						   t->display, conn_error_message(src, msg, sizeof(msg)));
		return -1;
	}
	return 0;
}

static int
stream(PGconn *src, PGconn *tgt, const cat_table *t, const copy_part *part,
	   copy_result *r, _Atomic int64_t *bytes_counter,
	   const interrupt_flag *cancel)
{
	char	   *ssql = source_sql(t, part);
	char	   *tsql = target_sql(t, part);
	int			rc = -1;

	if (start_copy(tgt, SIDE_TARGET, tsql, PGRES_COPY_IN, t) != 0)
		goto out;
	if (start_copy(src, SIDE_SOURCE, ssql, PGRES_COPY_OUT, t) != 0)
	{
		PQputCopyEnd(tgt, "source failed");
		finish_copy(tgt, SIDE_TARGET, t, NULL);
		goto out;
	}
	rc = pump(src, tgt, t, r, bytes_counter, cancel);
	if (finish_copy(src, SIDE_SOURCE, t, NULL) != 0)
		rc = -1;
	PQputCopyEnd(tgt, rc == 0 ? NULL : "copy stopped");
	if (finish_copy(tgt, SIDE_TARGET, t, &r->rows) != 0 && rc == 0)
		rc = -1;
out:
	free(ssql);
	free(tsql);
	return rc;
}

int
copy_table_part(PGconn *src, PGconn *tgt, const cat_table *t,
				const copy_part *part, copy_result *result,
				_Atomic int64_t *bytes_counter,
				const interrupt_flag *cancel)
{
	int			rc;

	memset(result, 0, sizeof(*result));
	if (conn_exec(tgt, SIDE_TARGET, "BEGIN") != 0)
		return -1;
	if (part->nparts == 1)
	{
		/*
		 * TRUNCATE in the same transaction is what allows COPY FREEZE.  An
		 * extension's configuration table keeps the rows its extension
		 * made, which its condition does not select.
		 */
		char	   *sql = t->filter ? str_printf("DELETE FROM ONLY %s %s", t->qname, t->filter)
			: str_printf("TRUNCATE ONLY %s", t->qname);

		rc = conn_exec(tgt, SIDE_TARGET, sql);
		free(sql);
		if (rc != 0)
		{
			conn_exec(tgt, SIDE_TARGET, "ROLLBACK");
			return -1;
		}
	}
	rc = stream(src, tgt, t, part, result, bytes_counter, cancel);
	if (rc != 0)
	{
		if (PQtransactionStatus(tgt) != PQTRANS_UNKNOWN)
		{
			PGresult   *res = PQexec(tgt, "ROLLBACK");

			PQclear(res);
		}
		return -1;
	}
	return conn_exec(tgt, SIDE_TARGET, "COMMIT");
}
