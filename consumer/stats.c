/*
 * Statistics of a run: each batch commit's latency (a histogram with fixed buckets, and the
 * p50 / p99 of cons_stats at the end), batch sizes, and the on_stats report: counters, events
 * per second over the interval, and per partition the committed offset, the high watermark and
 * the lag; the same figures as log lines (catch-up start and end, the periodic status), and the
 * probe that tells when an unreachable broker answers again.
 * Counting happens per batch and per message in the loop's own struct (no locks); a report
 * only reads it, in the consumer's thread. Freshness: the produce time of each stamped event
 * (KC_HEADER_PRODUCED_US) is kept with its batch and, once the batch is committed, its produce ->
 * committed latency is counted in the same buckets, and in finer ones for the percentiles.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "consumer/internal.h"

const double cons_latency_bounds_ms[CONS_LATENCY_BUCKETS - 1] = { 1,   2,   5,    10,   20,   50,   100,
								  200, 500, 1000, 2000, 5000, 10000 };

const double cons_batch_size_bounds[CONS_BATCH_SIZE_BUCKETS - 1] = { 1, 10, 100, 1000, 10000, 100000, 500000, 1000000 };

void cons__record_batch_size(struct run *r, int n)
{
	int b = 0;
	while (b < CONS_BATCH_SIZE_BUCKETS - 1 && n > cons_batch_size_bounds[b])
		b++;
	r->batch_size[b]++;
	r->batch_size_sum += (uint64_t)n;
}

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

/* Fine buckets: 0.1 ms wide below 100 ms, 1 ms wide below 10 s, then one for the rest. */
enum { FINE_TENTHS = 1000, FINE_MS = 9900, FINE_BUCKETS = FINE_TENTHS + FINE_MS + 1 };

static size_t fine_bucket(double ms)
{
	if (ms < 100)
		return (size_t)(ms * 10);
	if (ms < 10000)
		return FINE_TENTHS + (size_t)(ms - 100);
	return FINE_BUCKETS - 1;
}

/* A fine bucket's upper bound (ms); the last one has none: max. */
static double fine_bound(size_t b, double max)
{
	if (b < FINE_TENTHS)
		return (double)(b + 1) / 10;
	if (b < FINE_BUCKETS - 1)
		return 100 + (double)(b - FINE_TENTHS + 1);
	return max;
}

void cons__stamp(struct run *r, int64_t produced_us)
{
	if (r->n_stamps == r->cap_stamps) {
		size_t cap = r->cap_stamps ? r->cap_stamps * 2 : 4096;
		int64_t *t = realloc(r->stamps, cap * sizeof *t);
		if (!t)
			return; /* not measured; the event itself is unaffected */
		r->stamps = t;
		r->cap_stamps = cap;
	}
	r->stamps[r->n_stamps++] = produced_us;
}

void cons__record_freshness(struct run *r)
{
	if (!r->n_stamps)
		return;
	if (!r->fresh_fine && !(r->fresh_fine = calloc(FINE_BUCKETS, sizeof *r->fresh_fine))) {
		r->n_stamps = 0;
		return;
	}
	int64_t now_us = cons__wall_us();
	for (size_t i = 0; i < r->n_stamps; i++) {
		int64_t us = now_us - r->stamps[i];
		double ms = us > 0 ? (double)us / 1e3 : 0; /* a producer's clock ahead of ours counts as 0 */
		int b = 0;
		while (b < CONS_LATENCY_BUCKETS - 1 && ms > cons_latency_bounds_ms[b])
			b++;
		r->fresh[b]++;
		r->fresh_sum_ms += ms;
		if (ms > r->fresh_max_ms)
			r->fresh_max_ms = ms;
		r->fresh_fine[fine_bucket(ms)]++;
	}
	r->stats.stamped += r->n_stamps;
	r->n_stamps = 0;
}

/* The smallest fine bound below which more than q of the stamped events lie. */
static double fresh_quantile(const struct run *r, double q)
{
	uint64_t rank = (uint64_t)((double)r->stats.stamped * q), cum = 0;
	for (size_t b = 0; b < FINE_BUCKETS; b++) {
		cum += r->fresh_fine[b];
		if (cum > rank)
			return fine_bound(b, r->fresh_max_ms);
	}
	return r->fresh_max_ms;
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
	for (int b = 0; b < CONS_LATENCY_BUCKETS; b++)
		rep.event_latency[b] = r->fresh[b];
	rep.event_latency_sum_ms = r->fresh_sum_ms;
	rep.dead_letters = r->n_dl_reasons ? r->dl_reasons : NULL;
	rep.n_dead_letter_reasons = r->n_dl_reasons;
	for (int b = 0; b < CONS_BATCH_SIZE_BUCKETS; b++)
		rep.batch_size[b] = r->batch_size[b];
	rep.batch_size_sum = r->batch_size_sum;
	rep.broker_down = r->broker_down;
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

/* A list of "partition:value" pairs for a log line, cut short (with "...") if it is long. */
struct pairs {
	char s[2048];
	size_t len;
};

static void pairs_add(struct pairs *p, int32_t partition, int64_t value)
{
	if (p->len >= sizeof p->s - 32) {
		if (p->len < sizeof p->s - 4)
			p->len += (size_t)snprintf(p->s + p->len, sizeof p->s - p->len, "...");
		return;
	}
	p->len += (size_t)snprintf(p->s + p->len, sizeof p->s - p->len, "%s%" PRId32 ":%" PRId64, p->len ? "," : "",
				   partition, value);
}

void cons__catchup_started(struct run *r)
{
	const struct cons_config *cfg = r->cfg;
	if (!r->catching_up) { /* a rebalance during a catch-up extends it: one end line for both */
		r->catching_up = 1;
		r->catchup_at_ms = cons__now_ms();
		r->catchup_messages = r->stats.messages;
	}
	if (!log_enabled(cfg->log, LOG_LEVEL_INFO))
		return;
	struct pairs offsets = { .len = 0 }, highs = { .len = 0 };
	int n = 0;
	int64_t lag = 0;
	for (int p = 0; p < r->n_parts; p++) {
		if (!r->parts[p].assigned)
			continue;
		int64_t low, high;
		/* One request per partition, once per catch-up: the cached watermarks are not known yet. */
		if (rd_kafka_query_watermark_offsets(r->rk, cfg->events_topic, p, &low, &high, 5000) !=
		    RD_KAFKA_RESP_ERR_NO_ERROR)
			high = -1;
		n++;
		pairs_add(&offsets, p, r->parts[p].committed);
		pairs_add(&highs, p, high);
		if (high > r->parts[p].committed)
			lag += high - r->parts[p].committed;
	}
	offsets.s[offsets.len] = 0;
	highs.s[highs.len] = 0;
	struct log_field f[] = { LOG_STR("topic", cfg->events_topic), LOG_INT("partitions", n),
				 LOG_STR("offsets", offsets.s), LOG_STR("high_watermarks", highs.s),
				 LOG_INT("lag", lag) };
	log_fields(cfg->log, LOG_LEVEL_INFO, CONS_LOG, f, sizeof f / sizeof f[0], "catch-up started");
}

void cons__catchup_finished(struct run *r, double now_ms)
{
	r->catching_up = 0;
	uint64_t events = r->stats.messages - r->catchup_messages;
	double s = (now_ms - r->catchup_at_ms) / 1e3;
	struct log_field f[] = { LOG_UINT("events", events), LOG_DOUBLE("seconds", s),
				 LOG_DOUBLE("events_per_s", s > 0 ? (double)events / s : 0.0),
				 LOG_UINT("batches", r->stats.batches) };
	log_fields(r->cfg->log, LOG_LEVEL_INFO, CONS_LOG, f, sizeof f / sizeof f[0], "catch-up finished");
}

void cons__log_status(struct run *r, double now_ms)
{
	const struct cons_config *cfg = r->cfg;
	double s = (now_ms - r->status_at_ms) / 1e3;
	int64_t lag = 0;
	int known = 1;
	for (int p = 0; p < r->n_parts; p++) {
		int64_t low, high;
		if (!r->parts[p].assigned)
			continue;
		if (rd_kafka_get_watermark_offsets(r->rk, cfg->events_topic, p, &low, &high) !=
			RD_KAFKA_RESP_ERR_NO_ERROR ||
		    high < 0)
			known = 0;
		else if (high > r->parts[p].committed)
			lag += high - r->parts[p].committed;
	}
	struct log_field f[] = {
		LOG_DOUBLE("events_per_s", s > 0 ? (double)(r->stats.messages - r->status_messages) / s : 0.0),
		LOG_INT("lag", known ? lag : -1),
		LOG_UINT("batches", r->stats.batches - r->status_batches),
		LOG_UINT("events_total", r->stats.messages),
		LOG_INT("broker_down", r->broker_down),
	};
	log_fields(cfg->log, LOG_LEVEL_INFO, CONS_LOG, f, sizeof f / sizeof f[0], "status");
	r->status_at_ms = now_ms;
	r->status_messages = r->stats.messages;
	r->status_batches = r->stats.batches;
}

void cons__probe_broker(struct run *r, double now_ms)
{
	if (now_ms - r->probe_at_ms < 1000)
		return;
	r->probe_at_ms = now_ms;
	int32_t p = 0;
	while (p < r->n_parts && !r->parts[p].assigned)
		p++;
	int64_t low, high;
	if (rd_kafka_query_watermark_offsets(r->rk, r->cfg->events_topic, p < r->n_parts ? p : 0, &low, &high, 500) ==
	    RD_KAFKA_RESP_ERR_NO_ERROR) {
		r->broker_down = 0;
		log_info(r->cfg->log, CONS_LOG, "the broker answers again");
	}
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
	if (r->stats.stamped && r->fresh_fine) {
		r->stats.fresh_ms_p50 = fresh_quantile(r, 0.5);
		r->stats.fresh_ms_p99 = fresh_quantile(r, 0.99);
		r->stats.fresh_ms_max = r->fresh_max_ms;
	}
	free(r->fresh_fine);
	r->fresh_fine = NULL;
	free(r->stamps);
	r->stamps = NULL;
	free(r->report_parts);
	r->report_parts = NULL;
}
