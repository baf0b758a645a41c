/*
 * targetdb.h
 *		Create the target database like the source's, as pg_restore --create.
 */
#ifndef PGCRANE_TARGETDB_H
#define PGCRANE_TARGETDB_H

#include "preflight.h"

/*
 * Make the target database ready: create it when it does not exist (with
 * the source's encoding, collation and ctype, from template0), or drop and
 * recreate it when it is not empty and drop is set.  Works through the
 * target server's "postgres" database.  0 or -1 (logged).
 */
int			targetdb_prepare(const char *target, const preflight_info *info,
							 bool drop);

#endif
