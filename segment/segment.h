/**
 * @file segment.h
 * @brief The business rules of SPEC §4: labels and thresholds, as pure functions of a
 *        customer record and one configuration struct. Nothing else hard-codes a label.
 */
#ifndef SEGSTREAM_SEGMENT_H
#define SEGSTREAM_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "state/state.h"

/**
 * Thresholds, and each department's shopper profile; segment_config_init() fills SPEC §4's
 * defaults (the profiles of the Instacart catalog's department names, until
 * segment_config_name_department() names a department otherwise).
 */
struct segment_config {
	uint32_t loyal_above;                              /* max_order > this: Loyal (40) */
	uint32_t regular_above;                            /* max_order > this: Regular, else New (10) */
	uint64_t high_spender_cents;                       /* mean line price >= this: High spender (1000) */
	uint32_t nonfrequent_above;                        /* median days > this: Non-frequent (20) */
	uint32_t regular_freq_above;                       /* median days > this: Regular, else Frequent (10) */
	uint32_t low_activity_below;                       /* max_order < this: low activity (5) */
	uint8_t department_profile[STATE_DEPARTMENTS + 1]; /* enum segment_profile by department id (0 unused) */
	uint32_t clusters;     /* k of the behavioural clusters, 0..SEG_CLUSTERS_MAX; 0: none (5) */
	uint32_t cluster_seed; /* seed of the clusters' k-means++ initial centres (1) */
};

void segment_config_init(struct segment_config *cfg);

/**
 * @brief Sets one threshold by name from "key=value" (keys: the member names above, e.g.
 *        "loyal_above=40", "high_spender_cents=1000").
 * @return 0, or -1 for an unknown key or a value that is not a non-negative integer.
 */
int segment_config_set(struct segment_config *cfg, const char *key_value);

/**
 * @brief The names segment_config_set() accepts, one by one: for listing them in messages.
 * @param[in] i 0, 1, ... in a fixed order.
 * @return the i-th name (static storage), or NULL when i is past the last one.
 */
const char *segment_config_name(size_t i);

enum segment_loyalty { SEG_NEW, SEG_REGULAR, SEG_LOYAL, SEG_LOYALTY_COUNT };
enum segment_spending { SEG_SPEND_UNKNOWN, SEG_LOW_SPENDER, SEG_HIGH_SPENDER, SEG_SPENDING_COUNT };
enum segment_frequency { SEG_FREQ_UNKNOWN, SEG_FREQUENT, SEG_FREQ_REGULAR, SEG_NONFREQUENT, SEG_FREQUENCY_COUNT };

/** A customer's labels. */
struct segment_labels {
	enum segment_loyalty loyalty;
	enum segment_spending spending;
	enum segment_frequency frequency;
	int low_activity;             /* excluded from demographic profiles and reports */
	int32_t median_days_x2;       /* line-weighted median of days_since_prior, times 2; -1 if none */
	int32_t order_median_days_x2; /* order-weighted median, times 2; -1 if none */
};

/**
 * @brief Twice the median of a histogram of integer values 0..bins-1 (exact: the mean of the
 *        two middle values for an even count). @return -1 when the histogram is empty.
 */
int32_t segment_median_x2(const uint32_t *hist, int bins);

/** @brief The labels of one customer. Pure. */
void segment_label(const struct segment_config *cfg, const struct state_customer *c, struct segment_labels *out);

/* ---- Demographic groups and shopper profiles (SPEC §4) ---- */

enum segment_region { SEG_NORTHEAST, SEG_MIDWEST, SEG_SOUTH, SEG_WEST, SEG_REGION_COUNT };
enum segment_age { SEG_AGE_18_35, SEG_AGE_36_55, SEG_AGE_56_PLUS, SEG_AGE_COUNT };
enum segment_income { SEG_INCOME_LOW, SEG_INCOME_MIDDLE, SEG_INCOME_HIGH, SEG_INCOME_COUNT };
enum segment_family { SEG_FAMILY, SEG_SINGLE, SEG_FAMILY_COUNT };
/** Shopper profiles, in SPEC §4's order (which also breaks ties for the primary profile). */
enum segment_profile {
	SEG_HEALTH_FOCUSED,
	SEG_FAMILY_STOCK_UP,
	SEG_CONVENIENCE,
	SEG_SNACK_BEVERAGE,
	SEG_HOUSEHOLD_ESSENTIALS,
	SEG_MIXED_OTHER,
	SEG_PROFILE_UNKNOWN,
	SEG_PROFILE_COUNT
};
#define SEG_PERSONA_COUNT (SEG_AGE_COUNT * SEG_FAMILY_COUNT * SEG_INCOME_COUNT * SEG_PROFILE_COUNT)

/** A customer's demographic groups; valid = 0 when the customer has no demographics. */
struct segment_groups {
	int valid;
	enum segment_region region;
	enum segment_age age;
	enum segment_income income;
	enum segment_family family;
};

/**
 * @brief Groups of a customer's demographics (NULL: not valid). State indexes are those of
 *        event.h (the 51 names, alphabetical); DC is South.
 */
void segment_groups(const struct event_customer *d, struct segment_groups *out);

/**
 * @brief SPEC §4's rule, by department name (ASCII case ignored): produce, dairy eggs ->
 *        Health-Focused; pantry, frozen -> Family Stock-Up; deli, bakery -> Convenience; snacks,
 *        beverages -> Snack & Beverage; household, personal care, babies -> Household
 *        Essentials; any other name -> Mixed / Other; NULL or "" -> Unknown.
 */
enum segment_profile segment_department_name_profile(const char *name);

/** @brief The Instacart catalog's name of department @p id (1..21: "frozen", ... "missing"), or NULL. */
const char *segment_instacart_department_name(int id);

/**
 * @brief Names department @p id (1..STATE_DEPARTMENTS) in @p cfg: its lines take the profile of
 *        @p name from now on. Other ids are ignored.
 */
void segment_config_name_department(struct segment_config *cfg, int id, const char *name);

/** @brief The profile of a department id under cfg (SEG_PROFILE_UNKNOWN outside 1..STATE_DEPARTMENTS). */
enum segment_profile segment_department_profile(const struct segment_config *cfg, int department_id);

/**
 * @brief Items and cents per profile for one customer (lines of unknown products count as
 *        SEG_PROFILE_UNKNOWN items, with no cents), and the primary profile: the most items,
 *        ties broken in profile order. @return the primary profile (SEG_PROFILE_UNKNOWN if none).
 */
enum segment_profile segment_profiles(const struct segment_config *cfg, const struct state_customer *c,
				      uint64_t items_out[SEG_PROFILE_COUNT], uint64_t cents_out[SEG_PROFILE_COUNT]);

/** A customer's value drivers (README: "Value drivers"); NaN where the denominator is 0. */
struct segment_drivers {
	double basket_size;  /* items per order */
	double order_rate;   /* orders after the first per 30 days of the customer's span */
	double reorder_rate; /* reordered items per item */
};

/** @brief The value drivers of a customer's record (one place for their formulas). */
void segment_drivers(const struct state_customer *c, struct segment_drivers *out);

/** @brief Persona index of (groups, profile): age | family | income | profile. */
int segment_persona(const struct segment_groups *g, enum segment_profile p);
/** @brief Writes the persona's name ("18-35 | Family | Middle | Health-Focused"). */
void segment_persona_name(int persona, char *buf, size_t len);

const char *segment_region_name(enum segment_region r);
const char *segment_age_name(enum segment_age a);
const char *segment_income_name(enum segment_income i);
const char *segment_family_name(enum segment_family f);
const char *segment_profile_name(enum segment_profile p);

/** Revenue tiers of SPEC §4. */
enum segment_tier { SEG_TIER_CORE, SEG_TIER_GROWTH, SEG_TIER_LONG_TAIL };
const char *segment_tier_name(enum segment_tier t);

/**
 * @brief Tiers of n groups by revenue: sorted descending (ties by index), the cumulative share
 *        including the group <= 50% is Tier 1 Core, <= 80% Tier 2 Growth, else Tier 3. Groups
 *        with no revenue are Tier 3. Exact: compared in integers.
 */
void segment_tiers(const uint64_t *revenue, int n, enum segment_tier *tier_out);

/** @brief The label texts of SPEC §4 ("Loyal customer", ...; "unknown" for no value). */
const char *segment_loyalty_name(enum segment_loyalty l);
const char *segment_spending_name(enum segment_spending s);
const char *segment_frequency_name(enum segment_frequency f);

/* ---- Behavioural clusters (segment/cluster.c) ---- */

#define SEG_CLUSTERS_MAX     16
#define SEG_CLUSTER_FEATURES 4 /* basket size, order rate, reorder rate, log spend */
#define SEG_CLUSTER_ITER_MAX 300

/** The features' names, in order ("basket_size", "order_rate", "reorder_rate", "log_spend"). */
const char *segment_cluster_feature_name(int f);

/**
 * @brief A customer's cluster features in original units: basket size, order rate, reorder rate
 *        and log spend = ln(1 + spend in dollars).
 * @param[out] x_out  the features (left as they are when excluded)
 * @return 0, or -1 when the customer is excluded: low activity, or a driver undefined (an order
 *         rate needs a span of days > 0).
 */
int segment_cluster_features(const struct segment_labels *l, const struct segment_drivers *drv, uint64_t spend_cents,
			     double x_out[SEG_CLUSTER_FEATURES]);

/** A k-means clustering of n customers' standardised features (segment_kmeans()). */
struct segment_clusters {
	uint32_t k;          /* clusters made: min(requested k, distinct points); 0 when no point */
	uint64_t n;          /* points clustered */
	uint64_t seed;       /* of the k-means++ initial centres */
	uint32_t iterations; /* Lloyd iterations until no label changed (or SEG_CLUSTER_ITER_MAX) */
	int warm;            /* 1: the initial centres were given (e.g. the previous snapshot's); 0: k-means++ */
	double inertia;      /* sum of squared distances to the centres, standardised units */
	double mean[SEG_CLUSTER_FEATURES], sd[SEG_CLUSTER_FEATURES]; /* the standardisation (population sd) */
	double init[SEG_CLUSTERS_MAX][SEG_CLUSTER_FEATURES];         /* initial centres, standardised */
	double centre[SEG_CLUSTERS_MAX][SEG_CLUSTER_FEATURES];       /* final centres, standardised */
	uint64_t size[SEG_CLUSTERS_MAX];
};

/**
 * @brief k-means over n points: standardises @p x in place (z = (x - mean) / sd per feature; a
 *        feature with sd 0 becomes 0), takes @p start as the initial centres or else picks k by
 *        k-means++ from a splitmix64 stream seeded with @p seed, then runs Lloyd iterations
 *        (points in index order, the nearest centre by squared distance, ties to the lower index;
 *        an emptied cluster takes the point farthest from its centre) until no label changes.
 *        Deterministic. Pure.
 * @param x          n rows of SEG_CLUSTER_FEATURES doubles, row-major (standardised on return)
 * @param start      NULL, or k initial centres in original units (standardised here with this
 *                   data's mean and sd): a warm start from an earlier clustering, which keeps
 *                   clusters and their numbers stable while the data changes a little
 * @param work       scratch of n doubles
 * @param[out] label_out  n cluster indexes
 * @param[out] out   the result; out->k == 0 when n == 0 or k == 0
 */
void segment_kmeans(double *x, uint64_t n, uint32_t k, uint64_t seed, const double (*start)[SEG_CLUSTER_FEATURES],
		    double *work, int32_t *label_out, struct segment_clusters *out);

/**
 * @brief A plain name for a cluster from its standardised centre, e.g. "frequent small baskets,
 *        high reorder, low spend": each feature named when its centre is half an sd or more
 *        from the mean.
 */
void segment_cluster_name(const double centre[SEG_CLUSTER_FEATURES], char *buf, size_t len);

#endif
