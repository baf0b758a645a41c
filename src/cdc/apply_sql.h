/*
 * apply_sql.h
 *		The statements that apply a decoded change to the target.
 *
 * Pure text builders: names come in quoted already (conn_quote_ident),
 * values are never in the text, only $n parameters, typed by the server
 * from the column each is assigned to or compared with.  Which columns take part is given as a mask with
 * one flag per column of the relation (in the order of the Relation
 * message); parameters are numbered in column order, the SET columns
 * first, then the key columns.
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
} apply_sql_col;

typedef struct apply_sql_rel
{
	const char *qname;			/* "schema"."table" */
	int			ncols;
	const apply_sql_col *cols;
	bool		overriding;		/* a GENERATED ALWAYS identity column */
} apply_sql_rel;

/* INSERT INTO t (cols) [OVERRIDING SYSTEM VALUE] VALUES ($1, ...) */
char	   *apply_sql_insert(const apply_sql_rel *r, const bool *use);

/*
 * UPDATE ONLY t SET c = $1, ... WHERE <key>.  With full (replica
 * identity FULL) the key is every column of the old row, matched null-safely
 * and limited to one row by its ctid, so that one of several identical rows
 * changes; a type without equality is compared by its text form.
 */
char	   *apply_sql_update(const apply_sql_rel *r, const bool *set,
							 const bool *key, bool full);

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
