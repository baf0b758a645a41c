/*
 * verify_select.c
 *		Rewrite both sides' catalog rows by the selection's rules.
 */
#include "verify/verify_select.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/conn.h"
#include "core/selres.h"
#include "util/str.h"

#define COL_KIND 0
#define COL_NAME 1
#define COL_PARENT 2

static int
strptr_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static void
add_name(char ***list, int *n, char *name)
{
	*list = xrealloc(*list, sizeof(char *) * (size_t) (*n + 1));
	(*list)[(*n)++] = name;
}

static bool
has_name(char *const *list, int n, const char *name)
{
	return name && n > 0 &&
		bsearch(&name, list, (size_t) n, sizeof(char *), strptr_cmp) != NULL;
}

/* One rewrite of definitions: the target's text from, the source's to. */
static int
add_text_pair(vsel *v, PGconn *src, const char *nsp_to, const char *to,
			  const char *nsp_from, const char *from, bool dot)
{
	char	   *q[4] = {NULL, NULL, NULL, NULL};
	const char *names[4] = {nsp_to, to, nsp_from, from};
	int			rc = 0;

	for (int i = 0; i < 4 && rc == 0; i++)
		if (names[i] != NULL && (q[i] = conn_server_quote(src, SIDE_SOURCE, names[i])) == NULL)
			rc = -1;
	if (rc == 0)
	{
		v->text_from = xrealloc(v->text_from, sizeof(char *) * (size_t) (v->ntext + 1));
		v->text_to = xrealloc(v->text_to, sizeof(char *) * (size_t) (v->ntext + 1));
		v->text_from[v->ntext] = str_printf("%s%s%s%s", q[0] ? q[0] : "", q[0] ? "." : "",
											q[1], dot ? "." : "");
		v->text_to[v->ntext] = str_printf("%s%s%s%s", q[2] ? q[2] : "", q[2] ? "." : "",
										  q[3], dot ? "." : "");
		v->ntext++;
	}
	for (int i = 0; i < 4; i++)
		free(q[i]);
	return rc;
}

/*
 * The rewrites of the target's definitions into the source's names, in
 * order: schemas first, then tables in their source schema, qualified and
 * (a view names the columns of a table without alias by its name) not,
 * followed by a dot.  Names are in the form the server writes them in
 * definitions: "App".t is rewritten by its quoted form.
 */
static int
text_pairs(vsel *v, PGconn *src, const selection *sel)
{
	int			rc = 0;

	for (int i = 0; rc == 0 && i < sel->nschema_renames; i++)
		rc = add_text_pair(v, src, NULL, sel->schema_renames[i].to, NULL,
						   sel->schema_renames[i].schema, true);
	for (int i = 0; rc == 0 && i < sel->ntable_renames; i++)
	{
		const sel_rename *rn = &sel->table_renames[i];

		rc = add_text_pair(v, src, rn->schema, rn->to, rn->schema, rn->from, false);
		if (rc == 0)
			rc = add_text_pair(v, src, NULL, rn->to, NULL, rn->from, true);
	}
	return rc;
}

int
vsel_init(vsel *v, PGconn *src, const selection *sel)
{
	selres		r = SELRES_INIT;

	*v = (vsel) VSEL_INIT;
	if (sel == NULL || sel_is_empty(sel))
		return 0;
	v->sel = sel;
	if (text_pairs(v, src, sel) != 0 || selres_read(src, sel, &r) != 0)
		return -1;
	for (int i = 0; i < r.nrels; i++)
	{
		if (r.rels[i].why)
			add_name(&v->out, &v->nout, xstrdup(r.rels[i].display));
		if (r.rels[i].why && strchr("rp", r.rels[i].kind))
			v->tables_out++;
		if (r.rels[i].no_data)
			add_name(&v->no_data, &v->nno_data, xstrdup(r.rels[i].display));
	}
	for (int i = 0; i < r.nschemas_out; i++)
	{
		add_name(&v->out, &v->nout, xstrdup(r.schemas_out[i].name));
		add_name(&v->schemas, &v->nschemas, xstrdup(r.schemas_out[i].name));
	}
	for (int i = 0; i < r.nconstraints_out; i++)
		add_name(&v->out, &v->nout, xstrdup(r.constraints_out[i].name));
	for (int i = 0; i < r.nfunctions_out; i++)
		add_name(&v->out, &v->nout, xstrdup(r.functions_out[i].name));
	for (int i = 0; i < sel->ncolumns; i++)
		add_name(&v->out, &v->nout, str_printf("%s.%s.%s", sel->columns[i].schema,
											   sel->columns[i].table,
											   sel->columns[i].column));
	v->large_objects = r.large_objects;
	selres_release(&r);
	qsort(v->out, (size_t) v->nout, sizeof(char *), strptr_cmp);
	qsort(v->no_data, (size_t) v->nno_data, sizeof(char *), strptr_cmp);
	qsort(v->schemas, (size_t) v->nschemas, sizeof(char *), strptr_cmp);
	return 0;
}

void
vsel_release(vsel *v)
{
	for (int i = 0; i < v->nout; i++)
		free(v->out[i]);
	for (int i = 0; i < v->nno_data; i++)
		free(v->no_data[i]);
	for (int i = 0; i < v->nschemas; i++)
		free(v->schemas[i]);
	for (int i = 0; i < v->ntext; i++)
	{
		free(v->text_from[i]);
		free(v->text_to[i]);
	}
	free(v->text_from);
	free(v->text_to);
	free(v->schemas);
	free(v->out);
	free(v->no_data);
	*v = (vsel) VSEL_INIT;
}

/* The source's name of target schema nsp (not owned). */
static const char *
schema_back(const selection *sel, const char *nsp)
{
	for (int i = 0; i < sel->nschema_renames; i++)
		if (strcmp(sel->schema_renames[i].to, nsp) == 0)
			return sel->schema_renames[i].schema;
	return nsp;
}

/* The source's name of target relation rel, in source schema nsp. */
static const char *
table_back(const selection *sel, const char *nsp, const char *rel)
{
	for (int i = 0; i < sel->ntable_renames; i++)
		if (strcmp(sel->table_renames[i].schema, nsp) == 0 &&
			strcmp(sel->table_renames[i].to, rel) == 0)
			return sel->table_renames[i].from;
	return rel;
}

/*
 * A target name as the inventories write it ("schema", "schema.rel",
 * "schema.rel.sub", "schema.f(args)") in the source's names (you own it).
 */
static char *
name_back(const selection *sel, const char *name)
{
	const char *dot = strchr(name, '.');
	char	   *nsp,
			   *rel,
			   *out;
	const char *rest;
	size_t		len;

	if (dot == NULL)
		return xstrdup(schema_back(sel, name));
	nsp = xstrdup(name);
	nsp[dot - name] = '\0';
	rest = dot + 1;
	len = strcspn(rest, ".(");
	rel = xstrdup(rest);
	rel[len] = '\0';
	{
		const char *old = schema_back(sel, nsp);

		out = str_printf("%s.%s%s", old, rest[len] == '(' ? rel : table_back(sel, old, rel),
						 rest + len);
	}
	free(nsp);
	free(rel);
	return out;
}

static bool
ident_char(char c)
{
	return isalnum((unsigned char) c) || c == '_' || c == '$' || c == '"' ||
		(unsigned char) c >= 0x80;
}

/*
 * text with every "from" that starts a name (nothing of a name before
 * it) and ends one (nothing of a name after it, unless more_after) turned
 * into "to" (you own the result).
 */
static char *
replace_name(const char *text, const char *from, const char *to)
{
	strbuf		sb = STRBUF_INIT;
	size_t		flen = strlen(from);
	bool		dotted = flen > 0 && from[flen - 1] == '.';

	for (const char *p = text; *p;)
	{
		if (strncmp(p, from, flen) == 0 && (p == text || (!ident_char(p[-1]) && p[-1] != '.')) &&
			(dotted || !ident_char(p[flen])))
		{
			strbuf_adds(&sb, to);
			p += flen;
		}
		else
			strbuf_add(&sb, p++, 1);
	}
	return strbuf_detach(&sb);
}

/*
 * A target property value with the names of the source: each rewrite
 * of v->text_from, in order, where a name starts (you own the result).
 */
static char *
text_back(const vsel *v, const char *text)
{
	char	   *cur = xstrdup(text);

	for (int i = 0; i < v->ntext; i++)
	{
		char	   *next = replace_name(cur, v->text_from[i], v->text_to[i]);

		free(cur);
		cur = next;
	}
	return cur;
}

static int
int_value(const char *s)
{
	return (int) strtol(s, NULL, 10);
}

/* Excluded columns before position pos of table parent, among res's rows. */
static int
columns_out_before(const vsel *v, PGresult *res, const char *parent, int pos, int poscol)
{
	int			n = 0;

	for (int i = 0; i < PQntuples(res); i++)
		if (strcmp(PQgetvalue(res, i, COL_KIND), "column") == 0 &&
			strcmp(PQgetvalue(res, i, COL_PARENT), parent) == 0 &&
			has_name(v->out, v->nout, PQgetvalue(res, i, COL_NAME)) &&
			int_value(PQgetvalue(res, i, poscol)) < pos)
			n++;
	return n;
}

/* The value of field f of row i, rewritten (you own it; NULL for NULL). */
static char *
field_value(const vsel *v, PGresult *res, int i, int f, bool target, int poscol)
{
	const char *val;

	if (PQgetisnull(res, i, f))
		return NULL;
	val = PQgetvalue(res, i, f);
	if (target && (f == COL_NAME || f == COL_PARENT))
		return name_back(v->sel, val);
	/* The schema of an extension. */
	if (target && strcmp(PQfname(res, f), "schema") == 0)
		return xstrdup(schema_back(v->sel, val));
	if (target && f > COL_PARENT)
		return text_back(v, val);
	if (!target && f == poscol && v->sel->ncolumns > 0 && !PQgetisnull(res, i, COL_PARENT))
	{
		int			pos = int_value(val);

		return str_printf("%d", pos - columns_out_before(v, res, PQgetvalue(res, i, COL_PARENT),
														   pos, poscol));
	}
	return xstrdup(val);
}

static void
set_row(PGresult *out, int row, char **vals, int nf)
{
	for (int f = 0; f < nf; f++)
		PQsetvalue(out, row, f, vals[f] ? vals[f] : "", vals[f] ? (int) strlen(vals[f]) : -1);
}

/* Whether name ("schema.x...") belongs to a schema left out. */
static bool
in_schema_out(const vsel *v, const char *name)
{
	const char *dot = strchr(name, '.');
	char	   *nsp;
	bool		out;

	if (dot == NULL || v->nschemas == 0)
		return false;
	nsp = xstrdup(name);
	nsp[dot - name] = '\0';
	out = has_name(v->schemas, v->nschemas, nsp);
	free(nsp);
	return out;
}

/*
 * Whether a row is left out: its name or its parent is; on the source,
 * also anything of a schema left out.  On the target, the objects of a
 * schema left out stay, to be reported (see verify_select.h).
 */
static bool
row_out(const vsel *v, char **vals, bool target)
{
	if (has_name(v->out, v->nout, vals[COL_NAME]))
		return true;
	if (target)
		return has_name(v->out, v->nout, vals[COL_PARENT]) &&
			!has_name(v->schemas, v->nschemas, vals[COL_PARENT]);
	return has_name(v->out, v->nout, vals[COL_PARENT]) ||
		in_schema_out(v, vals[COL_NAME]);
}

static PGresult *
schema_side(const vsel *v, PGresult *res, bool target)
{
	PGresult   *out = PQcopyResult(res, PG_COPYRES_ATTRS);
	int			nf = PQnfields(res);
	int			poscol = PQfnumber(res, "position");
	char	  **vals = xcalloc((size_t) nf, sizeof(char *));
	int			n = 0;

	for (int i = 0; i < PQntuples(res); i++)
	{
		for (int f = 0; f < nf; f++)
			vals[f] = field_value(v, res, i, f, target, poscol);
		if (!row_out(v, vals, target))
			set_row(out, n++, vals, nf);
		for (int f = 0; f < nf; f++)
			free(vals[f]);
	}
	free(vals);
	PQclear(res);
	return out;
}

void
vsel_schema_rows(const vsel *v, PGresult **rs, PGresult **rt)
{
	if (v->sel == NULL || PQnfields(*rs) <= COL_PARENT)
		return;
	*rs = schema_side(v, *rs, false);
	*rt = schema_side(v, *rt, true);
}

static PGresult *
data_side(const vsel *v, PGresult *res, bool target, int attcol)
{
	PGresult   *out = PQcopyResult(res, PG_COPYRES_ATTRS);
	int			nf = PQnfields(res);
	char	  **vals = xcalloc((size_t) nf, sizeof(char *));
	int			n = 0;

	for (int i = 0; i < PQntuples(res); i++)
	{
		char	   *rel;
		char	   *col = NULL;
		bool		keep;

		for (int f = 0; f < nf; f++)
			vals[f] = PQgetisnull(res, i, f) ? NULL : xstrdup(PQgetvalue(res, i, f));
		if (target)
		{
			const char *nsp = schema_back(v->sel, vals[0]);
			char	   *old = xstrdup(table_back(v->sel, nsp, vals[1]));

			free(vals[1]);
			vals[1] = old;
			old = xstrdup(nsp);
			free(vals[0]);
			vals[0] = old;
		}
		rel = str_printf("%s.%s", vals[0], vals[1]);
		if (attcol >= 0 && vals[attcol])
			col = str_printf("%s.%s", rel, vals[attcol]);
		keep = !has_name(v->out, v->nout, rel) && !has_name(v->no_data, v->nno_data, rel) &&
			!has_name(v->out, v->nout, col);
		if (keep)
			set_row(out, n++, vals, nf);
		free(rel);
		free(col);
		for (int f = 0; f < nf; f++)
			free(vals[f]);
	}
	free(vals);
	PQclear(res);
	return out;
}

void
vsel_data_rows(const vsel *v, PGresult **rs, PGresult **rt, int attcol)
{
	if (v->sel == NULL)
		return;
	*rs = data_side(v, *rs, false, attcol);
	*rt = data_side(v, *rt, true, attcol);
}

char *
vsel_target_qname(const vsel *v, PGconn *conn, const char *nsp, const char *rel)
{
	if (v == NULL || v->sel == NULL)
		return conn_qualified_name(conn, nsp, rel);
	return conn_qualified_name(conn, sel_schema_target(v->sel, nsp),
							   sel_table_target(v->sel, nsp, rel));
}
