/* Behavioural clusters (see segment.h): the features of a customer, k-means over their
 * standardised values (seeded k-means++ initial centres, Lloyd iterations in a fixed order) and
 * a plain name for each centre. */
#include "segment/segment.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define F SEG_CLUSTER_FEATURES

const char *segment_cluster_feature_name(int f)
{
	static const char *const names[F] = { "basket_size", "order_rate", "reorder_rate", "log_spend" };
	return f >= 0 && f < F ? names[f] : "?";
}

int segment_cluster_features(const struct segment_labels *l, const struct segment_drivers *drv, uint64_t spend_cents,
			     double x_out[SEG_CLUSTER_FEATURES])
{
	if (l->low_activity || isnan(drv->basket_size) || isnan(drv->order_rate) || isnan(drv->reorder_rate))
		return -1;
	x_out[0] = drv->basket_size;
	x_out[1] = drv->order_rate;
	x_out[2] = drv->reorder_rate;
	x_out[3] = log1p((double)spend_cents / 100.0);
	return 0;
}

/* splitmix64: a small, well-mixed stream; the same seed gives the same centres everywhere. */
static uint64_t next_random(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A uniform double in [0, 1) from the top 53 bits. */
static double next_uniform(uint64_t *s)
{
	return (double)(next_random(s) >> 11) * 0x1.0p-53;
}

static double distance2(const double *a, const double *b)
{
	double d = 0;
	for (int f = 0; f < F; f++)
		d += (a[f] - b[f]) * (a[f] - b[f]);
	return d;
}

/* z = (x - mean) / sd per feature, with the population sd; a constant feature becomes 0. */
static void standardise(double *x, uint64_t n, struct segment_clusters *out)
{
	for (int f = 0; f < F; f++) {
		double sum = 0, ss = 0;
		for (uint64_t i = 0; i < n; i++)
			sum += x[i * F + f];
		double mean = sum / (double)n;
		for (uint64_t i = 0; i < n; i++)
			ss += (x[i * F + f] - mean) * (x[i * F + f] - mean);
		double sd = sqrt(ss / (double)n);
		out->mean[f] = mean;
		out->sd[f] = sd;
		for (uint64_t i = 0; i < n; i++)
			x[i * F + f] = sd > 0 ? (x[i * F + f] - mean) / sd : 0;
	}
}

/*
 * k-means++: the first centre is a uniformly drawn point, each next one a point drawn with
 * probability proportional to its squared distance to the nearest centre so far (d2, kept in
 * work). Stops early when every point sits on a centre. @return the centres chosen.
 */
static uint32_t init_centres(const double *x, uint64_t n, uint32_t k, uint64_t *rng, double *d2, double centres[][F])
{
	uint64_t first = (uint64_t)(next_uniform(rng) * (double)n);
	memcpy(centres[0], x + (first < n ? first : n - 1) * F, sizeof centres[0]);
	for (uint64_t i = 0; i < n; i++)
		d2[i] = distance2(x + i * F, centres[0]);
	uint32_t chosen = 1;
	while (chosen < k) {
		double total = 0;
		for (uint64_t i = 0; i < n; i++)
			total += d2[i];
		if (!(total > 0))
			break;
		double r = next_uniform(rng) * total, cum = 0;
		uint64_t pick = n - 1;
		for (uint64_t i = 0; i < n; i++) {
			cum += d2[i];
			if (cum > r && d2[i] > 0) {
				pick = i;
				break;
			}
		}
		while (d2[pick] == 0 && pick > 0) /* rounding at the end of the sum: the last point off a centre */
			pick--;
		memcpy(centres[chosen], x + pick * F, sizeof centres[0]);
		for (uint64_t i = 0; i < n; i++) {
			double d = distance2(x + i * F, centres[chosen]);
			if (d < d2[i])
				d2[i] = d;
		}
		chosen++;
	}
	return chosen;
}

/* Labels every point with its nearest centre (ties: the lower index). @return labels changed. */
static uint64_t assign(const double *x, uint64_t n, uint32_t k, double centres[][F], int32_t *label)
{
	uint64_t changed = 0;
	for (uint64_t i = 0; i < n; i++) {
		int32_t best = 0;
		double best_d = distance2(x + i * F, centres[0]);
		for (uint32_t c = 1; c < k; c++) {
			double d = distance2(x + i * F, centres[c]);
			if (d < best_d) {
				best_d = d;
				best = (int32_t)c;
			}
		}
		changed += label[i] != best;
		label[i] = best;
	}
	return changed;
}

/* New centres: the mean of each cluster's points. An empty cluster takes the point farthest from
 * its own centre (farthest first, ties to the lower index), which then leaves its cluster. */
static void update(const double *x, uint64_t n, uint32_t k, double centres[][F], int32_t *label, uint64_t *size)
{
	double sum[SEG_CLUSTERS_MAX][F] = { { 0 } };
	memset(size, 0, k * sizeof *size);
	for (uint64_t i = 0; i < n; i++) {
		size[label[i]]++;
		for (int f = 0; f < F; f++)
			sum[label[i]][f] += x[i * F + f];
	}
	for (uint32_t c = 0; c < k; c++) {
		if (size[c])
			continue;
		uint64_t far = 0;
		double far_d = -1;
		for (uint64_t i = 0; i < n; i++) {
			double d = size[label[i]] > 1 ? distance2(x + i * F, centres[label[i]]) : -1;
			if (d > far_d) {
				far_d = d;
				far = i;
			}
		}
		if (far_d < 0)
			continue;
		int32_t from = label[far];
		size[from]--;
		for (int f = 0; f < F; f++) {
			sum[from][f] -= x[far * F + f];
			sum[c][f] = x[far * F + f];
		}
		size[c] = 1;
		label[far] = (int32_t)c;
	}
	for (uint32_t c = 0; c < k; c++)
		for (int f = 0; f < F && size[c]; f++)
			centres[c][f] = sum[c][f] / (double)size[c];
}

void segment_kmeans(double *x, uint64_t n, uint32_t k, uint64_t seed, const double (*start)[SEG_CLUSTER_FEATURES],
		    double *work, int32_t *label_out, struct segment_clusters *out)
{
	memset(out, 0, sizeof *out);
	out->n = n;
	out->seed = seed;
	if (n == 0 || k == 0)
		return;
	if (k > SEG_CLUSTERS_MAX)
		k = SEG_CLUSTERS_MAX;
	standardise(x, n, out);
	uint64_t rng = seed;
	if (start) {
		for (uint32_t c = 0; c < k; c++)
			for (int f = 0; f < F; f++)
				out->init[c][f] = out->sd[f] > 0 ? (start[c][f] - out->mean[f]) / out->sd[f] : 0;
		out->warm = 1;
	} else {
		k = init_centres(x, n, k, &rng, work, out->init);
	}
	out->k = k;
	memcpy(out->centre, out->init, sizeof out->init);
	for (uint64_t i = 0; i < n; i++)
		label_out[i] = -1;
	for (uint32_t it = 1; it <= SEG_CLUSTER_ITER_MAX; it++) {
		out->iterations = it;
		uint64_t changed = assign(x, n, k, out->centre, label_out);
		update(x, n, k, out->centre, label_out, out->size);
		if (!changed)
			break;
	}
	out->inertia = 0;
	for (uint64_t i = 0; i < n; i++)
		out->inertia += distance2(x + i * F, out->centre[label_out[i]]);
}

void segment_cluster_name(const double centre[SEG_CLUSTER_FEATURES], char *buf, size_t len)
{
	const double half = 0.5;
	const char *rate = centre[1] >= half ? "frequent " : centre[1] <= -half ? "occasional " : "";
	const char *basket = centre[0] >= half ? "large" : centre[0] <= -half ? "small" : "medium";
	const char *reorder = centre[2] >= half ? ", high reorder" : centre[2] <= -half ? ", low reorder" : "";
	const char *spend = centre[3] >= half ? ", high spend" : centre[3] <= -half ? ", low spend" : "";
	snprintf(buf, len, "%s%s baskets%s%s", rate, basket, reorder, spend);
}
