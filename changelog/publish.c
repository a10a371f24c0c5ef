/*
 * Writing the changelog: the clients (a transactional producer, a read_committed reader), the
 * topic made or checked, and the transactions: a flush of the changes committed since the last
 * one, or a whole partition republished; each one transaction whose records and markers come
 * from one state read transaction, and whose markers are also the group's offsets (fencing).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "changelog/internal.h"
#include "kclient/kclient.h"
#include "log/log.h"

double clog__now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void clog__error(struct clog *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof c->err, fmt, ap);
	va_end(ap);
}

void clog_config_init(struct clog_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->topic = "segstream.changelog";
	cfg->events_topic = "segstream.events";
	cfg->flush_ms = 1000;
	cfg->timeout_ms = 60000;
}

/*
 * The transactional producer, its transactions initialised: the broker aborts whatever an earlier
 * producer of the same transactional id left open (a killed predecessor, or this process's own
 * producer that failed) and fences that one. CLOG_OK, CLOG_CONFIG or CLOG_KAFKA (err says why).
 */
static int new_producer(struct clog *c, char *err, size_t err_len)
{
	const struct clog_config *cfg = &c->cfg;
	rd_kafka_conf_t *conf = NULL;
	char tmo[32];
	/* A transaction a killed predecessor left open blocks the partition's last stable offset
	 * (what a restore reads to) until the broker aborts it: 10 s, or at once when the
	 * predecessor's successor (same transactional id) initialises. */
	snprintf(tmo, sizeof tmo, "%d", cfg->timeout_ms < 10000 ? cfg->timeout_ms : 10000);
	const char *mine[] = { "transactional.id",
			       cfg->transactional_id,
			       "transaction.timeout.ms",
			       tmo,
			       "compression.type",
			       "lz4",
			       "linger.ms",
			       "5" };
	if (kc_conf_new(cfg->brokers, mine, 8, cfg->props, cfg->n_props, &conf, err, err_len) != KC_OK)
		return CLOG_CONFIG;
	kc_conf_set_logger(conf);
	if (kc_new(RD_KAFKA_PRODUCER, conf, &c->producer, err, err_len) != KC_OK)
		return CLOG_KAFKA;
	rd_kafka_error_t *e = rd_kafka_init_transactions(c->producer, cfg->timeout_ms);
	if (e) {
		snprintf(err, err_len, "init transactions (%s): %s", cfg->transactional_id, rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
		return CLOG_KAFKA;
	}
	return CLOG_OK;
}

int clog__recover(struct clog *c)
{
	if (!c->failed)
		return CLOG_OK;
	/* librdkafka 2.0.2 turns some errors of a transaction coordinator's failover into fatal
	 * producer errors (e.g. INVALID_TXN_STATE when the transaction ends): nothing was vouched for
	 * since the last flush that committed, and the change set is still whole, so a new producer
	 * (same transactional id) can go on where that flush left off. */
	if (c->producer)
		rd_kafka_destroy(c->producer);
	c->producer = NULL;
	char err[512] = "";
	if (new_producer(c, err, sizeof err) != CLOG_OK) {
		clog__error(c, "the transactional producer failed and a new one did not start: %s", err);
		return CLOG_KAFKA;
	}
	c->failed = 0;
	c->stats.recovered++;
	log_warn(c->cfg.log, CLOG_LOG, "a new transactional producer replaced the one that failed (%s)",
		 c->cfg.transactional_id);
	return CLOG_OK;
}

int clog_open(const struct clog_config *cfg, struct state_db *db, struct clog **clog_out, char *errbuf,
	      size_t errbuf_len)
{
	*clog_out = NULL;
	if (!cfg->brokers || !cfg->transactional_id || !cfg->topic || !cfg->events_topic || cfg->flush_ms < 0 ||
	    cfg->timeout_ms <= 0) {
		snprintf(errbuf, errbuf_len, "changelog: brokers and a transactional id are required");
		return CLOG_CONFIG;
	}
	struct clog *c = calloc(1, sizeof *c);
	if (!c)
		return CLOG_NOMEM;
	c->cfg = *cfg;
	c->db = db;
	int rc = CLOG_KAFKA;
	rd_kafka_conf_t *conf = NULL;
	char err[512] = "";
	/* A group id only because librdkafka's assign() wants one: the reader never joins the group. */
	const char *rmine[] = { "group.id",
				"segstream-changelog-reader",
				"queued.min.messages",
				"1000000",
				"isolation.level",
				"read_committed",
				"enable.partition.eof",
				"true",
				"enable.auto.commit",
				"false",
				"auto.offset.reset",
				"earliest",
				"fetch.max.bytes",
				"104857600",
				"max.partition.fetch.bytes",
				"52428800",
				"fetch.wait.max.ms",
				"10" };
	if (kc_conf_new(cfg->brokers, rmine, sizeof rmine / sizeof rmine[0], cfg->props, cfg->n_props, &conf, err,
			sizeof err) != KC_OK) {
		rc = CLOG_CONFIG;
		goto out;
	}
	kc_conf_set_logger(conf);
	if (kc_new(RD_KAFKA_CONSUMER, conf, &c->reader, err, sizeof err) != KC_OK)
		goto out;
	if ((rc = new_producer(c, err, sizeof err)) != CLOG_OK)
		goto out;
	rc = CLOG_KAFKA;
	if (state_changes_track(db, 1) != STATE_OK) {
		snprintf(err, sizeof err, "cannot track the state's changes");
		rc = CLOG_STATE;
		goto out;
	}
	c->last_flush_ms = clog__now_ms();
	*clog_out = c;
	return CLOG_OK;
out:
	snprintf(errbuf, errbuf_len, "changelog %s: %s", cfg->topic, err);
	clog_close(c);
	return rc;
}

void clog_set_group(struct clog *c, struct rd_kafka_s *consumer)
{
	c->group = consumer;
}

void clog_close(struct clog *c)
{
	if (!c)
		return;
	state_changes_track(c->db, 0);
	if (c->reader) {
		rd_kafka_consumer_close(c->reader);
		rd_kafka_destroy(c->reader);
	}
	if (c->producer)
		rd_kafka_destroy(c->producer);
	free(c);
}

void clog_get_stats(const struct clog *c, struct clog_stats *stats_out)
{
	*stats_out = c->stats;
}

/* CreateTopics for the changelog: compacted, small segments (the tail a restore reads stays
 * short), n partitions. @return CLOG_OK (also when it exists already) or CLOG_KAFKA. */
static int create_topic(struct clog *c, int32_t n)
{
	char err[256];
	rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(c->cfg.topic, n, -1, err, sizeof err);
	if (!nt) {
		clog__error(c, "topic %s: %s", c->cfg.topic, err);
		return CLOG_KAFKA;
	}
	static const char *const configs[][2] = {
		{ "cleanup.policy", "compact" },
		{ "segment.bytes", "1048576" },
		{ "min.cleanable.dirty.ratio", "0.1" },
		{ "segment.ms", "600000" },
	};
	for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++)
		rd_kafka_NewTopic_set_config(nt, configs[i][0], configs[i][1]);
	rd_kafka_queue_t *q = rd_kafka_queue_new(c->reader);
	rd_kafka_CreateTopics(c->reader, &nt, 1, NULL, q);
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 15000);
	const rd_kafka_CreateTopics_result_t *res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
	size_t nres = 0;
	const rd_kafka_topic_result_t **tr = res ? rd_kafka_CreateTopics_result_topics(res, &nres) : NULL;
	int rc = CLOG_OK;
	if (!ev || rd_kafka_event_error(ev)) {
		clog__error(c, "create topic %s: %s", c->cfg.topic, ev ? rd_kafka_event_error_string(ev) : "timed out");
		rc = CLOG_KAFKA;
	} else if (nres == 1 && rd_kafka_topic_result_error(tr[0]) &&
		   rd_kafka_topic_result_error(tr[0]) != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
		clog__error(c, "create topic %s: %s", c->cfg.topic, rd_kafka_topic_result_error_string(tr[0]));
		rc = CLOG_KAFKA;
	}
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_NewTopic_destroy(nt);
	return rc;
}

int clog__topic_ready(struct clog *c)
{
	if (c->partitions > 0)
		return CLOG_OK;
	char err[256];
	int n = kc_topic_partitions(c->reader, c->cfg.events_topic, 10000, err, sizeof err);
	if (n <= 0) {
		clog__error(c, "events topic %s: %s", c->cfg.events_topic, err);
		return CLOG_KAFKA;
	}
	int m = kc_topic_partitions(c->reader, c->cfg.topic, 10000, err, sizeof err);
	if (m == KC_NOTFOUND) {
		int rc = create_topic(c, n);
		if (rc != CLOG_OK)
			return rc;
		for (int waited = 0; waited < 10000 && m != n; waited += 50) {
			const struct timespec pause = { 0, 50 * 1000 * 1000 };
			nanosleep(&pause, NULL);
			m = kc_topic_partitions(c->reader, c->cfg.topic, 5000, err, sizeof err);
		}
		log_info(c->cfg.log, CLOG_LOG, "created topic %s (%d partitions, compacted)", c->cfg.topic, n);
	}
	if (m < 0) {
		clog__error(c, "topic %s: %s", c->cfg.topic, err);
		return CLOG_KAFKA;
	}
	if (m != n) {
		clog__error(c,
			    "topic %s has %d partitions, the events topic %s has %d: each changelog partition holds "
			    "its events partition",
			    c->cfg.topic, m, c->cfg.events_topic, n);
		return CLOG_CONFIG;
	}
	c->partitions = n;
	return CLOG_OK;
}

static int produce(struct clog *c, int32_t partition, const void *key, size_t klen, const void *value, size_t vlen)
{
	struct kc_msg m = { .topic = c->cfg.topic,
			    .has_partition = 1,
			    .partition = partition,
			    .key = key,
			    .key_len = klen,
			    .value = value,
			    .value_len = vlen };
	char err[512];
	if (kc_produce(c->producer, &m, KC_PRODUCE_WAIT_MS, err, sizeof err) != KC_OK) {
		clog__error(c, "%s", err);
		return CLOG_KAFKA;
	}
	rd_kafka_poll(c->producer, 0);
	return 0;
}

static int put_record(uint32_t partition, uint32_t user_id, const void *rec, size_t len, void *ctx)
{
	struct clog *c = ctx;
	uint8_t key[CLOG_KEY_MAX];
	size_t klen = clog_key_customer(partition, user_id, key);
	c->records++;
	return produce(c, (int32_t)partition, key, klen, rec, len);
}

static int put_marker(const char *topic, int32_t partition, int64_t next, void *ctx)
{
	(void)topic;
	struct clog *c = ctx;
	uint8_t key[CLOG_KEY_MAX], value[CLOG_MARKER_SIZE];
	size_t klen = clog_key_marker((uint32_t)partition, key);
	clog_marker_encode(next, value);
	if (c->markers)
		rd_kafka_topic_partition_list_add(c->markers, c->cfg.events_topic, partition)->offset = next;
	return produce(c, partition, key, klen, value, sizeof value);
}

/* What fills a transaction: the change set, or one partition whole. */
struct fill {
	int whole;
	int32_t partition;
};

/* The errors with which a group coordinator refuses a member's transactional offsets: the member
 * is not (or no longer) the one the group's current generation gave its partitions to. */
static int refused_by_group(rd_kafka_resp_err_t e)
{
	return e == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION || e == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID ||
	       e == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID;
}

/*
 * With a group: the markers written, as the group's offsets of the events topic, in the
 * transaction (TxnOffsetCommit with the member's metadata now). The group coordinator checks the
 * generation, member id and instance id: a zombie's is stale, and the transaction must abort.
 * @return CLOG_OK, CLOG_FENCED (refused by the group: abort), CLOG_KAFKA (abort: an abortable or a
 * retriable error, e.g. a timeout while the group coordinator moves), or CLOG_FAILED (a fatal
 * producer error: c->failed set, no abort possible).
 */
static int send_markers(struct clog *c)
{
	if (!c->group || !c->markers || c->markers->cnt == 0)
		return CLOG_OK;
	/* The metadata first, then the checks: librdkafka resets the member id (or the generation)
	 * when the coordinator says the member is gone, before it marks the assignment lost; a
	 * metadata of no generation and no member id would pass the coordinator's check. */
	rd_kafka_consumer_group_metadata_t *md = rd_kafka_consumer_group_metadata(c->group);
	char *member = rd_kafka_memberid(c->group);
	int gone = !member || !*member || rd_kafka_assignment_lost(c->group);
	if (member)
		rd_kafka_mem_free(c->group, member);
	if (!md || gone) {
		clog__error(c, "this member has lost its partitions (its session expired or the group replaced it): "
			       "its markers are not sent");
		if (md)
			rd_kafka_consumer_group_metadata_destroy(md);
		return CLOG_FENCED;
	}
	rd_kafka_error_t *e = rd_kafka_send_offsets_to_transaction(c->producer, c->markers, md, c->cfg.timeout_ms);
	rd_kafka_consumer_group_metadata_destroy(md);
	if (!e)
		return CLOG_OK;
	int rc = refused_by_group(rd_kafka_error_code(e)) ? CLOG_FENCED : CLOG_KAFKA;
	clog__error(c, "%s: %s",
		    rc == CLOG_FENCED ? "the group refused this member's markers (a stale generation: it lost its "
					"partitions)"
				      : "send the markers as the group's offsets",
		    rd_kafka_error_string(e));
	if (rd_kafka_error_is_fatal(e)) {
		c->failed = 1; /* nothing more is written */
		rc = CLOG_FAILED;
	}
	rd_kafka_error_destroy(e);
	return rc;
}

/*
 * One transaction filled from one state read transaction. An error before the commit, or a
 * commit the broker refuses as abortable, aborts it (nothing of it is ever read: read_committed)
 * and returns CLOG_KAFKA, or CLOG_FENCED when the group refused this member's markers; a fatal
 * producer error marks the clog failed.
 */
static int run_transaction(struct clog *c, const struct fill *f)
{
	int rc = clog__topic_ready(c);
	if (rc != CLOG_OK)
		return rc;
	c->records = 0;
	if (c->group && !(c->markers = rd_kafka_topic_partition_list_new(8))) {
		clog__error(c, "out of memory");
		return CLOG_NOMEM;
	}
	rd_kafka_error_t *e = rd_kafka_begin_transaction(c->producer);
	if (e) {
		clog__error(c, "begin transaction: %s", rd_kafka_error_string(e));
		c->failed = rd_kafka_error_is_fatal(e) || !rd_kafka_error_is_retriable(e);
		rd_kafka_error_destroy(e);
		rc = CLOG_KAFKA;
		goto out;
	}
	int src;
	if (f->whole) {
		int64_t next;
		src = state_partition_walk_raw(c->db, c->cfg.events_topic, f->partition, put_record, c, &next);
		if (src == STATE_OK && next >= 0)
			src = put_marker(c->cfg.events_topic, f->partition, next, c);
	} else {
		src = state_changes_walk(c->db, c->cfg.events_topic, put_record, put_marker, c);
	}
	if (src != 0) {
		if (src != CLOG_KAFKA)
			clog__error(c, "reading the state: %s", state_strerror(src));
		rc = src == CLOG_KAFKA ? CLOG_KAFKA : CLOG_STATE;
		goto abort;
	}
	if ((rc = send_markers(c)) != CLOG_OK) {
		if (rc == CLOG_FAILED) {
			rc = CLOG_KAFKA;
			goto out;
		}
		goto abort;
	}
	/* A retriable error (the commit's outcome not known within the timeout, e.g. while a broker
	 * fails over) leaves the transaction open: librdkafka lets the commit be called again. */
	double deadline = clog__now_ms() + 2.0 * c->cfg.timeout_ms;
	while ((e = rd_kafka_commit_transaction(c->producer, c->cfg.timeout_ms)) && rd_kafka_error_is_retriable(e) &&
	       !rd_kafka_error_is_fatal(e) && !rd_kafka_error_txn_requires_abort(e) && clog__now_ms() < deadline) {
		log_warn(c->cfg.log, CLOG_LOG, "commit: %s; again", rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
	}
	if (e) {
		clog__error(c, "commit: %s", rd_kafka_error_string(e));
		rc = CLOG_KAFKA;
		if (rd_kafka_error_txn_requires_abort(e)) {
			rd_kafka_error_destroy(e);
			goto abort;
		}
		c->failed = 1; /* fatal, or an outcome we do not know: nothing more is written */
		rd_kafka_error_destroy(e);
		goto out;
	}
	goto out;
abort:
	c->stats.aborted++;
	if (rc == CLOG_FENCED)
		c->stats.fenced++;
	if ((e = rd_kafka_abort_transaction(c->producer, c->cfg.timeout_ms))) {
		log_warn(c->cfg.log, CLOG_LOG, "abort transaction: %s", rd_kafka_error_string(e));
		c->failed = 1;
		rd_kafka_error_destroy(e);
	}
out:
	if (c->markers)
		rd_kafka_topic_partition_list_destroy(c->markers);
	c->markers = NULL;
	return rc;
}

int clog_flush(struct clog *c, int force, char *errbuf, size_t errbuf_len)
{
	double now = clog__now_ms();
	/* A flush blocks the consumer's thread for its transaction: the next one waits at least nine
	 * times as long as the last took, so flushing never takes more than a tenth of the time (a
	 * catch-up's large flushes come less often; a live flush of a few records, every flush_ms). */
	double wait = c->cfg.flush_ms > 9 * c->last_flush_took_ms ? c->cfg.flush_ms : 9 * c->last_flush_took_ms;
	if (!force && now - c->last_flush_ms < wait)
		return CLOG_OK;
	c->last_flush_ms = now;
	if (state_changes_pending(c->db) == 0)
		return CLOG_OK;
	if (clog__recover(c) != CLOG_OK) { /* the changes stay for the next flush */
		snprintf(errbuf, errbuf_len, "changelog %s: %s", c->cfg.topic, c->err);
		return CLOG_KAFKA;
	}
	const struct fill f = { .whole = 0 };
	int rc = run_transaction(c, &f);
	c->last_flush_took_ms = clog__now_ms() - now;
	log_debug(c->cfg.log, CLOG_LOG, "flush: %" PRIu64 " records in %.1f ms (%s)", c->records, c->last_flush_took_ms,
		  clog_strerror(rc));
	if (rc != CLOG_OK) {
		snprintf(errbuf, errbuf_len, "changelog %s: flush: %s", c->cfg.topic, c->err);
		return rc;
	}
	state_changes_clear(c->db); /* safe in Kafka now: this thread commits no batch in between */
	c->stats.flushes++;
	c->stats.records += c->records;
	return CLOG_OK;
}

int clog__republish(struct clog *c, int32_t partition, uint64_t *records_out)
{
	const struct fill f = { .whole = 1, .partition = partition };
	int rc = run_transaction(c, &f);
	*records_out = c->records;
	if (rc == CLOG_OK)
		c->stats.republished++;
	return rc;
}
