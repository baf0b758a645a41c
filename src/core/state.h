/*
 * state.h
 *		The work directory's SQLite file: the plan and what has been done.
 *
 * This module is the only one that touches SQLite.  A run's plan (tables,
 * their parts, indexes) and every step's status and timings live in
 * DIR/state.db; so do the snapshot, replication slot and LSNs that resume
 * and follow need, as key/value pairs.  Worker threads report here: every
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

/* Key/value settings: snapshot, slot, LSNs, the redacted connections. */
STATE_MUST_CHECK int			state_put(state *st, const char *key, const char *value);
/* Several keys in one SQLite transaction: n pairs keys[i], values[i]. */
STATE_MUST_CHECK int			state_put_many(state *st, const char *const *keys,
							   const char *const *values, int n);
/* Whether a flag key is set ("on"); false when absent or unreadable. */
bool		state_is_on(state *st, const char *key);
/* Forget a key; 0 also when it was absent. */
STATE_MUST_CHECK int			state_delete(state *st, const char *key);
/*
 * The value of key: 1 (*value set, yours), 0 when the key is absent, -1
 * (logged) when the file could not be read, so that "absent" is never
 * mistaken for a failure or the other way round.
 */
STATE_MUST_CHECK int state_lookup(state *st, const char *key, char **value);
/* The value or NULL when absent or unreadable (logged); you own the result. */
char	   *state_get(state *st, const char *key);

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

#endif
