/*
 * verify_schema.c
 *		Compare the object inventories of the source and the target.
 *
 * Each inventory query returns one row per object: its kind ("table",
 * "index", ...), its name ("public.t", "public.t.c" for a column,
 * "public.f(integer)" for a function), the name of the object it belongs
 * to, then any number of properties whose column names name them in
 * messages ("type", "definition", "owner", ...).  The same query runs on
 * both sides at once; the two results are sorted by kind and name here
 * (not by the servers, whose collations may differ) and merged:
 *
 *		only on the source	-> missing on target: KIND "NAME"
 *		only on the target	-> extra on target: KIND "NAME"
 *		on both				-> differs: KIND "NAME" (PROPERTY SRC vs TGT)
 *
 * The database itself is one row a side, paired whatever its name.  An
 * object whose parent is itself missing (or extra) is not reported
 * again: a missing table is one line, not one per column and index.  The
 * queries run parents first (schemas, types, relations, then what hangs
 * off them) and the names found missing or extra are remembered for the
 * queries that follow.
 *
 * Definitions come from the servers' own deparsers (pg_get_indexdef,
 * pg_get_functiondef, pg_get_viewdef, ...), which the session's
 * search_path of pg_catalog makes print qualified names on both sides.
 * The queries use only catalogs and functions present in PostgreSQL 12
 * and later; where a newer server stores more (NOT NULL constraints in
 * pg_constraint since 18, cloned partition triggers), it is left out so
 * that servers of different versions agree.
 */
#include "verify/verify_schema.h"

#include <stdlib.h>
#include <string.h>

#include "core/conn.h"
#include "util/log.h"
#include "util/str.h"
#include "verify/verify_sql.h"

#define COMMENT(catalog, oid) \
	"(SELECT d.description FROM pg_description d WHERE d.classoid = '" \
	catalog "'::regclass AND d.objoid = " oid " AND d.objsubid = 0) " \
	"AS comment"

/*
 * Privileges are compared as they take effect: an ACL the catalog does not
 * store (NULL) is the default of its kind of object (acldefault: 'r'
 * relation, 's' sequence, 'c' column, 'f' function, 'T' type, 'n' schema,
 * 'd' database), so an explicit ACL equal to the default, which a GRANT
 * then a REVOKE leave and pg_dump does not print, equals none.  Twice:
 * "acl", the effective ACL unless it is the default for the owner (so that
 * another owner is one difference, not two), and "grants", the effective
 * ACL without the owner's own privileges and without grantors, which is
 * what remains comparable when the objects have another owner on the
 * target.
 */
#define EFFECTIVE_ACL(acl, kind, owner) \
	"coalesce(" acl ", acldefault(" kind ", " owner "))"
#define ACL_OF(eacl, kind, owner) \
	"nullif(" eacl ", acldefault(" kind ", " owner "))::text AS acl, " \
	"(SELECT string_agg(g.p, ', ' ORDER BY g.p) FROM (SELECT " \
	"CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee) " \
	"END || ' ' || x.privilege_type || CASE WHEN x.is_grantable " \
	"THEN ' WITH GRANT OPTION' ELSE '' END AS p FROM aclexplode(" eacl ") x " \
	"WHERE x.grantee <> " owner ") g) AS grants"
#define ACL(acl, kind, owner) \
	ACL_OF(EFFECTIVE_ACL(acl, kind, owner), kind, owner)

typedef struct inventory
{
	const char *what;			/* for messages: could not read <what> */
	const char *sql;
	const char *sql_before13;	/* for servers before 13, or NULL */
	bool		single;			/* one row a side, paired whatever its name */
} inventory;

/*
 * Settings one a line: those of the database ("ALTER DATABASE ... SET"),
 * or of the roles in it ("ALTER ROLE ... IN DATABASE ... SET").
 */
#define DB_SETTINGS(role_test, prefix) \
	"(SELECT string_agg(" prefix "x, ', ' ORDER BY " prefix "x) " \
	"FROM pg_db_role_setting s, unnest(s.setconfig) AS x " \
	"WHERE s.setdatabase = d.oid AND s.setrole " role_test ")"

static const inventory inventories[] = {
	/*
	 * The database itself, whatever its name on each side.  The columns of
	 * pg_database for locales changed across versions (ICU since 15,
	 * datlocale since 17): to_jsonb reads whichever exist.
	 */
	{"database",
		"SELECT 'database', d.datname, NULL, "
		"pg_get_userbyid(d.datdba) AS owner, "
		"pg_encoding_to_char(d.encoding) AS encoding, "
		"coalesce(j->>'datlocprovider', 'c') AS \"locale provider\", "
		"j->>'datcollate' AS collate, j->>'datctype' AS ctype, "
		"coalesce(j->>'daticulocale', j->>'datlocale') AS locale, "
		"j->>'daticurules' AS \"icu rules\", "
		"d.datconnlimit AS \"connection limit\", "
		"CASE WHEN d.datistemplate THEN 'template' END AS template, "
		ACL("d.datacl", "'d'", "d.datdba") ", "
		"(SELECT sd.description FROM pg_shdescription sd "
		" WHERE sd.classoid = 'pg_database'::regclass AND sd.objoid = d.oid) "
		"AS comment, "
		"(SELECT string_agg(l.provider || ' ' || l.label, ', ' "
		"  ORDER BY l.provider) FROM pg_shseclabel l "
		" WHERE l.classoid = 'pg_database'::regclass AND l.objoid = d.oid) "
		"AS \"security labels\", "
		DB_SETTINGS("= 0", "") " AS settings, "
		DB_SETTINGS("<> 0", "pg_get_userbyid(s.setrole) || ' ' || ")
		" AS \"role settings\" "
		"FROM pg_database d, to_jsonb(d) AS j "
		"WHERE d.datname = current_database()",
	NULL, true},
	{"schemas",
		"SELECT 'schema', n.nspname, NULL, "
		"pg_get_userbyid(n.nspowner) AS owner, "
		ACL("n.nspacl", "'n'", "n.nspowner") ", "
		COMMENT("pg_namespace", "n.oid") " "
		"FROM pg_namespace n "
		"WHERE " VSQL_USER_NS("n") " AND " VSQL_NOT_EXT("pg_namespace", "n.oid"),
	NULL, false},
	{"extensions",
		"SELECT 'extension', x.extname, NULL, x.extversion AS version, "
		"n.nspname AS schema "
		"FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace",
	NULL, false},
	{"types",
		"SELECT CASE t.typtype WHEN 'd' THEN 'domain' ELSE 'type' END, "
		"n.nspname || '.' || t.typname, n.nspname, "
		"CASE t.typtype WHEN 'b' THEN 'base' WHEN 'c' THEN 'composite' "
		"  WHEN 'd' THEN 'domain' WHEN 'e' THEN 'enum' WHEN 'r' THEN 'range' "
		"END AS \"type kind\", "
		"CASE t.typtype "
		" WHEN 'd' THEN format_type(t.typbasetype, t.typtypmod) "
		"  || CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END "
		"  || coalesce(' DEFAULT ' || t.typdefault, '') "
		" WHEN 'e' THEN (SELECT string_agg(quote_literal(e.enumlabel), ', ' "
		"  ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) "
		" WHEN 'c' THEN (SELECT string_agg(quote_ident(a.attname) || ' ' "
		"  || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum) "
		"  FROM pg_attribute a WHERE a.attrelid = t.typrelid "
		"  AND a.attnum > 0 AND NOT a.attisdropped) "
		" WHEN 'r' THEN (SELECT concat_ws(' ', "
		"  'subtype ' || format_type(r.rngsubtype, NULL), "
		"  'subtype_diff ' || nullif(r.rngsubdiff::oid, 0)::regproc::text, "
		"  'canonical ' || nullif(r.rngcanonical::oid, 0)::regproc::text) "
		"  FROM pg_range r WHERE r.rngtypid = t.oid) "
		" ELSE concat_ws(' ', 'input ' || t.typinput::text, "
		"  'output ' || t.typoutput::text, "
		"  'receive ' || nullif(t.typreceive::oid, 0)::regproc::text, "
		"  'send ' || nullif(t.typsend::oid, 0)::regproc::text, "
		"  'length ' || t.typlen, 'alignment ' || t.typalign::text, "
		"  'storage ' || t.typstorage::text) "
		"END AS definition, "
		"CASE WHEN t.typtype = 'd' AND t.typcollation <> "
		" (SELECT b.typcollation FROM pg_type b WHERE b.oid = t.typbasetype) "
		" THEN (SELECT cn.nspname || '.' || co.collname FROM pg_collation co "
		"  JOIN pg_namespace cn ON cn.oid = co.collnamespace "
		"  WHERE co.oid = t.typcollation) END AS collation, "
		"pg_get_userbyid(t.typowner) AS owner, "
		ACL("t.typacl", "'T'", "t.typowner") ", "
		COMMENT("pg_type", "t.oid") " "
		"FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
		"WHERE t.typtype IN ('b', 'c', 'd', 'e', 'r') "
		"AND " VSQL_USER_NS("n") " AND " VSQL_NOT_EXT("pg_type", "t.oid") " "
		"AND (t.typtype <> 'c' OR EXISTS (SELECT 1 FROM pg_class c "
		"  WHERE c.oid = t.typrelid AND c.relkind = 'c')) "
		"AND NOT EXISTS (SELECT 1 FROM pg_type el "
		"  WHERE el.oid = t.typelem AND el.typarray = t.oid)",
	NULL, false},
	{"relations",
		"SELECT CASE c.relkind WHEN 'v' THEN 'view' "
		" WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' "
		" WHEN 'f' THEN 'foreign table' ELSE 'table' END, "
		"n.nspname || '.' || c.relname, n.nspname, "
		"CASE c.relkind WHEN 'p' THEN 'partitioned' WHEN 'r' THEN 'plain' "
		"END AS \"table kind\", "
		"pg_get_partkeydef(c.oid) AS \"partition key\", "
		"CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) "
		"END AS \"partition bound\", "
		"(SELECT string_agg(pn.nspname || '.' || p.relname, ', ' "
		"  ORDER BY i.inhseqno) FROM pg_inherits i "
		"  JOIN pg_class p ON p.oid = i.inhparent "
		"  JOIN pg_namespace pn ON pn.oid = p.relnamespace "
		"  WHERE i.inhrelid = c.oid) AS parents, "
		"CASE WHEN c.relpersistence = 'u' THEN 'unlogged' END AS persistence, "
		"(SELECT a.amname FROM pg_am a WHERE a.oid = c.relam "
		"  AND c.relkind IN ('r', 'm')) AS \"access method\", "
		"CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) "
		"END AS definition, "
		"CASE WHEN c.relkind = 'm' AND NOT c.relispopulated "
		" THEN 'not populated' END AS populated, "
		"array_to_string(c.reloptions, ', ') AS options, "
		"CASE WHEN c.relforcerowsecurity THEN 'forced' "
		" WHEN c.relrowsecurity THEN 'enabled' END AS \"row security\", "
		"CASE WHEN c.relkind IN ('r', 'p') THEN CASE c.relreplident "
		" WHEN 'f' THEN 'full' WHEN 'n' THEN 'nothing' "
		" WHEN 'i' THEN 'index ' || (SELECT ic.relname FROM pg_index i "
		"  JOIN pg_class ic ON ic.oid = i.indexrelid "
		"  WHERE i.indrelid = c.oid AND i.indisreplident) END "
		"END AS \"replica identity\", "
		"format_type(s.seqtypid, NULL) AS \"data type\", "
		"s.seqstart AS start, s.seqincrement AS increment, "
		"s.seqmin AS minvalue, s.seqmax AS maxvalue, s.seqcache AS cache, "
		"CASE WHEN s.seqcycle THEN 'cycle' END AS cycle, "
		"pg_get_userbyid(c.relowner) AS owner, "
		ACL("c.relacl",
			"(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END)::\"char\"",
			"c.relowner") ", "
		COMMENT("pg_class", "c.oid") " "
		"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
		"LEFT JOIN pg_sequence s ON s.seqrelid = c.oid "
		"WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') "
		"AND c.relpersistence <> 't' "
		"AND " VSQL_USER_NS("n") " AND " VSQL_NOT_EXT("pg_class", "c.oid"),
	NULL, false},
	{"columns",
		"SELECT 'column', n.nspname || '.' || c.relname || '.' || a.attname, "
		"n.nspname || '.' || c.relname, "
		"format_type(a.atttypid, a.atttypmod) AS type, "
		"row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum) "
		"AS position, "
		"CASE WHEN a.attnotnull THEN 'NOT NULL' ELSE 'NULL' "
		"END AS nullability, "
		"CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, ad.adrelid) "
		"END AS \"default\", "
		"CASE a.attidentity WHEN 'a' THEN 'GENERATED ALWAYS' "
		" WHEN 'd' THEN 'GENERATED BY DEFAULT' END AS identity, "
		"CASE WHEN a.attgenerated <> '' THEN "
		" pg_get_expr(ad.adbin, ad.adrelid) || CASE a.attgenerated "
		"  WHEN 's' THEN ' STORED' ELSE ' VIRTUAL' END END AS generated, "
		"CASE WHEN a.attcollation <> t.typcollation THEN "
		" (SELECT cn.nspname || '.' || co.collname FROM pg_collation co "
		"  JOIN pg_namespace cn ON cn.oid = co.collnamespace "
		"  WHERE co.oid = a.attcollation) END AS collation, "
		"CASE WHEN a.attstattarget >= 0 THEN a.attstattarget "
		"END AS \"statistics target\", "
		ACL("a.attacl", "'c'", "c.relowner") ", "
		"(SELECT d.description FROM pg_description d "
		" WHERE d.classoid = 'pg_class'::regclass AND d.objoid = c.oid "
		" AND d.objsubid = a.attnum) AS comment "
		"FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
		"JOIN pg_namespace n ON n.oid = c.relnamespace "
		"JOIN pg_type t ON t.oid = a.atttypid "
		"LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid "
		" AND ad.adnum = a.attnum "
		"WHERE a.attnum > 0 AND NOT a.attisdropped "
		"AND c.relkind IN ('r', 'p', 'v', 'm', 'f') "
		"AND c.relpersistence <> 't' "
		"AND " VSQL_USER_NS("n") " AND " VSQL_NOT_EXT("pg_class", "c.oid"),
	NULL, false},
	{"constraints",
		"SELECT 'constraint', coalesce(n.nspname || '.' || c.relname, "
		" tn.nspname || '.' || ty.typname) || '.' || "
		/*
		 * A foreign key cloned onto a partition is named by the server: it
		 * is named here by what it is (columns, referenced table and
		 * columns, actions).
		 */
		" CASE WHEN con.contype = 'f' AND con.conparentid <> 0 "
		" THEN pg_get_constraintdef(con.oid) ELSE con.conname::text END, "
		"coalesce(n.nspname || '.' || c.relname, "
		" tn.nspname || '.' || ty.typname), "
		"pg_get_constraintdef(con.oid) AS definition, "
		COMMENT("pg_constraint", "con.oid") " "
		"FROM pg_constraint con "
		"JOIN pg_namespace cn ON cn.oid = con.connamespace "
		"LEFT JOIN pg_class c ON c.oid = con.conrelid "
		"LEFT JOIN pg_namespace n ON n.oid = c.relnamespace "
		"LEFT JOIN pg_type ty ON ty.oid = con.contypid "
		"LEFT JOIN pg_namespace tn ON tn.oid = ty.typnamespace "
		"WHERE con.contype <> 'n' AND (c.oid IS NOT NULL OR ty.oid IS NOT NULL) "
		"AND " VSQL_USER_NS("cn") " "
		"AND (c.oid IS NULL OR " VSQL_NOT_EXT("pg_class", "c.oid") ") "
		"AND (ty.oid IS NULL OR " VSQL_NOT_EXT("pg_type", "ty.oid") ")",
	NULL, false},
	{"indexes",
		"SELECT 'index', n.nspname || '.' || ic.relname, "
		"tn.nspname || '.' || tc.relname, "
		"pg_get_indexdef(i.indexrelid) AS definition, "
		"CASE WHEN NOT i.indisvalid THEN 'invalid' END AS validity, "
		"CASE WHEN i.indisclustered THEN 'clustered' END AS cluster, "
		"(SELECT string_agg('column ' || a.attnum || ' ' || a.attstattarget, "
		"  ', ' ORDER BY a.attnum) FROM pg_attribute a "
		"  WHERE a.attrelid = i.indexrelid AND a.attstattarget >= 0) "
		"AS \"statistics target\", "
		COMMENT("pg_class", "ic.oid") " "
		"FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
		"JOIN pg_namespace n ON n.oid = ic.relnamespace "
		"JOIN pg_class tc ON tc.oid = i.indrelid "
		"JOIN pg_namespace tn ON tn.oid = tc.relnamespace "
		"WHERE " VSQL_USER_NS("n") " AND tc.relpersistence <> 't' "
		"AND " VSQL_NOT_EXT("pg_class", "tc.oid") " "
		"AND " VSQL_NOT_EXT("pg_class", "ic.oid"),
	NULL, false},
#define TRIGGERS \
		"SELECT 'trigger', n.nspname || '.' || c.relname || '.' || t.tgname, " \
		"n.nspname || '.' || c.relname, " \
		"pg_get_triggerdef(t.oid) AS definition, " \
		"CASE t.tgenabled WHEN 'D' THEN 'disabled' WHEN 'R' THEN 'replica' " \
		" WHEN 'A' THEN 'always' ELSE 'enabled' END AS state, " \
		COMMENT("pg_trigger", "t.oid") " " \
		"FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid " \
		"JOIN pg_namespace n ON n.oid = c.relnamespace " \
		"WHERE NOT t.tgisinternal AND " VSQL_USER_NS("n") " " \
		"AND " VSQL_NOT_EXT("pg_class", "c.oid")
	{"triggers", TRIGGERS " AND t.tgparentid = 0", TRIGGERS, false},
#undef TRIGGERS
	{"rules",
		"SELECT 'rule', n.nspname || '.' || c.relname || '.' || r.rulename, "
		"n.nspname || '.' || c.relname, "
		"pg_get_ruledef(r.oid) AS definition, "
		"CASE r.ev_enabled WHEN 'D' THEN 'disabled' WHEN 'R' THEN 'replica' "
		" WHEN 'A' THEN 'always' ELSE 'enabled' END AS state, "
		COMMENT("pg_rewrite", "r.oid") " "
		"FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class "
		"JOIN pg_namespace n ON n.oid = c.relnamespace "
		"WHERE r.rulename <> '_RETURN' AND " VSQL_USER_NS("n") " "
		"AND " VSQL_NOT_EXT("pg_class", "c.oid"),
	NULL, false},
	{"policies",
		"SELECT 'policy', n.nspname || '.' || c.relname || '.' || p.polname, "
		"n.nspname || '.' || c.relname, "
		"CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' "
		" WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' "
		"END AS command, "
		"CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' "
		"END AS type, "
		"(SELECT string_agg(r.name, ', ' ORDER BY r.name) FROM "
		" (SELECT CASE WHEN u.oid = 0 THEN 'public' "
		"  ELSE pg_get_userbyid(u.oid) END AS name "
		"  FROM unnest(p.polroles) AS u(oid)) r) AS roles, "
		"pg_get_expr(p.polqual, p.polrelid) AS \"using\", "
		"pg_get_expr(p.polwithcheck, p.polrelid) AS \"with check\", "
		COMMENT("pg_policy", "p.oid") " "
		"FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid "
		"JOIN pg_namespace n ON n.oid = c.relnamespace "
		"WHERE " VSQL_USER_NS("n") " AND " VSQL_NOT_EXT("pg_class", "c.oid"),
	NULL, false},
	{"functions",
		"SELECT CASE p.prokind WHEN 'p' THEN 'procedure' "
		" WHEN 'a' THEN 'aggregate' ELSE 'function' END, "
		"n.nspname || '.' || p.proname || '(' "
		" || oidvectortypes(p.proargtypes) || ')', n.nspname, "
		"CASE WHEN p.prokind <> 'a' THEN pg_get_functiondef(p.oid) "
		"ELSE (SELECT concat_ws(' ', "
		"  'returns ' || pg_get_function_result(p.oid), "
		"  'sfunc ' || a.aggtransfn::text, "
		"  'stype ' || format_type(a.aggtranstype, NULL), "
		"  'finalfunc ' || nullif(a.aggfinalfn::oid, 0)::regproc::text, "
		"  'combinefunc ' || nullif(a.aggcombinefn::oid, 0)::regproc::text, "
		"  'initcond ' || a.agginitval, 'kind ' || a.aggkind::text, "
		"  'sortop ' || nullif(a.aggsortop, 0)::regoperator::text) "
		" FROM pg_aggregate a WHERE a.aggfnoid = p.oid) END AS definition, "
		"pg_get_userbyid(p.proowner) AS owner, "
		ACL("p.proacl", "'f'", "p.proowner") ", "
		COMMENT("pg_proc", "p.oid") " "
		"FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
		"WHERE " VSQL_USER_NS("n") " AND " VSQL_NOT_EXT("pg_proc", "p.oid") " "
		/* Not the constructors a range type creates along with it. */
		"AND NOT EXISTS (SELECT 1 FROM pg_depend i "
		" WHERE i.classid = 'pg_proc'::regclass AND i.objid = p.oid "
		" AND i.deptype = 'i')",
	NULL, false},
};

/*
 * Names found missing or extra, for the children of those objects.  Names
 * added while one query is merged become searchable once it is sealed.
 */
typedef struct nameset
{
	char	  **names;
	int			n;
	int			nsorted;
	int			alloc;
} nameset;

static int
strptr_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static void
nameset_add(nameset *s, const char *name)
{
	if (s->n == s->alloc)
	{
		s->alloc = s->alloc ? s->alloc * 2 : 64;
		s->names = xrealloc(s->names, (size_t) s->alloc * sizeof(char *));
	}
	s->names[s->n++] = xstrdup(name);
}

static void
nameset_seal(nameset *s)
{
	if (s->n > 0)
		qsort(s->names, (size_t) s->n, sizeof(char *), strptr_cmp);
	s->nsorted = s->n;
}

static bool
nameset_has(const nameset *s, const char *name)
{
	return name != NULL && s->nsorted > 0 &&
		bsearch(&name, s->names, (size_t) s->nsorted, sizeof(char *),
				strptr_cmp) != NULL;
}

static void
nameset_free(nameset *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->names[i]);
	free(s->names);
}

/* Columns of every inventory result. */
#define COL_KIND 0
#define COL_NAME 1
#define COL_PARENT 2
#define COL_FIRST_PROPERTY 3

/* Order a source row against a target row as sorted_rows() does. */
static int
cross_cmp(PGresult *rs, int i, PGresult *rt, int j)
{
	int			c = strcmp(PQgetvalue(rs, i, COL_NAME), PQgetvalue(rt, j, COL_NAME));

	if (c != 0)
		return c;
	return strcmp(PQgetvalue(rs, i, COL_KIND), PQgetvalue(rt, j, COL_KIND));
}

static int
row_cmp(const void *a, const void *b, void *arg)
{
	return cross_cmp(arg, *(const int *) a, arg, *(const int *) b);
}

/* Row numbers of res sorted by name then kind; the caller frees them. */
static int *
sorted_rows(PGresult *res)
{
	int			n = PQntuples(res);
	int		   *rows = xcalloc((size_t) (n > 0 ? n : 1), sizeof(int));

	for (int i = 0; i < n; i++)
		rows[i] = i;
	qsort_r(rows, (size_t) n, sizeof(int), row_cmp, res);
	return rows;
}

/*
 * Owners and privileges are compared unless told not to; without owners,
 * privileges are compared as "grants" (see ACL), else as "acl".
 */
static bool
property_ignored(const char *prop, const vschema_options *o)
{
	if (strcmp(prop, "owner") == 0)
		return o->no_owner;
	if (strcmp(prop, "acl") == 0)
		return o->no_acl || o->no_owner;
	if (strcmp(prop, "grants") == 0)
		return o->no_acl || !o->no_owner;
	return false;
}

/* A property value fit to print inside a one-line message. */
static bool
printable(const char *v)
{
	return strlen(v) <= 64 && strchr(v, '\n') == NULL;
}

/*
 * The differing properties of one object: "type integer vs bigint" when
 * one short property differs, else their names.  NULL when equal.
 */
static char *
describe(PGresult *rs, int i, PGresult *rt, int j, const vschema_options *o)
{
	strbuf		names = STRBUF_INIT;
	const char *vs = NULL,
			   *vt = NULL;
	int			ndiff = 0;

	for (int f = COL_FIRST_PROPERTY; f < PQnfields(rs); f++)
	{
		bool		ns = PQgetisnull(rs, i, f);
		bool		nt = PQgetisnull(rt, j, f);

		if (property_ignored(PQfname(rs, f), o))
			continue;
		if (ns == nt && (ns || strcmp(PQgetvalue(rs, i, f),
									  PQgetvalue(rt, j, f)) == 0))
			continue;
		strbuf_addf(&names, "%s%s", ndiff++ ? ", " : "", PQfname(rs, f));
		vs = ns ? "none" : PQgetvalue(rs, i, f);
		vt = nt ? "none" : PQgetvalue(rt, j, f);
	}
	if (ndiff == 0)
		return NULL;
	if (ndiff == 1 && printable(vs) && printable(vt))
		strbuf_addf(&names, " %s vs %s", vs, vt);
	return strbuf_detach(&names);
}

typedef struct merge_state
{
	const vschema_options *opts;
	vreport    *report;
	nameset		missing;
	nameset		extra;
	int			ntables;
} merge_state;

/*
 * An index the source has but cannot use (a failed CREATE INDEX
 * CONCURRENTLY): pg_dump leaves it out on purpose, so its absence on the
 * target is no difference.
 */
static bool
invalid_source_index(PGresult *res, int row, bool source)
{
	int			f = PQfnumber(res, "validity");

	if (!source || f < 0 || PQgetisnull(res, row, f) ||
		strcmp(PQgetvalue(res, row, COL_KIND), "index") != 0)
		return false;
	log_debug("index \"%s\" is invalid on the source and not compared, as "
			  "pg_dump does not copy it", PQgetvalue(res, row, COL_NAME));
	return true;
}

/* An object on one side only; quiet when its parent is already reported. */
static void
one_side(merge_state *m, PGresult *res, int row, bool source)
{
	nameset    *set = source ? &m->missing : &m->extra;
	const char *name = PQgetvalue(res, row, COL_NAME);
	const char *parent = PQgetisnull(res, row, COL_PARENT) ? NULL :
		PQgetvalue(res, row, COL_PARENT);

	if (invalid_source_index(res, row, source))
		return;
	if (!nameset_has(set, parent))
		vreport_add(m->report, VREPORT_SCHEMA,
					source ? VREPORT_MISSING : VREPORT_EXTRA,
					PQgetvalue(res, row, COL_KIND), name, NULL, NULL);
	nameset_add(set, name);
}

static void
merge(merge_state *m, PGresult *rs, PGresult *rt)
{
	int		   *is = sorted_rows(rs);
	int		   *it = sorted_rows(rt);
	int			ns = PQntuples(rs),
				nt = PQntuples(rt);
	int			i = 0,
				j = 0;

	while (i < ns || j < nt)
	{
		int			c = i >= ns ? 1 : j >= nt ? -1 :
			cross_cmp(rs, is[i], rt, it[j]);

		if (i < ns && c <= 0 &&
			strcmp(PQgetvalue(rs, is[i], COL_KIND), "table") == 0)
			m->ntables++;
		if (c < 0)
			one_side(m, rs, is[i++], true);
		else if (c > 0)
			one_side(m, rt, it[j++], false);
		else
		{
			char	   *detail = describe(rs, is[i], rt, it[j], m->opts);

			if (detail)
				vreport_add(m->report, VREPORT_SCHEMA, VREPORT_DIFFERS,
							PQgetvalue(rs, is[i], COL_KIND),
							PQgetvalue(rs, is[i], COL_NAME), NULL, detail);
			free(detail);
			i++;
			j++;
		}
	}
	nameset_seal(&m->missing);
	nameset_seal(&m->extra);
	free(is);
	free(it);
}

/*
 * The one object of an inventory of single rows (the database), paired
 * whatever its name on each side and named as on the source.
 */
static void
merge_single(merge_state *m, PGresult *rs, PGresult *rt)
{
	char	   *detail;

	if (PQntuples(rs) != 1 || PQntuples(rt) != 1)
		return;
	detail = describe(rs, 0, rt, 0, m->opts);
	if (detail)
		vreport_add(m->report, VREPORT_SCHEMA, VREPORT_DIFFERS,
					PQgetvalue(rs, 0, COL_KIND), PQgetvalue(rs, 0, COL_NAME),
					NULL, detail);
	free(detail);
}

static const char *
inventory_sql(const inventory *inv, PGconn *conn)
{
	if (inv->sql_before13 && conn_server_major(conn) < 13)
		return inv->sql_before13;
	return inv->sql;
}

int
vschema_compare(vsession *s, const vschema_options *o, vreport *r,
				int *ntables)
{
	merge_state m = {o, r, {0}, {0}, 0};
	int			rc = 0;

	for (size_t k = 0; k < sizeof(inventories) / sizeof(inventories[0]); k++)
	{
		const inventory *inv = &inventories[k];
		vquery		qs = {inventory_sql(inv, s->src), 0, NULL, NULL};
		vquery		qt = {inventory_sql(inv, s->tgt), 0, NULL, NULL};
		PGresult   *rs,
				   *rt;
		char	   *what = str_printf("read %s", inv->what);

		rc = vsession_query2(s, what, &qs, &qt, &rs, &rt);
		free(what);
		if (rc != 0)
			break;
		vsel_schema_rows(o->sel, &rs, &rt);
		if (inv->single)
			merge_single(&m, rs, rt);
		else
			merge(&m, rs, rt);
		PQclear(rs);
		PQclear(rt);
	}
	*ntables = m.ntables;
	nameset_free(&m.missing);
	nameset_free(&m.extra);
	return rc;
}
