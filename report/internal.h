/* Internal to report/: the workbook being written and its sheets, shared by workbook.c (the
 * sheets) and sheet.c (cells, headers, fitted widths, native charts, report.json look-ups). */
#ifndef SEGSTREAM_REPORT_INTERNAL_H
#define SEGSTREAM_REPORT_INTERNAL_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <xlsxwriter.h>

#define COLS_MAX   40
#define CHART_ROWS 16 /* rows a chart takes (480 x 288 pixels) */

/* The workbook being written, its formats, and the JSON it is written from. */
struct book {
	lxw_workbook *wb;
	lxw_format *head, *text, *count, *money, *pct, *real, *date, *title;
	const cJSON *rep;      /* report.json */
	const cJSON *manifest; /* manifest.json */
	int missing;           /* a sheet did not find what it needs in the JSON */
};

/* A sheet being written: widths of its columns so far, and where its next chart goes. */
struct sheet {
	struct book *b;
	lxw_worksheet *ws;
	const char *name;
	double width[COLS_MAX];
	int cols;      /* columns used */
	int chart_row; /* next chart's row */
};

/* Cells: a column at least chars wide; text; a number with its format (NaN: an empty cell); a
 * header row in row 0 from column col on. */
void sheet_widen(struct sheet *s, int col, size_t chars);
void sheet_text(struct sheet *s, int row, int col, const char *t, lxw_format *f);
void sheet_number(struct sheet *s, int row, int col, double x, lxw_format *f);
void sheet_header(struct sheet *s, int col, const char *const *names, int n);
/* A new sheet with its header row frozen (ws NULL if libxlsxwriter refused it); widths fitted to
 * what was written (at most 60 characters); a native chart right of the tables, below the
 * previous one, of columns val_cols against cat_col over rows first..last. */
struct sheet sheet_new(struct book *b, const char *name);
void sheet_fit(struct sheet *s);
void sheet_chart(struct sheet *s, uint8_t type, const char *title, const char *x_name, const char *y_name, int first,
		 int last, int cat_col, const int *val_cols, int n_vals, int at_col);
/* report.json look-ups: the value at key (a missing one sets b->missing), as a number (NaN if
 * not one) or text ("" if not one); borrowed from the JSON. */
const cJSON *book_get(struct book *b, const cJSON *o, const char *key);
double book_num(struct book *b, const cJSON *o, const char *key);
const char *book_str(struct book *b, const cJSON *o, const char *key);

#endif
