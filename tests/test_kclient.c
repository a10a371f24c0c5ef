/*
 * Tests of kclient/ (the Kafka chores): a bad property is named, produce waits through a full
 * queue and delivers everything (and gives up when bounded), partition counts, and topic
 * creation never naming a missing topic in metadata. A broker, where needed, is librdkafka's
 * in-process mock cluster; CreateTopics, which the mock lacks, is tested in test_broker.c.
 */
#include <setjmp.h>
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

#include "kclient/kclient.h"
#include "log/log.h"

struct fixture {
	rd_kafka_t *host; /* hosts the mock cluster */
	rd_kafka_mock_cluster_t *mc;
	const char *brokers;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "log_level", "2", err, sizeof err);
	f->host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	if (!f->host)
		return -1;
	f->mc = rd_kafka_mock_cluster_new(f->host, 1);
	f->brokers = rd_kafka_mock_cluster_bootstraps(f->mc);
	rd_kafka_mock_topic_create(f->mc, "four", 4, 1);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	rd_kafka_mock_cluster_destroy(f->mc);
	rd_kafka_destroy(f->host);
	free(f);
	return 0;
}

static rd_kafka_t *client(struct fixture *f, rd_kafka_type_t type, const char *const *defaults, int n,
			  rd_kafka_conf_t *conf)
{
	char err[512];
	if (!conf)
		assert_int_equal(kc_conf_new(f->brokers, defaults, n, NULL, 0, &conf, err, sizeof err), KC_OK);
	rd_kafka_t *rk;
	if (kc_new(type, conf, &rk, err, sizeof err) != KC_OK)
		fail_msg("kc_new: %s", err);
	return rk;
}

/* librdkafka's levels map onto ours; the fresh broker's GETPID retry is a debug line. */
static void test_log_levels(void **state)
{
	(void)state;
	assert_int_equal(kc_log_level(3, "FAIL", "Connection refused"), LOG_LEVEL_ERROR);
	assert_int_equal(kc_log_level(4, "CONFWARN", "ignored"), LOG_LEVEL_WARN);
	assert_int_equal(kc_log_level(6, "INIT", "x"), LOG_LEVEL_INFO);
	assert_int_equal(kc_log_level(7, "BROKER", "x"), LOG_LEVEL_DEBUG);
	const char *getpid = "Failed to acquire idempotence PID from broker 127.0.0.1:9092/1: Coordinator load in "
			     "progress: retrying";
	assert_int_equal(kc_log_level(4, "GETPID", getpid), LOG_LEVEL_DEBUG);
	assert_int_equal(kc_log_level(4, "OTHER", getpid), LOG_LEVEL_WARN); /* only that facility's */
	assert_int_equal(kc_log_level(4, "GETPID",
				      "Failed to acquire idempotence PID: Broker: Cluster authorization "
				      "failed"),
			 LOG_LEVEL_WARN); /* not a transient state: stays a warning */
}

/*
 * A client configured with kc_conf_set_logger() logs through the logger in its opaque: a
 * producer-only property on a consumer makes librdkafka warn (CONFWARN) while it is created.
 */
static void test_librdkafka_lines_reach_the_logger(void **state)
{
	(void)state;
	char *buf = NULL, err[512];
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	struct kc_opaque opaque = { NULL };
	assert_int_equal(log_open(LOG_LEVEL_INFO, LOG_FORMAT_JSON, mem, &opaque.log), LOG_EOK);
	rd_kafka_conf_t *conf;
	const char *mine[] = { "linger.ms", "10", "group.id", "g" };
	assert_int_equal(kc_conf_new("127.0.0.1:1", mine, 4, NULL, 0, &conf, err, sizeof err), KC_OK);
	kc_conf_set_logger(conf);
	rd_kafka_conf_set_opaque(conf, &opaque);
	rd_kafka_t *rk;
	assert_int_equal(kc_new(RD_KAFKA_CONSUMER, conf, &rk, err, sizeof err), KC_OK);
	rd_kafka_destroy(rk);
	log_close(opaque.log);
	fclose(mem);
	assert_non_null(strstr(buf, "\"level\":\"warn\",\"component\":\"librdkafka\""));
	assert_non_null(strstr(buf, "\"facility\":\"CONFWARN\""));
	assert_non_null(strstr(buf, "is a producer property")); /* linger.ms is its alias */
	assert_null(strstr(buf, "\n%"));                        /* nothing in librdkafka's own format */
	free(buf);
}

static void test_bad_property_is_named(void **state)
{
	(void)state;
	char err[512] = "";
	rd_kafka_conf_t *conf = (rd_kafka_conf_t *)1;
	const char *mine[] = { "linger.ms", "20", "client.id", "mine" };
	const char *unknown[] = { "client.id=user", "no.such.property=1" };
	assert_int_equal(kc_conf_new("127.0.0.1:1", mine, 4, unknown, 2, &conf, err, sizeof err), KC_PROPERTY);
	assert_null(conf);
	assert_non_null(strstr(err, "property no.such.property:"));
	const char *bad_value[] = { "linger.ms=soon" };
	assert_int_equal(kc_conf_new(NULL, NULL, 0, bad_value, 1, &conf, err, sizeof err), KC_PROPERTY);
	assert_non_null(strstr(err, "property linger.ms:"));
	/* Values are never shown: a property may hold a password. */
	const char *secret[] = { "sasl.password=s3cr3t-value", "no.such.secret=s3cr3t-value" };
	assert_int_equal(kc_conf_new(NULL, NULL, 0, secret, 2, &conf, err, sizeof err), KC_PROPERTY);
	assert_non_null(strstr(err, "no.such.secret"));
	assert_null(strstr(err, "s3cr3t"));
	const char *no_eq[] = { "client.id=x", "sasl.password:s3cr3t" };
	assert_int_equal(kc_conf_new(NULL, NULL, 0, no_eq, 2, &conf, err, sizeof err), KC_PROPERTY);
	assert_non_null(strstr(err, "property #2 is not key=value"));
	assert_null(strstr(err, "s3cr3t"));
	const char *bad_default[] = { "batch.num.messages", "-5" };
	assert_int_equal(kc_conf_new(NULL, bad_default, 2, NULL, 0, &conf, err, sizeof err), KC_PROPERTY);
	assert_non_null(strstr(err, "property batch.num.messages:"));
	assert_string_equal(kc_errname(KC_PROPERTY), "KC_PROPERTY");
	assert_string_equal(kc_strerror(KC_PROPERTY), "invalid Kafka property");

	/* Order: brokers, then defaults, then the user's properties, which win. */
	const char *user[] = { "client.id=user", "linger.ms=7" };
	assert_int_equal(kc_conf_new("127.0.0.1:1", mine, 4, user, 2, &conf, err, sizeof err), KC_OK);
	char v[64];
	size_t vl = sizeof v;
	assert_int_equal(rd_kafka_conf_get(conf, "client.id", v, &vl), RD_KAFKA_CONF_OK);
	assert_string_equal(v, "user");
	vl = sizeof v;
	assert_int_equal(rd_kafka_conf_get(conf, "linger.ms", v, &vl), RD_KAFKA_CONF_OK);
	assert_string_equal(v, "7");
	vl = sizeof v;
	assert_int_equal(rd_kafka_conf_get(conf, "bootstrap.servers", v, &vl), RD_KAFKA_CONF_OK);
	assert_string_equal(v, "127.0.0.1:1");
	rd_kafka_conf_destroy(conf);
}

static void test_produce_waits_through_a_full_queue(void **state)
{
	struct fixture *f = *state;
	enum { MESSAGES = 3000 };
	struct kc_delivery delivery = { 0 };
	char err[512];
	const char *tiny[] = { "queue.buffering.max.messages", "10", "linger.ms", "1" };
	rd_kafka_conf_t *conf;
	assert_int_equal(kc_conf_new(f->brokers, tiny, 4, NULL, 0, &conf, err, sizeof err), KC_OK);
	rd_kafka_conf_set_dr_msg_cb(conf, kc_delivery_count);
	rd_kafka_conf_set_opaque(conf, &delivery);
	rd_kafka_t *rk = client(f, RD_KAFKA_PRODUCER, NULL, 0, conf);
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, "four", NULL);
	/* The queue really is tiny: without waiting, the 11th message is refused. */
	int refused = 0;
	for (int i = 0; i < 11; i++)
		refused += rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_VALUE("x", 1),
					     RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
					     RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL;
	assert_int_equal(refused, 1);
	assert_int_equal(rd_kafka_flush(rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
	delivery = (struct kc_delivery){ 0 };
	/* kc_produce waits for room instead: every message is delivered, by handle and by name. */
	for (int i = 0; i < MESSAGES; i++) {
		char key[16], val[16];
		int kl = snprintf(key, sizeof key, "k%d", i % 97), vl = snprintf(val, sizeof val, "%d", i);
		struct kc_msg m = { .rkt = i % 2 ? rkt : NULL,
				    .topic = "four",
				    .key = key,
				    .key_len = (size_t)kl,
				    .value = val,
				    .value_len = (size_t)vl,
				    .timestamp_ms = 1000 + i,
				    .has_partition = i % 3 == 0,
				    .partition = 2 };
		int rc = kc_produce(rk, &m, 10000, err, sizeof err);
		if (rc != KC_OK)
			fail_msg("message %d: %s", i, err);
	}
	assert_int_equal(rd_kafka_flush(rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
	assert_int_equal(delivery.failed, 0);
	assert_string_equal(delivery.first_error, "");
	assert_int_equal(delivery.ok, MESSAGES);
	/* An unknown partition is refused at once, not retried. */
	struct kc_msg bad = { .rkt = rkt, .has_partition = 1, .partition = 99, .value = "x", .value_len = 1 };
	assert_int_equal(kc_produce(rk, &bad, 10000, err, sizeof err), KC_KAFKA);
	assert_non_null(strstr(err, "four"));
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void test_produce_gives_up_when_bounded(void **state)
{
	struct fixture *f = *state;
	char err[512];
	const char *tiny[] = { "queue.buffering.max.messages", "5", "message.timeout.ms", "60000", "log_level", "2" };
	rd_kafka_t *rk = client(f, RD_KAFKA_PRODUCER, tiny, 6, NULL);
	/* The broker is down: nothing is delivered, the queue stays full. */
	rd_kafka_mock_broker_set_down(f->mc, 1);
	struct kc_msg m = { .topic = "four", .value = "x", .value_len = 1 };
	for (int i = 0; i < 5; i++)
		assert_int_equal(kc_produce(rk, &m, 0, err, sizeof err), KC_OK);
	double t0 = now_ms();
	assert_int_equal(kc_produce(rk, &m, 300, err, sizeof err), KC_QUEUE_FULL);
	double waited = now_ms() - t0;
	assert_true(waited >= 300 && waited < 3000);
	assert_non_null(strstr(err, "four"));
	rd_kafka_mock_broker_set_up(f->mc, 1);
	assert_int_equal(kc_produce(rk, &m, 10000, err, sizeof err), KC_OK);
	assert_int_equal(rd_kafka_flush(rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_destroy(rk);
}

static void test_partition_count(void **state)
{
	struct fixture *f = *state;
	char err[512] = "";
	rd_kafka_t *rk = client(f, RD_KAFKA_CONSUMER, NULL, 0, NULL);
	assert_int_equal(kc_topic_partitions(rk, "four", 5000, err, sizeof err), 4);
	/* The mock creates any topic a metadata request names, so "missing" is simulated by the
	 * error a broker returns for it. */
	rd_kafka_mock_topic_set_error(f->mc, "gone", RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
	assert_int_equal(kc_topic_partitions(rk, "gone", 5000, err, sizeof err), KC_NOTFOUND);
	assert_non_null(strstr(err, "gone"));
	rd_kafka_destroy(rk);
}

/* Whether the cluster lists the topic, asking for all topics (so as not to create it). */
static int listed(rd_kafka_t *rk, const char *topic)
{
	const struct rd_kafka_metadata *md = NULL;
	assert_int_equal(rd_kafka_metadata(rk, 1, NULL, &md, 5000), RD_KAFKA_RESP_ERR_NO_ERROR);
	int found = 0;
	for (int t = 0; t < md->topic_cnt; t++)
		found |= strcmp(md->topics[t].topic, topic) == 0;
	rd_kafka_metadata_destroy(md);
	return found;
}

static void test_ensure_topic(void **state)
{
	struct fixture *f = *state;
	char err[512] = "";
	rd_kafka_t *rk = client(f, RD_KAFKA_PRODUCER, NULL, 0, NULL);
	/* An existing topic is left as it is: no CreateTopics (which the mock would refuse). */
	assert_int_equal(kc_topic_ensure(rk, "four", 1, err, sizeof err), KC_OK);
	/* A missing one is created with CreateTopics: the mock has no such request, so this fails
	 * (after CreateTopics' 10 s), naming the topic; and no metadata request named it first (the
	 * mock would have created it). */
	assert_false(listed(rk, "fresh"));
	assert_int_equal(kc_topic_ensure(rk, "fresh", 1, err, sizeof err), KC_CREATE);
	assert_non_null(strstr(err, "could not create topic fresh"));
	assert_false(listed(rk, "fresh"));
	rd_kafka_destroy(rk);
}

/* Where a producer with KC_PARTITIONER puts a keyed message is where kc_partition_for_key says
 * (backfill computes a customer's partition with it instead of producing). */
static void record_partition(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	int32_t *where = opaque;
	char key[16] = "";
	if (!m->err && m->key && m->key_len < sizeof key) {
		memcpy(key, m->key, m->key_len); /* not NUL-terminated in the message */
		where[atoi(key) % 200] = m->partition;
	}
}

static void test_partition_for_key_is_the_producers(void **state)
{
	struct fixture *f = *state;
	int32_t where[200];
	char err[512];
	const char *mine[] = { "partitioner", KC_PARTITIONER, "linger.ms", "1" };
	rd_kafka_conf_t *conf;
	assert_int_equal(kc_conf_new(f->brokers, mine, 4, NULL, 0, &conf, err, sizeof err), KC_OK);
	rd_kafka_conf_set_dr_msg_cb(conf, record_partition);
	rd_kafka_conf_set_opaque(conf, where);
	rd_kafka_t *rk = client(f, RD_KAFKA_PRODUCER, NULL, 0, conf);
	for (int u = 0; u < 200; u++) {
		char key[16];
		int kl = snprintf(key, sizeof key, "%d", u);
		where[u] = -1;
		struct kc_msg m = { .topic = "four", .key = key, .key_len = (size_t)kl, .value = "x", .value_len = 1 };
		assert_int_equal(kc_produce(rk, &m, 10000, err, sizeof err), KC_OK);
	}
	assert_int_equal(rd_kafka_flush(rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
	int seen[4] = { 0, 0, 0, 0 };
	for (int u = 0; u < 200; u++) {
		char key[16];
		int kl = snprintf(key, sizeof key, "%d", u);
		assert_int_equal(where[u], kc_partition_for_key(key, (size_t)kl, 4));
		seen[where[u]]++;
	}
	for (int p = 0; p < 4; p++) /* and it spreads: every partition gets some */
		assert_true(seen[p] > 0);
	rd_kafka_destroy(rk);
}

/* What kc_topic_read() saw: each key's last value ("" for a tombstone), the records per partition. */
struct seen_records {
	char last[8][16];
	int records, per_partition[4], out_of_order;
	int64_t next[4];
};

static int keep_record(int32_t partition, int64_t offset, const void *key, size_t key_len, const void *value,
		       size_t value_len, void *ctx)
{
	struct seen_records *s = ctx;
	int k = key_len == 1 ? ((const char *)key)[0] - '0' : -1;
	s->records++;
	s->per_partition[partition]++;
	s->out_of_order += offset < s->next[partition];
	s->next[partition] = offset + 1;
	if (k >= 0 && k < 8)
		snprintf(s->last[k], sizeof s->last[k], "%.*s", (int)value_len, value ? (const char *)value : "");
	return 0;
}

static int stop_at_third(int32_t partition, int64_t offset, const void *key, size_t key_len, const void *value,
			 size_t value_len, void *ctx)
{
	(void)partition, (void)offset, (void)key, (void)key_len, (void)value, (void)value_len;
	return ++*(int *)ctx == 3 ? 42 : 0;
}

/* A whole topic, read to its end: every record once, in offset order per partition, tombstones
 * as NULL values; an empty topic is read at once; a callback's non-zero stops the read. */
static void test_topic_read(void **state)
{
	struct fixture *f = *state;
	char err[512] = "";
	struct seen_records s = { 0 };
	assert_int_equal(kc_topic_read(f->brokers, NULL, 0, "four", 10000, keep_record, &s, err, sizeof err), KC_OK);
	assert_int_equal(s.records, 0);
	const char *defaults[] = { "partitioner", KC_PARTITIONER };
	rd_kafka_t *rk = client(f, RD_KAFKA_PRODUCER, defaults, 2, NULL);
	for (int round = 0; round < 3; round++)
		for (int k = 0; k < 8; k++) {
			char key[2] = { (char)('0' + k), 0 }, value[16];
			int len = snprintf(value, sizeof value, "v%d.%d", k, round);
			struct kc_msg m = {
				.topic = "four", .key = key, .key_len = 1, .value = value, .value_len = (size_t)len
			};
			if (round == 2 && k == 5)
				m.value = NULL, m.value_len = 0; /* a tombstone */
			assert_int_equal(kc_produce(rk, &m, 5000, err, sizeof err), KC_OK);
		}
	assert_int_equal(rd_kafka_flush(rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_destroy(rk);
	assert_int_equal(kc_topic_read(f->brokers, NULL, 0, "four", 10000, keep_record, &s, err, sizeof err), KC_OK);
	assert_int_equal(s.records, 24);
	assert_int_equal(s.out_of_order, 0);
	assert_string_equal(s.last[0], "v0.2");
	assert_string_equal(s.last[7], "v7.2");
	assert_string_equal(s.last[5], "");
	for (int k = 0; k < 8; k++) /* each key's three records in its one partition */
		assert_int_equal(s.per_partition[kc_partition_for_key((char[]){ (char)('0' + k) }, 1, 4)] % 3, 0);
	int calls = 0;
	assert_int_equal(kc_topic_read(f->brokers, NULL, 0, "four", 10000, stop_at_third, &calls, err, sizeof err), 42);
	assert_int_equal(calls, 3);
	const char *bad[] = { "no.such.property=1" };
	assert_int_equal(kc_topic_read(f->brokers, bad, 1, "four", 10000, keep_record, &s, err, sizeof err),
			 KC_PROPERTY);
	rd_kafka_mock_topic_set_error(f->mc, "gone", RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
	assert_int_equal(kc_topic_read(f->brokers, NULL, 0, "gone", 5000, keep_record, &s, err, sizeof err),
			 KC_NOTFOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_property_is_named),
		cmocka_unit_test(test_log_levels),
		cmocka_unit_test(test_librdkafka_lines_reach_the_logger),
		cmocka_unit_test_setup_teardown(test_produce_waits_through_a_full_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_produce_gives_up_when_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partition_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partition_for_key_is_the_producers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ensure_topic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_topic_read, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
