/*
 * preflight.h (cdc)
 *		What following changes needs from both servers.
 *
 * Run before the clone of a clone --follow, so that nothing is copied for a
 * follow that cannot work.  Each problem is logged as one error line (with
 * a hint when there is a fix); the checks go on so that all are seen.
 */
#ifndef PGCRANE_CDC_PREFLIGHT_H
#define PGCRANE_CDC_PREFLIGHT_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "core/selres.h"

/*
 * The source: wal_level = logical; a free replication slot and WAL sender;
 * a role with REPLICATION (or superuser, or rds_replication) that may
 * create a publication FOR ALL TABLES (superuser, or rds_superuser); a replica
 * identity on every table, so that its updates and deletes can be
 * followed, unless replica_identity_full (pgcrane then sets REPLICA
 * IDENTITY FULL on those, cdc/replident.h, and the role must own them);
 * unlogged tables and large objects are named (the cutover carries them).
 * With rules (may be NULL), only the tables whose rows the clone copies
 * are checked: the others are not published.  Returns 0 with *ok telling
 * whether everything passed, or -1 (logged) when the checks could not run.
 */
int			cdc_preflight(PGconn *src, bool replica_identity_full, const selres *rules,
						  bool *ok);

/*
 * The target, on a connection to the target database (in_database) or,
 * before it exists, to another database of the server.  Applying as a
 * replica needs a superuser or, on PostgreSQL 15 and later, the SET
 * privilege on session_replication_role (cluster-wide).  Recording
 * progress with replication origins needs EXECUTE on their seven
 * functions, granted per database: checked only in_database.  Without
 * them *table is true: the follow records its progress in
 * pgcrane.follow_progress (cdc/origin.h), which needs the right to create
 * schema pgcrane there.  Each missing privilege is logged with the exact
 * GRANT statement a superuser would run.  0 with *ok, or -1 (logged).
 */
int			cdc_preflight_target(PGconn *tgt, bool in_database, bool *ok,
								 bool *table);

#endif
