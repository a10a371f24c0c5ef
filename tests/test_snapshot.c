/* Unit tests of snapshot/: publish from a small state, read back, detect corruption; the column
 * table drives rows, CSV and manifest; report.json's label texts are SPEC §4's. */
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
			struct event ev = { .user_id = u,
					    .order_id = u * 100 + o,
					    .product_id = 24852,
					    .order_number = o,
					    .add_to_cart_order = 1,
					    .order_dow = (uint8_t)(o % 7),
					    .order_hour = 10,
					    .days_since_prior = o == 1 ? EVENT_DAYS_NONE : 7,
					    .reordered = o > 1,
					    .event_time_ms = (int64_t)(17000 + u + o) * 86400000 };
			assert_int_equal(state_batch_apply(b, (int32_t)(u % 2), &ev), STATE_OK);
		}
		struct event_customer d = { .user_id = u,
					    .state = (uint8_t)(u % 51),
					    .age = (uint8_t)(18 + u),
					    .joined_day = 17167,
					    .n_dependants = (uint8_t)(u % 3),
					    .income = 30000 * u };
		if (u % 5)
			assert_int_equal(state_batch_put_demographics(b, &d), STATE_OK);
	}
	/* Customer 31: 5 lines 2 days after the first order, then one line 20 and one 30 days
	 * later; the line-weighted median is 2 days, the order-weighted one 20 (SPEC §3). */
	static const struct {
		uint16_t order;
		uint8_t days, lines;
	} orders31[] = { { 1, EVENT_DAYS_NONE, 1 }, { 2, 2, 5 }, { 3, 20, 1 }, { 4, 30, 1 } };
	for (size_t i = 0; i < sizeof orders31 / sizeof orders31[0]; i++)
		for (uint8_t k = 1; k <= orders31[i].lines; k++) {
			struct event ev = { .user_id = 31,
					    .order_id = 3100 + orders31[i].order,
					    .product_id = 24852,
					    .order_number = orders31[i].order,
					    .add_to_cart_order = k,
					    .order_hour = 9,
					    .days_since_prior = orders31[i].days,
					    /* order 4 on 2019-03-02 (day 17957) at 09:00: the watermark */
					    .event_time_ms = (int64_t)(17953 + orders31[i].order) * 86400000 +
							     9 * 3600000 };
			assert_int_equal(state_batch_apply(b, 1, &ev), STATE_OK);
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
	assert_int_equal(r.customers, 31);
	assert_int_equal(r.with_demographics, 24);
	assert_int_equal(r.profile_customers[SEG_HEALTH_FOCUSED], 31);
	struct snap_reader *rd;
	assert_int_equal(snap_reader_open(f->snaps, 1, &rd, err, sizeof err), SNAP_NONE); /* pruned: keep 2 */
	assert_int_equal(snap_reader_open(f->snaps, 0, &rd, err, sizeof err), SNAP_OK);
	assert_int_equal(snap_reader_sequence(rd), 3);
	struct snap_row row;
	int n = 0, rc;
	int user = snap_reader_column_index(rd, "user_id"), items = snap_reader_column_index(rd, "items");
	int profile = snap_reader_column_index(rd, "primary_profile"), region = snap_reader_column_index(rd, "region");
	int persona = snap_reader_column_index(rd, "persona");
	int median = snap_reader_column_index(rd, "median_days");
	int order_median = snap_reader_column_index(rd, "order_median_days");
	assert_true(user == 0 && items > 0 && profile > 0 && region > 0 && persona > 0 && median > 0 &&
		    order_median > 0);
	while ((rc = snap_reader_next(rd, &row)) == 1) {
		n++;
		assert_true(row.ints[items] >= 1);
		assert_int_equal(row.text_len[profile], strlen("Health-Focused"));
		if (row.ints[user] % 5 == 0 || row.ints[user] == 31) {
			assert_null(row.texts[region]); /* no demographics: no region */
			assert_true(row.null[persona]);
		} else {
			assert_non_null(row.texts[persona]);
		}
		if (row.ints[user] == 31) {
			assert_true(row.reals[median] == 2.0);
			assert_true(row.reals[order_median] == 20.0);
		} else if (row.ints[user] % 9 == 0) { /* one order: no days at all */
			assert_true(row.null[median] && row.null[order_median]);
		} else {
			assert_true(row.reals[median] == 7.0 && row.reals[order_median] == 7.0);
		}
	}
	assert_int_equal(rc, 0);
	assert_int_equal(n, 31);
	char *json;
	size_t json_len;
	assert_int_equal(snap_reader_report(rd, &json, &json_len), SNAP_OK);
	assert_true(json_len == strlen(json));
	assert_non_null(strstr(json, "\"customers\": 31,"));
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
	assert_non_null(strstr(buf, "\"customers\": 31"));
	assert_non_null(strstr(buf, "\"format\": 3,"));
	/* The partitions covered: the events topic's offsets ("events" is not it) and the customers'. */
	assert_non_null(strstr(buf, "\"events_topic\": \"segstream.events\",\n  \"partitions\": [0, 1],"));
	/* The event-time watermark: the latest event time applied, and its UTC day. */
	assert_non_null(strstr(buf, "\"event_time_max_ms\": 1551517200000,\n  \"as_of\": \"2019-03-02\""));
	/* The manifest lists the column table, in order, with types. */
	size_t n_cols;
	const struct snap_column *cols = snap_columns(&n_cols);
	const char *p = strstr(buf, "\"columns\": [");
	assert_non_null(p);
	for (size_t i = 0; i < n_cols; i++) {
		char entry[160];
		snprintf(entry, sizeof entry, "{\"name\": \"%s\", \"type\": \"%s\", \"nullable\": %s}", cols[i].name,
			 snap_type_name(cols[i].type), cols[i].flags & SNAP_NULLABLE ? "true" : "false");
		const char *q = strstr(p, entry);
		assert_non_null(q);
		p = q;
	}
	assert_non_null(strstr(buf, "{\"name\": \"order_median_days\", \"type\": \"real\", \"nullable\": true}"));
	/* The reader takes its columns from the manifest: the same table. */
	struct snap_reader *rd;
	assert_int_equal(snap_reader_open(f->snaps, seq, &rd, err, sizeof err), SNAP_OK);
	size_t n_read;
	const struct snap_column *read = snap_reader_columns(rd, &n_read);
	assert_int_equal(n_read, n_cols);
	for (size_t i = 0; i < n_cols; i++) {
		assert_string_equal(read[i].name, cols[i].name);
		assert_int_equal(read[i].type, cols[i].type);
		assert_int_equal(read[i].flags & SNAP_NULLABLE, cols[i].flags & SNAP_NULLABLE);
	}
	snap_reader_close(rd);
	/* A manifest of a later format is refused with the error code (negative), not the format
	 * version: the two once shared the name SNAP_FORMAT, and the error read as 2. */
	char *at = strstr(buf, "\"format\": 3,");
	memcpy(at, "\"format\": 9,", 12);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(buf, 1, n, fp), n);
	assert_int_equal(fclose(fp), 0);
	int rc = snap_reader_open(f->snaps, seq, &rd, err, sizeof err);
	assert_int_equal(rc, -205);
	assert_int_equal(rc, SNAP_FORMAT);
	assert_string_equal(snap_strerror(rc), "not a snapshot this version can read");
	assert_non_null(strstr(err, "format 9"));
}

/* A whole file, NUL-terminated (free() it). */
static char *read_text(const char *path)
{
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	char *text = calloc(1, 1 << 16);
	assert_non_null(text);
	size_t n = fread(text, 1, (1 << 16) - 1, fp);
	text[n] = 0;
	fclose(fp);
	return text;
}

/* An offset of a state built by build_state(). */
struct test_offset {
	const char *topic;
	int32_t partition;
	int64_t next;
};

/*
 * A state at dir/name holding users 1..40's orders of the partitions in mask (user u is in
 * partition u % 4), the demographics of every user (reference data: each instance has all of
 * it), and the given offsets. @return the state (state_close() it).
 */
static struct state_db *build_state(const char *dir, const char *name, unsigned mask, const struct test_offset *offsets,
				    int n_offsets)
{
	char path[160], err[256];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	struct state_config cfg;
	state_config_init(&cfg);
	cfg.path = path;
	cfg.durable = 0;
	struct state_db *db;
	struct state_batch *b;
	assert_int_equal(state_open(&cfg, &db, err, sizeof err), STATE_OK);
	assert_int_equal(state_batch_begin(db, &b), STATE_OK);
	struct state_product p = { .product_id = 24852, .department_id = 4, .price_cents = 150 };
	assert_int_equal(state_batch_put_product(b, &p), STATE_OK);
	for (uint32_t u = 1; u <= 40; u++) {
		struct event_customer d = { .user_id = u,
					    .state = (uint8_t)(u % 51),
					    .age = (uint8_t)(18 + u),
					    .joined_day = 17167,
					    .n_dependants = (uint8_t)(u % 3),
					    .income = 20000 * u };
		if (u % 7)
			assert_int_equal(state_batch_put_demographics(b, &d), STATE_OK);
		if (!(mask & 1u << (u % 4)))
			continue;
		for (uint16_t o = 1; o <= u % 11 + 1; o++)
			for (uint16_t k = 1; k <= 1 + (u * o) % 4; k++) {
				struct event ev = { .user_id = u,
						    .order_id = u * 100 + o,
						    .product_id = 24852,
						    .order_number = o,
						    .add_to_cart_order = k,
						    .order_dow = (uint8_t)((u + o) % 7),
						    .order_hour = (uint8_t)((u * o) % 24),
						    .days_since_prior = o == 1 ? EVENT_DAYS_NONE
									       : (uint8_t)(u % 13 + o),
						    .reordered = k > 1,
						    .event_time_ms = (int64_t)(17000 + u + 20 * o) * 86400000 };
				assert_int_equal(state_batch_apply(b, (int32_t)(u % 4), &ev), STATE_OK);
			}
	}
	for (int i = 0; i < n_offsets; i++)
		assert_int_equal(state_batch_set_offset(b, offsets[i].topic, offsets[i].partition, offsets[i].next),
				 STATE_OK);
	assert_int_equal(state_batch_commit(b, NULL), STATE_OK);
	return db;
}

/* Publishes a snapshot of the state built by build_state() under dir/out. */
static void publish_state(const char *dir, const char *name, unsigned mask, const struct test_offset *offsets,
			  int n_offsets, const char *out)
{
	struct state_db *db = build_state(dir, name, mask, offsets, n_offsets);
	struct segment_config cfg;
	struct snap_options opts;
	segment_config_init(&cfg);
	snap_options_init(&opts);
	opts.events_topic = "events";
	snap_options_add_sink(&opts, &snap_sink_csv);
	char path[160], err[512];
	uint64_t seq;
	snprintf(path, sizeof path, "%s/%s", dir, out);
	assert_int_equal(snap_publish_files(db, &cfg, &opts, path, &seq, NULL, err, sizeof err), SNAP_OK);
	state_close(db);
}

/* Whether dir/a/0000000001/file and dir/b/0000000001/file hold the same bytes. */
static int same_file(const char *dir, const char *a, const char *b, const char *file)
{
	char pa[200], pb[200];
	snprintf(pa, sizeof pa, "%s/%s/0000000001/%s", dir, a, file);
	snprintf(pb, sizeof pb, "%s/%s/0000000001/%s", dir, b, file);
	char *x = read_text(pa), *y = read_text(pb);
	int same = strcmp(x, y) == 0 && x[0];
	free(x);
	free(y);
	return same;
}

/*
 * Three instances' snapshots (partitions {0, 3}, {1}, {2}) merge into what one state of all four
 * publishes: the same rows, CSV and report, byte for byte, and a manifest that differs in its
 * time alone; each instance's reference topics' offsets become one (the highest). A partition
 * two of them cover is refused, naming it.
 */
static void test_merge_equals_one_state(void **state)
{
	struct fixture *f = *state;
	const struct test_offset all[] = { { "customers", 0, 3 }, { "events", 0, 10 }, { "events", 1, 11 },
					   { "events", 2, 12 },   { "events", 3, 13 }, { "products", 0, 7 } };
	const struct test_offset a[] = {
		{ "customers", 0, 3 }, { "events", 0, 10 }, { "events", 3, 13 }, { "products", 0, 7 }
	};
	const struct test_offset b[] = { { "customers", 0, 3 }, { "events", 1, 11 }, { "products", 0, 5 } };
	const struct test_offset c[] = { { "customers", 0, 3 }, { "events", 2, 12 }, { "products", 0, 7 } };
	publish_state(f->dir, "all", 0xf, all, 6, "snap-all");
	publish_state(f->dir, "a", 1u << 0 | 1u << 3, a, 4, "snap-a");
	publish_state(f->dir, "b", 1u << 1, b, 3, "snap-b");
	publish_state(f->dir, "c", 1u << 2, c, 3, "snap-c");
	char da[160], db[160], dc[160], out[160], err[1024];
	snprintf(da, sizeof da, "%s/snap-a", f->dir);
	snprintf(db, sizeof db, "%s/snap-b/0000000001", f->dir); /* a snapshot's own directory too */
	snprintf(dc, sizeof dc, "%s/snap-c", f->dir);
	snprintf(out, sizeof out, "%s/merged", f->dir);
	const char *dirs[] = { dc, da, db };
	struct segment_config cfg;
	struct snap_options opts;
	struct snap_merge_stats st;
	static struct snap_report r;
	uint64_t seq;
	segment_config_init(&cfg);
	snap_options_init(&opts);
	assert_int_equal(snap_merge(dirs, 3, &cfg, &opts, out, &seq, &r, &st, err, sizeof err), SNAP_OK);
	assert_int_equal(seq, 1);
	assert_int_equal(st.inputs, 3);
	assert_int_equal(st.partitions, 4);
	assert_int_equal(st.offsets, 6);
	assert_int_equal(st.reference_offsets_max, 1); /* products/0: 5 and 7 */
	assert_true(r.customers > 30 && r.clusters.k == 5);
	assert_true(same_file(f->dir, "merged", "snap-all", "customers.msgpack"));
	assert_true(same_file(f->dir, "merged", "snap-all", "customers.csv"));
	assert_true(same_file(f->dir, "merged", "snap-all", "report.json"));
	char pm[200], pa[200];
	snprintf(pm, sizeof pm, "%s/merged/0000000001/manifest.json", f->dir);
	snprintf(pa, sizeof pa, "%s/snap-all/0000000001/manifest.json", f->dir);
	char *m = read_text(pm), *one = read_text(pa);
	char *tm = strstr(m, "\"created_unix\": "), *ta = strstr(one, "\"created_unix\": ");
	assert_non_null(tm);
	assert_non_null(ta);
	memcpy(tm + 16, ta + 16, 10); /* the time, 10 digits */
	assert_string_equal(m, one);
	assert_non_null(strstr(m, "\"events_topic\": \"events\",\n  \"partitions\": [0, 1, 2, 3],"));
	free(m);
	free(one);
	/* Overlaps: the whole state's snapshot with an instance's. */
	const char *overlap[] = { da, pa };
	snprintf(pa, sizeof pa, "%s/snap-all", f->dir);
	assert_int_equal(snap_merge(overlap, 2, &cfg, &opts, out, &seq, NULL, NULL, err, sizeof err), SNAP_CONFLICT);
	assert_non_null(strstr(err, "partition 0 of events is in both"));
	/* Clusters made with another k than asked for. */
	cfg.clusters = 3;
	assert_int_equal(snap_merge(dirs, 3, &cfg, &opts, out, &seq, NULL, NULL, err, sizeof err), SNAP_CONFLICT);
	assert_non_null(strstr(err, "k 5"));
	/* A snapshot without the partitions (written before they were listed) says so. */
	segment_config_init(&cfg);
	snprintf(pm, sizeof pm, "%s/snap-c/0000000001/manifest.json", f->dir);
	m = read_text(pm);
	char *key = strstr(m, "\"partitions\"");
	assert_non_null(key);
	memcpy(key, "\"partitionz\"", 12);
	FILE *fp = fopen(pm, "w");
	assert_non_null(fp);
	fputs(m, fp);
	assert_int_equal(fclose(fp), 0);
	free(m);
	assert_int_equal(snap_merge(dirs, 3, &cfg, &opts, out, &seq, NULL, NULL, err, sizeof err), SNAP_FORMAT);
	assert_non_null(strstr(err, "names no events topic and partitions"));
	/* Nothing was published by the refused merges. */
	struct snap_reader *rd;
	assert_int_equal(snap_reader_open(out, 2, &rd, err, sizeof err), SNAP_NONE);
}

/* report.json says "as of" the watermark's day; an empty state has none (null, not 1970-01-01). */
static void test_report_as_of_watermark(void **state)
{
	struct fixture *f = *state;
	struct segment_config cfg;
	struct snap_report r;
	char buf[16], *text = NULL;
	size_t len = 0;
	segment_config_init(&cfg);
	assert_int_equal(snap_build(f->db, &cfg, &r, NULL), SNAP_OK);
	assert_true(r.event_time_max_ms == 1551517200000LL);
	FILE *m = open_memstream(&text, &len);
	assert_int_equal(snap_report_write_json(&r, m), SNAP_OK);
	fclose(m);
	assert_non_null(
	    strstr(text, "\"format\": 2,\n  \"as_of\": \"2019-03-02\",\n  \"event_time_max_ms\": 1551517200000,"));
	free(text);
	assert_string_equal(snap_as_of_text(0, buf, sizeof buf), "1970-01-01");
	assert_string_equal(snap_as_of_text(-1, buf, sizeof buf), "1969-12-31");
	assert_string_equal(snap_as_of_text(951782400000LL, buf, sizeof buf), "2000-02-29");
	assert_string_equal(snap_as_of_text(1551571199999LL, buf, sizeof buf), "2019-03-02");
	assert_null(snap_as_of_text(INT64_MIN, buf, sizeof buf));
	assert_null(snap_as_of_text(0, buf, 10));
	/* An empty state: no watermark, said as null in the report and the manifest. */
	char dir[160], err[512], path[256];
	struct state_db *empty;
	struct state_config sc;
	struct snap_options opts;
	uint64_t seq;
	snprintf(dir, sizeof dir, "%s/empty", f->dir);
	state_config_init(&sc);
	sc.path = dir;
	sc.durable = 0;
	assert_int_equal(state_open(&sc, &empty, err, sizeof err), STATE_OK);
	snap_options_init(&opts);
	snprintf(dir, sizeof dir, "%s/empty-snaps", f->dir);
	assert_int_equal(snap_publish_files(empty, &cfg, &opts, dir, &seq, &r, err, sizeof err), SNAP_OK);
	state_close(empty);
	assert_true(r.event_time_max_ms == INT64_MIN);
	snprintf(path, sizeof path, "%s/%010llu/manifest.json", dir, (unsigned long long)seq);
	text = read_text(path);
	assert_non_null(strstr(text, "\"event_time_max_ms\": null,\n  \"as_of\": null,"));
	free(text);
	snprintf(path, sizeof path, "%s/%010llu/report.json", dir, (unsigned long long)seq);
	text = read_text(path);
	assert_non_null(strstr(text, "\"as_of\": null,\n  \"event_time_max_ms\": null,"));
	free(text);
}

/* dump's CSV: the header is the column table's names; a row's fields follow it. */
static void test_csv_follows_the_column_table(void **state)
{
	struct fixture *f = *state;
	struct segment_config cfg;
	segment_config_init(&cfg);
	char *text = NULL;
	size_t len = 0;
	FILE *csv = open_memstream(&text, &len);
	assert_non_null(csv);
	static struct snap_report r;
	assert_int_equal(snap_build(f->db, &cfg, &r, csv), SNAP_OK);
	fclose(csv);
	char header[1024] = "";
	size_t n_cols;
	const struct snap_column *cols = snap_columns(&n_cols);
	for (size_t i = 0; i < n_cols; i++)
		snprintf(header + strlen(header), sizeof header - strlen(header), "%s%s", i ? "," : "", cols[i].name);
	assert_int_equal(strncmp(text, header, strlen(header)), 0);
	assert_int_equal(text[strlen(header)], '\n');
	/* Customer 31: 4 orders, 8 lines at 1.50, no reorders, medians 2 and 20, no demographics. */
	const char *row = strstr(text, "\n31,1,4,4,8,8,1200,0,2,20,New customer,Low spender,Frequent customer,1,,,,,"
				       "Health-Focused,\"\",2,");
	assert_non_null(row);
	/* Customer 9 (one order): both medians null, an empty field each. */
	assert_non_null(strstr(text, "\n9,1,1,1,1,1,150,0,,,New customer,"));
	assert_int_equal(r.customers, 31);
	free(text);
}

/* report.json names every label with SPEC §4's exact text; a changed text fails here. */
static void test_report_label_texts(void **state)
{
	(void)state;
	static struct snap_report r;
	memset(&r, 0, sizeof r);
	for (int i = 0; i < SEG_PROFILE_COUNT; i++)
		r.profile_items[i] = 1;
	/* Revenue shares 50%, 30%, 20%: one profile in each tier. */
	r.profile_cents[SEG_HEALTH_FOCUSED] = 500;
	r.profile_cents[SEG_FAMILY_STOCK_UP] = 300;
	r.profile_cents[SEG_CONVENIENCE] = 200;
	for (int i = 0; i < SEG_REGION_COUNT; i++)
		r.region_customers[i] = 1;
	for (int i = 0; i < SEG_AGE_COUNT; i++)
		r.age_customers[i] = 1;
	for (int i = 0; i < SEG_INCOME_COUNT; i++)
		r.income_customers[i] = 1;
	for (int i = 0; i < SEG_FAMILY_COUNT; i++)
		r.family_customers[i] = 1;
	r.persona_items[0] = 1;
	r.persona_cents[0] = 100;
	char *json = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&json, &len);
	assert_non_null(f);
	assert_int_equal(snap_report_write_json(&r, f), SNAP_OK);
	fclose(f);
	static const char *const want[] = {
		"\"loyalty\": {\"New customer\": 0, \"Regular customer\": 0, \"Loyal customer\": 0},",
		"\"spending\": {\"unknown\": 0, \"Low spender\": 0, \"High spender\": 0},",
		"\"frequency\": {\"unknown\": 0, \"Frequent customer\": 0, \"Regular customer\": 0, "
		"\"Non-frequent customer\": 0},",
		"\"primary_profile_customers\": {\"Health-Focused\": 0, \"Family Stock-Up\": 0, \"Convenience\": 0, "
		"\"Snack & Beverage\": 0, \"Household Essentials\": 0, \"Mixed / Other\": 0, \"Unknown\": 0},",
		"{\"name\": \"Health-Focused\", \"items\": 1, \"revenue_cents\": 500",
		"\"tier\": \"Tier 1 Core\"}",
		"{\"name\": \"Family Stock-Up\", \"items\": 1, \"revenue_cents\": 300",
		"\"tier\": \"Tier 2 Growth\"}",
		"{\"name\": \"Convenience\", \"items\": 1, \"revenue_cents\": 200",
		"\"tier\": \"Tier 3 Long tail\"}",
		"{\"name\": \"Northeast\", \"customers\": 1,",
		"{\"name\": \"Midwest\", \"customers\": 1,",
		"{\"name\": \"South\", \"customers\": 1,",
		"{\"name\": \"West\", \"customers\": 1,",
		"{\"name\": \"18-35\", \"customers\": 1,",
		"{\"name\": \"36-55\", \"customers\": 1,",
		"{\"name\": \"56+\", \"customers\": 1,",
		"{\"name\": \"Low\", \"customers\": 1,",
		"{\"name\": \"Middle\", \"customers\": 1,",
		"{\"name\": \"High\", \"customers\": 1,",
		"{\"name\": \"Family\", \"customers\": 1,",
		"{\"name\": \"Single\", \"customers\": 1,",
		"\"personas\": [\n    {\"name\": \"18-35 | Family | Low | Health-Focused\", \"items\": 1, "
		"\"revenue_cents\": 100, \"efficiency\": 1, \"tier\": \"Tier 3 Long tail\"}",
		"\"value_drivers\": {\n    \"basket_size\": {",
		"\"order_count\": {",
		"\"order_rate\": {",
		"\"reorder_rate\": {",
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		if (!strstr(json, want[i]))
			fail_msg("report.json lacks: %s", want[i]);
	free(json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_publish_read_back_and_keep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_manifest_carries_source_offsets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_as_of_watermark, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv_follows_the_column_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_merge_equals_one_state, setup, teardown),
		cmocka_unit_test(test_report_label_texts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
