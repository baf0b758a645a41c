/* cmd_status.c - pgcrane status (not available yet) */
#include "cli/cli.h"
#include "util/log.h"

int
cmd_status(int argc, char **argv)
{
	(void) argc;
	(void) argv;
	error("pgcrane status is not available yet");
	return EXIT_ERROR;
}
