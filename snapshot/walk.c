/* Building a snapshot: one walk over the state in one read transaction computes each
 * customer's row values, hands them to the row sinks, and adds them up into the report
 * (counts, revenue per group, value drivers); a first pass in the same transaction collects
 * the clusters' features (clusters.c); see snapshot.h. */
#include "snapshot/snapshot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot/snapshot_int.h"

struct driver_point {
	double x;
	uint64_t value;
	uint32_t user_id;
};

struct walk {
	const struct segment_config *cfg;
	struct snap_report *r;
	struct snap__open_sink *sinks;
	int n_sinks;
	struct driver_point *drivers[SNAP_DRIVERS];
	uint64_t n_drivers[SNAP_DRIVERS], cap_drivers;
	struct snap__offset *offsets;
	size_t n_offsets;
	struct snap__clusters clusters;
	int clustered; /* the k-means between the passes has run */
};

static int add_driver(struct walk *w, int k, double x, uint64_t value, uint32_t user)
{
	if (isnan(x))
		return 0;
	if (w->n_drivers[k] == w->cap_drivers) {
		uint64_t cap = w->cap_drivers ? w->cap_drivers * 2 : 4096;
		for (int i = 0; i < SNAP_DRIVERS; i++) {
			struct driver_point *t = realloc(w->drivers[i], cap * sizeof *t);
			if (!t)
				return SNAP_NOMEM;
			w->drivers[i] = t;
		}
		w->cap_drivers = cap;
	}
	w->drivers[k][w->n_drivers[k]++] = (struct driver_point){ x, value, user };
	return 0;
}

/* One customer: the report's sums, the value drivers, then the row to every sink. */
static int visit(const struct state_customer *c, const struct event_customer *d, void *ctx)
{
	struct walk *w = ctx;
	struct snap_report *r = w->r;
	struct snap_values v;
	snap_values_compute(w->cfg, c, d, &v);
	if (w->cfg->clusters && !w->clustered) {
		if (snap__clusters_run(&w->clusters, w->cfg, &r->clusters) != SNAP_OK)
			return SNAP_NOMEM;
		w->clustered = 1;
	}
	v.cluster = snap__clusters_next(&w->clusters);
	if (v.cluster >= 0)
		r->cluster_spend_cents[v.cluster] += c->spend_cents;
	else
		r->cluster_excluded++;
	r->customers++;
	r->loyalty[v.l.loyalty]++;
	r->spending[v.l.spending]++;
	r->frequency[v.l.frequency]++;
	r->low_activity += v.l.low_activity != 0;
	r->with_demographics += v.g.valid;
	if (c->items && c->last_event_ms > r->event_time_max_ms)
		r->event_time_max_ms = c->last_event_ms;
	r->orders += c->orders;
	r->items += c->items;
	r->priced_items += c->priced_items;
	r->reorders += c->reorders;
	r->spend_cents += c->spend_cents;
	r->loyalty_lines[v.l.loyalty] += c->items;
	for (int i = 0; i < STATE_DEPARTMENTS; i++) {
		r->dept_items[i] += c->dept_items[i];
		r->dept_cents[i] += c->dept_cents[i];
		r->loyalty_dept_items[v.l.loyalty][i] += c->dept_items[i];
	}
	for (int i = 0; i < 7; i++) {
		r->dow_orders[i] += c->dow_orders[i];
		r->dow_lines[i] += c->dow_lines[i];
		r->dow_cents[i] += c->dow_cents[i];
	}
	for (int i = 0; i < 24; i++) {
		r->hour_orders[i] += c->hour_orders[i];
		r->hour_lines[i] += c->hour_lines[i];
		r->hour_cents[i] += c->hour_cents[i];
	}
	r->profile_customers[v.primary]++;
	for (int p = 0; p < SEG_PROFILE_COUNT; p++) {
		r->profile_items[p] += v.profile_items[p];
		r->profile_cents[p] += v.profile_cents[p];
	}
	if (v.g.valid && !v.l.low_activity) {
		const struct segment_groups *g = &v.g;
		r->region_customers[g->region]++;
		r->region_items[g->region] += c->items;
		r->region_cents[g->region] += c->spend_cents;
		r->age_customers[g->age]++;
		r->age_items[g->age] += c->items;
		r->age_cents[g->age] += c->spend_cents;
		r->income_customers[g->income]++;
		r->income_items[g->income] += c->items;
		r->income_cents[g->income] += c->spend_cents;
		r->family_customers[g->family]++;
		r->family_items[g->family] += c->items;
		r->family_cents[g->family] += c->spend_cents;
		for (int p = 0; p < SEG_PROFILE_COUNT; p++) {
			int persona = segment_persona(g, (enum segment_profile)p);
			r->persona_items[persona] += v.profile_items[p];
			r->persona_cents[persona] += v.profile_cents[p];
		}
		for (int i = 0; i < STATE_DEPARTMENTS; i++)
			r->region_dept_cents[g->region][i] += c->dept_cents[i];
		r->region_income_customers[g->region][g->income]++;
		r->region_income_cents[g->region][g->income] += c->spend_cents;
	}
	if (!v.l.low_activity) {
		const double x[SNAP_DRIVERS] = { v.drv.basket_size, (double)c->orders, v.drv.order_rate,
						 v.drv.reorder_rate };
		for (int k = 0; k < SNAP_DRIVERS; k++)
			if (add_driver(w, k, x[k], c->spend_cents, c->user_id))
				return SNAP_NOMEM;
	}
	for (int i = 0; i < w->n_sinks; i++) {
		int rc = w->sinks[i].sink->row(w->sinks[i].state, &v);
		if (rc != SNAP_OK)
			return rc;
	}
	return 0;
}

/* The first pass: each customer's cluster features. */
static int visit_features(const struct state_customer *c, const struct event_customer *d, void *ctx)
{
	struct walk *w = ctx;
	(void)d;
	return snap__clusters_add(&w->clusters, w->cfg, c);
}

static int visit_offset(const char *topic, int32_t partition, int64_t next, void *ctx)
{
	struct walk *w = ctx;
	struct snap__offset *t = realloc(w->offsets, (w->n_offsets + 1) * sizeof *t);
	if (!t)
		return SNAP_NOMEM;
	w->offsets = t;
	snprintf(t[w->n_offsets].topic, sizeof t->topic, "%s", topic);
	t[w->n_offsets].partition = partition;
	t[w->n_offsets].next = next;
	w->n_offsets++;
	return 0;
}

static int no_offset(const char *topic, int32_t partition, int64_t next, void *ctx)
{
	(void)topic, (void)partition, (void)next, (void)ctx;
	return 0;
}

static int compare_point(const void *a, const void *b)
{
	const struct driver_point *x = a, *y = b;
	if (x->x != y->x)
		return x->x < y->x ? -1 : 1;
	return (x->user_id > y->user_id) - (x->user_id < y->user_id);
}

/* Pearson correlation of x with value, and the mean value per quintile of x (ties by user_id). */
static void finish_drivers(struct walk *w)
{
	for (int k = 0; k < SNAP_DRIVERS; k++) {
		struct driver_point *p = w->drivers[k];
		uint64_t n = w->n_drivers[k];
		w->r->driver_n[k] = n;
		double mx = 0, my = 0;
		for (uint64_t i = 0; i < n; i++) {
			mx += p[i].x;
			my += (double)p[i].value;
		}
		mx /= n ? (double)n : 1;
		my /= n ? (double)n : 1;
		double sxy = 0, sxx = 0, syy = 0;
		for (uint64_t i = 0; i < n; i++) {
			double dx = p[i].x - mx, dy = (double)p[i].value - my;
			sxy += dx * dy;
			sxx += dx * dx;
			syy += dy * dy;
		}
		w->r->driver_pearson[k] = n > 1 && sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : NAN;
		if (n)
			qsort(p, n, sizeof *p, compare_point);
		for (int q = 0; q < 5; q++) {
			uint64_t lo = n * (uint64_t)q / 5, hi = n * (uint64_t)(q + 1) / 5;
			double sum = 0;
			for (uint64_t i = lo; i < hi; i++)
				sum += (double)p[i].value;
			w->r->driver_quintile_value[k][q] = hi > lo ? sum / (double)(hi - lo) : NAN;
		}
	}
}

void snap_department_names(struct state_db *db, struct segment_config *cfg,
			   char names_out[STATE_DEPARTMENTS][EVENT_NAME_MAX])
{
	for (int id = 1; id <= STATE_DEPARTMENTS; id++) {
		char name[EVENT_NAME_MAX];
		if (state_name_get(db, EVENT_NAME_DEPARTMENT, (uint32_t)id, name, sizeof name) != STATE_OK)
			name[0] = '\0';
		else
			segment_config_name_department(cfg, id, name);
		if (names_out)
			memcpy(names_out[id - 1], name, strlen(name) + 1);
	}
}

int snap__walk(struct state_db *db, const struct segment_config *cfg, const struct snap__clusters_start *start,
	       struct snap__open_sink *sinks, int n, struct snap_report *r, struct snap__offset **offsets_out,
	       size_t *n_offsets_out)
{
	struct segment_config named = *cfg; /* the profiles of the state's department names */
	struct walk w = { .cfg = &named, .r = r, .sinks = sinks, .n_sinks = n, .clusters = { .start = start } };
	memset(r, 0, sizeof *r);
	r->cluster_start_sequence = start ? start->sequence : 0;
	r->event_time_max_ms = INT64_MIN;
	snap_department_names(db, &named, r->dept_names);
	int rc = state_snapshot_walk_twice(db, offsets_out ? visit_offset : no_offset,
					   named.clusters ? visit_features : NULL, visit, &w);
	if (rc == SNAP_IO || rc == SNAP_NOMEM)
		goto out;
	if (rc != STATE_OK) {
		rc = SNAP_STATE;
		goto out;
	}
	finish_drivers(&w);
	rc = SNAP_OK;
out:
	for (int k = 0; k < SNAP_DRIVERS; k++)
		free(w.drivers[k]);
	snap__clusters_free(&w.clusters);
	if (offsets_out) {
		*offsets_out = w.offsets;
		*n_offsets_out = w.n_offsets;
	}
	return rc;
}

int snap_build(struct state_db *db, const struct segment_config *cfg, struct snap_report *out, FILE *csv)
{
	struct snap__open_sink sink = { &snap_sink_csv, NULL };
	int rc = csv ? snap_sink_csv.open(csv, &sink.state) : SNAP_OK;
	if (rc != SNAP_OK)
		return rc;
	rc = snap__walk(db, cfg, NULL, &sink, csv ? 1 : 0, out, NULL, NULL);
	if (csv) {
		int crc = snap_sink_csv.close(sink.state);
		if (rc == SNAP_OK)
			rc = crc;
	}
	return rc;
}
