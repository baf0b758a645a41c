/*
 * selres.c
 *		Resolve a selection against the source's catalogs.
 *
 * The patterns become regular expressions (selection.h) passed as text[]
 * parameters; the server matches every user relation against them in one
 * query.  Then, in rounds, pg_depend says what kept needs what left out.
 */
#include "core/selres.h"

#include <stdlib.h>
#include <string.h>

#include "core/conn.h"
#include "util/log.h"
#include "util/str.h"

#define USER_NS(n) \
	" " n ".nspname NOT IN ('pg_catalog', 'information_schema')" \
	" AND " n ".nspname !~ '^pg_toast' AND " n ".nspname !~ '^pg_temp_'"

#define NOT_EXT(catalog, oid) \
	" NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e" \
	" WHERE e.classid = '" catalog "'::pg_catalog.regclass" \
	" AND e.objid = " oid " AND e.deptype = 'e')"

#define MATCHES(s, r) \
	" EXISTS (SELECT 1 FROM ROWS FROM (pg_catalog.unnest(" s "::text[])," \
	" pg_catalog.unnest(" r "::text[])) p(s, r)" \
	" WHERE CASE WHEN p.s = '' THEN n.nspname = ANY ($9::text[])" \
	" ELSE n.nspname ~ p.s END AND c.relname ~ p.r)"

static const char *const rels_sql =
"WITH rel AS ("
" SELECT c.oid, c.relkind, n.nspname, c.relname,"
"  pg_catalog.pg_table_size(c.oid) AS bytes,"
"  n.nspname ~ ANY ($1::text[]) AS s_in, n.nspname ~ ANY ($2::text[]) AS s_out,"
   MATCHES("$3", "$4") " AS t_in," MATCHES("$5", "$6") " AS t_out,"
   MATCHES("$7", "$8") " AS t_nodata,"
"  (SELECT d.refobjid FROM pg_catalog.pg_depend d"
"   WHERE c.relkind = 'S' AND d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass"
"   AND d.objid = c.oid AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
"   AND d.deptype IN ('a', 'i') LIMIT 1) AS owner,"
"  CASE WHEN c.relispartition THEN pg_catalog.pg_partition_root(c.oid) END AS root"
" FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
" WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND c.relpersistence <> 't'"
" AND" USER_NS("n") " AND" NOT_EXT("pg_catalog.pg_class", "c.oid") "),"
" base AS (SELECT r.*, NOT r.s_out AND NOT r.t_out"
"  AND (NOT $10::boolean OR r.s_in OR r.t_in) AS keep FROM rel r)"
" SELECT b.oid, b.relkind, b.nspname, b.relname, b.bytes,"
" coalesce(o.keep, p.keep, b.keep OR (b.relkind = 'S' AND NOT b.s_out AND NOT b.t_out"
"  AND EXISTS (SELECT 1 FROM pg_catalog.pg_depend d"
"   JOIN pg_catalog.pg_attrdef ad ON ad.oid = d.objid JOIN base u ON u.oid = ad.adrelid"
"   WHERE d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass"
"   AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
"   AND d.refobjid = b.oid AND u.keep))),"
" coalesce(p.t_nodata, b.t_nodata)"
" FROM base b LEFT JOIN base o ON o.oid = b.owner LEFT JOIN base p ON p.oid = b.root"
" ORDER BY b.nspname, b.relname";

static const char *const schemas_sql =
"SELECT n.oid, n.nspname, n.nspname ~ ANY ($1::text[]), n.nspname ~ ANY ($2::text[])"
" FROM pg_catalog.pg_namespace n WHERE" USER_NS("n")
" AND" NOT_EXT("pg_catalog.pg_namespace", "n.oid") " ORDER BY 2";

/* The objects but relations of the schemas $1, by catalog. */
#define IN_SCHEMAS(catalog, column) \
	" UNION ALL SELECT '" catalog "'::pg_catalog.regclass::oid, x.oid" \
	" FROM " catalog " x WHERE x." column " = ANY ($1::oid[])"
static const char *const schema_objects_sql =
"SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass::oid, x.oid FROM pg_catalog.pg_proc x"
" WHERE x.pronamespace = ANY ($1::oid[])"
IN_SCHEMAS("pg_catalog.pg_type", "typnamespace")
IN_SCHEMAS("pg_catalog.pg_collation", "collnamespace")
IN_SCHEMAS("pg_catalog.pg_conversion", "connamespace")
IN_SCHEMAS("pg_catalog.pg_operator", "oprnamespace")
IN_SCHEMAS("pg_catalog.pg_opclass", "opcnamespace")
IN_SCHEMAS("pg_catalog.pg_opfamily", "opfnamespace")
IN_SCHEMAS("pg_catalog.pg_ts_config", "cfgnamespace")
IN_SCHEMAS("pg_catalog.pg_ts_dict", "dictnamespace")
IN_SCHEMAS("pg_catalog.pg_ts_parser", "prsnamespace")
IN_SCHEMAS("pg_catalog.pg_ts_template", "tmplnamespace")
IN_SCHEMAS("pg_catalog.pg_statistic_ext", "stxnamespace")
IN_SCHEMAS("pg_catalog.pg_extension", "extnamespace");

/*
 * What kept needs what left out ($1): through the relation itself or its
 * row type; the relation a dependent belongs to (a view through its
 * rule, a constraint, a default, a trigger), or a function; the
 * dependent described, and what it needs.
 */
#define REGCLASS(c) "'pg_catalog." c "'::pg_catalog.regclass"
/*
 * How messages name object (classid, objid): its kind, then its identity
 * in double quotes without the quotes of its identifiers, as PostgreSQL's
 * messages write names: table constraint "FK_x on public.InvoiceLine".
 */
#define DESCRIBE(classid, objid) \
	"(SELECT d_.type || ' \"' || pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(" \
	"d_.identity, '\"\"', pg_catalog.chr(1)), '\"', ''), pg_catalog.chr(1), '\"') || '\"'" \
	" FROM pg_catalog.pg_identify_object(" classid ", " objid ", 0) d_)"

static const char *const needs_sql =
"WITH refs AS ("
" SELECT " REGCLASS("pg_class") " AS classid, c.oid AS objid, c.oid AS rel"
" FROM pg_catalog.pg_class c WHERE c.oid = ANY ($1::oid[])"
" UNION ALL SELECT " REGCLASS("pg_type") ", c.reltype, c.oid"
" FROM pg_catalog.pg_class c WHERE c.oid = ANY ($1::oid[]) AND c.reltype <> 0)"
" SELECT DISTINCT x.rel, d.classid = " REGCLASS("pg_constraint") ", d.objid,"
" CASE WHEN d.classid IN (" REGCLASS("pg_rewrite") ", " REGCLASS("pg_class") ")"
"  THEN " DESCRIBE(REGCLASS("pg_class"), "x.rel")
"  ELSE " DESCRIBE("d.classid", "d.objid") " END,"
" " DESCRIBE(REGCLASS("pg_class"), "r.rel") ","
" d.classid IN (" REGCLASS("pg_rewrite") ", " REGCLASS("pg_class") "),"
" (SELECT n.nspname || '.' || c.relname || '.' || co.conname"
"  FROM pg_catalog.pg_constraint co JOIN pg_catalog.pg_class c ON c.oid = co.conrelid"
"  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE co.oid = d.objid),"
" (SELECT n.nspname || '.' || p.proname || '(' || pg_catalog.oidvectortypes(p.proargtypes) || ')'"
"  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace"
"  WHERE d.classid = " REGCLASS("pg_proc") " AND p.oid = d.objid),"
" (SELECT n.nspname FROM pg_catalog.pg_proc p"
"  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace"
"  WHERE d.classid = " REGCLASS("pg_proc") " AND p.oid = d.objid)"
" FROM refs r JOIN pg_catalog.pg_depend d ON d.refclassid = r.classid"
" AND d.refobjid = r.objid AND d.deptype = 'n'"
" CROSS JOIN LATERAL (SELECT CASE d.classid"
"  WHEN " REGCLASS("pg_rewrite") " THEN"
"   (SELECT w.ev_class FROM pg_catalog.pg_rewrite w WHERE w.oid = d.objid)"
"  WHEN " REGCLASS("pg_constraint") " THEN"
"   (SELECT nullif(co.conrelid, 0) FROM pg_catalog.pg_constraint co WHERE co.oid = d.objid"
"    AND co.conparentid = 0)"
"  WHEN " REGCLASS("pg_attrdef") " THEN"
"   (SELECT a.adrelid FROM pg_catalog.pg_attrdef a WHERE a.oid = d.objid)"
"  WHEN " REGCLASS("pg_trigger") " THEN"
"   (SELECT t.tgrelid FROM pg_catalog.pg_trigger t WHERE t.oid = d.objid)"
"  WHEN " REGCLASS("pg_class") " THEN d.objid END AS rel) x"
" WHERE (x.rel IS NOT NULL AND x.rel <> ALL ($1::oid[]) AND x.rel <> r.rel)"
" OR (d.classid = " REGCLASS("pg_proc") " AND" NOT_EXT("pg_catalog.pg_proc", "d.objid") ")"
" ORDER BY 4, 5";

/*
 * The foreign keys of the tables $2 (rows copied) into the tables $1
 * (rows left out): their rows would reference rows that are not there.
 */
static const char *const nodata_fks_sql =
"SELECT co.oid, n.nspname || '.' || c.relname || '.' || co.conname,"
" " DESCRIBE(REGCLASS("pg_constraint"), "co.oid") ","
" " DESCRIBE(REGCLASS("pg_class"), "co.confrelid")
" FROM pg_catalog.pg_constraint co JOIN pg_catalog.pg_class c ON c.oid = co.conrelid"
" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
" WHERE co.contype = 'f' AND co.conparentid = 0"
" AND co.confrelid = ANY ($1::oid[]) AND co.conrelid = ANY ($2::oid[])"
" ORDER BY 3";

/* The objects that need column $2 of table $1 (not its default or sequence). */
static const char *const column_needs_sql =
"SELECT DISTINCT " DESCRIBE("CASE WHEN d.classid ="
"  'pg_catalog.pg_rewrite'::pg_catalog.regclass THEN 'pg_catalog.pg_class'::pg_catalog.regclass"
"  ELSE d.classid END", "CASE WHEN d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass"
"  THEN (SELECT r.ev_class FROM pg_catalog.pg_rewrite r WHERE r.oid = d.objid)"
"  ELSE d.objid END")
" FROM pg_catalog.pg_depend d"
" WHERE d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
" AND d.refobjid = $1::oid AND d.refobjsubid = $2::int AND d.deptype IN ('n', 'a')"
" AND d.classid <> 'pg_catalog.pg_attrdef'::pg_catalog.regclass"
" AND NOT (d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND"
"  (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = d.objid) = 'S')"
" ORDER BY 1";

static const char *const column_sql =
"SELECT c.oid, a.attnum FROM pg_catalog.pg_attribute a"
" JOIN pg_catalog.pg_class c ON c.oid = a.attrelid"
" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
" WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = $3"
" AND a.attnum > 0 AND NOT a.attisdropped";

/* Functions whose body names schema $1 followed by a dot. */
static const char *const bodies_sql =
"SELECT p.oid::pg_catalog.regprocedure::text FROM pg_catalog.pg_proc p"
" JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace"
" WHERE" USER_NS("n") " AND" NOT_EXT("pg_catalog.pg_proc", "p.oid")
" AND pg_catalog.strpos(pg_catalog.lower(p.prosrc), pg_catalog.lower($1) || '.') > 0"
" ORDER BY 1";

static void
add_problem(selres *r, char *msg, const char *hint)
{
	r->problems = xrealloc(r->problems, sizeof(char *) * (size_t) (r->nproblems + 1));
	r->hints = xrealloc(r->hints, sizeof(char *) * (size_t) (r->nproblems + 1));
	r->problems[r->nproblems] = msg;
	r->hints[r->nproblems++] = hint ? xstrdup(hint) : NULL;
}

static void
add_warning(selres *r, char *msg)
{
	r->warnings = xrealloc(r->warnings, sizeof(char *) * (size_t) (r->nwarnings + 1));
	r->warnings[r->nwarnings++] = msg;
}

static void
add_named(selres_named **list, int *n, uint32_t oid, const char *name,
		  const char *display)
{
	*list = xrealloc(*list, sizeof(selres_named) * (size_t) (*n + 1));
	(*list)[*n].oid = oid;
	(*list)[*n].name = xstrdup(name);
	(*list)[(*n)++].display = xstrdup(display);
}

/* The text[] parameters of the patterns of kind k: schemas, then names. */
static void
pattern_arrays(const selection *sel, sel_kind k, char **schemas, char **names)
{
	int			n = sel->npatterns[k];
	char	  **s = xcalloc((size_t) n + 1, sizeof(char *));
	char	  **r = xcalloc((size_t) n + 1, sizeof(char *));

	for (int i = 0; i < n; i++)
	{
		char	   *msg = sel_pattern_regex(sel->patterns[k][i], k <= SEL_EXCLUDE_SCHEMA,
											&s[i], &r[i]);

		free(msg);				/* checked when the pattern was added */
		if (s[i] == NULL)
			s[i] = xstrdup("");
		if (r[i] == NULL)
			r[i] = xstrdup("");
	}
	*schemas = str_text_array((const char *const *) s, n);
	*names = str_text_array((const char *const *) r, n);
	for (int i = 0; i < n; i++)
	{
		free(s[i]);
		free(r[i]);
	}
	free(s);
	free(r);
}

/*
 * The schemas of the source role's default search_path, where a table
 * pattern without a schema matches (the session's own is empty).
 */
static char *
default_schemas(PGconn *src)
{
	PGresult   *res;
	char	   *v = NULL;

	res = conn_query(src, SIDE_SOURCE, "read the default search_path",
					 "SELECT pg_catalog.set_config('search_path', reset_val, false)"
					 " FROM pg_catalog.pg_settings WHERE name = 'search_path'", 0, NULL);
	if (res == NULL)
		return NULL;
	PQclear(res);
	res = conn_query(src, SIDE_SOURCE, "read the default search_path",
					 "SELECT pg_catalog.current_schemas(false)::text", 0, NULL);
	if (res)
		v = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (conn_exec(src, SIDE_SOURCE,
				  "SELECT pg_catalog.set_config('search_path', '', false)") != 0)
	{
		free(v);
		return NULL;
	}
	return v;
}

static bool
has_include(const selection *sel)
{
	return sel->npatterns[SEL_INCLUDE_SCHEMA] > 0 || sel->npatterns[SEL_INCLUDE_TABLE] > 0;
}

static int
read_rels(PGconn *src, const selection *sel, selres *r)
{
	char	   *arr[10] = {0};
	PGresult   *res = NULL;
	int			rc = -1;

	pattern_arrays(sel, SEL_INCLUDE_SCHEMA, &arr[0], &arr[9]);
	free(arr[9]);
	pattern_arrays(sel, SEL_EXCLUDE_SCHEMA, &arr[1], &arr[9]);
	free(arr[9]);
	pattern_arrays(sel, SEL_INCLUDE_TABLE, &arr[2], &arr[3]);
	pattern_arrays(sel, SEL_EXCLUDE_TABLE, &arr[4], &arr[5]);
	pattern_arrays(sel, SEL_EXCLUDE_TABLE_DATA, &arr[6], &arr[7]);
	arr[8] = default_schemas(src);
	arr[9] = xstrdup(has_include(sel) ? "true" : "false");
	if (arr[8])
		res = conn_query(src, SIDE_SOURCE, "match the selection", rels_sql, 10,
						 (const char *const *) arr);
	if (res)
	{
		r->nrels = PQntuples(res);
		r->rels = xcalloc((size_t) r->nrels + 1, sizeof(selres_rel));
		for (int i = 0; i < r->nrels; i++)
		{
			selres_rel *x = &r->rels[i];

			x->oid = (uint32_t) strtoul(PQgetvalue(res, i, 0), NULL, 10);
			x->kind = PQgetvalue(res, i, 1)[0];
			x->nspname = xstrdup(PQgetvalue(res, i, 2));
			x->relname = xstrdup(PQgetvalue(res, i, 3));
			x->display = str_printf("%s.%s", x->nspname, x->relname);
			str_to_int64(PQgetvalue(res, i, 4), &x->bytes);
			if (PQgetvalue(res, i, 5)[0] != 't')
				x->why = xstrdup("selection");
			x->no_data = !x->why && PQgetvalue(res, i, 6)[0] == 't' &&
				strchr("rpm", x->kind) != NULL;
		}
		PQclear(res);
		rc = 0;
	}
	for (int i = 0; i < 10; i++)
		free(arr[i]);
	return rc;
}

static bool
schema_has_kept(const selres *r, const char *nsp)
{
	for (int i = 0; i < r->nrels; i++)
		if (!r->rels[i].why && strcmp(r->rels[i].nspname, nsp) == 0)
			return true;
	return false;
}

static int
read_schema_objects(PGconn *src, selres *r)
{
	strbuf		sb = STRBUF_INIT;
	const char *params[1];
	PGresult   *res;

	if (r->nschemas_out == 0)
		return 0;
	strbuf_adds(&sb, "{");
	for (int i = 0; i < r->nschemas_out; i++)
		strbuf_addf(&sb, "%s%u", i ? "," : "", r->schemas_out[i].oid);
	strbuf_adds(&sb, "}");
	params[0] = strbuf_str(&sb);
	res = conn_query(src, SIDE_SOURCE, "list the objects of the schemas left out",
					 schema_objects_sql, 1, params);
	strbuf_release(&sb);
	if (res == NULL)
		return -1;
	r->nobjects_out = PQntuples(res);
	r->objects_out = xcalloc((size_t) r->nobjects_out + 1, sizeof(selres_key));
	for (int i = 0; i < r->nobjects_out; i++)
	{
		r->objects_out[i].catalog = (uint32_t) strtoul(PQgetvalue(res, i, 0), NULL, 10);
		r->objects_out[i].oid = (uint32_t) strtoul(PQgetvalue(res, i, 1), NULL, 10);
	}
	PQclear(res);
	return 0;
}

static int
read_schemas(PGconn *src, const selection *sel, selres *r)
{
	char	   *arr[3] = {NULL, NULL, NULL};
	PGresult   *res;

	pattern_arrays(sel, SEL_INCLUDE_SCHEMA, &arr[0], &arr[2]);
	free(arr[2]);
	pattern_arrays(sel, SEL_EXCLUDE_SCHEMA, &arr[1], &arr[2]);
	res = conn_query(src, SIDE_SOURCE, "match the selection", schemas_sql, 2,
					 (const char *const *) arr);
	for (int i = 0; i < 3; i++)
		free(arr[i]);
	if (res == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res); i++)
	{
		const char *nsp = PQgetvalue(res, i, 1);
		bool		in = PQgetvalue(res, i, 2)[0] == 't';
		bool		out = PQgetvalue(res, i, 3)[0] == 't';

		if (out || (has_include(sel) && !in && !schema_has_kept(r, nsp)))
			add_named(&r->schemas_out, &r->nschemas_out,
					  (uint32_t) strtoul(PQgetvalue(res, i, 0), NULL, 10), nsp, nsp);
	}
	PQclear(res);
	return read_schema_objects(src, r);
}

static bool schema_out(const selres *r, const char *nsp);

static selres_rel *
find_rel(const selres *r, uint32_t oid)
{
	for (int i = 0; i < r->nrels; i++)
		if (r->rels[i].oid == oid)
			return &r->rels[i];
	return NULL;
}

const selres_rel *
selres_find(const selres *r, uint32_t oid)
{
	return find_rel(r, oid);
}

static char *
out_oids(const selres *r)
{
	strbuf		sb = STRBUF_INIT;
	int			n = 0;

	strbuf_adds(&sb, "{");
	for (int i = 0; i < r->nrels; i++)
		if (r->rels[i].why)
			strbuf_addf(&sb, "%s%u", n++ ? "," : "", r->rels[i].oid);
	strbuf_adds(&sb, "}");
	return strbuf_detach(&sb);
}

static bool
constraint_dropped(const selres *r, uint32_t oid)
{
	for (int i = 0; i < r->nconstraints_out; i++)
		if (r->constraints_out[i].oid == oid)
			return true;
	return false;
}

/*
 * One round of what kept needs what left out; *more is set when
 * exclude_dependents left a relation out, so another round is needed.
 */
/* Whether r leaves out the function with this OID already. */
static bool
function_out(const selres *r, uint32_t oid)
{
	for (int i = 0; i < r->nfunctions_out; i++)
		if (r->functions_out[i].oid == oid)
			return true;
	return false;
}

/* One row of needs_sql: a problem, or (exclude_dependents) more left out. */
static void
one_need(PGresult *res, int i, const selection *sel, selres *r, bool *more)
{
	selres_rel *rel = PQgetisnull(res, i, 0) ? NULL :
		find_rel(r, (uint32_t) strtoul(PQgetvalue(res, i, 0), NULL, 10));
	uint32_t	objid = (uint32_t) strtoul(PQgetvalue(res, i, 2), NULL, 10);
	bool		is_con = PQgetvalue(res, i, 1)[0] == 't';
	bool		is_rel = PQgetvalue(res, i, 5)[0] == 't';
	bool		is_func = !PQgetisnull(res, i, 7);

	if (is_func && (schema_out(r, PQgetvalue(res, i, 8)) || function_out(r, objid)))
		return;
	if (!is_func && (rel == NULL || rel->why))
		return;
	if (sel->exclude_dependents && is_rel)
	{
		rel->why = xstrdup(PQgetvalue(res, i, 4));
		*more = true;
	}
	else if (sel->exclude_dependents && is_func)
		add_named(&r->functions_out, &r->nfunctions_out, objid,
				  PQgetvalue(res, i, 7), PQgetvalue(res, i, 3));
	else if (sel->exclude_dependents && is_con && !PQgetisnull(res, i, 6))
	{
		if (!constraint_dropped(r, objid))
			add_named(&r->constraints_out, &r->nconstraints_out, objid,
					  PQgetvalue(res, i, 6), PQgetvalue(res, i, 3));
	}
	else
		add_problem(r, str_printf("%s needs %s, which the selection leaves out",
								  PQgetvalue(res, i, 3), PQgetvalue(res, i, 4)),
					is_rel || is_con || is_func ?
					"Select both, or use --exclude-dependents to leave the dependent out too." :
					"Select both.");
}

/*
 * One round of what kept needs what left out; *more is set when
 * exclude_dependents left a relation out, so another round is needed.
 */
static int
dependents_round(PGconn *src, const selection *sel, selres *r, bool *more)
{
	char	   *oids = out_oids(r);
	const char *params[1] = {oids};
	PGresult   *res = conn_query(src, SIDE_SOURCE, "read what the selection leaves out",
								 needs_sql, 1, params);

	free(oids);
	*more = false;
	if (res == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res); i++)
		one_need(res, i, sel, r, more);
	PQclear(res);
	return 0;
}

/* The OIDs of the tables kept whose rows are (copied) or are not, as oid[]. */
static char *
table_oids(const selres *r, bool no_data)
{
	strbuf		sb = STRBUF_INIT;
	int			n = 0;

	strbuf_adds(&sb, "{");
	for (int i = 0; i < r->nrels; i++)
		if (!r->rels[i].why && strchr("rp", r->rels[i].kind) &&
			r->rels[i].no_data == no_data)
			strbuf_addf(&sb, "%s%u", n++ ? "," : "", r->rels[i].oid);
	strbuf_adds(&sb, "}");
	return strbuf_detach(&sb);
}

/* Foreign keys into the tables whose rows stay behind (see nodata_fks_sql). */
static int
check_nodata_fks(PGconn *src, const selection *sel, selres *r)
{
	char	   *params[2];
	PGresult   *res;

	if (sel->npatterns[SEL_EXCLUDE_TABLE_DATA] == 0)
		return 0;
	params[0] = table_oids(r, true);
	params[1] = table_oids(r, false);
	res = conn_query(src, SIDE_SOURCE, "read the foreign keys into tables without rows",
					 nodata_fks_sql, 2, (const char *const *) params);
	free(params[0]);
	free(params[1]);
	if (res == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res); i++)
	{
		if (sel->exclude_dependents)
			add_named(&r->constraints_out, &r->nconstraints_out,
					  (uint32_t) strtoul(PQgetvalue(res, i, 0), NULL, 10),
					  PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
		else
			add_problem(r, str_printf("%s references %s, whose rows the selection leaves out",
									  PQgetvalue(res, i, 2), PQgetvalue(res, i, 3)),
						"Leave out the rows of the referencing table too, or use --exclude-dependents to drop the foreign key.");
	}
	PQclear(res);
	return 0;
}

static int
check_dependents(PGconn *src, const selection *sel, selres *r)
{
	bool		more = true;

	for (int round = 0; more && round < 100; round++)
		if (dependents_round(src, sel, r, &more) != 0)
			return -1;
	return check_nodata_fks(src, sel, r);
}

/* --exclude-column: the column exists, is kept, and nothing needs it. */
static int
check_column(PGconn *src, const sel_column *col, selres *r)
{
	const char *p[3] = {col->schema, col->table, col->column};
	PGresult   *res = conn_query(src, SIDE_SOURCE, "find the column to leave out",
								 column_sql, 3, p);
	PGresult   *deps;
	const char *q[2];

	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1 || selres_rel_out(r, col->schema, col->table))
	{
		add_problem(r, str_printf("column \"%s.%s.%s\" of --exclude-column is not in a selected table of the source",
								  col->schema, col->table, col->column), NULL);
		PQclear(res);
		return 0;
	}
	q[0] = PQgetvalue(res, 0, 0);
	q[1] = PQgetvalue(res, 0, 1);
	deps = conn_query(src, SIDE_SOURCE, "read what needs the column", column_needs_sql, 2, q);
	PQclear(res);
	if (deps == NULL)
		return -1;
	for (int i = 0; i < PQntuples(deps); i++)
		add_problem(r, str_printf("column \"%s.%s.%s\" cannot be left out: %s needs it",
								  col->schema, col->table, col->column,
								  PQgetvalue(deps, i, 0)),
					"Leave out the object that needs it too, or keep the column.");
	PQclear(deps);
	return 0;
}

static bool
schema_out(const selres *r, const char *nsp)
{
	for (int i = 0; i < r->nschemas_out; i++)
		if (strcmp(r->schemas_out[i].name, nsp) == 0)
			return true;
	return false;
}

static bool
schema_exists(const selres *r, const char *nsp, bool kept_only)
{
	for (int i = 0; i < r->nrels; i++)
		if (strcmp(r->rels[i].nspname, nsp) == 0 && (!kept_only || !r->rels[i].why))
			return true;
	return false;
}

/* A schema rename: OLD selected, NEW free, functions naming OLD listed. */
static int
check_schema_rename(PGconn *src, const selection *sel, const sel_rename *rn, selres *r)
{
	const char *p[1] = {rn->schema};
	PGresult   *res;

	if (schema_out(r, rn->schema) || !schema_exists(r, rn->schema, false))
		add_problem(r, str_printf("schema \"%s\" of --rename-schema is not a selected schema of the source",
								  rn->schema), NULL);
	if (strcmp(sel_schema_target(sel, rn->to), rn->to) == 0 &&
		schema_exists(r, rn->to, true))
		add_problem(r, str_printf("--rename-schema %s=%s: schema \"%s\" is selected on the source too",
								  rn->schema, rn->to, rn->to),
					"Rename it as well, or leave it out.");
	res = conn_query(src, SIDE_SOURCE, "read the function bodies", bodies_sql, 1, p);
	if (res == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res); i++)
		add_warning(r, str_printf("the body of function %s names schema \"%s\", which is renamed to \"%s\": function bodies are not rewritten",
								  PQgetvalue(res, i, 0), rn->schema, rn->to));
	PQclear(res);
	return 0;
}

static void
check_table_rename(const sel_rename *rn, selres *r)
{
	bool		found = false,
				taken = false;

	for (int i = 0; i < r->nrels; i++)
	{
		const selres_rel *x = &r->rels[i];

		if (strcmp(x->nspname, rn->schema) != 0 || x->why)
			continue;
		found = found || strcmp(x->relname, rn->from) == 0;
		taken = taken || strcmp(x->relname, rn->to) == 0;
	}
	if (!found)
		add_problem(r, str_printf("table \"%s.%s\" of --rename-table is not a selected relation of the source",
								  rn->schema, rn->from), NULL);
	if (taken)
		add_problem(r, str_printf("--rename-table %s.%s=%s: relation \"%s.%s\" exists on the source too",
								  rn->schema, rn->from, rn->to, rn->schema, rn->to), NULL);
}

static int
check_transformations(PGconn *src, const selection *sel, selres *r)
{
	for (int i = 0; i < sel->ncolumns; i++)
		if (check_column(src, &sel->columns[i], r) != 0)
			return -1;
	for (int i = 0; i < sel->nschema_renames; i++)
		if (check_schema_rename(src, sel, &sel->schema_renames[i], r) != 0)
			return -1;
	for (int i = 0; i < sel->ntable_renames; i++)
		check_table_rename(&sel->table_renames[i], r);
	return 0;
}

static int
read_large_objects(PGconn *src, const selection *sel, selres *r)
{
	PGresult   *res = conn_query(src, SIDE_SOURCE, "count large objects",
								 "SELECT count(*) FROM pg_catalog.pg_largeobject_metadata",
								 0, NULL);
	bool		whole = sel->npatterns[SEL_INCLUDE_SCHEMA] == 0 &&
		sel->npatterns[SEL_EXCLUDE_SCHEMA] == 0 &&
		sel->npatterns[SEL_INCLUDE_TABLE] == 0 &&
		sel->npatterns[SEL_EXCLUDE_TABLE] == 0;

	if (res == NULL)
		return -1;
	str_to_int64(PQgetvalue(res, 0, 0), &r->nlargeobjects);
	PQclear(res);
	r->large_objects = sel->large_objects == SEL_LO_INCLUDE ||
		(sel->large_objects == SEL_LO_DEFAULT && whole);
	return 0;
}

int
selres_read(PGconn *src, const selection *sel, selres *r)
{
	memset(r, 0, sizeof(*r));
	if (read_rels(src, sel, r) != 0 || read_schemas(src, sel, r) != 0 ||
		check_dependents(src, sel, r) != 0 || check_transformations(src, sel, r) != 0 ||
		read_large_objects(src, sel, r) != 0)
		return -1;
	return 0;
}

int
selres_check_target(PGconn *tgt, const selection *sel, selres *r)
{
	for (int i = 0; i < sel->nschema_renames; i++)
	{
		const char *p[1] = {sel->schema_renames[i].to};
		PGresult   *res = NULL;

		if (tgt && (res = conn_query(tgt, SIDE_TARGET, "look for the renamed schema",
									 "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1",
									 1, p)) == NULL)
			return -1;
		if ((res && PQntuples(res) > 0) || strcmp(p[0], "public") == 0)
			add_problem(r, str_printf("schema \"%s\" of --rename-schema %s=%s already exists on the target",
									  p[0], sel->schema_renames[i].schema, p[0]),
						"Choose another name, or drop the schema on the target.");
		PQclear(res);
	}
	return 0;
}

bool
selres_rel_out(const selres *r, const char *nspname, const char *relname)
{
	for (int i = 0; i < r->nrels; i++)
		if (strcmp(r->rels[i].nspname, nspname) == 0 &&
			strcmp(r->rels[i].relname, relname) == 0)
			return r->rels[i].why != NULL;
	return false;
}

int
selres_count(const selres *r, char kind, bool out)
{
	int			n = 0;

	for (int i = 0; i < r->nrels; i++)
	{
		char		k = r->rels[i].kind == 'p' ? 'r' : r->rels[i].kind;

		if ((kind == 't' ? k == 'r' : k == kind) && (r->rels[i].why != NULL) == out)
			n++;
	}
	return n;
}

static void
free_named(selres_named *l, int n)
{
	for (int i = 0; i < n; i++)
	{
		free(l[i].name);
		free(l[i].display);
	}
	free(l);
}

void
selres_release(selres *r)
{
	for (int i = 0; i < r->nrels; i++)
	{
		free(r->rels[i].nspname);
		free(r->rels[i].relname);
		free(r->rels[i].display);
		free(r->rels[i].why);
	}
	free(r->rels);
	free_named(r->schemas_out, r->nschemas_out);
	free_named(r->constraints_out, r->nconstraints_out);
	free_named(r->functions_out, r->nfunctions_out);
	free(r->objects_out);
	for (int i = 0; i < r->nproblems; i++)
	{
		free(r->problems[i]);
		free(r->hints[i]);
	}
	free(r->problems);
	free(r->hints);
	for (int i = 0; i < r->nwarnings; i++)
		free(r->warnings[i]);
	free(r->warnings);
	memset(r, 0, sizeof(*r));
}
