/**
 * @file snapshot.h
 * @brief Consistent segment snapshots: one LMDB read transaction gives the offsets, the
 *        per-customer segment rows and the report; files are published atomically.
 *
 * A published snapshot is DIR/NNNNNNNNNN/ (the sequence number, 10 digits) holding:
 *  - one file per row sink: customers.msgpack always (one msgpack array per customer, the
 *    columns of the column table in order, concatenated), customers.csv if asked for;
 *  - report.json: the event-time watermark ("as_of"), counts per label and group (and items per
 *    department by loyalty), revenue and items per persona, profile, region, age/income/family
 *    group and department, revenue tiers, efficiency index, busiest days and hours, value
 *    drivers (Pearson correlations, value by quintile), behavioural clusters (size, centre in
 *    original units, name; the standardisation and initial centres to reproduce them);
 *  - manifest.json: format, sequence, time, the event-time watermark (the latest event time
 *    applied, in ms and as the UTC day "as_of"), the source offsets per topic/partition, counts,
 *    the events topic and the partitions of it the snapshot covers ("partitions": those with an
 *    offset of that topic in the state or with customers), the columns (name, type, nullable)
 *    and each file's size and CRC-32. Written last.
 * The directory is built under a temporary name, every file fsynced, then renamed: a reader
 * sees a whole snapshot or none. Names never appear in any file. Reading: snapshot_reader.h.
 *
 * One column table (columns.c) declares a row: each column's name, type and how its value
 * comes from a customer's record, labels and groups (struct snap_values). The row sinks, the
 * manifest and the CLI's get and dump all follow it.
 */
#ifndef SEGSTREAM_SNAPSHOT_H
#define SEGSTREAM_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "segment/segment.h"
#include "snapshot/snapshot_reader.h"
#include "state/state.h"

/**
 * The "format" of report.json (its layout; independent of the manifest's SNAP_FORMAT_VERSION).
 * 2: "departments" are named by the state's names (the id as text only when it has none), and
 * "as_of", "event_time_max_ms" and "department_names" are new; 1 named departments by id.
 */
#define SNAP_REPORT_FORMAT 2

#define SNAP_DRIVERS 4 /* basket size, order count, order rate, reorder rate */

/** Aggregates of one snapshot (SPEC §4). Demographic parts exclude low-activity customers. */
struct snap_report {
	uint64_t customers, low_activity, with_demographics;
	int64_t event_time_max_ms; /* the watermark: latest event time applied (max last_event_ms); INT64_MIN if none */
	uint64_t loyalty[SEG_LOYALTY_COUNT], spending[SEG_SPENDING_COUNT], frequency[SEG_FREQUENCY_COUNT];
	uint64_t loyalty_lines[SEG_LOYALTY_COUNT];
	uint64_t orders, items, priced_items, reorders, spend_cents;
	uint64_t dept_items[STATE_DEPARTMENTS], dept_cents[STATE_DEPARTMENTS];
	uint64_t loyalty_dept_items[SEG_LOYALTY_COUNT][STATE_DEPARTMENTS]; /* items per department by loyalty */
	char dept_names[STATE_DEPARTMENTS][EVENT_NAME_MAX]; /* by id - 1, from the state; "" if unknown */
	uint64_t dow_orders[7], hour_orders[24], dow_lines[7], hour_lines[24];
	uint64_t dow_cents[7], hour_cents[24];         /* priced lines' cents by the order's day and hour */
	uint64_t profile_customers[SEG_PROFILE_COUNT]; /* by primary profile, all customers */
	uint64_t profile_items[SEG_PROFILE_COUNT], profile_cents[SEG_PROFILE_COUNT];
	/* demographic parts: customers not low-activity, with demographics */
	uint64_t region_customers[SEG_REGION_COUNT], region_items[SEG_REGION_COUNT], region_cents[SEG_REGION_COUNT];
	uint64_t age_customers[SEG_AGE_COUNT], age_items[SEG_AGE_COUNT], age_cents[SEG_AGE_COUNT];
	uint64_t income_customers[SEG_INCOME_COUNT], income_items[SEG_INCOME_COUNT], income_cents[SEG_INCOME_COUNT];
	uint64_t family_customers[SEG_FAMILY_COUNT], family_items[SEG_FAMILY_COUNT], family_cents[SEG_FAMILY_COUNT];
	uint64_t persona_items[SEG_PERSONA_COUNT], persona_cents[SEG_PERSONA_COUNT];
	uint64_t region_dept_cents[SEG_REGION_COUNT][STATE_DEPARTMENTS];
	uint64_t region_income_customers[SEG_REGION_COUNT][SEG_INCOME_COUNT];
	uint64_t region_income_cents[SEG_REGION_COUNT][SEG_INCOME_COUNT];
	/* value drivers over customers that are not low-activity (order rate: where span > 0) */
	double driver_pearson[SNAP_DRIVERS]; /* correlation with value (spend_cents); NaN if undefined */
	double driver_quintile_value[SNAP_DRIVERS][5];
	uint64_t driver_n[SNAP_DRIVERS];
	/* behavioural clusters (segment_kmeans) of the customers not excluded */
	struct segment_clusters clusters;
	uint64_t cluster_excluded;       /* customers in no cluster (low activity, no order rate) */
	uint64_t cluster_start_sequence; /* the snapshot whose centres started the clusters; 0: k-means++ */
	uint64_t cluster_spend_cents[SEG_CLUSTERS_MAX]; /* spend of each cluster's customers */
};

/* ---- The column table ---- */

/** What the columns of one customer's row are read from: the record and what segment/ computes. */
struct snap_values {
	const struct state_customer *c; /* borrowed from the caller */
	const struct event_customer *d; /* demographics, borrowed; NULL when the customer has none */
	struct segment_labels l;
	struct segment_groups g;
	enum segment_profile primary;
	uint64_t profile_items[SEG_PROFILE_COUNT], profile_cents[SEG_PROFILE_COUNT];
	struct segment_drivers drv;
	char persona[96]; /* "" when !g.valid */
	int32_t cluster;  /* the snapshot's cluster, -1 excluded; SNAP_CLUSTER_UNKNOWN outside a snapshot */
};

/** snap_values.cluster outside a snapshot walk (`get`, serve): the column is null. */
#define SNAP_CLUSTER_UNKNOWN INT32_MIN

/**
 * @brief Computes a customer's values with the rules of segment/. Pure.
 * @param d  the customer's demographics, or NULL
 * @note @p out borrows @p c and @p d: keep them alive while it is used.
 */
void snap_values_compute(const struct segment_config *cfg, const struct state_customer *c,
			 const struct event_customer *d, struct snap_values *out);

/** @brief The columns of a row, in order. @param[out] n_out how many. Static storage. */
const struct snap_column *snap_columns(size_t *n_out);

/** The value of one column. */
struct snap_value {
	int null;      /* 1: no value (only in SNAP_NULLABLE columns) */
	int64_t i;     /* SNAP_INT */
	double r;      /* SNAP_REAL */
	const char *s; /* SNAP_TEXT: borrowed from the snap_values or static storage */
};

/** @brief The value of column @p col (an index into snap_columns()) of a row. */
void snap_column_value(const struct snap_values *v, size_t col, struct snap_value *out);

/**
 * @brief A value as text, the same for every printed form (CSV, `get`): integers in decimal,
 *        reals with 17 significant digits ("%.17g"), texts as they are.
 * @param buf  scratch for numbers (32 bytes suffice)
 * @return the text (buf or the value's own string), or NULL for a null value.
 */
const char *snap_value_text(enum snap_type type, const struct snap_value *val, char *buf, size_t len);

/* ---- Row sinks ---- */

/**
 * One output format of a snapshot's rows. Publication (snap_publish_files) creates the sink's
 * file under the temporary directory, calls open, row for each customer (in user_id order,
 * inside the read transaction: keep it fast), then close; it fsyncs the file and lists its size
 * and CRC-32 in the manifest. A new format is one new file defining a struct snap_sink.
 */
struct snap_sink {
	const char *file_name; /* in the snapshot directory, e.g. "customers.msgpack" */
	/** Starts the format on @p f (borrowed until close). @return SNAP_OK, SNAP_NOMEM or SNAP_IO. */
	int (*open)(FILE *f, void **sink_out);
	/** Writes one row: @p vals holds the value of every column of snap_columns(), in order
	 *  (borrowed for the call). @return SNAP_OK or SNAP_IO. */
	int (*row)(void *sink, const struct snap_value *vals);
	/** Ends the format and frees the sink (not f); called after a failure too. @return SNAP_OK or SNAP_IO. */
	int (*close)(void *sink);
};

extern const struct snap_sink snap_sink_msgpack; /* customers.msgpack: what the reader reads */
extern const struct snap_sink snap_sink_csv;     /* customers.csv: a header, then one line per row */

#define SNAP_SINKS_MAX 8

/** Options of snap_publish_files(). */
struct snap_options {
	int keep;                                      /* published snapshots to keep (default 5) */
	const struct snap_sink *sinks[SNAP_SINKS_MAX]; /* default: snap_sink_msgpack alone */
	int n_sinks;
	unsigned file_mode;       /* default 0640: every file published, whatever the umask; directories get
			     * STATE_DIR_MODE(file_mode) (0750) */
	const char *events_topic; /* the events topic, whose partitions the manifest lists (default
				   * "segstream.events"); borrowed */
};

void snap_options_init(struct snap_options *o);
/** @brief Adds a sink (once). @return 0, or -1 when SNAP_SINKS_MAX are already there. */
int snap_options_add_sink(struct snap_options *o, const struct snap_sink *sink);

/* ---- Building and publishing ---- */

/**
 * @brief The department names the state holds (its reference data: departments.csv), so that
 *        shopper profiles follow SPEC §4's rule by name: each stored name is set in @p cfg
 *        (segment_config_name_department); departments without one keep cfg's profile.
 * @param[out] names_out  optional; the names by id - 1, "" where the state has none
 * @note `get` and `serve` answers go through this; a snapshot's walk (and so every report)
 *       reads the same names inside its own read transaction instead.
 */
void snap_department_names(struct state_db *db, struct segment_config *cfg,
			   char names_out[STATE_DEPARTMENTS][EVENT_NAME_MAX]);

/**
 * @brief Builds the report in one read transaction; if @p csv is not NULL, also writes the
 *        segment rows there as CSV (snap_sink_csv, with a header) during the same walk.
 * @return SNAP_OK, SNAP_STATE, SNAP_IO or SNAP_NOMEM.
 */
int snap_build(struct state_db *db, const struct segment_config *cfg, struct snap_report *out, FILE *csv);

/**
 * @brief The UTC day of event time @p ms as "YYYY-MM-DD" (the form of `--from`/`--until`), the
 *        "as of" date of a snapshot's watermark.
 * @return @p buf, or NULL when @p ms is INT64_MIN (no event applied) or @p len < 11.
 */
const char *snap_as_of_text(int64_t ms, char *buf, size_t len);

/** @brief Writes the report as JSON. @return SNAP_OK or SNAP_IO. */
int snap_report_write_json(const struct snap_report *r, FILE *f);

/**
 * @brief Publishes the next snapshot under @p dir (created if missing) atomically, then removes
 *        snapshots beyond opts->keep and temporary directories that dead publishers left.
 * @param[out] seq_out     the sequence number published
 * @param[out] report_out  optional; the report published
 * @return SNAP_OK, SNAP_STATE, SNAP_IO or SNAP_NOMEM (errbuf says which file and why).
 */
int snap_publish_files(struct state_db *db, const struct segment_config *cfg, const struct snap_options *opts,
		       const char *dir, uint64_t *seq_out, struct snap_report *report_out, char *errbuf,
		       size_t errbuf_len);

/* ---- The global view: merging several instances' snapshots ---- */

/** What snap_merge() read. */
struct snap_merge_stats {
	int inputs;                   /* snapshots merged */
	uint64_t customers;           /* rows written */
	size_t partitions;            /* partitions of the events topic covered */
	size_t offsets;               /* source offsets listed */
	size_t reference_offsets_max; /* offsets of other topics (the reference data) that instances had
				       * read to different points: the highest is listed */
};

/**
 * @brief Merges the snapshots of several instances, each covering its own partitions of one
 *        events topic, into one snapshot published under @p out_dir (atomically, pruned, as
 *        snap_publish_files() does): the snapshot one state holding all their partitions would
 *        publish. Rows are in that state's order (partition, then user_id); the clusters (and
 *        each row's cluster) and the value drivers are computed again over all rows with the
 *        walk's own code; the other parts of the report are sums, added up from each snapshot's
 *        report.json; report.json is written by snap_report_write_json(); the manifest lists
 *        every partition and source offset. Only "created_unix" (and "sequence", the next one
 *        under @p out_dir) can differ from a single instance's snapshot of the same state.
 * @param dirs   each a snapshots directory (its latest complete snapshot) or one snapshot's own
 *               directory (DIR/NNNNNNNNNN)
 * @param cfg    the clusters' k and seed (cfg->clusters, cfg->cluster_seed): those the instances
 *               used, as `-T` gave them; the thresholds of the labels are in the rows already
 * @param opts   keep and file mode; the row files are those the inputs have (customers.msgpack,
 *               customers.csv), whatever opts->sinks says; opts->events_topic is not used
 * @param[out] seq_out     the sequence published
 * @param[out] report_out  optional; the merged report
 * @param[out] stats_out   optional
 * @return SNAP_OK; SNAP_CONFLICT when they cannot be one state's snapshot (errbuf says why: a
 *         partition in two of them, other events topics, columns, row files, report or manifest
 *         formats than each other or than this segstream writes, clusters made with another k
 *         or seed, two names for one department, @p out_dir being one of them); SNAP_FORMAT (a
 *         manifest without "partitions", written before segstream listed them, rows out of
 *         order or of a partition the snapshot does not cover, a report that cannot be read);
 *         the reader's errors (SNAP_NONE, SNAP_CHECKSUM, ...); SNAP_IO, SNAP_NOMEM.
 */
int snap_merge(const char *const *dirs, int n_dirs, const struct segment_config *cfg, const struct snap_options *opts,
	       const char *out_dir, uint64_t *seq_out, struct snap_report *report_out,
	       struct snap_merge_stats *stats_out, char *errbuf, size_t errbuf_len);

/* ---- Kafka ---- */

/** What snap_publish_kafka() sent. */
struct snap_delta_stats {
	uint64_t changed; /* rows new or different since the previous snapshot */
	uint64_t removed; /* customers gone (tombstones) */
	uint64_t unchanged;
	uint64_t moved; /* customers gone with their partition: one this snapshot no longer covers (its
			 * manifest's "partitions"), whose new owner publishes them; no tombstone */
};

/**
 * @brief Publishes snapshot @p seq (already published as files under @p dir) to a compacted
 *        Kafka topic: the rows that changed since snapshot @p prev_seq (0: every row), keyed by
 *        user_id, then a manifest record (key "__manifest", value manifest.json), all in one
 *        producer transaction: read_committed readers see a whole snapshot or none. Several
 *        instances may publish to one topic, each its own partitions: a customer of a partition
 *        the snapshot no longer covers gets no tombstone (its new owner publishes its row).
 * @param props  extra librdkafka "key=value" properties, or NULL
 * @return SNAP_OK, SNAP_NONE/SNAP_CHECKSUM/SNAP_FORMAT (reading the files), SNAP_NOMEM, SNAP_IO (Kafka).
 */
int snap_publish_kafka(const char *brokers, const char *topic, const char *const *props, int n_props, const char *dir,
		       uint64_t seq, uint64_t prev_seq, struct snap_delta_stats *stats_out, char *errbuf,
		       size_t errbuf_len);

#endif
