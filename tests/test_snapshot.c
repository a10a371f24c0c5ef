/* Unit tests of snapshot/: publish from a small state, read back, detect corruption. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "snapshot/snapshot.h"

struct fixture {
	char dir[64];
	char state[96], snaps[96];
	struct state_db *db;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	strcpy(f->dir, "/tmp/segstream-snap-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->state, sizeof f->state, "%s/state", f->dir);
	snprintf(f->snaps, sizeof f->snaps, "%s/snaps", f->dir);
	struct state_config cfg;
	state_config_init(&cfg);
	cfg.path = f->state;
	cfg.durable = 0;
	char err[256];
	if (state_open(&cfg, &f->db, err, sizeof err) != STATE_OK)
		return -1;
	struct state_batch *b;
	assert_int_equal(state_batch_begin(f->db, &b), STATE_OK);
	struct state_product p = { .product_id = 24852, .department_id = 4, .price_cents = 150 };
	assert_int_equal(state_batch_put_product(b, &p), STATE_OK);
	for (uint32_t u = 1; u <= 30; u++) {
		for (uint16_t o = 1; o <= u % 9 + 1; o++) {
			struct event ev = { .user_id = u, .order_id = u * 100 + o, .product_id = 24852, .order_number = o,
					    .add_to_cart_order = 1, .order_dow = (uint8_t)(o % 7), .order_hour = 10,
					    .days_since_prior = o == 1 ? EVENT_DAYS_NONE : 7, .reordered = o > 1 };
			assert_int_equal(state_batch_apply(b, (int32_t)(u % 2), &ev), STATE_OK);
		}
		struct event_customer d = { .user_id = u, .state = (uint8_t)(u % 51), .age = (uint8_t)(18 + u),
					    .joined_day = 17167, .n_dependants = (uint8_t)(u % 3), .income = 30000 * u };
		if (u % 5)
			assert_int_equal(state_batch_put_demographics(b, &d), STATE_OK);
	}
	assert_int_equal(state_batch_set_offset(b, "events", 0, 77), STATE_OK);
	assert_int_equal(state_batch_commit(b, NULL), STATE_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	state_close(f->db);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	int rc = system(cmd);
	free(f);
	return rc;
}

static void test_publish_read_back_and_keep(void **state)
{
	struct fixture *f = *state;
	struct segment_config cfg;
	struct snap_options opts;
	segment_config_init(&cfg);
	snap_options_init(&opts);
	opts.keep = 2;
	static struct snap_report r;
	uint64_t seq = 0;
	char err[512];
	for (int i = 1; i <= 3; i++) {
		assert_int_equal(snap_publish_files(f->db, &cfg, &opts, f->snaps, &seq, &r, err, sizeof err), SNAP_OK);
		assert_int_equal(seq, (uint64_t)i);
	}
	assert_int_equal(r.customers, 30);
	assert_int_equal(r.with_demographics, 24);
	assert_int_equal(r.profile_customers[SEG_HEALTH_FOCUSED], 30);
	struct snap_reader *rd;
	assert_int_equal(snap_reader_open(f->snaps, 1, &rd, err, sizeof err), SNAP_NONE); /* pruned: keep 2 */
	assert_int_equal(snap_reader_open(f->snaps, 0, &rd, err, sizeof err), SNAP_OK);
	assert_int_equal(snap_reader_sequence(rd), 3);
	struct snap_row row;
	int n = 0, rc;
	while ((rc = snap_reader_next(rd, &row)) == 1) {
		n++;
		assert_true(row.ints[4] >= 1);                        /* items */
		assert_int_equal(row.text_len[17], strlen("Health-Focused"));
		if (row.ints[0] % 5 == 0)
			assert_null(row.texts[13]);                   /* no demographics: no region */
		else
			assert_non_null(row.texts[18]);               /* persona */
	}
	assert_int_equal(rc, 0);
	assert_int_equal(n, 30);
	char *json;
	size_t json_len;
	assert_int_equal(snap_reader_report(rd, &json, &json_len), SNAP_OK);
	assert_true(json_len == strlen(json));
	assert_non_null(strstr(json, "\"customers\": 30,"));
	assert_non_null(strstr(json, "\"value_drivers\""));
	free(json);
	snap_reader_close(rd);

	/* One flipped byte in the rows file: the reader refuses the snapshot. */
	char path[256];
	snprintf(path, sizeof path, "%s/0000000003/customers.msgpack", f->snaps);
	FILE *fp = fopen(path, "r+b");
	assert_non_null(fp);
	fseek(fp, 10, SEEK_SET);
	int ch = fgetc(fp);
	fseek(fp, 10, SEEK_SET);
	fputc(ch ^ 0x01, fp);
	fclose(fp);
	assert_int_equal(snap_reader_open(f->snaps, 0, &rd, err, sizeof err), SNAP_CHECKSUM);
	assert_non_null(strstr(err, "customers.msgpack"));
	assert_int_equal(snap_reader_open("/nonexistent", 0, &rd, err, sizeof err), SNAP_NONE);
}

static void test_manifest_carries_source_offsets(void **state)
{
	struct fixture *f = *state;
	struct segment_config cfg;
	struct snap_options opts;
	segment_config_init(&cfg);
	snap_options_init(&opts);
	uint64_t seq;
	char err[512], path[256], buf[4096] = "";
	assert_int_equal(snap_publish_files(f->db, &cfg, &opts, f->snaps, &seq, NULL, err, sizeof err), SNAP_OK);
	snprintf(path, sizeof path, "%s/%010llu/manifest.json", f->snaps, (unsigned long long)seq);
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	size_t n = fread(buf, 1, sizeof buf - 1, fp);
	fclose(fp);
	buf[n] = 0;
	assert_non_null(strstr(buf, "{\"topic\": \"events\", \"partition\": 0, \"next_offset\": 77}"));
	assert_non_null(strstr(buf, "\"customers\": 30"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_publish_read_back_and_keep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_manifest_carries_source_offsets, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
