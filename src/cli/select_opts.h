/*
 * select_opts.h
 *		The selection and transformation options clone, preflight and
 *		verify share (selection.h): one list of rows for their tables.
 */
#ifndef PGCRANE_CLI_SELECT_OPTS_H
#define PGCRANE_CLI_SELECT_OPTS_H

#include "cli/options.h"
#include "core/selection.h"

/* Values above every command's own long options. */
enum
{
	CLI_SEL_INCLUDE_SCHEMA = CLI_LONG_ONLY + 64,
	CLI_SEL_EXCLUDE_SCHEMA,
	CLI_SEL_INCLUDE_TABLE,
	CLI_SEL_EXCLUDE_TABLE,
	CLI_SEL_EXCLUDE_DATA,
	CLI_SEL_FILTER,
	CLI_SEL_DEPENDENTS,
	CLI_SEL_LO,
	CLI_SEL_NO_LO,
	CLI_SEL_RENAME_SCHEMA,
	CLI_SEL_RENAME_TABLE,
	CLI_SEL_EXCLUDE_COLUMN
};

/* The rows, to put in a command's cli_option table. */
#define CLI_SELECTION_OPTIONS \
	{"include-schema", CLI_SEL_INCLUDE_SCHEMA, "PATTERN", "only the schemas matching PATTERN (repeatable)"}, \
	{"exclude-schema", CLI_SEL_EXCLUDE_SCHEMA, "PATTERN", "leave out the schemas matching PATTERN"}, \
	{"include-table", CLI_SEL_INCLUDE_TABLE, "PATTERN", "only the tables matching PATTERN (repeatable)"}, \
	{"exclude-table", CLI_SEL_EXCLUDE_TABLE, "PATTERN", "leave out the tables matching PATTERN"}, \
	{"exclude-table-data", CLI_SEL_EXCLUDE_DATA, "PATTERN", "copy the definition of the tables matching\n" \
	"PATTERN, not their rows"}, \
	{"filter", CLI_SEL_FILTER, "FILE", "read rules from FILE (pg_dump --filter format)"}, \
	{"exclude-dependents", CLI_SEL_DEPENDENTS, NULL, "leave out the views and foreign keys that need\n" \
	"an object the selection leaves out"}, \
	{"include-large-objects", CLI_SEL_LO, NULL, "copy large objects (default: only when the\n" \
	"whole database is selected)"}, \
	{"no-large-objects", CLI_SEL_NO_LO, NULL, "do not copy large objects"}, \
	{"rename-schema", CLI_SEL_RENAME_SCHEMA, "OLD=NEW", "put the objects of schema OLD in NEW on the\n" \
	"target (repeatable)"}, \
	{"rename-table", CLI_SEL_RENAME_TABLE, "S.OLD=NEW", "rename table S.OLD to NEW on the target"}, \
	{"exclude-column", CLI_SEL_EXCLUDE_COLUMN, "S.T.COL", "leave column COL of table S.T out of the\n" \
	"definition and the rows"}

/*
 * Option c with its value arg into s: 1 when it is a selection option
 * and valid, 0 when it is not one, -1 (logged) when its value is bad.
 */
int			cli_selection_option(int c, const char *arg, selection *s);

#endif
