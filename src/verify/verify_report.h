/*
 * verify_report.h
 *		The differences verify found, and how they are printed.
 *
 * Every difference is one item: a problem ("missing on target", "extra on
 * target", "differs", "changed", "row count differs", "checksum differs"),
 * the kind of object ("index", "row", "large object", ...), the object's
 * name, and optionally a row key and a detail.  Items print as one line
 * each, sorted by section then object then the order they were added in,
 * so a report reads the same whatever order the workers finished in:
 *
 *		missing on target: index "public.big_grp"
 *		changed: row of "public.t" with key (id)=(7)
 *		differs: column "public.t.c" (type integer vs bigint)
 *
 * The last line is "verify: OK (N tables, M rows)" or "verify: K
 * differences".  The JSON form carries the same items plus per-table
 * results.  All functions may be called from several threads at once.
 * The report copies every string it is given.
 */
#ifndef PGCRANE_VERIFY_REPORT_H
#define PGCRANE_VERIFY_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "util/json.h"
#include "util/str.h"

/* Sections, in the order they are printed. */
typedef enum vreport_section
{
	VREPORT_SCHEMA = 0,
	VREPORT_DATA,
	VREPORT_SEQUENCES,
	VREPORT_LARGE_OBJECTS
} vreport_section;

#define VREPORT_MISSING "missing on target"
#define VREPORT_EXTRA "extra on target"
#define VREPORT_DIFFERS "differs"
#define VREPORT_CHANGED "changed"

typedef struct vreport vreport;

vreport    *vreport_new(void);
void		vreport_free(vreport *r);

/*
 * Add a difference.  kind "row" prints as: PROBLEM: row of "OBJECT" with
 * key KEY; kind "large object" as: PROBLEM: large object OBJECT; any other
 * as: PROBLEM: KIND "OBJECT" (DETAIL).  key and detail may be NULL.
 */
void		vreport_add(vreport *r, vreport_section section, const char *problem,
						const char *kind, const char *object, const char *key,
						const char *detail);

/* The result of one table's data comparison, for the JSON report. */
typedef struct vreport_table
{
	const char *name;
	int64_t		source_rows;
	int64_t		target_rows;
	bool		equal;
	bool		keyed;
	double		seconds;
} vreport_table;

void		vreport_add_table(vreport *r, const vreport_table *t);

/* Totals shown on the last line. */
void		vreport_set_totals(vreport *r, int tables, int64_t rows);

/* Tables a selection left out of the comparison, for the last line. */
void		vreport_set_excluded(vreport *r, int tables);

/* Number of differences so far. */
int			vreport_count(vreport *r);

/* One difference; the strings belong to the report. */
typedef struct vreport_item
{
	const char *problem;
	const char *kind;
	const char *object;
	const char *detail;			/* may be NULL */
} vreport_item;

/* The difference number i, 0 to vreport_count() - 1, in the order added. */
void		vreport_item_at(vreport *r, int i, vreport_item *out);

/* Print the difference lines, then the last line if verdict is true. */
void		vreport_print(vreport *r, FILE *out, bool verdict);

/* The full report as JSON; status is "ok", "different" or "error". */
void		vreport_json(vreport *r, const char *status, double seconds,
						 strbuf *out);

#endif
