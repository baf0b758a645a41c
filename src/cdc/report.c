/*
 * report.c
 *		What follow records in the state, and how it is shown.
 *
 * The writer is follow.c, in the process that holds the work directory;
 * the readers are pgcrane status and pgcrane cutover, in others.  They
 * go through the state's typed facts (core/state.h): the follow's
 * progress, its figures and counts, the cutover.
 */
#include "cdc/report.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/keys.h"
#include "cdc/pgoutput.h"
#include "util/json.h"
#include "util/log.h"
#include "util/str.h"

/* The clone's steps, in the order they run. */
static const char *const clone_steps[] = {
	"preflight", "schema", "data", "sequences", "post-data"
};

#define NSTEPS (sizeof(clone_steps) / sizeof(clone_steps[0]))

void
cdc_report_format_time(time_t t, char *buf, size_t bufsize)
{
	struct tm	tm;

	gmtime_r(&t, &tm);
	strftime(buf, bufsize, "%Y-%m-%d %H:%M:%SZ", &tm);
}

bool
cdc_report_parse_time(const char *s, time_t *t)
{
	struct tm	tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	if (s == NULL || (end = strptime(s, "%Y-%m-%d %H:%M:%S", &tm)) == NULL ||
		strcmp(end, "Z") != 0)
		return false;
	*t = timegm(&tm);
	return true;
}

int
cdc_report_put_counts(state *st, int64_t transactions, int64_t changes,
					  int64_t missing_rows, uint64_t counted_lsn)
{
	state_counts c = {transactions, changes, missing_rows, counted_lsn};

	return state_record_follow_counts(st, &c);
}

int
cdc_report_put_figures(state *st, const follow_figures *f)
{
	char		now[32];
	state_figures sf = {
		.applied_lsn = f->applied_lsn,
		.durable_lsn = f->durable_lsn,
		.source_lsn = f->source_lsn,
		.lag_bytes = f->source_lsn == 0 ? -1 : f->source_lsn > f->applied_lsn
		? (int64_t) (f->source_lsn - f->applied_lsn) : 0,
		.lag_seconds = f->lag_seconds,
		.changes_per_second = f->changes_per_second,
	};

	cdc_report_format_time(time(NULL), now, sizeof(now));
	return state_record_follow_figures(st, &sf, now);
}

/*
 * What the report shows, read from st; 0, or -1 (logged: nothing to
 * show).  Release with report_data_release().
 */
typedef struct report_data
{
	char	   *status;			/* the clone's, NULL when absent */
	state_follow follow;
	state_progress p;
	state_cutover cut;
} report_data;

static void
report_data_release(report_data *d)
{
	free(d->status);
	state_follow_release(&d->follow);
	state_progress_release(&d->p);
	state_cutover_release(&d->cut);
}

static int
report_data_load(state *st, report_data *d)
{
	int			rc;

	memset(d, 0, sizeof(*d));
	rc = state_load_clone_status(st, &d->status) < 0 ? -1 : 0;
	if (rc == 0)
		rc = state_load_follow(st, &d->follow);
	if (rc == 0)
		rc = state_load_progress(st, &d->p);
	if (rc == 0)
		rc = state_load_cutover(st, &d->cut);
	if (rc != 0)
		report_data_release(d);
	return rc;
}

/* Append "name": value to a JSON object, the value a string or a number. */
static void
json_field(strbuf *sb, const char *name, const char *value, bool number)
{
	if (sb->len > 0 && sb->buf[sb->len - 1] != '{')
		strbuf_adds(sb, ", ");
	json_add_string(sb, name);
	strbuf_adds(sb, ": ");
	if (value == NULL || (number && value[0] == '\0'))
		strbuf_adds(sb, "null");
	else if (number)
		strbuf_adds(sb, value);
	else
		json_add_string(sb, value);
}

/* A number, null when absent. */
static void
json_int(strbuf *sb, const char *name, bool present, int64_t value)
{
	char		buf[32];

	snprintf(buf, sizeof(buf), "%" PRId64, value);
	json_field(sb, name, present ? buf : NULL, true);
}

/* A figure as the state records it (one decimal), null when absent. */
static void
json_figure(strbuf *sb, const char *name, bool present, double value)
{
	char		buf[32];

	snprintf(buf, sizeof(buf), "%.1f", value);
	json_field(sb, name, present ? buf : NULL, true);
}

/* An LSN as a string: null when absent, "" when recorded as not known. */
static void
json_lsn(strbuf *sb, const char *name, bool present, uint64_t lsn)
{
	char		buf[PGO_LSN_BUFSIZE];

	pgo_lsn_format(lsn, buf, sizeof(buf));
	json_field(sb, name, !present ? NULL : lsn ? buf : "", false);
}

/* The list of what was not carried as a JSON array of its lines. */
static void
json_lines(strbuf *sb, const char *name, const char *lines)
{
	const char *p = lines;
	bool		first = true;

	strbuf_adds(sb, ", ");
	json_add_string(sb, name);
	strbuf_adds(sb, ": [");
	while (p && *p)
	{
		size_t		len = strcspn(p, "\n");
		strbuf		line = STRBUF_INIT;

		if (!first)
			strbuf_adds(sb, ", ");
		strbuf_add(&line, p, len);
		json_add_string(sb, strbuf_str(&line));
		strbuf_release(&line);
		first = false;
		p += len + (p[len] == '\n');
	}
	strbuf_adds(sb, "]");
}

/* The text summary's list of what was not carried; true when it had one. */
static bool
print_not_carried(const char *lines)
{
	const char *p = lines;

	if (lines == NULL || lines[0] == '\0')
		return false;
	fprintf(stderr, "Not carried by the follow (do these by hand on the target):\n");
	while (*p)
	{
		size_t		len = strcspn(p, "\n");

		fprintf(stderr, "  %s%.*s\n", p[0] == ' ' ? "  " : "- ", (int) len,
				p[0] == ' ' ? p + 2 : p);
		p += len + (p[len] == '\n');
	}
	return true;
}

/* The refreshed materialized views ("name<TAB>seconds" lines) as JSON. */
static void
json_matviews(strbuf *sb, const char *lines)
{
	const char *p = lines;

	strbuf_adds(sb, ", \"refreshed\": [");
	while (p && *p)
	{
		size_t		len = strcspn(p, "\n");
		size_t		name = strcspn(p, "\t");
		strbuf		n = STRBUF_INIT;

		if (p != lines)
			strbuf_adds(sb, ", ");
		strbuf_add(&n, p, name < len ? name : len);
		strbuf_adds(sb, "{\"name\": ");
		json_add_string(sb, strbuf_str(&n));
		strbuf_addf(sb, ", \"seconds\": %.*s}", name < len ? (int) (len - name - 1) : 1,
					name < len ? p + name + 1 : "0");
		strbuf_release(&n);
		p += len + (p[len] == '\n');
	}
	strbuf_adds(sb, "]");
}

/* What the cutover carried beyond the stream, as three JSON objects. */
static void
json_carried(strbuf *sb, const state_cutover *cut)
{
	const state_carried *k = &cut->carried;
	char		buf[32];

	if (!cut->has_carried)
		return;
	strbuf_adds(sb, ", \"unlogged_tables\": {");
	json_int(sb, "copied", true, k->unlogged_tables);
	json_int(sb, "rows", true, k->unlogged_rows);
	strbuf_adds(sb, "}, \"materialized_views\": {");
	json_int(sb, "refreshed_count", true, k->matviews_refreshed);
	snprintf(buf, sizeof(buf), "%.3f", k->matviews_seconds);
	json_field(sb, "seconds", buf, true);
	json_int(sb, "not_refreshed", true, k->matviews_skipped);
	json_int(sb, "unpopulated", true, k->matviews_unpopulated);
	json_matviews(sb, k->matviews);
	strbuf_adds(sb, "}, \"large_objects\": {");
	json_int(sb, "copied", true, k->lo_copied);
	json_int(sb, "bytes", true, k->lo_bytes);
	json_int(sb, "unlinked", true, k->lo_unlinked);
	json_int(sb, "unchanged", true, k->lo_unchanged);
	strbuf_adds(sb, "}");
}

/* The refreshed materialized views, "name (0.12 s)" joined by ", ". */
static void
text_matviews(strbuf *sb, const char *lines)
{
	const char *p = lines;

	while (p && *p)
	{
		size_t		len = strcspn(p, "\n");
		size_t		name = strcspn(p, "\t");

		if (p != lines)
			strbuf_adds(sb, ", ");
		strbuf_add(sb, p, name < len ? name : len);
		if (name < len)
			strbuf_addf(sb, " (%.2f s)", strtod(p + name + 1, NULL));
		p += len + (p[len] == '\n');
	}
}

/* What the cutover carried beyond the stream, as lines of the text summary. */
static void
text_carried(const state_cutover *cut)
{
	const state_carried *k = &cut->carried;
	strbuf		mv = STRBUF_INIT;

	if (!cut->has_carried)
		return;
	fprintf(stderr, "  unlogged tables       %" PRId64 " copied again (%" PRId64 " rows)\n",
			k->unlogged_tables, k->unlogged_rows);
	text_matviews(&mv, k->matviews);
	fprintf(stderr, "  materialized views    %" PRId64 " refreshed in %.2f s%s%s",
			k->matviews_refreshed, k->matviews_seconds, mv.len ? ": " : "", strbuf_str(&mv));
	if (k->matviews_skipped > 0)
		fprintf(stderr, "; %" PRId64 " not refreshed", k->matviews_skipped);
	if (k->matviews_unpopulated > 0)
		fprintf(stderr, "; %" PRId64 " not populated on the source, left unpopulated",
				k->matviews_unpopulated);
	fprintf(stderr, "\n  large objects         %" PRId64 " copied (%" PRId64 " bytes), %" PRId64
			" unlinked, %" PRId64 " unchanged\n",
			k->lo_copied, k->lo_bytes, k->lo_unlinked, k->lo_unchanged);
	strbuf_release(&mv);
}

/* The summary of a finished cutover as JSON, on stdout. */
static void
cutover_json(const report_data *d)
{
	const state_progress *p = &d->p;
	strbuf		sb = STRBUF_INIT;

	strbuf_adds(&sb, "{");
	json_field(&sb, "status", "done", false);
	json_lsn(&sb, "cutover_lsn", true, d->cut.lsn);
	json_field(&sb, "done_at", d->cut.done_at ? d->cut.done_at : "", false);
	json_field(&sb, "started_at", p->started_at, false);
	json_int(&sb, "transactions", p->has_counts, p->counts.transactions);
	json_int(&sb, "changes", p->has_counts, p->counts.changes);
	json_int(&sb, "missing_rows", p->has_counts, p->counts.missing_rows);
	json_int(&sb, "sequences", p->sequences >= 0, p->sequences);
	json_carried(&sb, &d->cut);
	json_field(&sb, "slot", d->follow.slot ? d->follow.slot : "", false);
	json_field(&sb, "cleaned_up", d->cut.cleanup_done_at ? "true" : "false", true);
	json_lines(&sb, "not_carried", d->cut.not_carried);
	strbuf_adds(&sb, "}\n");
	fputs(strbuf_str(&sb), stdout);
	fflush(stdout);
	strbuf_release(&sb);
}

/* The summary of a finished cutover as text, on stderr. */
static void
cutover_text(const report_data *d, const char *dir)
{
	const state_progress *p = &d->p;
	char		lsn[PGO_LSN_BUFSIZE];

	pgo_lsn_format(d->cut.lsn, lsn, sizeof(lsn));
	fprintf(stderr, "\ncutover done at source LSN %s (%s)\n", d->cut.lsn ? lsn : "",
			d->cut.done_at ? d->cut.done_at : "");
	fprintf(stderr, "  transactions applied  %" PRId64 " (%" PRId64 " changes) since following began\n",
			p->counts.transactions, p->counts.changes);
	fprintf(stderr, "  sequences copied      %" PRId64 "\n",
			p->sequences > 0 ? p->sequences : 0);
	text_carried(&d->cut);
	if (p->counts.missing_rows > 0)
		fprintf(stderr, "  rows not found        %" PRId64 " (updates and deletes of rows the target did not have)\n",
				p->counts.missing_rows);
	if (print_not_carried(d->cut.not_carried))
		fprintf(stderr, "The target holds every row change (insert, update, delete, truncate) committed on the source before the cutover, and none of the changes listed above.\n");
	else
		fprintf(stderr, "The target holds every row change (insert, update, delete, truncate) committed on the source before the cutover.\n");
	if (d->cut.cleanup_done_at)
		fprintf(stderr, "The replication slot, publication and origin are dropped.\n");
	else
		fprintf(stderr, "Replication slot \"%s\" still exists on the source: drop it with \"pgcrane cleanup --dir %s\".\n",
				d->follow.slot ? d->follow.slot : "", dir);
}

void
cdc_report_print_cutover(state *st, bool json)
{
	report_data d;

	if (report_data_load(st, &d) != 0)
		return;
	if (json)
		cutover_json(&d);
	else
		cutover_text(&d, state_dir(st));
	report_data_release(&d);
}

/* A follow in this phase records every second. */
#define STALE_SECONDS 10

static bool
phase_is_active(const char *phase)
{
	return strcmp(phase, FOLLOW_PHASE_CATCHING_UP) == 0 ||
		strcmp(phase, FOLLOW_PHASE_STREAMING) == 0 ||
		strcmp(phase, FOLLOW_PHASE_CUTOVER) == 0 ||
		strcmp(phase, FOLLOW_PHASE_RECONNECTING) == 0;
}

/* Seconds since the follow's last update, -1 when unknown. */
static long
update_age(const state_progress *p)
{
	time_t		t;

	return cdc_report_parse_time(p->updated_at, &t) ? (long) (time(NULL) - t) : -1;
}

/* Lag in bytes: from the live source position when there is one. */
static int64_t
lag_bytes(const state_progress *p, uint64_t live, uint64_t *source)
{
	uint64_t	applied = p->figures.applied_lsn;

	*source = live ? live : p->figures.source_lsn;
	if (applied == 0 || *source == 0)
		return -1;
	return *source > applied ? (int64_t) (*source - applied) : 0;
}

/*
 * Whether the follow recorded in st runs now: the directory's lock is held
 * (lock 1, -1 unknown) by the process that recorded itself as the follow
 * (lock_pid, 0 when the lock file does not tell).
 */
static bool
follow_running(const state_progress *p, int lock, long lock_pid)
{
	return lock != 0 && (lock_pid == 0 || p->pid == 0 || lock_pid == p->pid);
}

static void
status_json_steps(strbuf *sb, state *st)
{
	strbuf_adds(sb, ", \"steps\": {");
	for (size_t i = 0; i < NSTEPS; i++)
	{
		char	   *s = state_step_status(st, clone_steps[i]);

		if (s)
			json_field(sb, clone_steps[i], s, false);
		free(s);
	}
	strbuf_adds(sb, "}");
}

static void
status_json(state *st, const report_data *d, uint64_t live, int lock, long lock_pid)
{
	const state_progress *p = &d->p;
	strbuf		sb = STRBUF_INIT;
	uint64_t	source;
	int64_t		lag = lag_bytes(p, live, &source);

	strbuf_adds(&sb, "{");
	json_field(&sb, "dir", state_dir(st), false);
	json_field(&sb, "clone_status", d->status, false);
	status_json_steps(&sb, st);
	json_field(&sb, "phase", p->phase, false);
	json_field(&sb, "running", lock < 0 ? NULL
			   : follow_running(p, lock, lock_pid) ? "true" : "false", true);
	json_lsn(&sb, "applied_lsn", p->has_figures, p->figures.applied_lsn);
	json_lsn(&sb, "durable_lsn", p->has_figures, p->figures.durable_lsn);
	json_lsn(&sb, "source_lsn", source != 0, source);
	json_field(&sb, "source_lsn_live", live ? "true" : "false", true);
	json_int(&sb, "lag_bytes", lag >= 0, lag);
	json_figure(&sb, "lag_seconds", p->has_figures, p->figures.lag_seconds);
	json_figure(&sb, "changes_per_second", p->has_figures, p->figures.changes_per_second);
	json_int(&sb, "transactions", p->has_counts, p->counts.transactions);
	json_int(&sb, "changes", p->has_counts, p->counts.changes);
	json_field(&sb, "updated_at", p->updated_at, false);
	json_int(&sb, "pid", p->pid != 0, p->pid);
	json_int(&sb, "reconnect_attempt", p->reconnect_attempt >= 0, p->reconnect_attempt);
	json_field(&sb, "last_error", p->last_error, false);
	json_field(&sb, "cutover_requested", d->cut.requested_at, false);
	json_lsn(&sb, "cutover_lsn", d->cut.lsn != 0, d->cut.lsn);
	json_field(&sb, "cutover_done_at", d->cut.done_at, false);
	json_field(&sb, "cleanup_done_at", d->cut.cleanup_done_at, false);
	strbuf_adds(&sb, "}\n");
	fputs(strbuf_str(&sb), stdout);
	strbuf_release(&sb);
}

/*
 * The follow's first status line: its phase and process, or that it is
 * gone when it recorded an active phase and no longer holds the lock.
 */
static void
status_text_phase(const state_progress *p, const char *dir, int lock, long lock_pid)
{
	long		age = update_age(p);

	if (phase_is_active(p->phase) && !follow_running(p, lock, lock_pid))
	{
		printf("follow:   not running (last seen %s", p->phase);
		if (age >= 0)
			printf(" %ld s ago", age);
		printf(", pid %" PRId64 " gone)\n", p->pid);
		if (lock_pid > 0)
			printf("  the work directory is held by pid %ld\n", lock_pid);
		else
			printf("  go on with: pgcrane follow --dir %s\n", dir);
		return;
	}
	printf("follow:   %s", p->phase);
	if (age >= 0)
		printf(" (pid %" PRId64 ", updated %ld s ago)", p->pid, age);
	if (age > STALE_SECONDS && phase_is_active(p->phase))
		printf("\n  no update for %ld s", age);
	printf("\n");
}

/* An LSN for the text status into buf, "-" when not known. */
static const char *
text_lsn(uint64_t lsn, char *buf, size_t size)
{
	if (lsn == 0)
		return "-";
	pgo_lsn_format(lsn, buf, size);
	return buf;
}

/* The follow's figures in the text status. */
static void
status_text_figures(const state_progress *p, uint64_t live)
{
	uint64_t	source;
	int64_t		lag = lag_bytes(p, live, &source);
	char		buf[PGO_LSN_BUFSIZE];
	char		size[32];

	printf("  applied LSN         %s\n", text_lsn(p->figures.applied_lsn, buf, sizeof(buf)));
	printf("  durable LSN         %s\n", text_lsn(p->figures.durable_lsn, buf, sizeof(buf)));
	printf("  source LSN          %s%s\n", text_lsn(source, buf, sizeof(buf)),
		   live ? " (now)" : source ? " (last recorded)" : "");
	str_format_size(lag, size, sizeof(size));
	if (p->has_figures)
		printf("  lag                 %s, %.1f s\n", lag >= 0 ? size : "-",
			   p->figures.lag_seconds);
	else
		printf("  lag                 %s, - s\n", lag >= 0 ? size : "-");
	if (p->has_figures)
		printf("  changes per second  %.1f\n", p->figures.changes_per_second);
	else
		printf("  changes per second  -\n");
	printf("  transactions        %" PRId64 " (%" PRId64 " changes)\n",
		   p->counts.transactions, p->counts.changes);
}

/* The follow part of the text status; nothing when there is no follow. */
static void
status_text_follow(const report_data *d, const char *dir, uint64_t live,
				   int lock, long lock_pid)
{
	const state_progress *p = &d->p;
	char		buf[PGO_LSN_BUFSIZE];

	if (p->phase != NULL)
	{
		status_text_phase(p, dir, lock, lock_pid);
		/* While reconnecting: which attempt, and what ended the last one. */
		if (strcmp(p->phase, FOLLOW_PHASE_RECONNECTING) == 0)
			printf("  reconnecting (attempt %" PRId64 ", last error: %s)\n",
				   p->reconnect_attempt > 0 ? p->reconnect_attempt : 0,
				   p->last_error && p->last_error[0] ? p->last_error : "-");
		status_text_figures(p, live);
	}
	if (d->cut.lsn)
		printf("cutover:  done at source LSN %s\n", text_lsn(d->cut.lsn, buf, sizeof(buf)));
	else if (d->cut.requested_at)
		printf("cutover:  requested at %s\n", d->cut.requested_at);
}

void
cdc_report_print_status(state *st, uint64_t live_source_lsn, bool json)
{
	report_data d;
	long		lock_pid;
	int			lock = state_lock_probe(state_dir(st), &lock_pid);

	if (report_data_load(st, &d) != 0)
		return;
	if (json)
		status_json(st, &d, live_source_lsn, lock, lock_pid);
	else
	{
		printf("work directory: %s\n", state_dir(st));
		printf("clone:    %s\n", d.status ? d.status : "not started");
		for (size_t i = 0; i < NSTEPS; i++)
		{
			char	   *s = state_step_status(st, clone_steps[i]);

			if (s)
				printf("  %-18s  %s\n", clone_steps[i], s);
			free(s);
		}
		status_text_follow(&d, state_dir(st), live_source_lsn, lock, lock_pid);
	}
	fflush(stdout);
	report_data_release(&d);
}
