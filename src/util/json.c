/*
 * json.c
 *		JSON string escaping.
 */
#include "util/json.h"

#include <stdio.h>

void
json_add_string(strbuf *sb, const char *s)
{
	strbuf_adds(sb, "\"");
	for (const unsigned char *p = (const unsigned char *) s; p && *p; p++)
	{
		if (*p == '"' || *p == '\\')
		{
			char		esc[2] = {'\\', (char) *p};

			strbuf_add(sb, esc, 2);
		}
		else if (*p == '\n')
			strbuf_adds(sb, "\\n");
		else if (*p == '\t')
			strbuf_adds(sb, "\\t");
		else if (*p == '\r')
			strbuf_adds(sb, "\\r");
		else if (*p < 0x20)
			strbuf_addf(sb, "\\u%04x", *p);
		else
			strbuf_add(sb, (const char *) p, 1);
	}
	strbuf_adds(sb, "\"");
}
