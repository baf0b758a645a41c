/*
 * cli.h
 *		The command table and what the commands share.
 *
 * Each command is a cmd_*() function that parses its own options with
 * getopt_long, hands off to the module that does the work and returns the
 * process exit code.  Only main() and the cmd_*() functions end the program.
 */
#ifndef PGCRANE_CLI_H
#define PGCRANE_CLI_H

#include <stdbool.h>

#include "clone/roles.h"
#include "clone/tablespace.h"
#include "core/status.h"

/* Exit codes, the same for every command. */
#define EXIT_OK 0				/* success; verify: source and target equal */
#define EXIT_CHECK_FAILED 1		/* preflight found problems; verify found differences */
#define EXIT_ERROR 2			/* bad usage, connection or copy failure */
#define EXIT_INTERRUPTED 130	/* stopped by Ctrl-C or SIGTERM */

#define PGCRANE_VERSION "0.1.0"

int			cmd_clone(int argc, char **argv);
int			cmd_preflight(int argc, char **argv);
int			cmd_plan(int argc, char **argv);
int			cmd_verify(int argc, char **argv);
int			cmd_follow(int argc, char **argv);
int			cmd_status(int argc, char **argv);
int			cmd_cutover(int argc, char **argv);
int			cmd_cleanup(int argc, char **argv);
int			cmd_snapshot_holder(int argc, char **argv);

/*
 * The --source and --target connection strings, from the options or from
 * PGCRANE_SOURCE and PGCRANE_TARGET.  Returns false (logged) when one is
 * missing.  The strings point into argv or the environment.
 */
typedef struct cli_endpoints
{
	const char *source;
	const char *target;
} cli_endpoints;

bool		cli_endpoints_resolve(cli_endpoints *ep, bool need_target);

/*
 * Overwrite an option value in argv so a password given on the command
 * line does not stay visible in the process list; returns a private copy
 * of the value (you own it).
 */
char	   *cli_take_secret(char *arg);

/* Parse a positive job count for option "name"; false (logged) if bad. */
bool		cli_parse_jobs(const char *name, const char *arg, int *out);

/*
 * Parse --toast-compression: "pglz" or "lz4" (*out points to a constant
 * string), "default" (*out = NULL: the target server's setting); false
 * (logged) if bad.
 */
bool		cli_parse_toast_compression(const char *arg, const char **out);

/* --ddl: "apply" or "stop" into *out (a static string); false (logged). */
bool		cli_parse_ddl(const char *arg, const char **out);

/* Parse --apply-jobs N (1 to CDC_APPLY_MAX_JOBS); false (logged) if bad. */
bool		cli_parse_apply_jobs(const char *arg, int *out);
#define CLI_APPLY_JOBS_HELP "target sessions that apply changes at once\n" \
	"(default: half the CPUs, 1 to 4)"

/* Parse --roles[=all]: arg NULL or "needed", or "all"; false (logged) if bad. */
bool		cli_parse_roles(const char *arg, roles_mode *out);

/* --tablespace-map and --no-tablespaces together are refused (logged). */
bool		cli_tablespace_options_ok(const tablespace_map *map, bool none);

/* The help rows of --roles, --tablespace-map and --no-tablespaces. */
#define CLI_ROLES_HELP "create the roles the database needs (owners,\n" \
	"grantees, policy roles and their memberships)\n" \
	"on the target; =all: every role of the source"
#define CLI_TABLESPACE_MAP_HELP "put what is in tablespace SRC on the source in\n" \
	"DST on the target (repeatable)"
#define CLI_NO_TABLESPACES_HELP "put every object in the target database's\n" \
	"default tablespace"

/* The exit code of an engine's run status (the only place that maps it). */
int			cli_exit_code(run_status status);

/* Number of online CPUs, at least 1. */
int			cli_cpu_count(void);

/* Whether the first argument asks for help (--help or -?). */
bool		cli_wants_help(int argc, char **argv);

/*
 * After getopt_long: false, with one error line and the help hint, when
 * arguments are left over.
 */
bool		cli_no_extra_args(int argc, char **argv, const char *cmd);

/*
 * getopt_long with pgcrane's messages: an unknown option or a missing
 * value is reported as one "pgcrane: error:" line (the caller adds the
 * help hint) and '?' is returned, as getopt_long does.
 */
struct option;
int			cli_getopt(int argc, char **argv, const char *optstring,
					   const struct option *longopts);

/* "hint: Try \"pgcrane CMD --help\" for more information." */
void		cli_try_help(const char *cmd);

#endif
