/*
 * clock.h
 *		Monotonic time for durations.
 */
#ifndef PGCRANE_CLOCK_H
#define PGCRANE_CLOCK_H

#include <time.h>

/* Seconds on a monotonic clock; only differences mean anything. */
static inline double
clock_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

#endif
