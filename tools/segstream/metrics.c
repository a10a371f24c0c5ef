/* consume --http: the consumer's stats as Prometheus text (0.0.4), and the /health and /ready probes. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/http.h"
#include "state/state.h"
#include "log/log.h"
#include "tools/segstream/cli.h"
#include "tools/segstream/metrics.h"

void cli_metrics_init(struct cli_metrics *m, int64_t ready_lag, double stale_s)
{
	memset(m, 0, sizeof *m);
	pthread_mutex_init(&m->lock, NULL);
	m->ready_lag = ready_lag;
	m->stale_s = stale_s;
}

void cli_metrics_destroy(struct cli_metrics *m)
{
	pthread_mutex_destroy(&m->lock);
	free(m->parts);
	m->parts = NULL;
}

void cli_metrics_on_stats(void *ctx, const struct cons_stats_report *r)
{
	struct cli_metrics *m = ctx;
	pthread_mutex_lock(&m->lock);
	if (r->n_parts > m->cap_parts) {
		struct cons_partition_stats *t = realloc(m->parts, (size_t)r->n_parts * sizeof *t);
		if (!t) { /* keep the previous report; it grows stale and /ready says so */
			pthread_mutex_unlock(&m->lock);
			return;
		}
		m->parts = t;
		m->cap_parts = r->n_parts;
	}
	if (r->n_parts)
		memcpy(m->parts, r->parts, (size_t)r->n_parts * sizeof *m->parts);
	m->n_parts = r->n_parts;
	m->totals = *r->totals;
	m->events_per_s = r->events_per_s;
	memcpy(m->commit_latency, r->commit_latency, sizeof m->commit_latency);
	m->commit_latency_sum_ms = r->commit_latency_sum_ms;
	memcpy(m->event_latency, r->event_latency, sizeof m->event_latency);
	m->event_latency_sum_ms = r->event_latency_sum_ms;
	int n = r->n_dead_letter_reasons;
	m->n_dead_letters = n < 16 ? n : 16;
	if (m->n_dead_letters)
		memcpy(m->dead_letters, r->dead_letters, (size_t)m->n_dead_letters * sizeof *m->dead_letters);
	memcpy(m->batch_size, r->batch_size, sizeof m->batch_size);
	m->batch_size_sum = r->batch_size_sum;
	m->broker_down = r->broker_down;
	clock_gettime(CLOCK_MONOTONIC, &m->report_at);
	m->have_report = 1;
	pthread_mutex_unlock(&m->lock);
}

void cli_metrics_snapshot(struct cli_metrics *m, int ok, uint64_t seq, double seconds)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	if (ok) {
		m->snapshots_published++;
		m->snapshot_seq = seq;
		m->snapshot_s = seconds;
		clock_gettime(CLOCK_MONOTONIC, &m->snapshot_at);
	} else
		m->snapshots_failed++;
	pthread_mutex_unlock(&m->lock);
}

/* One metric's HELP and TYPE lines. */
static void head(FILE *t, const char *name, const char *type, const char *help)
{
	fprintf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(FILE *t, const char *name, const char *help, uint64_t v)
{
	head(t, name, "counter", help);
	fprintf(t, "%s %" PRIu64 "\n", name, v);
}

/* A histogram in the consumer's latency buckets (ms in, seconds out): the stamped events' freshness. */
static void histogram(FILE *t, const char *h, const char *help, const uint64_t *buckets, double sum_ms)
{
	head(t, h, "histogram", help);
	uint64_t cum = 0;
	for (int b = 0; b < CONS_LATENCY_BUCKETS - 1; b++) {
		cum += buckets[b];
		fprintf(t, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", h, cons_latency_bounds_ms[b] / 1e3, cum);
	}
	cum += buckets[CONS_LATENCY_BUCKETS - 1];
	fprintf(t, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n%s_sum %.9g\n%s_count %" PRIu64 "\n", h, cum, h, sum_ms / 1e3,
		h, cum);
}

/* Resident memory from /proc/self/statm (pages); 0 if it cannot be read. */
static uint64_t resident_bytes(void)
{
	unsigned long size, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%lu %lu", &size, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	long page = sysconf(_SC_PAGESIZE);
	return (uint64_t)resident * (uint64_t)(page > 0 ? page : 4096);
}

/* Seconds since t (CLOCK_MONOTONIC). */
static double since_s(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

/* Caught up (lock held): a recent report, the broker reachable, every assigned partition's lag
 * known and <= ready_lag. */
static int is_ready(const struct cli_metrics *m)
{
	if (!m->have_report || since_s(&m->report_at) > m->stale_s || m->broker_down)
		return 0;
	for (int i = 0; i < m->n_parts; i++)
		if (m->parts[i].lag < 0 || m->parts[i].lag > m->ready_lag)
			return 0;
	return 1;
}

/* Every metric, names and meanings as README.md lists them (lock held). */
static void render(const struct cli_metrics *m, FILE *t)
{
	const struct cons_stats *s = &m->totals;
	counter(t, "segstream_events_read_total", "Events read from the events topic (each line of an order message).",
		s->messages);
	counter(t, "segstream_order_messages_read_total",
		"Order messages (schema version 2) read from the events topic.", s->order_messages);
	counter(t, "segstream_events_applied_total", "Events that changed a customer.", s->applied);
	counter(t, "segstream_events_duplicate_total", "Events skipped by the duplicate guard.", s->duplicates);
	counter(t, "segstream_events_ignored_total", "Train lines not counted (SPEC section 3).", s->ignored);
	counter(t, "segstream_events_dead_lettered_total", "Invalid events sent to the dead-letter topic.", s->invalid);
	counter(t, "segstream_batches_committed_total", "State transactions (batches) committed.", s->batches);

	head(t, "segstream_dead_letters_total", "counter", "Invalid events sent to the dead-letter topic, by reason.");
	for (int i = 0; i < m->n_dead_letters; i++)
		fprintf(t, "segstream_dead_letters_total{reason=\"%s\"} %" PRIu64 "\n", m->dead_letters[i].reason,
			m->dead_letters[i].count);

	const char *bs = "segstream_batch_size_events";
	head(t, bs, "histogram", "Events (lines) per committed batch.");
	uint64_t bcum = 0;
	for (int b = 0; b < CONS_BATCH_SIZE_BUCKETS - 1; b++) {
		bcum += m->batch_size[b];
		fprintf(t, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", bs, cons_batch_size_bounds[b], bcum);
	}
	bcum += m->batch_size[CONS_BATCH_SIZE_BUCKETS - 1];
	fprintf(t, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n%s_sum %" PRIu64 "\n%s_count %" PRIu64 "\n", bs, bcum, bs,
		m->batch_size_sum, bs, bcum);

	const char *h = "segstream_batch_commit_duration_seconds";
	head(t, h, "histogram", "Latency of each batch's LMDB commit.");
	uint64_t cum = 0;
	for (int b = 0; b < CONS_LATENCY_BUCKETS - 1; b++) {
		cum += m->commit_latency[b];
		fprintf(t, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", h, cons_latency_bounds_ms[b] / 1e3, cum);
	}
	cum += m->commit_latency[CONS_LATENCY_BUCKETS - 1];
	fprintf(t, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n%s_sum %.9g\n%s_count %" PRIu64 "\n", h, cum, h,
		m->commit_latency_sum_ms / 1e3, h, cum);
	histogram(t, "segstream_event_commit_latency_seconds",
		  "Produce time (replay --stamp header) to LMDB commit of each stamped event.", m->event_latency,
		  m->event_latency_sum_ms);

	static const struct {
		const char *name, *help;
	} part_metrics[] = {
		{ "segstream_partition_committed_offset", "The state's next offset of the partition (committed)." },
		{ "segstream_partition_high_watermark_offset", "The partition's high watermark at the latest fetch." },
		{ "segstream_partition_lag_events", "High watermark minus committed offset." },
	};
	for (size_t k = 0; k < sizeof part_metrics / sizeof part_metrics[0]; k++) {
		head(t, part_metrics[k].name, "gauge", part_metrics[k].help);
		for (int i = 0; i < m->n_parts; i++) {
			const struct cons_partition_stats *p = &m->parts[i];
			int64_t v = k == 0 ? p->committed : k == 1 ? p->high : p->lag;
			if (k > 0 && p->high < 0)
				continue; /* not known yet */
			fprintf(t, "%s{partition=\"%" PRId32 "\"} %" PRId64 "\n", part_metrics[k].name, p->partition,
				v);
		}
	}
	head(t, "segstream_events_per_second", "gauge", "Event messages read per second over the last interval.");
	fprintf(t, "segstream_events_per_second %.6g\n", m->events_per_s);
	counter(t, "segstream_snapshots_published_total", "Snapshots published.", m->snapshots_published);
	counter(t, "segstream_snapshots_failed_total", "Snapshots (or their Kafka deltas) that failed.",
		m->snapshots_failed);
	if (m->snapshot_seq) { /* absent until the first snapshot */
		head(t, "segstream_snapshot_last_sequence", "gauge", "Sequence number of the last published snapshot.");
		fprintf(t, "segstream_snapshot_last_sequence %" PRIu64 "\n", m->snapshot_seq);
		head(t, "segstream_snapshot_last_age_seconds", "gauge", "Time since the last snapshot was published.");
		fprintf(t, "segstream_snapshot_last_age_seconds %.3f\n", since_s(&m->snapshot_at));
		head(t, "segstream_snapshot_last_duration_seconds", "gauge", "How long the last snapshot took.");
		fprintf(t, "segstream_snapshot_last_duration_seconds %.6f\n", m->snapshot_s);
	}
	head(t, "segstream_reference_records", "gauge", "Records read from a reference topic at start.");
	fprintf(t, "segstream_reference_records{table=\"products\"} %" PRIu64 "\n", s->products);
	fprintf(t, "segstream_reference_records{table=\"customers\"} %" PRIu64 "\n", s->customers);
	struct state_env_info ei;
	if (m->db && state_env_info(m->db, &ei) == STATE_OK) {
		head(t, "segstream_lmdb_map_size_bytes", "gauge",
		     "LMDB map size: the most the state file may grow to.");
		fprintf(t, "segstream_lmdb_map_size_bytes %" PRIu64 "\n", ei.map_size_bytes);
		head(t, "segstream_lmdb_used_bytes", "gauge", "LMDB pages in use: (last page number + 1) * page size.");
		fprintf(t, "segstream_lmdb_used_bytes %" PRIu64 "\n", ei.used_bytes);
		head(t, "segstream_state_table_entries", "gauge", "Entries of each state table now.");
		fprintf(t, "segstream_state_table_entries{table=\"customers\"} %" PRIu64 "\n", ei.customers);
		fprintf(t, "segstream_state_table_entries{table=\"products\"} %" PRIu64 "\n", ei.products);
		fprintf(t, "segstream_state_table_entries{table=\"demographics\"} %" PRIu64 "\n", ei.demographics);
	}
	head(t, "segstream_broker_up", "gauge", "0 while the consumer cannot reach the broker, else 1.");
	fprintf(t, "segstream_broker_up %d\n", m->have_report ? !m->broker_down : 1);
	head(t, "segstream_process_resident_memory_bytes", "gauge", "Resident memory of the process.");
	fprintf(t, "segstream_process_resident_memory_bytes %" PRIu64 "\n", resident_bytes());
	head(t, "segstream_stats_age_seconds", "gauge", "Age of the consumer's last stats report (-1: none yet).");
	fprintf(t, "segstream_stats_age_seconds %.3f\n", m->have_report ? since_s(&m->report_at) : -1.0);
	head(t, "segstream_ready", "gauge", "1 when /ready answers 200.");
	fprintf(t, "segstream_ready %d\n", is_ready(m));
}

static void serve_metrics(void *ctx, const char *path, const char *rest, struct http_response *resp)
{
	struct cli_metrics *m = ctx;
	char *text = NULL;
	size_t len = 0;
	FILE *t = open_memstream(&text, &len);
	(void)path;
	(void)rest;
	if (t) {
		pthread_mutex_lock(&m->lock);
		render(m, t);
		pthread_mutex_unlock(&m->lock);
	}
	if (!t || fclose(t) != 0) { /* out of memory: the stream's failure shows at its close */
		free(text);
		http_reply_error(resp, 500, "out of memory");
		return;
	}
	http_reply_owned(resp, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

static void serve_health(void *ctx, const char *path, const char *rest, struct http_response *resp)
{
	(void)ctx;
	(void)path;
	(void)rest;
	http_reply_text(resp, 200, "text/plain", "ok\n");
}

static void serve_ready(void *ctx, const char *path, const char *rest, struct http_response *resp)
{
	struct cli_metrics *m = ctx;
	(void)path;
	(void)rest;
	pthread_mutex_lock(&m->lock);
	int ready = is_ready(m), down = m->have_report && m->broker_down;
	pthread_mutex_unlock(&m->lock);
	http_reply_text(resp, ready ? 200 : 503, "text/plain",
			ready  ? "ready\n"
			: down ? "broker unreachable\n"
			       : "catching up\n");
}

int cli_metrics_serve(struct cli_metrics *m, const char *addr, struct http_server **srv_out)
{
	const struct http_route routes[] = {
		{ "/metrics", serve_metrics, m },
		{ "/health", serve_health, m },
		{ "/ready", serve_ready, m },
	};
	struct http_config cfg;
	char err[512];
	http_config_init(&cfg);
	cfg.addr = addr;
	int rc = http_start(&cfg, routes, sizeof routes / sizeof routes[0], srv_out, err, sizeof err);
	if (rc != HTTP_OK) {
		log_error(cli_log, cli_command, "--http: %s: %s", http_strerror(rc), err);
		return -1;
	}
	return 0;
}
