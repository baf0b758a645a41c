/*
 * scheduler.h
 *		The data phase: parallel copy, index builds and ANALYZE.
 *
 * sched_run() starts the copy workers (--jobs) and the index workers
 * (--index-jobs), hands out the work described in sched.c and returns
 * when everything is done, when a task fails, or when the interrupt flag
 * is set.  Per-table and per-index timings come back in sched_result for
 * the summary; every item's status is also written to the state file.
 */
#ifndef PGCRANE_SCHED_H
#define PGCRANE_SCHED_H

#include <stdint.h>

#include "core/catalog.h"
#include "core/copy.h"
#include "core/interrupt.h"
#include "core/progress.h"
#include "core/state.h"

typedef struct sched_config
{
	const char *source;			/* connection strings */
	const char *target;
	const char *snapshot;		/* name of the clone's snapshot */
	int			jobs;			/* copy workers */
	int			index_jobs;		/* index workers */
	int64_t		split_bytes;	/* split tables larger than this; 0 never */
	bool		resume;			/* skip what the state file records as done */
	const char *toast_compression;	/* "pglz", "lz4"; NULL: the target's */
	const catalog *cat;
	state	   *st;				/* NULL: record nothing (sched_predict) */
	progress   *prog;
	interrupt  *intr;
} sched_config;

typedef struct sched_table_stats
{
	int			parts;
	int64_t		rows;
	int64_t		bytes;
	double		first_start;
	double		last_end;
} sched_table_stats;

typedef struct sched_result
{
	sched_table_stats *tables;	/* one per catalog table */
	double	   *index_seconds;	/* one per catalog index */
	int64_t		large_objects;
	double		idle_seconds;	/* summed over workers */
	int			workers;
} sched_result;

/* The data phase as the cost model sees it (sched_predict). */
typedef struct sched_prediction
{
	double		seconds;		/* the whole phase */
	double		copy_seconds;	/* when the last copy ends */
	double		idle_seconds;	/* workers without a task, summed */
	int			tasks;
} sched_prediction;

/*
 * Predict the data phase without running it: the graph sched_run would
 * build, played with each task's estimated cost (costmodel.h) by the
 * engine's own order (tasks_simulate).  Only cfg's jobs, index_jobs,
 * split_bytes, toast_compression and cat are used; st must be NULL and
 * resume false.  Reads nothing, writes nothing; 0, or -1.
 */
int			sched_predict(const sched_config *cfg, sched_prediction *out);

/* Run the data phase; 0 when every task succeeded, -1 otherwise. */
int			sched_run(const sched_config *cfg, sched_result *res);
void		sched_result_release(sched_result *res);

#endif
