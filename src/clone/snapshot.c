/*
 * snapshot.c
 *		Export and import the clone's snapshot.
 */
#include "clone/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cdc/pgoutput.h"
#include "cdc/slot.h"
#include "core/conn.h"
#include "core/state.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/str.h"

int
snapshot_export(const char *conninfo, snapshot *snap)
{
	PGresult   *res;

	snap->holder = conn_open(conninfo, SIDE_SOURCE);
	if (snap->holder == NULL)
		return -1;
	if (conn_exec(snap->holder, SIDE_SOURCE,
				  "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") != 0)
		goto fail;
	res = conn_query(snap->holder, SIDE_SOURCE, "export snapshot",
					 "SELECT pg_catalog.pg_export_snapshot()", 0, NULL);
	if (res == NULL)
		goto fail;
	snap->name = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;

fail:
	snapshot_release(snap);
	return -1;
}

/* SET TRANSACTION SNAPSHOT in a new transaction; the result or NULL. */
static PGresult *
set_snapshot(PGconn *conn, const char *name)
{
	char	   *lit;
	char	   *sql;
	PGresult   *res;

	res = PQexec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return res;
	PQclear(res);
	/* The command takes no parameters: the name goes in as a literal. */
	lit = PQescapeLiteral(conn, name, strlen(name));
	if (lit == NULL)
		return NULL;
	sql = str_printf("SET TRANSACTION SNAPSHOT %s", lit);
	PQfreemem(lit);
	res = PQexec(conn, sql);
	free(sql);
	return res;
}

int
snapshot_import(PGconn *conn, const char *name)
{
	PGresult   *res = set_snapshot(conn, name);

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		conn_log_result_error(res, SIDE_SOURCE, "import snapshot");
		log_hint("The snapshot exists only while the clone that exported it is running.");
		PQclear(res);
		return -1;
	}
	PQclear(res);
	return 0;
}

bool
snapshot_importable(PGconn *conn, const char *name)
{
	PGresult   *res = set_snapshot(conn, name);
	bool		ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	PQclear(res);
	return ok;
}

void
snapshot_release(snapshot *snap)
{
	if (snap->holder)
		PQfinish(snap->holder);
	free(snap->name);
	snap->holder = NULL;
	snap->name = NULL;
}

int
snapshot_holder_start(const char *source, const char *dir, int hold_seconds,
					  const char *slot, snapshot_holder *h)
{
	char		self[4096];
	char		hold[32];
	ssize_t		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	const char *argv[] = {self, "snapshot-holder", "--dir", dir, "--hold-time",
	hold, slot ? "--slot" : NULL, slot, NULL};
	/* Nothing of the connection in its environment: it outlives the clone. */
	char	   *env[] = {"PGPASSWORD", "PGCRANE_SOURCE", "PGCRANE_TARGET", NULL};
	char	   *conninfo;
	char		line[256];
	int			rc;

	memset(h, 0, sizeof(*h));
	if (n <= 0)
		return error("could not find the pgcrane executable: %s", strerror(errno));
	self[n] = '\0';
	snprintf(hold, sizeof(hold), "%d", hold_seconds);
	/*
	 * The connection string, with PGPASSWORD's password if it needs one,
	 * travels on the holder's stdin: /proc/PID/environ and cmdline of a
	 * process that may run for days show no secret.
	 */
	conninfo = conn_with_env_password(source);
	if (conninfo == NULL)
		return error("could not start the snapshot holder on the source");
	rc = proc_start_reader(argv, env, conninfo, line, sizeof(line), &h->pid);
	explicit_bzero(conninfo, strlen(conninfo));
	free(conninfo);
	if (rc != 0 || line[0] == '\0')
		return error("could not start the snapshot holder on the source");
	/* "snapshot" or "snapshot lsn" */
	{
		char	   *space = strchr(line, ' ');

		if (space)
		{
			*space = '\0';
			h->lsn = xstrdup(space + 1);
		}
	}
	h->name = xstrdup(line);
	return 0;
}

bool
snapshot_holder_alive(int pid)
{
	char		path[64];
	char		cmdline[256];
	FILE	   *f;
	size_t		n;

	if (pid <= 0 || kill((pid_t) pid, 0) != 0)
		return false;
	/* A pid from the state file may have been reused by another program. */
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return false;
	n = fread(cmdline, 1, sizeof(cmdline) - 1, f);
	fclose(f);
	cmdline[n] = '\0';
	/* argv is NUL-separated: the command is the second string. */
	return n > strlen(cmdline) + 1 &&
		strcmp(cmdline + strlen(cmdline) + 1, "snapshot-holder") == 0;
}

void
snapshot_holder_stop(int pid)
{
	if (!snapshot_holder_alive(pid))
		return;
	kill((pid_t) pid, SIGTERM);
	/*
	 * Wait for it to end (up to 10 s): a slot stays busy while the holder's
	 * replication connection is open, and following starts right after.
	 */
	for (int i = 0; i < 200; i++)
	{
		int			status;

		if (waitpid((pid_t) pid, &status, WNOHANG) == pid || kill((pid_t) pid, 0) != 0)
			return;
		usleep(50 * 1000);
	}
}

void
snapshot_holder_release(snapshot_holder *h)
{
	free(h->name);
	free(h->lsn);
	h->name = NULL;
	h->lsn = NULL;
}

/* True when some pgcrane holds the work directory's lock. */
static bool
dir_in_use(const char *dir)
{
	return state_lock_probe(dir, NULL) == 1;
}

/* Export through a new replication slot; the connection holds it. */
static int
export_from_slot(const char *source, const char *slot, snapshot *snap,
				 char *lsn, size_t lsnsize)
{
	uint64_t	point;

	snap->holder = cdc_repl_connect(source);
	if (snap->holder == NULL)
		return -1;
	if (cdc_slot_create(snap->holder, source, slot, &snap->name, &point) != 0)
	{
		snapshot_release(snap);
		return -1;
	}
	pgo_lsn_format(point, lsn, lsnsize);
	return 0;
}

int
snapshot_holder_main(const char *source, const char *dir, int hold_seconds,
					 const char *slot)
{
	snapshot	snap = SNAPSHOT_INIT;
	char		lsn[64] = "";
	int			idle = 0;

	if (slot ? export_from_slot(source, slot, &snap, lsn, sizeof(lsn)) != 0
		: snapshot_export(source, &snap) != 0)
		return 1;
	if (slot)
		printf("%s %s\n", snap.name, lsn);
	else
		printf("%s\n", snap.name);
	fflush(stdout);
	/*
	 * Let go of the terminal and of the pipes of whoever started the clone:
	 * this process may outlive them all.
	 */
	(void) !freopen("/dev/null", "w", stdout);
	(void) !freopen("/dev/null", "w", stderr);
	(void) !freopen("/dev/null", "r", stdin);
	while (idle < hold_seconds)
	{
		sleep(1);
		idle = dir_in_use(dir) ? 0 : idle + 1;
		/* A dead connection means the snapshot is gone: no use waiting. */
		if (PQconsumeInput(snap.holder) == 0 ||
			PQstatus(snap.holder) != CONNECTION_OK)
			break;
	}
	snapshot_release(&snap);
	return 0;
}
