/* Labels of SPEC §4 (see segment.h). */
#include "segment/segment.h"

#include <stdlib.h>
#include <string.h>

void segment_config_init(struct segment_config *cfg)
{
	cfg->loyal_above = 40;
	cfg->regular_above = 10;
	cfg->high_spender_cents = 1000;
	cfg->nonfrequent_above = 20;
	cfg->regular_freq_above = 10;
	cfg->low_activity_below = 5;
}

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
	struct {
		const char *name;
		uint32_t *u32;
		uint64_t *u64;
	} keys[] = {
		{ "loyal_above", &cfg->loyal_above, NULL },
		{ "regular_above", &cfg->regular_above, NULL },
		{ "high_spender_cents", NULL, &cfg->high_spender_cents },
		{ "nonfrequent_above", &cfg->nonfrequent_above, NULL },
		{ "regular_freq_above", &cfg->regular_freq_above, NULL },
		{ "low_activity_below", &cfg->low_activity_below, NULL },
	};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		if (strlen(keys[i].name) == klen && strncmp(keys[i].name, kv, klen) == 0) {
			if (keys[i].u32)
				*keys[i].u32 = (uint32_t)v;
			else
				*keys[i].u64 = v;
			return 0;
		}
	}
	return -1;
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
	out->loyalty = c->max_order > cfg->loyal_above ? SEG_LOYAL
		     : c->max_order > cfg->regular_above ? SEG_REGULAR : SEG_NEW;
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
