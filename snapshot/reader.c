/* Reading a published snapshot (see snapshot_reader.h): the manifest (JSON, read with cJSON, so
 * any JSON layout of it is read) and its columns, the checksums of every file, then the rows,
 * each value checked against its column's type. */
#include "snapshot/snapshot_reader.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "snapshot/snapshot_int.h"

const char *snap_strerror(int err)
{
#define SNAP_ERR_TEXT(name, code, text) \
	case code:                      \
		return text;
	switch (err) {
		SNAP_ERR_MAP(SNAP_ERR_TEXT)
	}
#undef SNAP_ERR_TEXT
	return "unknown snapshot error";
}

const char *snap_type_name(enum snap_type t)
{
	switch (t) {
	case SNAP_INT:
		return "int";
	case SNAP_REAL:
		return "real";
	case SNAP_TEXT:
		return "text";
	}
	return NULL;
}

/*
 * Format 1's manifest did not list the columns: these were its rows, frozen with that
 * format. New columns go to the writer's column table (columns.c), never here.
 */
static const struct snap_column format1_columns[] = {
	{ "user_id", SNAP_INT, 0 },
	{ "partition", SNAP_INT, 0 },
	{ "orders", SNAP_INT, 0 },
	{ "max_order", SNAP_INT, 0 },
	{ "items", SNAP_INT, 0 },
	{ "priced_items", SNAP_INT, 0 },
	{ "spend_cents", SNAP_INT, 0 },
	{ "reorders", SNAP_INT, 0 },
	{ "median_days", SNAP_REAL, SNAP_NULLABLE },
	{ "loyalty", SNAP_TEXT, 0 },
	{ "spending", SNAP_TEXT, 0 },
	{ "frequency", SNAP_TEXT, 0 },
	{ "low_activity", SNAP_INT, 0 },
	{ "region", SNAP_TEXT, SNAP_NULLABLE },
	{ "age_group", SNAP_TEXT, SNAP_NULLABLE },
	{ "income_group", SNAP_TEXT, SNAP_NULLABLE },
	{ "family", SNAP_TEXT, SNAP_NULLABLE },
	{ "primary_profile", SNAP_TEXT, 0 },
	{ "persona", SNAP_TEXT, SNAP_NULLABLE | SNAP_QUOTED },
	{ "basket_size", SNAP_REAL, SNAP_NULLABLE },
	{ "order_rate", SNAP_REAL, SNAP_NULLABLE },
	{ "reorder_rate", SNAP_REAL, SNAP_NULLABLE },
};

struct snap_reader {
	char path[4096];
	uint64_t seq;
	int format;
	struct snap_column columns[SNAP_COLUMNS_MAX];
	char names[SNAP_COLUMNS_MAX][64]; /* the columns' names (format 2) */
	size_t n_columns;
	int user_id_col; /* -1 if none */
	char *manifest;  /* manifest.json as read and verified, NUL-terminated */
	size_t manifest_len;
	char *rows; /* customers.msgpack, whole, the very bytes whose size and CRC-32 were verified */
	size_t rows_len, off;
	uint64_t rows_expected, rows_read; /* the manifest's "customers"; rows returned so far */
	uint64_t report_bytes;             /* report.json's size and CRC-32 in the manifest */
	uint32_t report_crc;
	msgpack_unpacked unpacked;
	int unpacked_init;
};

/* An integer member of obj in [0, max], exactly (JSON numbers are doubles: 2^53 at most).
 * @return 0, or -1 if absent, not a number, fractional or out of range. */
static int json_uint(const cJSON *obj, const char *key, double max, uint64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= max) ||
	    v->valuedouble != floor(v->valuedouble))
		return -1;
	*out = (uint64_t)v->valuedouble;
	return 0;
}

/* A file name the manifest may list: a plain name in the snapshot's directory. */
static int plain_file_name(const char *name)
{
	return name[0] && strlen(name) < 128 && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/*
 * Checks every file the manifest lists against its size and CRC-32. customers.msgpack and
 * report.json, the files the reader opens, must be listed: customers.msgpack is read whole here
 * and its checksum taken over the bytes kept (r->rows), so the rows read are the rows verified;
 * report.json's size and CRC-32 are kept for snap_reader_report(), which checks them again.
 */
static int verify(struct snap_reader *r, const cJSON *manifest, char *errbuf, size_t errbuf_len)
{
	const char *snapdir = r->path;
	int files = 0, have_rows = 0, have_report = 0;
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(manifest, "files"), *f, *g;
	if (!cJSON_IsArray(list))
		list = NULL;
	cJSON_ArrayForEach(f, list)
	{
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(f, "name");
		uint64_t bytes, crc, size;
		uint32_t got;
		if (!cJSON_IsString(name) || !plain_file_name(name->valuestring) ||
		    json_uint(f, "bytes", 9007199254740992.0, &bytes) || json_uint(f, "crc32", UINT32_MAX, &crc)) {
			snprintf(errbuf, errbuf_len, "snapshot %s: unreadable file entry in the manifest", snapdir);
			return SNAP_FORMAT;
		}
		for (g = list->child; g != f; g = g->next)
			if (strcmp(cJSON_GetObjectItemCaseSensitive(g, "name")->valuestring, name->valuestring) == 0) {
				snprintf(errbuf, errbuf_len, "snapshot %s: the manifest lists %s twice", snapdir,
					 name->valuestring);
				return SNAP_FORMAT;
			}
		char fp[4300];
		snprintf(fp, sizeof fp, "%s/%s", snapdir, name->valuestring);
		int is_rows = strcmp(name->valuestring, "customers.msgpack") == 0;
		int bad;
		if (is_rows) {
			r->rows = snap__read_whole(fp, &r->rows_len);
			size = r->rows_len;
			got = r->rows ? (uint32_t)crc32_z(crc32(0L, Z_NULL, 0), (const Bytef *)r->rows, r->rows_len)
				      : 0;
			bad = !r->rows;
			have_rows = 1;
		} else {
			bad = snap__file_crc(fp, &size, &got) != 0;
		}
		if (bad || size != bytes || got != crc) {
			snprintf(errbuf, errbuf_len, "snapshot %s: %s does not match the manifest", snapdir,
				 name->valuestring);
			return SNAP_CHECKSUM;
		}
		if (strcmp(name->valuestring, "report.json") == 0) {
			have_report = 1;
			r->report_bytes = bytes;
			r->report_crc = (uint32_t)crc;
		}
		files++;
	}
	if (!have_rows || !have_report) {
		snprintf(errbuf, errbuf_len, "snapshot %s: the manifest does not list %s (%d files listed)", snapdir,
			 have_rows ? "report.json" : "customers.msgpack", files);
		return SNAP_FORMAT;
	}
	return SNAP_OK;
}

/* The columns: format 2 lists them in the manifest, format 1 had fixed ones. */
static int read_columns(struct snap_reader *r, const cJSON *manifest, char *errbuf, size_t errbuf_len)
{
	if (r->format == 1) {
		r->n_columns = sizeof format1_columns / sizeof format1_columns[0];
		memcpy(r->columns, format1_columns, sizeof format1_columns);
	} else {
		const cJSON *list = cJSON_GetObjectItemCaseSensitive(manifest, "columns"), *col;
		if (!cJSON_IsArray(list))
			list = NULL;
		cJSON_ArrayForEach(col, list)
		{
			const cJSON *name = cJSON_GetObjectItemCaseSensitive(col, "name");
			const cJSON *type = cJSON_GetObjectItemCaseSensitive(col, "type");
			const cJSON *nullable = cJSON_GetObjectItemCaseSensitive(col, "nullable");
			struct snap_column *c = &r->columns[r->n_columns];
			if (r->n_columns == SNAP_COLUMNS_MAX || !cJSON_IsString(name) ||
			    strlen(name->valuestring) >= sizeof r->names[0] || !cJSON_IsString(type) ||
			    !cJSON_IsBool(nullable)) {
				snprintf(errbuf, errbuf_len, "snapshot %s: unreadable column entry in the manifest",
					 r->path);
				return SNAP_FORMAT;
			}
			strcpy(r->names[r->n_columns], name->valuestring);
			c->name = r->names[r->n_columns];
			c->flags = cJSON_IsTrue(nullable) ? SNAP_NULLABLE : 0;
			int t;
			for (t = SNAP_INT;
			     t <= SNAP_TEXT && strcmp(type->valuestring, snap_type_name((enum snap_type)t)) != 0; t++)
				;
			if (t > SNAP_TEXT) {
				snprintf(errbuf, errbuf_len, "snapshot %s: column %s has unknown type %s", r->path,
					 c->name, type->valuestring);
				return SNAP_FORMAT;
			}
			c->type = (enum snap_type)t;
			r->n_columns++;
		}
		if (r->n_columns == 0) {
			snprintf(errbuf, errbuf_len, "snapshot %s: the manifest lists no columns", r->path);
			return SNAP_FORMAT;
		}
	}
	r->user_id_col = snap_reader_column_index(r, "user_id");
	return SNAP_OK;
}

int snap_reader_open(const char *dir, uint64_t seq, struct snap_reader **r_out, char *errbuf, size_t errbuf_len)
{
	char scratch[512];
	if (!errbuf || !errbuf_len) {
		errbuf = scratch;
		errbuf_len = sizeof scratch;
	}
	*r_out = NULL;
	if (seq == 0) {
		size_t n;
		uint64_t *seqs = snap__list_sequences(dir, &n);
		seq = n ? seqs[n - 1] : 0;
		free(seqs);
		if (!seq) {
			snprintf(errbuf, errbuf_len, "no snapshot under %s", dir);
			return SNAP_NONE;
		}
	}
	struct snap_reader *r = calloc(1, sizeof *r);
	if (!r)
		return SNAP_NOMEM;
	r->seq = seq;
	snprintf(r->path, sizeof r->path, "%s/%010" PRIu64, dir, seq);
	char mp[4200];
	size_t mlen;
	snprintf(mp, sizeof mp, "%s/manifest.json", r->path);
	char *text = snap__read_whole(mp, &mlen);
	cJSON *manifest = NULL;
	uint64_t format = 0;
	int rc;
	if (!text) {
		snprintf(errbuf, errbuf_len, "snapshot %s has no manifest", r->path);
		rc = SNAP_NONE;
		goto error;
	}
	manifest = cJSON_ParseWithLength(text, mlen);
	if (!cJSON_IsObject(manifest)) {
		snprintf(errbuf, errbuf_len, "snapshot %s: the manifest is not a JSON object", r->path);
		rc = SNAP_FORMAT;
		goto error;
	}
	if (json_uint(manifest, "format", SNAP_FORMAT_VERSION, &format) || format < 1) {
		const cJSON *f = cJSON_GetObjectItemCaseSensitive(manifest, "format");
		char *shown = f ? cJSON_PrintUnformatted(f) : NULL;
		snprintf(errbuf, errbuf_len, "snapshot %s: manifest format %s is not 1..%d", r->path,
			 shown ? shown : "(none)", SNAP_FORMAT_VERSION);
		cJSON_free(shown);
		rc = SNAP_FORMAT;
		goto error;
	}
	r->format = (int)format;
	rc = verify(r, manifest, errbuf, errbuf_len);
	if (rc == SNAP_OK)
		rc = read_columns(r, manifest, errbuf, errbuf_len);
	if (rc != SNAP_OK)
		goto error;
	/* Every row is an array header and one byte at least per column: a count the bytes cannot
	 * hold is refused now, a count they can is checked when the rows end (snap_reader_next). */
	if (json_uint(manifest, "customers", 9007199254740992.0, &r->rows_expected) ||
	    r->rows_expected > r->rows_len / (1 + r->n_columns)) {
		snprintf(errbuf, errbuf_len,
			 "snapshot %s: the manifest's customer count does not fit %zu bytes of rows", r->path,
			 r->rows_len);
		rc = SNAP_FORMAT;
		goto error;
	}
	msgpack_unpacked_init(&r->unpacked);
	r->unpacked_init = 1;
	cJSON_Delete(manifest);
	r->manifest = text; /* kept: snap_reader_manifest() */
	r->manifest_len = mlen;
	*r_out = r;
	return SNAP_OK;
error:
	cJSON_Delete(manifest);
	free(text);
	free(r->rows);
	free(r);
	return rc;
}

void snap_reader_close(struct snap_reader *r)
{
	if (!r)
		return;
	if (r->unpacked_init)
		msgpack_unpacked_destroy(&r->unpacked);
	free(r->rows);
	free(r->manifest);
	free(r);
}

const char *snap_reader_manifest(const struct snap_reader *r, size_t *len_out)
{
	*len_out = r->manifest_len;
	return r->manifest;
}

int snap_reader_report(const struct snap_reader *r, char **json_out, size_t *len_out)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/report.json", r->path);
	*json_out = snap__read_whole(path, len_out);
	if (!*json_out)
		return SNAP_IO;
	if (*len_out != r->report_bytes ||
	    (uint32_t)crc32_z(crc32(0L, Z_NULL, 0), (const Bytef *)*json_out, *len_out) != r->report_crc) {
		free(*json_out);
		*json_out = NULL;
		return SNAP_CHECKSUM;
	}
	return SNAP_OK;
}

uint64_t snap_reader_sequence(const struct snap_reader *r)
{
	return r->seq;
}

int snap_reader_format(const struct snap_reader *r)
{
	return r->format;
}

const char *snap_reader_path(const struct snap_reader *r)
{
	return r->path;
}

const struct snap_column *snap_reader_columns(const struct snap_reader *r, size_t *n_out)
{
	*n_out = r->n_columns;
	return r->columns;
}

int snap_reader_column_index(const struct snap_reader *r, const char *name)
{
	for (size_t i = 0; i < r->n_columns; i++)
		if (strcmp(r->columns[i].name, name) == 0)
			return (int)i;
	return -1;
}

void snap__reader_rewind(struct snap_reader *r)
{
	r->off = 0;
	r->rows_read = 0;
}

size_t snap__reader_rows_bytes(const struct snap_reader *r)
{
	return r->rows_len;
}

int snap__reader_next_raw(struct snap_reader *r, const void **bytes, size_t *len, struct snap_row *row)
{
	size_t start = r->off;
	int rc = snap_reader_next(r, row);
	if (rc == 1) {
		*bytes = r->rows + start;
		*len = r->off - start;
	}
	return rc;
}

int snap_reader_next_raw(struct snap_reader *r, const void **bytes, size_t *len, uint32_t *user_id_out)
{
	struct snap_row row;
	int rc = snap__reader_next_raw(r, bytes, len, &row);
	if (rc == 1)
		*user_id_out = r->user_id_col >= 0 ? (uint32_t)row.ints[r->user_id_col] : 0;
	return rc;
}

/* One value into the row's slot i, checked against the column's type. @return 0 or SNAP_FORMAT. */
static int read_value(const struct snap_column *col, const msgpack_object *e, struct snap_row *row, size_t i)
{
	row->null[i] = 0;
	row->ints[i] = 0;
	row->reals[i] = NAN;
	row->texts[i] = NULL;
	row->text_len[i] = 0;
	if (e->type == MSGPACK_OBJECT_NIL) {
		row->null[i] = 1;
		return col->flags & SNAP_NULLABLE ? 0 : SNAP_FORMAT;
	}
	switch (col->type) {
	case SNAP_INT:
		if (e->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
			if (e->via.u64 > INT64_MAX)
				return SNAP_FORMAT;
			row->ints[i] = (int64_t)e->via.u64;
		} else if (e->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
			row->ints[i] = e->via.i64;
		} else {
			return SNAP_FORMAT;
		}
		row->reals[i] = (double)row->ints[i];
		return 0;
	case SNAP_REAL:
		if (e->type == MSGPACK_OBJECT_FLOAT32 || e->type == MSGPACK_OBJECT_FLOAT64)
			row->reals[i] = e->via.f64;
		else if (e->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
			row->reals[i] = (double)e->via.u64;
		else if (e->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
			row->reals[i] = (double)e->via.i64;
		else
			return SNAP_FORMAT;
		return 0;
	case SNAP_TEXT:
		if (e->type != MSGPACK_OBJECT_STR)
			return SNAP_FORMAT;
		row->texts[i] = e->via.str.ptr;
		row->text_len[i] = e->via.str.size;
		return 0;
	}
	return SNAP_FORMAT;
}

/* Whether p[0..n) is valid UTF-8 (shortest forms, no surrogates, at most U+10FFFF). */
static int valid_utf8(const unsigned char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = p[i], len, min;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0)
			len = 2, min = 0x80, cp = c & 0x1f;
		else if ((c & 0xf0) == 0xe0)
			len = 3, min = 0x800, cp = c & 0x0f;
		else if ((c & 0xf8) == 0xf0)
			len = 4, min = 0x10000, cp = c & 0x07;
		else
			return 0;
		if (n - i < len)
			return 0;
		for (unsigned k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

/* A big-endian unsigned integer of k bytes at p. */
static uint64_t be(const unsigned char *p, unsigned k)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < k; i++)
		v = v << 8 | p[i];
	return v;
}

/*
 * The size of the row starting at p (n bytes left) before msgpack sees it, so msgpack never
 * allocates for a count the file declares: an array of exactly n_columns elements, each a
 * scalar (nil, boolean, integer, float, string) lying wholly within the n bytes.
 * @return 0 with *size_out, or SNAP_FORMAT.
 */
static int row_extent(const unsigned char *p, size_t n, size_t n_columns, size_t *size_out)
{
	size_t at, count;
	if (n < 1)
		return SNAP_FORMAT;
	if ((p[0] & 0xf0) == 0x90)
		count = p[0] & 0x0f, at = 1;
	else if (p[0] == 0xdc && n >= 3)
		count = (size_t)be(p + 1, 2), at = 3;
	else if (p[0] == 0xdd && n >= 5)
		count = (size_t)be(p + 1, 4), at = 5;
	else
		return SNAP_FORMAT;
	if (count != n_columns)
		return SNAP_FORMAT;
	for (size_t i = 0; i < count; i++) {
		if (at >= n)
			return SNAP_FORMAT;
		unsigned c = p[at++];
		uint64_t body; /* bytes after the type byte */
		if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
			body = 0;
		else if (c >= 0xa0 && c <= 0xbf)
			body = c & 0x1f;
		else if (c == 0xcc || c == 0xd0)
			body = 1;
		else if (c == 0xcd || c == 0xd1)
			body = 2;
		else if (c == 0xce || c == 0xd2 || c == 0xca)
			body = 4;
		else if (c == 0xcf || c == 0xd3 || c == 0xcb)
			body = 8;
		else if (c >= 0xd9 && c <= 0xdb) { /* str 8, 16, 32: the length, then the bytes */
			unsigned k = 1u << (c - 0xd9);
			if (n - at < k)
				return SNAP_FORMAT;
			body = be(p + at, k);
			at += k;
		} else {
			return SNAP_FORMAT; /* containers, binary, extensions: never in a row */
		}
		if (body > n - at)
			return SNAP_FORMAT;
		at += (size_t)body;
	}
	*size_out = at;
	return 0;
}

/*
 * The rows end where the manifest's count says, exactly at the end of the file; a row is
 * bounded by row_extent() before msgpack decodes it; text values are valid UTF-8 (as the Python
 * reader demands); a user_id is in 0..2^32-1 (a customer id).
 */
int snap_reader_next(struct snap_reader *r, struct snap_row *row)
{
	size_t size;
	if (r->rows_read == r->rows_expected)
		return r->off == r->rows_len ? 0 : SNAP_FORMAT;
	if (row_extent((const unsigned char *)r->rows + r->off, r->rows_len - r->off, r->n_columns, &size) != 0 ||
	    msgpack_unpack_next(&r->unpacked, r->rows, r->off + size, &r->off) != MSGPACK_UNPACK_SUCCESS)
		return SNAP_FORMAT;
	const msgpack_object *o = &r->unpacked.data;
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != r->n_columns)
		return SNAP_FORMAT;
	row->n = r->n_columns;
	for (size_t i = 0; i < r->n_columns; i++)
		if (read_value(&r->columns[i], &o->via.array.ptr[i], row, i) != 0 ||
		    (row->texts[i] && !valid_utf8((const unsigned char *)row->texts[i], row->text_len[i])))
			return SNAP_FORMAT;
	if (r->user_id_col >= 0 && (row->ints[r->user_id_col] < 0 || row->ints[r->user_id_col] > UINT32_MAX))
		return SNAP_FORMAT;
	r->rows_read++;
	return 1;
}
