/* The value drivers of a report: each customer's point (basket size, order count, order rate,
 * reorder rate against its spend), then the Pearson correlations and the mean value per quintile;
 * shared by the state walk and the merge of snapshots, so both compute them alike (see
 * snapshot_int.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot/snapshot_int.h"

int snap__drivers_add(struct snap__drivers *d, const double x[SNAP_DRIVERS], uint64_t value, uint32_t user_id)
{
	for (int k = 0; k < SNAP_DRIVERS; k++) {
		if (isnan(x[k]))
			continue;
		if (d->n[k] == d->cap) {
			uint64_t cap = d->cap ? d->cap * 2 : 4096;
			for (int i = 0; i < SNAP_DRIVERS; i++) {
				struct snap__driver_point *t = realloc(d->p[i], cap * sizeof *t);
				if (!t)
					return SNAP_NOMEM;
				d->p[i] = t;
			}
			d->cap = cap;
		}
		d->p[k][d->n[k]++] = (struct snap__driver_point){ x[k], value, user_id };
	}
	return 0;
}

static int compare_point(const void *a, const void *b)
{
	const struct snap__driver_point *x = a, *y = b;
	if (x->x != y->x)
		return x->x < y->x ? -1 : 1;
	return (x->user_id > y->user_id) - (x->user_id < y->user_id);
}

/* Pearson correlation of x with value, and the mean value per quintile of x (ties by user_id). */
void snap__drivers_finish(struct snap__drivers *d, struct snap_report *r)
{
	for (int k = 0; k < SNAP_DRIVERS; k++) {
		struct snap__driver_point *p = d->p[k];
		uint64_t n = d->n[k];
		r->driver_n[k] = n;
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
		r->driver_pearson[k] = n > 1 && sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : NAN;
		if (n)
			qsort(p, n, sizeof *p, compare_point);
		for (int q = 0; q < 5; q++) {
			uint64_t lo = n * (uint64_t)q / 5, hi = n * (uint64_t)(q + 1) / 5;
			double sum = 0;
			for (uint64_t i = lo; i < hi; i++)
				sum += (double)p[i].value;
			r->driver_quintile_value[k][q] = hi > lo ? sum / (double)(hi - lo) : NAN;
		}
	}
}

void snap__drivers_free(struct snap__drivers *d)
{
	for (int k = 0; k < SNAP_DRIVERS; k++)
		free(d->p[k]);
	memset(d, 0, sizeof *d);
}
