/*
 * targetdb.h
 *		Create the target database like the source's, as pg_restore --create.
 */
#ifndef PGCRANE_TARGETDB_H
#define PGCRANE_TARGETDB_H

#include "core/catalog.h"
#include "clone/preflight.h"

/*
 * Make the target database ready: create it when it does not exist (with
 * the source's encoding, collation and ctype, from template0), or drop and
 * recreate it when it is not empty and drop is set.  Works through the
 * target server's "postgres" database.  Before a DROP DATABASE it proves,
 * by identity, that the database is the one preflight saw (info->
 * target_id) and not the source (info->source_id).  When it creates the
 * database, its identity goes into created (db_oid 0 otherwise).
 * 0 or -1 (logged).
 */
int			targetdb_prepare(const char *target, const preflight_info *info,
							 bool drop, db_identity *created);

/*
 * Drop the database a failed run created (created, from
 * targetdb_prepare), after proving it is that very database and not the
 * source.  Nothing when created->db_oid is 0.  0 or -1 (logged).
 */
int			targetdb_drop_created(const char *target, const db_identity *created,
								  const db_identity *source);

/*
 * Before a resume: end the sessions an interrupted pgcrane (or its
 * pg_restore) left on the target database.  After kill -9 their
 * statements run on, and an index build still in flight would commit in
 * the middle of the resume's own.  Waits up to 30 s for them to go.
 * 0 or -1 (logged).
 */
int			targetdb_end_leftovers(const char *target);

/*
 * Before the post-data restore runs again with --clean: drop the indexes
 * and key constraints of partitioned tables (with what is attached to
 * them and the foreign keys that use them; the restore recreates all of
 * it).  Otherwise --clean would try to drop an attached partition's
 * constraint on its own, which the server refuses.  Also drop the indexes
 * of partitions left unattached by an interrupted restore (those in cat
 * were built by pgcrane and stay): the restore does not drop them and
 * would fail to create them again.  0 or -1 (logged).
 */
int			targetdb_drop_partitioned_indexes(const char *target,
											  const catalog *cat);

/*
 * Before the schema is restored again with --clean (a resume in a new
 * snapshot): drop the foreign keys the data phase added, which would
 * otherwise keep the restore from dropping the tables they join.
 * 0 or -1 (logged).
 */
int			targetdb_drop_foreign_keys(const char *target);

#endif
