/*
 * json.h
 *		Write JSON into a strbuf.
 */
#ifndef PGCRANE_JSON_H
#define PGCRANE_JSON_H

#include "util/str.h"

/* Append s as a JSON string literal (quoted, escaped). */
void		json_add_string(strbuf *sb, const char *s);

#endif
