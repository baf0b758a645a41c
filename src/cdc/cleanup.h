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

#endif
