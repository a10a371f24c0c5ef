/* report.json: the report of a snapshot (struct snap_report) written as JSON, with the label
 * texts of segment/ and the revenue tiers; see snapshot.h. */
#include "snapshot/snapshot.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>

/* Labels of the report's tables; buf is scratch for those made on demand. */
typedef const char *(*label_fn)(const struct snap_report *r, int i, char *buf, size_t len);

static void json_counts(FILE *f, const struct snap_report *r, const char *name, const uint64_t *v, int n,
			label_fn label, const char *after)
{
	char buf[96];
	fprintf(f, "  \"%s\": {", name);
	for (int i = 0; i < n; i++)
		fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "", label(r, i, buf, sizeof buf), v[i]);
	fprintf(f, "}%s\n", after);
}

static void json_number(FILE *f, double x)
{
	if (isnan(x))
		fputs("null", f);
	else
		fprintf(f, "%.17g", x);
}

/* A label from one of segment/'s name functions. */
#define NAME_LABEL(fn, name_of)                                                          \
	static const char *fn(const struct snap_report *r, int i, char *buf, size_t len) \
	{                                                                                \
		(void)r, (void)buf, (void)len;                                           \
		return name_of(i);                                                       \
	}

NAME_LABEL(loyalty_label, segment_loyalty_name)
NAME_LABEL(spending_label, segment_spending_name)
NAME_LABEL(frequency_label, segment_frequency_name)
NAME_LABEL(region_label, segment_region_name)
NAME_LABEL(age_label, segment_age_name)
NAME_LABEL(income_label, segment_income_name)
NAME_LABEL(family_label, segment_family_name)
NAME_LABEL(profile_label, segment_profile_name)

/* Day of week, hour as text. */
static const char *number_label(const struct snap_report *r, int i, char *buf, size_t len)
{
	(void)r;
	snprintf(buf, len, "%d", i);
	return buf;
}

/* A department (index 0..20) by the name the state holds, else its id (1..21) as text. */
static const char *dept_label(const struct snap_report *r, int i, char *buf, size_t len)
{
	return r->dept_names[i][0] ? r->dept_names[i] : number_label(r, i + 1, buf, len);
}

static const char *persona_label(const struct snap_report *r, int i, char *buf, size_t len)
{
	(void)r;
	segment_persona_name(i, buf, len);
	return buf;
}

/* A group table: customers (optional), items, cents, revenue share, tier. */
static void json_groups(FILE *f, const struct snap_report *r, const char *name, int n, label_fn label,
			const uint64_t *customers, const uint64_t *items, const uint64_t *cents, int with_tiers,
			int with_ids, const char *after)
{
	uint64_t total_items = 0, total_cents = 0;
	for (int i = 0; i < n; i++) {
		total_items += items[i];
		total_cents += cents[i];
	}
	enum segment_tier tiers[SEG_PERSONA_COUNT];
	char buf[96];
	if (with_tiers)
		segment_tiers(cents, n, tiers);
	fprintf(f, "  \"%s\": [\n", name);
	int first = 1;
	for (int i = 0; i < n; i++) {
		if (!items[i] && !cents[i] && (!customers || !customers[i]))
			continue;
		fprintf(f, "%s    {\"name\": \"%s\"", first ? "" : ",\n", label(r, i, buf, sizeof buf));
		if (with_ids) /* a name may be unknown or change; the id is what the events carry */
			fprintf(f, ", \"id\": %d", i + 1);
		first = 0;
		if (customers)
			fprintf(f, ", \"customers\": %" PRIu64, customers[i]);
		fprintf(f, ", \"items\": %" PRIu64 ", \"revenue_cents\": %" PRIu64, items[i], cents[i]);
		fprintf(f, ", \"efficiency\": ");
		json_number(f, total_items && total_cents && items[i]
				   ? ((double)cents[i] / total_cents) / ((double)items[i] / total_items)
				   : NAN);
		if (with_tiers)
			fprintf(f, ", \"tier\": \"%s\"", segment_tier_name(tiers[i]));
		fputc('}', f);
	}
	fprintf(f, "\n  ]%s\n", after);
}

static void json_vector(FILE *f, const double *x, int n)
{
	fputc('[', f);
	for (int i = 0; i < n; i++) {
		fputs(i ? ", " : "", f);
		json_number(f, x[i]);
	}
	fputc(']', f);
}

/* The clusters: each one's size, spend, centre in original units (log spend also as dollars,
 * expm1) and name; the standardisation and the initial centres that reproduce them. */
static void json_clusters(FILE *f, const struct snap_report *r)
{
	const struct segment_clusters *cl = &r->clusters;
	fprintf(f,
		"  \"clusters\": {\"k\": %" PRIu32 ", \"seed\": %" PRIu64 ", \"customers\": %" PRIu64
		", \"excluded\": %" PRIu64 ", \"iterations\": %" PRIu32 ", \"inertia\": ",
		cl->k, cl->seed, cl->n, r->cluster_excluded, cl->iterations);
	json_number(f, cl->inertia);
	if (r->cluster_start_sequence && cl->warm)
		fprintf(f, ", \"initial_centres_from\": \"snapshot %" PRIu64 "\"", r->cluster_start_sequence);
	else
		fprintf(f, ", \"initial_centres_from\": \"k-means++\"");
	fprintf(f, ",\n    \"features\": [");
	for (int j = 0; j < SEG_CLUSTER_FEATURES; j++)
		fprintf(f, "%s\"%s\"", j ? ", " : "", segment_cluster_feature_name(j));
	fprintf(f, "],\n    \"mean\": ");
	json_vector(f, cl->mean, SEG_CLUSTER_FEATURES);
	fprintf(f, ",\n    \"sd\": ");
	json_vector(f, cl->sd, SEG_CLUSTER_FEATURES);
	fprintf(f, ",\n    \"initial_centres\": [");
	for (uint32_t c = 0; c < cl->k; c++) {
		fputs(c ? ", " : "", f);
		json_vector(f, cl->init[c], SEG_CLUSTER_FEATURES);
	}
	fprintf(f, "],\n    \"clusters\": [");
	for (uint32_t c = 0; c < cl->k; c++) {
		char name[96];
		segment_cluster_name(cl->centre[c], name, sizeof name);
		fprintf(f,
			"%s\n      {\"cluster\": %" PRIu32 ", \"name\": \"%s\", \"customers\": %" PRIu64
			", \"spend_cents\": %" PRIu64 ", \"centre\": {",
			c ? "," : "", c, name, cl->size[c], r->cluster_spend_cents[c]);
		for (int j = 0; j < SEG_CLUSTER_FEATURES; j++) {
			fprintf(f, "%s\"%s\": ", j ? ", " : "", segment_cluster_feature_name(j));
			json_number(f, cl->mean[j] + cl->sd[j] * cl->centre[c][j]);
		}
		fprintf(f, ", \"spend_dollars\": ");
		json_number(f, expm1(cl->mean[3] + cl->sd[3] * cl->centre[c][3]));
		fprintf(f, "}, \"centre_standardised\": ");
		json_vector(f, cl->centre[c], SEG_CLUSTER_FEATURES);
		fputc('}', f);
	}
	fprintf(f, "\n    ]}\n");
}

/* Days since 1970-01-01 to a civil date (proleptic Gregorian; H. Hinnant's algorithm). */
const char *snap_as_of_text(int64_t ms, char *buf, size_t len)
{
	if (ms == INT64_MIN || len < 11)
		return NULL;
	int64_t z = (ms >= 0 ? ms : ms - 86399999) / 86400000 + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097, doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365,
		doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
	int64_t y = yoe + era * 400 + (m <= 2);
	snprintf(buf, len, "%04lld-%02lld-%02lld", (long long)y, (long long)m, (long long)d);
	return buf;
}

int snap_report_write_json(const struct snap_report *r, FILE *f)
{
	char day[16];
	const char *as_of = snap_as_of_text(r->event_time_max_ms, day, sizeof day);
	fprintf(f, "{\n  \"format\": %d,\n", SNAP_REPORT_FORMAT);
	if (as_of)
		fprintf(f, "  \"as_of\": \"%s\",\n  \"event_time_max_ms\": %" PRId64 ",\n", as_of,
			r->event_time_max_ms);
	else
		fprintf(f, "  \"as_of\": null,\n  \"event_time_max_ms\": null,\n");
	fprintf(f,
		"  \"customers\": %" PRIu64 ",\n  \"low_activity\": %" PRIu64 ",\n  \"with_demographics\": %" PRIu64
		",\n",
		r->customers, r->low_activity, r->with_demographics);
	fprintf(f,
		"  \"orders\": %" PRIu64 ",\n  \"items\": %" PRIu64 ",\n  \"priced_items\": %" PRIu64
		",\n  \"reorders\": %" PRIu64 ",\n  \"spend_cents\": %" PRIu64 ",\n",
		r->orders, r->items, r->priced_items, r->reorders, r->spend_cents);
	json_counts(f, r, "loyalty", r->loyalty, SEG_LOYALTY_COUNT, loyalty_label, ",");
	json_counts(f, r, "loyalty_lines", r->loyalty_lines, SEG_LOYALTY_COUNT, loyalty_label, ",");
	json_counts(f, r, "spending", r->spending, SEG_SPENDING_COUNT, spending_label, ",");
	json_counts(f, r, "frequency", r->frequency, SEG_FREQUENCY_COUNT, frequency_label, ",");
	json_counts(f, r, "primary_profile_customers", r->profile_customers, SEG_PROFILE_COUNT, profile_label, ",");
	json_counts(f, r, "orders_by_dow", r->dow_orders, 7, number_label, ",");
	json_counts(f, r, "lines_by_dow", r->dow_lines, 7, number_label, ",");
	json_counts(f, r, "orders_by_hour", r->hour_orders, 24, number_label, ",");
	json_counts(f, r, "lines_by_hour", r->hour_lines, 24, number_label, ",");
	json_counts(f, r, "spend_cents_by_dow", r->dow_cents, 7, number_label, ",");
	json_counts(f, r, "spend_cents_by_hour", r->hour_cents, 24, number_label, ",");
	json_groups(f, r, "departments", STATE_DEPARTMENTS, dept_label, NULL, r->dept_items, r->dept_cents, 0, 1, ",");
	json_groups(f, r, "profiles", SEG_PROFILE_COUNT, profile_label, NULL, r->profile_items, r->profile_cents, 1, 0,
		    ",");
	json_groups(f, r, "regions", SEG_REGION_COUNT, region_label, r->region_customers, r->region_items,
		    r->region_cents, 0, 0, ",");
	json_groups(f, r, "age_groups", SEG_AGE_COUNT, age_label, r->age_customers, r->age_items, r->age_cents, 0, 0,
		    ",");
	json_groups(f, r, "income_groups", SEG_INCOME_COUNT, income_label, r->income_customers, r->income_items,
		    r->income_cents, 0, 0, ",");
	json_groups(f, r, "family_groups", SEG_FAMILY_COUNT, family_label, r->family_customers, r->family_items,
		    r->family_cents, 0, 0, ",");
	json_groups(f, r, "personas", SEG_PERSONA_COUNT, persona_label, NULL, r->persona_items, r->persona_cents, 1, 0,
		    ",");
	/* The departments of region_department_cents' columns, by id - 1 (null: no name known). */
	fprintf(f, "  \"department_names\": [");
	for (int d = 0; d < STATE_DEPARTMENTS; d++)
		fprintf(f, r->dept_names[d][0] ? "%s\"%s\"" : "%snull", d ? ", " : "", r->dept_names[d]);
	fprintf(f, "],\n  \"region_department_cents\": {");
	for (int g = 0; g < SEG_REGION_COUNT; g++) {
		fprintf(f, "%s\"%s\": [", g ? ", " : "", segment_region_name(g));
		for (int d = 0; d < STATE_DEPARTMENTS; d++)
			fprintf(f, "%s%" PRIu64, d ? ", " : "", r->region_dept_cents[g][d]);
		fputc(']', f);
	}
	fprintf(f, "},\n  \"region_income\": {");
	for (int g = 0; g < SEG_REGION_COUNT; g++) {
		fprintf(f, "%s\"%s\": {", g ? ", " : "", segment_region_name(g));
		for (int i = 0; i < SEG_INCOME_COUNT; i++)
			fprintf(f, "%s\"%s\": {\"customers\": %" PRIu64 ", \"spend_cents\": %" PRIu64 "}",
				i ? ", " : "", segment_income_name(i), r->region_income_customers[g][i],
				r->region_income_cents[g][i]);
		fputc('}', f);
	}
	fprintf(f, "},\n  \"loyalty_department_items\": {");
	for (int l = 0; l < SEG_LOYALTY_COUNT; l++) {
		fprintf(f, "%s\"%s\": [", l ? ", " : "", segment_loyalty_name(l));
		for (int d = 0; d < STATE_DEPARTMENTS; d++)
			fprintf(f, "%s%" PRIu64, d ? ", " : "", r->loyalty_dept_items[l][d]);
		fputc(']', f);
	}
	fprintf(f, "},\n  \"value_drivers\": {");
	static const char *const drivers[SNAP_DRIVERS] = { "basket_size", "order_count", "order_rate", "reorder_rate" };
	for (int k = 0; k < SNAP_DRIVERS; k++) {
		fprintf(f, "%s\n    \"%s\": {\"customers\": %" PRIu64 ", \"pearson_with_value\": ", k ? "," : "",
			drivers[k], r->driver_n[k]);
		json_number(f, r->driver_pearson[k]);
		fprintf(f, ", \"mean_value_cents_by_quintile\": [");
		for (int q = 0; q < 5; q++) {
			fputs(q ? ", " : "", f);
			json_number(f, r->driver_quintile_value[k][q]);
		}
		fprintf(f, "]}");
	}
	fprintf(f, "\n  },\n");
	json_clusters(f, r);
	fprintf(f, "}\n");
	return ferror(f) ? SNAP_IO : SNAP_OK;
}
