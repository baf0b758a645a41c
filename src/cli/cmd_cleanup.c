/* cmd_cleanup.c - pgcrane cleanup (not available yet) */
#include "cli/cli.h"
#include "util/log.h"

int
cmd_cleanup(int argc, char **argv)
{
	(void) argc;
	(void) argv;
	error("pgcrane cleanup is not available yet");
	return EXIT_ERROR;
}
