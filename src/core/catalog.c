/*
 * catalog.c
 *		Read the source's inventory: tables, columns, indexes, sequences.
 *
 * Every query here runs in the clone's snapshot and works on PostgreSQL 12
 * and later.  Objects in system schemas and members of extensions are left
 * out: their definitions come with the extension on the target.  The
 * configuration tables and sequences of extensions are the exception, as
 * in pg_dump: their rows (through the extension's condition) and values
 * are copied.
 */
#include "core/catalog.h"

#include <stdlib.h>
#include <string.h>

#include "core/conn.h"
#include "util/log.h"
#include "util/str.h"

#define USER_OBJECT(alias) \
	" n.nspname NOT IN ('pg_catalog', 'information_schema')" \
	" AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'" \
	" AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d" \
	"   WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass" \
	"   AND d.objid = " alias ".oid AND d.deptype = 'e')"

/*
 * A configuration table or sequence of an extension
 * (pg_extension_config_dump): a member of the extension whose rows pg_dump
 * copies all the same, those of a table through its condition.
 */
#define EXT_CONFIG(alias) \
	" EXISTS (SELECT 1 FROM pg_catalog.pg_extension e" \
	"   WHERE " alias ".oid = ANY (e.extconfig))"

#define COPIED(alias) " (" USER_OBJECT(alias) " OR" EXT_CONFIG(alias) ")"

static const char *const tables_sql =
"SELECT c.oid, n.nspname, c.relname, pg_catalog.pg_table_size(c.oid),"
" pg_catalog.pg_relation_size(c.oid) /"
"   pg_catalog.current_setting('block_size')::bigint, c.reltuples,"
" coalesce(pg_catalog.pg_relation_size(nullif(c.reltoastrelid, 0)), 0),"
" (SELECT x.cond FROM pg_catalog.pg_extension e,"
"   ROWS FROM (pg_catalog.unnest(e.extconfig), pg_catalog.unnest(e.extcondition))"
"   x(rel, cond)"
"   WHERE x.rel = c.oid LIMIT 1)"
" FROM pg_catalog.pg_class c"
" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
" WHERE c.relkind = 'r' AND" COPIED("c")
" ORDER BY 4 DESC, 2, 3";

/*
 * A column can travel in binary when its type (or a domain's base type) is
 * built in, so that its binary form embeds no OID that differs between
 * servers (composites and arrays of user types do), and has send and
 * receive functions.  An enum travels as its label, so it can too (an
 * array of enums cannot: it carries the element type's OID).
 */
static const char *const columns_sql =
"SELECT a.attrelid, a.attname,"
" (t.oid < 16384 AND t.typsend <> 0 AND t.typreceive <> 0) OR t.typtype = 'e'"
" FROM pg_catalog.pg_attribute a"
" JOIN pg_catalog.pg_class c ON c.oid = a.attrelid"
" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
" JOIN pg_catalog.pg_type dt ON dt.oid = a.atttypid"
" JOIN pg_catalog.pg_type t ON t.oid = CASE WHEN dt.typtype = 'd'"
"   THEN dt.typbasetype ELSE dt.oid END"
" WHERE c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped"
" AND a.attgenerated = '' AND" COPIED("c")
" ORDER BY a.attrelid, a.attnum";

static const char *const indexes_sql =
"SELECT i.indexrelid, i.indrelid, n.nspname, ic.relname,"
" pg_catalog.pg_get_indexdef(i.indexrelid),"
" coalesce(con.oid, 0), coalesce(con.contype::text, ''), con.conname,"
" CASE WHEN con.oid IS NOT NULL"
"   THEN pg_catalog.pg_get_constraintdef(con.oid) END,"
" coalesce(con.condeferrable, false), coalesce(con.condeferred, false),"
" i.indisreplident, i.indisclustered,"
" (i.indexprs IS NULL AND i.indpred IS NULL AND am.amname = 'btree'),"
" coalesce(its.spcname, (SELECT t.spcname FROM pg_catalog.pg_database d"
"   JOIN pg_catalog.pg_tablespace t ON t.oid = d.dattablespace"
"   WHERE d.datname = pg_catalog.current_database() AND t.spcname <> 'pg_default')),"
/*
 * What pg_dump appends to an index's entry besides the definition: the
 * statistics targets of its columns (NULL by default from 17 on, -1
 * before) and the extensions it depends on.
 */
" (SELECT pg_catalog.string_agg(s, '; ') FROM ("
"   SELECT pg_catalog.format('ALTER INDEX %I.%I ALTER COLUMN %s SET STATISTICS %s',"
"     n.nspname, ic.relname, a.attnum, a.attstattarget) AS s"
"   FROM pg_catalog.pg_attribute a WHERE a.attrelid = i.indexrelid"
"   AND a.attnum > 0 AND a.attstattarget >= 0"
"   UNION ALL SELECT pg_catalog.format('ALTER INDEX %I.%I DEPENDS ON EXTENSION %I',"
"     n.nspname, ic.relname, e.extname)"
"   FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid"
"   WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass"
"   AND d.objid = i.indexrelid AND d.deptype = 'x'"
"   AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass) x)"
" FROM pg_catalog.pg_index i"
" JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid"
" JOIN pg_catalog.pg_am am ON am.oid = ic.relam"
" LEFT JOIN pg_catalog.pg_tablespace its ON its.oid = ic.reltablespace"
" JOIN pg_catalog.pg_class c ON c.oid = i.indrelid"
" JOIN pg_catalog.pg_namespace n ON n.oid = ic.relnamespace"
" LEFT JOIN pg_catalog.pg_constraint con ON con.conindid = i.indexrelid"
"   AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')"
" WHERE c.relkind = 'r' AND" USER_OBJECT("c")
/*
 * An index attached to a partitioned table's index is left to the
 * post-data restore: a rerun of that restore with --clean drops the parent
 * index and with it every attached one, which must then be recreated in
 * the same restore before they are attached again.
 */
" AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits ih"
"   WHERE ih.inhrelid = i.indexrelid)"
" ORDER BY c.oid, ic.relname";

static const char *const fks_sql =
"SELECT con.oid, con.conrelid, con.confrelid, con.conindid, con.conname,"
" pg_catalog.pg_get_constraintdef(con.oid)"
" FROM pg_catalog.pg_constraint con"
" JOIN pg_catalog.pg_class c ON c.oid = con.conrelid"
" JOIN pg_catalog.pg_class fc ON fc.oid = con.confrelid"
" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
" WHERE con.contype = 'f' AND con.conparentid = 0"
" AND c.relkind = 'r' AND fc.relkind = 'r' AND NOT fc.relispartition"
" AND" USER_OBJECT("c")
" ORDER BY con.oid";

static const char *const sequences_sql =
"SELECT n.nspname, c.relname FROM pg_catalog.pg_class c"
" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
" WHERE c.relkind = 'S' AND" COPIED("c")
" ORDER BY 1, 2";

static const char *const partitioned_sql =
"SELECT n.nspname, c.relname FROM pg_catalog.pg_class c"
" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
" WHERE c.relkind = 'p' AND" USER_OBJECT("c")
" ORDER BY 1, 2";

static uint32_t
get_oid(const PGresult *res, int row, int col)
{
	return (uint32_t) strtoul(PQgetvalue(res, row, col), NULL, 10);
}

static int64_t
get_int64(const PGresult *res, int row, int col)
{
	return (int64_t) strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static bool
get_bool(const PGresult *res, int row, int col)
{
	return PQgetvalue(res, row, col)[0] == 't';
}

/*
 * The table of row i, whose OID is in column col: rows come ordered by
 * table, so the last answer is kept in *last_oid / *last and reused.
 */
static int
table_of_row(const catalog *cat, const PGresult *res, int i, int col,
			 uint32_t *last_oid, int *last)
{
	uint32_t	oid = get_oid(res, i, col);

	if (*last < -1 || oid != *last_oid)
	{
		*last_oid = oid;
		*last = catalog_find_table(cat, oid);
	}
	return *last;
}

static int
load_tables(PGconn *src, catalog *cat)
{
	PGresult   *res = conn_query(src, SIDE_SOURCE, "list tables", tables_sql,
								 0, NULL);

	if (res == NULL)
		return -1;
	cat->ntables = PQntuples(res);
	cat->tables = xcalloc((size_t) cat->ntables, sizeof(cat_table));
	for (int i = 0; i < cat->ntables; i++)
	{
		cat_table  *t = &cat->tables[i];

		t->oid = get_oid(res, i, 0);
		t->nspname = xstrdup(PQgetvalue(res, i, 1));
		t->relname = xstrdup(PQgetvalue(res, i, 2));
		t->qname = conn_qualified_name(src, t->nspname, t->relname);
		t->display = str_printf("%s.%s", t->nspname, t->relname);
		t->bytes = get_int64(res, i, 3);
		t->heap_pages = get_int64(res, i, 4);
		t->reltuples = strtod(PQgetvalue(res, i, 5), NULL);
		t->toast_bytes = get_int64(res, i, 6);
		if (!PQgetisnull(res, i, 7))
			t->filter = xstrdup(PQgetvalue(res, i, 7));
		t->binary = true;
	}
	PQclear(res);
	return 0;
}

static int
load_columns(PGconn *src, catalog *cat)
{
	PGresult   *res = conn_query(src, SIDE_SOURCE, "list columns", columns_sql,
								 0, NULL);
	strbuf		cols = STRBUF_INIT;
	int			cur = -1;
	uint32_t	last_oid = 0;
	int			last = -2;

	if (res == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res); i++)
	{
		int			t = table_of_row(cat, res, i, 0, &last_oid, &last);
		char	   *q;

		if (t < 0)
			continue;
		if (t != cur)
		{
			if (cur >= 0)
				cat->tables[cur].columns = strbuf_detach(&cols);
			cur = t;
		}
		q = conn_quote_ident(src, PQgetvalue(res, i, 1));
		if (cols.len > 0)
			strbuf_adds(&cols, ", ");
		strbuf_adds(&cols, q);
		free(q);
		cat->tables[t].ncolumns++;
		if (!get_bool(res, i, 2))
			cat->tables[t].binary = false;
	}
	if (cur >= 0)
		cat->tables[cur].columns = strbuf_detach(&cols);
	PQclear(res);
	/* A table with no columns still has rows: COPY () works on both sides. */
	for (int i = 0; i < cat->ntables; i++)
		if (cat->tables[i].columns == NULL)
			cat->tables[i].columns = xstrdup("");
	return 0;
}

static void
read_index(PGconn *src, const PGresult *res, int i, cat_index *ix)
{
	const char *contype = PQgetvalue(res, i, 6);

	ix->oid = get_oid(res, i, 0);
	ix->table_oid = get_oid(res, i, 1);
	ix->qname = conn_qualified_name(src, PQgetvalue(res, i, 2),
									PQgetvalue(res, i, 3));
	ix->relname = conn_quote_ident(src, PQgetvalue(res, i, 3));
	ix->display = str_printf("%s.%s", PQgetvalue(res, i, 2),
							 PQgetvalue(res, i, 3));
	ix->indexdef = xstrdup(PQgetvalue(res, i, 4));
	ix->con_oid = get_oid(res, i, 5);
	ix->contype = contype[0];
	if (ix->con_oid != 0)
	{
		ix->conname = conn_quote_ident(src, PQgetvalue(res, i, 7));
		ix->condef = xstrdup(PQgetvalue(res, i, 8));
	}
	ix->deferrable = get_bool(res, i, 9);
	ix->deferred = get_bool(res, i, 10);
	ix->replident = get_bool(res, i, 11);
	ix->clustered = get_bool(res, i, 12);
	ix->using_index_ok = get_bool(res, i, 13);
	if (!PQgetisnull(res, i, 14))
		ix->tablespace = xstrdup(PQgetvalue(res, i, 14));
	if (!PQgetisnull(res, i, 15))
		ix->extra_sql = xstrdup(PQgetvalue(res, i, 15));
}

static int
load_indexes(PGconn *src, catalog *cat)
{
	PGresult   *res = conn_query(src, SIDE_SOURCE, "list indexes", indexes_sql,
								 0, NULL);
	int			n = 0;
	uint32_t	last_oid = 0;
	int			last = -2;

	if (res == NULL)
		return -1;
	cat->indexes = xcalloc((size_t) PQntuples(res), sizeof(cat_index));
	for (int i = 0; i < PQntuples(res); i++)
	{
		int			t = table_of_row(cat, res, i, 1, &last_oid, &last);

		if (t < 0)
			continue;
		read_index(src, res, i, &cat->indexes[n]);
		cat->indexes[n++].table = t;
	}
	cat->nindexes = n;
	PQclear(res);
	return 0;
}

/* Whether the catalog lists an index with this OID (pgcrane builds it). */
static bool
has_index(const catalog *cat, uint32_t oid)
{
	for (int i = 0; i < cat->nindexes; i++)
		if (cat->indexes[i].oid == oid)
			return true;
	return false;
}

static int
load_fks(PGconn *src, catalog *cat)
{
	PGresult   *res = conn_query(src, SIDE_SOURCE, "list foreign keys", fks_sql,
								 0, NULL);
	int			n = 0;

	if (res == NULL)
		return -1;
	cat->fks = xcalloc((size_t) PQntuples(res) + 1, sizeof(cat_fk));
	for (int i = 0; i < PQntuples(res); i++)
	{
		cat_fk	   *fk = &cat->fks[n];

		fk->table = catalog_find_table(cat, get_oid(res, i, 1));
		fk->ref_table = catalog_find_table(cat, get_oid(res, i, 2));
		fk->ref_index = get_oid(res, i, 3);
		if (fk->table < 0 || fk->ref_table < 0 || !has_index(cat, fk->ref_index))
			continue;
		fk->oid = get_oid(res, i, 0);
		fk->conname = conn_quote_ident(src, PQgetvalue(res, i, 4));
		fk->display = str_printf("%s on %s", PQgetvalue(res, i, 4),
								 cat->tables[fk->table].display);
		fk->condef = xstrdup(PQgetvalue(res, i, 5));
		n++;
	}
	cat->nfks = n;
	PQclear(res);
	return 0;
}

/* Names from a (nspname, relname) query, quoted; displays optional. */
static int
load_names(PGconn *src, const char *sql, const char *what, char ***qnames,
		   char ***displays, int *count)
{
	PGresult   *res = conn_query(src, SIDE_SOURCE, what, sql, 0, NULL);

	if (res == NULL)
		return -1;
	*count = PQntuples(res);
	*qnames = xcalloc((size_t) *count, sizeof(char *));
	if (displays)
		*displays = xcalloc((size_t) *count, sizeof(char *));
	for (int i = 0; i < *count; i++)
	{
		(*qnames)[i] = conn_qualified_name(src, PQgetvalue(res, i, 0),
										   PQgetvalue(res, i, 1));
		if (displays)
			(*displays)[i] = str_printf("%s.%s", PQgetvalue(res, i, 0),
										PQgetvalue(res, i, 1));
	}
	PQclear(res);
	return 0;
}

static int
load_sequences(PGconn *src, catalog *cat)
{
	char	  **q,
			  **d;
	int			n;

	if (load_names(src, sequences_sql, "list sequences", &q, &d, &n) != 0)
		return -1;
	cat->nsequences = n;
	cat->sequences = xcalloc((size_t) n, sizeof(cat_sequence));
	for (int i = 0; i < n; i++)
	{
		cat->sequences[i].qname = q[i];
		cat->sequences[i].display = d[i];
	}
	free(q);
	free(d);
	return 0;
}

static int
load_counts(PGconn *src, catalog *cat)
{
	PGresult   *res = conn_query(src, SIDE_SOURCE, "count large objects",
								 "SELECT count(*), current_setting('block_size')"
								 " FROM pg_catalog.pg_largeobject_metadata",
								 0, NULL);

	if (res == NULL)
		return -1;
	cat->nlargeobjects = get_int64(res, 0, 0);
	cat->block_size = get_int64(res, 0, 1);
	PQclear(res);
	return 0;
}

int
catalog_load(PGconn *src, catalog *cat)
{
	if (load_tables(src, cat) != 0 || load_columns(src, cat) != 0 ||
		load_indexes(src, cat) != 0 || load_fks(src, cat) != 0 ||
		load_sequences(src, cat) != 0 ||
		load_names(src, partitioned_sql, "list partitioned tables",
				   &cat->partitioned, NULL, &cat->npartitioned) != 0 ||
		load_counts(src, cat) != 0)
		return -1;
	return 0;
}

static void
free_index(cat_index *ix)
{
	free(ix->qname);
	free(ix->relname);
	free(ix->display);
	free(ix->indexdef);
	free(ix->conname);
	free(ix->condef);
	free(ix->tablespace);
	free(ix->extra_sql);
}

int64_t
catalog_bytes(const catalog *cat)
{
	int64_t		total = 0;

	for (int i = 0; i < cat->ntables; i++)
		total += cat->tables[i].bytes;
	return total;
}

void
catalog_keep_indexes(catalog *cat, const bool *keep)
{
	int			n = 0;

	for (int i = 0; i < cat->nindexes; i++)
	{
		if (keep[i])
			cat->indexes[n++] = cat->indexes[i];
		else
			free_index(&cat->indexes[i]);
	}
	cat->nindexes = n;
}

static void
free_fk(cat_fk *fk)
{
	free(fk->conname);
	free(fk->display);
	free(fk->condef);
}

void
catalog_keep_fks(catalog *cat, const bool *keep)
{
	int			n = 0;

	for (int i = 0; i < cat->nfks; i++)
	{
		if (keep[i])
			cat->fks[n++] = cat->fks[i];
		else
			free_fk(&cat->fks[i]);
	}
	cat->nfks = n;
}

static void
free_table(cat_table *t)
{
	free(t->nspname);
	free(t->relname);
	free(t->qname);
	free(t->display);
	free(t->columns);
	free(t->filter);
}

void
catalog_keep_tables(catalog *cat, const bool *keep)
{
	int		   *moved = xcalloc((size_t) cat->ntables + 1, sizeof(int));
	bool	   *kix = xcalloc((size_t) cat->nindexes + 1, sizeof(bool));
	bool	   *kfk = xcalloc((size_t) cat->nfks + 1, sizeof(bool));
	int			n = 0;

	for (int i = 0; i < cat->ntables; i++)
	{
		moved[i] = keep[i] ? n : -1;
		if (keep[i])
			cat->tables[n++] = cat->tables[i];
		else
			free_table(&cat->tables[i]);
	}
	cat->ntables = n;
	for (int i = 0; i < cat->nindexes; i++)
		if ((kix[i] = moved[cat->indexes[i].table] >= 0))
			cat->indexes[i].table = moved[cat->indexes[i].table];
	for (int i = 0; i < cat->nfks; i++)
	{
		cat_fk	   *fk = &cat->fks[i];

		if ((kfk[i] = moved[fk->table] >= 0 && moved[fk->ref_table] >= 0))
		{
			fk->table = moved[fk->table];
			fk->ref_table = moved[fk->ref_table];
		}
	}
	catalog_keep_indexes(cat, kix);
	catalog_keep_fks(cat, kfk);
	free(moved);
	free(kix);
	free(kfk);
}

void
catalog_keep_sequences(catalog *cat, const bool *keep)
{
	int			n = 0;

	for (int i = 0; i < cat->nsequences; i++)
	{
		if (keep[i])
			cat->sequences[n++] = cat->sequences[i];
		else
		{
			free(cat->sequences[i].qname);
			free(cat->sequences[i].display);
		}
	}
	cat->nsequences = n;
}

void
catalog_keep_partitioned(catalog *cat, const bool *keep)
{
	int			n = 0;

	for (int i = 0; i < cat->npartitioned; i++)
	{
		if (keep[i])
			cat->partitioned[n++] = cat->partitioned[i];
		else
			free(cat->partitioned[i]);
	}
	cat->npartitioned = n;
}

int
catalog_find_table(const catalog *cat, uint32_t oid)
{
	/* Callers look a table up once per table (table_of_row): a scan will do. */
	for (int i = 0; i < cat->ntables; i++)
		if (cat->tables[i].oid == oid)
			return i;
	return -1;
}

void
catalog_release(catalog *cat)
{
	for (int i = 0; i < cat->ntables; i++)
		free_table(&cat->tables[i]);
	for (int i = 0; i < cat->nindexes; i++)
		free_index(&cat->indexes[i]);
	for (int i = 0; i < cat->nfks; i++)
		free_fk(&cat->fks[i]);
	for (int i = 0; i < cat->nsequences; i++)
	{
		free(cat->sequences[i].qname);
		free(cat->sequences[i].display);
	}
	for (int i = 0; i < cat->npartitioned; i++)
		free(cat->partitioned[i]);
	free(cat->tables);
	free(cat->indexes);
	free(cat->fks);
	free(cat->sequences);
	free(cat->partitioned);
	memset(cat, 0, sizeof(*cat));
}
