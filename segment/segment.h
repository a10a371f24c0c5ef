/**
 * @file segment.h
 * @brief The business rules of SPEC §4: labels and thresholds, as pure functions of a
 *        customer record and one configuration struct. Nothing else hard-codes a label.
 */
#ifndef SEGSTREAM_SEGMENT_H
#define SEGSTREAM_SEGMENT_H

#include <stdint.h>

#include "state/state.h"

/** Thresholds; segment_config_init() fills SPEC §4's defaults. */
struct segment_config {
	uint32_t loyal_above;         /* max_order > this: Loyal (40) */
	uint32_t regular_above;       /* max_order > this: Regular, else New (10) */
	uint64_t high_spender_cents;  /* mean line price >= this: High spender (1000) */
	uint32_t nonfrequent_above;   /* median days > this: Non-frequent (20) */
	uint32_t regular_freq_above;  /* median days > this: Regular, else Frequent (10) */
	uint32_t low_activity_below;  /* max_order < this: low activity (5) */
};

void segment_config_init(struct segment_config *cfg);

/**
 * @brief Sets one threshold by name from "key=value" (keys: the member names above, e.g.
 *        "loyal_above=40", "high_spender_cents=1000").
 * @return 0, or -1 for an unknown key or a value that is not a non-negative integer.
 */
int segment_config_set(struct segment_config *cfg, const char *key_value);

enum segment_loyalty { SEG_NEW, SEG_REGULAR, SEG_LOYAL, SEG_LOYALTY_COUNT };
enum segment_spending { SEG_SPEND_UNKNOWN, SEG_LOW_SPENDER, SEG_HIGH_SPENDER, SEG_SPENDING_COUNT };
enum segment_frequency { SEG_FREQ_UNKNOWN, SEG_FREQUENT, SEG_FREQ_REGULAR, SEG_NONFREQUENT, SEG_FREQUENCY_COUNT };

/** A customer's labels. */
struct segment_labels {
	enum segment_loyalty loyalty;
	enum segment_spending spending;
	enum segment_frequency frequency;
	int low_activity;            /* excluded from demographic profiles and reports */
	int32_t median_days_x2;      /* line-weighted median of days_since_prior, times 2; -1 if none */
	int32_t order_median_days_x2;/* order-weighted median, times 2; -1 if none */
};

/**
 * @brief Twice the median of a histogram of integer values 0..bins-1 (exact: the mean of the
 *        two middle values for an even count). @return -1 when the histogram is empty.
 */
int32_t segment_median_x2(const uint32_t *hist, int bins);

/** @brief The labels of one customer. Pure. */
void segment_label(const struct segment_config *cfg, const struct state_customer *c, struct segment_labels *out);

/** @brief The label texts of SPEC §4 ("Loyal customer", ...; "unknown" for no value). */
const char *segment_loyalty_name(enum segment_loyalty l);
const char *segment_spending_name(enum segment_spending s);
const char *segment_frequency_name(enum segment_frequency f);

#endif
