/*
 * The CSV engine of dataset/: reads a file, or a byte range of it, row by row for the table
 * readers (libcsv for quoted text, a fast splitter for quote-free text), splits files into
 * byte ranges at row ends, and reports bad rows (at once, or deferred until the row numbers
 * of a range are known). Also the helpers every table reader uses on a row (header checks,
 * bad-row reasons, id-indexed tables).
 */
#define _DEFAULT_SOURCE /* madvise(MADV_HUGEPAGE) (Linux): a hint for the large id-indexed tables */
#include "dataset/dataset_int.h"

#include <csv.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>

const char *ds_strerror(int err)
{
#define DS_ERR_TEXT(name, code, text) \
	case code:                    \
		return text;
	switch (err) {
		DS_ERR_MAP(DS_ERR_TEXT)
	}
#undef DS_ERR_TEXT
	return "unknown dataset error";
}

/* ---- A row-at-a-time CSV reader over libcsv. ---- */

struct csv_reader {
	const char *path;
	struct ds_report *rep;
	ds__row_fn fn;
	ds__fast_fn fast; /* optional: the reader's parser for its common row form (quote-free text only) */
	ds__rows_fn rows; /* optional: the same for many rows at a time, tried before fast */
	void *ctx;
	void *rows_ctx; /* rows' context */
	char *buf;      /* the current row's field bytes, each followed by NUL */
	size_t buf_len, buf_cap;
	size_t offs[DS__MAX_FIELDS];
	size_t lens[DS__MAX_FIELDS];
	int n;
	uint64_t rowno;
	int starts_file; /* rowno 1 is the file's first row */
	int defer;       /* the range's first row number is unknown: keep bad rows for ds_report_settle() */
	int rc;          /* first fatal error; reading stops */
	int oom;
};

static void on_field(void *data, size_t len, void *vr)
{
	struct csv_reader *r = vr;
	if (r->rc || r->oom)
		return;
	if (r->n < DS__MAX_FIELDS) {
		if (r->buf_len + len + 1 > r->buf_cap) {
			size_t cap = (r->buf_cap ? r->buf_cap : 1024);
			while (cap < r->buf_len + len + 1)
				cap *= 2;
			char *b = realloc(r->buf, cap);
			if (!b) {
				r->oom = 1;
				return;
			}
			r->buf = b;
			r->buf_cap = cap;
		}
		if (len)
			memcpy(r->buf + r->buf_len, data, len);
		r->offs[r->n] = r->buf_len;
		r->lens[r->n] = len;
		r->buf_len += len;
		r->buf[r->buf_len++] = 0;
	}
	r->n++;
}

void ds__print_bad_row(const struct ds_report *rep, const char *path, uint64_t rowno, const char *why)
{
	if (!rep->quiet)
		fprintf(rep->log ? rep->log : stderr, "%s:%llu: %s\n", path, (unsigned long long)rowno, why);
}

/* Reports a bad row now, or keeps it until its row number is known (ds_report_settle). */
static int report_row(struct csv_reader *r, uint64_t rowno, const char *why)
{
	struct ds_report *rep = r->rep;
	rep->errors++;
	if (!r->defer) {
		ds__print_bad_row(rep, r->path, rowno, why);
		return 0;
	}
	if (ds__grow_array((void **)&rep->deferred, rep->n_deferred, &rep->cap_deferred, sizeof *rep->deferred, 16))
		return DS_NOMEM;
	struct ds_bad_row *b = &rep->deferred[rep->n_deferred++];
	b->path = r->path;
	b->rowno = rowno;
	snprintf(b->why, sizeof b->why, "%s", why);
	return 0;
}

void ds_report_settle(struct ds_report *rep, uint64_t rows_before)
{
	for (uint64_t i = 0; i < rep->n_deferred; i++)
		ds__print_bad_row(rep, rep->deferred[i].path, rows_before + rep->deferred[i].rowno,
				  rep->deferred[i].why);
	free(rep->deferred);
	rep->deferred = NULL;
	rep->n_deferred = rep->cap_deferred = 0;
}

/* Accounts for a row the reader has judged (rc as a row function returns it, why its reason):
 * counts it, reports progress, checks the stop flag, and reports a bad row. */
static void settle_row(struct csv_reader *r, int counted, int rc, const char *why)
{
	r->rep->rows += (uint64_t)counted;
	r->rep->range_rows++;
	/* counted: a header leaves rows where they were (0 at a range's start), no progress then */
	if (r->rep->progress && counted && (r->rep->rows & ((1u << 20) - 1)) == 0)
		r->rep->progress(r->rep->rows, r->rep->progress_ctx);
	if (r->rep->stop && (r->rowno & 0xfff) == 0 && *r->rep->stop) {
		r->rc = DS_STOPPED;
	} else if (rc < 0) {
		r->rc = rc;
	} else if (rc > 0) {
		if ((rc = report_row(r, r->rowno, why)) != 0)
			r->rc = rc;
		else if (r->rep->on_error == DS_ON_ERROR_FAIL)
			r->rc = DS_ROWS;
	}
}

/* Hands one parsed row to the file's row function and accounts for what it said. */
static void deliver_row(struct csv_reader *r, struct ds__row *row)
{
	row->rowno = ++r->rowno;
	row->file_first = r->starts_file && row->rowno == 1;
	char why[256];
	why[0] = 0;
	int rc = r->fn(row, r->ctx, why, sizeof why);
	settle_row(r, !ds__is_header(row), rc, why);
}

static void on_row(int term, void *vr)
{
	(void)term;
	struct csv_reader *r = vr;
	if (r->rc)
		return;
	if (r->oom) {
		r->rc = DS_NOMEM;
		return;
	}
	struct ds__row row = { .n = r->n };
	for (int i = 0; i < r->n && i < DS__MAX_FIELDS; i++) {
		row.field[i] = r->buf + r->offs[i];
		row.len[i] = r->lens[i];
	}
	deliver_row(r, &row);
	r->n = 0;
	r->buf_len = 0;
}

/* Never treat a byte as padding: fields are kept exactly as written (quotes aside). */
static int no_space(unsigned char c)
{
	(void)c;
	return 0;
}

/*
 * The fast path for quote-free text: rows end at CR or LF (empty rows are skipped) and fields
 * are the bytes between commas, which is what libcsv makes of such input, without its
 * per-byte state machine (3x faster on the 536 MB lines file). Fields are terminated in place
 * (each comma and row end becomes a NUL), so nothing is copied. s[0, n) holds whole rows
 * only, and s[n] must be writable (the last row may end at n).
 */
static void split_rows(struct csv_reader *r, char *s, size_t n)
{
	char *end = s + n;
	while (s < end && !r->rc) {
		if (r->rows && (unsigned char)(*s - '0') < 10) {
			/* A batch ends where settle_row would act after a row: a progress call, a look at
			 * the stop flag; so those happen after the same rows as one row at a time. */
			uint64_t to_progress = (1u << 20) - (r->rep->rows & ((1u << 20) - 1));
			uint64_t to_stop = 0x1000 - (r->rowno & 0xfff), done = 0;
			const char *p = s;
			int rc = r->rows(&p, end, to_progress < to_stop ? to_progress : to_stop, r->rows_ctx, &done);
			if (done) {
				r->rowno += done;
				r->rep->rows += done - 1; /* settle_row counts the last one */
				r->rep->range_rows += done - 1;
				settle_row(r, 1, rc, NULL);
				s = (char *)p;
				continue;
			}
			if (rc < 0) {
				r->rc = rc;
				break;
			}
		}
		if (r->fast && (unsigned char)(*s - '0') < 10) { /* a digit first: never a header */
			char why[256];
			int rc;
			const char *row_end = r->fast(s, end, r->ctx, r->rowno + 1, &rc, why, sizeof why);
			if (row_end) {
				r->rowno++;
				settle_row(r, 1, rc, why);
				s = (char *)row_end + 1;
				continue;
			}
		}
		char *eol = s;
		while (eol < end && *eol != '\n' && *eol != '\r')
			eol++;
		if (eol > s) {
			struct ds__row row = { .n = 0 };
			char *field = s;
			for (;;) {
				char *comma = memchr(field, ',', (size_t)(eol - field));
				char *field_end = comma ? comma : eol;
				if (row.n < DS__MAX_FIELDS) {
					row.field[row.n] = field;
					row.len[row.n] = (size_t)(field_end - field);
				}
				row.n++;
				*field_end = 0;
				if (!comma)
					break;
				field = comma + 1;
			}
			deliver_row(r, &row);
		}
		s = eol + 1;
	}
}

static uint64_t file_size(FILE *f)
{
	struct stat st;
	return fstat(fileno(f), &st) == 0 ? (uint64_t)st.st_size : 0;
}

/*
 * The bytes to read at a time: CHUNK, or for a regular file (or range) smaller than that, its
 * size + 1, so that a small file is read in one go into a buffer of its size rather than 2 MB
 * (the + 1 reads to the end of a file that has not grown since). Rows longer than a read still
 * grow the buffer as they do after a CHUNK.
 */
static size_t read_size(FILE *f, const struct ds_range *range, size_t chunk)
{
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
		return chunk;
	uint64_t want = range ? range->end - range->start : (uint64_t)st.st_size;
	return want < chunk ? (size_t)want + 1 : chunk;
}

/*
 * Streams the rows of [range->start, range->end) of path to fn (all of it for a NULL range):
 * libcsv for anything quoted, the fast path until then. Row numbers continue from
 * range->first_row, so errors name the row of the whole file; when that is DS_ROW_UNKNOWN
 * they are kept in the report until ds_report_settle(). A quote inside a part of a file stops
 * the read with DS_SPLIT: a quoted field could hide a row end, so the split may be wrong.
 */
int ds__csv_read_range(const char *path, const struct ds_range *range, struct ds_report *rep, ds__row_fn fn, void *ctx)
{
	return ds__csv_read_range_fast(path, range, rep, fn, NULL, ctx);
}

int ds__csv_read_range_fast(const char *path, const struct ds_range *range, struct ds_report *rep, ds__row_fn fn,
			    ds__fast_fn fast_row, void *ctx)
{
	return ds__csv_read_range_rows(path, range, rep, fn, fast_row, NULL, ctx, NULL);
}

int ds__csv_read_range_rows(const char *path, const struct ds_range *range, struct ds_report *rep, ds__row_fn fn,
			    ds__fast_fn fast_row, ds__rows_fn fast_rows, void *ctx, void *rows_ctx)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(rep->log ? rep->log : stderr, "%s: %s\n", path, strerror(errno));
		return DS_IO;
	}
	uint64_t left = range ? range->end - range->start : UINT64_MAX;
	if (range && fseeko(f, (off_t)range->start, SEEK_SET) != 0) {
		fclose(f);
		return DS_IO;
	}
	struct csv_parser p;
	int defer = range && range->first_row == DS_ROW_UNKNOWN;
	struct csv_reader r = { .path = path,
				.rep = rep,
				.fn = fn,
				.fast = fast_row,
				.rows = fast_rows,
				.ctx = ctx,
				.rows_ctx = rows_ctx,
				.rowno = range && !defer ? range->first_row : 0,
				.starts_file = !range || range->start == 0,
				.defer = defer };
	int partial = range && (range->start > 0 || range->end < file_size(f));
	rep->range_rows = 0;
	int rc = DS_OK;
	if (csv_init(&p, CSV_APPEND_NULL) != 0) {
		fclose(f);
		return DS_NOMEM;
	}
	csv_set_space_func(&p, no_space);
	enum { CHUNK = 1 << 20 };
	const size_t chunk = read_size(f, range, CHUNK);
	int fast = !rep->libcsv_only;
	size_t carry = 0, cap = 2 * chunk; /* text[0, carry): the unterminated end of the last chunk */
	char *text = malloc(cap + 1);      /* + 1: split_rows may terminate the last row at its end */
	if (!text) {
		rc = DS_NOMEM;
		goto out;
	}
	size_t n;
	while (!r.rc && left > 0 && (n = fread(text + carry, 1, left < chunk ? (size_t)left : chunk, f)) > 0) {
		left -= n;
		int quoted = memchr(text + carry, '"', n) != NULL;
		if (quoted && partial) {
			rc = DS_SPLIT;
			goto out;
		}
		if (fast && !quoted) {
			size_t len = carry + n, last = len;
			while (last > 0 && text[last - 1] != '\n' && text[last - 1] != '\r')
				last--;
			split_rows(&r, text, last);
			carry = len - last;
			memmove(text, text + last, carry);
			if (carry + chunk > cap) { /* one row longer than a chunk */
				cap *= 2;
				char *t = realloc(text, cap + 1);
				if (!t) {
					rc = DS_NOMEM;
					goto out;
				}
				text = t;
			}
			continue;
		}
		fast = 0; /* from here on libcsv, starting at a row boundary */
		if (csv_parse(&p, text, carry + n, on_field, on_row, &r) != carry + n) {
			fprintf(rep->log ? rep->log : stderr, "%s: %s\n", path, csv_strerror(csv_error(&p)));
			rc = DS_NOMEM;
			goto out;
		}
		carry = 0;
	}
	if (ferror(f)) {
		fprintf(rep->log ? rep->log : stderr, "%s: read error\n", path);
		rc = DS_IO;
		goto out;
	}
	if (!r.rc && fast && carry)
		split_rows(&r, text, carry);
	if (!r.rc && !fast)
		csv_fini(&p, on_field, on_row, &r);
	rc = r.rc;
out:
	free(text);
	free(r.buf);
	csv_free(&p);
	fclose(f);
	return rc;
}

int ds_file_ranges(const char *path, int parts, struct ds_range *ranges, int *n_out)
{
	if (parts < 1)
		return DS_INVAL;
	FILE *f = fopen(path, "rb");
	if (!f)
		return DS_IO;
	uint64_t size = file_size(f);
	int k = 0, rc = DS_OK;
	uint64_t start = 0;
	/* Each part ends after the first LF at or past its share of the bytes; the next starts there. */
	while (start < size && rc == DS_OK) {
		uint64_t end = size;
		if (k + 1 < parts) {
			uint64_t target = size * (uint64_t)(k + 1) / (uint64_t)parts;
			if (target < start)
				target = start;
			if (fseeko(f, (off_t)target, SEEK_SET) != 0) {
				rc = DS_IO;
				break;
			}
			int c;
			uint64_t pos = target;
			while ((c = getc(f)) != EOF && c != '\n')
				pos++;
			end = c == EOF ? size : pos + 1;
		}
		ranges[k] = (struct ds_range){ start, end, DS_ROW_UNKNOWN };
		k++;
		start = end;
	}
	if (k == 0) /* an empty file: one empty range */
		ranges[k++] = (struct ds_range){ 0, 0, 0 };
	if (k == 1) /* the whole file: row numbers are known */
		ranges[0].first_row = 0;
	if (ferror(f))
		rc = DS_IO;
	fclose(f);
	*n_out = k;
	return rc;
}

/* ---- Helpers of the table readers ---- */

int ds__is_header(const struct ds__row *r)
{
	return r->file_first && r->n > 0 && r->len[0] > 0 && !isdigit((unsigned char)r->field[0][0]) &&
	       !isspace((unsigned char)r->field[0][0]);
}

/* Checks a header row against the expected names (case-insensitive). */
int ds__check_header(const struct ds__row *r, const char *const *names, int n, char *why, size_t why_len)
{
	if (r->n != n) {
		snprintf(why, why_len, "header has %d columns, expected %d", r->n, n);
		return DS_LAYOUT;
	}
	for (int i = 0; i < n; i++) {
		if (strcasecmp(r->field[i], names[i]) != 0) {
			snprintf(why, why_len, "header column %d is '%s', expected '%s'", i + 1, r->field[i], names[i]);
			return DS_LAYOUT;
		}
	}
	return 0;
}

/* Returns a layout error to the caller's log, since layout errors stop the read. */
int ds__layout_error(const struct ds__row *r, const char *why)
{
	fprintf(stderr, "row %llu: %s\n", (unsigned long long)r->rowno, why);
	return DS_LAYOUT;
}

int ds__bad(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
	return 1;
}

void *ds__calloc_huge(size_t n, size_t elem)
{
	void *t = calloc(n, elem); /* fresh pages are zero, untouched until used */
	if (!t)
		return NULL;
	/* Large tables are read and written at random places (by id, in another order): huge pages
	 * spare most of their TLB misses. Only a hint. */
	const uintptr_t huge = (uintptr_t)2 << 20;
	uintptr_t from = ((uintptr_t)t + huge - 1) & ~(huge - 1), to = ((uintptr_t)t + n * elem) & ~(huge - 1);
	if (to > from)
		(void)madvise((void *)from, to - from, MADV_HUGEPAGE);
	return t;
}

/*
 * Grows an id-indexed table of elem-sized entries so that id fits; new entries are zeroed. The
 * new table comes from calloc and the old entries are copied, rather than realloc + memset: a
 * large table is then zero pages from the system that take memory only where an id is written,
 * so one high id among few rows costs a few pages, not the whole table written with zeros.
 */
int ds__grow_table(void **table, size_t *cap, size_t elem, uint64_t id)
{
	if (id < *cap)
		return 0;
	size_t n = *cap ? *cap * 2 : 1024;
	if (n <= id) /* a jump: room for id, not the next power of two (up to twice the memory to walk) */
		n = (size_t)id + 1;
	void *t = ds__calloc_huge(n, elem);
	if (!t)
		return -1;
	if (*cap)
		memcpy(t, *table, *cap * elem);
	free(*table);
	*table = t;
	*cap = n;
	return 0;
}
