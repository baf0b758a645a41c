/*
 * apply_lane.c
 *		One apply session on the target: a lane of the apply.
 *
 * With --apply-jobs 1 the only lane applies everything, as described
 * here; with more, apply.c hands each lane batches of whole source
 * transactions and tells it when to commit (apply_lane_begin_xact(),
 * apply_lane_commit()), and the lanes share the first one's control
 * session.  The apply session runs with
 *
 *	session_replication_role = replica	triggers and foreign key checks do
 *										not fire: the source ran them already
 *										and their effects arrive as changes
 *	synchronous_commit = off			commits do not wait for the disk;
 *										durability comes from the origin
 *										(below), not from each commit
 *
 * and is bound to the replication origin (origin.h).  Source transactions
 * become, in libpq pipeline mode, without waiting for any answer:
 *
 *		BEGIN
 *		one prepared statement per change (PREPARE first when new)
 *		... the changes of the next source transactions ...
 *		SELECT pg_replication_origin_xact_setup(end_lsn, commit_time)
 *		COMMIT
 *		Sync
 *
 * A target transaction holds one or more whole source transactions, in
 * commit order: while the stream delivers small transactions back to back
 * (a backlog), up to GROUP_MAX_TRANSACTIONS of them share one commit,
 * which saves the target most of its per-commit work; once the stream has
 * nothing more at once, follow.c calls apply_lane_flush() and what arrived
 * is committed.  A source transaction is never split.  When a table of
 * the source no longer matches the target's (a Relation message, see
 * apply_relation()), the complete source transactions before the failing
 * one must reach the target without it, so that the next session starts
 * just before it: when the failing one has sent nothing yet, the group is
 * committed as it is; when it has (it changed another table first), the
 * whole group is rolled back and CDC_REPLAY asks for a new session,
 * which commits each source transaction on its own up to the failing one
 * (apply_lane_commit_each_until) and so stops with everything before it
 * committed.  Nothing of this costs anything while tables match: no
 * savepoint per source transaction, which would give every one of them a
 * subtransaction on the target.  At most GROUP_MAX_TRANSACTIONS (256)
 * share a commit.
 *
 * end_lsn is the end of the commit record of the last source transaction
 * in the target transaction: the origin then holds the position from
 * which streaming resumes after the last transaction the target committed,
 * with nothing replayed twice (the walsender skips every transaction whose
 * commit record starts before the start point).  Many target transactions
 * may be in flight at once; results are read as they arrive and matched,
 * in order, with a queue of what was sent.  The Sync's answer tells that
 * they are applied.  The first error stops everything: the target aborts
 * the rest of the pipeline up to the next Sync, so what a target
 * transaction holds is applied whole or not at all.
 *
 * Statements are prepared per relation, operation and column mask: an
 * UPDATE leaves out of SET the columns whose value was not sent (unchanged
 * TOASTed values, 'u'), and the key columns when the key did not change.
 * Parameters are typed with the target column's type OID.  A column
 * GENERATED ALWAYS AS IDENTITY cannot be set by an UPDATE: when it is
 * known unchanged it is left out of SET; when it changed, or may have
 * (its old value is not sent), the row is moved instead: deleted and
 * inserted again with its new values (apply_sql_move(); update_form()).
 * The WHERE clause depends on the replica identity (apply_sql.c).
 *
 * An update or delete that finds no row is logged as a warning and
 * counted, as PostgreSQL's own subscribers do; every other failure stops.
 */
#include "cdc/apply_lane.h"

#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/apply_rel.h"
#include "cdc/apply_sql.h"
#include "cdc/compact.h"
#include "cdc/ddl.h"
#include "cdc/origin.h"
#include "core/conn.h"
#include "core/errclass.h"
#include "core/failure.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/str.h"

/* Commands in flight beyond which the source is not read. */
#define MAX_IN_FLIGHT 20000
/*
 * A target transaction takes source transactions until it holds this many,
 * or this many changes; the stream running dry commits it sooner.
 */
#define GROUP_MAX_TRANSACTIONS 256
#define GROUP_MAX_CHANGES 5000
/*
 * Changes held (compact.h) beyond which they are sent, and the most rows
 * one statement takes.
 */
#define PENDING_MAX_CHANGES 2048
#define ROWS_MAX 64
/* Parameters one statement can have (the protocol's limit). */
#define PARAMS_MAX 65535
/* Missing rows listed one by one; later ones are only counted. */
#define MAX_MISSING_LOGGED 20
/* Seconds to wait for the target before a schema change. */
#define DDL_WAIT_SECONDS 60

/* What was sent, to match with its result. */
typedef struct apply_cmd
{
	char		kind;			/* see cmd_what() */
	char		op;				/* 'I', 'U', 'D' for a change */
	bool		answered;		/* its result was read, NULL is next */
	uint32_t	relid;
	int32_t		nrows;			/* change: rows of the statement */
	bool		held;			/* change: of rows held (compact.h) */
	uint64_t	upto;			/* held: the source transaction then open */
	int32_t		nchanges;		/* Sync: changes in the transaction */
	int32_t		ntxns;			/* Sync: source transactions in it */
	uint64_t	lsn;			/* Sync: end LSN; others: commit LSN */
	int64_t		time;			/* Sync: commit time */
} apply_cmd;

struct apply_lane
{
	PGconn	   *conn;			/* apply session, pipeline mode */
	PGconn	   *ctl;			/* control session */
	bool		own_ctl;		/* ctl is ours to close */
	bool		quiet;			/* another lane says what relations do */
	char	   *origin;
	bool		progress_table; /* pgcrane.follow_progress, not an origin */
	pgo_relcache *relcache;
	apply_relmap *relmap;
	ddl_ctx    *ddl;			/* NULL: schema changes stop the follow */
	compact    *pending;		/* changes held, of the open group */
	int			next_stmt;		/* for statement names */

	apply_cmd  *queue;			/* ring of commands in flight */
	int			qcap;
	int			qhead;
	int			qlen;

	bool		in_xact;		/* a source transaction is open */
	uint64_t	xact_lsn;		/* its commit LSN */
	bool		xact_sent;		/* it sent a change into the group */
	uint64_t	replay_until;	/* with CDC_REPLAY: the failing one */
	uint64_t	commit_each_until;	/* commit each source transaction whose
									 * commit is at or before it on its own */

	/* The target transaction: one or more whole source transactions. */
	bool		group_open;		/* BEGIN sent (at the first change) */
	uint64_t	group_seq;		/* counts the target transactions begun */
	int32_t		group_txns;		/* source transactions complete in it */
	int32_t		group_changes;
	uint64_t	group_end_lsn;	/* end LSN of the last complete one */
	int64_t		group_time;		/* and its commit time */
	bool		want_write;
	bool		replay_held;	/* held rows met a unique constraint */
	bool		failed;
	bool		failed_transient;	/* the failure heals by waiting */

	/* Parameters of the change being sent. */
	strbuf		vals;
	size_t	   *offsets;
	bool	   *isnull;
	const char **params;
	const selection *sel;		/* the clone's rules, or NULL; not owned */
	bool	   *mask_set;
	bool	   *mask_key;
	bool	   *row_set;		/* the masks of held rows being sent */
	bool	   *row_key;
	uint32_t   *types;			/* of the parameters, when preparing */
	Oid		   *oids;
	int			nparams;
	int			maxcols;
	int			maxparams;		/* room in offsets, isnull, params, types, oids */
	strbuf		key;			/* statement cache key */

	cdc_apply_stats stats;
};

/* ---------- connections ---------- */

/* Ignore the apply session's notices (TRUNCATE ... CASCADE says a lot). */
static void
notice_processor(void *arg, const char *message)
{
	(void) arg;
	log_debug("target: %s", message);
}

/*
 * Open a target session the way conn_open() does, but tell a connection
 * failure that may pass (server down, starting, shutting down:
 * errclass.h), CDC_LOST, from one that will not.  A failing first
 * statement is -1: the failure value it filled tells the follow.
 */
static int
open_target(const char *target, PGconn **out)
{
	char		state[6];
	char		msg[1024];
	PGconn	   *conn = conn_try_open(target, state, msg, sizeof(msg));

	*out = NULL;
	if (conn == NULL)
		return conn_connect_failed(SIDE_TARGET, state, msg) ? CDC_LOST : -1;
	PQsetNoticeProcessor(conn, notice_processor, NULL);
	if (conn_exec(conn, SIDE_TARGET,
				  "SELECT pg_catalog.set_config('search_path', '', false)") != 0)
	{
		PQfinish(conn);
		return -1;				/* the failure tells the follow what it was */
	}
	*out = conn;
	return 0;
}

/*
 * After a failure (logged, and filled into the follow's failure value):
 * a session that broke meanwhile makes it one that heals by waiting.  -1.
 */
static int
failed(const apply_lane *ap)
{
	conn_note_broken(ap->conn, SIDE_TARGET);
	conn_note_broken(ap->ctl, SIDE_TARGET);
	return -1;
}

/*
 * Without an origin, the apply session holds an advisory lock named after
 * it instead: as the origin does, it keeps out a second session (one
 * of a pgcrane that is going away) for as long as this one lives.
 */
static int
lock_progress(apply_lane *ap)
{
	const char *params[1] = {ap->origin};
	PGresult   *res = conn_query(ap->conn, SIDE_TARGET, "lock the follow's progress",
								 "SELECT pg_catalog.pg_try_advisory_lock("
								 "pg_catalog.hashtext('pgcrane.follow_progress'),"
								 " pg_catalog.hashtext($1))", 1, params);
	bool		locked;

	if (res == NULL)
		return failed(ap);
	locked = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!locked)
	{
		/* Transient, as 55006 is for an origin: the other session ends. */
		(void) failure_set(SIDE_TARGET, "55006", ap->origin, false,
						   "the progress of \"%s\" in pgcrane.follow_progress is in use by another session on the target",
						   ap->origin);
		return -1;
	}
	return 0;
}

/* Settings and origin of the apply session. */
static int
setup_session(apply_lane *ap)
{
	const char *params[1] = {ap->origin};
	PGresult   *res;

	if (conn_exec(ap->conn, SIDE_TARGET, "SET session_replication_role = replica") != 0 ||
		conn_exec(ap->conn, SIDE_TARGET, "SET synchronous_commit = off") != 0)
		return failed(ap);
	if (ap->progress_table && lock_progress(ap) != 0)
		return -1;
	res = ap->progress_table ? NULL :
		PQexecParams(ap->conn, CDC_ORIGIN_SESSION_SQL, 1, NULL, params, NULL, NULL, 0);
	if (!ap->progress_table && PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		/* 55006, transient: an earlier pgcrane's session still holds it. */
		conn_log_result_error(res, SIDE_TARGET, "set up the replication origin session");
		PQclear(res);
		return failed(ap);
	}
	PQclear(res);
	if (PQsetnonblocking(ap->conn, 1) != 0 || PQenterPipelineMode(ap->conn) != 1)
		return error("could not enter pipeline mode on the target connection");
	return 0;
}

int
apply_lane_open(const char *target, const char *origin, bool progress_table,
				uint64_t start_lsn, PGconn *shared_ctl, apply_lane **out,
				uint64_t *resume_lsn)
{
	apply_lane *ap = xcalloc(1, sizeof(apply_lane));
	int			rc = 0;

	*out = NULL;
	ap->origin = xstrdup(origin);
	ap->progress_table = progress_table;
	ap->relcache = pgo_relcache_create();
	ap->relmap = apply_relmap_create();
	ap->pending = compact_create();
	ap->qcap = 1024;
	ap->queue = xcalloc((size_t) ap->qcap, sizeof(apply_cmd));
	ap->own_ctl = shared_ctl == NULL;
	ap->quiet = shared_ctl != NULL;
	if (shared_ctl != NULL)
		ap->ctl = shared_ctl;
	else
		rc = open_target(target, &ap->ctl);
	if (rc == 0 && cdc_origin_ensure(ap->ctl, progress_table, origin, start_lsn) != 0)
		rc = failed(ap);
	if (rc == 0)
		rc = open_target(target, &ap->conn);
	if (rc == 0)
		rc = setup_session(ap);
	/* Only now: no earlier session can commit anything any more. */
	if (rc == 0 &&
		cdc_origin_progress(ap->ctl, progress_table, origin, true, resume_lsn, NULL) != 0)
		rc = failed(ap);
	if (rc != 0)
	{
		apply_lane_close(ap);
		return rc;
	}
	if (*resume_lsn < start_lsn)
		*resume_lsn = start_lsn;
	ap->stats.applied_lsn = ap->stats.queued_lsn = *resume_lsn;
	ap->stats.committed_lsn = *resume_lsn;
	*out = ap;
	return 0;
}

void
apply_lane_close(apply_lane *ap)
{
	if (ap == NULL)
		return;
	if (ap->conn)
		PQfinish(ap->conn);
	if (ap->ctl && ap->own_ctl)
		PQfinish(ap->ctl);
	compact_free(ap->pending);
	apply_relmap_free(ap->relmap);
	pgo_relcache_free(ap->relcache);
	strbuf_release(&ap->vals);
	strbuf_release(&ap->key);
	free(ap->offsets);
	free(ap->isnull);
	free(ap->params);
	free(ap->mask_set);
	free(ap->mask_key);
	free(ap->row_set);
	free(ap->row_key);
	free(ap->types);
	free(ap->oids);
	free(ap->queue);
	free(ap->origin);
	free(ap);
}

/* ---------- the queue of commands in flight ---------- */

static apply_cmd *
queue_push(apply_lane *ap, char kind)
{
	apply_cmd  *cmd;

	if (ap->qlen == ap->qcap)
	{
		apply_cmd  *q = xcalloc((size_t) ap->qcap * 2, sizeof(apply_cmd));

		for (int i = 0; i < ap->qlen; i++)
			q[i] = ap->queue[(ap->qhead + i) % ap->qcap];
		free(ap->queue);
		ap->queue = q;
		ap->qhead = 0;
		ap->qcap *= 2;
	}
	cmd = &ap->queue[(ap->qhead + ap->qlen) % ap->qcap];
	ap->qlen++;
	memset(cmd, 0, sizeof(*cmd));
	cmd->kind = kind;
	cmd->lsn = ap->xact_lsn;
	return cmd;
}

static void
queue_pop(apply_lane *ap)
{
	ap->qhead = (ap->qhead + 1) % ap->qcap;
	ap->qlen--;
}

/* A send to the apply session failed: log it, -1 or CDC_LOST. */
static int
send_failed(apply_lane *ap)
{
	char		buf[512];

	conn_error_message(ap->conn, buf, sizeof(buf));
	if (PQstatus(ap->conn) == CONNECTION_BAD)
	{
		(void) failure_set(SIDE_TARGET, NULL, NULL, true,
						   "lost the connection to the target server: %s", buf);
		return CDC_LOST;
	}
	return failure_set(SIDE_TARGET, NULL, NULL, false,
					   "could not send to target server: %s", buf) ? CDC_LOST : -1;
}

/* Send a statement that is not prepared. */
static int
send_sql(apply_lane *ap, char kind, const char *sql, int nparams,
		 const char *const *params)
{
	if (PQsendQueryParams(ap->conn, sql, nparams, NULL, params, NULL, NULL, 0) != 1)
		return send_failed(ap);
	queue_push(ap, kind);
	return 0;
}

/* End the transaction on the target with a Sync the result reader counts. */
static int
send_sync(apply_lane *ap, uint64_t end_lsn, int64_t commit_time)
{
	apply_cmd  *cmd;

	if (PQpipelineSync(ap->conn) != 1)
		return send_failed(ap);
	cmd = queue_push(ap, 'S');
	cmd->lsn = end_lsn;
	cmd->time = commit_time;
	cmd->nchanges = ap->group_changes;
	cmd->ntxns = ap->group_txns;
	return 0;
}

/* ---------- results ---------- */

static const char *
op_name(char op)
{
	return op == 'I' ? "Insert" : op == 'U' ? "Update" : "Delete";
}

/* What a command did, for the message of its failure; you own it. */
static char *
cmd_what(const apply_lane *ap, const apply_cmd *cmd)
{
	const apply_rel *rel = apply_relmap_get(ap->relmap, cmd->relid);
	const char *table = rel ? rel->display : "?";
	char		lsn[PGO_LSN_BUFSIZE];

	pgo_lsn_format(cmd->lsn, lsn, sizeof(lsn));
	switch (cmd->kind)
	{
		case 'B':
			return str_printf("begin the transaction of source commit %s", lsn);
		case 'P':
			return str_printf("prepare a statement for table \"%s\"", table);
		case 'X':
			return str_printf("apply %s to table \"%s\" (source commit %s)",
							  op_name(cmd->op), table, lsn);
		case 'T':
			return str_printf("apply Truncate (source commit %s)", lsn);
		case 'O':
			return str_printf("record the replication origin's position (source commit %s)",
							  lsn);
		case 'C':
			return str_printf("commit the transaction of source commit %s", lsn);
		default:
			return str_printf("roll back an incomplete transaction");
	}
}

/*
 * Updates or deletes found no row, missing of a statement's rows: what
 * PostgreSQL's subscribers log too.  A statement of many rows tells only
 * how many.
 */
static void
missing_rows(apply_lane *ap, const apply_cmd *cmd, int64_t missing)
{
	const apply_rel *rel = apply_relmap_get(ap->relmap, cmd->relid);
	const char *what = cmd->op == 'U' ? "update" : "delete";
	const char *table = rel ? rel->display : "?";
	char		lsn[PGO_LSN_BUFSIZE];
	bool		listed = ap->stats.missing_rows < MAX_MISSING_LOGGED;

	ap->stats.missing_rows += missing;
	if (!listed)
		return;
	pgo_lsn_format(cmd->lsn, lsn, sizeof(lsn));
	if (cmd->nrows <= 1)
		log_warning("the row to %s in table \"%s\" was not found on the target (source commit %s)",
					what, table, lsn);
	else
		log_warning("%" PRId64 " of %d rows to %s in table \"%s\" were not found on the target (source commits up to %s)",
					missing, cmd->nrows, what, table, lsn);
	if (ap->stats.missing_rows >= MAX_MISSING_LOGGED)
		log_warning("further rows not found are counted, not listed");
}

/*
 * Whether a statement of held rows failed on a unique index or exclusion
 * constraint that the target did not have when the table was described:
 * the rows, sent in another order than the source's, may have met each
 * other.  The source transactions up to the one then open are then
 * applied again change by change (CDC_REPLAY), where a collision that
 * does not come from the order shows as it would have.
 */
static bool
held_collided(apply_lane *ap, const apply_cmd *cmd, const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	char		lsn[PGO_LSN_BUFSIZE];

	if (cmd->kind != 'X' || !cmd->held || state == NULL ||
		(strcmp(state, "23505") != 0 && strcmp(state, "23P01") != 0))
		return false;
	ap->replay_held = true;
	ap->replay_until = cmd->upto;
	pgo_lsn_format(cmd->upto, lsn, sizeof(lsn));
	log_info("changes applied together met a unique constraint of the target; applying them one by one up to source commit %s",
			 lsn);
	return true;
}

static void
handle_result(apply_lane *ap, apply_cmd *cmd, PGresult *res)
{
	char	   *what;

	switch (PQresultStatus(res))
	{
		case PGRES_COMMAND_OK:
		case PGRES_TUPLES_OK:
			if (cmd->kind == 'X' && cmd->op != 'I')
			{
				int			done = 0;

				(void) str_to_int(PQcmdTuples(res), 0, INT32_MAX, &done);
				if (done < cmd->nrows)
					missing_rows(ap, cmd, cmd->nrows - done);
			}
			break;
		case PGRES_PIPELINE_ABORTED:
			ap->failed = true;
			break;
		default:
			if (!ap->failed && held_collided(ap, cmd, res))
			{
				ap->failed = true;
				break;
			}
			ap->failed_transient = ap->failed_transient || PQstatus(ap->conn) == CONNECTION_BAD ||
				errclass_transient(PQresultErrorField(res, PG_DIAG_SQLSTATE),
								   PQresultErrorMessage(res), false);
			if (!ap->failed && PQstatus(ap->conn) != CONNECTION_BAD)
			{
				what = cmd_what(ap, cmd);
				conn_log_result_error(res, SIDE_TARGET, what);
				free(what);
			}
			ap->failed = true;
			break;
	}
}

/* A Sync (or an empty transaction) came back: the transaction is applied. */
static void
transaction_done(apply_lane *ap, const apply_cmd *cmd)
{
	if (ap->failed || cmd->lsn == 0)
		return;
	ap->stats.applied_lsn = cmd->lsn;
	ap->stats.applied_time = cmd->time;
	if (cmd->kind == 'S')
		ap->stats.committed_lsn = cmd->lsn;
	ap->stats.transactions += cmd->ntxns;
	ap->stats.changes += cmd->nchanges;
}

/* Read every result that arrived, in the order the commands were sent. */
static int
read_results(apply_lane *ap)
{
	while (ap->qlen > 0)
	{
		apply_cmd  *cmd = &ap->queue[ap->qhead];
		PGresult   *res;

		if (cmd->kind == 'E')
		{
			transaction_done(ap, cmd);
			queue_pop(ap);
			continue;
		}
		if (PQstatus(ap->conn) == CONNECTION_BAD)
			return send_failed(ap);
		if (PQisBusy(ap->conn))
			break;
		res = PQgetResult(ap->conn);
		if (cmd->kind == 'S' && res != NULL)
		{
			if (PQresultStatus(res) == PGRES_PIPELINE_SYNC)
				transaction_done(ap, cmd);
			else
				handle_result(ap, cmd, res);
			PQclear(res);
			queue_pop(ap);
			continue;
		}
		if (res == NULL)
		{
			if (!cmd->answered)
				break;
			queue_pop(ap);
			continue;
		}
		handle_result(ap, cmd, res);
		cmd->answered = true;
		PQclear(res);
	}
	if (ap->failed && ap->replay_held)
		return CDC_REPLAY;
	return ap->failed ? failed(ap) : 0;
}

int
apply_lane_poll(apply_lane *ap)
{
	int			rc = PQflush(ap->conn);

	if (rc < 0)
		return send_failed(ap);
	ap->want_write = rc == 1;
	if (PQconsumeInput(ap->conn) != 1)
		return send_failed(ap);
	return read_results(ap);
}

int
apply_lane_drain(apply_lane *ap, double timeout)
{
	double		end = clock_now() + timeout;

	for (;;)
	{
		struct pollfd pfd;
		int			rc = apply_lane_flush(ap);

		if (rc == 0)
			rc = apply_lane_poll(ap);

		if (rc != 0)
			return rc;
		if (ap->qlen == 0)
			return 0;
		if (clock_now() > end)
			return error("the target server did not answer within %.0f seconds", timeout);
		pfd.fd = PQsocket(ap->conn);
		pfd.events = POLLIN | (ap->want_write ? POLLOUT : 0);
		pfd.revents = 0;
		(void) poll(&pfd, 1, 100);
	}
}

/* ---------- changes ---------- */

/* Room for nparams parameters of a statement. */
static void
ensure_params(apply_lane *ap, int nparams)
{
	size_t		n = (size_t) nparams;

	if (nparams <= ap->maxparams)
		return;
	ap->maxparams = nparams;
	ap->offsets = xrealloc(ap->offsets, n * sizeof(size_t));
	ap->isnull = xrealloc(ap->isnull, n * sizeof(bool));
	ap->params = xrealloc(ap->params, n * sizeof(char *));
	ap->types = xrealloc(ap->types, n * sizeof(uint32_t));
	ap->oids = xrealloc(ap->oids, n * sizeof(Oid));
}

/* Room for the masks and parameters of a relation of ncols columns. */
static void
ensure_cols(apply_lane *ap, int ncols)
{
	size_t		n = (size_t) ncols * 2 + 1;

	ensure_params(ap, ncols * 2 + 1);
	if (ncols <= ap->maxcols)
		return;
	ap->maxcols = ncols;
	ap->mask_set = xrealloc(ap->mask_set, n * sizeof(bool));
	ap->mask_key = xrealloc(ap->mask_key, n * sizeof(bool));
	ap->row_set = xrealloc(ap->row_set, n * sizeof(bool));
	ap->row_key = xrealloc(ap->row_key, n * sizeof(bool));
}

/* Add the ncols values of cols that mask selects as the next parameters. */
static void
add_params(apply_lane *ap, const pgo_value *cols, int ncols, const bool *mask)
{
	for (int i = 0; i < ncols; i++)
	{
		const pgo_value *v = &cols[i];
		int			n;

		if (!mask[i])
			continue;
		n = ap->nparams++;
		ap->isnull[n] = v->kind == PGO_VALUE_NULL;
		ap->offsets[n] = ap->vals.len;
		if (v->len > 0)
			strbuf_add(&ap->vals, (const char *) v->data, v->len);
		strbuf_add(&ap->vals, "", 1);
	}
}

/* The parameters as libpq takes them, once all are added. */
static const char *const *
params_finish(apply_lane *ap)
{
	for (int i = 0; i < ap->nparams; i++)
		ap->params[i] = ap->isnull[i] ? NULL : ap->vals.buf + ap->offsets[i];
	return ap->params;
}

/*
 * The cache key of a statement: operation, then each mask as 0s and 1s,
 * then the rows it takes.
 */
static const char *
statement_key(apply_lane *ap, char op, const bool *set, const bool *key, int n,
			  int nrows)
{
	strbuf_reset(&ap->key);
	strbuf_add(&ap->key, &op, 1);
	for (int i = 0; set && i < n; i++)
		strbuf_adds(&ap->key, set[i] ? "1" : "0");
	strbuf_adds(&ap->key, "/");
	for (int i = 0; key && i < n; i++)
		strbuf_adds(&ap->key, key[i] ? "1" : "0");
	if (nrows > 1)
		strbuf_addf(&ap->key, "*%d", nrows);
	return strbuf_str(&ap->key);
}

/* BEGIN goes out with the first change, so empty transactions cost nothing. */
static int
ensure_begun(apply_lane *ap)
{
	int			rc = 0;

	if (!ap->group_open)
	{
		ap->group_open = true;
		ap->group_seq++;
		rc = send_sql(ap, 'B', "BEGIN", 0, NULL);
	}
	ap->xact_sent = true;
	return rc;
}

/*
 * The text of a statement of form op ('I', 'D'; 'U' update, 'M' move,
 * 'C' update or move, see apply_update()) for nrows rows (more than one:
 * 'I', 'U', 'D' only, compact.h) and the types of its parameters into
 * ap->oids; you own the text.
 */
static char *
statement_sql(apply_lane *ap, const apply_rel *rel, char op, const bool *set,
			  const bool *key, int nrows)
{
	apply_sql_rel r;
	bool		full = rel->desc->replident == PGO_REPLIDENT_FULL;
	int			n;

	apply_rel_sql(rel, &r);
	n = op == 'D' ? apply_sql_param_types(&r, key, NULL, ap->types)
		: apply_sql_param_types(&r, set, op == 'I' ? NULL : key, ap->types);
	for (int i = 0; i < n * nrows; i++)
		ap->oids[i] = (Oid) ap->types[i % n];
	if (nrows > 1)
		return op == 'I' ? apply_sql_insert_rows(&r, set, nrows)
			: op == 'U' ? apply_sql_update_rows(&r, set, key, nrows)
			: apply_sql_delete_rows(&r, key, nrows);
	switch (op)
	{
		case 'I':
			return apply_sql_insert(&r, set);
		case 'U':
			return apply_sql_update(&r, set, key, full);
		case 'M':
			return apply_sql_move(&r, set, key, full);
		case 'C':
			return apply_sql_update_or_move(&r, set, key);
		default:
			return apply_sql_delete(&r, key, full);
	}
}

/*
 * Prepare the statement for this operation, masks and rows (ap->nparams
 * parameters in all) unless it exists.
 */
static const apply_stmt *
prepare_statement(apply_lane *ap, apply_rel *rel, char op, const bool *set,
				  const bool *key, int nrows, int *rc)
{
	const char *k = statement_key(ap, op, set, key, rel->ncols, nrows);
	const apply_stmt *st = apply_rel_statement(rel, k);
	char	   *sql,
			   *name;
	apply_cmd  *cmd;

	*rc = 0;
	if (st != NULL)
		return st;
	sql = statement_sql(ap, rel, op, set, key, nrows);
	name = str_printf("pgcrane_%u_%d", rel->oid, ap->next_stmt++);
	log_debug("prepare %s: %s", name, sql);
	if (PQsendPrepare(ap->conn, name, sql, ap->nparams, ap->oids) != 1)
		*rc = send_failed(ap);
	else
	{
		cmd = queue_push(ap, 'P');
		cmd->relid = rel->oid;
		apply_rel_add_statement(rel, k, name);
		st = apply_rel_statement(rel, k);
	}
	free(sql);
	free(name);
	return st;
}

/*
 * Send a statement of nrows rows with the parameters collected; lsn is
 * the commit LSN its messages name.
 */
static int
send_rows(apply_lane *ap, apply_rel *rel, char op, const bool *set,
		  const bool *key, int nrows, uint64_t lsn, bool held)
{
	const apply_stmt *st;
	apply_cmd  *cmd;
	int			rc = 0;

	st = prepare_statement(ap, rel, op, set, key, nrows, &rc);
	if (rc != 0)
		return rc;
	if (PQsendQueryPrepared(ap->conn, st->name, ap->nparams, params_finish(ap),
							NULL, NULL, 0) != 1)
		return send_failed(ap);
	cmd = queue_push(ap, 'X');
	cmd->op = op == 'M' || op == 'C' ? 'U' : op;
	cmd->relid = rel->oid;
	cmd->nrows = nrows;
	cmd->lsn = lsn;
	cmd->held = held;
	cmd->upto = ap->xact_lsn;
	return 0;
}

/*
 * Send one change with the parameters collected; what is held must have
 * been sent before (send_pending()).
 */
static int
send_change(apply_lane *ap, apply_rel *rel, char op, const bool *set,
			const bool *key)
{
	int			rc = ensure_begun(ap);

	if (rc == 0)
		rc = send_rows(ap, rel, op, set, key, 1, ap->xact_lsn, false);
	if (rc != 0)
		return rc;
	rel->written_group = ap->group_seq;
	ap->group_changes++;
	return 0;
}

/* ---------- changes held (compact.h) ---------- */

/* Whether two held rows go in one statement: same table, operation, columns. */
static bool
same_shape(const compact_item *a, const compact_item *b)
{
	if (a->row->relid != b->row->relid || a->op != b->op || a->row->ncols != b->row->ncols)
		return false;
	for (int i = 0; a->op != 'D' && i < a->row->ncols; i++)
		if ((a->row->newv[i].kind == PGO_VALUE_UNCHANGED) !=
			(b->row->newv[i].kind == PGO_VALUE_UNCHANGED))
			return false;
	return true;
}

/* The key columns of rel into key. */
static void
rel_key(const apply_rel *rel, bool *key)
{
	for (int i = 0; i < rel->ncols; i++)
		key[i] = (rel->desc->atts[i].flags & PGO_ATTR_KEY) != 0 && !rel->cols[i].excluded;
}

/*
 * The masks of a held row's statement into row_set and row_key, as
 * apply_insert() and apply_update() make them; its parameters per row.
 */
static int
item_masks(apply_lane *ap, const apply_rel *rel, const compact_item *it)
{
	rel_key(rel, ap->row_key);
	for (int i = 0; i < rel->ncols; i++)
		ap->row_set[i] = it->op != 'D' && it->row->newv[i].kind != PGO_VALUE_UNCHANGED &&
			!rel->cols[i].excluded &&
			!(it->op == 'U' && (ap->row_key[i] || rel->cols[i].identity_always));
	return (it->op == 'D' ? 0 : apply_sql_count(ap->row_set, rel->ncols)) +
		(it->op == 'I' ? 0 : apply_sql_count(ap->row_key, rel->ncols));
}

/* Send n held rows of one shape as one statement. */
static int
send_held(apply_lane *ap, const compact_item *items, int n, int per_row)
{
	const compact_item *it = &items[0];
	apply_rel  *rel = apply_relmap_get(ap->relmap, it->row->relid);
	uint64_t	lsn = 0;

	strbuf_reset(&ap->vals);
	ap->nparams = 0;
	ensure_params(ap, per_row * n);
	for (int i = 0; i < n; i++)
	{
		const compact_row *r = items[i].row;

		if (it->op != 'D')
			add_params(ap, r->newv, r->ncols, ap->row_set);
		if (it->op != 'I')
			add_params(ap, r->keyv, r->ncols, ap->row_key);
		lsn = r->lsn > lsn ? r->lsn : lsn;
	}
	return send_rows(ap, rel, it->op, it->op == 'D' ? NULL : ap->row_set,
					 it->op == 'I' ? NULL : ap->row_key, n, lsn, true);
}

/*
 * Send a run of n held rows of one shape, in statements of as many rows
 * as fit (powers of two, so that few statements are prepared).
 */
static int
send_run(apply_lane *ap, const compact_item *items, int n)
{
	apply_rel  *rel = apply_relmap_get(ap->relmap, items[0].row->relid);
	int			per_row,
				cap;
	int			rc = 0;

	if (rel == NULL || rel->ncols != items[0].row->ncols)
		return error("changes held for relation OID %u no longer match its description",
					 items[0].row->relid);
	per_row = item_masks(ap, rel, &items[0]);
	cap = per_row > 0 ? PARAMS_MAX / per_row : ROWS_MAX;
	cap = cap < ROWS_MAX ? cap : ROWS_MAX;
	for (int i = 0; i < n && rc == 0;)
	{
		int			take = 1;

		while (take * 2 <= n - i && take * 2 <= cap)
			take *= 2;
		rc = send_held(ap, items + i, take, per_row);
		i += take;
	}
	return rc;
}

static int
send_pending(apply_lane *ap)
{
	const compact_item *items;
	int			n;
	int			rc = 0;

	if (compact_changes(ap->pending) == 0)
		return 0;
	items = compact_items(ap->pending, &n);
	for (int i = 0; i < n && rc == 0;)
	{
		int			run = 1;

		while (i + run < n && same_shape(&items[i], &items[i + run]))
			run++;
		rc = send_run(ap, items + i, run);
		i += run;
	}
	compact_reset(ap->pending);
	strbuf_reset(&ap->vals);
	ap->nparams = 0;
	return rc;
}

/*
 * Hold a change (op 'I', 'U' with its key unchanged, or 'D'; t the new
 * row, or the old one of a delete) when its table allows: 1 held; 0 not,
 * and what was held has been sent, so the change goes now; or a failure.
 */
static int
hold_change(apply_lane *ap, apply_rel *rel, char op, const pgo_tuple *t)
{
	bool		held = false;
	int			rc;

	if (ap->xact_lsn <= ap->commit_each_until)
		;						/* applied again change by change */
	else if (rel->compact == 'A' && op == 'I')
	{
		compact_append(ap->pending, rel->oid, t, ap->xact_lsn);
		held = true;
	}
	else if (rel->compact == 'K')
		held = op == 'I' ? compact_insert(ap->pending, rel->oid, rel->keycols, t, ap->xact_lsn)
			: op == 'U' ? compact_update(ap->pending, rel->oid, rel->keycols, t, ap->xact_lsn)
			: compact_delete(ap->pending, rel->oid, rel->keycols, t, ap->xact_lsn);
	if (!held)
		return send_pending(ap);
	rc = ensure_begun(ap);
	rel->written_group = ap->group_seq;
	ap->group_changes++;
	if (rc == 0 && compact_changes(ap->pending) >= PENDING_MAX_CHANGES)
		rc = send_pending(ap);
	return rc == 0 ? 1 : rc;
}

/*
 * How rel's changes can be held: by key when the replica identity is the
 * only unique index of the target's table, appended when it has none;
 * not with a trigger that fires in replica mode.
 */
static int
load_compact(apply_lane *ap, apply_rel *rel)
{
	apply_rel_traits_t t;
	bool		keyed = false;
	char		ident = rel->desc->replident;

	rel->compact = 0;
	if (rel->relkind != 'r')
		return 0;
	if (apply_rel_traits(ap->ctl, rel->qname, &t) != 0)
		return -1;
	for (int i = 0; i < rel->ncols; i++)
		keyed = keyed || (rel->desc->atts[i].flags & PGO_ATTR_KEY) != 0;
	if (!t.known || t.replica_triggers)
		return 0;
	if (t.unique == 0)
		rel->compact = 'A';
	else if (t.unique == 1 && keyed && ident != PGO_REPLIDENT_FULL &&
			 ident != PGO_REPLIDENT_NOTHING)
	{
		rel->compact = 'K';
		rel->keycols = xcalloc((size_t) rel->ncols + 1, sizeof(bool));
		rel_key(rel, rel->keycols);
	}
	return 0;
}

int
apply_lane_send_pending(apply_lane *ap)
{
	if (ap->failed)
		return ap->replay_held ? CDC_REPLAY : failed(ap);
	return send_pending(ap);
}

/*
 * The relation a change names, checked against the tuples it carries
 * (old may be NULL); NULL after logging when something does not fit.
 */
static apply_rel *
change_rel(apply_lane *ap, uint32_t relid, char op, const pgo_tuple *new,
		   const pgo_tuple *old)
{
	apply_rel  *rel = apply_relmap_get(ap->relmap, relid);

	if (!ap->in_xact)
		error("%s outside a transaction in the replication stream", op_name(op));
	else if (rel == NULL)
		error("%s for relation OID %u, which the replication stream did not describe",
			  op_name(op), relid);
	else if ((new && new->ncols != rel->ncols) || (old && old->ncols != rel->ncols))
		error("%s for table \"%s\" has %d columns, the table %d",
			  op_name(op), rel->display, new && new->ncols != rel->ncols ? new->ncols : old->ncols,
			  rel->ncols);
	else
	{
		ensure_cols(ap, rel->ncols);
		strbuf_reset(&ap->vals);
		ap->nparams = 0;
		return rel;
	}
	return NULL;
}

static int
apply_insert(apply_lane *ap, const pgo_insert *ins)
{
	apply_rel  *rel = change_rel(ap, ins->relid, 'I', &ins->newtuple, NULL);
	int			rc;

	if (rel == NULL)
		return -1;
	for (int i = 0; i < rel->ncols; i++)
		ap->mask_set[i] = ins->newtuple.cols[i].kind != PGO_VALUE_UNCHANGED &&
			!rel->cols[i].excluded;
	rc = hold_change(ap, rel, 'I', &ins->newtuple);
	if (rc != 0)
		return rc > 0 ? 0 : rc;
	add_params(ap, ins->newtuple.cols, ins->newtuple.ncols, ap->mask_set);
	return send_change(ap, rel, 'I', ap->mask_set, NULL);
}

/* Two values are the same bytes (and kind). */
static bool
same_value(const pgo_value *a, const pgo_value *b)
{
	return a->kind == b->kind && a->len == b->len &&
		(a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/*
 * Fill mask_key with the columns that find the row, from tuple t: every
 * sent column of the old row for FULL, the key columns otherwise.  -1
 * (logged) when the key cannot find a row.
 */
static int
key_mask(apply_lane *ap, const apply_rel *rel, const pgo_tuple *t, char op)
{
	bool		full = rel->desc->replident == PGO_REPLIDENT_FULL;
	int			nkey = 0;

	for (int i = 0; i < rel->ncols; i++)
	{
		char		kind = t->cols[i].kind;

		ap->mask_key[i] = full ? kind != PGO_VALUE_UNCHANGED
			: (rel->desc->atts[i].flags & PGO_ATTR_KEY) != 0;
		ap->mask_key[i] = ap->mask_key[i] && !rel->cols[i].excluded;
		if (!full && ap->mask_key[i] && kind != PGO_VALUE_TEXT)
			return error("%s for table \"%s\" lacks the value of key column \"%s\"",
						 op_name(op), rel->display, rel->desc->atts[i].name);
		nkey += ap->mask_key[i] ? 1 : 0;
	}
	if (nkey == 0)
		return error("%s for table \"%s\" has no replica identity to find the row by",
					 op_name(op), rel->display);
	return 0;
}

/*
 * The old value of column i, or NULL when the change does not tell it:
 * the old row for FULL, the key (old, or new when it did not change).
 */
static const pgo_value *
old_value(const apply_rel *rel, const pgo_update *u, const bool *key, int i)
{
	if (rel->desc->replident == PGO_REPLIDENT_FULL)
		return &u->oldtuple.cols[i];
	if (!key[i])
		return NULL;
	return u->old_kind ? &u->oldtuple.cols[i] : &u->newtuple.cols[i];
}

/*
 * How an update is applied ('U', 'M', 'C': see statement_sql()), from its
 * GENERATED ALWAYS identity columns, which UPDATE cannot set: one that
 * changed moves the row, one that may have changed (its old value is not
 * sent) moves it if it did.
 */
static char
update_form(const apply_rel *rel, const pgo_update *u, const bool *key)
{
	char		form = 'U';

	for (int i = 0; i < rel->ncols; i++)
	{
		const pgo_value *nv = &u->newtuple.cols[i];
		const pgo_value *ov;

		if (!rel->cols[i].identity_always || nv->kind == PGO_VALUE_UNCHANGED)
			continue;
		ov = old_value(rel, u, key, i);
		if (ov == NULL)
			form = form == 'M' ? 'M' : 'C';
		else if (!same_value(ov, nv))
			form = 'M';
	}
	return form;
}

/*
 * UPDATE: SET what was sent, except the key when it did not change, and
 * identity columns unless the row is moved (update_form()).
 */
static int
apply_update(apply_lane *ap, const pgo_update *u)
{
	const pgo_tuple *old = u->old_kind ? &u->oldtuple : NULL;
	apply_rel  *rel = change_rel(ap, u->relid, 'U', &u->newtuple, old);
	bool		full;
	char		form;
	int			nset = 0;
	int			rc;

	if (rel == NULL)
		return -1;
	full = rel->desc->replident == PGO_REPLIDENT_FULL;
	if (full && u->old_kind != 'O')
		return error("Update for table \"%s\" (replica identity full) lacks the old row",
					 rel->display);
	if (key_mask(ap, rel, old ? old : &u->newtuple, 'U') != 0)
		return -1;
	form = update_form(rel, u, ap->mask_key);
	for (int i = 0; i < rel->ncols; i++)
	{
		bool		set = u->newtuple.cols[i].kind != PGO_VALUE_UNCHANGED &&
			!rel->cols[i].excluded;

		if (!full && ap->mask_key[i] && old == NULL)
			set = false;		/* the key did not change */
		if (rel->cols[i].identity_always && form == 'U')
			set = false;		/* it did not change either */
		ap->mask_set[i] = set;
		nset += set ? 1 : 0;
	}
	if (nset == 0)
	{
		ap->group_changes++;		/* nothing the target does not have */
		return 0;
	}
	rc = form == 'U' && old == NULL ? hold_change(ap, rel, 'U', &u->newtuple)
		: send_pending(ap);
	if (rc != 0)
		return rc > 0 ? 0 : rc;
	add_params(ap, u->newtuple.cols, u->newtuple.ncols, ap->mask_set);
	add_params(ap, old ? old->cols : u->newtuple.cols, u->newtuple.ncols, ap->mask_key);
	return send_change(ap, rel, form, ap->mask_set, ap->mask_key);
}

static int
apply_delete(apply_lane *ap, const pgo_delete *d)
{
	apply_rel  *rel = change_rel(ap, d->relid, 'D', NULL, &d->oldtuple);
	int			rc;

	if (rel == NULL)
		return -1;
	if (rel->desc->replident == PGO_REPLIDENT_FULL && d->old_kind != 'O')
		return error("Delete for table \"%s\" (replica identity full) lacks the old row",
					 rel->display);
	if (key_mask(ap, rel, &d->oldtuple, 'D') != 0)
		return -1;
	rc = hold_change(ap, rel, 'D', &d->oldtuple);
	if (rc != 0)
		return rc > 0 ? 0 : rc;
	add_params(ap, d->oldtuple.cols, d->oldtuple.ncols, ap->mask_key);
	return send_change(ap, rel, 'D', NULL, ap->mask_key);
}

static int
apply_truncate(apply_lane *ap, const pgo_truncate *t)
{
	const char **names = xcalloc((size_t) t->nrels + 1, sizeof(char *));
	bool	   *only = xcalloc((size_t) t->nrels + 1, sizeof(bool));
	char	   *sql;
	int			rc = 0;

	if (!ap->in_xact)
		rc = error("Truncate outside a transaction in the replication stream");
	for (int i = 0; i < t->nrels && rc == 0; i++)
	{
		apply_rel  *rel = apply_relmap_get(ap->relmap, t->relids[i]);

		if (rel == NULL)
			rc = error("Truncate of relation OID %u, which the replication stream did not describe",
					   t->relids[i]);
		else
		{
			names[i] = rel->qname;
			only[i] = rel->relkind != 'p';
			rel->written_group = ap->group_seq + (ap->group_open ? 0 : 1);
		}
	}
	if (rc == 0 && t->nrels > 0)
	{
		sql = apply_sql_truncate(names, only, t->nrels,
								 (t->options & PGO_TRUNCATE_RESTART_IDENTITY) != 0,
								 (t->options & PGO_TRUNCATE_CASCADE) != 0);
		rc = send_pending(ap);
		if (rc == 0)
			rc = ensure_begun(ap);
		if (rc == 0)
			rc = send_sql(ap, 'T', sql, 0, NULL);
		ap->group_changes++;
		free(sql);
	}
	free(names);
	free(only);
	return rc;
}

/* ---------- transactions and relations ---------- */

static int
apply_begin(apply_lane *ap, const pgo_begin *b)
{
	if (ap->in_xact)
		return error("Begin inside a transaction in the replication stream");
	ap->in_xact = true;
	ap->xact_lsn = b->final_lsn;
	ap->xact_sent = false;
	return 0;
}

/*
 * COMMIT the target transaction, with the origin's position set in it to
 * the end of the last source transaction it holds.
 */
static int
commit_group(apply_lane *ap)
{
	char		lsn[PGO_LSN_BUFSIZE];
	char		ts[40];
	const char *params[3] = {lsn, ts, ap->origin};
	int			rc;

	pgo_lsn_format(ap->group_end_lsn, lsn, sizeof(lsn));
	apply_sql_timestamp(ap->group_time, ts, sizeof(ts));
	rc = send_pending(ap);
	if (rc == 0)
		rc = ap->progress_table ? send_sql(ap, 'O', CDC_PROGRESS_TABLE_SQL, 3, params)
		: send_sql(ap, 'O', CDC_ORIGIN_XACT_SETUP_SQL, 2, params);
	if (rc == 0)
		rc = send_sql(ap, 'C', "COMMIT", 0, NULL);
	if (rc == 0)
		rc = send_sync(ap, ap->group_end_lsn, ap->group_time);
	ap->group_open = false;
	ap->group_txns = 0;
	ap->group_changes = 0;
	return rc;
}

/*
 * The end of a source transaction.  It stays in the open target
 * transaction, which more may join (apply_lane_flush() commits it), up to
 * a size.  A transaction without changes, with nothing open, is only
 * queued, so that it counts as applied in its turn.
 */
static int
apply_commit(apply_lane *ap, const pgo_commit *c)
{
	apply_cmd  *cmd;

	if (!ap->in_xact)
		return error("Commit outside a transaction in the replication stream");
	ap->in_xact = false;
	ap->stats.queued_lsn = c->end_lsn;
	if (!ap->group_open)
	{
		cmd = queue_push(ap, 'E');
		cmd->lsn = c->end_lsn;
		cmd->time = c->commit_time;
		cmd->ntxns = 1;
		return 0;
	}
	ap->group_txns++;
	ap->group_end_lsn = c->end_lsn;
	ap->group_time = c->commit_time;
	if (ap->group_txns >= GROUP_MAX_TRANSACTIONS || ap->group_changes >= GROUP_MAX_CHANGES ||
		c->end_lsn <= ap->commit_each_until)
		return commit_group(ap);
	return 0;
}

void
apply_lane_commit_each_until(apply_lane *ap, uint64_t lsn)
{
	ap->commit_each_until = lsn;
}

int
apply_lane_flush(apply_lane *ap)
{
	if (!ap->group_open || ap->in_xact || ap->failed)
		return 0;
	return commit_group(ap);
}

/*
 * The source transaction in progress cannot be applied (the target's table
 * does not match).  Nothing of it sent yet: commit the complete source
 * transactions before it that the open target transaction holds, with the
 * origin at the end of the last of them, and stop (CDC_MISMATCH).
 * Some of it sent already: give up the whole target transaction and ask
 * for a new session that commits each transaction up to this one on its
 * own (CDC_REPLAY, *replay_until set), which then stops here with
 * nothing before it left out.
 */
static int
stop_before_xact(apply_lane *ap, uint64_t *replay_until)
{
	int			rc;

	if (!ap->group_open || ap->group_txns == 0)
		rc = apply_lane_rollback(ap);
	else if (ap->xact_sent)
	{
		*replay_until = ap->xact_lsn;
		rc = apply_lane_rollback(ap);
		return rc == 0 ? CDC_REPLAY : rc;
	}
	else
	{
		ap->in_xact = false;
		rc = commit_group(ap);
	}
	return rc == 0 ? CDC_MISMATCH : rc;
}

/*
 * Wait until the target has answered every target transaction sent before
 * the source transaction in progress (their Syncs), whose own changes
 * come back only with its Sync.
 */
static int
wait_syncs(apply_lane *ap)
{
	double		end = clock_now() + DDL_WAIT_SECONDS;

	for (;;)
	{
		struct pollfd pfd;
		bool		pending = false;
		int			rc = apply_lane_poll(ap);

		if (rc != 0)
			return rc;
		for (int i = 0; i < ap->qlen && !pending; i++)
			pending = ap->queue[(ap->qhead + i) % ap->qcap].kind == 'S';
		if (!pending)
			return 0;
		if (clock_now() > end)
			return error("the target server did not answer within %d seconds", DDL_WAIT_SECONDS);
		pfd.fd = PQsocket(ap->conn);
		pfd.events = POLLIN | (ap->want_write ? POLLOUT : 0);
		pfd.revents = 0;
		(void) poll(&pfd, 1, 100);
	}
}

/*
 * Before a schema change that the control session applies to rel's table
 * (rel NULL: a new one): every complete source transaction before the one
 * in progress committed and answered, and nothing open that wrote to the
 * table.  When the open target transaction holds complete source
 * transactions and changes of this one, all of it is rolled back and
 * CDC_REPLAY asks for a session that commits each on its own
 * (stop_before_xact()), which gets here with this one alone.  When this
 * one wrote to the table before its definition changed, CDC_MISMATCH
 * (logged).  0 when ready.
 */
static int
prepare_for_ddl(apply_lane *ap, const apply_rel *rel, const char *display)
{
	int			rc = 0;

	if (ap->group_open && ap->xact_sent && ap->group_txns > 0)
	{
		ap->replay_until = ap->xact_lsn;
		rc = apply_lane_rollback(ap);
		return rc == 0 ? CDC_REPLAY : rc;
	}
	if (ap->group_open && ap->xact_sent)
	{
		if (rel != NULL && rel->written_group == ap->group_seq)
		{
			error("table \"%s\" changed on the source in the middle of a transaction that had written to it before",
				  display);
			log_detail("A schema change is applied on the target in a transaction of its own, before the changes that need it.");
			return CDC_MISMATCH;
		}
	}
	else if (ap->group_open)
		rc = commit_group(ap);
	return rc == 0 ? wait_syncs(ap) : rc;
}

/*
 * With --ddl=apply: make the target's table take what desc describes
 * (ddl.h), in a transaction of its own on the control session before the
 * change that needs it.  The plan is made again once the apply session is
 * ready, from what the target then holds.  0, CDC_REPLAY, CDC_MISMATCH
 * (stopped before the transaction) or -1.
 */
static int
relation_ddl(apply_lane *ap, const pgo_relation *d, const apply_rel *rel)
{
	ddl_plan	plan = DDL_PLAN_INIT;
	int			rc = ddl_plan_relation(ap->ddl, ap->ctl, d, &plan);

	if (rc == 0 && plan.n > 0)
	{
		rc = prepare_for_ddl(ap, rel, plan.display);
		ddl_plan_release(&plan);
		if (rc == 0)
			rc = ddl_plan_relation(ap->ddl, ap->ctl, d, &plan);
		if (rc == 0 && plan.n > 0)
			rc = ddl_execute(ap->ddl, ap->ctl, d, &plan);
	}
	ddl_plan_release(&plan);
	if (rc == CDC_MISMATCH)
		return stop_before_xact(ap, &ap->replay_until);
	if (rc == CDC_FAILED)
		return failed(ap);
	return rc;
}

/*
 * Whether the selection's rules transform the table d describes (or it was
 * renamed on the source while rules are present): its schema changes are
 * not applied, as --ddl=stop would do.
 */
static bool
transformed(const apply_lane *ap, const pgo_relation *d, bool renamed)
{
	if (ap->sel == NULL)
		return false;
	return renamed || apply_rel_transformed(ap->sel, d->nspname, d->relname);
}

/*
 * A Relation message: the first one for an OID in this session maps it to
 * its target table, and so does one that describes it differently (new
 * name, columns or replica identity): with --ddl=apply the schema change
 * is applied on the target first (relation_ddl()), then the target's
 * table is read again, so a target changed ahead of the source (a column
 * added first on the target) goes on at once.  When it does not match,
 * the follow stops before the transaction (stop_before_xact()).
 */
static int
apply_relation(apply_lane *ap, pgo_relation *desc)
{
	uint32_t	oid = desc->oid;
	apply_rel  *rel = apply_relmap_get(ap->relmap, oid);
	unsigned	diff;
	const pgo_relation *d;
	bool		renamed;
	uint64_t	written = rel ? rel->written_group : 0;
	int			rc = rel != NULL ? send_pending(ap) : 0;

	/* What is held was made with the description this one replaces. */
	if (rc != 0)
	{
		pgo_relation_free(desc);
		return rc;
	}
	diff = pgo_relcache_put(ap->relcache, desc);
	d = pgo_relcache_get(ap->relcache, oid);
	renamed = rel != NULL && (diff & PGO_RELCHANGE_NAME);
	if (rel != NULL)
		rel->desc = d;
	if (rel != NULL && diff == 0)
		return 0;
	if (!ap->quiet && rel != NULL && (diff & (PGO_RELCHANGE_NAME | PGO_RELCHANGE_COLUMNS)))
		log_info("table \"%s\" changed on the source; matching it with the target again",
				 rel->display);
	if (renamed && !ap->quiet)
		log_info("the source renamed table \"%s\" to \"%s.%s\"", rel->display,
				 d->nspname, d->relname);
	if (ap->ddl != NULL && transformed(ap, d, renamed))
	{
		if (rel != NULL && !ap->quiet)
			log_warning("schema changes of table \"%s\" are not applied: the selection renames it or leaves a column of it out, so the follow stops if the target no longer matches",
						rel->display);
	}
	else if (ap->ddl != NULL && (rc = relation_ddl(ap, d, rel)) != 0)
		return rc;
	rc = apply_rel_load(ap->ctl, ap->relmap, ap->sel, d, &rel);
	if (rc == CDC_MISMATCH)
		return stop_before_xact(ap, &ap->replay_until);
	if (rc != 0)
		return failed(ap);
	if (load_compact(ap, rel) != 0)
	{
		apply_rel_free(rel);
		return failed(ap);
	}
	rel->written_group = written;
	/* A column dropped on the source stays on the target: say so. */
	for (int i = 0; !ap->quiet && i < rel->nextra; i++)
		log_msg((diff & PGO_RELCHANGE_COLUMNS) ? LOG_WARNING : LOG_INFO,
				"column %s of table \"%s\" is on the target only: its rows keep their values there, new rows take its default",
				rel->extra[i], rel->display);
	apply_relmap_put(ap->relmap, rel);
	return 0;
}

void
apply_lane_set_ddl(apply_lane *ap, ddl_ctx *ddl)
{
	ap->ddl = ddl;
}

void
apply_lane_set_selection(apply_lane *ap, const selection *sel)
{
	ap->sel = sel;
}

int
apply_lane_message(apply_lane *ap, pgo_message *msg)
{
	if (ap->failed)
		return ap->replay_held ? CDC_REPLAY : failed(ap);
	switch (msg->kind)
	{
		case PGO_BEGIN:
			return apply_begin(ap, &msg->u.begin);
		case PGO_COMMIT:
			return apply_commit(ap, &msg->u.commit);
		case PGO_RELATION:
			return apply_relation(ap, pgo_message_take_relation(msg));
		case PGO_INSERT:
			return apply_insert(ap, &msg->u.insert);
		case PGO_UPDATE:
			return apply_update(ap, &msg->u.update);
		case PGO_DELETE:
			return apply_delete(ap, &msg->u.delete);
		case PGO_TRUNCATE:
			return apply_truncate(ap, &msg->u.truncate);
		case PGO_TYPE:
		case PGO_ORIGIN:
		case PGO_MESSAGE:
			return 0;			/* nothing to do on the target */
	}
	return error("unexpected %s message in the replication stream",
				 pgo_kind_name(msg->kind));
}

uint64_t
apply_lane_replay_until(const apply_lane *ap)
{
	return ap->replay_until;
}

int
apply_lane_rollback(apply_lane *ap)
{
	int			rc = 0;

	ap->in_xact = false;
	compact_reset(ap->pending);
	if (ap->group_open)
	{
		ap->group_open = false;
		ap->group_txns = 0;
		ap->group_changes = 0;
		rc = send_sql(ap, 'R', "ROLLBACK", 0, NULL);
		if (rc == 0)
			rc = send_sync(ap, 0, 0);
	}
	return rc;
}

int
apply_lane_durable_lsn(apply_lane *ap, uint64_t *lsn)
{
	if (cdc_origin_progress(ap->ctl, ap->progress_table, ap->origin, true, lsn, NULL) != 0)
		return failed(ap);
	return 0;
}

int
apply_lane_socket(const apply_lane *ap)
{
	return PQsocket(ap->conn);
}

bool
apply_lane_wants_write(const apply_lane *ap)
{
	return ap->want_write;
}

bool
apply_lane_busy(const apply_lane *ap)
{
	return ap->want_write || ap->qlen > MAX_IN_FLIGHT;
}

bool
apply_lane_in_transaction(const apply_lane *ap)
{
	return ap->in_xact;
}

int
apply_lane_in_flight(const apply_lane *ap)
{
	return ap->qlen + (ap->group_open ? 1 : 0);
}

bool
apply_lane_ok(const apply_lane *ap)
{
	return !ap->failed && PQstatus(ap->conn) == CONNECTION_OK &&
		PQstatus(ap->ctl) == CONNECTION_OK;
}

const cdc_apply_stats *
apply_lane_get_stats(const apply_lane *ap)
{
	return &ap->stats;
}

PGconn *
apply_lane_control(apply_lane *ap)
{
	return ap->ctl;
}

/* ---------- driven by apply.c (several lanes) ---------- */

void
apply_lane_begin_xact(apply_lane *ap, uint64_t final_lsn)
{
	ap->in_xact = true;
	ap->xact_lsn = final_lsn;
	ap->xact_sent = false;
}

void
apply_lane_end_xact(apply_lane *ap)
{
	ap->in_xact = false;
}

int
apply_lane_commit(apply_lane *ap, uint64_t end_lsn, int64_t commit_time)
{
	if (ap->failed)
		return ap->replay_held ? CDC_REPLAY : failed(ap);
	if (!ap->group_open)
		return 0;
	ap->group_end_lsn = end_lsn;
	ap->group_time = commit_time;
	return commit_group(ap);
}

void
apply_lane_set_resume(apply_lane *ap, uint64_t lsn)
{
	if (ap->stats.applied_lsn < lsn)
		ap->stats.applied_lsn = ap->stats.queued_lsn = ap->stats.committed_lsn = lsn;
}

int
apply_lane_backend_pid(const apply_lane *ap)
{
	return PQbackendPID(ap->conn);
}

const char *
apply_lane_target_table(const apply_lane *ap, uint32_t relid)
{
	const apply_rel *rel = apply_relmap_get(ap->relmap, relid);

	return rel ? rel->qname : NULL;
}

bool
apply_lane_failed_transient(const apply_lane *ap)
{
	return ap->failed_transient || PQstatus(ap->conn) == CONNECTION_BAD;
}
