/* Writing one sheet of the workbook (report/internal.h): cells with their number formats, header
 * rows, column widths fitted to what was written, native charts beside the tables, and the
 * report.json look-ups that note what is missing. */
#include "report/internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void sheet_widen(struct sheet *s, int col, size_t chars)
{
	if (col >= COLS_MAX)
		return;
	if (col + 1 > s->cols)
		s->cols = col + 1;
	if (chars + 2 > s->width[col])
		s->width[col] = (double)chars + 2;
}

void sheet_text(struct sheet *s, int row, int col, const char *t, lxw_format *f)
{
	worksheet_write_string(s->ws, (lxw_row_t)row, (lxw_col_t)col, t, f ? f : s->b->text);
	sheet_widen(s, col, strlen(t));
}

/* A number with its format; a missing one (NaN, JSON null) is an empty cell, not text. */
void sheet_number(struct sheet *s, int row, int col, double x, lxw_format *f)
{
	if (isnan(x) || isinf(x)) {
		worksheet_write_blank(s->ws, (lxw_row_t)row, (lxw_col_t)col, f);
		return;
	}
	worksheet_write_number(s->ws, (lxw_row_t)row, (lxw_col_t)col, x, f);
	char buf[64];
	if (f == s->b->pct)
		snprintf(buf, sizeof buf, "%.1f%%", x * 100);
	else if (f == s->b->real)
		snprintf(buf, sizeof buf, "%.3f", x);
	else
		snprintf(buf, sizeof buf, "%.0f", fabs(x)); /* count and money: digits + separators */
	size_t n = strlen(buf);
	if (f == s->b->count || f == s->b->money)
		n += n / 3 + (f == s->b->money ? 4 : 0) + (x < 0);
	sheet_widen(s, col, n);
}

/* A header row: the names in row 0 from column col on. */
void sheet_header(struct sheet *s, int col, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		sheet_text(s, 0, col + i, names[i], s->b->head);
}

struct sheet sheet_new(struct book *b, const char *name)
{
	struct sheet s = { .b = b, .name = name, .chart_row = 1 };
	s.ws = workbook_add_worksheet(b->wb, name);
	if (s.ws)
		worksheet_freeze_panes(s.ws, 1, 0);
	return s;
}

/* Column widths that fit what was written (and at most 60 characters). */
void sheet_fit(struct sheet *s)
{
	for (int c = 0; c < s->cols; c++)
		if (s->width[c] > 0)
			worksheet_set_column(s->ws, (lxw_col_t)c, (lxw_col_t)c, s->width[c] > 60 ? 60 : s->width[c],
					     NULL);
}

/*
 * A native chart right of the sheet's tables (column at_col), below the sheet's previous chart:
 * categories in column cat_col and values in the val_cols, rows first..last; series named by
 * their header cell. The title says the finding, the axes their units.
 */
void sheet_chart(struct sheet *s, uint8_t type, const char *title, const char *x_name, const char *y_name, int first,
		 int last, int cat_col, const int *val_cols, int n_vals, int at_col)
{
	lxw_chart *ch = workbook_add_chart(s->b->wb, type);
	if (!ch || last < first)
		return;
	for (int i = 0; i < n_vals; i++) {
		lxw_chart_series *se = chart_add_series(ch, NULL, NULL);
		chart_series_set_categories(se, s->name, (lxw_row_t)first, (lxw_col_t)cat_col, (lxw_row_t)last,
					    (lxw_col_t)cat_col);
		chart_series_set_values(se, s->name, (lxw_row_t)first, (lxw_col_t)val_cols[i], (lxw_row_t)last,
					(lxw_col_t)val_cols[i]);
		chart_series_set_name_range(se, s->name, 0, (lxw_col_t)val_cols[i]);
	}
	chart_title_set_name(ch, title);
	if (type != LXW_CHART_PIE) {
		chart_axis_set_name(ch->x_axis, x_name);
		chart_axis_set_name(ch->y_axis, y_name);
	}
	if (n_vals == 1 && type != LXW_CHART_PIE)
		chart_legend_set_position(ch, LXW_CHART_LEGEND_NONE);
	worksheet_insert_chart(s->ws, (lxw_row_t)s->chart_row, (lxw_col_t)at_col, ch);
	s->chart_row += CHART_ROWS + 1;
}

/* ---- Reading the JSON ---- */

const cJSON *book_get(struct book *b, const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v)
		b->missing = 1;
	return v;
}

double book_num(struct book *b, const cJSON *o, const char *key)
{
	const cJSON *v = book_get(b, o, key);
	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

const char *book_str(struct book *b, const cJSON *o, const char *key)
{
	const cJSON *v = book_get(b, o, key);
	return cJSON_IsString(v) ? v->valuestring : "";
}
