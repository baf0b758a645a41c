/*
 * apply_sql.h
 *		The statements that apply a decoded change to the target.
 *
 * Pure text builders: names come in quoted already (conn_quote_ident),
 * values are never in the text, only $n parameters.  Each parameter has
 * the type of its column on the target (apply_sql_param_types(), given to
 * the server when the statement is prepared), so that composite, enum,
 * domain, range and array values are read as what they are.  Which
 * columns take part is given as a mask with one flag per column of the
 * relation (in the order of the Relation message); parameters are
 * numbered in column order, the SET columns first, then the key columns.
 *
 * Every function returns a string you own.
 */
#ifndef PGCRANE_CDC_APPLY_SQL_H
#define PGCRANE_CDC_APPLY_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct apply_sql_col
{
	const char *qname;			/* quoted column name */
	const char *type;			/* target type, format_type() without typmod;
								 * used only with text_compare */
	bool		text_compare;	/* the type has no equality operator */
	uint32_t	typoid;			/* target type OID, the parameter's type */
	bool		identity_always;	/* GENERATED ALWAYS AS IDENTITY */
	bool		excluded;		/* left out by --exclude-column: not on the
								 * target, never in a mask, never named */
} apply_sql_col;

typedef struct apply_sql_rel
{
	const char *qname;			/* "schema"."table" */
	int			ncols;
	const apply_sql_col *cols;
	bool		overriding;		/* a GENERATED ALWAYS identity column */
	int			nextra;			/* target columns the source does not send */
	const char *const *extra;	/* their quoted names (none generated) */
} apply_sql_rel;

/*
 * The type OIDs of the parameters of a statement built from masks first
 * and second (second may be NULL), in parameter order, into types (room
 * for 2 * ncols); returns how many.
 */
int			apply_sql_param_types(const apply_sql_rel *r, const bool *first,
								  const bool *second, uint32_t *types);

/* INSERT INTO t (cols) [OVERRIDING SYSTEM VALUE] VALUES ($1, ...) */
char	   *apply_sql_insert(const apply_sql_rel *r, const bool *use);

/*
 * UPDATE ONLY t SET c = $1, ... WHERE <key>.  With full (replica
 * identity FULL) the key is every column of the old row, matched null-safely
 * and limited to one row by its ctid, so that one of several identical rows
 * changes; a type without equality is compared by its text form.  Among
 * equal rows, one identical to the old row (record image equality, *=)
 * is preferred; any equal row is taken only when none is identical.
 */
char	   *apply_sql_update(const apply_sql_rel *r, const bool *set,
							 const bool *key, bool full);

/*
 * An UPDATE that gives a GENERATED ALWAYS identity column a new value,
 * which UPDATE cannot: the row is deleted and inserted again with
 * OVERRIDING SYSTEM VALUE in one statement,
 *
 *	WITH d AS (DELETE FROM ONLY t WHERE <key> RETURNING *)
 *	INSERT INTO t (every column) OVERRIDING SYSTEM VALUE
 *	SELECT $1, d.b, ... FROM d
 *
 * where a column out of set (unchanged TOASTed value, unchanged key) and
 * every extra target column keeps the deleted row's value.  Parameters as
 * for apply_sql_update().
 */
char	   *apply_sql_move(const apply_sql_rel *r, const bool *set,
						   const bool *key, bool full);

/*
 * An UPDATE by key where it is not known whether a GENERATED ALWAYS
 * identity column changed (its old value is not sent): the row is moved
 * as apply_sql_move() does when an identity column differs from the new
 * value, updated in place (identity columns left out) otherwise.  It
 * returns one row per row changed.
 */
char	   *apply_sql_update_or_move(const apply_sql_rel *r, const bool *set,
									 const bool *key);

/*
 * Statements of nrows rows each (compact.h), for tables whose rows are
 * found by their key ("="), parameters row after row in the order of the
 * one-row forms (set, then key):
 *
 *	INSERT INTO t (cols) VALUES ($1, $2), ($3, $4), ...
 *	UPDATE ONLY t AS t SET c = v.s1 FROM (VALUES ($1, $2), ...) AS v(s1, k1)
 *		WHERE t.k = v.k1
 *	DELETE FROM ONLY t AS t USING (VALUES ($1), ...) AS v(k1) WHERE t.k = v.k1
 *
 * set and key share no column.  You own the text.
 */
char	   *apply_sql_insert_rows(const apply_sql_rel *r, const bool *use, int nrows);
char	   *apply_sql_update_rows(const apply_sql_rel *r, const bool *set,
								  const bool *key, int nrows);
char	   *apply_sql_delete_rows(const apply_sql_rel *r, const bool *key, int nrows);

/* DELETE FROM ONLY t WHERE <key>, the key as for apply_sql_update(). */
char	   *apply_sql_delete(const apply_sql_rel *r, const bool *key, bool full);

/*
 * TRUNCATE of n tables at once; only[i] asks for ONLY (not allowed on a
 * partitioned table).
 */
char	   *apply_sql_truncate(const char *const *qnames, const bool *only, int n,
							   bool restart_identity, bool cascade);

/* Number of flags set among the n of mask. */
int			apply_sql_count(const bool *mask, int n);

/*
 * A PostgreSQL timestamp (microseconds since 2000-01-01 UTC) as timestamptz
 * input: "2024-11-15 03:33:20.123456+00".  bufsize of 40 is enough.
 */
void		apply_sql_timestamp(int64_t pgtime, char *buf, size_t bufsize);

#endif
