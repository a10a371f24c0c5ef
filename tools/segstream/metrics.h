/* consume --http: the consumer's latest stats report kept for the HTTP threads (metrics.c). */
#ifndef SEGSTREAM_TOOLS_METRICS_H
#define SEGSTREAM_TOOLS_METRICS_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "consumer/consumer.h"

struct http_server;

/*
 * What /metrics, /health and /ready answer from. The consumer's thread writes it through
 * cli_metrics_on_stats (the on_stats hook), the snapshot thread through cli_metrics_snapshot,
 * and the HTTP threads read it; every access holds lock. Caller-allocated: cli_metrics_init,
 * then cli_metrics_destroy after the HTTP server is stopped.
 */
struct cli_metrics {
	pthread_mutex_t lock;
	int64_t ready_lag; /* /ready: every partition's lag at most this */
	double stale_s;    /* /ready: and the last report at most this old */
	int have_report;
	struct timespec report_at; /* CLOCK_MONOTONIC */
	struct cons_stats totals;
	double events_per_s;
	uint64_t commit_latency[CONS_LATENCY_BUCKETS];
	double commit_latency_sum_ms;
	uint64_t event_latency[CONS_LATENCY_BUCKETS]; /* stamped events, produce -> committed */
	double event_latency_sum_ms;
	struct cons_partition_stats *parts; /* n_parts of them, by partition number; owned */
	int n_parts, cap_parts;
	uint64_t snapshots_published, snapshots_failed;
	uint64_t snapshot_seq;       /* the last published snapshot (0: none yet) */
	double snapshot_s;           /* how long it took */
	struct timespec snapshot_at; /* when it was published (CLOCK_MONOTONIC) */
	/* Added for #13's remaining metrics (copied from the report like the above). */
	struct cons_reason_count dead_letters[16]; /* by reason */
	int n_dead_letters;
	uint64_t batch_size[CONS_BATCH_SIZE_BUCKETS];
	uint64_t batch_size_sum;
	int broker_down;     /* /ready: 503 while the consumer cannot reach the broker */
	struct state_db *db; /* set by the caller (NULL: no LMDB metrics); read at each scrape */
};

void cli_metrics_init(struct cli_metrics *m, int64_t ready_lag, double stale_s);
void cli_metrics_destroy(struct cli_metrics *m);

/* The on_stats hook (ctx: the struct cli_metrics): copies the report. */
void cli_metrics_on_stats(void *ctx, const struct cons_stats_report *r);

/* Snapshot seq was published (ok) in seconds, or a snapshot failed (seq, seconds unused). m may be NULL. */
void cli_metrics_snapshot(struct cli_metrics *m, int ok, uint64_t seq, double seconds);

/*
 * Serves GET /metrics (Prometheus text 0.0.4), /health and /ready from m on addr (HOST:PORT).
 * @return 0, or -1 (message printed). Stop with http_stop() before cli_metrics_destroy().
 */
int cli_metrics_serve(struct cli_metrics *m, const char *addr, struct http_server **srv_out);

#endif
