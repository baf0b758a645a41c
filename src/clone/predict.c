/*
 * predict.c
 *		A clone's predicted time, phase by phase.
 *
 * The phases are those clone.c runs, in its order; the ones that run only
 * with an option (roles, rename) are predicted only with it.  Each phase
 * around the data phase costs what costmodel.c says for the objects it
 * handles; the data phase is sched_predict(): the very graph the clone
 * would run, played by the task engine's order rule on the same workers.
 */
#include "clone/predict.h"

#include <string.h>

#include "clone/clone.h"
#include "clone/costmodel.h"

int64_t
predict_split_threshold(const catalog *cat, int64_t split_bytes, int jobs)
{
	int64_t		share;

	if (split_bytes != CLONE_SPLIT_AUTO)
		return split_bytes;
	share = catalog_bytes(cat) / (2 * (int64_t) (jobs > 0 ? jobs : 1));
	return share > CLONE_SPLIT_MIN ? share : CLONE_SPLIT_MIN;
}

static void
add_phase(clone_prediction *p, const char *name, double seconds)
{
	if (p->nphases == PREDICT_MAX_PHASES)
		return;
	p->phases[p->nphases].name = name;
	p->phases[p->nphases++].seconds = seconds;
	p->seconds += seconds;
}

static void
add_modelled(clone_prediction *p, const char *name, const catalog *cat)
{
	add_phase(p, name, (double) cost_phase(name, cat) / 1e6);
}

int
predict_clone(const catalog *cat, const predict_options *o, clone_prediction *out)
{
	sched_config sc;

	memset(out, 0, sizeof(*out));
	memset(&sc, 0, sizeof(sc));
	sc.jobs = o->jobs > 0 ? o->jobs : 1;
	sc.index_jobs = o->index_jobs > 0 ? o->index_jobs : sc.jobs;
	sc.split_bytes = predict_split_threshold(cat, o->split_bytes, sc.jobs);
	sc.toast_compression = o->toast_compression;
	sc.cat = cat;
	out->jobs = sc.jobs;
	out->index_jobs = sc.index_jobs;
	if (sched_predict(&sc, &out->data) != 0)
		return -1;
	add_modelled(out, "preflight", cat);
	if (o->roles)
		add_modelled(out, "roles", cat);
	add_modelled(out, "target", cat);
	add_modelled(out, "snapshot", cat);
	add_modelled(out, "schema", cat);
	add_phase(out, "data", out->data.seconds);
	add_modelled(out, "sequences", cat);
	add_modelled(out, "post-data", cat);
	if (o->renames)
		add_modelled(out, "rename", cat);
	add_modelled(out, "database", cat);
	return 0;
}

double
predict_phase_seconds(const clone_prediction *p, const char *name)
{
	for (int i = 0; i < p->nphases; i++)
		if (strcmp(p->phases[i].name, name) == 0)
			return p->phases[i].seconds;
	return -1;
}
