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

#include <stdbool.h>

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

/* Whether the snapshot can be imported on conn (it then is); quiet. */
bool		snapshot_importable(PGconn *conn, const char *name);

/* Close the holder; the snapshot can no longer be imported. */
void		snapshot_release(snapshot *snap);

/*
 * A snapshot held by a separate process, so that it outlives this one: a
 * clone interrupted by Ctrl-C, kill -9 or a lost target connection can be
 * resumed in the very same snapshot.  The holder is "pgcrane
 * snapshot-holder" started in its own session (Ctrl-C on the terminal does
 * not reach it).  It ends when told to (snapshot_holder_stop), when its
 * source connection dies (the snapshot is then gone), or when no pgcrane
 * has held the work directory's lock for hold_seconds, so an abandoned
 * run does not hold back VACUUM on the source forever.
 */
typedef struct snapshot_holder
{
	int			pid;
	char	   *name;			/* owned */
	char	   *lsn;			/* owned; the slot's consistent point, or NULL */
} snapshot_holder;

/*
 * Start a holder; fills h.  With slot, the snapshot comes from creating
 * that logical replication slot (pgoutput) and h->lsn is its consistent
 * point; otherwise from pg_export_snapshot().  0 or -1 (logged).
 */
int			snapshot_holder_start(const char *source, const char *dir,
								  int hold_seconds, const char *slot,
								  snapshot_holder *h);
/* Whether pid is still a running snapshot holder. */
bool		snapshot_holder_alive(int pid);
/* Make the holder end (the snapshot is released) and wait for it. */
void		snapshot_holder_stop(int pid);
void		snapshot_holder_release(snapshot_holder *h);

/* The holder's own main loop (the "snapshot-holder" command). */
int			snapshot_holder_main(const char *source, const char *dir,
								 int hold_seconds, const char *slot);

#endif
