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

int cli_history_load(const char *dir, int include_train, struct ds_history *h, struct ds_report *rep)
{
	enum { PARTS = 2 };
	char orders[4096], prior[4096], train[4096];
	struct range_job jobs[PARTS + 1];
	struct ds_range ranges[PARTS];
	int n = 0, rc;
	memset(h, 0, sizeof *h);
	memset(jobs, 0, sizeof jobs);
	snprintf(orders, sizeof orders, "%s/orders.csv", dir);
	snprintf(prior, sizeof prior, "%s/order_products__prior.csv", dir);
	snprintf(train, sizeof train, "%s/order_products__train.csv", dir);
	if ((rc = ds_orders_read(orders, h, rep)) != DS_OK || (rc = ds_file_ranges(prior, PARTS, ranges, &n)) != DS_OK)
		goto out;
	pthread_t threads[PARTS];
	int started[PARTS] = { 0 };
	for (int i = 0; i < n; i++) {
		jobs[i] = (struct range_job){ .h = h, .path = prior, .range = ranges[i], .rep = *rep };
		jobs[i].rep.rows = jobs[i].rep.errors = 0;
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
	if (include_train) {
		jobs[n] = (struct range_job){ .h = h, .path = train, .rep = *rep };
		jobs[n].rep.rows = jobs[n].rep.errors = 0;
		jobs[n].rc = ds_history_collect(h, train, NULL, &jobs[n].set, &jobs[n].rep);
		n++;
	}
	struct ds_line_set sets[PARTS + 1];
	for (int i = 0; i < n; i++) {
		rep->rows += jobs[i].rep.rows;
		rep->errors += jobs[i].rep.errors;
		if (jobs[i].rc != DS_OK && rc == DS_OK)
			rc = jobs[i].rc;
		sets[i] = jobs[i].set;
	}
	if (rc == DS_OK) {
		rc = ds_history_group(h, sets, n);
		n = 0; /* the sets are freed */
	}
out:
	for (int i = 0; i < n; i++)
		ds_line_set_free(&jobs[i].set);
	if (rc != DS_OK)
		ds_history_free(h);
	return rc;
}
