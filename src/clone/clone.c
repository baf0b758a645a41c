/*
 * clone.c
 *		The phases of a clone.
 *
 *   preflight   checks both sides; nothing is touched before it passes
 *   roles       with --roles, creates the roles the target lacks (roles.h)
 *   target      creates (or recreates) the target database
 *   snapshot    exported on the source, held open until the end
 *   schema      pg_dump of pre-data and post-data in that snapshot; the
 *               database's owner; pg_restore of pre-data; tables put in
 *               their tablespaces (tablespace.h)
 *   data        parallel copy, indexes and ANALYZE (scheduler.c)
 *   sequences   last_value and is_called of every sequence
 *   post-data   pg_restore of what pgcrane did not build itself
 *   database    the database's own properties (owner, privileges,
 *               settings...), last so that none hits the clone's sessions
 *
 * Each phase is recorded in the state file with its status and time.
 *
 * Resume (--resume) runs the same phases, skipping what the state file
 * records as done.  The snapshot is kept by a separate holder process
 * (snapshot.h) that outlives an interrupted pgcrane, so a resume normally
 * reads the very snapshot the first run used and the copy stays one
 * consistent point in time.  The rule when the snapshot is gone (the
 * source restarted, the machine rebooted, the hold time ran out):
 *
 *   - rows not all copied yet: the clone starts over from the schema in a
 *     new snapshot (pre-data restored with --clean); tables copied from
 *     the old snapshot are copied again, never mixed with the new one;
 *   - rows all copied: nothing after needs the snapshot; it goes on.
 *
 * Either way the output says which happened, and the state file records
 * how many times the snapshot was lost.
 */
#include "clone/clone.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/catalog.h"
#include "cdc/follow.h"
#include "cdc/pgoutput.h"
#include "cdc/preflight.h"
#include "cdc/replident.h"
#include "clone/dbprops.h"
#include "cdc/slot.h"
#include "core/conn.h"
#include "core/identity.h"
#include "core/interrupt.h"
#include "clone/predict.h"
#include "clone/preflight.h"
#include "core/progress.h"
#include "clone/roles.h"
#include "clone/rollback.h"
#include "clone/scheduler.h"
#include "clone/schema.h"
#include "clone/select.h"
#include "core/selres.h"
#include "core/sequence.h"
#include "clone/snapshot.h"
#include "core/state.h"
#include "clone/tablespace.h"
#include "clone/targetdb.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/str.h"
#include "verify/verify.h"

/* Below this much TOAST data, the compression hint is not worth a line. */
#define TOAST_HINT_MIN_BYTES ((int64_t) 256 * 1024 * 1024)

/*
 * The wal_buffers hint: for a clone of at least WAL_HINT_MIN_BYTES with
 * several copy workers into a target whose wal_buffers is below
 * WAL_HINT_BUFFERS (README "WAL buffers on the target").
 */
#define WAL_HINT_MIN_BYTES ((int64_t) 1024 * 1024 * 1024)
#define WAL_HINT_BUFFERS ((int64_t) 64 * 1024 * 1024)

typedef struct clone_ctx
{
	const clone_options *o;
	const char *source;			/* from the options or the state file */
	const char *target;
	char	   *owned_source;
	char	   *owned_target;
	const char *toast;			/* --toast-compression, or as recorded */
	char	   *owned_toast;
	int			holder_pid;
	bool		redo_all;		/* resume in a new snapshot: from the schema */
	bool		follow;			/* --follow, or recorded by the run resumed */
	bool		data_started;	/* rows may have been copied */
	bool		rolled_back;	/* a failed fresh run removed what it made */
	bool		schema_started; /* the restore may have written the target */
	bool		partial_target; /* the target holds the schema of a run
								 * rolled back: restore over it */
	db_identity created;		/* the target database this run created */
	char	  **roles_created;	/* roles this run created (roles.h) */
	interrupt	intr;
	state	   *st;
	preflight_info info;
	char	   *snapshot;		/* name of the clone's snapshot */
	catalog		cat;
	progress	prog;
	report		rep;
	sched_result sres;
	clone_prediction pred;		/* what the model predicted */
	bool		predicted;		/* pred is filled */
	char	   *dump_path;
	char	   *list_path;
	double		phase_start;
	const char *phase;
	bool		phase_unrecorded;	/* its begin could not be recorded */
	selection	rules;			/* the selection: given, or as recorded */
	selres		chosen;			/* rules resolved in the snapshot */
	schema_toc_key *out_keys;	/* what the archive's lists leave out */
	schema_exclusion out;
} clone_ctx;

/*
 * A phase's status goes into the state file; resume trusts it, so a phase
 * whose begin or end cannot be recorded fails.
 */
static void
phase_begin(clone_ctx *c, const char *name)
{
	c->phase = name;
	c->phase_start = clock_now();
	c->phase_unrecorded = state_step_begin(c->st, name) != 0;
	log_debug("phase %s", name);
}

static int
phase_end(clone_ctx *c, int rc)
{
	double		secs = clock_now() - c->phase_start;

	if (c->phase_unrecorded)
		rc = -1;
	if (state_step_end(c->st, c->phase, rc == 0 ? STATE_DONE : STATE_FAILED, secs) != 0)
		rc = -1;
	report_add_phase(&c->rep, c->phase, secs);
	return rc;
}

/*
 * After preflight: a resume proves both sides are the databases the
 * interrupted run recorded; a fresh run records the source's identity
 * (the target's once it exists, in run_phases).
 */
static int
check_identities(clone_ctx *c)
{
	if (c->partial_target &&
		identity_check_id(c->st, SIDE_TARGET, &c->info.target_id, c->target) != 0)
		return -1;
	if (!c->o->resume)
		return identity_record(c->st, SIDE_SOURCE, &c->info.source_id);
	if (identity_check_id(c->st, SIDE_SOURCE, &c->info.source_id, c->source) != 0 ||
		identity_check_id(c->st, SIDE_TARGET, &c->info.target_id, c->target) != 0)
		return -1;
	return 0;
}

static int
do_preflight(clone_ctx *c)
{
	preflight_options po = {c->source, c->target, c->o->drop_if_exists,
	c->o->resume || c->partial_target, c->follow, c->toast, c->o->no_owner,
	c->o->no_acl, c->o->jobs, c->o->index_jobs, c->o->roles, true,
	&c->o->tablespaces, c->o->no_tablespaces, &c->rules, c->o->replica_identity_full};

	phase_begin(c, "preflight");
	if (preflight_run(&po, &c->info) != 0)
	{
		phase_end(c, -1);
		return c->info.unreachable ? RUN_FAILED : RUN_CHECK_FAILED;
	}
	if (!c->o->json)
		preflight_print(&c->info, false);
	phase_end(c, 0);
	if (c->intr.stop)
		return RUN_INTERRUPTED;
	if (check_identities(c) != 0)
		return RUN_FAILED;
	return RUN_OK;
}

/* Whether a resumed run may skip step: done, and in the same snapshot. */
static bool
step_done(clone_ctx *c, const char *step)
{
	char	   *status;
	bool		done;

	if (!c->o->resume || c->redo_all)
		return false;
	status = state_step_status(c->st, step);
	done = status && strcmp(status, STATE_DONE) == 0;
	free(status);
	if (done)
		log_info("%s: done in an earlier run, skipped", step);
	return done;
}

/*
 * A session on the target for the clone to change things through, proved
 * first to reach the target database recorded in the work directory
 * (never another one, never the source).  NULL (logged) otherwise.
 */
static PGconn *
open_target(clone_ctx *c)
{
	PGconn	   *tgt = conn_open(c->target, SIDE_TARGET);

	if (tgt && identity_check_conn(c->st, SIDE_TARGET, tgt, c->target) != 0)
	{
		PQfinish(tgt);
		return NULL;
	}
	return tgt;
}

/* One part of the database's own properties (dbprops.h); 0 or -1. */
static int
apply_dbprops(clone_ctx *c, dbprops_part part)
{
	char	   *work = str_printf("%s/database", c->o->dir);
	dbprops_opts o = {c->dump_path, work, c->info.source_db, c->info.target_db,
	{c->o->no_owner, c->o->no_acl, 1, false, &c->intr.stop, c->o->no_tablespaces}};
	PGconn	   *tgt = open_target(c);
	int			rc = tgt ? dbprops_apply(&c->info.tools, tgt, &o, part) : -1;

	PQfinish(tgt);
	free(work);
	return rc;
}

/* The renames of the selection, after everything is in (select.h). */
static int
do_rename(clone_ctx *c)
{
	PGconn	   *tgt;
	int			rc;

	if ((c->rules.nschema_renames == 0 && c->rules.ntable_renames == 0) ||
		step_done(c, "rename"))
		return 0;
	phase_begin(c, "rename");
	tgt = open_target(c);
	rc = tgt ? csel_rename(tgt, &c->rules) : -1;
	PQfinish(tgt);
	return phase_end(c, rc);
}

/* The database's properties but its owner, set last (dbprops.h). */
static int
do_database(clone_ctx *c)
{
	if (step_done(c, "database"))
		return 0;
	phase_begin(c, "database");
	return phase_end(c, apply_dbprops(c, DBPROPS_REST));
}

/*
 * The selection resolved in the clone's snapshot (selres.h), so the lists
 * and the copy leave out the same as the schema.  A problem preflight did
 * not see (the source changed since) stops the clone.  0 or -1 (logged).
 */
static int
resolve_selection(clone_ctx *c)
{
	PGconn	   *src;
	int			rc = 0;

	if (sel_is_empty(&c->rules) || c->out_keys)
		return 0;
	if ((src = conn_open(c->source, SIDE_SOURCE)) == NULL)
		return -1;
	if ((c->snapshot && snapshot_import(src, c->snapshot) != 0) ||
		selres_read(src, &c->rules, &c->chosen) != 0)
		rc = -1;
	PQfinish(src);
	for (int i = 0; rc == 0 && i < c->chosen.nproblems; i++)
		error("%s", c->chosen.problems[i]);
	if (rc == 0 && c->chosen.nproblems > 0)
		return -1;
	if (rc == 0)
	{
		c->out_keys = csel_toc_keys(&c->chosen, &c->out.nkeys);
		c->out.keys = c->out_keys;
	}
	return rc;
}

/* Pre-data, whole or without what the selection leaves out. */
static int
restore_pre_data(clone_ctx *c, const schema_restore_opts *ro)
{
	char	   *list;
	int			rc;

	if (c->out.nkeys == 0)
		return schema_restore_pre(&c->info.tools, c->target, c->dump_path, ro);
	list = str_printf("%s/pre-data.list", c->o->dir);
	rc = schema_write_selection_list(&c->info.tools, c->dump_path, list, &c->out);
	if (rc == 0)
		rc = schema_restore_pre_list(&c->info.tools, c->target, c->dump_path, list, ro);
	free(list);
	return rc;
}

/* Tablespaces of the restored objects of relkinds (tablespace.h). */
static int
place_in_tablespaces(clone_ctx *c, const char *relkinds)
{
	PGconn	   *tgt = open_target(c);
	int			rc = tgt ? tablespace_place(c->source, tgt, &c->o->tablespaces,
											c->o->no_tablespaces, relkinds) : -1;

	PQfinish(tgt);
	return rc;
}

/*
 * After pre-data, while the tables are empty: the columns the selection
 * leaves out dropped, the tables put in their tablespaces.
 */
static int
after_pre_data(clone_ctx *c)
{
	PGconn	   *tgt = open_target(c);
	int			rc = tgt ? csel_drop_columns(tgt, &c->rules) : -1;

	if (rc == 0 && !c->o->no_tablespaces)
		rc = tablespace_place(c->source, tgt, &c->o->tablespaces, false, "rpm");
	PQfinish(tgt);
	return rc;
}

static int
do_schema(clone_ctx *c)
{
	schema_restore_opts ro = {c->o->no_owner, c->o->no_acl, 1,
	c->o->resume || c->partial_target, &c->intr.stop,
	tablespace_restore_without(&c->o->tablespaces, c->o->no_tablespaces)};
	int			rc;

	if (step_done(c, "schema"))
		return 0;
	c->schema_started = true;
	phase_begin(c, "schema");
	rc = schema_dump(&c->info.tools, c->source, c->snapshot, c->dump_path,
					 &c->intr.stop);
	/* The owner before the objects, as pg_restore --create (dbprops.h). */
	if (rc == 0)
		rc = apply_dbprops(c, DBPROPS_OWNER);
	if (rc == 0)
		rc = restore_pre_data(c, &ro);
	if (rc == 0)
		rc = after_pre_data(c);
	return phase_end(c, rc);
}

/* The TOC keys of what pgcrane builds itself: indexes, then foreign keys. */
static schema_toc_key *
built_keys(const catalog *cat)
{
	schema_toc_key *keys = xcalloc((size_t) (cat->nindexes + cat->nfks) + 1,
								   sizeof(schema_toc_key));

	for (int i = 0; i < cat->nindexes; i++)
	{
		const cat_index *ix = &cat->indexes[i];

		keys[i].catalog = ix->con_oid ? SCHEMA_TOC_CONSTRAINT : SCHEMA_TOC_INDEX;
		keys[i].oid = ix->con_oid ? ix->con_oid : ix->oid;
	}
	for (int i = 0; i < cat->nfks; i++)
	{
		keys[cat->nindexes + i].catalog = SCHEMA_TOC_CONSTRAINT;
		keys[cat->nindexes + i].oid = cat->fks[i].oid;
	}
	return keys;
}

/*
 * Write the post-data list without what pgcrane builds, and keep in the
 * catalog only what the archive has an entry for.  A foreign key whose
 * referenced index is not built by pgcrane after all goes back to the
 * restore: the list is written again without it.
 */
static int
write_post_data_list(clone_ctx *c, const char *pub)
{
	catalog    *cat = &c->cat;
	int			nkeys = cat->nindexes + cat->nfks;
	schema_toc_key *keys = built_keys(cat);
	bool	   *found = xcalloc((size_t) nkeys + 1, sizeof(bool));
	bool		again = false;
	int			rc = schema_write_list(&c->info.tools, c->dump_path, c->list_path,
									   keys, nkeys, found, pub, &c->out);

	if (rc == 0)
	{
		int			nix = cat->nindexes;

		catalog_keep_indexes(cat, found);
		for (int i = 0; i < cat->nfks; i++)
		{
			bool		ref_kept = false;

			for (int j = 0; j < cat->nindexes && !ref_kept; j++)
				ref_kept = cat->indexes[j].oid == cat->fks[i].ref_index;
			again = again || (found[nix + i] && !ref_kept);
			found[nix + i] = found[nix + i] && ref_kept;
		}
		catalog_keep_fks(cat, found + nix);
	}
	free(keys);
	free(found);
	if (rc == 0 && again)
	{
		keys = built_keys(cat);
		nkeys = cat->nindexes + cat->nfks;
		found = xcalloc((size_t) nkeys + 1, sizeof(bool));
		rc = schema_write_list(&c->info.tools, c->dump_path, c->list_path,
							   keys, nkeys, found, pub, &c->out);
		free(keys);
		free(found);
	}
	return rc;
}

/* Read the catalog in the snapshot and write the post-data list. */
static int
do_catalog(clone_ctx *c)
{
	PGconn	   *src = conn_open(c->source, SIDE_SOURCE);
	state_follow f = {0};
	int			rc;

	if (src == NULL)
		return -1;
	/* No snapshot when a resume needs the catalog for the last steps only. */
	if ((c->snapshot && snapshot_import(src, c->snapshot) != 0) ||
		catalog_load(src, &c->cat) != 0 ||
		(c->out_keys && csel_apply_catalog(src, &c->rules, &c->chosen, &c->cat) != 0))
	{
		PQfinish(src);
		return -1;
	}
	PQfinish(src);
	tablespace_apply_catalog(&c->cat, &c->o->tablespaces, c->o->no_tablespaces);
	if (c->follow && state_load_follow(c->st, &f) != 0)
		return -1;
	rc = write_post_data_list(c, f.publication);
	state_follow_release(&f);
	return rc;
}

static int
do_data(clone_ctx *c)
{
	sched_config sc = {
		.source = c->source,.target = c->target,.snapshot = c->snapshot,
		.resume = c->o->resume && !c->redo_all,
		.jobs = c->o->jobs,.index_jobs = c->o->index_jobs,
		.split_bytes = predict_split_threshold(&c->cat, c->o->split_bytes, c->o->jobs),
		.cat = &c->cat,.st = c->st,
		.toast_compression = c->info.toast_default ? c->toast : NULL,
		.prog = &c->prog,.intr = &c->intr,
	};

	if (step_done(c, "data"))
		return 0;
	c->data_started = true;
	phase_begin(c, "data");
	c->prog.tables_total = c->cat.ntables;
	c->prog.indexes_total = c->cat.nindexes;
	c->prog.bytes_total += catalog_bytes(&c->cat);
	return phase_end(c, sched_run(&sc, &c->sres));
}

static int
do_sequences(clone_ctx *c)
{
	PGconn	   *src,
			   *tgt;
	int			rc = -1;

	phase_begin(c, "sequences");
	src = conn_open(c->source, SIDE_SOURCE);
	tgt = src ? conn_open(c->target, SIDE_TARGET) : NULL;
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
	c->o->resume, &c->intr.stop,
	tablespace_restore_without(&c->o->tablespaces, c->o->no_tablespaces)};
	int			rc;

	if (step_done(c, "post-data"))
		return 0;
	if (c->o->resume && targetdb_drop_partitioned_indexes(c->target, &c->cat) != 0)
		return -1;
	phase_begin(c, "post-data");
	rc = schema_restore_post(&c->info.tools, c->target, c->dump_path,
							 c->list_path, &ro);
	if (rc == 0 && !c->o->no_tablespaces)
		rc = place_in_tablespaces(c, "iI");
	return phase_end(c, rc);
}

static void
fill_report(clone_ctx *c, const char *status, double start)
{
	report	   *r = &c->rep;

	r->status = status;
	r->seconds = clock_now() - start;
	r->source = conn_redact(c->source);
	r->target = conn_redact(c->target);
	r->snapshot = c->snapshot ? xstrdup(c->snapshot) : NULL;
	r->sequences = c->cat.nsequences;
	r->large_objects = c->sres.large_objects;
	r->idle_seconds = c->sres.idle_seconds;
	r->workers = c->sres.workers;
	if (c->predicted)
	{
		r->predicted_seconds = c->pred.seconds;
		r->predicted_idle_seconds = c->pred.data.idle_seconds;
		for (int i = 0; i < r->nphases; i++)
			r->phases[i].predicted = predict_phase_seconds(&c->pred, r->phases[i].name);
	}
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

/*
 * What the follow changes on the source before its slot: REPLICA IDENTITY
 * FULL on the tables without one (--replica-identity-full; first, so the
 * slot's first change already carries whole rows), then the publication.
 * With selection rules, both concern only the tables whose rows the clone
 * copies (the publication is FOR TABLE those), resolved on src now.  0 or
 * -1 (logged).
 */
static int
prepare_source(clone_ctx *c, PGconn *src, const char *name)
{
	selres		r = SELRES_INIT;
	bool		with_rules = !sel_is_empty(&c->rules);
	int			rc = with_rules ? selres_read(src, &c->rules, &r) : 0;

	if (rc == 0 && c->o->replica_identity_full)
		rc = cdc_replident_set_full(c->st, src, with_rules ? &r : NULL);
	if (rc == 0)
		rc = cdc_publication_create(src, name, with_rules ? &r : NULL);
	selres_release(&r);
	return rc;
}

/*
 * For --follow: the names of the publication, slot and origin, made once
 * per clone and kept in the state file; the publication is created now.
 * A slot left by an earlier attempt of this clone is dropped: the new
 * snapshot must come from a new slot.
 */
static int
prepare_follow(clone_ctx *c, char **slot)
{
	state_follow f;
	char	   *name;
	PGconn	   *src;
	int			rc;

	if (state_load_follow(c->st, &f) != 0)
		return -1;
	name = f.slot;
	f.slot = NULL;
	state_follow_release(&f);
	if (name == NULL)
	{
		state_ddl	ddl = {(char *) (c->o->ddl ? c->o->ddl : "apply"), c->o->no_owner,
		c->o->no_acl};

		name = str_printf("pgcrane_%08x", (unsigned) (time(NULL) ^ (getpid() << 16)));
		f.slot = f.publication = f.origin = name;
		if (state_record_follow(c->st, &f) != 0 ||
			state_record_follow_ddl(c->st, &ddl) != 0)
		{
			free(name);
			return -1;
		}
	}
	src = conn_open(c->source, SIDE_SOURCE);
	if (src == NULL)
	{
		free(name);
		return -1;
	}
	rc = cdc_source_cleanup(src, name, NULL);
	if (rc == 0)
		rc = prepare_source(c, src, name);
	PQfinish(src);
	*slot = name;
	return rc;
}

/* Start a snapshot holder and record it. */
static int
new_snapshot(clone_ctx *c)
{
	snapshot_holder h;
	uint64_t	start_lsn = 0;
	char	   *slot = NULL;
	int			rc;

	if (c->follow && prepare_follow(c, &slot) != 0)
	{
		free(slot);
		return -1;
	}
	rc = snapshot_holder_start(c->source, c->o->dir, c->o->hold_seconds, slot, &h);
	free(slot);
	if (rc != 0)
		return -1;
	free(c->snapshot);
	c->snapshot = h.name;
	h.name = NULL;
	c->holder_pid = h.pid;
	rc = 0;
	if (h.lsn && !pgo_lsn_parse(h.lsn, &start_lsn))
		rc = error("invalid LSN \"%s\" of the replication slot", h.lsn);
	if (rc == 0)
		rc = state_record_snapshot(c->st, c->snapshot, h.pid, start_lsn);
	if (rc == 0 && h.lsn)
		log_info("replication slot created at %s", h.lsn);
	snapshot_holder_release(&h);
	if (rc != 0)
		return -1;
	log_info("snapshot \"%s\" exported on the source", c->snapshot);
	return 0;
}

/* Whether the recorded snapshot can still be imported. */
static bool
snapshot_usable(clone_ctx *c)
{
	PGconn	   *src;
	bool		ok = false;

	/* Unreadable (logged) is gone too: a new snapshot is always safe. */
	if (state_load_snapshot(c->st, &c->snapshot, &c->holder_pid) == 0 &&
		c->holder_pid && c->snapshot && snapshot_holder_alive(c->holder_pid) &&
		(src = conn_open(c->source, SIDE_SOURCE)) != NULL)
	{
		ok = snapshot_importable(src, c->snapshot);
		PQfinish(src);
	}
	return ok;
}

/* On resume: the same snapshot, or a new one and what that implies. */
static int
resume_snapshot(clone_ctx *c)
{
	char	   *data = state_step_status(c->st, "data");
	bool		data_done = data && strcmp(data, STATE_DONE) == 0;

	free(data);
	if (snapshot_usable(c))
	{
		log_info("resuming in the same snapshot \"%s\"", c->snapshot);
		return 0;
	}
	log_warning("the snapshot of the interrupted clone is gone");
	if (state_record_snapshot_restart(c->st) != 0)
		return -1;
	if (!data_done)
	{
		log_warning("rows were not all copied: the clone starts over from the schema in a new snapshot");
		c->redo_all = true;
		if (state_reset_progress(c->st) != 0)
			return -1;
	}
	else
	{
		/*
		 * Nothing left needs a snapshot.  With --follow the slot stays as
		 * it is: its position matches the rows copied.
		 */
		log_info("every row was copied in the old snapshot; the remaining steps do not need it");
		free(c->snapshot);
		c->snapshot = NULL;
		return 0;
	}
	return new_snapshot(c);
}

/*
 * With --follow, in a target database the clone just created: the
 * privileges applying changes needs there (the grants are per database),
 * checked before anything is copied, and how the follow will record its
 * progress.
 */
static int
check_follow_rights(clone_ctx *c)
{
	bool		table = c->info.progress_table;
	bool		ok = true;
	PGconn	   *tgt;
	int			rc = 0;

	if (c->created.db_oid)
	{
		if ((tgt = conn_open(c->target, SIDE_TARGET)) == NULL)
			return -1;
		rc = cdc_preflight_target(tgt, true, &ok, &table);
		PQfinish(tgt);
		if (rc == 0 && !ok)
			rc = -1;			/* each missing privilege is logged */
	}
	if (rc == 0)
		rc = state_record_follow_progress_table(c->st, table);
	return rc;
}

/*
 * The target database: created (or recreated) unless it is there, and its
 * identity recorded for every later command on the work directory.
 */
static int
do_target(clone_ctx *c)
{
	const db_identity *id = &c->info.target_id;
	int			rc;

	phase_begin(c, "target");
	rc = targetdb_prepare(c->target, &c->info, c->o->drop_if_exists && !c->o->resume,
						  &c->created);
	if (rc == 0 && c->created.db_oid)
		id = &c->created;
	if (rc == 0 && !c->o->resume)
		rc = identity_record(c->st, SIDE_TARGET, id);
	if (rc == 0 && c->created.db_oid)
		rc = state_record_target_created(c->st);
	if (rc == 0 && c->o->resume)
		rc = targetdb_end_leftovers(c->target);
	if (rc == 0 && c->follow)
		rc = check_follow_rights(c);
	return phase_end(c, rc);
}

static int
do_snapshot(clone_ctx *c)
{
	phase_begin(c, "snapshot");
	return phase_end(c, c->o->resume ? resume_snapshot(c) : new_snapshot(c));
}

/* The roles of the plan --roles makes, on both servers. */
static int
create_roles(clone_ctx *c, PGconn *src, PGconn *tgt)
{
	roles_plan	plan = ROLES_PLAN_INIT;
	int			rc = roles_plan_read(src, tgt, c->o->roles, c->info.roles_needed,
								 !c->o->no_owner, &plan);

	if (rc == 0)
		rc = roles_create(tgt, &plan, &c->roles_created);
	if (rc == 0)
		roles_plan_report(&plan, true);
	roles_plan_release(&plan);
	return rc;
}

/*
 * --roles: before anything else is written to the target, the roles it
 * lacks, from the target server's maintenance database (the target
 * database may not exist yet).
 */
static int
do_roles(clone_ctx *c)
{
	char	   *maint;
	PGconn	   *src,
			   *tgt = NULL;
	int			rc = -1;

	if (c->o->roles == ROLES_NONE || step_done(c, "roles"))
		return 0;
	phase_begin(c, "roles");
	maint = conn_with_dbname(c->target, "postgres");
	src = conn_open(c->source, SIDE_SOURCE);
	if (src && maint)
		tgt = conn_open(maint, SIDE_TARGET);
	if (src && tgt)
		rc = create_roles(c, src, tgt);
	if (src)
		PQfinish(src);
	if (tgt)
		PQfinish(tgt);
	free(maint);
	return phase_end(c, rc);
}

/*
 * What the cost model predicts for this clone, for the summary to set
 * against what each phase took (clone --plan prints the same).  Not on
 * resume: phases done earlier are skipped and the rest is partly done.
 */
static void
predict(clone_ctx *c)
{
	predict_options po = {
		.jobs = c->o->jobs,.index_jobs = c->o->index_jobs,
		.split_bytes = c->o->split_bytes,
		.toast_compression = c->info.toast_default ? c->toast : NULL,
		.roles = c->o->roles != ROLES_NONE,
		.renames = c->rules.nschema_renames > 0 || c->rules.ntable_renames > 0
	};

	if (!c->o->resume)
		c->predicted = predict_clone(&c->cat, &po, &c->pred) == 0;
}

/* Every phase after preflight, in order; stops at the first failure. */
static int
run_phases(clone_ctx *c)
{
	if (c->intr.stop || do_roles(c) != 0)
		return -1;
	if (c->intr.stop || do_target(c) != 0)
		return -1;
	if (c->intr.stop || do_snapshot(c) != 0)
		return -1;
	if (c->redo_all && targetdb_drop_foreign_keys(c->target) != 0)
		return -1;
	if (resolve_selection(c) != 0 || do_schema(c) != 0 || c->intr.stop)
		return -1;
	if (do_catalog(c) != 0)
		return -1;
	predict(c);
	if (do_data(c) != 0 || c->intr.stop)
		return -1;
	if (do_sequences(c) != 0 || c->intr.stop)
		return -1;
	if (do_post_data(c) != 0 || c->intr.stop)
		return -1;
	if (do_rename(c) != 0 || c->intr.stop)
		return -1;
	return do_database(c);
}

/*
 * After a clone that wrote much TOAST data with the target's pglz while
 * lz4 was there to take: say what --toast-compression would have saved.
 */
static void
hint_toast_compression(const clone_ctx *c)
{
	int64_t		toast = 0;
	char		size[32];

	if (c->toast || !c->info.toast_lz4 || !c->info.toast_default ||
		strcmp(c->info.toast_default, "pglz") != 0)
		return;
	for (int i = 0; i < c->cat.ntables; i++)
		toast += c->cat.tables[i].toast_bytes;
	if (toast < TOAST_HINT_MIN_BYTES || toast < catalog_bytes(&c->cat) / 4)
		return;
	str_format_size(toast, size, sizeof(size));
	log_info("%s of the rows were TOASTed values, compressed again by the target with pglz",
			 size);
	log_hint("--toast-compression=lz4 writes them several times faster.");
}

/*
 * After a large clone with several copy workers into a target whose WAL
 * buffers are small: the copy sessions wrote WAL faster than the WAL
 * writer emptied the buffers, and waited for each other to write it.
 */
static void
hint_wal_buffers(const clone_ctx *c)
{
	char		size[32];

	if (c->info.wal_buffers <= 0 || c->info.wal_buffers >= WAL_HINT_BUFFERS ||
		c->o->jobs < 2 || catalog_bytes(&c->cat) < WAL_HINT_MIN_BYTES)
		return;
	/* As SHOW spells it: "8MB", "1536kB". */
	if (c->info.wal_buffers % (1024 * 1024) == 0)
		snprintf(size, sizeof(size), "%lldMB", (long long) (c->info.wal_buffers / (1024 * 1024)));
	else
		snprintf(size, sizeof(size), "%lldkB", (long long) (c->info.wal_buffers / 1024));
	log_info("the target's wal_buffers is %s: copy sessions writing at once wait for each other to write WAL",
			 size);
	log_hint("Set wal_buffers = 64MB on the target for the clone (it takes a restart).");
}

/*
 * A fresh clone that failed before its first row was copied removes what
 * it created (rollback.h); the corrected command then runs again as it
 * is.
 */
static int
roll_back(clone_ctx *c)
{
	int			rc;

	snapshot_holder_stop(c->holder_pid);
	c->holder_pid = 0;
	rc = rollback_run(c->st, c->source, c->target, &c->info.source_id);
	/* Roles this very run created, and only those, go too. */
	if (rc == 0 && roles_drop_created(c->target, c->roles_created, &c->info.target_id) != 0)
		rc = -1;
	if (rc == 0)
		c->rolled_back = true;
	/* A database that was there before stays, with what was restored. */
	if (rc == 0 && c->created.db_oid == 0 && c->schema_started)
		rc = state_record_target_partial(c->st, true);
	return rc;
}

/* What a failed or interrupted run says about going on. */
static void
hint_after_failure(clone_ctx *c)
{
	char	   *resume = str_printf("pgcrane clone --resume --dir %s", c->o->dir);
	state_follow f = {0};

	if (c->rolled_back && c->created.db_oid == 0 && c->schema_started)
	{
		log_hint("Everything else this run created is gone; target database \"%s\" existed before and keeps part of the schema, which the same command with the same --dir restores again.",
				 c->info.target_db);
		free(resume);
		return;
	}
	if (c->rolled_back)
	{
		log_hint("Nothing this run created is left; correct the problem and run the same command again.");
		free(resume);
		return;
	}
	log_hint("Resume it with: %s", resume);
	if (c->follow && state_load_follow(c->st, &f) == 0 && f.slot != NULL)
		cdc_slot_report_left(c->source, f.slot, c->o->dir, resume);
	if (c->follow)
		state_follow_release(&f);
	free(resume);
}

static int
finish(clone_ctx *c, int rc, double start)
{
	const char *status = rc == 0 ? "ok" : c->intr.signo ? "interrupted" : "failed";

	if (rc != 0 && !c->o->resume && !c->intr.signo && !c->data_started &&
		roll_back(c) == 0)
		status = "rolled back";
	fill_report(c, status, start);
	if (state_record_clone_status(c->st, status) != 0 && rc == 0)
		rc = -1;
	if (rc == 0 && c->partial_target && state_record_target_partial(c->st, false) != 0)
		rc = -1;
	if (rc == 0)
		snapshot_holder_stop(c->holder_pid);
	if (c->o->json)
		report_print_json(&c->rep);
	else
		report_print_text(&c->rep);
	if (rc == 0 && !c->o->json)
	{
		hint_toast_compression(c);
		hint_wal_buffers(c);
	}
	if (rc == 0)
		return RUN_OK;
	if (c->intr.signo)
		log_info("clone interrupted in phase \"%s\"", c->phase ? c->phase : "setup");
	else
		error("clone failed in phase \"%s\"", c->phase ? c->phase : "setup");
	hint_after_failure(c);
	return c->intr.signo ? RUN_INTERRUPTED : RUN_FAILED;
}

/* clone --verify: compare the finished target with the source. */
static int
run_verify(clone_ctx *c)
{
	verify_options vo = VERIFY_OPTIONS_INIT;

	vo.source = c->source;
	vo.target = c->target;
	vo.jobs = c->o->jobs;
	vo.no_owner = c->o->no_owner;
	vo.no_acl = c->o->no_acl;
	vo.json = c->o->json;
	vo.st = c->st;
	vo.intr = &c->intr;
	vo.sel = &c->rules;
	log_info("verifying the target");
	return verify_run(&vo);
}

/* clone --follow: apply the changes made since the snapshot, until cutover. */
static int
run_follow(clone_ctx *c)
{
	follow_options fo = {c->source, c->target, c->st, &c->intr, c->o->json, 0, false, NULL,
		c->o->apply_jobs};

	log_info("following changes on the source; run \"pgcrane cutover --dir %s\" to finish",
			 c->o->dir);
	return follow_run(&fo);
}

/* Same connection as recorded?  Compared without passwords. */
static bool
same_endpoint(clone_ctx *c, const char *given, const char *recorded,
			  const char *key)
{
	char	   *redacted = conn_redact(given);
	bool		same = recorded && redacted && strcmp(recorded, redacted) == 0;

	if (!same)
	{
		error("--%s does not match the clone recorded in \"%s\"", key, c->o->dir);
		log_detail("The recorded %s is: %s", key, recorded ? recorded : "(none)");
	}
	free(redacted);
	return same;
}

/*
 * A fresh run on a directory whose last fresh run died (kill -9, a
 * reboot) before it copied a row: what that run created is removed first,
 * as a failed run removes it itself (rollback.h).  Rows copied make the
 * run resumable instead: it is left alone, and refused below.  1 when
 * something was removed, 0 when nothing was to be, -1 (logged) on error.
 */
static int
remove_leftovers(clone_ctx *c)
{
	char	   *phase;
	int			rc = state_load_follow_phase(c->st, &phase);
	int64_t		done = state_parts_done(c->st);
	db_identity source_id;

	if (rc < 0)
		return -1;
	rc = 0;
	if (phase == NULL && done == 0 && identity_load(c->st, SIDE_SOURCE, &source_id) == 1)
	{
		log_info("removing what an earlier run that copied no row left in \"%s\"", c->o->dir);
		rc = rollback_run(c->st, c->source, c->target, &source_id);
		if (rc != 0)
			log_hint("Give the --source and --target of that run, or use another --dir.");
		else if ((rc = state_record_clone_status(c->st, "rolled back")) == 0)
			rc = 1;
	}
	free(phase);
	return rc;
}

/*
 * A work directory whose replication slot was neither cut over with
 * --drop-slot nor cleaned up refuses a fresh clone: the new run would
 * forget the slot, which then holds WAL on the source for ever.  Also
 * true (logged) when the state cannot be read.
 */
static bool
follow_pending(clone_ctx *c)
{
	state_follow f;
	state_cutover cut;
	char	   *phase = NULL;
	bool		pending;

	if (state_load_follow(c->st, &f) != 0)
		return true;
	if (state_load_cutover(c->st, &cut) != 0 ||
		state_load_follow_phase(c->st, &phase) < 0)
	{
		state_follow_release(&f);
		state_cutover_release(&cut);
		return true;
	}
	pending = f.slot && f.slot[0] && cut.cleanup_done_at == NULL;
	if (pending)
	{
		error("work directory \"%s\" holds a follow whose replication slot \"%s\" still exists",
			  c->o->dir, f.slot);
		log_detail("Its follow is %s.", phase && strcmp(phase, FOLLOW_PHASE_DONE) == 0 ?
				   "cut over, but the slot was not dropped" : "not cut over");
		log_hint("Finish it with \"pgcrane cutover --dir %s --drop-slot\" or \"pgcrane cleanup --dir %s\", or use another --dir.",
				 c->o->dir, c->o->dir);
	}
	state_follow_release(&f);
	state_cutover_release(&cut);
	free(phase);
	return pending;
}

/*
 * Whether the directory records a fresh run that was rolled back but left
 * part of the schema in a target database that existed before, so that
 * the same command restores over it (once preflight proves, by identity,
 * that it is that database).  1, 0, or -1 (logged).
 */
static int
rolled_back_into(clone_ctx *c)
{
	return state_target_partial(c->st);
}

/* On resume: the recorded run's endpoints and options, unless given. */
static int
resume_endpoints(clone_ctx *c)
{
	state_run	run;
	int			rc = 0;

	if (state_load_run(c->st, &run) != 0)
		return -1;
	if ((c->source && !same_endpoint(c, c->source, run.source, "source")) ||
		(c->target && !same_endpoint(c, c->target, run.target, "target")))
		rc = -1;
	c->follow = c->follow || run.follow;
	if (rc == 0 && c->source == NULL)
	{
		c->source = c->owned_source = run.source;
		run.source = NULL;
	}
	if (rc == 0 && c->target == NULL)
	{
		c->target = c->owned_target = run.target;
		run.target = NULL;
	}
	if (rc == 0 && c->toast == NULL)
	{
		c->toast = c->owned_toast = run.toast_compression;
		run.toast_compression = NULL;
	}
	state_run_release(&run);
	return rc;
}

/*
 * Decide the endpoints: on resume they come from the state file unless
 * given (then they must match it); a fresh run refuses a directory that
 * holds an unfinished clone.
 */
static int
setup_endpoints(clone_ctx *c)
{
	char	   *status;
	bool		unfinished;

	if (state_load_clone_status(c->st, &status) < 0)
		return -1;
	unfinished = status && (strcmp(status, "running") == 0 ||
							strcmp(status, "failed") == 0 ||
							strcmp(status, "interrupted") == 0);
	free(status);
	/* A string that does not parse is reported once, before anything. */
	if ((c->source && !conn_check_string(c->source, SIDE_SOURCE)) ||
		(c->target && !conn_check_string(c->target, SIDE_TARGET)))
		return -1;
	if (!c->o->resume)
	{
		int			removed = unfinished ? remove_leftovers(c) : 0;
		int			partial;

		if (removed < 0)
			return -1;
		unfinished = unfinished && removed == 0;
		if (follow_pending(c))
			return -1;
		if ((partial = rolled_back_into(c)) < 0)
			return -1;
		c->partial_target = partial == 1;
		if (unfinished && state_has_plan(c->st))
		{
			error("work directory \"%s\" holds an unfinished clone", c->o->dir);
			log_hint("Resume it with \"pgcrane clone --resume --dir %s\", or use another --dir.",
					 c->o->dir);
			return -1;
		}
		return 0;
	}
	if (!unfinished)
		return error("work directory \"%s\" holds no unfinished clone to resume", c->o->dir);
	return resume_endpoints(c);
}

/*
 * The selection's rules: a fresh run records those given; a resume takes
 * those recorded.  0 or -1 (logged).
 */
static int
setup_rules(clone_ctx *c)
{
	char	   *text = NULL;
	char	   *msg = NULL;
	int			rc;

	if (!c->o->resume)
	{
		text = sel_format(&c->o->sel);
		rc = state_record_selection(c->st, text);
	}
	else
		rc = state_load_selection(c->st, &text) < 0 ? -1 : 0;
	if (rc == 0 && text && (msg = sel_parse_text(&c->rules, text, "the recorded selection")))
		rc = error("%s", msg);
	free(msg);
	free(text);
	return rc;
}

/* The run's endpoints (without passwords) and options.  0 or -1. */
static int
record_run(clone_ctx *c)
{
	state_run	run = {0};
	int			rc;

	run.source = conn_redact(c->source);
	run.target = conn_redact(c->target);
	run.toast_compression = c->toast ? xstrdup(c->toast) : NULL;
	run.follow = c->follow;
	rc = run.source && run.target ? 0 : -1;
	if (rc == 0)
		rc = state_record_run(c->st, &run, !c->o->resume);
	state_run_release(&run);
	if (rc == 0)
		rc = setup_rules(c);
	return rc;
}

static void
clone_ctx_release(clone_ctx *c)
{
	catalog_release(&c->cat);
	sched_result_release(&c->sres);
	preflight_info_release(&c->info);
	report_release(&c->rep);
	state_close(c->st);
	free(c->snapshot);
	free(c->owned_source);
	free(c->owned_target);
	free(c->owned_toast);
	free(c->dump_path);
	free(c->list_path);
	roles_free_names(c->roles_created);
	sel_release(&c->rules);
	selres_release(&c->chosen);
	free(c->out_keys);
}

run_status
clone_run(const clone_options *o)
{
	clone_ctx	c;
	double		start = clock_now();
	int			rc;

	memset(&c, 0, sizeof(c));
	c.o = o;
	c.source = o->source;
	c.target = o->target;
	c.follow = o->follow;
	c.toast = o->toast_compression;
	c.st = state_open(o->dir);
	if (c.st == NULL)
		return RUN_FAILED;
	c.dump_path = str_printf("%s/schema.dump", o->dir);
	c.list_path = str_printf("%s/post-data.list", o->dir);
	if (setup_endpoints(&c) != 0 || interrupt_start(&c.intr) != 0)
	{
		clone_ctx_release(&c);
		return RUN_FAILED;
	}
	if (record_run(&c) != 0)
	{
		clone_ctx_release(&c);
		return RUN_FAILED;
	}
	progress_init(&c.prog, o->json);
	rc = do_preflight(&c);
	if (rc != RUN_OK)
	{
		const char *status = c.intr.signo ? "preflight interrupted" :
			o->resume ? "failed" : "preflight failed";

		if (c.intr.signo)
		{
			log_info("clone interrupted in phase \"preflight\"; nothing was created");
			rc = RUN_INTERRUPTED;
		}
		if (state_record_clone_status(c.st, status) != 0 && rc == RUN_OK)
			rc = RUN_FAILED;
	}
	else
	{
		rc = finish(&c, run_phases(&c), start);
		if (rc == RUN_OK && o->verify)
			rc = run_verify(&c);
		if (rc == RUN_OK && c.follow)
			rc = run_follow(&c);
	}
	interrupt_stop(&c.intr);
	clone_ctx_release(&c);
	return rc;
}
