/*
 * sequence.h
 *		Sequence values, from the source to the target.
 */
#ifndef PGCRANE_SEQUENCE_H
#define PGCRANE_SEQUENCE_H

#include <libpq-fe.h>

#include "core/catalog.h"
#include "core/selection.h"
#include "core/selres.h"

/*
 * Set every sequence of cat on the target to the source's last_value and
 * is_called.  Sequences are not transactional: the value read is the
 * current one, never older than the snapshot.  0 or -1 (logged).
 */
int			sequence_copy_all(PGconn *src, PGconn *tgt, const catalog *cat);

/*
 * The same for the sequences r (sel resolved on src) keeps, set on the
 * target under the names sel's renames give.  How many, or -1 (logged).
 */
int			sequence_copy_selected(PGconn *src, PGconn *tgt, const selection *sel,
								   const selres *r);

#endif
