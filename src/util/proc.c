/*
 * proc.c
 *		Run child programs with posix_spawn.
 */
#include "util/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/str.h"

extern char **environ;

/* Whether the environment string e sets the variable that x names. */
static bool
same_name(const char *e, const char *x)
{
	size_t		len = strcspn(x, "=");

	return strncmp(e, x, len) == 0 && e[len] == '=';
}

/*
 * environ with extra_env's names replaced, or removed for an entry
 * without "="; the array is yours to free (not the strings).
 */
static char **
merge_env(char *const *extra_env)
{
	size_t		n = 0,
				m = 0,
				k = 0;
	char	  **env;

	while (environ[n])
		n++;
	while (extra_env && extra_env[m])
		m++;
	env = xcalloc(n + m + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
	{
		bool		replaced = false;

		for (size_t j = 0; j < m && !replaced; j++)
			replaced = same_name(environ[i], extra_env[j]);
		if (!replaced)
			env[k++] = environ[i];
	}
	for (size_t j = 0; j < m; j++)
		if (strchr(extra_env[j], '='))
			env[k++] = extra_env[j];
	env[k] = NULL;
	return env;
}

/*
 * Spawn attributes: the child starts with no signal blocked and default
 * handlers, whatever pgcrane's threads block (interrupt.c blocks SIGINT
 * and SIGTERM), so SIGTERM and Ctrl-C reach it.
 */
static void
spawnattr_init(posix_spawnattr_t *attr, short flags)
{
	sigset_t	none,
				dflt;

	sigemptyset(&none);
	sigemptyset(&dflt);
	sigaddset(&dflt, SIGINT);
	sigaddset(&dflt, SIGTERM);
	sigaddset(&dflt, SIGPIPE);
	posix_spawnattr_init(attr);
	posix_spawnattr_setsigmask(attr, &none);
	posix_spawnattr_setsigdefault(attr, &dflt);
	posix_spawnattr_setflags(attr, flags | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
}

static int
wait_child(pid_t pid, const atomic_int *cancel, const char *what)
{
	int			status;
	bool		signalled = false;

	for (;;)
	{
		pid_t		r = waitpid(pid, &status, WNOHANG);
		struct timespec ts = {0, 50 * 1000 * 1000};

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			return error("could not wait for %s: %s", what, strerror(errno));
		if (cancel && *cancel && !signalled)
		{
			kill(pid, SIGTERM);
			signalled = true;
		}
		nanosleep(&ts, NULL);
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (!signalled)
		error("%s was terminated by signal %d", what, WTERMSIG(status));
	return -1;
}

int
proc_run(const char *const *argv, char *const *extra_env,
		 const char *stdout_path, const atomic_int *cancel,
		 const char *what)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	char	  **env = merge_env(extra_env);
	pid_t		pid;
	int			rc;

	posix_spawn_file_actions_init(&fa);
	if (stdout_path)
		posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, stdout_path,
										 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	spawnattr_init(&attr, 0);
	rc = posix_spawn(&pid, argv[0], &fa, &attr, (char *const *) argv, env);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	free(env);
	if (rc != 0)
		return error("could not run %s \"%s\": %s", what, argv[0], strerror(rc));
	return wait_child(pid, cancel, what);
}

int
proc_read_line(const char *const *argv, char *buf, size_t bufsize)
{
	int			fds[2];
	posix_spawn_file_actions_t fa;
	pid_t		pid;
	ssize_t		n;
	int			status;

	if (pipe(fds) != 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	if (posix_spawn(&pid, argv[0], &fa, NULL, (char *const *) argv, environ) != 0)
	{
		posix_spawn_file_actions_destroy(&fa);
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	n = read(fds[0], buf, bufsize - 1);
	close(fds[0]);
	waitpid(pid, &status, 0);
	if (n <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/*
 * Give the child data on its stdin: a socket pair, so that writing to a
 * child that died raises no SIGPIPE (MSG_NOSIGNAL).  The data is small
 * (a connection string) and fits in the socket's buffer.
 */
static int
send_stdin(int fd, const char *data)
{
	size_t		len = strlen(data),
				off = 0;

	while (off < len)
	{
		ssize_t		n = send(fd, data + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += (size_t) n;
	}
	return 0;
}

/* Read up to the first newline; EOF first means the child failed. */
static size_t
read_first_line(int fd, char *buf, size_t bufsize)
{
	size_t		len = 0;

	while (len < bufsize - 1)
	{
		ssize_t		n = read(fd, buf + len, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || buf[len] == '\n')
			break;
		len++;
	}
	buf[len] = '\0';
	return len;
}

int
proc_start_reader(const char *const *argv, char *const *extra_env,
				  const char *stdin_data, char *buf, size_t bufsize, int *pid)
{
	int			out[2],
				in[2];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	char	  **env;
	pid_t		child;
	int			rc;

	buf[0] = '\0';
	if (pipe2(out, O_CLOEXEC) != 0)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0)
	{
		close(out[0]);
		close(out[1]);
		return -1;
	}
	env = merge_env(extra_env);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, in[1], STDIN_FILENO);
	spawnattr_init(&attr, POSIX_SPAWN_SETSID);
	rc = posix_spawn(&child, argv[0], &fa, &attr, (char *const *) argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	free(env);
	close(out[1]);
	close(in[1]);
	if (rc == 0 && stdin_data)
		(void) send_stdin(in[0], stdin_data);
	close(in[0]);
	if (rc != 0)
	{
		close(out[0]);
		return -1;
	}
	rc = read_first_line(out[0], buf, bufsize) > 0 ? 0 : -1;
	close(out[0]);
	*pid = (int) child;
	return rc;
}

int
proc_cpu_count(void)
{
	long		n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int) n : 1;
}
