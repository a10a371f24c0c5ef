/* Unit tests of event/: encoding round trips, and every way a payload can be wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <msgpack.h>

#include "event/event.h"

static struct event sample(void)
{
	struct event ev = {
		.user_id = 206209,
		.order_id = 3421083,
		.product_id = 49688,
		.order_number = 100,
		.add_to_cart_order = 145,
		.order_dow = 6,
		.order_hour = 23,
		.days_since_prior = 30,
		.reordered = 1,
		.eval_set = EVENT_EVAL_TRAIN,
		.event_time_ms = 1585699200000LL,
	};
	return ev;
}

static void assert_events_equal(const struct event *a, const struct event *b)
{
	assert_int_equal(a->user_id, b->user_id);
	assert_int_equal(a->order_id, b->order_id);
	assert_int_equal(a->product_id, b->product_id);
	assert_int_equal(a->order_number, b->order_number);
	assert_int_equal(a->add_to_cart_order, b->add_to_cart_order);
	assert_int_equal(a->order_dow, b->order_dow);
	assert_int_equal(a->order_hour, b->order_hour);
	assert_int_equal(a->days_since_prior, b->days_since_prior);
	assert_int_equal(a->reordered, b->reordered);
	assert_int_equal(a->eval_set, b->eval_set);
	assert_true(a->event_time_ms == b->event_time_ms);
}

static void test_roundtrip(void **state)
{
	(void)state;
	struct event in = sample(), out;
	uint8_t buf[EVENT_ENCODED_MAX];
	size_t len = 0;
	assert_int_equal(event_encode(&in, buf, sizeof buf, &len), EVENT_OK);
	assert_true(len > 12 && len <= EVENT_ENCODED_MAX);
	assert_int_equal(event_decode(buf, len, &out, NULL, 0), EVENT_OK);
	assert_events_equal(&in, &out);

	in.days_since_prior = EVENT_DAYS_NONE; /* first order: nil on the wire */
	in.user_id = 1;
	in.event_time_ms = -5;
	assert_int_equal(event_encode(&in, buf, sizeof buf, &len), EVENT_OK);
	assert_int_equal(event_decode(buf, len, &out, NULL, 0), EVENT_OK);
	assert_events_equal(&in, &out);
}

static void test_encode_rejects_invalid_and_small_buffer(void **state)
{
	(void)state;
	struct event ev = sample();
	uint8_t buf[EVENT_ENCODED_MAX];
	size_t len;
	ev.order_hour = 24;
	assert_int_equal(event_encode(&ev, buf, sizeof buf, &len), EVENT_RANGE);
	ev = sample();
	assert_int_equal(event_encode(&ev, buf, 8, &len), EVENT_NOSPACE);
}

/* Packs a v1 array with msgpack-c, letting the caller choose how each field is written. */
typedef void (*field_writer)(msgpack_packer *pk, int field, void *ctx);

static size_t pack_with(msgpack_sbuffer *sb, uint32_t n, field_writer w, void *ctx)
{
	msgpack_packer pk;
	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, n);
	for (uint32_t i = 0; i < n; i++)
		w(&pk, (int)i, ctx);
	return sb->size;
}

static const int64_t good_values[12] = { 1, 7, 8, 3, 2, 10, 15, 196, 4, 1, 0, 1500000000000LL };

/* Writes the good value of each field, with signed or wide encodings, as another producer might. */
static void write_signed(msgpack_packer *pk, int field, void *ctx)
{
	(void)ctx;
	msgpack_pack_int64(pk, good_values[field]);
}

static void write_uint64(msgpack_packer *pk, int field, void *ctx)
{
	(void)ctx;
	msgpack_pack_uint64(pk, (uint64_t)good_values[field]);
}

static void test_decode_accepts_any_integer_width(void **state)
{
	(void)state;
	field_writer writers[] = { write_signed, write_uint64 };
	for (size_t k = 0; k < 2; k++) {
		msgpack_sbuffer sb;
		size_t len = pack_with(&sb, 12, writers[k], NULL);
		struct event ev;
		char why[128] = "";
		assert_int_equal(event_decode(sb.data, len, &ev, why, sizeof why), EVENT_OK);
		assert_int_equal(ev.product_id, 196);
		assert_int_equal(ev.days_since_prior, 15);
		assert_true(ev.event_time_ms == 1500000000000LL);
		msgpack_sbuffer_destroy(&sb);
	}
}

/* One malformed case: which field gets which replacement, and the error expected. */
struct bad_field {
	int field;
	enum { PUT_STR, PUT_NEG, PUT_BIG, PUT_NIL, PUT_HUGE_STR, PUT_FLOAT, PUT_MAP } what;
	int expect;
};

static void write_bad(msgpack_packer *pk, int field, void *ctx)
{
	const struct bad_field *b = ctx;
	if (field != b->field) {
		msgpack_pack_int64(pk, good_values[field]);
		return;
	}
	switch (b->what) {
	case PUT_STR:
		msgpack_pack_str_with_body(pk, "42", 2);
		break;
	case PUT_NEG:
		msgpack_pack_int64(pk, -7);
		break;
	case PUT_BIG:
		msgpack_pack_uint64(pk, UINT64_MAX);
		break;
	case PUT_NIL:
		msgpack_pack_nil(pk);
		break;
	case PUT_FLOAT:
		msgpack_pack_double(pk, 1.5);
		break;
	case PUT_MAP:
		msgpack_pack_map(pk, 0);
		break;
	case PUT_HUGE_STR: {
		size_t n = 1 << 20;
		char *s = malloc(n);
		memset(s, 'x', n);
		msgpack_pack_str_with_body(pk, s, n);
		free(s);
		break;
	}
	}
}

static void test_decode_rejects_bad_fields(void **state)
{
	(void)state;
	const struct bad_field cases[] = {
		{ 1, PUT_STR, EVENT_TYPE },      { 1, PUT_NEG, EVENT_RANGE },  { 2, PUT_BIG, EVENT_RANGE },
		{ 3, PUT_NIL, EVENT_TYPE },      { 4, PUT_FLOAT, EVENT_TYPE }, { 5, PUT_MAP, EVENT_TYPE },
		{ 7, PUT_HUGE_STR, EVENT_TYPE }, { 7, PUT_NEG, EVENT_RANGE },  { 0, PUT_BIG, EVENT_RANGE },
		{ 11, PUT_NIL, EVENT_TYPE },     { 11, PUT_BIG, EVENT_TYPE },  { 9, PUT_BIG, EVENT_RANGE },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		msgpack_sbuffer sb;
		size_t len = pack_with(&sb, 12, write_bad, (void *)&cases[i]);
		struct event ev;
		char why[128] = "";
		int rc = event_decode(sb.data, len, &ev, why, sizeof why);
		if (rc != cases[i].expect)
			fail_msg("case %zu: got %s (%s), want %s", i, event_errname(rc), why,
				 event_errname(cases[i].expect));
		assert_non_null(strstr(why, ":")); /* the reason names the field */
		msgpack_sbuffer_destroy(&sb);
	}
}

static void test_decode_rejects_out_of_range_values(void **state)
{
	(void)state;
	struct {
		int field;
		int64_t value;
	} cases[] = {
		{ 1, 0 }, { 3, 0 }, { 4, 7 }, { 5, 24 }, { 6, 31 }, { 8, 0 }, { 9, 2 }, { 10, 2 }, { 3, 65536 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int64_t values[12];
		memcpy(values, good_values, sizeof values);
		values[cases[i].field] = cases[i].value;
		msgpack_sbuffer sb;
		msgpack_packer pk;
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_array(&pk, 12);
		for (int f = 0; f < 12; f++)
			msgpack_pack_int64(&pk, values[f]);
		struct event ev;
		char why[128] = "";
		assert_int_equal(event_decode(sb.data, sb.size, &ev, why, sizeof why), EVENT_RANGE);
		msgpack_sbuffer_destroy(&sb);
	}
}

static void test_decode_rejects_truncation_trailing_shape_version(void **state)
{
	(void)state;
	struct event in = sample(), out;
	uint8_t buf[EVENT_ENCODED_MAX + 4];
	size_t len;
	char why[128];
	assert_int_equal(event_encode(&in, buf, sizeof buf, &len), EVENT_OK);
	for (size_t cut = 0; cut < len; cut++)
		assert_int_equal(event_decode(buf, cut, &out, why, sizeof why), EVENT_TRUNCATED);
	buf[len] = 0x01;
	assert_int_equal(event_decode(buf, len + 1, &out, why, sizeof why), EVENT_TRAILING);

	uint8_t version2[EVENT_ENCODED_MAX];
	memcpy(version2, buf, len);
	version2[1] = 2; /* element 0 is a positive fixint right after the fixarray byte */
	assert_int_equal(event_decode(version2, len, &out, why, sizeof why), EVENT_VERSION);

	const uint8_t map[] = { 0x80 };
	assert_int_equal(event_decode(map, 1, &out, why, sizeof why), EVENT_SHAPE);
	const uint8_t short_array[] = { 0x92, 0x01, 0x05 };
	assert_int_equal(event_decode(short_array, 3, &out, why, sizeof why), EVENT_SHAPE);
	const uint8_t never_used[] = { 0xc1 };
	assert_int_equal(event_decode(never_used, 1, &out, why, sizeof why), EVENT_MALFORMED);
	/* A 4-billion-element array claimed in five bytes must not allocate anything. */
	const uint8_t huge_array[] = { 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01 };
	assert_int_equal(event_decode(huge_array, sizeof huge_array, &out, why, sizeof why), EVENT_SHAPE);
	assert_int_equal(event_decode(NULL, 0, &out, why, sizeof why), EVENT_TRUNCATED);
}

static void test_decode_survives_random_bytes(void **state)
{
	(void)state;
	struct event in = sample(), out;
	uint8_t buf[EVENT_ENCODED_MAX];
	size_t len;
	assert_int_equal(event_encode(&in, buf, sizeof buf, &len), EVENT_OK);
	unsigned seed = 12345;
	int ok = 0;
	for (int round = 0; round < 200000; round++) {
		uint8_t m[EVENT_ENCODED_MAX];
		memcpy(m, buf, len);
		seed = seed * 1103515245u + 12345u;
		m[(seed >> 8) % len] = (uint8_t)(seed >> 16);
		int rc = event_decode(m, len, &out, NULL, 0);
		assert_true(rc == EVENT_OK || (rc <= -301 && rc >= -307));
		ok += rc == EVENT_OK;
	}
	assert_true(ok > 0 && ok < 200000);
}

static void test_product_roundtrip_and_rejects(void **state)
{
	(void)state;
	struct event_product in = {
		.product_id = 21553, .aisle_id = 108, .department_id = 16, .price_cents = EVENT_NO_PRICE
	};
	struct event_product out;
	uint8_t buf[64];
	size_t len;
	char why[128];
	assert_int_equal(event_product_encode(&in, buf, sizeof buf, &len), EVENT_OK);
	assert_int_equal(event_product_decode(buf, len, &out, why, sizeof why), EVENT_OK);
	assert_int_equal(out.product_id, 21553);
	assert_int_equal(out.price_cents, EVENT_NO_PRICE);
	in.price_cents = 10000;
	assert_int_equal(event_product_encode(&in, buf, sizeof buf, &len), EVENT_OK);
	assert_int_equal(event_product_decode(buf, len, &out, why, sizeof why), EVENT_OK);
	assert_int_equal(out.price_cents, 10000);
	assert_int_equal(event_product_decode(buf, len - 1, &out, why, sizeof why), EVENT_TRUNCATED);
	in.price_cents = 10001;
	assert_int_equal(event_product_encode(&in, buf, sizeof buf, &len), EVENT_RANGE);
	in.price_cents = 5;
	in.product_id = 0;
	assert_int_equal(event_product_encode(&in, buf, sizeof buf, &len), EVENT_RANGE);
}

static void test_strerror_names_every_code(void **state)
{
	(void)state;
	assert_string_equal(event_errname(EVENT_RANGE), "EVENT_RANGE");
	assert_string_equal(event_strerror(EVENT_TRAILING), "trailing bytes after the event");
	assert_string_equal(event_errname(-1), "EVENT_UNKNOWN");
}

/* A key is the canonical decimal of a user id and nothing else: "05" must not become user 5. */
static void test_key_user_id_is_canonical(void **unused)
{
	(void)unused;
	uint32_t id = 0;
	assert_int_equal(event_key_user_id("5", 1, &id), EVENT_OK);
	assert_int_equal(id, 5);
	assert_int_equal(event_key_user_id("206209", 6, &id), EVENT_OK);
	assert_int_equal(id, 206209);
	assert_int_equal(event_key_user_id("4294967295", 10, &id), EVENT_OK);
	assert_true(id == UINT32_MAX);
	const char *bad[] = { "05", "+5", " 5", "5 ", "-5", "0", "00", "", "4294967296", "12345678901", "5a", "5\n" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (event_key_user_id(bad[i], strlen(bad[i]), &id) != EVENT_KEY)
			fail_msg("key '%s' accepted", bad[i]);
	assert_int_equal(event_key_user_id(NULL, 0, &id), EVENT_KEY);
	assert_int_equal(event_key_user_id("5\0", 2, &id), EVENT_KEY); /* a NUL inside the key */
	assert_string_equal(event_errname(EVENT_KEY), "EVENT_KEY");
}

/* The codes the customers topic carries must keep meaning the same names (the files' spelling). */
static void test_customer_code_names(void **unused)
{
	(void)unused;
	assert_string_equal(event_state_name(0), "Alabama");
	assert_string_equal(event_state_name(8), "District of Columbia");
	assert_string_equal(event_state_name(EVENT_STATE_COUNT - 1), "Wyoming");
	assert_null(event_state_name(EVENT_STATE_COUNT));
	assert_null(event_state_name(-1));
	assert_string_equal(event_fam_status_name(0), "married");
	assert_string_equal(event_fam_status_name(3), "living with parents and siblings");
	assert_null(event_fam_status_name(EVENT_FAM_STATUS_COUNT));
}

/* Name records: round trip, key, and every kind of bad record refused with its code. */
static void test_name_roundtrip_and_rejects(void **unused)
{
	(void)unused;
	struct event_name n = { .kind = EVENT_NAME_DEPARTMENT, .id = 16 }, back;
	strcpy(n.name, "dairy eggs");
	uint8_t buf[96];
	size_t len;
	char key[32], why[128];
	assert_int_equal(event_name_encode(&n, buf, sizeof buf, &len), EVENT_OK);
	/* [1, 0, 16, "dairy eggs"]: fixarray, three fixints, fixstr */
	assert_int_equal(len, 1 + 3 + 1 + 10);
	assert_int_equal(event_name_decode(buf, len, &back, why, sizeof why), EVENT_OK);
	assert_int_equal(back.kind, EVENT_NAME_DEPARTMENT);
	assert_int_equal(back.id, 16);
	assert_string_equal(back.name, "dairy eggs");
	assert_int_equal(event_name_key(&n, key, sizeof key), 13);
	assert_string_equal(key, "department/16");
	n.kind = EVENT_NAME_AISLE;
	n.id = 134;
	strcpy(n.name, "specialty wines champagnes");
	assert_int_equal(event_name_key(&n, key, sizeof key), 9);
	assert_string_equal(key, "aisle/134");
	assert_int_equal(event_name_key(&n, key, 5), -1);
	assert_int_equal(event_name_encode(&n, buf, sizeof buf, &len), EVENT_OK);
	assert_int_equal(event_name_decode(buf, len, &back, why, sizeof why), EVENT_OK);
	assert_true(back.kind == EVENT_NAME_AISLE && back.id == 134);
	assert_string_equal(back.name, "specialty wines champagnes");
	assert_int_equal(event_name_decode(buf, len - 1, &back, why, sizeof why), EVENT_TRUNCATED);
	assert_int_equal(event_name_encode(&n, buf, 8, &len), EVENT_NOSPACE);
	/* Encoding refuses what decoding would refuse. */
	struct event_name bad = n;
	bad.id = 0;
	assert_int_equal(event_name_encode(&bad, buf, sizeof buf, &len), EVENT_RANGE);
	bad = n;
	bad.kind = 2;
	assert_int_equal(event_name_encode(&bad, buf, sizeof buf, &len), EVENT_RANGE);
	bad = n;
	bad.name[0] = 0;
	assert_int_equal(event_name_encode(&bad, buf, sizeof buf, &len), EVENT_RANGE);
	strcpy(bad.name, "a\"b");
	assert_int_equal(event_name_encode(&bad, buf, sizeof buf, &len), EVENT_RANGE);
	/* Hand-made records: version 2, another shape, a kind 2, an id 0, a number for the name, a
	 * control character, trailing bytes. */
	static const struct {
		uint8_t bytes[16];
		size_t len;
		int rc;
	} cases[] = {
		{ { 0x94, 2, 0, 1, 0xa1, 'x' }, 6, EVENT_VERSION },
		{ { 0x93, 1, 0, 1 }, 4, EVENT_SHAPE },
		{ { 0x94, 1, 2, 1, 0xa1, 'x' }, 6, EVENT_RANGE },
		{ { 0x94, 1, 0, 0, 0xa1, 'x' }, 6, EVENT_RANGE },
		{ { 0x94, 1, 0, 1, 7 }, 5, EVENT_TYPE },
		{ { 0x94, 1, 0, 1, 0xa2, 'x', '\n' }, 7, EVENT_RANGE },
		{ { 0x94, 1, 0, 1, 0xa1, 'x', 0 }, 7, EVENT_TRAILING },
		{ { 0x94, 1, 0, 1, 0xd9, 1, 'x' }, 7, EVENT_OK },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		assert_int_equal(event_name_decode(cases[i].bytes, cases[i].len, &back, why, sizeof why), cases[i].rc);
	assert_string_equal(back.name, "x");
}

/* ---- Schema version 2: one message per order ---- */

/* n lines of the sample's order: products 10, 11, ... (the second line's is 4,294,967,295). */
static void order_lines(struct event *lines, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		lines[i] = sample();
		lines[i].product_id = i == 1 ? UINT32_MAX : (uint32_t)(10 + i);
		lines[i].add_to_cart_order = (uint16_t)(i + 1);
		lines[i].reordered = (uint8_t)(i % 2);
	}
}

/* An order message packed field by field: order[0..8] (version first; days < 0: nil), then lines
 * of three values each (line_len 3, or another length to break the shape). */
static void pack_order(msgpack_sbuffer *sb, const int64_t order[9], const int64_t (*lines)[3], size_t n, int line_len)
{
	msgpack_packer pk;
	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 10);
	for (int i = 0; i < 9; i++) {
		if (i == 6 && order[i] < 0)
			msgpack_pack_nil(&pk);
		else
			msgpack_pack_int64(&pk, order[i]);
	}
	msgpack_pack_array(&pk, n);
	for (size_t i = 0; i < n; i++) {
		msgpack_pack_array(&pk, (size_t)line_len);
		for (int f = 0; f < line_len; f++)
			msgpack_pack_int64(&pk, lines[i][f < 3 ? f : 2]);
	}
}

static const int64_t good_order[9] = { 2, 7, 70003, 3, 1, 9, -1, 0, 1500000000000LL };

static void test_order_roundtrip(void **state)
{
	(void)state;
	struct event in[5];
	order_lines(in, 5);
	static uint8_t buf[EVENT_ORDER_ENCODED_MAX];
	size_t len = 0, n = 0;
	assert_int_equal(event_order_encode(in, 5, buf, sizeof buf, &len), EVENT_OK);
	assert_true(len <= EVENT_ORDER_ENCODED_SIZE(5));
	struct event_line out[EVENT_ORDER_LINES_MAX];
	char why[160] = "";
	assert_int_equal(event_message_decode(buf, len, out, EVENT_ORDER_LINES_MAX, &n, why, sizeof why), EVENT_OK);
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(out[i].rc, EVENT_OK);
		assert_events_equal(&in[i], &out[i].ev);
	}
	/* A first order (days nil) at a negative time, and the longest order. */
	static struct event many[EVENT_ORDER_LINES_MAX];
	order_lines(many, EVENT_ORDER_LINES_MAX);
	for (size_t i = 0; i < EVENT_ORDER_LINES_MAX; i++) {
		many[i].days_since_prior = EVENT_DAYS_NONE;
		many[i].event_time_ms = -5;
	}
	assert_int_equal(event_order_encode(many, EVENT_ORDER_LINES_MAX, buf, sizeof buf, &len), EVENT_OK);
	static struct event_line back[EVENT_ORDER_LINES_MAX];
	assert_int_equal(event_message_decode(buf, len, back, EVENT_ORDER_LINES_MAX, &n, why, sizeof why), EVENT_OK);
	assert_int_equal(n, EVENT_ORDER_LINES_MAX);
	assert_events_equal(&many[EVENT_ORDER_LINES_MAX - 1], &back[EVENT_ORDER_LINES_MAX - 1].ev);
	/* Too few lines of room: refused, not overrun. */
	assert_int_equal(event_message_decode(buf, len, back, 10, &n, why, sizeof why), EVENT_NOSPACE);
	assert_int_equal(n, 0);
	/* A version-1 event reads as one line, the whole message. */
	struct event one = sample();
	assert_int_equal(event_encode(&one, buf, sizeof buf, &len), EVENT_OK);
	assert_int_equal(event_message_decode(buf, len, out, 1, &n, why, sizeof why), EVENT_OK);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].off, 0);
	assert_int_equal(out[0].len, len);
	assert_events_equal(&one, &out[0].ev);
}

static void test_order_encode_rejects(void **state)
{
	(void)state;
	static struct event in[EVENT_ORDER_LINES_MAX + 1];
	order_lines(in, EVENT_ORDER_LINES_MAX + 1);
	static uint8_t buf[EVENT_ORDER_ENCODED_SIZE(EVENT_ORDER_LINES_MAX + 1)];
	size_t len;
	assert_int_equal(event_order_encode(in, 0, buf, sizeof buf, &len), EVENT_RANGE);
	assert_int_equal(event_order_encode(in, EVENT_ORDER_LINES_MAX + 1, buf, sizeof buf, &len), EVENT_RANGE);
	in[2].order_id++; /* a line of another order */
	assert_int_equal(event_order_encode(in, 3, buf, sizeof buf, &len), EVENT_RANGE);
	order_lines(in, 3);
	in[1].reordered = 2;
	assert_int_equal(event_order_encode(in, 3, buf, sizeof buf, &len), EVENT_RANGE);
	order_lines(in, 3);
	assert_int_equal(event_order_encode(in, 3, buf, 20, &len), EVENT_NOSPACE);
}

/* Each field of the order out of range (or of the wrong type) refuses the whole message. */
static void test_order_rejects_each_order_field(void **state)
{
	(void)state;
	const int64_t lines[2][3] = { { 5, 1, 0 }, { 6, 2, 1 } };
	struct {
		int field;
		int64_t value;
		int rc;
	} cases[] = {
		{ 0, 3, EVENT_VERSION }, { 1, 0, EVENT_RANGE },     { 1, 1LL << 32, EVENT_RANGE },
		{ 1, -7, EVENT_RANGE },  { 2, 0, EVENT_RANGE },     { 2, 1LL << 32, EVENT_RANGE },
		{ 3, 0, EVENT_RANGE },   { 3, 65536, EVENT_RANGE }, { 4, 7, EVENT_RANGE },
		{ 5, 24, EVENT_RANGE },  { 6, 31, EVENT_RANGE },    { 7, 2, EVENT_RANGE },
	};
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	struct event_line out[4];
	size_t n;
	char why[160];
	pack_order(&sb, good_order, lines, 2, 3);
	assert_int_equal(event_message_decode(sb.data, sb.size, out, 4, &n, why, sizeof why), EVENT_OK);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].ev.days_since_prior, EVENT_DAYS_NONE);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int64_t order[9];
		memcpy(order, good_order, sizeof order);
		order[cases[i].field] = cases[i].value;
		pack_order(&sb, order, lines, 2, 3);
		n = 99;
		int rc = event_message_decode(sb.data, sb.size, out, 4, &n, why, sizeof why);
		if (rc != cases[i].rc)
			fail_msg("field %d = %lld: %s (%s), want %s", cases[i].field, (long long)cases[i].value,
				 event_errname(rc), why, event_errname(cases[i].rc));
		assert_int_equal(n, 0);
	}
	/* nil where the time goes: the wrong type. */
	msgpack_packer pk;
	msgpack_sbuffer_clear(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 10);
	for (int i = 0; i < 8; i++)
		msgpack_pack_int64(&pk, good_order[i] < 0 ? 1 : good_order[i]);
	msgpack_pack_nil(&pk);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 3);
	for (int f = 0; f < 3; f++)
		msgpack_pack_int(&pk, 1);
	assert_int_equal(event_message_decode(sb.data, sb.size, out, 4, &n, why, sizeof why), EVENT_TYPE);
	msgpack_sbuffer_destroy(&sb);
}

/* A line out of range is refused alone; a line of the wrong shape or type refuses the message. */
static void test_order_line_errors(void **state)
{
	(void)state;
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	struct event_line out[8];
	size_t n;
	char why[160];
	const int64_t bad_lines[][3][3] = {
		{ { 5, 1, 0 }, { 0, 2, 0 }, { 7, 3, 1 } },         /* product_id 0 */
		{ { 5, 1, 0 }, { 6, 0, 0 }, { 7, 3, 1 } },         /* add_to_cart_order 0 */
		{ { 5, 1, 0 }, { 6, 65536, 0 }, { 7, 3, 1 } },     /* add_to_cart_order too large */
		{ { 5, 1, 0 }, { 6, 2, 2 }, { 7, 3, 1 } },         /* reordered 2 */
		{ { 5, 1, 0 }, { -6, 2, 1 }, { 7, 3, 1 } },        /* a negative product */
		{ { 5, 1, 0 }, { 1LL << 32, 2, 1 }, { 7, 3, 1 } }, /* product beyond 32 bits */
	};
	for (size_t c = 0; c < sizeof bad_lines / sizeof bad_lines[0]; c++) {
		pack_order(&sb, good_order, bad_lines[c], 3, 3);
		why[0] = 0;
		assert_int_equal(event_message_decode(sb.data, sb.size, out, 8, &n, why, sizeof why), EVENT_OK);
		assert_int_equal(n, 3);
		assert_int_equal(out[0].rc, EVENT_OK);
		assert_int_equal(out[1].rc, EVENT_RANGE);
		assert_int_equal(out[2].rc, EVENT_OK);
		assert_int_equal(out[2].ev.product_id, 7);
		assert_int_equal(out[2].ev.order_id, 70003);
		if (strncmp(why, "line 2 of 3: ", 13) != 0)
			fail_msg("case %zu: reason '%s'", c, why);
		/* Its dead letter: the order with that line alone, which decodes to the same refusal. */
		uint8_t letter[64];
		size_t len = 0, n1 = 0;
		assert_int_equal(event_order_line_extract(sb.data, sb.size, &out[1], letter, sizeof letter, &len),
				 EVENT_OK);
		assert_true(len < sb.size);
		assert_memory_equal(letter + len - out[1].len, (const uint8_t *)sb.data + out[1].off, out[1].len);
		struct event_line one[1];
		char why1[160];
		assert_int_equal(event_message_decode(letter, len, one, 1, &n1, why1, sizeof why1), EVENT_OK);
		assert_int_equal(n1, 1);
		assert_int_equal(one[0].rc, EVENT_RANGE);
		assert_int_equal(one[0].ev.order_id, 70003);
		assert_int_equal(event_order_line_extract(sb.data, sb.size, &out[1], letter, 4, &len), EVENT_NOSPACE);
	}
	/* Two bad lines: the reason is the first one's. */
	const int64_t two_bad[3][3] = { { 5, 1, 3 }, { 6, 2, 0 }, { 0, 3, 1 } };
	pack_order(&sb, good_order, two_bad, 3, 3);
	assert_int_equal(event_message_decode(sb.data, sb.size, out, 8, &n, why, sizeof why), EVENT_OK);
	assert_int_equal(out[0].rc, EVENT_RANGE);
	assert_int_equal(out[1].rc, EVENT_OK);
	assert_int_equal(out[2].rc, EVENT_RANGE);
	assert_non_null(strstr(why, "line 1 of 3: reordered"));
	/* Shape: a line of 2 or 4 elements, a line that is not an array, a string in a line. */
	const int64_t ok_lines[2][3] = { { 5, 1, 0 }, { 6, 2, 1 } };
	pack_order(&sb, good_order, ok_lines, 2, 2);
	assert_int_equal(event_message_decode(sb.data, sb.size, out, 8, &n, why, sizeof why), EVENT_SHAPE);
	assert_int_equal(n, 0);
	pack_order(&sb, good_order, ok_lines, 2, 4);
	assert_int_equal(event_message_decode(sb.data, sb.size, out, 8, &n, why, sizeof why), EVENT_SHAPE);
	pack_order(&sb, good_order, ok_lines, 2, 3);
	uint8_t *p = (uint8_t *)sb.data;
	size_t last = sb.size - 4; /* the last line: 0x93 and three fixints */
	assert_int_equal(p[last], 0x93);
	p[last] = 0x05; /* a number in place of the line */
	assert_int_equal(event_message_decode(sb.data, sb.size - 3, out, 8, &n, why, sizeof why), EVENT_SHAPE);
	p[last] = 0x93;
	p[last + 1] = 0xa0; /* an empty string for the product */
	assert_int_equal(event_message_decode(sb.data, sb.size, out, 8, &n, why, sizeof why), EVENT_TYPE);
	p[last + 1] = 0xc0; /* nil for the product */
	assert_int_equal(event_message_decode(sb.data, sb.size, out, 8, &n, why, sizeof why), EVENT_TYPE);
	/* No line, and more than the maximum (claimed in a header: refused before any is read). */
	pack_order(&sb, good_order, ok_lines, 0, 3);
	assert_int_equal(event_message_decode(sb.data, sb.size, out, 8, &n, why, sizeof why), EVENT_SHAPE);
	msgpack_sbuffer_destroy(&sb);
	static int64_t many[EVENT_ORDER_LINES_MAX + 1][3];
	for (size_t i = 0; i <= EVENT_ORDER_LINES_MAX; i++) {
		many[i][0] = 5;
		many[i][1] = (int64_t)i + 1;
		many[i][2] = 0;
	}
	msgpack_sbuffer_init(&sb);
	static struct event_line room[EVENT_ORDER_LINES_MAX + 1];
	pack_order(&sb, good_order, (const int64_t(*)[3])many, EVENT_ORDER_LINES_MAX + 1, 3);
	assert_int_equal(event_message_decode(sb.data, sb.size, room, EVENT_ORDER_LINES_MAX + 1, &n, why, sizeof why),
			 EVENT_SHAPE);
	assert_non_null(strstr(why, "lines"));
	pack_order(&sb, good_order, (const int64_t(*)[3])many, EVENT_ORDER_LINES_MAX, 3);
	assert_int_equal(event_message_decode(sb.data, sb.size, room, EVENT_ORDER_LINES_MAX, &n, why, sizeof why),
			 EVENT_OK);
	msgpack_sbuffer_destroy(&sb);
}

static void test_order_truncated_trailing_random(void **state)
{
	(void)state;
	struct event in[4];
	order_lines(in, 4);
	uint8_t buf[EVENT_ORDER_ENCODED_SIZE(4) + 1];
	size_t len = 0, n;
	struct event_line out[8];
	char why[160];
	assert_int_equal(event_order_encode(in, 4, buf, sizeof buf, &len), EVENT_OK);
	for (size_t cut = 0; cut < len; cut++) {
		int rc = event_message_decode(buf, cut, out, 8, &n, why, sizeof why);
		if (rc != EVENT_TRUNCATED)
			fail_msg("cut at %zu of %zu: %s (%s)", cut, len, event_errname(rc), why);
		assert_int_equal(n, 0);
	}
	buf[len] = 0xc0;
	assert_int_equal(event_message_decode(buf, len + 1, out, 8, &n, why, sizeof why), EVENT_TRAILING);
	assert_int_equal(n, 0);
	/* Random damage: never a crash, never an unknown code, never more lines than there are. */
	unsigned seed = 777;
	int ok = 0;
	for (int round = 0; round < 200000; round++) {
		uint8_t m[sizeof buf];
		memcpy(m, buf, len);
		seed = seed * 1103515245u + 12345u;
		m[(seed >> 8) % len] = (uint8_t)(seed >> 16);
		int rc = event_message_decode(m, len, out, 8, &n, NULL, 0);
		assert_true(rc == EVENT_OK || (rc <= -301 && rc >= -308));
		assert_true(rc == EVENT_OK ? n >= 1 && n <= 8 : n == 0);
		ok += rc == EVENT_OK;
	}
	assert_true(ok > 0 && ok < 200000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_encode_rejects_invalid_and_small_buffer),
		cmocka_unit_test(test_decode_accepts_any_integer_width),
		cmocka_unit_test(test_decode_rejects_bad_fields),
		cmocka_unit_test(test_decode_rejects_out_of_range_values),
		cmocka_unit_test(test_decode_rejects_truncation_trailing_shape_version),
		cmocka_unit_test(test_decode_survives_random_bytes),
		cmocka_unit_test(test_product_roundtrip_and_rejects),
		cmocka_unit_test(test_strerror_names_every_code),
		cmocka_unit_test(test_customer_code_names),
		cmocka_unit_test(test_key_user_id_is_canonical),
		cmocka_unit_test(test_name_roundtrip_and_rejects),
		cmocka_unit_test(test_order_roundtrip),
		cmocka_unit_test(test_order_encode_rejects),
		cmocka_unit_test(test_order_rejects_each_order_field),
		cmocka_unit_test(test_order_line_errors),
		cmocka_unit_test(test_order_truncated_trailing_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
