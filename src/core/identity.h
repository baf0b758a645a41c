/*
 * identity.h
 *		Which server and which database a connection reaches.
 *
 * Connection strings say nothing certain: a Unix socket and
 * "localhost:5432", a host name and its address, PGHOST changed between
 * two runs all reach the same server under different spellings.  pgcrane
 * therefore knows each side by identity, read from the server itself:
 *
 *   system      pg_control_system().system_identifier, made by initdb and
 *               kept for the life of the cluster ("" when the role may not
 *               read it)
 *   started     pg_postmaster_start_time(): two servers restored from the
 *               same base backup share a system identifier, never a
 *               start time
 *   database    the OID and the name of the database
 *
 * "The same database" (source and target of one run) is all three equal.
 * "The database recorded" (a later command on a work directory) is the
 * system identifier and the database OID and name equal: a restart
 * changes the start time, not the database.  A database dropped and
 * created again under the same name is another database.
 *
 * Every function that fails logs one error and returns -1 or false.
 */
#ifndef PGCRANE_IDENTITY_H
#define PGCRANE_IDENTITY_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "core/state.h"

typedef struct db_identity
{
	char		system[24];		/* system identifier, "" when unknown */
	char		started[48];	/* postmaster start time, "" when unknown */
	uint32_t	db_oid;			/* 0 when only the server is known */
	char		dbname[256];
	bool		is_template;	/* datistemplate, or template0/template1 */
} db_identity;

/*
 * Read the identity of the server and database conn reaches.  0, or -1
 * (logged, naming side).
 */
int			identity_read(PGconn *conn, const char *side, db_identity *id);

/*
 * Read only the server part (system and start time) through conn, and
 * take the database OID of dbname on that server (0 when it has none).
 * For a target database that does not exist yet, seen through the
 * server's maintenance database.  0, or -1 (logged).
 */
int			identity_read_server(PGconn *conn, const char *side,
								 const char *dbname, db_identity *id);

/*
 * Whether a and b are one database of one running server.  When one of
 * them has no start time (an identity loaded from the state file), the
 * system identifier and the OID decide, which errs towards "the same".
 */
bool		identity_same_database(const db_identity *a, const db_identity *b);

/* Whether a and b are one running server (any database). */
bool		identity_same_server(const db_identity *a, const db_identity *b);

/*
 * One line for messages, written into buf:
 * database "shop" (OID 16384) on system 7312... .
 */
const char *identity_describe(const db_identity *id, char *buf, size_t size);

/*
 * Record id as the identity of side ("source" or "target") in the work
 * directory.  0 or -1 (logged).
 */
int			identity_record(state *st, const char *side, const db_identity *id);

/*
 * The identity recorded for side: 1 when found (id filled), 0 when the
 * directory records none (made by an older pgcrane), -1 on error.
 */
int			identity_load(state *st, const char *side, db_identity *id);

/*
 * Connect to conninfo and prove it reaches the database recorded for side
 * in st.  When nothing is recorded, the check passes.  On a mismatch one
 * error names both (the connection strings without passwords), and the
 * result is -1; also -1 when the server cannot be reached.
 */
int			identity_check_recorded(state *st, const char *side,
									const char *conninfo);

/*
 * Whether now is the database recorded for side: 0 when it is (or none is
 * recorded), -1 (logged, naming both, conninfo without its password)
 * when it is another.
 */
int			identity_check_id(state *st, const char *side,
							  const db_identity *now, const char *conninfo);

/*
 * The same check on an open connection: 0 when conn reaches the recorded
 * database (or none is recorded), -1 (logged) otherwise.
 */
int			identity_check_conn(state *st, const char *side, PGconn *conn,
								const char *conninfo);

/*
 * Open a session on side and prove it reaches the recorded database: 0
 * (*out yours), 1 (the server cannot be reached now, or the session
 * broke: trying again later may succeed) or -1 (another database, or a
 * failure that stays).  The failure is filled either way (core/failure.h).
 */
int			identity_open(state *st, const char *side, const char *conninfo,
						  PGconn **out);

#endif
