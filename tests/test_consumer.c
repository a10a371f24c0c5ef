/*
 * Tests of consumer/ against librdkafka's in-process mock cluster: dead letters with reasons,
 * exactly-once resume from the offsets in LMDB, refusing to skip events the broker lost, the
 * hooks (assign, revoke, stats), and a consumer group whose rebalance must commit the open
 * batch before it gives a partition up.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <msgpack.h>

#include "consumer/consumer.h"
#include "event/event.h"
#include "state/state.h"

struct fixture {
	rd_kafka_t *rk; /* producer; also hosts the mock cluster */
	rd_kafka_mock_cluster_t *mc;
	const char *brokers;
	char dir[64];
	struct state_db *db;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "log_level", "2", err, sizeof err);
	f->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	if (!f->rk)
		return -1;
	f->mc = rd_kafka_mock_cluster_new(f->rk, 1);
	f->brokers = rd_kafka_mock_cluster_bootstraps(f->mc);
	rd_kafka_mock_topic_create(f->mc, "events", 2, 1);
	rd_kafka_mock_topic_create(f->mc, "products", 1, 1);
	rd_kafka_mock_topic_create(f->mc, "dlq", 1, 1);
	rd_kafka_mock_topic_create(f->mc, "one", 1, 1);
	/* the producer itself talks to the cluster it hosts */
	rd_kafka_brokers_add(f->rk, f->brokers);
	strcpy(f->dir, "/tmp/segstream-cons-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	struct state_config cfg;
	state_config_init(&cfg);
	cfg.path = f->dir;
	cfg.durable = 0;
	if (state_open(&cfg, &f->db, err, sizeof err) != STATE_OK)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	state_close(f->db);
	rd_kafka_mock_cluster_destroy(f->mc);
	rd_kafka_destroy(f->rk);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	int rc = system(cmd);
	free(f);
	return rc;
}

/* A consumer of the dead-letter topic from its beginning (assigned, no group membership). */
static rd_kafka_t *dlq_reader(struct fixture *f, const char *group)
{
	char kerr[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "bootstrap.servers", f->brokers, kerr, sizeof kerr);
	rd_kafka_conf_set(conf, "group.id", group, kerr, sizeof kerr);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, kerr, sizeof kerr);
	rd_kafka_poll_set_consumer(rk);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, "dlq", 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_assign(rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	return rk;
}

static void produce(struct fixture *f, const char *topic, int32_t partition, const char *key, const void *val,
		    size_t len)
{
	rd_kafka_resp_err_t e = rd_kafka_producev(
	    f->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
	    RD_KAFKA_V_VALUE((void *)val, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
	assert_int_equal(e, RD_KAFKA_RESP_ERR_NO_ERROR);
}

static void produce_event(struct fixture *f, const char *topic, uint32_t user, uint16_t order, uint16_t cart)
{
	struct event ev = { .user_id = user,
			    .order_id = user * 1000u + order,
			    .product_id = 1,
			    .order_number = order,
			    .add_to_cart_order = cart,
			    .order_dow = 1,
			    .order_hour = 9,
			    .days_since_prior = order == 1 ? EVENT_DAYS_NONE : 7,
			    .event_time_ms = order };
	uint8_t buf[EVENT_ENCODED_MAX];
	size_t len;
	char key[16];
	assert_int_equal(event_encode(&ev, buf, sizeof buf, &len), EVENT_OK);
	snprintf(key, sizeof key, "%u", user);
	produce(f, topic, (int32_t)(user % 2), key, buf, len);
}

static void flush(struct fixture *f)
{
	assert_int_equal(rd_kafka_flush(f->rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* run() with an on_stats hook (NULL: none). */
static int run_stats(struct fixture *f, const char *topic, struct cons_stats *st, char *err, size_t err_len,
		     void (*on_stats)(void *, const struct cons_stats_report *), void *ctx)
{
	struct cons_config cfg;
	cons_config_init(&cfg);
	cfg.brokers = f->brokers;
	cfg.events_topic = topic;
	cfg.products_topic = "products";
	cfg.dlq_topic = "dlq";
	cfg.exit_at_end = 1;
	cfg.batch_max_events = 100;
	cfg.on_stats = on_stats;
	cfg.stats_ctx = ctx;
	return cons_run(&cfg, f->db, st, err, err_len);
}

static int run(struct fixture *f, const char *topic, struct cons_stats *st, char *err, size_t err_len)
{
	return run_stats(f, topic, st, err, err_len, NULL, NULL);
}

/* The last report's dead letters by reason and batch sizes (the one at the end has them all). */
struct final_report {
	struct cons_reason_count reasons[16];
	int n_reasons;
	uint64_t batches, batch_events;
	int broker_down;
};

static void keep_final_report(void *ctx, const struct cons_stats_report *rep)
{
	struct final_report *fr = ctx;
	fr->n_reasons = rep->n_dead_letter_reasons;
	for (int i = 0; i < rep->n_dead_letter_reasons && i < 16; i++)
		fr->reasons[i] = rep->dead_letters[i];
	fr->batches = 0;
	for (int b = 0; b < CONS_BATCH_SIZE_BUCKETS; b++)
		fr->batches += rep->batch_size[b];
	fr->batch_events = rep->batch_size_sum;
	fr->broker_down = rep->broker_down;
}

static uint64_t reason_count(const struct final_report *fr, const char *reason)
{
	for (int i = 0; i < fr->n_reasons; i++)
		if (strcmp(fr->reasons[i].reason, reason) == 0)
			return fr->reasons[i].count;
	return 0;
}

static void test_dead_letters_with_reasons(void **state)
{
	struct fixture *f = *state;
	struct event_product p = { .product_id = 1, .aisle_id = 1, .department_id = 4, .price_cents = 250 };
	uint8_t pbuf[64];
	size_t plen;
	assert_int_equal(event_product_encode(&p, pbuf, sizeof pbuf, &plen), EVENT_OK);
	produce(f, "products", 0, "1", pbuf, plen);
	for (uint16_t o = 1; o <= 3; o++)
		for (uint16_t k = 1; k <= 4; k++)
			produce_event(f, "events", 7, o, k);
	/* The malformed fixture set: each must reach the dead-letter topic with its reason. */
	uint8_t good[EVENT_ENCODED_MAX];
	size_t glen;
	struct event ev = { .user_id = 9,
			    .order_id = 1,
			    .product_id = 1,
			    .order_number = 1,
			    .add_to_cart_order = 1,
			    .days_since_prior = EVENT_DAYS_NONE };
	assert_int_equal(event_encode(&ev, good, sizeof good, &glen), EVENT_OK);
	uint8_t trailing[EVENT_ENCODED_MAX + 1];
	memcpy(trailing, good, glen);
	trailing[glen] = 0xc0;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 12);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_int(&pk, -9); /* negative user id */
	for (int i = 2; i < 12; i++)
		msgpack_pack_int(&pk, 1);
	size_t huge_len = 900000; /* under the producer's 1 MB message limit */
	char *huge = malloc(huge_len + 8);
	huge[0] = (char)0xdb; /* a str32 of 900,000 bytes in place of the event */
	huge[1] = 0;
	huge[2] = 0x0d;
	huge[3] = (char)0xbb;
	huge[4] = (char)0xa0;
	memset(huge + 5, 'x', huge_len);
	struct {
		const void *v;
		size_t len;
		const char *key;
		const char *reason;
	} bad[] = {
		{ good, glen / 2, "9", "EVENT_TRUNCATED" },
		{ "\x92\xa1x\x01", 4, "9", "EVENT_" },
		{ sb.data, sb.size, "9", "EVENT_RANGE" },
		{ trailing, glen + 1, "9", "EVENT_TRAILING" },
		{ huge, huge_len + 5, "9", "EVENT_SHAPE" },
		{ good, glen, "10", "EVENT_KEY" },
		/* The key must be the canonical decimal of user_id: anything else could land user 9 on
		 * another partition, where a second record for the same customer would grow. */
		{ good, glen, "09", "EVENT_KEY" },
		{ good, glen, "+9", "EVENT_KEY" },
		{ good, glen, " 9", "EVENT_KEY" },
		{ good, glen, "9 ", "EVENT_KEY" },
		{ good, glen, "", "EVENT_KEY" },
	};
	size_t n_bad = sizeof bad / sizeof bad[0];
	for (size_t i = 0; i < n_bad; i++)
		produce(f, "events", 1, bad[i].key, bad[i].v, bad[i].len);
	flush(f);
	struct cons_stats st;
	char err[512] = "";
	struct final_report fr = { .n_reasons = 0 };
	int rc = run_stats(f, "events", &st, err, sizeof err, keep_final_report, &fr);
	if (rc)
		fail_msg("cons_run: %s", err);
	assert_int_equal(st.products, 1);
	assert_int_equal(st.invalid, n_bad);
	/* The stats report counts them by reason, and every message read in a committed batch. */
	uint64_t by_reason = 0;
	for (int i = 0; i < fr.n_reasons; i++)
		by_reason += fr.reasons[i].count;
	assert_int_equal(by_reason, n_bad);
	uint64_t bad_keys = 0;
	for (size_t i = 0; i < n_bad; i++)
		bad_keys += strcmp(bad[i].reason, "EVENT_KEY") == 0;
	assert_int_equal(reason_count(&fr, "EVENT_KEY"), bad_keys);
	assert_int_equal(reason_count(&fr, "EVENT_TRAILING"), 1);
	assert_int_equal(reason_count(&fr, "EVENT_RANGE"), 1);
	assert_true(reason_count(&fr, "EVENT_TRUNCATED") >= 1);
	assert_int_equal(fr.batches, st.batches);
	assert_int_equal(fr.batch_events, st.messages);
	assert_int_equal(fr.broker_down, 0);
	assert_int_equal(st.applied, 12);
	assert_int_equal(st.messages, 12 + n_bad);
	struct state_customer c;
	assert_int_equal(state_get(f->db, -1, 7, &c), STATE_OK);
	assert_int_equal(c.items, 12);
	assert_true(c.spend_cents == 12 * 250);
	assert_int_equal(c.dept_items[3], 12);

	/* Read the dead letters back: unchanged payloads, reasons and sources in headers. */
	rd_kafka_t *c_rk = dlq_reader(f, "dlq-reader");
	size_t got = 0;
	for (int tries = 0; tries < 100 && got < n_bad; tries++) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c_rk, 100);
		if (!m)
			continue;
		if (!m->err) {
			rd_kafka_headers_t *h = NULL;
			const void *reason = NULL, *source = NULL;
			size_t rl = 0, sl = 0;
			assert_int_equal(rd_kafka_message_headers(m, &h), RD_KAFKA_RESP_ERR_NO_ERROR);
			assert_int_equal(rd_kafka_header_get_last(h, "segstream.error", &reason, &rl),
					 RD_KAFKA_RESP_ERR_NO_ERROR);
			assert_int_equal(rd_kafka_header_get_last(h, "segstream.source", &source, &sl),
					 RD_KAFKA_RESP_ERR_NO_ERROR);
			char r[400] = "";
			memcpy(r, reason, rl < sizeof r - 1 ? rl : sizeof r - 1);
			if (strncmp(r, bad[got].reason, strlen(bad[got].reason)) != 0)
				fail_msg("dead letter %zu: reason '%s', want '%s...'", got, r, bad[got].reason);
			assert_int_equal(m->len, bad[got].len);
			assert_memory_equal(m->payload, bad[got].v, m->len);
			assert_true(sl > 0 && memcmp(source, "events/1/", 9) == 0);
			got++;
		}
		rd_kafka_message_destroy(m);
	}
	assert_int_equal(got, n_bad);
	rd_kafka_consumer_close(c_rk);
	rd_kafka_destroy(c_rk);
	free(huge);
	msgpack_sbuffer_destroy(&sb);
}

static void test_resume_exactly_once(void **state)
{
	struct fixture *f = *state;
	for (uint32_t u = 1; u <= 50; u++)
		for (uint16_t k = 1; k <= 10; k++)
			produce_event(f, "events", u, 1, k);
	flush(f);
	struct cons_stats st;
	char err[512] = "";
	assert_int_equal(run(f, "events", &st, err, sizeof err), CONS_OK);
	assert_int_equal(st.messages, 500);
	int64_t next0 = -1, next1 = -1;
	assert_int_equal(state_offset_get(f->db, "events", 0, &next0), STATE_OK);
	assert_int_equal(state_offset_get(f->db, "events", 1, &next1), STATE_OK);
	assert_true(next0 + next1 == 500);
	/* More events arrive; a new run reads only those. */
	for (uint32_t u = 1; u <= 50; u++)
		produce_event(f, "events", u, 2, 1);
	flush(f);
	assert_int_equal(run(f, "events", &st, err, sizeof err), CONS_OK);
	assert_int_equal(st.messages, 50);
	assert_int_equal(st.applied, 50);
	assert_int_equal(st.duplicates, 0);
	assert_int_equal(run(f, "events", &st, err, sizeof err), CONS_OK);
	assert_int_equal(st.messages, 0);
	struct state_customer c;
	assert_int_equal(state_get(f->db, -1, 33, &c), STATE_OK);
	assert_int_equal(c.items, 11);
	assert_int_equal(c.orders, 2);
	assert_int_equal(c.days_lines[7], 1);
	/* A double replay of the same history is harmless: the duplicate guard skips it. */
	for (uint16_t k = 1; k <= 10; k++)
		produce_event(f, "events", 33, 1, k);
	flush(f);
	assert_int_equal(run(f, "events", &st, err, sizeof err), CONS_OK);
	assert_int_equal(st.duplicates, 10);
	assert_int_equal(st.applied, 0);
	assert_int_equal(state_get(f->db, -1, 33, &c), STATE_OK);
	assert_int_equal(c.items, 11);
}

static void test_lost_events_are_not_skipped(void **state)
{
	struct fixture *f = *state;
	/* The mock keeps ~5 MiB per partition: 8 MiB of messages evicts offset 0. */
	static char big[64 * 1024];
	memset(big, 'z', sizeof big);
	for (int i = 0; i < 128; i++)
		produce(f, "one", 0, "1", big, sizeof big);
	flush(f);
	struct cons_stats st;
	char err[512] = "";
	int rc = run(f, "one", &st, err, sizeof err);
	assert_int_equal(rc, CONS_LOST);
	assert_non_null(strstr(err, "no longer on the broker"));
	assert_int_equal(st.messages, 0);
}

/* ---- Hooks ---- */

#define MAX_CALLS 8

/* What the hooks saw (they run in the consumer's thread; the test reads after it ends or
 * through the atomics). A hook never asserts: cmocka cannot fail a test from another thread,
 * so a hook counts what it found wrong in violations, checked once the thread is joined. */
struct seen {
	struct state_db *db;
	atomic_int violations;
	int32_t handover_partition; /* >= 0: on_assign stores handover_offset for it (a hand-off) */
	int64_t handover_offset;
	int n_assign, n_revoke;
	struct cons_partition assigned[MAX_CALLS][4], revoked[MAX_CALLS][4];
	int n_assigned[MAX_CALLS], n_revoked[MAX_CALLS];
	int64_t state_offset_at_revoke[MAX_CALLS][4]; /* state_offset_get() inside on_revoke */
	uint32_t items_at_revoke[MAX_CALLS][4];       /* items of the partition's customers, then */
	atomic_int revokes;
	atomic_ullong messages; /* totals->messages of the latest report */
	int n_stats;
	struct cons_stats last;
	struct cons_partition_stats last_parts[4];
	int last_n_parts;
	uint64_t last_latency_total;
	double last_rate;
	uint32_t users; /* customers 1..users were produced */
};

static void on_assign(void *ctx, const struct cons_partition *parts, int n)
{
	struct seen *s = ctx;
	if (n < 1 || n > 4 || s->n_assign >= MAX_CALLS) {
		atomic_fetch_add(&s->violations, 1);
		return;
	}
	memcpy(s->assigned[s->n_assign], parts, (size_t)n * sizeof *parts);
	s->n_assigned[s->n_assign++] = n;
	/* A hand-off: the state of a partition arrives from elsewhere while no batch is open. */
	for (int i = 0; i < n; i++) {
		struct state_batch *b;
		if (parts[i].partition != s->handover_partition)
			continue;
		if (state_batch_begin(s->db, &b) != STATE_OK ||
		    state_batch_set_offset(b, parts[i].topic, parts[i].partition, s->handover_offset) != STATE_OK ||
		    state_batch_commit(b, NULL) != STATE_OK)
			atomic_fetch_add(&s->violations, 1);
	}
}

static void on_revoke(void *ctx, const struct cons_partition *parts, int n)
{
	struct seen *s = ctx;
	if (n < 1 || n > 4 || s->n_revoke >= MAX_CALLS) {
		atomic_fetch_add(&s->violations, 1);
		return;
	}
	int k = s->n_revoke;
	memcpy(s->revoked[k], parts, (size_t)n * sizeof *parts);
	s->n_revoked[k] = n;
	/* What a new owner would find in the state right now. */
	for (int i = 0; i < n; i++) {
		int64_t next = -1;
		state_offset_get(s->db, parts[i].topic, parts[i].partition, &next);
		s->state_offset_at_revoke[k][i] = next;
		uint32_t items = 0;
		for (uint32_t u = 1; u <= s->users; u++) {
			struct state_customer c;
			if (u % 2 == (uint32_t)parts[i].partition && state_get(s->db, -1, u, &c) == STATE_OK)
				items += c.items;
		}
		s->items_at_revoke[k][i] = items;
	}
	s->n_revoke++;
	atomic_fetch_add(&s->revokes, 1);
}

static void on_stats(void *ctx, const struct cons_stats_report *rep)
{
	struct seen *s = ctx;
	s->n_stats++;
	s->last = *rep->totals;
	s->last_n_parts = rep->n_parts;
	if (rep->n_parts > 4 || rep->interval_s < 0 || rep->events_per_s < 0) {
		atomic_fetch_add(&s->violations, 1);
		return;
	}
	if (rep->n_parts) /* parts may be NULL before anything is assigned */
		memcpy(s->last_parts, rep->parts, (size_t)rep->n_parts * sizeof *rep->parts);
	s->last_latency_total = 0;
	for (int b = 0; b < CONS_LATENCY_BUCKETS; b++)
		s->last_latency_total += rep->commit_latency[b];
	s->last_rate = rep->events_per_s;
	atomic_store(&s->messages, rep->totals->messages);
}

static void hooks(struct cons_config *cfg, struct seen *s)
{
	cfg->on_assign = on_assign;
	cfg->assign_ctx = s;
	cfg->on_revoke = on_revoke;
	cfg->revoke_ctx = s;
	cfg->on_stats = on_stats;
	cfg->stats_ctx = s;
	cfg->stats_ms = 20;
}

/* 30 customers x 4 lines over the 2 partitions (60 events each), and a consumer of them with
 * static assign() that stops at the end; its hooks record into s. */
static void static_assign_run(struct fixture *f, struct seen *s, struct cons_config *cfg)
{
	s->users = 30;
	for (uint32_t u = 1; u <= s->users; u++)
		for (uint16_t k = 1; k <= 4; k++)
			produce_event(f, "events", u, 1, k);
	flush(f);
	cons_config_init(cfg);
	cfg->brokers = f->brokers;
	cfg->events_topic = "events";
	cfg->products_topic = "products";
	cfg->dlq_topic = "dlq";
	cfg->exit_at_end = 1;
	hooks(cfg, s);
}

static void test_hooks_with_static_assign(void **state)
{
	struct fixture *f = *state;
	struct seen *s = calloc(1, sizeof *s);
	s->db = f->db;
	s->handover_partition = -1;
	struct cons_config cfg;
	static_assign_run(f, s, &cfg);
	cfg.batch_max_events = 25;
	struct cons_stats st;
	char err[512] = "";
	assert_int_equal(cons_run(&cfg, f->db, &st, err, sizeof err), CONS_OK);
	assert_int_equal(atomic_load(&s->violations), 0);
	/* Assigned once, both partitions, nothing stored yet (-1: fetching starts at 0). */
	assert_int_equal(s->n_assign, 1);
	assert_int_equal(s->n_assigned[0], 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(s->assigned[0][i].partition, i);
		assert_int_equal(s->assigned[0][i].offset, -1);
		assert_string_equal(s->assigned[0][i].topic, "events");
	}
	/* Revoked once at the end, at the committed offsets: 15 customers x 4 lines a partition. */
	assert_int_equal(s->n_revoke, 1);
	assert_int_equal(s->n_revoked[0], 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(s->revoked[0][i].offset, 60);
		assert_int_equal(s->state_offset_at_revoke[0][i], 60);
		assert_int_equal(s->items_at_revoke[0][i], 60);
	}
	/* The final report has everything: counters, one latency per batch, no lag. */
	assert_true(s->n_stats >= 1);
	assert_int_equal(s->last.messages, 120);
	assert_int_equal(s->last.applied, 120);
	assert_int_equal(s->last.batches, st.batches);
	assert_true(st.batches >= 1);
	assert_int_equal(s->last_latency_total, st.batches);
	assert_int_equal(s->last_n_parts, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(s->last_parts[i].partition, i);
		assert_int_equal(s->last_parts[i].committed, 60);
		assert_int_equal(s->last_parts[i].high, 60);
		assert_int_equal(s->last_parts[i].lag, 0);
	}

	/* A second run starts where the first committed. */
	memset(s, 0, sizeof *s);
	s->db = f->db;
	s->handover_partition = -1;
	for (uint32_t u = 1; u <= 4; u++)
		produce_event(f, "events", u, 2, 1);
	flush(f);
	assert_int_equal(cons_run(&cfg, f->db, &st, err, sizeof err), CONS_OK);
	assert_int_equal(atomic_load(&s->violations), 0);
	assert_int_equal(s->n_assign, 1);
	assert_int_equal(s->assigned[0][0].offset, 60);
	assert_int_equal(s->assigned[0][1].offset, 60);
	assert_int_equal(s->revoked[0][0].offset, 62);
	assert_int_equal(s->revoked[0][1].offset, 62);
	assert_int_equal(s->last.messages, 4);
	free(s);
}

/*
 * on_assign runs before fetching starts and with no batch open, so it can hand a partition's
 * state over: here it stores offset 40 for partition 0, and the consumer must start there (20
 * of its 60 events read, not 60), while partition 1 starts at 0 as nothing is stored for it.
 */
static void test_on_assign_may_write_the_state(void **state)
{
	struct fixture *f = *state;
	struct seen *s = calloc(1, sizeof *s);
	s->db = f->db;
	s->handover_partition = 0;
	s->handover_offset = 40;
	struct cons_config cfg;
	static_assign_run(f, s, &cfg);
	struct cons_stats st;
	char err[512] = "";
	assert_int_equal(cons_run(&cfg, f->db, &st, err, sizeof err), CONS_OK);
	assert_int_equal(atomic_load(&s->violations), 0);
	assert_int_equal(s->n_assign, 1);
	assert_int_equal(s->assigned[0][0].offset, -1); /* as stored before the hook ran */
	assert_int_equal(st.messages, 20 + 60);
	int64_t next;
	assert_int_equal(state_offset_get(f->db, "events", 0, &next), STATE_OK);
	assert_int_equal(next, 60);
	assert_int_equal(state_offset_get(f->db, "events", 1, &next), STATE_OK);
	assert_int_equal(next, 60);
	free(s);
}

struct member {
	struct cons_config cfg;
	struct state_db *db;
	struct cons_stats st;
	char err[512];
	int rc;
};

static void *member_main(void *arg)
{
	struct member *m = arg;
	m->rc = cons_run(&m->cfg, m->db, &m->st, m->err, sizeof m->err);
	return NULL;
}

static rd_kafka_t *group_member(struct fixture *f, const char *group, const char *strategy)
{
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	const char *kv[] = { "bootstrap.servers",
			     f->brokers,
			     "group.id",
			     group,
			     "auto.offset.reset",
			     "latest",
			     "enable.auto.commit",
			     "false",
			     "heartbeat.interval.ms",
			     "100",
			     "session.timeout.ms",
			     "6000",
			     "partition.assignment.strategy",
			     strategy,
			     "log_level",
			     "2" };
	for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i += 2)
		assert_int_equal(rd_kafka_conf_set(conf, kv[i], kv[i + 1], err, sizeof err), RD_KAFKA_CONF_OK);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
	assert_non_null(rk);
	rd_kafka_poll_set_consumer(rk);
	rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(subs, "events", RD_KAFKA_PARTITION_UA);
	assert_int_equal(rd_kafka_subscribe(rk, subs), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_topic_partition_list_destroy(subs);
	return rk;
}

/* Polls member b until it holds at least want partitions or seconds pass; returns how many it holds. */
static int hold_partitions(rd_kafka_t *b, int want, int seconds)
{
	time_t deadline = time(NULL) + seconds;
	int held_n = 0;
	while (held_n < want && time(NULL) < deadline) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(b, 100);
		if (m)
			rd_kafka_message_destroy(m);
		rd_kafka_topic_partition_list_t *held = NULL;
		if (rd_kafka_assignment(b, &held) == RD_KAFKA_RESP_ERR_NO_ERROR && held) {
			held_n = held->cnt;
			rd_kafka_topic_partition_list_destroy(held);
		}
	}
	return held_n;
}

/*
 * Member A of a group reads every event into a batch that stays open (batch_max_ms is ten
 * minutes, and never a live batch); member B joins, the group rebalances, and A must commit that batch before it gives
 * its partitions up: inside on_revoke, the state already holds every event A had read and the
 * offsets after them. Without the commit on revoke, the state would still be empty then.
 */
static void revoke_commits_open_batch(struct fixture *f, const char *strategy)
{
	struct seen *s = calloc(1, sizeof *s);
	s->db = f->db;
	s->handover_partition = -1;
	s->users = 20;
	for (uint32_t u = 1; u <= s->users; u++)
		for (uint16_t k = 1; k <= 5; k++)
			produce_event(f, "events", u, 1, k);
	flush(f);
	volatile sig_atomic_t stop = 0;
	struct member *a = calloc(1, sizeof *a);
	char strategy_prop[128];
	snprintf(strategy_prop, sizeof strategy_prop, "partition.assignment.strategy=%s", strategy);
	const char *props[] = { "heartbeat.interval.ms=100", "session.timeout.ms=6000", strategy_prop };
	cons_config_init(&a->cfg);
	a->cfg.brokers = f->brokers;
	a->cfg.events_topic = "events";
	a->cfg.products_topic = "products";
	a->cfg.dlq_topic = "dlq";
	a->cfg.group_id = "G";
	a->cfg.batch_max_ms = 600000;
	a->cfg.batch_max_events = 1000000;
	a->cfg.live_lag_events = -1; /* catch-up batches only: caught up, the batch would be committed */
	a->cfg.props = props;
	a->cfg.n_props = 3;
	a->cfg.stop = &stop;
	hooks(&a->cfg, s);
	a->db = f->db;
	pthread_t thread;
	assert_int_equal(pthread_create(&thread, NULL, member_main, a), 0);
	/* A has read all 100 events (on_stats says so), none committed yet. */
	time_t deadline = time(NULL) + 60;
	while (atomic_load(&s->messages) < 100 && time(NULL) < deadline) {
		const struct timespec pause = { 0, 10 * 1000 * 1000 };
		nanosleep(&pause, NULL);
	}
	assert_int_equal(atomic_load(&s->messages), 100);
	int64_t next;
	assert_int_equal(state_offset_get(f->db, "events", 0, &next), STATE_NOTFOUND);
	/* B joins: A's partitions are revoked (all of them, or one with cooperative-sticky). */
	rd_kafka_t *b = group_member(f, "G", strategy);
	deadline = time(NULL) + 60;
	while (atomic_load(&s->revokes) == 0 && time(NULL) < deadline) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(b, 100);
		if (m)
			rd_kafka_message_destroy(m);
	}
	assert_true(atomic_load(&s->revokes) >= 1);
	/* A stops only once B holds its partitions, i.e. the rebalance is over: librdkafka 2.0.2
	 * can abort (an assertion in its sticky assignor) when a member is destroyed while a
	 * cooperative rebalance is still in progress. */
	assert_true(hold_partitions(b, 1, 60) >= 1);
	for (int i = 0; i < 10; i++) { /* and A has had its heartbeats to learn that it is over */
		rd_kafka_message_t *m = rd_kafka_consumer_poll(b, 100);
		if (m)
			rd_kafka_message_destroy(m);
	}
	stop = 1;
	pthread_join(thread, NULL);
	if (a->rc != CONS_OK)
		fail_msg("member A: %s", a->err);
	assert_int_equal(atomic_load(&s->violations), 0);
	/* B, too, closes once the rebalance that A's leaving starts is over (it then holds both). */
	hold_partitions(b, 2, 30);
	rd_kafka_consumer_close(b);
	rd_kafka_destroy(b);
	/* First assignment: both partitions, nothing stored (-1). */
	assert_true(s->n_assign >= 1);
	assert_int_equal(s->n_assigned[0], 2);
	assert_int_equal(s->assigned[0][0].offset, -1);
	assert_int_equal(s->assigned[0][1].offset, -1);
	/* At the first revoke, every revoked partition's events were in the state: offset 50
	 * (10 customers x 5 lines each) and their 50 items. */
	assert_true(s->n_revoked[0] >= 1);
	for (int i = 0; i < s->n_revoked[0]; i++) {
		assert_int_equal(s->revoked[0][i].offset, 50);
		assert_int_equal(s->state_offset_at_revoke[0][i], 50);
		assert_int_equal(s->items_at_revoke[0][i], 50);
	}
	/* A partition A got back (eager) starts where the state stands. */
	for (int c = 1; c < s->n_assign; c++)
		for (int i = 0; i < s->n_assigned[c]; i++)
			assert_int_equal(s->assigned[c][i].offset, 50);
	assert_int_equal(a->st.messages, 100);
	free(a);
	free(s);
}

/* The batch policy (pure): catch-up bounds while behind, drained queue or batch_live_ms once caught up. */
static void test_batch_policy(void **state)
{
	(void)state;
	struct cons_config cfg;
	cons_config_init(&cfg);
	assert_int_equal(cfg.batch_max_events, 500000);
	assert_int_equal(cfg.batch_max_ms, 500);
	struct cons_batch_view v = { .events = 0, .age_ms = 10000, .drained = 1, .lag = 0, .exit_ready = 1 };
	assert_false(cons_batch_due(&cfg, &v)); /* no batch open */
	/* Behind (lag above live_lag_events, or unknown): today's catch-up batches only. */
	v = (struct cons_batch_view){ .events = 1000, .age_ms = 100, .drained = 1, .lag = cfg.live_lag_events + 1 };
	assert_false(cons_batch_due(&cfg, &v));
	v.lag = -1;
	assert_false(cons_batch_due(&cfg, &v));
	v.age_ms = cfg.batch_live_ms + 1;
	assert_false(cons_batch_due(&cfg, &v));
	v.age_ms = cfg.batch_max_ms;
	assert_true(cons_batch_due(&cfg, &v));
	v.age_ms = 1;
	v.events = cfg.batch_max_events;
	assert_true(cons_batch_due(&cfg, &v));
	v.events = 10;
	v.exit_ready = 1;
	assert_true(cons_batch_due(&cfg, &v));
	/* Caught up: committed as soon as the queue is drained, or at batch_live_ms. */
	v = (struct cons_batch_view){ .events = 10, .age_ms = 1, .drained = 0, .lag = cfg.live_lag_events };
	assert_false(cons_batch_due(&cfg, &v));
	v.drained = 1;
	assert_true(cons_batch_due(&cfg, &v));
	v.drained = 0;
	v.age_ms = cfg.batch_live_ms;
	assert_true(cons_batch_due(&cfg, &v));
	v.age_ms = cfg.batch_live_ms - 1;
	v.lag = 0;
	assert_false(cons_batch_due(&cfg, &v));
	/* The bounds are the config's, not constants. */
	cfg.batch_live_ms = 5;
	assert_true(cons_batch_due(&cfg, &v));
	cfg.live_lag_events = 0;
	v.lag = 1;
	assert_false(cons_batch_due(&cfg, &v));
}

/* The offset check: gaps sought back once, the same gap accepted, repeats ignored, no endless seeking. */
static void test_offset_check(void **state)
{
	(void)state;
	struct cons_offset_gap g = { 0 };
	assert_int_equal(cons_offset_check(&g, 10, 10), CONS_OFFSET_APPLY);
	assert_int_equal(cons_offset_check(&g, -1, 7), CONS_OFFSET_APPLY); /* nothing expected yet */
	assert_int_equal(cons_offset_check(&g, 10, 9), CONS_OFFSET_REPEAT);
	assert_int_equal(cons_offset_check(&g, 10, 410), CONS_OFFSET_SEEK);
	/* After the seek: the next one comes (the client had skipped), and later another gap is new. */
	assert_int_equal(cons_offset_check(&g, 10, 10), CONS_OFFSET_APPLY);
	assert_int_equal(cons_offset_check(&g, 20, 21), CONS_OFFSET_SEEK);
	assert_int_equal(cons_offset_check(&g, 20, 21), CONS_OFFSET_ACCEPT); /* the same gap: no events there */
	assert_int_equal(g.accepted, 1);
	/* A gap that moves after each seek from the same offset: sought CONS_OFFSET_SEEKS_MAX times, then fatal. */
	for (int i = 1; i <= CONS_OFFSET_SEEKS_MAX; i++)
		assert_int_equal(cons_offset_check(&g, 30, 30 + i * 2), CONS_OFFSET_SEEK);
	assert_int_equal(cons_offset_check(&g, 30, 99), CONS_OFFSET_FAIL);
	/* After CONS_OFFSET_GAPS_TRUSTED accepted gaps, a partition's gaps are accepted without a seek. */
	g = (struct cons_offset_gap){ 0 };
	for (int i = 0; i < CONS_OFFSET_GAPS_TRUSTED; i++) {
		assert_int_equal(cons_offset_check(&g, 100 * i, 100 * i + 1), CONS_OFFSET_SEEK);
		assert_int_equal(cons_offset_check(&g, 100 * i, 100 * i + 1), CONS_OFFSET_ACCEPT);
	}
	assert_int_equal(cons_offset_check(&g, 1000, 1001), CONS_OFFSET_ACCEPT);
	assert_int_equal(cons_offset_check(&g, 1002, 1001), CONS_OFFSET_REPEAT); /* repeats stay ignored */
}

static void test_revoke_commits_open_batch_eager(void **state)
{
	revoke_commits_open_batch(*state, "range");
}

static void test_revoke_commits_open_batch_cooperative(void **state)
{
	revoke_commits_open_batch(*state, "cooperative-sticky");
}

/* ---- Schema version 2: one message per order ---- */

/* Order o (1-based) of user u: its lines' events (n of them, products 1..5 in turn), a train order
 * when u + o is a multiple of 5. */
static size_t history_order(uint32_t u, uint16_t o, struct event *lines)
{
	size_t n = 1 + (u * 7u + o * 3u) % 12u;
	for (size_t k = 0; k < n; k++)
		lines[k] = (struct event){ .user_id = u,
					   .order_id = u * 1000u + o,
					   .product_id = (uint32_t)(1 + (u + o + k) % 5),
					   .order_number = o,
					   .add_to_cart_order = (uint16_t)(k + 1),
					   .order_dow = (uint8_t)(o % 7),
					   .order_hour = (uint8_t)((u + o) % 24),
					   .days_since_prior = o == 1 ? EVENT_DAYS_NONE : (int8_t)(o * 2 % 31),
					   .reordered = (uint8_t)(k % 2),
					   .eval_set = (u + o) % 5 == 0 ? EVENT_EVAL_TRAIN : EVENT_EVAL_PRIOR,
					   .event_time_ms = 1000LL * o + u };
	return n;
}

static void produce_products(struct fixture *f)
{
	for (uint32_t id = 1; id <= 5; id++) {
		struct event_product p = { .product_id = id,
					   .aisle_id = id,
					   .department_id = (uint8_t)id,
					   .price_cents = id == 3 ? EVENT_NO_PRICE : (int32_t)(id * 111) };
		uint8_t buf[64];
		size_t len;
		char key[16];
		assert_int_equal(event_product_encode(&p, buf, sizeof buf, &len), EVENT_OK);
		snprintf(key, sizeof key, "%u", id);
		produce(f, "products", 0, key, buf, len);
	}
}

/* The history of users 1..30 (4 orders each) into topic, one message per line or per order; the
 * orders of users 5 and 6 twice (a replay: duplicates, line by line). @return the lines sent. */
static uint64_t produce_history(struct fixture *f, const char *topic, int by_order)
{
	uint64_t lines = 0;
	for (int pass = 0; pass < 2; pass++)
		for (uint32_t u = 1; u <= 30; u++) {
			if (pass == 1 && u != 5 && u != 6)
				continue;
			char key[16];
			snprintf(key, sizeof key, "%u", u);
			for (uint16_t o = 1; o <= 4; o++) {
				struct event ev[16];
				uint8_t buf[EVENT_ORDER_ENCODED_SIZE(16)];
				size_t n = history_order(u, o, ev), len;
				lines += n;
				if (by_order) {
					assert_int_equal(event_order_encode(ev, n, buf, sizeof buf, &len), EVENT_OK);
					produce(f, topic, (int32_t)(u % 2), key, buf, len);
					continue;
				}
				for (size_t k = 0; k < n; k++) {
					assert_int_equal(event_encode(&ev[k], buf, sizeof buf, &len), EVENT_OK);
					produce(f, topic, (int32_t)(u % 2), key, buf, len);
				}
			}
		}
	return lines;
}

/* Every customer's encoded record, in key order, appended to a buffer. */
struct dump {
	uint8_t *bytes;
	size_t len, cap;
	size_t customers;
};

static int dump_customer(const struct state_customer *c, const struct event_customer *d, void *ctx)
{
	(void)d;
	struct dump *out = ctx;
	uint8_t rec[STATE_RECORD_MAX];
	size_t len = 0;
	assert_int_equal(state_customer_encode(c, rec, sizeof rec, &len), STATE_OK);
	if (out->len + len > out->cap) {
		out->cap = (out->len + len) * 2;
		out->bytes = realloc(out->bytes, out->cap);
		assert_non_null(out->bytes);
	}
	memcpy(out->bytes + out->len, rec, len);
	out->len += len;
	out->customers++;
	return 0;
}

/* The same history as a message per line and as a message per order: byte-identical states, the
 * same counts (a replayed order is counted as duplicates line by line), fewer messages. */
static void test_order_encoding_same_state(void **state)
{
	struct fixture *f = *state;
	rd_kafka_mock_topic_create(f->mc, "orders", 2, 1);
	produce_products(f);
	uint64_t lines = produce_history(f, "events", 0);
	assert_int_equal(produce_history(f, "orders", 1), lines);
	flush(f);
	struct cons_stats by_line, by_order;
	char err[512] = "";
	if (run(f, "events", &by_line, err, sizeof err))
		fail_msg("cons_run (lines): %s", err);
	/* The order topic into a state of its own. */
	struct state_db *line_db = f->db;
	char dir[64] = "/tmp/segstream-cons-order-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct state_config cfg;
	state_config_init(&cfg);
	cfg.path = dir;
	cfg.durable = 0;
	assert_int_equal(state_open(&cfg, &f->db, err, sizeof err), STATE_OK);
	int rc = run(f, "orders", &by_order, err, sizeof err);
	struct state_db *order_db = f->db;
	f->db = line_db; /* the fixture closes its own */
	if (rc)
		fail_msg("cons_run (orders): %s", err);
	assert_int_equal(by_line.messages, lines);
	assert_int_equal(by_order.messages, lines);
	assert_int_equal(by_line.order_messages, 0);
	assert_int_equal(by_order.order_messages, 30 * 4 + 2 * 4);
	assert_true(by_line.duplicates > 0);
	assert_int_equal(by_order.applied, by_line.applied);
	assert_int_equal(by_order.duplicates, by_line.duplicates);
	assert_int_equal(by_order.ignored, by_line.ignored);
	assert_true(by_line.ignored > 0);
	assert_int_equal(by_order.invalid, 0);
	assert_int_equal(by_order.applied + by_order.duplicates + by_order.ignored, lines);
	struct dump a = { 0 }, b = { 0 };
	assert_int_equal(state_foreach_customer(line_db, -1, dump_customer, &a), STATE_OK);
	assert_int_equal(state_foreach_customer(order_db, -1, dump_customer, &b), STATE_OK);
	assert_int_equal(a.customers, 30);
	assert_int_equal(b.customers, 30);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.bytes, b.bytes, a.len);
	/* Exactly once across runs: a second run over the order topic reads nothing again. */
	f->db = order_db;
	rc = run(f, "orders", &by_order, err, sizeof err);
	f->db = line_db;
	if (rc)
		fail_msg("cons_run (orders, again): %s", err);
	assert_int_equal(by_order.messages, 0);
	free(a.bytes);
	free(b.bytes);
	state_close(order_db);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* Reads the dead letters of topic dlq: n of them, payloads, reasons and line headers. */
struct letter {
	uint8_t value[256];
	size_t len;
	char reason[400];
	char line[16]; /* "" when the header is absent */
};

static size_t read_letters(struct fixture *f, struct letter *out, size_t n)
{
	rd_kafka_t *c_rk = dlq_reader(f, "dlq-order-reader");
	size_t got = 0;
	for (int tries = 0; tries < 100 && got < n; tries++) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c_rk, 100);
		if (!m)
			continue;
		if (!m->err) {
			struct letter *t = &out[got++];
			memset(t, 0, sizeof *t);
			rd_kafka_headers_t *h = NULL;
			const void *v = NULL;
			size_t vl = 0;
			t->len = m->len < sizeof t->value ? m->len : sizeof t->value;
			memcpy(t->value, m->payload, t->len);
			assert_int_equal(rd_kafka_message_headers(m, &h), RD_KAFKA_RESP_ERR_NO_ERROR);
			if (rd_kafka_header_get_last(h, "segstream.error", &v, &vl) == RD_KAFKA_RESP_ERR_NO_ERROR)
				memcpy(t->reason, v, vl < sizeof t->reason - 1 ? vl : sizeof t->reason - 1);
			if (rd_kafka_header_get_last(h, "segstream.line", &v, &vl) == RD_KAFKA_RESP_ERR_NO_ERROR)
				memcpy(t->line, v, vl < sizeof t->line - 1 ? vl : sizeof t->line - 1);
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(c_rk);
	rd_kafka_destroy(c_rk);
	return got;
}

/* A dirty order: its good lines are applied, the bad one dead-lettered alone with its reason; a
 * truncated order message goes whole. */
static void test_order_with_a_bad_line(void **state)
{
	struct fixture *f = *state;
	produce_products(f);
	struct event ev[4];
	for (size_t k = 0; k < 4; k++)
		ev[k] = (struct event){ .user_id = 9,
					.order_id = 900,
					.product_id = 2,
					.order_number = 1,
					.add_to_cart_order = (uint16_t)(k + 1),
					.days_since_prior = EVENT_DAYS_NONE,
					.event_time_ms = 5 };
	uint8_t buf[EVENT_ORDER_ENCODED_SIZE(4)];
	size_t len;
	assert_int_equal(event_order_encode(ev, 4, buf, sizeof buf, &len), EVENT_OK);
	/* The third line's product_id (a fixint 2, the line 0x93 0x02 0x03 0x00) becomes 0. */
	size_t at = len - 4 * 2; /* lines are 4 bytes each: the third starts 8 from the end */
	assert_int_equal(buf[at], 0x93);
	assert_int_equal(buf[at + 2], 0x03);
	buf[at + 1] = 0x00;
	produce(f, "events", 1, "9", buf, len);
	produce(f, "events", 1, "9", buf, len - 3); /* truncated: whole */
	flush(f);
	struct cons_stats st;
	char err[512] = "";
	if (run(f, "events", &st, err, sizeof err))
		fail_msg("cons_run: %s", err);
	assert_int_equal(st.applied, 3);
	assert_int_equal(st.invalid, 2);
	assert_int_equal(st.messages, 4 + 1);
	assert_int_equal(st.order_messages, 1);
	struct state_customer c;
	assert_int_equal(state_get(f->db, -1, 9, &c), STATE_OK);
	assert_int_equal(c.items, 3);
	assert_int_equal(c.spend_cents, 3 * 222);
	struct letter letters[2];
	assert_int_equal(read_letters(f, letters, 2), 2);
	/* The bad line: the order with it alone, its position, its reason. */
	if (strncmp(letters[0].reason, "EVENT_RANGE: line 3 of 4: product_id", 36) != 0)
		fail_msg("reason '%s'", letters[0].reason);
	assert_string_equal(letters[0].line, "3");
	struct event_line one[2];
	size_t n = 0;
	assert_int_equal(event_message_decode(letters[0].value, letters[0].len, one, 2, &n, NULL, 0), EVENT_OK);
	assert_int_equal(n, 1);
	assert_int_equal(one[0].rc, EVENT_RANGE);
	assert_int_equal(one[0].ev.order_id, 900);
	assert_int_equal(one[0].ev.add_to_cart_order, 3);
	/* The truncated message, whole. */
	assert_int_equal(strncmp(letters[1].reason, "EVENT_TRUNCATED", 15), 0);
	assert_string_equal(letters[1].line, "");
	assert_int_equal(letters[1].len, len - 3);
	assert_memory_equal(letters[1].value, buf, len - 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_policy),
		cmocka_unit_test(test_offset_check),
		cmocka_unit_test_setup_teardown(test_dead_letters_with_reasons, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_encoding_same_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_with_a_bad_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume_exactly_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_events_are_not_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hooks_with_static_assign, setup, teardown),
		cmocka_unit_test_setup_teardown(test_on_assign_may_write_the_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoke_commits_open_batch_eager, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoke_commits_open_batch_cooperative, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
