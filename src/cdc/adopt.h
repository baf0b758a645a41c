/*
 * adopt.h
 *		Take in a table created on the source during the follow.
 *
 * A publication FOR TABLE (a source role that may not publish all
 * tables, or selection rules) does not hold a table created after it was
 * made: its changes would never be decoded.  A table that the follow
 * should carry (the rules select it and leave its name and columns as
 * they are) joins the publication and gets its rows on the target at one
 * position of the stream, with nothing lost and nothing twice:
 *
 *	source:	BEGIN; LOCK TABLE ONLY t IN SHARE MODE;
 *			ALTER PUBLICATION p ADD TABLE ONLY t
 *	target:	CREATE TABLE t ... (pg_dump --schema-only --table t)
 *	both:	COPY t TO STDOUT | TRUNCATE ONLY t; COPY t FROM STDIN; COMMIT
 *	source:	COMMIT
 *
 * The lock waits for the transactions that wrote to t and keeps others
 * from writing until the COMMIT, so the copy holds every change committed
 * before the table joined the publication and the stream every change
 * after (pgoutput decodes each change with the catalog as of its
 * position: a change before the ALTER PUBLICATION's commit is not
 * published, one after is).  Writes to t wait while its rows are copied;
 * the rest of the source does not.
 *
 * The target commits first: when anything fails before the source's
 * COMMIT, the table is still missing from the publication and is taken in
 * again at the next attempt.  The state file records the table before its
 * rows reach the target, so that the next attempt knows the target's
 * table is its own and copies it again (TRUNCATE, on a target whose
 * identity it proves first) instead of refusing a table that was there
 * before.
 */
#ifndef PGCRANE_CDC_ADOPT_H
#define PGCRANE_CDC_ADOPT_H

#include "cdc/ddl.h"
#include "cdc/slot.h"
#include "core/state.h"

typedef struct adopt_options
{
	const char *source;			/* connection strings */
	const char *target;
	const char *publication;
	state	   *st;
	ddl_ctx    *ddl;			/* makes the table on the target */
	bool		rules;			/* selection rules: no sequence but the
								 * table's own is made (adopt.c) */
} adopt_options;

/*
 * Take in table t (see above): 0; CDC_FAILED when it cannot be (the
 * failure value says why: the role may not add it to the publication,
 * the target has a table of that name of its own); -1 or CDC_LOST
 * (heals by waiting) for the failures of a session, filled.
 */
int			adopt_table(const adopt_options *o, const cdc_new_table *t);

#endif
