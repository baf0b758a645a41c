/*
 * report.h
 *		What follow records in the state, and how it is shown.
 *
 * follow.c writes its progress into the state about once a second (the
 * state's typed facts, core/state.h); pgcrane status and pgcrane cutover
 * read it from another process (state_open_shared).  This module owns the
 * format of times: UTC "2026-11-21 10:16:38Z".
 */
#ifndef PGCRANE_CDC_REPORT_H
#define PGCRANE_CDC_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/state.h"

/* The live figures follow records. */
typedef struct follow_figures
{
	const char *phase;
	uint64_t	applied_lsn;	/* highest shown so far: never moves back */
	uint64_t	durable_lsn;	/* on the target's disk; never moves back */
	uint64_t	source_lsn;		/* 0 when not known */
	double		lag_seconds;
	double		changes_per_second;
	int64_t		transactions;	/* applied since follow first started */
	int64_t		changes;
	int64_t		missing_rows;
} follow_figures;

/*
 * Write the figures and the time of this update, in one state
 * transaction; not the counts, which cdc_report_put_counts() writes with
 * the position they cover.  0, or -1 when the write failed (logged).
 */
STATE_MUST_CHECK int cdc_report_put_figures(state *st, const follow_figures *f);

/*
 * The counts alone (transactions, changes, missing rows) and the source
 * position up to which they count every transaction, in one state
 * transaction; 0 or -1 (logged).
 */
STATE_MUST_CHECK int cdc_report_put_counts(state *st, int64_t transactions,
										   int64_t changes, int64_t missing_rows,
										   uint64_t counted_lsn);

/* A time as the state stores it, into buf (at least 24 bytes). */
void		cdc_report_format_time(time_t t, char *buf, size_t bufsize);
/* Parse one; false when it is not one. */
bool		cdc_report_parse_time(const char *s, time_t *t);

/*
 * The summary of a finished cutover as recorded in st: text on stderr, or
 * one JSON object on stdout.
 */
void		cdc_report_print_cutover(state *st, bool json);

/*
 * pgcrane status: the clone's steps and, when there is one, the follow's
 * figures; live_source_lsn (0 if unknown) replaces the recorded source
 * position when the source could be asked.
 */
void		cdc_report_print_status(state *st, uint64_t live_source_lsn, bool json);

#endif
