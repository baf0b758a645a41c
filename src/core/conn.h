/*
 * conn.h
 *		Connections to the source and target servers.
 *
 * A connection string is anything libpq accepts: "host=... dbname=..." or a
 * postgresql:// URI; what it leaves out comes from the PG* environment,
 * passwords from PGPASSWORD or ~/.pgpass, as libpq does.
 *
 * Every function that fails logs one error naming the side ("source" or
 * "target"), the server's message and its SQLSTATE, and returns NULL or -1;
 * callers propagate without logging again.  The failure also fills the
 * open capture of the thread (core/failure.h): side, SQLSTATE, message and
 * whether it heals by waiting, with whether the connection broke, so the
 * layer that decides about retrying knows what failed.  A server's message is one
 * line, its DETAIL and HINT follow as "detail:" and "hint:" lines.  No
 * message ever quotes a connection string or a part of one: a malformed
 * one is reported by the kind of problem only, as it may hold a password.
 *
 * Connecting never blocks: it waits on the socket in short steps, gives
 * up after connect_timeout (from the string, else PGCONNECT_TIMEOUT, else
 * 10 s) and at once when interrupt_pending() (Ctrl-C, SIGTERM), so that
 * no connection opens after an interrupt.  Every session gets TCP
 * keepalives unless the string sets keepalives* itself.  Results returned to the caller
 * are the caller's to PQclear(); strings returned are the caller's to free().
 */
#ifndef PGCRANE_CONN_H
#define PGCRANE_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

/* application_name of every pgcrane session and child program. */
#define CONN_APPLICATION_NAME "pgcrane"

/* The two sides of a migration, used in messages. */
#define SIDE_SOURCE "source"
#define SIDE_TARGET "target"

/*
 * Open a connection; "side" names it in messages.  The session gets
 * application_name=pgcrane and the settings every pgcrane session uses
 * (client_encoding UTF8 unless the string sets one).  NULL on failure,
 * logged as one line: could not connect to source server: ...
 */
PGconn	   *conn_open(const char *conninfo, const char *side);

/*
 * Like conn_open but quiet: on failure returns NULL and, if sqlstate is
 * not NULL, stores the connection error's SQLSTATE (inferred from the
 * message by errclass_connect_sqlstate: 3D000, 28P01, 57P03, 08001 ...;
 * 57014 when interrupted; "" when not known) and a one-line message into
 * msg (msgsize bytes).  errclass_transient(sqlstate, msg, false) tells
 * whether trying again later may succeed.  Quiet means it fills no
 * failure either: a caller that counts it as one reports it with
 * conn_connect_failed().  conn_open logs an interrupted attempt at debug
 * level only: the interrupt itself was reported.
 */
PGconn	   *conn_try_open(const char *conninfo, char sqlstate[6],
						  char *msg, size_t msgsize);

/*
 * Report what conn_try_open() met as the failure of connecting to side:
 * "could not connect to <side> server: msg", into the open capture
 * (failure_set).  Whether it heals by waiting.
 */
bool		conn_connect_failed(const char *side, const char *sqlstate,
								const char *msg);

/* Run a statement that returns no rows.  0 or -1 (logged). */
int			conn_exec(PGconn *conn, const char *side, const char *sql);

/* The same, logged as: could not <what> on <side> server: ... */
int			conn_exec_as(PGconn *conn, const char *side, const char *sql,
						 const char *what);

/*
 * Run a statement about one object: fmt holds one %s, replaced by ident
 * quoted as an identifier (statements such as DROP PUBLICATION take no
 * parameters).  0 or -1 (logged).
 */
int			conn_exec_ident(PGconn *conn, const char *side, const char *fmt,
							const char *ident) __attribute__((format(printf, 3, 0)));

/*
 * Run a query with text parameters (params may be NULL when nparams is 0)
 * and return its result (PGRES_TUPLES_OK or PGRES_COMMAND_OK), or NULL
 * (logged, with the SQL's purpose "what" in the message: could not
 * <what> on source server: ...).
 */
PGresult   *conn_query(PGconn *conn, const char *side, const char *what,
					   const char *sql, int nparams, const char *const *params);

/* Log a failed result: could not <what> on <side> server: msg (SQLSTATE x). */
void		conn_log_result_error(const PGresult *res, const char *side,
								  const char *what);

/*
 * If conn (may be NULL) is broken, tell the open capture: its failure
 * heals by reconnecting (failure_connection_broken).  For a decider whose
 * work failed on one connection while another one broke.
 */
void		conn_note_broken(const PGconn *conn, const char *side);

/* The SQLSTATE of a result, "" when it has none. */
const char *conn_sqlstate(const PGresult *res);

/*
 * The last libpq error of a connection on one line: a line per address
 * tried joined by "; ", libpq's indented hints and "invalid socket" left
 * out.
 */
const char *conn_error_message(const PGconn *conn, char *buf, size_t bufsize);

/* Major version of the server, e.g. 15 (from server_version_num). */
int			conn_server_major(const PGconn *conn);

/* Quote an identifier; caller frees.  Aborts on out of memory. */
char	   *conn_quote_ident(PGconn *conn, const char *ident);

/*
 * name as the server quotes it (quote_ident(): only when it must, as
 * pg_dump and the catalog's definitions write it); caller frees.  NULL
 * (logged) when the server cannot answer.
 */
char	   *conn_server_quote(PGconn *conn, const char *side, const char *name);

/* "schema"."name" quoted; caller frees. */
char	   *conn_qualified_name(PGconn *conn, const char *nspname,
								const char *relname);

/*
 * Connection-string utilities.  All return newly allocated strings, or NULL
 * when the string cannot be parsed.  That is not logged here: connecting
 * with the string reports it, once (conn_open, conn_try_open).
 */

/*
 * Whether conninfo can be parsed; if not, one error names the side and the
 * kind of problem (never the string's contents).  For commands that must
 * record a string before they connect.
 */
bool		conn_check_string(const char *conninfo, const char *side);

/* The string with its secrets removed, for messages and the state file. */
char	   *conn_redact(const char *conninfo);

/* The same connection with dbname replaced. */
char	   *conn_with_dbname(const char *conninfo, const char *dbname);

/* The dbname the string names (after PG* defaults); caller frees. */
char	   *conn_dbname(const char *conninfo);

/*
 * The same string with the password of PGPASSWORD added when the string
 * has none (a copy of it otherwise), for a process that must not keep
 * the password in its environment.  NULL when unparsable (not logged).
 */
char	   *conn_with_env_password(const char *conninfo);

/*
 * How a child program (pg_dump, pg_restore) connects to the server of a
 * connection string.  dbname_arg is "--dbname=" and a key/value string
 * holding every option the string sets but its secrets, the database
 * name always (quoted by libpq's rules, so a name such as "a=b" or
 * "postgresql://x" reaches the child literally, never parsed as a
 * connection string), and pgcrane's defaults: application_name=pgcrane,
 * connect_timeout=10 (unless PGCONNECT_TIMEOUT is set) and TCP
 * keepalives.  env holds the secrets as "PGPASSWORD=..." for the child's
 * environment only, and the names (without "=") of variables the child
 * must not inherit (PGCRANE_SOURCE, PGCRANE_TARGET), as proc_run() takes
 * them.  The struct owns both; free with conn_child_release().
 */
typedef struct conn_child
{
	char	   *dbname_arg;
	char	  **env;
} conn_child;

#define CONN_CHILD_INIT {NULL, NULL}

/*
 * Fill c; 0, or -1 (logged) when the string cannot be parsed or holds a
 * secret a child cannot get without showing it (conn_child_unpassable).
 */
int			conn_child_prepare(const char *conninfo, conn_child *c);
void		conn_child_release(conn_child *c);

/*
 * The keyword of a secret the string sets that has no environment
 * variable, so it cannot reach pg_dump or pg_restore without showing on
 * their command line ("sslpassword"); NULL when there is none or the
 * string cannot be parsed.  The result is a constant.
 */
const char *conn_child_unpassable(const char *conninfo);

#endif
