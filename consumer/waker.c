/*
 * Waking librdkafka's fetcher while the consumer catches up.
 *
 * librdkafka 2.0.2 stops fetching once the consumer queue holds queued.min.messages and looks
 * again only when the broker's thread wakes up: a second later if nothing else happens (the
 * later fetch.queue.backoff.ms is not in Debian 12). Any request to that broker wakes its
 * thread, so while the consumer is catching up a helper thread asks for one partition's
 * watermarks every wake_ms, round robin so that every leader is woken. The queue can then
 * hold a few milliseconds of consumption instead of a second (BENCHMARKS.md).
 */
#include "consumer/internal.h"

static void *waker_main(void *arg)
{
	struct waker *w = arg;
	int p = 0;
	while (!atomic_load(&w->stop)) {
		const struct timespec pause = { w->interval_ms / 1000, (long)(w->interval_ms % 1000) * 1000000L };
		nanosleep(&pause, NULL);
		if (atomic_load(&w->idle))
			continue;
		int64_t low, high;
		rd_kafka_query_watermark_offsets(w->rk, w->topic, p, &low, &high, 1000); /* the answer is not needed */
		p = (p + 1) % w->partitions;
	}
	return NULL;
}

void cons__waker_start(struct waker *w, rd_kafka_t *rk, const char *topic, int partitions, int interval_ms)
{
	w->rk = rk;
	w->topic = topic;
	w->partitions = partitions;
	w->interval_ms = interval_ms;
	atomic_init(&w->stop, 0);
	atomic_init(&w->idle, 0);
	w->started = interval_ms > 0 && partitions > 0 && pthread_create(&w->thread, NULL, waker_main, w) == 0;
}

void cons__waker_stop(struct waker *w)
{
	if (!w->started)
		return;
	atomic_store(&w->stop, 1);
	pthread_join(w->thread, NULL);
	w->started = 0;
}
