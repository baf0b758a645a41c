/*
 * cmd_preflight.c
 *		pgcrane preflight: the clone's checks alone.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "preflight.h"
#include "util/log.h"

static void
usage(void)
{
	printf("pgcrane preflight checks both servers before a migration and reports\n"
		   "every problem at once.  It changes nothing.\n\n");
	printf("Usage:\n  pgcrane preflight --source CONNINFO --target CONNINFO [OPTION]...\n\n");
	printf("Options:\n");
	printf("  -s, --source=CONNINFO   source database (or PGCRANE_SOURCE)\n");
	printf("  -t, --target=CONNINFO   target database (or PGCRANE_TARGET)\n");
	printf("      --drop-if-exists    accept a non-empty target (clone will recreate it)\n");
	printf("      --follow            also check what clone --follow needs (wal_level,\n"
		   "                          slots, REPLICATION, replica identities)\n");
	printf("      --toast-compression=METHOD\n"
		   "                          check that the target can write pglz or lz4\n");
	printf("      --json              print the result as JSON on stdout\n");
	printf("  -?, --help              show this help, then exit\n");
	printf("\nExit status: 0 ready, 1 problems found, 2 error (e.g. a server unreachable).\n");
}

static const struct option long_options[] = {
	{"source", required_argument, NULL, 's'},
	{"target", required_argument, NULL, 't'},
	{"drop-if-exists", no_argument, NULL, 'd'},
	{"json", no_argument, NULL, 'J'},
	{"follow", no_argument, NULL, 'F'},
	{"toast-compression", required_argument, NULL, 'T'},
	{"help", no_argument, NULL, '?'},
	{NULL, 0, NULL, 0}
};

int
cmd_preflight(int argc, char **argv)
{
	preflight_options po = {NULL, NULL, false, false, false, NULL};
	preflight_info info;
	cli_endpoints ep = {NULL, NULL};
	char	   *owned[2] = {NULL, NULL};
	bool		json = false;
	int			c,
				rc;

	if (cli_wants_help(argc, argv))
	{
		usage();
		return EXIT_OK;
	}
	while ((c = cli_getopt(argc, argv, "s:t:?", long_options)) != -1)
	{
		if (c == 's')
			ep.source = owned[0] = cli_take_secret(optarg);
		else if (c == 't')
			ep.target = owned[1] = cli_take_secret(optarg);
		else if (c == 'd')
			po.drop_if_exists = true;
		else if (c == 'J')
			json = true;
		else if (c == 'F')
			po.follow = true;
		else if (c == 'T' &&
				 cli_parse_toast_compression(optarg, &po.toast_compression))
			continue;
		else
		{
			cli_try_help("preflight");
			free(owned[0]);
			free(owned[1]);
			return EXIT_ERROR;
		}
	}
	if (!cli_endpoints_resolve(&ep, true))
	{
		free(owned[0]);
		free(owned[1]);
		return EXIT_ERROR;
	}
	po.source = ep.source;
	po.target = ep.target;
	rc = preflight_run(&po, &info);
	/* On failure the problems, one line each, are all there is to say. */
	if (json || rc == 0)
		preflight_print(&info, json);
	if (rc == 0 && !json)
		log_info("preflight: OK");
	rc = rc == 0 ? EXIT_OK : info.unreachable ? EXIT_ERROR : EXIT_CHECK_FAILED;
	preflight_info_release(&info);
	free(owned[0]);
	free(owned[1]);
	return rc;
}
