/*
 * Internals shared by the files of kclient/ (never included outside it): the module's one
 * monotonic clock.
 */
#ifndef SEGSTREAM_KCLIENT_INT_H
#define SEGSTREAM_KCLIENT_INT_H

#include <time.h>

/* Milliseconds of CLOCK_MONOTONIC: for timeouts and waits, never for dates. */
static inline double kc__now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

#endif
