/*
 * verify_report.c
 *		The differences verify found, and how they are printed.
 *
 * Workers add items as they find them, under one mutex; each item gets a
 * sequence number.  Printing sorts by (section, object, sequence): one
 * worker handles one table at a time and finds its rows in key order, so
 * the rows of a table keep that order while tables come out by name.
 */
#include "verify/verify_report.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"

typedef struct vitem
{
	vreport_section section;
	long		seq;
	char	   *problem;
	char	   *kind;
	char	   *object;
	char	   *key;
	char	   *detail;
} vitem;

typedef struct vtable_result
{
	char	   *name;
	int64_t		source_rows;
	int64_t		target_rows;
	bool		equal;
	bool		keyed;
	double		seconds;
} vtable_result;

struct vreport
{
	pthread_mutex_t lock;
	vitem	   *items;
	int			nitems;
	int			alloc;
	vtable_result *tables;
	int			ntables;
	int			tables_alloc;
	int			total_tables;
	int			excluded_tables;	/* left out by the selection */
	int64_t		total_rows;
	bool		sorted;
};

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

vreport *
vreport_new(void)
{
	vreport    *r = xcalloc(1, sizeof(vreport));

	pthread_mutex_init(&r->lock, NULL);
	return r;
}

void
vreport_free(vreport *r)
{
	if (r == NULL)
		return;
	for (int i = 0; i < r->nitems; i++)
	{
		free(r->items[i].problem);
		free(r->items[i].kind);
		free(r->items[i].object);
		free(r->items[i].key);
		free(r->items[i].detail);
	}
	for (int i = 0; i < r->ntables; i++)
		free(r->tables[i].name);
	free(r->items);
	free(r->tables);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

void
vreport_add(vreport *r, vreport_section section, const char *problem,
			const char *kind, const char *object, const char *key,
			const char *detail)
{
	vitem	   *it;

	pthread_mutex_lock(&r->lock);
	if (r->nitems == r->alloc)
	{
		r->alloc = r->alloc ? r->alloc * 2 : 32;
		r->items = xrealloc(r->items, (size_t) r->alloc * sizeof(vitem));
	}
	it = &r->items[r->nitems];
	it->section = section;
	it->seq = r->nitems++;
	it->problem = xstrdup(problem);
	it->kind = xstrdup(kind);
	it->object = xstrdup(object);
	it->key = dup_or_null(key);
	it->detail = dup_or_null(detail);
	r->sorted = false;
	pthread_mutex_unlock(&r->lock);
}

void
vreport_add_table(vreport *r, const vreport_table *t)
{
	vtable_result *tr;

	pthread_mutex_lock(&r->lock);
	if (r->ntables == r->tables_alloc)
	{
		r->tables_alloc = r->tables_alloc ? r->tables_alloc * 2 : 32;
		r->tables = xrealloc(r->tables,
							 (size_t) r->tables_alloc * sizeof(vtable_result));
	}
	tr = &r->tables[r->ntables++];
	tr->name = xstrdup(t->name);
	tr->source_rows = t->source_rows;
	tr->target_rows = t->target_rows;
	tr->equal = t->equal;
	tr->keyed = t->keyed;
	tr->seconds = t->seconds;
	pthread_mutex_unlock(&r->lock);
}

void
vreport_set_totals(vreport *r, int tables, int64_t rows)
{
	pthread_mutex_lock(&r->lock);
	r->total_tables = tables;
	r->total_rows = rows;
	pthread_mutex_unlock(&r->lock);
}

void
vreport_set_excluded(vreport *r, int tables)
{
	pthread_mutex_lock(&r->lock);
	r->excluded_tables = tables;
	pthread_mutex_unlock(&r->lock);
}

int
vreport_count(vreport *r)
{
	int			n;

	pthread_mutex_lock(&r->lock);
	n = r->nitems;
	pthread_mutex_unlock(&r->lock);
	return n;
}

void
vreport_item_at(vreport *r, int i, vreport_item *out)
{
	pthread_mutex_lock(&r->lock);
	out->problem = r->items[i].problem;
	out->kind = r->items[i].kind;
	out->object = r->items[i].object;
	out->detail = r->items[i].detail;
	pthread_mutex_unlock(&r->lock);
}

static int
item_cmp(const void *a, const void *b)
{
	const vitem *x = a;
	const vitem *y = b;
	int			c;

	if (x->section != y->section)
		return x->section < y->section ? -1 : 1;
	c = strcmp(x->object, y->object);
	if (c != 0 && x->section != VREPORT_LARGE_OBJECTS)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int
table_cmp(const void *a, const void *b)
{
	return strcmp(((const vtable_result *) a)->name,
				  ((const vtable_result *) b)->name);
}

/* Sort once, with the lock held. */
static void
sort_locked(vreport *r)
{
	if (r->sorted)
		return;
	/* qsort's array may not be NULL, even for no element. */
	if (r->nitems > 0)
		qsort(r->items, (size_t) r->nitems, sizeof(vitem), item_cmp);
	if (r->ntables > 0)
		qsort(r->tables, (size_t) r->ntables, sizeof(vtable_result), table_cmp);
	r->sorted = true;
}

static void
item_line(const vitem *it, strbuf *sb)
{
	if (strcmp(it->kind, "row") == 0)
		strbuf_addf(sb, "%s: row of \"%s\" with key %s", it->problem,
					it->object, it->key ? it->key : "");
	else if (strcmp(it->kind, "large object") == 0)
		strbuf_addf(sb, "%s: large object %s", it->problem, it->object);
	else
		strbuf_addf(sb, "%s: %s \"%s\"", it->problem, it->kind, it->object);
	if (it->detail)
		strbuf_addf(sb, " (%s)", it->detail);
}

void
vreport_print(vreport *r, FILE *out, bool verdict)
{
	strbuf		sb = STRBUF_INIT;

	pthread_mutex_lock(&r->lock);
	sort_locked(r);
	for (int i = 0; i < r->nitems; i++)
	{
		strbuf_reset(&sb);
		item_line(&r->items[i], &sb);
		fprintf(out, "%s\n", strbuf_str(&sb));
	}
	if (verdict && r->nitems == 0 && r->excluded_tables > 0)
		fprintf(out, "verify: OK (%d tables, %lld rows; %d excluded by the selection)\n",
				r->total_tables, (long long) r->total_rows, r->excluded_tables);
	else if (verdict && r->nitems == 0)
		fprintf(out, "verify: OK (%d tables, %lld rows)\n", r->total_tables,
				(long long) r->total_rows);
	else if (verdict)
		fprintf(out, "verify: %d difference%s\n", r->nitems,
				r->nitems == 1 ? "" : "s");
	pthread_mutex_unlock(&r->lock);
	fflush(out);
	strbuf_release(&sb);
}

static void
json_field(strbuf *out, const char *name, const char *value)
{
	if (value == NULL)
		return;
	strbuf_addf(out, ", \"%s\": ", name);
	json_add_string(out, value);
}

static void
json_items(vreport *r, strbuf *out)
{
	strbuf		line = STRBUF_INIT;

	strbuf_adds(out, "  \"items\": [");
	for (int i = 0; i < r->nitems; i++)
	{
		const vitem *it = &r->items[i];

		strbuf_reset(&line);
		item_line(it, &line);
		strbuf_adds(out, i > 0 ? ",\n    {" : "\n    {");
		strbuf_adds(out, "\"problem\": ");
		json_add_string(out, it->problem);
		json_field(out, "kind", it->kind);
		json_field(out, "object", it->object);
		json_field(out, "key", it->key);
		json_field(out, "detail", it->detail);
		json_field(out, "message", strbuf_str(&line));
		strbuf_adds(out, "}");
	}
	strbuf_adds(out, r->nitems ? "\n  ],\n" : "],\n");
	strbuf_release(&line);
}

static void
json_tables(vreport *r, strbuf *out)
{
	strbuf_adds(out, "  \"table_results\": [");
	for (int i = 0; i < r->ntables; i++)
	{
		const vtable_result *t = &r->tables[i];

		strbuf_adds(out, i > 0 ? ",\n    {\"table\": " : "\n    {\"table\": ");
		json_add_string(out, t->name);
		strbuf_addf(out, ", \"source_rows\": %lld, \"target_rows\": %lld, "
					"\"equal\": %s, \"keyed\": %s, \"seconds\": %.3f}",
					(long long) t->source_rows, (long long) t->target_rows,
					t->equal ? "true" : "false", t->keyed ? "true" : "false",
					t->seconds);
	}
	strbuf_adds(out, r->ntables ? "\n  ]\n" : "]\n");
}

void
vreport_json(vreport *r, const char *status, double seconds, strbuf *out)
{
	pthread_mutex_lock(&r->lock);
	sort_locked(r);
	strbuf_adds(out, "{\n  \"status\": ");
	json_add_string(out, status);
	strbuf_addf(out, ",\n  \"tables\": %d,\n  \"rows\": %lld,\n"
				"  \"differences\": %d,\n  \"seconds\": %.3f,\n",
				r->total_tables, (long long) r->total_rows, r->nitems,
				seconds);
	if (r->excluded_tables > 0)
		strbuf_addf(out, "  \"excluded_tables\": %d,\n", r->excluded_tables);
	json_items(r, out);
	json_tables(r, out);
	strbuf_adds(out, "}\n");
	pthread_mutex_unlock(&r->lock);
}
