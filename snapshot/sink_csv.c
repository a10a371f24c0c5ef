/* The CSV row sink (customers.csv, and `segstream dump`): a header of the column names, then
 * one line per row; a null is an empty field; texts are quoted when their column says so or
 * when they hold a comma, a quote or a line break (quotes doubled). */
#include "snapshot/snapshot.h"

#include <stdlib.h>
#include <string.h>

/* A row's line, built in memory and written with one call. */
struct line {
	char buf[4096];
	size_t len;
	int overflow;
};

static void put(struct line *l, const char *s, size_t n)
{
	if (l->len + n > sizeof l->buf) {
		l->overflow = 1;
		return;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void put_text(struct line *l, const char *s, int quoted)
{
	if (!quoted && !strpbrk(s, ",\"\r\n")) {
		put(l, s, strlen(s));
		return;
	}
	put(l, "\"", 1);
	for (const char *q; (q = strchr(s, '"')) != NULL; s = q + 1) {
		put(l, s, (size_t)(q - s + 1)); /* up to and with a quote, */
		put(l, "\"", 1);                /* which is doubled */
	}
	put(l, s, strlen(s));
	put(l, "\"", 1);
}

static int sink_open(FILE *f, void **sink_out)
{
	size_t n;
	const struct snap_column *cols = snap_columns(&n);
	for (size_t i = 0; i < n; i++)
		if ((i && fputc(',', f) == EOF) || fputs(cols[i].name, f) == EOF)
			return SNAP_IO;
	if (fputc('\n', f) == EOF)
		return SNAP_IO;
	*sink_out = f;
	return SNAP_OK;
}

static int sink_row(void *sink, const struct snap_value *vals)
{
	FILE *f = sink;
	size_t n;
	const struct snap_column *cols = snap_columns(&n);
	struct line l;
	l.len = 0;
	l.overflow = 0;
	for (size_t i = 0; i < n; i++) {
		char buf[32];
		const char *text = snap_value_text(cols[i].type, &vals[i], buf, sizeof buf);
		if (i)
			put(&l, ",", 1);
		if (text || cols[i].flags & SNAP_QUOTED)
			put_text(&l, text ? text : "", cols[i].flags & SNAP_QUOTED);
	}
	put(&l, "\n", 1);
	return !l.overflow && fwrite(l.buf, 1, l.len, f) == l.len ? SNAP_OK : SNAP_IO;
}

static int sink_close(void *sink)
{
	return ferror((FILE *)sink) ? SNAP_IO : SNAP_OK;
}

const struct snap_sink snap_sink_csv = { "customers.csv", sink_open, sink_row, sink_close };
