/* Unit tests of segment/: medians from histograms, every label boundary of SPEC §4, and the
 * behavioural clusters (k-means, features, names). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "segment/segment.h"

static void test_median_x2(void **state)
{
	(void)state;
	uint32_t h[STATE_DAY_BINS] = { 0 };
	assert_int_equal(segment_median_x2(h, STATE_DAY_BINS), -1);
	h[30] = 1;
	assert_int_equal(segment_median_x2(h, STATE_DAY_BINS), 60);
	h[0] = 1; /* {0, 30}: 15 */
	assert_int_equal(segment_median_x2(h, STATE_DAY_BINS), 30);
	h[7] = 1; /* {0, 7, 30}: 7 */
	assert_int_equal(segment_median_x2(h, STATE_DAY_BINS), 14);
	h[8] = 1; /* {0, 7, 8, 30}: 7.5 */
	assert_int_equal(segment_median_x2(h, STATE_DAY_BINS), 15);
}

static struct segment_labels label_with(uint32_t max_order, uint32_t priced, uint64_t cents, int day, int n_days)
{
	struct state_customer c;
	memset(&c, 0, sizeof c);
	c.max_order = max_order;
	c.priced_items = priced;
	c.spend_cents = cents;
	if (day >= 0)
		c.days_lines[day] = (uint32_t)n_days;
	struct segment_config cfg;
	segment_config_init(&cfg);
	struct segment_labels l;
	segment_label(&cfg, &c, &l);
	return l;
}

static void test_label_boundaries(void **state)
{
	(void)state;
	assert_int_equal(label_with(40, 0, 0, -1, 0).loyalty, SEG_REGULAR);
	assert_int_equal(label_with(41, 0, 0, -1, 0).loyalty, SEG_LOYAL);
	assert_int_equal(label_with(10, 0, 0, -1, 0).loyalty, SEG_NEW);
	assert_int_equal(label_with(11, 0, 0, -1, 0).loyalty, SEG_REGULAR);
	assert_int_equal(label_with(4, 0, 0, -1, 0).low_activity, 1);
	assert_int_equal(label_with(5, 0, 0, -1, 0).low_activity, 0);
	assert_int_equal(label_with(5, 0, 0, -1, 0).spending, SEG_SPEND_UNKNOWN);
	assert_int_equal(label_with(5, 3, 2999, -1, 0).spending, SEG_LOW_SPENDER);  /* 9.9966 */
	assert_int_equal(label_with(5, 3, 3000, -1, 0).spending, SEG_HIGH_SPENDER); /* exactly 10.00 */
	assert_int_equal(label_with(5, 0, 0, -1, 0).frequency, SEG_FREQ_UNKNOWN);
	assert_int_equal(label_with(5, 0, 0, 10, 3).frequency, SEG_FREQUENT);
	assert_int_equal(label_with(5, 0, 0, 11, 3).frequency, SEG_FREQ_REGULAR);
	assert_int_equal(label_with(5, 0, 0, 20, 3).frequency, SEG_FREQ_REGULAR);
	assert_int_equal(label_with(5, 0, 0, 21, 3).frequency, SEG_NONFREQUENT);
	assert_string_equal(segment_loyalty_name(SEG_LOYAL), "Loyal customer");
	assert_string_equal(segment_spending_name(SEG_HIGH_SPENDER), "High spender");
}

static void test_thresholds_come_from_config(void **state)
{
	(void)state;
	struct state_customer c;
	memset(&c, 0, sizeof c);
	c.max_order = 30;
	struct segment_config cfg;
	segment_config_init(&cfg);
	assert_int_equal(segment_config_set(&cfg, "loyal_above=25"), 0);
	struct segment_labels l;
	segment_label(&cfg, &c, &l);
	assert_int_equal(l.loyalty, SEG_LOYAL);
	assert_int_equal(segment_config_set(&cfg, "high_spender_cents=700"), 0);
	assert_true(cfg.high_spender_cents == 700);
	assert_int_equal(segment_config_set(&cfg, "loyal=3"), -1);
	assert_int_equal(segment_config_set(&cfg, "loyal_above=-3"), -1);
	assert_int_equal(segment_config_set(&cfg, "loyal_above"), -1);
	assert_int_equal(segment_config_set(&cfg, "loyal_above=12x"), -1);
}

/* The value drivers' formulas (README "Value drivers"), and NaN where a denominator is 0. */
static void test_drivers(void **unused)
{
	(void)unused;
	struct state_customer c = { .orders = 4, .items = 10, .reorders = 5, .span_days = 60 };
	struct segment_drivers d;
	segment_drivers(&c, &d);
	assert_true(d.basket_size == 2.5);
	assert_true(d.order_rate == 1.5); /* 3 orders after the first over 60 days, per 30 days */
	assert_true(d.reorder_rate == 0.5);
	memset(&c, 0, sizeof c);
	segment_drivers(&c, &d);
	assert_true(isnan(d.basket_size) && isnan(d.order_rate) && isnan(d.reorder_rate));
}

/* Every name segment_config_name lists is a key segment_config_set takes, and sets its own
 * member (each to a distinct value); past the last name comes NULL. */
/* SPEC §4's profile rule goes by department name: the default names are the Instacart catalog's,
 * and a catalog whose ids name other departments moves the lines to the profile of the name. */
static void test_profiles_by_department_name(void **unused)
{
	(void)unused;
	struct segment_config cfg;
	segment_config_init(&cfg);
	assert_int_equal(segment_department_name_profile("produce"), SEG_HEALTH_FOCUSED);
	assert_int_equal(segment_department_name_profile("Dairy Eggs"), SEG_HEALTH_FOCUSED);
	assert_int_equal(segment_department_name_profile("frozen"), SEG_FAMILY_STOCK_UP);
	assert_int_equal(segment_department_name_profile("bakery"), SEG_CONVENIENCE);
	assert_int_equal(segment_department_name_profile("beverages"), SEG_SNACK_BEVERAGE);
	assert_int_equal(segment_department_name_profile("babies"), SEG_HOUSEHOLD_ESSENTIALS);
	assert_int_equal(segment_department_name_profile("alcohol"), SEG_MIXED_OTHER);
	assert_int_equal(segment_department_name_profile("produce aisle"), SEG_MIXED_OTHER);
	assert_int_equal(segment_department_name_profile(""), SEG_PROFILE_UNKNOWN);
	assert_int_equal(segment_department_name_profile(NULL), SEG_PROFILE_UNKNOWN);
	/* The Instacart ids by default: produce 4, dairy eggs 16, pantry 13, frozen 1, deli 20, ... */
	static const int ids[] = { 4, 16, 13, 1, 20, 3, 19, 7, 17, 11, 18, 2, 21 };
	static const enum segment_profile want[] = {
		SEG_HEALTH_FOCUSED,       SEG_HEALTH_FOCUSED,       SEG_FAMILY_STOCK_UP,      SEG_FAMILY_STOCK_UP,
		SEG_CONVENIENCE,          SEG_CONVENIENCE,          SEG_SNACK_BEVERAGE,       SEG_SNACK_BEVERAGE,
		SEG_HOUSEHOLD_ESSENTIALS, SEG_HOUSEHOLD_ESSENTIALS, SEG_HOUSEHOLD_ESSENTIALS, SEG_MIXED_OTHER,
		SEG_MIXED_OTHER,
	};
	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
		assert_int_equal(segment_department_profile(&cfg, ids[i]), want[i]);
	assert_int_equal(segment_department_profile(&cfg, 0), SEG_PROFILE_UNKNOWN);
	assert_int_equal(segment_department_profile(&cfg, STATE_DEPARTMENTS + 1), SEG_PROFILE_UNKNOWN);
	assert_string_equal(segment_instacart_department_name(1), "frozen");
	assert_string_equal(segment_instacart_department_name(21), "missing");
	assert_null(segment_instacart_department_name(22));
	/* A customer with 3 lines in department 2 and 2 in department 4. */
	struct state_customer c = { .items = 5 };
	c.dept_items[1] = 3;
	c.dept_items[3] = 2;
	uint64_t items[SEG_PROFILE_COUNT], cents[SEG_PROFILE_COUNT];
	assert_int_equal(segment_profiles(&cfg, &c, items, cents), SEG_MIXED_OTHER); /* "other" */
	assert_true(items[SEG_MIXED_OTHER] == 3 && items[SEG_HEALTH_FOCUSED] == 2);
	/* In a catalog where department 2 is named "snacks" and 4 "pets", the same lines move. */
	segment_config_name_department(&cfg, 2, "snacks");
	segment_config_name_department(&cfg, 4, "pets");
	segment_config_name_department(&cfg, 99, "produce"); /* ignored */
	assert_int_equal(segment_profiles(&cfg, &c, items, cents), SEG_SNACK_BEVERAGE);
	assert_true(items[SEG_SNACK_BEVERAGE] == 3 && items[SEG_MIXED_OTHER] == 2 && items[SEG_HEALTH_FOCUSED] == 0);
}

static void test_threshold_names_enumerate_the_config(void **state)
{
	(void)state;
	struct segment_config cfg;
	segment_config_init(&cfg);
	size_t n = 0;
	for (const char *name; (name = segment_config_name(n)) != NULL; n++) {
		char kv[64];
		snprintf(kv, sizeof kv, "%s=%zu", name, strcmp(name, "clusters") ? 101 + n : n);
		assert_int_equal(segment_config_set(&cfg, kv), 0);
	}
	assert_int_equal(n, 8);
	assert_null(segment_config_name(n));
	assert_int_equal(cfg.loyal_above, 101);
	assert_int_equal(cfg.regular_above, 102);
	assert_true(cfg.high_spender_cents == 103);
	assert_int_equal(cfg.nonfrequent_above, 104);
	assert_int_equal(cfg.regular_freq_above, 105);
	assert_int_equal(cfg.low_activity_below, 106);
	assert_int_equal(cfg.clusters, 6);
	assert_int_equal(cfg.cluster_seed, 108);
	assert_int_equal(segment_config_set(&cfg, "clusters=17"), -1); /* more than SEG_CLUSTERS_MAX */
	assert_int_equal(cfg.clusters, 6);
	assert_int_equal(segment_config_set(&cfg, "clusters=16"), 0);
}

/* Points of three tight, well-separated blobs (in the 4 features), interleaved, n per blob. */
static void three_blobs(double *x, int n)
{
	static const double base[3][SEG_CLUSTER_FEATURES] = { { 5, 1, 0.3, 4 }, { 20, 1, 0.6, 4 }, { 5, 8, 0.9, 8 } };
	for (int i = 0; i < 3 * n; i++)
		for (int f = 0; f < SEG_CLUSTER_FEATURES; f++)
			x[i * SEG_CLUSTER_FEATURES + f] = base[i % 3][f] + 0.001 * ((i * 7 + f * 3) % 5);
}

/* k-means finds the three blobs whatever the seed, with centres at the blobs' means; the same
 * seed gives the same initial centres, labels and inertia; the inertia is the sum of squared
 * distances to the centres. */
static void test_kmeans_finds_blobs(void **state)
{
	(void)state;
	enum { N = 40 };
	double x[3 * N * SEG_CLUSTER_FEATURES], z[3 * N * SEG_CLUSTER_FEATURES], work[3 * N];
	int32_t label[3 * N], again[3 * N];
	struct segment_clusters out, out2;
	for (uint64_t seed = 1; seed <= 20; seed++) {
		three_blobs(x, N);
		segment_kmeans(x, 3 * N, 3, seed, NULL, work, label, &out);
		assert_int_equal(out.k, 3);
		assert_true(out.n == 3 * N);
		for (int i = 0; i < 3 * N; i++)
			assert_int_equal(label[i], label[i % 3]); /* each blob one cluster */
		assert_true(label[0] != label[1] && label[1] != label[2] && label[0] != label[2]);
		for (int c = 0; c < 3; c++)
			assert_true(out.size[c] == N);
		double inertia = 0;
		for (int i = 0; i < 3 * N; i++)
			for (int f = 0; f < SEG_CLUSTER_FEATURES; f++) {
				double d = x[i * SEG_CLUSTER_FEATURES + f] - out.centre[label[i]][f];
				inertia += d * d;
			}
		assert_true(fabs(inertia - out.inertia) <= 1e-12 * (1 + inertia));
		/* the centre in original units is the blob's mean */
		double b = out.mean[0] + out.sd[0] * out.centre[label[1]][0];
		assert_true(fabs(b - 20.002) < 0.002);
		three_blobs(z, N);
		segment_kmeans(z, 3 * N, 3, seed, NULL, work, again, &out2);
		assert_memory_equal(label, again, sizeof label);
		assert_memory_equal(&out, &out2, sizeof out);
	}
	three_blobs(x, N);
	segment_kmeans(x, 3 * N, 3, 1, NULL, work, label, &out);
	three_blobs(z, N);
	segment_kmeans(z, 3 * N, 3, 2, NULL, work, again, &out2);
	assert_memory_not_equal(out.init, out2.init, sizeof out.init); /* the seed picks the initial centres */
}

/* A warm start from the centres of an earlier run (in original units) on slightly changed data
 * keeps every unchanged point in its cluster, under the same number, and says it was warm. */
static void test_kmeans_warm_start(void **state)
{
	(void)state;
	enum { N = 40 };
	double x[3 * N * SEG_CLUSTER_FEATURES], work[3 * N], start[SEG_CLUSTERS_MAX][SEG_CLUSTER_FEATURES];
	int32_t label[3 * N], again[3 * N];
	struct segment_clusters out, out2;
	three_blobs(x, N);
	segment_kmeans(x, 3 * N, 3, 5, NULL, work, label, &out);
	assert_int_equal(out.warm, 0);
	for (uint32_t c = 0; c < out.k; c++)
		for (int f = 0; f < SEG_CLUSTER_FEATURES; f++)
			start[c][f] = out.mean[f] + out.sd[f] * out.centre[c][f];
	three_blobs(x, N);
	x[0] += 0.002; /* one point moves a little */
	segment_kmeans(x, 3 * N, 3, 99, (const double(*)[SEG_CLUSTER_FEATURES])start, work, again, &out2);
	assert_int_equal(out2.warm, 1);
	assert_int_equal(out2.k, 3);
	assert_memory_equal(label, again, sizeof label);
	for (int c = 0; c < 3; c++)
		for (int f = 0; f < SEG_CLUSTER_FEATURES; f++)
			assert_true(fabs(out2.init[c][f] - out.centre[c][f]) < 0.01);
}

/* Fewer distinct points than k: as many clusters as distinct points; no point: no cluster. */
static void test_kmeans_small_inputs(void **state)
{
	(void)state;
	double x[4 * SEG_CLUSTER_FEATURES] = { 1, 2, 3, 4, 1, 2, 3, 4, 5, 6, 7, 8, 5, 6, 7, 8 }, work[4];
	int32_t label[4];
	struct segment_clusters out;
	segment_kmeans(x, 4, 5, 1, NULL, work, label, &out);
	assert_int_equal(out.k, 2);
	assert_int_equal(label[0], label[1]);
	assert_int_equal(label[2], label[3]);
	assert_int_not_equal(label[0], label[2]);
	assert_true(out.inertia == 0);
	segment_kmeans(x, 0, 5, 1, NULL, work, label, &out);
	assert_int_equal(out.k, 0);
}

/* Excluded: low activity, or an undefined driver; log spend is ln(1 + dollars). */
static void test_cluster_features(void **state)
{
	(void)state;
	struct segment_labels l = { .low_activity = 0 };
	struct segment_drivers d = { 10, 2, 0.5 };
	double x[SEG_CLUSTER_FEATURES];
	assert_int_equal(segment_cluster_features(&l, &d, 9900, x), 0);
	assert_true(x[0] == 10 && x[1] == 2 && x[2] == 0.5);
	assert_true(fabs(x[3] - log(100.0)) < 1e-12);
	d.order_rate = NAN;
	assert_int_equal(segment_cluster_features(&l, &d, 9900, x), -1);
	d.order_rate = 2;
	l.low_activity = 1;
	assert_int_equal(segment_cluster_features(&l, &d, 9900, x), -1);
}

/* The name says which features stand out (half an sd or more) and how. */
static void test_cluster_names(void **state)
{
	(void)state;
	char buf[96];
	segment_cluster_name((const double[]){ -1, 1, 0, 0 }, buf, sizeof buf);
	assert_string_equal(buf, "frequent small baskets");
	segment_cluster_name((const double[]){ 0.6, -0.7, 0.9, -2 }, buf, sizeof buf);
	assert_string_equal(buf, "occasional large baskets, high reorder, low spend");
	segment_cluster_name((const double[]){ 0.1, 0.2, -0.3, 0.4 }, buf, sizeof buf);
	assert_string_equal(buf, "medium baskets");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_median_x2),
		cmocka_unit_test(test_drivers),
		cmocka_unit_test(test_label_boundaries),
		cmocka_unit_test(test_thresholds_come_from_config),
		cmocka_unit_test(test_threshold_names_enumerate_the_config),
		cmocka_unit_test(test_kmeans_finds_blobs),
		cmocka_unit_test(test_kmeans_small_inputs),
		cmocka_unit_test(test_kmeans_warm_start),
		cmocka_unit_test(test_cluster_features),
		cmocka_unit_test(test_cluster_names),
		cmocka_unit_test(test_profiles_by_department_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
