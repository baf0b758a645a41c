/*
 * cmd_clone.c
 *		pgcrane clone: options, then clone_run().
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/options.h"
#include "cli/select_opts.h"
#include "clone/clone.h"
#include "util/log.h"
#include "util/str.h"

#define DEFAULT_DIR "pgcrane-work"
#define DEFAULT_HOLD_MINUTES 60

enum
{
	OPT_DROP = CLI_LONG_ONLY,
	OPT_SPLIT,
	OPT_JSON,
	OPT_VERIFY,
	OPT_RESUME,
	OPT_HOLD,
	OPT_FOLLOW,
	OPT_REPLIDENT_FULL,
	OPT_TOAST,
	OPT_ROLES,
	OPT_TBLSPC_MAP,
	OPT_NO_TBLSPC,
	OPT_PLAN,
	OPT_DDL,
	OPT_APPLY_JOBS
};

static const cli_option options[] = {
	{"source", 's', "CONNINFO", "source database (or PGCRANE_SOURCE)"},
	{"target", 't', "CONNINFO", "target database (or PGCRANE_TARGET); created\n"
	"if it does not exist"},
	{"jobs", 'j', "N", "copy workers (default: number of CPUs)"},
	{"index-jobs", 'J', "N", "index workers (default: same as --jobs)"},
	{"dir", 'D', "DIR", "work directory with the state file\n"
	"(default: ./" DEFAULT_DIR ")"},
	{"no-owner", 'O', NULL, "do not set ownership of objects"},
	{"no-acl", 'x', NULL, "do not copy privileges (grant/revoke)"},
	{"roles", OPT_ROLES, "[=all]", CLI_ROLES_HELP},
	{"tablespace-map", OPT_TBLSPC_MAP, "SRC=DST", CLI_TABLESPACE_MAP_HELP},
	{"no-tablespaces", OPT_NO_TBLSPC, NULL, CLI_NO_TABLESPACES_HELP},
	{"drop-if-exists", OPT_DROP, NULL, "drop and recreate a non-empty target database"},
	{"split-tables-larger-than", OPT_SPLIT, "SIZE", "copy bigger tables in parallel parts (default:\n"
	"auto, from the database size and --jobs;\n"
	"0 never splits)"},
	{"toast-compression", OPT_TOAST, "METHOD", "compress the TOASTed values copied with pglz\n"
	"or lz4 (default: the target server's\n"
	"default_toast_compression)"},
	{"resume", OPT_RESUME, NULL, "finish the interrupted clone recorded in --dir\n"
	"(source and target may then be left out)"},
	{"snapshot-hold-time", OPT_HOLD, "MIN", "keep the snapshot of an interrupted clone for\n"
	"a resume this many minutes (default: " CLI_STRINGIFY(DEFAULT_HOLD_MINUTES) ")"},
	{"follow", OPT_FOLLOW, NULL, "create a replication slot for the snapshot and,\n"
	"once the copy is done, apply the source's\n"
	"changes until \"pgcrane cutover\""},
	CLI_SELECTION_OPTIONS,
	{"plan", OPT_PLAN, NULL, "print what would be copied, renamed and left\n"
	"out, with sizes, and change nothing"},
	{"replica-identity-full", OPT_REPLIDENT_FULL, NULL, "with --follow: set REPLICA IDENTITY FULL on the\n"
	"source's tables without a replica identity\n"
	"(cleanup gives back what they had)"},
	{"ddl", OPT_DDL, "apply|stop", "with --follow: apply the source's schema changes\n"
	"on the target (default), or stop at them"},
	{"apply-jobs", OPT_APPLY_JOBS, "N", "with --follow: " CLI_APPLY_JOBS_HELP},
	{"verify", OPT_VERIFY, NULL, "run pgcrane verify when the clone is done"},
	{"json", OPT_JSON, NULL, "print the summary as JSON on stdout"},
	{"verbose", 'v', NULL, "more messages"},
	{"quiet", 'q', NULL, "only warnings and errors"},
	{NULL, 0, NULL, NULL}
};

static void
usage(void)
{
	printf("pgcrane clone copies a database to another server: schema, rows,\n"
		   "sequences and large objects, from one consistent snapshot.\n\n");
	printf("Usage:\n  pgcrane clone --source CONNINFO --target CONNINFO [OPTION]...\n\n");
	printf("Options:\n");
	cli_print_options(options);
	printf("\nConnection strings are libpq key=value strings or postgresql:// URIs;\n"
		   "passwords come from ~/.pgpass or PGPASSWORD.\n");
	printf("\nExit status: 0 done, 1 preflight found problems, 2 error, 130 interrupted.\n");
}

/* Parse one option into o; false on a bad value (logged). */
static bool
parse_option(int c, clone_options *o, cli_endpoints *ep, char **owned)
{
	int			sel = cli_selection_option(c, optarg, &o->sel);

	if (sel != 0)
		return sel > 0;
	switch (c)
	{
		case 's':
			ep->source = owned[0] = cli_take_secret(optarg);
			return true;
		case 't':
			ep->target = owned[1] = cli_take_secret(optarg);
			return true;
		case 'j':
			return cli_parse_jobs("--jobs", optarg, &o->jobs);
		case 'J':
			return cli_parse_jobs("--index-jobs", optarg, &o->index_jobs);
		case 'D':
			o->dir = optarg;
			return true;
		case 'O':
			o->no_owner = true;
			return true;
		case 'x':
			o->no_acl = true;
			return true;
		case OPT_ROLES:
			return cli_parse_roles(optarg, &o->roles);
		case OPT_TBLSPC_MAP:
			return tablespace_map_add(&o->tablespaces, optarg);
		case OPT_NO_TBLSPC:
			o->no_tablespaces = true;
			return true;
		case OPT_DROP:
			o->drop_if_exists = true;
			return true;
		case OPT_SPLIT:
			if (strcmp(optarg, "auto") == 0)
			{
				o->split_bytes = CLONE_SPLIT_AUTO;
				return true;
			}
			if (str_parse_size(optarg, &o->split_bytes))
				return true;
			error("invalid value \"%s\" for option --split-tables-larger-than", optarg);
			log_hint("Give a size such as 500MB or 2GB, \"auto\", or 0 to never split.");
			return false;
		case OPT_JSON:
			o->json = true;
			return true;
		case OPT_PLAN:
			o->plan = true;
			return true;
		case OPT_VERIFY:
			o->verify = true;
			return true;
		case OPT_RESUME:
			o->resume = true;
			return true;
		case OPT_FOLLOW:
			o->follow = true;
			return true;
		case OPT_REPLIDENT_FULL:
			o->replica_identity_full = true;
			return true;
		case OPT_DDL:
			return cli_parse_ddl(optarg, &o->ddl);
		case OPT_APPLY_JOBS:
			return cli_parse_apply_jobs(optarg, &o->apply_jobs);
		case OPT_TOAST:
			return cli_parse_toast_compression(optarg, &o->toast_compression);
		case OPT_HOLD:
			if (str_to_int(optarg, 1, 7 * 24 * 60, &o->hold_seconds))
			{
				o->hold_seconds *= 60;
				return true;
			}
			error("invalid value \"%s\" for option --snapshot-hold-time", optarg);
			log_hint("Give a number of minutes from 1 to 10080.");
			return false;
		case 'v':
			log_set_level(LOG_DEBUG);
			return true;
		case 'q':
			log_set_level(LOG_WARNING);
			return true;
	}
	return false;
}

/*
 * The combinations the selection does not support: --resume (which takes
 * the rules the clone recorded).  False (logged) when refused.
 */
static bool
selection_options_ok(const clone_options *o)
{
	if (o->plan && o->resume)
	{
		error("--plan cannot be used with --resume");
		return false;
	}
	if (sel_is_empty(&o->sel))
		return true;
	if (o->resume)
	{
		error("selection and transformation options cannot be given with --resume");
		log_hint("A resume applies the rules the interrupted clone recorded in its work directory.");
		return false;
	}
	return true;
}

static void
release_options(clone_options *o, char **owned)
{
	tablespace_map_release(&o->tablespaces);
	sel_release(&o->sel);
	free(owned[0]);
	free(owned[1]);
}

int
cmd_clone(int argc, char **argv)
{
	clone_options o = {0};
	cli_endpoints ep = {NULL, NULL};
	char	   *owned[2] = {NULL, NULL};
	int			c,
				rc;

	o.dir = DEFAULT_DIR;
	o.hold_seconds = DEFAULT_HOLD_MINUTES * 60;
	o.jobs = cli_cpu_count();
	o.split_bytes = CLONE_SPLIT_AUTO;
	if (cli_wants_help(argc, argv))
	{
		usage();
		return EXIT_OK;
	}
	while ((c = cli_next_option(argc, argv, options)) != -1)
	{
		if (c == '?' || !parse_option(c, &o, &ep, owned))
		{
			cli_try_help("clone");
			release_options(&o, owned);
			return EXIT_ERROR;
		}
	}
	if (!cli_no_extra_args(argc, argv, "clone") ||
		!cli_tablespace_options_ok(&o.tablespaces, o.no_tablespaces) ||
		!selection_options_ok(&o))
	{
		rc = EXIT_ERROR;
	}
	else if (o.replica_identity_full && !o.follow)
	{
		error("option --replica-identity-full needs --follow");
		rc = EXIT_ERROR;
	}
	else if (o.ddl && !o.follow)
	{
		error("option --ddl needs --follow");
		rc = EXIT_ERROR;
	}
	else if (o.apply_jobs && !o.follow)
	{
		error("option --apply-jobs needs --follow");
		rc = EXIT_ERROR;
	}
	else if (!o.resume && !cli_endpoints_resolve(&ep, !o.plan))
		rc = EXIT_ERROR;
	else
	{
		o.source = ep.source;
		o.target = ep.target;
		if (o.index_jobs == 0)
			o.index_jobs = o.jobs;
		rc = cli_exit_code(o.plan ? clone_plan(&o) : clone_run(&o));
	}
	release_options(&o, owned);
	return rc;
}

/* pgcrane plan: pgcrane clone --plan. */
int
cmd_plan(int argc, char **argv)
{
	char	  **args = xcalloc((size_t) argc + 2, sizeof(char *));
	int			rc;

	for (int i = 0; i < argc; i++)
		args[i] = argv[i];
	args[argc] = "--plan";
	rc = cmd_clone(argc + 1, args);
	free(args);
	return rc;
}
