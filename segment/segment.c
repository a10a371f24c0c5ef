/* Labels of SPEC §4 (see segment.h). */
#include "segment/segment.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void segment_config_init(struct segment_config *cfg)
{
	cfg->loyal_above = 40;
	cfg->regular_above = 10;
	cfg->high_spender_cents = 1000;
	cfg->nonfrequent_above = 20;
	cfg->regular_freq_above = 10;
	cfg->low_activity_below = 5;
	cfg->clusters = 5;
	cfg->cluster_seed = 1;
	cfg->department_profile[0] = SEG_PROFILE_UNKNOWN;
	for (int id = 1; id <= STATE_DEPARTMENTS; id++)
		segment_config_name_department(cfg, id, segment_instacart_department_name(id));
}

/* The thresholds -T sets, by name: the members of struct segment_config. */
static const struct {
	const char *name;
	size_t offset;
	int is_u64; /* else uint32_t */
} thresholds[] = {
	{ "loyal_above", offsetof(struct segment_config, loyal_above), 0 },
	{ "regular_above", offsetof(struct segment_config, regular_above), 0 },
	{ "high_spender_cents", offsetof(struct segment_config, high_spender_cents), 1 },
	{ "nonfrequent_above", offsetof(struct segment_config, nonfrequent_above), 0 },
	{ "regular_freq_above", offsetof(struct segment_config, regular_freq_above), 0 },
	{ "low_activity_below", offsetof(struct segment_config, low_activity_below), 0 },
	{ "clusters", offsetof(struct segment_config, clusters), 0 },
	{ "cluster_seed", offsetof(struct segment_config, cluster_seed), 0 },
};

int segment_config_set(struct segment_config *cfg, const char *kv)
{
	const char *eq = strchr(kv, '=');
	if (!eq || eq[1] < '0' || eq[1] > '9')
		return -1;
	char *end;
	unsigned long long v = strtoull(eq + 1, &end, 10);
	if (*end || v > UINT32_MAX)
		return -1;
	size_t klen = (size_t)(eq - kv);
	for (size_t i = 0; i < sizeof thresholds / sizeof thresholds[0]; i++) {
		if (strlen(thresholds[i].name) == klen && strncmp(thresholds[i].name, kv, klen) == 0) {
			if (thresholds[i].offset == offsetof(struct segment_config, clusters) && v > SEG_CLUSTERS_MAX)
				return -1;
			char *member = (char *)cfg + thresholds[i].offset;
			if (thresholds[i].is_u64)
				*(uint64_t *)(void *)member = v;
			else
				*(uint32_t *)(void *)member = (uint32_t)v;
			return 0;
		}
	}
	return -1;
}

const char *segment_config_name(size_t i)
{
	return i < sizeof thresholds / sizeof thresholds[0] ? thresholds[i].name : NULL;
}

/* The value at 0-based rank r of the sorted multiset the histogram describes. */
static int value_at_rank(const uint32_t *hist, int bins, uint64_t r)
{
	uint64_t seen = 0;
	for (int v = 0; v < bins; v++) {
		seen += hist[v];
		if (r < seen)
			return v;
	}
	return bins - 1;
}

int32_t segment_median_x2(const uint32_t *hist, int bins)
{
	uint64_t n = 0;
	for (int v = 0; v < bins; v++)
		n += hist[v];
	if (n == 0)
		return -1;
	return value_at_rank(hist, bins, (n - 1) / 2) + value_at_rank(hist, bins, n / 2);
}

void segment_label(const struct segment_config *cfg, const struct state_customer *c, struct segment_labels *out)
{
	out->loyalty = c->max_order > cfg->loyal_above     ? SEG_LOYAL
		       : c->max_order > cfg->regular_above ? SEG_REGULAR
							   : SEG_NEW;
	/* mean = spend / priced < threshold, compared without division so it stays exact */
	if (c->priced_items == 0)
		out->spending = SEG_SPEND_UNKNOWN;
	else
		out->spending = c->spend_cents < cfg->high_spender_cents * c->priced_items ? SEG_LOW_SPENDER
											   : SEG_HIGH_SPENDER;
	out->median_days_x2 = segment_median_x2(c->days_lines, STATE_DAY_BINS);
	out->order_median_days_x2 = segment_median_x2(c->days_orders, STATE_DAY_BINS);
	int32_t m2 = out->median_days_x2;
	if (m2 < 0)
		out->frequency = SEG_FREQ_UNKNOWN;
	else if (m2 > 2 * (int32_t)cfg->nonfrequent_above)
		out->frequency = SEG_NONFREQUENT;
	else if (m2 > 2 * (int32_t)cfg->regular_freq_above)
		out->frequency = SEG_FREQ_REGULAR;
	else
		out->frequency = SEG_FREQUENT;
	out->low_activity = c->max_order < cfg->low_activity_below;
}

const char *segment_loyalty_name(enum segment_loyalty l)
{
	static const char *const names[] = { "New customer", "Regular customer", "Loyal customer" };
	return (unsigned)l < SEG_LOYALTY_COUNT ? names[l] : "unknown";
}

const char *segment_spending_name(enum segment_spending s)
{
	static const char *const names[] = { "unknown", "Low spender", "High spender" };
	return (unsigned)s < SEG_SPENDING_COUNT ? names[s] : "unknown";
}

const char *segment_frequency_name(enum segment_frequency f)
{
	static const char *const names[] = { "unknown", "Frequent customer", "Regular customer",
					     "Non-frequent customer" };
	return (unsigned)f < SEG_FREQUENCY_COUNT ? names[f] : "unknown";
}

/* Census regions by the alphabetical state index of event.h:
 * AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ
 * NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY. */
static const uint8_t region_of_state[51] = {
	SEG_SOUTH,     SEG_WEST,    SEG_WEST,    SEG_SOUTH,     SEG_WEST,  SEG_WEST,      SEG_NORTHEAST, SEG_SOUTH,
	SEG_SOUTH,     SEG_SOUTH,   SEG_SOUTH,   SEG_WEST,      SEG_WEST,  SEG_MIDWEST,   SEG_MIDWEST,   SEG_MIDWEST,
	SEG_MIDWEST,   SEG_SOUTH,   SEG_SOUTH,   SEG_NORTHEAST, SEG_SOUTH, SEG_NORTHEAST, SEG_MIDWEST,   SEG_MIDWEST,
	SEG_SOUTH,     SEG_MIDWEST, SEG_WEST,    SEG_MIDWEST,   SEG_WEST,  SEG_NORTHEAST, SEG_NORTHEAST, SEG_WEST,
	SEG_NORTHEAST, SEG_SOUTH,   SEG_MIDWEST, SEG_MIDWEST,   SEG_SOUTH, SEG_WEST,      SEG_NORTHEAST, SEG_NORTHEAST,
	SEG_SOUTH,     SEG_MIDWEST, SEG_SOUTH,   SEG_SOUTH,     SEG_WEST,  SEG_NORTHEAST, SEG_SOUTH,     SEG_WEST,
	SEG_SOUTH,     SEG_MIDWEST, SEG_WEST,
};

void segment_groups(const struct event_customer *d, struct segment_groups *out)
{
	out->valid = d != NULL && d->state < 51;
	if (!out->valid)
		return;
	out->region = region_of_state[d->state];
	out->age = d->age <= 35 ? SEG_AGE_18_35 : d->age <= 55 ? SEG_AGE_36_55 : SEG_AGE_56_PLUS;
	out->income = d->income <= 60000 ? SEG_INCOME_LOW : d->income <= 120000 ? SEG_INCOME_MIDDLE : SEG_INCOME_HIGH;
	out->family = d->n_dependants > 0 ? SEG_FAMILY : SEG_SINGLE;
}

enum segment_profile segment_department_name_profile(const char *name)
{
	/* SPEC §4, in its order (first match wins). */
	static const struct {
		const char *name;
		enum segment_profile profile;
	} rule[] = {
		{ "produce", SEG_HEALTH_FOCUSED },
		{ "dairy eggs", SEG_HEALTH_FOCUSED },
		{ "pantry", SEG_FAMILY_STOCK_UP },
		{ "frozen", SEG_FAMILY_STOCK_UP },
		{ "deli", SEG_CONVENIENCE },
		{ "bakery", SEG_CONVENIENCE },
		{ "snacks", SEG_SNACK_BEVERAGE },
		{ "beverages", SEG_SNACK_BEVERAGE },
		{ "household", SEG_HOUSEHOLD_ESSENTIALS },
		{ "personal care", SEG_HOUSEHOLD_ESSENTIALS },
		{ "babies", SEG_HOUSEHOLD_ESSENTIALS },
	};
	if (!name || !*name)
		return SEG_PROFILE_UNKNOWN;
	for (size_t i = 0; i < sizeof rule / sizeof rule[0]; i++)
		if (strcasecmp(rule[i].name, name) == 0)
			return rule[i].profile;
	return SEG_MIXED_OTHER;
}

const char *segment_instacart_department_name(int id)
{
	static const char *const names[STATE_DEPARTMENTS] = {
		"frozen",    "other",     "bakery",          "produce",    "alcohol",       "international",
		"beverages", "pets",      "dry goods pasta", "bulk",       "personal care", "meat seafood",
		"pantry",    "breakfast", "canned goods",    "dairy eggs", "household",     "babies",
		"snacks",    "deli",      "missing",
	};
	return id >= 1 && id <= STATE_DEPARTMENTS ? names[id - 1] : NULL;
}

void segment_config_name_department(struct segment_config *cfg, int id, const char *name)
{
	if (id >= 1 && id <= STATE_DEPARTMENTS)
		cfg->department_profile[id] = (uint8_t)segment_department_name_profile(name);
}

enum segment_profile segment_department_profile(const struct segment_config *cfg, int department_id)
{
	if (department_id < 1 || department_id > STATE_DEPARTMENTS)
		return SEG_PROFILE_UNKNOWN;
	return (enum segment_profile)cfg->department_profile[department_id];
}

enum segment_profile segment_profiles(const struct segment_config *cfg, const struct state_customer *c,
				      uint64_t items[SEG_PROFILE_COUNT], uint64_t cents[SEG_PROFILE_COUNT])
{
	uint64_t with_department = 0;
	memset(items, 0, SEG_PROFILE_COUNT * sizeof *items);
	memset(cents, 0, SEG_PROFILE_COUNT * sizeof *cents);
	for (int d = 0; d < STATE_DEPARTMENTS; d++) {
		enum segment_profile p = segment_department_profile(cfg, d + 1);
		items[p] += c->dept_items[d];
		cents[p] += c->dept_cents[d];
		with_department += c->dept_items[d];
	}
	items[SEG_PROFILE_UNKNOWN] += c->items - with_department;
	enum segment_profile best = SEG_PROFILE_UNKNOWN;
	uint64_t most = 0;
	for (int p = 0; p < SEG_PROFILE_COUNT; p++)
		if (items[p] > most) {
			most = items[p];
			best = (enum segment_profile)p;
		}
	return best;
}

int segment_persona(const struct segment_groups *g, enum segment_profile p)
{
	return ((g->age * SEG_FAMILY_COUNT + g->family) * SEG_INCOME_COUNT + g->income) * SEG_PROFILE_COUNT + p;
}

void segment_persona_name(int persona, char *buf, size_t len)
{
	int p = persona % SEG_PROFILE_COUNT, rest = persona / SEG_PROFILE_COUNT;
	int income = rest % SEG_INCOME_COUNT, family = (rest / SEG_INCOME_COUNT) % SEG_FAMILY_COUNT;
	int age = rest / SEG_INCOME_COUNT / SEG_FAMILY_COUNT;
	snprintf(buf, len, "%s | %s | %s | %s", segment_age_name(age), segment_family_name(family),
		 segment_income_name(income), segment_profile_name(p));
}

#define NAME_OF(fn, type, count, ...)                                \
	const char *fn(type v)                                       \
	{                                                            \
		static const char *const names[] = { __VA_ARGS__ };  \
		return (unsigned)v < (count) ? names[v] : "unknown"; \
	}

NAME_OF(segment_region_name, enum segment_region, SEG_REGION_COUNT, "Northeast", "Midwest", "South", "West")
NAME_OF(segment_age_name, enum segment_age, SEG_AGE_COUNT, "18-35", "36-55", "56+")
NAME_OF(segment_income_name, enum segment_income, SEG_INCOME_COUNT, "Low", "Middle", "High")
NAME_OF(segment_family_name, enum segment_family, SEG_FAMILY_COUNT, "Family", "Single")
NAME_OF(segment_profile_name, enum segment_profile, SEG_PROFILE_COUNT, "Health-Focused", "Family Stock-Up",
	"Convenience", "Snack & Beverage", "Household Essentials", "Mixed / Other", "Unknown")
NAME_OF(segment_tier_name, enum segment_tier, 3, "Tier 1 Core", "Tier 2 Growth", "Tier 3 Long tail")

void segment_tiers(const uint64_t *revenue, int n, enum segment_tier *tier)
{
	uint64_t total = 0;
	for (int i = 0; i < n; i++)
		total += revenue[i];
	/* selection by descending revenue (n is small: personas, profiles) */
	char *done = calloc((size_t)n, 1);
	uint64_t cum = 0;
	for (int k = 0; k < n && done; k++) {
		int best = -1;
		for (int i = 0; i < n; i++)
			if (!done[i] && (best < 0 || revenue[i] > revenue[best]))
				best = i;
		done[best] = 1;
		cum += revenue[best];
		if (revenue[best] == 0 || total == 0)
			tier[best] = SEG_TIER_LONG_TAIL;
		else if (cum * 100 <= total * 50)
			tier[best] = SEG_TIER_CORE;
		else if (cum * 100 <= total * 80)
			tier[best] = SEG_TIER_GROWTH;
		else
			tier[best] = SEG_TIER_LONG_TAIL;
	}
	free(done);
}

void segment_drivers(const struct state_customer *c, struct segment_drivers *out)
{
	out->basket_size = c->orders ? (double)c->items / c->orders : NAN;
	out->order_rate = c->span_days ? (double)(c->orders - 1) * 30.0 / c->span_days : NAN;
	out->reorder_rate = c->items ? (double)c->reorders / c->items : NAN;
}
