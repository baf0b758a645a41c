/*
 * carry.h
 *		What a follow does not carry to the target, said at the cutover.
 *
 * pgoutput streams the row changes (INSERT, UPDATE, DELETE, TRUNCATE) of
 * committed transactions in published tables.  It does not stream schema
 * changes, roles and privileges, sequence changes, large objects, the
 * rows of unlogged tables, materialized view refreshes, nor a prepared
 * transaction until COMMIT PREPARED: a transaction still prepared on the
 * source at the cutover has changes the target will never see.  The
 * cutover copies the sequence values, and carries the unlogged tables,
 * the materialized views (unless --no-refresh-matviews) and the large
 * objects (cutover_extra.h); this module asks the source what of the
 * rest applies to it and words it for the cutover's summary.
 *
 * Functions log nothing unless they say so.
 */
#ifndef PGCRANE_CDC_CARRY_H
#define PGCRANE_CDC_CARRY_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "util/str.h"

/*
 * The transactions prepared in src's database, one line each appended to
 * out ("gid \"g\", owner \"o\", prepared 2026-11-21 10:16:38Z (12 s ago)").
 * How many, or -1 when the source could not be asked (nothing appended).
 */
int			cdc_carry_prepared(PGconn *src, strbuf *out);

/*
 * Every kind of change the follow and the cutover did not carry, one line
 * each (no final newline), with the counts found on src; the materialized
 * views among them unless refreshed.  Lines that need the source say so
 * when it cannot be asked.
 */
void		cdc_carry_list(PGconn *src, bool refreshed, strbuf *out);

/*
 * The same list, asked of the source in a new session on conninfo (the
 * lines that need it say so when it cannot be reached).
 */
void		cdc_carry_ask(const char *conninfo, bool refreshed, strbuf *out);

#endif
