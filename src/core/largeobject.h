/*
 * largeobject.h
 *		Large objects, from the source to the target.
 *
 * The schema restore creates every large object (same OID, owner,
 * privileges and comment, empty); this module fills in the contents,
 * reading in the clone's snapshot and writing 1 MB at a time with the
 * server-side lo_get/lo_put functions, one target transaction each.  The
 * cutover of a follow copies those created or changed since the clone
 * the same way, with their owner and privileges.
 */
#ifndef PGCRANE_LARGEOBJECT_H
#define PGCRANE_LARGEOBJECT_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "core/interrupt.h"

/*
 * Copy large object oid (its contents; with privileges also its owner and
 * privileges, when they differ) in one target transaction, creating it
 * on the target when it is not there.  src reads in its snapshot; tgt is
 * idle.  0 or -1 (logged).
 */
int			largeobject_copy_one(PGconn *src, PGconn *tgt, const char *oid,
								 bool privileges, _Atomic int64_t *bytes_counter);

/*
 * Copy the contents of every large object; *count gets how many.  0 or -1
 * (logged: could not copy large object 16385: ...).
 */
int			largeobject_copy_all(PGconn *src, PGconn *tgt, int64_t *count,
								 _Atomic int64_t *bytes_counter,
								 const interrupt_flag *cancel);

#endif
