/*
 * tablespace.h
 *		Where the clone puts tables and indexes: --tablespace-map and
 *		--no-tablespaces.
 *
 * pg_restore knows a tablespace only by name (it sets default_tablespace
 * before each object) and has no way to map one name to another.  So
 * with a map, the restore runs with --no-tablespaces and pgcrane places
 * the objects itself: the tables, partitioned tables and materialized
 * views right after pre-data, while they are still empty (ALTER ... SET
 * TABLESPACE costs nothing then); the indexes it builds itself with
 * default_tablespace set for each (index.c); the indexes pg_restore
 * builds in post-data (partitioned indexes and their partitions',
 * indexes of materialized views) after it.  An object's tablespace on
 * the source is its own, or the source database's default when that is
 * not pg_default; the map sends it to DST, a name not in the map stays.
 * With --no-tablespaces everything goes to the target database's default.
 */
#ifndef PGCRANE_TABLESPACE_H
#define PGCRANE_TABLESPACE_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "core/catalog.h"

typedef struct tablespace_map
{
	int			n;
	char	  **src;			/* owned */
	char	  **dst;			/* owned */
} tablespace_map;

#define TABLESPACE_MAP_INIT {0, NULL, NULL}

/* Add "SRC=DST" (--tablespace-map); false (logged) when it is not valid. */
bool		tablespace_map_add(tablespace_map *m, const char *arg);
void		tablespace_map_release(tablespace_map *m);

/* Where the source's tablespace src goes: its DST, or src itself. */
const char *tablespace_map_lookup(const tablespace_map *m, const char *src);

/* Whether pg_restore must run with --no-tablespaces. */
bool		tablespace_restore_without(const tablespace_map *m, bool none);

/*
 * The tablespaces the source database uses (its objects' and its own
 * default when not pg_default), as a NULL-terminated array the caller
 * frees with tablespace_free_names; NULL on failure (logged).
 */
char	  **tablespace_used(PGconn *src);
void		tablespace_free_names(char **names);

/* Set each index of cat to the tablespace it goes to on the target. */
void		tablespace_apply_catalog(catalog *cat, const tablespace_map *m, bool none);

/*
 * Put the restored objects of the kinds in relkinds ("rpm" for tables
 * and materialized views, "iI" for indexes) where the map says, on the
 * target through tgt (the caller's, proved to reach the recorded target;
 * an object already there is left as it is).  Nothing with none.
 * 0 or -1 (logged).
 */
int			tablespace_place(const char *source, PGconn *tgt,
							 const tablespace_map *m, bool none,
							 const char *relkinds);

#endif
