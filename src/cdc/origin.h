/*
 * origin.h
 *		How far the target has applied: a replication origin, or a table.
 *
 * A replication origin is a named record in the target's shared memory,
 * checkpointed with it, of the last source position a commit came from.
 * The apply session binds itself to the origin and, in each transaction,
 * names the source commit it applies; the target then writes that position
 * with its own commit record, atomically.  After any crash the origin's
 * progress is exactly the end of the last source transaction the target
 * committed.
 *
 * A target role that may not use replication origins (no EXECUTE on their
 * functions: a managed service) gets the same from a table of pgcrane's
 * in the target database, pgcrane.follow_progress (origin name, lsn): each
 * applied transaction updates its row before its COMMIT, so the row and
 * the rows applied commit together or not at all.  Its durable value is
 * read after a commit that flushes the target's WAL past it.
 *
 * table says which of the two a follow uses (state.h records it).
 * Functions take a target connection and return 0 or -1 (logged).
 */
#ifndef PGCRANE_CDC_ORIGIN_H
#define PGCRANE_CDC_ORIGIN_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

/*
 * Create the origin (or the table and its row) unless it exists,
 * starting at start_lsn (the slot's consistent point: the clone holds
 * everything before it).
 */
int			cdc_origin_ensure(PGconn *tgt, bool table, const char *origin,
							  uint64_t start_lsn);

/*
 * The origin's progress: the end LSN of the last source transaction the
 * target committed.  With flush, the target's WAL is flushed first up to
 * that commit, so the position survives a crash of the target.  *lsn is 0
 * when the origin has none; *exists is false when there is no such origin
 * (exists may be NULL).
 */
int			cdc_origin_progress(PGconn *tgt, bool table, const char *origin,
								bool flush, uint64_t *lsn, bool *exists);

/*
 * Drop the origin if it exists (with table: its row, and the table and
 * schema pgcrane once nothing else is in them); *dropped says whether it
 * did.
 */
int			cdc_origin_drop(PGconn *tgt, bool table, const char *origin,
							bool *dropped);

/*
 * Parallel apply (apply.c) gives each lane of a follow its own progress:
 * lane 0 the origin's name, lane i > 0 origin_l<i> (you own the name).
 */
char	   *cdc_origin_lane_name(const char *origin, int lane);

/*
 * The lanes above 0 that have a progress record for origin on the target,
 * in *lanes (you own the array, *n entries).
 */
int			cdc_origin_lanes(PGconn *tgt, bool table, const char *origin,
							 int **lanes, int *n);

/*
 * Prove that no session holds the progress name: bind it and let it go
 * at once.  -1 with a failure that heals by waiting (55006) when one does.
 */
int			cdc_origin_claim(PGconn *tgt, bool table, const char *name);

/* The SQL that marks the transaction in progress as coming from a source commit. */
#define CDC_ORIGIN_XACT_SETUP_SQL \
	"SELECT pg_catalog.pg_replication_origin_xact_setup($1::pg_catalog.pg_lsn, " \
	"$2::pg_catalog.timestamptz)"

/* The same with the table: $3 is the origin's name ($2 is not used). */
#define CDC_PROGRESS_TABLE_SQL \
	"UPDATE pgcrane.follow_progress SET lsn = $1::pg_catalog.pg_lsn," \
	" committed_at = $2::pg_catalog.timestamptz WHERE origin = $3"

/* The SQL that binds the session to the origin (one session at a time). */
#define CDC_ORIGIN_SESSION_SQL \
	"SELECT pg_catalog.pg_replication_origin_session_setup($1)"

#endif
