/*
 * state.h
 *		The work directory's SQLite file: the plan and what has been done.
 *
 * This module is the only one that touches SQLite.  A run's plan (tables,
 * their parts, indexes) and every step's status and timings live in
 * DIR/state.db; so do the facts resume and follow need (the snapshot,
 * the replication slot, LSNs), each through its own typed functions below
 * (their keys are this module's).  Worker threads report here: every
 * function is safe to call from several threads (one mutex inside).
 *
 * While a state is open the process holds an exclusive lock on
 * DIR/pgcrane.lock (flock), so a second pgcrane on the same directory is
 * refused; the kernel drops the lock when a process dies, so a stale lock
 * never blocks a later run.
 *
 * Functions return 0 or -1 (logged with the SQLite message).
 */
#ifndef PGCRANE_STATE_H
#define PGCRANE_STATE_H

#include <stdbool.h>
#include <stdint.h>

/* A state write whose status is not looked at is a bug: resume trusts it. */
#define STATE_MUST_CHECK __attribute__((warn_unused_result))

typedef struct state state;

/* Status of a step, a table, a part or an index. */
#define STATE_PENDING "pending"
#define STATE_RUNNING "running"
#define STATE_DONE "done"
#define STATE_FAILED "failed"

/*
 * Open DIR/state.db, creating DIR and the schema if needed, and take the
 * directory lock.  NULL (logged) on failure or when another pgcrane holds
 * the lock.  Close with state_close().
 */
state	   *state_open(const char *dir);

/*
 * Open an existing DIR/state.db without the lock, to read what a running
 * pgcrane records and to leave it requests (pgcrane status, cutover).
 * NULL (logged) when there is no state file.
 */
state	   *state_open_shared(const char *dir);
void		state_close(state *st);

/*
 * Whether a pgcrane holds DIR's lock now: 1 held, 0 free (no process works
 * in DIR: a follow recorded there is gone), -1 when it cannot be told
 * (logged).  It tries a shared lock on an open file description of its
 * own for a moment, so it may run while the holder runs, and never blocks.
 * *pid (may be NULL) gets the pid the holder wrote in the lock file, or 0.
 */
int			state_lock_probe(const char *dir, long *pid);

/* Path of the work directory (owned by the state). */
const char *state_dir(const state *st);

/*
 * The facts of a run, one kind each.  Each writer is one SQLite
 * transaction: a fact's parts are all recorded or none is.  Readers give
 * 1 present / 0 absent / -1 failed (logged), or fill a struct and give 0
 * or -1, the struct saying what is absent (NULL strings, a number's
 * stated "none" value).  Strings a reader fills are yours to free.  Times
 * are the text cdc/report.h makes ("2026-11-21 10:16:38Z"); LSNs are
 * numbers, 0 meaning none.
 */

/* Which side of the run a fact is about. */
typedef enum state_side
{
	STATE_SOURCE,
	STATE_TARGET,
} state_side;

/* The run: its endpoints (redacted) and the options a resume keeps. */
typedef struct state_run
{
	char	   *source;			/* NULL when absent */
	char	   *target;
	char	   *toast_compression;	/* NULL when not given */
	bool		follow;			/* --follow */
} state_run;

/*
 * A run starts: its endpoints, status "running", and for a fresh run
 * (fresh) that no target database is created by it yet.  follow and
 * toast_compression are recorded when set; an unset one keeps its value.
 */
STATE_MUST_CHECK int state_record_run(state *st, const state_run *run, bool fresh);
STATE_MUST_CHECK int state_load_run(state *st, state_run *run);
void		state_run_release(state_run *run);

/* The clone's status: "running", "ok", "failed", "rolled back", ...; 1/0/-1. */
STATE_MUST_CHECK int state_record_clone_status(state *st, const char *status);
STATE_MUST_CHECK int state_load_clone_status(state *st, char **status);

/*
 * The identity of side's database (core/identity.h): system identifier,
 * database OID and name.  Load: 1 with all three, 0 when not all are
 * recorded.
 */
STATE_MUST_CHECK int state_record_identity(state *st, state_side side,
										   const char *system, uint32_t db_oid,
										   const char *dbname);
STATE_MUST_CHECK int state_load_identity(state *st, state_side side, char **system,
										 uint32_t *db_oid, char **dbname);

/*
 * The exported snapshot, the pid of the process holding it and, with
 * --follow, the LSN of the slot made with it (0: none).
 */
STATE_MUST_CHECK int state_record_snapshot(state *st, const char *name,
										   int holder_pid, uint64_t start_lsn);
/* *name NULL and *holder_pid 0 when absent; name may be NULL. */
STATE_MUST_CHECK int state_load_snapshot(state *st, char **name, int *holder_pid);
/* The snapshot was lost once more (counted for the record). */
STATE_MUST_CHECK int state_record_snapshot_restart(state *st);

/*
 * Flags of the target database: created by the run, partly restored (a
 * rolled-back run left part of the schema in a database that existed
 * before).  Readers: 1 set, 0 not, -1 failed.
 */
STATE_MUST_CHECK int state_record_target_created(state *st);
STATE_MUST_CHECK int state_target_created(state *st);
STATE_MUST_CHECK int state_record_target_partial(state *st, bool partial);
STATE_MUST_CHECK int state_target_partial(state *st);

/* The large objects are all copied; the reader 1, 0 or -1. */
STATE_MUST_CHECK int state_record_large_objects_done(state *st);
STATE_MUST_CHECK int state_large_objects_done(state *st);

/*
 * Forget what a rolled-back run created: the follow's names and start,
 * the snapshot and its holder, the created target and --follow.
 */
STATE_MUST_CHECK int state_forget_created(state *st);

/* The result of verify: its status and JSON report; load 1, 0 or -1. */
STATE_MUST_CHECK int state_record_verify(state *st, const char *status,
										 const char *json);
STATE_MUST_CHECK int state_load_verify(state *st, char **status, char **json);

/* Following changes: the slot, publication and origin, and the start. */
typedef struct state_follow
{
	char	   *slot;			/* NULL when absent */
	char	   *publication;
	char	   *origin;
	uint64_t	start_lsn;		/* recorded with the snapshot; 0 absent */
} state_follow;

/* Record the names (start_lsn is state_record_snapshot's). */
STATE_MUST_CHECK int state_record_follow(state *st, const state_follow *f);
/* 0, or -1 (logged) also when the recorded start is not an LSN. */
STATE_MUST_CHECK int state_load_follow(state *st, state_follow *f);
void		state_follow_release(state_follow *f);

/*
 * How the follow records on the target what it applied: a replication
 * origin (false, also when never recorded) or pgcrane's own table
 * pgcrane.follow_progress (true: the target role may not use origins).
 * The reader gives 1 table, 0 origin, -1.
 */
STATE_MUST_CHECK int state_record_follow_progress_table(state *st, bool table);
STATE_MUST_CHECK int state_follow_progress_table(state *st);

/*
 * A source table pgcrane set to REPLICA IDENTITY FULL
 * (--replica-identity-full), with the identity it had before, so that
 * cleanup can give it back.
 */
typedef struct state_replident
{
	uint32_t	table_oid;		/* the source's pg_class OID */
	char		identity;		/* 'd' default, 'n' nothing, 'i' index */
	uint32_t	index_oid;		/* with 'i': the index it named, else 0 */
} state_replident;

/*
 * Record the whole list, replacing the one recorded (n 0 forgets it).
 * Load: *list (yours to free; NULL when none) and *n; 0, or -1 (logged)
 * also when the record is not a list.
 */
STATE_MUST_CHECK int state_record_replica_identities(state *st,
													 const state_replident *list,
													 int n);
STATE_MUST_CHECK int state_load_replica_identities(state *st, state_replident **list,
												   int *n);

/* The follow's phase (cdc/keys.h names them); load 1, 0 or -1. */
STATE_MUST_CHECK int state_record_follow_phase(state *st, const char *phase);
STATE_MUST_CHECK int state_load_follow_phase(state *st, char **phase);

/* A follow process starts: its pid, the first start's time, no error. */
STATE_MUST_CHECK int state_record_follow_start(state *st, int64_t pid,
											   const char *now);
/* The follow is alive at now. */
STATE_MUST_CHECK int state_record_follow_alive(state *st, const char *now);
/* A reconnect attempt (0: connected again) and, unless NULL, why. */
STATE_MUST_CHECK int state_record_follow_reconnect(state *st, int64_t attempt,
												   const char *last_error);
/* Why the follow stopped ("" when it did not fail). */
STATE_MUST_CHECK int state_record_follow_error(state *st, const char *error);

/* The live figures, recorded about once a second. */
typedef struct state_figures
{
	uint64_t	applied_lsn;	/* 0: not known */
	uint64_t	durable_lsn;
	uint64_t	source_lsn;
	int64_t		lag_bytes;		/* -1: not known */
	double		lag_seconds;
	double		changes_per_second;
} state_figures;

STATE_MUST_CHECK int state_record_follow_figures(state *st, const state_figures *f,
												 const char *now);

/* The counts and the source position up to which they count. */
typedef struct state_counts
{
	int64_t		transactions;
	int64_t		changes;
	int64_t		missing_rows;
	uint64_t	counted_lsn;
} state_counts;

STATE_MUST_CHECK int state_record_follow_counts(state *st, const state_counts *c);
/* The sequences copied at the cutover. */
STATE_MUST_CHECK int state_record_follow_sequences(state *st, int64_t n);

/*
 * How the follow treats schema changes (cdc/ddl.h): mode "apply" or
 * "stop", and the clone's --no-owner and --no-acl, which the tables it
 * creates on the target keep.  Load: 1, 0 absent (mode NULL), -1.
 */
typedef struct state_ddl
{
	char	   *mode;
	bool		no_owner;
	bool		no_acl;
} state_ddl;

STATE_MUST_CHECK int state_record_follow_ddl(state *st, const state_ddl *d);
STATE_MUST_CHECK int state_load_follow_ddl(state *st, state_ddl *d);
void		state_ddl_release(state_ddl *d);

/*
 * The follow's record of a table's columns on the target, by the source's
 * pg_class OID: which source column (attnum) each target column is, as
 * cdc/ddl.c writes it.  Load: 1 (*columns yours), 0 absent, -1.
 */
STATE_MUST_CHECK int state_record_follow_columns(state *st, uint32_t oid,
												 const char *columns);
STATE_MUST_CHECK int state_load_follow_columns(state *st, uint32_t oid,
											   char **columns);

/*
 * A table created on the source during the follow that the follow is
 * adding (cdc/adopt.h): recorded before its rows reach the target, cleared
 * once the publication holds it.  Whether one is recorded: 1, 0 or -1.
 */
STATE_MUST_CHECK int state_record_follow_adopting(state *st, uint32_t oid, bool on);
STATE_MUST_CHECK int state_follow_adopting(state *st, uint32_t oid);

/* Everything a follow recorded, for status, cutover and a next follow. */
typedef struct state_progress
{
	char	   *phase;			/* NULL: no follow recorded */
	char	   *started_at;		/* NULL when absent */
	char	   *updated_at;
	char	   *last_error;
	int64_t		pid;			/* 0 when absent */
	int64_t		reconnect_attempt;	/* -1 when absent */
	bool		has_figures;
	state_figures figures;
	bool		has_counts;		/* else the counts are 0 */
	state_counts counts;
	int64_t		sequences;		/* -1 when absent */
} state_progress;

STATE_MUST_CHECK int state_load_progress(state *st, state_progress *p);
void		state_progress_release(state_progress *p);

/*
 * A cutover is requested at now: 1 when this call requested it, 0 when it
 * was requested already (its time stays), -1 on error.
 */
STATE_MUST_CHECK int state_request_cutover(state *st, const char *now);
/* The source position the requested cutover applies up to. */
STATE_MUST_CHECK int state_record_cutover_target(state *st, uint64_t lsn);
/*
 * Whether the cutover refreshes the materialized views on the target
 * (pgcrane cutover --no-refresh-matviews: not), written with each request.
 */
STATE_MUST_CHECK int state_record_cutover_refresh_matviews(state *st, bool refresh);

/* What the cutover carried beyond the stream (cdc/cutover_extra.h). */
typedef struct state_carried
{
	int64_t		unlogged_tables;	/* copied again at the cutover */
	int64_t		unlogged_rows;
	int64_t		matviews_refreshed;
	int64_t		matviews_unpopulated;	/* left unpopulated, as on the source */
	int64_t		matviews_skipped;	/* not refreshed: --no-refresh-matviews */
	double		matviews_seconds;	/* all refreshes together */
	char	   *matviews;		/* "name<TAB>seconds" lines in refresh order,
								 * NULL when none; owned by the caller */
	int64_t		lo_copied;		/* created or changed since the clone */
	int64_t		lo_bytes;
	int64_t		lo_unlinked;	/* removed on the source since the clone */
	int64_t		lo_unchanged;
} state_carried;

/*
 * The cutover is done at lsn, at now: what it carried beyond the stream,
 * what the follow did not carry (one line a kind), in one transaction.
 */
STATE_MUST_CHECK int state_record_cutover_done(state *st, uint64_t lsn,
											   const char *now,
											   const state_carried *carried,
											   const char *not_carried);

typedef struct state_cutover
{
	char	   *requested_at;	/* NULL: not requested */
	uint64_t	target_lsn;		/* 0: not fixed yet */
	uint64_t	lsn;			/* 0: not done */
	char	   *done_at;
	char	   *not_carried;	/* one line a kind; NULL when absent */
	char	   *cleanup_done_at;	/* NULL: the slot was not dropped */
	bool		refresh_matviews;	/* true unless --no-refresh-matviews */
	bool		has_carried;	/* a cutover of this version recorded it */
	state_carried carried;		/* its matviews freed by the release */
} state_cutover;

STATE_MUST_CHECK int state_load_cutover(state *st, state_cutover *c);
void		state_cutover_release(state_cutover *c);

/* The slot, publication and origin are dropped, at now. */
STATE_MUST_CHECK int state_record_cleanup_done(state *st, const char *now);

/* A step of the run ("preflight", "schema", "data", ...). */
STATE_MUST_CHECK int			state_step_begin(state *st, const char *step);
STATE_MUST_CHECK int			state_step_end(state *st, const char *step, const char *status,
						   double seconds);
/* The status of a step or NULL when it never started; you own the result. */
char	   *state_step_status(state *st, const char *step);

/* The plan.  Table ids are the source's pg_class OIDs. */
STATE_MUST_CHECK int			state_plan_begin(state *st);	/* clears an earlier plan */
STATE_MUST_CHECK int			state_plan_table(state *st, uint32_t oid, const char *name,
							 int64_t bytes, int nparts, const char *format);
STATE_MUST_CHECK int			state_plan_part(state *st, uint32_t table_oid, int partno,
							int64_t first_block, int64_t end_block);
STATE_MUST_CHECK int			state_plan_index(state *st, uint32_t oid, uint32_t table_oid,
							 const char *name);
/* A foreign key pgcrane adds itself: its pg_constraint OID and table. */
STATE_MUST_CHECK int			state_plan_fk(state *st, uint32_t oid, uint32_t table_oid,
						  const char *name);
STATE_MUST_CHECK int			state_plan_end(state *st);

/* Progress of the plan's items. */
STATE_MUST_CHECK int			state_part_end(state *st, uint32_t table_oid, int partno,
						   const char *status, int64_t rows, int64_t bytes,
						   double seconds);
STATE_MUST_CHECK int			state_index_end(state *st, uint32_t oid, const char *status,
							double seconds);
STATE_MUST_CHECK int			state_fk_end(state *st, uint32_t oid, const char *status,
						 double seconds);

/*
 * Resume.  What a previous run recorded: the parts of a table (up to max,
 * returns how many, 0 when the table is not in the plan, -1 on error),
 * whether an index is built and a table analyzed.
 */
bool		state_has_plan(state *st);
/* How many parts were copied (rows committed on the target); -1 on error. */
int64_t		state_parts_done(state *st);
STATE_MUST_CHECK int			state_load_parts(state *st, uint32_t oid, int64_t *first,
							 int64_t *end, bool *done, int max);
bool		state_index_is_done(state *st, uint32_t oid);
bool		state_fk_is_done(state *st, uint32_t oid);
STATE_MUST_CHECK int			state_table_analyzed(state *st, uint32_t oid);
bool		state_table_is_analyzed(state *st, uint32_t oid);
/* Forget every item's progress (all pending) and every step but preflight. */
STATE_MUST_CHECK int			state_reset_progress(state *st);

/*
 * The selection and transformation rules of the clone (selection.h), as
 * the text sel_format writes: recorded by a fresh clone ("" or NULL when
 * the whole database is cloned as it is, which removes a record), read by
 * resume, verify --dir and follow.  state_load_selection: 1 and *rules
 * (you own it) when recorded, 0 and NULL when not, -1 on error.
 */
STATE_MUST_CHECK int state_record_selection(state *st, const char *rules);
STATE_MUST_CHECK int state_load_selection(state *st, char **rules);

#endif
