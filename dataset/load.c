/*
 * The history loader of dataset/ (ds_history_load): orders.csv, then each lines file, each in
 * two byte ranges read by two threads; the orders go into their table (the lines are checked
 * against it), the lines are grouped by order. The threads live only for the call.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "dataset/dataset_int.h"

enum { PARTS = DS_LINE_PARTS };

/* The caller's progress callback sees the rows of every range and file of one load: each
 * range's report adds what it read since its last call, under the lock, so the callback is
 * called one at a time. */
struct progress_sum {
	pthread_mutex_t lock;
	uint64_t rows; /* history rows read so far, both threads, every file */
	void (*fn)(uint64_t rows, void *ctx);
	void *ctx;
};

struct range_job {
	const struct ds_history *h;
	const char *path;
	int orders;       /* 1: orders.csv into order_rows; 0: a lines file into lines, or to cb */
	ds_line_cb cb;    /* NULL: lines are collected into lines */
	ds__rows_fn rows; /* with cb: its batch fast path, or NULL */
	void *cb_ctx;
	struct ds_range range;
	struct ds_order_rows order_rows;
	struct ds_line_set lines;
	struct ds_report rep;
	int rc;
	struct progress_sum *sum; /* NULL: no progress reported */
	uint64_t rows_summed;     /* of rep.rows, what is in sum->rows */
};

/* ds_report.progress of one range: adds its rows since its last call to the sum. */
static void add_progress(uint64_t rows, void *ctx)
{
	struct range_job *j = ctx;
	struct progress_sum *s = j->sum;
	pthread_mutex_lock(&s->lock);
	s->rows += rows - j->rows_summed;
	j->rows_summed = rows;
	s->fn(s->rows, s->ctx);
	pthread_mutex_unlock(&s->lock);
}

/* Counts in the sum what a job read after its last progress call (threads joined), or takes
 * out all it counted (forget: its reading is discarded). */
static void settle_progress(struct range_job *j, int forget)
{
	if (!j->sum)
		return;
	if (forget)
		j->sum->rows -= j->rows_summed;
	else
		j->sum->rows += j->rep.rows - j->rows_summed;
	j->rows_summed = forget ? 0 : j->rep.rows;
}

/* Gives a job's report the summing progress callback, if the load reports progress. */
static void use_progress(struct range_job *j, struct progress_sum *sum)
{
	j->sum = sum;
	if (sum) {
		j->rep.progress = add_progress;
		j->rep.progress_ctx = j;
		j->rows_summed = j->rep.rows;
	}
}

static void *read_range(void *arg)
{
	struct range_job *j = arg;
	const struct ds_range *range = j->range.end > 0 ? &j->range : NULL;
	if (j->orders)
		j->rc = ds_orders_collect(j->path, range, &j->order_rows, &j->rep);
	else if (j->cb)
		j->rc = ds__lines_read_range_rows(j->path, range, j->cb, j->rows, j->cb_ctx, &j->rep);
	else
		j->rc = ds_history_collect(j->h, j->path, range, &j->lines, &j->rep);
	return NULL;
}

static void free_job(struct range_job *j)
{
	ds_order_rows_free(&j->order_rows);
	ds_line_set_free(&j->lines);
}

/*
 * Reads one file into jobs[0 .. *n): in ranges on two threads, or whole (one job) when it
 * cannot be split (quoted fields). Bad rows are reported in file order with their row
 * numbers once every range is read; rows_before[i] is the number of rows before job i's range.
 * With a sink, job i's lines go to sink->ctx[i] (a reading that is discarded is reset first).
 */
static int read_file(const struct ds_history *h, const char *path, int orders, const struct ds_line_sink *sink,
		     ds__rows_fn rows, struct range_job *jobs, uint64_t *rows_before, int *n, struct ds_report *rep,
		     struct progress_sum *sum)
{
	struct ds_range ranges[PARTS];
	*n = 0;
	int rc = ds_file_ranges(path, PARTS, ranges, n);
	if (rc != DS_OK)
		return rc;
	pthread_t threads[PARTS];
	int started[PARTS] = { 0 };
	for (int i = 0; i < *n; i++) {
		jobs[i] = (struct range_job){ .h = h,
					      .path = path,
					      .orders = orders,
					      .range = ranges[i],
					      .rep = { .on_error = rep->on_error,
						       .log = rep->log,
						       .quiet = rep->quiet,
						       .libcsv_only = rep->libcsv_only,
						       .stop = rep->stop } };
		if (sink) {
			jobs[i].cb = sink->line;
			jobs[i].rows = rows;
			jobs[i].cb_ctx = sink->ctx[i];
		}
		use_progress(&jobs[i], sum);
	}
	for (int i = 1; i < *n; i++)
		started[i] = pthread_create(&threads[i], NULL, read_range, &jobs[i]) == 0;
	for (int i = 0; i < *n; i++)
		if (!started[i])
			read_range(&jobs[i]);
	for (int i = 1; i < *n; i++)
		if (started[i])
			pthread_join(threads[i], NULL);
	int split = 0;
	for (int i = 0; i < *n; i++)
		split |= jobs[i].rc == DS_SPLIT;
	uint64_t before = 0;
	int stopped = 0; /* a range stopped early: the rows after it cannot be numbered */
	for (int i = 0; i < *n; i++) {
		settle_progress(&jobs[i], split);
		if (split) { /* forget this reading: the whole file is read again below */
			jobs[i].rep.quiet = 1;
			free_job(&jobs[i]);
			if (sink)
				sink->reset(sink->ctx[i]);
		} else {
			jobs[i].rep.quiet |= stopped;
			stopped |= jobs[i].rc != DS_OK;
			rep->rows += jobs[i].rep.rows;
			rep->errors += jobs[i].rep.errors;
			if (jobs[i].rc != DS_OK && rc == DS_OK)
				rc = jobs[i].rc;
		}
		rows_before[i] = before;
		ds_report_settle(&jobs[i].rep, before);
		before += jobs[i].rep.range_rows;
	}
	if (split) {
		*n = 1;
		rows_before[0] = 0;
		jobs[0] = (struct range_job){ .h = h,
					      .path = path,
					      .orders = orders,
					      .cb = sink ? sink->line : NULL,
					      .rows = sink ? rows : NULL,
					      .cb_ctx = sink ? sink->ctx[0] : NULL,
					      .rep = *rep };
		use_progress(&jobs[0], sum);
		read_range(&jobs[0]);
		settle_progress(&jobs[0], 0);
		jobs[0].rep.progress = rep->progress;
		jobs[0].rep.progress_ctx = rep->progress_ctx;
		*rep = jobs[0].rep;
		rc = jobs[0].rc;
	}
	return rc;
}

/* Reads DIR/orders.csv into h's order table (read_file, then ds_orders_merge). */
static int load_orders(const char *dir, struct ds_history *h, struct ds_report *rep, struct progress_sum *sum)
{
	char orders[4096];
	struct range_job jobs[PARTS];
	uint64_t rows_before[PARTS];
	int n = 0;
	snprintf(orders, sizeof orders, "%s/orders.csv", dir);
	const uint64_t rows0 = rep->rows;
	int rc = read_file(h, orders, 1, NULL, NULL, jobs, rows_before, &n, rep, sum);
	struct ds_order_rows order_rows[PARTS];
	for (int i = 0; i < n; i++)
		order_rows[i] = jobs[i].order_rows;
	int mrc = ds_orders_merge(h, orders, order_rows, rows_before, n, rep); /* frees the rows */
	if (rc == DS_OK)
		rc = mrc;
	/* No order at all is no history: an empty file, a header alone, or rows none of which has the
	 * orders layout (a file without its header and with other columns). Refused, not 0 customers. */
	if (rc == DS_OK && h->n_orders == 0) {
		fprintf(rep->log ? rep->log : stderr,
			"%s: no order in it (%" PRIu64 " data rows): not an orders.csv with the header %s\n", orders,
			rep->rows - rows0,
			"order_id,user_id,eval_set,order_number,order_dow,order_hour_of_day,days_since_prior_order");
		rc = DS_LAYOUT;
	}
	return rc;
}

int ds_history_load(const char *dir, int include_train, struct ds_history *h, struct ds_report *rep)
{
	char prior[4096], train[4096];
	struct range_job jobs[PARTS];
	struct ds_line_set sets[2 * PARTS];
	uint64_t rows_before[PARTS];
	int n = 0, n_sets = 0;
	memset(h, 0, sizeof *h);
	memset(sets, 0, sizeof sets);
	snprintf(prior, sizeof prior, "%s/order_products__prior.csv", dir);
	snprintf(train, sizeof train, "%s/order_products__train.csv", dir);
	struct progress_sum progress = { .fn = rep->progress, .ctx = rep->progress_ctx };
	struct progress_sum *sum = rep->progress ? &progress : NULL;
	pthread_mutex_init(&progress.lock, NULL);

	int rc = load_orders(dir, h, rep, sum);
	const char *lines[2] = { prior, train };
	for (int f = 0; f < 1 + (include_train != 0) && rc == DS_OK; f++) {
		rc = read_file(h, lines[f], 0, NULL, NULL, jobs, rows_before, &n, rep, sum);
		for (int i = 0; i < n; i++)
			sets[n_sets++] = jobs[i].lines;
	}
	if (rc == DS_OK) {
		rc = ds_history_group(h, sets, n_sets); /* frees the sets */
	} else {
		for (int i = 0; i < n_sets; i++)
			ds_line_set_free(&sets[i]);
	}
	if (rc != DS_OK)
		ds_history_free(h);
	pthread_mutex_destroy(&progress.lock);
	return rc;
}

int ds_history_load_orders(const char *dir, struct ds_history *h, struct ds_report *rep)
{
	memset(h, 0, sizeof *h);
	struct progress_sum progress = { .fn = rep->progress, .ctx = rep->progress_ctx };
	pthread_mutex_init(&progress.lock, NULL);
	int rc = load_orders(dir, h, rep, rep->progress ? &progress : NULL);
	if (rc != DS_OK)
		ds_history_free(h);
	pthread_mutex_destroy(&progress.lock);
	return rc;
}

int ds_history_read_lines(const struct ds_history *h, const char *path, const struct ds_line_sink *sink,
			  struct ds_report *rep)
{
	return ds__history_read_lines_rows(h, path, sink, NULL, rep);
}

int ds__history_read_lines_rows(const struct ds_history *h, const char *path, const struct ds_line_sink *sink,
				ds__rows_fn rows, struct ds_report *rep)
{
	struct range_job jobs[PARTS];
	uint64_t rows_before[PARTS];
	int n = 0;
	struct progress_sum progress = { .fn = rep->progress, .ctx = rep->progress_ctx };
	pthread_mutex_init(&progress.lock, NULL);
	int rc = read_file(h, path, 0, sink, rows, jobs, rows_before, &n, rep, rep->progress ? &progress : NULL);
	pthread_mutex_destroy(&progress.lock);
	return rc;
}
