/*
 * follow.c
 *		Keep the target up to date with the source until cutover.
 *
 * One loop, one thread.  A session is three connections: the replication
 * stream from the source's slot (stream.c), the apply session and its
 * control session on the target (apply.c).  Each turn of the loop
 *
 *	1.	sends what the apply queued and reads the target's answers;
 *	2.	unless the target is behind on answering (cdc_apply_busy), reads
 *		what the source sent: XLogData is decoded (pgoutput.c) and handed
 *		to the apply; a keepalive tells how far the source has decoded;
 *		when nothing more has arrived, the apply commits the source
 *		transactions it holds (several small ones share a target
 *		transaction while the stream delivers them back to back);
 *	3.	once a second records the figures in the state, draws the live
 *		line, checks for a cutover request; every two seconds sends a
 *		status update to the source, asking for a keepalive in return,
 *		and reads its WAL position; a minute without any message from
 *		the source means the connection is dead even if TCP has not
 *		noticed;
 *	4.	waits on both sockets for at most 100 ms, so that Ctrl-C and a
 *		cutover request are seen at once.
 *
 * What the source may forget.  The status update's flush position lets
 * the source recycle WAL and moves the slot on for good, so it must never
 * pass what the target holds durably.  The apply commits with
 * synchronous_commit off; the origin's progress read with flush (which
 * flushes the target's WAL up to it) is the durable position, polled every
 * second.  When nothing is in flight, no transaction is open and all of it
 * is durable, the keepalive's WAL end may be reported instead, so the slot
 * also advances while the source writes nothing this database publishes.
 *
 * Restart.  A session starts streaming at the origin's progress, read
 * after the apply session has bound the origin (which fails while an older
 * session still holds it), so no earlier session can still commit behind
 * it.  A failure that heals by waiting (errclass.h: a lost connection to
 * either server, a shutdown or restart, crash recovery, a slot or origin
 * still held by a session that is ending) ends the session; a new one
 * starts after a backoff of 1, 2, 4, ... 30 s, for at most
 * timeout_seconds without a session that received anything.  A session's
 * failure is captured (core/failure.h) until its end decides what it is:
 * warnings when it is tried again, errors when not.  Whatever
 * ended it, the open target transaction is rolled back and the next
 * session starts at the origin's durable progress.  The same holds across
 * processes: after kill -9, "pgcrane follow" resumes exactly after the
 * last transaction the target committed.
 *
 * Cutover.  When cutover.requested appears in the state, the source's WAL
 * insert position at that moment becomes the cutover position: every
 * transaction visible on the source then has its commit record before it.
 * The loop asks for a keepalive every half second and is done when a
 * keepalive's WAL end has reached the position outside any transaction
 * and the target has answered everything.  The last commits are then
 * flushed to disk on the target (the origin's progress with flush, the
 * same guarantee as synchronous_commit on for the last commit), the
 * sequence values are copied from the source, then what the stream does
 * not carry (unlogged tables, materialized views, large objects:
 * cutover_extra.h), and the outcome recorded.
 */
#include "cdc/follow.h"

#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/catalog.h"
#include "cdc/adopt.h"
#include "cdc/apply.h"
#include "cdc/apply_rel.h"
#include "cdc/carry.h"
#include "cdc/cutover_extra.h"
#include "cdc/ddl.h"
#include "cdc/ddl_report.h"
#include "cdc/lag.h"
#include "cdc/outcome.h"
#include "cdc/pgoutput.h"
#include "cdc/position.h"
#include "cdc/report.h"
#include "cdc/slot.h"
#include "cdc/stream.h"
#include "core/conn.h"
#include "core/failure.h"
#include "core/identity.h"
#include "core/selection.h"
#include "core/selres.h"
#include "core/sequence.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/str.h"

/*
 * Outcomes of a session: the negative ones are those of outcome.h, which
 * the stream and the apply session return; these two are the loop's own.
 */
#define FOLLOW_DONE		1
#define FOLLOW_STOPPED	2

#define DEFAULT_TIMEOUT 600			/* seconds without reaching a server */
#define MAX_BACKOFF 30
#define MESSAGES_PER_TURN 2000
#define FEEDBACK_INTERVAL 2.0
#define CUTOVER_FEEDBACK_INTERVAL 0.5
#define SOURCE_POLL_INTERVAL 2.0
#define LOG_INTERVAL 10.0
#define RECEIVE_TIMEOUT 60.0	/* as wal_receiver_timeout: silence = lost */
#define CONNECT_TIMEOUT "10"	/* seconds, for every connection made here */
#define RATE_SAMPLES 6			/* changes per second over ~5 s */
#define CUTOVER_JOBS 4			/* workers carrying the extras */

typedef struct follow_ctx
{
	const follow_options *o;
	bool		state_broken;	/* a write to the state file failed */
	uint64_t	commit_each_until;	/* after CDC_REPLAY: commit each source
									 * transaction up to it on its own */
	char	   *slot_retained;	/* WAL the slot held at the last session end */
	const char *dir;
	char	   *source;
	char	   *target;
	char	   *slot;
	char	   *publication;
	char	   *origin;
	bool		progress_table; /* no origin: pgcrane.follow_progress */
	uint64_t	start_lsn;

	ddl_ctx    *ddl;			/* --ddl=apply; NULL: schema changes stop */
	bool		no_owner;		/* the clone's --no-owner and --no-acl */
	bool		no_acl;
	cdc_stream	stream;
	cdc_apply  *ap;
	PGconn	   *srcq;			/* plain source session: WAL position */
	selection	rules;			/* the clone's selection rules */
	selres		chosen;			/* rules resolved on srcq, once */
	bool		chosen_read;
	bool		streamed;		/* this session received something */
	double		last_receive;	/* clock_now() of the last message */
	bool		more;			/* the stream may hold more at once */

	uint64_t	ka_wal_end;		/* keepalive WAL end outside transactions */
	uint64_t	durable_lsn;
	uint64_t	source_lsn;		/* 0 until known */
	uint64_t	cutover_lsn;	/* 0 until a cutover is requested */
	const char *phase;

	int64_t		base_transactions;	/* totals of earlier sessions */
	int64_t		base_changes;
	int64_t		base_missing;
	int64_t		recorded_transactions;	/* the total last in the state */
	uint64_t	counted_lsn;	/* the counts in the state hold every
								 * transaction up to here, none after */

	cdc_lag		lag;			/* transactions received, not applied */
	uint64_t	shown_applied;	/* highest applied LSN recorded */
	uint64_t	shown_durable;	/* highest durable LSN recorded */

	double		next_tick;
	double		next_feedback;
	double		next_source_poll;
	double		next_log;
	double		rate_t[RATE_SAMPLES];
	int64_t		rate_c[RATE_SAMPLES];
	int			rate_n;
	double		rate;
	bool		tty;
	bool		line_open;
} follow_ctx;

static uint64_t
max_lsn(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* End the live line so that a message starts on a line of its own. */
static void
end_line(follow_ctx *c)
{
	if (c->line_open)
		fputc('\n', stderr);
	c->line_open = false;
}

/*
 * A write to the state file that failed (logged by the state module):
 * status and cutover read that file, so the follow stops at its next
 * tick.  Nothing is lost: what is applied is recorded by the origin on
 * the target, not here.
 */
static void
note_state(follow_ctx *c, int rc)
{
	if (rc != 0)
		c->state_broken = true;
}

static void
set_phase(follow_ctx *c, const char *phase)
{
	if (c->phase != NULL && strcmp(c->phase, phase) == 0)
		return;
	c->phase = phase;
	note_state(c, state_record_follow_phase(c->o->st, phase));
}

/* ---------- positions ---------- */

/* Nothing open, nothing in flight: the target has all it was sent. */
static bool
apply_idle(const follow_ctx *c)
{
	return !cdc_apply_in_transaction(c->ap) && cdc_apply_in_flight(c->ap) == 0;
}

/* How far the target has the source: applied, or the keepalive when idle. */
static uint64_t
position(const follow_ctx *c)
{
	uint64_t	applied = cdc_apply_get_stats(c->ap)->applied_lsn;

	return apply_idle(c) ? max_lsn(applied, c->ka_wal_end) : applied;
}

/*
 * What the source may forget: never past what the target has durably
 * committed (cdc/position.h states the invariant and computes it).
 */
static uint64_t
safe_flush(const follow_ctx *c)
{
	const cdc_apply_stats *s = cdc_apply_get_stats(c->ap);
	cdc_position p = {c->durable_lsn, s->committed_lsn, s->applied_lsn,
	c->ka_wal_end, apply_idle(c)};

	return cdc_position_flush(&p);
}

/* ---------- counts ---------- */

/*
 * The counts survive kill -9 exactly.  The state holds them with
 * follow.counted_lsn: every source transaction whose commit ends at or
 * before it is counted, none after.  They are written as soon as the
 * target answers a commit, and before every status update, whose flush
 * position never passes what is counted; so the slot never moves past
 * counted_lsn.  A session starts at the origin's durable progress, which
 * may lie after counted_lsn (the target committed what this process did
 * not see answered before it died) or before it (a crash of the target
 * lost commits, which come again): resume_counts() asks the slot how many
 * transactions lie in between, without consuming them, and adds or takes
 * them away.
 */

/* Record the counts when they changed. */
static void
record_counts(follow_ctx *c)
{
	const cdc_apply_stats *s = cdc_apply_get_stats(c->ap);
	int64_t		total = c->base_transactions + s->transactions;
	uint64_t	counted = max_lsn(c->counted_lsn, s->applied_lsn);

	if (total == c->recorded_transactions && counted == c->counted_lsn)
		return;
	note_state(c, cdc_report_put_counts(c->o->st, total, c->base_changes + s->changes,
										c->base_missing + s->missing_rows, counted));
	c->recorded_transactions = total;
	c->counted_lsn = counted;
}

/*
 * The flush position to report: not past what is counted (while commands
 * are in flight, the durable position may include commits whose answers
 * were not read yet), and recorded as counted first.  Never more than
 * flush: what the source may forget only gets smaller here.
 */
static uint64_t
counted_flush(follow_ctx *c, uint64_t flush)
{
	const cdc_apply_stats *s = cdc_apply_get_stats(c->ap);

	if (!apply_idle(c) && flush > s->applied_lsn)
		flush = s->applied_lsn;
	record_counts(c);
	if (flush > c->counted_lsn)
	{
		note_state(c, cdc_report_put_counts(c->o->st, c->base_transactions + s->transactions,
											c->base_changes + s->changes,
											c->base_missing + s->missing_rows, flush));
		c->counted_lsn = flush;
	}
	return flush;
}

/*
 * The totals of earlier follows from the state, into c and p (release
 * it); false when the state could not be read (they are 0 then, and the
 * follow stops at its next tick).
 */
static bool
load_counts(follow_ctx *c, state_progress *p)
{
	bool		ok = state_load_progress(c->o->st, p) == 0;

	note_state(c, ok ? 0 : -1);
	c->base_transactions = p->counts.transactions;
	c->base_changes = p->counts.changes;
	c->base_missing = p->counts.missing_rows;
	return ok;
}

/*
 * A session starts at resume: take the counts from the state, corrected by
 * the transactions between counted_lsn and resume (see above).  Without
 * an answer from the source they stay as recorded, and may be off by those.
 */
static void
resume_counts(follow_ctx *c, uint64_t resume)
{
	state_progress p;
	uint64_t	counted = load_counts(c, &p) ? p.counts.counted_lsn : 0;
	int64_t		txns = 0;
	int64_t		changes = 0;
	bool		known = counted == resume || counted < c->start_lsn;

	state_progress_release(&p);
	if (!known && c->srcq == NULL)
		c->srcq = conn_try_open(c->source, NULL, NULL, 0);
	if (!known && c->srcq != NULL &&
		cdc_slot_count_between(c->srcq, c->slot, c->publication,
							   counted < resume ? counted : resume,
							   counted < resume ? resume : counted,
							   &txns, &changes) == 0)
	{
		int			sign = counted < resume ? 1 : -1;

		log_debug("%" PRId64 " transactions %s between the counted and the resume position",
				  txns, sign > 0 ? "committed uncounted" : "to come again");
		c->base_transactions += sign * txns;
		c->base_changes += sign * changes;
		known = true;
	}
	c->recorded_transactions = c->base_transactions;
	c->counted_lsn = known ? resume : 0;
	if (known)
		note_state(c, cdc_report_put_counts(c->o->st, c->base_transactions, c->base_changes,
											c->base_missing, resume));
}

static int
send_feedback(follow_ctx *c, bool reply)
{
	uint64_t	flush = counted_flush(c, safe_flush(c));
	uint64_t	apply = max_lsn(flush, cdc_apply_get_stats(c->ap)->applied_lsn);

	return cdc_stream_feedback(&c->stream, max_lsn(c->stream.received_lsn, apply),
							   flush, apply, reply);
}

/* ---------- the source's position ---------- */

/*
 * Ask the source for its WAL position (insert: for the cutover, which must
 * cover every commit visible on the source).  0 (and *lsn 0) when the
 * source cannot be asked now; that is not an error here.
 */
static void
source_position(follow_ctx *c, bool insert, uint64_t *lsn)
{
	PGresult   *res;

	*lsn = 0;
	if (c->srcq == NULL)
		c->srcq = conn_try_open(c->source, NULL, NULL, 0);
	if (c->srcq == NULL)
		return;
	res = PQexec(c->srcq, insert ? "SELECT pg_catalog.pg_current_wal_insert_lsn()"
				 : "SELECT pg_catalog.pg_current_wal_lsn()");
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		(void) pgo_lsn_parse(PQgetvalue(res, 0, 0), lsn);
	PQclear(res);
	if (*lsn == 0)
	{
		PQfinish(c->srcq);
		c->srcq = NULL;
	}
}

/*
 * Whether the follow carries new table t: 1 (kept by the rules as it
 * is), 0 (left out by them), or CDC_FAILED (kept, but under another name
 * or with columns left out, which the follow does not make: a stop).
 * The rules are resolved again on the source when t is not in them yet.
 */
static int
carried(follow_ctx *c, const cdc_new_table *t)
{
	const selres_rel *r;

	if (sel_is_empty(&c->rules))
		return 1;
	r = c->chosen_read ? selres_find(&c->chosen, t->oid) : NULL;
	if (r == NULL)
	{
		selres_release(&c->chosen);
		c->chosen = (selres) SELRES_INIT;
		c->chosen_read = selres_read(c->srcq, &c->rules, &c->chosen) == 0;
		r = c->chosen_read ? selres_find(&c->chosen, t->oid) : NULL;
	}
	if (r == NULL)
		return c->chosen_read ? 0 : -1;	/* gone again, or not read */
	if (r->why != NULL || r->no_data)
		return 0;
	if (apply_rel_transformed(&c->rules, t->nspname, t->relname))
	{
		(void) failure_set(SIDE_SOURCE, NULL, t->display, false,
						   "table \"%s\" created on the source during the follow is renamed or narrowed by the selection rules",
						   t->display);
		log_hint("The follow makes a new table on the target only under its own name and with all its columns: "
				 "drop it on the source if it is not needed and run \"pgcrane follow --dir %s\", or start over "
				 "with \"pgcrane cleanup --dir %s\" and a new clone --follow, which copies it under the rules.",
				 c->dir, c->dir);
		return CDC_FAILED;
	}
	return 1;
}

/* With --ddl=stop: a new table that the follow carries stops it. */
static int
new_table_stop(follow_ctx *c, const cdc_new_table *t)
{
	(void) failure_set(SIDE_SOURCE, NULL, t->display, false,
					   "table \"%s\" created on the source during the follow: publication \"%s\" does not hold it, so its changes would be lost",
					   t->display, c->publication);
	log_hint("With --ddl=apply the follow adds such a table to the publication and copies its rows: "
			 "run \"pgcrane follow --dir %s --ddl=apply\", or drop the table on the source if it is not needed.",
			 c->dir);
	return CDC_FAILED;
}

/*
 * A publication FOR TABLE (a source role that may not publish all
 * tables, or selection rules) does not take in a table created after it:
 * its changes would never arrive.  Asked at the pace of the source
 * position; each such table that the follow carries joins the
 * publication with its rows (adopt.h), or stops the follow, named.
 */
static int
check_new_tables(follow_ctx *c)
{
	cdc_new_table *t = NULL;
	int			n = c->srcq ? cdc_publication_missing(c->srcq, c->publication, &t) : 0;
	int			rc = 0;
	adopt_options ao = {c->source, c->target, c->publication, c->o->st, c->ddl,
		!sel_is_empty(&c->rules)};

	for (int i = 0; rc == 0 && i < n; i++)
	{
		int			keep = carried(c, &t[i]);

		if (keep <= 0)
			rc = keep < 0 ? keep : 0;
		else if (c->ddl == NULL)
			rc = new_table_stop(c, &t[i]);
		else
		{
			rc = adopt_table(&ao, &t[i]);
			/* The stream was not read while the rows were copied: not silence. */
			c->last_receive = clock_now();
		}
	}
	cdc_new_tables_free(t, n);
	return rc;
}

/* ---------- figures, live line ---------- */

/* Changes per second over the last few samples (one per tick). */
static void
update_rate(follow_ctx *c, double now, int64_t changes)
{
	int			oldest;

	if (c->rate_n == RATE_SAMPLES)
	{
		memmove(c->rate_t, c->rate_t + 1, sizeof(double) * (RATE_SAMPLES - 1));
		memmove(c->rate_c, c->rate_c + 1, sizeof(int64_t) * (RATE_SAMPLES - 1));
		c->rate_n--;
	}
	c->rate_t[c->rate_n] = now;
	c->rate_c[c->rate_n] = changes;
	c->rate_n++;
	oldest = 0;
	c->rate = c->rate_n > 1 && now > c->rate_t[oldest]
		? (double) (changes - c->rate_c[oldest]) / (now - c->rate_t[oldest]) : 0.0;
}

/*
 * The figures now.  The LSNs shown never move back: a new session starts
 * at the durable position, which may lie before what an earlier one had
 * applied (and shown); the highest one is kept.  The lag in seconds is the
 * age of the oldest source commit received and not applied (cdc/lag.h).
 */
static void
fill_figures(follow_ctx *c, follow_figures *f)
{
	const cdc_apply_stats *s = cdc_apply_get_stats(c->ap);
	uint64_t	pos = position(c);
	bool		backlog = c->more ||
		(strcmp(c->phase, FOLLOW_PHASE_CATCHING_UP) == 0 && c->source_lsn > pos);

	c->shown_applied = max_lsn(c->shown_applied, pos);
	c->shown_durable = max_lsn(c->shown_durable, c->durable_lsn);
	cdc_lag_applied(&c->lag, s->applied_lsn);
	f->phase = c->phase;
	f->applied_lsn = c->shown_applied;
	f->durable_lsn = c->shown_durable;
	f->source_lsn = c->source_lsn;
	f->lag_seconds = cdc_lag_seconds(&c->lag, cdc_now(), backlog, s->applied_time);
	f->changes_per_second = c->rate;
	f->transactions = c->base_transactions + s->transactions;
	f->changes = c->base_changes + s->changes;
	f->missing_rows = c->base_missing + s->missing_rows;
}

/* The live line on a terminal, a log line every 10 s otherwise. */
static void
show_figures(follow_ctx *c, const follow_figures *f, double now)
{
	char		applied[PGO_LSN_BUFSIZE];
	char		lag[32];
	char		line[256];
	int64_t		bytes = f->source_lsn > f->applied_lsn
		? (int64_t) (f->source_lsn - f->applied_lsn) : 0;

	if (c->o->json)
		return;
	pgo_lsn_format(f->applied_lsn, applied, sizeof(applied));
	str_format_size(bytes, lag, sizeof(lag));
	snprintf(line, sizeof(line), "follow: %s, applied %s, lag %s / %.1f s, %.0f changes/s, %lld transactions",
			 f->phase, applied, lag, f->lag_seconds, f->changes_per_second,
			 (long long) f->transactions);
	if (c->tty)
	{
		fprintf(stderr, "\r\033[K%s", line);
		fflush(stderr);
		c->line_open = true;
	}
	else if (now >= c->next_log)
	{
		log_info("%s", line);
		c->next_log = now + LOG_INTERVAL;
	}
}

/* Once a second: phase, figures into the state, the live line. */
static void
record_figures(follow_ctx *c, double now)
{
	follow_figures f;

	fill_figures(c, &f);
	update_rate(c, now, f.changes);
	f.changes_per_second = c->rate;
	if (strcmp(c->phase, FOLLOW_PHASE_CATCHING_UP) == 0 && c->source_lsn != 0 &&
		apply_idle(c) && f.applied_lsn >= c->source_lsn)
	{
		char		lsn[PGO_LSN_BUFSIZE];

		pgo_lsn_format(f.applied_lsn, lsn, sizeof(lsn));
		end_line(c);
		log_info("caught up with the source at %s; following its changes", lsn);
		set_phase(c, FOLLOW_PHASE_STREAMING);
		f.phase = c->phase;
	}
	note_state(c, cdc_report_put_figures(c->o->st, &f));
	show_figures(c, &f, now);
}

/* ---------- the stream ---------- */

/* Decode one XLogData payload and hand it to the apply. */
static int
apply_xlogdata(follow_ctx *c, const cdc_stream_msg *m)
{
	pgo_message msg;
	char		err[256];
	int			rc;

	if (pgo_decode(m->data, m->len, CDC_PROTO_VERSION, false, &msg, err,
				   sizeof(err)) != 0)
	{
		char		lsn[PGO_LSN_BUFSIZE];

		pgo_lsn_format(m->wal_start, lsn, sizeof(lsn));
		return error("%s (source LSN %s)", err, lsn);
	}
	if (msg.kind == PGO_BEGIN)
		cdc_lag_begin(&c->lag, msg.u.begin.final_lsn, msg.u.begin.commit_time);
	rc = cdc_apply_message(c->ap, &msg);
	pgo_message_release(&msg);
	return rc;
}

/* Read and apply what the source sent, up to a number of messages. */
static int
read_stream(follow_ctx *c)
{
	c->more = false;
	for (int n = 0; n < MESSAGES_PER_TURN; n++)
	{
		cdc_stream_msg m;
		int			rc = cdc_stream_read(&c->stream, &m);

		if (rc != CDC_STREAM_MESSAGE)
			return rc;
		c->streamed = true;
		c->last_receive = clock_now();
		rc = 0;
		if (m.kind == 'w')
			rc = apply_xlogdata(c, &m);
		else
		{
			/* Not while a target transaction is open: it may yet roll back. */
			c->ka_wal_end = cdc_position_keepalive(c->ka_wal_end, m.wal_end,
												   apply_idle(c));
			if (m.reply_requested)
				rc = send_feedback(c, false);
		}
		if (rc != 0)
			return rc;
		if (cdc_apply_busy(c->ap))
			return 0;
	}
	c->more = true;
	return 0;
}

/* ---------- cutover ---------- */

/* A cutover was requested: fix its position, the source's now. */
static void
check_cutover_request(follow_ctx *c)
{
	state_cutover cut;
	bool		requested;
	char		lsn[PGO_LSN_BUFSIZE];

	if (c->cutover_lsn != 0)
		return;
	/* Unreadable (logged): the follow stops at its next tick. */
	note_state(c, state_load_cutover(c->o->st, &cut));
	requested = cut.requested_at != NULL;
	state_cutover_release(&cut);
	if (!requested)
		return;
	source_position(c, true, &c->cutover_lsn);
	if (c->cutover_lsn == 0)
		return;					/* the source cannot be asked now: next second */
	pgo_lsn_format(c->cutover_lsn, lsn, sizeof(lsn));
	end_line(c);
	log_info("cutover requested: applying every change up to source LSN %s", lsn);
	set_phase(c, FOLLOW_PHASE_CUTOVER);
	note_state(c, state_record_cutover_target(c->o->st, c->cutover_lsn));
	c->next_feedback = 0.0;
}

static bool
cutover_reached(const follow_ctx *c)
{
	return c->cutover_lsn != 0 && c->ka_wal_end >= c->cutover_lsn && apply_idle(c);
}

/*
 * With --ddl=apply, the sequences the source created during the follow are
 * created on the target before the values are copied.  0, or what failed.
 */
static int
create_sequences(follow_ctx *c)
{
	int			created = 0;
	int			rc;

	if (c->ddl == NULL || !sel_is_empty(&c->rules))
		return 0;				/* under rules, sequences are not compared */
	rc = ddl_create_sequences(c->ddl, cdc_apply_control(c->ap), &created);
	if (rc == CDC_MISMATCH)
		return CDC_FAILED;
	if (rc == 0 && created > 0)
		log_info("created %d sequence%s the source made during the follow", created,
				 created == 1 ? "" : "s");
	return rc;
}

/* The sequences the rules keep, under their new names; how many, or -1. */
static int
copy_selected_sequences(follow_ctx *c, PGconn *src)
{
	selres		r = SELRES_INIT;
	int			n = selres_read(src, &c->rules, &r);

	if (n == 0)
		n = sequence_copy_selected(src, cdc_apply_control(c->ap), &c->rules, &r);
	selres_release(&r);
	return n;
}

/* Copy every sequence's value from the source; 0 or -1 (logged). */
static int
copy_sequences(follow_ctx *c)
{
	catalog		cat = CATALOG_INIT;
	PGconn	   *src = conn_open(c->source, SIDE_SOURCE);
	int			rc = -1;
	int			n = -1;

	if (src == NULL)
		return CDC_LOST;
	if (!sel_is_empty(&c->rules))
		n = copy_selected_sequences(c, src);
	else if (catalog_load(src, &cat) == 0 &&
			 sequence_copy_all(src, cdc_apply_control(c->ap), &cat) == 0)
		n = cat.nsequences;
	if (n >= 0)
		rc = state_record_follow_sequences(c->o->st, n);
	else
	{
		/* The session decides, from what failed (run_session). */
		conn_note_broken(src, SIDE_SOURCE);
		conn_note_broken(cdc_apply_control(c->ap), SIDE_TARGET);
	}
	catalog_release(&cat);
	PQfinish(src);
	return rc;
}

/*
 * What the stream does not carry and the cutover does (cutover_extra.h):
 * unlogged tables, materialized views (unless pgcrane cutover was given
 * --no-refresh-matviews), large objects.  0 or -1 (the failure filled or
 * logged).
 */
static int
carry_extras(follow_ctx *c, state_carried *carried, bool *refresh)
{
	state_cutover cut;
	cdc_extra_options eo = {
		.source = c->source, .target = c->target, .st = c->o->st,
		.jobs = CUTOVER_JOBS, .stop = &c->o->intr->stop
	};

	if (state_load_cutover(c->o->st, &cut) != 0)
		return error("could not read the cutover request in the state file of \"%s\"", c->dir);
	eo.refresh_matviews = *refresh = cut.refresh_matviews;
	eo.sel = sel_is_empty(&c->rules) ? NULL : &c->rules;
	state_cutover_release(&cut);
	return cdc_extra_carry(&eo, carried);
}

/*
 * Everything up to the cutover position is applied: make it durable, copy
 * the sequences, carry what the stream does not, tell the source, record
 * the outcome.  Each step can be done again: a cutover that fails here is
 * done from the start by the next session or the next pgcrane cutover.
 */
static int
finish_cutover(follow_ctx *c)
{
	char		now[32];
	strbuf		not_carried = STRBUF_INIT;
	follow_figures f;
	state_carried carried;
	bool		refresh = true;
	int			rc = cdc_apply_durable_lsn(c->ap, &c->durable_lsn);

	memset(&carried, 0, sizeof(carried));
	if (rc == 0)
		rc = create_sequences(c);
	if (rc == 0)
		rc = copy_sequences(c);
	if (rc == 0)
		rc = carry_extras(c, &carried, &refresh);
	if (rc != 0)
	{
		free(carried.matviews);
		return rc;
	}
	(void) send_feedback(c, false);
	record_counts(c);
	fill_figures(c, &f);
	f.lag_seconds = 0.0;
	f.changes_per_second = 0.0;
	note_state(c, cdc_report_put_figures(c->o->st, &f));
	/* The outcome before the phase: who sees "done" finds it recorded. */
	cdc_carry_ask(c->source, refresh, &not_carried);
	(void) ddl_report_differences(c->source, c->target, c->no_owner, c->no_acl,
								  sel_is_empty(&c->rules) ? NULL : &c->rules,
								  &not_carried);
	cdc_report_format_time(time(NULL), now, sizeof(now));
	note_state(c, state_record_cutover_done(c->o->st, c->cutover_lsn, now, &carried,
											strbuf_str(&not_carried)));
	strbuf_release(&not_carried);
	free(carried.matviews);
	set_phase(c, FOLLOW_PHASE_DONE);
	end_line(c);
	if (c->state_broken)
		return error("could not record the cutover in the state file of \"%s\"", c->dir);
	return FOLLOW_DONE;
}

/* ---------- the loop ---------- */

/* What is due: durable position, status update, source position, figures. */
static int
tick(follow_ctx *c)
{
	double		now = clock_now();
	int			rc = 0;

	if (now >= c->next_feedback)
	{
		if (cdc_apply_get_stats(c->ap)->committed_lsn > c->durable_lsn)
			rc = cdc_apply_durable_lsn(c->ap, &c->durable_lsn);
		if (rc == 0)
			rc = send_feedback(c, true);
		c->next_feedback = now + (c->cutover_lsn ? CUTOVER_FEEDBACK_INTERVAL
								  : FEEDBACK_INTERVAL);
	}
	if (rc == 0 && now >= c->next_source_poll)
	{
		uint64_t	lsn;

		source_position(c, false, &lsn);
		if (lsn != 0)
			c->source_lsn = lsn;
		c->next_source_poll = now + SOURCE_POLL_INTERVAL;
		rc = check_new_tables(c);
	}
	if (rc == 0 && now - c->last_receive > RECEIVE_TIMEOUT)
	{
		/* A connection this silent is dead, whatever TCP says. */
		(void) failure_set(SIDE_SOURCE, NULL, NULL, true,
						   "nothing received from the source for %.0f seconds",
						   RECEIVE_TIMEOUT);
		rc = CDC_LOST;
	}
	if (rc == 0 && now >= c->next_tick)
	{
		check_cutover_request(c);
		/* Once a second, not per commit: a feedback records them first too. */
		record_counts(c);
		record_figures(c, now);
		c->next_tick = now + 1.0;
		if (c->state_broken)
			rc = error("could not record the follow's progress in the state file of \"%s\"",
					   c->dir);
	}
	return rc;
}

/* Wait until a socket has something, at most 100 ms. */
static void
wait_sockets(follow_ctx *c)
{
	struct pollfd pfd[1 + CDC_APPLY_MAX_JOBS];
	int			n = 0;

	if (c->more && !cdc_apply_busy(c->ap))
		return;
	if (!cdc_apply_busy(c->ap))
	{
		pfd[n].fd = cdc_stream_socket(&c->stream);
		pfd[n].events = POLLIN;
		pfd[n++].revents = 0;
	}
	n += cdc_apply_pollfds(c->ap, pfd + n, CDC_APPLY_MAX_JOBS);
	(void) poll(pfd, (nfds_t) n, 100);
}

static int
session_loop(follow_ctx *c)
{
	for (;;)
	{
		int			rc;

		if (c->o->intr->stop)
			return FOLLOW_STOPPED;
		rc = cdc_apply_poll(c->ap);
		if (rc == 0 && !cdc_apply_busy(c->ap))
			rc = read_stream(c);
		else if (rc == 0)
			c->last_receive = clock_now();	/* not reading: not silence */
		/* The stream has nothing more at once: commit what arrived. */
		if (rc == 0 && !c->more)
			rc = cdc_apply_flush(c->ap);
		if (rc == 0)
			rc = cdc_apply_poll(c->ap);
		if (rc == 0)
			rc = tick(c);
		/* A table created just before the cutover is taken in too. */
		if (rc == 0 && cutover_reached(c) && (rc = check_new_tables(c)) == 0)
			return finish_cutover(c);
		if (rc != 0)
			return rc;
		wait_sockets(c);
	}
}

/* ---------- sessions ---------- */

/*
 * Prove that conninfo reaches the database recorded for side: 0, -1
 * (another database, or a permanent failure: logged) or CDC_LOST (the
 * server cannot be reached now: retried).
 */
static int
prove_side(follow_ctx *c, const char *side, const char *conninfo)
{
	PGconn	   *conn;
	int			rc = identity_open(c->o->st, side, conninfo, &conn);

	/* Captured by run_session: a warning when retried, as every failure. */
	if (rc == 0)
		PQfinish(conn);
	return rc > 0 ? CDC_LOST : rc;
}

/*
 * Given or recorded, each side must reach the database the clone used:
 * proved at every session start, before anything is done on either (a
 * reconnect after a failover or a DNS change included).
 */
static int
prove_sides(follow_ctx *c)
{
	int			rc = prove_side(c, SIDE_SOURCE, c->source);

	return rc != 0 ? rc : prove_side(c, SIDE_TARGET, c->target);
}

static int
session_start(follow_ctx *c)
{
	char		lsn[PGO_LSN_BUFSIZE];
	uint64_t	resume;
	int			rc;

	c->streamed = false;		/* until this session receives something */
	rc = prove_sides(c);
	if (rc == 0)
		rc = cdc_apply_open(c->target, c->origin, c->progress_table, c->start_lsn,
							c->o->apply_jobs, &c->ap, &resume);
	if (rc != 0)
		return rc;
	cdc_apply_commit_each_until(c->ap, c->commit_each_until);
	cdc_apply_set_ddl(c->ap, c->ddl);
	if (!sel_is_empty(&c->rules))
		cdc_apply_set_selection(c->ap, &c->rules);
	resume_counts(c, resume);
	c->durable_lsn = resume;
	c->ka_wal_end = resume;
	rc = cdc_stream_start(&c->stream, c->source, c->slot, c->publication, resume);
	if (rc != CDC_STREAM_MESSAGE)
		return rc;
	pgo_lsn_format(resume, lsn, sizeof(lsn));
	log_info("streaming changes from slot \"%s\" on the source from %s", c->slot, lsn);
	if (strcmp(c->phase, FOLLOW_PHASE_RECONNECTING) == 0)
	{
		set_phase(c, c->cutover_lsn ? FOLLOW_PHASE_CUTOVER : FOLLOW_PHASE_CATCHING_UP);
		note_state(c, state_record_follow_reconnect(c->o->st, 0, NULL));
	}
	c->next_feedback = c->next_tick = c->next_source_poll = 0.0;
	c->last_receive = clock_now();
	return 0;
}

/*
 * End a session: give up an incomplete transaction, let the target answer
 * what it was sent (briefly), tell the source what it may forget.
 */
static void
session_end(follow_ctx *c, int rc)
{
	const cdc_apply_stats *s;

	end_line(c);
	if (c->ap != NULL)
	{
		/*
		 * What was open is rolled back: the keepalive position, which may
		 * lie past transactions in it, falls back to what is durable.
		 */
		c->ka_wal_end = cdc_position_after_rollback(c->ka_wal_end, c->durable_lsn);
		cdc_lag_reset(&c->lag);	/* what was not applied comes again */
		if (rc != FOLLOW_DONE && cdc_apply_ok(c->ap) &&
			cdc_apply_rollback(c->ap) == 0 &&
			cdc_apply_drain(c->ap, rc == FOLLOW_STOPPED ? 5.0 : 30.0) == 0 &&
			cdc_apply_durable_lsn(c->ap, &c->durable_lsn) == 0 &&
			c->stream.conn != NULL)
			(void) send_feedback(c, false);
		record_counts(c);
		s = cdc_apply_get_stats(c->ap);
		c->base_transactions += s->transactions;
		c->base_changes += s->changes;
		c->base_missing += s->missing_rows;
		cdc_apply_close(c->ap);
		c->ap = NULL;
	}
	cdc_stream_close(&c->stream);
	ddl_end_session(c->ddl);
	/* The slot stays: what it retains is asked now, while a session is open. */
	free(c->slot_retained);
	c->slot_retained = rc != FOLLOW_DONE && c->srcq != NULL ?
		cdc_slot_retained(c->srcq, c->slot) : NULL;
	if (rc != FOLLOW_DONE && c->srcq != NULL)
	{
		PQfinish(c->srcq);
		c->srcq = NULL;
	}
}

/*
 * One session, its failure captured until its outcome is known: a
 * failure that heals by waiting ends it as CDC_LOST and is shown as
 * warnings (the session is tried again), any other as errors.  Its
 * message goes into last_error (lasterrsize bytes) for status.
 */
static int
run_session(follow_ctx *c, char *last_error, size_t lasterrsize)
{
	failure		f = FAILURE_INIT;
	int			rc;

	failure_capture_begin(&f);
	rc = session_start(c);
	if (rc == 0)
		rc = session_loop(c);
	if (rc == CDC_FAILED && failure_is_transient(&f))
		rc = CDC_LOST;
	if (rc == CDC_REPLAY)
		c->commit_each_until = cdc_apply_replay_until(c->ap);
	session_end(c, rc);
	failure_capture_end(&f);
	str_copy(last_error, f.message[0] ? f.message : "connection lost", lasterrsize);
	/* A replay reaches the same stop again and reports it then. */
	failure_report(&f, rc == CDC_LOST ? LOG_WARNING : rc == CDC_REPLAY ? LOG_DEBUG : LOG_ERROR);
	failure_release(&f);
	return rc;
}

/*
 * Sleep seconds, waking for Ctrl-C (FOLLOW_STOPPED if it came), and
 * telling status once a second that this process is alive.
 */
static int
backoff_wait(follow_ctx *c, int seconds)
{
	double		end = clock_now() + seconds;
	double		next_touch = 0.0;
	char		now[32];

	while (clock_now() < end)
	{
		if (c->o->intr->stop)
			return FOLLOW_STOPPED;
		if (clock_now() >= next_touch)
		{
			cdc_report_format_time(time(NULL), now, sizeof(now));
			note_state(c, state_record_follow_alive(c->o->st, now));
			next_touch = clock_now() + 1.0;
		}
		usleep(100 * 1000);
	}
	return 0;
}

/*
 * A session ended on a failure that heals by waiting (last_error): wait
 * and try again, or give up when no session has worked for timeout
 * seconds.  The attempt and the error go into the state for status.  0 to
 * go on.
 */
static int
retry_after_loss(follow_ctx *c, const char *last_error, double *first_loss,
				 int *attempt)
{
	int			timeout = c->o->timeout_seconds > 0 ? c->o->timeout_seconds
		: DEFAULT_TIMEOUT;
	int			delay;
	double		now = clock_now();

	if (c->streamed)
	{
		*first_loss = 0.0;
		*attempt = 0;
	}
	if (*first_loss == 0.0)
		*first_loss = now;
	if (now - *first_loss > timeout)
	{
		error("no connection to the servers for %d seconds, giving up", timeout);
		return CDC_FAILED;
	}
	delay = *attempt >= 5 ? MAX_BACKOFF : 1 << *attempt;
	(*attempt)++;
	set_phase(c, FOLLOW_PHASE_RECONNECTING);
	note_state(c, state_record_follow_reconnect(c->o->st, *attempt, last_error));
	log_info("reconnecting in %d s (attempt %d)", delay, *attempt);
	if (c->state_broken)
		return error("could not record the follow's progress in the state file of \"%s\"",
					 c->dir);
	return backoff_wait(c, delay);
}

/* ---------- setup ---------- */

/* Something the follow needs that the state does not record (logged). */
static int
missing(follow_ctx *c, const char *what)
{
	error("work directory \"%s\" records no %s", c->dir, what);
	log_hint("Changes can be followed after \"pgcrane clone --follow\".");
	return -1;
}

/* The clone this follows must be complete, and not cut over yet. */
static int
check_clone_state(follow_ctx *c)
{
	char	   *status = NULL;
	char	   *data = state_step_status(c->o->st, "data");
	char	   *phase = NULL;
	int			rc = 0;

	if (state_load_clone_status(c->o->st, &status) < 0 ||
		state_load_follow_phase(c->o->st, &phase) < 0)
		rc = -1;
	else if (phase && strcmp(phase, FOLLOW_PHASE_DONE) == 0)
	{
		rc = error("the cutover recorded in \"%s\" is done already", c->dir);
		log_hint("Drop the replication slot with: pgcrane cleanup --dir %s", c->dir);
	}
	else if ((status && strcmp(status, "ok") != 0 && strcmp(status, "running") != 0) ||
			 data == NULL || strcmp(data, STATE_DONE) != 0)
	{
		rc = error("the clone recorded in \"%s\" is not complete", c->dir);
		log_hint("Finish it with: pgcrane clone --resume --dir %s", c->dir);
	}
	free(status);
	free(data);
	free(phase);
	return rc;
}

/*
 * How schema changes are treated: as --ddl says (recorded for the runs
 * after this one), else as recorded, else --ddl=apply.  0 or -1 (logged).
 */
static int
load_ddl(follow_ctx *c)
{
	state_ddl	d;
	ddl_mode	mode = DDL_MODE_DEFAULT;
	char	   *recorded;
	int			rc = state_load_follow_ddl(c->o->st, &d);

	if (rc < 0)
		return -1;
	rc = 0;
	if (c->o->ddl && (d.mode == NULL || strcmp(d.mode, c->o->ddl) != 0))
	{
		recorded = d.mode;
		d.mode = (char *) c->o->ddl;
		rc = state_record_follow_ddl(c->o->st, &d);
		d.mode = recorded;
	}
	if (!ddl_mode_parse(c->o->ddl ? c->o->ddl : d.mode ? d.mode : "apply", &mode))
		mode = DDL_MODE_DEFAULT;
	c->no_owner = d.no_owner;
	c->no_acl = d.no_acl;
	if (rc == 0 && mode == DDL_APPLY)
	{
		ddl_options o = {c->source, c->o->st, d.no_owner, d.no_acl};

		c->ddl = ddl_create(&o);
	}
	log_debug("schema changes of the source: --ddl=%s", ddl_mode_name(mode));
	state_ddl_release(&d);
	return rc;
}

/* The selection rules the clone recorded, if any.  0 or -1 (logged). */
static int
load_rules(follow_ctx *c)
{
	char	   *text = NULL;
	char	   *msg = NULL;
	int			rc = state_load_selection(c->o->st, &text) < 0 ? -1 : 0;

	if (rc == 0 && text && (msg = sel_parse_text(&c->rules, text, "the recorded selection")))
		rc = error("%s", msg);
	if (rc == 0 && !sel_is_empty(&c->rules))
		log_info("changes follow the clone's selection rules: renamed tables, columns left out");
	free(msg);
	free(text);
	return rc;
}

/* Everything a session needs, from the options and the state. */
static int
load_setup(follow_ctx *c)
{
	state_run	run;
	state_follow f;

	if (check_clone_state(c) != 0 || state_load_run(c->o->st, &run) != 0)
		return -1;
	c->source = c->o->source ? xstrdup(c->o->source) : run.source;
	c->target = c->o->target ? xstrdup(c->o->target) : run.target;
	if (c->o->source)
		free(run.source);
	if (c->o->target)
		free(run.target);
	free(run.toast_compression);
	if (c->source == NULL)
		return missing(c, "source connection");
	if (c->target == NULL)
		return missing(c, "target connection");
	if (state_load_follow(c->o->st, &f) != 0)
		return -1;
	c->slot = f.slot;
	c->publication = f.publication;
	c->origin = f.origin;
	c->start_lsn = f.start_lsn;
	if (!c->slot || !c->publication || !c->origin)
		return missing(c, "replication slot, publication and origin");
	if (c->start_lsn == 0)
		return missing(c, "start LSN of its replication slot");
	switch (state_follow_progress_table(c->o->st))
	{
		case -1:
			return -1;
		case 1:
			c->progress_table = true;
	}
	return load_rules(c) == 0 ? load_ddl(c) : -1;
}

static void
follow_ctx_release(follow_ctx *c)
{
	if (c->srcq)
		PQfinish(c->srcq);
	sel_release(&c->rules);
	selres_release(&c->chosen);
	free(c->source);
	free(c->target);
	free(c->slot);
	free(c->slot_retained);
	free(c->publication);
	free(c->origin);
	cdc_lag_release(&c->lag);
	ddl_free(c->ddl);
}

/* Record that this process follows, and the totals of earlier ones. */
static void
record_start(follow_ctx *c)
{
	char		now[32];
	state_progress p;

	cdc_report_format_time(time(NULL), now, sizeof(now));
	note_state(c, state_record_follow_start(c->o->st, (int64_t) getpid(), now));
	(void) load_counts(c, &p);
	c->recorded_transactions = c->base_transactions;
	c->shown_applied = p.figures.applied_lsn;
	c->shown_durable = p.figures.durable_lsn;
	state_progress_release(&p);
	if (c->shown_applied < c->start_lsn)	/* an earlier follow's */
		c->shown_applied = c->shown_durable = 0;
	set_phase(c, FOLLOW_PHASE_CATCHING_UP);
}

/* The slot stays on the source after this exit: say so, and its cost. */
static void
report_slot_left(follow_ctx *c)
{
	char	   *resume;

	if (c->slot == NULL)
		return;
	resume = str_printf("pgcrane follow --dir %s", c->dir);
	if (c->slot_retained)
		cdc_slot_report_retained(c->slot, c->slot_retained, c->dir, resume);
	else
		cdc_slot_report_left(c->source, c->slot, c->dir, resume);
	free(resume);
}

/* How the run ended, in the state and for the user. */
static int
finish(follow_ctx *c, int rc)
{
	end_line(c);
	if (rc == FOLLOW_DONE)
	{
		if (!c->o->no_summary)
			cdc_report_print_cutover(c->o->st, c->o->json);
		return RUN_OK;
	}
	if (rc == FOLLOW_STOPPED)
	{
		set_phase(c, FOLLOW_PHASE_STOPPED);
		log_info("stopped; resume with: pgcrane follow --dir %s", c->dir);
		report_slot_left(c);
		return RUN_INTERRUPTED;
	}
	set_phase(c, FOLLOW_PHASE_FAILED);
	if (rc == CDC_MISMATCH)
	{
		char		lsn[PGO_LSN_BUFSIZE];

		pgo_lsn_format(c->durable_lsn, lsn, sizeof(lsn));
		note_state(c, state_record_follow_error(c->o->st,
												"the target's tables do not match the source's"));
		log_detail("The target has every change the source committed up to %s; nothing after it is applied.",
				   lsn);
		log_hint("Apply the same schema change on the target, then run: pgcrane follow --dir %s",
				 c->dir);
	}
	else
	{
		note_state(c, state_record_follow_error(c->o->st,
												"see the messages of pgcrane follow"));
		log_hint("Fix the cause, then run: pgcrane follow --dir %s", c->dir);
	}
	report_slot_left(c);
	return RUN_FAILED;
}

bool
follow_workdir_exists(const char *dir)
{
	char	   *path = str_printf("%s/state.db", dir);
	bool		exists = access(path, F_OK) == 0;

	free(path);
	if (!exists)
		error("no pgcrane work directory at \"%s\"", dir);
	return exists;
}

run_status
follow_run(const follow_options *o)
{
	follow_ctx	c;
	double		first_loss = 0.0;
	int			attempt = 0;
	char		last_error[512];
	int			rc;

	/*
	 * A server that does not answer must not hold the loop for the minutes
	 * a TCP connect can take: the stream also asks for a reply every few
	 * seconds and gives up on silence (RECEIVE_TIMEOUT).
	 */
	if (getenv("PGCONNECT_TIMEOUT") == NULL)
		setenv("PGCONNECT_TIMEOUT", CONNECT_TIMEOUT, 0);
	memset(&c, 0, sizeof(c));
	c.o = o;
	c.dir = state_dir(o->st);
	c.stream = (cdc_stream) CDC_STREAM_INIT;
	c.tty = isatty(STDERR_FILENO) && log_get_level() <= LOG_INFO;
	if (load_setup(&c) != 0)
	{
		follow_ctx_release(&c);
		return RUN_FAILED;
	}
	record_start(&c);
	for (;;)
	{
		rc = run_session(&c, last_error, sizeof(last_error));
		if (rc == CDC_LOST)
			rc = retry_after_loss(&c, last_error, &first_loss, &attempt);
		else if (rc == CDC_REPLAY)
			rc = 0;				/* at once: commit each up to the failing one */
		if (rc != 0)
			break;
	}
	rc = finish(&c, rc);
	follow_ctx_release(&c);
	return rc;
}
