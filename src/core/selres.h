/*
 * selres.h
 *		A selection resolved on the source: which objects it leaves out.
 *
 * selres_read() matches the rules of a selection (selection.h) against
 * the source's catalogs, on a connection that may have imported the
 * clone's snapshot, and lists what the clone, the plan and verify need:
 *
 *   - the relations left out (tables, partitioned tables, views,
 *     materialized views, sequences, foreign tables), and those kept,
 *     with their sizes (pg_table_size);
 *   - the tables whose rows stay behind (--exclude-table-data);
 *   - the schemas left out;
 *   - the problems that make the selection unusable, as messages for
 *     preflight: an object kept that needs one left out (a view over an
 *     excluded table, a foreign key into it), unless exclude_dependents
 *     leaves it out too (a view, a materialized view, a function of its
 *     row type) or drops it (a foreign key, listed in constraints_out);
 *     a foreign key into a table whose rows stay behind (dropped with
 *     exclude_dependents); a column to leave out that an index,
 *     constraint or view needs; a rename whose schema or table is
 *     not selected or whose new name is taken;
 *   - the functions whose body names a schema that is renamed (warnings).
 *
 * Which relations a rule selects: with no include rule every relation of
 * a user schema; with include rules, those of the included schemas and
 * the tables matching an include pattern.  Then those of the excluded
 * schemas and those matching an exclude pattern are left out.  A
 * sequence owned by a table (serial, identity, OWNED BY) and a partition
 * follow their table; a sequence that a kept table's default uses comes
 * along unless a pattern excludes it; a schema is kept when it is not excluded and either no
 * include rule is given, it matches one, or it holds a relation kept.
 * A table pattern without a schema matches in the schemas of the source
 * role's default search_path, as pg_dump's -t does.
 *
 * Everything is owned by the selres and freed by selres_release().
 */
#ifndef PGCRANE_SELRES_H
#define PGCRANE_SELRES_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "core/selection.h"

typedef struct selres_rel
{
	uint32_t	oid;
	char		kind;			/* relkind: r, p, v, m, S, f */
	char	   *nspname;
	char	   *relname;
	char	   *display;		/* schema.name */
	int64_t		bytes;			/* pg_table_size */
	bool		no_data;		/* kept without its rows */
	char	   *why;			/* left out: "selection", or the object it
								 * needs ("table public.x"); NULL if kept */
} selres_rel;

typedef struct selres_named
{
	uint32_t	oid;
	char	   *name;			/* schema, or schema.table.constraint */
	char	   *display;		/* for messages */
} selres_named;

/* An object by its catalog's OID and its own, as pg_dump's TOC lists it. */
typedef struct selres_key
{
	uint32_t	catalog;
	uint32_t	oid;
} selres_key;

typedef struct selres
{
	selres_rel *rels;			/* every user relation, by schema and name */
	int			nrels;
	selres_named *schemas_out;	/* schemas left out */
	int			nschemas_out;
	selres_key *objects_out;	/* the objects of those schemas that are
								 * not relations: functions, types,
								 * operators... (a schema such as public
								 * has no entry of its own in the archive
								 * for them to depend on) */
	int			nobjects_out;
	selres_named *constraints_out;	/* foreign keys dropped */
	int			nconstraints_out;
	selres_named *functions_out;	/* functions left out: they take or
									 * return the row type of a relation
									 * left out ("schema.f(argtypes)") */
	int			nfunctions_out;
	char	  **problems;		/* preflight errors, one line each */
	char	  **hints;			/* a hint per problem, or NULL */
	int			nproblems;
	char	  **warnings;
	int			nwarnings;
	bool		large_objects;	/* large objects are copied */
	int64_t		nlargeobjects;	/* on the source */
	int64_t		large_object_bytes;
} selres;

#define SELRES_INIT {0}

/* Match the rules on src (see above); 0 or -1 (logged). */
int			selres_read(PGconn *src, const selection *sel, selres *r);
void		selres_release(selres *r);

/* The relation with this OID, or NULL. */
const selres_rel *selres_find(const selres *r, uint32_t oid);

/* Whether the relation schema.name is left out (false when unknown). */
bool		selres_rel_out(const selres *r, const char *nspname, const char *relname);

/* Counts: relations of kind (r and p for 't') left out, and kept. */
int			selres_count(const selres *r, char kind, bool out);

/*
 * The target-side checks of a selection on tgt, the target database that
 * is kept, or NULL for one the clone creates: a schema a rename creates
 * must not exist there ("public" always does).  Adds to r->problems;
 * 0 or -1 (logged).
 */
int			selres_check_target(PGconn *tgt, const selection *sel, selres *r);

#endif
