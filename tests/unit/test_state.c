/*
 * test_state.c
 *		Unit tests of the state file's typed facts: each one round-trips,
 *		absent is told from present and from a failed read, a fact is
 *		written whole or not at all, a file of the key/value layout every
 *		earlier pgcrane wrote reads, the format number is kept and a file
 *		of a newer format is refused.
 *
 * Linked against core/state.c and the utilities it needs only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "core/state.h"
#include "util/str.h"

static char *
new_dir(void)
{
	char		tmpl[] = "/tmp/pgcrane-state-XXXXXX";
	char	   *dir = mkdtemp(tmpl);

	assert_non_null(dir);
	return xstrdup(dir);
}

static void
remove_dir(char *dir)
{
	char	   *cmd = str_printf("rm -rf '%s'", dir);

	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(dir);
}

/* Run sql on DIR/state.db through a connection of its own. */
static void
raw_sql(const char *dir, const char *sql)
{
	char	   *path = str_printf("%s/state.db", dir);
	sqlite3    *db;
	char	   *msg = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(db);
	free(path);
}

/* The raw value of key in DIR/state.db, NULL when absent; yours. */
static char *
raw_value(const char *dir, const char *key)
{
	char	   *path = str_printf("%s/state.db", dir);
	sqlite3    *db;
	sqlite3_stmt *stmt;
	char	   *v = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT value FROM kv WHERE key = ?", -1,
										&stmt, NULL), SQLITE_OK);
	sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		v = xstrdup((const char *) sqlite3_column_text(stmt, 0));
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	free(path);
	return v;
}

static void
assert_raw(const char *dir, const char *key, const char *expected)
{
	char	   *v = raw_value(dir, key);

	if (expected == NULL)
		assert_null(v);
	else
	{
		assert_non_null(v);
		assert_string_equal(v, expected);
	}
	free(v);
}

static int
file_format(const char *dir)
{
	char	   *path = str_printf("%s/state.db", dir);
	sqlite3    *db;
	sqlite3_stmt *stmt;
	int			v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL), SQLITE_OK);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		v = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	free(path);
	return v;
}

static void
set_format(const char *dir, int v)
{
	char	   *sql = str_printf("PRAGMA user_version = %d", v);

	raw_sql(dir, sql);
	free(sql);
}

/*
 * Make a write of key fail inside its transaction, as a full disk or an
 * I/O error would.
 */
static void
break_key(const char *dir, const char *key)
{
	char	   *sql = str_printf("CREATE TRIGGER broken BEFORE INSERT ON kv "
								 "WHEN NEW.key = '%s' BEGIN SELECT RAISE(ABORT, 'injected'); END",
								 key);

	raw_sql(dir, sql);
	free(sql);
}

/* Every read after this fails (the file lost its table of facts). */
static void
corrupt(const char *dir)
{
	raw_sql(dir, "DROP TABLE kv");
}

/* ---------- the run and its flags ---------- */

static void
test_run(void **unused)
{
	char	   *dir = new_dir();
	state	   *st = state_open(dir);
	state_run	run = {xstrdup("host=a"), xstrdup("host=b"), xstrdup("lz4"), true};
	state_run	back;
	char	   *status;

	(void) unused;
	assert_non_null(st);
	assert_int_equal(state_load_run(st, &back), 0);
	assert_null(back.source);
	assert_null(back.target);
	assert_null(back.toast_compression);
	assert_false(back.follow);
	assert_int_equal(state_load_clone_status(st, &status), 0);
	assert_null(status);

	assert_int_equal(state_record_target_created(st), 0);
	assert_int_equal(state_record_run(st, &run, true), 0);
	assert_int_equal(state_target_created(st), 0);	/* a fresh run forgets it */
	assert_int_equal(state_load_run(st, &back), 0);
	assert_string_equal(back.source, "host=a");
	assert_string_equal(back.target, "host=b");
	assert_string_equal(back.toast_compression, "lz4");
	assert_true(back.follow);
	state_run_release(&back);
	assert_int_equal(state_load_clone_status(st, &status), 1);
	assert_string_equal(status, "running");
	free(status);

	/* A resume without the options keeps them; it keeps the flag too. */
	free(run.toast_compression);
	run.toast_compression = NULL;
	run.follow = false;
	assert_int_equal(state_record_target_created(st), 0);
	assert_int_equal(state_record_run(st, &run, false), 0);
	assert_int_equal(state_target_created(st), 1);
	assert_int_equal(state_load_run(st, &back), 0);
	assert_string_equal(back.toast_compression, "lz4");
	assert_true(back.follow);
	state_run_release(&back);

	assert_int_equal(state_record_clone_status(st, "rolled back"), 0);
	assert_int_equal(state_load_clone_status(st, &status), 1);
	assert_string_equal(status, "rolled back");
	free(status);
	state_run_release(&run);
	state_close(st);
	remove_dir(dir);
}

static void
test_flags(void **unused)
{
	char	   *dir = new_dir();
	state	   *st = state_open(dir);

	(void) unused;
	assert_non_null(st);
	assert_int_equal(state_target_created(st), 0);
	assert_int_equal(state_target_partial(st), 0);
	assert_int_equal(state_large_objects_done(st), 0);
	assert_int_equal(state_record_target_created(st), 0);
	assert_int_equal(state_record_target_partial(st, true), 0);
	assert_int_equal(state_record_large_objects_done(st), 0);
	assert_int_equal(state_target_created(st), 1);
	assert_int_equal(state_target_partial(st), 1);
	assert_int_equal(state_large_objects_done(st), 1);
	assert_int_equal(state_record_target_partial(st, false), 0);
	assert_int_equal(state_target_partial(st), 0);
	assert_int_equal(state_record_target_partial(st, false), 0);
	state_close(st);
	assert_raw(dir, "target.created", "on");
	assert_raw(dir, "large_objects", "done");
	remove_dir(dir);
}

/* ---------- what follow changed, and how it records progress ---------- */

static void
test_replica_identities(void **unused)
{
	char	   *dir = new_dir();
	state	   *st = state_open(dir);
	state_replident in[3] = {{16384, 'd', 0}, {16390, 'n', 0}, {16400, 'i', 16402}};
	state_replident *out;
	int			n;

	(void) unused;
	assert_non_null(st);
	assert_int_equal(state_load_replica_identities(st, &out, &n), 0);
	assert_null(out);
	assert_int_equal(n, 0);
	assert_int_equal(state_record_replica_identities(st, in, 3), 0);
	assert_int_equal(state_load_replica_identities(st, &out, &n), 0);
	assert_int_equal(n, 3);
	for (int i = 0; i < 3; i++)
	{
		assert_int_equal(out[i].table_oid, in[i].table_oid);
		assert_int_equal(out[i].identity, in[i].identity);
		assert_int_equal(out[i].index_oid, in[i].index_oid);
	}
	free(out);
	assert_int_equal(state_record_replica_identities(st, NULL, 0), 0);
	assert_int_equal(state_load_replica_identities(st, &out, &n), 0);
	assert_null(out);
	assert_int_equal(n, 0);
	assert_int_equal(state_record_replica_identities(st, in, 1), 0);
	state_close(st);
	assert_raw(dir, "source.replica_identity", "16384 d 0\n");
	raw_sql(dir, "UPDATE kv SET value = '16384 x 0' WHERE key = 'source.replica_identity'");
	st = state_open(dir);
	assert_int_equal(state_load_replica_identities(st, &out, &n), -1);
	assert_null(out);
	state_close(st);
	remove_dir(dir);
}

static void
test_progress_table(void **unused)
{
	char	   *dir = new_dir();
	state	   *st = state_open(dir);

	(void) unused;
	assert_non_null(st);
	assert_int_equal(state_follow_progress_table(st), 0);
	assert_int_equal(state_record_follow_progress_table(st, true), 0);
	assert_int_equal(state_follow_progress_table(st), 1);
	assert_int_equal(state_record_follow_progress_table(st, false), 0);
	assert_int_equal(state_follow_progress_table(st), 0);
	assert_int_equal(state_record_follow_progress_table(st, true), 0);
	assert_int_equal(state_forget_created(st), 0);
	assert_int_equal(state_follow_progress_table(st), 0);
	state_close(st);
	remove_dir(dir);
}

/* ---------- identities, the snapshot, verify ---------- */

static void
test_identity(void **unused)
{
	char	   *dir = new_dir();
	state	   *st = state_open(dir);
	char	   *system,
			   *dbname;
	uint32_t	oid;

	(void) unused;
	assert_non_null(st);
	assert_int_equal(state_load_identity(st, STATE_TARGET, &system, &oid, &dbname), 0);
	assert_null(system);
	assert_int_equal(state_record_identity(st, STATE_TARGET, "7714461440400580929",
										   16384, "shop"), 0);
	assert_int_equal(state_load_identity(st, STATE_SOURCE, &system, &oid, &dbname), 0);
	assert_int_equal(state_load_identity(st, STATE_TARGET, &system, &oid, &dbname), 1);
	assert_string_equal(system, "7714461440400580929");
	assert_int_equal(oid, 16384);
	assert_string_equal(dbname, "shop");
	free(system);
	free(dbname);
	state_close(st);
	assert_raw(dir, "target.db_oid", "16384");
	remove_dir(dir);
}

static void
test_snapshot(void **unused)
{
	char	   *dir = new_dir();
	state	   *st = state_open(dir);
	state_follow f;
	char	   *name;
	int			pid;

	(void) unused;
	assert_non_null(st);
	assert_int_equal(state_load_snapshot(st, &name, &pid), 0);
	assert_null(name);
	assert_int_equal(pid, 0);
	assert_int_equal(state_record_snapshot(st, "00000003-1", 4242,
										   ((uint64_t) 0x1 << 32) | 0x5A0), 0);
	assert_int_equal(state_load_snapshot(st, &name, &pid), 0);
	assert_string_equal(name, "00000003-1");
	assert_int_equal(pid, 4242);
	free(name);
	assert_int_equal(state_load_snapshot(st, NULL, &pid), 0);
	assert_int_equal(pid, 4242);
	assert_int_equal(state_load_follow(st, &f), 0);
	assert_int_equal(f.start_lsn, ((uint64_t) 0x1 << 32) | 0x5A0);
	state_follow_release(&f);
	assert_int_equal(state_record_snapshot_restart(st), 0);
	assert_int_equal(state_record_snapshot_restart(st), 0);
	state_close(st);
	assert_raw(dir, "follow.start_lsn", "1/5A0");
	assert_raw(dir, "snapshot.restarts", "2");
	remove_dir(dir);
}

static void
test_verify(void **unused)
{
	char	   *dir = new_dir();
	state	   *st = state_open(dir);
	char	   *status,
			   *json;

	(void) unused;
	assert_non_null(st);
	assert_int_equal(state_load_verify(st, &status, &json), 0);
	assert_null(status);
	assert_null(json);
	assert_int_equal(state_record_verify(st, "ok", "{\"status\": \"ok\"}"), 0);
	assert_int_equal(state_load_verify(st, &status, &json), 1);
	assert_string_equal(status, "ok");
	assert_string_equal(json, "{\"status\": \"ok\"}");
	free(status);
	free(json);
	state_close(st);
	remove_dir(dir);
}

/* The selection's rules: recorded, read back, and forgotten with "". */
static void
test_selection(void **unused)
{
	char	   *dir = new_dir();
	state	   *st = state_open(dir);
	char	   *rules;

	(void) unused;
	assert_non_null(st);
	assert_int_equal(state_load_selection(st, &rules), 0);
	assert_null(rules);
	assert_int_equal(state_record_selection(st, "exclude table public.log\n"), 0);
	assert_int_equal(state_load_selection(st, &rules), 1);
	assert_string_equal(rules, "exclude table public.log\n");
	free(rules);
	state_close(st);
	assert_raw(dir, "clone.selection", "exclude table public.log\n");
	st = state_open(dir);
	assert_non_null(st);
	assert_int_equal(state_record_selection(st, ""), 0);
	assert_int_equal(state_load_selection(st, &rules), 0);
	assert_null(rules);
	state_close(st);
	remove_dir(dir);
}

/* ---------- following changes ---------- */

static void
test_follow_names_and_forget(void **unused)
{
	char	   *dir = new_dir();
	state	   *st = state_open(dir);
	state_follow f = {"pgcrane_1", "pgcrane_2", "pgcrane_3", 0};
	state_follow back;
	state_run	run = {xstrdup("s"), xstrdup("t"), NULL, true};
	state_run	rback;
	char	   *name;
	int			pid;

	(void) unused;
	assert_non_null(st);
	assert_int_equal(state_load_follow(st, &back), 0);
	assert_null(back.slot);
	assert_int_equal(back.start_lsn, 0);
	assert_int_equal(state_record_follow(st, &f), 0);
	assert_int_equal(state_load_follow(st, &back), 0);
	assert_string_equal(back.slot, "pgcrane_1");
	assert_string_equal(back.publication, "pgcrane_2");
	assert_string_equal(back.origin, "pgcrane_3");
	state_follow_release(&back);

	/* What a rolled-back run created is forgotten; its endpoints stay. */
	assert_int_equal(state_record_run(st, &run, true), 0);
	assert_int_equal(state_record_snapshot(st, "snap", 17, 0x100), 0);
	assert_int_equal(state_record_target_created(st), 0);
	assert_int_equal(state_forget_created(st), 0);
	assert_int_equal(state_load_follow(st, &back), 0);
	assert_null(back.slot);
	assert_null(back.origin);
	assert_int_equal(back.start_lsn, 0);
	assert_int_equal(state_load_snapshot(st, &name, &pid), 0);
	assert_null(name);
	assert_int_equal(state_target_created(st), 0);
	assert_int_equal(state_load_run(st, &rback), 0);
	assert_false(rback.follow);
	assert_string_equal(rback.source, "s");
	state_run_release(&rback);
	state_run_release(&run);
	state_close(st);
	remove_dir(dir);
}

static void
test_follow_progress(void **unused)
{
	char	   *dir = new_dir();
	state	   *st = state_open(dir);
	state_figures fig = {0x3000, 0x2000, 0, -1, 1.25, 30.0};
	state_counts counts = {12, 40, 1, 0x3000};
	state_progress p;
	char	   *phase;

	(void) unused;
	assert_non_null(st);
	assert_int_equal(state_load_follow_phase(st, &phase), 0);
	assert_null(phase);
	assert_int_equal(state_load_progress(st, &p), 0);
	assert_null(p.phase);
	assert_null(p.started_at);
	assert_int_equal(p.pid, 0);
	assert_int_equal(p.reconnect_attempt, -1);
	assert_false(p.has_figures);
	assert_false(p.has_counts);
	assert_int_equal(p.sequences, -1);

	assert_int_equal(state_record_follow_start(st, 321, "2026-11-21 10:16:38Z"), 0);
	assert_int_equal(state_record_follow_start(st, 322, "2026-11-22 10:16:38Z"), 0);
	assert_int_equal(state_record_follow_phase(st, "streaming"), 0);
	assert_int_equal(state_record_follow_figures(st, &fig, "2026-11-22 10:17:00Z"), 0);
	assert_int_equal(state_record_follow_counts(st, &counts), 0);
	assert_int_equal(state_record_follow_reconnect(st, 3, "server closed the connection"), 0);
	assert_int_equal(state_record_follow_reconnect(st, 0, NULL), 0);
	assert_int_equal(state_record_follow_alive(st, "2026-11-22 10:18:00Z"), 0);
	assert_int_equal(state_record_follow_sequences(st, 5), 0);
	assert_int_equal(state_record_follow_error(st, "see the messages of pgcrane follow"), 0);

	assert_int_equal(state_load_follow_phase(st, &phase), 1);
	assert_string_equal(phase, "streaming");
	free(phase);
	assert_int_equal(state_load_progress(st, &p), 0);
	assert_string_equal(p.phase, "streaming");
	assert_string_equal(p.started_at, "2026-11-21 10:16:38Z");	/* the first */
	assert_string_equal(p.updated_at, "2026-11-22 10:18:00Z");
	assert_string_equal(p.last_error, "server closed the connection");
	assert_int_equal(p.pid, 322);
	assert_int_equal(p.reconnect_attempt, 0);
	assert_true(p.has_figures);
	assert_int_equal(p.figures.applied_lsn, 0x3000);
	assert_int_equal(p.figures.durable_lsn, 0x2000);
	assert_int_equal(p.figures.source_lsn, 0);
	assert_int_equal(p.figures.lag_bytes, -1);
	assert_float_equal(p.figures.lag_seconds, 1.2, 0.11);
	assert_float_equal(p.figures.changes_per_second, 30.0, 0.01);
	assert_true(p.has_counts);
	assert_int_equal(p.counts.transactions, 12);
	assert_int_equal(p.counts.changes, 40);
	assert_int_equal(p.counts.missing_rows, 1);
	assert_int_equal(p.counts.counted_lsn, 0x3000);
	assert_int_equal(p.sequences, 5);
	state_progress_release(&p);
	state_close(st);
	/* The text every earlier pgcrane wrote, which tools read. */
	assert_raw(dir, "follow.applied_lsn", "0/3000");
	assert_raw(dir, "follow.source_lsn", "");
	assert_raw(dir, "follow.lag_bytes", "");
	assert_raw(dir, "follow.lag_seconds", "1.2");
	assert_raw(dir, "follow.counted_lsn", "0/3000");
	assert_raw(dir, "follow.error", "see the messages of pgcrane follow");
	remove_dir(dir);
}

static void
test_cutover_and_cleanup(void **unused)
{
	char	   *dir = new_dir();
	state	   *st = state_open(dir);
	state_cutover c;
	char		list[] = "public.a\t0.100\npublic.b\t0.025";
	state_carried carried = {
		.unlogged_tables = 2, .unlogged_rows = 300, .matviews_refreshed = 2,
		.matviews_unpopulated = 1, .matviews_seconds = 0.125, .matviews = list,
		.lo_copied = 3, .lo_bytes = 5000000000, .lo_unlinked = 1, .lo_unchanged = 7,
	};

	(void) unused;
	assert_non_null(st);
	assert_int_equal(state_load_cutover(st, &c), 0);
	assert_null(c.requested_at);
	assert_int_equal(c.lsn, 0);
	assert_null(c.cleanup_done_at);
	assert_int_equal(state_request_cutover(st, "2026-11-21 10:00:00Z"), 1);
	assert_int_equal(state_request_cutover(st, "2026-11-21 11:00:00Z"), 0);
	assert_int_equal(state_record_cutover_target(st, 0x4000), 0);
	assert_int_equal(state_load_cutover(st, &c), 0);
	assert_string_equal(c.requested_at, "2026-11-21 10:00:00Z");
	assert_int_equal(c.target_lsn, 0x4000);
	assert_int_equal(c.lsn, 0);
	assert_null(c.done_at);
	assert_true(c.refresh_matviews);
	assert_false(c.has_carried);
	state_cutover_release(&c);
	assert_int_equal(state_record_cutover_done(st, 0x4000, "2026-11-21 10:01:00Z",
											   &carried, "- DDL\n  none"), 0);
	assert_int_equal(state_record_cleanup_done(st, "2026-11-21 10:02:00Z"), 0);
	assert_int_equal(state_load_cutover(st, &c), 0);
	assert_int_equal(c.lsn, 0x4000);
	assert_string_equal(c.done_at, "2026-11-21 10:01:00Z");
	assert_string_equal(c.not_carried, "- DDL\n  none");
	assert_string_equal(c.cleanup_done_at, "2026-11-21 10:02:00Z");
	assert_true(c.has_carried);
	assert_int_equal(c.carried.unlogged_tables, 2);
	assert_int_equal(c.carried.unlogged_rows, 300);
	assert_int_equal(c.carried.matviews_refreshed, 2);
	assert_int_equal(c.carried.matviews_unpopulated, 1);
	assert_int_equal(c.carried.matviews_skipped, 0);
	assert_true(c.carried.matviews_seconds > 0.1249 && c.carried.matviews_seconds < 0.1251);
	assert_string_equal(c.carried.matviews, "public.a\t0.100\npublic.b\t0.025");
	assert_int_equal(c.carried.lo_copied, 3);
	assert_int_equal(c.carried.lo_bytes, 5000000000);
	assert_int_equal(c.carried.lo_unlinked, 1);
	assert_int_equal(c.carried.lo_unchanged, 7);
	state_cutover_release(&c);
	state_close(st);
	assert_raw(dir, "cutover.lsn", "0/4000");
	assert_raw(dir, "cutover.large_objects_bytes", "5000000000");
	remove_dir(dir);
}

/* --no-refresh-matviews is recorded with the request, and taken back. */
static void
test_cutover_refresh_matviews(void **unused)
{
	char	   *dir = new_dir();
	state	   *st = state_open(dir);
	state_cutover c;

	(void) unused;
	assert_non_null(st);
	assert_int_equal(state_record_cutover_refresh_matviews(st, false), 0);
	assert_int_equal(state_load_cutover(st, &c), 0);
	assert_false(c.refresh_matviews);
	state_cutover_release(&c);
	assert_int_equal(state_record_cutover_refresh_matviews(st, true), 0);
	assert_int_equal(state_load_cutover(st, &c), 0);
	assert_true(c.refresh_matviews);
	state_cutover_release(&c);
	state_close(st);
	remove_dir(dir);
}

/* ---------- failures ---------- */

/* A failed read is -1, never "absent"; a failed write is -1. */
static void
test_follow_ddl_and_columns(void **unused)
{
	char	   *dir = new_dir();
	state	   *st = state_open(dir);
	state_ddl	d = {"apply", true, false};
	state_ddl	got;
	char	   *cols;

	(void) unused;
	assert_non_null(st);
	assert_int_equal(state_load_follow_ddl(st, &got), 0);
	assert_null(got.mode);
	assert_int_equal(state_record_follow_ddl(st, &d), 0);
	assert_int_equal(state_load_follow_ddl(st, &got), 1);
	assert_string_equal(got.mode, "apply");
	assert_true(got.no_owner);
	assert_false(got.no_acl);
	state_ddl_release(&got);
	d.mode = "stop";
	d.no_owner = false;
	d.no_acl = true;
	assert_int_equal(state_record_follow_ddl(st, &d), 0);
	assert_int_equal(state_load_follow_ddl(st, &got), 1);
	assert_string_equal(got.mode, "stop");
	assert_false(got.no_owner);
	assert_true(got.no_acl);
	state_ddl_release(&got);

	assert_int_equal(state_load_follow_columns(st, 16384, &cols), 0);
	assert_null(cols);
	assert_int_equal(state_record_follow_columns(st, 16384, "1:2:id"), 0);
	assert_int_equal(state_record_follow_columns(st, 16390, "2:1:v"), 0);
	assert_int_equal(state_load_follow_columns(st, 16384, &cols), 1);
	assert_string_equal(cols, "1:2:id");
	free(cols);
	assert_int_equal(state_record_follow_columns(st, 16384, "1:2:id3:1:w"), 0);
	assert_int_equal(state_load_follow_columns(st, 16384, &cols), 1);
	assert_string_equal(cols, "1:2:id3:1:w");
	free(cols);
	state_close(st);
	remove_dir(dir);
}

static void
test_failed_read_is_not_absent(void **unused)
{
	char	   *dir = new_dir();
	state	   *st = state_open(dir);
	state_run	run;
	state_follow f;
	state_progress p;
	state_cutover c;
	char	   *s1,
			   *s2;
	uint32_t	oid;
	int			pid;

	(void) unused;
	assert_non_null(st);
	assert_int_equal(state_record_follow_phase(st, "streaming"), 0);
	corrupt(dir);
	assert_int_equal(state_load_run(st, &run), -1);
	assert_int_equal(state_load_clone_status(st, &s1), -1);
	assert_int_equal(state_load_identity(st, STATE_SOURCE, &s1, &oid, &s2), -1);
	assert_int_equal(state_load_snapshot(st, &s1, &pid), -1);
	assert_int_equal(state_target_created(st), -1);
	assert_int_equal(state_target_partial(st), -1);
	assert_int_equal(state_large_objects_done(st), -1);
	assert_int_equal(state_follow_progress_table(st), -1);
	assert_int_equal(state_load_verify(st, &s1, &s2), -1);
	assert_int_equal(state_load_follow(st, &f), -1);
	assert_int_equal(state_load_follow_phase(st, &s1), -1);
	assert_null(s1);
	assert_int_equal(state_load_progress(st, &p), -1);
	assert_int_equal(state_load_cutover(st, &c), -1);
	assert_int_equal(state_record_follow_phase(st, "stopped"), -1);
	assert_int_equal(state_request_cutover(st, "now"), -1);
	assert_int_equal(state_record_snapshot_restart(st), -1);
	state_close(st);
	remove_dir(dir);
}

/* A fact of several keys is all written or not at all. */
static void
test_fact_is_one_transaction(void **unused)
{
	char	   *dir = new_dir();
	state	   *st = state_open(dir);
	state_follow f = {"a", "b", "c", 0};
	state_counts counts = {1, 2, 3, 4};
	state_follow back;
	state_progress p;
	char	   *system,
			   *dbname;
	uint32_t	oid;

	(void) unused;
	assert_non_null(st);
	break_key(dir, "follow.origin");
	assert_int_equal(state_record_follow(st, &f), -1);
	assert_int_equal(state_load_follow(st, &back), 0);
	assert_null(back.slot);
	assert_null(back.publication);
	raw_sql(dir, "DROP TRIGGER broken");

	break_key(dir, "follow.counted_lsn");
	assert_int_equal(state_record_follow_counts(st, &counts), -1);
	assert_int_equal(state_load_progress(st, &p), 0);
	assert_false(p.has_counts);
	state_progress_release(&p);
	raw_sql(dir, "DROP TRIGGER broken");

	break_key(dir, "source.dbname");
	assert_int_equal(state_record_identity(st, STATE_SOURCE, "1", 5, "db"), -1);
	raw_sql(dir, "DROP TRIGGER broken");
	assert_int_equal(state_load_identity(st, STATE_SOURCE, &system, &oid, &dbname), 0);
	state_close(st);
	assert_raw(dir, "source.system", NULL);
	assert_raw(dir, "follow.transactions", NULL);
	remove_dir(dir);
}

/* Inside the plan's transaction a fact joins it rather than failing. */
static void
test_fact_inside_plan(void **unused)
{
	char	   *dir = new_dir();
	state	   *st = state_open(dir);

	(void) unused;
	assert_non_null(st);
	assert_int_equal(state_plan_begin(st), 0);
	assert_int_equal(state_record_large_objects_done(st), 0);
	assert_int_equal(state_large_objects_done(st), 1);
	assert_int_equal(state_plan_end(st), 0);
	assert_int_equal(state_large_objects_done(st), 1);
	state_close(st);
	remove_dir(dir);
}

/* ---------- the file's format ---------- */

/*
 * A file as the key/value versions of pgcrane wrote it (format 1, the
 * keys spelt by every module) reads through the facts.
 */
static void
test_reads_key_value_file(void **unused)
{
	char	   *dir = new_dir();
	state	   *st;
	state_run	run;
	state_follow f;
	state_progress p;
	state_cutover c;
	char	   *status;

	(void) unused;
	raw_sql(dir,
			"CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT);"
			"INSERT INTO kv VALUES ('source', 'host=src dbname=shop'),"
			" ('target', 'host=dst dbname=shop'), ('status', 'ok'), ('follow', 'on'),"
			" ('follow.slot', 'pgcrane_0abc'), ('follow.publication', 'pgcrane_0abc'),"
			" ('follow.origin', 'pgcrane_0abc'), ('follow.start_lsn', '0/1A2B3C8'),"
			" ('follow.phase', 'stopped'), ('follow.pid', '999'),"
			" ('follow.applied_lsn', '0/1B00000'), ('follow.durable_lsn', ''),"
			" ('follow.lag_seconds', '0.5'), ('follow.changes_per_second', '10.0'),"
			" ('follow.transactions', '7'), ('follow.changes', '9'),"
			" ('follow.missing_rows', '0'), ('follow.counted_lsn', '0/1B00000'),"
			" ('cutover.requested', '2026-11-21 10:16:38Z');"
			"PRAGMA user_version = 1;");
	st = state_open(dir);
	assert_non_null(st);
	assert_int_equal(state_load_run(st, &run), 0);
	assert_string_equal(run.source, "host=src dbname=shop");
	assert_true(run.follow);
	assert_null(run.toast_compression);
	state_run_release(&run);
	assert_int_equal(state_load_clone_status(st, &status), 1);
	assert_string_equal(status, "ok");
	free(status);
	assert_int_equal(state_load_follow(st, &f), 0);
	assert_string_equal(f.slot, "pgcrane_0abc");
	assert_int_equal(f.start_lsn, 0x1A2B3C8);
	state_follow_release(&f);
	assert_int_equal(state_load_progress(st, &p), 0);
	assert_string_equal(p.phase, "stopped");
	assert_int_equal(p.pid, 999);
	assert_int_equal(p.figures.applied_lsn, 0x1B00000);
	assert_int_equal(p.figures.durable_lsn, 0);
	assert_int_equal(p.counts.transactions, 7);
	state_progress_release(&p);
	assert_int_equal(state_load_cutover(st, &c), 0);
	assert_string_equal(c.requested_at, "2026-11-21 10:16:38Z");
	assert_int_equal(c.lsn, 0);
	state_cutover_release(&c);
	state_close(st);
	assert_int_equal(file_format(dir), 1);
	remove_dir(dir);
}

/* A recorded start that is not an LSN is an error, not "absent". */
static void
test_bad_start_lsn(void **unused)
{
	char	   *dir = new_dir();
	state	   *st = state_open(dir);
	state_follow f;

	(void) unused;
	assert_non_null(st);
	raw_sql(dir, "INSERT INTO kv VALUES ('follow.start_lsn', 'yesterday')");
	assert_int_equal(state_load_follow(st, &f), -1);
	assert_null(f.slot);
	state_close(st);
	remove_dir(dir);
}

/* A new file has the current format; an unnumbered one is brought to it. */
static void
test_format_numbered_and_migrated(void **unused)
{
	char	   *dir = new_dir();
	state	   *st = state_open(dir);
	char	   *status;

	(void) unused;
	assert_non_null(st);
	assert_int_equal(state_record_clone_status(st, "ok"), 0);
	state_close(st);
	assert_int_equal(file_format(dir), 1);
	set_format(dir, 0);
	st = state_open(dir);
	assert_non_null(st);
	assert_int_equal(state_load_clone_status(st, &status), 1);
	assert_string_equal(status, "ok");
	free(status);
	state_close(st);
	assert_int_equal(file_format(dir), 1);
	remove_dir(dir);
}

/* A file of a newer format is refused, by both ways of opening it. */
static void
test_newer_format_refused(void **unused)
{
	char	   *dir = new_dir();
	state	   *st = state_open(dir);

	(void) unused;
	assert_non_null(st);
	state_close(st);
	set_format(dir, 99);
	assert_null(state_open(dir));
	assert_null(state_open_shared(dir));
	assert_int_equal(file_format(dir), 99);
	remove_dir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_snapshot),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_replica_identities),
		cmocka_unit_test(test_progress_table),
		cmocka_unit_test(test_follow_names_and_forget),
		cmocka_unit_test(test_follow_progress),
		cmocka_unit_test(test_cutover_and_cleanup),
		cmocka_unit_test(test_cutover_refresh_matviews),
		cmocka_unit_test(test_follow_ddl_and_columns),
		cmocka_unit_test(test_failed_read_is_not_absent),
		cmocka_unit_test(test_fact_is_one_transaction),
		cmocka_unit_test(test_fact_inside_plan),
		cmocka_unit_test(test_reads_key_value_file),
		cmocka_unit_test(test_bad_start_lsn),
		cmocka_unit_test(test_format_numbered_and_migrated),
		cmocka_unit_test(test_newer_format_refused),
		cmocka_unit_test(test_selection),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
