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
#include "state.h"
#include "util/log.h"
#include "util/str.h"

#define DEFAULT_DIR "pgcrane-work"

static void
usage(void)
{
	printf("pgcrane cleanup drops what following changes left behind: the replication\n"
		   "slot and the publication on the source, the replication origin on the\n"
		   "target.  Run it after the cutover; until then the slot keeps WAL on the\n"
		   "source.  It refuses while pgcrane follow runs on the directory.\n\n");
	printf("Usage:\n  pgcrane cleanup [--dir DIR] [OPTION]...\n\n");
	printf("Options:\n");
	printf("  -D, --dir=DIR            work directory (default: ./" DEFAULT_DIR ")\n");
	printf("  -s, --source=CONNINFO    source database (default: the one recorded in DIR)\n");
	printf("  -t, --target=CONNINFO    target database (default: the one recorded in DIR)\n");
	printf("  -v, --verbose            more messages\n");
	printf("  -?, --help               show this help, then exit\n");
	printf("\nExit status: 0 done, 2 error.\n");
}

static const struct option long_options[] = {
	{"dir", required_argument, NULL, 'D'},
	{"source", required_argument, NULL, 's'},
	{"target", required_argument, NULL, 't'},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, '?'},
	{NULL, 0, NULL, 0}
};

/* Clean up with the directory locked: no follow may be running. */
static int
run(const char *dir, const char *source, const char *target)
{
	state	   *st;
	char	   *phase;
	int			rc;

	if (!follow_workdir_exists(dir) || (st = state_open(dir)) == NULL)
		return EXIT_ERROR;
	phase = state_get(st, FOLLOW_KEY_PHASE);
	if (phase && strcmp(phase, FOLLOW_PHASE_DONE) != 0)
		log_warning("the cutover is not done: after cleanup, following changes cannot resume");
	free(phase);
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
	while ((c = cli_getopt(argc, argv, "D:s:t:v?", long_options)) != -1)
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
