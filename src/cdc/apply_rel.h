/*
 * apply_rel.h
 *		Source relations matched to target tables, and their statements.
 *
 * For every relation the stream describes (Relation message), the apply
 * keeps an apply_rel: the target table it maps to (same schema and name,
 * or the names the selection's renames give), each published column's
 * quoted name and target type (a column the selection leaves out is
 * marked excluded and never looked for on the target), and the prepared
 * statements made for it so far, one per operation and column mask.
 *
 * Matching is strict, since a change applied to a table of another shape
 * would be applied wrongly: the table must exist on the target, every
 * published column must exist there, must not be generated there, and a
 * built-in type must be the same on both sides.  As for a subscriber, the
 * target may have columns the source does not send, unless one is NOT
 * NULL without a default.  A mismatch is logged (the table, the column and
 * what differs) and reported as CDC_MISMATCH.
 */
#ifndef PGCRANE_CDC_APPLY_REL_H
#define PGCRANE_CDC_APPLY_REL_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "cdc/apply_sql.h"
#include "cdc/outcome.h"
#include "cdc/pgoutput.h"
#include "core/selection.h"

/* apply_rel_load(): the target's table does not match the source's. */

typedef struct apply_stmt
{
	char	   *key;			/* operation and masks, see apply.c */
	char	   *name;			/* prepared statement name */
} apply_stmt;

typedef struct apply_rel
{
	uint32_t	oid;			/* the source's OID */
	const pgo_relation *desc;	/* the description, owned by the relcache */
	char	   *qname;			/* "schema"."table" */
	char	   *display;		/* schema.table for messages */
	char		relkind;		/* the target's: 'r' or 'p' */
	bool		overriding;		/* a GENERATED ALWAYS identity column */
	int			ncols;			/* desc->natts when loaded */
	apply_sql_col *cols;		/* per column of desc, strings owned */
	char	  **extra;			/* quoted target columns not sent, not
								 * generated */
	int			nextra;
	apply_stmt *stmts;
	int			nstmts;
	char		compact;		/* how its changes are held (compact.h):
								 * 'K' by key, 'A' inserts appended, 0 not */
	bool	   *keycols;		/* with 'K': its key columns, ncols flags */
	uint64_t	written_group;	/* the last target transaction that wrote
								 * to it (apply.c's count; 0: none) */
} apply_rel;

/*
 * Read the target table that desc names (through the renames of sel, which
 * may be NULL) and build its apply_rel.  Types
 * without an equality operator are found by asking the target (only for
 * replica identity FULL, where whole rows are compared); the answers are
 * remembered in the map.  0, -1 (logged) or CDC_MISMATCH (logged).
 */
typedef struct apply_relmap apply_relmap;

int			apply_rel_load(PGconn *tgt, apply_relmap *map, const selection *sel,
						   const pgo_relation *desc, apply_rel **out);

/* What the target adds to a table's keys (apply_rel_traits()). */
typedef struct apply_rel_traits_t
{
	bool		known;			/* the table was found */
	int			unique;			/* unique indexes and exclusion constraints */
	bool		replica_triggers;	/* a trigger fires in replica mode */
} apply_rel_traits_t;

/*
 * Read the traits of the target's table qname; -1 (logged) when the query
 * failed.  A table not found is not known, with triggers assumed.
 */
int			apply_rel_traits(PGconn *tgt, const char *qname, apply_rel_traits_t *out);

/* Whether sel (may be NULL) renames nsp.rel or leaves a column of it out. */
bool		apply_rel_transformed(const selection *sel, const char *nsp,
								  const char *rel);
void		apply_rel_free(apply_rel *rel);

/* The view of rel the statement builders take (pointers into rel). */
void		apply_rel_sql(const apply_rel *rel, apply_sql_rel *out);

/* Forget the prepared statements (the replica identity changed). */
void		apply_rel_forget_statements(apply_rel *rel);

/* The statement prepared for key, or NULL. */
const apply_stmt *apply_rel_statement(const apply_rel *rel, const char *key);

/* Remember a statement; takes copies of key and name. */
void		apply_rel_add_statement(apply_rel *rel, const char *key, const char *name);

/* Relations by source OID.  The map owns what is put in it. */
apply_relmap *apply_relmap_create(void);
void		apply_relmap_free(apply_relmap *map);
apply_rel  *apply_relmap_get(const apply_relmap *map, uint32_t oid);
/* Store rel, freeing the one it replaces. */
void		apply_relmap_put(apply_relmap *map, apply_rel *rel);

#endif
