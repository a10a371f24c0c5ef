/* Readers of the Instacart files and the event-time timeline (see dataset.h). */
#include "dataset/dataset.h"
#include "event/event.h"

#include <csv.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

const char *ds_strerror(int err)
{
#define DS_ERR_TEXT(name, code, text) case code: return text;
	switch (err) { DS_ERR_MAP(DS_ERR_TEXT) }
#undef DS_ERR_TEXT
	return "unknown dataset error";
}

/* ---- A row-at-a-time CSV reader over libcsv. ---- */

struct row;
static int is_header(const struct row *r);

#define MAX_FIELDS 32

struct row {
	const char *field[MAX_FIELDS]; /* NUL-terminated, valid during the row callback */
	size_t len[MAX_FIELDS];
	int n;                          /* fields in the row (may exceed MAX_FIELDS: extra ones dropped) */
	uint64_t rowno;                 /* 1-based record number (in the file, or in a range of unknown start) */
	int file_first;                 /* the first row of the file: may be a header */
};

/* Returns 0 to go on, 1 for a bad row (why says why), or a negative DS_* error to stop. */
typedef int (*row_fn)(const struct row *r, void *ctx, char *why, size_t why_len);

struct csv_reader {
	const char *path;
	struct ds_report *rep;
	row_fn fn;
	void *ctx;
	char *buf;          /* the current row's field bytes, each followed by NUL */
	size_t buf_len, buf_cap;
	size_t offs[MAX_FIELDS];
	size_t lens[MAX_FIELDS];
	int n;
	uint64_t rowno;
	int starts_file;    /* rowno 1 is the file's first row */
	int defer;          /* the range's first row number is unknown: keep bad rows for ds_report_settle() */
	int rc;             /* first fatal error; reading stops */
	int oom;
};

static void on_field(void *data, size_t len, void *vr)
{
	struct csv_reader *r = vr;
	if (r->rc || r->oom)
		return;
	if (r->n < MAX_FIELDS) {
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

/* Makes room for element n of a growable array (capacity doubling from first_cap). */
static int grow_array(void **items, uint64_t n, uint64_t *cap, size_t elem, uint64_t first_cap)
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

static void print_bad_row(const struct ds_report *rep, const char *path, uint64_t rowno, const char *why)
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
		print_bad_row(rep, r->path, rowno, why);
		return 0;
	}
	if (grow_array((void **)&rep->deferred, rep->n_deferred, &rep->cap_deferred, sizeof *rep->deferred, 16))
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
		print_bad_row(rep, rep->deferred[i].path, rows_before + rep->deferred[i].rowno, rep->deferred[i].why);
	free(rep->deferred);
	rep->deferred = NULL;
	rep->n_deferred = rep->cap_deferred = 0;
}

/* Hands one parsed row to the file's row function and accounts for what it said. */
static void deliver_row(struct csv_reader *r, struct row *row)
{
	row->rowno = ++r->rowno;
	row->file_first = r->starts_file && row->rowno == 1;
	char why[256] = "";
	int rc = r->fn(row, r->ctx, why, sizeof why);
	int counted = !is_header(row);
	r->rep->rows += (uint64_t)counted;
	r->rep->range_rows++;
	/* counted: a header leaves rows where they were (0 at a range's start), no progress then */
	if (r->rep->progress && counted && (r->rep->rows & ((1u << 20) - 1)) == 0)
		r->rep->progress(r->rep->rows, r->rep->progress_ctx);
	if (rc < 0) {
		r->rc = rc;
	} else if (rc > 0) {
		if ((rc = report_row(r, row->rowno, why)) != 0)
			r->rc = rc;
		else if (r->rep->on_error == DS_ON_ERROR_FAIL)
			r->rc = DS_ROWS;
	}
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
	struct row row = { .n = r->n };
	for (int i = 0; i < r->n && i < MAX_FIELDS; i++) {
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
		char *eol = s;
		while (eol < end && *eol != '\n' && *eol != '\r')
			eol++;
		if (eol > s) {
			struct row row = { .n = 0 };
			char *field = s;
			for (;;) {
				char *comma = memchr(field, ',', (size_t)(eol - field));
				char *field_end = comma ? comma : eol;
				if (row.n < MAX_FIELDS) {
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
 * Streams the rows of [range->start, range->end) of path to fn (all of it for a NULL range):
 * libcsv for anything quoted, the fast path until then. Row numbers continue from
 * range->first_row, so errors name the row of the whole file; when that is DS_ROW_UNKNOWN
 * they are kept in the report until ds_report_settle(). A quote inside a part of a file stops
 * the read with DS_SPLIT: a quoted field could hide a row end, so the split may be wrong.
 */
static int csv_read_range(const char *path, const struct ds_range *range, struct ds_report *rep, row_fn fn, void *ctx)
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
	struct csv_reader r = { .path = path, .rep = rep, .fn = fn, .ctx = ctx,
				.rowno = range && !defer ? range->first_row : 0,
				.starts_file = !range || range->start == 0, .defer = defer };
	int partial = range && (range->start > 0 || range->end < file_size(f));
	rep->range_rows = 0;
	int rc = DS_OK;
	if (csv_init(&p, CSV_APPEND_NULL) != 0) {
		fclose(f);
		return DS_NOMEM;
	}
	csv_set_space_func(&p, no_space);
	enum { CHUNK = 1 << 20 };
	int fast = !rep->libcsv_only;
	size_t carry = 0, cap = 2 * CHUNK; /* text[0, carry): the unterminated end of the last chunk */
	char *text = malloc(cap + 1); /* + 1: split_rows may terminate the last row at its end */
	if (!text) {
		rc = DS_NOMEM;
		goto out;
	}
	size_t n;
	while (!r.rc && left > 0 && (n = fread(text + carry, 1, left < CHUNK ? (size_t)left : CHUNK, f)) > 0) {
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
			if (carry + CHUNK > cap) { /* one row longer than a chunk */
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

static int csv_read(const char *path, struct ds_report *rep, row_fn fn, void *ctx)
{
	return csv_read_range(path, NULL, rep, fn, ctx);
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

/* ---- Field parsers ---- */

static void trim(const char **s, size_t *len)
{
	while (*len && isspace((unsigned char)**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && isspace((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

/* An unsigned decimal integer <= max, optionally written with a ".0" fraction ("15.0"). */
static int parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	trim(&s, &len);
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

int ds_price_cents(const char *s, size_t len, int32_t *cents_out)
{
	trim(&s, &len);
	if (len == 0)
		return 0;
	uint64_t whole = 0;
	size_t i = 0;
	for (; i < len && isdigit((unsigned char)s[i]); i++) {
		whole = whole * 10 + (uint64_t)(s[i] - '0');
		if (whole > 1000000)
			return 0;
	}
	uint64_t frac = 0; /* thousandths */
	int digits = 0, round_up = 0;
	if (i < len && s[i] == '.') {
		for (i++; i < len && isdigit((unsigned char)s[i]); i++) {
			if (digits < 3)
				frac = frac * 10 + (uint64_t)(s[i] - '0');
			digits++;
		}
		if (digits == 0 && i == 1)
			return 0;
	}
	if (i != len || (i == 0))
		return 0;
	for (int d = digits; d < 3; d++)
		frac *= 10;
	/* Half away from zero on the third decimal; later decimals only matter past it
	 * ("x.xx5" exactly is half; "x.xx49" is not, so the third digit decides). */
	round_up = frac % 10 >= 5;
	uint64_t cents = whole * 100 + frac / 10 + (uint64_t)round_up;
	if (cents == 0 || cents > 10000)
		return 0;
	*cents_out = (int32_t)cents;
	return 1;
}

static int is_header(const struct row *r)
{
	return r->file_first && r->n > 0 && r->len[0] > 0 && !isdigit((unsigned char)r->field[0][0]) &&
	       !isspace((unsigned char)r->field[0][0]);
}

/* Checks a header row against the expected names (case-insensitive). */
static int check_header(const struct row *r, const char *const *names, int n, char *why, size_t why_len)
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
static int layout_error(const struct row *r, const char *why)
{
	fprintf(stderr, "row %llu: %s\n", (unsigned long long)r->rowno, why);
	return DS_LAYOUT;
}

static int bad(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
	return 1;
}

/* Grows an id-indexed table of elem-sized entries so that id fits; new entries are zeroed. */
static int grow_table(void **table, size_t *cap, size_t elem, uint64_t id)
{
	if (id < *cap)
		return 0;
	size_t n = *cap ? *cap : 1024;
	while (n <= id)
		n *= 2;
	void *t = realloc(*table, n * elem);
	if (!t)
		return -1;
	memset((char *)t + *cap * elem, 0, (n - *cap) * elem);
	*table = t;
	*cap = n;
	return 0;
}

/* ---- Products ---- */

static int product_row(const struct row *r, void *ctx, char *why, size_t why_len)
{
	struct ds_products *p = ctx;
	static const char *const cols[] = { "product_id", "product_name", "aisle_id", "department_id", "prices" };
	if (is_header(r)) {
		int rc = check_header(r, cols, r->n == 4 ? 4 : 5, why, why_len);
		return rc ? layout_error(r, why) : 0;
	}
	if (r->n != 4 && r->n != 5)
		return bad(why, why_len, "%d columns, expected 4 or 5", r->n);
	uint64_t id, aisle, dept;
	if (parse_uint(r->field[0], r->len[0], UINT32_MAX, &id) || id == 0)
		return bad(why, why_len, "product_id '%s' is not a positive integer", r->field[0]);
	if (parse_uint(r->field[2], r->len[2], UINT32_MAX, &aisle))
		return bad(why, why_len, "aisle_id '%s' is not an integer", r->field[2]);
	if (parse_uint(r->field[3], r->len[3], 255, &dept))
		return bad(why, why_len, "department_id '%s' is not an integer in 0..255", r->field[3]);
	if (grow_table((void **)&p->by_id, &p->cap, sizeof *p->by_id, id))
		return DS_NOMEM;
	struct ds_product *e = &p->by_id[id];
	if (e->product_id) {
		p->duplicate_rows++;
		p->unpriced -= e->price_cents < 0;
	} else {
		p->count++;
	}
	e->product_id = (uint32_t)id;
	e->aisle_id = (uint32_t)aisle;
	e->department_id = (uint8_t)dept;
	e->price_cents = -1;
	if (r->n == 5)
		ds_price_cents(r->field[4], r->len[4], &e->price_cents);
	p->unpriced += e->price_cents < 0;
	return 0;
}

int ds_products_read(const char *path, struct ds_products *out, struct ds_report *rep)
{
	memset(out, 0, sizeof *out);
	int rc = csv_read(path, rep, product_row, out);
	if (rc != DS_OK && rc != DS_ROWS)
		ds_products_free(out);
	return rc;
}

void ds_products_free(struct ds_products *p)
{
	if (!p)
		return;
	free(p->by_id);
	memset(p, 0, sizeof *p);
}

const struct ds_product *ds_product_find(const struct ds_products *p, uint32_t product_id)
{
	if (product_id >= p->cap || p->by_id[product_id].product_id == 0)
		return NULL;
	return &p->by_id[product_id];
}

/* ---- Departments ---- */

struct departments_ctx {
	struct ds_departments *d;
	int layout;           /* 0 unknown, 1 long, 2 transposed */
	uint64_t ids[DS_MAX_DEPARTMENTS + 1];
	int n_ids;
};

static int set_department(struct ds_departments *d, uint64_t id, const struct row *r, int col, char *why, size_t why_len)
{
	if (id == 0 || id > DS_MAX_DEPARTMENTS)
		return bad(why, why_len, "department_id %llu not in 1..%d", (unsigned long long)id, DS_MAX_DEPARTMENTS);
	if (r->len[col] == 0 || r->len[col] >= sizeof d->names[0])
		return bad(why, why_len, "department %llu has an empty or too long name", (unsigned long long)id);
	if (d->names[id][0] == 0)
		d->count++;
	memcpy(d->names[id], r->field[col], r->len[col] + 1);
	return 0;
}

static int department_row(const struct row *r, void *vctx, char *why, size_t why_len)
{
	struct departments_ctx *c = vctx;
	if (r->rowno == 1) {
		if (r->n == 2) {
			c->layout = 1;
			return is_header(r) ? 0 : bad(why, why_len, "expected the header department_id,department");
		}
		/* Transposed: department_id,1,2,...  then  department,frozen,other,... */
		if (r->n < 2 || strcasecmp(r->field[0], "department_id") != 0)
			return layout_error(r, "departments: neither the long nor the transposed layout");
		c->layout = 2;
		for (int i = 1; i < r->n && i < MAX_FIELDS; i++) {
			if (parse_uint(r->field[i], r->len[i], DS_MAX_DEPARTMENTS, &c->ids[i]))
				return layout_error(r, "departments: transposed header has a non-numeric id");
		}
		c->n_ids = r->n;
		return 0;
	}
	if (c->layout == 1) {
		uint64_t id;
		if (r->n != 2 || parse_uint(r->field[0], r->len[0], UINT32_MAX, &id))
			return bad(why, why_len, "expected department_id,department");
		return set_department(c->d, id, r, 1, why, why_len);
	}
	if (r->rowno != 2 || r->n != c->n_ids || strcasecmp(r->field[0], "department") != 0)
		return bad(why, why_len, "transposed departments: expected one row 'department,...' of %d columns", c->n_ids);
	int rc = 0;
	for (int i = 1; i < r->n && i < MAX_FIELDS && rc == 0; i++)
		rc = set_department(c->d, c->ids[i], r, i, why, why_len);
	return rc;
}

int ds_departments_read(const char *path, struct ds_departments *out, struct ds_report *rep)
{
	memset(out, 0, sizeof *out);
	struct departments_ctx c = { .d = out };
	return csv_read(path, rep, department_row, &c);
}

/* ---- Customers ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int32_t days_from_civil(int y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int32_t)doe - 719468;
}

int ds_parse_date(const char *s, size_t len, int32_t *days_out)
{
	trim(&s, &len);
	const char *slash1 = memchr(s, '/', len);
	const char *slash2 = slash1 ? memchr(slash1 + 1, '/', len - (size_t)(slash1 + 1 - s)) : NULL;
	uint64_t m, d, y;
	if (!slash2 || parse_uint(s, (size_t)(slash1 - s), 12, &m) ||
	    parse_uint(slash1 + 1, (size_t)(slash2 - slash1 - 1), 31, &d) ||
	    parse_uint(slash2 + 1, len - (size_t)(slash2 + 1 - s), 9999, &y))
		return -1;
	static const uint8_t mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (m < 1 || d < 1 || d > mdays[m - 1] || y < 1900 || y > 2999)
		return -1;
	*days_out = days_from_civil((int)y, (unsigned)m, (unsigned)d);
	return 0;
}

static int customer_row(const struct row *r, void *ctx, char *why, size_t why_len)
{
	struct ds_customers *c = ctx;
	if (is_header(r)) {
		if (r->n != 10 || strcasecmp(r->field[0], "user_id") != 0)
			return layout_error(r, "customers: expected 10 columns starting with user_id");
		return 0;
	}
	if (r->n != 10)
		return bad(why, why_len, "%d columns, expected 10", r->n);
	uint64_t id, age, deps, income;
	int32_t joined;
	if (parse_uint(r->field[0], r->len[0], UINT32_MAX, &id) || id == 0)
		return bad(why, why_len, "user_id '%s' is not a positive integer", r->field[0]);
	int state = -1;
	for (int i = 0; i < EVENT_STATE_COUNT; i++)
		if (strcasecmp(event_state_name(i), r->field[4]) == 0)
			state = i;
	if (state < 0)
		return bad(why, why_len, "STATE '%s' is not a US state name", r->field[4]);
	if (parse_uint(r->field[5], r->len[5], 150, &age))
		return bad(why, why_len, "Age '%s' is not an integer", r->field[5]);
	if (ds_parse_date(r->field[6], r->len[6], &joined))
		return bad(why, why_len, "date_joined '%s' is not M/D/YYYY", r->field[6]);
	if (parse_uint(r->field[7], r->len[7], 50, &deps))
		return bad(why, why_len, "n_dependants '%s' is not an integer", r->field[7]);
	int fam_status = -1;
	for (int i = 0; i < EVENT_FAM_STATUS_COUNT; i++)
		if (strcasecmp(event_fam_status_name(i), r->field[8]) == 0)
			fam_status = i;
	if (fam_status < 0)
		return bad(why, why_len, "fam_status '%s' is unknown", r->field[8]);
	if (parse_uint(r->field[9], r->len[9], UINT32_MAX, &income))
		return bad(why, why_len, "income '%s' is not an integer", r->field[9]);
	if (grow_table((void **)&c->by_id, &c->cap, sizeof *c->by_id, id))
		return DS_NOMEM;
	struct ds_customer *e = &c->by_id[id];
	c->count += e->user_id == 0;
	e->user_id = (uint32_t)id;
	e->joined_day = joined;
	e->state = (uint8_t)state;
	e->age = (uint8_t)age;
	e->n_dependants = (uint8_t)deps;
	e->fam_status = (uint8_t)fam_status;
	e->income = (uint32_t)income;
	e->gender = strcasecmp(r->field[3], "female") == 0 ? 1 : strcasecmp(r->field[3], "male") == 0 ? 2 : 0;
	return 0;
}

int ds_customers_read(const char *path, struct ds_customers *out, struct ds_report *rep)
{
	memset(out, 0, sizeof *out);
	int rc = csv_read(path, rep, customer_row, out);
	if (rc != DS_OK && rc != DS_ROWS)
		ds_customers_free(out);
	return rc;
}

void ds_customers_free(struct ds_customers *c)
{
	if (!c)
		return;
	free(c->by_id);
	memset(c, 0, sizeof *c);
}

const struct ds_customer *ds_customer_find(const struct ds_customers *c, uint32_t user_id)
{
	if (!c || user_id >= c->cap || c->by_id[user_id].user_id == 0)
		return NULL;
	return &c->by_id[user_id];
}

/* ---- Orders ---- */

static int order_row(const struct row *r, void *ctx, char *why, size_t why_len)
{
	struct ds_order_rows *out = ctx;
	static const char *const cols[] = { "order_id", "user_id", "eval_set", "order_number", "order_dow",
					     "order_hour_of_day", "days_since_prior_order" };
	if (is_header(r)) {
		int rc = check_header(r, cols, 7, why, why_len);
		return rc ? layout_error(r, why) : 0;
	}
	if (r->n != 7)
		return bad(why, why_len, "%d columns, expected 7", r->n);
	uint64_t id, user, number, dow, hour, days;
	if (parse_uint(r->field[0], r->len[0], UINT32_MAX - 1, &id) || id == 0)
		return bad(why, why_len, "order_id '%s' is not a positive integer", r->field[0]);
	if (parse_uint(r->field[1], r->len[1], UINT32_MAX, &user) || user == 0)
		return bad(why, why_len, "user_id '%s' is not a positive integer", r->field[1]);
	int eval = strcmp(r->field[2], "prior") == 0 ? DS_EVAL_PRIOR
		 : strcmp(r->field[2], "train") == 0 ? DS_EVAL_TRAIN
		 : strcmp(r->field[2], "test") == 0 ? DS_EVAL_TEST : -1;
	if (eval < 0)
		return bad(why, why_len, "eval_set '%s' is not prior, train or test", r->field[2]);
	if (parse_uint(r->field[3], r->len[3], UINT16_MAX, &number) || number == 0)
		return bad(why, why_len, "order_number '%s' not in 1..65535", r->field[3]);
	if (parse_uint(r->field[4], r->len[4], 6, &dow))
		return bad(why, why_len, "order_dow '%s' not in 0..6", r->field[4]);
	if (parse_uint(r->field[5], r->len[5], 23, &hour))
		return bad(why, why_len, "order_hour_of_day '%s' not in 0..23", r->field[5]);
	const char *d = r->field[6];
	size_t dl = r->len[6];
	trim(&d, &dl);
	if (dl == 0)
		days = UINT64_MAX;
	else if (parse_uint(d, dl, 30, &days))
		return bad(why, why_len, "days_since_prior_order '%s' not empty or an integer in 0..30", r->field[6]);
	if (grow_array((void **)&out->rows, out->n, &out->cap, sizeof *out->rows, 1 << 16))
		return DS_NOMEM;
	out->rows[out->n++] = (struct ds_order_row){
		.order_id = (uint32_t)id, .user_id = (uint32_t)user, .order_number = (uint16_t)number,
		.dow = (uint8_t)dow, .hour = (uint8_t)hour, .days = days == UINT64_MAX ? -1 : (int8_t)days,
		.eval_set = (uint8_t)eval, .rowno = r->rowno,
	};
	return 0;
}

int ds_orders_collect(const char *path, const struct ds_range *range, struct ds_order_rows *out, struct ds_report *rep)
{
	return csv_read_range(path, range, rep, order_row, out);
}

void ds_order_rows_free(struct ds_order_rows *rows)
{
	if (!rows)
		return;
	free(rows->rows);
	memset(rows, 0, sizeof *rows);
}

/* Steps ahead to prefetch when walking orders in an order other than their ids'. */
enum { PREFETCH_AHEAD = 16 };

int ds_orders_merge(struct ds_history *h, const char *path, struct ds_order_rows *sets, const uint64_t *rows_before,
		    int n_sets, struct ds_report *rep)
{
	uint64_t total = h->n_by_user, max_id = 0;
	for (int s = 0; s < n_sets; s++) {
		total += sets[s].n;
		for (uint64_t i = 0; i < sets[s].n; i++)
			if (sets[s].rows[i].order_id > max_id)
				max_id = sets[s].rows[i].order_id;
	}
	int rc = DS_OK;
	if (grow_table((void **)&h->orders, &h->cap, sizeof *h->orders, max_id)) {
		rc = DS_NOMEM;
		goto out;
	}
	if (total > h->cap_by_user) {
		uint32_t *t = realloc(h->by_user, (total ? total : 1) * sizeof *t);
		if (!t) {
			rc = DS_NOMEM;
			goto out;
		}
		h->by_user = t;
		h->cap_by_user = total;
	}
	/* Rows in file order, at random places in the table: each slot is asked for ahead. */
	for (int s = 0; s < n_sets && rc == DS_OK; s++) {
		const struct ds_order_rows *set = &sets[s];
		for (uint64_t i = 0; i < set->n; i++) {
			if (i + PREFETCH_AHEAD < set->n)
				__builtin_prefetch(&h->orders[set->rows[i + PREFETCH_AHEAD].order_id], 1);
			const struct ds_order_row *row = &set->rows[i];
			struct ds_order *o = &h->orders[row->order_id];
			if (o->user_id) { /* the first row of an order id wins */
				char why[64];
				snprintf(why, sizeof why, "order_id %u appears twice", row->order_id);
				rep->errors++;
				print_bad_row(rep, path, rows_before[s] + row->rowno, why);
				if (rep->on_error == DS_ON_ERROR_FAIL) {
					rc = DS_ROWS;
					break;
				}
				continue;
			}
			*o = (struct ds_order){ .user_id = row->user_id, .order_number = row->order_number, .dow = row->dow,
						.hour = row->hour, .days = row->days, .eval_set = row->eval_set };
			/* by_user holds the file's order until the timeline is built (often already by user) */
			h->by_user[h->n_by_user++] = row->order_id;
			h->n_orders++;
		}
	}
out:
	for (int s = 0; s < n_sets; s++)
		ds_order_rows_free(&sets[s]);
	return rc;
}

int ds_orders_read(const char *path, struct ds_history *h, struct ds_report *rep)
{
	struct ds_order_rows rows = { 0 };
	const uint64_t before = 0;
	int rc = ds_orders_collect(path, NULL, &rows, rep);
	int mrc = ds_orders_merge(h, path, &rows, &before, 1, rep);
	return rc != DS_OK ? rc : mrc;
}

/* ---- Lines ---- */

struct lines_ctx {
	ds_line_cb cb;
	void *ctx;
};

static int line_row(const struct row *r, void *vctx, char *why, size_t why_len)
{
	struct lines_ctx *c = vctx;
	static const char *const cols[] = { "order_id", "product_id", "add_to_cart_order", "reordered" };
	if (is_header(r)) {
		int rc = check_header(r, cols, 4, why, why_len);
		return rc ? layout_error(r, why) : 0;
	}
	if (r->n != 4)
		return bad(why, why_len, "%d columns, expected 4", r->n);
	uint64_t order, product, cart, re;
	if (parse_uint(r->field[0], r->len[0], UINT32_MAX - 1, &order) || order == 0)
		return bad(why, why_len, "order_id '%s' is not a positive integer", r->field[0]);
	if (parse_uint(r->field[1], r->len[1], UINT32_MAX, &product) || product == 0)
		return bad(why, why_len, "product_id '%s' is not a positive integer", r->field[1]);
	if (parse_uint(r->field[2], r->len[2], UINT16_MAX, &cart) || cart == 0)
		return bad(why, why_len, "add_to_cart_order '%s' not in 1..65535", r->field[2]);
	if (parse_uint(r->field[3], r->len[3], 1, &re))
		return bad(why, why_len, "reordered '%s' is not 0 or 1", r->field[3]);
	struct ds_line l = { (uint32_t)order, (uint32_t)product, (uint16_t)cart, (uint8_t)re };
	return c->cb(&l, c->ctx, why, why_len);
}

int ds_lines_read(const char *path, ds_line_cb cb, void *ctx, struct ds_report *rep)
{
	return ds_lines_read_range(path, NULL, cb, ctx, rep);
}

int ds_lines_read_range(const char *path, const struct ds_range *range, ds_line_cb cb, void *ctx, struct ds_report *rep)
{
	struct lines_ctx c = { cb, ctx };
	return csv_read_range(path, range, rep, line_row, &c);
}

/* ---- History ---- */

struct collect_ctx {
	const struct ds_history *h;
	struct ds_line_set *set;
};

static int collect_line(const struct ds_line *l, void *vctx, char *why, size_t why_len)
{
	struct collect_ctx *c = vctx;
	struct ds_line_set *set = c->set;
	if (l->order_id >= c->h->cap || c->h->orders[l->order_id].user_id == 0) {
		set->orphans++;
		return bad(why, why_len, "order_id %u is not in orders.csv", l->order_id);
	}
	if (grow_array((void **)&set->lines, set->n, &set->cap, sizeof *set->lines, 1 << 16))
		return DS_NOMEM;
	set->lines[set->n++] = *l;
	return 0;
}

int ds_history_collect(const struct ds_history *h, const char *path, const struct ds_range *range,
		       struct ds_line_set *set, struct ds_report *rep)
{
	struct collect_ctx c = { h, set };
	return ds_lines_read_range(path, range, collect_line, &c, rep);
}

void ds_line_set_free(struct ds_line_set *set)
{
	if (!set)
		return;
	free(set->lines);
	memset(set, 0, sizeof *set);
}

/* Indexes h->lines by order if each order's lines are together and in add_to_cart order (as
 * the files have them); returns 0, with the index half-built, if they are not. */
static int index_runs(struct ds_history *h)
{
	uint32_t prev = 0;
	for (uint64_t i = 0; i < h->n_lines; i++) {
		const struct ds_line *l = &h->lines[i];
		struct ds_order *o = &h->orders[l->order_id];
		if (l->order_id != prev) {
			if (o->n_lines)
				return 0; /* the order's lines are apart */
			o->first_line = (uint32_t)i;
			prev = l->order_id;
		} else if (l->add_to_cart < h->lines[i - 1].add_to_cart || o->n_lines == UINT16_MAX) {
			return 0;
		}
		o->n_lines++;
	}
	return 1;
}

/* Groups lines by order (counting sort), each order's lines by add_to_cart_order (stable). */
static int sort_by_order(struct ds_history *h)
{
	struct ds_line *grouped = malloc((h->n_lines ? h->n_lines : 1) * sizeof *grouped);
	if (!grouped)
		return DS_NOMEM;
	for (size_t id = 0; id < h->cap; id++)
		h->orders[id].n_lines = 0;
	for (uint64_t i = 0; i < h->n_lines; i++)
		h->orders[h->lines[i].order_id].n_lines++;
	uint64_t next = 0;
	for (size_t id = 0; id < h->cap; id++) {
		h->orders[id].first_line = (uint32_t)next;
		next += h->orders[id].n_lines;
		h->orders[id].n_lines = 0;
	}
	for (uint64_t i = 0; i < h->n_lines; i++) {
		const struct ds_line *l = &h->lines[i];
		struct ds_order *o = &h->orders[l->order_id];
		struct ds_line *dst = &grouped[o->first_line];
		/* insertion by add_to_cart: files are nearly always in order already */
		uint16_t k = o->n_lines++;
		while (k > 0 && dst[k - 1].add_to_cart > l->add_to_cart) {
			dst[k] = dst[k - 1];
			k--;
		}
		dst[k] = *l;
	}
	free(h->lines);
	h->lines = grouped;
	return DS_OK;
}

int ds_history_group(struct ds_history *h, struct ds_line_set *sets, int n_sets)
{
	uint64_t total = 0;
	for (int s = 0; s < n_sets; s++) {
		total += sets[s].n;
		h->orphan_lines += sets[s].orphans;
	}
	/* The sets one after the other, in the first set's memory (grown in place when it can be). */
	struct ds_line *all = realloc(n_sets > 0 ? sets[0].lines : NULL, (total ? total : 1) * sizeof *all);
	int rc = all ? DS_OK : DS_NOMEM;
	if (all) {
		uint64_t at = 0;
		for (int s = 0; s < n_sets; s++) {
			if (s > 0 && sets[s].n)
				memcpy(all + at, sets[s].lines, sets[s].n * sizeof *all);
			at += sets[s].n;
		}
		if (n_sets > 0)
			sets[0].lines = NULL; /* now all */
		h->lines = all;
		h->n_lines = total;
	}
	for (int s = 0; s < n_sets; s++)
		ds_line_set_free(&sets[s]);
	if (rc == DS_OK && !index_runs(h))
		rc = sort_by_order(h);
	return rc;
}

int ds_history_load(const char *dir, int include_train, struct ds_history *h, struct ds_report *rep)
{
	char path[4096];
	struct ds_line_set sets[2];
	memset(h, 0, sizeof *h);
	memset(sets, 0, sizeof sets);
	snprintf(path, sizeof path, "%s/orders.csv", dir);
	int rc = ds_orders_read(path, h, rep);
	const char *files[] = { "order_products__prior.csv", "order_products__train.csv" };
	for (int i = 0; rc == DS_OK && i < 1 + (include_train != 0); i++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		rc = ds_history_collect(h, path, NULL, &sets[i], rep);
	}
	if (rc == DS_OK)
		rc = ds_history_group(h, sets, 1 + (include_train != 0));
	if (rc != DS_OK) {
		ds_line_set_free(&sets[0]);
		ds_line_set_free(&sets[1]);
		ds_history_free(h);
	}
	return rc;
}

static uint32_t mix32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	x ^= x >> 16;
	return x;
}

struct timed {
	int64_t t;
	uint32_t user;
	uint16_t number;
	uint32_t order_id;
};

static int compare_time(const void *a, const void *b)
{
	const struct timed *x = a, *y = b;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	if (x->user != y->user)
		return x->user < y->user ? -1 : 1;
	return (x->number > y->number) - (x->number < y->number);
}

/* Sorts by (user, order_number) in linear time: users are buckets (ids are dense), and a
 * user's few orders are put in order by insertion within the bucket. */
static int sort_by_user_number(struct timed *all, uint64_t n)
{
	uint32_t max_user = 0;
	for (uint64_t i = 0; i < n; i++)
		if (all[i].user > max_user)
			max_user = all[i].user;
	uint64_t *begin = calloc((size_t)max_user + 2, sizeof *begin); /* bucket of user u: [begin[u], begin[u+1]) */
	uint64_t *next = malloc(((size_t)max_user + 2) * sizeof *next);
	struct timed *out = malloc((n ? n : 1) * sizeof *out);
	if (!begin || !next || !out) {
		free(begin);
		free(next);
		free(out);
		return DS_NOMEM;
	}
	for (uint64_t i = 0; i < n; i++)
		begin[all[i].user + 1]++;
	for (uint32_t u = 1; u <= max_user + 1; u++)
		begin[u] += begin[u - 1];
	memcpy(next, begin, ((size_t)max_user + 2) * sizeof *next);
	for (uint64_t i = 0; i < n; i++) {
		struct timed t = all[i];
		uint64_t k = next[t.user]++;
		while (k > begin[t.user] && out[k - 1].number > t.number) {
			out[k] = out[k - 1];
			k--;
		}
		out[k] = t;
	}
	memcpy(all, out, n * sizeof *all);
	free(out);
	free(next);
	free(begin);
	return DS_OK;
}

/*
 * Fills all[] from orders.csv's order (kept in by_user) and returns whether that order is
 * already by (user_id, order_number), as Kaggle's file is; 0 if it is not, or if not every
 * order is in by_user (all[] is then to be filled otherwise).
 */
static int from_file_order(const struct ds_history *h, struct timed *all)
{
	if (!h->by_user || h->n_by_user != h->n_orders)
		return 0;
	for (uint64_t i = 0; i < h->n_by_user; i++) {
		if (i + PREFETCH_AHEAD < h->n_by_user)
			__builtin_prefetch(&h->orders[h->by_user[i + PREFETCH_AHEAD]]);
		uint32_t id = h->by_user[i];
		all[i] = (struct timed){ 0, h->orders[id].user_id, h->orders[id].order_number, id };
		if (i > 0 && (all[i - 1].user > all[i].user ||
			      (all[i - 1].user == all[i].user && all[i - 1].number >= all[i].number)))
			return 0;
	}
	return 1;
}

int ds_history_build_timeline(struct ds_history *h, const struct ds_customers *customers, int time_order)
{
	struct timed *all = malloc((h->n_orders ? h->n_orders : 1) * sizeof *all);
	if (!all)
		return DS_NOMEM;
	uint64_t n = 0;
	if (from_file_order(h, all)) { /* nothing to sort */
		n = h->n_by_user;
	} else {
		for (size_t id = 0; id < h->cap; id++)
			if (h->orders[id].user_id)
				all[n++] = (struct timed){ 0, h->orders[id].user_id, h->orders[id].order_number, (uint32_t)id };
		if (sort_by_user_number(all, n) != DS_OK) {
			free(all);
			return DS_NOMEM;
		}
	}
	const int32_t first_day = 17167; /* 2017-01-01 */
	const int32_t span_days = 1186;  /* to 2020-04-01, the range of date_joined */
	int64_t day = 0;
	if (h->cap_by_user < n) {
		free(h->by_user);
		h->by_user = malloc((n ? n : 1) * sizeof *h->by_user);
		h->cap_by_user = h->by_user ? n : 0;
		if (!h->by_user) {
			h->n_by_user = 0;
			free(all);
			return DS_NOMEM;
		}
	}
	for (uint64_t i = 0; i < n; i++) {
		if (i + PREFETCH_AHEAD < n)
			__builtin_prefetch(&h->orders[all[i + PREFETCH_AHEAD].order_id]);
		struct ds_order *o = &h->orders[all[i].order_id];
		if (i == 0 || all[i - 1].user != all[i].user) {
			const struct ds_customer *c = ds_customer_find(customers, all[i].user);
			day = c ? c->joined_day : first_day + (int32_t)(mix32(all[i].user) % (uint32_t)span_days);
		} else if (o->days > 0) {
			day += o->days;
		}
		int64_t t = (day * 24 + o->hour) * 3600000LL;
		/* Same-day orders can be at an earlier hour: keep each user's orders in order. */
		if (i > 0 && all[i - 1].user == all[i].user && t < all[i - 1].t)
			t = all[i - 1].t;
		o->event_time_ms = t;
		all[i].t = t;
		h->by_user[i] = all[i].order_id;
	}
	h->n_by_user = n;
	h->n_timeline = 0;
	if (time_order) {
		qsort(all, n, sizeof *all, compare_time);
		free(h->timeline);
		h->timeline = malloc((n ? n : 1) * sizeof *h->timeline);
		if (!h->timeline) {
			free(all);
			return DS_NOMEM;
		}
		for (uint64_t i = 0; i < n; i++)
			if (h->orders[all[i].order_id].n_lines)
				h->timeline[h->n_timeline++] = all[i].order_id;
	}
	free(all);
	return DS_OK;
}

void ds_history_free(struct ds_history *h)
{
	if (!h)
		return;
	free(h->orders);
	free(h->lines);
	free(h->timeline);
	free(h->by_user);
	memset(h, 0, sizeof *h);
}
