/*
 * verify_rows.c
 *		Find the differing rows of a keyed table, by key range.
 *
 * The descent keeps a stack of differing ranges, the whole table first,
 * and pops them in key order.  For each, verify_range.c decides:
 *
 *	split:	sample every step-th key of the range on the side holding more
 *			rows (one query), then have both servers count and sum the rows
 *			of each sub-range at once, with the same split points as
 *			parameters.  The sub-range of a row is found by a balanced tree
 *			of key comparisons, CASE WHEN key < $b THEN ... ELSE ... END, so
 *			a row costs log2(fanout) comparisons.  The sub-ranges whose
 *			counts or sums differ are pushed.
 *	fetch:	have both servers list (key, hash of the row) of the range and
 *			merge the lists here.  A key one side lacks in the range is then
 *			looked up on that side by key (an index probe): the row may sit
 *			in another range there if that server orders keys differently.
 *
 * It stops once max_rows rows are listed.  Keys are compared as tuples,
 * ROW(k1, k2) >= ROW($1, $2), which the key's index serves.  A text
 * column whose collation is not the same on both sides is compared in
 * the "C" collation instead, so that both servers cut ranges at the same
 * places (at the price of the index).  Should two servers still order
 * keys differently, the descent wanders through more ranges than needed,
 * but the lookups keep it from reporting a row that is merely elsewhere,
 * and vrange_reconcile() from reporting one twice.
 *
 * The SQL is the same on both sides (table and column names are); only
 * the parameter types, the key columns' types on each side, may differ.
 */
#include "verify/verify_rows.h"

#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/str.h"
#include "verify/verify_range.h"

/* Type OIDs of query parameters (pg_type.dat). */
#define INT8OID 20
#define FLOAT4OID 700

/*
 * Split points of a whole table with more rows than this come from a
 * sample of its blocks, about this many rows per split point.
 */
#define SAMPLE_TABLES_ABOVE 100000
#define SAMPLE_ROWS_PER_BOUND 100

/* Keys looked up in one query. */
#define LOOKUP_KEYS 500

/* Text parameters with their types on each side. */
typedef struct vparams
{
	int			n;
	int			alloc;
	const char **vals;
	Oid		   *src_types;
	Oid		   *tgt_types;
} vparams;

static void
params_add(vparams *p, const char *val, Oid src_type, Oid tgt_type)
{
	if (p->n == p->alloc)
	{
		p->alloc = p->alloc ? p->alloc * 2 : 16;
		p->vals = xrealloc(p->vals, (size_t) p->alloc * sizeof(char *));
		p->src_types = xrealloc(p->src_types, (size_t) p->alloc * sizeof(Oid));
		p->tgt_types = xrealloc(p->tgt_types, (size_t) p->alloc * sizeof(Oid));
	}
	p->vals[p->n] = val;
	p->src_types[p->n] = src_type;
	p->tgt_types[p->n] = tgt_type;
	p->n++;
}

/* Add a key's values; returns the number of its first parameter ($n). */
static int
params_add_key(vparams *p, const vtable *t, char *const *key)
{
	int			first = p->n + 1;

	for (int i = 0; i < t->nkey; i++)
	{
		const vcolumn *c = &t->cols[t->key[i]];

		params_add(p, key[i], c->src_type, c->tgt_type);
	}
	return first;
}

static void
params_free(vparams *p)
{
	free(p->vals);
	free(p->src_types);
	free(p->tgt_types);
}

/* k1 COLLATE "C", k2: the key columns as ranges compare them. */
static void
add_key_columns(strbuf *sb, const vtable *t)
{
	for (int i = 0; i < t->nkey; i++)
	{
		const vcolumn *c = &t->cols[t->key[i]];

		strbuf_addf(sb, "%s%s%s", i ? ", " : "", c->quoted,
					c->collate_c ? " COLLATE \"C\"" : "");
	}
}

/* The key as one value to compare: ROW(k1, k2), or k1 alone. */
static void
add_key_value(strbuf *sb, const vtable *t)
{
	if (t->nkey > 1)
		strbuf_adds(sb, "ROW(");
	add_key_columns(sb, t);
	if (t->nkey > 1)
		strbuf_adds(sb, ")");
}

/* Parameters first.. as a key value: ROW($1, $2), or $1 alone. */
static void
add_param_value(strbuf *sb, int first, int n)
{
	if (n > 1)
		strbuf_adds(sb, "ROW(");
	for (int i = 0; i < n; i++)
		strbuf_addf(sb, "%s$%d", i ? ", " : "", first + i);
	if (n > 1)
		strbuf_adds(sb, ")");
}

/* WHERE clause of range r, adding its bounds to p. */
static void
add_range_where(strbuf *sb, const vtable *t, const vrange *r, vparams *p)
{
	strbuf_adds(sb, " WHERE true");
	if (r->lo)
	{
		strbuf_adds(sb, " AND ");
		add_key_value(sb, t);
		strbuf_adds(sb, " >= ");
		add_param_value(sb, params_add_key(p, t, r->lo), t->nkey);
	}
	if (r->hi)
	{
		strbuf_adds(sb, " AND ");
		add_key_value(sb, t);
		strbuf_adds(sb, " < ");
		add_param_value(sb, params_add_key(p, t, r->hi), t->nkey);
	}
}

/* k1::text AS v0, k2::text AS v1 */
static void
add_key_texts(strbuf *sb, const vtable *t)
{
	for (int i = 0; i < t->nkey; i++)
		strbuf_addf(sb, "%s%s::text AS v%d", i ? ", " : "",
					t->cols[t->key[i]].quoted, i);
}

static vquery
side_query(const char *sql, const vparams *p, bool target)
{
	vquery		q = {sql, p->n, p->vals, target ? p->tgt_types : p->src_types};

	return q;
}

/* The table's name in the SQL of one side. */
static const char *
side_name(const vtable *t, bool target)
{
	return target ? t->tgt_qname : t->qname;
}

/*
 * A query on the source's table made for the target's, whose name a
 * selection may have changed (you own it).
 */
static char *
target_sql(const vtable *t, const strbuf *sql)
{
	char	   *from = str_printf("FROM ONLY %s", t->qname);
	const char *at = strstr(strbuf_str(sql), from);
	char	   *out;

	if (at == NULL || strcmp(t->qname, t->tgt_qname) == 0)
		out = xstrdup(strbuf_str(sql));
	else
		out = str_printf("%.*sFROM ONLY %s%s", (int) (at - strbuf_str(sql)),
						 strbuf_str(sql), t->tgt_qname, at + strlen(from));
	free(from);
	return out;
}

/* The keys of a result's first nkey columns, copied; NULL-free. */
static char ***
result_keys(PGresult *res, int nkey)
{
	int			n = PQntuples(res);
	char	 ***keys = xcalloc((size_t) (n > 0 ? n : 1), sizeof(char **));

	for (int i = 0; i < n; i++)
	{
		keys[i] = xcalloc((size_t) nkey, sizeof(char *));
		for (int k = 0; k < nkey; k++)
			keys[i][k] = xstrdup(PQgetvalue(res, i, k));
	}
	return keys;
}

/* Run a sampling query; returns the number of keys (*bounds) or -1. */
static int
run_sample(vsession *s, const vtable *t, const vquery *q, bool from_target,
		   char ****bounds)
{
	PGresult   *res = vsession_query(s, from_target, "sample keys", q);
	int			n;

	if (res == NULL)
		return -1;
	n = PQntuples(res);
	*bounds = result_keys(res, t->nkey);
	PQclear(res);
	return n;
}

/*
 * Sample split points: every step-th key of range r on one side, at most
 * max of them.  Returns their number (*bounds: caller frees) or -1.
 */
static int
sample_bounds(vsession *s, const vtable *t, const vrange *r, int64_t step,
			  bool from_target, int max, char ****bounds)
{
	strbuf		sql = STRBUF_INIT;
	vparams		p = {0};
	char		stepbuf[32];
	vquery		q;
	int			n;

	strbuf_adds(&sql, "SELECT * FROM (SELECT ");
	add_key_texts(&sql, t);
	strbuf_adds(&sql, ", row_number() OVER (ORDER BY ");
	add_key_columns(&sql, t);
	strbuf_addf(&sql, ") AS rn FROM ONLY %s", side_name(t, from_target));
	add_range_where(&sql, t, r, &p);
	snprintf(stepbuf, sizeof(stepbuf), "%lld", (long long) step);
	params_add(&p, stepbuf, INT8OID, INT8OID);
	strbuf_addf(&sql, ") s WHERE rn %% $%d = 0 ORDER BY rn LIMIT %d", p.n, max);
	q = side_query(strbuf_str(&sql), &p, from_target);
	n = run_sample(s, t, &q, from_target, bounds);
	strbuf_release(&sql);
	params_free(&p);
	return n;
}

/*
 * Like sample_bounds for a whole table, from a random sample of its
 * blocks rather than from every key in order: about SAMPLE_ROWS_PER_BOUND
 * rows per split point, sorted, cut evenly.  May find none.
 */
static int
sample_table_bounds(vsession *s, const vtable *t, int64_t nrows,
					bool from_target, int max, char ****bounds)
{
	strbuf		sql = STRBUF_INIT;
	char		pct[32];
	char		parts[32];
	const char *vals[] = {pct, parts};
	const Oid	types[] = {FLOAT4OID, INT8OID};
	vquery		q = {NULL, 2, vals, types};
	int			n;
	double		p = 100.0 * SAMPLE_ROWS_PER_BOUND * (max + 1) / (double) nrows;

	snprintf(pct, sizeof(pct), "%.6f", p > 100.0 ? 100.0 : p);
	snprintf(parts, sizeof(parts), "%d", max + 1);
	strbuf_adds(&sql, "SELECT * FROM (SELECT ");
	add_key_texts(&sql, t);
	strbuf_adds(&sql, ", row_number() OVER (ORDER BY ");
	add_key_columns(&sql, t);
	strbuf_addf(&sql, ") AS rn, count(*) OVER () AS cnt FROM ONLY %s "
				"TABLESAMPLE SYSTEM ($1)) s "
				"WHERE rn %% greatest(cnt / $2, 1) = 0 ORDER BY rn LIMIT %d",
				side_name(t, from_target), max);
	q.sql = strbuf_str(&sql);
	n = run_sample(s, t, &q, from_target, bounds);
	strbuf_release(&sql);
	return n;
}

/* CASE tree giving the sub-range (0..hi) of a row; see the top comment. */
static void
add_bucket_tree(strbuf *sb, const vtable *t, int first_param, int lo, int hi)
{
	int			mid;

	if (lo == hi)
	{
		strbuf_addf(sb, "%d", lo);
		return;
	}
	mid = (lo + hi + 1) / 2;
	strbuf_adds(sb, "CASE WHEN ");
	add_key_value(sb, t);
	strbuf_adds(sb, " < ");
	add_param_value(sb, first_param + (mid - 1) * t->nkey, t->nkey);
	strbuf_adds(sb, " THEN ");
	add_bucket_tree(sb, t, first_param, lo, mid - 1);
	strbuf_adds(sb, " ELSE ");
	add_bucket_tree(sb, t, first_param, mid, hi);
	strbuf_adds(sb, " END");
}

/* Read (sub-range, count, sum) rows into sums[0..nbounds]. */
static int
read_sums(PGresult *res, int nbounds, vrange_sum *sums)
{
	for (int i = 0; i <= nbounds; i++)
	{
		sums[i].count = 0;
		sums[i].sum = NULL;
	}
	for (int i = 0; i < PQntuples(res); i++)
	{
		int			b;
		int64_t		count;

		if (!str_to_int(PQgetvalue(res, i, 0), 0, nbounds, &b) ||
			!str_to_int64(PQgetvalue(res, i, 1), &count))
			return error("unexpected sub-range sums from server");
		sums[b].count = count;
		sums[b].sum = PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2);
	}
	return 0;
}

/*
 * Sum the sub-ranges of r cut at bounds on both sides and return the
 * differing ones (*kids, caller frees).  Returns their number or -1.
 */
static int
split_range(vsession *s, const vtable *t, const vrange *r, char ***bounds,
			int nbounds, vrange ***kids)
{
	strbuf		sql = STRBUF_INIT;
	vparams		p = {0};
	vrange_sum *ss = xcalloc((size_t) nbounds + 1, sizeof(vrange_sum));
	vrange_sum *ts = xcalloc((size_t) nbounds + 1, sizeof(vrange_sum));
	PGresult   *rs = NULL,
			   *rt = NULL;
	vquery		qs,
				qt;
	char	   *tsql;
	int			first,
				n = -1;

	strbuf_adds(&sql, "SELECT b, count(*), sum(x) FROM (SELECT ");
	first = p.n + 1;
	for (int i = 0; i < nbounds; i++)
		params_add_key(&p, t, bounds[i]);
	add_bucket_tree(&sql, t, first, 0, nbounds);
	strbuf_addf(&sql, " AS b, %s AS x FROM ONLY %s", t->row_bits, t->qname);
	add_range_where(&sql, t, r, &p);
	strbuf_adds(&sql, ") s GROUP BY b");
	tsql = target_sql(t, &sql);
	qs = side_query(strbuf_str(&sql), &p, false);
	qt = side_query(tsql, &p, true);
	if (vsession_query2(s, "sum key ranges", &qs, &qt, &rs, &rt) == 0 &&
		read_sums(rs, nbounds, ss) == 0 && read_sums(rt, nbounds, ts) == 0)
		n = vrange_children(r, t->nkey, bounds, nbounds, ss, ts, kids);
	free(tsql);
	PQclear(rs);
	PQclear(rt);
	free(ss);
	free(ts);
	strbuf_release(&sql);
	params_free(&p);
	return n;
}

/* (key, hash) rows of a result whose last column is the hash. */
static vrange_row *
result_rows(PGresult *res, int nkey)
{
	int			n = PQntuples(res);
	vrange_row *rows = xcalloc((size_t) (n > 0 ? n : 1), sizeof(vrange_row));

	for (int i = 0; i < n; i++)
	{
		rows[i].key = xcalloc((size_t) nkey, sizeof(char *));
		for (int k = 0; k < nkey; k++)
			rows[i].key[k] = PQgetvalue(res, i, k);
		rows[i].hash = PQgetvalue(res, i, nkey);
	}
	return rows;
}

static void
rows_free(vrange_row *rows, int n)
{
	for (int i = 0; i < n; i++)
		free(rows[i].key);
	free(rows);
}

/* The differing rows of a table, gathered until the descent ends. */
typedef struct row_list
{
	const vtable *table;
	vrange_found *rows;
	int			n;
	int			alloc;
} row_list;

static void
add_found(row_list *l, vrange_diffkind kind, const vrange_row *row)
{
	if (l->n == l->alloc)
	{
		l->alloc = l->alloc ? l->alloc * 2 : 16;
		l->rows = xrealloc(l->rows, (size_t) l->alloc * sizeof(vrange_found));
	}
	l->rows[l->n].kind = kind;
	l->rows[l->n].key = vrange_key_copy(row->key, l->table->nkey);
	l->rows[l->n].hash = xstrdup(row->hash);
	l->n++;
}

static void
key_spec(const vtable *t, vrange_keyspec *ks)
{
	bool	   *isint = xcalloc((size_t) t->nkey, sizeof(bool));

	for (int i = 0; i < t->nkey; i++)
		isint[i] = t->cols[t->key[i]].integer;
	ks->ncols = t->nkey;
	ks->integer = isint;
}

/*
 * Settle and report the gathered rows, at most max of them (*truncated
 * set when there were more), and free them.  Returns how many were
 * reported.
 */
static int
report_rows(row_list *l, vreport *r, int max, bool *truncated)
{
	const vtable *t = l->table;
	const char **colnames = xcalloc((size_t) t->nkey, sizeof(char *));
	vrange_keyspec ks;
	int			n;

	key_spec(t, &ks);
	for (int i = 0; i < t->nkey; i++)
		colnames[i] = t->cols[t->key[i]].name;
	n = vrange_reconcile(&ks, l->rows, l->n);
	if (n > max)
		*truncated = true;
	for (int i = 0; i < n; i++)
	{
		vrange_found *f = &l->rows[i];

		if (i < max)
		{
			char	   *k = vrange_key_format(colnames, f->key, t->nkey);

			vreport_add(r, VREPORT_DATA,
						f->kind == VRANGE_MISSING ? VREPORT_MISSING :
						f->kind == VRANGE_EXTRA ? VREPORT_EXTRA : VREPORT_CHANGED,
						"row", t->name, k, NULL);
			free(k);
		}
		vrange_key_free(f->key, t->nkey);
		free(f->hash);
	}
	free(l->rows);
	free(colnames);
	free((void *) ks.integer);
	return n < max ? n : max;
}

/*
 * The rows of one fetched range that only one side has, before the other
 * side is asked for their keys directly; changed rows need no asking.
 */
typedef struct candidates
{
	vrange_row *missing;
	int			nmissing;
	vrange_row *extra;
	int			nextra;
	row_list   *found;
} candidates;

static void
add_candidate(void *arg, vrange_diffkind kind, const vrange_row *row)
{
	candidates *c = arg;

	if (kind == VRANGE_MISSING)
		c->missing[c->nmissing++] = *row;
	else if (kind == VRANGE_EXTRA)
		c->extra[c->nextra++] = *row;
	else
		add_found(c->found, kind, row);
}

/* The rows with the keys of rows[0..n-1] on one side, as fetch_range reads. */
static PGresult *
lookup_keys(vsession *s, const vtable *t, const vrange_row *rows, int n,
			bool target)
{
	strbuf		sql = STRBUF_INIT;
	vparams		p = {0};
	vquery		q;
	PGresult   *res;

	strbuf_adds(&sql, "SELECT ");
	add_key_texts(&sql, t);
	strbuf_addf(&sql, ", %s FROM ONLY %s WHERE ", t->row_hash, side_name(t, target));
	add_key_value(&sql, t);
	strbuf_adds(&sql, " IN (");
	for (int i = 0; i < n; i++)
	{
		strbuf_adds(&sql, i ? ", " : "");
		add_param_value(&sql, params_add_key(&p, t, rows[i].key), t->nkey);
	}
	strbuf_adds(&sql, ")");
	q = side_query(strbuf_str(&sql), &p, target);
	res = vsession_query(s, target, "look up rows", &q);
	strbuf_release(&sql);
	params_free(&p);
	return res;
}

/* What confirm() keeps: the kind it checks, and changed rows. */
typedef struct confirmation
{
	vrange_diffkind kind;
	row_list   *found;
} confirmation;

static void
keep_confirmed(void *arg, vrange_diffkind kind, const vrange_row *row)
{
	confirmation *c = arg;

	if (kind == c->kind || kind == VRANGE_CHANGED)
		add_found(c->found, kind, row);
}

/*
 * Ask the other side for the keys of rows (missing on the target, or
 * extra on it) and keep those it really lacks, or holds changed.  A row
 * can be absent from the other side's range only because that server
 * orders the key differently; its copy then shows up here.
 */
static int
confirm(vsession *s, const vtable *t, const vrange_keyspec *ks,
		vrange_row *rows, int n, vrange_diffkind kind, row_list *found)
{
	confirmation c = {kind, found};

	for (int i = 0; i < n; i += LOOKUP_KEYS)
	{
		int			m = n - i < LOOKUP_KEYS ? n - i : LOOKUP_KEYS;
		PGresult   *res = lookup_keys(s, t, rows + i, m,
									  kind == VRANGE_MISSING);
		vrange_row *other;
		bool		more;

		if (res == NULL)
			return -1;
		other = result_rows(res, t->nkey);
		if (kind == VRANGE_MISSING)
			vrange_diff(ks, rows + i, m, other, PQntuples(res), -1,
						keep_confirmed, &c, &more);
		else
			vrange_diff(ks, other, PQntuples(res), rows + i, m, -1,
						keep_confirmed, &c, &more);
		rows_free(other, PQntuples(res));
		PQclear(res);
	}
	return 0;
}

/* Fetch range r from both sides and gather its differing rows. */
static int
fetch_range(vsession *s, const vtable *t, const vrange *r, row_list *found)
{
	strbuf		sql = STRBUF_INIT;
	vparams		p = {0};
	PGresult   *rs,
			   *rt;
	vquery		qs,
				qt;
	char	   *tsql;
	int			rc;

	strbuf_adds(&sql, "SELECT ");
	add_key_texts(&sql, t);
	strbuf_addf(&sql, ", %s FROM ONLY %s", t->row_hash, t->qname);
	add_range_where(&sql, t, r, &p);
	tsql = target_sql(t, &sql);
	qs = side_query(strbuf_str(&sql), &p, false);
	qt = side_query(tsql, &p, true);
	rc = vsession_query2(s, "fetch rows", &qs, &qt, &rs, &rt);
	free(tsql);
	if (rc == 0)
	{
		int			ns = PQntuples(rs),
					nt = PQntuples(rt);
		vrange_row *srows = result_rows(rs, t->nkey);
		vrange_row *trows = result_rows(rt, t->nkey);
		candidates	c = {xcalloc((size_t) ns + 1, sizeof(vrange_row)), 0,
		xcalloc((size_t) nt + 1, sizeof(vrange_row)), 0, found};
		vrange_keyspec ks;
		bool		more;

		key_spec(t, &ks);
		vrange_diff(&ks, srows, ns, trows, nt, -1, add_candidate, &c, &more);
		rc = confirm(s, t, &ks, c.missing, c.nmissing, VRANGE_MISSING, found);
		if (rc == 0)
			rc = confirm(s, t, &ks, c.extra, c.nextra, VRANGE_EXTRA, found);
		/* A row found from two ranges counts once against --max-rows. */
		found->n = vrange_reconcile(&ks, found->rows, found->n);
		free((void *) ks.integer);
		free(c.missing);
		free(c.extra);
		rows_free(srows, ns);
		rows_free(trows, nt);
		PQclear(rs);
		PQclear(rt);
	}
	strbuf_release(&sql);
	params_free(&p);
	return rc;
}

static void
free_bounds(char ***bounds, int n, int nkey)
{
	for (int i = 0; i < n; i++)
		vrange_key_free(bounds[i], nkey);
	free(bounds);
}

/* One step of the descent on range r: fetch it, or push its children. */
static int
descend_step(vsession *s, const vtable *t, vrange *r, row_list *found,
			 vrange ***stack, int *depth, int *alloc)
{
	vrange_params vp = VRANGE_PARAMS_INIT;
	int64_t		step;
	bool		from_target;
	char	 ***bounds = NULL;
	vrange	  **kids = NULL;
	int			nb,
				nk;

	if (vrange_next(r, &vp, &step, &from_target) == VRANGE_FETCH)
		return fetch_range(s, t, r, found);
	nb = 0;
	if (r->depth == 0 && step * vp.fanout > SAMPLE_TABLES_ABOVE)
		nb = sample_table_bounds(s, t, step * vp.fanout, from_target,
								 vp.fanout - 1, &bounds);
	if (nb == 0)
	{
		free_bounds(bounds, 0, t->nkey);
		nb = sample_bounds(s, t, r, step, from_target, vp.fanout - 1, &bounds);
	}
	if (nb < 0)
		return -1;
	if (nb == 0)
	{
		free_bounds(bounds, nb, t->nkey);
		return fetch_range(s, t, r, found);
	}
	nk = split_range(s, t, r, bounds, nb, &kids);
	free_bounds(bounds, nb, t->nkey);
	if (nk < 0)
		return -1;
	if (*depth + nk > *alloc)
	{
		*alloc = (*depth + nk) * 2;
		*stack = xrealloc(*stack, (size_t) *alloc * sizeof(vrange *));
	}
	/* Push in reverse so that ranges pop in key order. */
	for (int i = nk - 1; i >= 0; i--)
		(*stack)[(*depth)++] = kids[i];
	free(kids);
	return 0;
}

int
vrows_descend(vsession *s, const vtable *t, int64_t nsrc, int64_t ntgt,
			  int max_rows, vreport *r, int *found, bool *truncated)
{
	row_list	rows = {t, NULL, 0, 0};
	vrange	  **stack = xcalloc(16, sizeof(vrange *));
	int			depth = 0,
				alloc = 16,
				rc = 0;

	*truncated = false;
	stack[depth++] = vrange_root(nsrc, ntgt);
	while (depth > 0 && rc == 0)
	{
		vrange	   *range = stack[--depth];

		if (rows.n >= max_rows)
			*truncated = true;
		else
			rc = descend_step(s, t, range, &rows, &stack, &depth, &alloc);
		vrange_free(range, t->nkey);
	}
	while (depth > 0)
		vrange_free(stack[--depth], t->nkey);
	free(stack);
	*found = report_rows(&rows, r, max_rows, truncated);
	return rc;
}
