/* Snapshots (see snapshot.h). */
#define _GNU_SOURCE /* sync_file_range (Linux): paced write-back of the rows file */
#include "snapshot/snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>
#include <math.h>
#include <librdkafka/rdkafka.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

const char *snap_strerror(int err)
{
#define SNAP_ERR_TEXT(name, code, text) case code: return text;
	switch (err) { SNAP_ERR_MAP(SNAP_ERR_TEXT) }
#undef SNAP_ERR_TEXT
	return "unknown snapshot error";
}

static const char *const row_fields[SNAP_ROW_FIELDS] = {
	"user_id", "partition", "orders", "max_order", "items", "priced_items", "spend_cents", "reorders",
	"median_days", "loyalty", "spending", "frequency", "low_activity", "region", "age_group", "income_group",
	"family", "primary_profile", "persona", "basket_size", "order_rate", "reorder_rate",
};

const char *const *snap_row_field_names(void)
{
	return row_fields;
}

void snap_options_init(struct snap_options *o)
{
	o->keep = 5;
	o->write_csv = 0;
}

/* ---- Building: one walk over the state ---- */

struct driver_point {
	double x;
	uint64_t value;
	uint32_t user_id;
};

struct offset_entry {
	char topic[256];
	int32_t partition;
	int64_t next;
};

struct walk {
	const struct segment_config *cfg;
	struct snap_report *r;
	FILE *csv;
	msgpack_packer *pk;              /* rows as msgpack, or NULL */
	struct driver_point *drivers[SNAP_DRIVERS];
	uint64_t n_drivers[SNAP_DRIVERS], cap_drivers;
	struct offset_entry *offsets;
	size_t n_offsets;
	int oom;
};

/* The computed columns of one customer. */
struct row_values {
	struct segment_labels l;
	struct segment_groups g;
	enum segment_profile primary;
	double basket, order_rate, reorder_rate; /* order_rate NaN when span is 0 */
	char persona[96];
};

static void row_values(const struct segment_config *cfg, const struct state_customer *c,
		       const struct event_customer *d, struct row_values *v, uint64_t items[SEG_PROFILE_COUNT],
		       uint64_t cents[SEG_PROFILE_COUNT])
{
	segment_label(cfg, c, &v->l);
	segment_groups(d, &v->g);
	v->primary = segment_profiles(c, items, cents);
	v->basket = c->orders ? (double)c->items / c->orders : NAN;
	v->order_rate = c->span_days ? (double)(c->orders - 1) * 30.0 / c->span_days : NAN;
	v->reorder_rate = c->items ? (double)c->reorders / c->items : NAN;
	v->persona[0] = 0;
	if (v->g.valid)
		segment_persona_name(segment_persona(&v->g, v->primary), v->persona, sizeof v->persona);
}

static void pack_text(msgpack_packer *pk, const char *s)
{
	if (!s) {
		msgpack_pack_nil(pk);
		return;
	}
	size_t n = strlen(s);
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

static void pack_real(msgpack_packer *pk, double x)
{
	if (isnan(x))
		msgpack_pack_nil(pk);
	else
		msgpack_pack_double(pk, x);
}

static int write_row(struct walk *w, const struct state_customer *c, const struct row_values *v)
{
	const char *region = v->g.valid ? segment_region_name(v->g.region) : NULL;
	const char *age = v->g.valid ? segment_age_name(v->g.age) : NULL;
	const char *income = v->g.valid ? segment_income_name(v->g.income) : NULL;
	const char *family = v->g.valid ? segment_family_name(v->g.family) : NULL;
	const char *persona = v->g.valid ? v->persona : NULL;
	if (w->pk) {
		msgpack_packer *pk = w->pk;
		msgpack_pack_array(pk, SNAP_ROW_FIELDS);
		const uint64_t ints[] = { c->user_id, c->partition, c->orders, c->max_order, c->items, c->priced_items,
					  c->spend_cents, c->reorders };
		for (int i = 0; i < 8; i++)
			msgpack_pack_uint64(pk, ints[i]);
		pack_real(pk, v->l.median_days_x2 < 0 ? NAN : v->l.median_days_x2 / 2.0);
		pack_text(pk, segment_loyalty_name(v->l.loyalty));
		pack_text(pk, segment_spending_name(v->l.spending));
		pack_text(pk, segment_frequency_name(v->l.frequency));
		msgpack_pack_uint8(pk, (uint8_t)v->l.low_activity);
		pack_text(pk, region);
		pack_text(pk, age);
		pack_text(pk, income);
		pack_text(pk, family);
		pack_text(pk, segment_profile_name(v->primary));
		pack_text(pk, persona);
		pack_real(pk, v->basket);
		pack_real(pk, v->order_rate);
		pack_real(pk, v->reorder_rate);
	}
	if (w->csv) {
		char median[16] = "", rate[32] = "";
		if (v->l.median_days_x2 >= 0)
			snprintf(median, sizeof median, "%d%s", v->l.median_days_x2 / 2, v->l.median_days_x2 % 2 ? ".5" : "");
		if (!isnan(v->order_rate))
			snprintf(rate, sizeof rate, "%.17g", v->order_rate);
		if (fprintf(w->csv, "%u,%u,%u,%u,%u,%u,%" PRIu64 ",%u,%s,%s,%s,%s,%d,%s,%s,%s,%s,%s,\"%s\",%.17g,%s,%.17g\n",
			    c->user_id, c->partition, c->orders, c->max_order, c->items, c->priced_items, c->spend_cents,
			    c->reorders, median, segment_loyalty_name(v->l.loyalty), segment_spending_name(v->l.spending),
			    segment_frequency_name(v->l.frequency), v->l.low_activity, region ? region : "", age ? age : "",
			    income ? income : "", family ? family : "", segment_profile_name(v->primary),
			    persona ? persona : "", v->basket, rate, v->reorder_rate) < 0)
			return SNAP_IO;
	}
	return 0;
}

static int add_driver(struct walk *w, int k, double x, uint64_t value, uint32_t user)
{
	if (isnan(x))
		return 0;
	if (w->n_drivers[k] == w->cap_drivers) {
		uint64_t cap = w->cap_drivers ? w->cap_drivers * 2 : 4096;
		for (int i = 0; i < SNAP_DRIVERS; i++) {
			struct driver_point *t = realloc(w->drivers[i], cap * sizeof *t);
			if (!t)
				return SNAP_NOMEM;
			w->drivers[i] = t;
		}
		w->cap_drivers = cap;
	}
	w->drivers[k][w->n_drivers[k]++] = (struct driver_point){ x, value, user };
	return 0;
}

static int visit(const struct state_customer *c, const struct event_customer *d, void *ctx)
{
	struct walk *w = ctx;
	struct snap_report *r = w->r;
	struct row_values v;
	uint64_t items[SEG_PROFILE_COUNT], cents[SEG_PROFILE_COUNT];
	row_values(w->cfg, c, d, &v, items, cents);
	r->customers++;
	r->loyalty[v.l.loyalty]++;
	r->spending[v.l.spending]++;
	r->frequency[v.l.frequency]++;
	r->low_activity += v.l.low_activity != 0;
	r->with_demographics += v.g.valid;
	r->orders += c->orders;
	r->items += c->items;
	r->priced_items += c->priced_items;
	r->reorders += c->reorders;
	r->spend_cents += c->spend_cents;
	r->loyalty_lines[v.l.loyalty] += c->items;
	for (int i = 0; i < STATE_DEPARTMENTS; i++) {
		r->dept_items[i] += c->dept_items[i];
		r->dept_cents[i] += c->dept_cents[i];
	}
	for (int i = 0; i < 7; i++) {
		r->dow_orders[i] += c->dow_orders[i];
		r->dow_lines[i] += c->dow_lines[i];
	}
	for (int i = 0; i < 24; i++) {
		r->hour_orders[i] += c->hour_orders[i];
		r->hour_lines[i] += c->hour_lines[i];
	}
	r->profile_customers[v.primary]++;
	for (int p = 0; p < SEG_PROFILE_COUNT; p++) {
		r->profile_items[p] += items[p];
		r->profile_cents[p] += cents[p];
	}
	if (v.g.valid && !v.l.low_activity) {
		const struct segment_groups *g = &v.g;
		r->region_customers[g->region]++;
		r->region_items[g->region] += c->items;
		r->region_cents[g->region] += c->spend_cents;
		r->age_customers[g->age]++;
		r->age_items[g->age] += c->items;
		r->age_cents[g->age] += c->spend_cents;
		r->income_customers[g->income]++;
		r->income_items[g->income] += c->items;
		r->income_cents[g->income] += c->spend_cents;
		r->family_customers[g->family]++;
		r->family_items[g->family] += c->items;
		r->family_cents[g->family] += c->spend_cents;
		for (int p = 0; p < SEG_PROFILE_COUNT; p++) {
			int persona = segment_persona(g, (enum segment_profile)p);
			r->persona_items[persona] += items[p];
			r->persona_cents[persona] += cents[p];
		}
		for (int i = 0; i < STATE_DEPARTMENTS; i++)
			r->region_dept_cents[g->region][i] += c->dept_cents[i];
	}
	if (!v.l.low_activity) {
		const double x[SNAP_DRIVERS] = { v.basket, (double)c->orders, v.order_rate, v.reorder_rate };
		for (int k = 0; k < SNAP_DRIVERS; k++)
			if (add_driver(w, k, x[k], c->spend_cents, c->user_id))
				return SNAP_NOMEM;
	}
	return write_row(w, c, &v);
}

static int visit_offset(const char *topic, int32_t partition, int64_t next, void *ctx)
{
	struct walk *w = ctx;
	struct offset_entry *t = realloc(w->offsets, (w->n_offsets + 1) * sizeof *t);
	if (!t)
		return SNAP_NOMEM;
	w->offsets = t;
	snprintf(t[w->n_offsets].topic, sizeof t->topic, "%s", topic);
	t[w->n_offsets].partition = partition;
	t[w->n_offsets].next = next;
	w->n_offsets++;
	return 0;
}

static int compare_point(const void *a, const void *b)
{
	const struct driver_point *x = a, *y = b;
	if (x->x != y->x)
		return x->x < y->x ? -1 : 1;
	return (x->user_id > y->user_id) - (x->user_id < y->user_id);
}

/* Pearson correlation of x with value, and the mean value per quintile of x (ties by user_id). */
static void finish_drivers(struct walk *w)
{
	for (int k = 0; k < SNAP_DRIVERS; k++) {
		struct driver_point *p = w->drivers[k];
		uint64_t n = w->n_drivers[k];
		w->r->driver_n[k] = n;
		double mx = 0, my = 0;
		for (uint64_t i = 0; i < n; i++) {
			mx += p[i].x;
			my += (double)p[i].value;
		}
		mx /= n ? (double)n : 1;
		my /= n ? (double)n : 1;
		double sxy = 0, sxx = 0, syy = 0;
		for (uint64_t i = 0; i < n; i++) {
			double dx = p[i].x - mx, dy = (double)p[i].value - my;
			sxy += dx * dy;
			sxx += dx * dx;
			syy += dy * dy;
		}
		w->r->driver_pearson[k] = n > 1 && sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : NAN;
		if (n)
			qsort(p, n, sizeof *p, compare_point);
		for (int q = 0; q < 5; q++) {
			uint64_t lo = n * (uint64_t)q / 5, hi = n * (uint64_t)(q + 1) / 5;
			double sum = 0;
			for (uint64_t i = lo; i < hi; i++)
				sum += (double)p[i].value;
			w->r->driver_quintile_value[k][q] = hi > lo ? sum / (double)(hi - lo) : NAN;
		}
	}
}

static void walk_free(struct walk *w)
{
	for (int k = 0; k < SNAP_DRIVERS; k++)
		free(w->drivers[k]);
	free(w->offsets);
}

static int csv_header(FILE *csv)
{
	for (int i = 0; i < SNAP_ROW_FIELDS; i++)
		if (fprintf(csv, "%s%s", i ? "," : "", row_fields[i]) < 0)
			return SNAP_IO;
	return fputc('\n', csv) == EOF ? SNAP_IO : SNAP_OK;
}

static int no_offset(const char *topic, int32_t partition, int64_t next, void *ctx)
{
	(void)topic, (void)partition, (void)next, (void)ctx;
	return 0;
}

static int build(struct state_db *db, struct walk *w, int with_offsets)
{
	memset(w->r, 0, sizeof *w->r);
	if (w->csv && csv_header(w->csv) != SNAP_OK)
		return SNAP_IO;
	int rc = state_snapshot_walk(db, with_offsets ? visit_offset : no_offset, visit, w);
	if (rc == SNAP_IO || rc == SNAP_NOMEM)
		return rc;
	if (rc != STATE_OK)
		return SNAP_STATE;
	finish_drivers(w);
	return SNAP_OK;
}

int snap_build(struct state_db *db, const struct segment_config *cfg, struct snap_report *out, FILE *csv)
{
	struct walk w = { .cfg = cfg, .r = out, .csv = csv };
	int rc = build(db, &w, 0);
	walk_free(&w);
	return rc;
}

/* ---- report.json ---- */

static void json_counts(FILE *f, const char *name, const uint64_t *v, int n, const char *(*label)(int), const char *after)
{
	fprintf(f, "  \"%s\": {", name);
	for (int i = 0; i < n; i++)
		fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "", label(i), v[i]);
	fprintf(f, "}%s\n", after);
}

static void json_number(FILE *f, double x)
{
	if (isnan(x))
		fputs("null", f);
	else
		fprintf(f, "%.17g", x);
}

static const char *loyalty_label(int i) { return segment_loyalty_name(i); }
static const char *spending_label(int i) { return segment_spending_name(i); }
static const char *frequency_label(int i) { return segment_frequency_name(i); }
static const char *region_label(int i) { return segment_region_name(i); }
static const char *age_label(int i) { return segment_age_name(i); }
static const char *income_label(int i) { return segment_income_name(i); }
static const char *family_label(int i) { return segment_family_name(i); }
static const char *profile_label(int i) { return segment_profile_name(i); }
static const char *dow_label(int i)
{
	static const char *const n[] = { "0", "1", "2", "3", "4", "5", "6" };
	return n[i];
}
static const char *hour_label(int i)
{
	static const char *const n[] = { "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12",
					 "13", "14", "15", "16", "17", "18", "19", "20", "21", "22", "23" };
	return n[i];
}
static const char *dept_label(int i) /* department ids 1..21 */
{
	static const char *const n[STATE_DEPARTMENTS] = { "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11",
							  "12", "13", "14", "15", "16", "17", "18", "19", "20", "21" };
	return n[i];
}

/* A group table: customers (optional), items, cents, revenue share, tier. */
static void json_groups(FILE *f, const char *name, int n, const char *(*label)(int), const uint64_t *customers,
			const uint64_t *items, const uint64_t *cents, int with_tiers, const char *after)
{
	uint64_t total_items = 0, total_cents = 0;
	for (int i = 0; i < n; i++) {
		total_items += items[i];
		total_cents += cents[i];
	}
	enum segment_tier tiers[SEG_PERSONA_COUNT];
	if (with_tiers)
		segment_tiers(cents, n, tiers);
	fprintf(f, "  \"%s\": [\n", name);
	int first = 1;
	for (int i = 0; i < n; i++) {
		if (!items[i] && !cents[i] && (!customers || !customers[i]))
			continue;
		fprintf(f, "%s    {\"name\": \"%s\"", first ? "" : ",\n", label(i));
		first = 0;
		if (customers)
			fprintf(f, ", \"customers\": %" PRIu64, customers[i]);
		fprintf(f, ", \"items\": %" PRIu64 ", \"revenue_cents\": %" PRIu64, items[i], cents[i]);
		fprintf(f, ", \"efficiency\": ");
		json_number(f, total_items && total_cents && items[i]
				       ? ((double)cents[i] / total_cents) / ((double)items[i] / total_items) : NAN);
		if (with_tiers)
			fprintf(f, ", \"tier\": \"%s\"", segment_tier_name(tiers[i]));
		fputc('}', f);
	}
	fprintf(f, "\n  ]%s\n", after);
}

static char persona_names[SEG_PERSONA_COUNT][96];
static const char *persona_label(int i)
{
	return persona_names[i];
}

int snap_report_write_json(const struct snap_report *r, FILE *f)
{
	if (!persona_names[0][0])
		for (int i = 0; i < SEG_PERSONA_COUNT; i++)
			segment_persona_name(i, persona_names[i], sizeof persona_names[i]);
	fprintf(f, "{\n  \"format\": %d,\n  \"customers\": %" PRIu64 ",\n  \"low_activity\": %" PRIu64
		   ",\n  \"with_demographics\": %" PRIu64 ",\n", SNAP_FORMAT, r->customers, r->low_activity,
		r->with_demographics);
	fprintf(f, "  \"orders\": %" PRIu64 ",\n  \"items\": %" PRIu64 ",\n  \"priced_items\": %" PRIu64
		   ",\n  \"reorders\": %" PRIu64 ",\n  \"spend_cents\": %" PRIu64 ",\n",
		r->orders, r->items, r->priced_items, r->reorders, r->spend_cents);
	json_counts(f, "loyalty", r->loyalty, SEG_LOYALTY_COUNT, loyalty_label, ",");
	json_counts(f, "loyalty_lines", r->loyalty_lines, SEG_LOYALTY_COUNT, loyalty_label, ",");
	json_counts(f, "spending", r->spending, SEG_SPENDING_COUNT, spending_label, ",");
	json_counts(f, "frequency", r->frequency, SEG_FREQUENCY_COUNT, frequency_label, ",");
	json_counts(f, "primary_profile_customers", r->profile_customers, SEG_PROFILE_COUNT, profile_label, ",");
	json_counts(f, "orders_by_dow", r->dow_orders, 7, dow_label, ",");
	json_counts(f, "lines_by_dow", r->dow_lines, 7, dow_label, ",");
	json_counts(f, "orders_by_hour", r->hour_orders, 24, hour_label, ",");
	json_counts(f, "lines_by_hour", r->hour_lines, 24, hour_label, ",");
	json_groups(f, "departments", STATE_DEPARTMENTS, dept_label, NULL, r->dept_items, r->dept_cents, 0, ",");
	json_groups(f, "profiles", SEG_PROFILE_COUNT, profile_label, NULL, r->profile_items, r->profile_cents, 1, ",");
	json_groups(f, "regions", SEG_REGION_COUNT, region_label, r->region_customers, r->region_items, r->region_cents, 0, ",");
	json_groups(f, "age_groups", SEG_AGE_COUNT, age_label, r->age_customers, r->age_items, r->age_cents, 0, ",");
	json_groups(f, "income_groups", SEG_INCOME_COUNT, income_label, r->income_customers, r->income_items,
		    r->income_cents, 0, ",");
	json_groups(f, "family_groups", SEG_FAMILY_COUNT, family_label, r->family_customers, r->family_items,
		    r->family_cents, 0, ",");
	json_groups(f, "personas", SEG_PERSONA_COUNT, persona_label, NULL, r->persona_items, r->persona_cents, 1, ",");
	fprintf(f, "  \"region_department_cents\": {");
	for (int g = 0; g < SEG_REGION_COUNT; g++) {
		fprintf(f, "%s\"%s\": [", g ? ", " : "", segment_region_name(g));
		for (int d = 0; d < STATE_DEPARTMENTS; d++)
			fprintf(f, "%s%" PRIu64, d ? ", " : "", r->region_dept_cents[g][d]);
		fputc(']', f);
	}
	fprintf(f, "},\n  \"value_drivers\": {");
	static const char *const drivers[SNAP_DRIVERS] = { "basket_size", "order_count", "order_rate", "reorder_rate" };
	for (int k = 0; k < SNAP_DRIVERS; k++) {
		fprintf(f, "%s\n    \"%s\": {\"customers\": %" PRIu64 ", \"pearson_with_value\": ", k ? "," : "", drivers[k],
			r->driver_n[k]);
		json_number(f, r->driver_pearson[k]);
		fprintf(f, ", \"mean_value_cents_by_quintile\": [");
		for (int q = 0; q < 5; q++) {
			fputs(q ? ", " : "", f);
			json_number(f, r->driver_quintile_value[k][q]);
		}
		fprintf(f, "]}");
	}
	fprintf(f, "\n  }\n}\n");
	return ferror(f) ? SNAP_IO : SNAP_OK;
}

/* ---- Publication ---- */

static int fail_io(char *errbuf, size_t len, const char *what, const char *path)
{
	if (errbuf && len)
		snprintf(errbuf, len, "snapshot: %s %s: %s", what, path, strerror(errno));
	return SNAP_IO;
}

static int finish_file(FILE *f)
{
	int rc = fflush(f) == 0 && fsync(fileno(f)) == 0 ? 0 : -1;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

static int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

/* Size and CRC-32 of a file. */
static int file_crc(const char *path, uint64_t *size, uint32_t *crc)
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

/* Sequence numbers of the directories under dir, ascending; *n_out of them. */
static uint64_t *list_sequences(const char *dir, size_t *n_out)
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

static void remove_tree(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *e;
	char p[4200];
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof p, "%s/%s", path, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(path);
}

/* Keeps the newest `keep` snapshots and removes temporary directories of dead publishers. */
static void prune(const char *dir, int keep)
{
	size_t n;
	uint64_t *seqs = list_sequences(dir, &n);
	char p[4200];
	for (size_t i = 0; keep > 0 && i + (size_t)keep < n; i++) {
		snprintf(p, sizeof p, "%s/%010" PRIu64, dir, seqs[i]);
		remove_tree(p);
	}
	free(seqs);
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		int pid;
		if (sscanf(e->d_name, ".tmp-%*u-%d", &pid) == 1 && (kill(pid, 0) != 0 && errno == ESRCH)) {
			snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
			remove_tree(p);
		}
	}
	closedir(d);
}

/*
 * Rows go to the file through this writer, which starts the kernel's write-back every 4 MiB
 * (sync_file_range, asynchronous): the fsync before the rename then has little left to do, so
 * a snapshot does not hit the disk in one burst while the consumer commits its batches.
 */
struct paced_file {
	FILE *f;
	uint64_t written, flushed;
};

static int msgpack_file_write(void *data, const char *buf, size_t len)
{
	struct paced_file *pf = data;
	if (fwrite(buf, 1, len, pf->f) != len)
		return -1;
	pf->written += len;
	if (pf->written - pf->flushed >= (4u << 20)) {
		if (fflush(pf->f) != 0)
			return -1;
		sync_file_range(fileno(pf->f), (off64_t)pf->flushed, (off64_t)(pf->written - pf->flushed),
				SYNC_FILE_RANGE_WRITE);
		pf->flushed = pf->written;
	}
	return 0;
}

int snap_publish_files(struct state_db *db, const struct segment_config *cfg, const struct snap_options *opts,
		       const char *dir, uint64_t *seq_out, struct snap_report *report_out, char *errbuf,
		       size_t errbuf_len)
{
	char tmp[4096], final[4096], path[4200];
	struct snap_report *report = calloc(1, sizeof *report);
	struct walk w = { .cfg = cfg, .r = report };
	FILE *rows = NULL, *csv = NULL, *f = NULL;
	int rc = SNAP_IO;
	if (!report)
		return SNAP_NOMEM;
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		rc = fail_io(errbuf, errbuf_len, "mkdir", dir);
		goto out;
	}
	size_t n_seqs;
	uint64_t *seqs = list_sequences(dir, &n_seqs);
	uint64_t seq = n_seqs ? seqs[n_seqs - 1] + 1 : 1;
	free(seqs);
	snprintf(tmp, sizeof tmp, "%s/.tmp-%010" PRIu64 "-%d", dir, seq, (int)getpid());
	snprintf(final, sizeof final, "%s/%010" PRIu64, dir, seq);
	if (mkdir(tmp, 0755) != 0) {
		rc = fail_io(errbuf, errbuf_len, "mkdir", tmp);
		goto out;
	}
	snprintf(path, sizeof path, "%s/customers.msgpack", tmp);
	if (!(rows = fopen(path, "wb"))) {
		rc = fail_io(errbuf, errbuf_len, "create", path);
		goto out;
	}
	msgpack_packer pk;
	struct paced_file paced = { rows, 0, 0 };
	msgpack_packer_init(&pk, &paced, msgpack_file_write);
	w.pk = &pk;
	if (opts->write_csv) {
		snprintf(path, sizeof path, "%s/customers.csv", tmp);
		if (!(csv = fopen(path, "w"))) {
			rc = fail_io(errbuf, errbuf_len, "create", path);
			goto out;
		}
		w.csv = csv;
	}
	rc = build(db, &w, 1);
	if (rc != SNAP_OK) {
		if (errbuf && errbuf_len)
			snprintf(errbuf, errbuf_len, "snapshot: %s", snap_strerror(rc));
		goto out;
	}
	int bad = finish_file(rows);
	rows = NULL;
	if (csv) {
		bad |= finish_file(csv);
		csv = NULL;
	}
	snprintf(path, sizeof path, "%s/report.json", tmp);
	if (bad || !(f = fopen(path, "w")) || snap_report_write_json(report, f) != SNAP_OK || finish_file(f) != 0) {
		f = NULL;
		rc = fail_io(errbuf, errbuf_len, "write", tmp);
		goto out;
	}
	f = NULL;
	/* The manifest last: sizes and checksums of what is already on disk. */
	snprintf(path, sizeof path, "%s/manifest.json", tmp);
	if (!(f = fopen(path, "w"))) {
		rc = fail_io(errbuf, errbuf_len, "create", path);
		goto out;
	}
	fprintf(f, "{\n  \"format\": %d,\n  \"sequence\": %" PRIu64 ",\n  \"created_unix\": %lld,\n  \"customers\": %" PRIu64
		   ",\n  \"source_offsets\": [",
		SNAP_FORMAT, seq, (long long)time(NULL), report->customers);
	for (size_t i = 0; i < w.n_offsets; i++)
		fprintf(f, "%s\n    {\"topic\": \"%s\", \"partition\": %d, \"next_offset\": %" PRId64 "}", i ? "," : "",
			w.offsets[i].topic, w.offsets[i].partition, w.offsets[i].next);
	fprintf(f, "\n  ],\n  \"files\": [");
	const char *files[] = { "customers.msgpack", "report.json", "customers.csv" };
	for (int i = 0; i < (opts->write_csv ? 3 : 2); i++) {
		char fp[4300];
		uint64_t size;
		uint32_t crc;
		snprintf(fp, sizeof fp, "%s/%s", tmp, files[i]);
		if (file_crc(fp, &size, &crc) != 0) {
			rc = fail_io(errbuf, errbuf_len, "read back", fp);
			goto out;
		}
		fprintf(f, "%s\n    {\"name\": \"%s\", \"bytes\": %" PRIu64 ", \"crc32\": %" PRIu32 "}", i ? "," : "", files[i],
			size, crc);
	}
	fprintf(f, "\n  ]\n}\n");
	int mrc = finish_file(f);
	f = NULL;
	if (mrc != 0 || fsync_dir(tmp) != 0) {
		rc = fail_io(errbuf, errbuf_len, "write", path);
		goto out;
	}
	if (rename(tmp, final) != 0) {
		rc = fail_io(errbuf, errbuf_len, "rename to", final);
		goto out;
	}
	if (fsync_dir(dir) != 0) {
		rc = fail_io(errbuf, errbuf_len, "fsync", dir);
		goto out;
	}
	prune(dir, opts->keep);
	*seq_out = seq;
	if (report_out)
		*report_out = *report;
	rc = SNAP_OK;
out:
	if (rows)
		fclose(rows);
	if (csv)
		fclose(csv);
	if (f)
		fclose(f);
	if (rc != SNAP_OK)
		remove_tree(tmp);
	walk_free(&w);
	free(report);
	return rc;
}

/* ---- Reading ---- */

struct snap_reader {
	char path[4096];
	uint64_t seq;
	char *rows;          /* customers.msgpack, whole */
	size_t rows_len, off;
	msgpack_unpacked unpacked;
};

static char *read_whole(const char *path, size_t *len)
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

/* Checks every file the manifest lists against its size and CRC-32. */
static int verify(const char *snapdir, const char *manifest, char *errbuf, size_t errbuf_len)
{
	int format = 0, files = 0;
	if (sscanf(strstr(manifest, "\"format\":") ? strstr(manifest, "\"format\":") : "", "\"format\": %d", &format) != 1 ||
	    format != SNAP_FORMAT) {
		snprintf(errbuf, errbuf_len, "snapshot %s: manifest format %d is not %d", snapdir, format, SNAP_FORMAT);
		return SNAP_FORMAT;
	}
	for (const char *p = strstr(manifest, "{\"name\": \""); p; p = strstr(p + 1, "{\"name\": \"")) {
		char name[128];
		uint64_t bytes, size;
		uint32_t crc, got;
		if (sscanf(p, "{\"name\": \"%127[^\"]\", \"bytes\": %" SCNu64 ", \"crc32\": %" SCNu32, name, &bytes, &crc) != 3 ||
		    strchr(name, '/')) {
			snprintf(errbuf, errbuf_len, "snapshot %s: unreadable file entry in the manifest", snapdir);
			return SNAP_FORMAT;
		}
		char fp[4300];
		snprintf(fp, sizeof fp, "%s/%s", snapdir, name);
		if (file_crc(fp, &size, &got) != 0 || size != bytes || got != crc) {
			snprintf(errbuf, errbuf_len, "snapshot %s: %s does not match the manifest", snapdir, name);
			return SNAP_CHECKSUM;
		}
		files++;
	}
	if (files < 2) {
		snprintf(errbuf, errbuf_len, "snapshot %s: the manifest lists %d files", snapdir, files);
		return SNAP_FORMAT;
	}
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
		uint64_t *seqs = list_sequences(dir, &n);
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
	char *manifest = read_whole(mp, &mlen);
	int rc;
	if (!manifest) {
		snprintf(errbuf, errbuf_len, "snapshot %s has no manifest", r->path);
		rc = SNAP_NONE;
		goto error;
	}
	rc = verify(r->path, manifest, errbuf, errbuf_len);
	free(manifest);
	if (rc != SNAP_OK)
		goto error;
	snprintf(mp, sizeof mp, "%s/customers.msgpack", r->path);
	if (!(r->rows = read_whole(mp, &r->rows_len))) {
		snprintf(errbuf, errbuf_len, "cannot read %s", mp);
		rc = SNAP_IO;
		goto error;
	}
	msgpack_unpacked_init(&r->unpacked);
	*r_out = r;
	return SNAP_OK;
error:
	free(r->rows);
	free(r);
	return rc;
}

void snap_reader_close(struct snap_reader *r)
{
	if (!r)
		return;
	if (r->rows)
		msgpack_unpacked_destroy(&r->unpacked);
	free(r->rows);
	free(r);
}

int snap_reader_report(const struct snap_reader *r, char **json_out, size_t *len_out)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/report.json", r->path);
	*json_out = read_whole(path, len_out);
	return *json_out ? SNAP_OK : SNAP_IO;
}

uint64_t snap_reader_sequence(const struct snap_reader *r)
{
	return r->seq;
}

const char *snap_reader_path(const struct snap_reader *r)
{
	return r->path;
}

int snap_reader_next_raw(struct snap_reader *r, const void **bytes, size_t *len, uint32_t *user_id_out)
{
	size_t start = r->off;
	struct snap_row row;
	int rc = snap_reader_next(r, &row);
	if (rc == 1) {
		*bytes = r->rows + start;
		*len = r->off - start;
		*user_id_out = (uint32_t)row.ints[0];
	}
	return rc;
}

int snap_reader_next(struct snap_reader *r, struct snap_row *row)
{
	if (r->off >= r->rows_len)
		return 0;
	if (msgpack_unpack_next(&r->unpacked, r->rows, r->rows_len, &r->off) != MSGPACK_UNPACK_SUCCESS)
		return SNAP_FORMAT;
	const msgpack_object *o = &r->unpacked.data;
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != SNAP_ROW_FIELDS)
		return SNAP_FORMAT;
	memset(row, 0, sizeof *row);
	for (int i = 0; i < SNAP_ROW_FIELDS; i++) {
		const msgpack_object *e = &o->via.array.ptr[i];
		row->reals[i] = NAN;
		switch (e->type) {
		case MSGPACK_OBJECT_POSITIVE_INTEGER: row->ints[i] = (int64_t)e->via.u64; row->reals[i] = (double)e->via.u64; break;
		case MSGPACK_OBJECT_NEGATIVE_INTEGER: row->ints[i] = e->via.i64; row->reals[i] = (double)e->via.i64; break;
		case MSGPACK_OBJECT_FLOAT32:
		case MSGPACK_OBJECT_FLOAT64: row->reals[i] = e->via.f64; break;
		case MSGPACK_OBJECT_STR: row->texts[i] = e->via.str.ptr; row->text_len[i] = e->via.str.size; break;
		case MSGPACK_OBJECT_NIL: break;
		default: return SNAP_FORMAT;
		}
	}
	return 1;
}

/* ---- Kafka: deltas in one transaction ---- */

/* user_id -> CRC-32 of the row, open addressing; crc_plus1 = 0 marks an empty slot. */
struct row_index {
	uint32_t *user;
	uint64_t *crc_plus1; /* crc + 1, so that 0 means empty; top bit: seen in the new snapshot */
	size_t cap;
};

static size_t slot_of(const struct row_index *ix, uint32_t user)
{
	size_t s = (user * 2654435761u) & (ix->cap - 1);
	while (ix->crc_plus1[s] && ix->user[s] != user)
		s = (s + 1) & (ix->cap - 1);
	return s;
}

static void delivered_count(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	if (m->err)
		(*(long *)opaque)++;
}

static int produce_one(rd_kafka_t *rk, const char *topic, const char *key, size_t klen, const void *v, size_t vlen)
{
	for (;;) {
		rd_kafka_resp_err_t e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, klen),
			RD_KAFKA_V_VALUE((void *)v, vlen), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
		if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			return e ? -1 : 0;
		rd_kafka_poll(rk, 10);
	}
}

int snap_publish_kafka(const char *brokers, const char *topic, const char *const *props, int n_props,
		       const char *dir, uint64_t seq, uint64_t prev_seq, struct snap_delta_stats *st,
		       char *errbuf, size_t errbuf_len)
{
	struct snap_reader *cur = NULL, *prev = NULL;
	struct row_index ix = { 0 };
	rd_kafka_t *rk = NULL;
	rd_kafka_error_t *kerr = NULL;
	char err[512], key[16];
	long failed = 0;
	int rc = snap_reader_open(dir, seq, &cur, errbuf, errbuf_len);
	memset(st, 0, sizeof *st);
	if (rc != SNAP_OK)
		return rc;
	if (prev_seq) {
		rc = snap_reader_open(dir, prev_seq, &prev, errbuf, errbuf_len);
		if (rc != SNAP_OK)
			goto out;
	}
	/* Open addressing at <= 50% load: a row takes at least 16 bytes, which bounds the count. */
	size_t bound = (cur->rows_len + (prev ? prev->rows_len : 0)) / 16 + 1;
	ix.cap = 1024;
	while (ix.cap < 2 * bound)
		ix.cap *= 2;
	ix.user = calloc(ix.cap, sizeof *ix.user);
	ix.crc_plus1 = calloc(ix.cap, sizeof *ix.crc_plus1);
	if (!ix.user || !ix.crc_plus1) {
		rc = SNAP_NOMEM;
		goto out;
	}
	const void *bytes;
	size_t len;
	uint32_t user;
	int more;
	while (prev && (more = snap_reader_next_raw(prev, &bytes, &len, &user)) == 1) {
		size_t s = slot_of(&ix, user);
		ix.user[s] = user;
		ix.crc_plus1[s] = (uint64_t)crc32(0L, bytes, (uInt)len) + 1;
	}

	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char txid[512];
	snprintf(txid, sizeof txid, "segstream-snapshots-%s", topic);
	if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof err) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "transactional.id", txid, err, sizeof err) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "compression.type", "lz4", err, sizeof err) != RD_KAFKA_CONF_OK) {
		rd_kafka_conf_destroy(conf);
		rc = SNAP_IO;
		goto out;
	}
	for (int i = 0; i < n_props; i++) {
		char k[256];
		const char *eq = strchr(props[i], '=');
		snprintf(k, sizeof k, "%.*s", eq ? (int)(eq - props[i]) : 0, props[i]);
		if (!eq || rd_kafka_conf_set(conf, k, eq + 1, err, sizeof err) != RD_KAFKA_CONF_OK) {
			rd_kafka_conf_destroy(conf);
			rc = SNAP_IO;
			goto out;
		}
	}
	rd_kafka_conf_set_dr_msg_cb(conf, delivered_count);
	rd_kafka_conf_set_opaque(conf, &failed);
	if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err))) {
		rd_kafka_conf_destroy(conf);
		rc = SNAP_IO;
		goto out;
	}
	if ((kerr = rd_kafka_init_transactions(rk, 30000)) || (kerr = rd_kafka_begin_transaction(rk))) {
		snprintf(err, sizeof err, "%s", rd_kafka_error_string(kerr));
		rc = SNAP_IO;
		goto out;
	}
	while ((more = snap_reader_next_raw(cur, &bytes, &len, &user)) == 1) {
		size_t s = slot_of(&ix, user);
		uint64_t crc1 = (uint64_t)crc32(0L, bytes, (uInt)len) + 1;
		int same = ix.crc_plus1[s] && (ix.crc_plus1[s] & ~(1ULL << 63)) == crc1;
		if (!ix.crc_plus1[s])
			ix.user[s] = user;
		ix.crc_plus1[s] = crc1 | (1ULL << 63); /* seen in this snapshot */
		if (same) {
			st->unchanged++;
			continue;
		}
		int kl = snprintf(key, sizeof key, "%u", user);
		if (produce_one(rk, topic, key, (size_t)kl, bytes, len)) {
			snprintf(err, sizeof err, "producing the delta failed");
			rc = SNAP_IO;
			goto abort;
		}
		st->changed++;
		rd_kafka_poll(rk, 0);
	}
	for (size_t s = 0; prev && s < ix.cap; s++) { /* customers gone since: tombstones */
		if (ix.crc_plus1[s] && !(ix.crc_plus1[s] >> 63)) {
			int kl = snprintf(key, sizeof key, "%u", ix.user[s]);
			if (produce_one(rk, topic, key, (size_t)kl, NULL, 0)) {
				rc = SNAP_IO;
				goto abort;
			}
			st->removed++;
		}
	}
	char mp[4300];
	size_t mlen;
	snprintf(mp, sizeof mp, "%s/manifest.json", snap_reader_path(cur));
	char *manifest = read_whole(mp, &mlen);
	if (!manifest || produce_one(rk, topic, "__manifest", 10, manifest, mlen)) {
		free(manifest);
		rc = SNAP_IO;
		goto abort;
	}
	free(manifest);
	if ((kerr = rd_kafka_commit_transaction(rk, 120000))) {
		snprintf(err, sizeof err, "commit: %s", rd_kafka_error_string(kerr));
		rc = SNAP_IO;
		goto abort;
	}
	rc = failed ? SNAP_IO : SNAP_OK;
	goto out;
abort:
	if (kerr)
		rd_kafka_error_destroy(kerr);
	kerr = rd_kafka_abort_transaction(rk, 30000);
out:
	if (rc == SNAP_IO && errbuf && errbuf_len)
		snprintf(errbuf, errbuf_len, "snapshot to Kafka topic %s: %s", topic, err);
	if (kerr)
		rd_kafka_error_destroy(kerr);
	if (rk)
		rd_kafka_destroy(rk);
	free(ix.user);
	free(ix.crc_plus1);
	snap_reader_close(cur);
	snap_reader_close(prev);
	return rc;
}
