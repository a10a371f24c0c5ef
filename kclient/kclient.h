/**
 * @file kclient.h
 * @brief librdkafka chores shared by every Kafka client of segstream (the consumer, the snapshot
 *        delta, the CLI's replay, backfill and consume): building a configuration from our
 *        defaults plus the user's `-X key=value` properties, producing with back-pressure on a
 *        full queue, a topic's partition count, and creating a topic before anything is
 *        produced to it.
 *
 * It knows nothing of events, state or snapshots: it takes and returns librdkafka handles and
 * plain values. Collecting repeated `-X` options from a command line stays in the CLI
 * (tools/segstream: struct cli_props); this module only applies the strings.
 *
 * Threading: every function works on the handles it is given and keeps no state of its own;
 * call it from any thread that may use those handles (librdkafka's handles are thread-safe).
 */
#ifndef SEGSTREAM_KCLIENT_H
#define SEGSTREAM_KCLIENT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

/* ---- Errors ---- */

#define KC_ERR_MAP(XX)                                                   \
	XX(OK, 0, "success")                                             \
	XX(PROPERTY, -601, "invalid Kafka property")                     \
	XX(KAFKA, -602, "Kafka client error")                            \
	XX(QUEUE_FULL, -603, "the producer queue stayed full")           \
	XX(NOTFOUND, -604, "topic not found")                            \
	XX(CREATE, -605, "topic could not be created")                   \
	XX(NOLEADER, -606, "a partition of the topic has no leader yet") \
	XX(TIMEOUT, -607, "the brokers did not answer in time")          \
	XX(STOPPED, -608, "stopped while waiting for the brokers")       \
	XX(PARTITIONS, -609, "the topic exists with another partition count")

enum kc_err {
#define KC_ERR_ENUM(name, code, text) KC_##name = code,
	KC_ERR_MAP(KC_ERR_ENUM)
#undef KC_ERR_ENUM
};

/** @return the text of a KC_* code ("unknown Kafka helper error" for others); never NULL. */
const char *kc_strerror(int err);
/** @return the name of a KC_* code ("KC_PROPERTY"), or "KC_UNKNOWN"; never NULL. */
const char *kc_errname(int err);

/* ---- Configuration ---- */

/**
 * @brief Applies properties to a configuration, in this order (a later one wins):
 *        bootstrap.servers = brokers, then the caller's defaults, then the user's properties.
 * @param[in] brokers    bootstrap.servers, or NULL to leave it unset
 * @param[in] defaults   n_defaults strings, alternately key and value (n_defaults even); may be
 *                       NULL when n_defaults is 0
 * @param[in] props      n_props strings "key=value" (the user's -X options); may be NULL
 * @param[out] errbuf    on failure, names the property and says what is wrong with it
 * @return KC_OK, or KC_PROPERTY (a string without '=', an unknown key or a bad value: errbuf
 *         reads "property KEY=VALUE: <librdkafka's reason>").
 * @note conf stays the caller's, whatever the result (destroy it, or hand it to kc_new()).
 */
int kc_conf_apply(rd_kafka_conf_t *conf, const char *brokers, const char *const *defaults, int n_defaults,
		  const char *const *props, int n_props, char *errbuf, size_t errbuf_len);

/**
 * @brief rd_kafka_conf_new() followed by kc_conf_apply().
 * @param[out] conf_out  the new configuration on KC_OK (the caller owns it: kc_new() or
 *                       rd_kafka_conf_destroy()); NULL otherwise
 * @return KC_OK or KC_PROPERTY (nothing to free then).
 */
int kc_conf_new(const char *brokers, const char *const *defaults, int n_defaults, const char *const *props, int n_props,
		rd_kafka_conf_t **conf_out, char *errbuf, size_t errbuf_len);

/**
 * @brief rd_kafka_new() that always consumes conf: it belongs to the client on success and is
 *        destroyed on failure, so the caller never frees it after this call.
 * @param[out] rk_out  the client (free with rd_kafka_destroy()), or NULL on failure
 * @return KC_OK or KC_KAFKA (errbuf: librdkafka's reason).
 */
int kc_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, rd_kafka_t **rk_out, char *errbuf, size_t errbuf_len);

/* ---- Logging ---- */

struct logger;

/**
 * The head of every opaque (rd_kafka_conf_set_opaque) of a client whose configuration went
 * through kc_conf_set_logger(): the callbacks find the logger there. Put it first in the
 * opaque's struct (C guarantees a struct's address is its first member's), or give the client
 * a bare struct kc_opaque. A NULL opaque, or a NULL log, means log.h's default (text, info,
 * stderr).
 */
struct kc_opaque {
	struct logger *log; /* borrowed: it must outlive the client */
};

/**
 * @brief Routes librdkafka's own log lines and error events through our logger: level from
 *        syslog's (0-3 error, 4 warn, 5-6 info, 7 debug), component "librdkafka", fields
 *        `facility` (librdkafka's, e.g. GETPID) and `client` (rd_kafka_name()). Transient
 *        states that librdkafka retries by itself (the idempotence PID while the transaction
 *        coordinator loads, on a fresh broker) are debug lines. Errors (the error callback) are
 *        warn lines, fatal ones error lines.
 * @warning The client's opaque must then be NULL or begin with a struct kc_opaque (see above).
 *          An error callback set after this call replaces kc_log_error(); call it from yours.
 */
void kc_conf_set_logger(rd_kafka_conf_t *conf);

/**
 * @brief The level of one librdkafka log line: syslog's @p syslog_level mapped (0-3 error,
 *        4 warn, 5-6 info, 7 debug), and debug for the transient states librdkafka retries by
 *        itself (facility GETPID with "Coordinator load in progress", "Coordinator not
 *        available" or "Not coordinator"). Pure; returns an enum log_level value.
 */
int kc_log_level(int syslog_level, const char *facility, const char *text);

/** The error callback kc_conf_set_logger() installs (rd_kafka_conf_set_error_cb's signature). */
void kc_log_error(rd_kafka_t *rk, int err, const char *reason, void *opaque);

/* ---- Producing ---- */

/**
 * How long kc_produce() waits, in total, on a queue that stays full. Five minutes is
 * librdkafka's default message.timeout.ms: by then the oldest queued messages have been
 * delivered or have failed, so a queue still full is a stuck client, not back-pressure.
 */
#define KC_PRODUCE_WAIT_MS 300000

/** One message to produce; a plain value filled by the caller (unused members zero). */
struct kc_msg {
	rd_kafka_topic_t *rkt; /* the topic's handle (fastest), or NULL to name it in topic */
	const char *topic;     /* used when rkt is NULL */
	int has_partition;     /* 0: the partitioner chooses; 1: partition */
	int32_t partition;
	const void *key; /* copied; may be NULL */
	size_t key_len;
	const void *value; /* copied; NULL is a tombstone */
	size_t value_len;
	int64_t timestamp_ms;        /* 0: now */
	rd_kafka_headers_t *headers; /* NULL, or owned by librdkafka once kc_produce() returns KC_OK */
	void *opaque;                /* the message's opaque: its delivery report's _private (NULL: none) */
};

/**
 * @brief Produces one message (payload and key copied: RD_KAFKA_MSG_F_COPY). On a full queue
 *        (RD_KAFKA_RESP_ERR__QUEUE_FULL) it serves delivery reports with rd_kafka_poll(),
 *        waiting 10 ms at first and up to twice as long after each further refusal (at most
 *        100 ms), and tries again, for at most max_wait_ms in total: back-pressure, never a drop.
 * @param[in] max_wait_ms  the bound on waiting for room (KC_PRODUCE_WAIT_MS is a good choice);
 *                         0 tries once
 * @return KC_OK; KC_QUEUE_FULL (still full after max_wait_ms); KC_KAFKA (another refusal, e.g.
 *         an unknown partition or a message too large). On failure errbuf says which topic and
 *         why, and msg->headers are still the caller's.
 * @note Delivery is reported later, through the client's delivery-report callback; this call
 *       does not poll when the message is accepted at once (call rd_kafka_poll(rk, 0) often).
 */
int kc_produce(rd_kafka_t *rk, const struct kc_msg *msg, int max_wait_ms, char *errbuf, size_t errbuf_len);

/**
 * What a producer's delivery reports said: set kc_delivery_count() as the delivery-report
 * callback (rd_kafka_conf_set_dr_msg_cb) and a struct kc_delivery as the opaque. The callback
 * runs inside rd_kafka_poll()/flush() in the polling thread: read the counts there.
 */
struct kc_delivery {
	struct kc_opaque kc; /* first: the logger, for a client with kc_conf_set_logger() */
	uint64_t ok, failed;
	char first_error[256]; /* the reason of the first failure ("" if none) */
};
void kc_delivery_count(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);

/* ---- Produce-time stamp ---- */

/**
 * The produce-time header (`replay --stamp`): the wall-clock time (CLOCK_REALTIME) at which the
 * message was handed to the producer, in microseconds since the Unix epoch, as decimal ASCII
 * digits (e.g. "1796083200123456"). The consumer measures produce -> committed from it.
 */
#define KC_HEADER_PRODUCED_US "segstream.produced_us"

/**
 * @brief The produce-time header of a consumed message (the last one if repeated).
 * @param[out] us_out  the time, microseconds since the epoch
 * @return 1 (us_out set), or 0: no such header, or not 1-18 decimal digits.
 * @note librdkafka parses a message's headers on the first look-up, into memory it frees with
 *       the message: ~100 ns a message in librdkafka 2.0.2, even one without headers (a fifth of
 *       the consumer's CPU while catching up if every message is looked at; consumer.c looks
 *       selectively).
 */
int kc_produced_us(rd_kafka_message_t *m, int64_t *us_out);

/* ---- Topics ---- */

/**
 * @brief The partition count of a topic, from a metadata request that names it.
 * @warning From a producer (allow.auto.create.topics is true there), a request naming a missing
 *          topic makes a broker with auto.create.topics.enable create it with its defaults; so
 *          call this from a consumer, or for a topic known to exist (kc_topic_ensure() never
 *          names a missing topic). librdkafka's mock cluster auto-creates any topic named.
 * @return the count (>= 0; 0 only for a topic the broker lists without partitions); KC_NOTFOUND (the broker does not know the topic); KC_KAFKA (the
 *         metadata request failed). errbuf says which on failure.
 */
int kc_topic_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms, char *errbuf, size_t errbuf_len);

/**
 * The replication of the topics kc_topic_ensure() creates on a cluster of at least this many
 * brokers, with `min.insync.replicas` KC_MIN_INSYNC: one broker may be down and an acks=all
 * write (the idempotent producers') still succeeds, with a second copy. On fewer brokers the
 * broker's defaults apply (a single test broker: 1 replica).
 */
#define KC_REPLICAS   3
#define KC_MIN_INSYNC "2"

/**
 * @brief Makes sure a topic exists, creating it unless it does, and waits until every partition
 *        has a leader (a producer that finds a topic still being created parks its messages
 *        until its next metadata scan, a second later).
 *
 * A topic that exists is left as it is. A missing one is created with CreateTopics, with the
 * broker's default partition count, `cleanup.policy=compact` if compacted, and on a cluster of
 * KC_REPLICAS brokers or more (as the metadata lists them) KC_REPLICAS replicas with
 * `min.insync.replicas=`KC_MIN_INSYNC (else the broker's default replication). The topic is
 * never named in a metadata request before it exists (the existence and leader checks ask for
 * all topics): from a producer, such a request makes the broker auto-create it with the
 * default (delete) policy. Leaders are polled every 20 ms for up to 10 s; each metadata request
 * waits at most 5 s, CreateTopics at most 10 s.
 *
 * @return KC_OK; KC_CREATE (CreateTopics failed, e.g. the mock cluster that has no such
 *         request; errbuf: "could not create topic T: <reason>"); KC_NOLEADER (errbuf: "topic T
 *         has no leader for every partition yet"). Callers may treat both as warnings: the
 *         broker may still auto-create the topic, with its default policy, on the first produce.
 */
int kc_topic_ensure(rd_kafka_t *rk, const char *topic, int compacted, char *errbuf, size_t errbuf_len);

/**
 * @brief kc_topic_ensure() with a partition count: a missing topic is created with
 *        @p partitions partitions, and an existing one must have that many.
 * @param[in] partitions  > 0; 0 or less: the broker's default, as kc_topic_ensure()
 * @return as kc_topic_ensure(), and KC_PARTITIONS (errbuf: "topic T exists with H partitions,
 *         not N"): the topic is left as it is (Kafka cannot shrink a topic, and growing it
 *         would move customers to other partitions).
 */
int kc_topic_ensure_partitions(rd_kafka_t *rk, const char *topic, int compacted, int partitions, char *errbuf,
			       size_t errbuf_len);

/** The default bound on waiting for the brokers (`--broker-timeout`), in milliseconds. */
#define KC_BROKER_TIMEOUT_MS 120000

/**
 * @brief Waits until the cluster answers a metadata request: the brokers are reachable and take
 *        our credentials (an unreachable broker or a SASL/TLS mismatch never answers). Retries
 *        with back-off (100 ms, doubling to 2 s) for at most timeout_ms, and says so in the log
 *        when it starts waiting and every 10 s after (a warning: "waiting for the brokers (B): REASON;
 *        N of M s").
 * @param[in] log         where the waiting is said (NULL: log.h's default)
 * @param[in] who         the command, the log lines' component ("consume")
 * @param[in] timeout_ms  the bound; <= 0 waits until stopped
 * @param[in] stop        optional; waiting ends once *stop is non-zero
 * @return KC_OK; KC_TIMEOUT (errbuf: "no answer from the brokers (B) in N s: REASON"); KC_STOPPED.
 */
int kc_wait_brokers(rd_kafka_t *rk, struct logger *log, const char *who, int timeout_ms, volatile sig_atomic_t *stop,
		    char *errbuf, size_t errbuf_len);

/* ---- Reading ---- */

/**
 * Callback of kc_topic_read(): one record. @p key and @p value are borrowed for the call only
 * (value NULL, value_len 0 for a tombstone). A non-zero return stops the read and is returned.
 */
typedef int (*kc_record_cb)(int32_t partition, int64_t offset, const void *key, size_t key_len, const void *value,
			    size_t value_len, void *ctx);

/**
 * @brief Reads every record a topic holds, as a compacted topic's reader must before it writes:
 *        each partition from its beginning to the end (high watermark) it had when the read
 *        began, in offset order within a partition, with a consumer of its own (no group
 *        membership, nothing committed). A partition whose leader is not ready yet (a topic
 *        created a moment ago) is asked again every 50 ms, for up to timeout_ms.
 * @param[in] brokers, props  as for kc_conf_new() (props: the user's -X "key=value" strings)
 * @param[in] timeout_ms      the bound on each metadata or watermark request, and on a wait
 *                            with no record while partitions are not yet read to their end
 * @return KC_OK (also for a topic whose partitions are all empty); KC_NOTFOUND (the broker does
 *         not know the topic: it holds nothing); KC_PROPERTY; KC_KAFKA (a request failed or timed
 *         out); or the callback's non-zero return. errbuf says which on failure.
 */
int kc_topic_read(const char *brokers, const char *const *props, int n_props, const char *topic, int timeout_ms,
		  kc_record_cb cb, void *ctx, char *errbuf, size_t errbuf_len);

/* ---- Offsets and partitions ---- */

/**
 * @brief Where a consumer of @p topic continues after the events before @p time_ms: for each of
 *        its @p partitions partitions, the offset of the first message whose timestamp is at or
 *        after time_ms (offsets_for_times), or the partition's end (high watermark) when there
 *        is none yet or time_ms is INT64_MAX.
 * @param[out] next_out  partitions offsets, the caller's array
 * @return KC_OK or KC_KAFKA (a watermark or offsets_for_times request failed; errbuf says which).
 */
int kc_topic_offsets_for_time(rd_kafka_t *rk, const char *topic, int32_t partitions, int64_t time_ms, int64_t *next_out,
			      char *errbuf, size_t errbuf_len);

/**
 * The partitioner every producer of events uses (`partitioner`): a key's partition is the Java
 * client's (murmur2), so a customer's events share one partition whoever produced them.
 */
#define KC_PARTITIONER "murmur2_random"

/** @brief The partition KC_PARTITIONER gives a non-empty @p key among @p partitions (> 0). */
int32_t kc_partition_for_key(const void *key, size_t key_len, int32_t partitions);

#endif
