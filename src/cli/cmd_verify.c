/*
 * cmd_verify.c
 *		pgcrane verify: parse the options and hand off to verify_run().
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "util/log.h"
#include "util/str.h"
#include "verify/verify.h"

static void
usage(void)
{
	printf("pgcrane verify proves the target database equals the source, and shows\n"
		   "where it does not.\n\n");
	printf("Usage:\n  pgcrane verify --source CONNINFO --target CONNINFO [OPTION]...\n\n");
	printf("Options:\n");
	printf("  -s, --source=CONNINFO  source database (or PGCRANE_SOURCE)\n");
	printf("  -t, --target=CONNINFO  target database (or PGCRANE_TARGET)\n");
	printf("  -j, --jobs=N           tables compared at once (default: one per CPU)\n");
	printf("      --schema-only      compare the schema only\n");
	printf("      --data-only        compare the data only\n");
	printf("  -O, --no-owner         ignore object owners\n");
	printf("  -x, --no-acl           ignore privileges\n");
	printf("      --max-rows=N       differing rows listed per table (default %d)\n",
		   VERIFY_DEFAULT_MAX_ROWS);
	printf("      --split-tables-larger-than=SIZE\n"
		   "                         checksum bigger tables in parallel parts\n"
		   "                         (default: 1GB; 0 never splits)\n");
	printf("      --json             print the full report as JSON\n");
	printf("  -D, --dir=DIR          record the result in the work directory DIR\n");
	printf("  -v, --verbose          print debugging messages\n");
	printf("  -?, --help             show this help, then exit\n\n");
	printf("Prints one line per difference, then \"verify: OK (N tables, M rows)\" or\n"
		   "\"verify: K differences\".  Exit status: 0 equal, 1 different, 2 error.\n");
}

enum
{
	OPT_SCHEMA_ONLY = 256,
	OPT_DATA_ONLY,
	OPT_MAX_ROWS,
	OPT_SPLIT,
	OPT_JSON,
	OPT_HELP
};

static const struct option long_options[] = {
	{"source", required_argument, NULL, 's'},
	{"target", required_argument, NULL, 't'},
	{"jobs", required_argument, NULL, 'j'},
	{"schema-only", no_argument, NULL, OPT_SCHEMA_ONLY},
	{"data-only", no_argument, NULL, OPT_DATA_ONLY},
	{"no-owner", no_argument, NULL, 'O'},
	{"no-acl", no_argument, NULL, 'x'},
	{"max-rows", required_argument, NULL, OPT_MAX_ROWS},
	{"split-tables-larger-than", required_argument, NULL, OPT_SPLIT},
	{"json", no_argument, NULL, OPT_JSON},
	{"dir", required_argument, NULL, 'D'},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0}
};

/* Parse argv into o; the connection strings are copies the caller frees. */
static int
parse_options(int argc, char **argv, verify_options *o, char **src,
			  char **tgt)
{
	int			c;

	if (cli_wants_help(argc, argv))
	{
		usage();
		return EXIT_OK;
	}
	optind = 1;
	while ((c = cli_getopt(argc, argv, "s:t:j:D:Oxv", long_options)) != -1)
	{
		switch (c)
		{
			case 's':
				free(*src);
				*src = cli_take_secret(optarg);
				break;
			case 't':
				free(*tgt);
				*tgt = cli_take_secret(optarg);
				break;
			case 'j':
				if (!cli_parse_jobs("--jobs", optarg, &o->jobs))
					return EXIT_ERROR;
				break;
			case OPT_SCHEMA_ONLY:
				o->schema_only = true;
				break;
			case OPT_DATA_ONLY:
				o->data_only = true;
				break;
			case 'O':
				o->no_owner = true;
				break;
			case 'x':
				o->no_acl = true;
				break;
			case OPT_MAX_ROWS:
				if (!str_to_int(optarg, 1, 1000000, &o->max_rows))
				{
					error("invalid value \"%s\" for option --max-rows", optarg);
					log_hint("The value must be a whole number from 1 to 1000000.");
					return EXIT_ERROR;
				}
				break;
			case OPT_SPLIT:
				if (!str_parse_size(optarg, &o->split_bytes) ||
					o->split_bytes < 0)
				{
					error("invalid value \"%s\" for option --split-tables-larger-than",
						  optarg);
					log_hint("Give a size such as \"512MB\" or \"2GB\", or 0 never to split.");
					return EXIT_ERROR;
				}
				if (o->split_bytes == 0)
					o->split_bytes = -1;
				break;
			case OPT_JSON:
				o->json = true;
				break;
			case 'D':
				o->dir = optarg;
				break;
			case 'v':
				log_set_level(LOG_DEBUG);
				break;
			case OPT_HELP:
				usage();
				return EXIT_OK;
			default:
				cli_try_help("verify");
				return EXIT_ERROR;
		}
	}
	if (!cli_no_extra_args(argc, argv, "verify"))
	{
		return EXIT_ERROR;
	}
	return -1;
}

int
cmd_verify(int argc, char **argv)
{
	verify_options o = VERIFY_OPTIONS_INIT;
	cli_endpoints ep = {NULL, NULL};
	char	   *src = NULL;
	char	   *tgt = NULL;
	int			rc = parse_options(argc, argv, &o, &src, &tgt);

	if (rc == -1)
	{
		ep.source = src;
		ep.target = tgt;
		if (o.schema_only && o.data_only)
		{
			error("options --schema-only and --data-only cannot be used together");
			rc = EXIT_ERROR;
		}
		else if (!cli_endpoints_resolve(&ep, true))
			rc = EXIT_ERROR;
		else
		{
			o.source = ep.source;
			o.target = ep.target;
			rc = verify_run(&o);
		}
	}
	free(src);
	free(tgt);
	return rc;
}
