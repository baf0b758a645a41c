/*
 * verify_table.h
 *		A table present on both sides, as the data comparison sees it.
 *
 * Shared by the table-level comparison (verify_data.h) and the key-range
 * descent (verify_rows.h), which both read it and neither owns the
 * other: built and freed by verify_data.c.
 */
#ifndef PGCRANE_VERIFY_TABLE_H
#define PGCRANE_VERIFY_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

/* A column present on both sides, in the source's order. */
typedef struct vcolumn
{
	char	   *name;			/* as in the catalog */
	char	   *quoted;			/* quoted identifier */
	Oid			src_type;
	Oid			tgt_type;
	bool		collate_c;		/* compared in the "C" collation in keys,
								 * the sides' collations differing */
	bool		integer;		/* int2, int4, int8 or oid */
} vcolumn;

/* A table, or a populated materialized view, present on both sides. */
typedef struct vtable
{
	char	   *name;			/* schema.table, for messages */
	const char *kind;			/* "table" or "materialized view" (static) */
	char	   *qname;			/* quoted, qualified */
	char	   *tgt_qname;		/* the same on the target (renamed by the
								 * selection's rules, or as qname) */
	int64_t		bytes;			/* heap size on the source */
	int64_t		toast_bytes;	/* the rest of its data there: TOAST */
	int			ncols;
	vcolumn    *cols;
	int			nkey;			/* 0: no usable key */
	int		   *key;			/* indexes into cols */
	char	   *row_hash;		/* SQL: hash of the row's text */
	char	   *row_bits;		/* SQL: the same as a bigint, to sum */
} vtable;

#endif
