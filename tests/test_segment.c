/* Unit tests of segment/: medians from histograms and every label boundary of SPEC §4. */
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
		snprintf(kv, sizeof kv, "%s=%zu", name, 101 + n);
		assert_int_equal(segment_config_set(&cfg, kv), 0);
	}
	assert_int_equal(n, 6);
	assert_null(segment_config_name(n));
	assert_int_equal(cfg.loyal_above, 101);
	assert_int_equal(cfg.regular_above, 102);
	assert_true(cfg.high_spender_cents == 103);
	assert_int_equal(cfg.nonfrequent_above, 104);
	assert_int_equal(cfg.regular_freq_above, 105);
	assert_int_equal(cfg.low_activity_below, 106);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_median_x2),
		cmocka_unit_test(test_drivers),
		cmocka_unit_test(test_label_boundaries),
		cmocka_unit_test(test_thresholds_come_from_config),
		cmocka_unit_test(test_threshold_names_enumerate_the_config),
		cmocka_unit_test(test_profiles_by_department_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
