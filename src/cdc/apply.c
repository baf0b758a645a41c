/*
 * apply.c
 *		Apply decoded changes to the target, in source commit order, on one
 *		or several sessions at once.
 *
 * With --apply-jobs 1 (one lane) every call goes to the lane
 * (apply_lane.c), which applies the stream as it comes.  With N lanes the
 * protocol is this one:
 *
 * Batches.  Source transactions are buffered (their changes copied) until
 * their Commit and gathered, in commit order, into batches of up to
 * BATCH_MAX_TRANSACTIONS transactions or BATCH_MAX_CHANGES changes, as one
 * lane would group them into one target transaction; the stream running
 * dry (cdc_apply_flush()) closes a batch sooner.  Each batch is applied by
 * one lane as one target transaction, committed with that lane's progress
 * record (origin name, then name_l1, name_l2, ...) set to the end of its
 * last source transaction.  A lane holds one batch at a time.
 *
 * Keys.  Each change names the keys it touches (deps.h): its relation and
 * replica identity values, or the whole table when rows cannot be told
 * apart by them (replica identity FULL or NOTHING, or the target table has
 * a unique index or exclusion constraint besides one, so that two changes
 * to different rows can still collide).  A change whose key an earlier
 * batch still in flight touched is hot.
 *
 * Sending.  A batch goes to a free lane in order; its changes that are not
 * hot are sent at once, in source order: they touch nothing an earlier
 * uncommitted batch touches.  Only the head, the oldest batch not yet
 * committed, sends its hot changes, then its progress and COMMIT: so a
 * hot change runs after every earlier batch has committed and sees what
 * they wrote, and commits reach the target in source order, each after
 * the one before it was answered.  Every lane's record is then a position
 * the target reached in order, the greatest of them is where the target
 * stands, and since the target's WAL is written in that order too, the
 * commit behind the greatest flushed record has every earlier one flushed
 * with it: cdc_apply_durable_lsn() asks the lane that committed last.  A
 * run with another number of lanes reads every lane record the target
 * has (cdc_apply_open()).
 *
 * Barriers.  Anything unusual is applied by lane 0 alone once every batch
 * before it has committed, as one lane applies everything: a transaction
 * with a Truncate, with more than BATCH_MAX_CHANGES changes, that writes to
 * a table with triggers that fire on the target in replica mode, or that
 * holds a Relation message that describes a table anew (the schema change
 * and mismatch handling of apply_lane.c then apply unchanged); so are the
 * transactions up to cdc_apply_commit_each_until().  Its changes buffered
 * so far go to lane 0 first, then the rest as they come.
 *
 * Safety net.  Keys describe the source's constraints and the target's
 * unique indexes as read when a table was described; anything else (an
 * index added on the target later) may still make a batch wait for a later
 * one, which waits for its turn to commit: a wait the target cannot see.
 * When the head has waited BLOCK_CHECK_SECONDS, pg_blocking_pids() tells
 * whether a later lane holds it; if so, or when a batch fails (the order
 * may be the cause), every batch but a committing head is rolled back and CDC_REPLAY asks
 * for a session that applies serially up to the last transaction received
 * (cdc_apply_replay_until()), where an error that was not caused by the
 * order shows again and stops the follow as with one lane.
 */
#include "cdc/apply.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdc/apply_lane.h"
#include "cdc/apply_rel.h"
#include "cdc/deps.h"
#include "cdc/origin.h"
#include "core/conn.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/str.h"

#define BATCH_MAX_TRANSACTIONS 64
#define BATCH_MAX_CHANGES 5000
/* Seconds to wait for the lanes before a barrier. */
#define BARRIER_WAIT_SECONDS 60
/* How long the head waits before the lanes that may block it are looked at. */
#define BLOCK_CHECK_SECONDS 0.5
/* Lanes by default: the CPUs, up to this many. */
#define DEFAULT_MAX_JOBS 4

/* A buffered change of a batch. */
typedef struct pchange
{
	pgo_message *msg;			/* a copy; NULL once sent */
	uint64_t	final_lsn;		/* its source transaction's commit LSN */
	cdc_dep		dep[2];
	int			ndep;
	bool		hot;
} pchange;

typedef enum batch_state
{
	BATCH_FILLING,				/* the last one: transactions join it */
	BATCH_READY,				/* complete, waits for a lane */
	BATCH_SENT,					/* on a lane, all but the hot changes sent */
	BATCH_COMMITTING			/* the head: COMMIT sent */
} batch_state;

typedef struct batch
{
	batch_state state;
	int			lane;
	pchange    *ch;
	int			nch;
	int			cap;
	int			xact_start;		/* first change of the open transaction */
	int			ntxns;			/* complete source transactions */
	uint64_t	end_lsn;		/* end of the last of them */
	int64_t		time;
	cdc_deps	deps;
} batch;

/* What the keys need to know of a table. */
typedef struct relinfo
{
	uint32_t	oid;
	bool		whole;			/* keys are the whole table */
	bool		append;			/* no unique constraint: inserts meet nothing */
	bool		serial;			/* changes are barriers */
} relinfo;

struct cdc_apply
{
	int			njobs;
	apply_lane *lane[CDC_APPLY_MAX_JOBS];
	bool		lane_used[CDC_APPLY_MAX_JOBS];
	uint64_t	resume_lsn;		/* durable when opened */

	batch	  **q;				/* in source order; q[0] is the head */
	int			qlen;
	int			qcap;

	bool		in_xact;
	bool		serial_xact;	/* the open transaction goes to lane 0 */
	bool		serial_pending; /* lane 0 has serial work unanswered */
	pgo_begin	xact;
	int			xact_changes;
	uint64_t	serial_until;
	uint64_t	replay_until;	/* set by the safety net */
	uint64_t	last_final;		/* commit LSN of the last Begin */

	pgo_relcache *relcache;		/* the tables as the stream describes them */
	relinfo    *rels;
	int			nrels;

	double		head_since;		/* when the head sent its COMMIT */
	double		next_check;

	uint64_t	applied_lsn;	/* of the batches committed */
	int64_t		applied_time;
	int64_t		transactions;
	cdc_apply_stats stats;
};

/* ---------- copies of changes ---------- */

static void
copy_tuple(pgo_tuple *dst, const pgo_tuple *src)
{
	size_t		bytes = 0;
	uint8_t    *data;

	for (int i = 0; i < src->ncols; i++)
		bytes += src->cols[i].len;
	dst->ncols = src->ncols;
	/* One block, freed with cols: the values follow the array. */
	dst->cols = xcalloc(1, (size_t) src->ncols * sizeof(pgo_value) + bytes + 1);
	data = (uint8_t *) (dst->cols + src->ncols);
	for (int i = 0; i < src->ncols; i++)
	{
		dst->cols[i] = src->cols[i];
		dst->cols[i].data = NULL;
		if (src->cols[i].len > 0)
		{
			memcpy(data, src->cols[i].data, src->cols[i].len);
			dst->cols[i].data = data;
			data += src->cols[i].len;
		}
	}
}

/* A copy of an Insert, Update or Delete that outlives the stream's buffer. */
static pgo_message *
copy_change(const pgo_message *m)
{
	pgo_message *c = xcalloc(1, sizeof(pgo_message));

	*c = *m;
	if (m->kind == PGO_INSERT)
		copy_tuple(&c->u.insert.newtuple, &m->u.insert.newtuple);
	else if (m->kind == PGO_UPDATE)
	{
		copy_tuple(&c->u.update.newtuple, &m->u.update.newtuple);
		if (m->u.update.old_kind)
			copy_tuple(&c->u.update.oldtuple, &m->u.update.oldtuple);
		else
			memset(&c->u.update.oldtuple, 0, sizeof(pgo_tuple));
	}
	else
		copy_tuple(&c->u.delete.oldtuple, &m->u.delete.oldtuple);
	return c;
}

static void
free_change(pgo_message *m)
{
	if (m == NULL)
		return;
	pgo_message_release(m);
	free(m);
}

static pgo_relation *
copy_relation(const pgo_relation *r)
{
	pgo_relation *c = xcalloc(1, sizeof(pgo_relation));

	*c = *r;
	c->nspname = xstrdup(r->nspname);
	c->relname = xstrdup(r->relname);
	c->atts = xcalloc((size_t) r->natts + 1, sizeof(pgo_attr));
	for (int i = 0; i < r->natts; i++)
	{
		c->atts[i] = r->atts[i];
		c->atts[i].name = xstrdup(r->atts[i].name);
	}
	return c;
}

/* ---------- keys ---------- */

static relinfo *
rel_info(const cdc_apply *ap, uint32_t oid)
{
	for (int i = 0; i < ap->nrels; i++)
		if (ap->rels[i].oid == oid)
			return &ap->rels[i];
	return NULL;
}

/*
 * What the target adds to a table's keys: a unique index or exclusion
 * constraint besides one makes them the whole table; a trigger that fires
 * in replica mode may write anywhere, so its changes are barriers.
 */
static int
load_relinfo(cdc_apply *ap, const pgo_relation *d)
{
	const char *qname = apply_lane_target_table(ap->lane[0], d->oid);
	relinfo    *ri = rel_info(ap, d->oid);
	bool		keyed = false;
	apply_rel_traits_t t;

	if (ri == NULL)
	{
		ap->rels = xrealloc(ap->rels, (size_t) (ap->nrels + 1) * sizeof(relinfo));
		ri = &ap->rels[ap->nrels++];
		ri->oid = d->oid;
	}
	ri->whole = ri->serial = true;
	ri->append = false;
	if (qname == NULL)
		return 0;
	for (int i = 0; i < d->natts; i++)
		keyed = keyed || (d->atts[i].flags & PGO_ATTR_KEY) != 0;
	if (apply_rel_traits(apply_lane_control(ap->lane[0]), qname, &t) != 0)
	{
		conn_note_broken(apply_lane_control(ap->lane[0]), SIDE_TARGET);
		return -1;
	}
	if (t.known)
	{
		ri->whole = !keyed || d->replident == PGO_REPLIDENT_FULL ||
			d->replident == PGO_REPLIDENT_NOTHING || t.unique > 1;
		ri->append = t.unique == 0;
		ri->serial = t.replica_triggers;
	}
	return 0;
}

/* The key of the identity columns of t; false when one is not sent. */
static bool
row_key(const pgo_relation *d, const pgo_tuple *t, uint64_t *hash)
{
	uint64_t	h = cdc_deps_hash_start(d->oid);

	for (int i = 0; i < d->natts && i < t->ncols; i++)
	{
		const pgo_value *v = &t->cols[i];

		if (!(d->atts[i].flags & PGO_ATTR_KEY))
			continue;
		if (v->kind == PGO_VALUE_UNCHANGED)
			return false;
		h = cdc_deps_hash_add(h, v->kind, v->data, v->len);
	}
	*hash = h;
	return true;
}

/* The keys change c touches. */
static void
change_deps(const pgo_relation *d, const relinfo *ri, pchange *c)
{
	const pgo_message *m = c->msg;
	const pgo_tuple *first,
			   *second = NULL;
	uint32_t	relid = d->oid;

	c->ndep = 1;
	c->dep[0].relid = c->dep[1].relid = relid;
	c->dep[0].whole = c->dep[1].whole = false;
	c->dep[0].append = c->dep[1].append = false;
	c->dep[0].keyless = c->dep[1].keyless = false;
	if (m->kind == PGO_INSERT && ri->append)
	{
		/* It meets no other row; a later change of its row must see it. */
		c->dep[0].append = true;
		c->dep[0].keyless = ri->whole || !row_key(d, &m->u.insert.newtuple, &c->dep[0].hash);
		return;
	}
	if (m->kind == PGO_INSERT)
		first = &m->u.insert.newtuple;
	else if (m->kind == PGO_DELETE)
		first = &m->u.delete.oldtuple;
	else if (m->u.update.old_kind)
	{
		first = &m->u.update.oldtuple;
		second = &m->u.update.newtuple;
	}
	else
		first = &m->u.update.newtuple;
	if (ri->whole || !row_key(d, first, &c->dep[0].hash))
	{
		c->dep[0].whole = true;
		return;
	}
	if (second != NULL && row_key(d, second, &c->dep[1].hash) &&
		c->dep[1].hash != c->dep[0].hash)
		c->ndep = 2;
}

/* ---------- batches ---------- */

static batch *
batch_new(cdc_apply *ap)
{
	batch	   *b = xcalloc(1, sizeof(batch));

	b->lane = -1;
	if (ap->qlen == ap->qcap)
	{
		ap->qcap = ap->qcap ? ap->qcap * 2 : 8;
		ap->q = xrealloc(ap->q, (size_t) ap->qcap * sizeof(batch *));
	}
	ap->q[ap->qlen++] = b;
	return b;
}

static void
batch_free(batch *b)
{
	for (int i = 0; i < b->nch; i++)
		free_change(b->ch[i].msg);
	free(b->ch);
	cdc_deps_release(&b->deps);
	free(b);
}

/* Remove q[i], freeing it. */
static void
batch_remove(cdc_apply *ap, int i)
{
	if (ap->q[i]->lane >= 0)
		ap->lane_used[ap->q[i]->lane] = false;
	batch_free(ap->q[i]);
	memmove(&ap->q[i], &ap->q[i + 1], (size_t) (ap->qlen - i - 1) * sizeof(batch *));
	ap->qlen--;
}

/* The batch transactions join, or NULL. */
static batch *
filling(const cdc_apply *ap)
{
	batch	   *b = ap->qlen > 0 ? ap->q[ap->qlen - 1] : NULL;

	return b && b->state == BATCH_FILLING ? b : NULL;
}

static void
batch_add(batch *b, pchange *c)
{
	if (b->nch == b->cap)
	{
		b->cap = b->cap ? b->cap * 2 : 64;
		b->ch = xrealloc(b->ch, (size_t) b->cap * sizeof(pchange));
	}
	b->ch[b->nch++] = *c;
	for (int i = 0; i < c->ndep; i++)
		cdc_deps_add(&b->deps, &c->dep[i]);
}

/* Send b's changes that are hot (or not) on its lane, in source order. */
static int
feed(cdc_apply *ap, batch *b, bool hot)
{
	apply_lane *lane = ap->lane[b->lane];
	uint64_t	cur = 0;
	int			rc = 0;

	for (int i = 0; i < b->nch && rc == 0; i++)
	{
		pchange    *c = &b->ch[i];

		if (c->msg == NULL || c->hot != hot)
			continue;
		if (c->final_lsn != cur)
		{
			apply_lane_begin_xact(lane, c->final_lsn);
			cur = c->final_lsn;
		}
		rc = apply_lane_message(lane, c->msg);
		free_change(c->msg);
		c->msg = NULL;
	}
	apply_lane_end_xact(lane);
	return rc == 0 ? apply_lane_send_pending(lane) : rc;
}

/* Whether change c of q[pos] touches a key of an earlier batch. */
static bool
is_hot(const cdc_apply *ap, int pos, const pchange *c)
{
	for (int j = 0; j < pos; j++)
		for (int k = 0; k < c->ndep; k++)
			if (cdc_deps_conflict(&ap->q[j]->deps, &c->dep[k]))
				return true;
	return false;
}

/* Give the ready batches, in order, to the free lanes. */
static int
dispatch(cdc_apply *ap)
{
	for (int pos = 0; pos < ap->qlen && !ap->serial_pending; pos++)
	{
		batch	   *b = ap->q[pos];
		int			l;

		if (b->state != BATCH_READY)
			continue;
		for (l = 0; l < ap->njobs && ap->lane_used[l]; l++)
			;
		if (l == ap->njobs)
			return 0;
		b->lane = l;
		ap->lane_used[l] = true;
		b->state = BATCH_SENT;
		for (int i = 0; i < b->nch; i++)
			b->ch[i].hot = is_hot(ap, pos, &b->ch[i]);
		if (feed(ap, b, false) != 0)
			return -1;
	}
	return 0;
}

/* The head's turn: its hot changes, then its COMMIT; once answered, done. */
static int
advance_head(cdc_apply *ap, bool *moved)
{
	batch	   *b = ap->qlen > 0 ? ap->q[0] : NULL;
	apply_lane *lane;
	int			rc;

	*moved = false;
	if (b == NULL || b->state < BATCH_SENT)
		return 0;
	lane = ap->lane[b->lane];
	if (b->state == BATCH_SENT)
	{
		rc = feed(ap, b, true);
		if (rc == 0)
			rc = apply_lane_commit(lane, b->end_lsn, b->time);
		if (rc == 0)
			rc = apply_lane_poll(lane);
		if (rc != 0)
			return rc;
		b->state = BATCH_COMMITTING;
		ap->head_since = clock_now();
		ap->next_check = ap->head_since + BLOCK_CHECK_SECONDS;
	}
	if (apply_lane_in_flight(lane) > 0)
		return 0;
	ap->applied_lsn = b->end_lsn;
	ap->applied_time = b->time;
	ap->transactions += b->ntxns;
	batch_remove(ap, 0);
	*moved = true;
	return 0;
}

/* ---------- the safety net ---------- */

/*
 * Roll back every batch but a committing head, and ask for a session that
 * applies serially up to the last transaction received.
 */
static int
fall_back(cdc_apply *ap, const char *why)
{
	char		lsn[PGO_LSN_BUFSIZE];

	ap->replay_until = ap->last_final;
	pgo_lsn_format(ap->replay_until, lsn, sizeof(lsn));
	log_info("parallel apply: %s; applying serially up to source commit %s", why, lsn);
	for (int i = ap->qlen - 1; i >= 0; i--)
	{
		if (ap->q[i]->state == BATCH_COMMITTING)
			continue;
		if (ap->q[i]->lane >= 0)
			(void) apply_lane_rollback(ap->lane[ap->q[i]->lane]);
		batch_remove(ap, i);
	}
	return CDC_REPLAY;
}

/*
 * The head has waited long: is it a row or a transaction of a later lane
 * that it waits for?  That one waits for the head to commit first: they
 * would wait forever.  (Other waits pass: a later lane extending a table
 * the head writes to holds it only for a moment.)
 */
static int
check_blocked(cdc_apply *ap)
{
	char		head[16];
	strbuf		later = STRBUF_INIT;
	const char *params[2] = {head, NULL};
	PGresult   *res;
	bool		blocked;
	double		now = clock_now();

	if (ap->qlen < 2 || ap->q[0]->state != BATCH_COMMITTING || now < ap->next_check)
		return 0;
	ap->next_check = now + BLOCK_CHECK_SECONDS;
	snprintf(head, sizeof(head), "%d", apply_lane_backend_pid(ap->lane[ap->q[0]->lane]));
	strbuf_adds(&later, "{0");
	for (int i = 1; i < ap->qlen; i++)
		if (ap->q[i]->lane >= 0)
			strbuf_addf(&later, ",%d", apply_lane_backend_pid(ap->lane[ap->q[i]->lane]));
	strbuf_adds(&later, "}");
	params[1] = strbuf_str(&later);
	res = conn_query(apply_lane_control(ap->lane[0]), SIDE_TARGET,
					 "look for the sessions that block the apply",
					 "SELECT pg_catalog.count(*) > 0 FROM pg_catalog.pg_locks l"
					 " WHERE l.pid = $1::integer AND NOT l.granted"
					 " AND l.locktype IN ('transactionid', 'tuple')"
					 " AND pg_catalog.pg_blocking_pids($1::integer) && $2::integer[]",
					 2, params);
	strbuf_release(&later);
	if (res == NULL)
	{
		conn_note_broken(apply_lane_control(ap->lane[0]), SIDE_TARGET);
		return -1;
	}
	blocked = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return blocked ? fall_back(ap, "a later transaction holds a lock the earliest one waits for") : 0;
}

/*
 * Lane l failed.  A batch may fail because of the order alone, the head
 * too (its hot changes went after the others): its transactions are
 * applied again serially, where a failure that does not come from the
 * order shows again and stops the follow.  What lane 0 applied serially,
 * or a lost connection, is the follow's to judge.
 */
static int
lane_failed(cdc_apply *ap, int l, int rc)
{
	if (rc == CDC_LOST || !ap->lane_used[l] || (l == 0 && ap->serial_pending) ||
		apply_lane_failed_transient(ap->lane[l]))
		return rc;
	return fall_back(ap, "a transaction applied ahead of an earlier one failed");
}

/* Poll every lane, commit what is due, hand out what is ready. */
static int
progress(cdc_apply *ap)
{
	bool		moved = true;
	int			rc = 0;

	for (int l = 0; l < ap->njobs; l++)
		if ((rc = apply_lane_poll(ap->lane[l])) != 0)
			return lane_failed(ap, l, rc);
	if (ap->serial_pending && apply_lane_in_flight(ap->lane[0]) == 0 &&
		!apply_lane_in_transaction(ap->lane[0]))
		ap->serial_pending = false;
	while (rc == 0 && moved)
	{
		rc = dispatch(ap);
		if (rc == 0)
			rc = advance_head(ap, &moved);
	}
	return rc != 0 ? rc : check_blocked(ap);
}

/* Wait for the lanes' sockets, at most ms milliseconds. */
static void
wait_lanes(const cdc_apply *ap, int ms)
{
	struct pollfd pfd[CDC_APPLY_MAX_JOBS];
	int			n = cdc_apply_pollfds(ap, pfd, CDC_APPLY_MAX_JOBS);

	(void) poll(pfd, (nfds_t) n, ms);
}

/* Wait until every batch has committed. */
static int
wait_batches(cdc_apply *ap)
{
	double		end = clock_now() + BARRIER_WAIT_SECONDS;

	for (;;)
	{
		int			rc = progress(ap);

		if (rc != 0)
			return rc;
		if (ap->qlen == 0)
			return 0;
		if (clock_now() > end)
			return error("the target server did not commit within %d seconds",
						 BARRIER_WAIT_SECONDS);
		wait_lanes(ap, 100);
	}
}

/*
 * The open transaction is a barrier: the complete ones before it commit
 * first, then lane 0 gets it, with the changes buffered so far.
 */
static int
go_serial(cdc_apply *ap)
{
	batch	   *f = filling(ap);
	pchange    *held = NULL;
	int			nheld = 0;
	pgo_message begin;
	int			rc;

	if (f != NULL)
	{
		nheld = f->nch - f->xact_start;
		held = xcalloc((size_t) nheld + 1, sizeof(pchange));
		memcpy(held, f->ch + f->xact_start, (size_t) nheld * sizeof(pchange));
		f->nch = f->xact_start;
		if (f->ntxns == 0)
			batch_remove(ap, ap->qlen - 1);
		else
			f->state = BATCH_READY;
	}
	rc = wait_batches(ap);
	ap->serial_xact = true;
	memset(&begin, 0, sizeof(begin));
	begin.kind = PGO_BEGIN;
	begin.u.begin = ap->xact;
	if (rc == 0)
		rc = apply_lane_message(ap->lane[0], &begin);
	for (int i = 0; i < nheld; i++)
	{
		if (rc == 0)
			rc = apply_lane_message(ap->lane[0], held[i].msg);
		free_change(held[i].msg);
	}
	free(held);
	return rc;
}

/* ---------- messages ---------- */

static int
par_begin(cdc_apply *ap, pgo_message *msg)
{
	batch	   *f;
	int			rc = 0;

	if (ap->in_xact)
		return error("Begin inside a transaction in the replication stream");
	ap->in_xact = true;
	ap->xact = msg->u.begin;
	ap->xact_changes = 0;
	ap->last_final = msg->u.begin.final_lsn;
	if (msg->u.begin.final_lsn <= ap->serial_until)
		return go_serial(ap);
	if (ap->serial_pending)
		rc = apply_lane_flush(ap->lane[0]);
	f = filling(ap);
	if (f == NULL)
		f = batch_new(ap);
	f->xact_start = f->nch;
	return rc;
}

static int
par_commit(cdc_apply *ap, pgo_message *msg)
{
	const pgo_commit *c = &msg->u.commit;
	batch	   *f = filling(ap);
	int			rc;

	if (!ap->in_xact)
		return error("Commit outside a transaction in the replication stream");
	ap->in_xact = false;
	ap->stats.queued_lsn = c->end_lsn;
	if (ap->serial_xact)
	{
		ap->serial_xact = false;
		ap->serial_pending = true;
		rc = apply_lane_message(ap->lane[0], msg);
		if (rc == 0 && ap->xact.final_lsn > ap->serial_until)
			rc = apply_lane_flush(ap->lane[0]);
		return rc;
	}
	if (f == NULL)
		return error("Commit of a transaction that is not buffered");
	f->ntxns++;
	f->end_lsn = c->end_lsn;
	f->time = c->commit_time;
	if (f->ntxns < BATCH_MAX_TRANSACTIONS && f->nch < BATCH_MAX_CHANGES)
		return 0;
	f->state = BATCH_READY;
	return progress(ap);
}

static int
par_change(cdc_apply *ap, pgo_message *msg)
{
	uint32_t	relid = msg->kind == PGO_INSERT ? msg->u.insert.relid :
		msg->kind == PGO_UPDATE ? msg->u.update.relid : msg->u.delete.relid;
	const pgo_relation *d = pgo_relcache_get(ap->relcache, relid);
	const relinfo *ri = rel_info(ap, relid);
	pchange		c;
	int			rc;

	if (!ap->serial_xact && ap->in_xact &&
		(d == NULL || ri == NULL || ri->serial || ap->xact_changes >= BATCH_MAX_CHANGES))
	{
		rc = go_serial(ap);
		if (rc != 0)
			return rc;
	}
	if (ap->serial_xact || !ap->in_xact)
		return apply_lane_message(ap->lane[0], msg);
	if (filling(ap) == NULL)
		return error("%s of a transaction that is not buffered", pgo_kind_name(msg->kind));
	memset(&c, 0, sizeof(c));
	c.msg = copy_change(msg);
	c.final_lsn = ap->xact.final_lsn;
	change_deps(d, ri, &c);
	batch_add(filling(ap), &c);
	ap->xact_changes++;
	return 0;
}

/*
 * A Relation message.  One that describes a table as before changes
 * nothing; otherwise it is a barrier, handled by lane 0 (which may apply
 * a schema change), then given to every other lane.
 */
static int
par_relation(cdc_apply *ap, pgo_message *msg)
{
	pgo_relation *desc = pgo_message_take_relation(msg);
	const pgo_relation *mine;
	uint32_t	oid;
	int			rc = 0;

	if (desc == NULL)
		return 0;
	oid = desc->oid;
	/* The relcache takes desc: ours is the copy each lane gets. */
	if (pgo_relcache_put(ap->relcache, desc) == 0)
		return 0;
	mine = pgo_relcache_get(ap->relcache, oid);
	if (ap->in_xact && !ap->serial_xact)
		rc = go_serial(ap);
	else if (!ap->in_xact)
		rc = wait_batches(ap);
	for (int l = 0; l < ap->njobs && rc == 0; l++)
	{
		pgo_message m;

		memset(&m, 0, sizeof(m));
		m.kind = PGO_RELATION;
		m.u.relation = copy_relation(mine);
		rc = apply_lane_message(ap->lane[l], &m);
		pgo_message_release(&m);
	}
	if (rc == 0)
		rc = load_relinfo(ap, mine);
	return rc;
}

int
cdc_apply_message(cdc_apply *ap, pgo_message *msg)
{
	if (ap->njobs == 1)
		return apply_lane_message(ap->lane[0], msg);
	switch (msg->kind)
	{
		case PGO_BEGIN:
			return par_begin(ap, msg);
		case PGO_COMMIT:
			return par_commit(ap, msg);
		case PGO_RELATION:
			return par_relation(ap, msg);
		case PGO_INSERT:
		case PGO_UPDATE:
		case PGO_DELETE:
			return par_change(ap, msg);
		case PGO_TYPE:
		case PGO_ORIGIN:
		case PGO_MESSAGE:
			return 0;
		default:
			break;
	}
	if (ap->in_xact && !ap->serial_xact)
	{
		int			rc = go_serial(ap);

		if (rc != 0)
			return rc;
	}
	return apply_lane_message(ap->lane[0], msg);
}

/* ---------- sessions ---------- */

/*
 * The lanes of an earlier run with more of them: claimed (no session of
 * that run can commit any more), their greatest durable progress in *lsn.
 */
static int
read_other_lanes(cdc_apply *ap, const char *origin, bool table, uint64_t *lsn)
{
	PGconn	   *ctl = apply_lane_control(ap->lane[0]);
	int		   *lanes;
	int			n;
	int			rc;

	*lsn = 0;
	rc = cdc_origin_lanes(ctl, table, origin, &lanes, &n);
	for (int i = 0; i < n && rc == 0; i++)
	{
		char	   *name;
		uint64_t	p;

		if (lanes[i] < ap->njobs)
			continue;
		name = cdc_origin_lane_name(origin, lanes[i]);
		rc = cdc_origin_claim(ctl, table, name);
		if (rc == 0)
			rc = cdc_origin_progress(ctl, table, name, true, &p, NULL);
		if (rc == 0 && p > *lsn)
			*lsn = p;
		free(name);
	}
	free(lanes);
	if (rc != 0)
		conn_note_broken(ctl, SIDE_TARGET);
	return rc;
}

/*
 * Half the CPUs, at least 1, at most DEFAULT_MAX_JOBS: every lane's
 * session has a walsender's and pgcrane's work beside it, and on 2 CPUs
 * one lane drained a backlog faster than two (bench/catchup.sh).
 */
static int
default_jobs(void)
{
	long		n = sysconf(_SC_NPROCESSORS_ONLN) / 2;

	return n < 1 ? 1 : n > DEFAULT_MAX_JOBS ? DEFAULT_MAX_JOBS : (int) n;
}

int
cdc_apply_open(const char *target, const char *origin, bool progress_table,
			   uint64_t start_lsn, int jobs, cdc_apply **out, uint64_t *resume_lsn)
{
	cdc_apply  *ap = xcalloc(1, sizeof(cdc_apply));
	uint64_t	lsn = 0;
	int			rc;

	*out = NULL;
	if (jobs <= 0)
		jobs = default_jobs();
	ap->njobs = jobs > CDC_APPLY_MAX_JOBS ? CDC_APPLY_MAX_JOBS : jobs;
	log_debug("applying changes with %d target session%s", ap->njobs, ap->njobs > 1 ? "s" : "");
	ap->relcache = pgo_relcache_create();
	rc = apply_lane_open(target, origin, progress_table, start_lsn, NULL,
						 &ap->lane[0], resume_lsn);
	for (int l = 1; l < ap->njobs && rc == 0; l++)
	{
		char	   *name = cdc_origin_lane_name(origin, l);

		rc = apply_lane_open(target, name, progress_table, start_lsn,
							 apply_lane_control(ap->lane[0]), &ap->lane[l], &lsn);
		if (rc == 0 && lsn > *resume_lsn)
			*resume_lsn = lsn;
		free(name);
	}
	if (rc == 0)
		rc = read_other_lanes(ap, origin, progress_table, &lsn);
	if (rc != 0)
	{
		cdc_apply_close(ap);
		return rc;
	}
	if (lsn > *resume_lsn)
		*resume_lsn = lsn;
	for (int l = 0; l < ap->njobs; l++)
		apply_lane_set_resume(ap->lane[l], *resume_lsn);
	ap->resume_lsn = ap->applied_lsn = *resume_lsn;
	ap->stats = *apply_lane_get_stats(ap->lane[0]);
	*out = ap;
	return 0;
}

void
cdc_apply_close(cdc_apply *ap)
{
	if (ap == NULL)
		return;
	while (ap->qlen > 0)
		batch_remove(ap, ap->qlen - 1);
	/* Lane 0 last: the others use its control session. */
	for (int l = ap->njobs - 1; l >= 0; l--)
		apply_lane_close(ap->lane[l]);
	pgo_relcache_free(ap->relcache);
	free(ap->rels);
	free(ap->q);
	free(ap);
}

/* The figures of every lane and of the batches, into ap->stats. */
static void
refresh_stats(cdc_apply *ap)
{
	cdc_apply_stats *s = &ap->stats;

	s->applied_lsn = ap->applied_lsn;
	s->applied_time = ap->applied_time;
	s->committed_lsn = 0;
	s->transactions = ap->transactions;
	s->changes = s->missing_rows = 0;
	for (int l = 0; l < ap->njobs; l++)
	{
		const cdc_apply_stats *ls = apply_lane_get_stats(ap->lane[l]);

		if (ls->applied_lsn > s->applied_lsn)
		{
			s->applied_lsn = ls->applied_lsn;
			s->applied_time = ls->applied_time;
		}
		if (ls->committed_lsn > s->committed_lsn)
			s->committed_lsn = ls->committed_lsn;
		s->transactions += ls->transactions;
		s->changes += ls->changes;
		s->missing_rows += ls->missing_rows;
	}
	if (s->queued_lsn < s->applied_lsn)
		s->queued_lsn = s->applied_lsn;
}

int
cdc_apply_poll(cdc_apply *ap)
{
	int			rc;

	if (ap->njobs == 1)
		return apply_lane_poll(ap->lane[0]);
	rc = progress(ap);
	refresh_stats(ap);
	return rc;
}

int
cdc_apply_flush(cdc_apply *ap)
{
	batch	   *f = filling(ap);
	int			rc;

	if (ap->njobs == 1)
		return apply_lane_flush(ap->lane[0]);
	/* Lane 0's own grouping only for serial work: a batch waits its turn. */
	rc = ap->serial_pending ? apply_lane_flush(ap->lane[0]) : 0;
	if (rc == 0 && !ap->in_xact && f != NULL)
	{
		if (f->ntxns == 0)
			batch_remove(ap, ap->qlen - 1);
		else
			f->state = BATCH_READY;
	}
	return rc == 0 ? cdc_apply_poll(ap) : rc;
}

void
cdc_apply_commit_each_until(cdc_apply *ap, uint64_t lsn)
{
	ap->serial_until = lsn;
	apply_lane_commit_each_until(ap->lane[0], lsn);
}

uint64_t
cdc_apply_replay_until(const cdc_apply *ap)
{
	return ap->replay_until ? ap->replay_until : apply_lane_replay_until(ap->lane[0]);
}

/*
 * Give up the transaction in progress and every batch not committing yet:
 * as with one lane, complete transactions not committed come again.
 */
int
cdc_apply_rollback(cdc_apply *ap)
{
	int			rc = 0;

	if (ap->njobs == 1)
		return apply_lane_rollback(ap->lane[0]);
	ap->in_xact = ap->serial_xact = false;
	for (int l = 0; l < ap->njobs; l++)
		if (apply_lane_rollback(ap->lane[l]) != 0)
			rc = -1;
	for (int i = ap->qlen - 1; i >= 0; i--)
		if (ap->q[i]->state != BATCH_COMMITTING)
			batch_remove(ap, i);
	return rc;
}

int
cdc_apply_drain(cdc_apply *ap, double timeout)
{
	double		end = clock_now() + timeout;

	if (ap->njobs == 1)
		return apply_lane_drain(ap->lane[0], timeout);
	for (;;)
	{
		int			rc = cdc_apply_flush(ap);

		if (rc != 0)
			return rc;
		if (cdc_apply_in_flight(ap) == 0)
			return 0;
		if (clock_now() > end)
			return error("the target server did not answer within %.0f seconds", timeout);
		wait_lanes(ap, 100);
	}
}

/*
 * The lane that committed last has every earlier commit behind its own in
 * the target's WAL: its flushed progress is the durable position.
 */
int
cdc_apply_durable_lsn(cdc_apply *ap, uint64_t *lsn)
{
	int			last = 0;
	int			rc;

	for (int l = 1; l < ap->njobs; l++)
		if (apply_lane_get_stats(ap->lane[l])->committed_lsn >
			apply_lane_get_stats(ap->lane[last])->committed_lsn)
			last = l;
	rc = apply_lane_durable_lsn(ap->lane[last], lsn);
	if (rc == 0 && *lsn < ap->resume_lsn)
		*lsn = ap->resume_lsn;
	return rc;
}

int
cdc_apply_pollfds(const cdc_apply *ap, struct pollfd *pfd, int max)
{
	int			n = 0;

	for (int l = 0; l < ap->njobs && n < max; l++, n++)
	{
		pfd[n].fd = apply_lane_socket(ap->lane[l]);
		pfd[n].events = POLLIN | (apply_lane_wants_write(ap->lane[l]) ? POLLOUT : 0);
		pfd[n].revents = 0;
	}
	return n;
}

bool
cdc_apply_busy(const cdc_apply *ap)
{
	for (int l = 0; l < ap->njobs; l++)
		if (apply_lane_busy(ap->lane[l]))
			return true;
	for (int i = 0; i < ap->qlen; i++)
		if (ap->q[i]->state == BATCH_READY)
			return true;
	return false;
}

bool
cdc_apply_in_transaction(const cdc_apply *ap)
{
	return ap->njobs == 1 ? apply_lane_in_transaction(ap->lane[0]) : ap->in_xact;
}

int
cdc_apply_in_flight(const cdc_apply *ap)
{
	int			n = ap->qlen;

	for (int l = 0; l < ap->njobs; l++)
		n += apply_lane_in_flight(ap->lane[l]);
	return n;
}

const cdc_apply_stats *
cdc_apply_get_stats(const cdc_apply *ap)
{
	return ap->njobs == 1 ? apply_lane_get_stats(ap->lane[0]) : &ap->stats;
}

bool
cdc_apply_ok(const cdc_apply *ap)
{
	for (int l = 0; l < ap->njobs; l++)
		if (!apply_lane_ok(ap->lane[l]))
			return false;
	return true;
}

void
cdc_apply_set_ddl(cdc_apply *ap, struct ddl_ctx *ddl)
{
	apply_lane_set_ddl(ap->lane[0], ddl);
}

void
cdc_apply_set_selection(cdc_apply *ap, const selection *sel)
{
	for (int l = 0; l < ap->njobs; l++)
		apply_lane_set_selection(ap->lane[l], sel);
}

PGconn *
cdc_apply_control(cdc_apply *ap)
{
	return apply_lane_control(ap->lane[0]);
}
