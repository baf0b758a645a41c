/*
 * cutover_extra.c
 *		What the cutover carries beyond the stream (see cutover_extra.h).
 *
 * The leader opens a source session, begins a read-only REPEATABLE READ
 * transaction and exports its snapshot: every worker imports it, so the
 * unlogged tables and the large objects are read as of one moment, after
 * the last change was applied.  The leader plans in that snapshot (the
 * unlogged tables, the materialized views in dependency order, the large
 * objects that differ), builds the graph and runs it; the engine logs a
 * task's failure once and retries what heals by waiting.
 */
#include "cdc/cutover_extra.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "cdc/apply_rel.h"
#include "core/catalog.h"
#include "core/conn.h"
#include "core/copy.h"
#include "core/failure.h"
#include "core/identity.h"
#include "core/largeobject.h"
#include "core/selres.h"
#include "core/tasks.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/str.h"

#define LO_BATCH_OBJECTS 64
#define LO_BATCH_BYTES (64 * 1024 * 1024)
#define MAX_ATTEMPTS 3

static const char *const unlogged_sql =
"SELECT c.oid FROM pg_catalog.pg_class c"
" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
" WHERE c.relkind = 'r' AND c.relpersistence = 'u'"
" AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'"
" ORDER BY 1";

/*
 * The materialized views, each with the materialized views it reads
 * (comma-separated OIDs): the relations its rewrite rule depends on, and
 * through a plain view the ones that view's rule depends on.
 */
static const char *const matviews_sql =
"WITH RECURSIVE reads(mv, rel) AS ("
"  SELECT r.ev_class, d.refobjid FROM pg_catalog.pg_rewrite r"
"  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass"
"   AND d.objid = r.oid AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
"   AND d.refobjid <> r.ev_class"
"  JOIN pg_catalog.pg_class m ON m.oid = r.ev_class AND m.relkind = 'm'"
" UNION"
"  SELECT reads.mv, d.refobjid FROM reads"
"  JOIN pg_catalog.pg_class v ON v.oid = reads.rel AND v.relkind = 'v'"
"  JOIN pg_catalog.pg_rewrite r ON r.ev_class = v.oid"
"  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass"
"   AND d.objid = r.oid AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
"   AND d.refobjid <> v.oid)"
" SELECT m.oid::text, n.nspname, m.relname, m.relispopulated,"
" pg_catalog.array_to_string(ARRAY(SELECT DISTINCT x.oid::text FROM reads"
"   JOIN pg_catalog.pg_class x ON x.oid = reads.rel AND x.relkind = 'm'"
"   WHERE reads.mv = m.oid AND x.oid <> m.oid), ',')"
" FROM pg_catalog.pg_class m JOIN pg_catalog.pg_namespace n ON n.oid = m.relnamespace"
" WHERE m.relkind = 'm' AND n.nspname <> 'information_schema'"
" AND n.nspname NOT LIKE 'pg\\_%' ORDER BY n.nspname, m.relname";

/* The large objects and their digests, as verify computes them. */
static const char *const lo_source_sql =
"SELECT oid::text, pg_catalog.md5(d), pg_catalog.octet_length(d) FROM"
" (SELECT l.oid, pg_catalog.lo_get(l.oid) AS d"
"  FROM pg_catalog.pg_largeobject_metadata l) s ORDER BY oid";
static const char *const lo_target_sql =
"SELECT l.oid::text, pg_catalog.md5(pg_catalog.lo_get(l.oid))"
" FROM pg_catalog.pg_largeobject_metadata l ORDER BY l.oid";

typedef struct xmatview
{
	const char *oid;			/* the source's, in the leader's result */
	const char *nspname;
	const char *relname;
	const char *reads;			/* OIDs of the materialized views it reads */
	char	   *display;		/* schema.name, for messages and the report */
	bool		populated;		/* on the source */
	bool		blocked;		/* reads one that is not populated */
	bool		out;			/* left out by the selection */
	int			task;			/* its task, -1 when none */
} xmatview;

typedef enum xtask_kind
{
	XT_UNLOGGED,
	XT_MATVIEW,
	XT_LO_COPY,
	XT_LO_UNLINK
} xtask_kind;

typedef struct xrun xrun;

typedef struct xtask
{
	xtask_kind	kind;
	xrun	   *run;
	int			index;			/* table in the catalog, or matview */
	const char **oids;			/* large objects (in the leader's results) */
	int			noids;
	int64_t		rows;			/* out: rows of the unlogged table */
	double		seconds;		/* out: the refresh's time */
} xtask;

struct xrun
{
	const cdc_extra_options *o;
	char	   *snapshot;
	catalog		cat;
	selres		chosen;			/* o->sel resolved in the snapshot */
	xmatview   *mvs;
	int			nmvs;
	xtask	   *tasks;
	int			ntasks;
	_Atomic int64_t table_bytes;
	_Atomic int64_t lo_bytes;
	state_carried *out;
};

typedef struct xworker
{
	PGconn	   *src;
	PGconn	   *tgt;
} xworker;

/* ---------- sessions ---------- */

/*
 * A source session in the snapshot: imported (snapshot given) or exported
 * into *exported.  0 or -1 (logged).
 */
static int
begin_snapshot(PGconn *src, const char *snapshot, char **exported)
{
	PGresult   *res;
	char	   *lit;
	char	   *sql;
	int			rc;

	if (conn_exec(src, SIDE_SOURCE,
				  "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") != 0)
		return -1;
	if (snapshot == NULL)
	{
		res = conn_query(src, SIDE_SOURCE, "export a snapshot",
						 "SELECT pg_catalog.pg_export_snapshot()", 0, NULL);
		if (res == NULL)
			return -1;
		*exported = xstrdup(PQgetvalue(res, 0, 0));
		PQclear(res);
		return 0;
	}
	lit = PQescapeLiteral(src, snapshot, strlen(snapshot));
	if (lit == NULL)
		return error("could not quote the snapshot name on source server");
	sql = str_printf("SET TRANSACTION SNAPSHOT %s", lit);
	rc = conn_exec(src, SIDE_SOURCE, sql);
	free(sql);
	PQfreemem(lit);
	return rc;
}

/* A target session proven to be the recorded target; NULL (logged). */
static PGconn *
open_target(const cdc_extra_options *o)
{
	PGconn	   *tgt = conn_open(o->target, SIDE_TARGET);

	if (tgt != NULL && identity_check_conn(o->st, SIDE_TARGET, tgt, o->target) != 0)
	{
		PQfinish(tgt);
		tgt = NULL;
	}
	return tgt;
}

static void
op_disconnect(void *worker, void *arg)
{
	xworker    *w = worker;

	(void) arg;
	if (w->src)
		PQfinish(w->src);
	if (w->tgt)
		PQfinish(w->tgt);
	w->src = w->tgt = NULL;
}

static task_outcome
op_connect(void *worker, void *arg)
{
	xworker    *w = worker;
	xrun	   *r = arg;

	w->src = conn_open(r->o->source, SIDE_SOURCE);
	if (w->src == NULL || begin_snapshot(w->src, r->snapshot, NULL) != 0 ||
		(w->tgt = open_target(r->o)) == NULL)
	{
		op_disconnect(w, arg);
		return TASK_FAILED;
	}
	return TASK_DONE;
}

/* ---------- the tasks ---------- */

static int
copy_unlogged(xworker *w, xtask *t)
{
	const cat_table *tab = &t->run->cat.tables[t->index];
	copy_part	whole = {0, 1, 0, -1};
	copy_result res;
	static const interrupt_flag never = 0;
	const interrupt_flag *cancel = t->run->o->stop ? t->run->o->stop : &never;

	if (copy_table_part(w->src, w->tgt, tab, &whole, &res, &t->run->table_bytes, cancel) != 0)
		return -1;
	t->rows = res.rows;
	log_debug("unlogged table \"%s\" copied again: %" PRId64 " rows", tab->display, res.rows);
	return 0;
}

/* Whether the target's materialized view is populated: 1, 0, -1 (logged). */
static int
target_populated(PGconn *tgt, const xmatview *m)
{
	const char *params[2] = {m->nspname, m->relname};
	PGresult   *res = conn_query(tgt, SIDE_TARGET, "read a materialized view",
								 "SELECT c.relispopulated FROM pg_catalog.pg_class c"
								 " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
								 " WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'm'",
								 2, params);
	int			rc;

	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1)
		rc = error("materialized view \"%s\" does not exist on the target", m->display);
	else
		rc = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return rc;
}

/* Refresh one, or make it unpopulated as on the source. */
static int
refresh_matview(xworker *w, xtask *t)
{
	const xmatview *m = &t->run->mvs[t->index];
	char	   *qname = conn_qualified_name(w->tgt, m->nspname, m->relname);
	double		start = clock_now();
	char	   *sql = NULL;
	int			rc = 0;

	if (m->populated)
		sql = str_printf("REFRESH MATERIALIZED VIEW %s", qname);
	else if ((rc = target_populated(w->tgt, m)) == 1)
		sql = str_printf("REFRESH MATERIALIZED VIEW %s WITH NO DATA", qname);
	if (sql)
		rc = conn_exec(w->tgt, SIDE_TARGET, sql);
	t->seconds = clock_now() - start;
	free(sql);
	free(qname);
	return rc < 0 ? -1 : 0;
}

static int
copy_los(xworker *w, xtask *t)
{
	for (int i = 0; i < t->noids; i++)
	{
		if (t->run->o->stop && *t->run->o->stop)
			return -1;
		if (largeobject_copy_one(w->src, w->tgt, t->oids[i], true, &t->run->lo_bytes) != 0)
			return -1;
	}
	return 0;
}

/* Unlink the large objects the source no longer has, in one transaction. */
static int
unlink_los(xworker *w, xtask *t)
{
	strbuf		arr = STRBUF_INIT;
	const char *params[1];
	PGresult   *res;

	strbuf_adds(&arr, "{");
	for (int i = 0; i < t->noids; i++)
		strbuf_addf(&arr, "%s%s", i ? "," : "", t->oids[i]);
	strbuf_adds(&arr, "}");
	params[0] = strbuf_str(&arr);
	res = conn_query(w->tgt, SIDE_TARGET, "unlink large objects",
					 "SELECT pg_catalog.lo_unlink(oid) FROM pg_catalog.pg_largeobject_metadata"
					 " WHERE oid = ANY ($1::pg_catalog.oid[])", 1, params);
	strbuf_release(&arr);
	PQclear(res);
	return res ? 0 : -1;
}

static task_outcome
op_run(void *worker, void *payload, int attempt, void *arg)
{
	xworker    *w = worker;
	xtask	   *t = payload;
	int			rc = -1;

	(void) attempt;
	(void) arg;
	switch (t->kind)
	{
		case XT_UNLOGGED:
			rc = copy_unlogged(w, t);
			break;
		case XT_MATVIEW:
			rc = refresh_matview(w, t);
			break;
		case XT_LO_COPY:
			rc = copy_los(w, t);
			break;
		case XT_LO_UNLINK:
			rc = unlink_los(w, t);
			break;
	}
	if (rc != 0)
	{
		/* Roll back what a failed statement left open, if it can. */
		if (w->tgt && PQtransactionStatus(w->tgt) == PQTRANS_INERROR)
			PQclear(PQexec(w->tgt, "ROLLBACK"));
		conn_note_broken(w->src, SIDE_SOURCE);
		conn_note_broken(w->tgt, SIDE_TARGET);
		return TASK_FAILED;
	}
	return TASK_DONE;
}

static const char *
op_name(const void *payload, char *buf, size_t size, void *arg)
{
	const xtask *t = payload;
	const xrun *r = arg;

	switch (t->kind)
	{
		case XT_UNLOGGED:
			snprintf(buf, size, "unlogged table \"%s\"", r->cat.tables[t->index].display);
			break;
		case XT_MATVIEW:
			snprintf(buf, size, "materialized view \"%s\"", r->mvs[t->index].display);
			break;
		case XT_LO_COPY:
			snprintf(buf, size, "large objects %s to %s", t->oids[0], t->oids[t->noids - 1]);
			break;
		case XT_LO_UNLINK:
			snprintf(buf, size, "unlinking %d large objects", t->noids);
			break;
	}
	return buf;
}

static const tasks_ops extra_ops = {
	op_connect, op_disconnect, op_run, NULL, op_name, NULL
};

/* ---------- planning ---------- */

static xtask *
add_task(xrun *r, xtask_kind kind, int index)
{
	xtask	   *t = &r->tasks[r->ntasks++];

	memset(t, 0, sizeof(*t));
	t->kind = kind;
	t->run = r;
	t->index = index;
	return t;
}

/* Whether m reads the materialized view whose OID is oid. */
static bool
reads_oid(const xmatview *m, const char *oid)
{
	size_t		len = strlen(oid);

	for (const char *p = m->reads; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ','))
		if (strncmp(p, oid, len) == 0 && (p[len] == ',' || p[len] == '\0'))
			return true;
	return false;
}

/*
 * Order the materialized views so that each comes after the ones it reads
 * (they cannot form a cycle), and mark those that read an unpopulated one.
 */
static void
order_matviews(xrun *r)
{
	xmatview   *sorted = xcalloc((size_t) r->nmvs + 1, sizeof(xmatview));
	bool	   *placed = xcalloc((size_t) r->nmvs + 1, sizeof(bool));
	int			n = 0;

	while (n < r->nmvs)
	{
		int			before = n;

		for (int i = 0; i < r->nmvs; i++)
		{
			bool		ready = !placed[i];

			for (int j = 0; ready && j < r->nmvs; j++)
				if (j != i && !placed[j] && reads_oid(&r->mvs[i], r->mvs[j].oid))
					ready = false;
			if (!ready)
				continue;
			placed[i] = true;
			sorted[n] = r->mvs[i];
			for (int j = 0; j < n; j++)
				if (reads_oid(&sorted[n], sorted[j].oid) &&
					(!sorted[j].populated || sorted[j].blocked))
					sorted[n].blocked = true;
			n++;
		}
		if (n == before)
			break;				/* not a DAG: impossible, keep the rest out */
	}
	free(placed);
	free(r->mvs);
	r->mvs = sorted;
	r->nmvs = n;
}

/* A task per materialized view, after the unlogged tables and those it reads. */
static void
plan_matview_tasks(xrun *r, tasks *g, int nunlogged)
{
	for (int i = 0; i < r->nmvs; i++)
	{
		xmatview   *m = &r->mvs[i];

		m->task = -1;
		if (!r->o->refresh_matviews || m->out)
			continue;
		if (m->blocked && m->populated)
		{
			log_warning("materialized view \"%s\" is not refreshed: it reads one that is not "
						"populated on the source", m->display);
			continue;
		}
		add_task(r, XT_MATVIEW, i);
		m->task = tasks_add(g, &r->tasks[r->ntasks - 1], 1, 0, 0);
		for (int k = 0; k < nunlogged; k++)
			tasks_after(g, m->task, k);
		for (int j = 0; j < i; j++)
			if (r->mvs[j].task >= 0 && reads_oid(m, r->mvs[j].oid))
				tasks_after(g, m->task, r->mvs[j].task);
	}
}

static int
plan_matviews(xrun *r, PGconn *src, PGresult **res)
{
	*res = conn_query(src, SIDE_SOURCE, "list materialized views", matviews_sql, 0, NULL);
	if (*res == NULL)
		return -1;
	r->nmvs = PQntuples(*res);
	r->mvs = xcalloc((size_t) r->nmvs + 1, sizeof(xmatview));
	for (int i = 0; i < r->nmvs; i++)
	{
		xmatview   *m = &r->mvs[i];

		m->oid = PQgetvalue(*res, i, 0);
		m->nspname = PQgetvalue(*res, i, 1);
		m->relname = PQgetvalue(*res, i, 2);
		m->populated = PQgetvalue(*res, i, 3)[0] == 't';
		m->reads = PQgetvalue(*res, i, 4);
		m->display = str_printf("%s.%s", m->nspname, m->relname);
		if (r->o->sel)
		{
			m->out = selres_rel_out(&r->chosen, m->nspname, m->relname);
			m->relname = sel_table_target(r->o->sel, m->nspname, m->relname);
			m->nspname = sel_schema_target(r->o->sel, m->nspname);
		}
	}
	order_matviews(r);
	return 0;
}

/* A batch of large objects to copy: oids[from, to). */
static void
add_lo_batch(xrun *r, const char **oids, int from, int to)
{
	xtask	   *t;

	if (to <= from)
		return;
	t = add_task(r, XT_LO_COPY, 0);
	t->oids = oids + from;
	t->noids = to - from;
}

/* Row i of rs against row j of rt by OID; past the end counts as last. */
static int
lo_cmp(PGresult *rs, int i, PGresult *rt, int j)
{
	unsigned long so,
				to;

	if (i >= PQntuples(rs))
		return 1;
	if (j >= PQntuples(rt))
		return -1;
	so = strtoul(PQgetvalue(rs, i, 0), NULL, 10);
	to = strtoul(PQgetvalue(rt, j, 0), NULL, 10);
	return so < to ? -1 : so > to ? 1 : 0;
}

/*
 * Compare the large objects of both sides (each ordered by OID): those
 * new or changed go into copy batches, those the source lacks into one
 * unlink task.  The OIDs point into rs and rt, kept until the end.
 */
static void
plan_los(xrun *r, PGresult *rs, PGresult *rt, const char **copy, const char **gone)
{
	int			i = 0,
				j = 0,
				ncopy = 0,
				ngone = 0,
				first = 0;
	int64_t		batch_bytes = 0;

	while (i < PQntuples(rs) || j < PQntuples(rt))
	{
		int			cmp = lo_cmp(rs, i, rt, j);

		if (cmp > 0)
			gone[ngone++] = PQgetvalue(rt, j, 0);
		else if (cmp < 0 || strcmp(PQgetvalue(rs, i, 1), PQgetvalue(rt, j, 1)) != 0)
		{
			copy[ncopy++] = PQgetvalue(rs, i, 0);
			batch_bytes += strtoll(PQgetvalue(rs, i, 2), NULL, 10);
		}
		else
			r->out->lo_unchanged++;
		i += cmp <= 0;
		j += cmp >= 0;
		if (ncopy - first >= LO_BATCH_OBJECTS || batch_bytes >= LO_BATCH_BYTES)
		{
			add_lo_batch(r, copy, first, ncopy);
			first = ncopy;
			batch_bytes = 0;
		}
	}
	add_lo_batch(r, copy, first, ncopy);
	r->out->lo_copied = ncopy;
	r->out->lo_unlinked = ngone;
	if (ngone > 0)
	{
		xtask	   *t = add_task(r, XT_LO_UNLINK, 0);

		t->oids = gone;
		t->noids = ngone;
	}
}

/* ---------- the run ---------- */

/* The leader's results, which the plan points into until the end. */
typedef struct xplan
{
	PGresult   *unlogged;
	PGresult   *mvs;
	PGresult   *lo_src;
	PGresult   *lo_tgt;
	const char **copy;
	const char **gone;
} xplan;

static void
xplan_release(xplan *p)
{
	PQclear(p->unlogged);
	PQclear(p->mvs);
	PQclear(p->lo_src);
	PQclear(p->lo_tgt);
	free(p->copy);
	free(p->gone);
}

/* Read in the snapshot what the plan needs.  0 or -1 (logged). */
static int
read_plan(xrun *r, PGconn *src, PGconn *tgt, xplan *p)
{
	p->unlogged = conn_query(src, SIDE_SOURCE, "list unlogged tables", unlogged_sql, 0, NULL);
	if (p->unlogged == NULL)
		return -1;
	if (PQntuples(p->unlogged) > 0 && catalog_load(src, &r->cat) != 0)
		return -1;
	if (r->o->sel && selres_read(src, r->o->sel, &r->chosen) != 0)
		return -1;
	if (plan_matviews(r, src, &p->mvs) != 0)
		return -1;
	p->lo_src = conn_query(src, SIDE_SOURCE, "read large objects", lo_source_sql, 0, NULL);
	if (p->lo_src == NULL)
		return -1;
	p->lo_tgt = conn_query(tgt, SIDE_TARGET, "read large objects", lo_target_sql, 0, NULL);
	if (p->lo_tgt == NULL)
		return -1;
	p->copy = xcalloc((size_t) PQntuples(p->lo_src) + 1, sizeof(char *));
	p->gone = xcalloc((size_t) PQntuples(p->lo_tgt) + 1, sizeof(char *));
	return 0;
}

/* Whether the unlogged table t is copied again under the rules, if any. */
static bool
carried_unlogged(const xrun *r, const cat_table *t)
{
	const selres_rel *x;

	if (r->o->sel == NULL)
		return true;
	x = selres_find(&r->chosen, t->oid);
	if (x != NULL && (x->why != NULL || x->no_data))
		return false;
	if (x != NULL && apply_rel_transformed(r->o->sel, x->nspname, x->relname))
	{
		log_warning("unlogged table \"%s\" is not carried at the cutover: the selection renames it or leaves a column of it out",
					t->display);
		return false;
	}
	return true;
}

/* Every task into the graph: unlogged tables, materialized views, large objects. */
static tasks *
build_graph(xrun *r, xplan *p)
{
	tasks	   *g = tasks_create();
	int			nunlogged;

	r->tasks = xcalloc((size_t) (PQntuples(p->unlogged) + r->nmvs +
								 PQntuples(p->lo_src) + 1), sizeof(xtask));
	for (int i = 0; i < PQntuples(p->unlogged); i++)
	{
		int			k = catalog_find_table(&r->cat,
										   (uint32_t) strtoul(PQgetvalue(p->unlogged, i, 0), NULL, 10));

		if (k >= 0 && carried_unlogged(r, &r->cat.tables[k]))
			(void) tasks_add(g, add_task(r, XT_UNLOGGED, k), 2, r->cat.tables[k].bytes, 0);
	}
	nunlogged = r->ntasks;
	plan_matview_tasks(r, g, nunlogged);
	{
		int			first = r->ntasks;

		if (r->o->sel == NULL || r->chosen.large_objects)
			plan_los(r, p->lo_src, p->lo_tgt, p->copy, p->gone);
		for (int i = first; i < r->ntasks; i++)
			(void) tasks_add(g, &r->tasks[i], 2, r->tasks[i].noids, 0);
	}
	return g;
}

/* What was done, into r->out. */
static void
fill_result(xrun *r)
{
	state_carried *k = r->out;
	strbuf		list = STRBUF_INIT;

	for (int i = 0; i < r->ntasks; i++)
	{
		const xtask *t = &r->tasks[i];

		if (t->kind == XT_UNLOGGED)
		{
			k->unlogged_tables++;
			k->unlogged_rows += t->rows;
		}
		else if (t->kind == XT_MATVIEW && r->mvs[t->index].populated)
		{
			k->matviews_refreshed++;
			k->matviews_seconds += t->seconds;
			strbuf_addf(&list, "%s%s\t%.3f", list.len ? "\n" : "",
						r->mvs[t->index].display, t->seconds);
		}
	}
	for (int i = 0; i < r->nmvs; i++)
	{
		if (!r->mvs[i].populated)
			k->matviews_unpopulated++;
		else if (r->mvs[i].task < 0)
			k->matviews_skipped++;
	}
	k->lo_bytes = atomic_load(&r->lo_bytes);
	k->matviews = list.len ? xstrdup(strbuf_str(&list)) : NULL;
	strbuf_release(&list);
}

static int
run_graph(xrun *r, tasks *g)
{
	int			n = r->o->jobs < r->ntasks ? r->o->jobs : r->ntasks;
	xworker    *ws;
	int			rc;

	if (r->ntasks == 0)
		return 0;
	ws = xcalloc((size_t) (n > 0 ? n : 1), sizeof(xworker));
	{
		tasks_config tc = {
			.ops = &extra_ops, .arg = r, .workers = ws, .worker_size = sizeof(xworker),
			.nworkers = n > 0 ? n : 1, .max_attempts = MAX_ATTEMPTS, .stop = r->o->stop
		};

		rc = tasks_run(g, &tc, NULL);
	}
	free(ws);
	return rc;
}

static void
xrun_release(xrun *r)
{
	for (int i = 0; i < r->nmvs; i++)
		free(r->mvs[i].display);
	free(r->mvs);
	free(r->tasks);
	free(r->snapshot);
	catalog_release(&r->cat);
	selres_release(&r->chosen);
}

int
cdc_extra_carry(const cdc_extra_options *o, state_carried *out)
{
	xrun		r;
	xplan		p;
	PGconn	   *src = conn_open(o->source, SIDE_SOURCE);
	PGconn	   *tgt = src ? open_target(o) : NULL;
	tasks	   *g = NULL;
	int			rc = tgt ? 0 : -1;
	double		start = clock_now();

	memset(&r, 0, sizeof(r));
	memset(&p, 0, sizeof(p));
	memset(out, 0, sizeof(*out));
	r.o = o;
	r.out = out;
	if (rc == 0)
		rc = begin_snapshot(src, NULL, &r.snapshot);
	if (rc == 0)
		rc = read_plan(&r, src, tgt, &p);
	if (rc == 0)
	{
		g = build_graph(&r, &p);
		rc = run_graph(&r, g);
	}
	if (rc == 0)
	{
		fill_result(&r);
		log_info("carried at the cutover in %.1f s: %" PRId64 " unlogged tables, %" PRId64
				 " materialized views refreshed, %" PRId64 " large objects copied, %" PRId64
				 " unlinked", clock_now() - start, out->unlogged_tables,
				 out->matviews_refreshed, out->lo_copied, out->lo_unlinked);
	}
	if (g)
		tasks_free(g);
	xplan_release(&p);
	xrun_release(&r);
	if (tgt)
		PQfinish(tgt);
	if (src)
		PQfinish(src);
	return rc == 0 ? 0 : -1;
}
