/*
 * Seconds on the monotonic clock, for intervals and rate limits (never for wall-clock time).
 */
#ifndef WEBRACK_MONOTIME_H
#define WEBRACK_MONOTIME_H

#include <time.h>

static inline double
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
