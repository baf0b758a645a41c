/*
 * status.h
 *		How a run of an engine (clone, verify, follow) ended.
 *
 * The engines return one of these; only cli/ turns it into the process
 * exit code (cli_exit_code), so no stage knows about exit codes.
 */
#ifndef PGCRANE_STATUS_H
#define PGCRANE_STATUS_H

typedef enum run_status
{
	RUN_OK = 0,					/* done; verify: the two are equal */
	RUN_CHECK_FAILED,			/* preflight found problems; verify:
								 * differences */
	RUN_FAILED,					/* an error (logged) */
	RUN_INTERRUPTED				/* stopped by SIGINT or SIGTERM */
} run_status;

#endif
