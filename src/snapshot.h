/*
 * snapshot.h
 *		The one consistent view of the source that a clone reads.
 *
 * The snapshot is exported by a session that stays open (idle in a
 * repeatable read transaction) for as long as the clone needs it; every
 * other reader imports it by name.  The schema dump gets it as
 * "pg_dump --snapshot", data workers with SET TRANSACTION SNAPSHOT.
 *
 * Two sources are possible: snapshot_export() from a plain transaction
 * (pg_export_snapshot), or, for a clone that will follow changes, the
 * snapshot that CREATE_REPLICATION_SLOT ... EXPORT_SNAPSHOT gives on a
 * replication connection; both fill the same struct, and the holder
 * connection must stay open and idle while others import it.
 */
#ifndef PGCRANE_SNAPSHOT_H
#define PGCRANE_SNAPSHOT_H

#include <libpq-fe.h>

typedef struct snapshot
{
	PGconn	   *holder;			/* owned; keeps the snapshot alive */
	char	   *name;			/* owned; e.g. "00000003-00000002-1" */
} snapshot;

#define SNAPSHOT_INIT {NULL, NULL}

/* Export a snapshot from a new source session; 0 or -1 (logged). */
int			snapshot_export(const char *conninfo, snapshot *snap);

/*
 * Start a read-only repeatable read transaction on conn that sees the
 * snapshot named name; 0 or -1 (logged).
 */
int			snapshot_import(PGconn *conn, const char *name);

/* Close the holder; the snapshot can no longer be imported. */
void		snapshot_release(snapshot *snap);

#endif
