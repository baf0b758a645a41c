/*
 * fkey.c
 *		Add foreign keys on the target.
 */
#include "clone/fkey.h"

#include <stdlib.h>

#include "core/conn.h"
#include "util/log.h"
#include "util/str.h"

static int
run(PGconn *tgt, const cat_fk *fk, const char *sql, const char *verb)
{
	char	   *what = str_printf("%s \"%s\"", verb, fk->display);
	int			rc = conn_exec_as(tgt, SIDE_TARGET, sql, what);

	free(what);
	return rc;
}

int
fkey_add(PGconn *tgt, const cat_table *t, const cat_fk *fk, bool retry)
{
	char	   *sql;
	int			rc = 0;

	if (retry)
	{
		sql = str_printf("ALTER TABLE ONLY %s DROP CONSTRAINT IF EXISTS %s",
						 t->qname, fk->conname);
		rc = run(tgt, fk, sql, "drop leftover foreign key");
		free(sql);
	}
	if (rc != 0)
		return -1;
	/* condef comes from the server (pg_get_constraintdef), not from a user. */
	sql = str_printf("ALTER TABLE ONLY %s ADD CONSTRAINT %s %s", t->qname,
					 fk->conname, fk->condef);
	rc = run(tgt, fk, sql, "add foreign key");
	free(sql);
	return rc;
}
