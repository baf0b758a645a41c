/*
 * select.c
 *		The clone's side of a selection: TOC keys, catalog, columns, renames.
 */
#include "clone/select.h"

#include <stdlib.h>
#include <string.h>

#include "core/conn.h"
#include "util/log.h"
#include "util/str.h"

static const char *const columns_sql =
"SELECT a.attname FROM pg_catalog.pg_attribute a"
" WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped"
" AND a.attgenerated = '' AND a.attname <> ALL ($2::text[])"
" ORDER BY a.attnum";

schema_toc_key *
csel_toc_keys(const selres *r, int *n)
{
	schema_toc_key *keys = xcalloc((size_t) (r->nrels + r->nschemas_out +
											 r->nconstraints_out + r->nfunctions_out +
											 r->nobjects_out) + 2,
								   sizeof(schema_toc_key));
	int			k = 0;

	for (int i = 0; i < r->nrels; i++)
		if (r->rels[i].why)
			keys[k++] = (schema_toc_key) {SCHEMA_TOC_RELATION, r->rels[i].oid};
	for (int i = 0; i < r->nschemas_out; i++)
		keys[k++] = (schema_toc_key) {SCHEMA_TOC_SCHEMA, r->schemas_out[i].oid};
	for (int i = 0; i < r->nconstraints_out; i++)
		keys[k++] = (schema_toc_key) {SCHEMA_TOC_CONSTRAINT, r->constraints_out[i].oid};
	for (int i = 0; i < r->nfunctions_out; i++)
		keys[k++] = (schema_toc_key) {SCHEMA_TOC_FUNCTION, r->functions_out[i].oid};
	for (int i = 0; i < r->nobjects_out; i++)
		keys[k++] = (schema_toc_key) {r->objects_out[i].catalog, r->objects_out[i].oid};
	if (!r->large_objects)
		keys[k++] = (schema_toc_key) {SCHEMA_TOC_LARGE_OBJECT, 0};
	*n = k;
	return keys;
}

/* The names of the columns of nsp.rel left out, as a text[] literal. */
static char *
columns_out(const selection *sel, const char *nsp, const char *rel, int *n)
{
	const char **names = xcalloc((size_t) sel->ncolumns + 1, sizeof(char *));
	char	   *arr;

	*n = 0;
	for (int i = 0; i < sel->ncolumns; i++)
		if (strcmp(sel->columns[i].schema, nsp) == 0 &&
			strcmp(sel->columns[i].table, rel) == 0)
			names[(*n)++] = sel->columns[i].column;
	arr = str_text_array(names, *n);
	free(names);
	return arr;
}

/* The copy's column list of t without the columns left out. */
static int
narrow_columns(PGconn *src, const selection *sel, cat_table *t)
{
	int			n;
	char	   *arr = columns_out(sel, t->nspname, t->relname, &n);
	char	   *oid = str_printf("%u", t->oid);
	const char *params[2] = {oid, arr};
	PGresult   *res = n ? conn_query(src, SIDE_SOURCE, "list columns", columns_sql,
									 2, params) : NULL;
	strbuf		cols = STRBUF_INIT;

	free(arr);
	free(oid);
	if (n == 0)
		return 0;
	if (res == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res); i++)
	{
		char	   *q = conn_quote_ident(src, PQgetvalue(res, i, 0));

		strbuf_addf(&cols, "%s%s", i ? ", " : "", q);
		free(q);
	}
	t->ncolumns = PQntuples(res);
	PQclear(res);
	free(t->columns);
	t->columns = strbuf_detach(&cols);
	return 0;
}

static bool
rel_out(const selres *r, const char *display)
{
	for (int i = 0; i < r->nrels; i++)
		if (strcmp(r->rels[i].display, display) == 0)
			return r->rels[i].why != NULL;
	return false;
}

/* The partitioned tables (quoted names) kept. */
static void
keep_partitioned(PGconn *src, const selres *r, catalog *cat)
{
	bool	   *keep = xcalloc((size_t) cat->npartitioned + 1, sizeof(bool));

	for (int i = 0; i < cat->npartitioned; i++)
	{
		keep[i] = true;
		for (int j = 0; j < r->nrels && keep[i]; j++)
		{
			char	   *q;

			if (r->rels[j].kind != 'p' || !r->rels[j].why)
				continue;
			q = conn_qualified_name(src, r->rels[j].nspname, r->rels[j].relname);
			keep[i] = strcmp(q, cat->partitioned[i]) != 0;
			free(q);
		}
	}
	catalog_keep_partitioned(cat, keep);
	free(keep);
}

int
csel_apply_catalog(PGconn *src, const selection *sel, const selres *r, catalog *cat)
{
	bool	   *keep = xcalloc((size_t) cat->ntables + cat->nsequences + 1, sizeof(bool));

	for (int i = 0; i < cat->ntables; i++)
	{
		const selres_rel *x = selres_find(r, cat->tables[i].oid);

		/* Extensions' configuration tables are not selected: they come along. */
		keep[i] = x == NULL || (!x->why && !x->no_data);
	}
	catalog_keep_tables(cat, keep);
	for (int i = 0; i < cat->nsequences; i++)
		keep[i] = !rel_out(r, cat->sequences[i].display);
	catalog_keep_sequences(cat, keep);
	free(keep);
	keep_partitioned(src, r, cat);
	if (!r->large_objects)
		cat->nlargeobjects = 0;
	for (int i = 0; i < cat->ntables; i++)
		if (narrow_columns(src, sel, &cat->tables[i]) != 0)
			return -1;
	return 0;
}

/* Run statements on tgt in one transaction; 0 or -1 (logged). */
static int
run_in_transaction(PGconn *tgt, const char *what, strbuf *sql)
{
	char	   *all = str_printf("BEGIN; %sCOMMIT", strbuf_str(sql));
	int			rc = conn_exec_as(tgt, SIDE_TARGET, all, what);

	free(all);
	return rc;
}

int
csel_drop_columns(PGconn *tgt, const selection *sel)
{
	strbuf		sql = STRBUF_INIT;
	int			rc;

	if (sel->ncolumns == 0)
		return 0;
	for (int i = 0; i < sel->ncolumns; i++)
	{
		char	   *t = conn_qualified_name(tgt, sel->columns[i].schema, sel->columns[i].table);
		char	   *c = conn_quote_ident(tgt, sel->columns[i].column);

		strbuf_addf(&sql, "ALTER TABLE %s DROP COLUMN IF EXISTS %s; ", t, c);
		free(t);
		free(c);
	}
	rc = run_in_transaction(tgt, "drop the columns left out", &sql);
	strbuf_release(&sql);
	if (rc == 0)
		log_info("schema: %d columns left out", sel->ncolumns);
	return rc;
}

int
csel_rename(PGconn *tgt, const selection *sel)
{
	strbuf		sql = STRBUF_INIT;
	int			rc;

	if (sel->ntable_renames == 0 && sel->nschema_renames == 0)
		return 0;
	for (int i = 0; i < sel->ntable_renames; i++)
	{
		const sel_rename *rn = &sel->table_renames[i];
		char	   *t = conn_qualified_name(tgt, rn->schema, rn->from);
		char	   *to = conn_quote_ident(tgt, rn->to);

		strbuf_addf(&sql, "ALTER TABLE %s RENAME TO %s; ", t, to);
		free(t);
		free(to);
	}
	for (int i = 0; i < sel->nschema_renames; i++)
	{
		char	   *from = conn_quote_ident(tgt, sel->schema_renames[i].schema);
		char	   *to = conn_quote_ident(tgt, sel->schema_renames[i].to);

		strbuf_addf(&sql, "ALTER SCHEMA %s RENAME TO %s; ", from, to);
		free(from);
		free(to);
	}
	rc = run_in_transaction(tgt, "rename", &sql);
	strbuf_release(&sql);
	if (rc == 0)
		log_info("rename: %d schemas and %d tables renamed on the target",
				 sel->nschema_renames, sel->ntable_renames);
	return rc;
}
