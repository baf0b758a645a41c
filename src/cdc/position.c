/*
 * position.c
 *		What the source may forget (see position.h).
 */
#include "cdc/position.h"

static uint64_t
max_of(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

uint64_t
cdc_position_flush(const cdc_position *p)
{
	if (p->idle && p->durable >= p->committed)
		return max_of(p->durable, max_of(p->applied, p->keepalive));
	return p->durable;
}

uint64_t
cdc_position_keepalive(uint64_t current, uint64_t wal_end, bool idle)
{
	return idle ? max_of(current, wal_end) : current;
}

uint64_t
cdc_position_after_rollback(uint64_t keepalive, uint64_t durable)
{
	return keepalive < durable ? keepalive : durable;
}
