/*
 * verify.c
 *		pgcrane verify: prove the target equals the source, and show where
 *		it does not.
 *
 * The run opens one pair of sessions (verify_session.h), which exports
 * each side's snapshot, compares the schema on it (verify_schema.h), then
 * the data (verify_data.h) on worker sessions that import those
 * snapshots, so the whole run sees one state of each database.  Every
 * difference goes into one report (verify_report.h), printed at the end
 * in a stable order, and recorded in the work directory's state.
 *
 * Run status: RUN_OK when nothing differs, RUN_CHECK_FAILED when
 * something does, RUN_FAILED when the comparison could not be completed;
 * differences found before an error are still printed, but no verdict.
 */
#include "verify/verify.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/conn.h"
#include "core/identity.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/str.h"
#include "verify/verify_data.h"
#include "verify/verify_report.h"
#include "verify/verify_schema.h"
#include "verify/verify_select.h"
#include "verify/verify_session.h"

/*
 * A database compared with itself is always "equal": that proves nothing,
 * so one database as both sides is refused, by identity (identity.h).
 */
static int
distinct_databases(vsession *s)
{
	db_identity a,
				b;
	char		buf[512];

	if (identity_read(s->src, SIDE_SOURCE, &a) != 0 ||
		identity_read(s->tgt, SIDE_TARGET, &b) != 0)
		return -1;
	if (!identity_same_database(&a, &b))
		return 0;
	error("the source and the target are the same database");
	log_detail("Both connections reach %s.", identity_describe(&a, buf, sizeof(buf)));
	return -1;
}

/* Compare what the options ask for, under rules; 0 or -1 (logged). */
static int
compare(const verify_options *o, const selection *rules, interrupt *intr,
		vreport *r)
{
	vsession	leader;
	vsel		vs = VSEL_INIT;
	int			ntables = 0;
	int64_t		nrows = 0;
	int			rc = 0;

	if (vsession_open(&leader, o->source, o->target, NULL, NULL, intr) != 0)
		return -1;
	if (distinct_databases(&leader) != 0 || vsel_init(&vs, leader.src, rules) != 0)
	{
		vsession_close(&leader);
		return -1;
	}
	if (!o->data_only)
	{
		vschema_options so = {o->no_owner, o->no_acl, &vs};

		rc = vschema_compare(&leader, &so, r, &ntables);
	}
	if (rc == 0 && !o->schema_only)
	{
		vdata_options d = {
			.source = o->source,
			.target = o->target,
			.jobs = o->jobs > 0 ? o->jobs : proc_cpu_count(),
			.max_rows = o->max_rows > 0 ? o->max_rows : VERIFY_DEFAULT_MAX_ROWS,
			.split_bytes = o->split_bytes == 0 ? VDATA_SPLIT_AUTO :
			o->split_bytes < 0 ? 0 : o->split_bytes,
			.report_objects = o->data_only,
			.intr = intr,
			.sel = &vs,
		};

		rc = vdata_compare(&leader, &d, r, &ntables, &nrows);
	}
	vreport_set_totals(r, ntables, nrows);
	vreport_set_excluded(r, vs.tables_out);
	vsel_release(&vs);
	vsession_close(&leader);
	return rc;
}

/* Record the result in the work directory's state; 0 or -1 (logged). */
static int
record(state *st, const char *status, const char *json)
{
	if (st == NULL)
		return 0;
	return state_record_verify(st, status, json);
}

/*
 * The rules verify applies: those given, else those the clone recorded
 * in the work directory (into *recorded, which the caller releases).
 * NULL when there are none; *bad set (logged) when unreadable.
 */
static const selection *
rules_of(const verify_options *o, state *st, selection *recorded, bool *bad)
{
	char	   *text = NULL;
	char	   *msg = NULL;

	*bad = false;
	if (o->sel && !sel_is_empty(o->sel))
		return o->sel;
	if (st == NULL)
		return NULL;
	if (state_load_selection(st, &text) < 0)
	{
		*bad = true;
		return NULL;
	}
	if (text && (msg = sel_parse_text(recorded, text, "the recorded selection")) != NULL)
	{
		error("%s", msg);
		*bad = true;
	}
	free(msg);
	free(text);
	return *bad ? NULL : recorded;
}

/* Compare, print, record; returns the run status. */
static int
run(const verify_options *o, state *st, interrupt *intr)
{
	double		start = clock_now();
	vreport    *r = vreport_new();
	strbuf		json = STRBUF_INIT;
	const char *status;
	selection	recorded = SELECTION_INIT;
	bool		bad;
	const selection *rules = rules_of(o, st, &recorded, &bad);
	int			rc = bad ? -1 : compare(o, rules, intr, r);

	if (rc != 0 && intr->stop)
		status = "interrupted";
	else if (rc != 0)
		status = "error";
	else
		status = vreport_count(r) == 0 ? "ok" : "different";
	vreport_json(r, status, clock_now() - start, &json);
	if (o->json)
		fputs(strbuf_str(&json), stdout);
	else
		vreport_print(r, stdout, rc == 0);
	fflush(stdout);
	if (record(st, status, strbuf_str(&json)) != 0 && rc == 0)
		rc = -1;
	log_debug("verify took %.3f s", clock_now() - start);
	if (rc == 0)
		rc = vreport_count(r) == 0 ? RUN_OK : RUN_CHECK_FAILED;
	else if (intr->stop)
	{
		log_info("verify interrupted");
		rc = RUN_INTERRUPTED;
	}
	else
		rc = RUN_FAILED;
	strbuf_release(&json);
	vreport_free(r);
	sel_release(&recorded);
	return rc;
}

run_status
verify_run(const verify_options *o)
{
	state	   *st = o->st;
	interrupt	own;
	interrupt  *intr = o->intr;
	int			rc;

	/* Open the state first: a directory another pgcrane holds fails fast. */
	if (st == NULL && o->dir && (st = state_open(o->dir)) == NULL)
		return RUN_FAILED;
	if (intr == NULL && interrupt_start(&own) == 0)
		intr = &own;
	if (intr == NULL)
		rc = RUN_FAILED;
	else if (st != o->st &&
			 (identity_check_recorded(st, SIDE_SOURCE, o->source) != 0 ||
			  identity_check_recorded(st, SIDE_TARGET, o->target) != 0))
		rc = RUN_FAILED;		/* --dir of another clone */
	else
		rc = run(o, st, intr);
	if (intr == &own)
		interrupt_stop(&own);
	if (st != o->st)
		state_close(st);
	return rc;
}
