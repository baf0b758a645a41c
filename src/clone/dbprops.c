/*
 * dbprops.c
 *		Give the target database the source database's own properties.
 *
 * The SQL comes from pg_restore (see dbprops.h); this module only chooses
 * the archive's database entries, reads the statements pg_restore writes
 * for them and runs them on the target database in a safe order.
 */
#include "clone/dbprops.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/conn.h"
#include "util/log.h"
#include "util/str.h"

/* What a statement is, for its place in the order. */
enum
{
	STMT_OWNER,
	STMT_OTHER,
	STMT_LAST
};

/*
 * Scanner state over pg_restore's SQL: quoted literals and identifiers
 * are skipped whole (doubled quotes inside them), so that nothing in a
 * comment's text or an identifier is taken for SQL.
 */
static const char *
skip_quoted(const char *p)
{
	char		q = *p++;

	while (*p)
	{
		if (*p == q && p[1] == q)
			p += 2;
		else if (*p == q)
			return p + 1;
		else
			p++;
	}
	return p;
}

static bool
ends_word(char c)
{
	return c == '\0' || c == ' ' || c == ';' || c == '\n' || c == '\t';
}

/*
 * The offset in stmt, outside quotes, of the name after the first
 * "DATABASE " that is followed by name, or -1.
 */
static long
find_db_ref(const char *stmt, const char *name)
{
	size_t		len = strlen(name);

	for (const char *p = stmt; *p;)
	{
		if (*p == '\'' || *p == '"')
		{
			p = skip_quoted(p);
			continue;
		}
		if (strncmp(p, "DATABASE ", 9) == 0 && (p == stmt || !isalnum((unsigned char) p[-1])) &&
			strncmp(p + 9, name, len) == 0 && ends_word(p[9 + len]))
			return (long) (p + 9 - stmt);
		p++;
	}
	return -1;
}

/* A statement about the session only: it names no database. */
static bool
is_session_statement(const char *stmt)
{
	return strncmp(stmt, "SET ", 4) == 0 || strncmp(stmt, "RESET ", 6) == 0 ||
		strncmp(stmt, "SELECT ", 7) == 0;
}

/*
 * stmt with its database reference renamed (a new string), or NULL when
 * a statement that must name the database does not name it as expected:
 * run as it is, it would change the database of the source's name, which
 * may be the source itself on the same server.
 */
static char *
rename_db(const char *stmt, const char *from, const char *from_quoted,
		  const char *to)
{
	long		at = find_db_ref(stmt, from);
	size_t		len = strlen(from);

	if (at < 0)
	{
		at = find_db_ref(stmt, from_quoted);
		len = strlen(from_quoted);
	}
	if (at < 0)
		return is_session_statement(stmt) ? xstrdup(stmt) : NULL;
	return str_printf("%.*s%s%s", (int) at, stmt, to, stmt + at + len);
}

static int
classify(const char *stmt)
{
	if (strncmp(stmt, "ALTER DATABASE ", 15) == 0 && strstr(stmt, " OWNER TO "))
		return STMT_OWNER;
	if (strncmp(stmt, "ALTER DATABASE ", 15) == 0 &&
		strstr(stmt, " SET default_transaction_read_only ") != NULL)
		return STMT_LAST;
	return STMT_OTHER;
}

/* Split sql into statements: outside quotes, at ';', without comments. */
static int
split(const char *sql, char ***out)
{
	strbuf		cur = STRBUF_INIT;
	int			n = 0;
	const char *p = sql;

	*out = NULL;
	while (*p)
	{
		bool		line_start = p == sql || p[-1] == '\n';

		if ((line_start && cur.len == 0 && *p == '\\') || strncmp(p, "--", 2) == 0)
		{
			while (*p && *p != '\n')
				p++;
			continue;
		}
		if (*p == '\'' || *p == '"')
		{
			const char *e = skip_quoted(p);

			strbuf_add(&cur, p, (size_t) (e - p));
			p = e;
			continue;
		}
		if (*p == ';')
		{
			*out = xrealloc(*out, sizeof(char *) * (size_t) (n + 1));
			(*out)[n++] = strbuf_detach(&cur);
			p++;
			continue;
		}
		if (cur.len > 0 || !isspace((unsigned char) *p))
			strbuf_add(&cur, p, 1);
		p++;
	}
	strbuf_release(&cur);
	return n;
}

int
dbprops_statements(const char *sql, const char *from, const char *from_quoted,
				   const char *to, dbprops_part part, char ***stmts)
{
	char	  **all;
	int			n = split(sql, &all),
				kept = 0;
	int			first = part == DBPROPS_OWNER ? STMT_OWNER : STMT_OTHER,
				last = part == DBPROPS_OWNER ? STMT_OWNER : STMT_LAST;

	*stmts = xcalloc((size_t) n + 1, sizeof(char *));
	for (int pass = first; pass <= last && kept >= 0; pass++)
	{
		for (int i = 0; i < n && kept >= 0; i++)
		{
			if (classify(all[i]) != pass || strncmp(all[i], "CREATE DATABASE ", 16) == 0)
				continue;
			if (((*stmts)[kept] = rename_db(all[i], from, from_quoted, to)) != NULL)
				kept++;
			else
			{
				error("database \"%s\" is not named as expected in a statement pg_restore wrote",
					  from);
				log_detail("The statement is: %s", all[i]);
				dbprops_free(*stmts, kept);
				*stmts = NULL;
				kept = -1;
			}
		}
	}
	for (int i = 0; i < n; i++)
		free(all[i]);
	free(all);
	return kept;
}

void
dbprops_free(char **stmts, int n)
{
	for (int i = 0; i < n; i++)
		free(stmts[i]);
	free(stmts);
}

/* "3355; 0 0 COMMENT - DATABASE src alice": an entry of the database. */
static bool
is_database_entry(const char *line)
{
	static const char *const kinds[] = {"DATABASE ", "COMMENT - DATABASE ",
	"ACL - DATABASE ", "SECURITY LABEL - DATABASE "};
	unsigned long id,
				catalog,
				oid;
	int			off = 0;

	if (line[0] == ';' || sscanf(line, "%lu; %lu %lu %n", &id, &catalog, &oid, &off) != 3)
		return false;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strncmp(line + off, kinds[i], strlen(kinds[i])) == 0)
			return true;
	return false;
}

/* Keep the database's entries of list full in list path. */
static int
write_database_list(const char *full, const char *path)
{
	FILE	   *in = fopen(full, "r");
	FILE	   *out = in ? fopen(path, "w") : NULL;
	char		line[8192];
	int			rc = 0;

	if (in == NULL || out == NULL)
		rc = error("could not write TOC list \"%s\"", path);
	while (rc == 0 && fgets(line, sizeof(line), in))
		if (is_database_entry(line))
			fputs(line, out);
	if (in)
		fclose(in);
	if (out && fclose(out) != 0 && rc == 0)
		rc = error("could not write TOC list \"%s\"", path);
	return rc;
}

static char *
read_file(const char *path)
{
	FILE	   *f = fopen(path, "r");
	strbuf		sb = STRBUF_INIT;
	char		buf[8192];
	size_t		got;

	if (f == NULL)
	{
		error("could not read \"%s\"", path);
		return NULL;
	}
	while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_add(&sb, buf, got);
	fclose(f);
	return strbuf_detach(&sb);
}

/* The SQL pg_restore --create writes for the database's entries. */
static char *
database_sql(const pg_tools *tools, const dbprops_opts *o)
{
	char	   *full = str_printf("%s.full", o->work_path);
	char	   *list = str_printf("%s.list", o->work_path);
	char	   *sqlpath = str_printf("%s.sql", o->work_path);
	char	   *sql = NULL;

	if (schema_list(tools, o->dump, true, full) == 0 &&
		write_database_list(full, list) == 0 &&
		schema_restore_sql(tools, o->dump, list, sqlpath, &o->restore) == 0)
		sql = read_file(sqlpath);
	unlink(full);
	free(full);
	free(list);
	free(sqlpath);
	return sql;
}

/*
 * ALTER DATABASE ... OWNER TO.  A target role that may not give the
 * database to that role (not a member of it; preflight warned) keeps it:
 * the clone goes on, with a warning, rather than fail over the owner.
 */
static int
run_owner(PGconn *conn, const char *stmt, const dbprops_opts *o)
{
	PGresult   *res = PQexec(conn, stmt);
	int			rc = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
		strcmp(conn_sqlstate(res), "42501") == 0)
	{
		log_warning("target database \"%s\" stays owned by the target role: %s",
					o->target_db, PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
		log_hint("Grant the owner of the source database to the target role, or connect as a superuser.");
	}
	else if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		conn_log_result_error(res, SIDE_TARGET, "set the owner of the target database");
		rc = -1;
	}
	PQclear(res);
	return rc;
}

static int
run_statements(PGconn *conn, const char *sql, const dbprops_opts *o,
			   dbprops_part part)
{
	char	   *from = conn_server_quote(conn, SIDE_TARGET, o->source_db);
	char	   *from_quoted = conn_quote_ident(conn, o->source_db);
	char	   *to = conn_quote_ident(conn, o->target_db);
	char	  **stmts;
	int			n,
				rc = 0;

	if (from == NULL)
	{
		free(from_quoted);
		free(to);
		return -1;
	}
	n = dbprops_statements(sql, from, from_quoted, to, part, &stmts);
	if (n < 0)
		rc = -1;
	for (int i = 0; i < n && rc == 0; i++)
	{
		log_debug("database property: %s", stmts[i]);
		if (part == DBPROPS_OWNER && classify(stmts[i]) == STMT_OWNER)
			rc = run_owner(conn, stmts[i], o);
		else
			rc = conn_exec_as(conn, SIDE_TARGET, stmts[i],
							  "set a property of the target database");
	}
	if (n >= 0)
		dbprops_free(stmts, n);
	free(from);
	free(from_quoted);
	free(to);
	return rc;
}

int
dbprops_apply(const pg_tools *tools, PGconn *tgt, const dbprops_opts *o,
			  dbprops_part part)
{
	char	   *sql = database_sql(tools, o);
	int			rc;

	if (sql == NULL)
		return -1;
	rc = run_statements(tgt, sql, o, part);
	free(sql);
	return rc;
}
