/*
 * state.c
 *		The work directory's SQLite file.
 *
 * Schema (see state.h for what it is for):
 *   kv(key, value)                       settings of the run
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

int
state_lookup(state *st, const char *key, char **value)
{
	sqlite3_stmt *stmt;
	int			rc = -1;

	*value = NULL;
	pthread_mutex_lock(&st->lock);
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
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int
state_put(state *st, const char *key, const char *value)
{
	return run(st, "INSERT INTO kv VALUES (?, ?) ON CONFLICT (key) "
			   "DO UPDATE SET value = excluded.value", "tt", key, value);
}

/* One key's value, with the mutex held; 0 or -1 (logged). */
static int
put_locked(state *st, const char *key, const char *value)
{
	sqlite3_stmt *stmt;
	int			rc;

	if (sqlite3_prepare_v2(st->db, "INSERT INTO kv VALUES (?, ?) ON CONFLICT (key) "
						   "DO UPDATE SET value = excluded.value", -1, &stmt,
						   NULL) != SQLITE_OK)
		return error("could not update state file in \"%s\": %s", st->dir,
					 sqlite3_errmsg(st->db));
	sqlite3_bind_text(stmt, 1, key, -1, SQLITE_TRANSIENT);
	if (value)
		sqlite3_bind_text(stmt, 2, value, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(stmt, 2);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return error("could not update state file in \"%s\": %s", st->dir,
					 sqlite3_errmsg(st->db));
	return 0;
}

int
state_put_many(state *st, const char *const *keys, const char *const *values,
			   int n)
{
	int			rc;

	pthread_mutex_lock(&st->lock);
	rc = exec_sql(st, "BEGIN");
	for (int i = 0; rc == 0 && i < n; i++)
		rc = put_locked(st, keys[i], values[i]);
	if (rc == 0)
		rc = exec_sql(st, "COMMIT");
	else
		(void) exec_sql(st, "ROLLBACK");
	pthread_mutex_unlock(&st->lock);
	return rc;
}

bool
state_is_on(state *st, const char *key)
{
	char	   *v = state_get(st, key);
	bool		on = v && strcmp(v, "on") == 0;

	free(v);
	return on;
}

int
state_delete(state *st, const char *key)
{
	return run(st, "DELETE FROM kv WHERE key = ?", "t", key);
}

char *
state_get(state *st, const char *key)
{
	return get_text(st, "SELECT value FROM kv WHERE key = ?", key);
}

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
