/*
 * progress.c
 *		Live progress and the final summary.
 */
#include "core/progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/json.h"
#include "util/log.h"
#include "util/str.h"

#define LOG_INTERVAL 10.0

void
progress_init(progress *p, bool quiet)
{
	memset(p, 0, sizeof(*p));
	p->start = clock_now();
	p->last_print = p->start;
	p->tty = isatty(STDERR_FILENO);
	p->quiet = quiet || log_get_level() > LOG_INFO;
}

static void
format_line(const progress *p, double now, char *buf, size_t size)
{
	int64_t		bytes = atomic_load(&p->bytes);
	double		elapsed = now - p->start;
	double		rate = elapsed > 0 ? (double) bytes / elapsed : 0;
	char		done[32],
				rates[32],
				eta[32] = "?";

	str_format_size(bytes, done, sizeof(done));
	str_format_size((int64_t) rate, rates, sizeof(rates));
	if (rate > 0 && p->bytes_total > bytes)
	{
		int			left = (int) ((double) (p->bytes_total - bytes) / rate);

		snprintf(eta, sizeof(eta), "%d:%02d", left / 60, left % 60);
	}
	else if (p->bytes_total <= bytes)
		str_copy(eta, "0:00", sizeof(eta));
	snprintf(buf, size, "tables %d/%d, indexes %d/%d, %s copied, %s/s, ETA %s",
			 atomic_load(&p->tables_done), p->tables_total,
			 atomic_load(&p->indexes_done), p->indexes_total, done, rates, eta);
}

void
progress_tick(progress *p, bool force)
{
	double		now = clock_now();
	char		line[256];

	if (p->quiet)
		return;
	if (!force && now - p->last_print < (p->tty ? 1.0 : LOG_INTERVAL))
		return;
	p->last_print = now;
	format_line(p, now, line, sizeof(line));
	if (p->tty)
	{
		fprintf(stderr, "\r\033[K%s", line);
		p->line_open = true;
	}
	else
		log_info("progress: %s", line);
}

void
progress_end_line(progress *p)
{
	if (p->line_open)
	{
		fputc('\n', stderr);
		p->line_open = false;
	}
}

void
report_add_phase(report *r, const char *name, double seconds)
{
	if (r->nphases < REPORT_MAX_PHASES)
	{
		r->phases[r->nphases].name = name;
		r->phases[r->nphases].predicted = -1;
		r->phases[r->nphases++].seconds = seconds;
	}
}

static int
by_table_seconds(const void *a, const void *b)
{
	double		x = ((const report_table *) a)->seconds;
	double		y = ((const report_table *) b)->seconds;

	return x < y ? 1 : x > y ? -1 : 0;
}

static int
by_index_seconds(const void *a, const void *b)
{
	double		x = ((const report_index *) a)->seconds;
	double		y = ((const report_index *) b)->seconds;

	return x < y ? 1 : x > y ? -1 : 0;
}

static void
print_slowest(const report *r)
{
	report_table *t = xcalloc((size_t) r->ntables + 1, sizeof(report_table));
	report_index *ix = xcalloc((size_t) r->nindexes + 1, sizeof(report_index));
	char		size[32];

	memcpy(t, r->tables, sizeof(report_table) * (size_t) r->ntables);
	memcpy(ix, r->indexes, sizeof(report_index) * (size_t) r->nindexes);
	qsort(t, (size_t) r->ntables, sizeof(report_table), by_table_seconds);
	qsort(ix, (size_t) r->nindexes, sizeof(report_index), by_index_seconds);
	for (int i = 0; i < r->ntables && i < 5; i++)
	{
		str_format_size(t[i].bytes, size, sizeof(size));
		fprintf(stderr, "  table  %-40s %8.2f s  %lld rows, %s, %d part%s, %s\n",
				t[i].name, t[i].seconds, (long long) t[i].rows, size, t[i].parts,
				t[i].parts == 1 ? "" : "s", t[i].format);
	}
	for (int i = 0; i < r->nindexes && i < 5; i++)
		fprintf(stderr, "  index  %-40s %8.2f s\n", ix[i].name, ix[i].seconds);
	free(t);
	free(ix);
}

void
report_print_text(const report *r)
{
	int64_t		rows = 0,
				bytes = 0;
	char		size[32];

	if (log_get_level() > LOG_INFO)
		return;
	for (int i = 0; i < r->ntables; i++)
	{
		rows += r->tables[i].rows;
		bytes += r->tables[i].bytes;
	}
	str_format_size(bytes, size, sizeof(size));
	fprintf(stderr, "\nclone %s in %.2f s: %d tables, %lld rows, %s, %d indexes, "
			"%d sequences, %lld large objects\n", r->status, r->seconds,
			r->ntables, (long long) rows, size, r->nindexes, r->sequences,
			(long long) r->large_objects);
	for (int i = 0; i < r->nphases; i++)
	{
		fprintf(stderr, "  phase  %-40s %8.2f s", r->phases[i].name, r->phases[i].seconds);
		if (r->phases[i].predicted >= 0)
			fprintf(stderr, "  predicted %8.2f s", r->phases[i].predicted);
		fputc('\n', stderr);
	}
	if (r->workers > 0)
	{
		fprintf(stderr, "  idle   %-40s %8.2f s", "workers waiting for work",
				r->idle_seconds);
		if (r->predicted_seconds > 0)
			fprintf(stderr, "  predicted %8.2f s", r->predicted_idle_seconds);
		fputc('\n', stderr);
	}
	if (r->predicted_seconds > 0)
		fprintf(stderr, "  predicted %.2f s in all, took %.2f s: %.2f times the prediction\n",
				r->predicted_seconds, r->seconds, r->seconds / r->predicted_seconds);
	print_slowest(r);
}

static void
json_tables(strbuf *sb, const report *r)
{
	strbuf_adds(sb, ",\"tables\":[");
	for (int i = 0; i < r->ntables; i++)
	{
		const report_table *t = &r->tables[i];

		strbuf_adds(sb, i ? ",{\"name\":" : "{\"name\":");
		json_add_string(sb, t->name);
		strbuf_addf(sb, ",\"parts\":%d,\"rows\":%lld,\"bytes\":%lld,"
					"\"seconds\":%.3f,\"format\":\"%s\"}", t->parts,
					(long long) t->rows, (long long) t->bytes, t->seconds,
					t->format);
	}
	strbuf_adds(sb, "],\"indexes\":[");
	for (int i = 0; i < r->nindexes; i++)
	{
		strbuf_adds(sb, i ? ",{\"name\":" : "{\"name\":");
		json_add_string(sb, r->indexes[i].name);
		strbuf_adds(sb, ",\"table\":");
		json_add_string(sb, r->indexes[i].table);
		strbuf_addf(sb, ",\"seconds\":%.3f}", r->indexes[i].seconds);
	}
	strbuf_adds(sb, "]");
}

void
report_print_json(const report *r)
{
	strbuf		sb = STRBUF_INIT;
	int64_t		rows = 0,
				bytes = 0;

	strbuf_addf(&sb, "{\"command\":\"clone\",\"status\":\"%s\",\"source\":", r->status);
	json_add_string(&sb, r->source ? r->source : "");
	strbuf_adds(&sb, ",\"target\":");
	json_add_string(&sb, r->target ? r->target : "");
	strbuf_adds(&sb, ",\"snapshot\":");
	json_add_string(&sb, r->snapshot ? r->snapshot : "");
	strbuf_addf(&sb, ",\"seconds\":%.3f,\"phases\":[", r->seconds);
	for (int i = 0; i < r->nphases; i++)
	{
		strbuf_addf(&sb, "%s{\"name\":\"%s\",\"seconds\":%.3f", i ? "," : "",
					r->phases[i].name, r->phases[i].seconds);
		if (r->phases[i].predicted >= 0)
			strbuf_addf(&sb, ",\"predicted_seconds\":%.3f", r->phases[i].predicted);
		strbuf_adds(&sb, "}");
	}
	strbuf_adds(&sb, "]");
	if (r->predicted_seconds > 0)
		strbuf_addf(&sb, ",\"predicted_seconds\":%.3f,\"predicted_idle_seconds\":%.3f",
					r->predicted_seconds, r->predicted_idle_seconds);
	json_tables(&sb, r);
	for (int i = 0; i < r->ntables; i++)
	{
		rows += r->tables[i].rows;
		bytes += r->tables[i].bytes;
	}
	strbuf_addf(&sb, ",\"sequences\":%d,\"large_objects\":%lld,"
				"\"idle_seconds\":%.3f,\"workers\":%d,\"totals\":{\"tables\":%d,"
				"\"rows\":%lld,\"bytes\":%lld,\"indexes\":%d}}\n",
				r->sequences, (long long) r->large_objects, r->idle_seconds,
				r->workers, r->ntables, (long long) rows, (long long) bytes,
				r->nindexes);
	fputs(strbuf_str(&sb), stdout);
	fflush(stdout);
	strbuf_release(&sb);
}

void
report_release(report *r)
{
	free(r->source);
	free(r->target);
	free(r->snapshot);
	free(r->tables);
	free(r->indexes);
	memset(r, 0, sizeof(*r));
}
