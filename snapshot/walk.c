/* Building a snapshot: one walk over the state in one read transaction computes each
 * customer's row values, hands them to the row sinks, and adds them up into the report
 * (counts, revenue per group, value drivers); a first pass in the same transaction collects
 * the clusters' features (clusters.c); see snapshot.h. */
#include "snapshot/snapshot.h"

#include <string.h>

#include "snapshot/snapshot_int.h"

struct walk {
	struct segment_config *cfg; /* the caller's, with the state's department names (visit_name) */
	struct snap_report *r;
	struct snap__open_sink *sinks;
	int n_sinks;
	struct snap__drivers drivers;
	struct snap__coverage *cov; /* NULL: offsets and partitions not wanted */
	struct snap__clusters clusters;
	int clustered; /* the k-means between the passes has run */
};

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
	v.cluster = snap__clusters_next(&w->clusters, c->spend_cents, r);
	if (w->cov && snap__coverage_add_partition(w->cov, (int32_t)c->partition) != 0)
		return SNAP_NOMEM;
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
		if (snap__drivers_add(&w->drivers, x, c->spend_cents, c->user_id))
			return SNAP_NOMEM;
	}
	if (!w->n_sinks)
		return 0;
	size_t n_cols;
	struct snap_value vals[SNAP_COLUMNS_MAX];
	snap_columns(&n_cols);
	for (size_t i = 0; i < n_cols; i++)
		snap_column_value(&v, i, &vals[i]);
	return snap__sinks_row(w->sinks, w->n_sinks, vals);
}

/* The first pass: each customer's cluster features. */
static int visit_features(const struct state_customer *c, const struct event_customer *d, void *ctx)
{
	struct walk *w = ctx;
	struct segment_labels l;
	struct segment_drivers drv;
	(void)d;
	segment_label(w->cfg, c, &l);
	segment_drivers(c, &drv);
	return snap__clusters_add(&w->clusters, &l, &drv, c->spend_cents);
}

/* A name of the walk's transaction: a department's goes into the report and sets its profile
 * (segment_config_name_department), before any customer is labelled. */
static int visit_name(enum event_name_kind kind, uint32_t id, const char *name, void *ctx)
{
	struct walk *w = ctx;
	if (kind == EVENT_NAME_DEPARTMENT && id >= 1 && id <= STATE_DEPARTMENTS) {
		segment_config_name_department(w->cfg, (int)id, name);
		memcpy(w->r->dept_names[id - 1], name, strlen(name) + 1);
	}
	return 0;
}

/* An offset, and its partition when it is one of the events topic's. */
static int visit_offset(const char *topic, int32_t partition, int64_t next, void *ctx)
{
	struct walk *w = ctx;
	if (snap__coverage_add_offset(w->cov, topic, partition, next) != 0)
		return SNAP_NOMEM;
	if (w->cov->events_topic && strcmp(topic, w->cov->events_topic) == 0)
		return snap__coverage_add_partition(w->cov, partition);
	return 0;
}

static int no_offset(const char *topic, int32_t partition, int64_t next, void *ctx)
{
	(void)topic, (void)partition, (void)next, (void)ctx;
	return 0;
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
	       struct snap__open_sink *sinks, int n, struct snap_report *r, struct snap__coverage *cov)
{
	struct segment_config named = *cfg; /* the profiles of the state's department names */
	struct walk w = {
		.cfg = &named, .r = r, .sinks = sinks, .n_sinks = n, .cov = cov, .clusters = { .start = start }
	};
	memset(r, 0, sizeof *r);
	r->cluster_start_sequence = start ? start->sequence : 0;
	r->event_time_max_ms = INT64_MIN;
	/* The names in the walk's own transaction: the profiles and the names reported are those of
	 * the customers walked, even with a commit between them. */
	int rc = state_snapshot_walk_named(db, visit_name, cov ? visit_offset : no_offset,
					   named.clusters ? visit_features : NULL, visit, &w);
	if (rc == SNAP_IO || rc == SNAP_NOMEM)
		goto out;
	if (rc != STATE_OK) {
		rc = SNAP_STATE;
		goto out;
	}
	snap__drivers_finish(&w.drivers, r);
	rc = SNAP_OK;
out:
	snap__drivers_free(&w.drivers);
	snap__clusters_free(&w.clusters);
	return rc;
}

int snap_build(struct state_db *db, const struct segment_config *cfg, struct snap_report *out, FILE *csv)
{
	struct snap__open_sink sink = { &snap_sink_csv, NULL };
	int rc = csv ? snap_sink_csv.open(csv, &sink.state) : SNAP_OK;
	if (rc != SNAP_OK)
		return rc;
	rc = snap__walk(db, cfg, NULL, &sink, csv ? 1 : 0, out, NULL);
	if (csv) {
		int crc = snap_sink_csv.close(sink.state);
		if (rc == SNAP_OK)
			rc = crc;
	}
	return rc;
}
