/*
 * sequence.c
 *		Copy sequence values.
 */
#include "core/sequence.h"

#include <stdlib.h>

#include "core/conn.h"
#include "util/log.h"
#include "util/str.h"

static int
copy_one(PGconn *src, PGconn *tgt, const cat_sequence *s)
{
	char	   *sql = str_printf("SELECT last_value, is_called FROM %s", s->qname);
	char	   *what = str_printf("read sequence \"%s\"", s->display);
	PGresult   *res = conn_query(src, SIDE_SOURCE, what, sql, 0, NULL);
	const char *params[3];
	PGresult   *set;

	free(sql);
	free(what);
	if (res == NULL)
		return -1;
	params[0] = s->qname;
	params[1] = PQgetvalue(res, 0, 0);
	params[2] = PQgetvalue(res, 0, 1);
	what = str_printf("set sequence \"%s\"", s->display);
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
		if (copy_one(src, tgt, &cat->sequences[i]) != 0)
			return -1;
	return 0;
}
