/*
 * position.h
 *		What the source may forget: the flush position of a status update.
 *
 * The invariant of following changes: the position pgcrane reports to the
 * source as flushed (which lets the source recycle WAL and moves the slot
 * on for good), and the one a session restarts from, never pass what the
 * target has durably committed.  This module is the one place that
 * computes it, from figures the follow loop keeps; it does no I/O.
 *
 *   durable     the origin's progress with the target's WAL flushed up to
 *               it (what survives a crash of the target now)
 *   committed   the origin's progress: the end of the last source
 *               transaction that wrote on the target and whose commit the
 *               target answered (may not be flushed yet)
 *   applied     the end of the last source transaction the target
 *               answered, counting those that wrote nothing
 *   keepalive   the WAL end of a keepalive received while the target had
 *               answered everything it was sent and held no open
 *               transaction: nothing before it is missing on the target
 *   idle        nothing is open or in flight on the target now
 *
 * Only when everything is answered and durable may more than the durable
 * position be reported.  A keepalive received while a target transaction
 * was open says nothing about that transaction: it is not taken (an open
 * transaction may still be rolled back, and with it source transactions
 * whose commits lie before the keepalive).
 */
#ifndef PGCRANE_CDC_POSITION_H
#define PGCRANE_CDC_POSITION_H

#include <stdbool.h>
#include <stdint.h>

typedef struct cdc_position
{
	uint64_t	durable;
	uint64_t	committed;
	uint64_t	applied;
	uint64_t	keepalive;
	bool		idle;
} cdc_position;

/* The flush position a status update may report. */
uint64_t	cdc_position_flush(const cdc_position *p);

/*
 * The keepalive position after a keepalive with WAL end wal_end arrived:
 * taken only when the target was idle at its arrival (idle), never
 * moving back.
 */
uint64_t	cdc_position_keepalive(uint64_t current, uint64_t wal_end, bool idle);

/*
 * After an open target transaction was rolled back: the keepalive
 * position can no longer be trusted beyond what is durable.
 */
uint64_t	cdc_position_after_rollback(uint64_t keepalive, uint64_t durable);

#endif
