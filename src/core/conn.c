/*
 * conn.c
 *		Connections to the source and target servers.
 */
#include "core/conn.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errclass.h"
#include "core/failure.h"
#include "core/interrupt.h"
#include "util/clock.h"
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
 * Options every connection of pgcrane and of its child programs gets
 * unless the connection string sets them: TCP keepalives, so a server
 * that vanished (a host that died, a dropped route) is noticed in about a
 * minute instead of at the operating system's default of hours.
 */
static const char *const keepalive_defaults[][2] = {
	{"keepalives", "1"},
	{"keepalives_idle", "30"},
	{"keepalives_interval", "10"},
	{"keepalives_count", "3"},
};

/* Seconds a connection attempt may take unless the user says otherwise. */
#define CONN_DEFAULT_TIMEOUT "10"

/* How long one wait for the socket lasts, so an interrupt is seen soon. */
#define CONN_POLL_MS 50

/*
 * libpq's parse error without anything taken from the string: its messages
 * quote the offending token ("invalid percent-encoded token: \"pw%zz\""),
 * which may be a password.  A quoted single character (the "=" of
 * 'missing "=" after ...') is kept; from the first other quote to the last
 * one, everything becomes "...".
 */
static void
sanitize_parse_error(const char *errmsg, char *buf, size_t bufsize)
{
	strbuf		sb = STRBUF_INIT;
	const char *p = errmsg ? errmsg : "out of memory";
	const char *last = strrchr(p, '"');

	while (*p && *p != '\n')
	{
		if (*p == '"' && p[1] && p[1] != '"' && p[2] == '"' && p + 2 <= last)
		{
			strbuf_add(&sb, p, 3);
			p += 3;
			continue;
		}
		if (*p == '"')
		{
			strbuf_adds(&sb, "\"...\"");
			if (p == last)
				break;
			p = last + 1;
			continue;
		}
		strbuf_add(&sb, p, 1);
		p++;
	}
	str_copy(buf, strbuf_str(&sb), bufsize);
	strbuf_release(&sb);
}

/* Parse conninfo; NULL with "invalid connection string: ..." in msg. */
static PQconninfoOption *
parse_quiet(const char *conninfo, char *msg, size_t msgsize)
{
	char	   *errmsg = NULL;
	char		clean[256];
	PQconninfoOption *opts = PQconninfoParse(conninfo, &errmsg);

	if (opts == NULL && msg)
	{
		sanitize_parse_error(errmsg, clean, sizeof(clean));
		snprintf(msg, msgsize, "invalid connection string: %s", clean);
	}
	PQfreemem(errmsg);
	return opts;
}

bool
conn_check_string(const char *conninfo, const char *side)
{
	char		msg[512];
	PQconninfoOption *opts = parse_quiet(conninfo, msg, sizeof(msg));

	if (opts == NULL)
	{
		error("could not connect to %s server: %s", side, msg);
		return false;
	}
	PQconninfoFree(opts);
	return true;
}

static const char *
opt_value(const PQconninfoOption *opts, const char *keyword)
{
	for (const PQconninfoOption *o = opts; o->keyword; o++)
		if (strcmp(o->keyword, keyword) == 0)
			return o->val && o->val[0] ? o->val : NULL;
	return NULL;
}

/* Whether the option is a secret: libpq shows those as "*" in dialogs. */
static bool
opt_is_secret(const PQconninfoOption *o)
{
	return o->dispchar && o->dispchar[0] == '*';
}

/*
 * The connect timeout that applies to conninfo: its connect_timeout, else
 * PGCONNECT_TIMEOUT, else pgcrane's 10 s.  NULL when the user set one
 * through the environment (libpq reads it there itself).
 */
static const char *
timeout_default(const PQconninfoOption *opts)
{
	const char *env = getenv("PGCONNECT_TIMEOUT");

	if (opt_value(opts, "connect_timeout") || (env && env[0]))
		return NULL;
	return CONN_DEFAULT_TIMEOUT;
}

/* Seconds for conn_wait(); 0 means no limit, as for libpq. */
static int
timeout_seconds(const PQconninfoOption *opts)
{
	const char *v = opt_value(opts, "connect_timeout");
	int			secs;

	if (v == NULL)
		v = getenv("PGCONNECT_TIMEOUT");
	if (v == NULL || v[0] == '\0')
		v = CONN_DEFAULT_TIMEOUT;
	if (!str_to_int(v, -1000000, 1000000, &secs))
		secs = (int) strtol(CONN_DEFAULT_TIMEOUT, NULL, 10);
	if (secs <= 0)
		return 0;
	return secs < 2 ? 2 : secs;
}

/* Add key=val unless val is NULL or the string sets key. */
static void
add_default(const PQconninfoOption *opts, const char **keys,
			const char **vals, int *n, const char *key, const char *val)
{
	if (val == NULL || opt_value(opts, key))
		return;
	keys[*n] = key;
	vals[*n] = val;
	(*n)++;
}

/*
 * Keywords and values for PQconnectStartParams: the string's options,
 * application_name=pgcrane, client_encoding UTF8, the timeout and
 * keepalive defaults, and "options" = ours then the user's (allocated
 * into *all_opts, the caller frees it).  Returns the count.
 */
static int
connect_params(const PQconninfoOption *opts, const char **keys,
			   const char **vals, char **all_opts)
{
	const char *user_opts = opt_value(opts, "options");
	int			n = 0;

	for (const PQconninfoOption *o = opts; o->keyword; o++)
	{
		if (o->val == NULL || o->val[0] == '\0' ||
			strcmp(o->keyword, "options") == 0)
			continue;
		keys[n] = o->keyword;
		vals[n++] = o->val;
	}
	/*
	 * Named "pgcrane" even when PGAPPNAME says otherwise (unless the
	 * connection string names it): a resumed clone finds the sessions an
	 * interrupted one left on the target by this name.
	 */
	add_default(opts, keys, vals, &n, "application_name", CONN_APPLICATION_NAME);
	add_default(opts, keys, vals, &n, "client_encoding", "UTF8");
	add_default(opts, keys, vals, &n, "connect_timeout", timeout_default(opts));
	for (size_t i = 0; i < sizeof(keepalive_defaults) / sizeof(keepalive_defaults[0]); i++)
		add_default(opts, keys, vals, &n, keepalive_defaults[i][0],
					keepalive_defaults[i][1]);
	*all_opts = user_opts ? str_printf("%s %s", session_options, user_opts)
		: xstrdup(session_options);
	keys[n] = "options";
	vals[n++] = *all_opts;
	keys[n] = NULL;
	vals[n] = NULL;
	return n;
}

/*
 * Drive an attempt started by PQconnectStartParams to its end, waiting
 * at most CONN_POLL_MS at a time so that an interrupt is seen at once.
 * The timeout counts from the start of each host's attempt.  0 when
 * connected; -1 with the reason in msg and *sqlstate (57014 when
 * interrupted, 08001 when timed out), or with msg "" when libpq failed
 * (its message is in the connection).
 */
static int
conn_wait(PGconn *conn, int timeout, char *msg, size_t msgsize,
		  const char **sqlstate)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	int			sock = -1;
	const char *host = NULL;
	double		deadline = 0;

	msg[0] = '\0';
	while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED)
	{
		struct pollfd pfd = {PQsocket(conn), 0, 0};

		if (interrupt_pending())
		{
			*sqlstate = "57014";
			str_copy(msg, "connection attempt interrupted", msgsize);
			return -1;
		}
		/* A new socket or host: libpq moved on to the next address. */
		if (pfd.fd != sock || PQhost(conn) != host)
		{
			sock = pfd.fd;
			host = PQhost(conn);
			deadline = clock_now() + timeout;
		}
		if (timeout > 0 && clock_now() >= deadline)
		{
			*sqlstate = "08001";
			snprintf(msg, msgsize,
					 "connection to server at \"%s\", port %s failed: timeout expired",
					 PQhost(conn), PQport(conn));
			return -1;
		}
		pfd.events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
		if (pfd.fd < 0 || poll(&pfd, 1, CONN_POLL_MS) > 0)
			st = PQconnectPoll(conn);
	}
	return st == PGRES_POLLING_OK ? 0 : -1;
}

/*
 * Open a connection to conninfo with pgcrane's options.  NULL on failure
 * with a one-line message in msg and the SQLSTATE in *sqlstate.
 */
static PGconn *
connect_with(const char *conninfo, char *msg, size_t msgsize,
			 const char **sqlstate)
{
	PQconninfoOption *opts = parse_quiet(conninfo, msg, msgsize);
	const char **keys,
			  **vals;
	char	   *all_opts = NULL;
	PGconn	   *conn = NULL;
	size_t		count = 16;

	*sqlstate = "";
	if (opts == NULL)
		return NULL;
	for (PQconninfoOption *o = opts; o->keyword; o++)
		count++;
	keys = xcalloc(count, sizeof(char *));
	vals = xcalloc(count, sizeof(char *));
	connect_params(opts, keys, vals, &all_opts);
	if (interrupt_pending())
	{
		*sqlstate = "57014";
		str_copy(msg, "connection attempt interrupted", msgsize);
	}
	else if ((conn = PQconnectStartParams(keys, vals, 0)) == NULL)
		str_copy(msg, "out of memory", msgsize);
	else if (PQstatus(conn) == CONNECTION_BAD ||
			 conn_wait(conn, timeout_seconds(opts), msg, msgsize, sqlstate) != 0)
	{
		if (PQstatus(conn) == CONNECTION_BAD)
			*sqlstate = errclass_connect_sqlstate(conn_error_message(conn, msg,
																	 msgsize));
		PQfinish(conn);
		conn = NULL;
	}
	free(all_opts);
	free(keys);
	free(vals);
	PQconninfoFree(opts);
	return conn;
}

PGconn *
conn_try_open(const char *conninfo, char sqlstate[6], char *msg,
			  size_t msgsize)
{
	char		buf[1024];
	const char *state = "";
	PGconn	   *conn = connect_with(conninfo, buf, sizeof(buf), &state);

	if (sqlstate)
		sqlstate[0] = '\0';
	if (conn != NULL)
		return conn;
	if (msg)
		str_copy(msg, buf, msgsize);
	if (sqlstate)
		str_copy(sqlstate, state, 6);
	return NULL;
}

/* Server notices ("... does not exist, skipping") are for --verbose only. */
static void
notice_to_debug(void *arg, const char *message)
{
	(void) arg;
	log_debug("%s", message);
}

bool
conn_connect_failed(const char *side, const char *sqlstate, const char *msg)
{
	return failure_set(side, sqlstate, NULL, false,
					   "could not connect to %s server: %s", side, msg);
}

PGconn *
conn_open(const char *conninfo, const char *side)
{
	char		msg[1024];
	char		state[6];
	PGconn	   *conn = conn_try_open(conninfo, state, msg, sizeof(msg));

	if (conn == NULL)
	{
		/* An interrupt is reported once, by whoever received it. */
		if (strcmp(state, "57014") == 0)
		{
			char	   *line = str_printf("could not connect to %s server: %s",
										  side, msg);

			(void) failure_note(side, state, NULL, false, line);
			log_debug("%s", line);
			free(line);
		}
		else
			(void) conn_connect_failed(side, state, msg);
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

/*
 * One line from libpq's message: a failed connection has a line per
 * address tried ("connection to server at ... failed: ..."), each maybe
 * followed by an indented hint, and sometimes a bare "invalid socket".
 * The lines that say what failed are kept, joined by "; ".
 */
const char *
conn_error_message(const PGconn *conn, char *buf, size_t bufsize)
{
	const char *m = PQerrorMessage(conn);
	strbuf		sb = STRBUF_INIT;

	while (*m)
	{
		size_t		len = strcspn(m, "\n");
		size_t		keep = len;

		while (keep > 0 && (m[keep - 1] == ' ' || m[keep - 1] == '\r'))
			keep--;
		if (keep > 0 && m[0] != '\t' && m[0] != ' ' &&
			!(keep == 14 && strncmp(m, "invalid socket", 14) == 0))
		{
			if (sb.len > 0)
				strbuf_adds(&sb, "; ");
			strbuf_add(&sb, m, keep);
		}
		m += len;
		if (*m == '\n')
			m++;
	}
	str_copy(buf, sb.len > 0 ? strbuf_str(&sb) : "unknown error", bufsize);
	strbuf_release(&sb);
	return buf;
}

const char *
conn_sqlstate(const PGresult *res)
{
	const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return s ? s : "";
}

/* A server message field on one line: newlines become spaces. */
static const char *
one_line(const char *m, char *buf, size_t bufsize)
{
	size_t		len;

	str_copy(buf, m, bufsize);
	len = strlen(buf);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = '\0';
	for (char *p = buf; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	return buf;
}

/*
 * Log a failed result as the failure of a statement on side: "could not
 * <what> on <side> server: msg (SQLSTATE x)", its detail and hint.
 */
static void
result_failed(const PGresult *res, const char *side, const char *what,
			  bool connection_bad)
{
	const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
	const char *state = conn_sqlstate(res);
	char		buf[2048];
	char	   *line;

	if (m == NULL)
		m = res ? PQresultErrorMessage(res) : "no result from server";
	if (m[0] == '\0')
		m = "no result from server";
	/* Without fields, libpq's text: keep its first line only. */
	m = one_line(m, buf, sizeof(buf));
	line = state[0] ? str_printf("could not %s on %s server: %s (SQLSTATE %s)",
								 what, side, m, state)
		: str_printf("could not %s on %s server: %s", what, side, m);
	(void) failure_note(side, state, NULL, connection_bad, line);
	/*
	 * A canceled query is pgcrane stopping its own work (Ctrl-C or another
	 * worker's failure, both reported already): not an error of its own.
	 */
	if (strcmp(state, "57014") == 0)
	{
		log_debug("%s", line);
		free(line);
		return;
	}
	error("%s", line);
	free(line);
	if (detail)
		log_detail("%s", one_line(detail, buf, sizeof(buf)));
	if (hint)
		log_hint("%s", one_line(hint, buf, sizeof(buf)));
}

void
conn_log_result_error(const PGresult *res, const char *side, const char *what)
{
	result_failed(res, side, what, false);
}

/* A statement failed on conn: its result, or libpq's own message. */
static void
statement_failed(PGconn *conn, const PGresult *res, const char *side,
				 const char *what)
{
	bool		bad = PQstatus(conn) == CONNECTION_BAD;
	char		buf[512];

	if (res != NULL)
		result_failed(res, side, what, bad);
	else
		(void) failure_set(side, NULL, NULL, bad, "could not %s on %s server: %s",
						   what, side, conn_error_message(conn, buf, sizeof(buf)));
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

			(void) failure_set(side, NULL, NULL, PQstatus(conn) == CONNECTION_BAD,
							   "could not run \"%.60s\" on %s server: %s", sql, side,
							   conn_error_message(conn, buf, sizeof(buf)));
		}
		else
			result_failed(res, side, what, PQstatus(conn) == CONNECTION_BAD);
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
		statement_failed(conn, res, side, what);
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
conn_server_quote(PGconn *conn, const char *side, const char *name)
{
	const char *params[1] = {name};
	PGresult   *res = conn_query(conn, side, "quote a name",
								 "SELECT pg_catalog.quote_ident($1)", 1, params);
	char	   *q = res ? xstrdup(PQgetvalue(res, 0, 0)) : NULL;

	PQclear(res);
	return q;
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

/* Parse conninfo, or log why not (without any part of it) and NULL. */
static PQconninfoOption *
parse_or_log(const char *conninfo)
{
	char		msg[512];
	PQconninfoOption *opts = parse_quiet(conninfo, msg, sizeof(msg));

	if (opts == NULL)
		error("%s", msg);
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

/*
 * conninfo as a key/value string, dbname replaced when not NULL, secrets
 * (password, sslpassword) dropped unless keep_password.
 */
static char *
rebuild(const char *conninfo, const char *dbname, bool keep_password)
{
	PQconninfoOption *opts = parse_quiet(conninfo, NULL, 0);
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
		if (!keep_password && opt_is_secret(o))
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
	PQconninfoOption *opts = parse_quiet(conninfo, NULL, 0);
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

/*
 * Environment variables a child must not inherit: pgcrane's own
 * connection strings, which may hold the other side's password.
 */
static const char *const child_unset[] = {"PGCRANE_SOURCE", "PGCRANE_TARGET"};

const char *
conn_child_unpassable(const char *conninfo)
{
	char		msg[512];
	PQconninfoOption *opts = conninfo ? parse_quiet(conninfo, msg, sizeof(msg)) : NULL;
	const char *keyword = NULL;

	if (opts == NULL)
		return NULL;
	for (PQconninfoOption *o = opts; o->keyword && keyword == NULL; o++)
	{
		if (o->val == NULL || o->val[0] == '\0' || !opt_is_secret(o))
			continue;
		if (o->envvar == NULL)
		{
			/* A constant, as the caller gets it after opts are freed. */
			if (strcmp(o->keyword, "sslpassword") == 0)
				keyword = "sslpassword";
			else
				keyword = "a secret option";
		}
	}
	PQconninfoFree(opts);
	return keyword;
}

/* The secrets of opts as "PGPASSWORD=..." strings, then the removals. */
static char **
child_env(const PQconninfoOption *opts)
{
	size_t		count = sizeof(child_unset) / sizeof(child_unset[0]) + 1;
	size_t		n = 0;
	char	  **env;

	for (const PQconninfoOption *o = opts; o->keyword; o++)
		count++;
	env = xcalloc(count, sizeof(char *));
	for (const PQconninfoOption *o = opts; o->keyword; o++)
		if (o->val && o->val[0] && opt_is_secret(o) && o->envvar)
			env[n++] = str_printf("%s=%s", o->envvar, o->val);
	for (size_t i = 0; i < sizeof(child_unset) / sizeof(child_unset[0]); i++)
		env[n++] = xstrdup(child_unset[i]);
	env[n] = NULL;
	return env;
}

/* The key/value string of a child: every non-secret option and defaults. */
static char *
child_conninfo(const PQconninfoOption *opts, const char *dbname)
{
	strbuf		sb = STRBUF_INIT;
	const char *timeout = timeout_default(opts);

	for (const PQconninfoOption *o = opts; o->keyword; o++)
	{
		if (o->val == NULL || o->val[0] == '\0' || opt_is_secret(o) ||
			strcmp(o->keyword, "dbname") == 0)
			continue;
		add_kv(&sb, o->keyword, o->val);
	}
	add_kv(&sb, "dbname", dbname);
	if (!opt_value(opts, "application_name"))
		add_kv(&sb, "application_name", CONN_APPLICATION_NAME);
	if (timeout)
		add_kv(&sb, "connect_timeout", timeout);
	for (size_t i = 0; i < sizeof(keepalive_defaults) / sizeof(keepalive_defaults[0]); i++)
		if (!opt_value(opts, keepalive_defaults[i][0]))
			add_kv(&sb, keepalive_defaults[i][0], keepalive_defaults[i][1]);
	return strbuf_detach(&sb);
}

int
conn_child_prepare(const char *conninfo, conn_child *c)
{
	PQconninfoOption *opts;
	const char *unpassable = conn_child_unpassable(conninfo);
	char	   *dbname;
	char	   *str;

	memset(c, 0, sizeof(*c));
	if (unpassable)
		return error("connection option \"%s\" cannot be passed to pg_dump safely",
					 unpassable);
	opts = parse_or_log(conninfo);
	dbname = opts ? conn_dbname(conninfo) : NULL;
	if (opts == NULL || dbname == NULL)
	{
		if (opts)
			PQconninfoFree(opts);
		return opts ? error("could not tell the database of a connection string") : -1;
	}
	str = child_conninfo(opts, dbname);
	c->dbname_arg = str_printf("--dbname=%s", str);
	c->env = child_env(opts);
	free(str);
	free(dbname);
	PQconninfoFree(opts);
	return 0;
}

void
conn_child_release(conn_child *c)
{
	free(c->dbname_arg);
	if (c->env)
	{
		for (char **e = c->env; *e; e++)
			free(*e);
		free(c->env);
	}
	c->dbname_arg = NULL;
	c->env = NULL;
}

char *
conn_with_env_password(const char *conninfo)
{
	const char *pw = getenv("PGPASSWORD");
	PQconninfoOption *opts;
	strbuf		sb = STRBUF_INIT;
	char	   *kv;

	if (pw == NULL || pw[0] == '\0')
		return xstrdup(conninfo);
	opts = parse_quiet(conninfo, NULL, 0);
	if (opts == NULL)
		return NULL;
	if (opt_value(opts, "password"))
	{
		PQconninfoFree(opts);
		return xstrdup(conninfo);
	}
	PQconninfoFree(opts);
	kv = rebuild(conninfo, NULL, true);
	if (kv == NULL)
		return NULL;
	strbuf_adds(&sb, kv);
	add_kv(&sb, "password", pw);
	free(kv);
	return strbuf_detach(&sb);
}

void
conn_note_broken(const PGconn *conn, const char *side)
{
	if (conn != NULL && PQstatus(conn) == CONNECTION_BAD)
		failure_connection_broken(side);
}
