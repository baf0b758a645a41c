/*
 * interrupt.c
 *		A thread that turns SIGINT/SIGTERM into query cancels.
 */
#include "interrupt.h"

#include <string.h>

#include "util/log.h"

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
	if (pthread_create(&in->thread, NULL, signal_thread, in) != 0)
		return error("could not start signal thread");
	in->started = true;
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
