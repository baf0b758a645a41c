/*
 * cmd_verify.c
 *		pgcrane verify: parse the options and hand off to verify_run().
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/options.h"
#include "cli/select_opts.h"
#include "util/log.h"
#include "util/str.h"
#include "verify/verify.h"

enum
{
	OPT_SCHEMA_ONLY = CLI_LONG_ONLY,
	OPT_DATA_ONLY,
	OPT_MAX_ROWS,
	OPT_SPLIT,
	OPT_JSON
};

static const cli_option options[] = {
	{"source", 's', "CONNINFO", "source database (or PGCRANE_SOURCE)"},
	{"target", 't', "CONNINFO", "target database (or PGCRANE_TARGET)"},
	{"jobs", 'j', "N", "tables compared at once (default: one per CPU)"},
	{"schema-only", OPT_SCHEMA_ONLY, NULL, "compare the schema only"},
	{"data-only", OPT_DATA_ONLY, NULL, "compare the data only"},
	{"no-owner", 'O', NULL, "ignore object owners"},
	{"no-acl", 'x', NULL, "ignore privileges"},
	{"max-rows", OPT_MAX_ROWS, "N", "differing rows listed per table (default "
	CLI_STRINGIFY(VERIFY_DEFAULT_MAX_ROWS) ")"},
	{"split-tables-larger-than", OPT_SPLIT, "SIZE", "checksum bigger tables in parallel parts\n"
	"(default: a quarter of each job's share; 0 never splits)"},
	{"json", OPT_JSON, NULL, "print the full report as JSON"},
	{"dir", 'D', "DIR", "record the result in the work directory DIR\n"
	"(and compare under the rules its clone recorded)"},
	CLI_SELECTION_OPTIONS,
	{"verbose", 'v', NULL, "print debugging messages"},
	{NULL, 0, NULL, NULL}
};

static void
usage(void)
{
	printf("pgcrane verify proves the target database equals the source, and shows\n"
		   "where it does not.\n\n");
	printf("Usage:\n  pgcrane verify --source CONNINFO --target CONNINFO [OPTION]...\n\n");
	printf("Options:\n");
	cli_print_options(options);
	printf("\nPrints one line per difference, then \"verify: OK (N tables, M rows)\" or\n"
		   "\"verify: K differences\".  Exit status: 0 equal, 1 different, 2 error.\n");
}

/* Parse argv into o; the connection strings are copies the caller frees. */
static int
parse_options(int argc, char **argv, verify_options *o, char **src,
			  char **tgt, selection *sel)
{
	int			c;
	int			is_sel;

	if (cli_wants_help(argc, argv))
	{
		usage();
		return EXIT_OK;
	}
	optind = 1;
	while ((c = cli_next_option(argc, argv, options)) != -1)
	{
		if ((is_sel = cli_selection_option(c, optarg, sel)) != 0)
		{
			if (is_sel < 0)
			{
				cli_try_help("verify");
				return EXIT_ERROR;
			}
			continue;
		}
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
			case CLI_HELP:
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
	selection	sel = SELECTION_INIT;
	int			rc = parse_options(argc, argv, &o, &src, &tgt, &sel);

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
			o.sel = &sel;
			rc = cli_exit_code(verify_run(&o));
		}
	}
	sel_release(&sel);
	free(src);
	free(tgt);
	return rc;
}
