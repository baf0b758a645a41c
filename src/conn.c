/*
 * conn.c
 *		Connections to the source and target servers.
 */
#include "conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/str.h"

/*
 * Settings every pgcrane session starts with.  They make text output the
 * same whatever the server's defaults are.
 */
static const char *const session_options =
"-c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3 "
"-c TimeZone=UTC -c bytea_output=hex -c statement_timeout=0 "
"-c lock_timeout=0 -c idle_in_transaction_session_timeout=0";

/*
 * The SQLSTATE of the last error this thread logged through
 * conn_log_result_error(), for conn_failure_is_transient().  Per thread,
 * so workers never see each other's errors.
 */
static _Thread_local char last_sqlstate[6];

static PGconn *
connect_with(const char *conninfo)
{
	PQconninfoOption *opts;
	const char *keys[64];
	const char *vals[64];
	int			n = 0;
	char	   *errmsg = NULL;
	bool		has_encoding = false;
	bool		has_appname = false;
	PGconn	   *conn;

	opts = PQconninfoParse(conninfo, &errmsg);
	if (opts == NULL)
	{
		PQfreemem(errmsg);
		return NULL;
	}
	for (PQconninfoOption *o = opts; o->keyword && n < 60; o++)
	{
		if (o->val == NULL || o->val[0] == '\0')
			continue;
		if (strcmp(o->keyword, "options") == 0)
			continue;			/* added below with ours */
		if (strcmp(o->keyword, "client_encoding") == 0)
			has_encoding = true;
		if (strcmp(o->keyword, "application_name") == 0)
			has_appname = true;
		keys[n] = o->keyword;
		vals[n++] = o->val;
	}
	/*
	 * Named "pgcrane" even when PGAPPNAME says otherwise (unless the
	 * connection string names it): a resumed clone finds the sessions an
	 * interrupted one left on the target by this name.
	 */
	if (!has_appname)
	{
		keys[n] = "application_name";
		vals[n++] = CONN_APPLICATION_NAME;
	}
	if (!has_encoding)
	{
		keys[n] = "client_encoding";
		vals[n++] = "UTF8";
	}
	{
		const char *user_opts = NULL;
		char	   *all;

		for (PQconninfoOption *o = opts; o->keyword; o++)
			if (strcmp(o->keyword, "options") == 0 && o->val)
				user_opts = o->val;
		all = user_opts ? str_printf("%s %s", session_options, user_opts)
			: xstrdup(session_options);
		keys[n] = "options";
		vals[n++] = all;
		keys[n] = NULL;
		vals[n] = NULL;
		conn = PQconnectdbParams(keys, vals, 0);
		free(all);
	}
	PQconninfoFree(opts);
	return conn;
}

PGconn *
conn_try_open(const char *conninfo, char sqlstate[6], char *msg,
			  size_t msgsize)
{
	PGconn	   *conn = connect_with(conninfo);

	if (sqlstate)
		sqlstate[0] = '\0';
	if (conn == NULL)
	{
		if (msg)
			str_copy(msg, "invalid connection string", msgsize);
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK)
	{
		const char *m = PQerrorMessage(conn);

		if (msg)
			conn_error_message(conn, msg, msgsize);
		/* libpq gives no SQLSTATE for connection failures; infer the common one. */
		if (strstr(m, "does not exist") && strstr(m, "database"))
			str_copy(last_sqlstate, "3D000", sizeof(last_sqlstate));
		else if (strstr(m, "password authentication failed"))
			str_copy(last_sqlstate, "28P01", sizeof(last_sqlstate));
		else
			str_copy(last_sqlstate, "08001", sizeof(last_sqlstate));
		if (sqlstate)
			str_copy(sqlstate, last_sqlstate, 6);
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* Server notices ("... does not exist, skipping") are for --verbose only. */
static void
notice_to_debug(void *arg, const char *message)
{
	(void) arg;
	log_debug("%s", message);
}

PGconn *
conn_open(const char *conninfo, const char *side)
{
	char		msg[1024];
	PGconn	   *conn = conn_try_open(conninfo, NULL, msg, sizeof(msg));

	if (conn == NULL)
	{
		error("could not connect to %s server: %s", side, msg);
		return NULL;
	}
	PQsetNoticeProcessor(conn, notice_to_debug, NULL);
	/*
	 * An empty search_path, as pg_dump and pg_restore use: catalog
	 * functions then qualify every name, and nothing pgcrane runs can bind
	 * to an object a user planted earlier in the path.
	 */
	if (conn_exec(conn, side,
				  "SELECT pg_catalog.set_config('search_path', '', false)") != 0)
	{
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

const char *
conn_error_message(const PGconn *conn, char *buf, size_t bufsize)
{
	const char *m = PQerrorMessage(conn);
	size_t		len;

	/* libpq prefixes "connection to server at ... failed: "; keep it, it names the host. */
	str_copy(buf, m, bufsize);
	len = strlen(buf);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = '\0';
	/* Several lines (one per address tried): keep them on one line. */
	for (char *p = buf; *p; p++)
		if (*p == '\n')
			*p = ' ';
	return buf;
}

const char *
conn_sqlstate(const PGresult *res)
{
	const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return s ? s : "";
}

void
conn_log_result_error(const PGresult *res, const char *side, const char *what)
{
	const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *state = conn_sqlstate(res);

	if (m == NULL)
		m = res ? PQresultErrorMessage(res) : "no result from server";
	str_copy(last_sqlstate, state, sizeof(last_sqlstate));
	/*
	 * A canceled query is pgcrane stopping its own work (Ctrl-C or another
	 * worker's failure, both reported already): not an error of its own.
	 */
	if (strcmp(state, "57014") == 0)
		log_debug("could not %s on %s server: %s (SQLSTATE %s)", what, side,
				  m, state);
	else if (state[0])
		error("could not %s on %s server: %s (SQLSTATE %s)", what, side, m,
			  state);
	else
		error("could not %s on %s server: %s", what, side, m);
}

int
conn_exec(PGconn *conn, const char *side, const char *sql)
{
	return conn_exec_as(conn, side, sql, "run statement");
}

int
conn_exec_as(PGconn *conn, const char *side, const char *sql, const char *what)
{
	PGresult   *res = PQexec(conn, sql);
	int			rc = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
		PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		if (res == NULL)
		{
			char		buf[512];

			error("could not run \"%.60s\" on %s server: %s", sql, side,
				  conn_error_message(conn, buf, sizeof(buf)));
		}
		else
			conn_log_result_error(res, side, what);
		rc = -1;
	}
	PQclear(res);
	return rc;
}

int
conn_exec_ident(PGconn *conn, const char *side, const char *fmt,
				const char *ident)
{
	char	   *name = conn_quote_ident(conn, ident);
	char	   *sql = str_printf(fmt, name);
	int			rc = conn_exec(conn, side, sql);

	free(sql);
	free(name);
	return rc;
}

PGresult *
conn_query(PGconn *conn, const char *side, const char *what, const char *sql,
		   int nparams, const char *const *params)
{
	PGresult   *res = PQexecParams(conn, sql, nparams, NULL, params, NULL,
								   NULL, 0);

	if (PQresultStatus(res) != PGRES_TUPLES_OK &&
		PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		if (res == NULL)
		{
			char		buf[512];

			error("could not %s on %s server: %s", what, side,
				  conn_error_message(conn, buf, sizeof(buf)));
		}
		else
			conn_log_result_error(res, side, what);
		PQclear(res);
		return NULL;
	}
	return res;
}

int
conn_server_major(const PGconn *conn)
{
	return PQserverVersion(conn) / 10000;
}

char *
conn_quote_ident(PGconn *conn, const char *ident)
{
	char	   *q = PQescapeIdentifier(conn, ident, strlen(ident));
	char	   *copy;

	if (q == NULL)
	{
		fputs("pgcrane: error: could not quote identifier\n", stderr);
		abort();
	}
	copy = xstrdup(q);
	PQfreemem(q);
	return copy;
}

char *
conn_qualified_name(PGconn *conn, const char *nspname, const char *relname)
{
	char	   *n = conn_quote_ident(conn, nspname);
	char	   *r = conn_quote_ident(conn, relname);
	char	   *q = str_printf("%s.%s", n, r);

	free(n);
	free(r);
	return q;
}

static PQconninfoOption *
parse_or_log(const char *conninfo)
{
	char	   *errmsg = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &errmsg);

	if (opts == NULL)
	{
		if (errmsg)
		{
			size_t		len = strlen(errmsg);

			while (len > 0 && errmsg[len - 1] == '\n')
				errmsg[--len] = '\0';
			error("invalid connection string: %s", errmsg);
		}
		else
			error("invalid connection string: out of memory");
		PQfreemem(errmsg);
	}
	return opts;
}

/* Append key='value' with libpq quoting. */
static void
add_kv(strbuf *sb, const char *key, const char *val)
{
	if (sb->len > 0)
		strbuf_adds(sb, " ");
	strbuf_addf(sb, "%s='", key);
	for (const char *p = val; *p; p++)
	{
		if (*p == '\'' || *p == '\\')
			strbuf_adds(sb, "\\");
		strbuf_add(sb, p, 1);
	}
	strbuf_adds(sb, "'");
}

static char *
rebuild(const char *conninfo, const char *dbname, bool keep_password)
{
	PQconninfoOption *opts = parse_or_log(conninfo);
	strbuf		sb = STRBUF_INIT;

	if (opts == NULL)
		return NULL;
	for (PQconninfoOption *o = opts; o->keyword; o++)
	{
		const char *val = o->val;

		if (strcmp(o->keyword, "dbname") == 0 && dbname)
			val = dbname;
		if (val == NULL || val[0] == '\0')
			continue;
		if (!keep_password && strcmp(o->keyword, "password") == 0)
			continue;
		add_kv(&sb, o->keyword, val);
	}
	if (dbname && strstr(strbuf_str(&sb), "dbname=") == NULL)
		add_kv(&sb, "dbname", dbname);
	PQconninfoFree(opts);
	return strbuf_detach(&sb);
}

char *
conn_redact(const char *conninfo)
{
	return rebuild(conninfo, NULL, false);
}

char *
conn_with_dbname(const char *conninfo, const char *dbname)
{
	return rebuild(conninfo, dbname, true);
}

char *
conn_dbname(const char *conninfo)
{
	PQconninfoOption *opts = parse_or_log(conninfo);
	char	   *db = NULL;
	const char *user = NULL;

	if (opts == NULL)
		return NULL;
	for (PQconninfoOption *o = opts; o->keyword; o++)
	{
		if (strcmp(o->keyword, "dbname") == 0 && o->val && o->val[0])
			db = xstrdup(o->val);
		if (strcmp(o->keyword, "user") == 0 && o->val && o->val[0])
			user = o->val;
	}
	if (db == NULL && getenv("PGDATABASE"))
		db = xstrdup(getenv("PGDATABASE"));
	if (db == NULL && user)
		db = xstrdup(user);
	if (db == NULL && getenv("PGUSER"))
		db = xstrdup(getenv("PGUSER"));
	if (db == NULL && getenv("USER"))
		db = xstrdup(getenv("USER"));
	PQconninfoFree(opts);
	return db;
}

char **
conn_child_env(const char *conninfo)
{
	PQconninfoOption *opts = parse_or_log(conninfo);
	char	  **env;
	bool		has_appname = false;
	int			n = 0,
				count = 0;

	if (opts == NULL)
		return NULL;
	for (PQconninfoOption *o = opts; o->keyword; o++)
		count++;
	env = xcalloc((size_t) count + 2, sizeof(char *));
	for (PQconninfoOption *o = opts; o->keyword; o++)
	{
		if (o->val == NULL || o->val[0] == '\0' || o->envvar == NULL)
			continue;
		if (strcmp(o->keyword, "application_name") == 0)
			has_appname = true;
		env[n++] = str_printf("%s=%s", o->envvar, o->val);
	}
	if (!has_appname)
		env[n++] = xstrdup("PGAPPNAME=" CONN_APPLICATION_NAME);
	env[n] = NULL;
	PQconninfoFree(opts);
	return env;
}

void
conn_env_free(char **env)
{
	if (env == NULL)
		return;
	for (char **e = env; *e; e++)
		free(*e);
	free(env);
}

bool
conn_failure_is_transient(const PGconn *a, const PGconn *b)
{
	static const char *const transient[] = {
		"40001",				/* serialization_failure */
		"40P01",				/* deadlock_detected */
		"57P01",				/* admin_shutdown */
		"57P02",				/* crash_shutdown */
		"57P03",				/* cannot_connect_now */
		"53300",				/* too_many_connections */
	};

	if ((a && PQstatus(a) == CONNECTION_BAD) || (b && PQstatus(b) == CONNECTION_BAD))
		return true;
	if (strncmp(last_sqlstate, "08", 2) == 0)
		return true;
	for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
		if (strcmp(last_sqlstate, transient[i]) == 0)
			return true;
	return false;
}

void
conn_clear_last_error(void)
{
	last_sqlstate[0] = '\0';
}
