/*
 * slot.h
 *		The source side of change capture: publication and replication slot.
 *
 * A clone that will follow changes creates a publication (every table) and
 * a logical replication slot with the built-in pgoutput plugin.  Creating
 * the slot on a replication connection exports a snapshot that matches the
 * slot's consistent point exactly: the clone reads that snapshot, and
 * streaming from the slot delivers every change committed after it, none
 * before.  The replication connection must stay open and idle for as long
 * as the snapshot is imported (snapshot.h's holder does that).
 *
 * Functions return 0 or -1 (logged); returned strings are yours to free.
 */
#ifndef PGCRANE_CDC_SLOT_H
#define PGCRANE_CDC_SLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "core/selres.h"
#include "util/str.h"

/* A replication connection (replication=database) to the source. */
PGconn	   *cdc_repl_connect(const char *source);

/*
 * The same without logging: NULL on failure, with the SQLSTATE when known
 * (or "") in sqlstate (may be NULL) and the message in msg.
 */
PGconn	   *cdc_repl_try_connect(const char *source, char sqlstate[6],
								 char *msg, size_t msgsize);

/*
 * CREATE_REPLICATION_SLOT name LOGICAL pgoutput EXPORT_SNAPSHOT on repl:
 * the snapshot's name and the slot's consistent point.  The server waits
 * there for every transaction holding an xid (and every prepared one) to
 * end; while it does, every few seconds this names them (pid, database,
 * age, query) at info level, asking from a second session on source.
 */
int			cdc_slot_create(PGconn *repl, const char *source, const char *slot,
							char **snapshot, uint64_t *consistent_lsn);

/*
 * The transactions a new slot waits for, as seen from src: one line each
 * appended to out; how many, or -1 when src could not be asked.  The
 * replication session with backend pid self is left out.
 */
int			cdc_slot_waiters(PGconn *src, int self, strbuf *out);

/*
 * How many source transactions the slot would stream whose commit ends
 * after after and at or before upto, and how many row changes they hold;
 * decoded on src (a plain session) without moving the slot.  The slot must
 * not be in use and not be past after.  0, or -1 (logged at debug level:
 * the caller can do without).
 */
int			cdc_slot_count_between(PGconn *src, const char *slot,
								   const char *publication, uint64_t after,
								   uint64_t upto, int64_t *transactions,
								   int64_t *changes);

/*
 * Whether the source role may create a publication FOR ALL TABLES: a
 * superuser, or a member of rds_superuser (Amazon RDS).  An SQL boolean.
 */
#define CDC_PUBLISH_ALL_SQL \
	"(SELECT r.rolsuper OR" \
	" CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'rds_superuser')" \
	"  THEN pg_catalog.pg_has_role('rds_superuser', 'MEMBER') ELSE false END" \
	" FROM pg_catalog.pg_roles r WHERE r.rolname = current_user)"

/*
 * The tables a publication FOR TABLE holds (the copied ones: logged
 * ordinary tables and partitions of the user's schemas), as the WHERE
 * clause on pg_class c joined to pg_namespace n.
 */
#define CDC_PUBLISHED_TABLES_WHERE \
	" WHERE c.relkind = 'r' AND c.relpersistence = 'p'" \
	"   AND n.nspname NOT IN ('pg_catalog', 'information_schema')" \
	"   AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'" \
	"   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d" \
	"    WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass" \
	"      AND d.objid = c.oid AND d.deptype = 'e')"

/*
 * CREATE PUBLICATION name, unless it exists: with rules (the selection
 * resolved on src, or NULL), FOR TABLE the tables CDC_PUBLISHED_TABLES_WHERE
 * names whose rows the rules copy; without, FOR ALL TABLES when the role
 * may, else FOR TABLE every table CDC_PUBLISHED_TABLES_WHERE names (the
 * role must own them; preflight checks).
 */
int			cdc_publication_create(PGconn *src, const char *publication,
								   const selres *rules);

/* A table of the source that the publication does not hold. */
typedef struct cdc_new_table
{
	uint32_t	oid;
	char	   *nspname;
	char	   *relname;
	char	   *display;		/* schema.table, for messages */
} cdc_new_table;

/*
 * The tables of the source that a publication FOR TABLE does not hold
 * (none for one FOR ALL TABLES): created after it was made.  They are
 * put in *out (the caller's, freed with cdc_new_tables_free); how many,
 * or -1 (logged at debug level: the caller asks again later).
 */
int			cdc_publication_missing(PGconn *src, const char *publication,
									cdc_new_table **out);
void		cdc_new_tables_free(cdc_new_table *t, int n);

/*
 * ALTER PUBLICATION ... ADD TABLE ONLY qname, in the transaction open on
 * src (display names the table in messages): 0 or -1 (logged: the role
 * must own the table).
 */
int			cdc_publication_add(PGconn *src, const char *publication,
								const char *qname, const char *display);

/* DROP PUBLICATION IF EXISTS on either side (side names it in messages). */
int			cdc_publication_drop(PGconn *conn, const char *side,
								 const char *publication);

/* Drop the slot and the publication (unless NULL or "") if they exist. */
int			cdc_source_cleanup(PGconn *src, const char *slot,
							   const char *publication);

/*
 * Wait up to timeout seconds until no walsender uses the slot (a follow
 * that just ended leaves one for a moment).  0 when it is free or does not
 * exist, -1 (logged) otherwise.
 */
int			cdc_slot_wait_inactive(PGconn *src, const char *slot, int timeout);

/*
 * Before an exit that leaves the slot on the source: say that it remains,
 * how much WAL it retains, and how to go on or remove it.  Quiet when the
 * slot does not exist (or the source cannot be asked: then only the name
 * and the commands are printed).  resume_cmd is the command that goes on.
 */
void		cdc_slot_report_left(const char *source, const char *slot,
								 const char *dir, const char *resume_cmd);

/*
 * The WAL the slot retains, as text ("1296 kB"), asked on src; NULL when
 * the slot is gone or src cannot answer.  You own the result.
 */
char	   *cdc_slot_retained(PGconn *src, const char *slot);

/*
 * The same report with the amount known (retained from
 * cdc_slot_retained, or NULL when it could not be asked).
 */
void		cdc_slot_report_retained(const char *slot, const char *retained,
									 const char *dir, const char *resume_cmd);

/* LSNs are formatted and parsed with pgo_lsn_format/pgo_lsn_parse. */

#endif
