/* The global view: several instances' snapshots, each covering its own partitions, merged into
 * the one snapshot a single state holding all of them would publish (see snapshot.h). The rows
 * are merged in the state's key order, the clusters and value drivers computed again over them
 * with the walk's code, the report's sums added up from each report.json, and the result
 * published through the same code as a snapshot of the state (snap__publish). */
#define _GNU_SOURCE /* realpath */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "snapshot/snapshot_int.h"

/* One instance's snapshot, and its place in the merge of the rows. */
struct input {
	char dir[4096]; /* the snapshots directory */
	uint64_t seq;
	struct snap_reader *r;
	struct snap__coverage cov;
	int csv;             /* it has customers.csv */
	struct snap_row row; /* its next row, when have */
	int have, done;
	int64_t last_partition, last_user; /* of the last row taken: the rows must ascend */
};

struct merge {
	struct input *in;
	int n;
	const struct segment_config *cfg;
	struct snap_report *sums; /* the sums of the inputs' reports */
	struct snap__coverage cov;
	char events_topic[256];
	size_t differing;
	int col_partition, col_user, col_low, col_spend, col_orders, col_basket, col_rate, col_reorder, col_cluster;
	char *text; /* the current row's texts, NUL-terminated */
	size_t text_cap;
};

static int column(const char *name)
{
	size_t n;
	const struct snap_column *cols = snap_columns(&n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(cols[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* DIR/NNNNNNNNNN (a snapshot's own directory) as DIR and NNNNNNNNNN; else DIR and 0 (the latest). */
static void split_dir(const char *path, char *dir, size_t dir_len, uint64_t *seq)
{
	char manifest[4200];
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	size_t base = n;
	while (base > 0 && path[base - 1] != '/')
		base--;
	int digits = n - base == 10;
	for (size_t i = base; digits && i < n; i++)
		digits = path[i] >= '0' && path[i] <= '9';
	snprintf(manifest, sizeof manifest, "%.*s/manifest.json", (int)n, path);
	struct stat st;
	*seq = 0;
	if (digits && stat(manifest, &st) == 0) {
		*seq = strtoull(path + base, NULL, 10);
		n = base > 1 ? base - 1 : base;
	}
	snprintf(dir, dir_len, "%.*s", (int)n, path);
}

/* The columns are those this segstream writes (names, types, nullable), in its order. */
static int same_columns(const struct snap_reader *r)
{
	size_t n, m;
	const struct snap_column *mine = snap_columns(&n), *theirs = snap_reader_columns(r, &m);
	if (n != m)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(mine[i].name, theirs[i].name) != 0 || mine[i].type != theirs[i].type ||
		    (mine[i].flags & SNAP_NULLABLE) != (theirs[i].flags & SNAP_NULLABLE))
			return 0;
	return 1;
}

/* Whether the manifest lists a file (the row files: customers.msgpack, customers.csv). */
static int lists_file(const char *manifest, const char *name)
{
	char quoted[160];
	snprintf(quoted, sizeof quoted, "\"name\": \"%s\"", name);
	return strstr(manifest, quoted) != NULL;
}

/*
 * Opens one input and checks that it can be merged: this segstream's manifest format and
 * columns, a coverage listed, clusters made with cfg's k and seed; adds its report's sums.
 */
static int open_input(struct merge *m, struct input *in, const char *path, char *errbuf, size_t errbuf_len)
{
	char why[1024] = "";
	split_dir(path, in->dir, sizeof in->dir, &in->seq);
	int rc = snap_reader_open(in->dir, in->seq, &in->r, why, sizeof why);
	char *report = NULL;
	size_t len, mlen;
	if (rc != SNAP_OK)
		goto out;
	const char *manifest = snap_reader_manifest(in->r, &mlen);
	if (snap_reader_format(in->r) != SNAP_FORMAT_VERSION || !same_columns(in->r)) {
		snprintf(why, sizeof why,
			 "manifest format %d with other columns than this segstream writes (format %d)",
			 snap_reader_format(in->r), SNAP_FORMAT_VERSION);
		rc = SNAP_CONFLICT;
		goto out;
	}
	char topic[256];
	if ((rc = snap__coverage_parse(&in->cov, topic, sizeof topic, manifest, mlen, why, sizeof why)) != SNAP_OK)
		goto out;
	if (!m->events_topic[0])
		strcpy(m->events_topic, topic);
	if (strcmp(topic, m->events_topic) != 0) {
		snprintf(why, sizeof why, "its events topic is %s, another's %s", topic, m->events_topic);
		rc = SNAP_CONFLICT;
		goto out;
	}
	in->csv = lists_file(manifest, snap_sink_csv.file_name);
	if (in != m->in && in->csv != m->in[0].csv) {
		snprintf(why, sizeof why, "%s customers.csv and %s does", in->csv ? "it has" : "it has no",
			 in->csv ? "the first snapshot has none" : "the first snapshot");
		rc = SNAP_CONFLICT;
		goto out;
	}
	struct snap__report_clusters cl;
	if ((rc = snap_reader_report(in->r, &report, &len)) != SNAP_OK ||
	    (rc = snap__report_add_json(m->sums, report, len, &cl, why, sizeof why)) != SNAP_OK)
		goto out;
	/* k-means makes fewer clusters than asked only when there are fewer distinct points */
	if (cl.customers && (cl.seed != m->cfg->cluster_seed || cl.k > m->cfg->clusters ||
			     (cl.k < m->cfg->clusters && cl.customers >= 1000))) {
		snprintf(why, sizeof why,
			 "its clusters were made with k %" PRIu32 ", seed %" PRIu64
			 ": merge with -T clusters=K -T cluster_seed=S as the instances used",
			 cl.k, cl.seed);
		rc = SNAP_CONFLICT;
		goto out;
	}
	in->last_partition = -1;
	in->last_user = -1;
out:
	if (rc != SNAP_OK)
		snprintf(errbuf, errbuf_len, "%s: %s", path, why[0] ? why : snap_strerror(rc));
	free(report);
	return rc;
}

/* The next row of the merge (the lowest partition, then user_id, of the inputs' next rows).
 * @return 1 with *row_out (valid until the next call), 0 at the end, or an error. */
static int next_row(struct merge *m, const struct snap_row **row_out, char *errbuf, size_t errbuf_len)
{
	struct input *best = NULL;
	for (int i = 0; i < m->n; i++) {
		struct input *in = &m->in[i];
		if (!in->have && !in->done) {
			int rc = snap_reader_next(in->r, &in->row);
			if (rc < 0) {
				snprintf(errbuf, errbuf_len, "%s: rows: %s", snap_reader_path(in->r),
					 snap_strerror(rc));
				return rc;
			}
			in->have = rc == 1;
			in->done = rc == 0;
		}
		if (!in->have)
			continue;
		int64_t p = in->row.ints[m->col_partition], u = in->row.ints[m->col_user];
		int covered = 0;
		for (size_t k = 0; k < in->cov.n_partitions && !covered; k++)
			covered = in->cov.partitions[k] == p;
		if (!covered || p < in->last_partition || (p == in->last_partition && u <= in->last_user)) {
			snprintf(errbuf, errbuf_len, "%s: user %" PRId64 " of partition %" PRId64 " %s",
				 snap_reader_path(in->r), u, p,
				 covered ? "is out of (partition, user_id) order"
					 : "is in a partition it does not cover");
			return SNAP_FORMAT;
		}
		if (!best || p < best->row.ints[m->col_partition] ||
		    (p == best->row.ints[m->col_partition] && u < best->row.ints[m->col_user]))
			best = in;
	}
	if (!best)
		return 0;
	best->have = 0;
	best->last_partition = best->row.ints[m->col_partition];
	best->last_user = best->row.ints[m->col_user];
	*row_out = &best->row;
	return 1;
}

static void rewind_inputs(struct merge *m)
{
	for (int i = 0; i < m->n; i++) {
		snap__reader_rewind(m->in[i].r);
		m->in[i].have = m->in[i].done = 0;
		m->in[i].last_partition = m->in[i].last_user = -1;
	}
}

/* A row read back as the column values the sinks take, its cluster replaced. */
static int row_values(struct merge *m, const struct snap_row *row, int32_t cluster, struct snap_value *vals)
{
	size_t n, need = 0, at = 0;
	const struct snap_column *cols = snap_columns(&n);
	for (size_t i = 0; i < n; i++)
		need += row->text_len[i] + 1;
	if (need > m->text_cap) {
		char *t = realloc(m->text, need);
		if (!t)
			return SNAP_NOMEM;
		m->text = t;
		m->text_cap = need;
	}
	for (size_t i = 0; i < n; i++) {
		vals[i] = (struct snap_value){ .null = row->null[i] };
		if (row->null[i])
			continue;
		if (cols[i].type == SNAP_INT) {
			vals[i].i = row->ints[i];
		} else if (cols[i].type == SNAP_REAL) {
			vals[i].r = row->reals[i];
		} else {
			memcpy(m->text + at, row->texts[i], row->text_len[i]);
			m->text[at + row->text_len[i]] = 0;
			vals[i].s = m->text + at;
			at += row->text_len[i] + 1;
		}
	}
	vals[m->col_cluster] = (struct snap_value){ .i = cluster };
	return SNAP_OK;
}

/* The content of the merged snapshot, as snap__walk makes one of a state: the first pass gives
 * the clusters' features, the second each row with its cluster and the value drivers. */
static int fill_from_inputs(void *ctx, const struct snap__clusters_start *start, struct snap__open_sink *sinks, int n,
			    struct snap_report *r, struct snap__coverage *cov, char *errbuf, size_t errbuf_len)
{
	struct merge *m = ctx;
	struct snap__clusters cl = { .start = start };
	struct snap__drivers drivers = { 0 };
	const struct snap_row *row;
	uint64_t rows = 0;
	int rc;
	*r = *m->sums;
	r->cluster_start_sequence = start ? start->sequence : 0;
	while ((rc = next_row(m, &row, errbuf, errbuf_len)) == 1) {
		struct segment_labels l = { .low_activity = row->ints[m->col_low] != 0 };
		struct segment_drivers drv = { row->reals[m->col_basket], row->reals[m->col_rate],
					       row->reals[m->col_reorder] };
		rows++;
		if (m->cfg->clusters &&
		    (rc = snap__clusters_add(&cl, &l, &drv, (uint64_t)row->ints[m->col_spend])) != 0)
			goto out;
	}
	if (rc < 0)
		goto out;
	if (rows != r->customers) {
		snprintf(errbuf, errbuf_len, "%" PRIu64 " rows, the reports count %" PRIu64 " customers", rows,
			 r->customers);
		rc = SNAP_FORMAT;
		goto out;
	}
	if (m->cfg->clusters && rows && (rc = snap__clusters_run(&cl, m->cfg, &r->clusters)) != SNAP_OK)
		goto out;
	rewind_inputs(m);
	while ((rc = next_row(m, &row, errbuf, errbuf_len)) == 1) {
		uint64_t spend = (uint64_t)row->ints[m->col_spend];
		struct snap_value vals[SNAP_COLUMNS_MAX];
		if ((rc = row_values(m, row, snap__clusters_next(&cl, spend, r), vals)) != SNAP_OK)
			goto out;
		if (!row->ints[m->col_low]) {
			const double x[SNAP_DRIVERS] = { row->reals[m->col_basket], (double)row->ints[m->col_orders],
							 row->reals[m->col_rate], row->reals[m->col_reorder] };
			if ((rc = snap__drivers_add(&drivers, x, spend, (uint32_t)row->ints[m->col_user])) != 0)
				goto out;
		}
		if ((rc = snap__sinks_row(sinks, n, vals)) != SNAP_OK)
			goto out;
	}
	if (rc < 0)
		goto out;
	snap__drivers_finish(&drivers, r);
	/* the coverage: the one merged before publication began */
	for (size_t i = 0; i < m->cov.n_offsets && rc == SNAP_OK; i++)
		rc = snap__coverage_add_offset(cov, m->cov.offsets[i].topic, m->cov.offsets[i].partition,
					       m->cov.offsets[i].next);
	for (size_t i = 0; i < m->cov.n_partitions && rc == SNAP_OK; i++)
		rc = snap__coverage_add_partition(cov, m->cov.partitions[i]);
out:
	snap__drivers_free(&drivers);
	snap__clusters_free(&cl);
	return rc;
}

/* Whether out_dir is the snapshots directory of an input (publishing there would change it). */
static int is_input_dir(const struct merge *m, const char *out_dir)
{
	char a[PATH_MAX], b[PATH_MAX];
	if (!realpath(out_dir, a))
		return 0;
	for (int i = 0; i < m->n; i++)
		if (realpath(m->in[i].dir, b) && strcmp(a, b) == 0)
			return 1;
	return 0;
}

int snap_merge(const char *const *dirs, int n_dirs, const struct segment_config *cfg, const struct snap_options *opts,
	       const char *out_dir, uint64_t *seq_out, struct snap_report *report_out,
	       struct snap_merge_stats *stats_out, char *errbuf, size_t errbuf_len)
{
	char scratch[512];
	if (!errbuf || !errbuf_len) {
		errbuf = scratch;
		errbuf_len = sizeof scratch;
	}
	errbuf[0] = 0;
	struct merge m = { .cfg = cfg, .n = 0 };
	struct snap__coverage *parts = NULL;
	const char **names = NULL;
	struct snap_options o = *opts;
	int rc = SNAP_NOMEM;
	m.in = calloc(n_dirs > 0 ? (size_t)n_dirs : 1, sizeof *m.in);
	m.sums = calloc(1, sizeof *m.sums);
	parts = calloc(n_dirs > 0 ? (size_t)n_dirs : 1, sizeof *parts);
	names = calloc(n_dirs > 0 ? (size_t)n_dirs : 1, sizeof *names);
	if (!m.in || !m.sums || !parts || !names)
		goto out;
	m.sums->event_time_max_ms = INT64_MIN;
	m.col_partition = column("partition"), m.col_user = column("user_id"), m.col_low = column("low_activity");
	m.col_spend = column("spend_cents"), m.col_orders = column("orders"), m.col_basket = column("basket_size");
	m.col_rate = column("order_rate"), m.col_reorder = column("reorder_rate"), m.col_cluster = column("cluster");
	for (int i = 0; i < n_dirs; i++) {
		m.n++;
		if ((rc = open_input(&m, &m.in[i], dirs[i], errbuf, errbuf_len)) != SNAP_OK)
			goto out;
		parts[i] = m.in[i].cov;
		names[i] = dirs[i];
	}
	if (n_dirs < 1) {
		snprintf(errbuf, errbuf_len, "no snapshot to merge");
		rc = SNAP_NONE;
		goto out;
	}
	if (is_input_dir(&m, out_dir)) {
		snprintf(errbuf, errbuf_len, "%s is one of the snapshots merged: publish the merge elsewhere", out_dir);
		rc = SNAP_CONFLICT;
		goto out;
	}
	m.cov.events_topic = m.events_topic;
	if ((rc = snap__coverage_merge(&m.cov, parts, names, n_dirs, &m.differing, errbuf, errbuf_len)) != SNAP_OK)
		goto out;
	/* the row files of the inputs; the events topic theirs */
	o.n_sinks = 0;
	snap_options_add_sink(&o, &snap_sink_msgpack);
	if (m.in[0].csv)
		snap_options_add_sink(&o, &snap_sink_csv);
	o.events_topic = m.events_topic;
	if ((rc = snap__publish(fill_from_inputs, &m, cfg, &o, out_dir, seq_out, report_out, errbuf, errbuf_len)) !=
	    SNAP_OK)
		goto out;
	if (stats_out) {
		stats_out->inputs = n_dirs;
		stats_out->customers = m.sums->customers;
		stats_out->partitions = m.cov.n_partitions;
		stats_out->offsets = m.cov.n_offsets;
		stats_out->reference_offsets_max = m.differing;
	}
out:
	for (int i = 0; i < m.n; i++) {
		snap_reader_close(m.in[i].r);
		snap__coverage_free(&m.in[i].cov);
	}
	snap__coverage_free(&m.cov);
	free(m.text);
	free(m.in);
	free(m.sums);
	free(parts);
	free(names);
	return rc;
}
