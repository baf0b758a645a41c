/*
 * cleanup.h
 *		Remove what following changes left on both servers.
 */
#ifndef PGCRANE_CDC_CLEANUP_H
#define PGCRANE_CDC_CLEANUP_H

#include "core/state.h"

/*
 * Drop the replication slot and the publication on the source and the
 * replication origin on the target, as recorded in st (source and target,
 * when NULL, come from st too), and record cleanup.done_at.  What is gone
 * already is skipped.  0 or -1 (logged).
 */
int			cdc_cleanup(state *st, const char *source, const char *target);

/*
 * The source side alone: on a connection to source proved (identity.h) to
 * be the source st records, wait for the slot to be free, then drop it and
 * the publication (either may be gone already), and give the tables
 * pgcrane set to REPLICA IDENTITY FULL their identity back.  0 or -1
 * (logged).
 */
int			cdc_cleanup_source(state *st, const char *source, const char *slot,
							   const char *publication);

#endif
