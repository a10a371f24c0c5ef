/*
 * Integration tests against the real Apache Kafka broker that tools/kafka/broker.sh starts
 * (a CTest fixture): 100,000 messages produced and consumed exactly once, with static
 * assign() and with a consumer group; and kclient's topic creation (compacted when asked) and
 * partition counts, which the mock cluster cannot show; the consumer over a transactional topic
 * (its commit markers leave gaps in the offsets, which the mock cluster does not). SEGSTREAM_BOOTSTRAP names the broker.
 * The same tests run against the 3-node cluster of tools/kafka/cluster.sh (CTest label
 * `cluster`), where kclient's topics must also be replicated.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <librdkafka/rdkafka.h>

#include "consumer/consumer.h"
#include "event/event.h"
#include "kclient/kclient.h"
#include "state/state.h"

#define MESSAGES   100000
#define PARTITIONS 4

static const char *bootstrap(void)
{
	const char *b = getenv("SEGSTREAM_BOOTSTRAP");
	return b && *b ? b : "127.0.0.1:9092";
}

static void set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
	char err[256];
	if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK)
		fail_msg("conf %s=%s: %s", k, v, err);
}

static void unique_topic(char *buf, size_t len, const char *what)
{
	snprintf(buf, len, "test-%s-%ld-%d", what, (long)time(NULL), (int)getpid());
}

static void create_topic(const char *topic)
{
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	set(conf, "bootstrap.servers", bootstrap());
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	assert_non_null(rk);
	rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, PARTITIONS, 1, err, sizeof err);
	assert_non_null(nt);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
	/* Longer than librdkafka's own request timeout (socket.timeout.ms, 60 s): a slow answer (a
	 * loaded machine, a cluster just started) ends in a result or an error, not a missing event. */
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 90000);
	assert_non_null(ev);
	const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
	assert_non_null(res);
	size_t n;
	const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &n);
	assert_int_equal(n, 1);
	if (rd_kafka_topic_result_error(tr[0]))
		fail_msg("create %s: %s", topic, rd_kafka_topic_result_error_string(tr[0]));
	rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_NewTopic_destroy(nt);
	rd_kafka_destroy(rk);
}

static void count_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	long *counts = opaque; /* [0] delivered, [1] failed */
	counts[m->err ? 1 : 0]++;
}

/* Produces MESSAGES messages whose payload is their sequence number, keyed over many keys. */
static void produce_all(const char *topic)
{
	char err[256];
	long counts[2] = { 0, 0 };
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	set(conf, "bootstrap.servers", bootstrap());
	set(conf, "enable.idempotence", "true");
	set(conf, "linger.ms", "20");
	set(conf, "compression.type", "lz4");
	rd_kafka_conf_set_dr_msg_cb(conf, count_delivery);
	rd_kafka_conf_set_opaque(conf, counts);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	assert_non_null(rk);
	for (int i = 0; i < MESSAGES; i++) {
		char key[16], val[16];
		int kl = snprintf(key, sizeof key, "k%d", i % 997);
		int vl = snprintf(val, sizeof val, "%d", i);
		for (;;) {
			rd_kafka_resp_err_t e = rd_kafka_producev(
			    rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, (size_t)kl),
			    RD_KAFKA_V_VALUE(val, (size_t)vl), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			    RD_KAFKA_V_END);
			if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
				break;
			assert_int_equal(e, RD_KAFKA_RESP_ERR__QUEUE_FULL);
			rd_kafka_poll(rk, 10);
		}
		rd_kafka_poll(rk, 0);
	}
	assert_int_equal(rd_kafka_flush(rk, 60000), RD_KAFKA_RESP_ERR_NO_ERROR);
	assert_int_equal(counts[1], 0);
	assert_int_equal(counts[0], MESSAGES);
	rd_kafka_destroy(rk);
}

/* Consumes until every message is seen, then checks each payload arrived exactly once. */
static void consume_all(rd_kafka_t *rk)
{
	unsigned char *seen = calloc(MESSAGES, 1);
	long total = 0, duplicates = 0, bad = 0;
	time_t deadline = time(NULL) + 120;
	while (total < MESSAGES && time(NULL) < deadline) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
		if (!m)
			continue;
		if (m->err) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				print_message("consumer error: %s\n", rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			continue;
		}
		char buf[16] = { 0 };
		memcpy(buf, m->payload, m->len < 15 ? m->len : 15);
		long v = strtol(buf, NULL, 10);
		if (v < 0 || v >= MESSAGES)
			bad++;
		else if (seen[v]++)
			duplicates++;
		total++;
		rd_kafka_message_destroy(m);
	}
	/* Anything still arriving now would be a duplicate. */
	for (int i = 0; i < 5; i++) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
		if (m) {
			if (!m->err)
				duplicates++;
			rd_kafka_message_destroy(m);
		}
	}
	long missing = 0;
	for (long i = 0; i < MESSAGES; i++)
		missing += !seen[i];
	free(seen);
	assert_int_equal(bad, 0);
	assert_int_equal(duplicates, 0);
	assert_int_equal(missing, 0);
	assert_int_equal(total, MESSAGES);
}

static rd_kafka_t *new_consumer(const char *group)
{
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	set(conf, "bootstrap.servers", bootstrap());
	set(conf, "group.id", group);
	set(conf, "auto.offset.reset", "earliest");
	set(conf, "enable.auto.commit", "false");
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
	assert_non_null(rk);
	rd_kafka_poll_set_consumer(rk);
	return rk;
}

static void test_100k_messages_exactly_once_with_assign(void **state)
{
	(void)state;
	char topic[128];
	unique_topic(topic, sizeof topic, "assign");
	create_topic(topic);
	produce_all(topic);
	rd_kafka_t *rk = new_consumer("segstream-test-assign");
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(PARTITIONS);
	for (int p = 0; p < PARTITIONS; p++)
		rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
	assert_int_equal(rd_kafka_assign(rk, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_topic_partition_list_destroy(parts);
	consume_all(rk);
	assert_int_equal(rd_kafka_consumer_close(rk), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_destroy(rk);
}

static void test_consumer_group_subscription(void **state)
{
	(void)state;
	char topic[128], group[160];
	unique_topic(topic, sizeof topic, "group");
	snprintf(group, sizeof group, "group-%s", topic);
	create_topic(topic);
	produce_all(topic);
	rd_kafka_t *rk = new_consumer(group);
	rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(subs, topic, RD_KAFKA_PARTITION_UA);
	assert_int_equal(rd_kafka_subscribe(rk, subs), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_topic_partition_list_destroy(subs);
	consume_all(rk);
	/* The group really formed: the broker gave this member all partitions. */
	rd_kafka_topic_partition_list_t *assigned = NULL;
	assert_int_equal(rd_kafka_assignment(rk, &assigned), RD_KAFKA_RESP_ERR_NO_ERROR);
	assert_int_equal(assigned->cnt, PARTITIONS);
	rd_kafka_topic_partition_list_destroy(assigned);
	assert_int_equal(rd_kafka_commit(rk, NULL, 0), RD_KAFKA_RESP_ERR_NO_ERROR);
	assert_int_equal(rd_kafka_consumer_close(rk), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_destroy(rk);

	/* A new member of the same group resumes at the committed offsets: nothing is left. */
	rk = new_consumer(group);
	subs = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(subs, topic, RD_KAFKA_PARTITION_UA);
	assert_int_equal(rd_kafka_subscribe(rk, subs), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_topic_partition_list_destroy(subs);
	long again = 0;
	time_t until = time(NULL) + 8;
	while (time(NULL) < until) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
		if (m) {
			again += !m->err;
			rd_kafka_message_destroy(m);
		}
	}
	assert_int_equal(again, 0);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
}

static void pause_100ms(void)
{
	const struct timespec t = { 0, 100 * 1000 * 1000 };
	nanosleep(&t, NULL);
}

/* One of the topic's settings (e.g. cleanup.policy), from DescribeConfigs ("?" if not listed). */
static void topic_config(rd_kafka_t *rk, const char *topic, const char *name, char *out, size_t out_len)
{
	rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_event_t *ev = NULL;
	const rd_kafka_ConfigResource_t **rs = NULL;
	/* In a cluster the request may reach a broker that does not know a new topic yet: again. */
	for (int tries = 0; tries < 100; tries++) {
		if (ev)
			rd_kafka_event_destroy(ev);
		rd_kafka_DescribeConfigs(rk, &res, 1, NULL, q);
		ev = rd_kafka_queue_poll(q, 30000);
		assert_non_null(ev);
		const rd_kafka_DescribeConfigs_result_t *dr = rd_kafka_event_DescribeConfigs_result(ev);
		assert_non_null(dr);
		size_t n;
		rs = rd_kafka_DescribeConfigs_result_resources(dr, &n);
		assert_int_equal(n, 1);
		if (rd_kafka_ConfigResource_error(rs[0]) != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
			break;
		pause_100ms();
	}
	assert_int_equal(rd_kafka_ConfigResource_error(rs[0]), RD_KAFKA_RESP_ERR_NO_ERROR);
	size_t n_entries;
	const rd_kafka_ConfigEntry_t **entries = rd_kafka_ConfigResource_configs(rs[0], &n_entries);
	snprintf(out, out_len, "?");
	for (size_t i = 0; i < n_entries; i++)
		if (strcmp(rd_kafka_ConfigEntry_name(entries[i]), name) == 0)
			snprintf(out, out_len, "%s", rd_kafka_ConfigEntry_value(entries[i]));
	rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_ConfigResource_destroy(res);
}

/* kc_topic_partitions(), asked again for up to 10 s while the topic is not found: in a cluster a
 * new topic reaches each broker's metadata a moment after the one that created it. */
static int partitions_eventually(rd_kafka_t *rk, const char *topic)
{
	char err[512];
	int n = KC_NOTFOUND;
	for (int tries = 0; tries < 100 && (n = kc_topic_partitions(rk, topic, 10000, err, sizeof err)) == KC_NOTFOUND;
	     tries++)
		pause_100ms();
	return n;
}

/* A kclient producer and a consumer (group "kc-test", never subscribed) of the test broker. */
static void kclient_pair(rd_kafka_t **producer, rd_kafka_t **consumer)
{
	char err[512];
	rd_kafka_conf_t *conf;
	assert_int_equal(kc_conf_new(bootstrap(), NULL, 0, NULL, 0, &conf, err, sizeof err), KC_OK);
	assert_int_equal(kc_new(RD_KAFKA_PRODUCER, conf, producer, err, sizeof err), KC_OK);
	const char *group[] = { "group.id", "kc-test" };
	assert_int_equal(kc_conf_new(bootstrap(), group, 2, NULL, 0, &conf, err, sizeof err), KC_OK);
	assert_int_equal(kc_new(RD_KAFKA_CONSUMER, conf, consumer, err, sizeof err), KC_OK);
}

static void test_kclient_creates_topics(void **state)
{
	(void)state;
	char compacted[128], plain[128], err[512], policy[64];
	unique_topic(compacted, sizeof compacted, "kc-compact");
	unique_topic(plain, sizeof plain, "kc-plain");
	rd_kafka_t *producer, *consumer;
	kclient_pair(&producer, &consumer);
	/* Missing: a consumer's metadata request does not create it. */
	assert_int_equal(kc_topic_partitions(consumer, compacted, 10000, err, sizeof err), KC_NOTFOUND);
	assert_non_null(strstr(err, compacted));
	/* Created by the producer (whose metadata requests would auto-create it, not compacted). */
	if (kc_topic_ensure(producer, compacted, 1, err, sizeof err) != KC_OK)
		fail_msg("ensure %s: %s", compacted, err);
	topic_config(producer, compacted, "cleanup.policy", policy, sizeof policy);
	assert_string_equal(policy, "compact");
	assert_true(partitions_eventually(consumer, compacted) >= 1);
	if (kc_topic_ensure(producer, plain, 0, err, sizeof err) != KC_OK)
		fail_msg("ensure %s: %s", plain, err);
	topic_config(producer, plain, "cleanup.policy", policy, sizeof policy);
	assert_string_equal(policy, "delete");
	/* An existing topic is left as it is. */
	assert_int_equal(kc_topic_ensure(producer, plain, 1, err, sizeof err), KC_OK);
	topic_config(producer, plain, "cleanup.policy", policy, sizeof policy);
	assert_string_equal(policy, "delete");
	rd_kafka_destroy(consumer);
	rd_kafka_destroy(producer);
}

/* The brokers the cluster lists, and the fewest replicas of any partition of topic (asked again
 * for up to 10 s while the answering broker does not list the topic yet). */
static int brokers_and_replicas(rd_kafka_t *rk, const char *topic, int *replicas_out)
{
	int brokers = 0;
	*replicas_out = 0;
	for (int tries = 0; tries < 100 && *replicas_out == 0; tries++) {
		const struct rd_kafka_metadata *md = NULL;
		if (tries)
			pause_100ms();
		assert_int_equal(rd_kafka_metadata(rk, 1, NULL, &md, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
		brokers = md->broker_cnt;
		for (int t = 0; t < md->topic_cnt; t++) {
			if (strcmp(md->topics[t].topic, topic) != 0)
				continue;
			for (int p = 0; p < md->topics[t].partition_cnt; p++)
				if (*replicas_out == 0 || md->topics[t].partitions[p].replica_cnt < *replicas_out)
					*replicas_out = md->topics[t].partitions[p].replica_cnt;
		}
		rd_kafka_metadata_destroy(md);
	}
	return brokers;
}

/*
 * kc_topic_ensure_partitions(): a new topic gets the count asked for; an existing one with
 * another count is refused with KC_PARTITIONS and left as it is. On a cluster of KC_REPLICAS
 * brokers (tools/kafka/cluster.sh) every topic kclient creates has KC_REPLICAS replicas and
 * min.insync.replicas KC_MIN_INSYNC; on the single test broker, one replica.
 */
static void test_kclient_partitions_and_replication(void **state)
{
	(void)state;
	char topic[128], compacted[128], err[512], value[64];
	unique_topic(topic, sizeof topic, "kc-parts");
	unique_topic(compacted, sizeof compacted, "kc-parts-compact");
	rd_kafka_t *producer, *consumer;
	kclient_pair(&producer, &consumer);
	if (kc_topic_ensure_partitions(producer, topic, 0, 6, err, sizeof err) != KC_OK)
		fail_msg("ensure %s: %s", topic, err);
	assert_int_equal(partitions_eventually(consumer, topic), 6);
	assert_int_equal(kc_topic_ensure_partitions(producer, topic, 0, 6, err, sizeof err), KC_OK);
	assert_int_equal(kc_topic_ensure_partitions(producer, topic, 0, 12, err, sizeof err), KC_PARTITIONS);
	assert_non_null(strstr(err, "exists with 6 partitions, not 12"));
	assert_int_equal(kc_topic_partitions(consumer, topic, 10000, err, sizeof err), 6);
	if (kc_topic_ensure(producer, compacted, 1, err, sizeof err) != KC_OK)
		fail_msg("ensure %s: %s", compacted, err);
	const char *topics[] = { topic, compacted };
	for (size_t i = 0; i < 2; i++) {
		int replicas;
		int brokers = brokers_and_replicas(producer, topics[i], &replicas);
		topic_config(producer, topics[i], "min.insync.replicas", value, sizeof value);
		if (brokers >= KC_REPLICAS) {
			assert_int_equal(replicas, KC_REPLICAS);
			assert_string_equal(value, KC_MIN_INSYNC);
		} else {
			assert_int_equal(replicas, 1);
		}
		print_message("%s: %d brokers, %d replicas, min.insync.replicas %s\n", topics[i], brokers, replicas,
			      value);
	}
	rd_kafka_destroy(consumer);
	rd_kafka_destroy(producer);
}

/*
 * The consumer over a topic written by a transactional producer, whose commit markers take an
 * offset each (the mock cluster writes none): the consumer (read_committed)
 * sees a gap of one after each transaction. Each of the first gaps is sought back once and then
 * accepted, the later ones at once; every event is applied exactly once and the state's offset
 * is after the last event.
 */
static void test_transaction_markers_are_gaps(void **state)
{
	(void)state;
	char topic[128], dlq[160], kerr[256];
	unique_topic(topic, sizeof topic, "gaps");
	snprintf(dlq, sizeof dlq, "%s-dlq", topic);
	create_topic(topic);
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	set(conf, "bootstrap.servers", bootstrap());
	set(conf, "transactional.id", topic);
	rd_kafka_t *tx = rd_kafka_new(RD_KAFKA_PRODUCER, conf, kerr, sizeof kerr);
	assert_non_null(tx);
	assert_null(rd_kafka_init_transactions(tx, 10000));
	enum { TXNS = 6, PER_TXN = 20 };
	for (int t = 0; t < TXNS; t++) {
		assert_null(rd_kafka_begin_transaction(tx));
		for (int k = 0; k < PER_TXN; k++) {
			uint32_t user = (uint32_t)(t * PER_TXN + k) + 1; /* one first order each */
			struct event ev = { .user_id = user,
					    .order_id = user * 1000u + 1,
					    .product_id = 1,
					    .order_number = 1,
					    .add_to_cart_order = 1,
					    .order_dow = 1,
					    .order_hour = 9,
					    .days_since_prior = EVENT_DAYS_NONE,
					    .event_time_ms = user };
			uint8_t buf[EVENT_ENCODED_MAX];
			size_t len;
			char key[16];
			assert_int_equal(event_encode(&ev, buf, sizeof buf, &len), EVENT_OK);
			snprintf(key, sizeof key, "%u", user);
			assert_int_equal(rd_kafka_producev(tx, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
							   RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE(buf, len),
							   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
					 RD_KAFKA_RESP_ERR_NO_ERROR);
		}
		assert_null(rd_kafka_commit_transaction(tx, 10000));
	}
	rd_kafka_destroy(tx);
	char dir[] = "/tmp/segstream-gaps-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct state_config scfg;
	state_config_init(&scfg);
	scfg.path = dir;
	scfg.durable = 0;
	struct state_db *db = NULL;
	assert_int_equal(state_open(&scfg, &db, kerr, sizeof kerr), STATE_OK);
	struct cons_config cfg;
	cons_config_init(&cfg);
	cfg.brokers = bootstrap();
	cfg.events_topic = topic;
	cfg.dlq_topic = dlq;
	cfg.exit_at_end = 1;
	struct cons_stats st;
	char err[512] = "";
	int rc = cons_run(&cfg, db, &st, err, sizeof err);
	if (rc != CONS_OK)
		fail_msg("consume: %s", err);
	assert_int_equal(st.messages, TXNS * PER_TXN);
	assert_int_equal(st.applied, TXNS * PER_TXN);
	/* TXNS - 1 gaps between the transactions (the last marker has no event after it) */
	assert_int_equal(st.offset_seeks, CONS_OFFSET_GAPS_TRUSTED);
	assert_int_equal(st.offset_gaps_accepted, TXNS - 1);
	assert_int_equal(st.offset_repeats, 0);
	assert_int_equal(st.offset_jumps, CONS_OFFSET_GAPS_TRUSTED + TXNS - 1);
	int64_t next = -1;
	assert_int_equal(state_offset_get(db, topic, 0, &next), STATE_OK);
	assert_int_equal(next, TXNS * (PER_TXN + 1) - 1); /* after the last event, before the last marker */
	uint64_t items = 0;
	for (uint32_t u = 1; u <= TXNS * PER_TXN; u++) {
		struct state_customer c;
		assert_int_equal(state_get(db, -1, u, &c), STATE_OK);
		items += c.items;
	}
	assert_int_equal(items, TXNS * PER_TXN);
	state_close(db);
	char cmd[64];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_100k_messages_exactly_once_with_assign),
		cmocka_unit_test(test_consumer_group_subscription),
		cmocka_unit_test(test_kclient_creates_topics),
		cmocka_unit_test(test_kclient_partitions_and_replication),
		cmocka_unit_test(test_transaction_markers_are_gaps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
