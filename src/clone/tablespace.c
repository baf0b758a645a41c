/*
 * tablespace.c
 *		Where the clone puts tables and indexes.
 */
#include "clone/tablespace.h"

#include <stdlib.h>
#include <string.h>

#include "core/conn.h"
#include "util/log.h"
#include "util/str.h"

/* Relations the restore creates: not the system's, not an extension's. */
#define RESTORED_RELATION \
	" c.relpersistence <> 't'" \
	" AND n.nspname NOT IN ('pg_catalog', 'information_schema')" \
	" AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'" \
	" AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e" \
	"   WHERE e.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND e.deptype = 'e'" \
	"   AND e.objid = coalesce((SELECT i.indrelid FROM pg_catalog.pg_index i" \
	"     WHERE i.indexrelid = c.oid), c.oid))"

/* The source database's default tablespace, NULL for pg_default. */
#define DATABASE_DEFAULT \
	" (SELECT NULLIF(t.spcname::text, 'pg_default') FROM pg_catalog.pg_database d" \
	"   JOIN pg_catalog.pg_tablespace t ON t.oid = d.dattablespace" \
	"   WHERE d.datname = pg_catalog.current_database())"

static const char *const used_sql =
"SELECT t.spcname FROM pg_catalog.pg_class c"
" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
" JOIN pg_catalog.pg_tablespace t ON t.oid = c.reltablespace"
" WHERE c.relkind IN ('r', 'p', 'm', 'i', 'I') AND" RESTORED_RELATION
" UNION SELECT" DATABASE_DEFAULT
" ORDER BY 1";

/* The restored relations of kinds $1 that live outside pg_default. */
static const char *const place_sql =
"SELECT c.relkind, n.nspname, c.relname, coalesce(t.spcname," DATABASE_DEFAULT ")"
" FROM pg_catalog.pg_class c"
" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
" LEFT JOIN pg_catalog.pg_tablespace t ON t.oid = c.reltablespace"
" WHERE c.relkind::text = ANY ($1::text[]) AND" RESTORED_RELATION
" AND coalesce(t.spcname," DATABASE_DEFAULT ") IS NOT NULL"
" ORDER BY 2, 3";

bool
tablespace_map_add(tablespace_map *m, const char *arg)
{
	const char *eq = strchr(arg, '=');

	if (eq == NULL || eq == arg || eq[1] == '\0')
	{
		error("invalid value \"%s\" for option --tablespace-map", arg);
		log_hint("Give SRC=DST: the source's tablespace, then the target's.");
		return false;
	}
	for (int i = 0; i < m->n; i++)
	{
		if (strlen(m->src[i]) == (size_t) (eq - arg) &&
			strncmp(m->src[i], arg, (size_t) (eq - arg)) == 0)
		{
			error("tablespace \"%s\" is mapped twice", m->src[i]);
			return false;
		}
	}
	m->src = xrealloc(m->src, sizeof(char *) * (size_t) (m->n + 1));
	m->dst = xrealloc(m->dst, sizeof(char *) * (size_t) (m->n + 1));
	m->src[m->n] = xstrdup(arg);
	m->src[m->n][eq - arg] = '\0';
	m->dst[m->n] = xstrdup(eq + 1);
	m->n++;
	return true;
}

void
tablespace_map_release(tablespace_map *m)
{
	for (int i = 0; i < m->n; i++)
	{
		free(m->src[i]);
		free(m->dst[i]);
	}
	free(m->src);
	free(m->dst);
	memset(m, 0, sizeof(*m));
}

const char *
tablespace_map_lookup(const tablespace_map *m, const char *src)
{
	for (int i = 0; m && i < m->n; i++)
		if (strcmp(m->src[i], src) == 0)
			return m->dst[i];
	return src;
}

bool
tablespace_restore_without(const tablespace_map *m, bool none)
{
	return none || (m && m->n > 0);
}

char	  **
tablespace_used(PGconn *src)
{
	PGresult   *res = conn_query(src, SIDE_SOURCE, "list the tablespaces used",
								 used_sql, 0, NULL);
	char	  **names;
	int			n = 0;

	if (res == NULL)
		return NULL;
	names = xcalloc((size_t) PQntuples(res) + 1, sizeof(char *));
	for (int i = 0; i < PQntuples(res); i++)
		if (!PQgetisnull(res, i, 0))
			names[n++] = xstrdup(PQgetvalue(res, i, 0));
	PQclear(res);
	return names;
}

void
tablespace_free_names(char **names)
{
	for (int i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
}

void
tablespace_apply_catalog(catalog *cat, const tablespace_map *m, bool none)
{
	for (int i = 0; i < cat->nindexes; i++)
	{
		cat_index  *ix = &cat->indexes[i];
		char	   *dst;

		if (ix->tablespace == NULL)
			continue;
		dst = none ? NULL : xstrdup(tablespace_map_lookup(m, ix->tablespace));
		free(ix->tablespace);
		ix->tablespace = dst;
	}
}

/* ALTER ... SET TABLESPACE for row i of place_sql's result. */
static int
place_one(PGconn *tgt, const PGresult *res, int i, const tablespace_map *m)
{
	char		kind = PQgetvalue(res, i, 0)[0];
	const char *what = kind == 'm' ? "MATERIALIZED VIEW" :
		kind == 'i' || kind == 'I' ? "INDEX" : "TABLE";
	char	   *rel = conn_qualified_name(tgt, PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
	char	   *spc = conn_quote_ident(tgt, tablespace_map_lookup(m, PQgetvalue(res, i, 3)));
	char	   *sql = str_printf("ALTER %s IF EXISTS %s SET TABLESPACE %s", what, rel, spc);
	char	   *verb = str_printf("move %s.%s to tablespace %s", PQgetvalue(res, i, 1),
								  PQgetvalue(res, i, 2), spc);
	int			rc = conn_exec_as(tgt, SIDE_TARGET, sql, verb);

	free(verb);
	free(sql);
	free(spc);
	free(rel);
	return rc;
}

static int
place_all(PGconn *src, PGconn *tgt, const tablespace_map *m, const char *relkinds)
{
	strbuf		kinds = STRBUF_INIT;
	const char *params[1];
	PGresult   *res;
	int			rc = 0;

	strbuf_adds(&kinds, "{");
	for (const char *k = relkinds; *k; k++)
		strbuf_addf(&kinds, "%s%c", k == relkinds ? "" : ",", *k);
	strbuf_adds(&kinds, "}");
	params[0] = strbuf_str(&kinds);
	res = conn_query(src, SIDE_SOURCE, "list the relations in tablespaces", place_sql,
					 1, params);
	strbuf_release(&kinds);
	if (res == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res) && rc == 0; i++)
		rc = place_one(tgt, res, i, m);
	if (rc == 0 && PQntuples(res) > 0)
		log_debug("placed %d relations in their tablespaces", PQntuples(res));
	PQclear(res);
	return rc;
}

int
tablespace_place(const char *source, PGconn *tgt, const tablespace_map *m,
				 bool none, const char *relkinds)
{
	PGconn	   *src;
	int			rc;

	if (none)
		return 0;
	if ((src = conn_open(source, SIDE_SOURCE)) == NULL)
		return -1;
	rc = place_all(src, tgt, m, relkinds);
	PQfinish(src);
	return rc;
}
