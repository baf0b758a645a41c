/*
 * progress.h
 *		The live progress line and the final summary of a clone.
 *
 * Workers only bump the atomic counters; the leader thread calls
 * progress_tick() about once a second.  On a terminal it redraws one line
 * on stderr (tables done/total, bytes copied, rate, ETA); otherwise it
 * writes a log line every 10 seconds.  The summary (time per phase, the
 * slowest tables and indexes, idle worker time) is printed as text on
 * stderr, or as one JSON object on stdout with --json.
 */
#ifndef PGCRANE_PROGRESS_H
#define PGCRANE_PROGRESS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct progress
{
	_Atomic int64_t bytes;		/* bytes copied so far */
	_Atomic int tables_done;
	_Atomic int indexes_done;
	int			tables_total;
	int			indexes_total;
	int64_t		bytes_total;	/* estimate: sum of table sizes */
	double		start;
	double		last_print;
	bool		tty;
	bool		quiet;			/* print nothing live */
	bool		line_open;		/* a line is drawn without newline */
} progress;

void		progress_init(progress *p, bool quiet);
/* Print the live line if it is time (or always when force). */
void		progress_tick(progress *p, bool force);
/* End the live line so other messages start on a fresh one. */
void		progress_end_line(progress *p);

/* The summary. */
typedef struct report_phase
{
	const char *name;
	double		seconds;
	double		predicted;		/* seconds the caller's model predicted; < 0 none */
} report_phase;

typedef struct report_table
{
	const char *name;
	const char *format;
	int			parts;
	int64_t		rows;
	int64_t		bytes;
	double		seconds;		/* first part start to last part end */
} report_table;

typedef struct report_index
{
	const char *name;
	const char *table;
	double		seconds;
} report_index;

#define REPORT_MAX_PHASES 16

typedef struct report
{
	const char *status;			/* "ok", "failed", "interrupted" */
	char	   *source;			/* redacted, owned */
	char	   *target;			/* redacted, owned */
	char	   *snapshot;		/* owned */
	double		seconds;
	report_phase phases[REPORT_MAX_PHASES];
	int			nphases;
	report_table *tables;		/* owned array; names borrowed */
	int			ntables;
	report_index *indexes;		/* owned array; names borrowed */
	int			nindexes;
	int			sequences;
	int64_t		large_objects;
	double		idle_seconds;	/* workers waiting for work */
	int			workers;
	double		predicted_seconds;	/* the whole run as predicted; 0 none */
	double		predicted_idle_seconds;
} report;

void		report_add_phase(report *r, const char *name, double seconds);
void		report_print_text(const report *r);
void		report_print_json(const report *r);
void		report_release(report *r);

#endif
