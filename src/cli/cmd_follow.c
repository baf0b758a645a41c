/* cmd_follow.c - pgcrane follow (not available yet) */
#include "cli/cli.h"
#include "util/log.h"

int
cmd_follow(int argc, char **argv)
{
	(void) argc;
	(void) argv;
	error("pgcrane follow is not available yet");
	return EXIT_ERROR;
}
