/*
 * options.h
 *		One table per command that makes both its parser and its help.
 *
 * A command lists its options once, as cli_option rows; the getopt_long
 * tables are built from them (cli_parser_init) and so is the "Options:"
 * part of its --help (cli_print_options).  An option cannot be parsed
 * without being documented, nor documented without being parsed.
 */
#ifndef PGCRANE_CLI_OPTIONS_H
#define PGCRANE_CLI_OPTIONS_H

#include <getopt.h>

/* The value a cli_option row without a short name starts numbering at. */
#define CLI_LONG_ONLY 256

/* A numeric macro as a string literal, for defaults in help texts. */
#define CLI_STRINGIFY_(x) #x
#define CLI_STRINGIFY(x) CLI_STRINGIFY_(x)

/* What cli_next_option returns for --help or -? (every table has them). */
#define CLI_HELP 255

typedef struct cli_option
{
	const char *name;			/* long name without "--"; NULL ends a table */
	int			val;			/* returned by cli_parser_next: the short
								 * letter, or CLI_LONG_ONLY + n */
	const char *arg;			/* the value's name in the help ("N"), or
								 * NULL for an option without a value; in
								 * brackets ("[=all]") an optional value,
								 * given as --name=value (long only) */
	const char *help;			/* help text; "\n" continues it on the
								 * next line, under the first */
} cli_option;

/*
 * The next option of argv, as getopt_long returns it (optarg set) from the
 * tables opts makes: CLI_HELP for --help or -?; '?' after an unknown
 * option or a missing value,
 * reported as one error line (the caller adds the help hint); -1 at the
 * end.  The tables are built anew on each call (getopt_long keeps its
 * place in argv, not in them).
 */
int			cli_next_option(int argc, char **argv, const cli_option *opts);

/* The "Options:" lines of --help, aligned, then "-?, --help". */
void		cli_print_options(const cli_option *opts);

#endif
