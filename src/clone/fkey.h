/*
 * fkey.h
 *		Add a foreign key between two copied tables on the target.
 *
 * The data phase adds the foreign keys listed in the catalog as soon as
 * both of their tables are copied, indexed and analyzed, so checking the
 * rows against the referenced key overlaps with copies still running
 * instead of waiting for the post-data restore.
 */
#ifndef PGCRANE_FKEY_H
#define PGCRANE_FKEY_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "core/catalog.h"

/*
 * ALTER TABLE ONLY t ADD CONSTRAINT ... as on the source; 0 or -1 (logged:
 * could not add foreign key "name on s.t": ...).  With retry, first drop
 * what an earlier attempt may have left.
 */
int			fkey_add(PGconn *tgt, const cat_table *t, const cat_fk *fk, bool retry);

#endif
