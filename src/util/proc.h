/*
 * proc.h
 *		Run a child program (pg_dump, pg_restore) and wait for it.
 */
#ifndef PGCRANE_PROC_H
#define PGCRANE_PROC_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * Run argv[0] (a full path) with argv, the current environment plus the
 * "NAME=value" strings of extra_env (which override; a "NAME" without
 * "=" removes that variable from the child's environment), stdout sent to
 * stdout_path when it is not NULL.  Wait for it; when *cancel becomes
 * non-zero, the child gets SIGTERM.  Returns the exit status (0 success),
 * or -1 if it could not start or died by a signal; logged with "what".
 */
int			proc_run(const char *const *argv, char *const *extra_env,
					 const char *stdout_path, const atomic_int *cancel,
					 const char *what);

/*
 * Run a program and capture the first line it prints on stdout into buf.
 * Returns 0 or -1 (not logged: used to probe for programs).
 */
int			proc_read_line(const char *const *argv, char *buf, size_t bufsize);

/*
 * Start argv[0] in a session of its own (it survives this process and
 * does not get the terminal's Ctrl-C), with extra_env applied as for
 * proc_run(), stdin_data (when not NULL) on its stdin followed by EOF,
 * and read the first line it prints into buf; its pid goes to *pid.  The
 * child keeps running.  stdin_data is for what must not show in the
 * child's environment or command line.  0 or -1 (not logged).
 */
int			proc_start_reader(const char *const *argv, char *const *extra_env,
							  const char *stdin_data, char *buf,
							  size_t bufsize, int *pid);

/* Number of online CPUs, at least 1. */
int			proc_cpu_count(void);

#endif
