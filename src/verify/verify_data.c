/*
 * verify_data.c
 *		Compare the data of the source and the target.
 *
 * The leader reads the tables and populated materialized views (with their
 * columns and best key) and the sequences of both catalogs and pairs them
 * by name.  The work is a list of tasks: the large objects, then the
 * tables largest first, then the sequences.  They run on the task engine
 * (core/tasks.h) with --jobs workers, each with its own source and target
 * connection in the snapshots the leader exported; differences go
 * straight to the report, which is thread-safe.  A task that fails marks
 * the run as failed, the tasks that wait for it are skipped and the
 * worker's transaction is begun again so that it can go on with the next
 * one.
 *
 * A table's checksum is computed by the servers: per row a 64-bit hash
 * of the row's text, ROW(c1, c2, ...)::text over the columns present on
 * both sides in the source's order, and over the rows the sum of those
 * hashes as signed bigints, which pgcrane keeps modulo 2^64.  A sum does
 * not depend on the order rows are stored in, and row text distinguishes
 * NULL from an empty string: (,) against ("",).  The same query goes to
 * both sides at once.
 *
 * The hash is PostgreSQL's hashtextextended() when both servers compute
 * it alike, which probe strings tell (it reads memory in words, so a big-
 * endian server would not); it is three times cheaper than md5.  Else it
 * is the first 64 bits of md5(), the same everywhere.  The environment
 * variable PGCRANE_VERIFY_HASH=md5 forces md5, for tests of that path.
 *
 * With hashtextextended, a text or varchar column (on both sides) enters
 * the row as the hash of its bytes and a bytea column as the hash of its
 * hex text, ROW(id, hashtextextended(body COLLATE "C", 0), ...): a large
 * value is hashed where it lies instead of being quoted, escaped and
 * copied into the row's text first, which made the checksum of a
 * TOAST-heavy table three times dearer.  A hash is a number, never NULL
 * nor empty, so the row's text still tells NULL from '' and one column
 * from the next, and the row is hashed as a whole, so values swapped
 * between rows or columns change the sum.
 *
 * Sums add up, so a large table is checksummed in parts that several
 * workers scan at once: part i of n covers the i-th n-th of the table's
 * blocks on each side (core/blockrange.h), whatever rows the blocks hold
 * there, and a last task, after every part, compares the totals.  This
 * needs TID range scans (PostgreSQL 14) on both sides; before, every part
 * would read the whole table.  What counts is a table's cost, its heap
 * plus a third of its TOAST (a TOASTed value is read and hashed in one
 * go); by default a table costing more than a quarter of each worker's
 * share of the whole (at least 32 MB) is cut, so that the parts of the
 * big tables, taken first, keep every worker busy until the end;
 * --split-tables-larger-than gives the size (heap and TOAST) instead.
 * A verdict runs as soon as its table's parts are done.
 */
#include "verify/verify_data.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/blockrange.h"
#include "core/conn.h"
#include "core/tasks.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/str.h"
#include "verify/verify_range.h"
#include "verify/verify_rows.h"
#include "verify/verify_sql.h"

/*
 * Tables with their columns, one row per column (a table without columns
 * has one row of NULLs), and the column numbers of the best key: the
 * primary key, else the unique index with the fewest columns, all NOT
 * NULL, without expressions or predicate.  Each collatable column comes
 * with what identifies its collation (and, for the default one, the
 * database's: provider, locales, version), so that keys are compared in
 * the "C" collation only when the two sides might order them differently.
 * The catalogs' columns for this changed names across versions (ICU
 * locales since 15, datlocale since 17); to_jsonb reads whichever exist.
 */
static const char *const tables_sql =
"WITH db AS ("
" SELECT concat_ws(':', j->>'datlocprovider', j->>'datcollate',"
"  j->>'datctype', j->>'daticulocale', j->>'datlocale', j->>'daticurules',"
"  j->>'datcollversion') AS coll"
" FROM (SELECT to_jsonb(d) AS j FROM pg_database d"
"  WHERE d.datname = current_database()) s), "
"t AS ("
" SELECT c.oid, n.nspname, c.relname, c.relkind,"
"  pg_relation_size(c.oid) AS bytes, pg_table_size(c.oid) AS data_bytes,"
"  (SELECT array_to_string(i.indkey[0:i.indnkeyatts - 1], ' ')"
"   FROM pg_index i WHERE i.indrelid = c.oid AND i.indisunique"
"   AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL"
"   AND NOT EXISTS (SELECT 1 FROM pg_attribute ka WHERE ka.attrelid = c.oid"
"    AND ka.attnum = ANY (i.indkey[0:i.indnkeyatts - 1])"
"    AND NOT ka.attnotnull)"
"   ORDER BY i.indisprimary DESC, i.indnkeyatts, i.indexrelid LIMIT 1) AS key"
" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
" WHERE (c.relkind = 'r' OR (c.relkind = 'm' AND c.relispopulated))"
" AND c.relpersistence <> 't'"
" AND " VSQL_USER_NS("n") " AND " VSQL_NOT_EXT("pg_class", "c.oid") ") "
"SELECT t.nspname, t.relname, t.bytes, t.key, a.attnum, a.attname,"
" a.atttypid,"
" (SELECT concat_ws(':', cn.nspname, co.collname, j->>'collprovider',"
"   j->>'collisdeterministic', j->>'collcollate', j->>'collctype',"
"   j->>'colliculocale', j->>'colllocale', j->>'collicurules',"
"   j->>'collversion', db.coll)"
"  FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace,"
"  to_jsonb(co) AS j, db WHERE co.oid = a.attcollation),"
" a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype,"
"  'oid'::regtype),"
" t.bytes / current_setting('block_size')::bigint, t.relkind,"
" t.data_bytes - t.bytes "
"FROM t LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0"
" AND NOT a.attisdropped "
"ORDER BY t.oid, a.attnum";

static const char *const sequences_sql =
"SELECT n.nspname, c.relname FROM pg_class c"
" JOIN pg_namespace n ON n.oid = c.relnamespace"
" WHERE c.relkind = 'S' AND " VSQL_USER_NS("n") " AND " VSQL_NOT_EXT("pg_class", "c.oid");

/* Strings of every length modulo 4 and beyond 12 bytes, some multibyte. */
static const char *const hash_probe_sql =
"SELECT string_agg(hashtextextended(x COLLATE \"C\", 0)::text, ' ' ORDER BY n) "
"FROM (VALUES (1, ''), (2, 'p'), (3, 'pg'), (4, 'pgc'), (5, 'pgcrane'), "
"(6, 'pgcrane verify'), (7, 'Grüße, 日本語'), (8, repeat('x0y1z2', 50))) "
"AS v(n, x)";

static const char *const large_objects_sql =
"SELECT l.oid::text, md5(lo_get(l.oid)) FROM pg_largeobject_metadata l";

/* Sequences are read this many to a query. */
#define SEQUENCES_PER_QUERY 200

/* Parts a table's checksum pass is cut into, at most. */
#define MAX_PARTS 256

/*
 * A byte of TOAST costs the checksum about this many times less than a
 * byte of heap: its values are hashed as they are, while a heap row is
 * printed column by column (measured: 2 ms a MB of TOAST, 4 to 10 ms a
 * MB of heap).
 */
#define TOAST_COST_RATIO 3

/* PostgreSQL's limits: columns of a table, columns of an index. */
#define MAX_ATTNUM 1600
#define MAX_KEY_COLUMNS 32

/* A relation as one side's catalog has it: rows first..last of res. */
typedef struct side_rel
{
	const char *nspname;
	const char *relname;
	int			first;
	int			last;
} side_rel;

typedef enum vtask_kind
{
	VTASK_TABLE,				/* one part of a table's checksum */
	VTASK_TABLE_VERDICT,		/* after every part: compare, descend */
	VTASK_SEQUENCES,
	VTASK_LARGE_OBJECTS
} vtask_kind;

/*
 * The checksum pass of a table, in nparts parts of its blocks; the pool's
 * lock guards the sums and the start time.
 */
typedef struct vtable_job
{
	vtable	   *table;
	int64_t		src_blocks;
	int64_t		tgt_blocks;
	int			nparts;
	int64_t		cost;			/* of the whole pass, in heap bytes */
	int64_t		src_rows;
	int64_t		tgt_rows;
	uint64_t	src_sum;		/* sums of the row bits, modulo 2^64 */
	uint64_t	tgt_sum;
	double		started;
} vtable_job;

typedef struct vtask
{
	struct vpool *pool;
	vtask_kind	kind;
	vtable_job *job;			/* for VTASK_TABLE */
	int			part;
} vtask;

/* What the workers share; the lock guards the totals. */
typedef struct vpool
{
	pthread_mutex_t lock;
	vtask	   *tasks;
	int			ntasks;
	int			ntables;
	int64_t		nrows;
	const vdata_options *o;
	vreport    *report;
	const char *src_snapshot;
	const char *tgt_snapshot;
	char	  **seq_names;		/* sequences on both sides, for messages */
	char	  **seq_qnames;		/* quoted */
	char	  **seq_tqnames;	/* quoted, as named on the target */
	int			nseq;
	vtable_job *jobs;
	int			njobs;
	bool		tid_ranges;		/* both servers scan ranges of blocks */
	bool		fast_hash;		/* both hash with hashtextextended alike */
} vpool;

static int
rel_cmp(const void *a, const void *b)
{
	const side_rel *x = a;
	const side_rel *y = b;
	int			c = strcmp(x->nspname, y->nspname);

	return c ? c : strcmp(x->relname, y->relname);
}

/*
 * Group the rows of a catalog result by relation (columns 0 and 1, rows
 * of one relation adjacent) and sort the groups by name.
 */
static side_rel *
group_rels(PGresult *res, int *nrels)
{
	int			n = PQntuples(res);
	side_rel   *rels = xcalloc((size_t) (n > 0 ? n : 1), sizeof(side_rel));
	int			k = -1;

	for (int i = 0; i < n; i++)
	{
		if (k < 0 || strcmp(rels[k].nspname, PQgetvalue(res, i, 0)) != 0 ||
			strcmp(rels[k].relname, PQgetvalue(res, i, 1)) != 0)
		{
			k++;
			rels[k].nspname = PQgetvalue(res, i, 0);
			rels[k].relname = PQgetvalue(res, i, 1);
			rels[k].first = i;
		}
		rels[k].last = i;
	}
	*nrels = k + 1;
	qsort(rels, (size_t) *nrels, sizeof(side_rel), rel_cmp);
	return rels;
}

/* Row of column name in the target's rows of a table, or -1. */
static int
find_column(PGresult *res, const side_rel *rel, const char *name)
{
	for (int i = rel->first; i <= rel->last; i++)
		if (!PQgetisnull(res, i, 5) && strcmp(PQgetvalue(res, i, 5), name) == 0)
			return i;
	return -1;
}

static Oid
oid_value(PGresult *res, int row, int col)
{
	return (Oid) strtoul(PQgetvalue(res, row, col), NULL, 10);
}

/* Report the columns of a table that one side lacks. */
static void
report_lone_columns(vreport *r, const char *table, PGresult *res,
					const side_rel *rel, PGresult *other,
					const side_rel *orel, const char *problem)
{
	for (int i = rel->first; i <= rel->last; i++)
	{
		char	   *name;

		if (PQgetisnull(res, i, 5) ||
			find_column(other, orel, PQgetvalue(res, i, 5)) >= 0)
			continue;
		name = str_printf("%s.%s", table, PQgetvalue(res, i, 5));
		vreport_add(r, VREPORT_SCHEMA, problem, "column", name, NULL, NULL);
		free(name);
	}
}

/* The key's columns from "attnum attnum ..."; no key if one is not shared. */
static void
set_key(vtable *t, PGresult *rs, const side_rel *rel, const int *attnum_to_col)
{
	const char *p = PQgetisnull(rs, rel->first, 3) ? NULL :
		PQgetvalue(rs, rel->first, 3);
	int			key[MAX_KEY_COLUMNS];
	int			n = 0;

	while (p && *p && n < MAX_KEY_COLUMNS)
	{
		char	   *end;
		long		attnum = strtol(p, &end, 10);

		if (end == p || attnum < 1 || attnum > MAX_ATTNUM ||
			attnum_to_col[attnum] < 0)
			return;
		key[n++] = attnum_to_col[attnum];
		p = end;
		while (*p == ' ')
			p++;
	}
	if (n == 0)
		return;
	t->nkey = n;
	t->key = xcalloc((size_t) n, sizeof(int));
	memcpy(t->key, key, (size_t) n * sizeof(int));
}

/* NULL-safe equality of two result values. */
static bool
values_equal(PGresult *a, int ra, int ca, PGresult *b, int rb, int cb)
{
	if (PQgetisnull(a, ra, ca) || PQgetisnull(b, rb, cb))
		return PQgetisnull(a, ra, ca) == PQgetisnull(b, rb, cb);
	return strcmp(PQgetvalue(a, ra, ca), PQgetvalue(b, rb, cb)) == 0;
}

/* Type OIDs of PostgreSQL's catalog, the same in every version. */
#define BYTEA_OID 17
#define TEXT_OID 25
#define VARCHAR_OID 1043

static bool
text_type(Oid type)
{
	return type == TEXT_OID || type == VARCHAR_OID;
}

/*
 * What column c contributes to the row's text: the column itself, or,
 * with hashtextextended on both sides, for a text or varchar column (on
 * both sides) the hash of its bytes and for a bytea column the hash of
 * its hex text, as byteaout prints it (a cast to text could be one the
 * database defines).  The hash of a value is never NULL and never empty,
 * so the row text still tells NULL from an empty value and one column
 * from the next.  The sessions' search_path is pg_catalog.
 */
static void
add_column_expr(strbuf *row, const vcolumn *c, bool fast_hash)
{
	if (fast_hash && text_type(c->src_type) && text_type(c->tgt_type))
		strbuf_addf(row, "hashtextextended(%s COLLATE \"C\", 0)", c->quoted);
	else if (fast_hash && c->src_type == BYTEA_OID && c->tgt_type == BYTEA_OID)
		strbuf_addf(row,
					"hashtextextended(textin(byteaout(%s)) COLLATE \"C\", 0)",
					c->quoted);
	else
		strbuf_adds(row, c->quoted);
}

/* The hash of row text "row" (SQL), as both sides compute it. */
static void
set_row_hash(vtable *t, const char *row, bool fast_hash)
{
	if (fast_hash)
	{
		t->row_bits = str_printf("hashtextextended(%s COLLATE \"C\", 0)", row);
		t->row_hash = xstrdup(t->row_bits);
	}
	else
	{
		t->row_hash = str_printf("md5(%s)", row);
		t->row_bits = str_printf("('x' || substr(%s, 1, 16))::bit(64)::bigint",
								 t->row_hash);
	}
}

/* "table" or "materialized view", for messages. */
static const char *
rel_kind(PGresult *res, const side_rel *rel)
{
	return PQgetvalue(res, rel->first, 10)[0] == 'm' ?
		"materialized view" : "table";
}

/*
 * A table present on both sides: the columns both have, in the source's
 * order, and the source's key if the target has all its columns.
 */
static vtable *
build_table(PGconn *conn, PGresult *rs, const side_rel *srel, PGresult *rt,
			const side_rel *trel, bool fast_hash, const vsel *sel)
{
	vtable	   *t = xcalloc(1, sizeof(vtable));
	int		   *attnum_to_col = xcalloc(MAX_ATTNUM + 1, sizeof(int));
	strbuf		row = STRBUF_INIT;

	t->name = str_printf("%s.%s", srel->nspname, srel->relname);
	t->kind = rel_kind(rs, srel);
	t->qname = conn_qualified_name(conn, srel->nspname, srel->relname);
	t->tgt_qname = vsel_target_qname(sel, conn, srel->nspname, srel->relname);
	str_to_int64(PQgetvalue(rs, srel->first, 2), &t->bytes);
	str_to_int64(PQgetvalue(rs, srel->first, 11), &t->toast_bytes);
	t->cols = xcalloc((size_t) (srel->last - srel->first + 1), sizeof(vcolumn));
	for (int a = 0; a <= MAX_ATTNUM; a++)
		attnum_to_col[a] = -1;
	strbuf_adds(&row, "ROW(");
	for (int i = srel->first; i <= srel->last; i++)
	{
		int			j;
		int			attnum;
		vcolumn    *c;

		if (PQgetisnull(rs, i, 5) ||
			(j = find_column(rt, trel, PQgetvalue(rs, i, 5))) < 0)
			continue;
		c = &t->cols[t->ncols];
		c->name = xstrdup(PQgetvalue(rs, i, 5));
		c->quoted = conn_quote_ident(conn, c->name);
		c->src_type = oid_value(rs, i, 6);
		c->tgt_type = oid_value(rt, j, 6);
		c->collate_c = !values_equal(rs, i, 7, rt, j, 7);
		c->integer = PQgetvalue(rs, i, 8)[0] == 't' &&
			PQgetvalue(rt, j, 8)[0] == 't';
		if (str_to_int(PQgetvalue(rs, i, 4), 1, MAX_ATTNUM, &attnum))
			attnum_to_col[attnum] = t->ncols;
		if (t->ncols)
			strbuf_adds(&row, ", ");
		add_column_expr(&row, c, fast_hash);
		t->ncols++;
	}
	strbuf_adds(&row, ")::text");
	set_row_hash(t, strbuf_str(&row), fast_hash);
	strbuf_release(&row);
	set_key(t, rs, srel, attnum_to_col);
	free(attnum_to_col);
	return t;
}

static void
vtable_free(vtable *t)
{
	for (int i = 0; i < t->ncols; i++)
	{
		free(t->cols[i].name);
		free(t->cols[i].quoted);
	}
	free(t->cols);
	free(t->key);
	free(t->name);
	free(t->qname);
	free(t->tgt_qname);
	free(t->row_hash);
	free(t->row_bits);
	free(t);
}

static void
report_lone_rel(vreport *r, const char *problem, const char *kind,
				const side_rel *rel)
{
	char	   *name = str_printf("%s.%s", rel->nspname, rel->relname);

	vreport_add(r, VREPORT_SCHEMA, problem, kind, name, NULL, NULL);
	free(name);
}

static void
add_task(vpool *p, vtask_kind kind, vtable_job *job, int part)
{
	p->tasks = xrealloc(p->tasks, (size_t) (p->ntasks + 1) * sizeof(vtask));
	p->tasks[p->ntasks].kind = kind;
	p->tasks[p->ntasks].job = job;
	p->tasks[p->ntasks].part = part;
	p->ntasks++;
}

/* Table t's checksum pass, in one part until plan_parts() decides. */
static void
add_table_job(vpool *p, vtable *t, PGresult *rs, const side_rel *srel,
			  PGresult *rt, const side_rel *trel)
{
	vtable_job *job = &p->jobs[p->njobs++];

	job->table = t;
	job->nparts = 1;
	job->cost = t->bytes + t->toast_bytes / TOAST_COST_RATIO;
	str_to_int64(PQgetvalue(rs, srel->first, 9), &job->src_blocks);
	str_to_int64(PQgetvalue(rt, trel->first, 9), &job->tgt_blocks);
}

/*
 * The cost above which a table is checksummed in parts: split_bytes, or
 * by default a quarter of each worker's share of the whole, so that the
 * parts of the big tables keep every worker busy to the end.
 */
static int64_t
split_threshold(const vpool *p)
{
	int64_t		total = 0,
				share;

	if (p->o->split_bytes != VDATA_SPLIT_AUTO)
		return p->o->split_bytes;
	for (int i = 0; i < p->njobs; i++)
		total += p->jobs[i].cost;
	share = total / (4 * (int64_t) (p->o->jobs > 0 ? p->o->jobs : 1));
	return share > VDATA_SPLIT_MIN ? share : VDATA_SPLIT_MIN;
}

/*
 * Cut every table over the threshold, when both servers can scan a range
 * of blocks, into one part per threshold (no more parts than the source
 * has blocks), then add the parts' and the verdicts' tasks.  The measure
 * is the cost by default, the size with heap and TOAST when the user
 * gave the threshold.
 */
static void
plan_parts(vpool *p)
{
	int64_t		split = split_threshold(p);
	bool		by_cost = p->o->split_bytes == VDATA_SPLIT_AUTO;

	for (int i = 0; i < p->njobs; i++)
	{
		vtable_job *job = &p->jobs[i];
		int64_t		size = by_cost ? job->cost :
			job->table->bytes + job->table->toast_bytes;

		if (p->tid_ranges && split > 0 && size > split)
		{
			int64_t		n = (size + split - 1) / split;

			if (n > job->src_blocks)
				n = job->src_blocks;
			job->nparts = n > MAX_PARTS ? MAX_PARTS : n < 1 ? 1 : (int) n;
			log_debug("%s \"%s\" is checksummed in %d parts",
					  job->table->kind, job->table->name, job->nparts);
		}
		for (int k = 0; k < job->nparts; k++)
			add_task(p, VTASK_TABLE, job, k);
		add_task(p, VTASK_TABLE_VERDICT, job, 0);
	}
}

/* Pair the tables of both sides by name and add a task for each pair. */
static void
pair_tables(vpool *p, PGconn *conn, PGresult *rs, PGresult *rt)
{
	int			ns,
				nt,
				i = 0,
				j = 0;
	side_rel   *srels = group_rels(rs, &ns);
	side_rel   *trels = group_rels(rt, &nt);
	bool		report = p->o->report_objects;

	p->jobs = xcalloc((size_t) (ns > 0 ? ns : 1), sizeof(vtable_job));
	while (i < ns || j < nt)
	{
		int			c = i >= ns ? 1 : j >= nt ? -1 : rel_cmp(&srels[i], &trels[j]);

		if (c < 0 && report)
			report_lone_rel(p->report, VREPORT_MISSING, rel_kind(rs, &srels[i]),
							&srels[i]);
		else if (c > 0 && report)
			report_lone_rel(p->report, VREPORT_EXTRA, rel_kind(rt, &trels[j]),
							&trels[j]);
		else if (c == 0)
		{
			vtable	   *t = build_table(conn, rs, &srels[i], rt, &trels[j],
											p->fast_hash, p->o->sel);

			if (report)
			{
				report_lone_columns(p->report, t->name, rs, &srels[i], rt,
									&trels[j], VREPORT_MISSING);
				report_lone_columns(p->report, t->name, rt, &trels[j], rs,
									&srels[i], VREPORT_EXTRA);
			}
			add_table_job(p, t, rs, &srels[i], rt, &trels[j]);
		}
		i += c <= 0;
		j += c >= 0;
	}
	free(srels);
	free(trels);
}

/* Keep the sequences present on both sides for the sequences task. */
static void
pair_sequences(vpool *p, PGconn *conn, PGresult *rs, PGresult *rt)
{
	int			ns,
				nt,
				i = 0,
				j = 0;
	side_rel   *srels = group_rels(rs, &ns);
	side_rel   *trels = group_rels(rt, &nt);

	p->seq_names = xcalloc((size_t) ns + 1, sizeof(char *));
	p->seq_qnames = xcalloc((size_t) ns + 1, sizeof(char *));
	p->seq_tqnames = xcalloc((size_t) ns + 1, sizeof(char *));
	while (i < ns || j < nt)
	{
		int			c = i >= ns ? 1 : j >= nt ? -1 : rel_cmp(&srels[i], &trels[j]);

		if (c < 0 && p->o->report_objects)
			report_lone_rel(p->report, VREPORT_MISSING, "sequence", &srels[i]);
		else if (c > 0 && p->o->report_objects)
			report_lone_rel(p->report, VREPORT_EXTRA, "sequence", &trels[j]);
		else if (c == 0)
		{
			p->seq_names[p->nseq] = str_printf("%s.%s", srels[i].nspname,
											   srels[i].relname);
			p->seq_tqnames[p->nseq] = vsel_target_qname(p->o->sel, conn, srels[i].nspname,
														srels[i].relname);
			p->seq_qnames[p->nseq++] =
				conn_qualified_name(conn, srels[i].nspname, srels[i].relname);
		}
		i += c <= 0;
		j += c >= 0;
	}
	free(srels);
	free(trels);
}

/* Do both servers compute hashtextextended() alike? */
static int
probe_hash(vpool *p, vsession *leader)
{
	vquery		q = {hash_probe_sql, 0, NULL, NULL};
	PGresult   *rs,
			   *rt;

	const char *force = getenv("PGCRANE_VERIFY_HASH");

	if (vsession_query2(leader, "probe hash function", &q, &q, &rs, &rt) != 0)
		return -1;
	p->fast_hash = values_equal(rs, 0, 0, rt, 0, 0) &&
		!(force && strcmp(force, "md5") == 0);
	if (!p->fast_hash)
		log_debug("servers hash text differently, rows are hashed with md5");
	PQclear(rs);
	PQclear(rt);
	return 0;
}

/* Read both catalogs and build the task list: LOs, tables, sequences. */
static int
plan_tasks(vpool *p, vsession *leader)
{
	vquery		qt = {tables_sql, 0, NULL, NULL};
	vquery		qs = {sequences_sql, 0, NULL, NULL};
	PGresult   *rs,
			   *rt;

	if (p->o->sel == NULL || p->o->sel->large_objects)
		add_task(p, VTASK_LARGE_OBJECTS, NULL, 0);
	p->tid_ranges = conn_server_major(leader->src) >= 14 &&
		conn_server_major(leader->tgt) >= 14;
	if (probe_hash(p, leader) != 0)
		return -1;
	if (vsession_query2(leader, "read tables", &qt, &qt, &rs, &rt) != 0)
		return -1;
	vsel_data_rows(p->o->sel, &rs, &rt, 5);
	pair_tables(p, leader->src, rs, rt);
	PQclear(rs);
	PQclear(rt);
	plan_parts(p);
	if (vsession_query2(leader, "read sequences", &qs, &qs, &rs, &rt) != 0)
		return -1;
	vsel_data_rows(p->o->sel, &rs, &rt, -1);
	pair_sequences(p, leader->src, rs, rt);
	PQclear(rs);
	PQclear(rt);
	if (p->nseq > 0)
		add_task(p, VTASK_SEQUENCES, NULL, 0);
	return 0;
}

/* The line for a table whose rows were not (all) listed by key. */
static void
report_table_mismatch(vreport *r, const vtable *t, int64_t nsrc,
					  int64_t ntgt, bool truncated)
{
	char	   *detail;
	const char *more = truncated ? ", more rows differ than listed" : "";

	if (nsrc != ntgt)
	{
		detail = str_printf("source %lld, target %lld%s", (long long) nsrc,
							(long long) ntgt, more);
		vreport_add(r, VREPORT_DATA, "row count differs", t->kind, t->name,
					NULL, detail);
	}
	else
	{
		detail = str_printf("%lld rows%s", (long long) nsrc, more);
		vreport_add(r, VREPORT_DATA, "checksum differs", t->kind, t->name,
					NULL, detail);
	}
	free(detail);
}

/* The WHERE clause of part "part" of nparts of a table of "blocks" blocks. */
static char *
part_where(int part, int nparts, int64_t blocks)
{
	block_range r = blockrange_part(blocks, part, nparts);
	char	   *cond = blockrange_condition(&r);
	char	   *where = cond ? str_printf(" WHERE %s", cond) : xstrdup("");

	free(cond);
	return where;
}

/* A numeric printed in base 10, modulo 2^64. */
static uint64_t
sum_mod64(PGresult *res, int row, int col)
{
	const char *p = PQgetvalue(res, row, col);
	bool		neg = (*p == '-');
	uint64_t	v = 0;

	if (PQgetisnull(res, row, col))
		return 0;
	for (p += neg; *p >= '0' && *p <= '9'; p++)
		v = v * 10 + (uint64_t) (*p - '0');
	return neg ? (uint64_t) 0 - v : v;
}

/* Count and sum one part of a table on both sides, into its job. */
static int
checksum_part(vsession *s, vpool *p, vtable_job *job, int part)
{
	const vtable *t = job->table;
	char	   *ws = part_where(part, job->nparts, job->src_blocks);
	char	   *wt = part_where(part, job->nparts, job->tgt_blocks);
	char	   *sql_s = str_printf("SELECT count(*), sum(%s) FROM ONLY %s%s",
								   t->row_bits, t->qname, ws);
	char	   *sql_t = str_printf("SELECT count(*), sum(%s) FROM ONLY %s%s",
								   t->row_bits, t->tgt_qname, wt);
	vquery		qs = {sql_s, 0, NULL, NULL};
	vquery		qt = {sql_t, 0, NULL, NULL};
	PGresult   *rs,
			   *rt;
	char	   *what = str_printf("checksum table \"%s\"", t->name);
	int			rc = vsession_query2(s, what, &qs, &qt, &rs, &rt);

	free(what);
	free(ws);
	free(wt);
	free(sql_s);
	free(sql_t);
	if (rc != 0)
		return -1;
	pthread_mutex_lock(&p->lock);
	job->src_rows += strtoll(PQgetvalue(rs, 0, 0), NULL, 10);
	job->tgt_rows += strtoll(PQgetvalue(rt, 0, 0), NULL, 10);
	job->src_sum += sum_mod64(rs, 0, 1);
	job->tgt_sum += sum_mod64(rt, 0, 1);
	pthread_mutex_unlock(&p->lock);
	PQclear(rs);
	PQclear(rt);
	return 0;
}

/* All parts are summed: compare, descend if the table differs, record. */
static int
finish_table(vsession *s, vpool *p, vtable_job *job)
{
	const vtable *t = job->table;
	vreport_table result = {t->name, job->src_rows, job->tgt_rows, true,
	t->nkey > 0, 0};
	int			rc = 0;

	result.equal = job->src_rows == job->tgt_rows &&
		job->src_sum == job->tgt_sum;
	if (!result.equal)
	{
		int			found = 0;
		bool		truncated = false;

		if (t->nkey > 0)
			rc = vrows_descend(s, t, job->src_rows, job->tgt_rows,
							   p->o->max_rows, p->report, &found, &truncated);
		if (rc == 0 && (found == 0 || truncated))
			report_table_mismatch(p->report, t, job->src_rows, job->tgt_rows,
								  truncated);
	}
	result.seconds = clock_now() - job->started;
	vreport_add_table(p->report, &result);
	pthread_mutex_lock(&p->lock);
	if (strcmp(t->kind, "table") == 0)
	{
		p->ntables++;
		p->nrows += job->src_rows;
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

/* Run one part of a table's checksum pass. */
static int
compare_table_part(vsession *s, vpool *p, vtable_job *job, int part)
{
	pthread_mutex_lock(&p->lock);
	if (job->started == 0)
		job->started = clock_now();
	pthread_mutex_unlock(&p->lock);
	return checksum_part(s, p, job, part);
}

static const char *
bool_word(const char *v)
{
	return v[0] == 't' ? "true" : "false";
}

/* Compare sequences first..first+n-1 of the pool on both sides. */
static int
compare_sequence_chunk(vsession *s, vpool *p, int first, int n)
{
	strbuf		sql = STRBUF_INIT;
	strbuf		tsql = STRBUF_INIT;
	vquery		q,
				qt;
	PGresult   *rs,
			   *rt;

	for (int i = 0; i < n; i++)
	{
		strbuf_addf(&sql, "%sSELECT %d, last_value, is_called FROM %s",
					i ? " UNION ALL " : "", i, p->seq_qnames[first + i]);
		strbuf_addf(&tsql, "%sSELECT %d, last_value, is_called FROM %s",
					i ? " UNION ALL " : "", i, p->seq_tqnames[first + i]);
	}
	strbuf_adds(&sql, " ORDER BY 1");
	strbuf_adds(&tsql, " ORDER BY 1");
	q = (vquery) {strbuf_str(&sql), 0, NULL, NULL};
	qt = (vquery) {strbuf_str(&tsql), 0, NULL, NULL};
	if (vsession_query2(s, "read sequences", &q, &qt, &rs, &rt) != 0)
	{
		strbuf_release(&sql);
		strbuf_release(&tsql);
		return -1;
	}
	for (int i = 0; i < n && i < PQntuples(rs) && i < PQntuples(rt); i++)
	{
		char	   *detail;

		if (values_equal(rs, i, 1, rt, i, 1) && values_equal(rs, i, 2, rt, i, 2))
			continue;
		detail = str_printf("source %s %s, target %s %s",
							PQgetvalue(rs, i, 1), bool_word(PQgetvalue(rs, i, 2)),
							PQgetvalue(rt, i, 1), bool_word(PQgetvalue(rt, i, 2)));
		vreport_add(p->report, VREPORT_SEQUENCES, VREPORT_DIFFERS, "sequence",
					p->seq_names[first + i], NULL, detail);
		free(detail);
	}
	PQclear(rs);
	PQclear(rt);
	strbuf_release(&sql);
	strbuf_release(&tsql);
	return 0;
}

static int
compare_sequences(vsession *s, vpool *p)
{
	for (int i = 0; i < p->nseq; i += SEQUENCES_PER_QUERY)
	{
		int			n = p->nseq - i;

		if (n > SEQUENCES_PER_QUERY)
			n = SEQUENCES_PER_QUERY;
		if (compare_sequence_chunk(s, p, i, n) != 0)
			return -1;
	}
	return 0;
}

static void
report_large_object(void *arg, vrange_diffkind kind, const vrange_row *row)
{
	vreport    *r = arg;

	vreport_add(r, VREPORT_LARGE_OBJECTS,
				kind == VRANGE_MISSING ? VREPORT_MISSING :
				kind == VRANGE_EXTRA ? VREPORT_EXTRA : VREPORT_DIFFERS,
				"large object", row->key[0], NULL, NULL);
}

/* (oid, digest) of every large object on each side, merged here. */
static vrange_row *
lo_rows(PGresult *res)
{
	int			n = PQntuples(res);
	vrange_row *rows = xcalloc((size_t) (n > 0 ? n : 1), sizeof(vrange_row));

	for (int i = 0; i < n; i++)
	{
		rows[i].key = xcalloc(1, sizeof(char *));
		rows[i].key[0] = PQgetvalue(res, i, 0);
		rows[i].hash = PQgetvalue(res, i, 1);
	}
	return rows;
}

static int
compare_large_objects(vsession *s, vpool *p)
{
	vquery		q = {large_objects_sql, 0, NULL, NULL};
	PGresult   *rs,
			   *rt;
	vrange_row *srows,
			   *trows;
	bool		isint[] = {true};
	vrange_keyspec ks = {1, isint};
	bool		truncated;

	if (vsession_query2(s, "read large objects", &q, &q, &rs, &rt) != 0)
		return -1;
	srows = lo_rows(rs);
	trows = lo_rows(rt);
	vrange_diff(&ks, srows, PQntuples(rs), trows, PQntuples(rt), -1,
				report_large_object, p->report, &truncated);
	for (int i = 0; i < PQntuples(rs); i++)
		free(srows[i].key);
	for (int i = 0; i < PQntuples(rt); i++)
		free(trows[i].key);
	free(srows);
	free(trows);
	PQclear(rs);
	PQclear(rt);
	return 0;
}

static task_outcome
op_run(void *worker, void *payload, int attempt, void *arg)
{
	vsession   *s = worker;
	const vtask *task = payload;
	vpool	   *p = task->pool;
	int			rc = -1;

	(void) attempt;
	(void) arg;
	switch (task->kind)
	{
		case VTASK_TABLE:
			rc = compare_table_part(s, p, task->job, task->part);
			break;
		case VTASK_TABLE_VERDICT:
			rc = finish_table(s, p, task->job);
			break;
		case VTASK_SEQUENCES:
			rc = compare_sequences(s, p);
			break;
		case VTASK_LARGE_OBJECTS:
			rc = compare_large_objects(s, p);
			break;
	}
	return rc == 0 ? TASK_DONE : TASK_FAILED;
}

static task_outcome
op_connect(void *worker, void *arg)
{
	const vpool *p = arg;

	return vsession_open(worker, p->o->source, p->o->target, p->src_snapshot,
						 p->tgt_snapshot, p->o->intr) == 0 ? TASK_DONE : TASK_FAILED;
}

static void
op_disconnect(void *worker, void *arg)
{
	(void) arg;
	vsession_close(worker);
}

static int
op_recover(void *worker, void *arg)
{
	(void) arg;
	return vsession_recover(worker);
}

static const char *
op_name(const void *payload, char *buf, size_t size, void *arg)
{
	const vtask *task = payload;

	(void) arg;
	if (task->job == NULL)
		return task->kind == VTASK_SEQUENCES ? "sequences" : "large objects";
	snprintf(buf, size, "table \"%s\"", task->job->table->name);
	return buf;
}

static const tasks_ops vdata_ops = {
	op_connect, op_disconnect, op_run, op_recover, op_name, NULL
};

/*
 * The graph: large objects first, then the tables' parts largest first
 * (each table's verdict after its parts), the sequences last.
 */
static tasks *
build_graph(vpool *p)
{
	tasks	   *g = tasks_create();
	int			first_part = -1;

	for (int i = 0; i < p->ntasks; i++)
	{
		vtask	   *t = &p->tasks[i];
		int64_t		cost = t->kind == VTASK_TABLE ?
			t->job->cost / t->job->nparts : 0;
		int			prio = t->kind == VTASK_TABLE_VERDICT ? 3 :
			t->kind == VTASK_LARGE_OBJECTS ? 2 :
			t->kind == VTASK_SEQUENCES ? 0 : 1;
		int			k;

		t->pool = p;
		k = tasks_add(g, t, prio, cost, 0);
		if (t->kind == VTASK_TABLE && t->part == 0)
			first_part = k;
		if (t->kind == VTASK_TABLE_VERDICT)
			for (int j = first_part; j < k; j++)
				tasks_after(g, k, j);
	}
	return g;
}

/* Run the tasks on min(jobs, tasks) workers; false if any failed. */
static bool
run_workers(vpool *p)
{
	int			n = p->o->jobs < p->ntasks ? p->o->jobs : p->ntasks;
	vsession   *ws = xcalloc((size_t) (n > 0 ? n : 1), sizeof(vsession));
	tasks	   *g = build_graph(p);
	tasks_config tc = {
		.ops = &vdata_ops, .arg = p, .workers = ws, .worker_size = sizeof(vsession),
		.nworkers = n > 0 ? n : 1, .max_attempts = 1, .keep_going = true,
		.stop = p->o->intr ? &p->o->intr->stop : NULL
	};
	int			rc = tasks_run(g, &tc, NULL);

	tasks_free(g);
	free(ws);
	return rc == 0;
}

int
vdata_compare(vsession *leader, const vdata_options *o, vreport *r,
			  int *ntables, int64_t *nrows)
{
	vpool		p = {0};
	int			rc = 0;

	pthread_mutex_init(&p.lock, NULL);
	p.o = o;
	p.report = r;
	p.src_snapshot = leader->src_snapshot;
	p.tgt_snapshot = leader->tgt_snapshot;
	if (plan_tasks(&p, leader) != 0 || !run_workers(&p))
		rc = -1;
	*ntables = p.ntables;
	*nrows = p.nrows;
	for (int i = 0; i < p.njobs; i++)
		vtable_free(p.jobs[i].table);
	free(p.jobs);
	for (int i = 0; i < p.nseq; i++)
	{
		free(p.seq_names[i]);
		free(p.seq_qnames[i]);
		free(p.seq_tqnames[i]);
	}
	free(p.seq_names);
	free(p.seq_qnames);
	free(p.seq_tqnames);
	free(p.tasks);
	pthread_mutex_destroy(&p.lock);
	return rc;
}
