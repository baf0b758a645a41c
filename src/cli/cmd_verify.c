/* cmd_verify.c - placeholder until verify lands */
#include "cli/cli.h"
#include "util/log.h"

int
cmd_verify(int argc, char **argv)
{
	(void) argc;
	(void) argv;
	error("verify is not available yet");
	return EXIT_ERROR;
}
