/*
 * ddl.h
 *		Schema changes of the source, applied on the target during follow.
 *
 * A schema change reaches the stream as a Relation message: pgoutput sends
 * one before the first change of a table after its definition changed.
 * The message has the table's columns by name and type only, so what it
 * means is read from the source's catalog (column numbers, types with
 * their typmod, defaults, NOT NULL, collation, identity) and from the
 * follow's record of which source column each target column is (by
 * attnum, kept in the state for every table the stream described).  The
 * plan is the statements that make the target's table take the changes
 * that follow:
 *
 *		a column the source added		ALTER TABLE ADD COLUMN IF NOT EXISTS
 *		a column the source dropped		ALTER TABLE DROP COLUMN IF EXISTS
 *		a column renamed (same attnum)	ALTER TABLE RENAME COLUMN
 *		a column of another type		ALTER TABLE ALTER COLUMN TYPE
 *		a table the target lacks		its definition from pg_dump --schema-only
 *
 * The plan is read from both catalogs every time, right before it runs,
 * and runs in a transaction of its own: after a crash the replayed
 * Relation message finds the target changed already and plans nothing.
 *
 * Nothing is guessed.  When the source's catalog no longer matches the
 * message (the table changed again since, or is gone), when a column's
 * values on the target could not be those of the source (a default
 * evaluated per row, an identity filled on a table that has rows), or
 * when the follow has no record to tell a rename from a dropped and an
 * added column, the plan is CDC_MISMATCH: the follow stops, naming the
 * table and the column.
 */
#ifndef PGCRANE_CDC_DDL_H
#define PGCRANE_CDC_DDL_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "cdc/outcome.h"
#include "cdc/pgoutput.h"
#include "core/state.h"

/* --ddl: apply the changes (the default), or stop at them. */
typedef enum ddl_mode
{
	DDL_APPLY,
	DDL_STOP
} ddl_mode;

#define DDL_MODE_DEFAULT DDL_APPLY

/* "apply" or "stop"; false for anything else. */
bool		ddl_mode_parse(const char *s, ddl_mode *mode);
const char *ddl_mode_name(ddl_mode mode);

typedef struct ddl_ctx ddl_ctx;

typedef struct ddl_options
{
	const char *source;			/* connection string, copied */
	state	   *st;				/* the records; not closed */
	bool		no_owner;		/* the clone's --no-owner, for new tables */
	bool		no_acl;			/* the clone's --no-acl */
} ddl_options;

ddl_ctx    *ddl_create(const ddl_options *o);
void		ddl_free(ddl_ctx *d);

/* Close the source session (a follow session ends). */
void		ddl_end_session(ddl_ctx *d);

/* Statements to run on the target, in order; all strings owned. */
typedef struct ddl_plan
{
	int			n;
	char	  **sql;
	char	   *display;		/* schema.table for messages */
	bool		creates_table;
	int32_t    *attnums;		/* the source attnum of each described column */
	int			natts;
} ddl_plan;

#define DDL_PLAN_INIT {0, NULL, NULL, false, NULL, 0}

void		ddl_plan_release(ddl_plan *p);

/*
 * What the target's table of desc needs before the changes described by
 * desc can be applied, from the source's catalog and the target's (tgt,
 * a session with an empty search_path).  0 with p->n statements (0:
 * none, and the record is kept up to date), CDC_MISMATCH (logged: stop
 * before the transaction) or -1 (logged).
 */
int			ddl_plan_relation(ddl_ctx *d, PGconn *tgt, const pgo_relation *desc,
							  ddl_plan *p);

/*
 * Run p on tgt in a transaction of its own and record the table's columns;
 * after a new table, create the sequences the target lacks.  0,
 * CDC_MISMATCH (a statement failed: logged with it) or -1 (logged).
 */
int			ddl_execute(ddl_ctx *d, PGconn *tgt, const pgo_relation *desc,
						const ddl_plan *p);

/*
 * Create table qname (quoted, qualified) on tgt as the source defines it
 * (pg_dump --schema-only --table, in a transaction: with the sequences
 * it owns); with sequences, every sequence the target lacks first (one
 * its default uses may belong to no table).  0, CDC_MISMATCH (a
 * statement failed: logged with it) or -1 (logged).
 */
int			ddl_create_table(ddl_ctx *d, PGconn *tgt, const char *qname,
							 const char *display, bool sequences);

/*
 * Create on tgt every sequence of the source the target lacks (not those
 * of identity columns, which their tables make); *created gets how many.
 * 0 or -1 (logged).
 */
int			ddl_create_sequences(ddl_ctx *d, PGconn *tgt, int *created);

#endif
