/*
 * apply_rel.c
 *		Source relations matched to target tables, and their statements.
 *
 * The target's catalog is read once per relation and session: the table by
 * schema and name (the Relation message's), its live columns with their
 * types printed by format_type() (schema-qualified, since pgcrane sessions
 * run with an empty search_path), identity and generated flags, and for an
 * array the element type.  Columns are matched by name, so a target whose
 * columns sit in another order still works.
 *
 * Whether a type has an equality operator matters only for replica
 * identity FULL.  The catalog cannot say it simply (binary-compatible
 * types, polymorphic operator classes, domains), so the target is asked:
 * "SELECT NULL::t IS NOT DISTINCT FROM NULL::t" fails with 42883 exactly
 * when the parser finds no "=" for t.  An array's "=" is found for any
 * element type and fails only when run, so the element type is asked too.
 */
#include "cdc/apply_rel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/conn.h"
#include "util/log.h"
#include "util/str.h"

/* First OID a user object can have: below it, types are built in. */
#define FIRST_NORMAL_OID 16384

typedef struct type_eq
{
	char	   *type;
	bool		has_eq;
} type_eq;

struct apply_relmap
{
	apply_rel **slots;			/* open addressing, NULL is free */
	size_t		cap;			/* power of two */
	size_t		count;
	type_eq    *types;			/* answers of the equality probe */
	int			ntypes;
};

static const char *const target_table_sql =
"SELECT c.relkind, a.attname, pg_catalog.format_type(a.atttypid, NULL),"
"       a.atttypid, a.attidentity, a.attgenerated,"
"       CASE WHEN t.typcategory = 'A' AND t.typelem <> 0"
"            THEN pg_catalog.format_type(t.typelem, NULL) END,"
"       a.attnotnull AND NOT a.atthasdef AND a.attidentity = ''"
"       AND a.attgenerated = ''"
"  FROM pg_catalog.pg_class c"
"  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
"  LEFT JOIN pg_catalog.pg_attribute a"
"         ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
"  LEFT JOIN pg_catalog.pg_type t ON t.oid = a.atttypid"
" WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')"
" ORDER BY a.attnum";

/* Column numbers of target_table_sql. */
enum
{
	TT_RELKIND, TT_ATTNAME, TT_TYPE, TT_TYPOID, TT_IDENTITY, TT_GENERATED,
	TT_ELEMTYPE, TT_NEEDS_VALUE
};

/*
 * The source's type of a column, for messages: its name when it is built
 * in (the same OID on every server), its OID otherwise; you own it.
 */
static char *
source_type(PGconn *tgt, const pgo_attr *att)
{
	char		oid[16];
	char		mod[16];
	const char *params[2] = {oid, mod};
	PGresult   *res;
	char	   *name = NULL;

	if (att->typoid >= FIRST_NORMAL_OID)
		return str_printf("a user-defined type (OID %u on the source)", att->typoid);
	snprintf(oid, sizeof(oid), "%u", att->typoid);
	snprintf(mod, sizeof(mod), "%d", (int) att->typmod);
	res = PQexecParams(tgt, "SELECT pg_catalog.format_type($1::oid, $2::int)",
					   2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		name = str_printf("type %s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return name ? name : str_printf("type OID %u", att->typoid);
}

/* Ask the target whether type has "="; remembered per map. */
static bool
type_has_eq(PGconn *tgt, apply_relmap *map, const char *type)
{
	char	   *sql;
	PGresult   *res;
	bool		has_eq;

	for (int i = 0; i < map->ntypes; i++)
		if (strcmp(map->types[i].type, type) == 0)
			return map->types[i].has_eq;
	sql = str_printf("SELECT NULL::%s IS NOT DISTINCT FROM NULL::%s", type, type);
	res = PQexec(tgt, sql);
	free(sql);
	has_eq = PQresultStatus(res) == PGRES_TUPLES_OK;
	if (!has_eq)
		log_debug("type %s has no equality operator on the target: %s", type,
				  conn_sqlstate(res));
	PQclear(res);
	map->types = xrealloc(map->types, sizeof(type_eq) * (size_t) (map->ntypes + 1));
	map->types[map->ntypes].type = xstrdup(type);
	map->types[map->ntypes].has_eq = has_eq;
	map->ntypes++;
	return has_eq;
}

/* The row of res describing column name, or -1. */
static int
find_column(const PGresult *res, const char *name)
{
	for (int i = 0; i < PQntuples(res); i++)
		if (!PQgetisnull(res, i, TT_ATTNAME) &&
			strcmp(PQgetvalue(res, i, TT_ATTNAME), name) == 0)
			return i;
	return -1;
}

/*
 * Check one published column against the target's and fill rel->cols[i];
 * 0 or CDC_MISMATCH (logged).
 */
static int
match_column(PGconn *tgt, apply_relmap *map, const PGresult *res,
			 apply_rel *rel, int i)
{
	const pgo_attr *att = &rel->desc->atts[i];
	int			row = find_column(res, att->name);
	uint32_t	typoid;

	if (row < 0)
	{
		char	   *type = source_type(tgt, att);

		error("column \"%s\" of table \"%s\" does not exist on the target",
			  att->name, rel->display);
		log_detail("The source sends it with %s.", type);
		free(type);
		return CDC_MISMATCH;
	}
	if (PQgetvalue(res, row, TT_GENERATED)[0] != '\0')
	{
		error("column \"%s\" of table \"%s\" is generated on the target but not on the source",
			  att->name, rel->display);
		return CDC_MISMATCH;
	}
	typoid = (uint32_t) strtoul(PQgetvalue(res, row, TT_TYPOID), NULL, 10);
	if (att->typoid < FIRST_NORMAL_OID && typoid != att->typoid)
	{
		char	   *type = source_type(tgt, att);

		error("column \"%s\" of table \"%s\" has type %s on the target but %s on the source",
			  att->name, rel->display, PQgetvalue(res, row, TT_TYPE), type);
		free(type);
		return CDC_MISMATCH;
	}
	rel->cols[i].qname = conn_quote_ident(tgt, att->name);
	rel->cols[i].type = xstrdup(PQgetvalue(res, row, TT_TYPE));
	rel->cols[i].typoid = typoid;
	rel->cols[i].identity_always = PQgetvalue(res, row, TT_IDENTITY)[0] == 'a';
	if (rel->cols[i].identity_always)
		rel->overriding = true;
	if (rel->desc->replident == PGO_REPLIDENT_FULL)
		rel->cols[i].text_compare =
			!type_has_eq(tgt, map, rel->cols[i].type) ||
			(!PQgetisnull(res, row, TT_ELEMTYPE) &&
			 !type_has_eq(tgt, map, PQgetvalue(res, row, TT_ELEMTYPE)));
	return 0;
}

/* Whether the source sends a column of this name. */
static bool
published(const pgo_relation *desc, const char *name)
{
	for (int i = 0; i < desc->natts; i++)
		if (strcmp(desc->atts[i].name, name) == 0)
			return true;
	return false;
}

/* Whether sel (may be NULL) leaves column col of nsp.rel out. */
static bool
column_excluded(const selection *sel, const char *nsp, const char *rel,
				const char *col)
{
	for (int i = 0; sel && i < sel->ncolumns; i++)
		if (strcmp(sel->columns[i].schema, nsp) == 0 &&
			strcmp(sel->columns[i].table, rel) == 0 &&
			strcmp(sel->columns[i].column, col) == 0)
			return true;
	return false;
}

bool
apply_rel_transformed(const selection *sel, const char *nsp, const char *rel)
{
	if (sel == NULL)
		return false;
	if (strcmp(sel_schema_target(sel, nsp), nsp) != 0 ||
		strcmp(sel_table_target(sel, nsp, rel), rel) != 0)
		return true;
	for (int i = 0; i < sel->ncolumns; i++)
		if (strcmp(sel->columns[i].schema, nsp) == 0 &&
			strcmp(sel->columns[i].table, rel) == 0)
			return true;
	return false;
}

/*
 * Mark the columns sel leaves out: 0, or CDC_MISMATCH (logged) for a key
 * column (preflight refuses a column an index needs, so only a replica
 * identity index made after the clone gets here).  With replica identity
 * FULL the row is found by the other columns.
 */
static int
exclude_columns(const selection *sel, apply_rel *rel)
{
	const pgo_relation *d = rel->desc;

	for (int i = 0; i < d->natts; i++)
	{
		if (!column_excluded(sel, d->nspname, d->relname, d->atts[i].name))
			continue;
		if (d->atts[i].flags & PGO_ATTR_KEY)
		{
			error("column \"%s\" of table \"%s.%s\" is left out by --exclude-column but the source's replica identity needs it",
				  d->atts[i].name, d->nspname, d->relname);
			log_hint("Give the table a replica identity without it on the source (a primary key or REPLICA IDENTITY USING INDEX).");
			return CDC_MISMATCH;
		}
		rel->cols[i].excluded = true;
	}
	return 0;
}

/*
 * The target's columns the source does not send, as a subscriber allows
 * them: each takes its default on insert, so one that is NOT NULL without
 * a default cannot be filled (CDC_MISMATCH, logged).  The others,
 * except generated ones, are kept in rel->extra for apply_sql_move().
 */
static int
extra_columns(PGconn *tgt, const PGresult *res, apply_rel *rel)
{
	rel->extra = xcalloc((size_t) PQntuples(res) + 1, sizeof(char *));
	for (int row = 0; row < PQntuples(res); row++)
	{
		const char *name = PQgetvalue(res, row, TT_ATTNAME);

		if (PQgetisnull(res, row, TT_ATTNAME) || published(rel->desc, name))
			continue;
		if (PQgetvalue(res, row, TT_NEEDS_VALUE)[0] == 't')
		{
			error("column \"%s\" of table \"%s\" is NOT NULL without a default on the target, and the source does not have it",
				  name, rel->display);
			log_detail("Rows inserted on the source would have no value for it on the target.");
			return CDC_MISMATCH;
		}
		if (PQgetvalue(res, row, TT_GENERATED)[0] == '\0')
			rel->extra[rel->nextra++] = conn_quote_ident(tgt, name);
	}
	return 0;
}

/* Read the target table of params (schema, name) into rel; 0, -1, CDC_MISMATCH. */
static int
read_target(PGconn *tgt, apply_relmap *map, const char *const *params,
			apply_rel *rel)
{
	PGresult   *res = conn_query(tgt, SIDE_TARGET, "read a table's columns",
								 target_table_sql, 2, params);
	int			rc = 0;

	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0)
	{
		error("table \"%s\" does not exist on the target", rel->display);
		rc = CDC_MISMATCH;
	}
	else
	{
		rel->relkind = PQgetvalue(res, 0, TT_RELKIND)[0];
		for (int i = 0; i < rel->ncols && rc == 0; i++)
			if (!rel->cols[i].excluded)
				rc = match_column(tgt, map, res, rel, i);
		if (rc == 0)
			rc = extra_columns(tgt, res, rel);
	}
	PQclear(res);
	return rc;
}

int
apply_rel_load(PGconn *tgt, apply_relmap *map, const selection *sel,
			   const pgo_relation *desc, apply_rel **out)
{
	const char *nsp = sel ? sel_schema_target(sel, desc->nspname) : desc->nspname;
	const char *name = sel ? sel_table_target(sel, desc->nspname, desc->relname)
		: desc->relname;
	const char *params[2] = {nsp, name};
	apply_rel  *rel = xcalloc(1, sizeof(apply_rel));
	int			rc;

	*out = NULL;
	rel->oid = desc->oid;
	rel->desc = desc;
	rel->display = str_printf("%s.%s", nsp, name);
	rel->qname = conn_qualified_name(tgt, nsp, name);
	rel->ncols = desc->natts;
	rel->cols = xcalloc((size_t) desc->natts + 1, sizeof(apply_sql_col));
	rc = exclude_columns(sel, rel);
	if (rc == 0)
		rc = read_target(tgt, map, params, rel);
	if (rc != 0)
	{
		apply_rel_free(rel);
		return rc;
	}
	*out = rel;
	return 0;
}

int
apply_rel_traits(PGconn *tgt, const char *qname, apply_rel_traits_t *out)
{
	const char *params[1] = {qname};
	PGresult   *res = conn_query(tgt, SIDE_TARGET,
								 "read the unique indexes and triggers of a table",
								 "SELECT (SELECT pg_catalog.count(*) FROM pg_catalog.pg_index i"
								 "   WHERE i.indrelid = c.oid AND i.indisunique)"
								 " + (SELECT pg_catalog.count(*) FROM pg_catalog.pg_constraint x"
								 "   WHERE x.conrelid = c.oid AND x.contype = 'x'),"
								 " EXISTS (SELECT FROM pg_catalog.pg_trigger t WHERE t.tgrelid = c.oid"
								 "   AND NOT t.tgisinternal AND t.tgenabled IN ('A', 'R'))"
								 " FROM pg_catalog.pg_class c WHERE c.oid = $1::pg_catalog.regclass",
								 1, params);

	out->known = false;
	out->unique = 0;
	out->replica_triggers = true;
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1)
	{
		out->known = true;
		(void) str_to_int(PQgetvalue(res, 0, 0), 0, 1000000, &out->unique);
		out->replica_triggers = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	}
	PQclear(res);
	return 0;
}

void
apply_rel_forget_statements(apply_rel *rel)
{
	for (int i = 0; i < rel->nstmts; i++)
	{
		free(rel->stmts[i].key);
		free(rel->stmts[i].name);
	}
	free(rel->stmts);
	rel->stmts = NULL;
	rel->nstmts = 0;
}

void
apply_rel_free(apply_rel *rel)
{
	if (rel == NULL)
		return;
	apply_rel_forget_statements(rel);
	for (int i = 0; rel->cols && i < rel->ncols; i++)
	{
		free((char *) rel->cols[i].qname);
		free((char *) rel->cols[i].type);
	}
	free(rel->cols);
	free(rel->keycols);
	for (int i = 0; i < rel->nextra; i++)
		free(rel->extra[i]);
	free(rel->extra);
	free(rel->qname);
	free(rel->display);
	free(rel);
}

void
apply_rel_sql(const apply_rel *rel, apply_sql_rel *out)
{
	out->qname = rel->qname;
	out->ncols = rel->ncols;
	out->cols = rel->cols;
	out->overriding = rel->overriding;
	out->nextra = rel->nextra;
	out->extra = (const char *const *) rel->extra;
}

const apply_stmt *
apply_rel_statement(const apply_rel *rel, const char *key)
{
	for (int i = 0; i < rel->nstmts; i++)
		if (strcmp(rel->stmts[i].key, key) == 0)
			return &rel->stmts[i];
	return NULL;
}

void
apply_rel_add_statement(apply_rel *rel, const char *key, const char *name)
{
	rel->stmts = xrealloc(rel->stmts, sizeof(apply_stmt) * (size_t) (rel->nstmts + 1));
	rel->stmts[rel->nstmts].key = xstrdup(key);
	rel->stmts[rel->nstmts].name = xstrdup(name);
	rel->nstmts++;
}

#define RELMAP_INITIAL_CAP 64

apply_relmap *
apply_relmap_create(void)
{
	apply_relmap *map = xcalloc(1, sizeof(apply_relmap));

	map->cap = RELMAP_INITIAL_CAP;
	map->slots = xcalloc(map->cap, sizeof(apply_rel *));
	return map;
}

void
apply_relmap_free(apply_relmap *map)
{
	if (map == NULL)
		return;
	for (size_t i = 0; i < map->cap; i++)
		apply_rel_free(map->slots[i]);
	for (int i = 0; i < map->ntypes; i++)
		free(map->types[i].type);
	free(map->types);
	free(map->slots);
	free(map);
}

/* The slot holding oid, or the free slot where it goes. */
static size_t
relmap_slot(apply_rel *const *slots, size_t cap, uint32_t oid)
{
	size_t		i = (size_t) ((oid * UINT32_C(2654435761)) & (cap - 1));

	while (slots[i] != NULL && slots[i]->oid != oid)
		i = (i + 1) & (cap - 1);
	return i;
}

apply_rel *
apply_relmap_get(const apply_relmap *map, uint32_t oid)
{
	return map->slots[relmap_slot(map->slots, map->cap, oid)];
}

void
apply_relmap_put(apply_relmap *map, apply_rel *rel)
{
	size_t		i;

	if ((map->count + 1) * 2 > map->cap)
	{
		size_t		newcap = map->cap * 2;
		apply_rel **slots = xcalloc(newcap, sizeof(apply_rel *));

		for (size_t j = 0; j < map->cap; j++)
			if (map->slots[j] != NULL)
				slots[relmap_slot(slots, newcap, map->slots[j]->oid)] = map->slots[j];
		free(map->slots);
		map->slots = slots;
		map->cap = newcap;
	}
	i = relmap_slot(map->slots, map->cap, rel->oid);
	if (map->slots[i] == NULL)
		map->count++;
	else
		apply_rel_free(map->slots[i]);
	map->slots[i] = rel;
}
