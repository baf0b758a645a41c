/*
 * selection.c
 *		The rules of a selection: patterns, renames, the filter format.
 *
 * Pure: no connection, no logging.  A pattern becomes the regular
 * expressions pg_dump's processSQLNamePattern makes of it (see
 * selection.h); the server then matches names with "~".
 */
#include "core/selection.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util/str.h"

#define MAX_PARTS 3

static const char *const kind_lines[SEL_NKINDS] = {
	"include schema", "exclude schema", "include table", "exclude table",
	"exclude table_data"
};

static void
free_rename(sel_rename *r)
{
	free(r->schema);
	free(r->from);
	free(r->to);
}

void
sel_release(selection *s)
{
	for (int k = 0; k < SEL_NKINDS; k++)
	{
		for (int i = 0; i < s->npatterns[k]; i++)
			free(s->patterns[k][i]);
		free(s->patterns[k]);
	}
	for (int i = 0; i < s->nschema_renames; i++)
		free_rename(&s->schema_renames[i]);
	for (int i = 0; i < s->ntable_renames; i++)
		free_rename(&s->table_renames[i]);
	for (int i = 0; i < s->ncolumns; i++)
	{
		free(s->columns[i].schema);
		free(s->columns[i].table);
		free(s->columns[i].column);
	}
	free(s->schema_renames);
	free(s->table_renames);
	free(s->columns);
	memset(s, 0, sizeof(*s));
}

bool
sel_excludes(const selection *s)
{
	for (int k = 0; k < SEL_NKINDS; k++)
		if (s->npatterns[k] > 0)
			return true;
	return s->ncolumns > 0 || s->large_objects == SEL_LO_EXCLUDE;
}

bool
sel_is_empty(const selection *s)
{
	return !sel_excludes(s) && s->nschema_renames == 0 &&
		s->ntable_renames == 0 && s->large_objects == SEL_LO_DEFAULT &&
		!s->exclude_dependents;
}

/*
 * Split p into parts at the dots outside double quotes, folding letters
 * outside quotes to lower case.  With regex, each part is written as a
 * regular expression ("*" -> ".*", "?" -> ".", "$" and, inside quotes,
 * every special character escaped).  Returns the number of parts, or -1
 * when there are more than max.
 */
static int
lex_parts(const char *p, bool regex, strbuf *parts, int max)
{
	bool		inquotes = false;
	int			n = 1;

	for (; *p; p++)
	{
		char		c = *p;

		if (c == '"')
		{
			if (inquotes && p[1] == '"')
			{
				strbuf_adds(&parts[n - 1], "\"");
				p++;
			}
			else
				inquotes = !inquotes;
		}
		else if (!inquotes && c == '.')
		{
			if (++n > max)
				return -1;
		}
		else if (regex && !inquotes && c == '*')
			strbuf_adds(&parts[n - 1], ".*");
		else if (regex && !inquotes && c == '?')
			strbuf_adds(&parts[n - 1], ".");
		else if (regex && (c == '$' || (inquotes && strchr("|*+?()[]{}.^\\", c))))
			strbuf_addf(&parts[n - 1], "\\%c", c);
		else
			strbuf_addf(&parts[n - 1], "%c",
						inquotes ? c : (char) tolower((unsigned char) c));
	}
	return n;
}

int
sel_split_name(const char *name, char **parts, int max)
{
	strbuf		sb[MAX_PARTS] = {STRBUF_INIT, STRBUF_INIT, STRBUF_INIT};
	int			n = max <= MAX_PARTS ? lex_parts(name, false, sb, max) : -1;

	for (int i = 0; i < n; i++)
		if (sb[i].len == 0)
			n = -1;
	for (int i = 0; i < MAX_PARTS; i++)
	{
		if (n > 0 && i < n)
			parts[i] = strbuf_detach(&sb[i]);
		else
			strbuf_release(&sb[i]);
	}
	return n;
}

char *
sel_pattern_regex(const char *pattern, bool schema_pattern, char **schema_re,
				  char **name_re)
{
	strbuf		sb[MAX_PARTS] = {STRBUF_INIT, STRBUF_INIT, STRBUF_INIT};
	int			n = lex_parts(pattern, true, sb, schema_pattern ? 1 : 2);
	char	   *msg = NULL;

	*schema_re = *name_re = NULL;
	if (n < 0)
		msg = str_printf("improper qualified name (too many dotted names): %s", pattern);
	else if (pattern[0] == '\0')
		msg = xstrdup("empty pattern");
	else if (schema_pattern)
		*schema_re = str_printf("^(%s)$", strbuf_str(&sb[0]));
	else
	{
		if (n == 2)
			*schema_re = str_printf("^(%s)$", strbuf_str(&sb[0]));
		*name_re = str_printf("^(%s)$", strbuf_str(&sb[n - 1]));
	}
	for (int i = 0; i < MAX_PARTS; i++)
		strbuf_release(&sb[i]);
	return msg;
}

char *
sel_add_pattern(selection *s, sel_kind k, const char *pattern)
{
	char	   *sre,
			   *nre;
	char	   *msg = sel_pattern_regex(pattern, k <= SEL_EXCLUDE_SCHEMA, &sre, &nre);

	free(sre);
	free(nre);
	if (msg)
		return msg;
	s->patterns[k] = xrealloc(s->patterns[k], sizeof(char *) * (size_t) (s->npatterns[k] + 1));
	s->patterns[k][s->npatterns[k]++] = xstrdup(pattern);
	return NULL;
}

/* Split "LEFT=RIGHT" at the first "=" outside double quotes. */
static const char *
find_equals(const char *arg)
{
	bool		inquotes = false;

	for (const char *p = arg; *p; p++)
	{
		if (*p == '"')
			inquotes = !inquotes;
		else if (*p == '=' && !inquotes)
			return p;
	}
	return NULL;
}

/* The names of "LEFT=RIGHT": left in nleft parts, right in one. */
static char *
split_mapping(const char *arg, const char *what, int nleft, char **left,
			  char **right)
{
	const char *eq = find_equals(arg);
	char	   *lhs;
	int			n;

	if (eq == NULL)
		return str_printf("invalid value \"%s\" for %s: expected %s", arg, what,
						  nleft == 1 ? "OLD=NEW" : "SCHEMA.OLD=NEW");
	lhs = xstrdup(arg);
	lhs[eq - arg] = '\0';
	n = sel_split_name(lhs, left, nleft);
	free(lhs);
	if (n != nleft)
	{
		for (int i = 0; i < n; i++)
			free(left[i]);
		return str_printf("invalid value \"%s\" for %s: expected %s", arg, what,
						  nleft == 1 ? "OLD=NEW" : "SCHEMA.OLD=NEW");
	}
	if (sel_split_name(eq + 1, right, 1) != 1)
	{
		for (int i = 0; i < n; i++)
			free(left[i]);
		return str_printf("invalid value \"%s\" for %s: the new name is missing or qualified",
						  arg, what);
	}
	return NULL;
}

char *
sel_add_schema_rename(selection *s, const char *arg)
{
	char	   *left[1],
			   *right;
	char	   *msg = split_mapping(arg, "--rename-schema", 1, left, &right);
	sel_rename *r;

	if (msg)
		return msg;
	s->schema_renames = xrealloc(s->schema_renames,
								 sizeof(sel_rename) * (size_t) (s->nschema_renames + 1));
	r = &s->schema_renames[s->nschema_renames++];
	r->schema = left[0];
	r->from = NULL;
	r->to = right;
	return NULL;
}

char *
sel_add_table_rename(selection *s, const char *arg)
{
	char	   *left[2],
			   *right;
	char	   *msg = split_mapping(arg, "--rename-table", 2, left, &right);
	sel_rename *r;

	if (msg)
		return msg;
	s->table_renames = xrealloc(s->table_renames,
								sizeof(sel_rename) * (size_t) (s->ntable_renames + 1));
	r = &s->table_renames[s->ntable_renames++];
	r->schema = left[0];
	r->from = left[1];
	r->to = right;
	return NULL;
}

char *
sel_add_column(selection *s, const char *arg)
{
	char	   *parts[3];
	sel_column *c;

	if (sel_split_name(arg, parts, 3) != 3)
		return str_printf("invalid value \"%s\" for --exclude-column: expected SCHEMA.TABLE.COLUMN",
						  arg);
	s->columns = xrealloc(s->columns, sizeof(sel_column) * (size_t) (s->ncolumns + 1));
	c = &s->columns[s->ncolumns++];
	c->schema = parts[0];
	c->table = parts[1];
	c->column = parts[2];
	return NULL;
}

/* The line without its comment ("#" outside quotes) and outer blanks. */
static char *
clean_line(const char *line, size_t len)
{
	char	   *l = xmalloc(len + 1);
	bool		inquotes = false;
	size_t		end;

	memcpy(l, line, len);
	l[len] = '\0';
	for (char *p = l; *p; p++)
	{
		if (*p == '"')
			inquotes = !inquotes;
		else if (*p == '#' && !inquotes)
		{
			*p = '\0';
			break;
		}
	}
	end = strlen(l);
	while (end > 0 && isspace((unsigned char) l[end - 1]))
		l[--end] = '\0';
	return l;
}

/* "WORD WORD REST": the first two words and the rest, blanks skipped. */
static bool
split_words(char *l, char **w1, char **w2, char **rest)
{
	char	   *p = l;

	while (isspace((unsigned char) *p))
		p++;
	*w1 = p;
	while (*p && !isspace((unsigned char) *p))
		p++;
	if (*p)
		*p++ = '\0';
	while (isspace((unsigned char) *p))
		p++;
	*w2 = p;
	while (*p && !isspace((unsigned char) *p))
		p++;
	if (*p)
		*p++ = '\0';
	while (isspace((unsigned char) *p))
		p++;
	*rest = p;
	return **w1 != '\0';
}

/* One line of the filter format, its comment removed; NULL or a message. */
static char *
parse_line(selection *s, const char *cmd, const char *obj, const char *arg)
{
	bool		include = strcmp(cmd, "include") == 0;
	bool		exclude = strcmp(cmd, "exclude") == 0;

	if ((include || exclude) && strcmp(obj, "large_objects") == 0 && !*arg)
	{
		s->large_objects = include ? SEL_LO_INCLUDE : SEL_LO_EXCLUDE;
		return NULL;
	}
	if (exclude && strcmp(obj, "dependents") == 0 && !*arg)
	{
		s->exclude_dependents = true;
		return NULL;
	}
	if (!*arg)
		return xstrdup("missing object name");
	if (include && strcmp(obj, "schema") == 0)
		return sel_add_pattern(s, SEL_INCLUDE_SCHEMA, arg);
	if (exclude && strcmp(obj, "schema") == 0)
		return sel_add_pattern(s, SEL_EXCLUDE_SCHEMA, arg);
	if (include && strcmp(obj, "table") == 0)
		return sel_add_pattern(s, SEL_INCLUDE_TABLE, arg);
	if (exclude && strcmp(obj, "table") == 0)
		return sel_add_pattern(s, SEL_EXCLUDE_TABLE, arg);
	if (exclude && strcmp(obj, "table_data") == 0)
		return sel_add_pattern(s, SEL_EXCLUDE_TABLE_DATA, arg);
	if (exclude && strcmp(obj, "column") == 0)
		return sel_add_column(s, arg);
	if (strcmp(cmd, "rename") == 0 && strcmp(obj, "schema") == 0)
		return sel_add_schema_rename(s, arg);
	if (strcmp(cmd, "rename") == 0 && strcmp(obj, "table") == 0)
		return sel_add_table_rename(s, arg);
	if (!include && !exclude && strcmp(cmd, "rename") != 0)
		return str_printf("invalid filter command \"%s\": expected include, exclude or rename", cmd);
	return str_printf("unsupported filter object type \"%s %s\"", cmd, obj);
}

char *
sel_parse_text(selection *s, const char *text, const char *origin)
{
	int			lineno = 0;

	for (const char *p = text; *p;)
	{
		const char *nl = strchr(p, '\n');
		size_t		len = nl ? (size_t) (nl - p) : strlen(p);
		char	   *l = clean_line(p, len);
		char	   *cmd,
				   *obj,
				   *arg,
				   *msg = NULL;

		lineno++;
		if (split_words(l, &cmd, &obj, &arg))
			msg = parse_line(s, cmd, obj, arg);
		free(l);
		if (msg)
		{
			char	   *full = str_printf("%s: line %d: %s", origin, lineno, msg);

			free(msg);
			return full;
		}
		p = nl ? nl + 1 : p + len;
	}
	return NULL;
}

/* A name as the filter format and the options read it back. */
static void
add_name(strbuf *sb, const char *name)
{
	strbuf_adds(sb, "\"");
	for (const char *p = name; *p; p++)
		strbuf_adds(sb, *p == '"' ? "\"\"" : (char[]) {*p, '\0'});
	strbuf_adds(sb, "\"");
}

static void
format_renames(strbuf *sb, const selection *s)
{
	for (int i = 0; i < s->nschema_renames; i++)
	{
		strbuf_adds(sb, "rename schema ");
		add_name(sb, s->schema_renames[i].schema);
		strbuf_adds(sb, "=");
		add_name(sb, s->schema_renames[i].to);
		strbuf_adds(sb, "\n");
	}
	for (int i = 0; i < s->ntable_renames; i++)
	{
		strbuf_adds(sb, "rename table ");
		add_name(sb, s->table_renames[i].schema);
		strbuf_adds(sb, ".");
		add_name(sb, s->table_renames[i].from);
		strbuf_adds(sb, "=");
		add_name(sb, s->table_renames[i].to);
		strbuf_adds(sb, "\n");
	}
	for (int i = 0; i < s->ncolumns; i++)
	{
		strbuf_adds(sb, "exclude column ");
		add_name(sb, s->columns[i].schema);
		strbuf_adds(sb, ".");
		add_name(sb, s->columns[i].table);
		strbuf_adds(sb, ".");
		add_name(sb, s->columns[i].column);
		strbuf_adds(sb, "\n");
	}
}

char *
sel_format(const selection *s)
{
	strbuf		sb = STRBUF_INIT;

	for (int k = 0; k < SEL_NKINDS; k++)
		for (int i = 0; i < s->npatterns[k]; i++)
			strbuf_addf(&sb, "%s %s\n", kind_lines[k], s->patterns[k][i]);
	format_renames(&sb, s);
	if (s->large_objects != SEL_LO_DEFAULT)
		strbuf_addf(&sb, "%s large_objects\n",
					s->large_objects == SEL_LO_INCLUDE ? "include" : "exclude");
	if (s->exclude_dependents)
		strbuf_adds(&sb, "exclude dependents\n");
	return strbuf_detach(&sb);
}

const char *
sel_schema_target(const selection *s, const char *nsp)
{
	for (int i = 0; i < s->nschema_renames; i++)
		if (strcmp(s->schema_renames[i].schema, nsp) == 0)
			return s->schema_renames[i].to;
	return nsp;
}

const char *
sel_table_target(const selection *s, const char *nsp, const char *rel)
{
	for (int i = 0; i < s->ntable_renames; i++)
		if (strcmp(s->table_renames[i].schema, nsp) == 0 &&
			strcmp(s->table_renames[i].from, rel) == 0)
			return s->table_renames[i].to;
	return rel;
}
