/*
 * schema.c
 *		Run pg_dump and pg_restore for the schema.
 *
 * A child program gets its connection as --dbname with a key/value
 * connection string (conn_child_prepare): every option the user gave, the
 * database name quoted so that any name reaches it literally, and no
 * secret.  The password goes in the child's own environment (PGPASSWORD),
 * which lives only as long as the step; no secret shows in the process
 * list.
 */
#include "clone/schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/conn.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/str.h"

int
schema_dump(const pg_tools *tools, const char *source, const char *snap,
			const char *path, const interrupt_flag *cancel)
{
	char	   *snaparg = str_printf("--snapshot=%s", snap);
	char	   *filearg = str_printf("--file=%s", path);
	const char *argv[] = {tools->pg_dump, "--format=custom", "--create",
		"--section=pre-data", "--section=post-data", "--no-sync",
	snaparg, filearg, NULL};
	int			rc = pgtools_run(argv, source, NULL, cancel, "pg_dump");

	free(snaparg);
	free(filearg);
	return rc;
}

/* The common part of pg_restore's command line; returns argc used. */
static int
restore_args(const char **argv, const pg_tools *tools,
			 const schema_restore_opts *o)
{
	int			n = 0;

	argv[n++] = tools->pg_restore;
	argv[n++] = "--exit-on-error";
	if (o->no_owner)
		argv[n++] = "--no-owner";
	if (o->no_acl)
		argv[n++] = "--no-acl";
	if (o->no_tablespaces)
		argv[n++] = "--no-tablespaces";
	if (o->clean)
	{
		argv[n++] = "--clean";
		argv[n++] = "--if-exists";
	}
	return n;
}

static int
restore(const pg_tools *tools, const char *target, const char *dump,
		const char *section, const char *list_path,
		const schema_restore_opts *o)
{
	char	   *listarg = NULL,
			   *jobsarg = NULL;
	const char *argv[16];
	int			n,
				rc;

	n = restore_args(argv, tools, o);
	if (section)
		argv[n++] = section;
	if (list_path)
	{
		listarg = str_printf("--use-list=%s", list_path);
		argv[n++] = listarg;
	}
	if (o->jobs > 1)
	{
		jobsarg = str_printf("--jobs=%d", o->jobs);
		argv[n++] = jobsarg;
	}
	argv[n++] = dump;
	argv[n] = NULL;
	rc = pgtools_run(argv, target, NULL, o->cancel, "pg_restore");
	free(listarg);
	free(jobsarg);
	return rc;
}

int
schema_restore_pre(const pg_tools *tools, const char *target,
				   const char *dump, const schema_restore_opts *o)
{
	schema_restore_opts one = *o;

	one.jobs = 1;
	return restore(tools, target, dump, "--section=pre-data", NULL, &one);
}

int
schema_restore_pre_list(const pg_tools *tools, const char *target,
						const char *dump, const char *list_path,
						const schema_restore_opts *o)
{
	schema_restore_opts one = *o;

	one.jobs = 1;
	return restore(tools, target, dump, "--section=pre-data", list_path, &one);
}

/* The list of the entries restored after the post-data list. */
static char *
deps_list_path(const char *list_path)
{
	return str_printf("%s.dependents", list_path);
}

static bool
file_has_lines(const char *path)
{
	FILE	   *f = fopen(path, "r");
	bool		any = f && fgetc(f) != EOF;

	if (f)
		fclose(f);
	return any;
}

/*
 * The comments and security labels of what pgcrane built: their own list,
 * restored without --section (they have none), so list order cannot make
 * pg_restore skip them.  Restored again on a rerun: setting them twice is
 * harmless, and they have no DROP for --clean.
 */
static int
restore_dependents(const pg_tools *tools, const char *target,
				   const char *dump, const char *list_path,
				   const schema_restore_opts *o)
{
	char	   *deps = deps_list_path(list_path);
	schema_restore_opts one = *o;
	int			rc = 0;

	one.jobs = 1;
	one.clean = false;
	if (file_has_lines(deps))
		rc = restore(tools, target, dump, NULL, deps, &one);
	free(deps);
	return rc;
}

int
schema_restore_post(const pg_tools *tools, const char *target,
					const char *dump, const char *list_path,
					const schema_restore_opts *o)
{
	int			rc = restore(tools, target, dump, "--section=post-data", list_path, o);

	if (rc == 0)
		rc = restore_dependents(tools, target, dump, list_path, o);
	return rc;
}

int
schema_list(const pg_tools *tools, const char *dump, bool create,
			const char *out_path)
{
	const char *argv[] = {tools->pg_restore, "--list", dump, NULL, NULL};

	if (create)
	{
		argv[2] = "--create";
		argv[3] = dump;
	}
	return pgtools_run(argv, NULL, out_path, NULL, "pg_restore --list");
}

int
schema_restore_sql(const pg_tools *tools, const char *dump,
				   const char *list_path, const char *out_path,
				   const schema_restore_opts *o)
{
	char	   *listarg = str_printf("--use-list=%s", list_path);
	char	   *filearg = str_printf("--file=%s", out_path);
	const char *argv[16];
	int			n = restore_args(argv, tools, o);
	int			rc;

	argv[n++] = "--create";
	argv[n++] = listarg;
	argv[n++] = filearg;
	argv[n++] = dump;
	argv[n] = NULL;
	rc = pgtools_run(argv, NULL, NULL, o->cancel, "pg_restore");
	free(listarg);
	free(filearg);
	return rc;
}

bool
schema_toc_line_matches(const char *line, const schema_toc_key *skip,
						int nskip, int *which)
{
	unsigned long id,
				catalog,
				oid;
	char		type[32];

	/* "3756; 1259 16850 INDEX public idx_actor_last_name postgres" */
	if (line[0] == ';' ||
		sscanf(line, "%lu; %lu %lu %31s", &id, &catalog, &oid, type) != 4)
		return false;
	/* INDEX, CONSTRAINT and FK CONSTRAINT; not INDEX ATTACH. */
	if (strcmp(type, "INDEX") != 0 && strcmp(type, "CONSTRAINT") != 0 &&
		strcmp(type, "FK") != 0)
		return false;
	{
		const char *after = strstr(line, type) + strlen(type);

		if (strncmp(after, " ATTACH ", 8) == 0 ||
			(strcmp(type, "FK") == 0 && strncmp(after, " CONSTRAINT ", 12) != 0))
			return false;
	}
	for (int i = 0; i < nskip; i++)
	{
		if (skip[i].catalog == catalog && skip[i].oid == oid)
		{
			if (which)
				*which = i;
			return true;
		}
	}
	return false;
}

/*
 * "3402; 6104 16999 PUBLICATION - name owner" for the publication pub, or
 * one of its tables: "3403; 6106 17000 PUBLICATION TABLE public name t owner".
 */
static bool
is_publication(const char *line, const char *pub)
{
	const char *p = strstr(line, " PUBLICATION - ");
	const char *t = strstr(line, " PUBLICATION TABLE ");

	if (pub == NULL || (p == NULL && t == NULL))
		return false;
	if (p)
		p += strlen(" PUBLICATION - ");
	else
	{
		p = strchr(t + strlen(" PUBLICATION TABLE "), ' ');	/* the schema */
		if (p == NULL)
			return false;
		p++;
	}
	return strncmp(p, pub, strlen(pub)) == 0 && p[strlen(pub)] == ' ';
}

/* One line of "pg_restore --list --verbose", with what it depends on. */
typedef struct toc_line
{
	char	   *text;
	unsigned long id;			/* dump ID; 0 for a comment line */
	unsigned long *deps;		/* dump IDs from its "depends on" line */
	int			ndeps;
	bool		skipped;		/* built by pgcrane, or left out */
	bool		excluded;		/* left out by the selection */
} toc_line;

typedef struct toc_list
{
	toc_line   *lines;
	int			n;
} toc_list;

static void
toc_list_release(toc_list *l)
{
	for (int i = 0; i < l->n; i++)
	{
		free(l->lines[i].text);
		free(l->lines[i].deps);
	}
	free(l->lines);
}

/* ";\tdepends on: 3200 214" after an entry: its dependencies. */
static void
toc_read_deps(toc_line *entry, const char *line)
{
	const char *p = strstr(line, "depends on:") + strlen("depends on:");
	char	   *end;

	for (;;)
	{
		unsigned long id = strtoul(p, &end, 10);

		if (end == p)
			break;
		entry->deps = xrealloc(entry->deps, sizeof(unsigned long) * (size_t) (entry->ndeps + 1));
		entry->deps[entry->ndeps++] = id;
		p = end;
	}
}

static int
toc_read(const char *path, toc_list *l)
{
	FILE	   *in = fopen(path, "r");
	char		line[8192];

	memset(l, 0, sizeof(*l));
	if (in == NULL)
		return error("could not read TOC list \"%s\"", path);
	while (fgets(line, sizeof(line), in))
	{
		toc_line   *t;

		if (strncmp(line, ";\tdepends on:", 13) == 0)
		{
			if (l->n > 0 && l->lines[l->n - 1].id != 0)
				toc_read_deps(&l->lines[l->n - 1], line);
			continue;
		}
		l->lines = xrealloc(l->lines, sizeof(toc_line) * (size_t) (l->n + 1));
		t = &l->lines[l->n++];
		memset(t, 0, sizeof(*t));
		t->text = xstrdup(line);
		if (line[0] != ';')
			t->id = strtoul(line, NULL, 10);
	}
	fclose(in);
	return 0;
}

/* "3359; 0 0 COMMENT public INDEX t_ab postgres": its kind, COMMENT. */
static bool
toc_kind_is(const char *line, const char *kind)
{
	unsigned long id,
				catalog,
				oid;
	int			off = 0;

	if (sscanf(line, "%lu; %lu %lu %n", &id, &catalog, &oid, &off) != 3 || off == 0)
		return false;
	return strncmp(line + off, kind, strlen(kind)) == 0 && line[off + strlen(kind)] == ' ';
}

/*
 * Whether entry t is a comment or security label on an entry pgcrane
 * builds itself.  pg_restore gives such an entry (of no section of its
 * own) the section of the entry before it in the list; with its object
 * left out that is often pre-data, and --section=post-data would skip it.
 */
static bool
toc_is_dependent(const toc_list *l, const toc_line *t)
{
	if (!toc_kind_is(t->text, "COMMENT") && !toc_kind_is(t->text, "SECURITY"))
		return false;
	for (int d = 0; d < t->ndeps; d++)
		for (int i = 0; i < l->n; i++)
			if (l->lines[i].id == t->deps[d] && l->lines[i].skipped)
				return true;
	return false;
}

static int
toc_write(const toc_list *l, const char *list_path, const char *deps_path)
{
	FILE	   *out = fopen(list_path, "w");
	FILE	   *deps = fopen(deps_path, "w");
	int			rc = 0;

	if (out == NULL || deps == NULL)
		rc = error("could not write TOC list \"%s\"", out ? deps_path : list_path);
	for (int i = 0; rc == 0 && i < l->n; i++)
	{
		const toc_line *t = &l->lines[i];
		bool		dependent = t->id != 0 && !t->excluded && toc_is_dependent(l, t);

		if (t->skipped || t->excluded || dependent)
			fputc(';', out);
		fputs(t->text, out);
		if (dependent)
			fputs(t->text, deps);
	}
	if (out && fclose(out) != 0 && rc == 0)
		rc = error("could not write TOC list \"%s\"", list_path);
	if (deps && fclose(deps) != 0 && rc == 0)
		rc = error("could not write TOC list \"%s\"", deps_path);
	return rc;
}

static int
key_cmp(const void *a, const void *b)
{
	const schema_toc_key *x = a;
	const schema_toc_key *y = b;

	if (x->catalog != y->catalog)
		return x->catalog < y->catalog ? -1 : 1;
	return x->oid < y->oid ? -1 : x->oid > y->oid ? 1 : 0;
}

/* Whether entry t has one of the keys (sorted) of out. */
static bool
toc_key_excluded(const toc_line *t, const schema_toc_key *sorted, int n)
{
	unsigned long id,
				catalog,
				oid;
	schema_toc_key k,
				all = {SCHEMA_TOC_LARGE_OBJECT, 0};

	if (sscanf(t->text, "%lu; %lu %lu", &id, &catalog, &oid) != 3)
		return false;
	k.catalog = (uint32_t) catalog;
	k.oid = (uint32_t) oid;
	if (catalog == SCHEMA_TOC_LARGE_OBJECT &&
		bsearch(&all, sorted, (size_t) n, sizeof(k), key_cmp))
		return true;
	return bsearch(&k, sorted, (size_t) n, sizeof(k), key_cmp) != NULL;
}

static bool
toc_depends_on_excluded(const toc_line *t, const bool *by_id, unsigned long max_id)
{
	for (int d = 0; d < t->ndeps; d++)
		if (t->deps[d] <= max_id && by_id[t->deps[d]])
			return true;
	return false;
}

/*
 * Mark what out leaves out, then what depends on it, until nothing
 * changes (the list is in dependency order, so one pass mostly does it).
 */
static void
toc_exclude(toc_list *l, const schema_exclusion *out)
{
	unsigned long max_id = 0;
	bool	   *by_id;
	bool		changed = true;
	schema_toc_key *sorted;

	if (out == NULL || out->nkeys == 0)
		return;
	sorted = xcalloc((size_t) out->nkeys, sizeof(schema_toc_key));
	memcpy(sorted, out->keys, sizeof(schema_toc_key) * (size_t) out->nkeys);
	qsort(sorted, (size_t) out->nkeys, sizeof(schema_toc_key), key_cmp);
	for (int i = 0; i < l->n; i++)
		if (l->lines[i].id > max_id)
			max_id = l->lines[i].id;
	by_id = xcalloc(max_id + 1, sizeof(bool));
	for (int i = 0; i < l->n; i++)
		if (l->lines[i].id != 0 && toc_key_excluded(&l->lines[i], sorted, out->nkeys))
			l->lines[i].excluded = by_id[l->lines[i].id] = true;
	free(sorted);
	while (changed)
	{
		changed = false;
		for (int i = 0; i < l->n; i++)
		{
			toc_line   *t = &l->lines[i];

			if (t->id != 0 && !t->excluded && toc_depends_on_excluded(t, by_id, max_id))
				t->excluded = by_id[t->id] = changed = true;
		}
	}
	free(by_id);
}

/* "pg_restore --list --verbose" of dump, read; 0 or -1 (logged). */
static int
toc_load(const pg_tools *tools, const char *dump, const char *list_path,
		 toc_list *l)
{
	char	   *raw = str_printf("%s.full", list_path);
	const char *argv[] = {tools->pg_restore, "--list", "--verbose", dump, NULL};
	int			rc = pgtools_run(argv, NULL, raw, NULL, "pg_restore --list");

	if (rc == 0)
		rc = toc_read(raw, l);
	unlink(raw);
	free(raw);
	return rc;
}

int
schema_write_selection_list(const pg_tools *tools, const char *dump,
							const char *list_path, const schema_exclusion *out)
{
	char	   *deps = str_printf("%s.unused", list_path);
	toc_list	l;
	int			rc = toc_load(tools, dump, list_path, &l);

	if (rc == 0)
	{
		toc_exclude(&l, out);
		rc = toc_write(&l, list_path, deps);
		toc_list_release(&l);
	}
	unlink(deps);
	free(deps);
	return rc;
}

int
schema_write_list(const pg_tools *tools, const char *dump,
				  const char *list_path, const schema_toc_key *skip, int nskip,
				  bool *found, const char *skip_publication,
				  const schema_exclusion *out)
{
	char	   *deps = deps_list_path(list_path);
	toc_list	l;
	int			rc;

	for (int i = 0; i < nskip; i++)
		found[i] = false;
	rc = toc_load(tools, dump, list_path, &l);
	if (rc == 0)
	{
		toc_exclude(&l, out);
		for (int i = 0; i < l.n; i++)
		{
			toc_line   *t = &l.lines[i];
			int			which;

			if (t->id == 0)
				continue;
			if (schema_toc_line_matches(t->text, skip, nskip, &which))
				t->skipped = found[which] = true;
			else if (is_publication(t->text, skip_publication))
				t->skipped = true;
		}
		rc = toc_write(&l, list_path, deps);
		toc_list_release(&l);
	}
	free(deps);
	return rc;
}
