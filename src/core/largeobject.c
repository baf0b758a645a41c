/*
 * largeobject.c
 *		Copy large object contents in chunks.
 */
#include "core/largeobject.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/*
 * The owner and privileges of large object oid on one side, one row per
 * grant: owner, acl as text (the default one when NULL), grantee (NULL
 * for PUBLIC), privilege, grantable.  NULL logged.
 */
static PGresult *
lo_privileges(PGconn *conn, const char *side, const char *oid)
{
	const char *params[1] = {oid};

	return conn_query(conn, side, "read the privileges of a large object",
					  "SELECT pg_catalog.pg_get_userbyid(l.lomowner),"
					  " COALESCE(l.lomacl,"
					  "  pg_catalog.acldefault('L', l.lomowner))::text,"
					  " CASE WHEN a.grantee = 0 THEN NULL"
					  "  ELSE pg_catalog.pg_get_userbyid(a.grantee) END,"
					  " a.privilege_type, a.is_grantable"
					  " FROM pg_catalog.pg_largeobject_metadata l,"
					  " pg_catalog.aclexplode(COALESCE(l.lomacl,"
					  "  pg_catalog.acldefault('L', l.lomowner))) a"
					  " WHERE l.oid = $1::pg_catalog.oid",
					  1, params);
}

/* Whether role exists on the target; false also when it cannot be asked. */
static bool
role_exists(PGconn *tgt, const char *role)
{
	const char *params[1] = {role};
	PGresult   *res = conn_query(tgt, SIDE_TARGET, "look up a role",
								 "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1",
								 1, params);
	bool		found = res != NULL && PQntuples(res) == 1;

	PQclear(res);
	return found;
}

/* One GRANT or REVOKE on large object oid to or from grantee (NULL: PUBLIC). */
static int
lo_grant(PGconn *tgt, const char *oid, const char *verb, const char *grantee,
		 const char *tail)
{
	char	   *who = grantee ? conn_quote_ident(tgt, grantee) : xstrdup("PUBLIC");
	char	   *sql = str_printf(verb, oid, who, tail);
	int			rc = conn_exec(tgt, SIDE_TARGET, sql);

	free(sql);
	free(who);
	return rc;
}

/*
 * Give the target's large object oid the source's owner and privileges,
 * in the open target transaction.  A role the target lacks is warned
 * about and left out.  0 or -1 (logged).
 */
static int
carry_privileges(PGconn *src, PGconn *tgt, const char *oid)
{
	PGresult   *rs = lo_privileges(src, SIDE_SOURCE, oid);
	PGresult   *rt = rs ? lo_privileges(tgt, SIDE_TARGET, oid) : NULL;
	int			rc = rt ? 0 : -1;

	if (rc == 0 && PQntuples(rs) > 0 && PQntuples(rt) > 0 &&
		(strcmp(PQgetvalue(rs, 0, 0), PQgetvalue(rt, 0, 0)) != 0 ||
		 strcmp(PQgetvalue(rs, 0, 1), PQgetvalue(rt, 0, 1)) != 0))
	{
		const char *owner = PQgetvalue(rs, 0, 0);

		if (!role_exists(tgt, owner))
			log_warning("large object %s: its owner \"%s\" does not exist on the target, "
						"its owner and privileges there stay as they are", oid, owner);
		else
		{
			rc = lo_grant(tgt, oid, "ALTER LARGE OBJECT %s OWNER TO %s%s", owner, "");
			for (int i = 0; rc == 0 && i < PQntuples(rt); i++)
				rc = lo_grant(tgt, oid, "REVOKE ALL ON LARGE OBJECT %s FROM %s%s",
							  PQgetisnull(rt, i, 2) ? NULL : PQgetvalue(rt, i, 2), " CASCADE");
			for (int i = 0; rc == 0 && i < PQntuples(rs); i++)
			{
				const char *grantee = PQgetisnull(rs, i, 2) ? NULL : PQgetvalue(rs, i, 2);
				char	   *tail = str_printf(" %s", PQgetvalue(rs, i, 4)[0] == 't'
											  ? "WITH GRANT OPTION" : "");

				if (grantee && !role_exists(tgt, grantee))
					log_warning("large object %s: role \"%s\" does not exist on the target, "
								"its %s privilege is not granted there", oid, grantee,
								PQgetvalue(rs, i, 3));
				else
				{
					char	   *verb = str_printf("GRANT %s ON LARGE OBJECT %%s TO %%s%%s",
												  PQgetvalue(rs, i, 3));

					rc = lo_grant(tgt, oid, verb, grantee, tail);
					free(verb);
				}
				free(tail);
			}
		}
	}
	PQclear(rs);
	PQclear(rt);
	return rc;
}

int
largeobject_copy_one(PGconn *src, PGconn *tgt, const char *oid, bool privileges,
					 _Atomic int64_t *bytes_counter)
{
	/* One target transaction per object: lo_open needs one. */
	int			rc = conn_exec(tgt, SIDE_TARGET, "BEGIN");

	if (rc == 0)
		rc = copy_one(src, tgt, oid, bytes_counter);
	if (rc == 0 && privileges)
		rc = carry_privileges(src, tgt, oid);
	if (rc == 0)
		rc = conn_exec(tgt, SIDE_TARGET, "COMMIT");
	else
		PQclear(PQexec(tgt, "ROLLBACK"));
	return rc;
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
		rc = largeobject_copy_one(src, tgt, PQgetvalue(res, i, 0), false, bytes_counter);
		if (rc == 0)
			(*count)++;
	}
	PQclear(res);
	return *cancel ? -1 : rc;
}
