/*
 * verify_select.h
 *		Verify the part of a database a selection moved, under its mapping.
 *
 * The catalog rows both sides return (schema inventories, the tables and
 * sequences of the data comparison) are rewritten before they are paired:
 * on the target, the names a rename gave are turned back into the
 * source's (a schema's objects, a renamed table and what hangs off it),
 * in names and in the qualified names of definitions; on both sides, the
 * rows of what the selection leaves out are dropped (schemas, relations,
 * columns, the foreign keys --exclude-dependents drops), and so are the
 * rows of the data comparison of the tables whose rows stay behind.  The
 * positions of the columns after a column left out are counted without
 * it.  On the target, the objects of a schema left out are still
 * reported when they are there (but for the schema itself: a new
 * database always has public).
 */
#ifndef PGCRANE_VERIFY_SELECT_H
#define PGCRANE_VERIFY_SELECT_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "core/selection.h"

typedef struct vsel
{
	const selection *sel;		/* NULL: no rules, nothing rewritten */
	char	  **out;			/* names left out, sorted */
	int			nout;
	char	  **schemas;		/* the schemas among them, sorted */
	int			nschemas;
	char	  **no_data;		/* schema.table whose rows are not compared */
	int			nno_data;
	int			tables_out;		/* tables left out, for the last line */
	bool		large_objects;	/* large objects are compared */
	char	  **text_from;		/* in the target's definitions, each name a
								 * rule gave, as the server quotes it ... */
	char	  **text_to;		/* ... and the source's name it stands for */
	int			ntext;
} vsel;

#define VSEL_INIT {NULL, NULL, 0, NULL, 0, NULL, 0, 0, true, NULL, NULL, 0}

/*
 * Resolve the rules sel (NULL or empty: no rules) on src, the source
 * session; 0 or -1 (logged).  Release with vsel_release.
 */
int			vsel_init(vsel *v, PGconn *src, const selection *sel);
void		vsel_release(vsel *v);

/*
 * Rewrite the rows of one schema inventory (kind, name, parent,
 * properties...) of both sides, replacing *rs and *rt.
 */
void		vsel_schema_rows(const vsel *v, PGresult **rs, PGresult **rt);

/*
 * Rewrite the rows of the data comparison's tables or sequences (schema
 * in column 0, name in column 1, column name in attcol, or -1).
 */
void		vsel_data_rows(const vsel *v, PGresult **rs, PGresult **rt, int attcol);

/* The target's quoted name of source relation nsp.rel (you own it). */
char	   *vsel_target_qname(const vsel *v, PGconn *conn, const char *nsp,
							  const char *rel);

#endif
