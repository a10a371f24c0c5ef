/*
 * Private to dataset/: what its files share (the CSV engine's row interface, field parsers,
 * growable arrays). Symbols here carry the ds__ prefix; nothing outside dataset/ includes
 * this header (dataset.h is the public one).
 */
#ifndef SEGSTREAM_DATASET_INT_H
#define SEGSTREAM_DATASET_INT_H

#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "dataset/dataset.h"

#define DS__MAX_FIELDS 32

/* Steps ahead to prefetch when walking orders in an order other than their ids'. */
enum { DS__PREFETCH_AHEAD = 16 };

/* One row of a CSV file, as the engine (csv.c) hands it to a table reader. */
struct ds__row {
	const char *field[DS__MAX_FIELDS]; /* NUL-terminated, valid during the row callback */
	size_t len[DS__MAX_FIELDS];
	int n;          /* fields in the row (may exceed DS__MAX_FIELDS: extra ones dropped) */
	uint64_t rowno; /* 1-based record number (in the file, or in a range of unknown start) */
	int file_first; /* the first row of the file: may be a header */
};

/* A table reader's row function: 0 to go on, 1 for a bad row (why says why), or a negative
 * DS_* error to stop. */
typedef int (*ds__row_fn)(const struct ds__row *r, void *ctx, char *why, size_t why_len);

/*
 * Streams the rows of [range->start, range->end) of path to fn (all of it for a NULL range):
 * libcsv for anything quoted, a fast splitter until then. Row numbers continue from
 * range->first_row, so errors name the row of the whole file; when that is DS_ROW_UNKNOWN
 * they are kept in the report until ds_report_settle(). A quote inside a part of a file stops
 * the read with DS_SPLIT. Returns DS_OK, DS_IO, DS_NOMEM, DS_ROWS, DS_SPLIT or fn's error.
 */
int ds__csv_read_range(const char *path, const struct ds_range *range, struct ds_report *rep, ds__row_fn fn, void *ctx);

/*
 * A table reader's fast path for its common row form, tried on each quote-free row that starts
 * with a digit: it parses the row in [s, end) without splitting it and returns where the row
 * ends (its CR or LF, or end), with *rc_out what a row function would return for it (why says
 * why if 1); or NULL when the row is not in that form: the engine then splits it and calls the
 * row function, which must judge it as the fast path would have. rowno is the row's number, as
 * ds__row.rowno would give it.
 */
typedef const char *(*ds__fast_fn)(const char *s, const char *end, void *ctx, uint64_t rowno, int *rc_out, char *why,
				   size_t why_len);

/* ds__csv_read_range() with a fast path for the reader's common rows (NULL: none). */
int ds__csv_read_range_fast(const char *path, const struct ds_range *range, struct ds_report *rep, ds__row_fn fn,
			    ds__fast_fn fast, void *ctx);

/*
 * A reader's batch fast path, tried before ds__fast_fn on a quote-free row that starts with a
 * digit: takes up to max_rows rows from *s_io on (text in [*s_io, end), whole rows) while each
 * is in its common form and good (what the row function would accept without a report), moves
 * *s_io past the last one taken, and sets *rows_out to their number. It stops before the first
 * row it cannot take whole, which the engine then hands to ds__fast_fn or the row function one
 * row at a time. Returns 0, or a negative DS_* error (DS_NOMEM) that stops the read.
 */
typedef int (*ds__rows_fn)(const char **s_io, const char *end, uint64_t max_rows, void *ctx, uint64_t *rows_out);

/* ds__csv_read_range_fast() with a batch fast path too (rows, called with rows_ctx; NULL: none). */
int ds__csv_read_range_rows(const char *path, const struct ds_range *range, struct ds_report *rep, ds__row_fn fn,
			    ds__fast_fn fast, ds__rows_fn rows, void *ctx, void *rows_ctx);

/* ds_lines_read_range() with a batch fast path (called with ctx, as cb is). */
int ds__lines_read_range_rows(const char *path, const struct ds_range *range, ds_line_cb cb, ds__rows_fn rows,
			      void *ctx, struct ds_report *rep);

/* ds_history_read_lines() with a batch fast path (called with the sink's ctx of each part). */
int ds__history_read_lines_rows(const struct ds_history *h, const char *path, const struct ds_line_sink *sink,
				ds__rows_fn rows, struct ds_report *rep);

/* A line whose order is not in h's table: writes why (a rejected order row, or no such order)
 * and returns 1, a bad row. */
int ds__orphan_line(const struct ds_history *h, const struct ds_line *l, char *why, size_t why_len);

/* Prints one bad row ("path:row: why") to the report's log, unless the report is quiet. */
void ds__print_bad_row(const struct ds_report *rep, const char *path, uint64_t rowno, const char *why);

/* Whether r is the file's first row and starts with a name rather than a number. */
int ds__is_header(const struct ds__row *r);
/* Checks a header row against the expected names (case-insensitive): 0 or DS_LAYOUT (why says why). */
int ds__check_header(const struct ds__row *r, const char *const *names, int n, char *why, size_t why_len);
/* Says why on stderr and returns DS_LAYOUT, which stops the read. */
int ds__layout_error(const struct ds__row *r, const char *why);
/* Writes a bad row's reason into why; returns 1 (a bad row) for row functions to return. */
int ds__bad(char *why, size_t why_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/*
 * The largest id an id-indexed table (orders, products, customers, the users of the timeline)
 * takes after `rows` rows: ids are dense in the data, so a table may hold DS_ID_PER_ROW slots
 * per row read, and DS_ID_FLOOR at least. A row with a larger id is a bad row naming the limit,
 * so memory follows what is read, never one stray id (2^32 - 1 would ask for 100 GB).
 */
static inline uint64_t ds__id_limit(uint64_t rows)
{
	uint64_t per_rows = rows * DS_ID_PER_ROW;
	return per_rows > DS_ID_FLOOR ? per_rows : DS_ID_FLOOR;
}

/* calloc(n, elem) with a hint to back it with huge pages (a table read or written at random
 * places: fewer TLB misses); free it with free(). */
void *ds__calloc_huge(size_t n, size_t elem);

/* Grows an id-indexed table of elem-sized entries so that id fits; new entries are zeroed.
 * Returns 0, or -1 when out of memory (the table is unchanged). */
int ds__grow_table(void **table, size_t *cap, size_t elem, uint64_t id);

/* The field parsers and the array growth below are called for every field or row of the
 * 33M-row lines file: inline, as they were when dataset was one file. */

static inline void ds__trim(const char **s, size_t *len)
{
	while (*len && isspace((unsigned char)**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && isspace((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

/* An unsigned decimal integer <= max, optionally written with a ".0" fraction ("15.0").
 * Returns 0 and *out, or -1. */
static inline int ds__parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	ds__trim(&s, &len);
	if (len == 0)
		return -1;
	uint64_t v = 0;
	size_t i = 0;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > max)
			return -1;
	}
	if (i == 0)
		return -1;
	if (i < len) {
		if (s[i] != '.' || i + 1 == len)
			return -1;
		for (i++; i < len; i++)
			if (s[i] != '0')
				return -1;
	}
	*out = v;
	return 0;
}

/*
 * Digits eight bytes at a time (SWAR), for the batch fast paths; little-endian machines only
 * (DS__SWAR is 0 elsewhere, and the batch paths then take no row). A word holds the 8 bytes at
 * p with p[0] in its low byte.
 */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define DS__SWAR 1
#else
#define DS__SWAR 0
#endif

static inline uint64_t ds__load8(const char *p)
{
	uint64_t w;
	memcpy(&w, p, sizeof w);
	return w;
}

/* The bytes of w that are not ASCII digits: 0x80 in each, 0 in the others. */
static inline uint64_t ds__nondigits(uint64_t w)
{
	uint64_t t = w ^ 0x3030303030303030ull; /* a digit's byte is now 0..9 */
	/* a byte's 7 low bits + 0x76 reach bit 7 from 10 up, with no carry into the next byte */
	return (((t & 0x7f7f7f7f7f7f7f7full) + 0x7676767676767676ull) | t) & 0x8080808080808080ull;
}

/* The value of 8 digits in w (the first the most significant); leading zero bytes count as 0. */
static inline uint64_t ds__digits8(uint64_t w)
{
	w = (w & 0x0f0f0f0f0f0f0f0full) * (10 * 256 + 1) >> 8;
	w = (w & 0x00ff00ff00ff00ffull) * (100 * 65536 + 1) >> 16;
	return (w & 0x0000ffff0000ffffull) * (10000 * (1ull << 32) + 1) >> 32;
}

/* The value of the n digits at p, 1 <= n <= 10 (16 readable bytes at p). */
static inline uint64_t ds__digits_n(const char *p, int n)
{
	uint64_t w0 = ds__load8(p);
	if (n <= 8)
		return ds__digits8(w0 << (64 - 8 * n));
	return ds__digits8(w0) * (n == 10 ? 100 : 10) + ds__digits8(ds__load8(p + 8) << (64 - 8 * (n - 8)));
}

/* The digits at p (16 readable bytes): their number (1 to 10) and *v_out, or 0 when there is none
 * or more than 10 (the scalar parsers' limit; their callers fall back to those). */
static inline int ds__swar_digits(const char *p, uint64_t *v_out)
{
	uint64_t m0 = ds__nondigits(ds__load8(p)), m1;
	int n = m0 ? __builtin_ctzll(m0) >> 3
		   : 8 + ((m1 = ds__nondigits(ds__load8(p + 8))) ? __builtin_ctzll(m1) >> 3 : 8);
	if (n == 0 || n > 10)
		return 0;
	*v_out = ds__digits_n(p, n);
	return n;
}

/* The bytes of p[0, 32) that are not ASCII digits, as bits (bit i for p[i]). */
static inline uint32_t ds__nondigit_bits32(const char *p)
{
#if defined(__SSE2__)
	const __m128i zero = _mm_set1_epi8('0'), nine = _mm_set1_epi8('9');
	__m128i a = _mm_loadu_si128((const __m128i *)(const void *)p);
	__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
	/* signed compares: bytes from 0x80 up are below '0' */
	uint32_t lo = (uint32_t)_mm_movemask_epi8(_mm_or_si128(_mm_cmplt_epi8(a, zero), _mm_cmpgt_epi8(a, nine)));
	uint32_t hi = (uint32_t)_mm_movemask_epi8(_mm_or_si128(_mm_cmplt_epi8(b, zero), _mm_cmpgt_epi8(b, nine)));
	return lo | hi << 16;
#else
	uint32_t bits = 0;
	for (int i = 0; i < 32; i++)
		bits |= (uint32_t)((unsigned char)(p[i] - '0') >= 10) << i;
	return bits;
#endif
}

/* Makes room for element n of a growable array (capacity doubling from first_cap).
 * Returns 0, or -1 when out of memory (the array is unchanged). */
static inline int ds__grow_array(void **items, uint64_t n, uint64_t *cap, size_t elem, uint64_t first_cap)
{
	if (n < *cap)
		return 0;
	uint64_t c = *cap ? *cap * 2 : first_cap;
	void *t = realloc(*items, c * elem);
	if (!t)
		return -1;
	*items = t;
	*cap = c;
	return 0;
}

#endif
