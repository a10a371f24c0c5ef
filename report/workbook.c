/* The stakeholder workbook (see report.h): report.json and the manifest of one snapshot as
 * Excel sheets with number formats, frozen headers, fitted columns and native charts, written
 * with libxlsxwriter. */
#include "report/report.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xlsxwriter.h>

#include "segment/segment.h"

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

static void widen(struct sheet *s, int col, size_t chars)
{
	if (col >= COLS_MAX)
		return;
	if (col + 1 > s->cols)
		s->cols = col + 1;
	if (chars + 2 > s->width[col])
		s->width[col] = (double)chars + 2;
}

static void put_text(struct sheet *s, int row, int col, const char *t, lxw_format *f)
{
	worksheet_write_string(s->ws, (lxw_row_t)row, (lxw_col_t)col, t, f ? f : s->b->text);
	widen(s, col, strlen(t));
}

/* A number with its format; a missing one (NaN, JSON null) is an empty cell, not text. */
static void put_number(struct sheet *s, int row, int col, double x, lxw_format *f)
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
	widen(s, col, n);
}

/* A header row: the names in row 0 from column col on. */
static void put_header(struct sheet *s, int col, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		put_text(s, 0, col + i, names[i], s->b->head);
}

static struct sheet sheet_new(struct book *b, const char *name)
{
	struct sheet s = { .b = b, .name = name, .chart_row = 1 };
	s.ws = workbook_add_worksheet(b->wb, name);
	if (s.ws)
		worksheet_freeze_panes(s.ws, 1, 0);
	return s;
}

/* Column widths that fit what was written (and at most 60 characters). */
static void sheet_fit(struct sheet *s)
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
static void chart(struct sheet *s, uint8_t type, const char *title, const char *x_name, const char *y_name, int first,
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

static const cJSON *get(struct book *b, const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v)
		b->missing = 1;
	return v;
}

static double num(struct book *b, const cJSON *o, const char *key)
{
	const cJSON *v = get(b, o, key);
	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *str(struct book *b, const cJSON *o, const char *key)
{
	const cJSON *v = get(b, o, key);
	return cJSON_IsString(v) ? v->valuestring : "";
}

/* ---- Sheets ---- */

static void sheet_cover(struct book *b, struct snap_reader *r)
{
	struct sheet s = sheet_new(b, "Cover");
	const cJSON *rep = b->rep, *m = b->manifest;
	if (!s.ws)
		return;
	put_header(&s, 0, (const char *const[]){ "Snapshot", "Value" }, 2);
	int row = 1;
	put_text(&s, row, 0, "Sequence", NULL);
	put_number(&s, row++, 1, (double)snap_reader_sequence(r), b->count);
	put_text(&s, row, 0, "Time (UTC)", NULL);
	double unix_time = num(b, m, "created_unix");
	put_number(&s, row++, 1, unix_time / 86400.0 + 25569.0, b->date); /* Excel's day 25569 is 1970-01-01 */
	widen(&s, 1, 19);
	static const struct {
		const char *label, *key;
		int money;
	} totals[] = {
		{ "Customers", "customers", 0 },
		{ "Orders", "orders", 0 },
		{ "Lines", "items", 0 },
		{ "Priced lines", "priced_items", 0 },
		{ "Reordered lines", "reorders", 0 },
		{ "Spend", "spend_cents", 1 },
		{ "Low-activity customers", "low_activity", 0 },
		{ "Customers with demographics", "with_demographics", 0 },
	};
	for (size_t i = 0; i < sizeof totals / sizeof totals[0]; i++) {
		double x = num(b, rep, totals[i].key);
		put_text(&s, row, 0, totals[i].label, NULL);
		put_number(&s, row++, 1, totals[i].money ? x / 100 : x, totals[i].money ? b->money : b->count);
	}
	put_text(&s, row, 0, "Snapshot directory", NULL);
	put_text(&s, row++, 1, snap_reader_path(r), NULL);
	row++;
	put_text(&s, row, 0, "Source topic", b->head);
	put_text(&s, row, 1, "Partition", b->head);
	put_text(&s, row++, 2, "Next offset", b->head);
	const cJSON *off;
	cJSON_ArrayForEach(off, get(b, m, "source_offsets"))
	{
		put_text(&s, row, 0, str(b, off, "topic"), NULL);
		put_number(&s, row, 1, num(b, off, "partition"), b->count);
		put_number(&s, row++, 2, num(b, off, "next"), b->count);
	}
	put_text(&s, 0, 4, "segstream stakeholder workbook", b->title);
	sheet_fit(&s);
}

/* A label count table (label, customers, share) at column col; @return its last row. */
static int count_table(struct sheet *s, int col, const char *head, const cJSON *counts)
{
	struct book *b = s->b;
	put_header(s, col, (const char *const[]){ head, "Customers", "Share" }, 3);
	double total = 0;
	const cJSON *c;
	cJSON_ArrayForEach(c, counts) total += c->valuedouble;
	int row = 1;
	cJSON_ArrayForEach(c, counts)
	{
		put_text(s, row, col, c->string, NULL);
		put_number(s, row, col + 1, c->valuedouble, b->count);
		put_number(s, row++, col + 2, total > 0 ? c->valuedouble / total : NAN, b->pct);
	}
	return row - 1;
}

static void sheet_labels(struct book *b)
{
	struct sheet s = sheet_new(b, "Labels");
	if (!s.ws)
		return;
	static const char *const keys[3] = { "loyalty", "spending", "frequency" };
	static const char *const heads[3] = { "Loyalty", "Spending", "Frequency" };
	static const char *const titles[3] = { "Customers by loyalty (max order number)",
					       "Customers by spending (mean line price)",
					       "Customers by frequency (median days between orders)" };
	int last[3];
	for (int i = 0; i < 3; i++)
		last[i] = count_table(&s, i * 4, heads[i], get(b, b->rep, keys[i]));
	for (int i = 0; i < 3; i++)
		chart(&s, LXW_CHART_COLUMN, titles[i], heads[i], "customers", 1, last[i], i * 4,
		      (const int[]){ i * 4 + 1 }, 1, 12);
	sheet_fit(&s);
}

/* Orders and lines by day or hour, with the share of orders, at column col. @return last row. */
static int time_table(struct sheet *s, int col, const char *head, const cJSON *orders, const cJSON *lines)
{
	struct book *b = s->b;
	put_header(s, col, (const char *const[]){ head, "Orders", "Lines", "Share of orders", "Lines per order" }, 5);
	double total = 0;
	const cJSON *c;
	cJSON_ArrayForEach(c, orders) total += c->valuedouble;
	int row = 1;
	cJSON_ArrayForEach(c, orders)
	{
		const cJSON *l = cJSON_GetObjectItemCaseSensitive(lines, c->string);
		double nl = cJSON_IsNumber(l) ? l->valuedouble : NAN;
		put_number(s, row, col, atof(c->string), b->count);
		put_number(s, row, col + 1, c->valuedouble, b->count);
		put_number(s, row, col + 2, nl, b->count);
		put_number(s, row, col + 3, total > 0 ? c->valuedouble / total : NAN, b->pct);
		put_number(s, row++, col + 4, c->valuedouble > 0 ? nl / c->valuedouble : NAN, b->real);
	}
	return row - 1;
}

static void sheet_days_hours(struct book *b)
{
	struct sheet s = sheet_new(b, "Days and hours");
	if (!s.ws)
		return;
	int ld = time_table(&s, 0, "Day of week", get(b, b->rep, "orders_by_dow"), get(b, b->rep, "lines_by_dow"));
	int lh = time_table(&s, 6, "Hour of day", get(b, b->rep, "orders_by_hour"), get(b, b->rep, "lines_by_hour"));
	chart(&s, LXW_CHART_COLUMN, "Orders by day of week: days 0 and 1 are the busiest", "day of week (0-6)",
	      "orders", 1, ld, 0, (const int[]){ 1 }, 1, 12);
	chart(&s, LXW_CHART_COLUMN, "Orders by hour of day: the day peaks mid-morning", "hour of day", "orders", 1, lh,
	      6, (const int[]){ 7 }, 1, 12);
	sheet_fit(&s);
}

/* A group table of report.json (name, [customers], items, revenue, share, efficiency, [tier])
 * at column col; rows sorted by revenue when sorted. @return its last row. */
static int group_table(struct sheet *s, int col, const char *head, const cJSON *groups, int with_customers,
		       int with_tier)
{
	struct book *b = s->b;
	const char *names[7];
	int n = 0;
	names[n++] = head;
	if (with_customers)
		names[n++] = "Customers";
	names[n++] = "Items";
	names[n++] = "Revenue";
	names[n++] = "Revenue share";
	names[n++] = "Efficiency index";
	if (with_tier)
		names[n++] = "Revenue tier";
	put_header(s, col, names, n);
	double total = 0;
	const cJSON *g;
	cJSON_ArrayForEach(g, groups) total += num(b, g, "revenue_cents");
	int row = 1;
	cJSON_ArrayForEach(g, groups)
	{
		int c = col;
		double cents = num(b, g, "revenue_cents");
		put_text(s, row, c++, str(b, g, "name"), NULL);
		if (with_customers)
			put_number(s, row, c++, num(b, g, "customers"), b->count);
		put_number(s, row, c++, num(b, g, "items"), b->count);
		put_number(s, row, c++, cents / 100, b->money);
		put_number(s, row, c++, total > 0 ? cents / total : NAN, b->pct);
		put_number(s, row, c++, num(b, g, "efficiency"), b->real);
		if (with_tier)
			put_text(s, row, c++, str(b, g, "tier"), NULL);
		row++;
	}
	return row - 1;
}

static void sheet_regions(struct book *b)
{
	struct sheet s = sheet_new(b, "Regions");
	if (!s.ws)
		return;
	int last = group_table(&s, 0, "Region", get(b, b->rep, "regions"), 1, 0);
	chart(&s, LXW_CHART_COLUMN, "Revenue by region (customers not low-activity)", "census region", "revenue ($)", 1,
	      last, 0, (const int[]){ 3 }, 1, 8);
	chart(&s, LXW_CHART_COLUMN, "Customers by region", "census region", "customers", 1, last, 0, (const int[]){ 1 },
	      1, 8);
	sheet_fit(&s);
}

static void sheet_groups(struct book *b)
{
	struct sheet s = sheet_new(b, "Age income family");
	if (!s.ws)
		return;
	static const char *const keys[3] = { "age_groups", "income_groups", "family_groups" };
	static const char *const heads[3] = { "Age group", "Income group", "Family" };
	static const char *const titles[3] = { "Revenue by age group", "Revenue by income group",
					       "Revenue of families and singles" };
	int last[3];
	for (int i = 0; i < 3; i++)
		last[i] = group_table(&s, i * 7, heads[i], get(b, b->rep, keys[i]), 1, 0);
	for (int i = 0; i < 3; i++)
		chart(&s, LXW_CHART_COLUMN, titles[i], heads[i], "revenue ($)", 1, last[i], i * 7,
		      (const int[]){ i * 7 + 3 }, 1, 21);
	sheet_fit(&s);
}

/* Departments: items, revenue, shares; then revenue by region (a heat map) and each region's mix. */
static void sheet_departments(struct book *b)
{
	struct sheet s = sheet_new(b, "Departments");
	if (!s.ws)
		return;
	const cJSON *depts = get(b, b->rep, "departments"), *mix = get(b, b->rep, "region_department_cents");
	put_header(&s, 0,
		   (const char *const[]){ "Department", "Items", "Revenue", "Item share", "Revenue share",
					  "Efficiency index" },
		   6);
	double items = 0, cents = 0;
	const cJSON *d;
	cJSON_ArrayForEach(d, depts)
	{
		items += num(b, d, "items");
		cents += num(b, d, "revenue_cents");
	}
	int row = 1;
	cJSON_ArrayForEach(d, depts)
	{
		put_text(&s, row, 0, str(b, d, "name"), NULL);
		put_number(&s, row, 1, num(b, d, "items"), b->count);
		put_number(&s, row, 2, num(b, d, "revenue_cents") / 100, b->money);
		put_number(&s, row, 3, items > 0 ? num(b, d, "items") / items : NAN, b->pct);
		put_number(&s, row, 4, cents > 0 ? num(b, d, "revenue_cents") / cents : NAN, b->pct);
		put_number(&s, row++, 5, num(b, d, "efficiency"), b->real);
	}
	int last = row - 1;
	/* by region: revenue ($) per department (rows 1..21: id, name), then each region's share */
	int n_regions = cJSON_GetArraySize(mix), col = 7;
	put_text(&s, 0, col, "Department id", b->head);
	put_text(&s, 0, col + 1, "Department", b->head);
	const cJSON *names = cJSON_GetObjectItemCaseSensitive(b->rep, "department_names");
	for (int i = 0; i < STATE_DEPARTMENTS; i++) {
		const cJSON *name = cJSON_GetArrayItem(names, i); /* null: no name known, the id stands */
		char id[16];
		snprintf(id, sizeof id, "%d", i + 1);
		put_text(&s, 1 + i, col + 1, cJSON_IsString(name) ? name->valuestring : id, NULL);
	}
	const cJSON *reg;
	int r = 0;
	cJSON_ArrayForEach(reg, mix)
	{
		char head[64];
		double total = 0;
		const cJSON *v;
		cJSON_ArrayForEach(v, reg) total += v->valuedouble;
		put_text(&s, 0, col + 2 + r, reg->string, b->head);
		snprintf(head, sizeof head, "%s share", reg->string);
		put_text(&s, 0, col + 2 + n_regions + r, head, b->head);
		int i = 0;
		cJSON_ArrayForEach(v, reg)
		{
			put_number(&s, 1 + i, col, i + 1, b->count);
			put_number(&s, 1 + i, col + 2 + r, v->valuedouble / 100, b->money);
			put_number(&s, 1 + i, col + 2 + n_regions + r, total > 0 ? v->valuedouble / total : NAN,
				   b->pct);
			i++;
		}
		r++;
	}
	if (n_regions > 0) {
		lxw_conditional_format heat = { .type = LXW_CONDITIONAL_3_COLOR_SCALE };
		worksheet_conditional_format_range(s.ws, 1, (lxw_col_t)(col + 2 + n_regions), STATE_DEPARTMENTS,
						   (lxw_col_t)(col + 1 + 2 * n_regions), &heat);
	}
	int at = col + 2 * n_regions + 3;
	chart(&s, LXW_CHART_BAR, "Revenue by department: produce and dairy lead", "revenue ($)", "department", 1, last,
	      0, (const int[]){ 2 }, 1, at);
	int vals[SEG_REGION_COUNT];
	for (int i = 0; i < n_regions && i < SEG_REGION_COUNT; i++)
		vals[i] = col + 2 + i;
	chart(&s, LXW_CHART_COLUMN, "Revenue by department in each region", "department", "revenue ($)", 1,
	      STATE_DEPARTMENTS, col + 1, vals, n_regions < SEG_REGION_COUNT ? n_regions : SEG_REGION_COUNT, at);
	sheet_fit(&s);
}

static void sheet_profiles(struct book *b)
{
	struct sheet s = sheet_new(b, "Shopper profiles");
	if (!s.ws)
		return;
	/* customers by primary profile come from their own table; join it by name */
	const cJSON *prof = get(b, b->rep, "profiles"), *prim = get(b, b->rep, "primary_profile_customers");
	int last = group_table(&s, 0, "Shopper profile", prof, 0, 1);
	put_text(&s, 0, 7, "Customers (primary profile)", b->head);
	int row = 1;
	const cJSON *g;
	cJSON_ArrayForEach(g, prof)
	{
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(prim, str(b, g, "name"));
		put_number(&s, row++, 7, cJSON_IsNumber(c) ? c->valuedouble : 0, b->count);
	}
	chart(&s, LXW_CHART_BAR, "Revenue by shopper profile (from the departments of each line)", "revenue ($)",
	      "shopper profile", 1, last, 0, (const int[]){ 2 }, 1, 9);
	chart(&s, LXW_CHART_BAR, "Customers by primary shopper profile", "customers", "shopper profile", 1, last, 0,
	      (const int[]){ 7 }, 1, 9);
	sheet_fit(&s);
}

static int by_revenue_desc(const void *x, const void *y)
{
	const cJSON *a = *(const cJSON *const *)x, *c = *(const cJSON *const *)y;
	double ra = cJSON_GetObjectItemCaseSensitive(a, "revenue_cents")->valuedouble;
	double rc = cJSON_GetObjectItemCaseSensitive(c, "revenue_cents")->valuedouble;
	if (ra != rc)
		return ra > rc ? -1 : 1;
	return strcmp(cJSON_GetObjectItemCaseSensitive(a, "name")->valuestring,
		      cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring);
}

/* Personas by revenue, largest first (a copy of the array sorted; the JSON keeps its order). */
static void sheet_personas(struct book *b)
{
	struct sheet s = sheet_new(b, "Personas");
	const cJSON *personas = get(b, b->rep, "personas");
	int n = cJSON_GetArraySize(personas);
	if (!s.ws || n == 0)
		return;
	const cJSON **sorted = calloc((size_t)n, sizeof *sorted);
	cJSON *copy = cJSON_CreateArray();
	if (!sorted || !copy) {
		free(sorted);
		cJSON_Delete(copy);
		b->missing = 1;
		return;
	}
	int i = 0;
	const cJSON *p;
	cJSON_ArrayForEach(p, personas)
	{
		if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(p, "revenue_cents")) ||
		    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(p, "name")))
			b->missing = 1;
		else
			sorted[i++] = p;
	}
	qsort(sorted, (size_t)i, sizeof *sorted, by_revenue_desc);
	for (int j = 0; j < i; j++)
		cJSON_AddItemReferenceToArray(copy, (cJSON *)sorted[j]);
	int last = group_table(&s, 0, "Persona (age | family | income | profile)", copy, 0, 1);
	chart(&s, LXW_CHART_BAR, "The 15 personas with the most revenue", "revenue ($)", "persona", 1,
	      last < 15 ? last : 15, 0, (const int[]){ 2 }, 1, 7);
	chart(&s, LXW_CHART_BAR, "Efficiency index of the 15 personas with the most revenue (1 = average)",
	      "revenue share / item share", "persona", 1, last < 15 ? last : 15, 0, (const int[]){ 4 }, 1, 7);
	cJSON_Delete(copy);
	free(sorted);
	sheet_fit(&s);
}

/* Revenue per tier over the groups of one table (personas or profiles) at column col. */
static int tier_table(struct sheet *s, int col, const char *head, const cJSON *groups)
{
	struct book *b = s->b;
	put_header(s, col, (const char *const[]){ "Revenue tier", head, "Revenue", "Revenue share" }, 4);
	double total = 0, cents[3] = { 0 }, count[3] = { 0 };
	const cJSON *g;
	cJSON_ArrayForEach(g, groups)
	{
		const char *tier = str(b, g, "tier");
		for (int t = 0; t < 3; t++)
			if (strcmp(tier, segment_tier_name((enum segment_tier)t)) == 0) {
				cents[t] += num(b, g, "revenue_cents");
				count[t]++;
			}
		total += num(b, g, "revenue_cents");
	}
	for (int t = 0; t < 3; t++) {
		put_text(s, 1 + t, col, segment_tier_name((enum segment_tier)t), NULL);
		put_number(s, 1 + t, col + 1, count[t], b->count);
		put_number(s, 1 + t, col + 2, cents[t] / 100, b->money);
		put_number(s, 1 + t, col + 3, total > 0 ? cents[t] / total : NAN, b->pct);
	}
	return 3;
}

static void sheet_concentration(struct book *b)
{
	struct sheet s = sheet_new(b, "Revenue concentration");
	if (!s.ws)
		return;
	tier_table(&s, 0, "Personas", get(b, b->rep, "personas"));
	tier_table(&s, 5, "Shopper profiles", get(b, b->rep, "profiles"));
	chart(&s, LXW_CHART_COLUMN, "Revenue share by tier over personas: few personas make half the revenue",
	      "revenue tier", "share of revenue", 1, 3, 0, (const int[]){ 3 }, 1, 10);
	chart(&s, LXW_CHART_COLUMN, "Revenue share by tier over shopper profiles", "revenue tier", "share of revenue",
	      1, 3, 5, (const int[]){ 8 }, 1, 10);
	sheet_fit(&s);
}

static void sheet_drivers(struct book *b)
{
	struct sheet s = sheet_new(b, "Value drivers");
	if (!s.ws)
		return;
	put_header(&s, 0,
		   (const char *const[]){ "Driver", "Customers", "Pearson r with spend", "Q1 mean spend",
					  "Q2 mean spend", "Q3 mean spend", "Q4 mean spend", "Q5 mean spend" },
		   8);
	int row = 1;
	const cJSON *d;
	cJSON_ArrayForEach(d, get(b, b->rep, "value_drivers"))
	{
		put_text(&s, row, 0, d->string, NULL);
		put_number(&s, row, 1, num(b, d, "customers"), b->count);
		put_number(&s, row, 2, num(b, d, "pearson_with_value"), b->real);
		const cJSON *q;
		int c = 3;
		cJSON_ArrayForEach(q, get(b, d, "mean_value_cents_by_quintile"))
		    put_number(&s, row, c++, cJSON_IsNumber(q) ? q->valuedouble / 100 : NAN, b->money);
		row++;
	}
	chart(&s, LXW_CHART_BAR, "Correlation of each driver with spend", "Pearson r", "driver", 1, row - 1, 0,
	      (const int[]){ 2 }, 1, 9);
	chart(&s, LXW_CHART_COLUMN, "Mean spend by driver quintile (Q1 lowest driver values)", "driver",
	      "mean spend ($)", 1, row - 1, 0, (const int[]){ 3, 4, 5, 6, 7 }, 5, 9);
	sheet_fit(&s);
}

static void sheet_clusters(struct book *b)
{
	struct sheet s = sheet_new(b, "Clusters");
	if (!s.ws)
		return;
	const cJSON *cl = get(b, b->rep, "clusters");
	put_header(&s, 0,
		   (const char *const[]){ "Cluster", "Name", "Customers", "Share of clustered", "Spend", "Basket size",
					  "Order rate (per 30 days)", "Reorder rate", "Typical spend (centre)" },
		   9);
	double n = num(b, cl, "customers");
	int row = 1;
	const cJSON *c;
	cJSON_ArrayForEach(c, get(b, cl, "clusters"))
	{
		const cJSON *centre = get(b, c, "centre");
		put_number(&s, row, 0, num(b, c, "cluster"), b->count);
		put_text(&s, row, 1, str(b, c, "name"), NULL);
		put_number(&s, row, 2, num(b, c, "customers"), b->count);
		put_number(&s, row, 3, n > 0 ? num(b, c, "customers") / n : NAN, b->pct);
		put_number(&s, row, 4, num(b, c, "spend_cents") / 100, b->money);
		put_number(&s, row, 5, num(b, centre, "basket_size"), b->real);
		put_number(&s, row, 6, num(b, centre, "order_rate"), b->real);
		put_number(&s, row, 7, num(b, centre, "reorder_rate"), b->pct);
		put_number(&s, row++, 8, num(b, centre, "spend_dollars"), b->money);
	}
	int last = row - 1;
	row += 1;
	put_text(&s, row, 0, "k", b->head);
	put_number(&s, row++, 1, num(b, cl, "k"), b->count);
	put_text(&s, row, 0, "Excluded", b->head);
	put_number(&s, row++, 1, num(b, cl, "excluded"), b->count);
	put_text(&s, row, 0, "Inertia", b->head);
	put_number(&s, row++, 1, num(b, cl, "inertia"), b->real);
	chart(&s, LXW_CHART_BAR, "Customers per behavioural cluster", "customers", "cluster", 1, last, 1,
	      (const int[]){ 2 }, 1, 10);
	chart(&s, LXW_CHART_BAR, "Spend per behavioural cluster", "spend ($)", "cluster", 1, last, 1,
	      (const int[]){ 4 }, 1, 10);
	sheet_fit(&s);
}

static void add_formats(struct book *b)
{
	b->head = workbook_add_format(b->wb);
	format_set_bold(b->head);
	format_set_bottom(b->head, LXW_BORDER_THIN);
	format_set_text_wrap(b->head);
	b->title = workbook_add_format(b->wb);
	format_set_bold(b->title);
	format_set_font_size(b->title, 14);
	b->text = NULL;
	b->count = workbook_add_format(b->wb);
	format_set_num_format(b->count, "#,##0");
	b->money = workbook_add_format(b->wb);
	format_set_num_format(b->money, "$#,##0.00");
	b->pct = workbook_add_format(b->wb);
	format_set_num_format(b->pct, "0.0%");
	b->real = workbook_add_format(b->wb);
	format_set_num_format(b->real, "0.000");
	b->date = workbook_add_format(b->wb);
	format_set_num_format(b->date, "yyyy-mm-dd hh:mm:ss");
}

int report_write_xlsx(struct snap_reader *r, const char *path, char *errbuf, size_t errbuf_len)
{
	char scratch[256];
	if (!errbuf || !errbuf_len) {
		errbuf = scratch;
		errbuf_len = sizeof scratch;
	}
	char *text = NULL;
	size_t len, mlen;
	cJSON *rep = NULL, *manifest = NULL;
	struct book b = { 0 };
	int rc = snap_reader_report(r, &text, &len);
	if (rc != SNAP_OK) {
		snprintf(errbuf, errbuf_len, "%s/report.json: %s", snap_reader_path(r), snap_strerror(rc));
		rc = rc == SNAP_NOMEM ? REPORT_NOMEM : REPORT_SNAPSHOT;
		goto out;
	}
	const char *mtext = snap_reader_manifest(r, &mlen);
	rep = cJSON_ParseWithLength(text, len);
	manifest = cJSON_ParseWithLength(mtext, mlen);
	if (!cJSON_IsObject(rep) || !cJSON_IsObject(manifest)) {
		snprintf(errbuf, errbuf_len, "%s: report.json or manifest.json is not a JSON object",
			 snap_reader_path(r));
		rc = REPORT_FORMAT;
		goto out;
	}
	b.rep = rep;
	b.manifest = manifest;
	lxw_workbook_options opt = { .constant_memory = LXW_FALSE, .tmpdir = NULL };
	b.wb = workbook_new_opt(path, &opt);
	if (!b.wb) {
		snprintf(errbuf, errbuf_len, "%s: cannot create the workbook", path);
		rc = REPORT_IO;
		goto out;
	}
	add_formats(&b);
	sheet_cover(&b, r);
	sheet_labels(&b);
	sheet_days_hours(&b);
	sheet_regions(&b);
	sheet_groups(&b);
	sheet_departments(&b);
	sheet_profiles(&b);
	sheet_personas(&b);
	sheet_concentration(&b);
	sheet_drivers(&b);
	sheet_clusters(&b);
	lxw_error err = workbook_close(b.wb);
	b.wb = NULL;
	if (err != LXW_NO_ERROR) {
		snprintf(errbuf, errbuf_len, "%s: %s", path, lxw_strerror(err));
		rc = REPORT_IO;
		goto out;
	}
	if (b.missing) {
		snprintf(errbuf, errbuf_len, "%s/report.json lacks a table a sheet needs (written without it)",
			 snap_reader_path(r));
		rc = REPORT_FORMAT;
		goto out;
	}
	rc = REPORT_OK;
out:
	cJSON_Delete(rep);
	cJSON_Delete(manifest);
	free(text);
	return rc;
}
