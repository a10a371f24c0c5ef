/**
 * @file snapshot.h
 * @brief Consistent segment snapshots: one LMDB read transaction gives the per-customer rows
 *        and the report; files are published atomically (a temp directory, fsync, rename).
 *
 * Layout of a published snapshot: DIR/NNNNNNNNNN/ with customers.csv (one row per customer:
 * id, labels, the metrics behind them; never names), report.json (counts per label) and
 * manifest.json (sequence, time, counts). A reader trusts only directories with a manifest:
 * the rename is the commit point.
 */
#ifndef SEGSTREAM_SNAPSHOT_H
#define SEGSTREAM_SNAPSHOT_H

#include <stdint.h>
#include <stdio.h>

#include "segment/segment.h"
#include "state/state.h"

#define SNAP_ERR_MAP(XX)                                  \
	XX(OK, 0, "success")                              \
	XX(IO, -201, "cannot write the snapshot")         \
	XX(STATE, -202, "cannot read the state")

enum snap_err {
#define SNAP_ERR_ENUM(name, code, text) SNAP_##name = code,
	SNAP_ERR_MAP(SNAP_ERR_ENUM)
#undef SNAP_ERR_ENUM
};

const char *snap_strerror(int err);

/** Aggregates of one snapshot. */
struct snap_report {
	uint64_t customers;
	uint64_t loyalty[SEG_LOYALTY_COUNT];
	uint64_t spending[SEG_SPENDING_COUNT];
	uint64_t frequency[SEG_FREQUENCY_COUNT];
	uint64_t low_activity;
	uint64_t orders, items, priced_items, reorders, spend_cents;
	uint64_t loyalty_lines[SEG_LOYALTY_COUNT]; /* lines per loyalty label (SPEC §5 reference counts) */
	uint64_t dept_items[STATE_DEPARTMENTS];
	uint64_t dept_cents[STATE_DEPARTMENTS];
	uint64_t dow_orders[7];
	uint64_t hour_orders[24];
};

/**
 * @brief Builds the report in one read transaction; if @p rows is not NULL, also writes one CSV
 *        row per customer to it during the same walk.
 * @return SNAP_OK, SNAP_STATE or SNAP_IO.
 */
int snap_build(struct state_db *db, const struct segment_config *cfg, struct snap_report *out, FILE *rows);

/** @brief Writes the report as JSON. @return SNAP_OK or SNAP_IO. */
int snap_report_write_json(const struct snap_report *r, FILE *f);

/**
 * @brief Publishes the next snapshot under @p dir (created if missing) atomically.
 * @param[out] seq_out     the sequence number published
 * @param[out] report_out  optional; the report published
 * @return SNAP_OK, SNAP_STATE or SNAP_IO (errbuf says which file and why).
 */
int snap_publish_files(struct state_db *db, const struct segment_config *cfg, const char *dir, uint64_t *seq_out,
		       struct snap_report *report_out, char *errbuf, size_t errbuf_len);

#endif
