/*
 * verify_data.h
 *		Compare the data of the source and the target.
 *
 * Every table present on both sides gets a row count and an order-
 * independent checksum computed by both servers at the same time; only
 * the counts and sums travel.  A table with a primary key or a unique key
 * over NOT NULL columns that differs is searched by key range until the
 * differing rows can be named (verify_rows.h); for other tables the count
 * and checksum mismatch is reported.  Sequences (last_value, is_called)
 * and large objects (one digest each) are compared too.  Worker threads,
 * each with its own pair of connections in the run's snapshots, take the
 * tables largest first.
 */
#ifndef PGCRANE_VERIFY_DATA_H
#define PGCRANE_VERIFY_DATA_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "verify/verify_report.h"
#include "verify/verify_select.h"
#include "verify/verify_session.h"
#include "verify/verify_table.h"

/* split_bytes: a quarter of a job's share, at least VDATA_SPLIT_MIN. */
#define VDATA_SPLIT_AUTO ((int64_t) -1)
#define VDATA_SPLIT_MIN ((int64_t) 32 * 1024 * 1024)

typedef struct vdata_options
{
	const char *source;			/* connection strings for the workers */
	const char *target;
	int			jobs;			/* worker threads, at least 1 */
	int			max_rows;		/* differing rows listed per table */
	int64_t		split_bytes;	/* checksum tables costlier than this in
								 * parts, in parallel; 0: never,
								 * VDATA_SPLIT_AUTO: from the jobs and
								 * the data */
	bool		report_objects; /* report tables, columns and sequences
								 * present on one side only (when the
								 * schema is not compared) */
	interrupt  *intr;			/* stops the workers, or NULL */
	const vsel *sel;			/* the selection's rules (verify_select.h) */
} vdata_options;

/*
 * Compare the data on the run's sessions: leader (whose snapshots the
 * workers share) is used to read the catalogs.  Differences go to r.
 * *ntables and *nrows get the number of tables compared and the number of
 * rows they hold on the source.  0, or -1 when something could not be
 * compared (logged).
 */
int			vdata_compare(vsession *leader, const vdata_options *o, vreport *r,
						  int *ntables, int64_t *nrows);

#endif
