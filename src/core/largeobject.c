/*
 * largeobject.c
 *		Copy large object contents in chunks.
 */
#include "core/largeobject.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/conn.h"
#include "util/log.h"
#include "util/str.h"

#define LO_CHUNK (1024 * 1024)

/* Run a statement with text parameters; binary result; NULL logged. */
static PGresult *
lo_query(PGconn *conn, const char *side, const char *oid, const char *sql,
		 int nparams, const char *const *values, const int *lengths,
		 const int *formats)
{
	PGresult   *res = PQexecParams(conn, sql, nparams, NULL, values, lengths,
								   formats, 1);

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		char	   *what = str_printf("copy large object %s", oid);

		conn_log_result_error(res, side, what);
		free(what);
		PQclear(res);
		return NULL;
	}
	return res;
}

static int
copy_one(PGconn *src, PGconn *tgt, const char *oid,
		 _Atomic int64_t *bytes_counter)
{
	/* The restore created it; create it here only if it did not. */
	const char *create_params[1] = {oid};
	PGresult   *res = lo_query(tgt, SIDE_TARGET, oid,
							   "SELECT pg_catalog.lo_create($1::pg_catalog.oid)"
							   " WHERE NOT EXISTS (SELECT 1 FROM"
							   " pg_catalog.pg_largeobject_metadata WHERE oid = $1::pg_catalog.oid)",
							   1, create_params, NULL, NULL);

	if (res == NULL)
		return -1;
	PQclear(res);
	/* Truncate first so a rerun never leaves old bytes at the end. */
	res = lo_query(tgt, SIDE_TARGET, oid,
				   "SELECT pg_catalog.lo_truncate(pg_catalog.lo_open($1::pg_catalog.oid, 131072), 0)",
				   1, create_params, NULL, NULL);
	if (res == NULL)
		return -1;
	PQclear(res);
	for (int64_t off = 0;; off += LO_CHUNK)
	{
		char		offs[32],
					lens[32];
		const char *get_params[3] = {oid, offs, lens};
		const char *put_params[3];
		int			put_lengths[3] = {0, 0, 0};
		int			put_formats[3] = {0, 0, 1};
		int			len;

		snprintf(offs, sizeof(offs), "%lld", (long long) off);
		snprintf(lens, sizeof(lens), "%d", LO_CHUNK);
		res = lo_query(src, SIDE_SOURCE, oid,
					   "SELECT pg_catalog.lo_get($1::pg_catalog.oid, $2::bigint, $3::integer)",
					   3, get_params, NULL, NULL);
		if (res == NULL)
			return -1;
		len = PQgetlength(res, 0, 0);
		if (len == 0)
		{
			PQclear(res);
			return 0;
		}
		put_params[0] = oid;
		put_params[1] = offs;
		put_params[2] = PQgetvalue(res, 0, 0);
		put_lengths[2] = len;
		{
			PGresult   *put = lo_query(tgt, SIDE_TARGET, oid,
									   "SELECT pg_catalog.lo_put($1::pg_catalog.oid, $2::bigint, $3::bytea)",
									   3, put_params, put_lengths, put_formats);

			PQclear(res);
			if (put == NULL)
				return -1;
			PQclear(put);
		}
		atomic_fetch_add(bytes_counter, len);
		if (len < LO_CHUNK)
			return 0;
	}
}

int
largeobject_copy_all(PGconn *src, PGconn *tgt, int64_t *count,
					 _Atomic int64_t *bytes_counter,
					 const interrupt_flag *cancel)
{
	PGresult   *res = conn_query(src, SIDE_SOURCE, "list large objects",
								 "SELECT oid FROM pg_catalog.pg_largeobject_metadata ORDER BY oid",
								 0, NULL);
	int			rc = 0;

	*count = 0;
	if (res == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res) && rc == 0 && !*cancel; i++)
	{
		/* One target transaction per object: lo_open needs one. */
		rc = conn_exec(tgt, SIDE_TARGET, "BEGIN");
		if (rc == 0)
			rc = copy_one(src, tgt, PQgetvalue(res, i, 0), bytes_counter);
		if (rc == 0)
			rc = conn_exec(tgt, SIDE_TARGET, "COMMIT");
		else
			PQclear(PQexec(tgt, "ROLLBACK"));
		if (rc == 0)
			(*count)++;
	}
	PQclear(res);
	return *cancel ? -1 : rc;
}
