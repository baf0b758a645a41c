/*
 * options.c
 *		One table per command that makes both its parser and its help.
 */
#include "cli/options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "util/str.h"

/* Help text starts at this column unless every option is shorter. */
#define HELP_COLUMN_MAX 31

static int
count(const cli_option *opts)
{
	int			n = 0;

	while (opts[n].name)
		n++;
	return n;
}

static int
is_short(int val)
{
	return val > 0 && val < CLI_HELP;
}

int
cli_next_option(int argc, char **argv, const cli_option *opts)
{
	int			n = count(opts);
	struct option *longopts = xcalloc((size_t) n + 2, sizeof(struct option));
	strbuf		sb = STRBUF_INIT;
	int			c;

	for (int i = 0; i < n; i++)
	{
		longopts[i].name = opts[i].name;
		longopts[i].has_arg = !opts[i].arg ? no_argument :
			opts[i].arg[0] == '[' ? optional_argument : required_argument;
		longopts[i].val = opts[i].val;
		if (is_short(opts[i].val))
		{
			strbuf_addf(&sb, "%c", opts[i].val);
			if (opts[i].arg)
				strbuf_adds(&sb, ":");
		}
	}
	longopts[n].name = "help";
	longopts[n].val = '?';
	strbuf_adds(&sb, "?");
	c = cli_getopt(argc, argv, strbuf_str(&sb), longopts);
	strbuf_release(&sb);
	free(longopts);
	if (c == '?' && optind > 0 && optind <= argc &&
		(strcmp(argv[optind - 1], "--help") == 0 || strcmp(argv[optind - 1], "-?") == 0))
		return CLI_HELP;
	return c;
}

/* "  -s, --source=CONNINFO" or "      --json" into buf. */
static void
option_label(const cli_option *o, char *buf, size_t size)
{
	char		letter[8] = "    ";

	if (is_short(o->val))
		snprintf(letter, sizeof(letter), "-%c, ", o->val);
	snprintf(buf, size, "  %s--%s%s%s", letter, o->name,
			 o->arg && o->arg[0] != '[' ? "=" : "", o->arg ? o->arg : "");
}

/* The help text, its continuation lines indented to column col. */
static void
print_help_text(const char *help, int col)
{
	for (const char *line = help; line;)
	{
		const char *nl = strchr(line, '\n');

		if (line != help)
			printf("%*s", col, "");
		printf("%.*s\n", nl ? (int) (nl - line) : (int) strlen(line), line);
		line = nl ? nl + 1 : NULL;
	}
}

void
cli_print_options(const cli_option *opts)
{
	static const cli_option help = {"help", '?', NULL, "show this help, then exit"};
	char		label[128];
	int			col = 0;

	for (const cli_option *o = opts; o->name; o++)
	{
		int			len;

		option_label(o, label, sizeof(label));
		len = (int) strlen(label);
		/* A label too long for the column goes on a line of its own. */
		if (len + 1 <= HELP_COLUMN_MAX && len + 2 > col)
			col = len + 2;
	}
	if (col > HELP_COLUMN_MAX)
		col = HELP_COLUMN_MAX;
	for (const cli_option *o = opts;; o++)
	{
		const cli_option *row = o->name ? o : &help;

		option_label(row, label, sizeof(label));
		if ((int) strlen(label) + 1 > col)
			printf("%s\n%*s", label, col, "");
		else
			printf("%-*s", col, label);
		print_help_text(row->help, col);
		if (o->name == NULL)
			break;
	}
}
