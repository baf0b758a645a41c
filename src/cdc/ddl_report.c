/*
 * ddl_report.c
 *		At cutover: the schema changes the follow did not apply.
 *
 * verify's comparison names each object as its inventory does
 * ("schema.table" for a relation, "schema.table.name" for a column,
 * constraint or trigger, "schema.f(argument types)" for a function), so
 * the statement that fixes a difference is read by that name from the
 * side that has the object: the source's definition for what the target
 * lacks, a DROP for what only the target has.  Both sessions run with
 * verify's search_path (pg_catalog), so regclass prints qualified names.
 * A difference in an object both sides have is named with what differs.
 */
#include "cdc/ddl_report.h"

#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "verify/verify_report.h"
#include "verify/verify_schema.h"
#include "verify/verify_select.h"
#include "verify/verify_session.h"

#define REL_BY_NAME(kinds) \
	" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace" \
	" WHERE n.nspname || '.' || c.relname = $1 AND c.relkind IN " kinds

#define CHILD_BY_NAME(catalog, alias, relcol, namecol) \
	" FROM " catalog " " alias " JOIN pg_class c ON c.oid = " alias "." relcol \
	" JOIN pg_namespace n ON n.oid = c.relnamespace" \
	" WHERE n.nspname || '.' || c.relname || '.' || " alias "." namecol " = $1"

/* How to write the fix of a kind of difference: a query given the object. */
typedef struct fix_query
{
	const char *problem;
	const char *kind;
	bool		on_source;		/* read the source (else the target) */
	const char *sql;			/* $1 the object's name; one row, one column */
} fix_query;

static const fix_query fixes[] = {
	{VREPORT_MISSING, "index", true,
	"SELECT pg_get_indexdef(c.oid)" REL_BY_NAME("('i', 'I')")},
	{VREPORT_EXTRA, "index", false,
	"SELECT format('DROP INDEX %s', c.oid::regclass)" REL_BY_NAME("('i', 'I')")},
	{VREPORT_MISSING, "constraint", true,
		"SELECT format('ALTER TABLE %s ADD CONSTRAINT %I %s', k.conrelid::regclass,"
		" k.conname, pg_get_constraintdef(k.oid))"
	CHILD_BY_NAME("pg_constraint", "k", "conrelid", "conname")},
	{VREPORT_EXTRA, "constraint", false,
		"SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', k.conrelid::regclass, k.conname)"
	CHILD_BY_NAME("pg_constraint", "k", "conrelid", "conname")},
	{VREPORT_MISSING, "view", true,
	"SELECT format('CREATE VIEW %s AS %s', c.oid::regclass, pg_get_viewdef(c.oid))" REL_BY_NAME("('v')")},
	{VREPORT_EXTRA, "view", false,
	"SELECT format('DROP VIEW %s', c.oid::regclass)" REL_BY_NAME("('v')")},
	{VREPORT_MISSING, "materialized view", true,
		"SELECT format('CREATE MATERIALIZED VIEW %s AS %s', c.oid::regclass,"
	" pg_get_viewdef(c.oid))" REL_BY_NAME("('m')")},
	{VREPORT_EXTRA, "materialized view", false,
	"SELECT format('DROP MATERIALIZED VIEW %s', c.oid::regclass)" REL_BY_NAME("('m')")},
	{VREPORT_EXTRA, "table", false,
	"SELECT format('DROP TABLE %s', c.oid::regclass)" REL_BY_NAME("('r', 'p')")},
	{VREPORT_MISSING, "column", true,
		"SELECT format('ALTER TABLE %s ADD COLUMN %I %s', c.oid::regclass, a.attname,"
		" format_type(a.atttypid, a.atttypmod))"
	CHILD_BY_NAME("pg_attribute", "a", "attrelid", "attname") " AND a.attnum > 0"},
	{VREPORT_EXTRA, "column", false,
		"SELECT format('ALTER TABLE %s DROP COLUMN %I', c.oid::regclass, a.attname)"
	CHILD_BY_NAME("pg_attribute", "a", "attrelid", "attname") " AND a.attnum > 0"},
	{VREPORT_MISSING, "trigger", true,
		"SELECT pg_get_triggerdef(t.oid)"
	CHILD_BY_NAME("pg_trigger", "t", "tgrelid", "tgname")},
	{VREPORT_EXTRA, "trigger", false,
		"SELECT format('DROP TRIGGER %I ON %s', t.tgname, t.tgrelid::regclass)"
	CHILD_BY_NAME("pg_trigger", "t", "tgrelid", "tgname")},
	{VREPORT_MISSING, "function", true,
	"SELECT pg_get_functiondef(to_regprocedure($1))"},
	{VREPORT_EXTRA, "function", false,
	"SELECT 'DROP FUNCTION ' || to_regprocedure($1)::text"},
	{VREPORT_MISSING, "procedure", true,
	"SELECT pg_get_functiondef(to_regprocedure($1))"},
	{VREPORT_EXTRA, "procedure", false,
	"SELECT 'DROP PROCEDURE ' || to_regprocedure($1)::text"},
};

/*
 * The statement that fixes item, or NULL when pgcrane cannot write one;
 * you own it.  A query that fails leaves the session's transaction to be
 * begun again (vsession_recover); not logged.
 */
static char *
fix_statement(vsession *s, const vreport_item *item)
{
	const char *params[1] = {item->object};

	for (size_t i = 0; i < sizeof(fixes) / sizeof(fixes[0]); i++)
	{
		PGresult   *res;
		char	   *stmt = NULL;

		if (strcmp(fixes[i].problem, item->problem) != 0 ||
			strcmp(fixes[i].kind, item->kind) != 0)
			continue;
		res = PQexecParams(fixes[i].on_source ? s->src : s->tgt, fixes[i].sql, 1, NULL,
						   params, NULL, NULL, 0);
		if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
			!PQgetisnull(res, 0, 0))
			stmt = xstrdup(PQgetvalue(res, 0, 0));
		else if (PQresultStatus(res) != PGRES_TUPLES_OK)
			(void) vsession_recover(s);
		PQclear(res);
		return stmt;
	}
	return NULL;
}

/* Print one difference and its fix. */
static void
print_difference(vsession *s, const vreport_item *item)
{
	char	   *stmt = fix_statement(s, item);

	log_warning("schema difference after the follow: %s: %s \"%s\"%s%s%s", item->problem,
				item->kind, item->object, item->detail ? " (" : "",
				item->detail ? item->detail : "", item->detail ? ")" : "");
	if (stmt)
		log_hint("On the target: %s%s", stmt, stmt[strlen(stmt) - 1] == ';' ? "" : ";");
	else if (strcmp(item->problem, VREPORT_MISSING) == 0 && strcmp(item->kind, "table") == 0)
		log_hint("Create it on the target from: pg_dump --schema-only --table '%s' on the source.",
				 item->object);
	else
		log_hint("Make it the same on the target as on the source.");
	free(stmt);
}

/* The schemas could not be compared: a warning, -1. */
static int
not_compared(void)
{
	log_warning("could not compare the schemas of the source and the target at the cutover");
	log_hint("Compare them with: pgcrane verify --schema-only");
	return -1;
}

int
ddl_report_differences(const char *source, const char *target, bool no_owner,
					   bool no_acl, const selection *sel, strbuf *out)
{
	vsession	s;
	vreport    *r;
	vsel		none = VSEL_INIT;	/* the rules, resolved on the source */
	vschema_options o = {no_owner, no_acl, &none};
	int			ntables = 0,
				n;

	if (vsession_open(&s, source, target, NULL, NULL, NULL) != 0)
		return not_compared();
	if (vsel_init(&none, s.src, sel) != 0)
	{
		vsession_close(&s);
		return not_compared();
	}
	r = vreport_new();
	n = vschema_compare(&s, &o, r, &ntables) == 0 ? vreport_count(r) : -1;
	for (int i = 0; i < n; i++)
	{
		vreport_item item;

		vreport_item_at(r, i, &item);
		print_difference(&s, &item);
	}
	if (n > 0)
		strbuf_addf(out, "%sschema differences left at the cutover: %d (printed with the statements that fix them)",
					out->len ? "\n" : "", n);
	if (n < 0)
		log_warning("could not compare the schemas of the source and the target at the cutover");
	vreport_free(r);
	vsel_release(&none);
	vsession_close(&s);
	return n;
}
