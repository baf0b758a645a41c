/*
 * apply_sql.c
 *		The statements that apply a decoded change to the target.
 *
 * How a change finds its row on the target depends on the source table's
 * replica identity, which the Relation message states together with the
 * columns that form the key:
 *
 *	DEFAULT, USING INDEX	the primary key or the index's columns, matched
 *							with "=": they are NOT NULL and unique
 *	FULL					every column of the old row; rows may repeat and
 *							columns may be NULL, so the match is null-safe
 *							(IS NOT DISTINCT FROM) and picks one row by its
 *							ctid:
 *
 *		UPDATE ONLY t SET ... WHERE ctid = COALESCE(
 *			(SELECT ctid FROM ONLY t WHERE a IS NOT DISTINCT FROM $3
 *			   AND j::text IS NOT DISTINCT FROM ($4::json)::text
 *			   AND ROW(a, j)::record *= ROW($3, $4)::record LIMIT 1),
 *			(SELECT ctid FROM ONLY t WHERE <the same without *=> LIMIT 1))
 *
 *							Types without an equality operator (json, xml,
 *							point, ...) are compared by their text form, both
 *							sides printed by the target.  Values may be equal
 *							without being the same (numeric 1.1 and 1.10,
 *							float 0 and -0, citext 'A' and 'a'): the row whose
 *							stored image is the old row's (record image
 *							equality, *=) is changed, and only when there is
 *							none any equal row, as a subscriber would.
 *
 * ONLY keeps a change to a parent of inherited tables from touching the
 * children: every change names the one table it happened in (partitions
 * included).  Parameters are not cast in the text: each is given, when the
 * statement is prepared, the type OID of its column on the target (a user
 * type's OID differs between servers), so that a composite, enum, domain,
 * range or array value is read by its own input function, and a value is
 * then converted as an assignment converts it, so one that does not fit
 * the column's length or precision is an error, never cut silently (an
 * explicit cast to character or bit without a length would cut it).
 *
 * UPDATE cannot give a GENERATED ALWAYS identity column a value other
 * than DEFAULT, whatever the session's rights; a subscriber writes below
 * SQL.  When such a column gets a new value (UPDATE ... SET id = DEFAULT
 * on the source), the row is deleted and inserted again with OVERRIDING
 * SYSTEM VALUE in one statement (apply_sql_move()): the apply session
 * runs with session_replication_role = replica, so no foreign key check
 * or cascade fires for the delete, and the row keeps every value it had
 * that the change does not set.
 */
#include "cdc/apply_sql.h"

#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "cdc/pgoutput.h"
#include "util/str.h"

int
apply_sql_count(const bool *mask, int n)
{
	int			count = 0;

	for (int i = 0; i < n; i++)
		count += mask[i] ? 1 : 0;
	return count;
}

char *
apply_sql_insert(const apply_sql_rel *r, const bool *use)
{
	return apply_sql_insert_rows(r, use, 1);
}

/*
 * Append the conditions on the key columns, with parameters numbered from
 * first_param: "=" by key, null-safe (text form without "=") for full.
 */
static void
add_conds(strbuf *sb, const apply_sql_rel *r, const bool *key, bool full,
		  int first_param)
{
	int			param = first_param;
	bool		first = true;

	for (int i = 0; i < r->ncols; i++)
	{
		const apply_sql_col *c = &r->cols[i];

		if (!key[i])
			continue;
		if (!first)
			strbuf_adds(sb, " AND ");
		first = false;
		if (!full)
			strbuf_addf(sb, "%s = $%d", c->qname, param++);
		else if (c->text_compare)
			strbuf_addf(sb, "%s::text IS NOT DISTINCT FROM ($%d::%s)::text",
						c->qname, param++, c->type);
		else
			strbuf_addf(sb, "%s IS NOT DISTINCT FROM $%d", c->qname, param++);
	}
}

/* Append ROW(key columns)::record *= ROW(their parameters)::record. */
static void
add_image(strbuf *sb, const apply_sql_rel *r, const bool *key, int first_param)
{
	int			param = first_param;
	bool		first = true;

	strbuf_adds(sb, "ROW(");
	for (int i = 0; i < r->ncols; i++)
	{
		if (!key[i])
			continue;
		strbuf_addf(sb, "%s%s", first ? "" : ", ", r->cols[i].qname);
		first = false;
	}
	strbuf_adds(sb, ")::record *= ROW(");
	first = true;
	for (int i = 0; i < r->ncols; i++)
	{
		if (!key[i])
			continue;
		strbuf_addf(sb, "%s$%d", first ? "" : ", ", param++);
		first = false;
	}
	strbuf_adds(sb, ")::record");
}

/*
 * Append the condition that finds the row, with parameters numbered from
 * first_param.  For full, one row by its ctid: an identical one if there
 * is one (the second subquery runs only when the first finds nothing).
 */
static void
add_key(strbuf *sb, const apply_sql_rel *r, const bool *key, bool full,
		int first_param)
{
	strbuf_adds(sb, " WHERE ");
	if (!full)
	{
		add_conds(sb, r, key, false, first_param);
		return;
	}
	strbuf_addf(sb, "ctid = COALESCE((SELECT ctid FROM ONLY %s WHERE ", r->qname);
	add_conds(sb, r, key, true, first_param);
	strbuf_adds(sb, " AND ");
	add_image(sb, r, key, first_param);
	strbuf_addf(sb, " LIMIT 1), (SELECT ctid FROM ONLY %s WHERE ", r->qname);
	add_conds(sb, r, key, true, first_param);
	strbuf_adds(sb, " LIMIT 1))");
}

/* Append "c = $n, ..." for the columns of set, skipping identity columns
 * when asked; returns how many. */
static int
add_set_list(strbuf *sb, const apply_sql_rel *r, const bool *set,
			 bool skip_identity)
{
	int			param = 0;
	int			n = 0;

	for (int i = 0; i < r->ncols; i++)
	{
		if (!set[i])
			continue;
		param++;
		if (skip_identity && r->cols[i].identity_always)
			continue;
		strbuf_addf(sb, "%s%s = $%d", n ? ", " : "", r->cols[i].qname, param);
		n++;
	}
	return n;
}

char *
apply_sql_update(const apply_sql_rel *r, const bool *set, const bool *key,
				 bool full)
{
	strbuf		sb = STRBUF_INIT;

	strbuf_addf(&sb, "UPDATE ONLY %s SET ", r->qname);
	add_key(&sb, r, key, full, add_set_list(&sb, r, set, false) + 1);
	return strbuf_detach(&sb);
}

/*
 * Append "INSERT INTO t (every column) OVERRIDING SYSTEM VALUE SELECT ...
 * FROM d": the parameters of set, the deleted row's values otherwise.
 */
static void
add_reinsert(strbuf *sb, const apply_sql_rel *r, const bool *set)
{
	int			param = 0;
	int			n = 0;

	strbuf_addf(sb, "INSERT INTO %s (", r->qname);
	for (int i = 0; i < r->ncols; i++)
		if (!r->cols[i].excluded)
			strbuf_addf(sb, "%s%s", n++ ? ", " : "", r->cols[i].qname);
	for (int i = 0; i < r->nextra; i++)
		strbuf_addf(sb, "%s%s", n++ ? ", " : "", r->extra[i]);
	strbuf_adds(sb, ") OVERRIDING SYSTEM VALUE SELECT ");
	n = 0;
	for (int i = 0; i < r->ncols; i++)
	{
		if (r->cols[i].excluded)
			continue;
		if (set[i])
			strbuf_addf(sb, "%s$%d", n++ ? ", " : "", ++param);
		else
			strbuf_addf(sb, "%sd.%s", n++ ? ", " : "", r->cols[i].qname);
	}
	for (int i = 0; i < r->nextra; i++)
		strbuf_addf(sb, "%sd.%s", n++ ? ", " : "", r->extra[i]);
	strbuf_adds(sb, " FROM d");
}

char *
apply_sql_move(const apply_sql_rel *r, const bool *set, const bool *key,
			   bool full)
{
	strbuf		sb = STRBUF_INIT;

	strbuf_addf(&sb, "WITH d AS (DELETE FROM ONLY %s", r->qname);
	add_key(&sb, r, key, full, apply_sql_count(set, r->ncols) + 1);
	strbuf_adds(&sb, " RETURNING *) ");
	add_reinsert(&sb, r, set);
	return strbuf_detach(&sb);
}

/* Append "a IS NOT DISTINCT FROM $n AND ..." for the identity columns of set. */
static void
add_same_identity(strbuf *sb, const apply_sql_rel *r, const bool *set)
{
	int			param = 0;
	bool		first = true;

	for (int i = 0; i < r->ncols; i++)
	{
		if (!set[i])
			continue;
		param++;
		if (!r->cols[i].identity_always)
			continue;
		strbuf_addf(sb, "%s%s IS NOT DISTINCT FROM $%d", first ? "" : " AND ",
					r->cols[i].qname, param);
		first = false;
	}
}

char *
apply_sql_update_or_move(const apply_sql_rel *r, const bool *set,
						 const bool *key)
{
	strbuf		sb = STRBUF_INIT;
	strbuf		list = STRBUF_INIT;
	int			first_key = apply_sql_count(set, r->ncols) + 1;
	bool		update = add_set_list(&list, r, set, true) > 0;

	strbuf_addf(&sb, "WITH d AS (DELETE FROM ONLY %s", r->qname);
	add_key(&sb, r, key, false, first_key);
	strbuf_adds(&sb, " AND NOT (");
	add_same_identity(&sb, r, set);
	strbuf_adds(&sb, ") RETURNING *), m AS (");
	add_reinsert(&sb, r, set);
	strbuf_adds(&sb, " RETURNING 1), u AS (");
	if (update)					/* else nothing but identity to set: find it */
		strbuf_addf(&sb, "UPDATE ONLY %s SET %s", r->qname, strbuf_str(&list));
	else
		strbuf_addf(&sb, "SELECT 1 FROM ONLY %s", r->qname);
	add_key(&sb, r, key, false, first_key);
	strbuf_adds(&sb, " AND ");
	add_same_identity(&sb, r, set);
	strbuf_addf(&sb, "%s) SELECT 1 FROM m UNION ALL SELECT 1 FROM u",
				update ? " RETURNING 1" : "");
	strbuf_release(&list);
	return strbuf_detach(&sb);
}

int
apply_sql_param_types(const apply_sql_rel *r, const bool *first,
					  const bool *second, uint32_t *types)
{
	int			n = 0;

	for (int i = 0; first && i < r->ncols; i++)
		if (first[i])
			types[n++] = r->cols[i].typoid;
	for (int i = 0; second && i < r->ncols; i++)
		if (second[i])
			types[n++] = r->cols[i].typoid;
	return n;
}

char *
apply_sql_delete(const apply_sql_rel *r, const bool *key, bool full)
{
	strbuf		sb = STRBUF_INIT;

	strbuf_addf(&sb, "DELETE FROM ONLY %s", r->qname);
	add_key(&sb, r, key, full, 1);
	return strbuf_detach(&sb);
}

/* Append "($n, ...), (...)": nrows rows of per_row parameters each. */
static void
add_value_rows(strbuf *sb, int per_row, int nrows)
{
	int			param = 0;

	for (int r = 0; r < nrows; r++)
	{
		strbuf_adds(sb, r ? ", (" : "(");
		for (int i = 0; i < per_row; i++)
			strbuf_addf(sb, "%s$%d", i ? ", " : "", ++param);
		strbuf_adds(sb, ")");
	}
}

/* Append "t.k = v.k1 AND ..." for the columns of key. */
static void
add_row_match(strbuf *sb, const apply_sql_rel *r, const bool *key)
{
	int			n = 0;

	for (int i = 0; i < r->ncols; i++)
		if (key[i])
		{
			strbuf_addf(sb, "%st.%s = v.k%d", n ? " AND " : "", r->cols[i].qname, n + 1);
			n++;
		}
}

/* Append "AS v(s1, ..., k1, ...)": nset columns set, nkey of the key. */
static void
add_row_names(strbuf *sb, int nset, int nkey)
{
	strbuf_adds(sb, " AS v(");
	for (int i = 0; i < nset; i++)
		strbuf_addf(sb, "%ss%d", i ? ", " : "", i + 1);
	for (int i = 0; i < nkey; i++)
		strbuf_addf(sb, "%sk%d", i || nset ? ", " : "", i + 1);
	strbuf_adds(sb, ")");
}

char *
apply_sql_insert_rows(const apply_sql_rel *r, const bool *use, int nrows)
{
	strbuf		sb = STRBUF_INIT;
	bool		first = true;

	strbuf_addf(&sb, "INSERT INTO %s (", r->qname);
	for (int i = 0; i < r->ncols; i++)
	{
		if (!use[i])
			continue;
		strbuf_addf(&sb, "%s%s", first ? "" : ", ", r->cols[i].qname);
		first = false;
	}
	strbuf_addf(&sb, ")%s VALUES ", r->overriding ? " OVERRIDING SYSTEM VALUE" : "");
	add_value_rows(&sb, apply_sql_count(use, r->ncols), nrows);
	return strbuf_detach(&sb);
}

char *
apply_sql_update_rows(const apply_sql_rel *r, const bool *set, const bool *key,
					  int nrows)
{
	strbuf		sb = STRBUF_INIT;
	int			n = 0;

	strbuf_addf(&sb, "UPDATE ONLY %s AS t SET ", r->qname);
	for (int i = 0; i < r->ncols; i++)
		if (set[i])
		{
			strbuf_addf(&sb, "%s%s = v.s%d", n ? ", " : "", r->cols[i].qname, n + 1);
			n++;
		}
	strbuf_adds(&sb, " FROM (VALUES ");
	add_value_rows(&sb, n + apply_sql_count(key, r->ncols), nrows);
	strbuf_adds(&sb, ")");
	add_row_names(&sb, n, apply_sql_count(key, r->ncols));
	strbuf_adds(&sb, " WHERE ");
	add_row_match(&sb, r, key);
	return strbuf_detach(&sb);
}

char *
apply_sql_delete_rows(const apply_sql_rel *r, const bool *key, int nrows)
{
	strbuf		sb = STRBUF_INIT;

	strbuf_addf(&sb, "DELETE FROM ONLY %s AS t USING (VALUES ", r->qname);
	add_value_rows(&sb, apply_sql_count(key, r->ncols), nrows);
	strbuf_adds(&sb, ")");
	add_row_names(&sb, 0, apply_sql_count(key, r->ncols));
	strbuf_adds(&sb, " WHERE ");
	add_row_match(&sb, r, key);
	return strbuf_detach(&sb);
}

char *
apply_sql_truncate(const char *const *qnames, const bool *only, int n,
				   bool restart_identity, bool cascade)
{
	strbuf		sb = STRBUF_INIT;

	strbuf_adds(&sb, "TRUNCATE");
	for (int i = 0; i < n; i++)
		strbuf_addf(&sb, "%s %s%s", i ? "," : "", only[i] ? "ONLY " : "", qnames[i]);
	if (restart_identity)
		strbuf_adds(&sb, " RESTART IDENTITY");
	if (cascade)
		strbuf_adds(&sb, " CASCADE");
	return strbuf_detach(&sb);
}

void
apply_sql_timestamp(int64_t pgtime, char *buf, size_t bufsize)
{
	int64_t		usec = pgo_time_to_unix_usec(pgtime);
	time_t		secs = pgo_time_to_unix(pgtime);
	int64_t		frac = usec - (int64_t) secs * 1000000;
	struct tm	tm;

	gmtime_r(&secs, &tm);
	snprintf(buf, bufsize, "%04d-%02d-%02d %02d:%02d:%02d.%06" PRId64 "+00",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 tm.tm_min, tm.tm_sec, frac);
}
