/*
 * Private to snapshot/: helpers shared by the files of the module (the double underscore
 * marks them internal). Not part of the public API; nothing outside snapshot/ includes this.
 */
#ifndef SEGSTREAM_SNAPSHOT_INT_H
#define SEGSTREAM_SNAPSHOT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "segment/segment.h"
#include "snapshot/snapshot_reader.h"

/* Size and CRC-32 of a file. @return 0, or -1 (errno set) if it cannot be read. */
int snap__file_crc(const char *path, uint64_t *size_out, uint32_t *crc_out);

/* The whole file, NUL-terminated (free() it), or NULL if it cannot be read. */
char *snap__read_whole(const char *path, size_t *len_out);

/* Sequence numbers of the snapshot directories under dir, ascending (free() the array; NULL
 * when there are none). */
uint64_t *snap__list_sequences(const char *dir, size_t *n_out);

/* Bytes of the reader's rows file (bounds the row count: a row takes at least 16 bytes). */
size_t snap__reader_rows_bytes(const struct snap_reader *r);

/* ---- Writers (seg_snapshot) ---- */

struct state_db;
struct snap_report;
struct snap_sink;

/* A source offset of the state, for the manifest. */
struct snap__offset {
	char topic[256];
	int32_t partition;
	int64_t next;
};

/* A sink being written: its type and its state (from open). */
struct snap__open_sink {
	const struct snap_sink *sink;
	void *state;
};

/* A warm start of the clusters: the centres of an earlier snapshot, in original units. */
struct snap__clusters_start {
	double centre[SEG_CLUSTERS_MAX][SEG_CLUSTER_FEATURES];
	uint64_t sequence; /* the snapshot they come from */
};

/*
 * The centres of snapshot seq under dir, if it clustered with cfg's k and seed (its report.json
 * says so). @return 1 with *out filled, 0 when there is nothing to start from (no such snapshot,
 * other k or seed, an unreadable report).
 */
int snap__clusters_previous(const char *dir, uint64_t seq, const struct segment_config *cfg,
			    struct snap__clusters_start *out);

/* The clusters of one snapshot (clusters.c), zero-initialised before the walk. */
struct snap__clusters {
	const struct snap__clusters_start *start; /* NULL: k-means++; borrowed for the walk */
	double *x; /* the points' features, SEG_CLUSTER_FEATURES each (standardised by run) */
	uint64_t n_points, cap_points;
	int32_t *customer; /* per customer in walk order: its point, then its cluster; -1 excluded */
	uint64_t n_customers, cap_customers;
	uint64_t next; /* the second pass's position */
};

/* First pass: one customer's features (or its exclusion). @return 0 or SNAP_NOMEM. */
int snap__clusters_add(struct snap__clusters *cl, const struct segment_config *cfg, const struct state_customer *c);
/* Between the passes: k-means over the points (cfg->clusters, cfg->cluster_seed). @return 0 or SNAP_NOMEM. */
int snap__clusters_run(struct snap__clusters *cl, const struct segment_config *cfg, struct segment_clusters *out);
/* Second pass: the cluster of the next customer (-1: excluded). */
int32_t snap__clusters_next(struct snap__clusters *cl);
void snap__clusters_free(struct snap__clusters *cl);

/*
 * One walk over the state in one read transaction (walk.c): fills the report (the clusters warm
 * started from start's centres, or k-means++ when start is NULL), hands each customer's row to the n sinks, and, if offsets_out is not NULL, collects the source offsets
 * (free() *offsets_out, also on failure). @return SNAP_OK, SNAP_STATE, SNAP_IO or SNAP_NOMEM.
 */
int snap__walk(struct state_db *db, const struct segment_config *cfg, const struct snap__clusters_start *start,
	       struct snap__open_sink *sinks, int n, struct snap_report *r, struct snap__offset **offsets_out,
	       size_t *n_offsets_out);

#endif
