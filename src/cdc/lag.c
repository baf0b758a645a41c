/*
 * lag.c
 *		How far behind the source the target is, in seconds (see lag.h).
 */
#include "cdc/lag.h"

#include <stdlib.h>
#include <string.h>

#include "util/str.h"

/* Double the ring, keeping the order, oldest at 0. */
static void
grow(cdc_lag *l)
{
	int			cap = l->cap ? l->cap * 2 : 64;
	cdc_lag_txn *txns = xcalloc((size_t) cap, sizeof(cdc_lag_txn));

	for (int i = 0; i < l->n; i++)
		txns[i] = l->txns[(l->head + i) % l->cap];
	free(l->txns);
	l->txns = txns;
	l->cap = cap;
	l->head = 0;
}

void
cdc_lag_begin(cdc_lag *l, uint64_t final_lsn, int64_t commit_time)
{
	if (l->n == l->cap)
		grow(l);
	l->txns[(l->head + l->n) % l->cap] = (cdc_lag_txn) {final_lsn, commit_time};
	l->n++;
}

void
cdc_lag_applied(cdc_lag *l, uint64_t applied_lsn)
{
	while (l->n > 0 && l->txns[l->head].final_lsn < applied_lsn)
	{
		l->head = (l->head + 1) % l->cap;
		l->n--;
	}
}

void
cdc_lag_reset(cdc_lag *l)
{
	l->head = 0;
	l->n = 0;
}

void
cdc_lag_release(cdc_lag *l)
{
	free(l->txns);
	memset(l, 0, sizeof(*l));
}

/* Seconds from then to now, never negative. */
static double
age(int64_t now, int64_t then)
{
	return now > then ? (double) (now - then) / 1e6 : 0.0;
}

double
cdc_lag_seconds(const cdc_lag *l, int64_t now, bool backlog,
				int64_t last_applied_time)
{
	if (l->n > 0)
		return age(now, l->txns[l->head].commit_time);
	if (backlog && last_applied_time != 0)
		return age(now, last_applied_time);
	return 0.0;
}
