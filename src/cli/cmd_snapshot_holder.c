/*
 * cmd_snapshot_holder.c
 *		pgcrane snapshot-holder: keeps a clone's snapshot alive.
 *
 * Started by clone itself (see snapshot.h), not by users: it reads the
 * source connection string from its stdin up to EOF (never from its
 * environment or command line, which other users can read in /proc),
 * prints the snapshot name on stdout and waits.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "clone/snapshot.h"
#include "util/log.h"
#include "util/str.h"

/* All of stdin (up to size - 1 bytes) into buf; the length, 0 if none. */
static size_t
read_stdin(char *buf, size_t size)
{
	size_t		len = 0;

	while (len < size - 1)
	{
		ssize_t		n = read(STDIN_FILENO, buf + len, size - 1 - len);

		if (n <= 0)
			break;
		len += (size_t) n;
	}
	buf[len] = '\0';
	return len;
}

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
	char		source[8192];
	size_t		len = 0;
	int			hold = 0,
				rc,
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
	if (dir == NULL || hold == 0 || isatty(STDIN_FILENO) ||
		(len = read_stdin(source, sizeof(source))) == 0)
	{
		error("snapshot-holder is started by pgcrane clone, not by hand");
		return EXIT_ERROR;
	}
	rc = snapshot_holder_main(source, dir, hold, slot);
	explicit_bzero(source, len);
	return rc == 0 ? EXIT_OK : EXIT_ERROR;
}
