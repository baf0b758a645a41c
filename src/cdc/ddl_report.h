/*
 * ddl_report.h
 *		At cutover: the schema changes the follow did not apply.
 *
 * The follow applies column changes, new tables and new sequences
 * (cdc/ddl.h); any other schema change made on the source during the
 * follow (an index, a function, a view, a constraint, a trigger, a drop,
 * a table renamed) is still a difference between the two catalogs at the
 * cutover.  They are found with verify's schema comparison
 * (verify/verify_schema.h) and printed as warnings, each with the
 * statement that would fix it on the target when pgcrane can write one
 * (from the source's definition: pg_get_indexdef, pg_get_constraintdef,
 * pg_get_viewdef, pg_get_functiondef, pg_get_triggerdef; a DROP for what
 * only the target has), else named.  Nothing is applied.
 */
#ifndef PGCRANE_CDC_DDL_REPORT_H
#define PGCRANE_CDC_DDL_REPORT_H

#include <stdbool.h>

#include "core/selection.h"
#include "util/str.h"

/*
 * Compare the schemas of source and target and print each difference,
 * under the clone's selection rules sel (NULL: none);
 * a line for the cutover summary goes into out when there are any.
 * Returns how many, or -1 when they could not be compared (logged as a
 * warning: the cutover is done all the same).
 */
int			ddl_report_differences(const char *source, const char *target,
								   bool no_owner, bool no_acl, const selection *sel,
								   strbuf *out);

#endif
