/* The behavioural clusters of a snapshot: the first pass of the walk collects each customer's
 * features, k-means (segment/) clusters them, warm started from the previous snapshot's centres
 * when there is one, and the second pass hands each row its cluster in the same order; see
 * snapshot_int.h. */
#include "snapshot/snapshot.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot/snapshot_int.h"

#define F SEG_CLUSTER_FEATURES

/* Grows an array to hold at least need elements. @return 0 or SNAP_NOMEM. */
static int grow(void **p, uint64_t *cap, uint64_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	uint64_t n = *cap ? *cap : 4096;
	while (n < need)
		n *= 2;
	void *t = realloc(*p, n * size);
	if (!t)
		return SNAP_NOMEM;
	*p = t;
	*cap = n;
	return 0;
}

int snap__clusters_add(struct snap__clusters *cl, const struct segment_labels *l, const struct segment_drivers *drv,
		       uint64_t spend_cents)
{
	double x[F];
	int excluded = segment_cluster_features(l, drv, spend_cents, x) != 0;
	if (grow((void **)&cl->customer, &cl->cap_customers, cl->n_customers + 1, sizeof *cl->customer))
		return SNAP_NOMEM;
	if (!excluded) {
		if (grow((void **)&cl->x, &cl->cap_points, cl->n_points + 1, F * sizeof *cl->x))
			return SNAP_NOMEM;
		memcpy(cl->x + cl->n_points * F, x, sizeof x);
	}
	/* the point's index for now; its cluster after snap__clusters_run */
	cl->customer[cl->n_customers++] = excluded ? -1 : (int32_t)cl->n_points++;
	return 0;
}

int snap__clusters_run(struct snap__clusters *cl, const struct segment_config *cfg, struct segment_clusters *out)
{
	uint64_t n = cl->n_points ? cl->n_points : 1;
	double *work = malloc(n * sizeof *work);
	int32_t *label = malloc(n * sizeof *label);
	int rc = SNAP_NOMEM;
	if (!work || !label)
		goto out;
	segment_kmeans(cl->x, cl->n_points, cfg->clusters, cfg->cluster_seed, cl->start ? cl->start->centre : NULL,
		       work, label, out);
	for (uint64_t i = 0; i < cl->n_customers; i++)
		if (cl->customer[i] >= 0)
			cl->customer[i] = out->k ? label[cl->customer[i]] : -1;
	rc = SNAP_OK;
out:
	free(work);
	free(label);
	return rc;
}

int snap__clusters_previous(const char *dir, uint64_t seq, const struct segment_config *cfg,
			    struct snap__clusters_start *out)
{
	char path[4200];
	size_t len;
	snprintf(path, sizeof path, "%s/%010" PRIu64 "/report.json", dir, seq);
	char *text = seq ? snap__read_whole(path, &len) : NULL;
	cJSON *rep = text ? cJSON_ParseWithLength(text, len) : NULL;
	const cJSON *cl = cJSON_GetObjectItemCaseSensitive(rep, "clusters");
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(cl, "k"),
		    *seed = cJSON_GetObjectItemCaseSensitive(cl, "seed");
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(cl, "clusters"), *c;
	int ok = cfg->clusters > 0 && cJSON_IsNumber(k) && k->valuedouble == cfg->clusters && cJSON_IsNumber(seed) &&
		 seed->valuedouble == cfg->cluster_seed && cJSON_GetArraySize(list) == (int)cfg->clusters;
	int i = 0;
	const cJSON *items = ok ? list : NULL;
	cJSON_ArrayForEach(c, items)
	{
		const cJSON *centre = cJSON_GetObjectItemCaseSensitive(c, "centre");
		for (int f = 0; f < F; f++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(centre, segment_cluster_feature_name(f));
			if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
				ok = 0;
			else
				out->centre[i][f] = v->valuedouble;
		}
		i++;
	}
	out->sequence = seq;
	cJSON_Delete(rep);
	free(text);
	return ok;
}

int32_t snap__clusters_next(struct snap__clusters *cl, uint64_t spend_cents, struct snap_report *r)
{
	int32_t c = cl->next < cl->n_customers ? cl->customer[cl->next++] : -1;
	if (c >= 0)
		r->cluster_spend_cents[c] += spend_cents;
	else
		r->cluster_excluded++;
	return c;
}

void snap__clusters_free(struct snap__clusters *cl)
{
	free(cl->x);
	free(cl->customer);
	memset(cl, 0, sizeof *cl);
}
