/*
 * preflight_select.c
 *		Preflight of a selection: what it needs and what it would break.
 */
#include <stdlib.h>

#include "clone/preflight_int.h"
#include "core/selres.h"
#include "util/log.h"

void
preflight_selection(preflight_ctx *c)
{
	const selection *sel = c->o->sel;
	selres		r = SELRES_INIT;
	bool		kept = c->info->target_exists && !c->recreate && !c->tgt_maint;

	if (sel == NULL || sel_is_empty(sel))
		return;
	if (selres_read(c->src, sel, &r) != 0 ||
		selres_check_target(kept ? c->tgt : NULL, sel, &r) != 0)
	{
		c->info->problems++;
		selres_release(&r);
		return;
	}
	for (int i = 0; i < r.nproblems; i++)
	{
		preflight_problem(c->info, "%s", r.problems[i]);
		if (r.hints[i])
			log_hint("%s", r.hints[i]);
	}
	for (int i = 0; i < r.nwarnings; i++)
		log_warning("%s", r.warnings[i]);
	selres_release(&r);
}
