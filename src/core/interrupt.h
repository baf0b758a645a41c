/*
 * interrupt.h
 *		Ctrl-C, SIGTERM and stopping every running query.
 *
 * interrupt_start() blocks SIGINT and SIGTERM in the calling thread (so in
 * every thread started after it) and starts one thread that waits for
 * them with sigwait().  When one arrives, that thread sets the flag and
 * sends a cancel request to every registered connection, so workers stop
 * within moments instead of finishing a long COPY.  Nothing runs inside a
 * signal handler.  interrupt_cancel_all() does the same without a signal,
 * for when one worker fails and the others must stop.
 *
 * Before any command runs, main() calls interrupt_install_handlers(): until
 * a command starts the signal thread, SIGINT and SIGTERM end the process at
 * once with exit code 130 (the handler only writes one line and calls
 * _exit(), so nothing new is created after the signal).  Both the handler
 * and the signal thread set one process-wide flag, interrupt_pending(),
 * that code waiting outside a query (a connection attempt, conn.c) checks
 * every few milliseconds.
 */
#ifndef PGCRANE_INTERRUPT_H
#define PGCRANE_INTERRUPT_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <libpq-fe.h>

/*
 * The stop flag: written by the signal thread or a failing worker, read
 * by every worker; atomic, so that is no data race.  Functions that only
 * watch it take a const interrupt_flag *.
 */
typedef atomic_int interrupt_flag;

/* A registered connection and the cancel handle made for it. */
typedef struct interrupt_conn
{
	PGconn	   *conn;
	PGcancel   *cancel;
} interrupt_conn;

typedef struct interrupt
{
	interrupt_flag stop;		/* set when work must stop */
	atomic_int	signo;			/* the signal that arrived, or 0 */
	atomic_bool quit;			/* interrupt_stop: the thread must end */
	pthread_mutex_t lock;		/* guards conns */
	interrupt_conn *conns;		/* registered connections, grown as needed */
	int			nconns;
	int			capacity;
	pthread_t	thread;
	bool		started;
} interrupt;

/* Install the SIGINT/SIGTERM handlers described above; call once, first. */
void		interrupt_install_handlers(void);

/* Whether SIGINT or SIGTERM arrived (the signal thread or the handler). */
bool		interrupt_pending(void);

/* Initialise and start the signal thread; 0 or -1 (logged). */
int			interrupt_start(interrupt *in);
/*
 * Stop the signal thread (woken with SIGUSR2, it ends by itself: it is
 * never cancelled while it may hold a lock) and restore the signal mask.
 */
void		interrupt_stop(interrupt *in);

/* Track a connection so it can be canceled; forget it before PQfinish. */
void		interrupt_register(interrupt *in, PGconn *conn);
void		interrupt_unregister(interrupt *in, PGconn *conn);

/* Set the stop flag and cancel every registered connection's query. */
void		interrupt_cancel_all(interrupt *in);

#endif
