/* libFuzzer target: the snapshot reader (manifest + files). The input is a flags byte, the
 * lengths of manifest.json and customers.msgpack (2 bytes each, little-endian, cut to what the
 * input holds), then manifest.json, customers.msgpack and report.json (the rest), written as
 * snapshot 1 of a scratch directory. When the flags byte is odd, the manifest's size and CRC-32
 * of customers.msgpack and report.json are set to the files' own first (so the rows are reached,
 * not only the checks). The reader must refuse or read; every text value it returns is touched
 * (ASan reports a pointer past the rows it read). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cjson/cJSON.h>

#include "snapshot/snapshot_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[256], snapdir[300];

static int write_file(const char *name, const void *data, size_t size)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", snapdir, name);
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	int ok = size == 0 || fwrite(data, 1, size, f) == size;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* The manifest with the listed sizes and CRC-32s of rows and report made right. */
static char *fix_manifest(const char *text, size_t len, const void *rows, size_t n_rows, const void *report,
			  size_t n_report)
{
	cJSON *m = cJSON_ParseWithLength(text, len), *f;
	cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(m, "files"))
	{
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(f, "name");
		const void *p = NULL;
		size_t n = 0;
		if (!cJSON_IsString(name))
			continue;
		if (strcmp(name->valuestring, "customers.msgpack") == 0)
			p = rows, n = n_rows;
		else if (strcmp(name->valuestring, "report.json") == 0)
			p = report, n = n_report;
		else
			continue;
		cJSON_DeleteItemFromObjectCaseSensitive(f, "bytes");
		cJSON_DeleteItemFromObjectCaseSensitive(f, "crc32");
		cJSON_AddNumberToObject(f, "bytes", (double)n);
		cJSON_AddNumberToObject(f, "crc32", (double)crc32(crc32(0L, Z_NULL, 0), p, (uInt)n));
	}
	char *out = m ? cJSON_PrintUnformatted(m) : NULL;
	cJSON_Delete(m);
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir[0]) {
		snprintf(dir, sizeof dir, "%s/segstream-fuzz-snapshot-%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
			 (int)getpid());
		snprintf(snapdir, sizeof snapdir, "%s/0000000001", dir);
		mkdir(dir, 0700);
		mkdir(snapdir, 0700);
	}
	if (size < 1)
		return 0;
	int fix = data[0] & 1;
	size_t at = 5 < size ? 5 : size;
	size_t n_manifest = size >= 3 ? (size_t)(data[1] | data[2] << 8) : 0;
	size_t n_rows = size >= 5 ? (size_t)(data[3] | data[4] << 8) : 0;
	if (n_manifest > size - at)
		n_manifest = size - at;
	const char *p = (const char *)data + at;
	at += n_manifest;
	if (n_rows > size - at)
		n_rows = size - at;
	const char *rows = (const char *)data + at;
	at += n_rows;
	const char *report = (const char *)data + at;
	size_t n_report = size - at;
	char *fixed = fix ? fix_manifest(p, n_manifest, rows, n_rows, report, n_report) : NULL;
	if (write_file("manifest.json", fixed ? fixed : p, fixed ? strlen(fixed) : n_manifest) != 0 ||
	    write_file("customers.msgpack", rows, n_rows) != 0 || write_file("report.json", report, n_report) != 0) {
		cJSON_free(fixed);
		return 0;
	}
	cJSON_free(fixed);
	struct snap_reader *r;
	char err[512];
	if (snap_reader_open(dir, 1, &r, err, sizeof err) != SNAP_OK)
		return 0;
	size_t n_cols, mlen;
	const struct snap_column *cols = snap_reader_columns(r, &n_cols);
	for (size_t i = 0; i < n_cols; i++)
		if (snap_reader_column_index(r, cols[i].name) < 0)
			abort();
	snap_reader_manifest(r, &mlen);
	struct snap_row row;
	int rc;
	for (int k = 0;; k++) {
		const void *bytes;
		size_t len;
		uint32_t user;
		if (k & 1) {
			if ((rc = snap_reader_next_raw(r, &bytes, &len, &user)) != 1)
				break;
			if (!bytes || len > n_rows)
				abort();
			continue;
		}
		if ((rc = snap_reader_next(r, &row)) != 1)
			break;
		for (size_t i = 0; i < row.n; i++)
			if (row.texts[i] && row.text_len[i]) {
				/* Touch the text's bytes: ASan reports a pointer past the rows read. */
				volatile char first = row.texts[i][0], last = row.texts[i][row.text_len[i] - 1];
				(void)first;
				(void)last;
			}
	}
	char *json;
	size_t jlen;
	if (snap_reader_report(r, &json, &jlen) == SNAP_OK)
		free(json);
	snap_reader_close(r);
	return 0;
}
