/*
 * replident.h
 *		Tables without a replica identity, and --replica-identity-full.
 *
 * pgoutput sends, for an update or a delete, the row's replica identity;
 * a table without one has its updates and deletes refused by the source
 * once it is published.  With --replica-identity-full pgcrane sets
 * REPLICA IDENTITY FULL on exactly those tables of the source, after
 * preflight and before the replication slot exists, records in the state
 * what each had, and gives it back on cleanup.
 *
 * Functions return 0 or -1 (logged).
 */
#ifndef PGCRANE_CDC_REPLIDENT_H
#define PGCRANE_CDC_REPLIDENT_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "core/selres.h"
#include "core/state.h"

/*
 * Preflight: list the logged tables without a replica identity with
 * their size and write rate.  Without set_full each is an error (*ok
 * false) with a hint naming --replica-identity-full; with it each is
 * announced, and only one the source role does not own is an error.
 * With rules (may be NULL), only the tables whose rows the clone copies
 * count: the others are not published.
 */
int			cdc_replident_check(PGconn *src, bool set_full, const selres *rules,
								bool *ok);

/*
 * Set REPLICA IDENTITY FULL on every logged table of src without a
 * replica identity, each recorded in st (with what it had) before it is
 * altered, so that a crash in between loses nothing for cleanup.  With
 * rules (may be NULL), only the tables whose rows the clone copies.
 */
int			cdc_replident_set_full(state *st, PGconn *src, const selres *rules);

/*
 * Give back what cdc_replident_set_full changed: every recorded table that
 * still has REPLICA IDENTITY FULL gets its recorded identity again (one
 * that was dropped, or changed by someone else since, is left alone); the
 * record is then forgotten.  src must be proved to be st's source.
 */
int			cdc_replident_restore(state *st, PGconn *src);

#endif
