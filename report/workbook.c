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

#include "report/internal.h"
#include "segment/segment.h"

/* ---- Sheets ---- */

static void sheet_cover(struct book *b, struct snap_reader *r)
{
	struct sheet s = sheet_new(b, "Cover");
	const cJSON *rep = b->rep, *m = b->manifest;
	if (!s.ws)
		return;
	sheet_header(&s, 0, (const char *const[]){ "Snapshot", "Value" }, 2);
	int row = 1;
	sheet_text(&s, row, 0, "Sequence", NULL);
	sheet_number(&s, row++, 1, (double)snap_reader_sequence(r), b->count);
	sheet_text(&s, row, 0, "Time (UTC)", NULL);
	double unix_time = book_num(b, m, "created_unix");
	sheet_number(&s, row++, 1, unix_time / 86400.0 + 25569.0, b->date); /* Excel's day 25569 is 1970-01-01 */
	sheet_widen(&s, 1, 19);
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
		double x = book_num(b, rep, totals[i].key);
		sheet_text(&s, row, 0, totals[i].label, NULL);
		sheet_number(&s, row++, 1, totals[i].money ? x / 100 : x, totals[i].money ? b->money : b->count);
	}
	sheet_text(&s, row, 0, "Snapshot directory", NULL);
	sheet_text(&s, row++, 1, snap_reader_path(r), NULL);
	row++;
	sheet_text(&s, row, 0, "Source topic", b->head);
	sheet_text(&s, row, 1, "Partition", b->head);
	sheet_text(&s, row++, 2, "Next offset", b->head);
	const cJSON *off;
	cJSON_ArrayForEach(off, book_get(b, m, "source_offsets"))
	{
		sheet_text(&s, row, 0, book_str(b, off, "topic"), NULL);
		sheet_number(&s, row, 1, book_num(b, off, "partition"), b->count);
		sheet_number(&s, row++, 2, book_num(b, off, "next"), b->count);
	}
	sheet_text(&s, 0, 4, "segstream stakeholder workbook", b->title);
	sheet_fit(&s);
}

/* A label count table (label, customers, share) at column col; @return its last row. */
static int count_table(struct sheet *s, int col, const char *head, const cJSON *counts)
{
	struct book *b = s->b;
	sheet_header(s, col, (const char *const[]){ head, "Customers", "Share" }, 3);
	double total = 0;
	const cJSON *c;
	cJSON_ArrayForEach(c, counts) total += c->valuedouble;
	int row = 1;
	cJSON_ArrayForEach(c, counts)
	{
		sheet_text(s, row, col, c->string, NULL);
		sheet_number(s, row, col + 1, c->valuedouble, b->count);
		sheet_number(s, row++, col + 2, total > 0 ? c->valuedouble / total : NAN, b->pct);
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
		last[i] = count_table(&s, i * 4, heads[i], book_get(b, b->rep, keys[i]));
	for (int i = 0; i < 3; i++)
		sheet_chart(&s, LXW_CHART_COLUMN, titles[i], heads[i], "customers", 1, last[i], i * 4,
			    (const int[]){ i * 4 + 1 }, 1, 12);
	sheet_fit(&s);
}

/* Orders, lines and spend by day or hour ("dow" or "hour"), with the share of orders and the
 * means per order, at column col. @return last row. */
static int time_table(struct sheet *s, int col, const char *head, const char *what)
{
	struct book *b = s->b;
	char key[3][32];
	snprintf(key[0], sizeof key[0], "orders_by_%s", what);
	snprintf(key[1], sizeof key[1], "lines_by_%s", what);
	snprintf(key[2], sizeof key[2], "spend_cents_by_%s", what);
	const cJSON *orders = book_get(b, b->rep, key[0]), *lines = book_get(b, b->rep, key[1]),
		    *cents = book_get(b, b->rep, key[2]);
	sheet_header(s, col,
		     (const char *const[]){ head, "Orders", "Lines", "Spend", "Share of orders", "Lines per order",
					    "Spend per order" },
		     7);
	double total = 0;
	const cJSON *c;
	cJSON_ArrayForEach(c, orders) total += c->valuedouble;
	int row = 1;
	cJSON_ArrayForEach(c, orders)
	{
		const cJSON *l = cJSON_GetObjectItemCaseSensitive(lines, c->string);
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(cents, c->string);
		double nl = cJSON_IsNumber(l) ? l->valuedouble : NAN,
		       spend = cJSON_IsNumber(m) ? m->valuedouble / 100 : NAN;
		double n = c->valuedouble;
		sheet_number(s, row, col, atof(c->string), b->count);
		sheet_number(s, row, col + 1, n, b->count);
		sheet_number(s, row, col + 2, nl, b->count);
		sheet_number(s, row, col + 3, spend, b->money);
		sheet_number(s, row, col + 4, total > 0 ? n / total : NAN, b->pct);
		sheet_number(s, row, col + 5, n > 0 ? nl / n : NAN, b->real);
		sheet_number(s, row++, col + 6, n > 0 ? spend / n : NAN, b->money);
	}
	return row - 1;
}

static void sheet_days_hours(struct book *b)
{
	struct sheet s = sheet_new(b, "Days and hours");
	if (!s.ws)
		return;
	int ld = time_table(&s, 0, "Day of week", "dow"), lh = time_table(&s, 8, "Hour of day", "hour");
	sheet_chart(&s, LXW_CHART_COLUMN, "Orders by day of week: days 0 and 1 are the busiest", "day of week (0-6)",
		    "orders", 1, ld, 0, (const int[]){ 1 }, 1, 16);
	sheet_chart(&s, LXW_CHART_COLUMN, "Orders by hour of day: the day peaks mid-morning", "hour of day", "orders",
		    1, lh, 8, (const int[]){ 9 }, 1, 16);
	sheet_chart(&s, LXW_CHART_COLUMN, "Mean spend per order by day of week", "day of week (0-6)", "$ per order", 1,
		    ld, 0, (const int[]){ 6 }, 1, 16);
	sheet_chart(&s, LXW_CHART_COLUMN, "Mean spend per order by hour of day", "hour of day", "$ per order", 1, lh, 8,
		    (const int[]){ 15 }, 1, 16);
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
	sheet_header(s, col, names, n);
	double total = 0;
	const cJSON *g;
	cJSON_ArrayForEach(g, groups) total += book_num(b, g, "revenue_cents");
	int row = 1;
	cJSON_ArrayForEach(g, groups)
	{
		int c = col;
		double cents = book_num(b, g, "revenue_cents");
		sheet_text(s, row, c++, book_str(b, g, "name"), NULL);
		if (with_customers)
			sheet_number(s, row, c++, book_num(b, g, "customers"), b->count);
		sheet_number(s, row, c++, book_num(b, g, "items"), b->count);
		sheet_number(s, row, c++, cents / 100, b->money);
		sheet_number(s, row, c++, total > 0 ? cents / total : NAN, b->pct);
		sheet_number(s, row, c++, book_num(b, g, "efficiency"), b->real);
		if (with_tier)
			sheet_text(s, row, c++, book_str(b, g, "tier"), NULL);
		row++;
	}
	return row - 1;
}

static void sheet_regions(struct book *b)
{
	struct sheet s = sheet_new(b, "Regions");
	if (!s.ws)
		return;
	int last = group_table(&s, 0, "Region", book_get(b, b->rep, "regions"), 1, 0);
	sheet_chart(&s, LXW_CHART_COLUMN, "Revenue by region (customers not low-activity)", "census region",
		    "revenue ($)", 1, last, 0, (const int[]){ 3 }, 1, 8);
	sheet_chart(&s, LXW_CHART_COLUMN, "Customers by region", "census region", "customers", 1, last, 0,
		    (const int[]){ 1 }, 1, 8);
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
		last[i] = group_table(&s, i * 7, heads[i], book_get(b, b->rep, keys[i]), 1, 0);
	for (int i = 0; i < 3; i++)
		sheet_chart(&s, LXW_CHART_COLUMN, titles[i], heads[i], "revenue ($)", 1, last[i], i * 7,
			    (const int[]){ i * 7 + 3 }, 1, 21);
	sheet_fit(&s);
}

/* Departments: items, revenue, shares; then revenue by region (a heat map) and each region's mix. */
static void sheet_departments(struct book *b)
{
	struct sheet s = sheet_new(b, "Departments");
	if (!s.ws)
		return;
	const cJSON *depts = book_get(b, b->rep, "departments"), *mix = book_get(b, b->rep, "region_department_cents");
	sheet_header(&s, 0,
		     (const char *const[]){ "Department", "Items", "Revenue", "Item share", "Revenue share",
					    "Efficiency index" },
		     6);
	double items = 0, cents = 0;
	const cJSON *d;
	cJSON_ArrayForEach(d, depts)
	{
		items += book_num(b, d, "items");
		cents += book_num(b, d, "revenue_cents");
	}
	int row = 1;
	cJSON_ArrayForEach(d, depts)
	{
		sheet_text(&s, row, 0, book_str(b, d, "name"), NULL);
		sheet_number(&s, row, 1, book_num(b, d, "items"), b->count);
		sheet_number(&s, row, 2, book_num(b, d, "revenue_cents") / 100, b->money);
		sheet_number(&s, row, 3, items > 0 ? book_num(b, d, "items") / items : NAN, b->pct);
		sheet_number(&s, row, 4, cents > 0 ? book_num(b, d, "revenue_cents") / cents : NAN, b->pct);
		sheet_number(&s, row++, 5, book_num(b, d, "efficiency"), b->real);
	}
	int last = row - 1;
	/* by region: revenue ($) per department (rows 1..21: id, name), then each region's share */
	int n_regions = cJSON_GetArraySize(mix), col = 7;
	sheet_text(&s, 0, col, "Department id", b->head);
	sheet_text(&s, 0, col + 1, "Department", b->head);
	const cJSON *names = cJSON_GetObjectItemCaseSensitive(b->rep, "department_names");
	for (int i = 0; i < STATE_DEPARTMENTS; i++) {
		const cJSON *name = cJSON_GetArrayItem(names, i); /* null: no name known, the id stands */
		char id[16];
		snprintf(id, sizeof id, "%d", i + 1);
		sheet_text(&s, 1 + i, col + 1, cJSON_IsString(name) ? name->valuestring : id, NULL);
	}
	const cJSON *reg;
	int r = 0;
	cJSON_ArrayForEach(reg, mix)
	{
		char head[64];
		double total = 0;
		const cJSON *v;
		cJSON_ArrayForEach(v, reg) total += v->valuedouble;
		sheet_text(&s, 0, col + 2 + r, reg->string, b->head);
		snprintf(head, sizeof head, "%s share", reg->string);
		sheet_text(&s, 0, col + 2 + n_regions + r, head, b->head);
		int i = 0;
		cJSON_ArrayForEach(v, reg)
		{
			sheet_number(&s, 1 + i, col, i + 1, b->count);
			sheet_number(&s, 1 + i, col + 2 + r, v->valuedouble / 100, b->money);
			sheet_number(&s, 1 + i, col + 2 + n_regions + r, total > 0 ? v->valuedouble / total : NAN,
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
	sheet_chart(&s, LXW_CHART_BAR, "Revenue by department: produce and dairy lead", "revenue ($)", "department", 1,
		    last, 0, (const int[]){ 2 }, 1, at);
	int vals[SEG_REGION_COUNT];
	for (int i = 0; i < n_regions && i < SEG_REGION_COUNT; i++)
		vals[i] = col + 2 + i;
	sheet_chart(&s, LXW_CHART_COLUMN, "Revenue by department in each region", "department", "revenue ($)", 1,
		    STATE_DEPARTMENTS, col + 1, vals, n_regions < SEG_REGION_COUNT ? n_regions : SEG_REGION_COUNT, at);
	sheet_fit(&s);
}

static void sheet_profiles(struct book *b)
{
	struct sheet s = sheet_new(b, "Shopper profiles");
	if (!s.ws)
		return;
	/* customers by primary profile come from their own table; join it by name */
	const cJSON *prof = book_get(b, b->rep, "profiles"), *prim = book_get(b, b->rep, "primary_profile_customers");
	int last = group_table(&s, 0, "Shopper profile", prof, 0, 1);
	sheet_text(&s, 0, 7, "Customers (primary profile)", b->head);
	int row = 1;
	const cJSON *g;
	cJSON_ArrayForEach(g, prof)
	{
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(prim, book_str(b, g, "name"));
		sheet_number(&s, row++, 7, cJSON_IsNumber(c) ? c->valuedouble : 0, b->count);
	}
	sheet_chart(&s, LXW_CHART_BAR, "Revenue by shopper profile (from the departments of each line)", "revenue ($)",
		    "shopper profile", 1, last, 0, (const int[]){ 2 }, 1, 9);
	sheet_chart(&s, LXW_CHART_BAR, "Customers by primary shopper profile", "customers", "shopper profile", 1, last,
		    0, (const int[]){ 7 }, 1, 9);
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
	const cJSON *personas = book_get(b, b->rep, "personas");
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
	sheet_chart(&s, LXW_CHART_BAR, "The 15 personas with the most revenue", "revenue ($)", "persona", 1,
		    last < 15 ? last : 15, 0, (const int[]){ 2 }, 1, 7);
	sheet_chart(&s, LXW_CHART_BAR, "Efficiency index of the 15 personas with the most revenue (1 = average)",
		    "revenue share / item share", "persona", 1, last < 15 ? last : 15, 0, (const int[]){ 4 }, 1, 7);
	cJSON_Delete(copy);
	free(sorted);
	sheet_fit(&s);
}

/* Revenue per tier over the groups of one table (personas or profiles) at column col. */
static int tier_table(struct sheet *s, int col, const char *head, const cJSON *groups)
{
	struct book *b = s->b;
	sheet_header(s, col, (const char *const[]){ "Revenue tier", head, "Revenue", "Revenue share" }, 4);
	double total = 0, cents[3] = { 0 }, count[3] = { 0 };
	const cJSON *g;
	cJSON_ArrayForEach(g, groups)
	{
		const char *tier = book_str(b, g, "tier");
		for (int t = 0; t < 3; t++)
			if (strcmp(tier, segment_tier_name((enum segment_tier)t)) == 0) {
				cents[t] += book_num(b, g, "revenue_cents");
				count[t]++;
			}
		total += book_num(b, g, "revenue_cents");
	}
	for (int t = 0; t < 3; t++) {
		sheet_text(s, 1 + t, col, segment_tier_name((enum segment_tier)t), NULL);
		sheet_number(s, 1 + t, col + 1, count[t], b->count);
		sheet_number(s, 1 + t, col + 2, cents[t] / 100, b->money);
		sheet_number(s, 1 + t, col + 3, total > 0 ? cents[t] / total : NAN, b->pct);
	}
	return 3;
}

static void sheet_concentration(struct book *b)
{
	struct sheet s = sheet_new(b, "Revenue concentration");
	if (!s.ws)
		return;
	tier_table(&s, 0, "Personas", book_get(b, b->rep, "personas"));
	tier_table(&s, 5, "Shopper profiles", book_get(b, b->rep, "profiles"));
	sheet_chart(&s, LXW_CHART_COLUMN, "Revenue share by tier over personas: few personas make half the revenue",
		    "revenue tier", "share of revenue", 1, 3, 0, (const int[]){ 3 }, 1, 10);
	sheet_chart(&s, LXW_CHART_COLUMN, "Revenue share by tier over shopper profiles", "revenue tier",
		    "share of revenue", 1, 3, 5, (const int[]){ 8 }, 1, 10);
	sheet_fit(&s);
}

static void sheet_drivers(struct book *b)
{
	struct sheet s = sheet_new(b, "Value drivers");
	if (!s.ws)
		return;
	sheet_header(&s, 0,
		     (const char *const[]){ "Driver", "Customers", "Pearson r with spend", "Q1 mean spend",
					    "Q2 mean spend", "Q3 mean spend", "Q4 mean spend", "Q5 mean spend" },
		     8);
	int row = 1;
	const cJSON *d;
	cJSON_ArrayForEach(d, book_get(b, b->rep, "value_drivers"))
	{
		sheet_text(&s, row, 0, d->string, NULL);
		sheet_number(&s, row, 1, book_num(b, d, "customers"), b->count);
		sheet_number(&s, row, 2, book_num(b, d, "pearson_with_value"), b->real);
		const cJSON *q;
		int c = 3;
		cJSON_ArrayForEach(q, book_get(b, d, "mean_value_cents_by_quintile"))
		    sheet_number(&s, row, c++, cJSON_IsNumber(q) ? q->valuedouble / 100 : NAN, b->money);
		row++;
	}
	sheet_chart(&s, LXW_CHART_BAR, "Correlation of each driver with spend", "Pearson r", "driver", 1, row - 1, 0,
		    (const int[]){ 2 }, 1, 9);
	sheet_chart(&s, LXW_CHART_COLUMN, "Mean spend by driver quintile (Q1 lowest driver values)", "driver",
		    "mean spend ($)", 1, row - 1, 0, (const int[]){ 3, 4, 5, 6, 7 }, 5, 9);
	sheet_fit(&s);
}

static void sheet_clusters(struct book *b)
{
	struct sheet s = sheet_new(b, "Clusters");
	if (!s.ws)
		return;
	const cJSON *cl = book_get(b, b->rep, "clusters");
	sheet_header(&s, 0,
		     (const char *const[]){ "Cluster", "Name", "Customers", "Share of clustered", "Spend",
					    "Basket size", "Order rate (per 30 days)", "Reorder rate",
					    "Typical spend (centre)" },
		     9);
	double n = book_num(b, cl, "customers");
	int row = 1;
	const cJSON *c;
	cJSON_ArrayForEach(c, book_get(b, cl, "clusters"))
	{
		const cJSON *centre = book_get(b, c, "centre");
		sheet_number(&s, row, 0, book_num(b, c, "cluster"), b->count);
		sheet_text(&s, row, 1, book_str(b, c, "name"), NULL);
		sheet_number(&s, row, 2, book_num(b, c, "customers"), b->count);
		sheet_number(&s, row, 3, n > 0 ? book_num(b, c, "customers") / n : NAN, b->pct);
		sheet_number(&s, row, 4, book_num(b, c, "spend_cents") / 100, b->money);
		sheet_number(&s, row, 5, book_num(b, centre, "basket_size"), b->real);
		sheet_number(&s, row, 6, book_num(b, centre, "order_rate"), b->real);
		sheet_number(&s, row, 7, book_num(b, centre, "reorder_rate"), b->pct);
		sheet_number(&s, row++, 8, book_num(b, centre, "spend_dollars"), b->money);
	}
	int last = row - 1;
	row += 1;
	sheet_text(&s, row, 0, "k", b->head);
	sheet_number(&s, row++, 1, book_num(b, cl, "k"), b->count);
	sheet_text(&s, row, 0, "Excluded", b->head);
	sheet_number(&s, row++, 1, book_num(b, cl, "excluded"), b->count);
	sheet_text(&s, row, 0, "Inertia", b->head);
	sheet_number(&s, row++, 1, book_num(b, cl, "inertia"), b->real);
	sheet_chart(&s, LXW_CHART_BAR, "Customers per behavioural cluster", "customers", "cluster", 1, last, 1,
		    (const int[]){ 2 }, 1, 10);
	sheet_chart(&s, LXW_CHART_BAR, "Spend per behavioural cluster", "spend ($)", "cluster", 1, last, 1,
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
