/* The snapshot directory on disk, for writers and readers alike: sequence directory names,
 * whole-file reads and file checksums (see snapshot_int.h). */
#include "snapshot/snapshot_int.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int snap__file_crc(const char *path, uint64_t *size, uint32_t *crc)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	unsigned char buf[1 << 16];
	size_t n;
	uLong c = crc32(0L, Z_NULL, 0);
	*size = 0;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
		c = crc32(c, buf, (uInt)n);
		*size += n;
	}
	int rc = ferror(f) ? -1 : 0;
	fclose(f);
	*crc = (uint32_t)c;
	return rc;
}

char *snap__read_whole(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	if (fseek(f, 0, SEEK_END) == 0) {
		long n = ftell(f);
		if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) != NULL) {
			if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
				free(buf);
				buf = NULL;
			} else {
				buf[n] = 0;
				*len = (size_t)n;
			}
		}
	}
	fclose(f);
	return buf;
}

static int is_sequence_name(const char *name, uint64_t *seq)
{
	if (strlen(name) != 10)
		return 0;
	for (int i = 0; i < 10; i++)
		if (name[i] < '0' || name[i] > '9')
			return 0;
	*seq = strtoull(name, NULL, 10);
	return 1;
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

uint64_t *snap__list_sequences(const char *dir, size_t *n_out)
{
	*n_out = 0;
	DIR *d = opendir(dir);
	if (!d)
		return NULL;
	uint64_t *seqs = NULL;
	size_t cap = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		uint64_t s;
		if (!is_sequence_name(e->d_name, &s))
			continue;
		if (*n_out == cap) {
			cap = cap ? cap * 2 : 16;
			uint64_t *t = realloc(seqs, cap * sizeof *t);
			if (!t)
				break;
			seqs = t;
		}
		seqs[(*n_out)++] = s;
	}
	closedir(d);
	if (*n_out)
		qsort(seqs, *n_out, sizeof *seqs, compare_u64);
	return seqs;
}
