/*
 * adopt.c
 *		Take in a table created on the source during the follow (adopt.h
 *		tells how and why it loses nothing).
 */
#include "cdc/adopt.h"

#include <stdlib.h>

#include "core/catalog.h"
#include "core/conn.h"
#include "core/copy.h"
#include "core/failure.h"
#include "core/identity.h"
#include "util/log.h"
#include "util/str.h"

/* Writers to the new table wait this long at most for the copy to begin. */
#define ADOPT_LOCK_TIMEOUT "SET LOCAL lock_timeout = '10s'"

/* The columns COPY moves: every column but the generated ones. */
static const char *const columns_sql =
"SELECT pg_catalog.string_agg(pg_catalog.quote_ident(attname), ', ' ORDER BY attnum),"
"       pg_catalog.count(*)"
"  FROM pg_catalog.pg_attribute"
" WHERE attrelid = $1::pg_catalog.oid AND attnum > 0 AND NOT attisdropped"
"   AND attgenerated = ''";

/*
 * A session on side that reaches the database recorded for it: 0, -1
 * (filled) or CDC_LOST (the server cannot be reached now).
 */
static int
open_side(const adopt_options *o, const char *side, const char *conninfo,
		  PGconn **out)
{
	int			rc = identity_open(o->st, side, conninfo, out);

	if (rc == 0 &&
		conn_exec(*out, side, "SELECT pg_catalog.set_config('search_path', '', false)") != 0)
	{
		rc = PQstatus(*out) == CONNECTION_BAD ? 1 : -1;
		PQfinish(*out);
		*out = NULL;
	}
	return rc > 0 ? CDC_LOST : rc;
}

/* Whether the target has a relation named qname: 1, 0 or -1 (filled). */
static int
target_has(PGconn *tgt, const char *qname)
{
	const char *params[1] = {qname};
	PGresult   *res = conn_query(tgt, SIDE_TARGET, "look up the new table",
								 "SELECT pg_catalog.to_regclass($1) IS NOT NULL", 1, params);
	int			rc;

	if (res == NULL)
		return -1;
	rc = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return rc;
}

/* The table as the copy needs it: name and columns; 0 or -1 (filled). */
static int
describe(PGconn *src, const cdc_new_table *t, cat_table *ct)
{
	char		oid[16];
	const char *params[1] = {oid};
	PGresult   *res;

	snprintf(oid, sizeof(oid), "%u", t->oid);
	res = conn_query(src, SIDE_SOURCE, "read the columns of the new table", columns_sql,
					 1, params);
	if (res == NULL)
		return -1;
	ct->oid = t->oid;
	ct->nspname = t->nspname;
	ct->relname = t->relname;
	ct->display = t->display;
	ct->qname = conn_qualified_name(src, t->nspname, t->relname);
	ct->columns = xstrdup(PQgetvalue(res, 0, 0));
	ct->ncolumns = (int) strtol(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	return 0;
}

/*
 * Whether the source role may add the table to a publication (it owns
 * the table: a member of its owner, or a superuser): 1, 0 (filled, with
 * a hint) or -1.
 */
static int
may_publish(const adopt_options *o, PGconn *src, const cat_table *ct)
{
	char		oid[16];
	const char *params[1] = {oid};
	PGresult   *res;
	bool		owner;

	snprintf(oid, sizeof(oid), "%u", ct->oid);
	res = conn_query(src, SIDE_SOURCE, "look up the owner of the new table",
					 "SELECT pg_catalog.pg_has_role(relowner, 'USAGE') FROM pg_catalog.pg_class"
					 " WHERE oid = $1::pg_catalog.oid", 1, params);
	if (res == NULL)
		return -1;
	owner = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (owner)
		return 1;
	(void) failure_set(SIDE_SOURCE, NULL, ct->display, false,
					   "table \"%s\" created on the source during the follow cannot join publication \"%s\": the source role does not own it",
					   ct->display, o->publication);
	log_hint("Have the table's owner run ALTER PUBLICATION %s ADD TABLE ONLY %s and copy its rows to the target, "
			 "or drop the table on the source if it is not needed; then run pgcrane follow again.",
			 o->publication, ct->qname);
	return 0;
}

/* In the source transaction: no writer, then the table in the publication. */
static int
publish(const adopt_options *o, PGconn *src, const cat_table *ct)
{
	char	   *lock = str_printf("LOCK TABLE ONLY %s IN SHARE MODE", ct->qname);
	int			rc = conn_exec(src, SIDE_SOURCE, "BEGIN");

	if (rc == 0)
		rc = conn_exec(src, SIDE_SOURCE, ADOPT_LOCK_TIMEOUT);
	if (rc == 0)
		rc = conn_exec_as(src, SIDE_SOURCE, lock, "lock the new table");
	if (rc == 0)
		rc = cdc_publication_add(src, o->publication, ct->qname, ct->display);
	free(lock);
	return rc;
}

/* The target's table, made unless the last attempt made it; its rows. */
static int
fill_target(const adopt_options *o, PGconn *src, PGconn *tgt, const cat_table *ct,
			bool exists, copy_result *res)
{
	copy_part	whole = {0, 1, 0, 0};
	_Atomic int64_t bytes = 0;
	interrupt_flag never = 0;
	int			rc = 0;

	if (!exists)
		rc = ddl_create_table(o->ddl, tgt, ct->qname, ct->display, !o->rules) != 0 ? -1 : 0;
	/* Its triggers do not fire for rows the source's triggers made. */
	if (rc == 0)
		rc = conn_exec(tgt, SIDE_TARGET, "SET session_replication_role = replica");
	if (rc == 0)
		rc = copy_table_part(src, tgt, ct, &whole, res, &bytes, &never);
	return rc;
}

/*
 * The steps of adopt.h on open sessions.  A target table of that name is
 * this follow's only when the state says it began to take it in.
 */
static int
take_in(const adopt_options *o, const cdc_new_table *t, PGconn *src, PGconn *tgt,
		cat_table *ct)
{
	copy_result res = {0, 0};
	int			exists = target_has(tgt, ct->qname);
	int			ours = exists == 1 ? state_follow_adopting(o->st, t->oid) : 0;
	int			rc;

	if (exists < 0 || ours < 0)
		return -1;
	if (exists && !ours)
	{
		(void) failure_set(SIDE_TARGET, NULL, t->display, false,
						   "table \"%s\" created on the source during the follow exists on the target already",
						   t->display);
		log_hint("pgcrane copies the new table's rows into a table it makes itself: drop or rename the target's table \"%s\", then run pgcrane follow again.",
				 t->display);
		return CDC_FAILED;
	}
	rc = may_publish(o, src, ct);
	if (rc <= 0)
		return rc < 0 ? -1 : CDC_FAILED;
	rc = publish(o, src, ct);
	if (rc == 0)
		rc = state_record_follow_adopting(o->st, t->oid, true);
	if (rc == 0)
		rc = fill_target(o, src, tgt, ct, exists == 1, &res);
	if (rc == 0)
		rc = conn_exec(src, SIDE_SOURCE, "COMMIT");
	if (rc != 0)
		return PQstatus(src) == CONNECTION_BAD || PQstatus(tgt) == CONNECTION_BAD ? CDC_LOST : -1;
	log_info("table \"%s\" is new on the source: it joined publication \"%s\" and its %lld row%s were copied to the target",
			 t->display, o->publication, (long long) res.rows, res.rows == 1 ? "" : "s");
	return state_record_follow_adopting(o->st, t->oid, false) != 0 ? -1 : 0;
}

int
adopt_table(const adopt_options *o, const cdc_new_table *t)
{
	PGconn	   *src = NULL;
	PGconn	   *tgt = NULL;
	cat_table	ct = {0};
	int			rc = open_side(o, SIDE_SOURCE, o->source, &src);

	if (rc == 0)
		rc = open_side(o, SIDE_TARGET, o->target, &tgt);
	if (rc == 0)
		rc = describe(src, t, &ct);
	if (rc == 0)
		rc = take_in(o, t, src, tgt, &ct);
	free(ct.qname);
	free(ct.columns);
	if (src)
		PQfinish(src);
	if (tgt)
		PQfinish(tgt);
	return rc;
}
