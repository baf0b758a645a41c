/*
 * cmd_follow.c
 *		pgcrane follow: options, then follow_run().
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/follow.h"
#include "cli/cli.h"
#include "cli/options.h"
#include "core/interrupt.h"
#include "core/state.h"
#include "util/log.h"
#include "util/str.h"

#define DEFAULT_DIR "pgcrane-work"

enum
{
	OPT_JSON = CLI_LONG_ONLY,
	OPT_TIMEOUT,
	OPT_DDL,
	OPT_APPLY_JOBS
};

static const cli_option options[] = {
	{"dir", 'D', "DIR", "work directory of the clone\n(default: ./" DEFAULT_DIR ")"},
	{"source", 's', "CONNINFO", "source database (default: the one recorded in DIR)"},
	{"target", 't', "CONNINFO", "target database (default: the one recorded in DIR)"},
	{"reconnect-timeout", OPT_TIMEOUT, "SEC", "give up when a server stays out of reach this\n"
	"long (default: 600)"},
	{"ddl", OPT_DDL, "apply|stop", "apply the source's schema changes on the target,\n"
	"or stop at them (default: as the clone was told)"},
	{"apply-jobs", OPT_APPLY_JOBS, "N", CLI_APPLY_JOBS_HELP},
	{"json", OPT_JSON, NULL, "print the cutover summary as JSON on stdout"},
	{"verbose", 'v', NULL, "more messages"},
	{"quiet", 'q', NULL, "only warnings and errors"},
	{NULL, 0, NULL, NULL}
};

static void
usage(void)
{
	printf("pgcrane follow applies the source's changes to the target, after a clone\n"
		   "made with \"pgcrane clone --follow\", until \"pgcrane cutover\".  Run it to\n"
		   "go on after a crash, a stop or an error: it resumes exactly after the last\n"
		   "source transaction the target committed.\n\n");
	printf("Usage:\n  pgcrane follow [--dir DIR] [OPTION]...\n\n");
	printf("Options:\n");
	cli_print_options(options);
	printf("\nWhile it runs, \"pgcrane status --dir DIR\" shows the lag and\n"
		   "\"pgcrane cutover --dir DIR\" ends it.  Ctrl-C stops it; nothing is lost.\n");
	printf("\nExit status: 0 cutover done, 2 error, 130 interrupted.\n");
}

/* Parse one option; false on a bad value (logged). */
static bool
parse_option(int c, follow_options *o, const char **dir, char **owned)
{
	switch (c)
	{
		case 'D':
			*dir = optarg;
			return true;
		case 's':
			o->source = owned[0] = cli_take_secret(optarg);
			return true;
		case 't':
			o->target = owned[1] = cli_take_secret(optarg);
			return true;
		case OPT_TIMEOUT:
			if (str_to_int(optarg, 1, 7 * 24 * 3600, &o->timeout_seconds))
				return true;
			error("invalid value \"%s\" for option --reconnect-timeout", optarg);
			log_hint("Give a number of seconds from 1 to 604800.");
			return false;
		case OPT_DDL:
			return cli_parse_ddl(optarg, &o->ddl);
		case OPT_APPLY_JOBS:
			return cli_parse_apply_jobs(optarg, &o->apply_jobs);
		case OPT_JSON:
			o->json = true;
			return true;
		case 'v':
			log_set_level(LOG_DEBUG);
			return true;
		case 'q':
			log_set_level(LOG_WARNING);
			return true;
	}
	return false;
}

/* Open the directory (with its lock) and follow. */
static int
run(follow_options *o, const char *dir)
{
	interrupt	intr;
	int			rc;

	memset(&intr, 0, sizeof(intr));
	if (!follow_workdir_exists(dir))
		return EXIT_ERROR;
	o->st = state_open(dir);
	if (o->st == NULL)
		return EXIT_ERROR;
	if (interrupt_start(&intr) != 0)
	{
		state_close(o->st);
		return EXIT_ERROR;
	}
	o->intr = &intr;
	rc = cli_exit_code(follow_run(o));
	interrupt_stop(&intr);
	state_close(o->st);
	return rc;
}

int
cmd_follow(int argc, char **argv)
{
	follow_options o;
	const char *dir = DEFAULT_DIR;
	char	   *owned[2] = {NULL, NULL};
	int			c,
				rc = EXIT_ERROR;

	memset(&o, 0, sizeof(o));
	if (cli_wants_help(argc, argv))
	{
		usage();
		return EXIT_OK;
	}
	while ((c = cli_next_option(argc, argv, options)) != -1)
	{
		if (c == '?' || !parse_option(c, &o, &dir, owned))
		{
			cli_try_help("follow");
			free(owned[0]);
			free(owned[1]);
			return EXIT_ERROR;
		}
	}
	if (cli_no_extra_args(argc, argv, "follow"))
		rc = run(&o, dir);
	free(owned[0]);
	free(owned[1]);
	return rc;
}
