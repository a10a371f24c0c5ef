/* A report.json read back into the sums of a struct snap_report and added to others: the part of
 * a merged report that adds up across instances (counts and totals by label, group, persona,
 * department, day and hour); see snapshot_int.h. The labels are segment/'s names, as
 * report_json.c writes them. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "snapshot/snapshot_int.h"

/* The tables of a report, for their labels. */
enum table { LOYALTY, SPENDING, FREQUENCY, PROFILE, REGION, AGE, INCOME, FAMILY, PERSONA, NUMBER };

/* The label of entry i of table t, as report_json.c writes it. */
static const char *label(enum table t, int i, char *buf, size_t len)
{
	switch (t) {
	case LOYALTY:
		return segment_loyalty_name((enum segment_loyalty)i);
	case SPENDING:
		return segment_spending_name((enum segment_spending)i);
	case FREQUENCY:
		return segment_frequency_name((enum segment_frequency)i);
	case PROFILE:
		return segment_profile_name((enum segment_profile)i);
	case REGION:
		return segment_region_name((enum segment_region)i);
	case AGE:
		return segment_age_name((enum segment_age)i);
	case INCOME:
		return segment_income_name((enum segment_income)i);
	case FAMILY:
		return segment_family_name((enum segment_family)i);
	case PERSONA:
		segment_persona_name(i, buf, len);
		return buf;
	case NUMBER:
		break;
	}
	snprintf(buf, len, "%d", i);
	return buf;
}

/* The reading of one report: the first key that could not be read ("" while all could). */
struct parse {
	char bad[96];
};

static void mark(struct parse *p, const char *key)
{
	if (!p->bad[0])
		snprintf(p->bad, sizeof p->bad, "%s", key);
}

static const cJSON *item(struct parse *p, const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!v)
		mark(p, key);
	return v;
}

/* A count: an integer in [0, 2^53] (what a JSON number holds exactly); 0 and p->bad if not. */
static uint64_t count(struct parse *p, const cJSON *v, const char *key)
{
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 9007199254740992.0) ||
	    v->valuedouble != floor(v->valuedouble)) {
		mark(p, key);
		return 0;
	}
	return (uint64_t)v->valuedouble;
}

static uint64_t member(struct parse *p, const cJSON *obj, const char *key)
{
	return count(p, item(p, obj, key), key);
}

/* {"label": n, ...}: n added to dst[i] for each of the table's n labels. */
static void add_counts(struct parse *p, const cJSON *root, const char *key, enum table t, int n, uint64_t *dst)
{
	const cJSON *obj = item(p, root, key);
	char buf[96];
	for (int i = 0; obj && i < n; i++)
		dst[i] += member(p, obj, label(t, i, buf, sizeof buf));
}

/* [{"name": label or "id": department, ["customers",] "items", "revenue_cents"}, ...]: a group
 * table (the groups with nothing are left out). */
static void add_groups(struct parse *p, const cJSON *root, const char *key, enum table t, int n, uint64_t *customers,
		       uint64_t *items, uint64_t *cents)
{
	const cJSON *list = item(p, root, key), *e, *entries = cJSON_IsArray(list) ? list : NULL;
	char buf[96];
	cJSON_ArrayForEach(e, entries)
	{
		int i = 0;
		if (t == NUMBER) { /* departments: by id, the name may be unknown or differ */
			i = (int)member(p, e, "id") - 1;
		} else {
			const cJSON *name = item(p, e, "name");
			if (!cJSON_IsString(name)) {
				mark(p, key);
				return;
			}
			while (i < n && strcmp(label(t, i, buf, sizeof buf), name->valuestring) != 0)
				i++;
		}
		if (i < 0 || i >= n) {
			mark(p, key);
			return;
		}
		if (customers)
			customers[i] += member(p, e, "customers");
		items[i] += member(p, e, "items");
		cents[i] += member(p, e, "revenue_cents");
	}
	if (!cJSON_IsArray(list))
		mark(p, key);
}

/* {"row label": [cols numbers], ...}: a table by department. */
static void add_rows(struct parse *p, const cJSON *root, const char *key, enum table t, int rows, uint64_t *dst)
{
	const cJSON *obj = item(p, root, key);
	char buf[96];
	for (int i = 0; obj && i < rows; i++) {
		const cJSON *list = item(p, obj, label(t, i, buf, sizeof buf));
		if (cJSON_GetArraySize(list) != STATE_DEPARTMENTS) {
			mark(p, key);
			return;
		}
		for (int d = 0; d < STATE_DEPARTMENTS; d++)
			dst[i * STATE_DEPARTMENTS + d] += count(p, cJSON_GetArrayItem(list, d), key);
	}
}

/* The department names: a name is kept; two different names for one id are a conflict. */
static int add_names(struct parse *p, const cJSON *root, struct snap_report *sum, char *errbuf, size_t errbuf_len)
{
	const cJSON *list = item(p, root, "department_names");
	if (cJSON_GetArraySize(list) != STATE_DEPARTMENTS) {
		mark(p, "department_names");
		return SNAP_OK;
	}
	for (int d = 0; d < STATE_DEPARTMENTS; d++) {
		const cJSON *name = cJSON_GetArrayItem(list, d);
		if (cJSON_IsNull(name))
			continue;
		if (!cJSON_IsString(name) || strlen(name->valuestring) >= EVENT_NAME_MAX) {
			mark(p, "department_names");
			return SNAP_OK;
		}
		if (sum->dept_names[d][0] && strcmp(sum->dept_names[d], name->valuestring) != 0) {
			snprintf(errbuf, errbuf_len, "department %d is named \"%s\" in one snapshot, \"%s\" in another",
				 d + 1, sum->dept_names[d], name->valuestring);
			return SNAP_CONFLICT;
		}
		strcpy(sum->dept_names[d], name->valuestring);
	}
	return SNAP_OK;
}

/* The sums of the demographic groups and the crossings of region with income. */
static void add_demographics(struct parse *p, const cJSON *root, struct snap_report *s)
{
	add_groups(p, root, "regions", REGION, SEG_REGION_COUNT, s->region_customers, s->region_items, s->region_cents);
	add_groups(p, root, "age_groups", AGE, SEG_AGE_COUNT, s->age_customers, s->age_items, s->age_cents);
	add_groups(p, root, "income_groups", INCOME, SEG_INCOME_COUNT, s->income_customers, s->income_items,
		   s->income_cents);
	add_groups(p, root, "family_groups", FAMILY, SEG_FAMILY_COUNT, s->family_customers, s->family_items,
		   s->family_cents);
	add_groups(p, root, "personas", PERSONA, SEG_PERSONA_COUNT, NULL, s->persona_items, s->persona_cents);
	add_rows(p, root, "region_department_cents", REGION, SEG_REGION_COUNT, &s->region_dept_cents[0][0]);
	const cJSON *ri = item(p, root, "region_income");
	char buf[96];
	for (int g = 0; ri && g < SEG_REGION_COUNT; g++) {
		const cJSON *row = item(p, ri, label(REGION, g, buf, sizeof buf));
		for (int i = 0; row && i < SEG_INCOME_COUNT; i++) {
			const cJSON *cell = item(p, row, label(INCOME, i, buf, sizeof buf));
			s->region_income_customers[g][i] += member(p, cell, "customers");
			s->region_income_cents[g][i] += member(p, cell, "spend_cents");
		}
	}
}

int snap__report_add_json(struct snap_report *s, const char *json, size_t len, struct snap__report_clusters *cl_out,
			  char *errbuf, size_t errbuf_len)
{
	struct parse p = { "" };
	cJSON *root = cJSON_ParseWithLength(json, len);
	int rc = SNAP_OK;
	if (!cJSON_IsObject(root)) {
		snprintf(errbuf, errbuf_len, "report.json is not a JSON object");
		rc = SNAP_FORMAT;
		goto out;
	}
	if (member(&p, root, "format") != SNAP_REPORT_FORMAT) {
		snprintf(errbuf, errbuf_len, "report.json is not of format %d", SNAP_REPORT_FORMAT);
		rc = SNAP_FORMAT;
		goto out;
	}
	const cJSON *t = item(&p, root, "event_time_max_ms");
	if (cJSON_IsNumber(t) && fabs(t->valuedouble) <= 9007199254740992.0 &&
	    t->valuedouble == floor(t->valuedouble)) {
		if ((int64_t)t->valuedouble > s->event_time_max_ms)
			s->event_time_max_ms = (int64_t)t->valuedouble;
	} else if (!cJSON_IsNull(t)) {
		mark(&p, "event_time_max_ms");
	}
	s->customers += member(&p, root, "customers");
	s->low_activity += member(&p, root, "low_activity");
	s->with_demographics += member(&p, root, "with_demographics");
	s->orders += member(&p, root, "orders");
	s->items += member(&p, root, "items");
	s->priced_items += member(&p, root, "priced_items");
	s->reorders += member(&p, root, "reorders");
	s->spend_cents += member(&p, root, "spend_cents");
	add_counts(&p, root, "loyalty", LOYALTY, SEG_LOYALTY_COUNT, s->loyalty);
	add_counts(&p, root, "loyalty_lines", LOYALTY, SEG_LOYALTY_COUNT, s->loyalty_lines);
	add_counts(&p, root, "spending", SPENDING, SEG_SPENDING_COUNT, s->spending);
	add_counts(&p, root, "frequency", FREQUENCY, SEG_FREQUENCY_COUNT, s->frequency);
	add_counts(&p, root, "primary_profile_customers", PROFILE, SEG_PROFILE_COUNT, s->profile_customers);
	add_counts(&p, root, "orders_by_dow", NUMBER, 7, s->dow_orders);
	add_counts(&p, root, "lines_by_dow", NUMBER, 7, s->dow_lines);
	add_counts(&p, root, "orders_by_hour", NUMBER, 24, s->hour_orders);
	add_counts(&p, root, "lines_by_hour", NUMBER, 24, s->hour_lines);
	add_counts(&p, root, "spend_cents_by_dow", NUMBER, 7, s->dow_cents);
	add_counts(&p, root, "spend_cents_by_hour", NUMBER, 24, s->hour_cents);
	add_groups(&p, root, "departments", NUMBER, STATE_DEPARTMENTS, NULL, s->dept_items, s->dept_cents);
	add_groups(&p, root, "profiles", PROFILE, SEG_PROFILE_COUNT, NULL, s->profile_items, s->profile_cents);
	add_demographics(&p, root, s);
	add_rows(&p, root, "loyalty_department_items", LOYALTY, SEG_LOYALTY_COUNT, &s->loyalty_dept_items[0][0]);
	const cJSON *cl = item(&p, root, "clusters");
	cl_out->k = (uint32_t)member(&p, cl, "k");
	cl_out->seed = member(&p, cl, "seed");
	cl_out->customers = member(&p, cl, "customers");
	rc = add_names(&p, root, s, errbuf, errbuf_len);
	if (rc == SNAP_OK && p.bad[0]) {
		snprintf(errbuf, errbuf_len, "report.json: cannot read \"%s\"", p.bad);
		rc = SNAP_FORMAT;
	}
out:
	cJSON_Delete(root);
	return rc;
}
