/*
 * main.c
 *		pgcrane: move a live PostgreSQL database to another server.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/interrupt.h"

typedef struct command
{
	const char *name;
	int			(*fn) (int argc, char **argv);
	const char *summary;		/* NULL: internal, not listed */
} command;

static const command commands[] = {
	{"preflight", cmd_preflight, "check both servers before a migration"},
	{"clone", cmd_clone, "copy a database to another server"},
	{"plan", cmd_plan, "what clone would copy, rename and leave out (clone --plan)"},
	{"verify", cmd_verify, "prove the target equals the source"},
	{"follow", cmd_follow, "apply the source's changes to the target (after clone --follow)"},
	{"status", cmd_status, "phase, lag and rates of a clone or follow"},
	{"cutover", cmd_cutover, "catch up, sync sequences and stop following"},
	{"cleanup", cmd_cleanup, "drop the replication slot, publication and origin"},
	{"snapshot-holder", cmd_snapshot_holder, NULL},
};

static void
usage(void)
{
	printf("pgcrane moves a live PostgreSQL database to another PostgreSQL server.\n\n");
	printf("Usage:\n  pgcrane COMMAND [OPTION]...\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].summary)
			printf("  %-10s  %s\n", commands[i].name, commands[i].summary);
	printf("\nOptions:\n");
	printf("  -V, --version  output version information, then exit\n");
	printf("  -?, --help     show this help, then exit\n\n");
	printf("Run \"pgcrane COMMAND --help\" for the options of a command.\n");
	printf("Connections are libpq connection strings or URIs; passwords come from\n");
	printf("~/.pgpass or PGPASSWORD as for every PostgreSQL tool.\n");
}

int
main(int argc, char **argv)
{
	if (argc < 2)
	{
		fprintf(stderr, "pgcrane: error: no command specified\n");
		cli_try_help(NULL);
		return EXIT_ERROR;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-?") == 0 ||
		strcmp(argv[1], "help") == 0)
	{
		usage();
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)
	{
		printf("pgcrane %s\n", PGCRANE_VERSION);
		return EXIT_OK;
	}
	interrupt_install_handlers();
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
	{
		if (strcmp(argv[1], commands[i].name) == 0)
		{
			int			rc = commands[i].fn(argc - 1, argv + 1);

			/* Whatever failed after Ctrl-C or SIGTERM failed because of it. */
			return rc != EXIT_OK && interrupt_pending() ? EXIT_INTERRUPTED : rc;
		}
	}
	fprintf(stderr, "pgcrane: error: unknown command \"%s\"\n", argv[1]);
	cli_try_help(NULL);
	return EXIT_ERROR;
}
