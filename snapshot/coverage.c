/* What a snapshot covers: its source offsets and the partitions of the events topic it holds,
 * collected for its manifest, read back from one, and combined across instances' snapshots
 * (overlaps refused); see snapshot_int.h. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot/snapshot_int.h"

int snap__coverage_add_offset(struct snap__coverage *cov, const char *topic, int32_t partition, int64_t next)
{
	struct snap__offset *t = realloc(cov->offsets, (cov->n_offsets + 1) * sizeof *t);
	if (!t)
		return SNAP_NOMEM;
	cov->offsets = t;
	snprintf(t[cov->n_offsets].topic, sizeof t->topic, "%s", topic);
	t[cov->n_offsets].partition = partition;
	t[cov->n_offsets].next = next;
	cov->n_offsets++;
	return 0;
}

int snap__coverage_add_partition(struct snap__coverage *cov, int32_t partition)
{
	size_t at = cov->n_partitions;
	while (at > 0 && cov->partitions[at - 1] > partition) /* the walk adds them ascending: no move */
		at--;
	if (at > 0 && cov->partitions[at - 1] == partition)
		return 0;
	int32_t *t = realloc(cov->partitions, (cov->n_partitions + 1) * sizeof *t);
	if (!t)
		return SNAP_NOMEM;
	memmove(t + at + 1, t + at, (cov->n_partitions - at) * sizeof *t);
	t[at] = partition;
	cov->partitions = t;
	cov->n_partitions++;
	return 0;
}

void snap__coverage_free(struct snap__coverage *cov)
{
	free(cov->offsets);
	free(cov->partitions);
	cov->offsets = NULL;
	cov->partitions = NULL;
	cov->n_offsets = cov->n_partitions = 0;
}

int snap__coverage_parse(struct snap__coverage *cov, char *topic_out, size_t topic_len, const char *manifest,
			 size_t len, char *errbuf, size_t errbuf_len)
{
	cJSON *m = cJSON_ParseWithLength(manifest, len);
	const cJSON *topic = cJSON_GetObjectItemCaseSensitive(m, "events_topic");
	const cJSON *parts = cJSON_GetObjectItemCaseSensitive(m, "partitions");
	const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(m, "source_offsets"), *e;
	int rc = SNAP_FORMAT;
	if (!cJSON_IsString(topic) || strlen(topic->valuestring) >= topic_len || !cJSON_IsArray(parts)) {
		snprintf(errbuf, errbuf_len,
			 "the manifest names no events topic and partitions (written before segstream listed them: "
			 "publish a new snapshot)");
		goto out;
	}
	strcpy(topic_out, topic->valuestring);
	cJSON_ArrayForEach(e, parts)
	{
		if (!cJSON_IsNumber(e) || !(e->valuedouble >= 0 && e->valuedouble <= INT32_MAX) ||
		    e->valuedouble != floor(e->valuedouble)) {
			snprintf(errbuf, errbuf_len, "the manifest lists a partition that is not one");
			goto out;
		}
		if ((rc = snap__coverage_add_partition(cov, (int32_t)e->valuedouble)) != SNAP_OK)
			goto out;
		rc = SNAP_FORMAT;
	}
	const cJSON *offset_list = cJSON_IsArray(offsets) ? offsets : NULL;
	cJSON_ArrayForEach(e, offset_list)
	{
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "topic");
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "partition");
		const cJSON *next = cJSON_GetObjectItemCaseSensitive(e, "next_offset");
		if (!cJSON_IsString(t) || strlen(t->valuestring) >= sizeof cov->offsets->topic || !cJSON_IsNumber(p) ||
		    !(p->valuedouble >= INT32_MIN && p->valuedouble <= INT32_MAX) || !cJSON_IsNumber(next) ||
		    !(fabs(next->valuedouble) <= 9007199254740992.0)) {
			snprintf(errbuf, errbuf_len, "the manifest lists a source offset it cannot read");
			goto out;
		}
		if ((rc = snap__coverage_add_offset(cov, t->valuestring, (int32_t)p->valuedouble,
						    (int64_t)next->valuedouble)) != SNAP_OK)
			goto out;
		rc = SNAP_FORMAT;
	}
	if (!cJSON_IsArray(offsets)) {
		snprintf(errbuf, errbuf_len, "the manifest lists no source offsets");
		goto out;
	}
	rc = SNAP_OK;
out:
	cJSON_Delete(m);
	return rc;
}

/* The state's key order of offsets: topic (bytes), then partition (unsigned, big-endian). */
static int compare_offset(const void *a, const void *b)
{
	const struct snap__offset *x = a, *y = b;
	int c = strcmp(x->topic, y->topic);
	if (c)
		return c;
	return ((uint32_t)x->partition > (uint32_t)y->partition) - ((uint32_t)x->partition < (uint32_t)y->partition);
}

int snap__coverage_merge(struct snap__coverage *out, const struct snap__coverage *parts, const char *const *names,
			 int n, size_t *differing_out, char *errbuf, size_t errbuf_len)
{
	*differing_out = 0;
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			for (size_t a = 0, b = 0; a < parts[i].n_partitions && b < parts[j].n_partitions;) {
				if (parts[i].partitions[a] == parts[j].partitions[b]) {
					snprintf(errbuf, errbuf_len,
						 "partition %d of %s is in both %s and %s: one partition, one owner",
						 parts[i].partitions[a], out->events_topic, names[i], names[j]);
					return SNAP_CONFLICT;
				}
				if (parts[i].partitions[a] < parts[j].partitions[b])
					a++;
				else
					b++;
			}
	for (int i = 0; i < n; i++) {
		for (size_t a = 0; a < parts[i].n_partitions; a++)
			if (snap__coverage_add_partition(out, parts[i].partitions[a]) != SNAP_OK)
				return SNAP_NOMEM;
		for (size_t a = 0; a < parts[i].n_offsets; a++) {
			const struct snap__offset *o = &parts[i].offsets[a];
			if (snap__coverage_add_offset(out, o->topic, o->partition, o->next) != SNAP_OK)
				return SNAP_NOMEM;
		}
	}
	if (out->n_offsets)
		qsort(out->offsets, out->n_offsets, sizeof *out->offsets, compare_offset);
	/* One offset per (topic, partition): the events topic's are owned (two are a conflict); every
	 * instance reads the reference topics whole, so those may repeat: the highest is kept. */
	size_t w = 0;
	for (size_t r = 0; r < out->n_offsets; r++) {
		struct snap__offset *o = &out->offsets[r], *last = w ? &out->offsets[w - 1] : NULL;
		if (!last || compare_offset(last, o) != 0) {
			out->offsets[w++] = *o;
			continue;
		}
		if (strcmp(o->topic, out->events_topic) == 0) {
			snprintf(errbuf, errbuf_len, "two snapshots hold an offset of partition %d of %s", o->partition,
				 o->topic);
			return SNAP_CONFLICT;
		}
		if (o->next != last->next) {
			(*differing_out)++;
			if (o->next > last->next)
				last->next = o->next;
		}
	}
	out->n_offsets = w;
	return SNAP_OK;
}
