/*
 * interrupt.c
 *		A thread that turns SIGINT/SIGTERM into query cancels.
 */
#include "interrupt.h"

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
	for (int i = 0; i < INTERRUPT_MAX_CONNS; i++)
		if (in->cancels[i])
			PQcancel(in->cancels[i], err, sizeof(err));
	pthread_mutex_unlock(&in->lock);
}

static void *
signal_thread(void *arg)
{
	interrupt  *in = arg;
	sigset_t	set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	for (;;)
	{
		int			sig;

		if (sigwait(&set, &sig) != 0)
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
	pthread_mutex_init(&in->lock, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
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
	pthread_cancel(in->thread);
	pthread_join(in->thread, NULL);
	in->started = false;
	for (int i = 0; i < INTERRUPT_MAX_CONNS; i++)
		if (in->cancels[i])
			PQfreeCancel(in->cancels[i]);
	pthread_mutex_destroy(&in->lock);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	/* A signal still pending now ends the process through the handler. */
	thread_running = 0;
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

void
interrupt_register(interrupt *in, PGconn *conn)
{
	pthread_mutex_lock(&in->lock);
	for (int i = 0; i < INTERRUPT_MAX_CONNS; i++)
	{
		if (in->conns[i] == NULL)
		{
			in->conns[i] = conn;
			in->cancels[i] = PQgetCancel(conn);
			break;
		}
	}
	pthread_mutex_unlock(&in->lock);
	/* A signal that came before the registration still stops this one. */
	if (in->stop)
		cancel_registered(in);
}

void
interrupt_unregister(interrupt *in, PGconn *conn)
{
	pthread_mutex_lock(&in->lock);
	for (int i = 0; i < INTERRUPT_MAX_CONNS; i++)
	{
		if (in->conns[i] == conn)
		{
			PQfreeCancel(in->cancels[i]);
			in->cancels[i] = NULL;
			in->conns[i] = NULL;
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
