/*
 * select_opts.c
 *		Parse the selection and transformation options.
 */
#include "cli/select_opts.h"

#include <stdio.h>
#include <stdlib.h>

#include "util/log.h"
#include "util/str.h"

/* The whole of a --filter file; NULL (logged) if it cannot be read. */
static char *
read_file(const char *path)
{
	FILE	   *f = fopen(path, "r");
	strbuf		sb = STRBUF_INIT;
	char		buf[4096];
	size_t		n;

	if (f == NULL)
	{
		error("could not open filter file \"%s\": %m", path);
		return NULL;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_add(&sb, buf, n);
	fclose(f);
	return strbuf_detach(&sb);
}

static char *
filter_file(const char *path, selection *s)
{
	char	   *text = read_file(path);
	char	   *msg;

	if (text == NULL)
		return xstrdup("");
	msg = sel_parse_text(s, text, path);
	free(text);
	return msg;
}

int
cli_selection_option(int c, const char *arg, selection *s)
{
	char	   *msg = NULL;

	switch (c)
	{
		case CLI_SEL_INCLUDE_SCHEMA:
		case CLI_SEL_EXCLUDE_SCHEMA:
		case CLI_SEL_INCLUDE_TABLE:
		case CLI_SEL_EXCLUDE_TABLE:
		case CLI_SEL_EXCLUDE_DATA:
			msg = sel_add_pattern(s, (sel_kind) (c - CLI_SEL_INCLUDE_SCHEMA), arg);
			break;
		case CLI_SEL_FILTER:
			msg = filter_file(arg, s);
			break;
		case CLI_SEL_DEPENDENTS:
			s->exclude_dependents = true;
			break;
		case CLI_SEL_LO:
			s->large_objects = SEL_LO_INCLUDE;
			break;
		case CLI_SEL_NO_LO:
			s->large_objects = SEL_LO_EXCLUDE;
			break;
		case CLI_SEL_RENAME_SCHEMA:
			msg = sel_add_schema_rename(s, arg);
			break;
		case CLI_SEL_RENAME_TABLE:
			msg = sel_add_table_rename(s, arg);
			break;
		case CLI_SEL_EXCLUDE_COLUMN:
			msg = sel_add_column(s, arg);
			break;
		default:
			return 0;
	}
	if (msg == NULL)
		return 1;
	if (msg[0])
		error("%s", msg);
	free(msg);
	return -1;
}
