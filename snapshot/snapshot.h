/**
 * @file snapshot.h
 * @brief Consistent segment snapshots: one LMDB read transaction gives the offsets, the
 *        per-customer segment rows and the report; files are published atomically.
 *
 * A published snapshot is DIR/NNNNNNNNNN/ (the sequence number, 10 digits) holding:
 *  - customers.msgpack: one msgpack array per customer (SNAP_ROW_FIELDS, in the order of
 *    snap_row_field_names()), concatenated; customers.csv with the same columns if asked for;
 *  - report.json: counts per label and group, revenue and items per persona, profile, region,
 *    age/income/family group and department, revenue tiers, efficiency index, busiest days and
 *    hours, value drivers (Pearson correlations, value by quintile);
 *  - manifest.json: format, sequence, time, the source offsets per topic/partition, counts, and
 *    each file's size and CRC-32. Written last.
 * The directory is built under a temporary name, every file fsynced, then renamed: a reader
 * sees a whole snapshot or none. Names never appear in any file.
 */
#ifndef SEGSTREAM_SNAPSHOT_H
#define SEGSTREAM_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "segment/segment.h"
#include "state/state.h"

#define SNAP_ERR_MAP(XX)                                                 \
	XX(OK, 0, "success")                                             \
	XX(IO, -201, "cannot write or read the snapshot")                \
	XX(STATE, -202, "cannot read the state")                         \
	XX(NONE, -203, "no complete snapshot")                           \
	XX(CHECKSUM, -204, "a file does not match its manifest")         \
	XX(FORMAT, -205, "not a snapshot this version can read")         \
	XX(NOMEM, -206, "out of memory")

enum snap_err {
#define SNAP_ERR_ENUM(name, code, text) SNAP_##name = code,
	SNAP_ERR_MAP(SNAP_ERR_ENUM)
#undef SNAP_ERR_ENUM
};

const char *snap_strerror(int err);

#define SNAP_FORMAT 1
#define SNAP_ROW_FIELDS 22
/** @brief The column names of a segment row (SNAP_ROW_FIELDS of them). */
const char *const *snap_row_field_names(void);

#define SNAP_DRIVERS 4 /* basket size, order count, order rate, reorder rate */

/** Aggregates of one snapshot (SPEC §4). Demographic parts exclude low-activity customers. */
struct snap_report {
	uint64_t customers, low_activity, with_demographics;
	uint64_t loyalty[SEG_LOYALTY_COUNT], spending[SEG_SPENDING_COUNT], frequency[SEG_FREQUENCY_COUNT];
	uint64_t loyalty_lines[SEG_LOYALTY_COUNT];
	uint64_t orders, items, priced_items, reorders, spend_cents;
	uint64_t dept_items[STATE_DEPARTMENTS], dept_cents[STATE_DEPARTMENTS];
	uint64_t dow_orders[7], hour_orders[24], dow_lines[7], hour_lines[24];
	uint64_t profile_customers[SEG_PROFILE_COUNT];       /* by primary profile, all customers */
	uint64_t profile_items[SEG_PROFILE_COUNT], profile_cents[SEG_PROFILE_COUNT];
	/* demographic parts: customers not low-activity, with demographics */
	uint64_t region_customers[SEG_REGION_COUNT], region_items[SEG_REGION_COUNT], region_cents[SEG_REGION_COUNT];
	uint64_t age_customers[SEG_AGE_COUNT], age_items[SEG_AGE_COUNT], age_cents[SEG_AGE_COUNT];
	uint64_t income_customers[SEG_INCOME_COUNT], income_items[SEG_INCOME_COUNT], income_cents[SEG_INCOME_COUNT];
	uint64_t family_customers[SEG_FAMILY_COUNT], family_items[SEG_FAMILY_COUNT], family_cents[SEG_FAMILY_COUNT];
	uint64_t persona_items[SEG_PERSONA_COUNT], persona_cents[SEG_PERSONA_COUNT];
	uint64_t region_dept_cents[SEG_REGION_COUNT][STATE_DEPARTMENTS];
	/* value drivers over customers that are not low-activity (order rate: where span > 0) */
	double driver_pearson[SNAP_DRIVERS];        /* correlation with value (spend_cents); NaN if undefined */
	double driver_quintile_value[SNAP_DRIVERS][5];
	uint64_t driver_n[SNAP_DRIVERS];
};

/** Options of snap_publish_files(). */
struct snap_options {
	int keep;        /* published snapshots to keep (default 5) */
	int write_csv;   /* also customers.csv (default 0) */
};

void snap_options_init(struct snap_options *o);

/**
 * @brief Builds the report in one read transaction; if @p csv is not NULL, also writes the
 *        segment rows there as CSV (with a header) during the same walk.
 * @return SNAP_OK, SNAP_STATE, SNAP_IO or SNAP_NOMEM.
 */
int snap_build(struct state_db *db, const struct segment_config *cfg, struct snap_report *out, FILE *csv);

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

/* ---- Reading ---- */

struct snap_reader;

/**
 * @brief Opens the latest complete snapshot under @p dir (or sequence @p seq if non-zero) and
 *        verifies every file against the manifest's size and CRC-32.
 * @param[out] r_out  free with snap_reader_close()
 * @return SNAP_OK, SNAP_NONE, SNAP_CHECKSUM, SNAP_FORMAT, SNAP_IO or SNAP_NOMEM.
 */
int snap_reader_open(const char *dir, uint64_t seq, struct snap_reader **r_out, char *errbuf, size_t errbuf_len);
void snap_reader_close(struct snap_reader *r);
uint64_t snap_reader_sequence(const struct snap_reader *r);
/** @brief The snapshot's directory path. Valid until snap_reader_close(). */
const char *snap_reader_path(const struct snap_reader *r);

/**
 * @brief The snapshot's report.json, verified against the manifest when the reader opened.
 * @param[out] json_out  NUL-terminated; the caller frees it with free()
 * @return SNAP_OK, SNAP_IO or SNAP_NOMEM.
 */
int snap_reader_report(const struct snap_reader *r, char **json_out, size_t *len_out);

/** A segment row as read back: numbers as int64 or double, texts as borrowed strings. */
struct snap_row {
	int64_t ints[SNAP_ROW_FIELDS];     /* integer columns */
	double reals[SNAP_ROW_FIELDS];     /* real columns (NaN when null) */
	const char *texts[SNAP_ROW_FIELDS];/* text columns; valid until the next call */
	size_t text_len[SNAP_ROW_FIELDS];
};

/**
 * @brief Reads the next row. @return 1 with a row, 0 at the end, or SNAP_FORMAT / SNAP_IO.
 */
int snap_reader_next(struct snap_reader *r, struct snap_row *row);

/**
 * @brief Reads the next row's raw msgpack bytes (for deltas). @return 1, 0 at the end, or an error.
 * @param[out] bytes  borrowed; valid until snap_reader_close()
 */
int snap_reader_next_raw(struct snap_reader *r, const void **bytes, size_t *len, uint32_t *user_id_out);

/* ---- Kafka ---- */

/** What snap_publish_kafka() sent. */
struct snap_delta_stats {
	uint64_t changed;   /* rows new or different since the previous snapshot */
	uint64_t removed;   /* customers gone (tombstones) */
	uint64_t unchanged;
};

/**
 * @brief Publishes snapshot @p seq (already published as files under @p dir) to a compacted
 *        Kafka topic: the rows that changed since snapshot @p prev_seq (0: every row), keyed by
 *        user_id, then a manifest record (key "__manifest", value manifest.json), all in one
 *        producer transaction: read_committed readers see a whole snapshot or none.
 * @param props  extra librdkafka "key=value" properties, or NULL
 * @return SNAP_OK, SNAP_NONE/SNAP_CHECKSUM/SNAP_FORMAT (reading the files), SNAP_IO (Kafka).
 */
int snap_publish_kafka(const char *brokers, const char *topic, const char *const *props, int n_props,
		       const char *dir, uint64_t seq, uint64_t prev_seq, struct snap_delta_stats *stats_out,
		       char *errbuf, size_t errbuf_len);

#endif
