/**
 * @file changelog.h
 * @brief The state's changelog in Kafka: how a partition's customers and offset move from one
 *        consumer instance to another without replaying its events from offset 0.
 *
 * A compacted topic (default "segstream.changelog", as many partitions as the events topic;
 * changelog partition p holds events partition p) keyed by (partition, user_id), each value the
 * customer's stored record exactly as the state holds it (so a restored record is
 * byte-identical), plus one marker per partition whose value is the partition's next events
 * offset. The owner writes it in Kafka transactions: each flush is one transaction with the
 * current records of the customers changed since the last flush and the marker of every
 * partition touched, all read in ONE state read transaction, so the records and the marker come
 * from the same committed point. A new owner reads the partition with isolation.level =
 * read_committed to its end (the last stable offset), keeps the latest value per key and
 * reconciles it with its own state (clog_reconcile()). README.md ("Partition hand-off") gives the
 * argument that this is exact.
 *
 * Zombies (KIP-447): with clog_set_group(), each transaction also commits the markers it writes
 * as the group's offsets of the events topic, with the member's group metadata (generation,
 * member id, instance id). A member the group has already replaced (it paused past its session
 * timeout, and its partitions went to others) thus cannot commit a flush: the group coordinator
 * refuses the stale generation, the transaction aborts (CLOG_FENCED), and nothing of it is ever
 * read. A restore first waits until no such transaction is pending for its partition.
 *
 * Threading: a struct clog belongs to the thread that calls it (the consumer's, through its
 * hooks); it shares the state handle with that thread's batches, and never runs while a batch
 * is open.
 */
#ifndef SEGSTREAM_CHANGELOG_H
#define SEGSTREAM_CHANGELOG_H

#include <stddef.h>
#include <stdint.h>

#include "state/state.h"

struct logger;
struct rd_kafka_s; /* librdkafka's rd_kafka_t */

#define CLOG_ERR_MAP(XX)                                                                            \
	XX(OK, 0, "success")                                                                        \
	XX(KAFKA, -901, "Kafka client error")                                                       \
	XX(STATE, -902, "state store error")                                                        \
	XX(CORRUPT, -903, "a changelog record is not one this version wrote")                       \
	XX(CONFIG, -904, "invalid configuration (or a changelog topic of another partition count)") \
	XX(NOMEM, -905, "out of memory")                                                            \
	XX(FAILED, -906, "the changelog failed earlier and writes nothing more")                    \
	XX(FENCED, -907, "the group refused the transaction: this member's generation is stale")

enum clog_err {
#define CLOG_ERR_ENUM(name, code, text) CLOG_##name = code,
	CLOG_ERR_MAP(CLOG_ERR_ENUM)
#undef CLOG_ERR_ENUM
};

/** @brief A message for an error code. Never NULL. */
const char *clog_strerror(int err);

/* ---- Records (pure) ---- */

/** What a changelog key names. */
enum clog_key_kind {
	CLOG_KEY_CUSTOMER = 1, /* value: the customer's stored record (state_customer_encode()) */
	CLOG_KEY_MARKER = 2,   /* value: the partition's next events offset (clog_marker_encode()) */
};

#define CLOG_KEY_MAX     9 /* bytes of the longest key */
#define CLOG_MARKER_SIZE 9 /* bytes of a marker's value */

/**
 * @brief A customer's key: the kind byte, the big-endian partition and the big-endian user_id
 *        (9 bytes; big-endian, so keys sort as the state's). Pure.
 * @return the key's length.
 */
size_t clog_key_customer(uint32_t partition, uint32_t user_id, uint8_t out[CLOG_KEY_MAX]);

/** @brief A partition's marker key: the kind byte and the big-endian partition (5 bytes). Pure.
 *  @return the key's length. */
size_t clog_key_marker(uint32_t partition, uint8_t out[CLOG_KEY_MAX]);

/**
 * @brief Reads a key. Pure.
 * @param[out] user_id_out  the user (0 for a marker)
 * @return CLOG_OK or CLOG_CORRUPT (an unknown kind byte, a wrong length).
 */
int clog_key_decode(const void *key, size_t len, enum clog_key_kind *kind_out, uint32_t *partition_out,
		    uint32_t *user_id_out);

/** @brief A marker's value: a version byte (1), then the next offset, 8 bytes little-endian. Pure. */
void clog_marker_encode(int64_t next_offset, uint8_t out[CLOG_MARKER_SIZE]);

/** @brief Reads a marker's value. Pure.
 *  @return CLOG_OK or CLOG_CORRUPT (wrong length or version, a negative offset). */
int clog_marker_decode(const void *value, size_t len, int64_t *next_out);

/** What a new owner does with a partition (clog_reconcile()). */
enum clog_action {
	CLOG_KEEP = 0,      /* the changelog and the local state are at the same offset (or both have none) */
	CLOG_REPLACE = 1,   /* the changelog is ahead (or the state has nothing): take its records and marker */
	CLOG_REPUBLISH = 2, /* the state is ahead (or the changelog has nothing): write all its records + marker */
};

/**
 * @brief The reconcile decision, from the changelog's marker M and the state's stored offset L
 *        (each -1 when there is none). Pure. M > L or no L: replace; M < L or no M: republish;
 *        M == L: keep. Both are exact states of the same events' prefix (offsets 0..X-1), so
 *        the one further along wins.
 */
enum clog_action clog_reconcile(int64_t marker, int64_t local);

/** @brief "keep", "replace" or "republish". */
const char *clog_action_name(enum clog_action a);

/* ---- The changelog of one consumer instance ---- */

struct clog_config {
	const char *brokers;          /* required */
	const char *topic;            /* default "segstream.changelog" */
	const char *events_topic;     /* default "segstream.events": whose partitions and offsets */
	const char *transactional_id; /* required: stable across restarts of the same instance, so that a
				       * restart fences (aborts) a transaction its killed predecessor left open */
	int flush_ms;                 /* clog_flush(c, 0) writes at most this often, and at least nine times
				       * the last flush's duration after it (flushes take at most a tenth of
				       * the time); default 1000 */
	int timeout_ms;               /* the bound on each transaction and on a restore's read; default 60000 */
	const char *const *props;     /* extra librdkafka properties "key=value" (kc_conf_apply), or NULL */
	int n_props;
	struct logger *log; /* restore, republish and drop lines at info; NULL: log.h's default. Borrowed */
};

void clog_config_init(struct clog_config *cfg);

struct clog;

/**
 * @brief Opens the changelog of @p db: a transactional producer (transactions initialised now,
 *        fencing a predecessor with the same transactional id), a reader, and the state's change
 *        set turned on. The topic is made (compacted, with the events topic's partition count)
 *        or checked at the first restore.
 * @param db  borrowed: it must outlive the clog
 * @param[out] clog_out  free with clog_close()
 * @return CLOG_OK, CLOG_CONFIG, CLOG_KAFKA, CLOG_STATE or CLOG_NOMEM; errbuf says more.
 */
int clog_open(const struct clog_config *cfg, struct state_db *db, struct clog **clog_out, char *errbuf,
	      size_t errbuf_len);

/**
 * @brief Fences this changelog's transactions by a consumer group's member (see the file
 *        comment): from now on each transaction also commits its markers as the group's offsets
 *        of the events topic, with @p consumer's group metadata as it is at that moment (refused
 *        without sending when the consumer has no member id or has lost its assignment), and a
 *        restore waits (rd_kafka_committed(), require-stable) until the group has no pending
 *        transactional offset of the partition. Call it before the first assignment.
 * @param consumer  the group's consumer (borrowed: it must outlive every later call on @p c but
 *                  clog_close() and clog_get_stats()); NULL: no fencing, as before
 */
void clog_set_group(struct clog *c, struct rd_kafka_s *consumer);

/** @brief Closes the clients (without a flush: call clog_flush() first). NULL is a no-op. */
void clog_close(struct clog *c);

/**
 * @brief Writes the changes committed since the last flush (one transaction; nothing if none),
 *        unless @p force is 0 and the last flush is less than flush_ms old.
 * @return CLOG_OK; CLOG_KAFKA (the transaction was aborted: the changes stay for the next
 *         flush), CLOG_FENCED (the group refused it, it was aborted: this member has lost its
 *         partitions, and its revoke comes next; the changes stay), CLOG_STATE, CLOG_FAILED.
 *         errbuf says more.
 */
int clog_flush(struct clog *c, int force, char *errbuf, size_t errbuf_len);

/** What clog_restore() did, for logs and benchmarks. */
struct clog_restore_report {
	enum clog_action action;
	int64_t marker;   /* the changelog's next offset (-1: none) */
	int64_t local;    /* the state's stored offset before (-1: none) */
	uint64_t records; /* customers written: taken (replace) or republished */
	uint64_t read;    /* changelog records read */
	double seconds;   /* the whole restore */
};

/**
 * @brief Makes the state's copy of @p partition at least as far along as the changelog's: reads
 *        changelog partition p (read_committed, from its beginning to its end) and then, by
 *        clog_reconcile(), replaces the state's customers and offset of p with the changelog's
 *        in one state transaction, republishes all of p (one transaction), or keeps it. Logs the
 *        start and the end. With clog_set_group(), it first waits until the group has no pending
 *        transactional offset of p (then a warning): the restores of one assignment (each within
 *        1 s of the last one's end) share one wait of half the session timeout (15 s at most). No state batch may be open.
 * @param[out] rep_out  optional
 * @return CLOG_OK, CLOG_KAFKA, CLOG_CORRUPT (a record that is not a valid one of its key: nothing
 *         written), CLOG_CONFIG (the changelog topic's partition count differs from the events
 *         topic's), CLOG_STATE, CLOG_NOMEM, CLOG_FAILED. After an error the clog writes nothing
 *         more (CLOG_FAILED): a changelog behind a state it cannot vouch for must not move.
 */
int clog_restore(struct clog *c, int32_t partition, struct clog_restore_report *rep_out, char *errbuf,
		 size_t errbuf_len);

/**
 * @brief Gives @p partition up: flushes (forced), then deletes its customers and offset from the
 *        state in one transaction, so the instance shows only what it owns. If the flush fails,
 *        nothing is dropped (the state still holds what the changelog lacks), except when the
 *        group fenced it (CLOG_FENCED: the partition is another member's already, which restores
 *        it from the last flush this member made while it was still in the group): the partition
 *        is dropped unflushed, with a warning, and CLOG_OK returned. No batch may be open.
 * @param keep  1: flush only, the state keeps the partition (the run is ending: a restart that
 *              gets it back finds marker == offset and restores nothing)
 * @param[out] dropped_out  customers deleted (optional)
 * @return CLOG_OK, or clog_flush()'s error, or CLOG_STATE.
 */
int clog_release(struct clog *c, int32_t partition, int keep, uint64_t *dropped_out, char *errbuf, size_t errbuf_len);

/**
 * @brief Drops from the state every partition of the events topic it holds (a stored offset)
 *        that is not in @p assigned: what a previous run kept (clog_release() with keep, or a
 *        kill) and this run was not given. Call it with a run's first assignment. Never writes
 *        to the changelog (those partitions have other owners now).
 * @return CLOG_OK, CLOG_KAFKA (the topic's partition count unknown) or CLOG_STATE.
 */
int clog_drop_unassigned(struct clog *c, const int32_t *assigned, int n, char *errbuf, size_t errbuf_len);

/** Counters of a clog's life. */
struct clog_stats {
	uint64_t flushes;     /* transactions committed by clog_flush() */
	uint64_t records;     /* customer records written by them */
	uint64_t republished; /* partitions republished whole */
	uint64_t restored;    /* partitions replaced from the changelog */
	uint64_t dropped;     /* partitions released */
	uint64_t aborted;     /* transactions aborted */
	uint64_t fenced;      /* of them, refused by the group (a stale generation: CLOG_FENCED) */
	uint64_t recovered;   /* transactional producers replaced after a fatal error (the next flush starts one) */
};

/** @brief The counters so far. */
void clog_get_stats(const struct clog *c, struct clog_stats *stats_out);

#endif
