/* Unit tests of changelog/: the key and marker encoding and the reconcile decision (pure), and a
 * producer that failed (a fatal error) replaced at the next flush, on librdkafka's mock cluster. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "changelog/changelog.h"
#include "state/state.h"

static void test_customer_key_layout_and_roundtrip(void **state)
{
	(void)state;
	uint8_t k[CLOG_KEY_MAX];
	assert_int_equal(clog_key_customer(3, 0x01020304u, k), 9);
	const uint8_t want[9] = { CLOG_KEY_CUSTOMER, 0, 0, 0, 3, 1, 2, 3, 4 };
	assert_memory_equal(k, want, 9);
	enum clog_key_kind kind = 0;
	uint32_t p = 0, u = 0;
	assert_int_equal(clog_key_decode(k, 9, &kind, &p, &u), CLOG_OK);
	assert_int_equal(kind, CLOG_KEY_CUSTOMER);
	assert_int_equal(p, 3);
	assert_int_equal(u, 0x01020304u);
	/* Big-endian: keys of one partition sort by user_id byte-wise, partitions apart. */
	uint8_t a[CLOG_KEY_MAX], b[CLOG_KEY_MAX];
	clog_key_customer(1, 255, a);
	clog_key_customer(1, 256, b);
	assert_true(memcmp(a, b, 9) < 0);
	clog_key_customer(2, 1, b);
	assert_true(memcmp(a, b, 9) < 0);
}

static void test_marker_key_and_value(void **state)
{
	(void)state;
	uint8_t k[CLOG_KEY_MAX], v[CLOG_MARKER_SIZE];
	assert_int_equal(clog_key_marker(11, k), 5);
	enum clog_key_kind kind = 0;
	uint32_t p = 0, u = 7;
	assert_int_equal(clog_key_decode(k, 5, &kind, &p, &u), CLOG_OK);
	assert_int_equal(kind, CLOG_KEY_MARKER);
	assert_int_equal(p, 11);
	assert_int_equal(u, 0);
	/* A marker key never equals a customer key of the same partition (the kind byte). */
	uint8_t ck[CLOG_KEY_MAX];
	clog_key_customer(11, 0, ck);
	assert_true(ck[0] != k[0]);
	int64_t next = 0;
	clog_marker_encode(2700000123LL, v);
	assert_int_equal(v[0], 1);
	assert_int_equal(clog_marker_decode(v, sizeof v, &next), CLOG_OK);
	assert_true(next == 2700000123LL);
	clog_marker_encode(0, v);
	assert_int_equal(clog_marker_decode(v, sizeof v, &next), CLOG_OK);
	assert_true(next == 0);
}

static void test_decode_refuses_foreign_records(void **state)
{
	(void)state;
	uint8_t k[CLOG_KEY_MAX], v[CLOG_MARKER_SIZE];
	enum clog_key_kind kind;
	uint32_t p, u;
	int64_t next = 42;
	clog_key_customer(1, 2, k);
	assert_int_equal(clog_key_decode(k, 8, &kind, &p, &u), CLOG_CORRUPT); /* short */
	assert_int_equal(clog_key_decode(k, 5, &kind, &p, &u),
			 CLOG_CORRUPT); /* a customer key cut to a marker's length */
	clog_key_marker(1, k);
	assert_int_equal(clog_key_decode(k, 9, &kind, &p, &u), CLOG_CORRUPT);
	k[0] = 3;
	assert_int_equal(clog_key_decode(k, 5, &kind, &p, &u), CLOG_CORRUPT);       /* unknown kind */
	assert_int_equal(clog_key_decode("12345", 5, &kind, &p, &u), CLOG_CORRUPT); /* another writer's key */
	assert_int_equal(clog_key_decode(NULL, 0, &kind, &p, &u), CLOG_CORRUPT);
	clog_marker_encode(5, v);
	assert_int_equal(clog_marker_decode(v, 8, &next), CLOG_CORRUPT);
	v[0] = 2;
	assert_int_equal(clog_marker_decode(v, sizeof v, &next), CLOG_CORRUPT); /* unknown version */
	clog_marker_encode(-1, v);
	assert_int_equal(clog_marker_decode(v, sizeof v, &next), CLOG_CORRUPT); /* negative offset */
	assert_int_equal(clog_marker_decode(NULL, 0, &next), CLOG_CORRUPT);     /* a tombstone */
	assert_true(next == 42);                                                /* untouched on refusal */
}

static void test_reconcile_decision(void **state)
{
	(void)state;
	assert_int_equal(clog_reconcile(-1, -1), CLOG_KEEP);        /* nothing anywhere: start at 0 */
	assert_int_equal(clog_reconcile(100, -1), CLOG_REPLACE);    /* a new owner */
	assert_int_equal(clog_reconcile(0, -1), CLOG_REPLACE);      /* an empty partition's marker */
	assert_int_equal(clog_reconcile(200, 100), CLOG_REPLACE);   /* another owner went further */
	assert_int_equal(clog_reconcile(100, 200), CLOG_REPUBLISH); /* crashed after a commit, before its flush */
	assert_int_equal(clog_reconcile(-1, 100), CLOG_REPUBLISH);  /* no changelog yet */
	assert_int_equal(clog_reconcile(100, 100), CLOG_KEEP);      /* same committed point */
	assert_int_equal(clog_reconcile(0, 0), CLOG_KEEP);
	assert_string_equal(clog_action_name(CLOG_REPLACE), "replace");
	assert_string_equal(clog_action_name(CLOG_REPUBLISH), "republish");
	assert_string_equal(clog_action_name(CLOG_KEEP), "keep");
	assert_string_equal(clog_strerror(CLOG_CORRUPT), "a changelog record is not one this version wrote");
	assert_string_equal(clog_strerror(CLOG_FENCED),
			    "the group refused the transaction: this member's generation is stale");
	assert_string_equal(clog_strerror(-999), "unknown changelog error");
}

/* A state in a fresh temporary directory (template: "/tmp/segstream-clog-XXXXXX"). */
static struct state_db *temp_state(char *dir)
{
	struct state_config cfg;
	struct state_db *db = NULL;
	char err[256];
	assert_non_null(mkdtemp(dir));
	state_config_init(&cfg);
	cfg.path = dir;
	cfg.durable = 0;
	assert_int_equal(state_open(&cfg, &db, err, sizeof err), STATE_OK);
	return db;
}

/* One customer's event committed with partition 0's offset: what a consumer's batch does. */
static void commit_one_event(struct state_db *db, int64_t next_offset)
{
	struct state_batch *b;
	const struct event ev = { .user_id = 7,
				  .order_id = 70,
				  .product_id = 1,
				  .order_number = 1,
				  .add_to_cart_order = 1,
				  .order_dow = 2,
				  .order_hour = 10,
				  .days_since_prior = EVENT_DAYS_NONE,
				  .event_time_ms = 1483228800000 };
	assert_int_equal(state_batch_begin(db, &b), STATE_OK);
	assert_int_equal(state_batch_apply(b, 0, &ev), STATE_OK);
	assert_int_equal(state_batch_set_offset(b, "events", 0, next_offset), STATE_OK);
	assert_int_equal(state_batch_commit(b, NULL), STATE_OK);
}

/* librdkafka 2.0.2 makes some errors of a coordinator's failover fatal for the producer (seen on the
 * 3-broker cluster: INVALID_TXN_STATE when a transaction ends). The flush fails, keeps its changes,
 * and the next flush starts a new producer of the same transactional id and writes them: a restore
 * elsewhere then finds the customer and the marker. */
static void test_fatal_producer_error_replaced_at_next_flush(void **state)
{
	(void)state;
	char err[512], dir[] = "/tmp/segstream-clog-XXXXXX", dir2[] = "/tmp/segstream-clog-XXXXXX";
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
	rd_kafka_t *host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	assert_non_null(host);
	rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(host, 1);
	assert_non_null(mc);
	rd_kafka_mock_topic_create(mc, "events", 2, 1);
	rd_kafka_mock_topic_create(mc, "changelog", 2, 1);
	struct state_db *db = temp_state(dir), *db2 = temp_state(dir2);
	const char *props[] = { "log_level=0" };
	struct clog_config cfg = { .brokers = rd_kafka_mock_cluster_bootstraps(mc),
				   .topic = "changelog",
				   .events_topic = "events",
				   .transactional_id = "clog-test-a",
				   .flush_ms = 0,
				   .timeout_ms = 10000,
				   .props = props,
				   .n_props = 1 };
	struct clog *c = NULL, *c2 = NULL;
	assert_int_equal(clog_open(&cfg, db, &c, err, sizeof err), CLOG_OK);
	commit_one_event(db, 42);
	rd_kafka_mock_push_request_errors(mc, 26 /* EndTxn */, 1, RD_KAFKA_RESP_ERR_INVALID_TXN_STATE);
	assert_int_equal(clog_flush(c, 1, err, sizeof err), CLOG_KAFKA);
	struct clog_stats st;
	clog_get_stats(c, &st);
	assert_int_equal(st.flushes, 0);
	assert_int_equal(st.recovered, 0);
	assert_int_equal(clog_flush(c, 1, err, sizeof err), CLOG_OK);
	clog_get_stats(c, &st);
	assert_int_equal(st.flushes, 1);
	assert_int_equal(st.recovered, 1);
	/* another instance takes partition 0 over: the customer and the offset the flush wrote */
	cfg.transactional_id = "clog-test-b";
	assert_int_equal(clog_open(&cfg, db2, &c2, err, sizeof err), CLOG_OK);
	struct clog_restore_report rep;
	assert_int_equal(clog_restore(c2, 0, &rep, err, sizeof err), CLOG_OK);
	assert_int_equal(rep.action, CLOG_REPLACE);
	assert_int_equal(rep.marker, 42);
	assert_int_equal(rep.records, 1);
	int64_t next = -1;
	assert_int_equal(state_offset_get(db2, "events", 0, &next), STATE_OK);
	assert_int_equal(next, 42);
	clog_close(c2);
	clog_close(c);
	state_close(db2);
	state_close(db);
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(host);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s %s", dir, dir2);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_customer_key_layout_and_roundtrip),
		cmocka_unit_test(test_marker_key_and_value),
		cmocka_unit_test(test_decode_refuses_foreign_records),
		cmocka_unit_test(test_reconcile_decision),
		cmocka_unit_test(test_fatal_producer_error_replaced_at_next_flush),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
