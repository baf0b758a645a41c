/*
 * ddl.c
 *		Schema changes of the source, applied on the target during follow.
 *
 * For every Relation message (see ddl.h) the source's catalog is read by
 * the table's OID and the target's by the message's schema and name.  The
 * source agrees with the message when its columns that pgoutput sends
 * (not dropped, not generated) are the message's, in order, with the same
 * type OIDs and typmods; only then are its definitions used.
 *
 * Columns are paired by the record (attnum -> target column name) when
 * the follow has one for the table, else by name.  With a record:
 *
 *		the record's column for an attnum has another name	rename
 *		an attnum the record does not have					add (unless the
 *															target has a
 *															column of its own
 *															of that name)
 *		a recorded attnum the source no longer has			drop
 *
 * Without one (the first time the stream describes a table), a column
 * the target lacks is added when the target has no column the source
 * does not send, and a type that differs is a stop: either could be a
 * rename or a dropped and re-added column.  Types are compared as
 * format_type() prints them with their typmod (both sessions have an
 * empty search_path, so both print the same qualified names).  A changed
 * type is applied without USING, as the source's ALTER without USING
 * converts; one that needs USING fails on the target and stops the follow.
 *
 * An added column's existing rows: a column added with a default that is
 * not volatile keeps its value for the rows it was added to in
 * pg_attribute.attmissingval (PostgreSQL's "fast default"); the target
 * gets that value as the default the column is added with, then the
 * source's default expression.  A default evaluated per row, or an
 * identity, gives the rows values no catalog keeps: allowed only when the
 * target's table is empty.
 *
 * A table the target lacks is new when the clone did not copy it (its OID
 * is not in the plan) and the follow has no record of it; otherwise it
 * was renamed (pgcrane applies no table renames) and the follow stops.  A
 * new table is defined by pg_dump --schema-only --table against the
 * source (columns, keys, indexes, constraints, triggers, owned sequences),
 * run on the target without pg_dump's session settings.
 */
#include "cdc/ddl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/pgtools.h"
#include "core/conn.h"
#include "util/log.h"
#include "util/str.h"

/* Target locks wait this long at most: a lock held by the apply session
 * must not hang the follow. */
#define DDL_LOCK_TIMEOUT "SET LOCAL lock_timeout = '10s'"

/* A column of the follow's record: the source's attnum, the target's name. */
typedef struct ddl_col
{
	int32_t		attnum;
	char	   *name;
} ddl_col;

typedef struct ddl_record
{
	uint32_t	oid;
	bool		present;		/* false: the state has none */
	int			n;
	ddl_col    *cols;
} ddl_record;

struct ddl_ctx
{
	char	   *source;
	state	   *st;
	bool		no_owner;
	bool		no_acl;
	PGconn	   *src;			/* opened when first needed */
	ddl_record *recs;			/* loaded from the state as needed */
	int			nrecs;
};

static const char *const source_table_sql =
"SELECT n.nspname, c.relname, a.attnum, a.attname, a.atttypid, a.atttypmod,"
"       pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,"
"       a.attidentity, a.attgenerated,"
"       pg_catalog.pg_get_expr(d.adbin, d.adrelid),"
"       CASE WHEN a.attcollation <> t.typcollation"
"            THEN pg_catalog.quote_ident(cn.nspname) || '.' ||"
"                 pg_catalog.quote_ident(co.collname) END"
"  FROM pg_catalog.pg_class c"
"  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
"  LEFT JOIN pg_catalog.pg_attribute a"
"         ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
"  LEFT JOIN pg_catalog.pg_type t ON t.oid = a.atttypid"
"  LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum"
"  LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation"
"  LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace"
" WHERE c.oid = $1::oid AND c.relkind IN ('r', 'p')"
" ORDER BY a.attnum";

enum
{
	SC_NSPNAME, SC_RELNAME, SC_ATTNUM, SC_ATTNAME, SC_TYPOID, SC_TYPMOD,
	SC_TYPE, SC_NOTNULL, SC_IDENTITY, SC_GENERATED, SC_DEFAULT, SC_COLLATION
};

static const char *const target_table_sql =
"SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),"
"       a.attgenerated <> ''"
"  FROM pg_catalog.pg_class c"
"  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
"  LEFT JOIN pg_catalog.pg_attribute a"
"         ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
" WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')"
" ORDER BY a.attnum";

enum
{
	TC_ATTNAME, TC_TYPE, TC_GENERATED
};

/* The value a column added with a default gave the rows it was added to. */
static const char *const missing_value_sql =
"SELECT a.atthasmissing, a.attmissingval::text"
"  FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1::oid AND a.attnum = $2";

/* ---------- modes, setup ---------- */

bool
ddl_mode_parse(const char *s, ddl_mode *mode)
{
	if (strcmp(s, "apply") == 0)
		*mode = DDL_APPLY;
	else if (strcmp(s, "stop") == 0)
		*mode = DDL_STOP;
	else
		return false;
	return true;
}

const char *
ddl_mode_name(ddl_mode mode)
{
	return mode == DDL_STOP ? "stop" : "apply";
}

ddl_ctx *
ddl_create(const ddl_options *o)
{
	ddl_ctx    *d = xcalloc(1, sizeof(ddl_ctx));

	d->source = xstrdup(o->source);
	d->st = o->st;
	d->no_owner = o->no_owner;
	d->no_acl = o->no_acl;
	return d;
}

static void
record_clear(ddl_record *r)
{
	for (int i = 0; i < r->n; i++)
		free(r->cols[i].name);
	free(r->cols);
	r->cols = NULL;
	r->n = 0;
	r->present = false;
}

void
ddl_end_session(ddl_ctx *d)
{
	if (d != NULL && d->src != NULL)
	{
		PQfinish(d->src);
		d->src = NULL;
	}
}

void
ddl_free(ddl_ctx *d)
{
	if (d == NULL)
		return;
	ddl_end_session(d);
	for (int i = 0; i < d->nrecs; i++)
		record_clear(&d->recs[i]);
	free(d->recs);
	free(d->source);
	free(d);
}

void
ddl_plan_release(ddl_plan *p)
{
	for (int i = 0; i < p->n; i++)
		free(p->sql[i]);
	free(p->sql);
	free(p->display);
	free(p->attnums);
	memset(p, 0, sizeof(*p));
}

/* Add a statement; takes sql. */
static void
plan_add(ddl_plan *p, char *sql)
{
	p->sql = xrealloc(p->sql, sizeof(char *) * (size_t) (p->n + 1));
	p->sql[p->n++] = sql;
}

/* The source session, opened when first needed; NULL (logged). */
static PGconn *
source_conn(ddl_ctx *d)
{
	if (d->src != NULL && PQstatus(d->src) != CONNECTION_OK)
		ddl_end_session(d);
	if (d->src != NULL)
		return d->src;
	d->src = conn_open(d->source, SIDE_SOURCE);
	if (d->src != NULL &&
		conn_exec(d->src, SIDE_SOURCE,
				  "SELECT pg_catalog.set_config('search_path', '', false)") != 0)
		ddl_end_session(d);
	return d->src;
}

/* ---------- the record ---------- */

/*
 * The record as text: "attnum:length:name" for each column, one after the
 * other (a name may hold any character).
 */
static char *
record_format(const ddl_record *r)
{
	strbuf		sb = STRBUF_INIT;

	for (int i = 0; i < r->n; i++)
		strbuf_addf(&sb, "%d:%zu:%s", (int) r->cols[i].attnum,
					strlen(r->cols[i].name), r->cols[i].name);
	return strbuf_detach(&sb);
}

/* Parse record_format()'s text into r; false when it is not that. */
static bool
record_parse(const char *s, ddl_record *r)
{
	while (*s)
	{
		char	   *end;
		long		attnum = strtol(s, &end, 10);
		unsigned long len;

		if (end == s || *end != ':')
			return false;
		s = end + 1;
		len = strtoul(s, &end, 10);
		if (end == s || *end != ':' || strlen(end + 1) < len)
			return false;
		s = end + 1;
		r->cols = xrealloc(r->cols, sizeof(ddl_col) * (size_t) (r->n + 1));
		r->cols[r->n].attnum = (int32_t) attnum;
		r->cols[r->n].name = xcalloc(len + 1, 1);
		memcpy(r->cols[r->n].name, s, len);
		r->n++;
		s += len;
	}
	return true;
}

/* The record of oid, loaded from the state the first time; NULL (logged). */
static ddl_record *
record_get(ddl_ctx *d, uint32_t oid)
{
	ddl_record *r;
	char	   *text;
	int			rc;

	for (int i = 0; i < d->nrecs; i++)
		if (d->recs[i].oid == oid)
			return &d->recs[i];
	rc = state_load_follow_columns(d->st, oid, &text);
	if (rc < 0)
		return NULL;
	d->recs = xrealloc(d->recs, sizeof(ddl_record) * (size_t) (d->nrecs + 1));
	r = &d->recs[d->nrecs++];
	memset(r, 0, sizeof(*r));
	r->oid = oid;
	if (rc == 1 && record_parse(text, r))
		r->present = true;
	else if (rc == 1)
	{
		log_warning("the follow's record of the columns of the table with source OID %u is not readable; it is made again",
					oid);
		record_clear(r);
	}
	free(text);
	return r;
}

/* The record's column for attnum, or NULL. */
static const ddl_col *
record_col(const ddl_record *r, int32_t attnum)
{
	for (int i = 0; r->present && i < r->n; i++)
		if (r->cols[i].attnum == attnum)
			return &r->cols[i];
	return NULL;
}

/*
 * The target's columns are now desc's, source column attnums[i] for
 * desc->atts[i]: record it (in the state only when it changed).  0 or -1.
 */
static int
record_put(ddl_ctx *d, const pgo_relation *desc, const int32_t *attnums)
{
	ddl_record *r = record_get(d, desc->oid);
	ddl_record	now = {desc->oid, true, 0, NULL};
	char	   *old,
			   *new;
	int			rc = 0;

	if (r == NULL)
		return -1;
	now.cols = xcalloc((size_t) desc->natts + 1, sizeof(ddl_col));
	for (int i = 0; i < desc->natts; i++)
	{
		now.cols[i].attnum = attnums[i];
		now.cols[i].name = xstrdup(desc->atts[i].name);
	}
	now.n = desc->natts;
	old = r->present ? record_format(r) : NULL;
	new = record_format(&now);
	if (old == NULL || strcmp(old, new) != 0)
		rc = state_record_follow_columns(d->st, desc->oid, new);
	free(old);
	free(new);
	record_clear(r);
	*r = now;
	return rc;
}

/* ---------- reading both catalogs ---------- */

/* The rows of src (source_table_sql) that are columns pgoutput sends. */
static bool
sent_column(const PGresult *src, int row)
{
	return !PQgetisnull(src, row, SC_ATTNUM) &&
		PQgetvalue(src, row, SC_GENERATED)[0] == '\0';
}

/* The source row of the sent column named name, or -1. */
static int
source_row_named(const PGresult *src, const char *name)
{
	for (int row = 0; row < PQntuples(src); row++)
		if (sent_column(src, row) && strcmp(PQgetvalue(src, row, SC_ATTNAME), name) == 0)
			return row;
	return -1;
}

/* Whether source row row has the type of att. */
static bool
same_type(const PGresult *src, int row, const pgo_attr *att)
{
	return row >= 0 &&
		strtoul(PQgetvalue(src, row, SC_TYPOID), NULL, 10) == att->typoid &&
		strtol(PQgetvalue(src, row, SC_TYPMOD), NULL, 10) == att->typmod;
}

/*
 * Pair desc's columns with the source's catalog by name: srows[i] the
 * row (-1: no column of that name now), attnums[i] its number (-1).
 * Whether the catalog describes exactly what desc does: the same table
 * name and columns, in order, of the same types.
 */
static bool
map_source(const PGresult *src, const pgo_relation *desc, int *srows, int32_t *attnums)
{
	bool		agrees = PQntuples(src) > 0 &&
		strcmp(PQgetvalue(src, 0, SC_NSPNAME), desc->nspname) == 0 &&
		strcmp(PQgetvalue(src, 0, SC_RELNAME), desc->relname) == 0;
	int			nsent = 0,
				prev = -1;

	for (int row = 0; row < PQntuples(src); row++)
		nsent += sent_column(src, row);
	agrees &= nsent == desc->natts;
	for (int i = 0; i < desc->natts; i++)
	{
		srows[i] = source_row_named(src, desc->atts[i].name);
		attnums[i] = srows[i] < 0 ? -1 :
			(int32_t) strtol(PQgetvalue(src, srows[i], SC_ATTNUM), NULL, 10);
		agrees &= same_type(src, srows[i], &desc->atts[i]) && srows[i] > prev;
		prev = srows[i];
	}
	return agrees;
}

/* The source row of the column numbered attnum, or -1. */
static int
source_row(const PGresult *src, int32_t attnum)
{
	for (int row = 0; row < PQntuples(src); row++)
		if (!PQgetisnull(src, row, SC_ATTNUM) &&
			strtol(PQgetvalue(src, row, SC_ATTNUM), NULL, 10) == attnum)
			return row;
	return -1;
}

/* The target row of column name, or -1. */
static int
target_row(const PGresult *tgt, const char *name)
{
	for (int row = 0; row < PQntuples(tgt); row++)
		if (!PQgetisnull(tgt, row, TC_ATTNAME) &&
			strcmp(PQgetvalue(tgt, row, TC_ATTNAME), name) == 0)
			return row;
	return -1;
}

static PGresult *
read_source(ddl_ctx *d, uint32_t oid)
{
	char		buf[16];
	const char *params[1] = {buf};
	PGconn	   *src = source_conn(d);

	if (src == NULL)
		return NULL;
	snprintf(buf, sizeof(buf), "%u", oid);
	return conn_query(src, SIDE_SOURCE, "read a table's definition", source_table_sql,
					  1, params);
}

static PGresult *
read_target(PGconn *tgt, const pgo_relation *desc)
{
	const char *params[2] = {desc->nspname, desc->relname};

	return conn_query(tgt, SIDE_TARGET, "read a table's columns", target_table_sql,
					  2, params);
}

/* ---------- planning a table's columns ---------- */

/* What planning one table reads and builds. */
typedef struct planner
{
	ddl_ctx    *d;
	PGconn	   *tgt;
	const pgo_relation *desc;
	const PGresult *src;		/* source_table_sql */
	const PGresult *tg;			/* target_table_sql */
	const ddl_record *rec;		/* NULL when the follow has none */
	int32_t    *attnums;		/* of desc's columns on the source, -1 */
	int		   *srows;			/* their rows in src, -1 */
	PGresult   *types;			/* the type of each of desc's columns */
	char	   *qname;			/* the target's "schema"."table" */
	char	   *display;
	bool	   *dropped;		/* per target row: dropped by the plan */
	bool	   *paired;			/* per target row: a column of desc */
	char	  **stmts[4];		/* drops, renames, types, adds */
	int			nstmts[4];
	int			empty;			/* target table has no rows: 1, 0, -1 unknown */
} planner;

enum
{
	ST_DROP, ST_RENAME, ST_TYPE, ST_ADD
};

/* The type of each column desc describes, as format_type() prints it. */
static const char *const types_sql =
"SELECT pg_catalog.format_type(u.t, u.m)"
"  FROM unnest($1::pg_catalog.oid[], $2::pg_catalog.int4[]) WITH ORDINALITY AS u(t, m, i)"
" ORDER BY u.i";

static void
planner_add(planner *pl, int kind, char *sql)
{
	pl->stmts[kind] = xrealloc(pl->stmts[kind],
							   sizeof(char *) * (size_t) (pl->nstmts[kind] + 1));
	pl->stmts[kind][pl->nstmts[kind]++] = sql;
}

static void
planner_release(planner *pl)
{
	for (int k = 0; k < 4; k++)
	{
		for (int i = 0; i < pl->nstmts[k]; i++)
			free(pl->stmts[k][i]);
		free(pl->stmts[k]);
	}
	PQclear(pl->types);
	free(pl->srows);
	free(pl->dropped);
	free(pl->paired);
	free(pl->qname);
	free(pl->display);
}

/* Read the types of desc's columns from the source; 0 or -1 (logged). */
static int
read_types(planner *pl)
{
	strbuf		oids = STRBUF_INIT;
	strbuf		mods = STRBUF_INIT;
	const char *params[2];

	for (int i = 0; i < pl->desc->natts; i++)
	{
		strbuf_addf(&oids, "%s%u", i ? "," : "{", pl->desc->atts[i].typoid);
		strbuf_addf(&mods, "%s%d", i ? "," : "{", (int) pl->desc->atts[i].typmod);
	}
	strbuf_adds(&oids, pl->desc->natts ? "}" : "{}");
	strbuf_adds(&mods, pl->desc->natts ? "}" : "{}");
	params[0] = strbuf_str(&oids);
	params[1] = strbuf_str(&mods);
	pl->types = conn_query(pl->d->src, SIDE_SOURCE, "read the types of a table's columns",
						   types_sql, 2, params);
	strbuf_release(&oids);
	strbuf_release(&mods);
	return pl->types ? 0 : -1;
}

/* The type of desc's column i. */
static const char *
desc_type(const planner *pl, int i)
{
	return PQgetvalue(pl->types, i, 0);
}

/* "ALTER TABLE qname " followed by fmt's text about one quoted column. */
static char *
alter_column(planner *pl, const char *fmt, const char *column, const char *rest)
{
	char	   *q = conn_quote_ident(pl->tgt, column);
	char	   *sql;
	char	   *what = str_printf(fmt, q, rest ? rest : "");

	sql = str_printf("ALTER TABLE %s %s", pl->qname, what);
	free(what);
	free(q);
	return sql;
}

/* Whether the target's table has no rows; -1 (logged). */
static int
target_empty(planner *pl)
{
	char	   *sql;
	PGresult   *res;

	if (pl->empty >= 0)
		return pl->empty;
	sql = str_printf("SELECT NOT EXISTS (SELECT 1 FROM %s)", pl->qname);
	res = conn_query(pl->tgt, SIDE_TARGET, "read whether a table has rows", sql, 0, NULL);
	free(sql);
	if (res == NULL)
		return -1;
	pl->empty = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return pl->empty;
}

/* The source's catalog is past what the stream describes: stop. */
static int
moved_on(const planner *pl)
{
	strbuf		stream = STRBUF_INIT;
	strbuf		now = STRBUF_INIT;

	for (int i = 0; i < pl->desc->natts; i++)
		strbuf_addf(&stream, "%s%s", i ? ", " : "", pl->desc->atts[i].name);
	for (int row = 0; row < PQntuples(pl->src); row++)
		if (sent_column(pl->src, row))
			strbuf_addf(&now, "%s%s", now.len ? ", " : "",
						PQgetvalue(pl->src, row, SC_ATTNAME));
	error("table \"%s\" changed again on the source after the change the replication stream describes",
		  pl->display);
	if (PQntuples(pl->src) == 0)
		log_detail("The stream describes columns (%s); the table is no longer on the source.",
				   strbuf_str(&stream));
	else
		log_detail("The stream describes columns (%s); the source's catalog now has (%s).  A change is applied only from a definition that matches the stream.",
				   strbuf_str(&stream), strbuf_str(&now));
	log_hint("Make the table on the target as the stream describes it, then run pgcrane follow again.");
	strbuf_release(&stream);
	strbuf_release(&now);
	return CDC_MISMATCH;
}

/*
 * The default part of an added column for a target table with rows: the
 * value the source's rows got (attmissingval), or a stop.  Into *clause
 * (yours); 0, CDC_MISMATCH or -1 (logged).
 */
static int
missing_value(planner *pl, int srow, char **clause)
{
	char		oid[16];
	const char *params[2] = {oid, PQgetvalue(pl->src, srow, SC_ATTNUM)};
	PGresult   *res;
	char	   *lit;

	*clause = NULL;
	snprintf(oid, sizeof(oid), "%u", pl->desc->oid);
	res = conn_query(pl->d->src, SIDE_SOURCE, "read the value of an added column",
					 missing_value_sql, 2, params);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't' &&
		!PQgetisnull(res, 0, 1))
	{
		lit = PQescapeLiteral(pl->tgt, PQgetvalue(res, 0, 1), strlen(PQgetvalue(res, 0, 1)));
		if (lit)
			*clause = str_printf(" DEFAULT (%s::%s[])[1]", lit, PQgetvalue(pl->src, srow, SC_TYPE));
		PQfreemem(lit);
	}
	PQclear(res);
	if (*clause)
		return 0;
	error("column \"%s\" of table \"%s\" was added on the source with a default evaluated for each row",
		  PQgetvalue(pl->src, srow, SC_ATTNAME), pl->display);
	log_detail("The values the rows of the table got on the source (default %s) are not in its catalog, and the target's table has rows.",
			   PQgetvalue(pl->src, srow, SC_DEFAULT));
	log_hint("Add the column on the target with the source's values, then run pgcrane follow again.");
	return CDC_MISMATCH;
}

/*
 * Plan ADD COLUMN for desc's column i, defined by the source's catalog,
 * which must have it as desc does; 0, CDC_MISMATCH or -1 (logged).
 */
static int
plan_add_column(planner *pl, int i)
{
	const PGresult *s = pl->src;
	int			srow = pl->srows[i];
	const char *name = pl->desc->atts[i].name;
	char		ident;
	bool		has_default;
	strbuf		def = STRBUF_INIT;
	char	   *fill = NULL;
	int			empty,
				rc = 0;

	if (!same_type(s, srow, &pl->desc->atts[i]))
		return moved_on(pl);
	ident = PQgetvalue(s, srow, SC_IDENTITY)[0];
	has_default = !PQgetisnull(s, srow, SC_DEFAULT);
	empty = (ident || has_default) ? target_empty(pl) : 1;
	if (empty < 0)
		return -1;
	strbuf_adds(&def, PQgetvalue(s, srow, SC_TYPE));
	if (!PQgetisnull(s, srow, SC_COLLATION))
		strbuf_addf(&def, " COLLATE %s", PQgetvalue(s, srow, SC_COLLATION));
	if (ident && !empty)
	{
		error("identity column \"%s\" was added on the source to table \"%s\", which has rows",
			  name, pl->display);
		log_detail("The values the rows got from the source's sequence are not in its catalog.");
		log_hint("Add the column on the target with the source's values, then run pgcrane follow again.");
		rc = CDC_MISMATCH;
	}
	else if (ident)
		strbuf_addf(&def, " GENERATED %s AS IDENTITY", ident == 'a' ? "ALWAYS" : "BY DEFAULT");
	else if (has_default && empty)
		strbuf_addf(&def, " DEFAULT %s", PQgetvalue(s, srow, SC_DEFAULT));
	else if (has_default)
		rc = missing_value(pl, srow, &fill);
	if (fill)
		strbuf_adds(&def, fill);
	if (PQgetvalue(s, srow, SC_NOTNULL)[0] == 't' && !ident)
		strbuf_adds(&def, " NOT NULL");
	if (rc == 0)
		planner_add(pl, ST_ADD, alter_column(pl, "ADD COLUMN IF NOT EXISTS %s %s", name,
											 strbuf_str(&def)));
	if (rc == 0 && fill)
	{
		char	   *set = str_printf("SET DEFAULT %s", PQgetvalue(s, srow, SC_DEFAULT));

		planner_add(pl, ST_ADD, alter_column(pl, "ALTER COLUMN %s %s", name, set));
		free(set);
	}
	free(fill);
	strbuf_release(&def);
	return rc;
}

/*
 * Plan ALTER COLUMN TYPE when the target's column (row trow) has another
 * type than desc's column i (with the source's collation when the
 * catalog still has the column as desc does).
 */
static void
plan_type(planner *pl, int i, int trow)
{
	int			srow = pl->srows[i];
	strbuf		t = STRBUF_INIT;

	if (strcmp(desc_type(pl, i), PQgetvalue(pl->tg, trow, TC_TYPE)) == 0)
		return;
	strbuf_addf(&t, "TYPE %s", desc_type(pl, i));
	if (same_type(pl->src, srow, &pl->desc->atts[i]) &&
		!PQgetisnull(pl->src, srow, SC_COLLATION))
		strbuf_addf(&t, " COLLATE %s", PQgetvalue(pl->src, srow, SC_COLLATION));
	planner_add(pl, ST_TYPE, alter_column(pl, "ALTER COLUMN %s %s",
										  PQgetvalue(pl->tg, trow, TC_ATTNAME),
										  strbuf_str(&t)));
	strbuf_release(&t);
}

/* The target row of name unless the plan drops it, or -1. */
static int
live_target_row(const planner *pl, const char *name)
{
	int			row = target_row(pl->tg, name);

	return row >= 0 && !pl->dropped[row] ? row : -1;
}

/* Whether desc has a column named name. */
static bool
described(const pgo_relation *desc, const char *name)
{
	for (int i = 0; i < desc->natts; i++)
		if (strcmp(desc->atts[i].name, name) == 0)
			return true;
	return false;
}

/*
 * With a record: drop the target columns of source columns that are gone
 * (their attnum is not in the source's catalog, their name not in desc).
 */
static void
plan_drops(planner *pl)
{
	for (int i = 0; i < pl->rec->n; i++)
	{
		const ddl_col *c = &pl->rec->cols[i];
		int			row = target_row(pl->tg, c->name);

		if (row < 0 || source_row(pl->src, c->attnum) >= 0 || described(pl->desc, c->name))
			continue;
		pl->dropped[row] = true;
		planner_add(pl, ST_DROP, alter_column(pl, "DROP COLUMN IF EXISTS %s%s", c->name, NULL));
	}
}

/* Plan the rename of recorded column c to desc's column i; its target row. */
static int
plan_rename(planner *pl, int i, const ddl_col *c)
{
	const char *name = pl->desc->atts[i].name;
	int			row = live_target_row(pl, c->name);
	char	   *to;

	if (row < 0 || live_target_row(pl, name) >= 0)
	{
		error("column \"%s\" of table \"%s\" was renamed to \"%s\" on the source, and the target does not have it as \"%s\" alone",
			  c->name, pl->display, name, c->name);
		log_hint("Rename the column on the target as on the source, then run pgcrane follow again.");
		return CDC_MISMATCH;
	}
	to = conn_quote_ident(pl->tgt, name);
	planner_add(pl, ST_RENAME, alter_column(pl, "RENAME COLUMN %s TO %s", c->name, to));
	free(to);
	return row;
}

/*
 * With a record: pair desc's column i with its target column (renamed
 * when the record knows its attnum by another name), or add it.
 */
static int
pair_recorded(planner *pl, int i)
{
	const char *name = pl->desc->atts[i].name;
	const ddl_col *c = pl->attnums[i] > 0 ? record_col(pl->rec, pl->attnums[i]) : NULL;
	int			row;

	if (c != NULL && strcmp(c->name, name) != 0)
		row = plan_rename(pl, i, c);
	else
		row = live_target_row(pl, name);
	if (row == CDC_MISMATCH)
		return row;
	if (row < 0 && c == NULL)
		return plan_add_column(pl, i);
	if (row < 0)
		return 0;				/* gone from the target: apply_rel says so */
	pl->paired[row] = true;
	plan_type(pl, i, row);
	return 0;
}

/* Without a record: the name pairs, and a type must be the same. */
static int
pair_by_name(planner *pl, int i, bool *add)
{
	int			row = target_row(pl->tg, pl->desc->atts[i].name);

	*add = row < 0;
	if (row < 0)
		return 0;
	pl->paired[row] = true;
	if (strcmp(desc_type(pl, i), PQgetvalue(pl->tg, row, TC_TYPE)) == 0)
		return 0;
	error("column \"%s\" of table \"%s\" has type %s on the target but %s on the source",
		  pl->desc->atts[i].name, pl->display, PQgetvalue(pl->tg, row, TC_TYPE),
		  desc_type(pl, i));
	log_detail("The follow has no record of this table's columns from before the change: it cannot tell a changed type from a column dropped and added again.");
	log_hint("Make the column the same on the target, then run pgcrane follow again.");
	return CDC_MISMATCH;
}

/*
 * Without a record, columns to add: only when the target has no column
 * the source does not send, which could be one of them renamed.
 */
static int
add_unrecorded(planner *pl, const bool *add)
{
	for (int row = 0; row < PQntuples(pl->tg); row++)
	{
		if (pl->paired[row] || PQgetisnull(pl->tg, row, TC_ATTNAME) ||
			PQgetvalue(pl->tg, row, TC_GENERATED)[0] == 't')
			continue;
		for (int i = 0; i < pl->desc->natts; i++)
		{
			if (!add[i])
				continue;
			error("column \"%s\" of table \"%s\" is not on the target, which has column \"%s\" that the source does not send",
				  pl->desc->atts[i].name, pl->display, PQgetvalue(pl->tg, row, TC_ATTNAME));
			log_detail("The follow has no record of this table's columns from before the change: it cannot tell a renamed column from a column dropped and another added.");
			log_hint("Make the columns the same on the target, then run pgcrane follow again.");
			return CDC_MISMATCH;
		}
	}
	for (int i = 0; i < pl->desc->natts; i++)
	{
		int			rc = add[i] ? plan_add_column(pl, i) : 0;

		if (rc != 0)
			return rc;
	}
	return 0;
}

/* The plan for a table both sides have. */
static int
plan_columns(planner *pl)
{
	bool	   *add = xcalloc((size_t) pl->desc->natts + 1, sizeof(bool));
	bool		any_add = false;
	int			rc = read_types(pl);

	pl->dropped = xcalloc((size_t) PQntuples(pl->tg) + 1, sizeof(bool));
	pl->paired = xcalloc((size_t) PQntuples(pl->tg) + 1, sizeof(bool));
	if (rc == 0 && pl->rec)
		plan_drops(pl);
	for (int i = 0; i < pl->desc->natts && rc == 0; i++)
	{
		if (pl->rec)
			rc = pair_recorded(pl, i);
		else
			rc = pair_by_name(pl, i, &add[i]);
		any_add |= add[i];
	}
	if (rc == 0 && any_add)
		rc = add_unrecorded(pl, add);
	free(add);
	return rc;
}

/* ---------- the plan of a table ---------- */

/* Whether the clone copied the table of source OID oid: 1, 0, -1. */
static int
cloned(ddl_ctx *d, uint32_t oid)
{
	int64_t		first,
				end;
	bool		done;
	int			n = state_load_parts(d->st, oid, &first, &end, &done, 1);

	return n < 0 ? -1 : n > 0;
}

/* A table the target lacks: new on the source, or renamed (a stop). */
static int
plan_new_table(planner *pl, const ddl_record *rec, bool agrees, ddl_plan *p)
{
	int			was_cloned = cloned(pl->d, pl->desc->oid);

	if (was_cloned < 0)
		return -1;
	if (rec->present || was_cloned)
	{
		error("table \"%s\" does not exist on the target", pl->display);
		log_detail("The table was copied before under another name: it was renamed on the source, or renamed or dropped on the target.  pgcrane applies no table renames.");
		log_hint("Rename the table on the target as on the source, then run pgcrane follow again.");
		return CDC_MISMATCH;
	}
	if (!agrees)
		return moved_on(pl);
	p->creates_table = true;
	plan_add(p, xstrdup(pl->qname));
	return 0;
}

/* The planner's statements into p, in the order they must run. */
static void
planner_take(planner *pl, ddl_plan *p)
{
	for (int k = 0; k < 4; k++)
	{
		for (int i = 0; i < pl->nstmts[k]; i++)
			plan_add(p, pl->stmts[k][i]);
		pl->nstmts[k] = 0;
	}
}

/* Whether every described column has its source attnum. */
static bool
all_known(const int32_t *attnums, int n)
{
	for (int i = 0; i < n; i++)
		if (attnums[i] <= 0)
			return false;
	return true;
}

int
ddl_plan_relation(ddl_ctx *d, PGconn *tgt, const pgo_relation *desc, ddl_plan *p)
{
	planner		pl;
	int32_t    *attnums = xcalloc((size_t) desc->natts + 1, sizeof(int32_t));
	PGresult   *src = read_source(d, desc->oid);
	PGresult   *tg = src ? read_target(tgt, desc) : NULL;
	ddl_record *rec = tg ? record_get(d, desc->oid) : NULL;
	bool		agrees;
	int			rc;

	*p = (ddl_plan) DDL_PLAN_INIT;
	memset(&pl, 0, sizeof(pl));
	if (rec == NULL)
	{
		PQclear(src);
		PQclear(tg);
		free(attnums);
		return -1;
	}
	pl.d = d;
	pl.tgt = tgt;
	pl.desc = desc;
	pl.src = src;
	pl.tg = tg;
	pl.rec = rec->present ? rec : NULL;
	pl.attnums = attnums;
	pl.srows = xcalloc((size_t) desc->natts + 1, sizeof(int));
	pl.qname = conn_qualified_name(tgt, desc->nspname, desc->relname);
	pl.display = str_printf("%s.%s", desc->nspname, desc->relname);
	pl.empty = -1;
	agrees = map_source(src, desc, pl.srows, attnums);
	if (PQntuples(tg) == 0)
		rc = plan_new_table(&pl, rec, agrees, p);
	else
	{
		rc = plan_columns(&pl);
		if (rc == 0)
			planner_take(&pl, p);
	}
	p->display = pl.display;
	pl.display = NULL;
	p->attnums = attnums;
	p->natts = all_known(attnums, desc->natts) ? desc->natts : 0;
	if (rc == 0 && p->n == 0 && p->natts > 0)
		rc = record_put(d, desc, attnums);
	planner_release(&pl);
	PQclear(src);
	PQclear(tg);
	if (rc != 0)
		ddl_plan_release(p);
	return rc;
}

/* ---------- running a plan ---------- */

/*
 * pg_dump's plain output in path as SQL to run in a transaction: without
 * its session settings (SET, set_config) and psql meta-commands.  NULL
 * (logged) when it cannot be read.
 */
static char *
read_script(const char *path)
{
	FILE	   *f = fopen(path, "r");
	strbuf		sb = STRBUF_INIT;
	char		line[8192];
	bool		at_start = true;

	if (f == NULL)
	{
		error("could not read file \"%s\": %m", path);
		return NULL;
	}
	while (fgets(line, sizeof(line), f))
	{
		bool		skip = at_start && (line[0] == '\\' || strncmp(line, "SET ", 4) == 0 ||
									   strncmp(line, "SELECT pg_catalog.set_config(", 29) == 0);

		if (!skip)
			strbuf_adds(&sb, line);
		at_start = strchr(line, '\n') != NULL;
	}
	fclose(f);
	return strbuf_detach(&sb);
}

/* The definitions of the n relations names from the source; NULL (logged). */
static char *
dump_relations(ddl_ctx *d, const char *const *names, int n)
{
	pg_tools tools;
	PGconn	   *src = source_conn(d);
	char	   *path;
	char	   *script = NULL;

	if (src == NULL)
		return NULL;
	path = str_printf("%s/ddl-dump.sql", state_dir(d->st));
	if (pgtools_find(conn_server_major(src), &tools) != 0)
		error("no pg_dump of version %d or later was found", conn_server_major(src));
	else if (pgtools_dump_relations(&tools, d->source, names, n, d->no_owner, d->no_acl,
								   path) == 0)
		script = read_script(path);
	(void) unlink(path);
	free(path);
	return script;
}

/*
 * Run sql in the open transaction on tgt; 0, CDC_MISMATCH (the statement
 * failed, logged with it) or -1 (the connection broke).
 */
static int
run_statement(PGconn *tgt, const char *display, const char *sql)
{
	PGresult   *res = PQexec(tgt, sql);
	int			rc = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		char	   *what = str_printf("apply a schema change of table \"%s\"", display);

		conn_log_result_error(res, SIDE_TARGET, what);
		log_detail("The statement was: %s", sql);
		log_hint("Make the table on the target as on the source, then run pgcrane follow again.");
		free(what);
		rc = PQstatus(tgt) == CONNECTION_BAD ? -1 : CDC_MISMATCH;
	}
	PQclear(res);
	return rc;
}

/* Run the n statements in a transaction of their own on tgt. */
static int
run_transaction(PGconn *tgt, const char *display, char *const *sql, int n)
{
	int			rc = conn_exec(tgt, SIDE_TARGET, "BEGIN");

	if (rc == 0)
		rc = conn_exec(tgt, SIDE_TARGET, DDL_LOCK_TIMEOUT);
	for (int i = 0; rc == 0 && i < n; i++)
		rc = run_statement(tgt, display, sql[i]);
	if (rc == 0)
		return conn_exec(tgt, SIDE_TARGET, "COMMIT");
	if (PQstatus(tgt) == CONNECTION_OK)
		(void) conn_exec(tgt, SIDE_TARGET, "ROLLBACK");
	return rc != 0 ? rc : -1;
}

/* The source's definition of table qname, made on tgt in a transaction. */
static int
create_table(ddl_ctx *d, PGconn *tgt, const char *qname, const char *display)
{
	char	   *script = dump_relations(d, &qname, 1);
	int			rc;

	if (script == NULL)
		return -1;
	rc = run_transaction(tgt, display, &script, 1);
	free(script);
	return rc;
}

/* After a new table: its record and the sequences the source made with it. */
static int
record_created(ddl_ctx *d, PGconn *tgt, const pgo_relation *desc, const ddl_plan *p)
{
	int			created = 0;
	int			rc = 0;

	if (p->natts == desc->natts)
		rc = record_put(d, desc, p->attnums);
	return rc != 0 ? rc : ddl_create_sequences(d, tgt, &created);
}

int
ddl_create_table(ddl_ctx *d, PGconn *tgt, const char *qname, const char *display,
				 bool sequences)
{
	int			created = 0;
	int			rc = sequences ? ddl_create_sequences(d, tgt, &created) : 0;

	return rc != 0 ? rc : create_table(d, tgt, qname, display);
}

int
ddl_execute(ddl_ctx *d, PGconn *tgt, const pgo_relation *desc, const ddl_plan *p)
{
	int			rc;

	if (p->creates_table)
	{
		log_info("table \"%s\" is new on the source; creating it on the target", p->display);
		return create_table(d, tgt, p->sql[0], p->display) != 0 ? -1 :
			record_created(d, tgt, desc, p);
	}
	for (int i = 0; i < p->n; i++)
		log_info("table \"%s\" changed on the source; on the target: %s", p->display,
				 p->sql[i]);
	rc = run_transaction(tgt, p->display, p->sql, p->n);
	if (rc == 0 && p->natts == desc->natts)
		rc = record_put(d, desc, p->attnums);
	return rc;
}

/* ---------- sequences ---------- */

/*
 * Sequences but those of identity columns and of extensions, qualified,
 * with the table of the column that owns one (serial), or NULL.
 */
static const char *const sequences_sql =
"SELECT pg_catalog.format('%I.%I', n.nspname, c.relname),"
"       (SELECT pg_catalog.format('%I.%I', tn.nspname, t.relname)"
"          FROM pg_catalog.pg_depend o"
"          JOIN pg_catalog.pg_class t ON t.oid = o.refobjid"
"          JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace"
"         WHERE o.classid = 'pg_catalog.pg_class'::pg_catalog.regclass"
"           AND o.objid = c.oid AND o.deptype = 'a'"
"           AND o.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
"         LIMIT 1)"
"  FROM pg_catalog.pg_class c"
"  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
" WHERE c.relkind = 'S'"
"   AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
"   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d"
"                    WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass"
"                      AND d.objid = c.oid AND d.deptype IN ('i', 'e'))"
" ORDER BY 1";

/* Whether res (one name a row) has name. */
static bool
has_name(const PGresult *res, const char *name)
{
	for (int row = 0; row < PQntuples(res); row++)
		if (strcmp(PQgetvalue(res, row, 0), name) == 0)
			return true;
	return false;
}

/*
 * Whether the sequence of row row of s is to be created on the target
 * (res t): the target lacks it and has the table that owns it, if one
 * does (a table the target lacks brings its sequences when it comes).
 */
static bool
sequence_wanted(PGconn *tgt, const PGresult *s, int row, const PGresult *t)
{
	const char *params[1] = {PQgetvalue(s, row, 1)};
	PGresult   *res;
	bool		has_owner;

	if (has_name(t, PQgetvalue(s, row, 0)))
		return false;
	if (PQgetisnull(s, row, 1))
		return true;
	res = PQexecParams(tgt, "SELECT pg_catalog.to_regclass($1) IS NOT NULL", 1, NULL,
					   params, NULL, NULL, 0);
	has_owner = PQresultStatus(res) == PGRES_TUPLES_OK && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return has_owner;
}

/* Create the n sequences of names; 0, CDC_MISMATCH or -1 (logged). */
static int
create_sequences(ddl_ctx *d, PGconn *tgt, const char *const *names, int n)
{
	char	   *script = dump_relations(d, names, n);
	int			rc;

	if (script == NULL)
		return -1;
	for (int i = 0; i < n; i++)
		log_info("sequence \"%s\" is new on the source; creating it on the target", names[i]);
	rc = run_transaction(tgt, names[0], &script, 1);
	free(script);
	return rc;
}

int
ddl_create_sequences(ddl_ctx *d, PGconn *tgt, int *created)
{
	PGconn	   *src = source_conn(d);
	PGresult   *s = src ? conn_query(src, SIDE_SOURCE, "list the sequences", sequences_sql,
									 0, NULL) : NULL;
	PGresult   *t = s ? conn_query(tgt, SIDE_TARGET, "list the sequences", sequences_sql,
								   0, NULL) : NULL;
	const char *batch[24];
	int			n = 0,
				rc = t ? 0 : -1;

	*created = 0;
	for (int row = 0; t && rc == 0 && row <= PQntuples(s); row++)
	{
		if (row < PQntuples(s) && sequence_wanted(tgt, s, row, t))
			batch[n++] = PQgetvalue(s, row, 0);
		if (n > 0 && (n == 24 || row == PQntuples(s)))
		{
			rc = create_sequences(d, tgt, batch, n);
			*created += rc == 0 ? n : 0;
			n = 0;
		}
	}
	PQclear(s);
	PQclear(t);
	return rc;
}
