/*
 * interrupt.c
 *		A thread that turns SIGINT/SIGTERM into query cancels.
 */
#include "core/interrupt.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

/*
 * The one process-wide state: set by a signal, read by whoever waits
 * outside a query.  thread_running tells the handler that the signal
 * thread owns SIGINT and SIGTERM (it only sees them in a thread that does
 * not block them, which should not exist then).
 */
static volatile sig_atomic_t signal_arrived;
static volatile sig_atomic_t thread_running;

static void
handle_signal(int sig)
{
	static const char msg_int[] = "pgcrane: interrupt received, stopping\n";
	static const char msg_term[] = "pgcrane: termination signal received, stopping\n";

	signal_arrived = sig;
	if (thread_running)
		return;
	if (sig == SIGINT)
		(void) !write(STDERR_FILENO, msg_int, sizeof(msg_int) - 1);
	else
		(void) !write(STDERR_FILENO, msg_term, sizeof(msg_term) - 1);
	_exit(130);
}

void
interrupt_install_handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handle_signal;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGINT);
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

bool
interrupt_pending(void)
{
	return signal_arrived != 0;
}

static void
cancel_registered(interrupt *in)
{
	char		err[256];

	pthread_mutex_lock(&in->lock);
	for (int i = 0; i < in->nconns; i++)
		PQcancel(in->conns[i].cancel, err, sizeof(err));
	pthread_mutex_unlock(&in->lock);
}

/* The signals the signal thread waits for: SIGUSR2 only wakes it to end. */
static void
thread_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGUSR2);
}

static void *
signal_thread(void *arg)
{
	interrupt  *in = arg;
	sigset_t	set;

	thread_signals(&set);
	while (!atomic_load(&in->quit))
	{
		int			sig;

		if (sigwait(&set, &sig) != 0 || sig == SIGUSR2)
			continue;
		if (!in->signo)
			log_info("%s received, stopping", sig == SIGINT ? "interrupt" : "termination signal");
		in->signo = sig;
		in->stop = 1;
		signal_arrived = sig;
		cancel_registered(in);
	}
	return NULL;
}

int
interrupt_start(interrupt *in)
{
	sigset_t	set;

	memset(in, 0, sizeof(*in));
	atomic_init(&in->stop, 0);
	atomic_init(&in->signo, 0);
	atomic_init(&in->quit, false);
	pthread_mutex_init(&in->lock, NULL);
	thread_signals(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	thread_running = 1;
	if (pthread_create(&in->thread, NULL, signal_thread, in) != 0)
	{
		thread_running = 0;
		pthread_sigmask(SIG_UNBLOCK, &set, NULL);
		return error("could not start signal thread");
	}
	in->started = true;
	/* A signal the handler saw before this still stops the work. */
	if (signal_arrived)
	{
		in->signo = signal_arrived;
		interrupt_cancel_all(in);
	}
	return 0;
}

void
interrupt_stop(interrupt *in)
{
	sigset_t	set;

	if (!in->started)
		return;
	atomic_store(&in->quit, true);
	pthread_kill(in->thread, SIGUSR2);
	pthread_join(in->thread, NULL);
	in->started = false;
	for (int i = 0; i < in->nconns; i++)
		PQfreeCancel(in->conns[i].cancel);
	free(in->conns);
	in->conns = NULL;
	in->nconns = in->capacity = 0;
	pthread_mutex_destroy(&in->lock);
	thread_signals(&set);
	/* A signal still pending now ends the process through the handler. */
	thread_running = 0;
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

void
interrupt_register(interrupt *in, PGconn *conn)
{
	pthread_mutex_lock(&in->lock);
	if (in->nconns == in->capacity)
	{
		int			cap = in->capacity ? in->capacity * 2 : 16;
		interrupt_conn *grown = realloc(in->conns, sizeof(interrupt_conn) * (size_t) cap);

		if (grown == NULL)
			BUG("out of memory");
		in->conns = grown;
		in->capacity = cap;
	}
	in->conns[in->nconns].conn = conn;
	in->conns[in->nconns++].cancel = PQgetCancel(conn);
	pthread_mutex_unlock(&in->lock);
	/* A signal that came before the registration still stops this one. */
	if (in->stop)
		cancel_registered(in);
}

void
interrupt_unregister(interrupt *in, PGconn *conn)
{
	pthread_mutex_lock(&in->lock);
	for (int i = 0; i < in->nconns; i++)
	{
		if (in->conns[i].conn == conn)
		{
			PQfreeCancel(in->conns[i].cancel);
			in->conns[i] = in->conns[--in->nconns];
			break;
		}
	}
	pthread_mutex_unlock(&in->lock);
}

void
interrupt_cancel_all(interrupt *in)
{
	in->stop = 1;
	cancel_registered(in);
}
