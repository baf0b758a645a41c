/*
 * verify.h
 *		pgcrane verify: prove the target equals the source, and show where
 *		it does not.
 *
 * verify_run() compares the schema (object inventories read from both
 * catalogs) and the data (per-table row counts and checksums computed on
 * both servers at once, descending by key range to the differing rows;
 * sequences; large objects), prints one line per difference and a last
 * line, "verify: OK (N tables, M rows)" or "verify: K differences", or the
 * full report as JSON, and records the result in the work directory's
 * state when one is given.  "pgcrane verify" and "pgcrane clone --verify"
 * both call it.
 */
#ifndef PGCRANE_VERIFY_H
#define PGCRANE_VERIFY_H

#include "core/status.h"

#include <stdbool.h>

#include "core/interrupt.h"
#include "core/selection.h"
#include "core/state.h"

typedef struct verify_options
{
	const char *source;			/* connection strings */
	const char *target;
	int			jobs;			/* worker threads; 0: one per CPU */
	bool		schema_only;	/* compare the schema only */
	bool		data_only;		/* compare the data only */
	bool		no_owner;		/* ignore owners */
	bool		no_acl;			/* ignore privileges */
	bool		json;			/* print the report as JSON */
	int			max_rows;		/* differing rows listed per table; 0: 10 */
	int64_t		split_bytes;	/* checksum tables larger than this in
								 * parallel parts; 0: decided from the
								 * jobs and the data, < 0: never */
	const char *dir;			/* work directory to record the result in,
								 * or NULL */
	state	   *st;				/* an open state to record it in instead of
								 * opening dir (clone --verify), or NULL */
	interrupt  *intr;			/* the caller's running Ctrl-C handling
								 * (clone --verify), or NULL: verify_run
								 * starts its own */
	const selection *sel;		/* compare the part selected, under its
								 * mapping (selection.h); NULL or empty:
								 * everything, or with dir the rules the
								 * clone recorded there */
} verify_options;

#define VERIFY_OPTIONS_INIT {NULL, NULL, 0, false, false, false, false, \
	false, 0, 0, NULL, NULL, NULL, NULL}

/* Default of max_rows. */
#define VERIFY_DEFAULT_MAX_ROWS 10

/*
 * Compare target with source and print the report on stdout.  Returns
 * RUN_OK (equal), RUN_CHECK_FAILED (different), RUN_FAILED (could not
 * compare; logged) or RUN_INTERRUPTED (Ctrl-C or SIGTERM).  With a state,
 * the result is recorded there (state_record_verify): its status ("ok",
 * "different", "error" or "interrupted") and the JSON report.
 */
run_status			verify_run(const verify_options *o);

#endif
