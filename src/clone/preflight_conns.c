/*
 * preflight_conns.c
 *		Whether both servers have the connections the clone opens.
 *
 * What a clone holds at its peak, the data phase (scheduler.c connects
 * every worker before it starts them; clone.c's other phases hold less):
 *
 *   source  one session per copy worker (--jobs), in the snapshot, plus
 *           the snapshot holder's session; with --follow the holder is a
 *           replication connection, which takes a WAL sender rather than
 *           one of max_connections, but still counts for the role's and
 *           the database's connection limits.  pg_dump (one session)
 *           runs before the workers start, with the holder.
 *   target  one session per copy worker and one per index worker
 *           (--index-jobs); pg_restore -j --index-jobs runs after the
 *           workers have disconnected.
 *
 * What a server has free: max_connections, less the slots reserved for
 * superusers (superuser_reserved_connections) and, from PostgreSQL 16,
 * for pg_use_reserved_connections (reserved_connections), less the client
 * sessions already open other than preflight's own.  A role's
 * rolconnlimit and a database's datconnlimit (for a role that is not a
 * superuser) count the sessions of that role or in that database.  When
 * the source and the target are the same server, their needs add up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/conn.h"
#include "clone/preflight_int.h"
#include "util/log.h"
#include "util/str.h"

#define problem preflight_problem

/* Sessions not counted: preflight's own two, and on resume the clone's. */
static const char *const conns_sql =
"WITH a AS (SELECT * FROM pg_catalog.pg_stat_activity"
"  WHERE pid NOT IN ($1::int, $2::int)"
"  AND backend_type IN ('client backend', 'walsender')"
"  AND NOT ($3::bool AND application_name = $4))"
" SELECT pg_catalog.current_setting('max_connections')::int,"
" pg_catalog.current_setting('superuser_reserved_connections')::int,"
" COALESCE(pg_catalog.current_setting('reserved_connections', true)::int, 0),"
" (SELECT count(*) FROM a WHERE backend_type = 'client backend'),"
" r.rolsuper, r.rolconnlimit, (SELECT count(*) FROM a WHERE a.usesysid = r.oid),"
" d.datconnlimit, (SELECT count(*) FROM a WHERE a.datid = d.oid),"
" pg_catalog.pg_postmaster_start_time()::text || ' ' || pg_catalog.current_setting('port'),"
" r.rolname, d.datname"
" FROM pg_catalog.pg_roles r, pg_catalog.pg_database d"
" WHERE r.rolname = current_user AND d.datname = current_database()";

typedef struct conn_room
{
	const char *side;			/* "source", "target" or "same" */
	int			max;			/* max_connections */
	int			reserved;		/* superuser_reserved + reserved */
	int			others;			/* client sessions open */
	bool		super;
	int			rolelimit;		/* -1: none */
	int			rolecount;
	int			dblimit;		/* -1: none, or not counted */
	int			dbcount;
	char		server[128];	/* start time and port: the server's identity */
	char		role[128];
	char		db[128];
} conn_room;

/* Connections a clone of j copy and i index workers needs: a*j + b*i + k. */
typedef struct conn_need
{
	int			a,
				b,
				k;
} conn_need;

static int
need_of(conn_need n, int j, int i)
{
	return n.a * j + n.b * i + n.k;
}

static int
read_room(preflight_ctx *c, PGconn *conn, const char *side, conn_room *r)
{
	char		pid1[16],
				pid2[16];
	const char *params[4] = {pid1, pid2, c->o->resume ? "true" : "false",
	CONN_APPLICATION_NAME};
	PGresult   *res;

	snprintf(pid1, sizeof(pid1), "%d", PQbackendPID(c->src));
	snprintf(pid2, sizeof(pid2), "%d", PQbackendPID(c->tgt));
	res = conn_query(conn, side, "count connections", conns_sql, 4, params);
	if (res == NULL || PQntuples(res) != 1)
	{
		PQclear(res);
		return -1;
	}
	memset(r, 0, sizeof(*r));
	r->side = side;
	r->max = (int) strtol(PQgetvalue(res, 0, 0), NULL, 10);
	r->reserved = (int) (strtol(PQgetvalue(res, 0, 1), NULL, 10) +
						 strtol(PQgetvalue(res, 0, 2), NULL, 10));
	r->others = (int) strtol(PQgetvalue(res, 0, 3), NULL, 10);
	r->super = PQgetvalue(res, 0, 4)[0] == 't';
	r->rolelimit = r->super ? -1 : (int) strtol(PQgetvalue(res, 0, 5), NULL, 10);
	r->rolecount = (int) strtol(PQgetvalue(res, 0, 6), NULL, 10);
	r->dblimit = r->super ? -1 : (int) strtol(PQgetvalue(res, 0, 7), NULL, 10);
	r->dbcount = (int) strtol(PQgetvalue(res, 0, 8), NULL, 10);
	str_copy(r->server, PQgetvalue(res, 0, 9), sizeof(r->server));
	str_copy(r->role, PQgetvalue(res, 0, 10), sizeof(r->role));
	str_copy(r->db, PQgetvalue(res, 0, 11), sizeof(r->db));
	PQclear(res);
	return 0;
}

/* "--jobs 4 needs" or "--jobs 4 and --index-jobs 4 need", as n counts. */
static void
jobs_text(const preflight_options *o, conn_need n, char *buf, size_t size)
{
	if (n.b == 0)
		snprintf(buf, size, "--jobs %d needs", o->jobs);
	else
		snprintf(buf, size, "--jobs %d and --index-jobs %d need", o->jobs, o->index_jobs);
}

/*
 * Hint the largest --jobs (and --index-jobs) that fit in free
 * connections, then what else would make room.
 */
static void
hint_lower(const preflight_options *o, conn_need n, int room, const char *other)
{
	int			bj = 0,
				bi = 0;

	/* Equal counts stay equal; otherwise the most workers, copy first. */
	for (int j = 1; j <= o->jobs; j++)
		for (int i = 1; i <= o->index_jobs; i++)
			if (need_of(n, j, i) <= room && (o->jobs != o->index_jobs || i == j) &&
				(j + i > bj + bi || (j + i == bj + bi && j > bj)))
			{
				bj = j;
				bi = i;
			}
	if (bj == 0)
		log_hint("Even --jobs 1 does not fit: %s.", other);
	else if (n.b == 0)
		log_hint("Use --jobs %d or lower, or %s.", bj, other);
	else
		log_hint("Use --jobs %d --index-jobs %d or lower, or %s.", bj, bi, other);
}

static void
check_server(preflight_ctx *c, const conn_room *r, conn_need n)
{
	int			need = need_of(n, c->o->jobs, c->o->index_jobs);
	int			room = r->max - r->reserved - r->others;
	char		jobs[64];
	const char *where = strcmp(r->side, "same") == 0 ?
	"server (the source and the target are the same server)" :
	strcmp(r->side, SIDE_SOURCE) == 0 ? "source server" : "target server";

	if (room < 0)
		room = 0;
	if (need <= room)
		return;
	jobs_text(c->o, n, jobs, sizeof(jobs));
	problem(c->info, "%s %d connections to the %s, but only %d are free",
			jobs, need, where, room);
	log_detail("max_connections is %d, %d are reserved (superuser_reserved_connections, reserved_connections), "
			   "%d other sessions are open.", r->max, r->reserved, r->others);
	hint_lower(c->o, n, room, "raise max_connections");
}

static void
check_limits(preflight_ctx *c, const conn_room *r, conn_need n, conn_need db)
{
	char		jobs[64];
	int			need = need_of(n, c->o->jobs, c->o->index_jobs);
	int			room = r->rolelimit - r->rolecount;

	if (r->rolelimit >= 0 && (n.a || n.b || n.k) && need > room)
	{
		jobs_text(c->o, n, jobs, sizeof(jobs));
		problem(c->info, "%s %d connections as role \"%s\" on the %s server, but its connection limit (%d) leaves %d",
				jobs, need, r->role, r->side, r->rolelimit, room < 0 ? 0 : room);
		hint_lower(c->o, n, room, "raise the limit with ALTER ROLE ... CONNECTION LIMIT");
	}
	need = need_of(db, c->o->jobs, c->o->index_jobs);
	room = r->dblimit - r->dbcount;
	if (r->dblimit >= 0 && (db.a || db.b || db.k) && need > room)
	{
		jobs_text(c->o, db, jobs, sizeof(jobs));
		problem(c->info, "%s %d connections to database \"%s\" on the %s server, but its connection limit (%d) leaves %d",
				jobs, need, r->db, r->side, r->dblimit, room < 0 ? 0 : room);
		hint_lower(c->o, db, room, "raise the limit with ALTER DATABASE ... CONNECTION LIMIT");
	}
}

void
preflight_connections(preflight_ctx *c)
{
	conn_room	s,
				t;
	conn_need	src = {1, 0, 1};	/* copy workers and the holder */
	conn_need	src_slots = {1, 0, c->o->follow ? 0 : 1};
	conn_need	tgt = {1, 1, 0};	/* copy and index workers */
	conn_need	none = {0, 0, 0};

	if (c->o->jobs < 1 || c->o->index_jobs < 1)
		return;
	if (read_room(c, c->src, SIDE_SOURCE, &s) != 0 ||
		read_room(c, c->tgt, SIDE_TARGET, &t) != 0)
	{
		c->info->problems++;
		return;
	}
	/* A database created by the clone has no connection limit. */
	if (c->tgt_maint || c->recreate)
		t.dblimit = -1;
	if (strcmp(s.server, t.server) == 0)
	{
		conn_need	both = {2, 1, src_slots.k};
		conn_need	role = {2, 1, 1};

		s.side = "same";
		check_server(c, &s, both);
		s.side = SIDE_SOURCE;
		if (strcmp(s.role, t.role) == 0)
		{
			check_limits(c, &s, role, src);
			check_limits(c, &t, none, tgt);
			return;
		}
	}
	else
	{
		check_server(c, &s, src_slots);
		check_server(c, &t, tgt);
	}
	check_limits(c, &s, src, src);
	check_limits(c, &t, tgt, tgt);
}
