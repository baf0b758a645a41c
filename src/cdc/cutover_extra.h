/*
 * cutover_extra.h
 *		What the cutover carries beyond the stream: unlogged tables,
 *		materialized views, large objects.
 *
 * pgoutput streams no row of an unlogged table, no REFRESH MATERIALIZED
 * VIEW and nothing of large objects.  Once every change up to the
 * cutover position is applied (the writes on the source have stopped),
 * cdc_extra_carry() brings them over, reading the source in one snapshot
 * taken then:
 *
 *  - each unlogged table is copied again: TRUNCATE + COPY in one target
 *    transaction (core/copy.h);
 *  - each materialized view populated on the source is refreshed on the
 *    target, after the unlogged tables and after every materialized view
 *    it reads (pg_depend through pg_rewrite, also through plain views);
 *    one that is not populated on the source is left (or made)
 *    unpopulated;
 *  - large objects are compared by digest (md5 of the contents, as verify
 *    compares them): those created or changed are copied in batches, with
 *    their owner and privileges (core/largeobject.h); those removed on the
 *    source are unlinked on the target.
 *
 * With the clone's selection rules, what they leave out is not carried
 * (nor are large objects unless they are copied), a materialized view is
 * refreshed under the names the renames give, and an unlogged table that
 * the rules rename or narrow is not carried (a warning says so).
 *
 * The work is one graph on the task engine (core/tasks.h): one task per
 * unlogged table, per materialized view and per batch of large objects;
 * each worker has a source session in the snapshot and a target session
 * proven to reach the recorded target.  Every step can be done twice
 * without harm, so a cutover interrupted in the middle carries everything
 * again when it runs again.
 */
#ifndef PGCRANE_CDC_CUTOVER_EXTRA_H
#define PGCRANE_CDC_CUTOVER_EXTRA_H

#include <stdatomic.h>
#include <stdbool.h>

#include "core/selection.h"
#include "core/state.h"

typedef struct cdc_extra_options
{
	const char *source;			/* conninfo */
	const char *target;
	state	   *st;				/* the target's recorded identity; read
								 * from this thread only */
	bool		refresh_matviews;	/* false: --no-refresh-matviews */
	int			jobs;			/* workers, at most */
	const atomic_int *stop;		/* Ctrl-C; may be NULL */
	const selection *sel;		/* the clone's rules, or NULL: what they
								 * leave out is not carried, matviews are
								 * refreshed under their new names */
} cdc_extra_options;

/*
 * Carry it all; what was done goes into *out (its matviews list is the
 * caller's to free).  0, or -1: the failure is filled into the caller's
 * capture (a server that could not be reached heals by waiting), or
 * logged by the task engine when a task failed for good.
 */
int			cdc_extra_carry(const cdc_extra_options *o, state_carried *out);

#endif
