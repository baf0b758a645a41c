/*
 * index.c
 *		Build indexes and index-backed constraints.
 */
#include "clone/index.h"

#include <stdlib.h>
#include <string.h>

#include "core/conn.h"
#include "util/log.h"
#include "util/str.h"

static int
run(PGconn *tgt, const cat_index *ix, const char *sql, const char *verb)
{
	char	   *what = str_printf("%s \"%s\"", verb, ix->display);
	int			rc = conn_exec_as(tgt, SIDE_TARGET, sql, what);

	free(what);
	return rc;
}

static char *
constraint_sql(const cat_table *t, const cat_index *ix, const char *relname)
{
	strbuf		sb = STRBUF_INIT;

	strbuf_addf(&sb, "ALTER TABLE ONLY %s ADD CONSTRAINT %s ", t->qname,
				ix->conname);
	if (!ix->using_index_ok || ix->contype == 'x')
	{
		strbuf_adds(&sb, ix->condef);
		return strbuf_detach(&sb);
	}
	strbuf_addf(&sb, "%s USING INDEX %s",
				ix->contype == 'p' ? "PRIMARY KEY" : "UNIQUE", relname);
	if (ix->deferrable)
		strbuf_adds(&sb, " DEFERRABLE");
	if (ix->deferred)
		strbuf_adds(&sb, " INITIALLY DEFERRED");
	return strbuf_detach(&sb);
}

static int
build_main(PGconn *tgt, const cat_table *t, const cat_index *ix,
		   const char *relname)
{
	char	   *sql;
	int			rc;

	if (ix->contype == '\0')
		return run(tgt, ix, ix->indexdef, "create index");
	if (ix->using_index_ok && ix->contype != 'x')
	{
		if (run(tgt, ix, ix->indexdef, "create index") != 0)
			return -1;
	}
	sql = constraint_sql(t, ix, relname);
	rc = run(tgt, ix, sql, "add constraint for index");
	free(sql);
	return rc;
}

/*
 * Remove what an earlier, interrupted attempt may have left, so a build
 * can always start over.  On a fresh target this finds nothing.
 */
static int
drop_leftovers(PGconn *tgt, const cat_table *t, const cat_index *ix)
{
	char	   *sql;
	int			rc = 0;

	if (ix->conname)
	{
		sql = str_printf("ALTER TABLE ONLY %s DROP CONSTRAINT IF EXISTS %s",
						 t->qname, ix->conname);
		rc = run(tgt, ix, sql, "drop leftover constraint for index");
		free(sql);
	}
	if (rc == 0)
	{
		sql = str_printf("DROP INDEX IF EXISTS %s", ix->qname);
		rc = run(tgt, ix, sql, "drop leftover index");
		free(sql);
	}
	return rc;
}

/*
 * The index (and the index of a constraint added directly) goes where
 * default_tablespace says: set for this build only.
 */
static int
build_in_tablespace(PGconn *tgt, const cat_table *t, const cat_index *ix)
{
	int			rc;

	if (ix->tablespace == NULL)
		return build_main(tgt, t, ix, ix->relname);
	if (conn_exec_ident(tgt, SIDE_TARGET, "SET default_tablespace = %s", ix->tablespace) != 0)
		return -1;
	rc = build_main(tgt, t, ix, ix->relname);
	/* After a failure (logged), the connection may be gone: quietly. */
	if (rc != 0)
		PQclear(PQexec(tgt, "RESET default_tablespace"));
	else
		rc = conn_exec(tgt, SIDE_TARGET, "RESET default_tablespace");
	return rc;
}

int
index_build(PGconn *tgt, const cat_table *t, const cat_index *ix, bool retry)
{
	const char *relname = ix->relname;
	int			rc = retry ? drop_leftovers(tgt, t, ix) : 0;

	if (rc == 0)
		rc = build_in_tablespace(tgt, t, ix);

	if (rc == 0 && ix->replident)
	{
		char	   *sql = str_printf("ALTER TABLE ONLY %s REPLICA IDENTITY USING INDEX %s",
									 t->qname, relname);

		rc = run(tgt, ix, sql, "set replica identity with index");
		free(sql);
	}
	if (rc == 0 && ix->clustered)
	{
		char	   *sql = str_printf("ALTER TABLE ONLY %s CLUSTER ON %s",
									 t->qname, relname);

		rc = run(tgt, ix, sql, "mark for clustering index");
		free(sql);
	}
	/* Statistics targets, extension dependencies: one simple query. */
	if (rc == 0 && ix->extra_sql)
		rc = run(tgt, ix, ix->extra_sql, "set the properties of index");
	return rc;
}
