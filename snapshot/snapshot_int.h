/*
 * Private to snapshot/: helpers shared by the files of the module (the double underscore
 * marks them internal). Not part of the public API; nothing outside snapshot/ includes this.
 */
#ifndef SEGSTREAM_SNAPSHOT_INT_H
#define SEGSTREAM_SNAPSHOT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "segment/segment.h"
#include "snapshot/snapshot.h"
#include "snapshot/snapshot_reader.h"

/* Size and CRC-32 of a file. @return 0, or -1 (errno set) if it cannot be read. */
int snap__file_crc(const char *path, uint64_t *size_out, uint32_t *crc_out);

/* The whole file, NUL-terminated (free() it), or NULL if it cannot be read. */
char *snap__read_whole(const char *path, size_t *len_out);

/* Sequence numbers of the snapshot directories under dir, ascending (free() the array; NULL
 * when there are none). */
uint64_t *snap__list_sequences(const char *dir, size_t *n_out);

/* snap_reader_next_raw() with the whole row read (snap_reader_next()'s). */
int snap__reader_next_raw(struct snap_reader *r, const void **bytes, size_t *len, struct snap_row *row);

/* Bytes of the reader's rows file (bounds the row count: a row takes at least 16 bytes). */
size_t snap__reader_rows_bytes(const struct snap_reader *r);

/* ---- Writers (seg_snapshot) ---- */

/* A source offset of the state, for the manifest. */
struct snap__offset {
	char topic[256];
	int32_t partition;
	int64_t next;
};

/*
 * What a snapshot covers, for its manifest: the source offsets (in the state's key order: topic,
 * then partition) and the partitions of the events topic it holds, i.e. those with an offset of
 * that topic or with customers. The writer fills the outputs; snap__coverage_free() frees them.
 */
struct snap__coverage {
	const char *events_topic;     /* in: the topic whose partitions are listed; borrowed */
	struct snap__offset *offsets; /* out */
	size_t n_offsets;
	int32_t *partitions; /* out: ascending, each once */
	size_t n_partitions;
};

/* Appends an offset. @return 0 or SNAP_NOMEM. */
int snap__coverage_add_offset(struct snap__coverage *cov, const char *topic, int32_t partition, int64_t next);
/* Adds a partition (kept ascending, each once). @return 0 or SNAP_NOMEM. */
int snap__coverage_add_partition(struct snap__coverage *cov, int32_t partition);
void snap__coverage_free(struct snap__coverage *cov);
/* Adds the coverage a manifest lists ("events_topic", copied to topic_out; "partitions";
 * "source_offsets") to cov. @return SNAP_OK, SNAP_FORMAT (not listed: errbuf says so), SNAP_NOMEM. */
int snap__coverage_parse(struct snap__coverage *cov, char *topic_out, size_t topic_len, const char *manifest,
			 size_t len, char *errbuf, size_t errbuf_len);
/*
 * The coverage of n snapshots (names: for errors) as one (out->events_topic set, outputs empty):
 * the partitions of all, the offsets in the state's key order, one per (topic, partition); an
 * offset of another topic (reference data, which every instance reads) that differs keeps the
 * highest and is counted in *differing_out. @return SNAP_OK, SNAP_CONFLICT (a partition, or an
 * offset of the events topic, in two of them: errbuf names it) or SNAP_NOMEM.
 */
int snap__coverage_merge(struct snap__coverage *out, const struct snap__coverage *parts, const char *const *names,
			 int n, size_t *differing_out, char *errbuf, size_t errbuf_len);

/* A sink being written: its type and its state (from open). */
struct snap__open_sink {
	const struct snap_sink *sink;
	void *state;
};

/* Hands one row (the values of every column of snap_columns(), in order) to the n sinks.
 * @return SNAP_OK or the first sink's error. */
int snap__sinks_row(struct snap__open_sink *sinks, int n, const struct snap_value *vals);

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

/* First pass: one customer's features (or its exclusion), from its labels, value drivers and
 * spend (segment_cluster_features). @return 0 or SNAP_NOMEM. */
int snap__clusters_add(struct snap__clusters *cl, const struct segment_labels *l, const struct segment_drivers *drv,
		       uint64_t spend_cents);
/* Between the passes: k-means over the points (cfg->clusters, cfg->cluster_seed). @return 0 or SNAP_NOMEM. */
int snap__clusters_run(struct snap__clusters *cl, const struct segment_config *cfg, struct segment_clusters *out);
/* Second pass: the cluster of the next customer (-1: excluded), counted in r (its cluster's
 * spend, or the excluded). */
int32_t snap__clusters_next(struct snap__clusters *cl, uint64_t spend_cents, struct snap_report *r);
void snap__clusters_free(struct snap__clusters *cl);

/* The value drivers of a report (drivers.c): each customer's point, then Pearson and quintiles. */
struct snap__driver_point {
	double x;
	uint64_t value;
	uint32_t user_id;
};
struct snap__drivers {
	struct snap__driver_point *p[SNAP_DRIVERS];
	uint64_t n[SNAP_DRIVERS], cap;
};
/* One customer that is not low-activity: x per driver (basket size, order count, order rate,
 * reorder rate; NaN: not counted), its value (spend) and user_id (ties). @return 0 or SNAP_NOMEM. */
int snap__drivers_add(struct snap__drivers *d, const double x[SNAP_DRIVERS], uint64_t value, uint32_t user_id);
/* The report's driver_n, driver_pearson and driver_quintile_value (sorts the points). */
void snap__drivers_finish(struct snap__drivers *d, struct snap_report *r);
void snap__drivers_free(struct snap__drivers *d);

/*
 * One walk over the state in one read transaction (walk.c): fills the report (the clusters warm
 * started from start's centres, or k-means++ when start is NULL), hands each customer's row to
 * the n sinks, and, if cov is not NULL, fills its offsets and partitions (snap__coverage_free()
 * it, also on failure). @return SNAP_OK, SNAP_STATE, SNAP_IO or SNAP_NOMEM.
 */
int snap__walk(struct state_db *db, const struct segment_config *cfg, const struct snap__clusters_start *start,
	       struct snap__open_sink *sinks, int n, struct snap_report *r, struct snap__coverage *cov);

/*
 * What fills a snapshot that snap__publish() writes: the rows to the n sinks (opened on the
 * temporary directory's files), the report (clusters warm started from start, or k-means++ when
 * NULL) and the coverage (cov->events_topic already set). errbuf: optional detail on failure.
 * @return SNAP_OK or an error (SNAP_IO with errno set for a failed write).
 */
typedef int (*snap__fill_fn)(void *ctx, const struct snap__clusters_start *start, struct snap__open_sink *sinks, int n,
			     struct snap_report *r, struct snap__coverage *cov, char *errbuf, size_t errbuf_len);

/*
 * Publishes the next snapshot under dir as snap_publish_files() does, its content from fill
 * (publish.c); cfg gives the clusters' k and seed for the warm start from the previous snapshot.
 */
int snap__publish(snap__fill_fn fill, void *ctx, const struct segment_config *cfg, const struct snap_options *opts,
		  const char *dir, uint64_t *seq_out, struct snap_report *report_out, char *errbuf, size_t errbuf_len);

/* What a report.json says of its clusters (snap__report_add_json). */
struct snap__report_clusters {
	uint32_t k;         /* clusters made */
	uint64_t seed;      /* of the k-means++ initial centres */
	uint64_t customers; /* customers clustered */
};

/*
 * Adds the sums of a report.json (format SNAP_REPORT_FORMAT) to sum (report_sums.c): every count
 * and total by label, group, persona, department, day and hour; the watermark (the later one);
 * the department names (a name one report has and another lacks is kept). The value drivers and
 * the clusters are not sums: a merge computes them again over all rows; cl_out says what the
 * report's clusters were made with. @return SNAP_OK, SNAP_FORMAT (errbuf names the key that
 * cannot be read) or SNAP_CONFLICT (two names for one department).
 */
int snap__report_add_json(struct snap_report *sum, const char *json, size_t len, struct snap__report_clusters *cl_out,
			  char *errbuf, size_t errbuf_len);

/* Back to the first row (the rows were verified when the reader opened; nothing is read again). */
void snap__reader_rewind(struct snap_reader *r);

#endif
