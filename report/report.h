/**
 * @file report.h
 * @brief Stakeholder outputs of one published snapshot: the Excel workbook (libxlsxwriter).
 *        Built from the snapshot reader (snapshot_reader.h) and the snapshot's report.json
 *        alone: no LMDB, no Kafka. Every output names the snapshot it comes from (sequence,
 *        time, source offsets).
 *
 * The workbook has a cover sheet (sequence, time, offsets, customers, orders, lines, spend)
 * and one sheet per question of the original analysis: label distributions, days and hours,
 * regions, demographic groups, departments (overall and by region), shopper profiles,
 * personas, revenue concentration, value drivers and clusters. Each sheet's first row is a
 * frozen header; its tables start in that row, side by side, with native Excel charts to their
 * right. Money is in dollars with a currency format, shares are fractions with a percent
 * format, counts are whole numbers; nothing is written as text that is a number.
 */
#ifndef SEGSTREAM_REPORT_H
#define SEGSTREAM_REPORT_H

#include <stddef.h>

#include "snapshot/snapshot_reader.h"

#define REPORT_ERR_MAP(XX)                                                      \
	XX(OK, 0, "success")                                                    \
	XX(IO, -801, "cannot write the output")                                 \
	XX(SNAPSHOT, -802, "cannot read the snapshot")                          \
	XX(FORMAT, -803, "the snapshot's report is not one this version reads") \
	XX(NOMEM, -804, "out of memory")

enum report_err {
#define REPORT_ERR_ENUM(name, code, text) REPORT_##name = code,
	REPORT_ERR_MAP(REPORT_ERR_ENUM)
#undef REPORT_ERR_ENUM
};

const char *report_strerror(int err);

/**
 * @brief Writes the workbook of the snapshot @p r is open on to @p path (replaced if it exists).
 * @param r       an open reader (borrowed; its rows are not read)
 * @param errbuf  optional; says what failed
 * @return REPORT_OK, REPORT_SNAPSHOT (report.json unreadable), REPORT_FORMAT (report.json or the
 *         manifest lacks what a sheet needs), REPORT_IO (libxlsxwriter could not write @p path) or
 *         REPORT_NOMEM.
 */
int report_write_xlsx(struct snap_reader *r, const char *path, char *errbuf, size_t errbuf_len);

#endif
