/*
 * Statistics of a run: each batch commit's latency (a histogram with fixed buckets, and the
 * p50 / p99 of cons_stats at the end), and the on_stats report: counters, events per second
 * over the interval, and per partition the committed offset, the high watermark and the lag.
 * Counting happens per batch and per message in the loop's own struct (no locks); a report
 * only reads it, in the consumer's thread.
 */
#include <stdlib.h>

#include "consumer/internal.h"

const double cons_latency_bounds_ms[CONS_LATENCY_BUCKETS - 1] = { 1,   2,   5,    10,   20,   50,   100,
								  200, 500, 1000, 2000, 5000, 10000 };

void cons__record_commit_latency(struct run *r, double ms)
{
	int b = 0;
	while (b < CONS_LATENCY_BUCKETS - 1 && ms > cons_latency_bounds_ms[b])
		b++;
	r->latency[b]++;
	r->latency_sum_ms += ms;
	if (r->n_commit == r->cap_commit) {
		size_t cap = r->cap_commit ? r->cap_commit * 2 : 256;
		double *t = realloc(r->commit_ms, cap * sizeof *t);
		if (!t)
			return;
		r->commit_ms = t;
		r->cap_commit = cap;
	}
	r->commit_ms[r->n_commit++] = ms;
}

/*
 * Calls on_stats with what the run has done so far. The high watermarks are librdkafka's
 * cached ones from the latest fetch responses (rd_kafka_get_watermark_offsets: no request).
 */
void cons__report_stats(struct run *r, double now_ms)
{
	const struct cons_config *cfg = r->cfg;
	if (!cfg->on_stats)
		return;
	if (r->report_cap < r->n_parts) { /* partitions appear as they are assigned */
		struct cons_partition_stats *t = realloc(r->report_parts, (size_t)r->n_parts * sizeof *t);
		if (!t)
			return;
		r->report_parts = t;
		r->report_cap = r->n_parts;
	}
	struct cons_stats_report rep = { .totals = &r->stats, .parts = r->report_parts };
	rep.interval_s = (now_ms - r->stats_at_ms) / 1e3;
	rep.events_per_s = rep.interval_s > 0 ? (double)(r->stats.messages - r->stats_messages) / rep.interval_s : 0;
	for (int b = 0; b < CONS_LATENCY_BUCKETS; b++)
		rep.commit_latency[b] = r->latency[b];
	rep.commit_latency_sum_ms = r->latency_sum_ms;
	for (int p = 0; p < r->n_parts; p++) {
		if (!r->parts[p].assigned)
			continue;
		struct cons_partition_stats *ps = &r->report_parts[rep.n_parts++];
		int64_t low, high;
		ps->partition = p;
		ps->committed = r->parts[p].committed;
		if (rd_kafka_get_watermark_offsets(r->rk, cfg->events_topic, p, &low, &high) !=
			RD_KAFKA_RESP_ERR_NO_ERROR ||
		    high < 0)
			high = -1;
		ps->high = high;
		ps->lag = high < 0 ? -1 : high > ps->committed ? high - ps->committed : 0;
	}
	cfg->on_stats(cfg->stats_ctx, &rep);
	r->stats_at_ms = now_ms;
	r->stats_messages = r->stats.messages;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The percentiles of cons_stats, and the run's scratch freed. */
void cons__finish_stats(struct run *r)
{
	if (r->n_commit) {
		qsort(r->commit_ms, r->n_commit, sizeof *r->commit_ms, compare_double);
		r->stats.commit_ms_p50 = r->commit_ms[r->n_commit / 2];
		r->stats.commit_ms_p99 = r->commit_ms[(r->n_commit * 99) / 100];
	}
	free(r->commit_ms);
	r->commit_ms = NULL;
	free(r->report_parts);
	r->report_parts = NULL;
}
