/*
 * plan.c
 *		clone --plan: what a clone with these rules would do, and nothing.
 *
 * Only the source is read, with one connection and no snapshot: no
 * target database, slot, snapshot holder or work directory is made.
 * Besides what is copied, renamed and left out, it prints the time the
 * cost model predicts for the clone with these --jobs, per phase
 * (predict.h): the catalog is read as the clone reads it and the
 * selection applied to it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clone/clone.h"
#include "clone/predict.h"
#include "clone/select.h"
#include "core/catalog.h"
#include "core/conn.h"
#include "core/selres.h"
#include "util/json.h"
#include "util/log.h"
#include "util/str.h"

static const char *
kind_name(char kind)
{
	switch (kind)
	{
		case 'p':
			return "partitioned table";
		case 'v':
			return "view";
		case 'm':
			return "materialized view";
		case 'S':
			return "sequence";
		case 'f':
			return "foreign table";
	}
	return "table";
}

/* The relation's name on the target (you own it). */
static char *
target_name(const selection *sel, const selres_rel *x)
{
	return str_printf("%s.%s", sel_schema_target(sel, x->nspname),
					  sel_table_target(sel, x->nspname, x->relname));
}

typedef struct plan_totals
{
	int			copied;			/* tables whose rows are copied */
	int64_t		copied_bytes;
	int			no_data;
	int			left_out;		/* relations left out */
	int64_t		left_out_bytes;
} plan_totals;

static void
add_totals(const selres *r, plan_totals *t)
{
	memset(t, 0, sizeof(*t));
	for (int i = 0; i < r->nrels; i++)
	{
		const selres_rel *x = &r->rels[i];

		if (x->why)
		{
			t->left_out++;
			t->left_out_bytes += x->bytes;
		}
		else if (x->no_data)
			t->no_data++;
		else if (x->kind == 'r' || x->kind == 'm')
		{
			t->copied++;
			t->copied_bytes += x->bytes;
		}
	}
}

static void
print_rel(const selection *sel, const selres_rel *x)
{
	char		size[32];
	char	   *to = target_name(sel, x);
	const char *what = x->why ? "leave out" : x->no_data ? "schema only" : "copy";

	str_format_size(x->bytes, size, sizeof(size));
	printf("  %-12s %-18s %-40s %10s", what, kind_name(x->kind), x->display, size);
	if (x->why && strcmp(x->why, "selection") != 0)
		printf("  (needs %s)", x->why);
	else if (!x->why && strcmp(to, x->display) != 0)
		printf("  -> %s", to);
	printf("\n");
	free(to);
}

/* The predicted time, per phase. */
static void
print_prediction(const clone_prediction *p)
{
	printf("  %-12s %-18s %-40s %8.2f s\n", "predict", "total",
		   "", p->seconds);
	for (int i = 0; i < p->nphases; i++)
		printf("  %-12s %-18s %-40s %8.2f s\n", "predict", "phase", p->phases[i].name,
			   p->phases[i].seconds);
	printf("  %-12s %-18s %-40s %8.2f s\n", "predict", "data", "copies done after",
		   p->data.copy_seconds);
	printf("  %-12s %-18s %-40s %8.2f s\n", "predict", "data", "workers idle, summed",
		   p->data.idle_seconds);
	printf("predicted time: %.1f s with --jobs %d --index-jobs %d\n", p->seconds,
		   p->jobs, p->index_jobs);
}

static void
print_text(const selection *sel, const selres *r, const clone_prediction *p)
{
	plan_totals t;
	char		a[32],
				b[32];

	add_totals(r, &t);
	str_format_size(t.copied_bytes, a, sizeof(a));
	str_format_size(t.left_out_bytes, b, sizeof(b));
	for (int i = 0; i < r->nrels; i++)
		print_rel(sel, &r->rels[i]);
	for (int i = 0; i < r->nschemas_out; i++)
		printf("  %-12s %-18s %s\n", "leave out", "schema", r->schemas_out[i].display);
	for (int i = 0; i < r->nconstraints_out; i++)
		printf("  %-12s %-18s %s\n", "leave out", "constraint", r->constraints_out[i].display);
	for (int i = 0; i < r->nfunctions_out; i++)
		printf("  %-12s %-18s %s\n", "leave out", "function", r->functions_out[i].name);
	for (int i = 0; i < sel->ncolumns; i++)
		printf("  %-12s %-18s %s.%s.%s\n", "leave out", "column", sel->columns[i].schema,
			   sel->columns[i].table, sel->columns[i].column);
	for (int i = 0; i < sel->ntable_renames; i++)
		printf("  %-12s %-18s %s.%s -> %s\n", "rename", "table", sel->table_renames[i].schema,
			   sel->table_renames[i].from, sel->table_renames[i].to);
	for (int i = 0; i < sel->nschema_renames; i++)
		printf("  %-12s %-18s %s -> %s\n", "rename", "schema", sel->schema_renames[i].schema,
			   sel->schema_renames[i].to);
	printf("  %-12s %-18s %lld\n", r->large_objects ? "copy" : "leave out", "large objects",
		   (long long) r->nlargeobjects);
	if (p)
		print_prediction(p);
	printf("plan: copy %d tables (%s), %d without their rows; leave out %d relations (%s)\n",
		   t.copied, a, t.no_data, t.left_out, b);
}

static void
json_rel(strbuf *sb, const selection *sel, const selres_rel *x)
{
	char	   *to = target_name(sel, x);

	strbuf_adds(sb, "{\"name\":");
	json_add_string(sb, x->display);
	strbuf_adds(sb, ",\"kind\":");
	json_add_string(sb, kind_name(x->kind));
	strbuf_addf(sb, ",\"bytes\":%lld,\"action\":\"%s\"", (long long) x->bytes,
				x->why ? "leave out" : x->no_data ? "schema only" : "copy");
	if (x->why)
	{
		strbuf_adds(sb, ",\"why\":");
		json_add_string(sb, strcmp(x->why, "selection") == 0 ? "selection" : x->why);
	}
	else
	{
		strbuf_adds(sb, ",\"target\":");
		json_add_string(sb, to);
	}
	strbuf_adds(sb, "}");
	free(to);
}

static void
json_strings(strbuf *sb, const char *key, char *const *items, int n)
{
	strbuf_addf(sb, ",\"%s\":[", key);
	for (int i = 0; i < n; i++)
	{
		strbuf_adds(sb, i ? "," : "");
		json_add_string(sb, items[i]);
	}
	strbuf_adds(sb, "]");
}

static void
json_renames(strbuf *sb, const selection *sel)
{
	strbuf_adds(sb, ",\"renames\":[");
	for (int i = 0; i < sel->nschema_renames + sel->ntable_renames; i++)
	{
		bool		schema = i < sel->nschema_renames;
		const sel_rename *rn = schema ? &sel->schema_renames[i] :
			&sel->table_renames[i - sel->nschema_renames];
		char	   *from = schema ? xstrdup(rn->schema) : str_printf("%s.%s", rn->schema, rn->from);

		strbuf_addf(sb, "%s{\"kind\":\"%s\",\"from\":", i ? "," : "", schema ? "schema" : "table");
		json_add_string(sb, from);
		strbuf_adds(sb, ",\"to\":");
		json_add_string(sb, rn->to);
		strbuf_adds(sb, "}");
		free(from);
	}
	strbuf_adds(sb, "]");
}

static void
json_prediction(strbuf *sb, const clone_prediction *p)
{
	strbuf_addf(sb, ",\"prediction\":{\"seconds\":%.3f,\"jobs\":%d,\"index_jobs\":%d,"
				"\"phases\":[", p->seconds, p->jobs, p->index_jobs);
	for (int i = 0; i < p->nphases; i++)
		strbuf_addf(sb, "%s{\"name\":\"%s\",\"seconds\":%.3f}", i ? "," : "",
					p->phases[i].name, p->phases[i].seconds);
	strbuf_addf(sb, "],\"data\":{\"seconds\":%.3f,\"copy_seconds\":%.3f,"
				"\"idle_seconds\":%.3f,\"tasks\":%d}}", p->data.seconds,
				p->data.copy_seconds, p->data.idle_seconds, p->data.tasks);
}

static void
print_json(const selection *sel, const selres *r, const clone_prediction *p)
{
	strbuf		sb = STRBUF_INIT;
	char	  **names = xcalloc((size_t) (r->nschemas_out + sel->ncolumns +
											r->nconstraints_out + r->nfunctions_out) + 1,
						   sizeof(char *));
	plan_totals t;

	add_totals(r, &t);
	strbuf_addf(&sb, "{\"command\":\"plan\",\"status\":\"%s\",\"relations\":[",
				r->nproblems ? "problems" : "ok");
	for (int i = 0; i < r->nrels; i++)
	{
		strbuf_adds(&sb, i ? "," : "");
		json_rel(&sb, sel, &r->rels[i]);
	}
	strbuf_adds(&sb, "]");
	for (int i = 0; i < r->nschemas_out; i++)
		names[i] = r->schemas_out[i].name;
	json_strings(&sb, "schemas_left_out", names, r->nschemas_out);
	for (int i = 0; i < r->nconstraints_out; i++)
		names[i] = r->constraints_out[i].display;
	json_strings(&sb, "constraints_left_out", names, r->nconstraints_out);
	for (int i = 0; i < r->nfunctions_out; i++)
		names[i] = r->functions_out[i].name;
	json_strings(&sb, "functions_left_out", names, r->nfunctions_out);
	for (int i = 0; i < sel->ncolumns; i++)
		names[i] = str_printf("%s.%s.%s", sel->columns[i].schema, sel->columns[i].table,
							  sel->columns[i].column);
	json_strings(&sb, "columns_left_out", names, sel->ncolumns);
	for (int i = 0; i < sel->ncolumns; i++)
		free(names[i]);
	free(names);
	json_renames(&sb, sel);
	strbuf_addf(&sb, ",\"large_objects\":{\"count\":%lld,\"copied\":%s}",
				(long long) r->nlargeobjects, r->large_objects ? "true" : "false");
	strbuf_addf(&sb, ",\"totals\":{\"tables_copied\":%d,\"bytes_copied\":%lld,"
				"\"tables_without_rows\":%d,\"relations_left_out\":%d,\"bytes_left_out\":%lld}",
				t.copied, (long long) t.copied_bytes, t.no_data, t.left_out,
				(long long) t.left_out_bytes);
	if (p)
		json_prediction(&sb, p);
	json_strings(&sb, "problems", r->problems, r->nproblems);
	json_strings(&sb, "warnings", r->warnings, r->nwarnings);
	strbuf_adds(&sb, "}\n");
	fputs(strbuf_str(&sb), stdout);
	strbuf_release(&sb);
}

/*
 * The clone's predicted time: the catalog as the clone reads it, with the
 * selection applied.  Without the target, its default TOAST compression
 * is unknown: the model takes --toast-compression, else pglz.
 */
static int
predict_plan(PGconn *src, const clone_options *o, const selres *r, clone_prediction *p)
{
	catalog		cat = CATALOG_INIT;
	predict_options po = {
		.jobs = o->jobs,.index_jobs = o->index_jobs,.split_bytes = o->split_bytes,
		.toast_compression = o->toast_compression,.roles = o->roles != ROLES_NONE,
		.renames = o->sel.nschema_renames > 0 || o->sel.ntable_renames > 0
	};
	int			rc = catalog_load(src, &cat);

	if (rc == 0 && !sel_is_empty(&o->sel))
		rc = csel_apply_catalog(src, &o->sel, r, &cat);
	if (rc == 0)
		rc = predict_clone(&cat, &po, p);
	catalog_release(&cat);
	return rc;
}

run_status
clone_plan(const clone_options *o)
{
	PGconn	   *src;
	selres		r = SELRES_INIT;
	run_status	rc = RUN_OK;
	clone_prediction pred;
	bool		predicted = false;

	if (!conn_check_string(o->source, SIDE_SOURCE) ||
		(src = conn_open(o->source, SIDE_SOURCE)) == NULL)
		return RUN_FAILED;
	if (selres_read(src, &o->sel, &r) != 0 || selres_check_target(NULL, &o->sel, &r) != 0)
	{
		PQfinish(src);
		selres_release(&r);
		return RUN_FAILED;
	}
	/* A selection with problems is reported; there is no clone to time. */
	if (r.nproblems == 0)
	{
		if (predict_plan(src, o, &r, &pred) != 0)
		{
			PQfinish(src);
			selres_release(&r);
			return RUN_FAILED;
		}
		predicted = true;
	}
	PQfinish(src);
	if (o->json)
		print_json(&o->sel, &r, predicted ? &pred : NULL);
	else
		print_text(&o->sel, &r, predicted ? &pred : NULL);
	for (int i = 0; i < r.nproblems; i++)
	{
		error("%s", r.problems[i]);
		if (r.hints[i])
			log_hint("%s", r.hints[i]);
	}
	for (int i = 0; i < r.nwarnings; i++)
		log_warning("%s", r.warnings[i]);
	if (r.nproblems > 0)
		rc = RUN_CHECK_FAILED;
	selres_release(&r);
	return rc;
}
