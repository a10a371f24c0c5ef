/*
 * Loading the history on both cores: orders first (the lines are checked against them), then
 * the lines file in two byte ranges read by two threads, then grouped by order. The same
 * dataset functions as ds_history_load(), which reads on one thread; threads are the tool's.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "dataset/dataset.h"
#include "tools/segstream/cli.h"

struct range_job {
	const struct ds_history *h;
	const char *path;
	struct ds_range range;
	struct ds_line_set set;
	struct ds_report rep;
	int rc;
};

static void *collect_range(void *arg)
{
	struct range_job *j = arg;
	j->rc = ds_history_collect(j->h, j->path, &j->range, &j->set, &j->rep);
	return NULL;
}

enum { PARTS = 2 };

/*
 * Collects one lines file into sets[*n_sets ...] (up to PARTS more): in ranges on two
 * threads, or whole when it cannot be split (quoted fields). Bad rows are reported in file
 * order with their row numbers once every range is read.
 */
static int collect_file(const struct ds_history *h, const char *path, struct ds_line_set *sets, int *n_sets,
			struct ds_report *rep)
{
	struct ds_range ranges[PARTS];
	struct range_job jobs[PARTS];
	int n = 0;
	int rc = ds_file_ranges(path, PARTS, ranges, &n);
	if (rc != DS_OK)
		return rc;
	memset(jobs, 0, sizeof jobs);
	pthread_t threads[PARTS];
	int started[PARTS] = { 0 };
	for (int i = 0; i < n; i++) {
		jobs[i] = (struct range_job){ .h = h, .path = path, .range = ranges[i], .rep = *rep };
		jobs[i].rep.rows = jobs[i].rep.errors = 0;
		jobs[i].rep.deferred = NULL;
		jobs[i].rep.n_deferred = jobs[i].rep.cap_deferred = 0;
		if (i > 0) /* one progress counter is enough */
			jobs[i].rep.progress = NULL;
		if (i > 0 && pthread_create(&threads[i], NULL, collect_range, &jobs[i]) == 0)
			started[i] = 1;
	}
	for (int i = 0; i < n; i++)
		if (!started[i])
			collect_range(&jobs[i]);
	for (int i = 1; i < n; i++)
		if (started[i])
			pthread_join(threads[i], NULL);
	int split = 0;
	for (int i = 0; i < n; i++)
		split |= jobs[i].rc == DS_SPLIT;
	uint64_t rows_before = 0;
	int stopped = 0; /* a range stopped early: the rows after it cannot be numbered */
	for (int i = 0; i < n; i++) {
		if (split) { /* forget this reading: the whole file is read again below */
			jobs[i].rep.quiet = 1;
			ds_line_set_free(&jobs[i].set);
		} else {
			jobs[i].rep.quiet |= stopped;
			stopped |= jobs[i].rc != DS_OK;
			rep->rows += jobs[i].rep.rows;
			rep->errors += jobs[i].rep.errors;
			if (jobs[i].rc != DS_OK && rc == DS_OK)
				rc = jobs[i].rc;
			sets[(*n_sets)++] = jobs[i].set;
		}
		ds_report_settle(&jobs[i].rep, rows_before);
		rows_before += jobs[i].rep.range_rows;
	}
	if (split) {
		memset(&sets[*n_sets], 0, sizeof sets[*n_sets]);
		rc = ds_history_collect(h, path, NULL, &sets[*n_sets], rep);
		(*n_sets)++;
	}
	return rc;
}

int cli_history_load(const char *dir, int include_train, struct ds_history *h, struct ds_report *rep)
{
	char orders[4096], prior[4096], train[4096];
	struct ds_line_set sets[2 * PARTS];
	int n_sets = 0;
	memset(h, 0, sizeof *h);
	memset(sets, 0, sizeof sets);
	snprintf(orders, sizeof orders, "%s/orders.csv", dir);
	snprintf(prior, sizeof prior, "%s/order_products__prior.csv", dir);
	snprintf(train, sizeof train, "%s/order_products__train.csv", dir);
	int rc = ds_orders_read(orders, h, rep);
	if (rc == DS_OK)
		rc = collect_file(h, prior, sets, &n_sets, rep);
	if (rc == DS_OK && include_train)
		rc = collect_file(h, train, sets, &n_sets, rep);
	if (rc == DS_OK) {
		rc = ds_history_group(h, sets, n_sets); /* frees the sets */
	} else {
		for (int i = 0; i < n_sets; i++)
			ds_line_set_free(&sets[i]);
	}
	if (rc != DS_OK)
		ds_history_free(h);
	return rc;
}
