/*
 * report.c
 *		What follow records in the state, and how it is shown.
 *
 * The writer is follow.c, in the process that holds the work directory;
 * the readers are pgcrane status and pgcrane cutover, in others.  Every
 * figure is one key, written as text, so that "sqlite3 DIR/state.db
 * 'SELECT * FROM kv'" shows them too.
 */
#include "cdc/report.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/carry.h"
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
cdc_report_put_int(state *st, const char *key, int64_t value)
{
	char		buf[32];

	snprintf(buf, sizeof(buf), "%" PRId64, value);
	return state_put(st, key, buf);
}

int64_t
cdc_report_get_int(state *st, const char *key, int64_t dflt)
{
	char	   *v = state_get(st, key);
	int64_t		n;

	if (v == NULL || !str_to_int64(v, &n))
		n = dflt;
	free(v);
	return n;
}

int
cdc_report_put_counts(state *st, int64_t transactions, int64_t changes,
					  int64_t missing_rows, uint64_t counted_lsn)
{
	static const char *const keys[] = {
		"follow.transactions", "follow.changes", "follow.missing_rows",
		"follow.counted_lsn"
	};
	char		v[4][32];
	const char *values[4] = {v[0], v[1], v[2], v[3]};

	snprintf(v[0], sizeof(v[0]), "%" PRId64, transactions);
	snprintf(v[1], sizeof(v[1]), "%" PRId64, changes);
	snprintf(v[2], sizeof(v[2]), "%" PRId64, missing_rows);
	pgo_lsn_format(counted_lsn, v[3], sizeof(v[3]));
	return state_put_many(st, keys, values, 4);
}

uint64_t
cdc_report_get_lsn(state *st, const char *key)
{
	char	   *v = state_get(st, key);
	uint64_t	lsn = 0;

	if (v == NULL || !pgo_lsn_parse(v, &lsn))
		lsn = 0;
	free(v);
	return lsn;
}

static int
put_lsn(state *st, const char *key, uint64_t lsn)
{
	char		buf[PGO_LSN_BUFSIZE];

	if (lsn == 0)
		return state_put(st, key, "");
	pgo_lsn_format(lsn, buf, sizeof(buf));
	return state_put(st, key, buf);
}

static int
put_double(state *st, const char *key, double value)
{
	char		buf[32];

	snprintf(buf, sizeof(buf), "%.1f", value);
	return state_put(st, key, buf);
}

int
cdc_report_put_figures(state *st, const follow_figures *f)
{
	char		now[32];
	int			failed = 0;

	failed |= put_lsn(st, "follow.applied_lsn", f->applied_lsn);
	failed |= put_lsn(st, "follow.durable_lsn", f->durable_lsn);
	failed |= put_lsn(st, "follow.source_lsn", f->source_lsn);
	if (f->source_lsn == 0)
		failed |= state_put(st, "follow.lag_bytes", "");
	else
		failed |= cdc_report_put_int(st, "follow.lag_bytes", f->source_lsn > f->applied_lsn
									 ? (int64_t) (f->source_lsn - f->applied_lsn) : 0);
	failed |= put_double(st, "follow.lag_seconds", f->lag_seconds);
	failed |= put_double(st, "follow.changes_per_second", f->changes_per_second);
	cdc_report_format_time(time(NULL), now, sizeof(now));
	failed |= state_put(st, FOLLOW_KEY_UPDATED_AT, now);
	return failed ? -1 : 0;
}

/* A key's value, or "" when absent; you own it. */
static char *
get_or_empty(state *st, const char *key)
{
	char	   *v = state_get(st, key);

	return v ? v : xstrdup("");
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

/* Append the state's key as a JSON field. */
static void
json_key(strbuf *sb, state *st, const char *name, const char *key, bool number)
{
	char	   *v = state_get(st, key);

	json_field(sb, name, v, number);
	free(v);
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

void
cdc_report_print_cutover(state *st, bool json)
{
	char	   *lsn = get_or_empty(st, CUTOVER_KEY_LSN);
	char	   *done = get_or_empty(st, CUTOVER_KEY_DONE_AT);
	char	   *slot = get_or_empty(st, FOLLOW_KEY_SLOT);
	char	   *cleaned = get_or_empty(st, CLEANUP_KEY_DONE_AT);
	char	   *uncarried = state_get(st, CUTOVER_KEY_NOT_CARRIED);
	int64_t		missing = cdc_report_get_int(st, "follow.missing_rows", 0);

	if (json)
	{
		strbuf		sb = STRBUF_INIT;

		strbuf_adds(&sb, "{");
		json_field(&sb, "status", "done", false);
		json_field(&sb, "cutover_lsn", lsn, false);
		json_field(&sb, "done_at", done, false);
		json_key(&sb, st, "started_at", "follow.started_at", false);
		json_key(&sb, st, "transactions", "follow.transactions", true);
		json_key(&sb, st, "changes", "follow.changes", true);
		json_key(&sb, st, "missing_rows", "follow.missing_rows", true);
		json_key(&sb, st, "sequences", "follow.sequences", true);
		json_field(&sb, "slot", slot, false);
		json_field(&sb, "cleaned_up", cleaned[0] ? "true" : "false", true);
		json_lines(&sb, "not_carried", uncarried);
		strbuf_adds(&sb, "}\n");
		fputs(strbuf_str(&sb), stdout);
		fflush(stdout);
		strbuf_release(&sb);
	}
	else
	{
		fprintf(stderr, "\ncutover done at source LSN %s (%s)\n", lsn, done);
		fprintf(stderr, "  transactions applied  %" PRId64 " (%" PRId64 " changes) since following began\n",
				cdc_report_get_int(st, "follow.transactions", 0),
				cdc_report_get_int(st, "follow.changes", 0));
		fprintf(stderr, "  sequences copied      %" PRId64 "\n",
				cdc_report_get_int(st, "follow.sequences", 0));
		if (missing > 0)
			fprintf(stderr, "  rows not found        %" PRId64 " (updates and deletes of rows the target did not have)\n",
					missing);
		if (print_not_carried(uncarried))
			fprintf(stderr, "The target holds every row change (insert, update, delete, truncate) committed on the source before the cutover, and none of the changes listed above.\n");
		else
			fprintf(stderr, "The target holds every row change (insert, update, delete, truncate) committed on the source before the cutover.\n");
		if (cleaned[0])
			fprintf(stderr, "The replication slot, publication and origin are dropped.\n");
		else
			fprintf(stderr, "Replication slot \"%s\" still exists on the source: drop it with \"pgcrane cleanup --dir %s\".\n",
					slot, state_dir(st));
	}
	free(lsn);
	free(done);
	free(slot);
	free(cleaned);
	free(uncarried);
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

/* Seconds since the time stored at key, -1 when unknown. */
static long
age_of(state *st, const char *key)
{
	char	   *v = state_get(st, key);
	time_t		t;
	long		age = -1;

	if (cdc_report_parse_time(v, &t))
		age = (long) (time(NULL) - t);
	free(v);
	return age;
}

/* Lag in bytes: from the live source position when there is one. */
static int64_t
lag_bytes(state *st, uint64_t live, uint64_t *source)
{
	char	   *applied_s = state_get(st, "follow.applied_lsn");
	char	   *source_s = state_get(st, "follow.source_lsn");
	uint64_t	applied = 0;
	int64_t		lag = -1;

	*source = live;
	if (*source == 0 && source_s)
		(void) pgo_lsn_parse(source_s, source);
	if (applied_s && pgo_lsn_parse(applied_s, &applied) && *source != 0)
		lag = *source > applied ? (int64_t) (*source - applied) : 0;
	free(applied_s);
	free(source_s);
	return lag;
}

/*
 * Whether the follow recorded in st runs now: the directory's lock is held
 * (lock 1, -1 unknown) by the process that recorded itself as the follow
 * (lock_pid, 0 when the lock file does not tell).
 */
static bool
follow_running(state *st, int lock, long lock_pid)
{
	int64_t		pid = cdc_report_get_int(st, FOLLOW_KEY_PID, 0);

	return lock != 0 && (lock_pid == 0 || pid == 0 || lock_pid == pid);
}

static void
status_json(state *st, uint64_t live, int lock, long lock_pid)
{
	strbuf		sb = STRBUF_INIT;
	uint64_t	source;
	int64_t		lag = lag_bytes(st, live, &source);
	char		buf[32];

	strbuf_adds(&sb, "{");
	json_field(&sb, "dir", state_dir(st), false);
	json_key(&sb, st, "clone_status", "status", false);
	strbuf_adds(&sb, ", \"steps\": {");
	for (size_t i = 0; i < NSTEPS; i++)
	{
		char	   *s = state_step_status(st, clone_steps[i]);

		if (s)
			json_field(&sb, clone_steps[i], s, false);
		free(s);
	}
	strbuf_adds(&sb, "}");
	json_key(&sb, st, "phase", FOLLOW_KEY_PHASE, false);
	json_field(&sb, "running", lock < 0 ? NULL
			   : follow_running(st, lock, lock_pid) ? "true" : "false", true);
	json_key(&sb, st, "applied_lsn", "follow.applied_lsn", false);
	json_key(&sb, st, "durable_lsn", "follow.durable_lsn", false);
	pgo_lsn_format(source, buf, sizeof(buf));
	json_field(&sb, "source_lsn", source ? buf : NULL, false);
	json_field(&sb, "source_lsn_live", live ? "true" : "false", true);
	snprintf(buf, sizeof(buf), "%" PRId64, lag);
	json_field(&sb, "lag_bytes", lag >= 0 ? buf : NULL, true);
	json_key(&sb, st, "lag_seconds", "follow.lag_seconds", true);
	json_key(&sb, st, "changes_per_second", "follow.changes_per_second", true);
	json_key(&sb, st, "transactions", "follow.transactions", true);
	json_key(&sb, st, "changes", "follow.changes", true);
	json_key(&sb, st, "updated_at", FOLLOW_KEY_UPDATED_AT, false);
	json_key(&sb, st, "pid", FOLLOW_KEY_PID, true);
	json_key(&sb, st, "reconnect_attempt", FOLLOW_KEY_RECONNECT_ATTEMPT, true);
	json_key(&sb, st, "last_error", FOLLOW_KEY_LAST_ERROR, false);
	json_key(&sb, st, "cutover_requested", CUTOVER_KEY_REQUESTED, false);
	json_key(&sb, st, "cutover_lsn", CUTOVER_KEY_LSN, false);
	json_key(&sb, st, "cutover_done_at", CUTOVER_KEY_DONE_AT, false);
	json_key(&sb, st, "cleanup_done_at", CLEANUP_KEY_DONE_AT, false);
	strbuf_adds(&sb, "}\n");
	fputs(strbuf_str(&sb), stdout);
	strbuf_release(&sb);
}

/*
 * The follow's first status line: its phase and process, or that it is
 * gone when it recorded an active phase and no longer holds the lock.
 */
static void
status_text_phase(state *st, const char *phase, int lock, long lock_pid)
{
	long		age = age_of(st, FOLLOW_KEY_UPDATED_AT);
	int64_t		pid = cdc_report_get_int(st, FOLLOW_KEY_PID, 0);

	if (phase_is_active(phase) && !follow_running(st, lock, lock_pid))
	{
		printf("follow:   not running (last seen %s", phase);
		if (age >= 0)
			printf(" %ld s ago", age);
		printf(", pid %" PRId64 " gone)\n", pid);
		if (lock_pid > 0)
			printf("  the work directory is held by pid %ld\n", lock_pid);
		else
			printf("  go on with: pgcrane follow --dir %s\n", state_dir(st));
		return;
	}
	printf("follow:   %s", phase);
	if (age >= 0)
		printf(" (pid %" PRId64 ", updated %ld s ago)", pid, age);
	if (age > STALE_SECONDS && phase_is_active(phase))
		printf("\n  no update for %ld s", age);
	printf("\n");
}

/* While reconnecting: which attempt, and what ended the last one. */
static void
status_text_reconnecting(state *st)
{
	char	   *err = get_or_empty(st, FOLLOW_KEY_LAST_ERROR);

	printf("  reconnecting (attempt %" PRId64 ", last error: %s)\n",
		   cdc_report_get_int(st, FOLLOW_KEY_RECONNECT_ATTEMPT, 0),
		   err[0] ? err : "-");
	free(err);
}

/* The follow part of the text status; nothing when there is no follow. */
static void
status_text_follow(state *st, uint64_t live, int lock, long lock_pid)
{
	char	   *phase = state_get(st, FOLLOW_KEY_PHASE);
	char	   *applied = get_or_empty(st, "follow.applied_lsn");
	char	   *durable = get_or_empty(st, "follow.durable_lsn");
	char	   *lag_s = get_or_empty(st, "follow.lag_seconds");
	char	   *rate = get_or_empty(st, "follow.changes_per_second");
	char	   *req = state_get(st, CUTOVER_KEY_REQUESTED);
	char	   *cut = state_get(st, CUTOVER_KEY_LSN);
	uint64_t	source;
	int64_t		lag = lag_bytes(st, live, &source);
	char		buf[PGO_LSN_BUFSIZE];
	char		size[32];

	if (phase != NULL)
	{
		status_text_phase(st, phase, lock, lock_pid);
		if (strcmp(phase, FOLLOW_PHASE_RECONNECTING) == 0)
			status_text_reconnecting(st);
		printf("  applied LSN         %s\n", applied[0] ? applied : "-");
		printf("  durable LSN         %s\n", durable[0] ? durable : "-");
		pgo_lsn_format(source, buf, sizeof(buf));
		printf("  source LSN          %s%s\n", source ? buf : "-",
			   live ? " (now)" : source ? " (last recorded)" : "");
		str_format_size(lag, size, sizeof(size));
		printf("  lag                 %s, %s s\n", lag >= 0 ? size : "-",
			   lag_s[0] ? lag_s : "-");
		printf("  changes per second  %s\n", rate[0] ? rate : "-");
		printf("  transactions        %" PRId64 " (%" PRId64 " changes)\n",
			   cdc_report_get_int(st, "follow.transactions", 0),
			   cdc_report_get_int(st, "follow.changes", 0));
	}
	if (cut)
		printf("cutover:  done at source LSN %s\n", cut);
	else if (req)
		printf("cutover:  requested at %s\n", req);
	free(phase);
	free(applied);
	free(durable);
	free(lag_s);
	free(rate);
	free(req);
	free(cut);
}

void
cdc_report_print_status(state *st, uint64_t live_source_lsn, bool json)
{
	char	   *status;
	long		lock_pid;
	int			lock = state_lock_probe(state_dir(st), &lock_pid);

	if (json)
	{
		status_json(st, live_source_lsn, lock, lock_pid);
		fflush(stdout);
		return;
	}
	status = state_get(st, "status");
	printf("work directory: %s\n", state_dir(st));
	printf("clone:    %s\n", status ? status : "not started");
	for (size_t i = 0; i < NSTEPS; i++)
	{
		char	   *s = state_step_status(st, clone_steps[i]);

		if (s)
			printf("  %-18s  %s\n", clone_steps[i], s);
		free(s);
	}
	free(status);
	status_text_follow(st, live_source_lsn, lock, lock_pid);
	fflush(stdout);
}
