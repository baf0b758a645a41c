/*
 * lag.h
 *		How far behind the source the target is, in seconds.
 *
 * The lag in seconds is the age of the oldest source commit the target
 * does not have yet, 0 when it has them all.  The stream tells each
 * transaction's commit time in its Begin message, before its changes, so
 * the follow loop notes every Begin it receives (cdc_lag_begin) and, as
 * the target answers commits, drops those it now holds (cdc_lag_applied).
 * What the stream has not delivered yet is unknown here: while a backlog
 * is being read, the caller says so and gets the age of the last applied
 * commit, which is an upper bound (every commit not applied is younger).
 *
 * Times are the stream's: microseconds since 2000-01-01 (pgoutput.h).
 * Pure: no I/O, no clock.
 */
#ifndef PGCRANE_CDC_LAG_H
#define PGCRANE_CDC_LAG_H

#include <stdbool.h>
#include <stdint.h>

typedef struct cdc_lag_txn
{
	uint64_t	final_lsn;		/* the commit record's LSN (Begin) */
	int64_t		commit_time;
} cdc_lag_txn;

/* Received transactions the target does not hold yet, oldest first. */
typedef struct cdc_lag
{
	cdc_lag_txn *txns;			/* ring buffer, owned */
	int			cap;
	int			head;
	int			n;
} cdc_lag;

#define CDC_LAG_INIT {NULL, 0, 0, 0}

/* A Begin was received. */
void		cdc_lag_begin(cdc_lag *l, uint64_t final_lsn, int64_t commit_time);

/*
 * The target holds every transaction up to applied_lsn (the end LSN of
 * the last one it committed): forget those.  A transaction's commit
 * record starts before its end, so final_lsn < applied_lsn means held.
 */
void		cdc_lag_applied(cdc_lag *l, uint64_t applied_lsn);

/* Forget everything (a session ended: what it held comes again). */
void		cdc_lag_reset(cdc_lag *l);
void		cdc_lag_release(cdc_lag *l);

/*
 * The lag in seconds at now: the age of the oldest transaction noted and
 * not applied; when there is none, 0, or with backlog (the source has
 * written more than was received) the age of last_applied_time (0 when
 * unknown).  Never negative.
 */
double		cdc_lag_seconds(const cdc_lag *l, int64_t now, bool backlog,
							int64_t last_applied_time);

#endif
