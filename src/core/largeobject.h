/*
 * largeobject.h
 *		Large objects, from the source to the target.
 *
 * The schema restore creates every large object (same OID, owner,
 * privileges and comment, empty); this module fills in the contents,
 * reading in the clone's snapshot and writing 1 MB at a time with the
 * server-side lo_get/lo_put functions, one target transaction each.
 */
#ifndef PGCRANE_LARGEOBJECT_H
#define PGCRANE_LARGEOBJECT_H

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "core/interrupt.h"

/*
 * Copy the contents of every large object; *count gets how many.  0 or -1
 * (logged: could not copy large object 16385: ...).
 */
int			largeobject_copy_all(PGconn *src, PGconn *tgt, int64_t *count,
								 _Atomic int64_t *bytes_counter,
								 const interrupt_flag *cancel);

#endif
