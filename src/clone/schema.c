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

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/conn.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/str.h"

/* Major version from "pg_dump (PostgreSQL) 15.20 (Debian ...)". */
static int
parse_major(const char *version)
{
	const char *p = strstr(version, ") ");

	return p ? (int) strtol(p + 2, NULL, 10) : 0;
}

static void
try_dir(const char *dir, int min_major, schema_tools *best)
{
	char		dump[1024],
				restore[1024],
				line[256];
	const char *argv[3];

	snprintf(dump, sizeof(dump), "%s/pg_dump", dir);
	snprintf(restore, sizeof(restore), "%s/pg_restore", dir);
	if (access(dump, X_OK) != 0 || access(restore, X_OK) != 0)
		return;
	argv[0] = dump;
	argv[1] = "--version";
	argv[2] = NULL;
	if (proc_read_line(argv, line, sizeof(line)) != 0)
		return;
	{
		int			major = parse_major(line);

		if (major < min_major || major <= best->major)
			return;
		str_copy(best->pg_dump, dump, sizeof(best->pg_dump));
		str_copy(best->pg_restore, restore, sizeof(best->pg_restore));
		str_copy(best->version, line, sizeof(best->version));
		best->major = major;
	}
}

int
schema_find_tools(int min_major, schema_tools *tools)
{
	const char *path = getenv("PATH");
	DIR		   *d;

	memset(tools, 0, sizeof(*tools));
	if (path)
	{
		char	   *copy = xstrdup(path);
		char	   *dir = copy;

		while (dir)
		{
			char	   *colon = strchr(dir, ':');

			if (colon)
				*colon = '\0';
			if (*dir)
				try_dir(dir, min_major, tools);
			dir = colon ? colon + 1 : NULL;
		}
		free(copy);
	}
	d = opendir("/usr/lib/postgresql");
	if (d)
	{
		struct dirent *e;

		while ((e = readdir(d)) != NULL)
		{
			char		dir[512];

			if (e->d_name[0] == '.')
				continue;
			snprintf(dir, sizeof(dir), "/usr/lib/postgresql/%s/bin", e->d_name);
			try_dir(dir, min_major, tools);
		}
		closedir(d);
	}
	return tools->major > 0 ? 0 : -1;
}

/*
 * Run a tool; with conninfo, its connection goes in as argv[1] (the tool's
 * options come after it, so argv[0] is followed by --dbname=...).
 */
static int
run_tool(const char *const *argv, const char *conninfo, const char *stdout_path,
		 const interrupt_flag *cancel, const char *what)
{
	conn_child	child = CONN_CHILD_INIT;
	const char *args[32];
	int			n = 0,
				rc;

	if (conninfo && conn_child_prepare(conninfo, &child) != 0)
		return -1;
	args[n++] = argv[0];
	if (conninfo)
		args[n++] = child.dbname_arg;
	for (int i = 1; argv[i] && n < 31; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	rc = proc_run(args, child.env, stdout_path, cancel, what);
	conn_child_release(&child);
	if (rc > 0)
		return error("%s failed with exit code %d", what, rc);
	return rc;
}

int
schema_dump(const schema_tools *tools, const char *source, const char *snap,
			const char *path, const interrupt_flag *cancel)
{
	char	   *snaparg = str_printf("--snapshot=%s", snap);
	char	   *filearg = str_printf("--file=%s", path);
	const char *argv[] = {tools->pg_dump, "--format=custom",
		"--section=pre-data", "--section=post-data", "--no-sync",
	snaparg, filearg, NULL};
	int			rc = run_tool(argv, source, NULL, cancel, "pg_dump");

	free(snaparg);
	free(filearg);
	return rc;
}

/* The common part of pg_restore's command line; returns argc used. */
static int
restore_args(const char **argv, const schema_tools *tools,
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
restore(const schema_tools *tools, const char *target, const char *dump,
		const char *section, const char *list_path,
		const schema_restore_opts *o)
{
	char	   *listarg = NULL,
			   *jobsarg = NULL;
	const char *argv[16];
	int			n,
				rc;

	n = restore_args(argv, tools, o);
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
	rc = run_tool(argv, target, NULL, o->cancel, "pg_restore");
	free(listarg);
	free(jobsarg);
	return rc;
}

int
schema_restore_pre(const schema_tools *tools, const char *target,
				   const char *dump, const schema_restore_opts *o)
{
	schema_restore_opts one = *o;

	one.jobs = 1;
	return restore(tools, target, dump, "--section=pre-data", NULL, &one);
}

int
schema_restore_post(const schema_tools *tools, const char *target,
					const char *dump, const char *list_path,
					const schema_restore_opts *o)
{
	return restore(tools, target, dump, "--section=post-data", list_path, o);
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

/* "3402; 6104 16999 PUBLICATION - name owner" for the publication pub. */
static bool
is_publication(const char *line, const char *pub)
{
	const char *p = strstr(line, " PUBLICATION - ");

	if (pub == NULL || p == NULL)
		return false;
	p += strlen(" PUBLICATION - ");
	return strncmp(p, pub, strlen(pub)) == 0 && p[strlen(pub)] == ' ';
}

int
schema_write_list(const schema_tools *tools, const char *dump,
				  const char *list_path, const schema_toc_key *skip, int nskip,
				  bool *found, const char *skip_publication)
{
	char	   *raw = str_printf("%s.full", list_path);
	const char *argv[] = {tools->pg_restore, "--list", dump, NULL};
	FILE	   *in,
			   *out;
	char		line[8192];

	for (int i = 0; i < nskip; i++)
		found[i] = false;
	if (run_tool(argv, NULL, raw, NULL, "pg_restore --list") != 0)
	{
		free(raw);
		return -1;
	}
	in = fopen(raw, "r");
	out = fopen(list_path, "w");
	if (in == NULL || out == NULL)
	{
		if (in)
			fclose(in);
		if (out)
			fclose(out);
		error("could not write TOC list \"%s\"", list_path);
		free(raw);
		return -1;
	}
	while (fgets(line, sizeof(line), in))
	{
		int			which;

		if (schema_toc_line_matches(line, skip, nskip, &which))
		{
			found[which] = true;
			fputc(';', out);
		}
		else if (is_publication(line, skip_publication))
			fputc(';', out);
		fputs(line, out);
	}
	fclose(in);
	unlink(raw);
	free(raw);
	if (fclose(out) != 0)
		return error("could not write TOC list \"%s\"", list_path);
	return 0;
}
