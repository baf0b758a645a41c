/*
 * common.c
 *		What the commands share: endpoints, secrets on the command line,
 *		job counts.
 */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdc/apply.h"
#include "cdc/ddl.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/str.h"

bool
cli_endpoints_resolve(cli_endpoints *ep, bool need_target)
{
	if (ep->source == NULL)
		ep->source = getenv("PGCRANE_SOURCE");
	if (ep->target == NULL)
		ep->target = getenv("PGCRANE_TARGET");
	if (ep->source == NULL)
	{
		error("no source database specified");
		log_hint("Use --source or set PGCRANE_SOURCE.");
		return false;
	}
	if (need_target && ep->target == NULL)
	{
		error("no target database specified");
		log_hint("Use --target or set PGCRANE_TARGET.");
		return false;
	}
	return true;
}

char *
cli_take_secret(char *arg)
{
	char	   *copy = xstrdup(arg);

	/* Only a value holding a password needs hiding; keep the rest readable. */
	if (strstr(arg, "password") != NULL || strchr(arg, '@') != NULL)
		memset(arg, 'x', strlen(arg));
	return copy;
}

bool
cli_parse_jobs(const char *name, const char *arg, int *out)
{
	if (!str_to_int(arg, 1, 256, out))
	{
		error("invalid value \"%s\" for option %s", arg, name);
		log_hint("The value must be a whole number from 1 to 256.");
		return false;
	}
	return true;
}

bool
cli_parse_apply_jobs(const char *arg, int *out)
{
	if (str_to_int(arg, 1, CDC_APPLY_MAX_JOBS, out))
		return true;
	error("invalid value \"%s\" for option --apply-jobs", arg);
	log_hint("Give a number from 1 to %d.", CDC_APPLY_MAX_JOBS);
	return false;
}

bool
cli_parse_ddl(const char *arg, const char **out)
{
	ddl_mode	mode;

	if (ddl_mode_parse(arg, &mode))
	{
		*out = ddl_mode_name(mode);
		return true;
	}
	error("invalid value \"%s\" for option --ddl", arg);
	log_hint("Give \"apply\" or \"stop\".");
	return false;
}

bool
cli_parse_toast_compression(const char *arg, const char **out)
{
	static const char *const methods[] = {"pglz", "lz4"};

	if (strcmp(arg, "default") == 0)
	{
		*out = NULL;
		return true;
	}
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(arg, methods[i]) == 0)
		{
			*out = methods[i];
			return true;
		}
	error("invalid value \"%s\" for option --toast-compression", arg);
	log_hint("Valid values are \"default\", \"pglz\" and \"lz4\".");
	return false;
}

bool
cli_parse_roles(const char *arg, roles_mode *out)
{
	if (arg == NULL || strcmp(arg, "needed") == 0)
		*out = ROLES_NEEDED;
	else if (strcmp(arg, "all") == 0)
		*out = ROLES_ALL;
	else
	{
		error("invalid value \"%s\" for option --roles", arg);
		log_hint("Give --roles for the roles the database needs, or --roles=all.");
		return false;
	}
	return true;
}

bool
cli_tablespace_options_ok(const tablespace_map *map, bool none)
{
	if (none && map->n > 0)
	{
		error("options --tablespace-map and --no-tablespaces cannot be used together");
		return false;
	}
	return true;
}

int
cli_cpu_count(void)
{
	return proc_cpu_count();
}

int
cli_exit_code(run_status status)
{
	switch (status)
	{
		case RUN_OK:
			return EXIT_OK;
		case RUN_CHECK_FAILED:
			return EXIT_CHECK_FAILED;
		case RUN_INTERRUPTED:
			return EXIT_INTERRUPTED;
		case RUN_FAILED:
			break;
	}
	return EXIT_ERROR;
}

void
cli_try_help(const char *cmd)
{
	if (cmd)
		log_hint("Try \"pgcrane %s --help\" for more information.", cmd);
	else
		log_hint("Try \"pgcrane --help\" for more information.");
}

/* Whether short option ch takes a value in optstring. */
static bool
takes_value(const char *optstring, int ch)
{
	const char *p = ch > 0 && ch < 256 ? strchr(optstring, ch) : NULL;

	return p && p[1] == ':';
}

static void
report_bad_option(int argc, char **argv, const char *optstring)
{
	const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";
	size_t		len = strcspn(arg, "=");

	if (strncmp(arg, "--", 2) == 0)
	{
		if (optopt == 0)
			error("unrecognized option \"%.*s\"", (int) len, arg);
		else
			error("option \"%.*s\" requires a value", (int) len, arg);
	}
	else if (takes_value(optstring, optopt))
		error("option \"-%c\" requires a value", optopt);
	else if (optopt > 0 && optopt < 256 && optopt != '?')
		error("invalid option \"-%c\"", optopt);
	else
		error("invalid option \"%s\"", arg);
}

int
cli_getopt(int argc, char **argv, const char *optstring,
		   const struct option *longopts)
{
	int			c;

	opterr = 0;
	optopt = 0;
	c = getopt_long(argc, argv, optstring, longopts, NULL);
	if (c == '?' && optind > 0 && optind <= argc &&
		strcmp(argv[optind - 1], "--help") != 0 &&
		strcmp(argv[optind - 1], "-?") != 0)
		report_bad_option(argc, argv, optstring);
	return c;
}

bool
cli_wants_help(int argc, char **argv)
{
	return argc > 1 && (strcmp(argv[1], "--help") == 0 ||
						strcmp(argv[1], "-?") == 0);
}

bool
cli_no_extra_args(int argc, char **argv, const char *cmd)
{
	if (optind >= argc)
		return true;
	error("too many command-line arguments (first is \"%s\")", argv[optind]);
	cli_try_help(cmd);
	return false;
}
