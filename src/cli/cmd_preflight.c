/*
 * cmd_preflight.c
 *		pgcrane preflight: the clone's checks alone.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/options.h"
#include "cli/select_opts.h"
#include "clone/preflight.h"
#include "clone/tablespace.h"
#include "util/log.h"

enum
{
	OPT_DROP = CLI_LONG_ONLY,
	OPT_JSON,
	OPT_FOLLOW,
	OPT_REPLIDENT_FULL,
	OPT_TOAST,
	OPT_ROLES,
	OPT_TBLSPC_MAP,
	OPT_NO_TBLSPC
};

static const cli_option options[] = {
	{"source", 's', "CONNINFO", "source database (or PGCRANE_SOURCE)"},
	{"target", 't', "CONNINFO", "target database (or PGCRANE_TARGET)"},
	{"drop-if-exists", OPT_DROP, NULL, "accept a non-empty target (clone will recreate it)"},
	{"jobs", 'j', "N", "copy workers clone will use (default: number of CPUs):\n"
	"check that both servers have the connections"},
	{"index-jobs", 'J', "N", "index workers (default: same as --jobs)"},
	{"no-owner", 'O', NULL, "clone will not set owners: owners need not exist"},
	{"no-acl", 'x', NULL, "clone will not copy privileges: grantees need not exist"},
	{"roles", OPT_ROLES, "[=all]", CLI_ROLES_HELP},
	{"tablespace-map", OPT_TBLSPC_MAP, "SRC=DST", CLI_TABLESPACE_MAP_HELP},
	{"no-tablespaces", OPT_NO_TBLSPC, NULL, CLI_NO_TABLESPACES_HELP},
	{"follow", OPT_FOLLOW, NULL, "also check what clone --follow needs (wal_level,\n"
	"slots, REPLICATION, replica identities)"},
	{"replica-identity-full", OPT_REPLIDENT_FULL, NULL, "with --follow: clone will set REPLICA IDENTITY\n"
	"FULL on the tables without a replica identity"},
	{"toast-compression", OPT_TOAST, "METHOD", "check that the target can write pglz or lz4"},
	CLI_SELECTION_OPTIONS,
	{"json", OPT_JSON, NULL, "print the result as JSON on stdout"},
	{NULL, 0, NULL, NULL}
};

static void
usage(void)
{
	printf("pgcrane preflight checks both servers before a migration and reports\n"
		   "every problem at once.  It changes nothing.\n\n");
	printf("Usage:\n  pgcrane preflight --source CONNINFO --target CONNINFO [OPTION]...\n\n");
	printf("Options:\n");
	cli_print_options(options);
	printf("\nExit status: 0 ready, 1 problems found, 2 error (e.g. a server unreachable).\n");
}

/* One option into po (or json); false (logged) when it is not valid. */
static bool
parse_option(int c, preflight_options *po, tablespace_map *map, bool *json)
{
	switch (c)
	{
		case OPT_DROP:
			po->drop_if_exists = true;
			return true;
		case OPT_JSON:
			*json = true;
			return true;
		case OPT_FOLLOW:
			po->follow = true;
			return true;
		case OPT_REPLIDENT_FULL:
			po->replica_identity_full = true;
			return true;
		case OPT_TOAST:
			return cli_parse_toast_compression(optarg, &po->toast_compression);
		case 'j':
			return cli_parse_jobs("--jobs", optarg, &po->jobs);
		case 'J':
			return cli_parse_jobs("--index-jobs", optarg, &po->index_jobs);
		case 'O':
			po->no_owner = true;
			return true;
		case 'x':
			po->no_acl = true;
			return true;
		case OPT_ROLES:
			return cli_parse_roles(optarg, &po->roles);
		case OPT_TBLSPC_MAP:
			return tablespace_map_add(map, optarg);
		case OPT_NO_TBLSPC:
			po->no_tablespaces = true;
			return true;
	}
	return false;
}

int
cmd_preflight(int argc, char **argv)
{
	preflight_options po = {0};
	selection	sel = SELECTION_INIT;
	tablespace_map map = TABLESPACE_MAP_INIT;
	int			is_sel;
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
	po.jobs = cli_cpu_count();
	while ((c = cli_next_option(argc, argv, options)) != -1)
	{
		if (c == 's')
			ep.source = owned[0] = cli_take_secret(optarg);
		else if (c == 't')
			ep.target = owned[1] = cli_take_secret(optarg);
		else if (c == '?' || (is_sel = cli_selection_option(c, optarg, &sel)) < 0 ||
				 (is_sel == 0 && !parse_option(c, &po, &map, &json)))
		{
			cli_try_help("preflight");
			free(owned[0]);
			free(owned[1]);
			tablespace_map_release(&map);
			sel_release(&sel);
			return EXIT_ERROR;
		}
	}
	if (po.index_jobs == 0)
		po.index_jobs = po.jobs;
	po.tablespace_map = &map;
	po.sel = &sel;
	if (po.replica_identity_full && !po.follow)
		error("option --replica-identity-full needs --follow");
	if (!cli_no_extra_args(argc, argv, "preflight") ||
		!cli_tablespace_options_ok(&map, po.no_tablespaces) ||
		(po.replica_identity_full && !po.follow) ||
		!cli_endpoints_resolve(&ep, true))
	{
		free(owned[0]);
		free(owned[1]);
		tablespace_map_release(&map);
		sel_release(&sel);
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
	tablespace_map_release(&map);
	sel_release(&sel);
	free(owned[0]);
	free(owned[1]);
	return rc;
}
