/* What a snapshot covers: its source offsets and the partitions of the events topic it holds,
 * collected for its manifest (see snapshot_int.h). */
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
