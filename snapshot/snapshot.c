/* Snapshots (see snapshot.h). */
#include "snapshot/snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *snap_strerror(int err)
{
#define SNAP_ERR_TEXT(name, code, text) case code: return text;
	switch (err) { SNAP_ERR_MAP(SNAP_ERR_TEXT) }
#undef SNAP_ERR_TEXT
	return "unknown snapshot error";
}

struct walk {
	const struct segment_config *cfg;
	struct snap_report *r;
	FILE *rows;
};

static int visit(const struct state_customer *c, const struct event_customer *demographics, void *ctx)
{
	(void)demographics;
	struct walk *w = ctx;
	struct snap_report *r = w->r;
	struct segment_labels l;
	segment_label(w->cfg, c, &l);
	r->customers++;
	r->loyalty[l.loyalty]++;
	r->spending[l.spending]++;
	r->frequency[l.frequency]++;
	r->low_activity += l.low_activity != 0;
	r->orders += c->orders;
	r->items += c->items;
	r->priced_items += c->priced_items;
	r->reorders += c->reorders;
	r->spend_cents += c->spend_cents;
	r->loyalty_lines[l.loyalty] += c->items;
	for (int d = 0; d < STATE_DEPARTMENTS; d++) {
		r->dept_items[d] += c->dept_items[d];
		r->dept_cents[d] += c->dept_cents[d];
	}
	for (int i = 0; i < 7; i++)
		r->dow_orders[i] += c->dow_orders[i];
	for (int i = 0; i < 24; i++)
		r->hour_orders[i] += c->hour_orders[i];
	if (w->rows) {
		char median[16] = "";
		if (l.median_days_x2 >= 0)
			snprintf(median, sizeof median, "%d%s", l.median_days_x2 / 2, l.median_days_x2 % 2 ? ".5" : "");
		if (fprintf(w->rows, "%u,%u,%u,%u,%u,%u,%" PRIu64 ",%u,%s,%s,%s,%s,%d\n", c->user_id, c->partition,
			    c->orders, c->max_order, c->items, c->priced_items, c->spend_cents, c->reorders, median,
			    segment_loyalty_name(l.loyalty), segment_spending_name(l.spending),
			    segment_frequency_name(l.frequency), l.low_activity) < 0)
			return SNAP_IO;
	}
	return 0;
}

int snap_build(struct state_db *db, const struct segment_config *cfg, struct snap_report *out, FILE *rows)
{
	memset(out, 0, sizeof *out);
	struct walk w = { cfg, out, rows };
	if (rows && fputs("user_id,partition,orders,max_order,items,priced_items,spend_cents,reorders,"
			  "median_days,loyalty,spending,frequency,low_activity\n", rows) < 0)
		return SNAP_IO;
	int rc = state_foreach_customer(db, -1, visit, &w);
	return rc == SNAP_IO ? SNAP_IO : rc != STATE_OK ? SNAP_STATE : SNAP_OK;
}

static void json_array(FILE *f, const char *name, const uint64_t *v, int n, const char *after)
{
	fprintf(f, "  \"%s\": [", name);
	for (int i = 0; i < n; i++)
		fprintf(f, "%s%" PRIu64, i ? ", " : "", v[i]);
	fprintf(f, "]%s\n", after);
}

int snap_report_write_json(const struct snap_report *r, FILE *f)
{
	fprintf(f, "{\n  \"customers\": %" PRIu64 ",\n  \"low_activity\": %" PRIu64 ",\n", r->customers, r->low_activity);
	fprintf(f, "  \"orders\": %" PRIu64 ",\n  \"items\": %" PRIu64 ",\n  \"priced_items\": %" PRIu64
		   ",\n  \"reorders\": %" PRIu64 ",\n  \"spend_cents\": %" PRIu64 ",\n",
		r->orders, r->items, r->priced_items, r->reorders, r->spend_cents);
	fprintf(f, "  \"loyalty\": {");
	for (int i = 0; i < SEG_LOYALTY_COUNT; i++)
		fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "", segment_loyalty_name(i), r->loyalty[i]);
	fprintf(f, "},\n  \"loyalty_lines\": {");
	for (int i = 0; i < SEG_LOYALTY_COUNT; i++)
		fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "", segment_loyalty_name(i), r->loyalty_lines[i]);
	fprintf(f, "},\n  \"spending\": {");
	for (int i = 0; i < SEG_SPENDING_COUNT; i++)
		fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "", segment_spending_name(i), r->spending[i]);
	fprintf(f, "},\n  \"frequency\": {");
	for (int i = 0; i < SEG_FREQUENCY_COUNT; i++)
		fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "", segment_frequency_name(i), r->frequency[i]);
	fprintf(f, "},\n");
	json_array(f, "dept_items", r->dept_items, STATE_DEPARTMENTS, ",");
	json_array(f, "dept_cents", r->dept_cents, STATE_DEPARTMENTS, ",");
	json_array(f, "dow_orders", r->dow_orders, 7, ",");
	json_array(f, "hour_orders", r->hour_orders, 24, "");
	fprintf(f, "}\n");
	return ferror(f) ? SNAP_IO : SNAP_OK;
}

static int fail_io(char *errbuf, size_t len, const char *what, const char *path)
{
	if (errbuf && len)
		snprintf(errbuf, len, "snapshot: %s %s: %s", what, path, strerror(errno));
	return SNAP_IO;
}

/* Flushes, fsyncs and closes f; each step checked. */
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

/* The largest published sequence number under dir (0 if none). */
static uint64_t last_sequence(const char *dir)
{
	uint64_t best = 0;
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char *end;
		uint64_t v = strtoull(e->d_name, &end, 10);
		if (*end == 0 && e->d_name[0] >= '0' && e->d_name[0] <= '9' && v > best)
			best = v;
	}
	closedir(d);
	return best;
}

int snap_publish_files(struct state_db *db, const struct segment_config *cfg, const char *dir, uint64_t *seq_out,
		       struct snap_report *report_out, char *errbuf, size_t errbuf_len)
{
	char tmp[4096], final[4096], path[4200];
	struct snap_report report;
	FILE *f = NULL;
	int rc;
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return fail_io(errbuf, errbuf_len, "mkdir", dir);
	uint64_t seq = last_sequence(dir) + 1;
	snprintf(tmp, sizeof tmp, "%s/.tmp-%010" PRIu64 "-%d", dir, seq, (int)getpid());
	snprintf(final, sizeof final, "%s/%010" PRIu64, dir, seq);
	if (mkdir(tmp, 0755) != 0)
		return fail_io(errbuf, errbuf_len, "mkdir", tmp);

	snprintf(path, sizeof path, "%s/customers.csv", tmp);
	if (!(f = fopen(path, "w")))
		return fail_io(errbuf, errbuf_len, "create", path);
	rc = snap_build(db, cfg, &report, f);
	if (finish_file(f) != 0 && rc == SNAP_OK)
		rc = fail_io(errbuf, errbuf_len, "write", path);
	if (rc != SNAP_OK) {
		if (errbuf && errbuf_len && rc == SNAP_STATE)
			snprintf(errbuf, errbuf_len, "snapshot: reading the state failed");
		return rc;
	}

	snprintf(path, sizeof path, "%s/report.json", tmp);
	if (!(f = fopen(path, "w")))
		return fail_io(errbuf, errbuf_len, "create", path);
	snap_report_write_json(&report, f);
	if (finish_file(f) != 0)
		return fail_io(errbuf, errbuf_len, "write", path);

	snprintf(path, sizeof path, "%s/manifest.json", tmp);
	if (!(f = fopen(path, "w")))
		return fail_io(errbuf, errbuf_len, "create", path);
	fprintf(f, "{\"format\": 1, \"sequence\": %" PRIu64 ", \"created_unix\": %lld, \"customers\": %" PRIu64
		   ", \"files\": [\"customers.csv\", \"report.json\"]}\n",
		seq, (long long)time(NULL), report.customers);
	if (finish_file(f) != 0)
		return fail_io(errbuf, errbuf_len, "write", path);
	if (fsync_dir(tmp) != 0)
		return fail_io(errbuf, errbuf_len, "fsync", tmp);
	if (rename(tmp, final) != 0)
		return fail_io(errbuf, errbuf_len, "rename to", final);
	if (fsync_dir(dir) != 0)
		return fail_io(errbuf, errbuf_len, "fsync", dir);
	*seq_out = seq;
	if (report_out)
		*report_out = report;
	return SNAP_OK;
}
