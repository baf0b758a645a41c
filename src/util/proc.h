/*
 * proc.h
 *		Run a child program (pg_dump, pg_restore) and wait for it.
 */
#ifndef PGCRANE_PROC_H
#define PGCRANE_PROC_H

#include <signal.h>
#include <stdbool.h>

/*
 * Run argv[0] (a full path) with argv, the current environment plus the
 * "NAME=value" strings of extra_env (which override), stdout sent to
 * stdout_path when it is not NULL.  Wait for it; when *cancel becomes
 * non-zero, the child gets SIGTERM.  Returns the exit status (0 success),
 * or -1 if it could not start or died by a signal; logged with "what".
 */
int			proc_run(const char *const *argv, char *const *extra_env,
					 const char *stdout_path, const volatile sig_atomic_t *cancel,
					 const char *what);

/*
 * Run a program and capture the first line it prints on stdout into buf.
 * Returns 0 or -1 (not logged: used to probe for programs).
 */
int			proc_read_line(const char *const *argv, char *buf, size_t bufsize);

#endif
