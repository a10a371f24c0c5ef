/*
 * consumer/ internals shared by its files (not part of the contract: see consumer.h). Names
 * with a double underscore (cons__) cross files inside the module only.
 */
#ifndef SEGSTREAM_CONSUMER_INTERNAL_H
#define SEGSTREAM_CONSUMER_INTERNAL_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "consumer/consumer.h"
#include "kclient/kclient.h"
#include "log/log.h"

/* Where one partition of the events topic stands. */
struct partition_state {
	int64_t next;      /* next offset to consume */
	int64_t committed; /* the state's next offset (committed with the state) */
	int dirty;         /* next changed since the last committed batch */
	int assigned;
	int eof;                    /* at the end of the partition (nothing newer read since) */
	uint64_t rebalance;         /* r->rebalances when a rebalance last assigned or revoked it */
	struct cons_offset_gap gap; /* its gaps (cons_offset_check) */
	int seek_pending;           /* a gap came: its messages are dropped until the seek after the burst */
};

/* With a group, the most often offsets go to the group coordinator (monitoring only; consumer.c). */
#define CONS_BROKER_COMMIT_MS 5000

/* One run of cons_run(): everything the files of the module share. */
struct run {
	struct kc_opaque kc; /* first: every client's opaque is the run, and kclient's log callback
			      * finds cfg->log here */
	const struct cons_config *cfg;
	struct state_db *db;
	rd_kafka_t *rk;
	rd_kafka_t *dlq;
	struct state_batch *batch;
	struct cons_burst *burst;  /* the decoded window of a burst (message.c) */
	int batch_events;          /* events (lines) in the open batch */
	uint64_t committed_events; /* event messages in committed batches, this run */
	double batch_started_ms;
	struct partition_state *parts;
	int n_parts;
	int events_partitions; /* of the events topic, read by cons__start_events(); < 0 if unknown */
	uint64_t rebalances;   /* rebalance callbacks so far: a burst fetched across one is checked */
	int seeks_pending;     /* some partition's seek_pending is set (cons__seek_gaps after the burst) */
	int closing;           /* the run is ending: a revoke now is the close's (cons_partition.closing) */
	long dlq_pending, dlq_failed;
	size_t dlq_limit; /* the largest dead letter sent whole (cons__dlq_open) */
	struct cons_stats stats;
	double *commit_ms; /* every batch commit's latency, for the percentiles at the end */
	size_t n_commit, cap_commit;
	uint64_t latency[CONS_LATENCY_BUCKETS]; /* the same, as a histogram (stats.c) */
	double latency_sum_ms;                  /* ... and their sum */
	int live;                               /* caught up at the latest look at the lag (policy.c) */
	int64_t *stamps; /* produce times (us) of the open batch's stamped events (stats.c); grows, reused */
	size_t n_stamps, cap_stamps;
	uint64_t fresh[CONS_LATENCY_BUCKETS]; /* committed stamped events by produce -> committed latency */
	double fresh_sum_ms, fresh_max_ms;
	uint64_t *fresh_fine;    /* the same, finer (stats.c), for the percentiles at the end; NULL until the first */
	double stats_at_ms;      /* the last stats report (or the start of the events) */
	uint64_t stats_messages; /* stats.messages then */
	struct cons_partition_stats *report_parts; /* on_stats' scratch, report_cap long */
	int report_cap;
	struct cons_reason_count dl_reasons[16]; /* dead letters by reason (dead_letter.c) */
	int n_dl_reasons;
	uint64_t batch_size[CONS_BATCH_SIZE_BUCKETS]; /* committed batches by event messages (stats.c) */
	uint64_t batch_size_sum;
	int broker_down;           /* librdkafka said all brokers are down; cleared by a probe (stats.c) */
	double probe_at_ms;        /* the last probe of a down broker (stats.c) */
	int catching_up;           /* between the catch-up's start line and its end line */
	double catchup_at_ms;      /* when it started */
	uint64_t catchup_messages; /* stats.messages then */
	double status_at_ms;       /* the last status line (or the start of the events) */
	uint64_t status_messages, status_batches; /* stats.messages and batches then */
	int trace;        /* the debug log is on: each live batch's latency is decomposed (trace_* below) */
	int64_t burst_us; /* trace: the wall clock (us) when the current burst was fetched */
	uint64_t trace_n; /* trace: the open batch's stamped events, and per stamped event (ms): */
	double trace_append_sum, trace_append_max; /* produce -> broker append (LogAppendTime topics) */
	double trace_fetch_sum, trace_fetch_max;   /* broker append (or produce) -> fetched by the loop */
	int64_t trace_first_fetch_us;              /* the batch's first stamped event fetched */
	double started_ms;                         /* cons_run() began: the start-up waits count from here */
	double broker_commit_at_ms;                /* group: the earliest next commit to the coordinator (consumer.c) */
	int failed;                                /* first fatal error; the loop stops */
	char *errbuf;
	size_t errbuf_len;
};

static inline double cons__now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The wall clock in microseconds (the produce-time header's clock). */
static inline int64_t cons__wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* consumer.c: records the first fatal error with a message (later ones are ignored); returns err. */
int cons__fatal(struct run *r, int err, const char *fmt, ...);
/* consumer.c: makes r->parts hold partition; 0 or CONS_STATE (out of memory). */
int cons__grow_parts(struct run *r, int32_t partition);
/* consumer.c: begins a batch unless one is open; 0 or CONS_STATE. */
int cons__ensure_batch(struct run *r);
/* consumer.c: the stored next offset of a partition, or fallback when none is stored. */
int64_t cons__stored_offset(struct run *r, const char *topic, int32_t partition, int64_t fallback);
/* consumer.c: a consumer configuration: bootstrap.servers, mine, then cfg->props. */
int cons__conf(struct run *r, const char *const *mine, int n_mine, rd_kafka_conf_t **conf_out, char *err,
	       size_t err_len);
/* consumer.c: the logger's component for the consumer's lines. */
#define CONS_LOG "consumer"
/* consumer.c: commits the open batch (dead letters first, then state + offsets); 0 or the error. */
int cons__commit_batch(struct run *r);
/* consumer.c: rd_kafka_consumer_close() with its result logged; then rd_kafka_destroy(). */
void cons__close(struct run *r, rd_kafka_t *rk, const char *what);

/* message.c: a burst of the events topic decoded (either schema version) and applied, each
 * message destroyed; the window it decodes into (open: 0 or the fatal error; close accepts none). */
int cons__burst_open(struct run *r, size_t max_messages);
void cons__burst_close(struct run *r);
void cons__handle_burst(struct run *r, rd_kafka_message_t **burst, ssize_t n, int stamped);

/* waker.c: wakes librdkafka's fetcher while catching up (see the file). */
struct waker {
	rd_kafka_t *rk;
	const char *topic;
	int partitions;
	int interval_ms;
	atomic_int stop;
	atomic_int idle; /* 1 while every partition is at its end: the long poll wakes the thread */
	pthread_t thread;
	int started;
};
void cons__waker_start(struct waker *w, rd_kafka_t *rk, const char *topic, int partitions, int interval_ms);
void cons__waker_stop(struct waker *w);

/* reference.c: reads a reference topic to its end into the state; 0 or the fatal error. */
enum cons_table { CONS_TABLE_PRODUCTS, CONS_TABLE_CUSTOMERS, CONS_TABLE_NAMES };
int cons__load_table(struct run *r, const char *topic, enum cons_table kind);

/* dead_letter.c: the producer, one dead letter, and the check before a batch is committed. */
int cons__dlq_open(struct run *r);
/* reason: the static name the dead letter is counted under (struct cons_reason_count); why: the
 * header's text. */
/* value, len: what goes out (the message's payload, or the dead letter of one of its lines);
 * line: that line's index in the message (0-based; the header says it 1-based), or -1. */
void cons__send_dead_letter(struct run *r, const rd_kafka_message_t *m, const void *value, size_t len, int line,
			    const char *reason, const char *why);
int cons__dlq_settle(struct run *r); /* 0, or CONS_DLQ (the batch must not be committed) */

/* assign.c: waiting for the events topic, assignment (static or by rebalance) and its hooks. */
int cons__wait_for_events_topic(struct run *r);
int cons__start_events(struct run *r);
void cons__rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts, void *opaque);
void cons__revoke_all(struct run *r); /* static assign(): on_revoke for every partition at the end */
/* assign.c: drops a burst's messages of partitions a rebalance inside the fetch revoked or assigned
 * (those assigned are sought back to the state's offset); @return the messages kept, in order. */
ssize_t cons__drop_stale(struct run *r, rd_kafka_message_t **burst, ssize_t n, uint64_t rebalances_before);
/* assign.c: seeks each partition with seek_pending back to its next offset (after a burst in which
 * its messages came with a gap: cons_offset_check), then clears the marks. */
void cons__seek_gaps(struct run *r);
/* assign.c: a group member with no assignment yet polls until its first one (or the session
 * timeout + 4 s) before it closes: librdkafka 2.0.2 aborts otherwise. */
void cons__await_first_assignment(struct run *r);

/* stats.c: commit latencies, the on_stats report, the percentiles of the final stats. */
void cons__record_commit_latency(struct run *r, double ms);
void cons__report_stats(struct run *r, double now_ms);
void cons__finish_stats(struct run *r);
/* stats.c: keeps a stamped event's produce time (us) until its batch is committed. */
void cons__stamp(struct run *r, int64_t produced_us);
/* stats.c: after a batch commit, the latency of each of its stamped events (one clock read). */
void cons__record_freshness(struct run *r);
/* stats.c: a committed batch of n event messages, in the size histogram. */
void cons__record_batch_size(struct run *r, int n);
/* stats.c: the catch-up's start line (partitions, stored offsets, high watermarks, lag; asks the
 * broker for the watermarks), and its end line (events, seconds, rate). A start during a catch-up
 * (a rebalance) is logged too but keeps the catch-up's start for the end line. */
void cons__catchup_started(struct run *r);
void cons__catchup_finished(struct run *r, double now_ms);
/* stats.c: the periodic status line (rate, lag, batches). */
void cons__log_status(struct run *r, double now_ms);
/* stats.c: while the broker is said to be down, asks it (at most once a second, 500 ms at most)
 * whether it answers again. */
void cons__probe_broker(struct run *r, double now_ms);

#endif
