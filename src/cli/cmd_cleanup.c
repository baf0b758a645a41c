/*
 * cmd_cleanup.c
 *		pgcrane cleanup: drop the slot, publication and origin of a follow.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/cleanup.h"
#include "cdc/follow.h"
#include "cli/cli.h"
#include "clone/rollback.h"
#include "cli/options.h"
#include "core/state.h"
#include "util/log.h"
#include "util/str.h"

#define DEFAULT_DIR "pgcrane-work"

static const cli_option options[] = {
	{"dir", 'D', "DIR", "work directory (default: ./" DEFAULT_DIR ")"},
	{"source", 's', "CONNINFO", "source database (default: the one recorded in DIR)"},
	{"target", 't', "CONNINFO", "target database (default: the one recorded in DIR)"},
	{"verbose", 'v', NULL, "more messages"},
	{NULL, 0, NULL, NULL}
};

static void
usage(void)
{
	printf("pgcrane cleanup removes what a clone left behind: the snapshot holder of\n"
		   "an interrupted clone; after a follow, the replication slot and the\n"
		   "publication on the source and the replication origin on the target.  Run\n"
		   "it after the cutover; until then the slot keeps WAL on the source.  It\n"
		   "refuses while pgcrane follow runs on the directory, and when a server\n"
		   "given or recorded is not the one the clone recorded.\n\n");
	printf("Usage:\n  pgcrane cleanup [--dir DIR] [OPTION]...\n\n");
	printf("Options:\n");
	cli_print_options(options);
	printf("\nExit status: 0 done, 2 error.\n");
}

/* Clean up with the directory locked: no follow may be running. */
static int
run(const char *dir, const char *source, const char *target)
{
	state	   *st;
	char	   *phase;
	int			rc;

	if (!follow_workdir_exists(dir) || (st = state_open(dir)) == NULL)
		return EXIT_ERROR;
	if (state_load_follow_phase(st, &phase) < 0)
	{
		state_close(st);
		return EXIT_ERROR;
	}
	if (phase && strcmp(phase, FOLLOW_PHASE_DONE) != 0)
		log_warning("the cutover is not done: after cleanup, following changes cannot resume");
	free(phase);
	/* The holder of an interrupted clone first: it holds a source session. */
	rollback_stop_holder(st);
	rc = cdc_cleanup(st, source, target);
	state_close(st);
	return rc == 0 ? EXIT_OK : EXIT_ERROR;
}

int
cmd_cleanup(int argc, char **argv)
{
	const char *dir = DEFAULT_DIR;
	char	   *owned[2] = {NULL, NULL};
	int			c,
				rc = EXIT_ERROR;

	if (cli_wants_help(argc, argv))
	{
		usage();
		return EXIT_OK;
	}
	while ((c = cli_next_option(argc, argv, options)) != -1)
	{
		switch (c)
		{
			case 'D':
				dir = optarg;
				break;
			case 's':
				free(owned[0]);
				owned[0] = cli_take_secret(optarg);
				break;
			case 't':
				free(owned[1]);
				owned[1] = cli_take_secret(optarg);
				break;
			case 'v':
				log_set_level(LOG_DEBUG);
				break;
			default:
				cli_try_help("cleanup");
				free(owned[0]);
				free(owned[1]);
				return EXIT_ERROR;
		}
	}
	if (cli_no_extra_args(argc, argv, "cleanup"))
		rc = run(dir, owned[0], owned[1]);
	free(owned[0]);
	free(owned[1]);
	return rc;
}
