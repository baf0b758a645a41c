/*
 * selection.h
 *		Which part of the source a migration moves, and in which shape.
 *
 * A selection is the rules the options give: patterns of schemas and
 * tables to include or exclude, tables whose rows stay behind, large
 * objects, and the transformations (schemas and tables renamed, columns
 * left out).  Patterns have pg_dump's syntax and meaning: they are
 * matched against names, not as SQL LIKE; outside double quotes letters
 * are folded to lower case, "*" matches any sequence of characters, "?"
 * any one, "." separates the schema from the table, and the other
 * characters of a regular expression keep their meaning ("$" excepted,
 * matched literally); inside double quotes every character stands for
 * itself ("" is one quote).  sel_pattern_regex turns a pattern into the
 * anchored regular expressions the server matches names with.
 *
 * The rules are also written as text in pg_dump 17's --filter format
 * (sel_format, sel_parse_text), extended with the transformation lines
 * ("rename schema OLD NEW", ...), which is how a clone records them for
 * the commands that come after it.  Everything here is pure: no
 * connection, no state; errors are returned as messages, not logged.
 * A selection owns its strings; sel_release frees them.
 */
#ifndef PGCRANE_SELECTION_H
#define PGCRANE_SELECTION_H

#include <stdbool.h>

typedef enum sel_kind
{
	SEL_INCLUDE_SCHEMA,
	SEL_EXCLUDE_SCHEMA,
	SEL_INCLUDE_TABLE,
	SEL_EXCLUDE_TABLE,
	SEL_EXCLUDE_TABLE_DATA,
	SEL_NKINDS
} sel_kind;

/* Large objects: the default is to copy them only with everything. */
typedef enum sel_large_objects
{
	SEL_LO_DEFAULT,
	SEL_LO_INCLUDE,
	SEL_LO_EXCLUDE
} sel_large_objects;

/* OLD=NEW of --rename-schema; of --rename-table, schema.OLD=NEW. */
typedef struct sel_rename
{
	char	   *schema;			/* the schema (of the table, for a table) */
	char	   *from;			/* the table's old name; NULL for a schema */
	char	   *to;
} sel_rename;

/* --exclude-column SCHEMA.TABLE.COLUMN */
typedef struct sel_column
{
	char	   *schema;
	char	   *table;
	char	   *column;
} sel_column;

typedef struct selection
{
	char	  **patterns[SEL_NKINDS];
	int			npatterns[SEL_NKINDS];
	sel_rename *schema_renames;
	int			nschema_renames;
	sel_rename *table_renames;
	int			ntable_renames;
	sel_column *columns;
	int			ncolumns;
	bool		exclude_dependents;
	sel_large_objects large_objects;
} selection;

#define SELECTION_INIT {{0}, {0}, NULL, 0, NULL, 0, NULL, 0, false, SEL_LO_DEFAULT}

void		sel_release(selection *s);

/* Whether the rules select the whole database as it is (no rule at all). */
bool		sel_is_empty(const selection *s);

/* Whether some rule leaves something out (a schema, table, rows, column). */
bool		sel_excludes(const selection *s);

/*
 * Add a pattern of kind k.  Returns NULL, or a message (you own it) when
 * the pattern is not valid (empty, too many dotted names).
 */
char	   *sel_add_pattern(selection *s, sel_kind k, const char *pattern);

/* "OLD=NEW" and "SCHEMA.OLD=NEW"; NULL or a message (you own it). */
char	   *sel_add_schema_rename(selection *s, const char *arg);
char	   *sel_add_table_rename(selection *s, const char *arg);

/* "SCHEMA.TABLE.COLUMN"; NULL or a message (you own it). */
char	   *sel_add_column(selection *s, const char *arg);

/*
 * The regular expressions of a pattern: *schema_re is NULL when the
 * pattern names no schema (a table pattern without a dot), *name_re NULL
 * for a schema pattern.  Both anchored ("^(...)$"); you own them.  For
 * a table pattern, with_schema false; a schema pattern has one part.
 * Returns NULL, or a message (you own it).
 */
char	   *sel_pattern_regex(const char *pattern, bool schema_pattern,
							  char **schema_re, char **name_re);

/*
 * Split a dotted name ("a.b", "\"A.x\".c") into at most max parts, with
 * pg_dump's quoting and case folding but no wildcards; returns the
 * number of parts (each you own), or -1 when there are more than max or
 * a part is empty.
 */
int			sel_split_name(const char *name, char **parts, int max);

/*
 * Read the lines of text, in pg_dump 17's --filter format ("include
 * table PATTERN", "exclude schema PATTERN", "exclude table_data PATTERN",
 * "# comment", blank lines), plus "rename schema OLD NEW", "rename table
 * SCHEMA.OLD NEW", "exclude column SCHEMA.TABLE.COLUMN", "include
 * large_objects", "exclude large_objects" and "exclude dependents".
 * Returns NULL, or a message naming the line (you own it); what was
 * read before the bad line stays in s.
 */
char	   *sel_parse_text(selection *s, const char *text, const char *origin);

/* The rules as text sel_parse_text reads back (you own it); "" if none. */
char	   *sel_format(const selection *s);

/* The new name of schema nsp (nsp itself when not renamed; not owned). */
const char *sel_schema_target(const selection *s, const char *nsp);

/* The new name of table nsp.rel, or rel (not owned). */
const char *sel_table_target(const selection *s, const char *nsp, const char *rel);

#endif
