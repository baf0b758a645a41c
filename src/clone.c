/*
 * clone.c
 *		The phases of a clone.
 *
 *   preflight   checks both sides; nothing is touched before it passes
 *   target      creates (or recreates) the target database
 *   snapshot    exported on the source, held open until the end
 *   schema      pg_dump of pre-data and post-data in that snapshot;
 *               pg_restore of pre-data
 *   data        parallel copy, indexes and ANALYZE (scheduler.c)
 *   sequences   last_value and is_called of every sequence
 *   post-data   pg_restore of what pgcrane did not build itself
 *
 * Each phase is recorded in the state file with its status and time.
 */
#include "clone.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "cli/cli.h"
#include "conn.h"
#include "interrupt.h"
#include "preflight.h"
#include "progress.h"
#include "scheduler.h"
#include "schema.h"
#include "sequence.h"
#include "snapshot.h"
#include "state.h"
#include "targetdb.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/str.h"

typedef struct clone_ctx
{
	const clone_options *o;
	interrupt	intr;
	state	   *st;
	preflight_info info;
	snapshot	snap;
	catalog		cat;
	progress	prog;
	report		rep;
	sched_result sres;
	char	   *dump_path;
	char	   *list_path;
	double		phase_start;
	const char *phase;
} clone_ctx;

static void
phase_begin(clone_ctx *c, const char *name)
{
	c->phase = name;
	c->phase_start = clock_now();
	state_step_begin(c->st, name);
	log_debug("phase %s", name);
}

static int
phase_end(clone_ctx *c, int rc)
{
	double		secs = clock_now() - c->phase_start;

	state_step_end(c->st, c->phase, rc == 0 ? STATE_DONE : STATE_FAILED, secs);
	report_add_phase(&c->rep, c->phase, secs);
	return rc;
}

static int
do_preflight(clone_ctx *c)
{
	preflight_options po = {c->o->source, c->o->target, c->o->drop_if_exists};

	phase_begin(c, "preflight");
	if (preflight_run(&po, &c->info) != 0)
	{
		phase_end(c, -1);
		return c->info.unreachable ? EXIT_ERROR : EXIT_CHECK_FAILED;
	}
	if (!c->o->json)
		preflight_print(&c->info, false);
	phase_end(c, 0);
	return EXIT_OK;
}

static int
do_schema(clone_ctx *c)
{
	schema_restore_opts ro = {c->o->no_owner, c->o->no_acl, 1, &c->intr.stop};
	int			rc;

	phase_begin(c, "schema");
	rc = schema_dump(&c->info.tools, c->o->source, c->snap.name, c->dump_path,
					 &c->intr.stop);
	if (rc == 0)
		rc = schema_restore_pre(&c->info.tools, c->o->target, c->dump_path, &ro);
	return phase_end(c, rc);
}

/*
 * Read the catalog in the snapshot and keep only the indexes the archive
 * has an entry for; those entries are commented out of the post-data list.
 */
static int
do_catalog(clone_ctx *c)
{
	PGconn	   *src = conn_open(c->o->source, SIDE_SOURCE);
	schema_toc_key *keys;
	bool	   *found;
	int			rc = -1;

	if (src == NULL)
		return -1;
	if (snapshot_import(src, c->snap.name) != 0 || catalog_load(src, &c->cat) != 0)
	{
		PQfinish(src);
		return -1;
	}
	PQfinish(src);
	keys = xcalloc((size_t) c->cat.nindexes + 1, sizeof(schema_toc_key));
	found = xcalloc((size_t) c->cat.nindexes + 1, sizeof(bool));
	for (int i = 0; i < c->cat.nindexes; i++)
	{
		const cat_index *ix = &c->cat.indexes[i];

		keys[i].catalog = ix->con_oid ? SCHEMA_TOC_CONSTRAINT : SCHEMA_TOC_INDEX;
		keys[i].oid = ix->con_oid ? ix->con_oid : ix->oid;
	}
	if (schema_write_list(&c->info.tools, c->dump_path, c->list_path, keys,
						  c->cat.nindexes, found) == 0)
	{
		catalog_keep_indexes(&c->cat, found);
		rc = 0;
	}
	free(keys);
	free(found);
	return rc;
}

static int
do_data(clone_ctx *c)
{
	sched_config sc = {
		.source = c->o->source,.target = c->o->target,.snapshot = c->snap.name,
		.jobs = c->o->jobs,.index_jobs = c->o->index_jobs,
		.split_bytes = c->o->split_bytes,.cat = &c->cat,.st = c->st,
		.prog = &c->prog,.intr = &c->intr,
	};

	phase_begin(c, "data");
	c->prog.tables_total = c->cat.ntables;
	c->prog.indexes_total = c->cat.nindexes;
	for (int i = 0; i < c->cat.ntables; i++)
		c->prog.bytes_total += c->cat.tables[i].bytes;
	return phase_end(c, sched_run(&sc, &c->sres));
}

static int
do_sequences(clone_ctx *c)
{
	PGconn	   *src,
			   *tgt;
	int			rc = -1;

	phase_begin(c, "sequences");
	src = conn_open(c->o->source, SIDE_SOURCE);
	tgt = src ? conn_open(c->o->target, SIDE_TARGET) : NULL;
	if (src && tgt)
		rc = sequence_copy_all(src, tgt, &c->cat);
	if (src)
		PQfinish(src);
	if (tgt)
		PQfinish(tgt);
	return phase_end(c, rc);
}

static int
do_post_data(clone_ctx *c)
{
	schema_restore_opts ro = {c->o->no_owner, c->o->no_acl, c->o->index_jobs,
	&c->intr.stop};

	phase_begin(c, "post-data");
	return phase_end(c, schema_restore_post(&c->info.tools, c->o->target,
											c->dump_path, c->list_path, &ro));
}

static void
fill_report(clone_ctx *c, const char *status, double start)
{
	report	   *r = &c->rep;

	r->status = status;
	r->seconds = clock_now() - start;
	r->source = conn_redact(c->o->source);
	r->target = conn_redact(c->o->target);
	r->snapshot = c->snap.name ? xstrdup(c->snap.name) : NULL;
	r->sequences = c->cat.nsequences;
	r->large_objects = c->sres.large_objects;
	r->idle_seconds = c->sres.idle_seconds;
	r->workers = c->sres.workers;
	if (c->sres.tables == NULL)
		return;
	r->ntables = c->cat.ntables;
	r->tables = xcalloc((size_t) r->ntables + 1, sizeof(report_table));
	for (int i = 0; i < r->ntables; i++)
	{
		const sched_table_stats *ts = &c->sres.tables[i];

		r->tables[i] = (report_table)
		{
			c->cat.tables[i].display, c->cat.tables[i].binary ? "binary" : "text",
				ts->parts, ts->rows, ts->bytes, ts->last_end - ts->first_start
		};
	}
	r->nindexes = c->cat.nindexes;
	r->indexes = xcalloc((size_t) r->nindexes + 1, sizeof(report_index));
	for (int i = 0; i < r->nindexes; i++)
		r->indexes[i] = (report_index)
		{
			c->cat.indexes[i].display,
				c->cat.tables[c->cat.indexes[i].table].display,
				c->sres.index_seconds[i]
		};
}

/* Every phase after preflight, in order; stops at the first failure. */
static int
run_phases(clone_ctx *c)
{
	if (targetdb_prepare(c->o->target, &c->info, c->o->drop_if_exists) != 0)
		return -1;
	if (snapshot_export(c->o->source, &c->snap) != 0)
		return -1;
	interrupt_register(&c->intr, c->snap.holder);
	log_info("snapshot \"%s\" exported on the source", c->snap.name);
	state_put(c->st, "snapshot", c->snap.name);
	if (do_schema(c) != 0 || c->intr.stop)
		return -1;
	if (do_catalog(c) != 0)
		return -1;
	if (do_data(c) != 0 || c->intr.stop)
		return -1;
	if (do_sequences(c) != 0 || c->intr.stop)
		return -1;
	return do_post_data(c);
}

static void
record_run(clone_ctx *c)
{
	char	   *src = conn_redact(c->o->source);
	char	   *tgt = conn_redact(c->o->target);

	state_put(c->st, "source", src);
	state_put(c->st, "target", tgt);
	free(src);
	free(tgt);
}

static int
finish(clone_ctx *c, int rc, double start)
{
	const char *status = rc == 0 ? "ok" : c->intr.signo ? "interrupted" : "failed";

	fill_report(c, status, start);
	if (c->snap.holder)
		interrupt_unregister(&c->intr, c->snap.holder);
	snapshot_release(&c->snap);
	state_put(c->st, "status", status);
	if (c->o->json)
		report_print_json(&c->rep);
	else
		report_print_text(&c->rep);
	if (rc == 0)
		return EXIT_OK;
	if (c->intr.signo)
	{
		log_info("clone interrupted in phase \"%s\"", c->phase ? c->phase : "setup");
		return EXIT_INTERRUPTED;
	}
	error("clone failed in phase \"%s\"", c->phase ? c->phase : "setup");
	return EXIT_ERROR;
}

int
clone_run(const clone_options *o)
{
	clone_ctx	c;
	double		start = clock_now();
	int			rc;

	memset(&c, 0, sizeof(c));
	c.o = o;
	if (interrupt_start(&c.intr) != 0)
		return EXIT_ERROR;
	c.st = state_open(o->dir);
	if (c.st == NULL)
	{
		interrupt_stop(&c.intr);
		return EXIT_ERROR;
	}
	c.dump_path = str_printf("%s/schema.dump", o->dir);
	c.list_path = str_printf("%s/post-data.list", o->dir);
	record_run(&c);
	progress_init(&c.prog, o->json);
	rc = do_preflight(&c);
	if (rc == EXIT_OK)
		rc = finish(&c, run_phases(&c), start);
	else
		state_put(c.st, "status", "preflight failed");
	interrupt_stop(&c.intr);
	catalog_release(&c.cat);
	sched_result_release(&c.sres);
	preflight_info_release(&c.info);
	report_release(&c.rep);
	state_close(c.st);
	free(c.dump_path);
	free(c.list_path);
	return rc;
}
