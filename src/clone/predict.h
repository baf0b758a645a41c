/*
 * predict.h
 *		How long a clone should take, phase by phase, from the source
 *		catalog: what clone --plan prints, and what the summary of a clone
 *		sets against the time each phase took.
 *
 * The data phase is the scheduler's own task graph played with the cost
 * model (sched_predict); the phases around it are estimated from the
 * number of objects they handle (costmodel.h).  The split threshold is
 * computed here too, so that the clone and the prediction split the same
 * tables.
 */
#ifndef PGCRANE_PREDICT_H
#define PGCRANE_PREDICT_H

#include <stdbool.h>
#include <stdint.h>

#include "clone/scheduler.h"
#include "core/catalog.h"

#define PREDICT_MAX_PHASES 12

typedef struct predict_phase
{
	const char *name;			/* as the clone names its phases */
	double		seconds;
} predict_phase;

typedef struct clone_prediction
{
	predict_phase phases[PREDICT_MAX_PHASES];
	int			nphases;
	double		seconds;		/* all phases */
	sched_prediction data;		/* the data phase in detail */
	int			jobs;
	int			index_jobs;
} clone_prediction;

typedef struct predict_options
{
	int			jobs;
	int			index_jobs;
	int64_t		split_bytes;	/* as given; CLONE_SPLIT_AUTO: from the size */
	const char *toast_compression;	/* "lz4", "pglz" or NULL */
	bool		roles;			/* --roles: the roles phase runs */
	bool		renames;		/* the selection renames: the rename phase runs */
} predict_options;

/*
 * The split threshold: as given, or with "auto" a table is split when it
 * alone holds more than half of what one worker would copy if the work
 * were shared evenly, so no worker is left copying one big table alone at
 * the end.  Small tables are never split.
 */
int64_t		predict_split_threshold(const catalog *cat, int64_t split_bytes, int jobs);

/* Predict the clone of cat with options o; 0, or -1 (logged). */
int			predict_clone(const catalog *cat, const predict_options *o,
						  clone_prediction *out);

/* The predicted seconds of the phase named name, or -1 when not predicted. */
double		predict_phase_seconds(const clone_prediction *p, const char *name);

#endif
