/**
 * @file consumer.h
 * @brief The librdkafka consumer loop: reference data first, then order-product events into
 *        the state, with the offsets stored in the same LMDB transaction as their effects.
 *
 * Start-up: the loop waits until the events topic exists (the replay tool creates it only after
 * the reference data is delivered); the products and customers topics are read to their end
 * into the state's reference tables (so every
 * event joins against a complete catalog); then the events topic is consumed, either by
 * static assign() (no group: the offsets come from LMDB) or by a consumer group whose
 * rebalance callback seeks each assigned partition to its LMDB offset and commits the open
 * batch before giving a partition up.
 *
 * Exactly once: a batch (bounded by events and milliseconds) is one state transaction holding
 * the customers it changed and each partition's next offset. Batches adapt (cons_batch_due()):
 * large while the consumer is behind (catch-up: batch_max_events / batch_max_ms), small once it
 * has caught up (live: committed as soon as nothing more is ready, or after batch_live_ms). A
 * partition that has no stored offset starts at offset 0, and `auto.offset.reset=error`: if
 * offset 0 (or the stored one) is gone from the broker, the loop stops with CONS_LOST instead of
 * silently skipping events.
 *
 * Both schema versions of the events topic are read, mixed in one topic (event.h): version 1
 * carries one event a message, version 2 an order's lines. Everything counts events (lines):
 * the stats, the batch bound, the duplicate guard (per line, in state_batch_apply()); offsets
 * stay per message, and a batch never splits a message.
 *
 * Invalid events go to the dead-letter topic with the reason in the `segstream.error` header
 * and their source in `segstream.source`, are counted, and processing continues; a batch is
 * committed only after its dead letters are delivered. A refused line of an order message goes
 * alone, as the order with that line only (event_order_line_extract()), its position in the
 * message (1-based) in `segstream.line`; the order's other lines are applied. A message refused
 * as a whole (truncated, a bad key, a field of the order out of range, ...) goes whole. A poison
 * message too large to be sent whole (dlq_max_bytes) goes out truncated, its original size in
 * `segstream.truncated` and the reason saying so: no message can stop the stream by its size.
 *
 * Threading: cons_run() runs in the calling thread (plus one helper thread that only wakes
 * librdkafka's fetcher, see wake_ms) until *cfg->stop becomes non-zero (set it
 * from a signal handler), or, with exit_at_end, until every assigned partition is consumed.
 */
#ifndef SEGSTREAM_CONSUMER_H
#define SEGSTREAM_CONSUMER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "state/state.h"

struct logger;
struct rd_kafka_s; /* librdkafka's rd_kafka_t */

#define CONS_ERR_MAP(XX)                                                           \
	XX(OK, 0, "success")                                                       \
	XX(KAFKA, -501, "Kafka client error")                                      \
	XX(CONFIG, -502, "invalid configuration")                                  \
	XX(STATE, -503, "state store error")                                       \
	XX(LOST, -504, "events are missing from the broker (offset out of range)") \
	XX(DLQ, -505, "dead letters could not be delivered")

enum cons_err {
#define CONS_ERR_ENUM(name, code, text) CONS_##name = code,
	CONS_ERR_MAP(CONS_ERR_ENUM)
#undef CONS_ERR_ENUM
};

const char *cons_strerror(int err);

/* ---- Hooks ---- */

/** A partition of the events topic, as on_assign and on_revoke see it. */
struct cons_partition {
	const char *topic; /* the events topic (cfg->events_topic) */
	int32_t partition;
	int64_t offset; /* on_assign: the state's next offset for it as stored now, or -1 if none is
			 * stored (fetching starts at the offset stored once the hook returns, 0 if
			 * none). on_revoke: the state's next offset for it, committed. */
	int closing;    /* on_revoke: 1 when the run is ending (the consumer closes, or a fatal error), 0 in a
			 * rebalance; always 0 for on_assign */
};

/** Called with n partitions; parts is valid during the call only. */
typedef void (*cons_partitions_fn)(void *ctx, const struct cons_partition *parts, int n);

/** A partition of the events topic in a stats report. */
struct cons_partition_stats {
	int32_t partition;
	int64_t committed; /* the state's next offset (committed with the state) */
	int64_t high;      /* high watermark from the latest fetch; -1 if not known yet */
	int64_t lag;       /* high - committed, or -1 if high is not known */
};

/** Buckets of the commit latency histogram (ms): [0, 1], (1, 2], ... (5000, 10000], above 10000. */
#define CONS_LATENCY_BUCKETS 14
/** The upper bounds (ms) of the first CONS_LATENCY_BUCKETS - 1 buckets; the last has none. */
extern const double cons_latency_bounds_ms[CONS_LATENCY_BUCKETS - 1];

/** Buckets of the batch size histogram (event messages per committed batch): [0, 1], (1, 10],
 * ... (100000, 500000], (500000, 1000000], above 1000000. */
#define CONS_BATCH_SIZE_BUCKETS 9
/** The upper bounds of the first CONS_BATCH_SIZE_BUCKETS - 1 buckets; the last has none. */
extern const double cons_batch_size_bounds[CONS_BATCH_SIZE_BUCKETS - 1];

/** Dead letters of one reason: the event error's name (event_errname(), e.g. "EVENT_EMSGPACK") or
 * "EVENT_KEY" (the message key is not the event's user_id). */
struct cons_reason_count {
	const char *reason; /* a static string */
	uint64_t count;
};

struct cons_stats;

/** What on_stats sees; valid during the call only (copy what you keep). */
struct cons_stats_report {
	const struct cons_stats *totals;               /* the run so far: messages, applied, duplicates, ignored,
					  * invalid, products, customers, batches (seconds, p50, p99: 0) */
	double interval_s;                             /* since the previous report (or the start of the events) */
	double events_per_s;                           /* event messages read over that interval */
	uint64_t commit_latency[CONS_LATENCY_BUCKETS]; /* batch commits of this run by latency (cumulative) */
	double commit_latency_sum_ms;                  /* the sum of those commits' latencies */
	uint64_t event_latency[CONS_LATENCY_BUCKETS];  /* stamped events of this run by produce -> committed
						   * latency (cumulative; KC_HEADER_PRODUCED_US) */
	double event_latency_sum_ms;                   /* the sum of those events' latencies */
	const struct cons_partition_stats *parts;      /* the assigned partitions, by partition number
						   * (NULL when n_parts is 0) */
	int n_parts;
	/* Added for /metrics: dead letters by reason, committed batches by size, the broker. */
	const struct cons_reason_count *dead_letters; /* n_dead_letter_reasons of them (NULL when 0) */
	int n_dead_letter_reasons;
	uint64_t batch_size[CONS_BATCH_SIZE_BUCKETS]; /* committed batches by event messages (not cumulative) */
	uint64_t batch_size_sum;                      /* event messages in those batches */
	int broker_down; /* 1 from librdkafka's "all brokers down" until the broker answers a probe again
			  * (a watermark request, at most once a second while down) */
};

/** The default dead-letter size limit: Kafka's default topic max.message.bytes (1,048,588) less
 * room for the record's key and headers. */
#define CONS_DLQ_MAX_BYTES 1000000

/** The default session timeout of a group member (consume --session-timeout-ms), and the bounds
 * a Kafka broker accepts by default (group.min/max.session.timeout.ms). */
#define CONS_SESSION_TIMEOUT_MS     6000
#define CONS_SESSION_TIMEOUT_MIN_MS 6000
#define CONS_SESSION_TIMEOUT_MAX_MS 1800000

struct cons_config {
	const char *brokers;         /* bootstrap.servers; required */
	const char *events_topic;    /* default "segstream.events" */
	const char *products_topic;  /* default "segstream.products"; NULL or "" to skip */
	const char *customers_topic; /* default "segstream.customers"; NULL or "" to skip */
	const char *names_topic;     /* department and aisle names: default "segstream.names"; NULL or "" to skip */
	const char *dlq_topic;       /* default "segstream.events.dlq" */
	const char *group_id;        /* NULL: assign() every partition; else group subscription, with the
				      * cooperative-sticky assignor (incremental rebalances: a member keeps
				      * the partitions it has unless they must move) */
	const char *instance_id;     /* with a group: group.instance.id, static membership (a member that
				      * restarts within the session timeout gets its partitions back without
				      * a rebalance; a stopped one does not leave the group); NULL: dynamic */
	int session_timeout_ms;      /* with a group: session.timeout.ms, default CONS_SESSION_TIMEOUT_MS;
				      * how long a member that vanished (kill -9) keeps its partitions */
	int batch_max_events;        /* default 500,000 events (lines; catch-up: large batches amortise page
				      * writes); a batch is committed once it holds this many, between messages */
	int batch_max_ms;            /* default 500: the most a batch stays open while catching up */
	int batch_live_ms;           /* default 20: caught up, the most a batch stays open (it is committed
				      * sooner, as soon as no more messages are ready): consume --batch-ms */
	int64_t live_lag_events;     /* default 100,000: behind by at most this many events (all assigned
				      * partitions, from the latest fetch's high watermarks: messages, so an
				      * order message counts as one here), the batches are
				      * live ones; behind by more, catch-up ones (-1: always catch-up ones) */
	int exit_at_end;             /* 1: stop once every assigned partition is at its end */
	int idle_ms;                 /* with exit_at_end: ... and has stayed there this long (0) */
	size_t dlq_max_bytes;        /* the largest dead letter sent (default 1,000,000, under Kafka's default topic
				      * limit; never above the producer's message.max.bytes): a larger invalid
				      * message goes out truncated, marked in `segstream.truncated` and its reason */
	const char *const *props;    /* extra librdkafka properties "key=value" for every client (consumers, the
				      * dead-letter producer), or NULL (kc_conf_apply) */
	int n_props;
	int broker_timeout_ms;       /* default KC_BROKER_TIMEOUT_MS (120 s): at start, the most the loop waits for
				      * the brokers to answer and for the events topic to exist (logged every
				      * 10 s), then CONS_KAFKA; <= 0 waits until stopped. Once running, an
				      * outage is waited out (librdkafka reconnects). */
	volatile sig_atomic_t *stop; /* owned by main; may be NULL */
	/*
	 * Hooks: each may be NULL, each gets its own ctx, and all are called in the consumer's
	 * thread (the one in cons_run()), so a hook must be quick and must not call cons_run().
	 */
	/* Each time every assigned partition has been consumed to its end (after the commit): the
	 * end of a catch-up. */
	void (*on_caught_up)(void *ctx);
	void *caught_up_ctx;
	/* After each committed batch of events, with the number of event messages this run has
	 * committed so far. */
	void (*on_committed)(void *ctx, uint64_t events_total);
	void *committed_ctx;
	/* When partitions of the events topic are given to this consumer, before fetching them
	 * starts: at the start with static assign(), on each rebalance with a group. No batch is
	 * open during the call (the open one was committed first), so the hook may write to the
	 * state, e.g. restore a partition's customers and offset handed over from elsewhere: the
	 * partitions are positioned at the offsets stored once it returns. */
	cons_partitions_fn on_assign;
	void *assign_ctx;
	/* Before partitions are given up, after the open batch (with their events) is committed:
	 * on each rebalance that takes them (revoked or lost) with a group, and when the run ends.
	 * No batch is open during the call. After a fatal error the batch is not committed; offsets
	 * are then the last committed ones. Messages of these partitions that were fetched before
	 * the rebalance and not yet applied are dropped, never applied after the hook. */
	cons_partitions_fn on_revoke;
	void *revoke_ctx;
	/* Once, with a group, when the group's consumer client is made (before it subscribes): its
	 * handle, borrowed, valid until cons_run() returns. Only for what librdkafka lets another
	 * client or the hooks do with it, e.g. rd_kafka_consumer_group_metadata() for a producer's
	 * transaction that the group must fence (KIP-447, changelog/) and rd_kafka_committed(). */
	void (*on_client)(void *ctx, struct rd_kafka_s *rk);
	void *client_ctx;
	/* Every stats_ms while events are consumed, and once more when the loop ends. Counting is
	 * done per batch and per burst either way; the report itself costs a watermark look-up
	 * (no broker request) per assigned partition. */
	void (*on_stats)(void *ctx, const struct cons_stats_report *report);
	void *stats_ctx;
	int stats_ms; /* default 1000 */
	int verbose;  /* 1: a line per batch at info (else at debug) */
	/* Where the loop's lines go (log/log.h): catch-up start and end, rebalances and status at
	 * info, warnings, librdkafka's own lines (kc_conf_set_logger). NULL: text, info, stderr.
	 * Borrowed: it must outlive cons_run(). */
	struct logger *log;
	int status_ms; /* a status line (rate, lag, batches) at info this often; default 10000, 0: off */
	/* While catching up, a helper thread wakes librdkafka's fetcher every wake_ms (default
	 * 10; 0 = off) so that a small queue (queued.min.messages 20,000) suffices: see waker.c. */
	int wake_ms;
};

void cons_config_init(struct cons_config *cfg);

/** Counters of one run. */
struct cons_stats {
	uint64_t messages;    /* events read: one per version-1 message, one per line of an order message
			       * (version 2), one per message refused as a whole */
	uint64_t applied;     /* events that changed a customer */
	uint64_t duplicates;  /* skipped by the duplicate guard */
	uint64_t ignored;     /* train lines not counted */
	uint64_t invalid;     /* sent to the dead-letter topic */
	uint64_t products;    /* product records loaded */
	uint64_t customers;   /* customer (demographics) records loaded */
	uint64_t names;       /* department and aisle name records loaded */
	uint64_t batches;     /* state transactions committed */
	double seconds;       /* wall time of the event phase (less the final idle_ms) */
	double commit_ms_p50; /* batch commit latency */
	double commit_ms_p99;
	uint64_t stamped;              /* event messages (an order's counts once) with a produce-time header
			      * (KC_HEADER_PRODUCED_US), committed: all
			      * of them once caught up; catching up, those of bursts in which one of the
			      * first 64 events or the last has it (looking costs a fifth of the catch-up CPU: consumer.c) */
	double fresh_ms_p50;           /* their produce -> committed latency (0 without stamped events); p50 and */
	double fresh_ms_p99;           /* p99 to 0.1 ms below 100 ms, to 1 ms below 10 s (then "10 s or more") */
	double fresh_ms_max;           /* exact */
	uint64_t order_messages;       /* order messages (version 2) read and not refused as a whole */
	uint64_t offset_jumps;         /* messages of an assigned partition at another offset than the next one
				  * expected (see cons_offset_check): each logged (the first 10) */
	uint64_t offset_seeks;         /* ... of them gaps: not applied, the partition sought back to the next one */
	uint64_t offset_gaps_accepted; /* ... gaps seen again after that seek: the offsets between hold no
					* events (a transactional producer's markers, compaction), accepted */
	uint64_t offset_repeats;       /* ... below the next offset: applied already, ignored */
};

/* ---- Offset check ---- */

/** What the loop does with a message of an assigned partition, by its offset (cons_offset_check). */
enum cons_offset_action {
	CONS_OFFSET_APPLY,  /* the next offset expected */
	CONS_OFFSET_REPEAT, /* below it: the state has it already; ignored */
	CONS_OFFSET_SEEK,   /* above it, first seen: not applied; the partition is sought back to the next offset */
	CONS_OFFSET_ACCEPT, /* the same gap again after that seek (or the partition's gaps are trusted): applied */
	CONS_OFFSET_FAIL    /* CONS_OFFSET_SEEKS_MAX seeks from one offset, each met by another gap: fatal */
};

/** One partition's memory of its gaps: zeroed when the partition is assigned. */
struct cons_offset_gap {
	int64_t next, offset; /* the last gap sought back from: the offset expected and the one that came */
	int seeks;            /* seeks back from `next` in a row */
	int accepted;         /* gaps accepted on this partition */
};
#define CONS_OFFSET_SEEKS_MAX    5
#define CONS_OFFSET_GAPS_TRUSTED 3

/**
 * @brief The offset check (pure). The events topic's offsets follow one another unless its producer
 * is transactional or it is compacted; librdkafka 2.0.2 has been seen to hand out a kept partition's
 * messages from a later offset after a rebalance with a stale generation (events skipped). So a gap
 * is not applied the first time: the caller seeks the partition back to `next` and drops its later
 * messages until then. If the very same gap comes again, the offsets between hold no events
 * (transaction markers, aborted or compacted records) and it is accepted; after
 * CONS_OFFSET_GAPS_TRUSTED accepted gaps, the partition's gaps are accepted at once (one seek per
 * transaction would halve a transactional topic's speed).
 * @param gap    the partition's memory; updated
 * @param next   the offset expected (the state's next); < 0: unknown, anything is applied
 * @param offset the message's
 */
enum cons_offset_action cons_offset_check(struct cons_offset_gap *gap, int64_t next, int64_t offset);

/* ---- Batch policy ---- */

/** What the loop knows about the open batch when it decides whether to commit it. */
struct cons_batch_view {
	int events;     /* event messages in the open batch (0: none open) */
	double age_ms;  /* since its first event */
	int drained;    /* the latest fetch from the consumer queue left no message ready */
	int64_t lag;    /* events on the broker not read yet, all assigned partitions; -1 unknown */
	int exit_ready; /* with exit_at_end: every assigned partition is at its end */
};

/**
 * @brief The batch policy (pure): whether the open batch is to be committed now.
 *
 * Always at batch_max_events, at batch_max_ms, or with exit_ready. Otherwise, while behind
 * (lag unknown or above live_lag_events) it waits for one of those (catch-up: large batches
 * amortise the page writes and the fsync); caught up, it commits as soon as the queue is
 * drained, or once the batch is batch_live_ms old (live: an event waits for the fsync of the
 * batch it is in, not for 500 ms). The caller may leave lag at -1 unless drained or age_ms >=
 * batch_live_ms: nothing else depends on it.
 * @return 1 to commit, 0 to keep the batch open (also when no batch is open).
 */
int cons_batch_due(const struct cons_config *cfg, const struct cons_batch_view *v);

/**
 * @brief Runs the consumer until stopped (see the file comment).
 * @param db  the open state; the loop owns its batches while it runs
 * @return CONS_OK, CONS_KAFKA (including a refused assign or incremental assign), CONS_CONFIG
 *         (a bad property, named in errbuf), CONS_STATE, CONS_LOST or CONS_DLQ; errbuf says more.
 *         A failed unassign or consumer close is logged on stderr, not returned: the state and
 *         its offsets are already committed then.
 */
int cons_run(const struct cons_config *cfg, struct state_db *db, struct cons_stats *stats_out, char *errbuf,
	     size_t errbuf_len);

#endif
