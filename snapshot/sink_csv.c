/* The CSV row sink (customers.csv, and `segstream dump`): a header of the column names, then
 * one line per row; a null is an empty field; texts are quoted when their column says so or
 * when they hold a comma, a quote or a line break (quotes doubled). */
#include "snapshot/snapshot.h"

#include <stdlib.h>
#include <string.h>

static int put_text(FILE *f, const char *s, int quoted)
{
	if (!quoted && !strpbrk(s, ",\"\r\n"))
		return fputs(s, f);
	if (fputc('"', f) == EOF)
		return EOF;
	for (; *s; s++)
		if ((*s == '"' && fputc('"', f) == EOF) || fputc(*s, f) == EOF)
			return EOF;
	return fputc('"', f);
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

static int sink_row(void *sink, const struct snap_values *v)
{
	FILE *f = sink;
	size_t n;
	const struct snap_column *cols = snap_columns(&n);
	for (size_t i = 0; i < n; i++) {
		struct snap_value val;
		char buf[32];
		snap_column_value(v, i, &val);
		const char *text = snap_value_text(cols[i].type, &val, buf, sizeof buf);
		if (i && fputc(',', f) == EOF)
			return SNAP_IO;
		if ((text || cols[i].flags & SNAP_QUOTED) && put_text(f, text ? text : "", cols[i].flags & SNAP_QUOTED) == EOF)
			return SNAP_IO;
	}
	return fputc('\n', f) == EOF ? SNAP_IO : SNAP_OK;
}

static int sink_close(void *sink)
{
	return ferror((FILE *)sink) ? SNAP_IO : SNAP_OK;
}

const struct snap_sink snap_sink_csv = { "customers.csv", sink_open, sink_row, sink_close };
