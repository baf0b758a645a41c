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
 *		UPDATE ONLY t SET ... WHERE ctid =
 *			(SELECT ctid FROM ONLY t WHERE a IS NOT DISTINCT FROM $3
 *			   AND j::text IS NOT DISTINCT FROM ($4::json)::text LIMIT 1)
 *
 *							Types without an equality operator (json, xml,
 *							point, ...) are compared by their text form, both
 *							sides printed by the target.
 *
 * ONLY keeps a change to a parent of inherited tables from touching the
 * children: every change names the one table it happened in (partitions
 * included).  Parameters are not cast: the server gives each the type of
 * the column it is assigned to or compared with, and a value is then
 * converted as an assignment converts it, so one that does not fit the
 * column's length or precision is an error, never cut silently (an
 * explicit cast to character or bit without a length would cut it).
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
	strbuf		sb = STRBUF_INIT;
	int			param = 0;
	bool		first = true;

	strbuf_addf(&sb, "INSERT INTO %s (", r->qname);
	for (int i = 0; i < r->ncols; i++)
	{
		if (!use[i])
			continue;
		strbuf_addf(&sb, "%s%s", first ? "" : ", ", r->cols[i].qname);
		first = false;
	}
	strbuf_addf(&sb, ")%s VALUES (", r->overriding ? " OVERRIDING SYSTEM VALUE" : "");
	first = true;
	for (int i = 0; i < r->ncols; i++)
	{
		if (!use[i])
			continue;
		strbuf_addf(&sb, "%s$%d", first ? "" : ", ", ++param);
		first = false;
	}
	strbuf_adds(&sb, ")");
	return strbuf_detach(&sb);
}

/*
 * Append the condition that finds the row, with parameters numbered from
 * first_param.
 */
static void
add_key(strbuf *sb, const apply_sql_rel *r, const bool *key, bool full,
		int first_param)
{
	int			param = first_param;
	bool		first = true;

	strbuf_adds(sb, " WHERE ");
	if (full)
		strbuf_addf(sb, "ctid = (SELECT ctid FROM ONLY %s WHERE ", r->qname);
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
	if (full)
		strbuf_adds(sb, " LIMIT 1)");
}

char *
apply_sql_update(const apply_sql_rel *r, const bool *set, const bool *key,
				 bool full)
{
	strbuf		sb = STRBUF_INIT;
	int			param = 0;
	bool		first = true;

	strbuf_addf(&sb, "UPDATE ONLY %s SET ", r->qname);
	for (int i = 0; i < r->ncols; i++)
	{
		if (!set[i])
			continue;
		strbuf_addf(&sb, "%s%s = $%d", first ? "" : ", ", r->cols[i].qname,
					++param);
		first = false;
	}
	add_key(&sb, r, key, full, param + 1);
	return strbuf_detach(&sb);
}

char *
apply_sql_delete(const apply_sql_rel *r, const bool *key, bool full)
{
	strbuf		sb = STRBUF_INIT;

	strbuf_addf(&sb, "DELETE FROM ONLY %s", r->qname);
	add_key(&sb, r, key, full, 1);
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
