/*
 * pgtools.c
 *		pg_dump and pg_restore: finding them and running them.
 */
#include "core/pgtools.h"

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
try_dir(const char *dir, int min_major, pg_tools *best)
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
pgtools_find(int min_major, pg_tools *tools)
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

int
pgtools_run(const char *const *argv, const char *conninfo, const char *stdout_path,
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
pgtools_dump_relations(const pg_tools *tools, const char *source,
					  const char *const *names, int n, bool no_owner,
					  bool no_acl, const char *path)
{
	const char *argv[32];
	char	   *tables[24];
	char	   *filearg = str_printf("--file=%s", path);
	int			argc = 0,
				rc;

	if (n > 24)
		return error("too many relations for one pg_dump: %d", n);
	argv[argc++] = tools->pg_dump;
	argv[argc++] = "--schema-only";
	argv[argc++] = "--no-publications";
	argv[argc++] = "--no-subscriptions";
	if (no_owner)
		argv[argc++] = "--no-owner";
	if (no_acl)
		argv[argc++] = "--no-acl";
	argv[argc++] = filearg;
	for (int i = 0; i < n; i++)
		argv[argc++] = tables[i] = str_printf("--table=%s", names[i]);
	argv[argc] = NULL;
	rc = pgtools_run(argv, source, NULL, NULL, "pg_dump");
	for (int i = 0; i < n; i++)
		free(tables[i]);
	free(filearg);
	return rc;
}

