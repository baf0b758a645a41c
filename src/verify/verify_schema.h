/*
 * verify_schema.h
 *		Compare the object inventories of the source and the target.
 *
 * Both catalogs are read with the same queries: the database itself
 * (owner, encoding, locale, connection limit, privileges, comment,
 * security labels, its settings and its roles' settings), schemas,
 * extensions, types and domains, tables, views, sequences, columns (with
 * their position and statistics target), constraints, indexes (with the
 * statistics targets of their columns), triggers, rules, policies,
 * functions, procedures and aggregates, each with its definition as the
 * server prints it, its comment, owner and privileges (their effective
 * value: a NULL ACL is the default).  Foreign keys cloned onto partitions
 * are named by their definition, not by the name the server gave them; an
 * index that is invalid on the source is not compared (pg_dump skips it).
 * System schemas and the members of extensions are left out; extensions
 * are compared by name and version.
 * Every difference is added to the report as one item naming the object.
 */
#ifndef PGCRANE_VERIFY_SCHEMA_H
#define PGCRANE_VERIFY_SCHEMA_H

#include <stdbool.h>

#include "verify/verify_report.h"
#include "verify/verify_select.h"
#include "verify/verify_session.h"

typedef struct vschema_options
{
	bool		no_owner;		/* ignore owners */
	bool		no_acl;			/* ignore privileges */
	const vsel *sel;			/* the selection's rules (verify_select.h) */
} vschema_options;

/*
 * Compare the inventories on session s (both sides at once), adding the
 * differences to r.  *ntables gets the number of tables on the source.
 * 0 or -1 (logged).
 */
int			vschema_compare(vsession *s, const vschema_options *o, vreport *r,
							int *ntables);

#endif
