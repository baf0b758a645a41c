/*
 * compact.h
 *		The net effect of the row changes of one target transaction, so that
 *		many changes become few statements.
 *
 * A target transaction holds many source transactions (apply_lane.c).
 * Their changes to a table whose rows are told apart by one key (the
 * replica identity, with no other unique index or exclusion constraint on
 * the target and no trigger that fires on it in replica mode) commute
 * when they touch different rows: foreign keys are not checked in the
 * apply session.  So they can be held and sent at the end as few
 * statements of many rows each, and successive changes of one row become
 * the last of them:
 *
 *	pending		then	net
 *	-			I		I		insert
 *	-			U		U		update
 *	-			D		D		delete
 *	I			U		I		with the update's values (a value the update
 *								did not send, an unchanged TOASTed one, is
 *								the insert's)
 *	I			D		-		nothing: the row never reaches the target
 *	U			U		U		with both sets of values, the later's first
 *	U			D		D
 *	D			I		R		delete, then insert
 *	R			U		R		with the update's values
 *	R			D		D
 *
 * Anything else (an insert of a row that is pending as inserted, an update
 * of one pending as deleted, ...) is not taken: the caller sends what is
 * pending first and then that change on its own, so that the target says
 * what is wrong with it as it would have.  Inserts into a table without
 * any unique index ("append" tables) are taken as they come, never merged.
 *
 * compact_rows() gives what is pending in the order to send it: table by
 * table (in the order each was first changed), the deletes (of D and R)
 * first, then the updates, then the inserts (of I and R); within those,
 * rows with the same columns set together, in the order they were first
 * changed.  A row's key never changes while it is pending (an update that
 * changes a key is not taken), so a delete and an insert of one key come
 * in this order, and no two rows of a table collide.
 *
 * Values are copied: the messages may be released at once.  Pure: no
 * server, no I/O.
 */
#ifndef PGCRANE_CDC_COMPACT_H
#define PGCRANE_CDC_COMPACT_H

#include <stdbool.h>
#include <stdint.h>

#include "cdc/pgoutput.h"

/* What a pending row does: the net of its changes. */
#define COMPACT_INSERT	'I'
#define COMPACT_UPDATE	'U'
#define COMPACT_DELETE	'D'
#define COMPACT_REPLACE 'R'		/* delete, then insert */
#define COMPACT_NONE	'-'		/* inserted, then deleted: nothing */

typedef struct compact_row
{
	uint32_t	relid;
	char		op;				/* COMPACT_* */
	int			ncols;
	pgo_value  *newv;			/* I, U, R: the new values; a column of U not
								 * set is PGO_VALUE_UNCHANGED; owned */
	pgo_value  *keyv;			/* the key columns' values (others
								 * PGO_VALUE_UNCHANGED), for U, D, R; owned */
	uint64_t	lsn;			/* commit LSN of the last change merged */
	uint32_t	order;			/* when it was first changed */
	uint64_t	hash;
	bool		keyless;		/* an append table's insert */
	int			relrank;		/* its relation's place among those changed */
} compact_row;

/* One row to send, in compact_rows()' order. */
typedef struct compact_item
{
	const compact_row *row;
	char		op;				/* 'D', 'U' or 'I' */
} compact_item;

typedef struct compact compact;

compact    *compact_create(void);
void		compact_free(compact *c);

/* Forget everything pending (sent, or rolled back). */
void		compact_reset(compact *c);

/* Changes taken since the last reset (merged ones included). */
int			compact_changes(const compact *c);

/*
 * Take a change of relation relid, whose key columns are those of key
 * (ncols flags).  new is the new row (insert, update), old the old one
 * (delete: its key columns at least); an update is taken only when its key
 * did not change.  false when it is not taken: send what is pending,
 * then the change on its own.
 */
bool		compact_insert(compact *c, uint32_t relid, const bool *key,
						   const pgo_tuple *new, uint64_t lsn);
bool		compact_update(compact *c, uint32_t relid, const bool *key,
						   const pgo_tuple *new, uint64_t lsn);
bool		compact_delete(compact *c, uint32_t relid, const bool *key,
						   const pgo_tuple *old, uint64_t lsn);
/* An insert into a table without unique indexes: always taken. */
void		compact_append(compact *c, uint32_t relid, const pgo_tuple *new,
						   uint64_t lsn);

/*
 * What is pending, in the order to send it (see above); the array and the
 * rows stay valid until the next call that changes c.
 */
const compact_item *compact_items(compact *c, int *n);

#endif
