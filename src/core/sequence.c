/*
 * sequence.c
 *		Copy sequence values.
 */
#include "core/sequence.h"

#include <stdlib.h>

#include "core/conn.h"
#include "util/log.h"
#include "util/str.h"

/* Set sequence to on tgt to the value of from on src (quoted names). */
static int
copy_one(PGconn *src, PGconn *tgt, const char *from, const char *to,
		 const char *display)
{
	char	   *sql = str_printf("SELECT last_value, is_called FROM %s", from);
	char	   *what = str_printf("read sequence \"%s\"", display);
	PGresult   *res = conn_query(src, SIDE_SOURCE, what, sql, 0, NULL);
	const char *params[3];
	PGresult   *set;

	free(sql);
	free(what);
	if (res == NULL)
		return -1;
	params[0] = to;
	params[1] = PQgetvalue(res, 0, 0);
	params[2] = PQgetvalue(res, 0, 1);
	what = str_printf("set sequence \"%s\"", display);
	set = conn_query(tgt, SIDE_TARGET, what,
					 "SELECT pg_catalog.setval($1::pg_catalog.regclass, $2::bigint, $3::boolean)",
					 3, params);
	free(what);
	PQclear(res);
	if (set == NULL)
		return -1;
	PQclear(set);
	return 0;
}

int
sequence_copy_all(PGconn *src, PGconn *tgt, const catalog *cat)
{
	for (int i = 0; i < cat->nsequences; i++)
		if (copy_one(src, tgt, cat->sequences[i].qname, cat->sequences[i].qname,
					 cat->sequences[i].display) != 0)
			return -1;
	return 0;
}

int
sequence_copy_selected(PGconn *src, PGconn *tgt, const selection *sel,
					   const selres *r)
{
	int			n = 0;

	for (int i = 0; i < r->nrels; i++)
	{
		const selres_rel *x = &r->rels[i];
		char	   *from,
				   *to;
		int			rc;

		if (x->kind != 'S' || x->why != NULL)
			continue;
		from = conn_qualified_name(src, x->nspname, x->relname);
		to = conn_qualified_name(tgt, sel_schema_target(sel, x->nspname),
								 sel_table_target(sel, x->nspname, x->relname));
		rc = copy_one(src, tgt, from, to, x->display);
		free(from);
		free(to);
		if (rc != 0)
			return -1;
		n++;
	}
	return n;
}
