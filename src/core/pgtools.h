/*
 * pgtools.h
 *		pg_dump and pg_restore: finding the right installation and running
 *		one of its programs against a server.
 *
 * Used by the clone's schema phase (clone/schema.c) and by the follow when
 * it creates a table that appeared on the source (cdc/ddl.c).  A program
 * gets its connection as a --dbname built by conn_child_prepare(): the
 * password only in its environment, never on its command line.
 */
#ifndef PGCRANE_PGTOOLS_H
#define PGCRANE_PGTOOLS_H

#include <stdbool.h>

#include "core/interrupt.h"

/* pg_dump and pg_restore of one installation. */
typedef struct pg_tools
{
	char		pg_dump[1024];
	char		pg_restore[1024];
	int			major;			/* of pg_dump */
	char		version[64];	/* "pg_dump (PostgreSQL) 15.20" */
} pg_tools;

/*
 * Find the newest pg_dump/pg_restore pair whose major version is at least
 * min_major, on PATH or under /usr/lib/postgresql/N/bin.  0 or -1 (not
 * logged: preflight reports it).
 */
int			pgtools_find(int min_major, pg_tools *tools);

/*
 * Run argv (argv[0] the program); with conninfo, its connection goes in as
 * argv[1], before the program's options.  stdout_path (may be NULL) gets
 * its output; cancel (may be NULL) stops it.  0, or -1 (logged: "what
 * failed with exit code N", or why it could not start).
 */
int			pgtools_run(const char *const *argv, const char *conninfo,
						const char *stdout_path, const interrupt_flag *cancel,
						const char *what);

/*
 * The definitions of the n named relations (at most 24; each "schema"."name"
 * quoted as identifiers are, which pg_dump's --table takes literally), as
 * plain SQL without data, owners (no_owner) or privileges (no_acl), into
 * path; pg_dump includes a table's indexes, constraints, triggers and the
 * sequences it owns.  0 or -1 (logged).
 */
int			pgtools_dump_relations(const pg_tools *tools, const char *source,
								   const char *const *names, int n, bool no_owner,
								   bool no_acl, const char *path);

#endif
