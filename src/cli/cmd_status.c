/*
 * cmd_status.c
 *		pgcrane status: what a clone or a follow in a work directory is doing.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/follow.h"
#include "cdc/pgoutput.h"
#include "cdc/report.h"
#include "cli/cli.h"
#include "cli/options.h"
#include "core/conn.h"
#include "core/identity.h"
#include "core/state.h"
#include "util/log.h"
#include "util/str.h"

#define DEFAULT_DIR "pgcrane-work"

enum
{
	OPT_JSON = CLI_LONG_ONLY
};

static const cli_option options[] = {
	{"dir", 'D', "DIR", "work directory (default: ./" DEFAULT_DIR ")"},
	{"source", 's', "CONNINFO", "source database asked for its current LSN\n"
	"(default: the one recorded in DIR)"},
	{"json", OPT_JSON, NULL, "print the status as one JSON object"},
	{NULL, 0, NULL, NULL}
};

static void
usage(void)
{
	printf("pgcrane status shows what the clone or the follow recorded in a work\n"
		   "directory is doing: the clone's steps; the follow's phase (or that its\n"
		   "process is gone), last applied and durable LSN, the source's current\n"
		   "LSN, the lag in bytes and seconds (the age of the oldest source commit\n"
		   "not applied yet) and the changes applied per second.  It may run while\n"
		   "they run.\n\n");
	printf("Usage:\n  pgcrane status [--dir DIR] [OPTION]...\n\n");
	printf("Options:\n");
	cli_print_options(options);
	printf("\nThe source is asked for its current WAL position when it answers within\n"
		   "3 seconds; otherwise the last position the follow recorded is shown.\n");
	printf("\nExit status: 0 shown, 2 error.\n");
}


/* The source's WAL position now, 0 when it cannot be asked quickly. */
static uint64_t
live_source_lsn(state *st, const char *given)
{
	char	   *phase = NULL;
	state_run	run = {0};
	const char *source;
	uint64_t	lsn = 0;
	PGconn	   *conn = NULL;

	/* Unreadable (logged): the recorded position is shown. */
	if (state_load_follow_phase(st, &phase) == 1 && state_load_run(st, &run) != 0)
		memset(&run, 0, sizeof(run));
	source = given ? given : run.source;
	if (phase && strcmp(phase, FOLLOW_PHASE_DONE) != 0 && source)
	{
		setenv("PGCONNECT_TIMEOUT", "3", 0);
		conn = conn_try_open(source, NULL, NULL, 0);
	}
	if (conn)
	{
		PGresult   *res = PQexec(conn, "SELECT pg_catalog.pg_current_wal_lsn()");

		if (PQresultStatus(res) == PGRES_TUPLES_OK &&
			!pgo_lsn_parse(PQgetvalue(res, 0, 0), &lsn))
			lsn = 0;
		PQclear(res);
		PQfinish(conn);
	}
	free(phase);
	state_run_release(&run);
	return lsn;
}

int
cmd_status(int argc, char **argv)
{
	const char *dir = DEFAULT_DIR;
	char	   *source = NULL;
	bool		json = false;
	state	   *st;
	int			c;

	if (cli_wants_help(argc, argv))
	{
		usage();
		return EXIT_OK;
	}
	while ((c = cli_next_option(argc, argv, options)) != -1)
	{
		if (c == 'D')
			dir = optarg;
		else if (c == 's')
		{
			free(source);
			source = cli_take_secret(optarg);
		}
		else if (c == OPT_JSON)
			json = true;
		else
		{
			cli_try_help("status");
			free(source);
			return EXIT_ERROR;
		}
	}
	if (!cli_no_extra_args(argc, argv, "status"))
	{
		free(source);
		return EXIT_ERROR;
	}
	st = state_open_shared(dir);
	if (st == NULL)
	{
		free(source);
		return EXIT_ERROR;
	}
	/* A --source given must be the clone's: its LSN is compared. */
	if (source && identity_check_recorded(st, SIDE_SOURCE, source) != 0)
	{
		state_close(st);
		free(source);
		return EXIT_ERROR;
	}
	cdc_report_print_status(st, live_source_lsn(st, source), json);
	state_close(st);
	free(source);
	return EXIT_OK;
}
