/* Unit tests of state/: record encoding, the apply path (SPEC §6 worked example), batches, offsets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <lmdb.h>
#include <zlib.h>

#include "segment/segment.h"
#include "state/state.h"

/* User 1 of the real data (SPEC §6): prior orders 1..10. */
static const int user1_days[10] = { -1, 15, 21, 29, 28, 19, 20, 14, 0, 30 };
static const int user1_basket[10] = { 5, 6, 5, 5, 8, 4, 5, 6, 6, 9 };

static struct event user1_event(int order, int cart, uint32_t product)
{
	struct event ev = {
		.user_id = 1,
		.order_id = 1000 + (uint32_t)order,
		.product_id = product,
		.order_number = (uint16_t)order,
		.add_to_cart_order = (uint16_t)cart,
		.order_dow = (uint8_t)(order % 7),
		.order_hour = 8,
		.days_since_prior = (int8_t)user1_days[order - 1],
		.reordered = order > 1,
		.eval_set = EVENT_EVAL_PRIOR,
		.event_time_ms = order * 1000,
	};
	return ev;
}

static void apply_user1(struct state_customer *c, const struct state_product *p)
{
	for (int o = 1; o <= 10; o++)
		for (int k = 1; k <= user1_basket[o - 1]; k++) {
			struct event ev = user1_event(o, k, 196);
			assert_int_equal(state_customer_apply(c, &ev, p, 0), STATE_APPLIED);
		}
}

static void test_worked_example_user1(void **state)
{
	(void)state;
	struct state_customer c;
	memset(&c, 0, sizeof c);
	struct state_product soda = { .product_id = 196, .aisle_id = 77, .department_id = 7, .price_cents = 637 };
	apply_user1(&c, &soda);
	assert_int_equal(c.orders, 10);
	assert_int_equal(c.max_order, 10);
	assert_int_equal(c.items, 59);
	assert_int_equal(c.priced_items, 59);
	assert_true(c.spend_cents == 59 * 637);
	assert_int_equal(c.reorders, 59 - 5);
	assert_int_equal(c.dept_items[6], 59);
	assert_true(c.hour_cents[8] == c.spend_cents); /* every order at 8 o'clock */
	assert_true(c.dow_cents[1] == (5 + 6) * 637);  /* orders 1 and 8 */
	assert_true(c.dow_cents[0] == 5 * 637);        /* order 7 */
	assert_true(c.hour_cents[9] == 0 && c.dow_cents[4] == 5 * 637);
	assert_int_equal(c.span_days, 15 + 21 + 29 + 28 + 19 + 20 + 14 + 0 + 30);
	struct segment_config cfg;
	segment_config_init(&cfg);
	struct segment_labels l;
	segment_label(&cfg, &c, &l);
	assert_int_equal(l.median_days_x2, 41);       /* (20 + 21) / 2 = 20.5 over 54 lines */
	assert_int_equal(l.order_median_days_x2, 40); /* 20 over 9 orders */
	assert_int_equal(l.loyalty, SEG_NEW);
	assert_int_equal(l.frequency, SEG_NONFREQUENT);
	assert_string_equal(segment_frequency_name(l.frequency), "Non-frequent customer");
	assert_int_equal(l.spending, SEG_LOW_SPENDER); /* 6.37 */
	assert_int_equal(l.low_activity, 0);
}

static void test_duplicate_guard_and_train(void **state)
{
	(void)state;
	struct state_customer c;
	memset(&c, 0, sizeof c);
	struct event ev = user1_event(2, 3, 5);
	assert_int_equal(state_customer_apply(&c, &ev, NULL, 0), STATE_APPLIED);
	assert_int_equal(state_customer_apply(&c, &ev, NULL, 0), STATE_DUPLICATE);
	struct event earlier = user1_event(2, 1, 5), older = user1_event(1, 9, 5);
	assert_int_equal(state_customer_apply(&c, &earlier, NULL, 0), STATE_DUPLICATE);
	assert_int_equal(state_customer_apply(&c, &older, NULL, 0), STATE_DUPLICATE);
	struct event train = user1_event(3, 1, 5);
	train.eval_set = EVENT_EVAL_TRAIN;
	assert_int_equal(state_customer_apply(&c, &train, NULL, 0), STATE_IGNORED);
	assert_int_equal(state_customer_apply(&c, &train, NULL, 1), STATE_APPLIED);
	assert_int_equal(c.items, 2);
	assert_int_equal(c.orders, 2);
	assert_int_equal(c.priced_items, 0); /* unknown product: unpriced, no department, no cents */
	assert_true(c.hour_cents[8] == 0 && c.dow_cents[2] == 0 && c.dow_cents[3] == 0);
	for (int d = 0; d < STATE_DEPARTMENTS; d++)
		assert_int_equal(c.dept_items[d], 0);
}

static void test_record_roundtrip_and_rejects(void **state)
{
	(void)state;
	struct state_customer c, d;
	memset(&c, 0, sizeof c);
	apply_user1(&c, NULL);
	c.partition = 3;
	c.last_event_ms = -7;
	c.dept_cents[20] = UINT64_MAX - 1;
	uint8_t buf[STATE_RECORD_MAX + 1];
	size_t len = 0;
	assert_int_equal(state_customer_encode(&c, buf, 20, &len), STATE_INVAL);
	assert_int_equal(state_customer_encode(&c, buf, sizeof buf, &len), STATE_OK);
	assert_int_equal(buf[0], STATE_RECORD_VERSION);
	assert_true(len < 200);  /* sparse: a typical customer is small */
	memset(&d, 0, sizeof d); /* padding compares equal too */
	assert_int_equal(state_customer_decode(buf, len, &d), STATE_OK);
	assert_memory_equal(&c, &d, sizeof c);
	for (size_t cut = 0; cut < len; cut++) /* every truncation is detected */
		assert_int_equal(state_customer_decode(buf, cut, &d), STATE_CORRUPT);
	buf[len] = 0;
	assert_int_equal(state_customer_decode(buf, len + 1, &d), STATE_CORRUPT);

	/* Every field at its largest still fits STATE_RECORD_MAX and round-trips. */
	memset(&c, 0xff, sizeof c);
	c.last_event_ms = INT64_MIN;
	assert_int_equal(state_customer_encode(&c, buf, sizeof buf, &len), STATE_OK);
	assert_int_equal(state_customer_decode(buf, len, &d), STATE_OK);
	uint8_t again[STATE_RECORD_MAX];
	size_t again_len = 0;
	assert_int_equal(state_customer_encode(&d, again, sizeof again, &again_len), STATE_OK);
	assert_int_equal(again_len, len);
	assert_memory_equal(again, buf, len);
	assert_true(d.spend_cents == UINT64_MAX && d.dept_cents[20] == UINT64_MAX && d.last_event_ms == INT64_MIN);

	buf[0] = 99;
	assert_int_equal(state_customer_decode(buf, len, &d), STATE_VERSION);
}

static void test_decode_rejects_corrupt_fixture(void **state)
{
	(void)state;
	/* version 1, then a histogram whose bin indexes go backwards */
	const uint8_t backwards[] = { 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 2, 5, 1, 3, 1, 0, 0, 0, 0, 0, 0, 0 };
	struct state_customer d;
	assert_int_equal(state_customer_decode(backwards, sizeof backwards, &d), STATE_CORRUPT);
	const uint8_t bin_out_of_range[] = { 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 1, 31, 1, 0, 0, 0, 0, 0, 0, 0 };
	assert_int_equal(state_customer_decode(bin_out_of_range, sizeof bin_out_of_range, &d), STATE_CORRUPT);
	const uint8_t endless_varint[] = { 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
	assert_int_equal(state_customer_decode(endless_varint, sizeof endless_varint, &d), STATE_CORRUPT);

	/* version 2: 12 scalars, then days_lines' bitmap (bin 0 set) and value, then the other 7
	 * histograms empty (bitmaps of 4, 3, 3, 1, 3, 1, 3 bytes) */
	uint8_t v2[] = { 2, 1, 0, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0x01, 0, 0, 0, 7,
			 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,    0, 0, 0, 0 };
	assert_int_equal(state_customer_decode(v2, sizeof v2, &d), STATE_OK);
	assert_int_equal(d.days_lines[0], 7);
	/* version 3: version 2's bytes with a CRC; no cents per day or hour (they read as 0) */
	uint8_t v3[sizeof v2 + 4];
	memcpy(v3, v2, sizeof v2);
	v3[0] = 3;
	uint32_t crc = (uint32_t)crc32(0L, v3, (uInt)sizeof v2);
	for (int i = 0; i < 4; i++)
		v3[sizeof v2 + (size_t)i] = (uint8_t)(crc >> (8 * i));
	memset(&d, 0xff, sizeof d);
	assert_int_equal(state_customer_decode(v3, sizeof v3, &d), STATE_OK);
	assert_int_equal(d.days_lines[0], 7);
	assert_true(d.dow_cents[0] == 0 && d.hour_cents[23] == 0);
	v3[0] = STATE_RECORD_VERSION; /* the same bytes as version 4 lack the two cents histograms */
	crc = (uint32_t)crc32(0L, v3, (uInt)sizeof v2);
	for (int i = 0; i < 4; i++)
		v3[sizeof v2 + (size_t)i] = (uint8_t)(crc >> (8 * i));
	assert_int_equal(state_customer_decode(v3, sizeof v3, &d), STATE_CORRUPT);
	v2[17] = 0; /* a bin marked non-zero holding zero */
	assert_int_equal(state_customer_decode(v2, sizeof v2, &d), STATE_CORRUPT);
	v2[17] = 7;
	v2[16] = 0x80; /* bin 31 of a 31-bin histogram */
	assert_int_equal(state_customer_decode(v2, sizeof v2, &d), STATE_CORRUPT);
}

/* Records written by version 1 (bin index/value pairs) still read, and are rewritten as the current version. */
static void test_decode_version1(void **state)
{
	(void)state;
	const uint8_t v1[] = {
		1, 5, 0, 1, 1,  2,    1,    0, 0, 1, 2,  0xfa, 0x01, 4, /* scalars; spend 250, event time 2 */
		0, 0,                                                   /* day histograms: first order only */
		1, 3, 2, 1, 3,  0xfa, 0x01,                             /* department 4: 2 items, 250 cents */
		1, 2, 1, 1, 10, 1,    1,    2, 2, 1, 10, 2,             /* dow 2, hour 10: 1 order, 2 lines */
	};
	struct state_customer d, again;
	assert_int_equal(state_customer_decode(v1, sizeof v1, &d), STATE_OK);
	assert_int_equal(d.user_id, 5);
	assert_int_equal(d.items, 2);
	assert_int_equal(d.priced_items, 1);
	assert_int_equal(d.spend_cents, 250);
	assert_int_equal(d.last_event_ms, 2);
	assert_int_equal(d.dept_items[3], 2);
	assert_int_equal(d.dept_cents[3], 250);
	assert_int_equal(d.dow_orders[2], 1);
	assert_int_equal(d.hour_lines[10], 2);
	uint8_t buf[STATE_RECORD_MAX];
	size_t len = 0;
	assert_int_equal(state_customer_encode(&d, buf, sizeof buf, &len), STATE_OK);
	assert_int_equal(buf[0], STATE_RECORD_VERSION);
	memset(&again, 0, sizeof again);
	assert_int_equal(state_customer_decode(buf, len, &again), STATE_OK);
	assert_memory_equal(&d, &again, sizeof d);
}

/* Version 3's CRC-32: any one byte changed anywhere in a record is refused, never read as
 * another value (version 2 had none: a flipped varint decoded as a wrong but valid record). */
static void test_record_crc_refuses_every_flip(void **state)
{
	(void)state;
	struct state_customer c, d;
	memset(&c, 0, sizeof c);
	apply_user1(&c, NULL);
	uint8_t buf[STATE_RECORD_MAX];
	size_t len = 0;
	assert_int_equal(state_customer_encode(&c, buf, sizeof buf, &len), STATE_OK);
	for (size_t i = 0; i < len; i++)
		for (int bit = 0; bit < 8; bit++) {
			buf[i] ^= (uint8_t)(1u << bit);
			int rc = state_customer_decode(buf, len, &d);
			if (rc == STATE_OK)
				fail_msg("byte %zu bit %d flipped: decoded as valid", i, bit);
			buf[i] ^= (uint8_t)(1u << bit);
		}
	assert_int_equal(state_customer_decode(buf, len, &d), STATE_OK);
}

/* ---- LMDB tests: a fresh directory each. ---- */

static int make_dir(void **state)
{
	char *dir = strdup("/tmp/segstream-state-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	*state = dir;
	return 0;
}

static int remove_dir(void **state)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf %s", (char *)*state);
	int rc = system(cmd);
	free(*state);
	return rc;
}

static struct state_db *open_db(const char *dir, size_t map_size)
{
	struct state_config cfg;
	state_config_init(&cfg);
	cfg.path = dir;
	cfg.durable = 0;
	if (map_size)
		cfg.map_size_bytes = map_size;
	struct state_db *db = NULL;
	char err[256];
	int rc = state_open(&cfg, &db, err, sizeof err);
	if (rc != STATE_OK)
		fail_msg("state_open: %s", err);
	return db;
}

static void test_batch_commit_offsets_and_reopen(void **state)
{
	const char *dir = *state;
	struct state_db *db = open_db(dir, 0);
	struct state_batch *b;
	assert_int_equal(state_batch_begin(db, &b), STATE_OK);
	struct state_batch *b2;
	assert_int_equal(state_batch_begin(db, &b2), STATE_BUSY);
	struct state_product p = { .product_id = 196, .department_id = 7, .price_cents = 637 };
	assert_int_equal(state_batch_put_product(b, &p), STATE_OK);
	struct event far = user1_event(1, 1, UINT32_MAX); /* prefetch hints change nothing, whatever the ids */
	state_batch_prefetch(b, -1, &far);
	state_batch_prefetch(b, 2, &far);
	for (int o = 1; o <= 10; o++)
		for (int k = 1; k <= user1_basket[o - 1]; k++) {
			struct event ev = user1_event(o, k, 196);
			state_batch_prefetch(b, 2, &ev);
			assert_int_equal(state_batch_apply(b, 2, &ev), STATE_OK);
		}
	struct event again = user1_event(10, 9, 196);
	assert_int_equal(state_batch_apply(b, 2, &again), STATE_OK); /* duplicate, counted */
	assert_int_equal(state_batch_set_offset(b, "events", 2, 60), STATE_OK);
	struct state_batch_stats st;
	assert_int_equal(state_batch_commit(b, &st), STATE_OK);
	assert_int_equal(st.applied, 59);
	assert_int_equal(st.duplicates, 1);
	assert_int_equal(st.customers, 1); /* coalesced: one put for 60 events */
	assert_true(st.map_pages == 0 && st.free_pages == 0 && st.put_ms == 0 && st.commit_ms == 0); /* not asked */
	state_commit_details_track(db, 1);
	assert_int_equal(state_batch_begin(db, &b), STATE_OK);
	assert_int_equal(state_batch_apply(b, 2, &again), STATE_OK);
	assert_int_equal(state_batch_commit(b, &st), STATE_OK);
	assert_int_equal(st.duplicates, 1);
	assert_true(st.map_pages > 2 && st.put_ms >= 0 && st.commit_ms >= 0); /* asked: the map's pages counted */
	state_close(db);

	db = open_db(dir, 0);
	assert_int_equal(state_product_count(db), 1); /* products reloaded from the map */
	assert_int_equal(state_product_find(db, 196)->price_cents, 637);
	int64_t next = 0;
	assert_int_equal(state_offset_get(db, "events", 2, &next), STATE_OK);
	assert_true(next == 60);
	assert_int_equal(state_offset_get(db, "events", 1, &next), STATE_NOTFOUND);
	struct state_customer c;
	assert_int_equal(state_get(db, 2, 1, &c), STATE_OK);
	assert_int_equal(c.items, 59);
	assert_int_equal(state_get(db, -1, 1, &c), STATE_OK); /* found without knowing the partition */
	assert_int_equal(c.partition, 2);
	assert_int_equal(state_get(db, 1, 1, &c), STATE_NOTFOUND);
	assert_int_equal(state_get(db, -1, 2, &c), STATE_NOTFOUND);
	state_close(db);
}

/* Applies order 1 of user 1's basket to user_id in partition (5 lines) in b. */
static void apply_first_order(struct state_batch *b, int32_t partition, uint32_t user_id)
{
	for (int k = 1; k <= user1_basket[0]; k++) {
		struct event ev = user1_event(1, k, 196);
		ev.user_id = user_id;
		assert_int_equal(state_batch_apply(b, partition, &ev), STATE_OK);
	}
}

static uint64_t last_commit(struct state_db *db)
{
	uint64_t id = 0;
	assert_int_equal(state_last_commit(db, &id), STATE_OK);
	return id;
}

/* A batch of only applied events commits whole partitions apart (a transaction ends at a
 * partition's end once it holds a quarter of the customers and 4,096), each partition with its
 * offsets; a small one, or one that writes anything else, is one transaction. */
static void test_batch_commits_partitions_apart(void **state)
{
	const char *dir = *state;
	struct state_db *db = open_db(dir, 0);
	struct state_batch *b;
	assert_int_equal(state_batch_begin(db, &b), STATE_OK);
	for (int32_t p = 2; p >= 0; p--) /* touched out of key order: the commit sorts */
		for (uint32_t u = 1; u <= 3000; u++)
			apply_first_order(b, p, u);
	for (int32_t p = 3; p >= 0; p--) /* partition 3 has no customers: its offset goes in the last */
		assert_int_equal(state_batch_set_offset(b, "events", p, 100 + p), STATE_OK);
	uint64_t before = last_commit(db);
	struct state_batch_stats st;
	assert_int_equal(state_batch_commit(b, &st), STATE_OK);
	assert_int_equal(st.customers, 9000);
	assert_int_equal(st.applied, 45000);
	assert_int_equal(last_commit(db) - before, 2); /* partitions 0-1 (6,000), then 2 with 3's offset */
	for (int32_t p = 0; p <= 3; p++) {
		int64_t next = 0;
		assert_int_equal(state_offset_get(db, "events", p, &next), STATE_OK);
		assert_true(next == 100 + p);
	}
	uint64_t customers = 0;
	uint32_t partitions = 0;
	assert_int_equal(state_customers_extent(db, &customers, &partitions), STATE_OK);
	assert_int_equal(customers, 9000);
	struct state_customer c;
	assert_int_equal(state_get(db, 1, 3000, &c), STATE_OK);
	assert_int_equal(c.items, 5);

	/* Small: one transaction; the read-only batch sees what the last ones committed. */
	assert_int_equal(state_batch_begin(db, &b), STATE_OK);
	apply_first_order(b, 1, 3000); /* a duplicate now */
	apply_first_order(b, 3, 7);
	assert_int_equal(state_batch_set_offset(b, "events", 3, 200), STATE_OK);
	before = last_commit(db);
	assert_int_equal(state_batch_commit(b, &st), STATE_OK);
	assert_int_equal(st.duplicates, 5);
	assert_int_equal(last_commit(db) - before, 1);

	/* Anything else written: one write transaction from then on, offsets set before it kept. */
	assert_int_equal(state_batch_begin(db, &b), STATE_OK);
	for (uint32_t u = 1; u <= 3000; u++) {
		struct event ev = user1_event(2, 1, 196);
		ev.user_id = u;
		assert_int_equal(state_batch_apply(b, 0, &ev), STATE_OK);
		ev.user_id = u + 10000;
		assert_int_equal(state_batch_apply(b, 2, &ev), STATE_OK);
		assert_int_equal(state_batch_apply(b, 1, &ev), STATE_OK);
	}
	assert_int_equal(state_batch_set_offset(b, "events", 0, 300), STATE_OK);
	struct state_product prod = { .product_id = 196, .department_id = 7, .price_cents = 637 };
	assert_int_equal(state_batch_put_product(b, &prod), STATE_OK);
	assert_int_equal(state_batch_set_offset(b, "events", 1, 301), STATE_OK);
	before = last_commit(db);
	assert_int_equal(state_batch_commit(b, &st), STATE_OK);
	assert_int_equal(last_commit(db) - before, 1);
	int64_t next = 0;
	assert_int_equal(state_offset_get(db, "events", 0, &next), STATE_OK);
	assert_true(next == 300);
	assert_int_equal(state_offset_get(db, "events", 1, &next), STATE_OK);
	assert_true(next == 301);
	assert_int_equal(state_get(db, 0, 3000, &c), STATE_OK);
	assert_int_equal(c.orders, 2);
	assert_int_equal(state_get(db, 2, 13000, &c), STATE_OK);
	assert_int_equal(c.orders, 1);
	assert_int_equal(state_product_find(db, 196)->price_cents, 637);

	/* Offsets alone; and an abort of a read-only batch leaves nothing. */
	assert_int_equal(state_batch_begin(db, &b), STATE_OK);
	assert_int_equal(state_batch_set_offset(b, "events", 5, 500), STATE_OK);
	assert_int_equal(state_batch_commit(b, NULL), STATE_OK);
	assert_int_equal(state_offset_get(db, "events", 5, &next), STATE_OK);
	assert_true(next == 500);
	assert_int_equal(state_batch_begin(db, &b), STATE_OK);
	apply_first_order(b, 6, 1);
	assert_int_equal(state_batch_set_offset(b, "events", 6, 600), STATE_OK);
	state_batch_abort(b);
	assert_int_equal(state_offset_get(db, "events", 6, &next), STATE_NOTFOUND);
	assert_int_equal(state_get(db, 6, 1, &c), STATE_NOTFOUND);
	state_close(db);
}

static void test_batch_abort_leaves_no_trace(void **state)
{
	struct state_db *db = open_db(*state, 0);
	struct state_batch *b;
	assert_int_equal(state_batch_begin(db, &b), STATE_OK);
	struct state_product p = { .product_id = 7, .department_id = 1, .price_cents = 100 };
	assert_int_equal(state_batch_put_product(b, &p), STATE_OK);
	struct event ev = user1_event(1, 1, 7);
	assert_int_equal(state_batch_apply(b, 0, &ev), STATE_OK);
	assert_int_equal(state_batch_set_offset(b, "events", 0, 1), STATE_OK);
	state_batch_abort(b);
	struct state_customer c;
	int64_t next;
	assert_int_equal(state_get(db, 0, 1, &c), STATE_NOTFOUND);
	assert_int_equal(state_offset_get(db, "events", 0, &next), STATE_NOTFOUND);
	assert_null(state_product_find(db, 7));
	assert_int_equal(state_batch_begin(db, &b), STATE_OK); /* the db is usable again */
	state_batch_abort(b);
	state_close(db);
}

static int count_cb(const struct state_customer *c, const struct event_customer *d, void *ctx)
{
	int *counts = ctx; /* [0] customers, [1] with demographics */
	counts[0]++;
	if (d) {
		assert_int_equal(d->user_id, c->user_id);
		assert_int_equal(d->income, 1000 * c->user_id);
		counts[1]++;
	}
	return 0;
}

static void test_foreach_and_partitions(void **state)
{
	struct state_db *db = open_db(*state, 0);
	struct state_batch *b;
	assert_int_equal(state_batch_begin(db, &b), STATE_OK);
	for (uint32_t u = 1; u <= 100; u++) {
		struct event ev = user1_event(1, 1, 9);
		ev.user_id = u;
		assert_int_equal(state_batch_apply(b, (int32_t)(u % 3), &ev), STATE_OK);
	}
	for (uint32_t u = 1; u <= 10; u++) {
		struct event_customer d = { .user_id = u,
					    .state = 8,
					    .age = 40,
					    .joined_day = 17167,
					    .n_dependants = 2,
					    .fam_status = 0,
					    .income = 1000 * u,
					    .gender = 1 };
		assert_int_equal(state_batch_put_demographics(b, &d), STATE_OK);
	}
	assert_int_equal(state_batch_commit(b, NULL), STATE_OK);
	int all[2] = { 0, 0 }, p1[2] = { 0, 0 };
	assert_int_equal(state_foreach_customer(db, -1, count_cb, all), STATE_OK);
	assert_int_equal(state_foreach_customer(db, 1, count_cb, p1), STATE_OK);
	assert_int_equal(all[0], 100);
	assert_int_equal(all[1], 10);
	assert_int_equal(p1[0], 34);
	struct event_customer d;
	assert_int_equal(state_demographics_get(db, 7, &d), STATE_OK);
	assert_int_equal(d.state, 8);
	assert_int_equal(d.n_dependants, 2);
	assert_int_equal(d.joined_day, 17167);
	assert_int_equal(state_demographics_get(db, 11, &d), STATE_NOTFOUND);
	state_close(db);
}

struct key_walk {
	uint32_t part[16], user[16];
	int n;
	int32_t offset_part[4];
	int64_t offset_next[4];
	int n_offsets;
};

static int key_walk_cb(const struct state_customer *c, const struct event_customer *d, void *ctx)
{
	(void)d;
	struct key_walk *w = ctx;
	assert_true(w->n < 16);
	w->part[w->n] = c->partition;
	w->user[w->n++] = c->user_id;
	return 0;
}

static int key_walk_offset_cb(const char *topic, int32_t partition, int64_t next_offset, void *ctx)
{
	struct key_walk *w = ctx;
	assert_string_equal(topic, "events");
	assert_true(w->n_offsets < 4);
	w->offset_part[w->n_offsets] = partition;
	w->offset_next[w->n_offsets++] = next_offset;
	return 0;
}

/* What state_snapshot_walk_named() handed over; the first name commits a batch meanwhile. */
struct named_walk {
	struct state_db *db;
	int n_names, n_customers;
	uint8_t kind[4];
	uint32_t id[4];
	char name[4][EVENT_NAME_MAX];
};

static int named_walk_name_cb(enum event_name_kind kind, uint32_t id, const char *name, void *ctx)
{
	struct named_walk *w = ctx;
	if (w->n_names == 0) { /* a commit while the walk's transaction is open: the walk must not see it */
		struct state_batch *b;
		struct event_name renamed = { EVENT_NAME_AISLE, 3, "renamed" }, added = { EVENT_NAME_AISLE, 9, "new" };
		struct event ev = user1_event(1, 1, 9);
		ev.user_id = 42;
		assert_int_equal(state_batch_begin(w->db, &b), STATE_OK);
		assert_int_equal(state_batch_put_name(b, &renamed), STATE_OK);
		assert_int_equal(state_batch_put_name(b, &added), STATE_OK);
		assert_int_equal(state_batch_apply(b, 0, &ev), STATE_OK);
		assert_int_equal(state_batch_commit(b, NULL), STATE_OK);
	}
	assert_true(w->n_names < 4);
	w->kind[w->n_names] = (uint8_t)kind;
	w->id[w->n_names] = id;
	strcpy(w->name[w->n_names++], name);
	return 0;
}

static int named_walk_offset_cb(const char *topic, int32_t partition, int64_t next_offset, void *ctx)
{
	(void)topic, (void)partition, (void)next_offset, (void)ctx;
	return 0;
}

static int named_walk_customer_cb(const struct state_customer *c, const struct event_customer *d, void *ctx)
{
	(void)d;
	struct named_walk *w = ctx;
	assert_int_equal(c->user_id, 1); /* not 42, committed after the walk began */
	w->n_customers++;
	return 0;
}

/* The snapshot walk reads the names in its own read transaction, in (kind, id) order, with the
 * customers: a snapshot reports and labels by the names of the point it walks. */
static void test_snapshot_walk_names_in_its_transaction(void **state)
{
	struct state_db *db = open_db(*state, 0);
	struct state_batch *b;
	struct event_name names[] = { { EVENT_NAME_AISLE, 3, "fresh fruits" },
				      { EVENT_NAME_DEPARTMENT, 7, "beverages" },
				      { EVENT_NAME_DEPARTMENT, 1, "frozen" } };
	struct event ev = user1_event(1, 1, 9);
	assert_int_equal(state_batch_begin(db, &b), STATE_OK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(state_batch_put_name(b, &names[i]), STATE_OK);
	assert_int_equal(state_batch_apply(b, 0, &ev), STATE_OK);
	assert_int_equal(state_batch_commit(b, NULL), STATE_OK);

	struct named_walk w = { .db = db };
	assert_int_equal(state_snapshot_walk_named(db, named_walk_name_cb, named_walk_offset_cb, named_walk_customer_cb,
						   named_walk_customer_cb, &w),
			 STATE_OK);
	assert_int_equal(w.n_names, 3); /* not the aisle added meanwhile */
	assert_int_equal(w.kind[0], EVENT_NAME_DEPARTMENT);
	assert_int_equal(w.id[0], 1);
	assert_string_equal(w.name[0], "frozen");
	assert_int_equal(w.kind[1], EVENT_NAME_DEPARTMENT);
	assert_int_equal(w.id[1], 7);
	assert_string_equal(w.name[1], "beverages");
	assert_int_equal(w.kind[2], EVENT_NAME_AISLE);
	assert_int_equal(w.id[2], 3);
	assert_string_equal(w.name[2], "fresh fruits"); /* not "renamed", committed meanwhile */
	assert_int_equal(w.n_customers, 2);             /* user 1 in both passes */

	char name[EVENT_NAME_MAX]; /* the commit in the callback did land */
	assert_int_equal(state_name_get(db, EVENT_NAME_AISLE, 3, name, sizeof name), STATE_OK);
	assert_string_equal(name, "renamed");
	state_close(db);
}

/* Keys are big-endian so that LMDB's byte order is the numeric (partition, user_id) order: walks,
 * MDB_APPEND in bulk loads and the any-partition lookup rely on it. The ids straddle byte
 * boundaries (255/256, 65536, 1 << 24), where a little-endian key would sort differently. */
static void test_keys_sort_by_partition_then_user(void **state)
{
	struct state_db *db = open_db(*state, 0);
	struct state_batch *b;
	assert_int_equal(state_batch_begin(db, &b), STATE_OK);
	struct state_customer c = { .orders = 1 };
	const uint32_t in_order[][2] = { { 0, 255 }, { 0, 256 }, { 0, 65536 }, { 1, 1 } };
	for (int i = 0; i < 4; i++) {
		c.partition = in_order[i][0];
		c.user_id = in_order[i][1];
		assert_int_equal(state_batch_put_customer(b, &c, 1), STATE_OK);
	}
	c.partition = 0;
	c.user_id = 1u << 24; /* numerically before (1, 1): appending it is out of order */
	assert_int_equal(state_batch_put_customer(b, &c, 1), STATE_INVAL);
	state_batch_abort(b);

	const uint32_t scrambled[][2] = { { 256, 7 }, { 1, 1 },     { 0, 1u << 24 }, { 0, 256 },
					  { 256, 1 }, { 0, 65536 }, { 0, 255 },      { 1, 256 } };
	assert_int_equal(state_batch_begin(db, &b), STATE_OK);
	for (int i = 0; i < 8; i++) {
		struct event ev = user1_event(1, 1, 9);
		ev.user_id = scrambled[i][1];
		assert_int_equal(state_batch_apply(b, (int32_t)scrambled[i][0], &ev), STATE_OK);
	}
	assert_int_equal(state_batch_set_offset(b, "events", 70000, 9), STATE_OK);
	assert_int_equal(state_batch_set_offset(b, "events", 256, 5), STATE_OK);
	assert_int_equal(state_batch_commit(b, NULL), STATE_OK);

	struct key_walk w = { .n = 0 };
	assert_int_equal(state_snapshot_walk(db, key_walk_offset_cb, key_walk_cb, &w), STATE_OK);
	const uint32_t sorted[][2] = { { 0, 255 }, { 0, 256 }, { 0, 65536 }, { 0, 1u << 24 },
				       { 1, 1 },   { 1, 256 }, { 256, 1 },   { 256, 7 } };
	assert_int_equal(w.n, 8);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(w.part[i], sorted[i][0]);
		assert_int_equal(w.user[i], sorted[i][1]);
	}
	assert_int_equal(w.n_offsets, 2);
	assert_int_equal(w.offset_part[0], 256);
	assert_true(w.offset_next[0] == 5);
	assert_int_equal(w.offset_part[1], 70000);
	assert_true(w.offset_next[1] == 9);

	struct key_walk p256 = { .n = 0 };
	assert_int_equal(state_foreach_customer(db, 256, key_walk_cb, &p256), STATE_OK);
	assert_int_equal(p256.n, 2);
	assert_int_equal(p256.user[0], 1);
	assert_int_equal(p256.user[1], 7);
	struct state_customer got;
	assert_int_equal(state_get(db, -1, 7, &got), STATE_OK); /* only in partition 256 */
	assert_int_equal(got.partition, 256);
	assert_int_equal(state_get(db, -1, 256, &got), STATE_OK); /* the first partition that has it */
	assert_int_equal(got.partition, 0);
	assert_int_equal(state_get(db, -1, 65535, &got), STATE_NOTFOUND);
	state_close(db);
}

/* A record encoded elsewhere (backfill encodes on another thread) is stored as given and reads
 * back as the customer; appending out of key order and an over-long record are refused. */
static void test_put_encoded_reads_back(void **state)
{
	struct state_db *db = open_db(*state, 0);
	struct state_batch *b;
	assert_int_equal(state_batch_begin(db, &b), STATE_OK);
	struct state_customer c = { .user_id = 42, .partition = 1, .orders = 3, .items = 7, .spend_cents = 1234 };
	c.dow_orders[2] = 3;
	uint8_t rec[STATE_RECORD_MAX + 1];
	size_t len = 0;
	assert_int_equal(state_customer_encode(&c, rec, STATE_RECORD_MAX, &len), STATE_OK);
	assert_int_equal(state_batch_put_encoded(b, 1, 42, rec, len, 1), STATE_OK);
	assert_int_equal(state_batch_put_encoded(b, 0, 43, rec, len, 1), STATE_INVAL); /* before (1, 42) */
	assert_int_equal(state_batch_put_encoded(b, 1, 44, rec, STATE_RECORD_MAX + 1, 1), STATE_INVAL);
	assert_int_equal(state_batch_commit(b, NULL), STATE_OK);
	struct state_customer got;
	assert_int_equal(state_get(db, 1, 42, &got), STATE_OK);
	assert_true(got.user_id == 42 && got.partition == 1 && got.orders == 3 && got.items == 7 &&
		    got.spend_cents == 1234 && got.dow_orders[2] == 3);
	assert_int_equal(state_get(db, 0, 43, &got), STATE_NOTFOUND);
	state_close(db);
}

static void test_map_full_returns_efull(void **state)
{
	struct state_db *db = open_db(*state, 256 * 1024);
	struct state_batch *b;
	assert_int_equal(state_batch_begin(db, &b), STATE_OK);
	for (uint32_t u = 1; u <= 20000; u++) {
		struct event ev = user1_event(1, 1, 9);
		ev.user_id = u;
		assert_int_equal(state_batch_apply(b, 0, &ev), STATE_OK);
	}
	assert_int_equal(state_batch_commit(b, NULL), STATE_FULL);
	struct state_customer c;
	assert_int_equal(state_get(db, 0, 1, &c), STATE_NOTFOUND);
	state_close(db);
}

/* Writes 3000 customers, products and demographics through batches, and closes. */
static void fill(const char *dir)
{
	struct state_db *db = open_db(dir, 0);
	struct state_batch *b;
	assert_int_equal(state_batch_begin(db, &b), STATE_OK);
	for (uint32_t p = 1; p <= 500; p++) {
		struct state_product prod = {
			.product_id = p, .aisle_id = p % 7, .department_id = 3, .price_cents = 100
		};
		assert_int_equal(state_batch_put_product(b, &prod), STATE_OK);
	}
	for (uint32_t u = 1; u <= 3000; u++) {
		struct event ev = user1_event(1, 1, u % 500 + 1);
		ev.user_id = u;
		assert_int_equal(state_batch_apply(b, (int32_t)(u % 2), &ev), STATE_OK);
		struct event_customer d = { .user_id = u, .age = 30, .income = 1000 };
		assert_int_equal(state_batch_put_demographics(b, &d), STATE_OK);
	}
	assert_int_equal(state_batch_set_offset(b, "events", 0, 42), STATE_OK);
	assert_int_equal(state_batch_commit(b, NULL), STATE_OK);
	state_close(db);
}

static int try_open(const char *dir, char *err, size_t err_len)
{
	struct state_config cfg;
	state_config_init(&cfg);
	cfg.path = dir;
	cfg.read_only = 1;
	struct state_db *db = NULL;
	int rc = state_open(&cfg, &db, err, err_len);
	state_close(db);
	return rc;
}

/* A truncated data.mdb is refused at open, naming the cause (reading it gave SIGBUS). */
static void test_truncated_file_is_refused(void **state)
{
	const char *dir = *state;
	fill(dir);
	char path[512], err[512] = "";
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	struct state_db *db = open_db(dir, 0);
	struct state_verify_report rep;
	assert_int_equal(state_verify(db, &rep), STATE_OK);
	assert_string_equal(rep.first_error, "");
	assert_int_equal(rep.customers, 3000);
	assert_int_equal(rep.products, 500);
	assert_int_equal(rep.demographics, 3000);
	assert_int_equal(rep.offsets, 1);
	state_close(db);
	assert_int_equal(truncate(path, (off_t)(rep.file_bytes / 2)), 0);
	assert_int_equal(try_open(dir, err, sizeof err), STATE_CORRUPT);
	if (!strstr(err, "truncated"))
		fail_msg("message: %s", err);
}

/* One customer record's byte flipped inside the file: reads and state_verify() refuse it. */
static void test_flipped_record_is_refused(void **state)
{
	const char *dir = *state;
	fill(dir);
	struct state_customer c;
	struct state_db *db = open_db(dir, 0);
	assert_int_equal(state_get(db, 1, 777, &c), STATE_OK);
	state_close(db);
	uint8_t rec[STATE_RECORD_MAX];
	size_t len;
	assert_int_equal(state_customer_encode(&c, rec, sizeof rec, &len), STATE_OK);
	char path[512], err[512] = "";
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	FILE *f = fopen(path, "r+b");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	uint8_t *data = malloc((size_t)size);
	fseek(f, 0, SEEK_SET);
	assert_int_equal(fread(data, 1, (size_t)size, f), (size_t)size);
	uint8_t *at = NULL;
	for (long i = 0; !at && i + (long)len <= size; i++)
		if (memcmp(data + i, rec, len) == 0)
			at = data + i;
	assert_non_null(at);
	fseek(f, (long)(at - data) + 3, SEEK_SET);
	fputc(at[3] ^ 0x01, f); /* items 1 -> 0 or similar: still a valid varint */
	fclose(f);
	free(data);
	/* The pages are sound, so the open (page checks) succeeds; the record is refused when read,
	 * and state_verify() (every row) names it. */
	db = open_db(dir, 0);
	assert_int_equal(state_get(db, 1, 777, &c), STATE_CORRUPT);
	assert_int_equal(state_get(db, -1, 777, &c), STATE_CORRUPT);
	assert_int_equal(state_get(db, 1, 779, &c), STATE_OK);
	struct state_verify_report rep;
	assert_int_equal(state_verify(db, &rep), STATE_CORRUPT);
	if (!strstr(rep.first_error, "customers") || !strstr(rep.first_error, "user 777"))
		fail_msg("first error: %s", rep.first_error);
	state_close(db);
	(void)err;
}

/* Puts one raw row into a table of a closed state, as an older segstream wrote it. */
static void put_raw(const char *dir, const char *table, const void *key, size_t key_len, const void *val,
		    size_t val_len)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 8);
	assert_int_equal(mdb_env_open(env, dir, MDB_NOTLS, 0644), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, table, 0, &dbi), 0);
	MDB_val k = { key_len, (void *)key }, v = { val_len, (void *)val };
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/* Rows written before the CRCs (customer record version 2, product and demographics version 1,
 * 8-byte offsets) still read, and state_verify() accepts them. */
static void test_rows_without_crc_still_read(void **state)
{
	const char *dir = *state;
	struct state_db *db = open_db(dir, 0); /* creates the tables */
	state_close(db);
	/* version 2: user 5 of partition 0 with one line (the fixture of test_decode_rejects_corrupt_fixture) */
	const uint8_t v2[] = { 2, 5, 0, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0x01, 0, 0, 0, 7,
			       0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,    0, 0, 0, 0 };
	const uint8_t ckey[8] = { 0, 0, 0, 0, 0, 0, 0, 5 };
	put_raw(dir, "customers", ckey, sizeof ckey, v2, sizeof v2);
	const uint8_t pkey[4] = { 0, 0, 0, 9 };
	const uint8_t p1[13] = { 1, 4, 0, 0, 0, 250, 0, 0, 0, 7, 0, 0, 0 }; /* aisle 4, 250 cents, department 7 */
	put_raw(dir, "products", pkey, sizeof pkey, p1, sizeof p1);
	const uint8_t dkey[4] = { 0, 0, 0, 5 };
	const uint8_t d1[18] = { 1, 5, 0, 0, 0, 10, 0, 0, 0, 0x10, 0x27, 0, 0, 3, 40, 2, 1, 2 };
	put_raw(dir, "demographics", dkey, sizeof dkey, d1, sizeof d1);
	const uint8_t okey[] = { 'e', 'v', 0, 0, 0, 0, 1 };
	const uint8_t o8[8] = { 42, 0, 0, 0, 0, 0, 0, 0 };
	put_raw(dir, "offsets", okey, sizeof okey, o8, sizeof o8);

	db = open_db(dir, 0);
	struct state_customer c;
	assert_int_equal(state_get(db, 0, 5, &c), STATE_OK);
	assert_int_equal(c.user_id, 5);
	assert_int_equal(c.days_lines[0], 7);
	const struct state_product *p = state_product_find(db, 9);
	assert_non_null(p);
	assert_int_equal(p->price_cents, 250);
	assert_int_equal(p->department_id, 7);
	struct event_customer d;
	assert_int_equal(state_demographics_get(db, 5, &d), STATE_OK);
	assert_int_equal(d.joined_day, 10);
	assert_int_equal(d.income, 10000);
	assert_int_equal(d.age, 40);
	int64_t next = 0;
	assert_int_equal(state_offset_get(db, "ev", 1, &next), STATE_OK);
	assert_true(next == 42);
	struct state_verify_report rep;
	assert_int_equal(state_verify(db, &rep), STATE_OK);
	assert_true(rep.customers == 1 && rep.products == 1 && rep.demographics == 1 && rep.offsets == 1);
	state_close(db);
}

/* Names: put in a batch, read back by (kind, id), replaced by a later put, gone with an abort;
 * a read-only open of a state made before the names table reads none instead of failing. */
static void test_names(void **state)
{
	const char *dir = *state;
	struct state_db *db = open_db(dir, 0);
	struct state_batch *b;
	struct event_name frozen = { EVENT_NAME_DEPARTMENT, 1, "frozen" },
			  aisle = { EVENT_NAME_AISLE, 1, "prepared soups" };
	char name[EVENT_NAME_MAX];
	assert_int_equal(state_name_get(db, EVENT_NAME_DEPARTMENT, 1, name, sizeof name), STATE_NOTFOUND);
	assert_int_equal(state_batch_begin(db, &b), STATE_OK);
	assert_int_equal(state_batch_put_name(b, &frozen), STATE_OK);
	assert_int_equal(state_batch_put_name(b, &aisle), STATE_OK);
	strcpy(aisle.name, "prepared soups salads");
	assert_int_equal(state_batch_put_name(b, &aisle), STATE_OK);
	struct event_name bad = { EVENT_NAME_AISLE, 0, "x" };
	assert_int_equal(state_batch_put_name(b, &bad), STATE_INVAL);
	struct state_batch_stats st;
	assert_int_equal(state_batch_commit(b, &st), STATE_OK);
	assert_int_equal(st.names, 3);
	assert_int_equal(state_name_get(db, EVENT_NAME_DEPARTMENT, 1, name, sizeof name), STATE_OK);
	assert_string_equal(name, "frozen");
	assert_int_equal(state_name_get(db, EVENT_NAME_AISLE, 1, name, sizeof name), STATE_OK);
	assert_string_equal(name, "prepared soups salads");
	assert_int_equal(state_name_get(db, EVENT_NAME_AISLE, 2, name, sizeof name), STATE_NOTFOUND);
	assert_int_equal(state_name_get(db, EVENT_NAME_DEPARTMENT, 1, name, 6), STATE_INVAL);
	assert_int_equal(state_batch_begin(db, &b), STATE_OK);
	struct event_name other = { EVENT_NAME_DEPARTMENT, 2, "other" };
	assert_int_equal(state_batch_put_name(b, &other), STATE_OK);
	state_batch_abort(b);
	assert_int_equal(state_name_get(db, EVENT_NAME_DEPARTMENT, 2, name, sizeof name), STATE_NOTFOUND);
	state_close(db);
	/* A state of an older segstream: no names table. */
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 8);
	assert_int_equal(mdb_env_set_mapsize(env, (size_t)1 << 30), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0644), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "names", 0, &dbi), 0);
	assert_int_equal(mdb_drop(txn, dbi, 1), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	struct state_config cfg;
	char err[256];
	state_config_init(&cfg);
	cfg.path = dir;
	cfg.read_only = 1;
	assert_int_equal(state_open(&cfg, &db, err, sizeof err), STATE_OK);
	assert_int_equal(state_name_get(db, EVENT_NAME_DEPARTMENT, 1, name, sizeof name), STATE_NOTFOUND);
	state_close(db);
	db = open_db(dir, 0); /* a writer creates the table */
	assert_int_equal(state_batch_begin(db, &b), STATE_OK);
	assert_int_equal(state_batch_put_name(b, &frozen), STATE_OK);
	assert_int_equal(state_batch_commit(b, NULL), STATE_OK);
	assert_int_equal(state_name_get(db, EVENT_NAME_DEPARTMENT, 1, name, sizeof name), STATE_OK);
	state_close(db);
}

static void test_close_null_and_strerror(void **state)
{
	(void)state;
	state_close(NULL);
	state_batch_abort(NULL);
	assert_string_equal(state_errname(STATE_FULL), "STATE_FULL");
	assert_string_equal(state_strerror(STATE_VERSION), "stored record has an unknown version");
}

/* A product id far beyond the products held is refused without growing the in-memory table
 * (#14: one stray id near 2^32 asked for ~64 GB); the limit grows with the table. */
static void test_product_ids_bounded_by_products_held(void **state)
{
	const char *dir = *state;
	struct state_db *db = open_db(dir, 0);
	struct state_batch *b;
	assert_int_equal(state_product_id_limit(db), STATE_PRODUCT_ID_FLOOR);
	assert_int_equal(state_batch_begin(db, &b), STATE_OK);
	struct state_product p = { .product_id = 7, .department_id = 1, .price_cents = 100 };
	assert_int_equal(state_batch_put_product(b, &p), STATE_OK);
	p.product_id = 4000000000u;
	assert_int_equal(state_batch_put_product(b, &p), STATE_INVAL);
	p.product_id = STATE_PRODUCT_ID_FLOOR;
	assert_int_equal(state_batch_put_product(b, &p), STATE_INVAL);
	p.product_id = STATE_PRODUCT_ID_FLOOR - 1;
	assert_int_equal(state_batch_put_product(b, &p), STATE_OK);
	assert_int_equal(state_batch_commit(b, NULL), STATE_OK);
	assert_int_equal(state_product_count(db), 2);
	assert_null(state_product_find(db, 4000000000u));
	assert_non_null(state_product_find(db, STATE_PRODUCT_ID_FLOOR - 1));
	state_close(db);
}

/* ---- Partitions: raw copies, drop, the change set (state/partition.c). ---- */

/* Applies user u's first order (3 lines) in partition p of a batch. */
static void apply_order(struct state_batch *b, int32_t p, uint32_t u, int order)
{
	for (int k = 1; k <= 3; k++) {
		struct event ev = user1_event(order, k, 196);
		ev.user_id = u;
		assert_int_equal(state_batch_apply(b, p, &ev), STATE_OK);
	}
}

struct raw_copy {
	int n;
	uint32_t part[8], user[8];
	size_t len[8];
	uint8_t rec[8][STATE_RECORD_MAX];
	int offsets; /* off_cb calls */
	int32_t off_part[8];
	int64_t off_next[8];
	int order_ok; /* each offset came after its partition's records */
};

static int copy_raw(uint32_t partition, uint32_t user_id, const void *rec, size_t len, void *ctx)
{
	struct raw_copy *rc = ctx;
	assert_true(rc->n < 8 && len <= STATE_RECORD_MAX);
	if (rc->offsets && (int32_t)partition <= rc->off_part[rc->offsets - 1])
		rc->order_ok = 0;
	rc->part[rc->n] = partition;
	rc->user[rc->n] = user_id;
	rc->len[rc->n] = len;
	memcpy(rc->rec[rc->n++], rec, len);
	return 0;
}

static int copy_offset(const char *topic, int32_t partition, int64_t next, void *ctx)
{
	struct raw_copy *rc = ctx;
	assert_string_equal(topic, "events");
	rc->off_part[rc->offsets] = partition;
	rc->off_next[rc->offsets++] = next;
	return 0;
}

static void test_partition_copy_is_byte_identical_and_drop(void **state)
{
	char a_dir[128], b_dir[128];
	snprintf(a_dir, sizeof a_dir, "%s/a", (char *)*state);
	snprintf(b_dir, sizeof b_dir, "%s/b", (char *)*state);
	struct state_db *a = open_db(a_dir, 0), *b = open_db(b_dir, 0);
	struct state_batch *bt;
	assert_int_equal(state_batch_begin(a, &bt), STATE_OK);
	apply_order(bt, 1, 10, 1);
	apply_order(bt, 1, 11, 1);
	apply_order(bt, 2, 12, 1);
	assert_int_equal(state_batch_set_offset(bt, "events", 1, 6), STATE_OK);
	assert_int_equal(state_batch_set_offset(bt, "events", 2, 3), STATE_OK);
	assert_int_equal(state_batch_commit(bt, NULL), STATE_OK);

	struct raw_copy src = { .order_ok = 1 };
	int64_t next = 0;
	assert_int_equal(state_partition_walk_raw(a, "events", 1, copy_raw, &src, &next), STATE_OK);
	assert_int_equal(src.n, 2);
	assert_true(next == 6);
	assert_int_equal(src.user[0], 10);
	assert_int_equal(state_partition_walk_raw(a, "events", 5, copy_raw, &src, &next), STATE_OK);
	assert_true(next == -1); /* nothing stored */

	/* Into b: refused bytes first (a flipped byte, another key), then the copy. */
	assert_int_equal(state_batch_begin(b, &bt), STATE_OK);
	uint8_t bad[STATE_RECORD_MAX];
	memcpy(bad, src.rec[0], src.len[0]);
	bad[src.len[0] / 2] ^= 1;
	assert_int_equal(state_batch_put_raw(bt, 1, 10, bad, src.len[0]), STATE_CORRUPT);
	assert_int_equal(state_batch_put_raw(bt, 1, 11, src.rec[0], src.len[0]), STATE_CORRUPT);
	assert_int_equal(state_batch_put_raw(bt, 2, 10, src.rec[0], src.len[0]), STATE_CORRUPT);
	assert_int_equal(state_batch_drop_partition(bt, "events", 1, NULL), STATE_OK);
	for (int i = 0; i < src.n; i++)
		assert_int_equal(state_batch_put_raw(bt, src.part[i], src.user[i], src.rec[i], src.len[i]), STATE_OK);
	assert_int_equal(state_batch_set_offset(bt, "events", 1, next = 6), STATE_OK);
	assert_int_equal(state_batch_commit(bt, NULL), STATE_OK);
	struct raw_copy dst = { .order_ok = 1 };
	assert_int_equal(state_partition_walk_raw(b, "events", 1, copy_raw, &dst, &next), STATE_OK);
	assert_int_equal(dst.n, 2);
	assert_true(next == 6);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(dst.len[i], src.len[i]);
		assert_memory_equal(dst.rec[i], src.rec[i], src.len[i]);
	}
	struct state_customer c;
	assert_int_equal(state_get(b, 1, 11, &c), STATE_OK);
	assert_int_equal(c.items, 3);

	/* Dropping partition 1 of a: its customers and offset go, partition 2 stays. */
	uint64_t dropped = 0;
	assert_int_equal(state_batch_begin(a, &bt), STATE_OK);
	assert_int_equal(state_batch_drop_partition(bt, "events", 1, &dropped), STATE_OK);
	assert_int_equal(state_batch_commit(bt, NULL), STATE_OK);
	assert_int_equal(dropped, 2);
	assert_int_equal(state_get(a, -1, 10, &c), STATE_NOTFOUND);
	assert_int_equal(state_get(a, -1, 11, &c), STATE_NOTFOUND);
	assert_int_equal(state_offset_get(a, "events", 1, &next), STATE_NOTFOUND);
	assert_int_equal(state_get(a, 2, 12, &c), STATE_OK);
	assert_int_equal(state_offset_get(a, "events", 2, &next), STATE_OK);
	assert_true(next == 3);
	state_close(a);
	state_close(b);
}

static void test_changes_walk_each_customer_once_with_offsets(void **state)
{
	struct state_db *db = open_db(*state, 0);
	struct state_batch *bt;
	struct raw_copy w = { .order_ok = 1 };
	assert_int_equal(state_changes_walk(db, "events", copy_raw, copy_offset, &w), STATE_OK); /* off: nothing */
	assert_int_equal(w.n + w.offsets, 0);
	/* Committed while off: never in the set. */
	assert_int_equal(state_batch_begin(db, &bt), STATE_OK);
	apply_order(bt, 0, 5, 1);
	assert_int_equal(state_batch_set_offset(bt, "events", 0, 3), STATE_OK);
	assert_int_equal(state_batch_commit(bt, NULL), STATE_OK);
	assert_int_equal(state_changes_track(db, 1), STATE_OK);
	assert_int_equal(state_changes_pending(db), 0);
	/* Two batches touching customer 20 of partition 3 twice, 21 of partition 1 once. */
	assert_int_equal(state_batch_begin(db, &bt), STATE_OK);
	apply_order(bt, 3, 20, 1);
	apply_order(bt, 1, 21, 1);
	assert_int_equal(state_batch_set_offset(bt, "events", 3, 3), STATE_OK);
	assert_int_equal(state_batch_set_offset(bt, "events", 1, 3), STATE_OK);
	assert_int_equal(state_batch_commit(bt, NULL), STATE_OK);
	assert_int_equal(state_batch_begin(db, &bt), STATE_OK);
	apply_order(bt, 3, 20, 2);
	assert_int_equal(state_batch_set_offset(bt, "events", 3, 6), STATE_OK);
	assert_int_equal(state_batch_commit(bt, NULL), STATE_OK);
	/* An aborted batch adds no customer (its offset's partition is harmlessly re-read). */
	assert_int_equal(state_batch_begin(db, &bt), STATE_OK);
	apply_order(bt, 3, 22, 1);
	state_batch_abort(bt);
	assert_true(state_changes_pending(db) > 0);

	assert_int_equal(state_changes_walk(db, "events", copy_raw, copy_offset, &w), STATE_OK);
	assert_int_equal(w.n, 2);
	assert_int_equal(w.part[0], 1);
	assert_int_equal(w.user[0], 21);
	assert_int_equal(w.part[1], 3);
	assert_int_equal(w.user[1], 20);
	assert_int_equal(w.offsets, 2);
	assert_int_equal(w.off_part[0], 1);
	assert_true(w.off_next[0] == 3);
	assert_int_equal(w.off_part[1], 3);
	assert_true(w.off_next[1] == 6);
	assert_true(w.order_ok);
	/* The walked bytes are the stored record, latest version (two orders). */
	struct state_customer c;
	assert_int_equal(state_customer_decode(w.rec[1], w.len[1], &c), STATE_OK);
	assert_int_equal(c.orders, 2);

	/* The set stays until cleared; a dropped partition is skipped whole. */
	assert_int_equal(state_batch_begin(db, &bt), STATE_OK);
	assert_int_equal(state_batch_drop_partition(bt, "events", 1, NULL), STATE_OK);
	assert_int_equal(state_batch_commit(bt, NULL), STATE_OK);
	struct raw_copy w2 = { .order_ok = 1 };
	assert_int_equal(state_changes_walk(db, "events", copy_raw, copy_offset, &w2), STATE_OK);
	assert_int_equal(w2.n, 1);
	assert_int_equal(w2.part[0], 3);
	assert_int_equal(w2.offsets, 1);
	state_changes_clear(db);
	assert_int_equal(state_changes_pending(db), 0);
	struct raw_copy w3 = { .order_ok = 1 };
	assert_int_equal(state_changes_walk(db, "events", copy_raw, copy_offset, &w3), STATE_OK);
	assert_int_equal(w3.n + w3.offsets, 0);
	assert_int_equal(state_changes_track(db, 0), STATE_OK);
	state_close(db);
}

static int count_raw(uint32_t partition, uint32_t user_id, const void *rec, size_t len, void *ctx)
{
	(void)partition, (void)rec, (void)len;
	uint32_t *last = ctx;
	assert_true(user_id > last[0]); /* each customer once, in order */
	last[0] = user_id;
	last[1]++;
	return 0;
}

static int count_offset(const char *topic, int32_t partition, int64_t next, void *ctx)
{
	(void)topic, (void)partition, (void)next;
	((uint32_t *)ctx)[2]++;
	return 0;
}

/* The change set is made unique as it grows (past 65,536 entries), not only when walked. */
static void test_changes_bounded_by_customers(void **state)
{
	struct state_db *db = open_db(*state, 0);
	assert_int_equal(state_changes_track(db, 1), STATE_OK);
	for (int round = 1; round <= 3; round++) {
		struct state_batch *bt;
		assert_int_equal(state_batch_begin(db, &bt), STATE_OK);
		for (uint32_t u = 1; u <= 40000; u++) {
			struct event ev = user1_event(round, 1, 196);
			ev.user_id = u;
			assert_int_equal(state_batch_apply(bt, 0, &ev), STATE_OK);
		}
		assert_int_equal(state_batch_set_offset(bt, "events", 0, round * 40000), STATE_OK);
		assert_int_equal(state_batch_commit(bt, NULL), STATE_OK);
	}
	assert_true(state_changes_pending(db) <= 80001); /* 120,000 noted, compacted on the way */
	uint32_t seen[3] = { 0, 0, 0 };
	assert_int_equal(state_changes_walk(db, "events", count_raw, count_offset, seen), STATE_OK);
	assert_int_equal(seen[1], 40000);
	assert_int_equal(seen[2], 1);
	state_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worked_example_user1),
		cmocka_unit_test(test_duplicate_guard_and_train),
		cmocka_unit_test(test_record_roundtrip_and_rejects),
		cmocka_unit_test(test_decode_rejects_corrupt_fixture),
		cmocka_unit_test(test_decode_version1),
		cmocka_unit_test(test_record_crc_refuses_every_flip),
		cmocka_unit_test_setup_teardown(test_batch_commit_offsets_and_reopen, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_batch_commits_partitions_apart, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_batch_abort_leaves_no_trace, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_foreach_and_partitions, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_keys_sort_by_partition_then_user, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_put_encoded_reads_back, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_map_full_returns_efull, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_truncated_file_is_refused, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_flipped_record_is_refused, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_names, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_snapshot_walk_names_in_its_transaction, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_product_ids_bounded_by_products_held, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_rows_without_crc_still_read, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_partition_copy_is_byte_identical_and_drop, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_changes_walk_each_customer_once_with_offsets, make_dir,
						remove_dir),
		cmocka_unit_test_setup_teardown(test_changes_bounded_by_customers, make_dir, remove_dir),
		cmocka_unit_test(test_close_null_and_strerror),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
