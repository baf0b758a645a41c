/*
 * cmd_snapshot_holder.c
 *		pgcrane snapshot-holder: keeps a clone's snapshot alive.
 *
 * Started by clone itself (see snapshot.h), not by users: it reads the
 * source connection string from PGCRANE_SOURCE, prints the snapshot name
 * on stdout and waits.
 */
#include <getopt.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "snapshot.h"
#include "util/log.h"
#include "util/str.h"

int
cmd_snapshot_holder(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dir", required_argument, NULL, 'D'},
		{"hold-time", required_argument, NULL, 'H'},
		{"slot", required_argument, NULL, 'S'},
		{NULL, 0, NULL, 0}
	};
	const char *dir = NULL;
	const char *slot = NULL;
	const char *source = getenv("PGCRANE_SOURCE");
	int			hold = 0,
				c;

	while ((c = cli_getopt(argc, argv, "", opts)) != -1)
	{
		if (c == 'D')
			dir = optarg;
		else if (c == 'S')
			slot = optarg;
		else if (c != 'H' || !str_to_int(optarg, 1, 7 * 86400, &hold))
			return EXIT_ERROR;
	}
	if (dir == NULL || source == NULL || hold == 0)
	{
		error("snapshot-holder is started by pgcrane clone, not by hand");
		return EXIT_ERROR;
	}
	return snapshot_holder_main(source, dir, hold, slot) == 0 ? EXIT_OK : EXIT_ERROR;
}
