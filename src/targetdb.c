/*
 * targetdb.c
 *		Create or recreate the target database.
 *
 * CREATE DATABASE takes no parameters, so names are quoted with
 * PQescapeIdentifier and settings with PQescapeLiteral.
 */
#include "targetdb.h"

#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "util/log.h"
#include "util/str.h"

static void
add_literal(PGconn *conn, strbuf *sb, const char *key, const char *value)
{
	char	   *lit = PQescapeLiteral(conn, value, strlen(value));

	if (lit == NULL)
		BUG("could not quote a literal");
	strbuf_addf(sb, " %s %s", key, lit);
	PQfreemem(lit);
}

static char *
create_sql(PGconn *conn, const preflight_info *info)
{
	char	   *name = conn_quote_ident(conn, info->target_db);
	strbuf		sb = STRBUF_INIT;

	strbuf_addf(&sb, "CREATE DATABASE %s WITH TEMPLATE template0", name);
	add_literal(conn, &sb, "ENCODING", info->encoding);
	add_literal(conn, &sb, "LC_COLLATE", info->collate);
	add_literal(conn, &sb, "LC_CTYPE", info->ctype);
	if (info->locale_provider && info->locale_provider[0] == 'i' &&
		info->target_num >= 150000)
	{
		strbuf_adds(&sb, " LOCALE_PROVIDER icu");
		if (info->icu_locale)
			add_literal(conn, &sb, "ICU_LOCALE", info->icu_locale);
	}
	free(name);
	return strbuf_detach(&sb);
}

int
targetdb_prepare(const char *target, const preflight_info *info, bool drop)
{
	char	   *maint;
	PGconn	   *conn;
	int			rc = 0;

	if (info->target_exists && (info->target_empty || !drop))
		return 0;
	maint = conn_with_dbname(target, "postgres");
	conn = maint ? conn_open(maint, SIDE_TARGET) : NULL;
	free(maint);
	if (conn == NULL)
		return -1;
	if (info->target_exists)
	{
		char	   *name = conn_quote_ident(conn, info->target_db);
		char	   *sql = str_printf("DROP DATABASE %s", name);

		log_info("dropping target database \"%s\"", info->target_db);
		rc = conn_exec(conn, SIDE_TARGET, sql);
		free(sql);
		free(name);
	}
	if (rc == 0)
	{
		char	   *sql = create_sql(conn, info);

		log_info("creating target database \"%s\"", info->target_db);
		rc = conn_exec(conn, SIDE_TARGET, sql);
		free(sql);
	}
	PQfinish(conn);
	return rc;
}
