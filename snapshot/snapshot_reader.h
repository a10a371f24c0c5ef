/**
 * @file snapshot_reader.h
 * @brief Reading published segment snapshots: the manifest, checksums and rows. A reader
 *        program links only the seg_snapshot_reader library (msgpack and zlib, no LMDB, no
 *        librdkafka).
 *
 * A published snapshot is DIR/NNNNNNNNNN/ (the sequence number, 10 digits) holding the files
 * its manifest.json lists, each with its size and CRC-32, and the manifest itself (written
 * last). customers.msgpack is always there: one msgpack array per customer, one element per
 * column, concatenated. Format 2's manifest lists the columns (name, type, nullable) in row
 * order; format 1 had no such list and the fixed 22 columns of that version, which this reader
 * still knows.
 */
#ifndef SEGSTREAM_SNAPSHOT_READER_H
#define SEGSTREAM_SNAPSHOT_READER_H

#include <stddef.h>
#include <stdint.h>

#define SNAP_ERR_MAP(XX)                                         \
	XX(OK, 0, "success")                                     \
	XX(IO, -201, "cannot write or read the snapshot")        \
	XX(STATE, -202, "cannot read the state")                 \
	XX(NONE, -203, "no complete snapshot")                   \
	XX(CHECKSUM, -204, "a file does not match its manifest") \
	XX(FORMAT, -205, "not a snapshot this version can read") \
	XX(NOMEM, -206, "out of memory")                         \
	XX(CONFLICT, -207, "the snapshots cannot be merged")

enum snap_err {
#define SNAP_ERR_ENUM(name, code, text) SNAP_##name = code,
	SNAP_ERR_MAP(SNAP_ERR_ENUM)
#undef SNAP_ERR_ENUM
};

const char *snap_strerror(int err);

/**
 * The manifest's format: 2 lists the columns in the manifest; 3 adds the event-time watermark
 * ("event_time_max_ms", "as_of": the latest event time applied, null when none). Readers accept
 * 1, 2 and 3. Format 3 manifests of segstream since #18 also name the events topic and the
 * partitions of it the snapshot covers ("events_topic", "partitions": what a merge of several
 * instances' snapshots needs); new keys that older readers skip, so the format stays 3.
 * (report.json carries its own "format", SNAP_REPORT_FORMAT.)
 */
#define SNAP_FORMAT_VERSION 3 /* not SNAP_FORMAT: that name is the error code above */

/** Most columns a row can have (the reader refuses a manifest listing more). */
#define SNAP_COLUMNS_MAX 64

/** The type of a column's values. */
enum snap_type {
	SNAP_INT,  /* int64; in msgpack an integer */
	SNAP_REAL, /* double; in msgpack a float */
	SNAP_TEXT, /* UTF-8 text; in msgpack a str */
};

/** Flags of a column. */
#define SNAP_NULLABLE 1u /* may be null (msgpack nil, an empty CSV field) */
#define SNAP_QUOTED   2u /* free text: always in double quotes in CSV (writers only) */

/** One column of a row. */
struct snap_column {
	const char *name; /* as in the manifest, the CSV header and `segstream get` */
	enum snap_type type;
	unsigned flags; /* SNAP_NULLABLE, SNAP_QUOTED */
};

/** @brief "int", "real" or "text" (the manifest's spelling); NULL for an unknown type. */
const char *snap_type_name(enum snap_type t);

struct snap_reader;

/**
 * @brief Opens the latest complete snapshot under @p dir (or sequence @p seq if non-zero),
 *        verifies every file against the manifest's size and CRC-32, and reads its columns.
 * @param[out] r_out  free with snap_reader_close()
 * @param errbuf      optional; says which file and why on failure
 *        customers.msgpack and report.json must be listed; the manifest's customer count must fit
 *        the rows file (snap_reader_next() checks it exactly when the rows end).
 * @return SNAP_OK, SNAP_NONE, SNAP_CHECKSUM, SNAP_FORMAT, SNAP_IO or SNAP_NOMEM.
 */
int snap_reader_open(const char *dir, uint64_t seq, struct snap_reader **r_out, char *errbuf, size_t errbuf_len);
/** @brief Frees the reader; NULL is a no-op. */
void snap_reader_close(struct snap_reader *r);
uint64_t snap_reader_sequence(const struct snap_reader *r);
/** @brief The snapshot's manifest format (1 or 2). */
int snap_reader_format(const struct snap_reader *r);
/** @brief The snapshot's directory path. Valid until snap_reader_close(). */
const char *snap_reader_path(const struct snap_reader *r);

/**
 * @brief The columns of the snapshot's rows, in row order.
 * @param[out] n_out  how many
 * @note Valid until snap_reader_close().
 */
const struct snap_column *snap_reader_columns(const struct snap_reader *r, size_t *n_out);
/** @brief The position of column @p name in a row, or -1 if the snapshot has no such column. */
int snap_reader_column_index(const struct snap_reader *r, const char *name);

/**
 * @brief The snapshot's manifest.json, the text the reader verified the files against.
 * @return NUL-terminated, borrowed: valid until snap_reader_close(); *len_out its length.
 */
const char *snap_reader_manifest(const struct snap_reader *r, size_t *len_out);

/**
 * @brief The snapshot's report.json, verified against the manifest when the reader opened.
 * @param[out] json_out  NUL-terminated; the caller frees it with free()
 * @return SNAP_OK, SNAP_IO, or SNAP_CHECKSUM if it no longer matches the manifest's size and CRC-32.
 */
int snap_reader_report(const struct snap_reader *r, char **json_out, size_t *len_out);

/**
 * A segment row as read back, one slot per column (snap_reader_columns() says which): an
 * integer column fills ints and reals, a real column reals, a text column texts/text_len.
 */
struct snap_row {
	size_t n;                             /* columns */
	unsigned char null[SNAP_COLUMNS_MAX]; /* 1 when the value is null */
	int64_t ints[SNAP_COLUMNS_MAX];       /* integer columns (0 when null) */
	double reals[SNAP_COLUMNS_MAX];       /* real and integer columns (NaN when null) */
	const char *texts[SNAP_COLUMNS_MAX];  /* text columns (NULL when null); valid until the next call */
	size_t text_len[SNAP_COLUMNS_MAX];
};

/**
 * @brief Reads the next row and checks each value against its column's type.
 * @return 1 with a row, 0 at the end, or SNAP_FORMAT (not an array of the columns, a value of
 *         another type, a container inside the row, text that is not UTF-8, a null in a column
 *         that is not nullable, a user_id outside 0..2^32-1, more or fewer rows than the
 *         manifest's count, bytes after the last row). A row is bounded before msgpack decodes
 *         it, so a declared count never allocates more than the columns of one row.
 */
int snap_reader_next(struct snap_reader *r, struct snap_row *row);

/**
 * @brief Reads the next row's raw msgpack bytes (for deltas).
 * @return 1 with a row, 0 at the end, or snap_reader_next()'s error (SNAP_FORMAT, SNAP_IO).
 * @param[out] bytes        borrowed; valid until snap_reader_close()
 * @param[out] user_id_out  the row's user_id column (0 if the snapshot has none)
 */
int snap_reader_next_raw(struct snap_reader *r, const void **bytes, size_t *len, uint32_t *user_id_out);

#endif
