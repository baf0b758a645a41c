/*
 * cmd_cutover.c
 *		pgcrane cutover: ask the running follow to finish, and wait for it;
 *		or, when none runs, catch up here.
 *
 * First the source is asked for prepared transactions in its database:
 * their changes reach the stream only at COMMIT PREPARED, so a cutover
 * now would leave them out; it is refused while there are any.
 *
 * The request is a key in the state (cutover.requested), written without
 * the directory's lock, which the follow holds.  The follow fixes the
 * cutover position (the source's WAL position when it sees the request),
 * applies everything up to it, copies the sequences, carries the
 * unlogged tables, materialized views and large objects (with
 * --no-refresh-matviews, recorded before the request, not the
 * materialized views) and records follow.phase = done; this waits for
 * that.  The request stays when the
 * wait times out: the follow still cuts over when it gets there.
 *
 * No follow runs when nobody holds the directory's lock (state.h), before
 * the request or at any moment of the wait (the follow died): then this
 * process takes the lock and runs the follow itself, with the cutover
 * already requested (follow_run), so the cutover never waits for nothing.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cdc/carry.h"
#include "cdc/cleanup.h"
#include "cdc/follow.h"
#include "cdc/report.h"
#include "cli/cli.h"
#include "cli/options.h"
#include "core/conn.h"
#include "core/interrupt.h"
#include "core/state.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/str.h"

#define DEFAULT_DIR "pgcrane-work"
#define WAIT_LOG_INTERVAL 10.0

typedef struct cutover_options
{
	const char *dir;
	int			timeout;		/* seconds, 0 for no limit */
	bool		drop_slot;
	bool		json;
	bool		no_refresh_matviews;
} cutover_options;

enum
{
	OPT_TIMEOUT = CLI_LONG_ONLY,
	OPT_DROP_SLOT,
	OPT_JSON,
	OPT_NO_REFRESH_MATVIEWS
};

static const cli_option options[] = {
	{"dir", 'D', "DIR", "work directory of the follow (default: ./" DEFAULT_DIR ")"},
	{"timeout", OPT_TIMEOUT, "SEC", "give up waiting after SEC seconds (default: no limit);\n"
	"the request stays and the follow still cuts over"},
	{"drop-slot", OPT_DROP_SLOT, NULL, "then drop the replication slot, publication and\n"
	"origin, as pgcrane cleanup does"},
	{"no-refresh-matviews", OPT_NO_REFRESH_MATVIEWS, NULL, "do not refresh the materialized views on\n"
	"the target (their contents stay as of the clone)"},
	{"json", OPT_JSON, NULL, "print the summary as JSON on stdout"},
	{"verbose", 'v', NULL, "more messages"},
	{NULL, 0, NULL, NULL}
};

static void
usage(void)
{
	printf("pgcrane cutover ends a follow: it asks the running \"pgcrane follow\" (or\n"
		   "\"pgcrane clone --follow\") to apply every change committed on the source\n"
		   "up to now, copy the sequence values, copy the unlogged tables and the\n"
		   "large objects again, refresh the materialized views, and stop; then it\n"
		   "prints the summary.\n"
		   "Stop the writes to the source first: what commits after the request is\n"
		   "not applied.\n\n");
	printf("Usage:\n  pgcrane cutover [--dir DIR] [OPTION]...\n\n");
	printf("Options:\n");
	cli_print_options(options);
	printf("\nWhen no follow runs on DIR, the cutover runs it itself until it is done\n"
		   "(--timeout does not apply then; Ctrl-C stops it, the request stays).\n"
		   "The cutover is refused while transactions are prepared on the source\n"
		   "database: their changes would not reach the target.\n");
	printf("\nExit status: 0 cutover done, 2 error or timeout, 130 interrupted.\n");
}


/*
 * Whether the follow's phase is done; a fresh read of the state.  Not
 * when it cannot be read (logged): the wait goes on.
 */
static bool
phase_done(state *st)
{
	char	   *phase;
	bool		done = state_load_follow_phase(st, &phase) == 1 &&
		strcmp(phase, FOLLOW_PHASE_DONE) == 0;

	free(phase);
	return done;
}

/* The lag the follow recorded last, 0 when unknown. */
static int64_t
recorded_lag(state *st)
{
	state_progress p;
	int64_t		lag = 0;

	if (state_load_progress(st, &p) == 0 && p.has_figures && p.figures.lag_bytes > 0)
		lag = p.figures.lag_bytes;
	state_progress_release(&p);
	return lag;
}

/*
 * Run the follow in this process, the cutover requested, until it is done:
 * nobody else holds the directory.  An exit code; 1 when another pgcrane
 * took the directory first (then wait for it).
 */
static int
catch_up_here(const cutover_options *o)
{
	follow_options fo;
	interrupt	intr;
	int			rc;

	memset(&fo, 0, sizeof(fo));
	memset(&intr, 0, sizeof(intr));
	if (state_lock_probe(o->dir, NULL) != 0 || (fo.st = state_open(o->dir)) == NULL)
		return 1;
	log_info("no pgcrane follow runs on \"%s\": catching up to the cutover here", o->dir);
	if (interrupt_start(&intr) != 0)
	{
		state_close(fo.st);
		return EXIT_ERROR;
	}
	fo.intr = &intr;
	fo.json = o->json;
	fo.no_summary = true;
	rc = cli_exit_code(follow_run(&fo));
	interrupt_stop(&intr);
	if (rc == EXIT_OK && o->drop_slot && cdc_cleanup(fo.st, NULL, NULL) != 0)
		rc = EXIT_ERROR;
	if (rc == EXIT_OK)
		cdc_report_print_cutover(fo.st, o->json);
	else if (rc != EXIT_INTERRUPTED)
		log_hint("The cutover request stays: run \"pgcrane cutover --dir %s\" again once the cause is fixed.",
				 o->dir);
	state_close(fo.st);
	return rc;
}

/*
 * Wait for follow.phase = done.  0 when done, the exit code of
 * catch_up_here() when it ran (*ran_here), -1 (logged) on timeout.
 */
static int
wait_done(state *st, const cutover_options *o, bool *ran_here)
{
	double		start = clock_now();
	double		next_log = start + WAIT_LOG_INTERVAL;

	*ran_here = false;
	for (;;)
	{
		double		now = clock_now();

		if (phase_done(st))
			return 0;
		/* Nobody holds the directory: the follow is gone, or never ran. */
		if (state_lock_probe(o->dir, NULL) == 0 && !phase_done(st))
		{
			int			rc = catch_up_here(o);

			if (rc != 1)
			{
				*ran_here = true;
				return rc;
			}
		}
		if (o->timeout > 0 && now - start >= o->timeout)
		{
			error("the cutover did not finish within %d seconds", o->timeout);
			log_detail("The request stays: pgcrane follow cuts over when it has caught up.");
			log_hint("Watch it with \"pgcrane status --dir %s\", or wait again with \"pgcrane cutover --dir %s\".",
					 o->dir, o->dir);
			return -1;
		}
		if (now >= next_log)
		{
			log_info("waiting for the cutover: %" PRId64 " bytes behind the source",
					 recorded_lag(st));
			next_log = now + WAIT_LOG_INTERVAL;
		}
		usleep(200 * 1000);
	}
}

/*
 * Refuse while transactions are prepared in the source database: their
 * changes come only with COMMIT PREPARED, after the cutover.  0 to go on
 * (also when the source cannot be asked: warned), -1 (logged) otherwise.
 */
static int
check_prepared(state *st, const char *dir)
{
	state_run	run;
	char		msg[512] = "";
	PGconn	   *src = NULL;
	strbuf		list = STRBUF_INIT;
	int			n;

	if (state_load_run(st, &run) != 0)
		return -1;
	if (run.source)
		src = conn_try_open(run.source, NULL, msg, sizeof(msg));
	n = cdc_carry_prepared(src, &list);
	if (src)
		PQfinish(src);
	state_run_release(&run);
	if (n < 0)
		log_warning("could not ask the source for prepared transactions%s%s",
					msg[0] ? ": " : "", msg);
	if (n > 0)
	{
		error("%d transaction%s prepared on the source database: their changes would not reach the target",
			  n, n == 1 ? " is" : "s are");
		log_detail("%s", strbuf_str(&list));
		log_hint("Run COMMIT PREPARED or ROLLBACK PREPARED for each on the source, then \"pgcrane cutover --dir %s\".",
				 dir);
	}
	strbuf_release(&list);
	return n > 0 ? -1 : 0;
}

/* Wait for the follow process to exit, so that its lock and slot are free. */
static void
wait_follow_exit(state *st)
{
	state_progress p;
	int64_t		pid = state_load_progress(st, &p) == 0 ? p.pid : 0;

	state_progress_release(&p);
	for (int i = 0; pid > 0 && i < 300 && kill((pid_t) pid, 0) == 0; i++)
		usleep(100 * 1000);
}

/* --drop-slot: clean up with the directory locked, once the follow is gone. */
static int
drop_slot(state *shared, const char *dir)
{
	state	   *st;
	int			rc;

	wait_follow_exit(shared);
	st = state_open(dir);
	if (st == NULL)
		return -1;
	rc = cdc_cleanup(st, NULL, NULL);
	state_close(st);
	return rc;
}

/* Whether st records a follow; false (logged) when not or unreadable. */
static bool
records_follow(state *st)
{
	state_follow f;
	bool		found;

	if (state_load_follow(st, &f) != 0)
		return false;
	found = f.slot != NULL;
	state_follow_release(&f);
	if (!found)
	{
		error("work directory \"%s\" records no follow", state_dir(st));
		log_hint("Changes are followed after \"pgcrane clone --follow\".");
	}
	return found;
}

static int
run(const cutover_options *o)
{
	state	   *st;
	char		now[32];
	bool		ran_here = false;
	int			rc;

	if ((st = state_open_shared(o->dir)) == NULL)
		return EXIT_ERROR;
	if (!records_follow(st))
	{
		state_close(st);
		return EXIT_ERROR;
	}
	if (!phase_done(st) && check_prepared(st, o->dir) != 0)
	{
		state_close(st);
		return EXIT_ERROR;
	}
	cdc_report_format_time(time(NULL), now, sizeof(now));
	/* Before the request: the follow reads it when it carries the extras. */
	if (state_record_cutover_refresh_matviews(st, !o->no_refresh_matviews) != 0)
	{
		state_close(st);
		return EXIT_ERROR;
	}
	rc = state_request_cutover(st, now);
	if (rc == 1)
		log_info("cutover requested; waiting for pgcrane follow to catch up");
	rc = rc < 0 ? -1 : 0;
	if (rc == 0)
		rc = wait_done(st, o, &ran_here);
	if (ran_here)
	{
		state_close(st);
		return rc;
	}
	if (rc == 0 && o->drop_slot)
		rc = drop_slot(st, o->dir);
	if (rc == 0)
		cdc_report_print_cutover(st, o->json);
	state_close(st);
	return rc == 0 ? EXIT_OK : EXIT_ERROR;
}

int
cmd_cutover(int argc, char **argv)
{
	cutover_options o = {DEFAULT_DIR, 0, false, false, false};
	int			c;

	if (cli_wants_help(argc, argv))
	{
		usage();
		return EXIT_OK;
	}
	while ((c = cli_next_option(argc, argv, options)) != -1)
	{
		switch (c)
		{
			case 'D':
				o.dir = optarg;
				break;
			case OPT_TIMEOUT:
				if (!str_to_int(optarg, 1, 7 * 24 * 3600, &o.timeout))
				{
					error("invalid value \"%s\" for option --timeout", optarg);
					log_hint("Give a number of seconds from 1 to 604800.");
					cli_try_help("cutover");
					return EXIT_ERROR;
				}
				break;
			case OPT_DROP_SLOT:
				o.drop_slot = true;
				break;
			case OPT_JSON:
				o.json = true;
				break;
			case OPT_NO_REFRESH_MATVIEWS:
				o.no_refresh_matviews = true;
				break;
			case 'v':
				log_set_level(LOG_DEBUG);
				break;
			default:
				cli_try_help("cutover");
				return EXIT_ERROR;
		}
	}
	if (!cli_no_extra_args(argc, argv, "cutover"))
	{
		return EXIT_ERROR;
	}
	return run(&o);
}
