/* cmd_cutover.c - pgcrane cutover (not available yet) */
#include "cli/cli.h"
#include "util/log.h"

int
cmd_cutover(int argc, char **argv)
{
	(void) argc;
	(void) argv;
	error("pgcrane cutover is not available yet");
	return EXIT_ERROR;
}
