/* Unit tests of changelog/: the key and marker encoding and the reconcile decision (pure). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "changelog/changelog.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_customer_key_layout_and_roundtrip),
		cmocka_unit_test(test_marker_key_and_value),
		cmocka_unit_test(test_decode_refuses_foreign_records),
		cmocka_unit_test(test_reconcile_decision),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
