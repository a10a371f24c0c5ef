/* The consumer loop (see consumer.h for the contract). */
#include "consumer/consumer.h"

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event/event.h"
#include "kclient/kclient.h"

const char *cons_strerror(int err)
{
#define CONS_ERR_TEXT(name, code, text) case code: return text;
	switch (err) { CONS_ERR_MAP(CONS_ERR_TEXT) }
#undef CONS_ERR_TEXT
	return "unknown consumer error";
}

void cons_config_init(struct cons_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->events_topic = "segstream.events";
	cfg->products_topic = "segstream.products";
	cfg->customers_topic = "segstream.customers";
	cfg->dlq_topic = "segstream.events.dlq";
	cfg->batch_max_events = 500000;
	cfg->batch_max_ms = 500;
	cfg->wake_ms = 10;
}

/* Where one partition of the events topic stands. */
struct partition_state {
	int64_t next;   /* next offset to consume */
	int dirty;      /* next changed since the last committed batch */
	int assigned;
	int eof;        /* at the end of the partition (nothing newer read since) */
};

struct run {
	const struct cons_config *cfg;
	struct state_db *db;
	rd_kafka_t *rk;
	rd_kafka_t *dlq;
	struct state_batch *batch;
	int batch_events;
	uint64_t committed_events; /* event messages in committed batches, this run */
	double batch_started_ms;
	struct partition_state *parts;
	int n_parts;
	int events_partitions;  /* of the events topic, read by start_events(); < 0 if unknown */
	long dlq_pending, dlq_failed;
	struct cons_stats stats;
	double *commit_ms;
	size_t n_commit, cap_commit;
	int failed;            /* first fatal error; the loop stops */
	char *errbuf;
	size_t errbuf_len;
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Records the first fatal error with a message; later ones are ignored. */
static int fatal(struct run *r, int err, const char *fmt, ...)
{
	if (!r->failed) {
		r->failed = err;
		va_list ap;
		va_start(ap, fmt);
		if (r->errbuf && r->errbuf_len)
			vsnprintf(r->errbuf, r->errbuf_len, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* A consumer's configuration: bootstrap.servers, then ours (mine), then the user's -X properties. */
static int consumer_conf(const struct cons_config *cfg, const char *const *mine, int n_mine, rd_kafka_conf_t **conf_out,
			 char *err, size_t err_len)
{
	return kc_conf_new(cfg->brokers, mine, n_mine, cfg->props, cfg->n_props, conf_out, err, err_len);
}

/* The stored next offset of a partition, or fallback when none is stored. */
static int64_t stored_offset(struct run *r, const char *topic, int32_t partition, int64_t fallback)
{
	int64_t next;
	int rc = state_offset_get(r->db, topic, partition, &next);
	if (rc == STATE_OK)
		return next;
	if (rc != STATE_NOTFOUND)
		fatal(r, CONS_STATE, "reading the offset of %s/%d: %s", topic, partition, state_strerror(rc));
	return fallback;
}

static int ensure_batch(struct run *r)
{
	if (r->batch)
		return 0;
	int rc = state_batch_begin(r->db, &r->batch);
	if (rc != STATE_OK)
		return fatal(r, CONS_STATE, "beginning a batch: %s", state_strerror(rc));
	r->batch_events = 0;
	r->batch_started_ms = now_ms(); /* once per batch, not per message */
	return 0;
}

/* ---- Waking the fetcher ---- */

/*
 * librdkafka 2.0.2 stops fetching once the consumer queue holds queued.min.messages and looks
 * again only when the broker's thread wakes up: a second later if nothing else happens (the
 * later fetch.queue.backoff.ms is not in Debian 12). Any request to that broker wakes its
 * thread, so while the consumer is catching up a helper thread asks for one partition's
 * watermarks every wake_ms, round robin so that every leader is woken. The queue can then
 * hold a few milliseconds of consumption instead of a second (BENCHMARKS.md).
 */
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

static void waker_start(struct waker *w, rd_kafka_t *rk, const char *topic, int partitions, int interval_ms)
{
	w->rk = rk;
	w->topic = topic;
	w->partitions = partitions;
	w->interval_ms = interval_ms;
	atomic_init(&w->stop, 0);
	atomic_init(&w->idle, 0);
	w->started = interval_ms > 0 && partitions > 0 && pthread_create(&w->thread, NULL, waker_main, w) == 0;
}

static void waker_stop(struct waker *w)
{
	if (!w->started)
		return;
	atomic_store(&w->stop, 1);
	pthread_join(w->thread, NULL);
	w->started = 0;
}

/* ---- Phase 1: reference topics (products, customers), each read to its end. ---- */

enum table_kind { TABLE_PRODUCTS, TABLE_CUSTOMERS };

/* Decodes one reference record and puts it into the open batch; a bad record is logged and skipped. */
static void put_reference(struct run *r, enum table_kind kind, const rd_kafka_message_t *m)
{
	char why[256];
	int rc = STATE_OK, drc;
	if (kind == TABLE_PRODUCTS) {
		struct event_product ep;
		if ((drc = event_product_decode(m->payload, m->len, &ep, why, sizeof why)) == EVENT_OK) {
			struct state_product sp = { ep.product_id, ep.aisle_id, ep.department_id, ep.price_cents };
			rc = state_batch_put_product(r->batch, &sp);
			r->stats.products++;
		}
	} else {
		struct event_customer ec;
		if ((drc = event_customer_decode(m->payload, m->len, &ec, why, sizeof why)) == EVENT_OK) {
			rc = state_batch_put_demographics(r->batch, &ec);
			r->stats.customers++;
		}
	}
	if (drc != EVENT_OK)
		fprintf(stderr, "consume: %s %d/%" PRId64 ": skipped: %s\n", rd_kafka_topic_name(m->rkt), m->partition,
			m->offset, why);
	if (rc != STATE_OK)
		fatal(r, CONS_STATE, "storing a reference record: %s", state_strerror(rc));
}

static int load_table(struct run *r, const char *topic, enum table_kind kind)
{
	const struct cons_config *cfg = r->cfg;
	char err[512];
	if (!topic || !*topic)
		return 0;
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	/* The end of a partition is seen in a fetch that finds nothing, which the broker holds for
	 * fetch.wait.max.ms (500 ms by default), and the waker's request queues behind it: 10 ms
	 * makes loading the two tables take ~0.1 s instead of 2 s. */
	const char *mine[] = { "enable.partition.eof", "true", "enable.auto.commit", "false",
			       "auto.offset.reset", "earliest", "group.id", "segstream-reference-loader",
			       "fetch.wait.max.ms", "10" };
	if (consumer_conf(cfg, mine, (int)(sizeof mine / sizeof mine[0]), &conf, err, sizeof err) != KC_OK)
		return fatal(r, CONS_CONFIG, "%s", err);
	if (kc_new(RD_KAFKA_CONSUMER, conf, &rk, err, sizeof err) != KC_OK)
		return fatal(r, CONS_KAFKA, "%s", err);
	int n = kc_topic_partitions(rk, topic, 10000, err, sizeof err);
	if (n < 0) {
		fprintf(stderr, "consume: warning: %s (%s)\n",
			kind == TABLE_PRODUCTS ? "no products: every line is unpriced" : "no customer demographics", err);
		rd_kafka_destroy(rk);
		return 0;
	}
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(n);
	for (int p = 0; p < n; p++)
		rd_kafka_topic_partition_list_add(list, topic, p)->offset =
			stored_offset(r, topic, p, RD_KAFKA_OFFSET_BEGINNING);
	rd_kafka_assign(rk, list);
	rd_kafka_topic_partition_list_destroy(list);
	struct waker waker;
	waker_start(&waker, rk, topic, n, cfg->wake_ms);
	int *eof = calloc((size_t)n, sizeof *eof);
	int64_t *next = calloc((size_t)n, sizeof *next);
	int at_end = 0;
	while (!r->failed && at_end < n && !(cfg->stop && *cfg->stop) && eof && next) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (!m)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			at_end += !eof[m->partition];
			eof[m->partition] = 1;
		} else if (m->err) {
			fprintf(stderr, "consume: %s: %s\n", topic, rd_kafka_message_errstr(m));
		} else if (ensure_batch(r) == 0) {
			at_end -= eof[m->partition];
			eof[m->partition] = 0;
			next[m->partition] = m->offset + 1;
			put_reference(r, kind, m);
		}
		rd_kafka_message_destroy(m);
	}
	if (r->batch && !r->failed) {
		for (int p = 0; p < n; p++)
			if (next[p])
				state_batch_set_offset(r->batch, topic, p, next[p]);
		int rc = state_batch_commit(r->batch, NULL);
		r->batch = NULL;
		if (rc != STATE_OK)
			fatal(r, CONS_STATE, "committing %s: %s", topic, state_strerror(rc));
	}
	if (!eof || !next)
		fatal(r, CONS_STATE, "out of memory");
	free(eof);
	free(next);
	waker_stop(&waker);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return r->failed;
}

/* ---- Batches of events ---- */

static void record_commit_latency(struct run *r, double ms)
{
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

/* Commits the open batch: dead letters delivered first, then state + offsets in one transaction. */
static int commit_batch(struct run *r)
{
	if (!r->batch)
		return 0;
	const char *topic = r->cfg->events_topic;
	if (r->dlq_pending) {
		rd_kafka_flush(r->dlq, 30000);
		if (r->dlq_failed || rd_kafka_outq_len(r->dlq) > 0) {
			state_batch_abort(r->batch);
			r->batch = NULL;
			return fatal(r, CONS_DLQ, "%ld dead letters not delivered to %s; batch not committed",
				     r->dlq_failed + rd_kafka_outq_len(r->dlq), r->cfg->dlq_topic);
		}
		r->dlq_pending = 0;
	}
	for (int p = 0; p < r->n_parts; p++) {
		if (!r->parts[p].dirty)
			continue;
		int rc = state_batch_set_offset(r->batch, topic, p, r->parts[p].next);
		if (rc != STATE_OK) {
			state_batch_abort(r->batch);
			r->batch = NULL;
			return fatal(r, CONS_STATE, "storing offsets: %s", state_strerror(rc));
		}
	}
	double t0 = now_ms();
	struct state_batch_stats st;
	int rc = state_batch_commit(r->batch, &st);
	r->batch = NULL;
	if (rc != STATE_OK)
		return fatal(r, CONS_STATE, "committing a batch: %s", state_strerror(rc));
	record_commit_latency(r, now_ms() - t0);
	r->stats.applied += st.applied;
	r->stats.duplicates += st.duplicates;
	r->stats.ignored += st.ignored;
	r->stats.batches++;
	r->committed_events += (uint64_t)r->batch_events;
	if (r->cfg->on_committed)
		r->cfg->on_committed(r->cfg->caught_up_ctx, r->committed_events);
	if (r->cfg->verbose)
		fprintf(stderr, "consume: batch %" PRIu64 ": %d events, %" PRIu64 " customers, commit %.1f ms\n",
			r->stats.batches, r->batch_events, st.customers, now_ms() - t0);
	/* Broker-side offsets are for monitoring (lag) only, and only after the LMDB commit. */
	if (r->cfg->group_id) {
		rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(r->n_parts);
		for (int p = 0; p < r->n_parts; p++) {
			if (r->parts[p].dirty && r->parts[p].assigned)
				rd_kafka_topic_partition_list_add(list, topic, p)->offset = r->parts[p].next;
			r->parts[p].dirty = 0;
		}
		if (list->cnt)
			rd_kafka_commit(r->rk, list, 1);
		rd_kafka_topic_partition_list_destroy(list);
	} else {
		for (int p = 0; p < r->n_parts; p++)
			r->parts[p].dirty = 0;
	}
	return 0;
}

static int grow_parts(struct run *r, int32_t partition)
{
	if (partition < r->n_parts)
		return 0;
	int n = partition + 1;
	struct partition_state *t = realloc(r->parts, (size_t)n * sizeof *t);
	if (!t)
		return fatal(r, CONS_STATE, "out of memory");
	memset(t + r->n_parts, 0, (size_t)(n - r->n_parts) * sizeof *t);
	r->parts = t;
	r->n_parts = n;
	return 0;
}

static void dlq_delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	struct run *r = opaque;
	if (m->err) {
		r->dlq_failed++;
		fprintf(stderr, "consume: dead letter not delivered: %s\n", rd_kafka_err2str(m->err));
	}
}

/* Sends an invalid message, unchanged, to the dead-letter topic with the reason. */
static void send_dead_letter(struct run *r, const rd_kafka_message_t *m, const char *why)
{
	char source[512];
	snprintf(source, sizeof source, "%s/%d/%" PRId64, rd_kafka_topic_name(m->rkt), m->partition, m->offset);
	rd_kafka_headers_t *hdrs = rd_kafka_headers_new(2);
	rd_kafka_header_add(hdrs, "segstream.error", -1, why, -1);
	rd_kafka_header_add(hdrs, "segstream.source", -1, source, -1);
	struct kc_msg msg = { .topic = r->cfg->dlq_topic, .key = m->key, .key_len = m->key_len, .value = m->payload,
			      .value_len = m->len, .headers = hdrs };
	char err[512];
	if (kc_produce(r->dlq, &msg, KC_PRODUCE_WAIT_MS, err, sizeof err) != KC_OK) {
		rd_kafka_headers_destroy(hdrs);
		fatal(r, CONS_DLQ, "dead letter for %s: %s", source, err);
		return;
	}
	r->dlq_pending++;
	r->stats.invalid++;
	rd_kafka_poll(r->dlq, 0);
}

/* Parses a decimal Kafka key; 0 if absent or not a number. */
static uint32_t key_user_id(const rd_kafka_message_t *m)
{
	if (!m->key || m->key_len == 0 || m->key_len > 10)
		return 0;
	uint64_t v = 0;
	const char *k = m->key;
	for (size_t i = 0; i < m->key_len; i++) {
		if (k[i] < '0' || k[i] > '9')
			return 0;
		v = v * 10 + (uint64_t)(k[i] - '0');
	}
	return v > UINT32_MAX ? 0 : (uint32_t)v;
}

/* An event message decoded ahead of its apply: a burst is decoded first, so that the apply can
 * prefetch a few events ahead (the product and customer tables are larger than the caches). */
struct decoded {
	struct event ev;
	int rc; /* event_decode()'s result */
};

static void handle_event(struct run *r, const rd_kafka_message_t *m, const struct decoded *d)
{
	if (grow_parts(r, m->partition) || ensure_batch(r))
		return;
	struct partition_state *ps = &r->parts[m->partition];
	ps->next = m->offset + 1;
	ps->dirty = 1;
	ps->eof = 0;
	r->stats.messages++;
	r->batch_events++;
	char why[256];
	if (d->rc != EVENT_OK) {
		struct event ev; /* decoded again for the reason: rare, and the first pass skips the text */
		int rc = event_decode(m->payload, m->len, &ev, why, sizeof why);
		char reason[320];
		snprintf(reason, sizeof reason, "%s: %s", event_errname(rc), why);
		send_dead_letter(r, m, reason);
		return;
	}
	uint32_t key = key_user_id(m);
	if (key != d->ev.user_id) {
		snprintf(why, sizeof why, "EVENT_KEY: message key does not match user_id %u", d->ev.user_id);
		send_dead_letter(r, m, why);
		return;
	}
	int rc = state_batch_apply(r->batch, m->partition, &d->ev);
	if (rc != STATE_OK)
		fatal(r, CONS_STATE, "applying %s/%d/%" PRId64 ": %s", r->cfg->events_topic, m->partition, m->offset,
		      state_strerror(rc));
}

/* The assign list for these partitions, each at its LMDB offset (0 when none: see consumer.h). */
static rd_kafka_topic_partition_list_t *positions(struct run *r, const rd_kafka_topic_partition_list_t *parts)
{
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_copy(parts);
	for (int i = 0; i < list->cnt; i++) {
		int32_t p = list->elems[i].partition;
		list->elems[i].offset = stored_offset(r, r->cfg->events_topic, p, 0);
		if (grow_parts(r, p) == 0) {
			r->parts[p].assigned = 1;
			r->parts[p].eof = 0;
			r->parts[p].next = list->elems[i].offset;
			r->parts[p].dirty = 0;
		}
	}
	return list;
}

static void rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct run *r = opaque;
	int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		rd_kafka_topic_partition_list_t *list = positions(r, parts);
		if (cooperative)
			rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, list));
		else
			rd_kafka_assign(rk, list);
		rd_kafka_topic_partition_list_destroy(list);
		return;
	}
	/* Revoked or lost: what was applied so far is committed with its offsets first, so the
	 * next owner of the partition resumes exactly after it. */
	commit_batch(r);
	for (int i = 0; i < parts->cnt; i++)
		if (parts->elems[i].partition < r->n_parts)
			r->parts[parts->elems[i].partition].assigned = 0;
	if (cooperative)
		rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
	else
		rd_kafka_assign(rk, NULL);
}

static int all_at_end(const struct run *r)
{
	int assigned = 0;
	for (int p = 0; p < r->n_parts; p++) {
		if (!r->parts[p].assigned)
			continue;
		assigned++;
		if (!r->parts[p].eof)
			return 0;
	}
	return assigned > 0;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int open_clients(struct run *r)
{
	const struct cons_config *cfg = r->cfg;
	char err[512];
	rd_kafka_conf_t *conf;
	const char *mine[] = { "enable.auto.commit", "false", "enable.auto.offset.store", "false",
			       "auto.offset.reset", "error", "enable.partition.eof", "true",
			       "group.id", cfg->group_id ? cfg->group_id : "segstream-assign",
			       "queued.min.messages", "20000", "fetch.max.bytes", "2097152",
			       "max.partition.fetch.bytes", "262144", "fetch.wait.max.ms", "100" };
	/* A queue of 20,000 messages and 2 MiB fetches are a few milliseconds of consumption each;
	 * enough because the waker (above) restarts fetching within wake_ms, and each fetched buffer
	 * stays in memory until its last message is freed. Measured trade-offs: BENCHMARKS.md.
	 * A fetch that finds nothing waits at most 100 ms (not 500): the end of the topic is seen
	 * sooner, and so is new data after an idle spell. */
	if (consumer_conf(cfg, mine, (int)(sizeof mine / sizeof mine[0]), &conf, err, sizeof err) != KC_OK)
		return fatal(r, CONS_CONFIG, "%s", err);
	rd_kafka_conf_set_opaque(conf, r);
	if (cfg->group_id)
		rd_kafka_conf_set_rebalance_cb(conf, rebalance);
	if (kc_new(RD_KAFKA_CONSUMER, conf, &r->rk, err, sizeof err) != KC_OK)
		return fatal(r, CONS_KAFKA, "%s", err);
	rd_kafka_poll_set_consumer(r->rk);

	/* The dead-letter producer takes none of the user's properties (they are the consumer's). */
	const char *dlq[] = { "enable.idempotence", "true", "linger.ms", "10" };
	if (kc_conf_new(cfg->brokers, dlq, 4, NULL, 0, &conf, err, sizeof err) != KC_OK)
		return fatal(r, CONS_CONFIG, "%s", err);
	rd_kafka_conf_set_opaque(conf, r);
	rd_kafka_conf_set_dr_msg_cb(conf, dlq_delivered);
	if (kc_new(RD_KAFKA_PRODUCER, conf, &r->dlq, err, sizeof err) != KC_OK)
		return fatal(r, CONS_KAFKA, "%s", err);
	return 0;
}

/*
 * Waits until the events topic exists. The replay tool publishes the products before the first
 * event creates the events topic, so once it exists the products topic is complete: a consumer
 * started beside a replay loads every product before it applies any event.
 */
static int wait_for_events_topic(struct run *r)
{
	char err[512];
	int said = 0;
	while (!(r->cfg->stop && *r->cfg->stop)) {
		if (kc_topic_partitions(r->rk, r->cfg->events_topic, 10000, err, sizeof err) > 0)
			return 0;
		if (!said++)
			fprintf(stderr, "consume: waiting for topic %s (%s)\n", r->cfg->events_topic, err);
		const struct timespec pause = { 0, 50 * 1000 * 1000 };
		nanosleep(&pause, NULL);
	}
	return fatal(r, CONS_KAFKA, "stopped while waiting for topic %s", r->cfg->events_topic);
}

static int start_events(struct run *r)
{
	const struct cons_config *cfg = r->cfg;
	char err[512];
	int n = r->events_partitions = kc_topic_partitions(r->rk, cfg->events_topic, 10000, err, sizeof err);
	if (cfg->group_id) {
		rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(1);
		rd_kafka_topic_partition_list_add(subs, cfg->events_topic, RD_KAFKA_PARTITION_UA);
		rd_kafka_resp_err_t e = rd_kafka_subscribe(r->rk, subs);
		rd_kafka_topic_partition_list_destroy(subs);
		return e ? fatal(r, CONS_KAFKA, "subscribe %s: %s", cfg->events_topic, rd_kafka_err2str(e)) : 0;
	}
	if (n < 0)
		return fatal(r, CONS_KAFKA, "%s", err);
	rd_kafka_topic_partition_list_t *all = rd_kafka_topic_partition_list_new(n);
	for (int p = 0; p < n; p++)
		rd_kafka_topic_partition_list_add(all, cfg->events_topic, p);
	rd_kafka_topic_partition_list_t *list = positions(r, all);
	rd_kafka_resp_err_t e = rd_kafka_assign(r->rk, list);
	rd_kafka_topic_partition_list_destroy(list);
	rd_kafka_topic_partition_list_destroy(all);
	return e ? fatal(r, CONS_KAFKA, "assign: %s", rd_kafka_err2str(e)) : 0;
}

int cons_run(const struct cons_config *cfg, struct state_db *db, struct cons_stats *stats_out,
	     char *errbuf, size_t errbuf_len)
{
	struct run r = { .cfg = cfg, .db = db, .errbuf = errbuf, .errbuf_len = errbuf_len };
	if (!cfg->brokers || !cfg->events_topic || !cfg->dlq_topic)
		return fatal(&r, CONS_CONFIG, "brokers, events topic and dead-letter topic are required");
	if (open_clients(&r) || wait_for_events_topic(&r) || load_table(&r, cfg->products_topic, TABLE_PRODUCTS) ||
	    load_table(&r, cfg->customers_topic, TABLE_CUSTOMERS) || start_events(&r))
		goto out;
	struct waker waker;
	waker_start(&waker, r.rk, cfg->events_topic, r.events_partitions, cfg->wake_ms);
	double started = now_ms();
	/* Messages come in bursts from the consumer queue (callbacks such as rebalances are still
	 * served inside the call): one clock read and one batch check per burst, not per message. */
	rd_kafka_queue_t *queue = rd_kafka_queue_get_consumer(r.rk);
	enum { BURST = 2048, AHEAD = 8 };
	rd_kafka_message_t **burst = malloc(BURST * sizeof *burst);
	struct decoded *decoded = malloc(BURST * sizeof *decoded);
	double at_end_since = -1;
	if (!burst || !decoded)
		fatal(&r, CONS_STATE, "out of memory");
	while (!r.failed && !(cfg->stop && *cfg->stop)) {
		ssize_t n = rd_kafka_consume_batch_queue(queue, r.batch ? 10 : 100, burst, BURST);
		for (ssize_t i = 0; i < n; i++)
			if (!burst[i]->err)
				decoded[i].rc = event_decode(burst[i]->payload, burst[i]->len, &decoded[i].ev, NULL, 0);
		for (ssize_t i = 0; i < n; i++) {
			rd_kafka_message_t *m = burst[i];
			ssize_t ahead = i + AHEAD;
			if (r.batch && ahead < n && !burst[ahead]->err && decoded[ahead].rc == EVENT_OK)
				state_batch_prefetch(r.batch, burst[ahead]->partition, &decoded[ahead].ev);
			if (r.failed) {
				/* stop applying: the batch will not be committed */
			} else if (!m->err) {
				handle_event(&r, m, &decoded[i]);
			} else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
				if (grow_parts(&r, m->partition) == 0)
					r.parts[m->partition].eof = 1;
			} else if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
				   m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
				fatal(&r, CONS_LOST, "%s/%d: %s: the events the state expects are no longer on the broker",
				      cfg->events_topic, m->partition, rd_kafka_message_errstr(m));
			} else {
				fprintf(stderr, "consume: %s\n", rd_kafka_message_errstr(m));
			}
			rd_kafka_message_destroy(m);
		}
		if (r.batch && (r.batch_events >= cfg->batch_max_events ||
				now_ms() - r.batch_started_ms >= cfg->batch_max_ms || (cfg->exit_at_end && all_at_end(&r))))
			commit_batch(&r);
		if (r.dlq)
			rd_kafka_poll(r.dlq, 0);
		int at_end = all_at_end(&r);
		atomic_store(&waker.idle, at_end);
		if (!r.batch && at_end) {
			if (at_end_since < 0) {
				at_end_since = now_ms();
				if (cfg->on_caught_up)
					cfg->on_caught_up(cfg->caught_up_ctx);
			}
			if (!cfg->exit_at_end)
				continue;
			if (now_ms() - at_end_since >= cfg->idle_ms)
				break;
		} else {
			at_end_since = -1;
		}
	}
	free(burst);
	free(decoded);
	waker_stop(&waker);
	rd_kafka_queue_destroy(queue);
	r.stats.seconds = (now_ms() - started - (at_end_since >= 0 ? cfg->idle_ms : 0)) / 1e3;
	if (!r.failed)
		commit_batch(&r); /* graceful stop: finish the batch, commit, close */
out:
	if (r.batch)
		state_batch_abort(r.batch);
	if (r.rk) {
		rd_kafka_consumer_close(r.rk);
		rd_kafka_destroy(r.rk);
	}
	if (r.dlq) {
		rd_kafka_flush(r.dlq, 10000);
		rd_kafka_destroy(r.dlq);
	}
	if (r.n_commit) {
		qsort(r.commit_ms, r.n_commit, sizeof *r.commit_ms, compare_double);
		r.stats.commit_ms_p50 = r.commit_ms[r.n_commit / 2];
		r.stats.commit_ms_p99 = r.commit_ms[(r.n_commit * 99) / 100];
	}
	free(r.commit_ms);
	free(r.parts);
	if (stats_out)
		*stats_out = r.stats;
	return r.failed;
}
