/*
 * state.c
 *		The work directory's SQLite file.
 *
 * Schema (see state.h for what it is for):
 *   kv(key, value)                       the facts of the run, as text
 *                                        (the keys are spelt below only)
 *   step(name, status, started, finished, seconds)
 *   tables(oid, name, bytes, nparts, format, analyzed)
 *   parts(table_oid, partno, first_block, end_block, status, rows, bytes, seconds)
 *   indexes(oid, table_oid, name, status, seconds)
 *
 * The database uses WAL journaling and synchronous=NORMAL: a crash of the
 * machine may lose the last few status updates, which only makes a resume
 * redo a little more work, never skip work.
 */
#include "core/state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "util/str.h"

struct state
{
	sqlite3    *db;
	char	   *dir;
	int			lockfd;
	pthread_mutex_t lock;
};

static const char *const schema_sql =
"CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT);"
"CREATE TABLE IF NOT EXISTS step (name TEXT PRIMARY KEY, status TEXT,"
"  started TEXT, finished TEXT, seconds REAL);"
"CREATE TABLE IF NOT EXISTS tables (oid INTEGER PRIMARY KEY, name TEXT,"
"  bytes INTEGER, nparts INTEGER, format TEXT, analyzed INTEGER DEFAULT 0);"
"CREATE TABLE IF NOT EXISTS parts (table_oid INTEGER, partno INTEGER,"
"  first_block INTEGER, end_block INTEGER, status TEXT DEFAULT 'pending',"
"  rows INTEGER, bytes INTEGER, seconds REAL,"
"  PRIMARY KEY (table_oid, partno));"
"CREATE TABLE IF NOT EXISTS indexes (oid INTEGER PRIMARY KEY,"
"  table_oid INTEGER, name TEXT, status TEXT DEFAULT 'pending', seconds REAL);"
"CREATE TABLE IF NOT EXISTS foreign_keys (oid INTEGER PRIMARY KEY,"
"  table_oid INTEGER, name TEXT, status TEXT DEFAULT 'pending', seconds REAL);";

static int
take_lock(state *st)
{
	char	   *path = str_printf("%s/pgcrane.lock", st->dir);
	char		pid[32];

	st->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (st->lockfd < 0)
	{
		error("could not open lock file \"%s\": %s", path, strerror(errno));
		free(path);
		return -1;
	}
	/*
	 * A snapshot holder tests the lock now and then with a shared lock of
	 * its own for a moment: try for a while before calling it busy.
	 */
	for (int i = 0; i < 40 && flock(st->lockfd, LOCK_EX | LOCK_NB) != 0; i++)
		usleep(50 * 1000);
	if (flock(st->lockfd, LOCK_EX | LOCK_NB) != 0)
	{
		char		other[32] = "";
		ssize_t		n = pread(st->lockfd, other, sizeof(other) - 1, 0);

		if (n > 0)
			other[n] = '\0';
		error("work directory \"%s\" is in use by another pgcrane (pid %s)",
			  st->dir, other[0] ? other : "unknown");
		free(path);
		return -1;
	}
	snprintf(pid, sizeof(pid), "%ld", (long) getpid());
	if (ftruncate(st->lockfd, 0) != 0 ||
		pwrite(st->lockfd, pid, strlen(pid), 0) < 0)
		log_warning("could not write lock file \"%s\": %s", path, strerror(errno));
	free(path);
	return 0;
}

static state *state_open_mode(const char *dir, bool lock);

/* The pid a holder wrote in the lock file open as fd, or 0. */
static long
lock_file_pid(int fd)
{
	char		buf[32];
	ssize_t		n = pread(fd, buf, sizeof(buf) - 1, 0);
	long		pid = 0;

	if (n > 0)
	{
		buf[n] = '\0';
		int			v;

		buf[strcspn(buf, "\n")] = '\0';
		if (str_to_int(buf, 1, 1 << 30, &v))
			pid = v;
	}
	return pid;
}

int
state_lock_probe(const char *dir, long *pid)
{
	char	   *path = str_printf("%s/pgcrane.lock", dir);
	int			fd = open(path, O_RDONLY | O_CLOEXEC);
	int			held;

	if (pid)
		*pid = 0;
	if (fd < 0)
	{
		held = errno == ENOENT ? 0 : -1;
		if (held < 0)
			error("could not open lock file \"%s\": %s", path, strerror(errno));
		free(path);
		return held;
	}
	free(path);
	/* A new open file description: its lock conflicts with the holder's. */
	if (flock(fd, LOCK_SH | LOCK_NB) == 0)
		held = 0;				/* closing fd lets go of it at once */
	else if (errno == EWOULDBLOCK)
		held = 1;
	else
		held = error("could not test the lock of work directory \"%s\": %s",
					 dir, strerror(errno));
	if (held == 1 && pid)
		*pid = lock_file_pid(fd);
	close(fd);
	return held;
}

static int
exec_sql(state *st, const char *sql)
{
	char	   *msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK)
	{
		error("could not update state file in \"%s\": %s", st->dir,
			  msg ? msg : sqlite3_errmsg(st->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

state *
state_open(const char *dir)
{
	return state_open_mode(dir, true);
}

state *
state_open_shared(const char *dir)
{
	struct stat sb;
	char	   *path = str_printf("%s/state.db", dir);
	bool		exists = stat(path, &sb) == 0;

	free(path);
	if (!exists)
	{
		error("no pgcrane work directory at \"%s\"", dir);
		return NULL;
	}
	return state_open_mode(dir, false);
}

/*
 * The format of the state file, in SQLite's user_version.  A file of an
 * older format is brought up to this one, step by step, when opened; a
 * file of a newer one (written by a newer pgcrane) is refused, since this
 * pgcrane cannot know what it means.
 *
 *   0  written before the format was numbered (the same tables as 1)
 *   1  kv, step, tables, parts, indexes, foreign_keys
 */
#define STATE_FORMAT 1

static int
read_format(state *st, int *format)
{
	sqlite3_stmt *stmt;
	int			rc = -1;

	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &stmt, NULL) == SQLITE_OK)
	{
		if (sqlite3_step(stmt) == SQLITE_ROW)
		{
			*format = sqlite3_column_int(stmt, 0);
			rc = 0;
		}
		sqlite3_finalize(stmt);
	}
	if (rc != 0)
		error("could not read state file in \"%s\": %s", st->dir, sqlite3_errmsg(st->db));
	return rc;
}

static int
migrate(state *st)
{
	int			format;
	char		sql[64];

	if (read_format(st, &format) != 0)
		return -1;
	if (format > STATE_FORMAT)
	{
		error("the state file in \"%s\" has format %d, newer than this pgcrane's (%d)",
			  st->dir, format, STATE_FORMAT);
		log_hint("Use the pgcrane that wrote it, or another --dir.");
		return -1;
	}
	if (format == STATE_FORMAT)
		return 0;
	/* 0 -> 1: the same tables; only the number is new. */
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", STATE_FORMAT);
	return exec_sql(st, sql);
}

static state *
state_open_mode(const char *dir, bool lock)
{
	state	   *st = xcalloc(1, sizeof(state));
	char	   *path;

	st->dir = xstrdup(dir);
	st->lockfd = -1;
	pthread_mutex_init(&st->lock, NULL);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
	{
		error("could not create work directory \"%s\": %s", dir, strerror(errno));
		state_close(st);
		return NULL;
	}
	if (lock && take_lock(st) != 0)
	{
		state_close(st);
		return NULL;
	}
	path = str_printf("%s/state.db", dir);
	if (sqlite3_open(path, &st->db) != SQLITE_OK)
	{
		error("could not open state file \"%s\": %s", path,
			  st->db ? sqlite3_errmsg(st->db) : "out of memory");
		free(path);
		state_close(st);
		return NULL;
	}
	free(path);
	sqlite3_busy_timeout(st->db, 5000);
	if (exec_sql(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;") != 0 ||
		exec_sql(st, schema_sql) != 0 || migrate(st) != 0)
	{
		state_close(st);
		return NULL;
	}
	return st;
}

void
state_close(state *st)
{
	if (st == NULL)
		return;
	if (st->db)
		sqlite3_close(st->db);
	if (st->lockfd >= 0)
		close(st->lockfd);		/* releases the flock */
	pthread_mutex_destroy(&st->lock);
	free(st->dir);
	free(st);
}

const char *
state_dir(const state *st)
{
	return st->dir;
}

/*
 * Run one statement with bound values.  fmt describes the values: 't' text,
 * 'i' int64, 'd' double.  Called with the mutex held.
 */
static int
run_bound(state *st, const char *sql, const char *fmt, va_list ap)
{
	sqlite3_stmt *stmt;
	int			rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL) != SQLITE_OK)
	{
		error("could not update state file in \"%s\": %s", st->dir,
			  sqlite3_errmsg(st->db));
		return -1;
	}
	for (int i = 0; fmt[i]; i++)
	{
		if (fmt[i] == 't')
		{
			const char *s = va_arg(ap, const char *);

			if (s)
				sqlite3_bind_text(stmt, i + 1, s, -1, SQLITE_TRANSIENT);
			else
				sqlite3_bind_null(stmt, i + 1);
		}
		else if (fmt[i] == 'i')
			sqlite3_bind_int64(stmt, i + 1, va_arg(ap, int64_t));
		else
			sqlite3_bind_double(stmt, i + 1, va_arg(ap, double));
	}
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return error("could not update state file in \"%s\": %s", st->dir,
					 sqlite3_errmsg(st->db));
	return 0;
}

static int
run(state *st, const char *sql, const char *fmt,...)
{
	va_list		ap;
	int			rc;

	pthread_mutex_lock(&st->lock);
	va_start(ap, fmt);
	rc = run_bound(st, sql, fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* First column of the first row of a one-parameter query, or NULL. */
static char *
get_text(state *st, const char *sql, const char *param)
{
	sqlite3_stmt *stmt;
	char	   *out = NULL;

	pthread_mutex_lock(&st->lock);
	if (sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL) == SQLITE_OK)
	{
		sqlite3_bind_text(stmt, 1, param, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(stmt) == SQLITE_ROW &&
			sqlite3_column_type(stmt, 0) != SQLITE_NULL)
			out = xstrdup((const char *) sqlite3_column_text(stmt, 0));
		sqlite3_finalize(stmt);
	}
	else
		error("could not read state file in \"%s\": %s", st->dir,
			  sqlite3_errmsg(st->db));
	pthread_mutex_unlock(&st->lock);
	return out;
}

/* ---------- the facts, as key/value pairs of table kv ---------- */

/*
 * The keys, spelt here only.  They are the ones every earlier pgcrane
 * wrote, so that a work directory keeps its meaning across versions.
 */
#define K_SOURCE			"source"
#define K_TARGET			"target"
#define K_TOAST				"toast_compression"
#define K_FOLLOW_ON			"follow"
#define K_STATUS			"status"
#define K_SNAPSHOT			"snapshot"
#define K_HOLDER_PID		"snapshot.holder_pid"
#define K_RESTARTS			"snapshot.restarts"
#define K_TARGET_CREATED	"target.created"
#define K_TARGET_PARTIAL	"target.partial"
#define K_LARGE_OBJECTS		"large_objects"
#define K_VERIFY_STATUS		"verify.status"
#define K_VERIFY_RESULT		"verify.result"
#define K_SLOT				"follow.slot"
#define K_PUBLICATION		"follow.publication"
#define K_ORIGIN			"follow.origin"
#define K_START_LSN			"follow.start_lsn"
#define K_PROGRESS			"follow.progress"
#define K_REPLIDENT			"source.replica_identity"
#define K_PHASE				"follow.phase"
#define K_PID				"follow.pid"
#define K_STARTED_AT		"follow.started_at"
#define K_UPDATED_AT		"follow.updated_at"
#define K_ERROR				"follow.error"
#define K_RECONNECT			"follow.reconnect_attempt"
#define K_LAST_ERROR		"follow.last_error"
#define K_APPLIED_LSN		"follow.applied_lsn"
#define K_DURABLE_LSN		"follow.durable_lsn"
#define K_SOURCE_LSN		"follow.source_lsn"
#define K_LAG_BYTES			"follow.lag_bytes"
#define K_LAG_SECONDS		"follow.lag_seconds"
#define K_RATE				"follow.changes_per_second"
#define K_TRANSACTIONS		"follow.transactions"
#define K_CHANGES			"follow.changes"
#define K_MISSING_ROWS		"follow.missing_rows"
#define K_COUNTED_LSN		"follow.counted_lsn"
#define K_SEQUENCES			"follow.sequences"
#define K_DDL				"follow.ddl"
#define K_DDL_NO_OWNER		"follow.ddl.no_owner"
#define K_DDL_NO_ACL		"follow.ddl.no_acl"
#define K_COLUMNS_PREFIX	"follow.columns."
#define K_ADOPTING_PREFIX	"follow.adopting."
#define K_CUTOVER_REQUESTED	"cutover.requested"
#define K_CUTOVER_TARGET	"cutover.target_lsn"
#define K_CUTOVER_LSN		"cutover.lsn"
#define K_CUTOVER_DONE_AT	"cutover.done_at"
#define K_NOT_CARRIED		"cutover.not_carried"
#define K_NO_REFRESH_MV		"cutover.no_refresh_matviews"
#define K_UNLOGGED_TABLES	"cutover.unlogged_tables"
#define K_UNLOGGED_ROWS		"cutover.unlogged_rows"
#define K_MV_REFRESHED		"cutover.matviews_refreshed"
#define K_MV_UNPOPULATED	"cutover.matviews_unpopulated"
#define K_MV_SKIPPED		"cutover.matviews_skipped"
#define K_MV_SECONDS		"cutover.matviews_seconds"
#define K_MV_LIST			"cutover.matviews"
#define K_LO_COPIED			"cutover.large_objects_copied"
#define K_LO_BYTES			"cutover.large_objects_bytes"
#define K_LO_UNLINKED		"cutover.large_objects_unlinked"
#define K_LO_UNCHANGED		"cutover.large_objects_unchanged"
#define K_CLEANUP_DONE_AT	"cleanup.done_at"

/* A flag's value. */
#define ON "on"

/* What one write does to a key. */
typedef enum kv_verb
{
	KV_PUT,						/* set it */
	KV_PUT_NEW,					/* set it unless it is there */
	KV_DELETE,					/* forget it */
} kv_verb;

typedef struct kv_op
{
	kv_verb		verb;
	const char *key;			/* NULL: nothing to do */
	const char *value;
} kv_op;

static const char *const kv_sql[] = {
	[KV_PUT] = "INSERT INTO kv VALUES (?, ?) ON CONFLICT (key) "
	"DO UPDATE SET value = excluded.value",
	[KV_PUT_NEW] = "INSERT INTO kv VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
	[KV_DELETE] = "DELETE FROM kv WHERE key = ?",
};

/* One write, with the mutex held; 0 or -1 (logged). */
static int
kv_write_locked(state *st, const kv_op *op)
{
	sqlite3_stmt *stmt;
	int			rc;

	if (sqlite3_prepare_v2(st->db, kv_sql[op->verb], -1, &stmt, NULL) != SQLITE_OK)
		return error("could not update state file in \"%s\": %s", st->dir,
					 sqlite3_errmsg(st->db));
	sqlite3_bind_text(stmt, 1, op->key, -1, SQLITE_TRANSIENT);
	if (op->verb != KV_DELETE)
		sqlite3_bind_text(stmt, 2, op->value ? op->value : "", -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return error("could not update state file in \"%s\": %s", st->dir,
					 sqlite3_errmsg(st->db));
	return 0;
}

/*
 * The writes of one fact in one transaction; 0 or -1 (logged, nothing
 * written).  *changed (may be NULL) gets how many rows they changed.
 */
static int
kv_apply(state *st, const kv_op *ops, int n, int *changed)
{
	int			rc;
	int			before;

	bool		own;

	pthread_mutex_lock(&st->lock);
	/* Inside the plan's transaction (state_plan_begin) the fact joins it. */
	own = sqlite3_get_autocommit(st->db) != 0;
	before = sqlite3_total_changes(st->db);
	rc = own ? exec_sql(st, "BEGIN IMMEDIATE") : 0;
	for (int i = 0; rc == 0 && i < n; i++)
		if (ops[i].key)
			rc = kv_write_locked(st, &ops[i]);
	if (changed)
		*changed = sqlite3_total_changes(st->db) - before;
	if (own && rc == 0)
		rc = exec_sql(st, "COMMIT");
	else if (own)
		(void) exec_sql(st, "ROLLBACK");
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* One key put, in its own transaction. */
static int
kv_put(state *st, const char *key, const char *value)
{
	kv_op		op = {KV_PUT, key, value};

	return kv_apply(st, &op, 1, NULL);
}

/* One key's value with the mutex held: 1 (*value yours), 0 absent, -1. */
static int
kv_read_locked(state *st, const char *key, char **value)
{
	sqlite3_stmt *stmt;
	int			rc = -1;

	*value = NULL;
	if (sqlite3_prepare_v2(st->db, "SELECT value FROM kv WHERE key = ?", -1, &stmt,
						   NULL) == SQLITE_OK)
	{
		int			step;

		sqlite3_bind_text(stmt, 1, key, -1, SQLITE_TRANSIENT);
		step = sqlite3_step(stmt);
		if (step == SQLITE_ROW && sqlite3_column_type(stmt, 0) != SQLITE_NULL)
		{
			*value = xstrdup((const char *) sqlite3_column_text(stmt, 0));
			rc = 1;
		}
		else if (step == SQLITE_ROW || step == SQLITE_DONE)
			rc = 0;
		sqlite3_finalize(stmt);
	}
	if (rc < 0)
		error("could not read state file in \"%s\": %s", st->dir, sqlite3_errmsg(st->db));
	return rc;
}

/*
 * The values of n keys as one consistent read: values[i] NULL when
 * absent.  0, or -1 (logged, every value NULL).
 */
static int
kv_read(state *st, const char *const *keys, char **values, int n)
{
	int			rc = 0;
	bool		own;

	pthread_mutex_lock(&st->lock);
	own = n > 1 && sqlite3_get_autocommit(st->db) != 0;
	if (own && sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
	{
		rc = error("could not read state file in \"%s\": %s", st->dir,
				   sqlite3_errmsg(st->db));
		own = false;
	}
	for (int i = 0; i < n; i++)
		values[i] = NULL;
	for (int i = 0; rc == 0 && i < n; i++)
		rc = kv_read_locked(st, keys[i], &values[i]) < 0 ? -1 : 0;
	if (own)
		(void) sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	pthread_mutex_unlock(&st->lock);
	for (int i = 0; rc != 0 && i < n; i++)
	{
		free(values[i]);
		values[i] = NULL;
	}
	return rc;
}

/* One key's value: 1 (*value yours), 0 absent, -1 (logged). */
static int
kv_get(state *st, const char *key, char **value)
{
	int			rc = kv_read(st, &key, value, 1);

	return rc < 0 ? -1 : *value != NULL;
}

/* Whether a flag is set: 1, 0, -1 (logged). */
static int
kv_flag(state *st, const char *key, const char *on)
{
	char	   *v;
	int			rc = kv_get(st, key, &v);

	if (rc == 1)
		rc = strcmp(v, on) == 0;
	free(v);
	return rc;
}

/* ---------- values as text ---------- */

typedef char numbuf[32];

static const char *
fmt_int(numbuf buf, int64_t v)
{
	snprintf(buf, sizeof(numbuf), "%" PRId64, v);
	return buf;
}

static const char *
fmt_double(numbuf buf, double v)
{
	snprintf(buf, sizeof(numbuf), "%.1f", v);
	return buf;
}

/* A duration, to the millisecond. */
static const char *
fmt_seconds(numbuf buf, double v)
{
	snprintf(buf, sizeof(numbuf), "%.3f", v);
	return buf;
}

/* An LSN as PostgreSQL writes it; "" for 0 when zero_empty. */
static const char *
fmt_lsn(numbuf buf, uint64_t lsn, bool zero_empty)
{
	if (lsn == 0 && zero_empty)
		buf[0] = '\0';
	else
		snprintf(buf, sizeof(numbuf), "%" PRIX32 "/%" PRIX32,
				 (uint32_t) (lsn >> 32), (uint32_t) lsn);
	return buf;
}

/* Number parsed from s, or dflt when absent, empty or not a number. */
static int64_t
parse_int(const char *s, int64_t dflt)
{
	int64_t		v;

	return s && str_to_int64(s, &v) ? v : dflt;
}

static double
parse_double(const char *s)
{
	char	   *end;
	double		v = s ? strtod(s, &end) : 0.0;

	return s && end != s && *end == '\0' ? v : 0.0;
}

/* An LSN "X/Y"; false when s is not one. */
static bool
parse_lsn(const char *s, uint64_t *lsn)
{
	unsigned int hi,
				lo;
	char		extra;

	if (s == NULL || strchr(s, '-') || strchr(s, ' ') ||
		sscanf(s, "%8X/%8X%c", &hi, &lo, &extra) != 2)
		return false;
	*lsn = ((uint64_t) hi << 32) | lo;
	return true;
}

/* An LSN or 0 when absent or not one. */
static uint64_t
lsn_or_zero(const char *s)
{
	uint64_t	lsn = 0;

	return parse_lsn(s, &lsn) ? lsn : 0;
}

static void
free_all(char **values, int n)
{
	for (int i = 0; i < n; i++)
		free(values[i]);
}

/* ---------- the run ---------- */

int
state_record_run(state *st, const state_run *run, bool fresh)
{
	kv_op		ops[] = {
		{KV_PUT, K_SOURCE, run->source},
		{KV_PUT, K_TARGET, run->target},
		{KV_PUT, K_STATUS, "running"},
		/* Only what this very run creates may be removed if it fails. */
		{KV_DELETE, fresh ? K_TARGET_CREATED : NULL, NULL},
		{KV_PUT, run->follow ? K_FOLLOW_ON : NULL, ON},
		{KV_PUT, run->toast_compression ? K_TOAST : NULL, run->toast_compression},
	};

	return kv_apply(st, ops, 6, NULL);
}

int
state_load_run(state *st, state_run *run)
{
	static const char *const keys[] = {K_SOURCE, K_TARGET, K_TOAST, K_FOLLOW_ON};
	char	   *v[4];

	memset(run, 0, sizeof(*run));
	if (kv_read(st, keys, v, 4) != 0)
		return -1;
	run->source = v[0];
	run->target = v[1];
	run->toast_compression = v[2];
	run->follow = v[3] && strcmp(v[3], ON) == 0;
	free(v[3]);
	return 0;
}

void
state_run_release(state_run *run)
{
	free(run->source);
	free(run->target);
	free(run->toast_compression);
	memset(run, 0, sizeof(*run));
}

int
state_record_clone_status(state *st, const char *status)
{
	return kv_put(st, K_STATUS, status);
}

int
state_load_clone_status(state *st, char **status)
{
	return kv_get(st, K_STATUS, status);
}

/* ---------- identities ---------- */

static const char *const identity_keys[2][3] = {
	[STATE_SOURCE] = {"source.system", "source.db_oid", "source.dbname"},
	[STATE_TARGET] = {"target.system", "target.db_oid", "target.dbname"},
};

int
state_record_identity(state *st, state_side side, const char *system,
					  uint32_t db_oid, const char *dbname)
{
	numbuf		oid;
	kv_op		ops[] = {
		{KV_PUT, identity_keys[side][0], system},
		{KV_PUT, identity_keys[side][1], fmt_int(oid, db_oid)},
		{KV_PUT, identity_keys[side][2], dbname},
	};

	return kv_apply(st, ops, 3, NULL);
}

int
state_load_identity(state *st, state_side side, char **system,
					uint32_t *db_oid, char **dbname)
{
	char	   *v[3];

	*system = *dbname = NULL;
	*db_oid = 0;
	if (kv_read(st, identity_keys[side], v, 3) != 0)
		return -1;
	if (v[0] == NULL || v[1] == NULL || v[2] == NULL)
	{
		free_all(v, 3);
		return 0;
	}
	*system = v[0];
	*db_oid = (uint32_t) strtoul(v[1], NULL, 10);
	*dbname = v[2];
	free(v[1]);
	return 1;
}

/* ---------- the snapshot and the target's flags ---------- */

int
state_record_snapshot(state *st, const char *name, int holder_pid,
					  uint64_t start_lsn)
{
	numbuf		pid,
				lsn;
	kv_op		ops[] = {
		{KV_PUT, K_SNAPSHOT, name},
		{KV_PUT, K_HOLDER_PID, fmt_int(pid, holder_pid)},
		{KV_PUT, start_lsn ? K_START_LSN : NULL, fmt_lsn(lsn, start_lsn, false)},
	};

	return kv_apply(st, ops, 3, NULL);
}

int
state_load_snapshot(state *st, char **name, int *holder_pid)
{
	static const char *const keys[] = {K_SNAPSHOT, K_HOLDER_PID};
	char	   *v[2];
	int64_t		pid;

	if (name)
		*name = NULL;
	*holder_pid = 0;
	if (kv_read(st, keys, v, 2) != 0)
		return -1;
	pid = parse_int(v[1], 0);
	*holder_pid = pid > 0 && pid < (1 << 30) ? (int) pid : 0;
	if (name)
		*name = v[0];
	else
		free(v[0]);
	free(v[1]);
	return 0;
}

int
state_record_snapshot_restart(state *st)
{
	int			rc;

	pthread_mutex_lock(&st->lock);
	rc = exec_sql(st, "INSERT INTO kv VALUES ('" K_RESTARTS "', '1') "
				  "ON CONFLICT (key) DO UPDATE SET value = "
				  "CAST(CAST(value AS INTEGER) + 1 AS TEXT)");
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int
state_record_target_created(state *st)
{
	return kv_put(st, K_TARGET_CREATED, ON);
}

int
state_target_created(state *st)
{
	return kv_flag(st, K_TARGET_CREATED, ON);
}

int
state_record_target_partial(state *st, bool partial)
{
	kv_op		op = {partial ? KV_PUT : KV_DELETE, K_TARGET_PARTIAL, ON};

	return kv_apply(st, &op, 1, NULL);
}

int
state_target_partial(state *st)
{
	return kv_flag(st, K_TARGET_PARTIAL, ON);
}

int
state_record_large_objects_done(state *st)
{
	return kv_put(st, K_LARGE_OBJECTS, STATE_DONE);
}

int
state_large_objects_done(state *st)
{
	return kv_flag(st, K_LARGE_OBJECTS, STATE_DONE);
}

int
state_forget_created(state *st)
{
	static const char *const keys[] = {
		K_SLOT, K_PUBLICATION, K_ORIGIN, K_START_LSN, K_FOLLOW_ON,
		K_SNAPSHOT, K_HOLDER_PID, K_TARGET_CREATED, K_PROGRESS,
	};
	kv_op		ops[9];

	for (int i = 0; i < 9; i++)
		ops[i] = (kv_op) {KV_DELETE, keys[i], NULL};
	return kv_apply(st, ops, 9, NULL);
}

int
state_record_verify(state *st, const char *status, const char *json)
{
	kv_op		ops[] = {
		{KV_PUT, K_VERIFY_RESULT, json},
		{KV_PUT, K_VERIFY_STATUS, status},
	};

	return kv_apply(st, ops, 2, NULL);
}

int
state_load_verify(state *st, char **status, char **json)
{
	static const char *const keys[] = {K_VERIFY_STATUS, K_VERIFY_RESULT};
	char	   *v[2];

	*status = *json = NULL;
	if (kv_read(st, keys, v, 2) != 0)
		return -1;
	*status = v[0];
	*json = v[1];
	return v[0] != NULL;
}

/* ---------- following changes ---------- */

int
state_record_follow(state *st, const state_follow *f)
{
	kv_op		ops[] = {
		{KV_PUT, K_SLOT, f->slot},
		{KV_PUT, K_PUBLICATION, f->publication},
		{KV_PUT, K_ORIGIN, f->origin},
	};

	return kv_apply(st, ops, 3, NULL);
}

int
state_load_follow(state *st, state_follow *f)
{
	static const char *const keys[] = {K_SLOT, K_PUBLICATION, K_ORIGIN, K_START_LSN};
	char	   *v[4];
	int			rc = 0;

	memset(f, 0, sizeof(*f));
	if (kv_read(st, keys, v, 4) != 0)
		return -1;
	f->slot = v[0];
	f->publication = v[1];
	f->origin = v[2];
	if (v[3] && !parse_lsn(v[3], &f->start_lsn))
	{
		rc = error("invalid start LSN \"%s\" in the state file of \"%s\"", v[3], st->dir);
		state_follow_release(f);
	}
	free(v[3]);
	return rc;
}

void
state_follow_release(state_follow *f)
{
	free(f->slot);
	free(f->publication);
	free(f->origin);
	memset(f, 0, sizeof(*f));
}

int
state_record_follow_progress_table(state *st, bool table)
{
	return kv_put(st, K_PROGRESS, table ? "table" : "origin");
}

int
state_follow_progress_table(state *st)
{
	return kv_flag(st, K_PROGRESS, "table");
}

/* ---------- replica identities set on the source ---------- */

/* One line a table: "OID IDENTITY INDEX_OID". */
int
state_record_replica_identities(state *st, const state_replident *list, int n)
{
	strbuf		sb = STRBUF_INIT;
	kv_op		op = {n > 0 ? KV_PUT : KV_DELETE, K_REPLIDENT, NULL};
	int			rc;

	for (int i = 0; i < n; i++)
		strbuf_addf(&sb, "%" PRIu32 " %c %" PRIu32 "\n", list[i].table_oid,
					list[i].identity, list[i].index_oid);
	op.value = strbuf_str(&sb);
	rc = kv_apply(st, &op, 1, NULL);
	strbuf_release(&sb);
	return rc;
}

/* One line of the list into *r; false when it is not one. */
static bool
parse_replident(const char *line, state_replident *r)
{
	char		identity;
	char		extra;

	if (sscanf(line, "%" SCNu32 " %c %" SCNu32 "%c", &r->table_oid, &identity,
			   &r->index_oid, &extra) != 3 || strchr("dni", identity) == NULL ||
		identity == '\0')
		return false;
	r->identity = identity;
	return true;
}

int
state_load_replica_identities(state *st, state_replident **list, int *n)
{
	char	   *v;
	int			rc = kv_get(st, K_REPLIDENT, &v);
	const char *p;

	*list = NULL;
	*n = 0;
	if (rc <= 0)
		return rc;
	for (p = v; rc > 0 && *p; p += strcspn(p, "\n"), p += *p == '\n')
	{
		char		one[64];
		size_t		len = strcspn(p, "\n");

		*list = xrealloc(*list, (size_t) (*n + 1) * sizeof(state_replident));
		if (len < sizeof(one))
		{
			memcpy(one, p, len);
			one[len] = '\0';
		}
		if (len >= sizeof(one) || !parse_replident(one, &(*list)[*n]))
			rc = error("invalid replica identity record \"%.*s\" in the state file of \"%s\"",
					   (int) len, p, st->dir);
		else
			(*n)++;
	}
	if (rc < 0)
	{
		free(*list);
		*list = NULL;
		*n = 0;
	}
	free(v);
	return rc < 0 ? -1 : 0;
}

int
state_record_follow_phase(state *st, const char *phase)
{
	return kv_put(st, K_PHASE, phase);
}

int
state_load_follow_phase(state *st, char **phase)
{
	return kv_get(st, K_PHASE, phase);
}

int
state_record_follow_start(state *st, int64_t pid, const char *now)
{
	numbuf		buf;
	kv_op		ops[] = {
		{KV_PUT, K_PID, fmt_int(buf, pid)},
		{KV_PUT_NEW, K_STARTED_AT, now},
		{KV_PUT, K_ERROR, ""},
	};

	return kv_apply(st, ops, 3, NULL);
}

int
state_record_follow_alive(state *st, const char *now)
{
	return kv_put(st, K_UPDATED_AT, now);
}

int
state_record_follow_reconnect(state *st, int64_t attempt, const char *last_error)
{
	numbuf		buf;
	kv_op		ops[] = {
		{KV_PUT, K_RECONNECT, fmt_int(buf, attempt)},
		{KV_PUT, last_error ? K_LAST_ERROR : NULL, last_error},
	};

	return kv_apply(st, ops, 2, NULL);
}

int
state_record_follow_error(state *st, const char *error)
{
	return kv_put(st, K_ERROR, error);
}

int
state_record_follow_figures(state *st, const state_figures *f, const char *now)
{
	numbuf		b[6];
	kv_op		ops[] = {
		{KV_PUT, K_APPLIED_LSN, fmt_lsn(b[0], f->applied_lsn, true)},
		{KV_PUT, K_DURABLE_LSN, fmt_lsn(b[1], f->durable_lsn, true)},
		{KV_PUT, K_SOURCE_LSN, fmt_lsn(b[2], f->source_lsn, true)},
		{KV_PUT, K_LAG_BYTES, f->lag_bytes < 0 ? "" : fmt_int(b[3], f->lag_bytes)},
		{KV_PUT, K_LAG_SECONDS, fmt_double(b[4], f->lag_seconds)},
		{KV_PUT, K_RATE, fmt_double(b[5], f->changes_per_second)},
		{KV_PUT, K_UPDATED_AT, now},
	};

	return kv_apply(st, ops, 7, NULL);
}

int
state_record_follow_counts(state *st, const state_counts *c)
{
	numbuf		b[4];
	kv_op		ops[] = {
		{KV_PUT, K_TRANSACTIONS, fmt_int(b[0], c->transactions)},
		{KV_PUT, K_CHANGES, fmt_int(b[1], c->changes)},
		{KV_PUT, K_MISSING_ROWS, fmt_int(b[2], c->missing_rows)},
		{KV_PUT, K_COUNTED_LSN, fmt_lsn(b[3], c->counted_lsn, false)},
	};

	return kv_apply(st, ops, 4, NULL);
}

int
state_record_follow_sequences(state *st, int64_t n)
{
	numbuf		buf;

	return kv_put(st, K_SEQUENCES, fmt_int(buf, n));
}

int
state_record_follow_ddl(state *st, const state_ddl *d)
{
	kv_op		ops[] = {
		{KV_PUT, K_DDL, d->mode},
		{d->no_owner ? KV_PUT : KV_DELETE, K_DDL_NO_OWNER, ON},
		{d->no_acl ? KV_PUT : KV_DELETE, K_DDL_NO_ACL, ON},
	};

	return kv_apply(st, ops, 3, NULL);
}

int
state_load_follow_ddl(state *st, state_ddl *d)
{
	static const char *const keys[] = {K_DDL, K_DDL_NO_OWNER, K_DDL_NO_ACL};
	char	   *v[3];

	memset(d, 0, sizeof(*d));
	if (kv_read(st, keys, v, 3) != 0)
		return -1;
	d->mode = v[0];
	d->no_owner = v[1] && strcmp(v[1], ON) == 0;
	d->no_acl = v[2] && strcmp(v[2], ON) == 0;
	free(v[1]);
	free(v[2]);
	return d->mode != NULL;
}

void
state_ddl_release(state_ddl *d)
{
	free(d->mode);
	d->mode = NULL;
}

int
state_record_follow_columns(state *st, uint32_t oid, const char *columns)
{
	numbuf		buf;
	char	   *key = str_printf(K_COLUMNS_PREFIX "%s", fmt_int(buf, oid));
	int			rc = kv_put(st, key, columns);

	free(key);
	return rc;
}

int
state_load_follow_columns(state *st, uint32_t oid, char **columns)
{
	numbuf		buf;
	char	   *key = str_printf(K_COLUMNS_PREFIX "%s", fmt_int(buf, oid));
	int			rc = kv_get(st, key, columns);

	free(key);
	return rc;
}

int
state_record_follow_adopting(state *st, uint32_t oid, bool on)
{
	numbuf		buf;
	char	   *key = str_printf(K_ADOPTING_PREFIX "%s", fmt_int(buf, oid));
	kv_op		op = {on ? KV_PUT : KV_DELETE, key, ON};
	int			rc = kv_apply(st, &op, 1, NULL);

	free(key);
	return rc;
}

int
state_follow_adopting(state *st, uint32_t oid)
{
	numbuf		buf;
	char	   *key = str_printf(K_ADOPTING_PREFIX "%s", fmt_int(buf, oid));
	char	   *value = NULL;
	int			rc = kv_get(st, key, &value);

	free(value);
	free(key);
	return rc;
}

/* The keys state_load_progress reads, in the order it takes them. */
enum
{
	P_PHASE, P_STARTED, P_UPDATED, P_LAST_ERROR, P_PID, P_RECONNECT,
	P_APPLIED, P_DURABLE, P_SOURCE, P_LAG_BYTES, P_LAG_SECONDS, P_RATE,
	P_TRANSACTIONS, P_CHANGES, P_MISSING, P_COUNTED, P_SEQUENCES, P_N
};

static const char *const progress_keys[P_N] = {
	K_PHASE, K_STARTED_AT, K_UPDATED_AT, K_LAST_ERROR, K_PID, K_RECONNECT,
	K_APPLIED_LSN, K_DURABLE_LSN, K_SOURCE_LSN, K_LAG_BYTES, K_LAG_SECONDS, K_RATE,
	K_TRANSACTIONS, K_CHANGES, K_MISSING_ROWS, K_COUNTED_LSN, K_SEQUENCES,
};

int
state_load_progress(state *st, state_progress *p)
{
	char	   *v[P_N];

	memset(p, 0, sizeof(*p));
	if (kv_read(st, progress_keys, v, P_N) != 0)
		return -1;
	p->phase = v[P_PHASE];
	p->started_at = v[P_STARTED];
	p->updated_at = v[P_UPDATED];
	p->last_error = v[P_LAST_ERROR];
	p->pid = parse_int(v[P_PID], 0);
	p->reconnect_attempt = parse_int(v[P_RECONNECT], -1);
	p->has_figures = v[P_LAG_SECONDS] != NULL;
	p->figures.applied_lsn = lsn_or_zero(v[P_APPLIED]);
	p->figures.durable_lsn = lsn_or_zero(v[P_DURABLE]);
	p->figures.source_lsn = lsn_or_zero(v[P_SOURCE]);
	p->figures.lag_bytes = parse_int(v[P_LAG_BYTES], -1);
	p->figures.lag_seconds = parse_double(v[P_LAG_SECONDS]);
	p->figures.changes_per_second = parse_double(v[P_RATE]);
	p->has_counts = v[P_TRANSACTIONS] != NULL;
	p->counts.transactions = parse_int(v[P_TRANSACTIONS], 0);
	p->counts.changes = parse_int(v[P_CHANGES], 0);
	p->counts.missing_rows = parse_int(v[P_MISSING], 0);
	p->counts.counted_lsn = lsn_or_zero(v[P_COUNTED]);
	p->sequences = parse_int(v[P_SEQUENCES], -1);
	free_all(v + P_PID, P_N - P_PID);
	return 0;
}

void
state_progress_release(state_progress *p)
{
	free(p->phase);
	free(p->started_at);
	free(p->updated_at);
	free(p->last_error);
	memset(p, 0, sizeof(*p));
}

/* ---------- cutover and cleanup ---------- */

int
state_request_cutover(state *st, const char *now)
{
	kv_op		op = {KV_PUT_NEW, K_CUTOVER_REQUESTED, now};
	int			changed = 0;

	if (kv_apply(st, &op, 1, &changed) != 0)
		return -1;
	return changed > 0;
}

int
state_record_cutover_target(state *st, uint64_t lsn)
{
	numbuf		buf;

	return kv_put(st, K_CUTOVER_TARGET, fmt_lsn(buf, lsn, false));
}

int
state_record_cutover_refresh_matviews(state *st, bool refresh)
{
	kv_op		op = {refresh ? KV_DELETE : KV_PUT, K_NO_REFRESH_MV, ON};

	return kv_apply(st, &op, 1, NULL);
}

int
state_record_cutover_done(state *st, uint64_t lsn, const char *now,
						  const state_carried *k, const char *not_carried)
{
	numbuf		b[12];
	kv_op		ops[] = {
		{KV_PUT, K_NOT_CARRIED, not_carried},
		{KV_PUT, K_UNLOGGED_TABLES, fmt_int(b[1], k->unlogged_tables)},
		{KV_PUT, K_UNLOGGED_ROWS, fmt_int(b[2], k->unlogged_rows)},
		{KV_PUT, K_MV_REFRESHED, fmt_int(b[3], k->matviews_refreshed)},
		{KV_PUT, K_MV_UNPOPULATED, fmt_int(b[4], k->matviews_unpopulated)},
		{KV_PUT, K_MV_SKIPPED, fmt_int(b[5], k->matviews_skipped)},
		{KV_PUT, K_MV_SECONDS, fmt_seconds(b[6], k->matviews_seconds)},
		{k->matviews ? KV_PUT : KV_DELETE, K_MV_LIST, k->matviews},
		{KV_PUT, K_LO_COPIED, fmt_int(b[7], k->lo_copied)},
		{KV_PUT, K_LO_BYTES, fmt_int(b[8], k->lo_bytes)},
		{KV_PUT, K_LO_UNLINKED, fmt_int(b[9], k->lo_unlinked)},
		{KV_PUT, K_LO_UNCHANGED, fmt_int(b[10], k->lo_unchanged)},
		{KV_PUT, K_CUTOVER_LSN, fmt_lsn(b[0], lsn, false)},
		{KV_PUT, K_CUTOVER_DONE_AT, now},
	};

	return kv_apply(st, ops, (int) (sizeof(ops) / sizeof(ops[0])), NULL);
}

/* The carried facts, from their keys' values v (freed here but the list). */
static void
load_carried(state_carried *k, char **v)
{
	k->unlogged_tables = parse_int(v[0], 0);
	k->unlogged_rows = parse_int(v[1], 0);
	k->matviews_refreshed = parse_int(v[2], 0);
	k->matviews_unpopulated = parse_int(v[3], 0);
	k->matviews_skipped = parse_int(v[4], 0);
	k->matviews_seconds = parse_double(v[5]);
	k->matviews = v[6];
	k->lo_copied = parse_int(v[7], 0);
	k->lo_bytes = parse_int(v[8], 0);
	k->lo_unlinked = parse_int(v[9], 0);
	k->lo_unchanged = parse_int(v[10], 0);
	free_all(v, 6);
	free_all(v + 7, 4);
}

int
state_load_cutover(state *st, state_cutover *c)
{
	static const char *const keys[] = {
		K_CUTOVER_REQUESTED, K_CUTOVER_TARGET, K_CUTOVER_LSN, K_CUTOVER_DONE_AT,
		K_NOT_CARRIED, K_CLEANUP_DONE_AT, K_NO_REFRESH_MV,
		K_UNLOGGED_TABLES, K_UNLOGGED_ROWS, K_MV_REFRESHED, K_MV_UNPOPULATED,
		K_MV_SKIPPED, K_MV_SECONDS, K_MV_LIST, K_LO_COPIED, K_LO_BYTES,
		K_LO_UNLINKED, K_LO_UNCHANGED,
	};
	char	   *v[18];

	memset(c, 0, sizeof(*c));
	if (kv_read(st, keys, v, 18) != 0)
		return -1;
	c->requested_at = v[0];
	c->target_lsn = lsn_or_zero(v[1]);
	c->lsn = lsn_or_zero(v[2]);
	c->done_at = v[3];
	c->not_carried = v[4];
	c->cleanup_done_at = v[5];
	c->refresh_matviews = v[6] == NULL;
	c->has_carried = v[7] != NULL;
	load_carried(&c->carried, v + 7);
	free(v[1]);
	free(v[2]);
	free(v[6]);
	return 0;
}

void
state_cutover_release(state_cutover *c)
{
	free(c->requested_at);
	free(c->done_at);
	free(c->not_carried);
	free(c->cleanup_done_at);
	free(c->carried.matviews);
	memset(c, 0, sizeof(*c));
}

int
state_record_cleanup_done(state *st, const char *now)
{
	return kv_put(st, K_CLEANUP_DONE_AT, now);
}

/* ---------- steps and the plan ---------- */

int
state_step_begin(state *st, const char *step)
{
	return run(st, "INSERT INTO step (name, status, started) "
			   "VALUES (?, 'running', datetime('now')) ON CONFLICT (name) DO "
			   "UPDATE SET status = 'running', started = datetime('now'), "
			   "finished = NULL, seconds = NULL", "t", step);
}

int
state_step_end(state *st, const char *step, const char *status, double seconds)
{
	return run(st, "UPDATE step SET status = ?, finished = datetime('now'), "
			   "seconds = ? WHERE name = ?", "tdt", status, seconds, step);
}

char *
state_step_status(state *st, const char *step)
{
	return get_text(st, "SELECT status FROM step WHERE name = ?", step);
}

int
state_plan_begin(state *st)
{
	int			rc;

	pthread_mutex_lock(&st->lock);
	rc = exec_sql(st, "BEGIN; DELETE FROM tables; DELETE FROM parts; "
				  "DELETE FROM indexes; DELETE FROM foreign_keys;");
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int
state_plan_table(state *st, uint32_t oid, const char *name, int64_t bytes,
				 int nparts, const char *format)
{
	return run(st, "INSERT INTO tables (oid, name, bytes, nparts, format) "
			   "VALUES (?, ?, ?, ?, ?)", "itiit",
			   (int64_t) oid, name, bytes, (int64_t) nparts, format);
}

int
state_plan_part(state *st, uint32_t table_oid, int partno,
				int64_t first_block, int64_t end_block)
{
	return run(st, "INSERT INTO parts (table_oid, partno, first_block, "
			   "end_block) VALUES (?, ?, ?, ?)", "iiii", (int64_t) table_oid,
			   (int64_t) partno, first_block, end_block);
}

int
state_plan_index(state *st, uint32_t oid, uint32_t table_oid, const char *name)
{
	return run(st, "INSERT INTO indexes (oid, table_oid, name) VALUES (?, ?, ?)",
			   "iit", (int64_t) oid, (int64_t) table_oid, name);
}

int
state_plan_fk(state *st, uint32_t oid, uint32_t table_oid, const char *name)
{
	return run(st, "INSERT INTO foreign_keys (oid, table_oid, name) VALUES (?, ?, ?)",
			   "iit", (int64_t) oid, (int64_t) table_oid, name);
}

int
state_plan_end(state *st)
{
	int			rc;

	pthread_mutex_lock(&st->lock);
	rc = exec_sql(st, "COMMIT");
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int
state_part_end(state *st, uint32_t table_oid, int partno, const char *status,
			   int64_t rows, int64_t bytes, double seconds)
{
	return run(st, "UPDATE parts SET status = ?, rows = ?, bytes = ?, "
			   "seconds = ? WHERE table_oid = ? AND partno = ?", "tiidii",
			   status, rows, bytes, seconds, (int64_t) table_oid,
			   (int64_t) partno);
}

int
state_index_end(state *st, uint32_t oid, const char *status, double seconds)
{
	return run(st, "UPDATE indexes SET status = ?, seconds = ? WHERE oid = ?",
			   "tdi", status, seconds, (int64_t) oid);
}

int
state_fk_end(state *st, uint32_t oid, const char *status, double seconds)
{
	return run(st, "UPDATE foreign_keys SET status = ?, seconds = ? WHERE oid = ?",
			   "tdi", status, seconds, (int64_t) oid);
}

int
state_table_analyzed(state *st, uint32_t oid)
{
	return run(st, "UPDATE tables SET analyzed = 1 WHERE oid = ?", "i",
			   (int64_t) oid);
}

/* Integer from a query with one int64 parameter; dflt when no row. */
static int64_t
get_int(state *st, const char *sql, int64_t param, int64_t dflt)
{
	sqlite3_stmt *stmt;
	int64_t		out = dflt;

	pthread_mutex_lock(&st->lock);
	if (sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL) == SQLITE_OK)
	{
		sqlite3_bind_int64(stmt, 1, param);
		if (sqlite3_step(stmt) == SQLITE_ROW)
			out = sqlite3_column_int64(stmt, 0);
		sqlite3_finalize(stmt);
	}
	pthread_mutex_unlock(&st->lock);
	return out;
}

bool
state_table_is_analyzed(state *st, uint32_t oid)
{
	return get_int(st, "SELECT analyzed FROM tables WHERE oid = ?",
				   (int64_t) oid, 0) == 1;
}

bool
state_index_is_done(state *st, uint32_t oid)
{
	return get_int(st, "SELECT status = 'done' FROM indexes WHERE oid = ?",
				   (int64_t) oid, 0) == 1;
}

bool
state_fk_is_done(state *st, uint32_t oid)
{
	return get_int(st, "SELECT status = 'done' FROM foreign_keys WHERE oid = ?",
				   (int64_t) oid, 0) == 1;
}

int64_t
state_parts_done(state *st)
{
	return get_int(st, "SELECT count(*) FROM parts WHERE status = 'done' AND table_oid >= ?",
				   0, -1);
}

bool
state_has_plan(state *st)
{
	return get_int(st, "SELECT count(*) FROM tables WHERE oid >= ?", 0, 0) > 0;
}

int
state_load_parts(state *st, uint32_t oid, int64_t *first, int64_t *end,
				 bool *done, int max)
{
	sqlite3_stmt *stmt;
	int			n = 0;

	pthread_mutex_lock(&st->lock);
	if (sqlite3_prepare_v2(st->db, "SELECT first_block, end_block, "
						   "status = 'done' FROM parts WHERE table_oid = ? "
						   "ORDER BY partno", -1, &stmt, NULL) != SQLITE_OK)
	{
		pthread_mutex_unlock(&st->lock);
		return error("could not read state file in \"%s\": %s", st->dir,
					 sqlite3_errmsg(st->db));
	}
	sqlite3_bind_int64(stmt, 1, (int64_t) oid);
	while (n < max && sqlite3_step(stmt) == SQLITE_ROW)
	{
		first[n] = sqlite3_column_int64(stmt, 0);
		end[n] = sqlite3_column_int64(stmt, 1);
		done[n++] = sqlite3_column_int(stmt, 2) == 1;
	}
	sqlite3_finalize(stmt);
	pthread_mutex_unlock(&st->lock);
	return n;
}

int
state_reset_progress(state *st)
{
	int			rc;

	pthread_mutex_lock(&st->lock);
	rc = exec_sql(st, "UPDATE parts SET status = 'pending'; "
				  "UPDATE indexes SET status = 'pending'; "
				  "UPDATE foreign_keys SET status = 'pending'; "
				  "UPDATE tables SET analyzed = 0; "
				  "DELETE FROM step WHERE name NOT IN ('preflight');");
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* ---------- the selection ---------- */

#define K_SELECTION			"clone.selection"

int
state_record_selection(state *st, const char *rules)
{
	bool		none = rules == NULL || rules[0] == '\0';
	kv_op		ops[] = {{none ? KV_DELETE : KV_PUT, K_SELECTION, none ? NULL : rules}};

	return kv_apply(st, ops, 1, NULL);
}

int
state_load_selection(state *st, char **rules)
{
	static const char *const keys[] = {K_SELECTION};

	*rules = NULL;
	if (kv_read(st, keys, rules, 1) != 0)
		return -1;
	return *rules != NULL;
}
