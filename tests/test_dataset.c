/* Unit tests of dataset/: the quirks of the real catalog (SPEC §1) and of the other files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "dataset/dataset.h"
#include "dataset/dataset_int.h" /* the SWAR digits of the batch fast paths */

static char *path_of(const char *env, const char *name)
{
	static char buf[4][4096];
	static int i;
	const char *dir = getenv(env);
	assert_non_null(dir);
	i = (i + 1) % 4;
	snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
	return buf[i];
}

/* Creates the temporary file named by the template path (its XXXXXX replaced), for writing. */
static FILE *temp_file(char *path)
{
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	assert_non_null(f);
	return f;
}

static void test_price_cents_is_exact(void **state)
{
	(void)state;
	int32_t c = 0;
	assert_int_equal(ds_price_cents("14", 2, &c), 1);
	assert_int_equal(c, 1400);
	assert_int_equal(ds_price_cents("7.4", 3, &c), 1);
	assert_int_equal(c, 740);
	assert_int_equal(ds_price_cents("0.29", 4, &c), 1); /* 0.29 is not exact in binary */
	assert_int_equal(c, 29);
	assert_int_equal(ds_price_cents("1.005", 5, &c), 1); /* half away from zero */
	assert_int_equal(c, 101);
	assert_int_equal(ds_price_cents("1.0049", 6, &c), 1);
	assert_int_equal(c, 100);
	assert_int_equal(ds_price_cents("100", 3, &c), 1);
	assert_int_equal(c, 10000);
	assert_int_equal(ds_price_cents("100.01", 6, &c), 0);
	assert_int_equal(ds_price_cents("14900", 5, &c), 0);
	assert_int_equal(ds_price_cents("0", 1, &c), 0);
	assert_int_equal(ds_price_cents("", 0, &c), 0);
	assert_int_equal(ds_price_cents("abc", 3, &c), 0);
	assert_int_equal(ds_price_cents("-3", 2, &c), 0);
	assert_int_equal(ds_price_cents(".", 1, &c), 0);
}

static void count_progress(uint64_t rows, void *ctx)
{
	(void)rows;
	++*(int *)ctx;
}

static void test_real_products_catalog(void **state)
{
	(void)state;
	struct ds_products p;
	int progress_calls = 0;
	struct ds_report rep = { .on_error = DS_ON_ERROR_FAIL,
				 .progress = count_progress,
				 .progress_ctx = &progress_calls };
	assert_int_equal(ds_products_read(path_of("SEGSTREAM_FIXTURES", "products.csv"), &p, &rep), DS_OK);
	assert_int_equal(progress_calls, 0); /* every 1,048,576 rows: none here, not even at the header */
	/* 49,693 rows; 7 repeat an id (5 exact, 2 conflicting). The conflicting rows took the place
	 * of ids 6799 and 26519, which this copy lacks: 49,686 distinct ids, max id 49,688. */
	assert_int_equal(p.count, 49686);
	assert_null(ds_product_find(&p, 6799));
	assert_non_null(ds_product_find(&p, 49688));
	assert_int_equal(p.duplicate_rows, 5 + 2); /* 5 exact + 2 conflicting duplicates */
	assert_int_equal(p.no_price_column, 0);
	assert_int_equal(rep.errors, 0);
	const struct ds_product *e = ds_product_find(&p, 6800);
	assert_non_null(e); /* the last row wins */
	assert_int_equal(e->aisle_id, 92);
	assert_int_equal(e->department_id, 18);
	assert_int_equal(e->price_cents, 1400);
	e = ds_product_find(&p, 26520);
	assert_int_equal(e->aisle_id, 21);
	assert_int_equal(e->department_id, 16);
	assert_int_equal(e->price_cents, 290);
	assert_int_equal(ds_product_find(&p, 21553)->price_cents, -1); /* outliers are unpriced */
	assert_int_equal(ds_product_find(&p, 33664)->price_cents, -1);
	assert_int_equal(ds_product_find(&p, 11908)->price_cents, 360); /* #NAME? row still a product */
	assert_int_equal(ds_product_find(&p, 105)->department_id, 17);  /* backslash-quote name parsed */
	assert_null(ds_product_find(&p, 49689));
	ds_products_free(&p);
}

/* products.csv without its prices column: every product unpriced, counted and said once. */
static void test_products_without_prices_column(void **state)
{
	(void)state;
	struct ds_products p;
	char log[1024] = "";
	FILE *f = fmemopen(log, sizeof log, "w");
	struct ds_report rep = { .on_error = DS_ON_ERROR_FAIL, .log = f, .quiet = 1 };
	assert_int_equal(ds_products_read(path_of("SEGSTREAM_FIXTURES", "products_noprices.csv"), &p, &rep), DS_OK);
	fclose(f);
	assert_int_equal(p.count, 7);
	assert_int_equal(p.no_price_column, 7);
	assert_int_equal(p.unpriced, 7);
	assert_int_equal(ds_product_find(&p, 4)->price_cents, -1);
	assert_int_equal(ds_product_find(&p, 4)->department_id, 1);
	assert_non_null(strstr(log,
			       "products_noprices.csv: warning: no prices column: no product has a price, so every "
			       "spending label will be unknown\n"));
	assert_null(strstr(strchr(log, '\n') + 1, "warning")); /* once */
	ds_products_free(&p);

	/* some rows with a price, some without (no header): the count and the share */
	char path[] = "/tmp/segstream-products-XXXXXX";
	f = temp_file(path);
	fprintf(f, "1,a,61,19,5.8\n2,b,104,13\n3,c,94,7,4.5\n");
	fclose(f);
	log[0] = 0;
	f = fmemopen(log, sizeof log, "w");
	rep = (struct ds_report){ .on_error = DS_ON_ERROR_FAIL, .log = f };
	assert_int_equal(ds_products_read(path, &p, &rep), DS_OK);
	fclose(f);
	unlink(path);
	assert_true(p.count == 3 && p.no_price_column == 1 && p.unpriced == 1);
	assert_non_null(strstr(log, ": warning: 1 of 3 rows have no prices column"));
	ds_products_free(&p);
}

/*
 * An id-indexed table grows by steps (ids in a row) and by a jump (one high id): every product
 * read before a growth is still there after it, with its fields, and the ids between are empty.
 */
static void test_table_growth_keeps_entries(void **state)
{
	(void)state;
	char path[] = "/tmp/segstream-products-XXXXXX";
	FILE *f = temp_file(path);
	for (unsigned id = 1; id <= 3000; id++) /* 1024 -> 2048 -> 4096 */
		fprintf(f, "%u,p,%u,%u,%u.5\n", id, id % 134 + 1, id % 21 + 1, id % 99 + 1);
	fprintf(f, "4000000,q,7,3,1.25\n4000001,r,8,4\n3000,s,9,5,2\n");
	fclose(f);
	struct ds_products p;
	struct ds_report rep = { .on_error = DS_ON_ERROR_FAIL, .quiet = 1 };
	assert_int_equal(ds_products_read(path, &p, &rep), DS_OK);
	unlink(path);
	assert_int_equal(p.count, 3002);
	assert_int_equal(p.duplicate_rows, 1);
	assert_true(p.cap > 4000001);
	for (unsigned id = 1; id < 3000; id++) {
		const struct ds_product *e = ds_product_find(&p, id);
		assert_non_null(e);
		assert_int_equal(e->aisle_id, id % 134 + 1);
		assert_int_equal(e->department_id, id % 21 + 1);
		assert_int_equal(e->price_cents, (int32_t)(id % 99 + 1) * 100 + 50);
	}
	assert_int_equal(ds_product_find(&p, 3000)->aisle_id, 9); /* the last row wins */
	assert_int_equal(ds_product_find(&p, 4000000)->price_cents, 125);
	assert_int_equal(ds_product_find(&p, 4000001)->department_id, 4);
	for (unsigned id = 3001; id < 4000000; id += 997)
		assert_null(ds_product_find(&p, id));
	assert_null(ds_product_find(&p, 3999999));
	assert_null(ds_product_find(&p, 4000002));
	ds_products_free(&p);
}

/* A file that is not a regular one (a pipe: no size to read by) is read whole all the same. */
static void test_read_from_a_pipe(void **state)
{
	(void)state;
	char dir[] = "/tmp/segstream-fifo-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[sizeof dir + 16];
	snprintf(path, sizeof path, "%s/products.csv", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		FILE *w = fopen(path, "w");
		for (unsigned id = 1; w && id <= 50000; id++) /* several pipe buffers, more than one read */
			fprintf(w, "%u,product %u,%u,%u,%u\n", id, id, id % 134 + 1, id % 21 + 1, id % 99 + 1);
		_exit(w && fclose(w) == 0 ? 0 : 1);
	}
	struct ds_products p;
	struct ds_report rep = { .on_error = DS_ON_ERROR_FAIL, .quiet = 1 };
	assert_int_equal(ds_products_read(path, &p, &rep), DS_OK);
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	unlink(path);
	rmdir(dir);
	assert_int_equal(p.count, 50000);
	assert_int_equal(rep.rows, 50000);
	assert_int_equal(ds_product_find(&p, 50000)->price_cents, (int32_t)(50000 % 99 + 1) * 100);
	ds_products_free(&p);
}

static void test_departments_both_layouts(void **state)
{
	(void)state;
	struct ds_departments wide, lng;
	struct ds_report rep = { .on_error = DS_ON_ERROR_FAIL };
	assert_int_equal(ds_departments_read(path_of("SEGSTREAM_FIXTURES", "departments.csv"), &wide, &rep), DS_OK);
	assert_int_equal(ds_departments_read(path_of("SEGSTREAM_FIXTURES", "departments_long.csv"), &lng, &rep), DS_OK);
	assert_int_equal(wide.count, 21);
	assert_int_equal(lng.count, 21);
	for (int id = 1; id <= 21; id++)
		assert_string_equal(wide.names[id], lng.names[id]);
	assert_string_equal(wide.names[4], "produce");
	assert_string_equal(wide.names[16], "dairy eggs");
}

/* aisles.csv of the real catalog: 134 names by id; a bad row is a row error, a wrong header a layout error. */
static void test_aisles(void **state)
{
	(void)state;
	static struct ds_aisles a;
	struct ds_report rep = { .on_error = DS_ON_ERROR_FAIL };
	assert_int_equal(ds_aisles_read(path_of("SEGSTREAM_DATA", "aisles.csv"), &a, &rep), DS_OK);
	assert_int_equal(a.count, 134);
	assert_string_equal(a.names[1], "prepared soups salads");
	assert_string_equal(a.names[134], "specialty wines champagnes");
	assert_string_equal(a.names[0], "");
	char path[] = "/tmp/segstream-aisles-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fputs("aisle_id,aisle\n1,fresh fruits\n0,zero\n2,\n3,x,y\n", f);
	fclose(f);
	struct ds_report skip = { .on_error = DS_ON_ERROR_SKIP, .log = fopen("/dev/null", "w") };
	assert_int_equal(ds_aisles_read(path, &a, &skip), DS_OK);
	fclose(skip.log);
	assert_int_equal(a.count, 1);
	assert_int_equal(skip.errors, 3);
	assert_string_equal(a.names[1], "fresh fruits");
	f = fopen(path, "w");
	fputs("id,name\n1,x\n", f);
	fclose(f);
	assert_int_equal(ds_aisles_read(path, &a, &rep), DS_LAYOUT);
	unlink(path);
}

/* The names of a data directory as the stream carries them: departments first, then aisles. */
static void test_names_of_a_data_directory(void **state)
{
	(void)state;
	struct ds_report rep = { .on_error = DS_ON_ERROR_FAIL };
	struct event_name *names;
	size_t n;
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", path_of("SEGSTREAM_DATA", "aisles.csv"));
	*strrchr(dir, '/') = 0;
	assert_int_equal(ds_names_read(dir, &names, &n, &rep), DS_OK);
	assert_int_equal(n, 21 + 134);
	assert_true(names[0].kind == EVENT_NAME_DEPARTMENT && names[0].id == 1);
	assert_string_equal(names[0].name, "frozen");
	assert_true(names[20].kind == EVENT_NAME_DEPARTMENT && names[20].id == 21);
	assert_true(names[21].kind == EVENT_NAME_AISLE && names[21].id == 1);
	assert_string_equal(names[21].name, "prepared soups salads");
	free(names);
	/* The fixtures: the transposed departments.csv, no aisles.csv. */
	snprintf(dir, sizeof dir, "%s", path_of("SEGSTREAM_FIXTURES", "departments.csv"));
	*strrchr(dir, '/') = 0;
	assert_int_equal(ds_names_read(dir, &names, &n, &rep), DS_OK);
	assert_int_equal(n, 21);
	assert_string_equal(names[3].name, "produce");
	free(names);
	assert_int_equal(ds_names_read("/nonexistent", &names, &n, &rep), DS_OK);
	assert_true(n == 0 && names == NULL);
}

static void test_orders_quirks_and_row_errors(void **state)
{
	(void)state;
	struct ds_history h;
	memset(&h, 0, sizeof h);
	char log[4096] = "";
	FILE *f = fmemopen(log, sizeof log, "w");
	struct ds_report rep = { .on_error = DS_ON_ERROR_SKIP, .log = f };
	assert_int_equal(ds_orders_read(path_of("SEGSTREAM_FIXTURES", "orders_quirks.csv"), &h, &rep), DS_OK);
	fclose(f);
	assert_int_equal(h.n_orders, 4);
	assert_int_equal(rep.errors, 3); /* hour 25, eval_set bogus, days 31 */
	assert_non_null(strstr(log, "orders_quirks.csv:5: order_hour_of_day '25'"));
	assert_non_null(strstr(log, "orders_quirks.csv:6: eval_set 'bogus'"));
	assert_non_null(strstr(log, "orders_quirks.csv:7: days_since_prior_order '31.0'"));
	assert_int_equal(h.orders[2539329].days, -1);
	assert_int_equal(h.orders[2539329].hour, 8);
	assert_int_equal(h.orders[2398795].days, 15);
	assert_int_equal(h.orders[473747].days, 21); /* quoted numbers are numbers */
	assert_int_equal(h.orders[473747].order_number, 3);
	assert_int_equal(h.orders[12].eval_set, DS_EVAL_TRAIN);
	assert_int_equal(h.n_rejected_orders, 3); /* the bad rows' ids, sorted */
	assert_true(h.rejected_orders[0] == 9 && h.rejected_orders[1] == 10 && h.rejected_orders[2] == 11);
	ds_history_free(&h);

	memset(&h, 0, sizeof h);
	rep = (struct ds_report){ .on_error = DS_ON_ERROR_FAIL, .quiet = 1 };
	assert_int_equal(ds_orders_read(path_of("SEGSTREAM_FIXTURES", "orders_quirks.csv"), &h, &rep), DS_ROWS);
	assert_int_equal(rep.errors, 1); /* stops at the first bad row */
	ds_history_free(&h);
}

/* orders.csv read in two ranges and merged equals the whole read; a repeated id is a bad row. */
static void test_orders_in_ranges_and_repeated_ids(void **state)
{
	(void)state;
	char path[] = "/tmp/segstream-orders-XXXXXX";
	FILE *f = temp_file(path);
	fprintf(f, "order_id,user_id,eval_set,order_number,order_dow,order_hour_of_day,days_since_prior_order\n");
	for (int i = 1; i <= 100000; i++) /* ids scattered, rows by user as in Kaggle's file */
		fprintf(f, "%d,%d,prior,%d,1,10,%s\n", (i * 7919) % 100003, (i - 1) / 10 + 1, (i - 1) % 10 + 1,
			(i - 1) % 10 ? "3.0" : "");
	fprintf(f, "%d,99999,prior,1,1,10,\n", 7919); /* row 100002: the id of row 2 again */
	fclose(f);
	struct ds_history whole = { 0 }, parts = { 0 };
	char log_whole[512] = "", log_parts[512] = "";
	FILE *lw = fmemopen(log_whole, sizeof log_whole, "w"), *lp = fmemopen(log_parts, sizeof log_parts, "w");
	struct ds_report rw = { .on_error = DS_ON_ERROR_SKIP, .log = lw };
	assert_int_equal(ds_orders_read(path, &whole, &rw), DS_OK);
	struct ds_range ranges[2];
	int n = 0;
	assert_int_equal(ds_file_ranges(path, 2, ranges, &n), DS_OK);
	assert_int_equal(n, 2);
	struct ds_order_rows rows[2] = { { 0 }, { 0 } };
	struct ds_report rp[2] = { { .on_error = DS_ON_ERROR_SKIP, .log = lp },
				   { .on_error = DS_ON_ERROR_SKIP, .log = lp } };
	assert_int_equal(ds_orders_collect(path, &ranges[1], &rows[1], &rp[1]), DS_OK);
	assert_int_equal(ds_orders_collect(path, &ranges[0], &rows[0], &rp[0]), DS_OK);
	const uint64_t before[2] = { 0, rp[0].range_rows };
	assert_int_equal(ds_orders_merge(&parts, path, rows, before, 2, &rp[0]), DS_OK);
	assert_null(rows[0].rows);
	fclose(lw);
	fclose(lp);
	unlink(path);
	assert_true(whole.n_orders == 100000 && parts.n_orders == 100000 && rw.errors == 1 && rp[0].errors == 1);
	assert_non_null(strstr(log_whole, ":100002: order_id 7919 appears twice"));
	assert_string_equal(log_whole, log_parts);
	assert_int_equal(whole.orders[7919].user_id, 1); /* the first row wins */
	assert_int_equal(whole.cap, parts.cap);
	assert_memory_equal(whole.orders, parts.orders, whole.cap * sizeof *whole.orders);
	assert_memory_equal(whole.by_user, parts.by_user, whole.n_by_user * sizeof *whole.by_user);
	/* the file is by user: the timeline keeps its order without sorting, like a sort would */
	assert_int_equal(ds_history_build_timeline(&parts, NULL, 0), DS_OK);
	assert_memory_equal(whole.by_user, parts.by_user, whole.n_by_user * sizeof *whole.by_user);
	for (uint64_t i = 1; i < parts.n_by_user; i++) {
		const struct ds_order *a = &parts.orders[parts.by_user[i - 1]], *b = &parts.orders[parts.by_user[i]];
		assert_true(a->user_id < b->user_id || (a->user_id == b->user_id && a->order_number < b->order_number));
	}
	ds_history_free(&whole);
	ds_history_free(&parts);
}

static void test_orders_without_header_all_quoted_crlf(void **state)
{
	(void)state;
	struct ds_history h;
	memset(&h, 0, sizeof h);
	struct ds_report rep = { .on_error = DS_ON_ERROR_FAIL };
	assert_int_equal(ds_orders_read(path_of("SEGSTREAM_FIXTURES", "orders_noheader.csv"), &h, &rep), DS_OK);
	assert_int_equal(h.n_orders, 2);
	assert_int_equal(rep.rows, 2);
	assert_int_equal(h.orders[2539329].hour, 8);
	assert_int_equal(h.orders[2539329].days, -1);
	assert_int_equal(h.orders[2398795].days, 15);
	ds_history_free(&h);
}

static void test_history_groups_lines_and_reports_orphans(void **state)
{
	(void)state;
	/* Build a directory with the fixtures under the names ds_history_load expects. */
	char dir[] = "/tmp/segstream-ds-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char cmd[8192];
	snprintf(cmd, sizeof cmd,
		 "cp %s %s/orders.csv && cp %s %s/order_products__prior.csv && cp %s %s/order_products__train.csv",
		 path_of("SEGSTREAM_FIXTURES", "orders_quirks.csv"), dir,
		 path_of("SEGSTREAM_FIXTURES", "lines_quirks.csv"), dir,
		 path_of("SEGSTREAM_FIXTURES", "lines_quirks.csv"), dir);
	assert_int_equal(system(cmd), 0);
	struct ds_history h;
	char log[2048] = "";
	FILE *f = fmemopen(log, sizeof log, "w");
	struct ds_report rep = { .on_error = DS_ON_ERROR_SKIP, .log = f };
	assert_int_equal(ds_history_load(dir, 0, &h, &rep), DS_OK);
	fclose(f);
	assert_int_equal(h.n_lines, 5); /* 8 rows - unknown order 999999 - product 'abc' - rejected order 10 */
	assert_int_equal(h.orphan_lines, 2);
	assert_non_null(strstr(log, "order_products__prior.csv:5: order_id 999999 is not in orders.csv\n"));
	/* order 10's row in orders.csv was rejected (eval_set 'bogus'): its line says so */
	assert_non_null(strstr(log, "order_products__prior.csv:8: order_id 10 was rejected (bad row in orders.csv)\n"));
	assert_int_equal(h.orders[2539329].n_lines, 2);
	assert_int_equal(h.lines[h.orders[2539329].first_line + 1].product_id, 14084);
	assert_int_equal(ds_history_build_timeline(&h, NULL, 1), DS_OK);
	assert_int_equal(h.n_by_user, 4);        /* every valid order, lines or not */
	assert_int_equal(h.by_user[0], 2539329); /* user 1's orders 1, 2, 3 although their ids descend */
	assert_int_equal(h.by_user[1], 2398795);
	assert_int_equal(h.by_user[2], 473747);
	assert_int_equal(h.by_user[3], 12);
	assert_int_equal(h.n_timeline, 4); /* orders with lines */
	/* user 1's orders stay in order_number order on the timeline */
	int64_t t1 = h.orders[2539329].event_time_ms, t2 = h.orders[2398795].event_time_ms,
		t3 = h.orders[473747].event_time_ms;
	assert_true(t1 < t2 && t2 < t3);
	assert_true(t2 - t1 == (15 * 24 + 7 - 8) * 3600000LL);
	ds_history_free(&h);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* Writes DIR/orders.csv and DIR/order_products__prior.csv, quote-free and big enough to be read
 * in two ranges: 20,000 orders of 2,000 users, 3 lines each, a bad row in each file's second half. */
static void write_history(const char *dir)
{
	char path[4096];
	static char known[20011];
	snprintf(path, sizeof path, "%s/orders.csv", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "order_id,user_id,eval_set,order_number,order_dow,order_hour_of_day,days_since_prior_order\n");
	for (int i = 1; i <= 20000; i++) {
		known[(i * 7919) % 20011] = 1;
		fprintf(f, "%d,%d,prior,%d,%d,%d,%s\n", (i * 7919) % 20011, (i - 1) / 10 + 1, (i - 1) % 10 + 1, i % 7,
			i % 24, (i - 1) % 10 ? "7.0" : "");
		if (i == 15000)
			fprintf(f, "99,1,prior,1,9,10,\n"); /* row 15002: dow 9 */
	}
	fclose(f);
	snprintf(path, sizeof path, "%s/order_products__prior.csv", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "order_id,product_id,add_to_cart_order,reordered\n");
	for (int id = 1; id < 20011; id++) {
		if (!known[id])
			continue;
		for (int k = 1; k <= 3; k++)
			fprintf(f, "%d,%d,%d,%d\n", id, (id * k) % 49688 + 1, k, k > 1);
		if (id == 15000)
			fprintf(f, "15000,oops,4,0\n");
	}
	fclose(f);
}

/* The loader reads on two threads; it must give what one whole read of each file gives. */
static void test_load_on_two_threads_equals_one_read(void **state)
{
	(void)state;
	char dir[] = "/tmp/segstream-load-XXXXXX";
	assert_non_null(mkdtemp(dir));
	write_history(dir);
	char path[4096], log_one[1024] = "", log_two[1024] = "";
	struct ds_history one = { 0 }, two;
	FILE *l1 = fmemopen(log_one, sizeof log_one, "w"), *l2 = fmemopen(log_two, sizeof log_two, "w");
	struct ds_report r1 = { .on_error = DS_ON_ERROR_SKIP, .log = l1 };
	struct ds_report r2 = { .on_error = DS_ON_ERROR_SKIP, .log = l2 };
	snprintf(path, sizeof path, "%s/orders.csv", dir);
	assert_int_equal(ds_orders_read(path, &one, &r1), DS_OK);
	struct ds_line_set set = { 0 };
	snprintf(path, sizeof path, "%s/order_products__prior.csv", dir);
	assert_int_equal(ds_history_collect(&one, path, NULL, &set, &r1), DS_OK);
	assert_int_equal(ds_history_group(&one, &set, 1), DS_OK);
	struct ds_range ranges[2];
	int n = 0;
	assert_int_equal(ds_file_ranges(path, 2, ranges, &n), DS_OK);
	assert_int_equal(n, 2); /* so the loader does read it in two ranges */
	assert_int_equal(ds_history_load(dir, 0, &two, &r2), DS_OK);
	fclose(l1);
	fclose(l2);
	assert_true(r1.rows == r2.rows && r1.errors == 2 && r2.errors == 2);
	assert_string_equal(log_one, log_two);
	assert_non_null(strstr(log_two, "orders.csv:15002: order_dow '9'"));
	assert_non_null(strstr(log_two, "order_products__prior.csv:"));
	assert_non_null(strstr(log_two, ": product_id 'oops'"));
	assert_true(one.n_orders == 20000 && two.n_orders == 20000 && one.n_lines == two.n_lines);
	assert_int_equal(one.cap, two.cap);
	assert_memory_equal(one.orders, two.orders, one.cap * sizeof *one.orders);
	assert_memory_equal(one.lines, two.lines, one.n_lines * sizeof *one.lines);
	assert_memory_equal(one.by_user, two.by_user, one.n_by_user * sizeof *one.by_user);
	ds_history_free(&one);
	ds_history_free(&two);
	snprintf(path, sizeof path, "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

/* What the progress callback saw: its calls, the last count, whether a count went down. */
struct progress_seen {
	int calls, decreased;
	uint64_t last;
};

static void record_progress(uint64_t rows, void *ctx)
{
	struct progress_seen *p = ctx;
	p->decreased |= rows < p->last;
	p->last = rows;
	p->calls++;
}

/* The loader's progress counts the rows of both reading threads (and every file): 2,600,000
 * lines read in two ranges reach 2 x 2^20 in the count, which one thread's rows alone cannot
 * (1,300,000 each). */
static void test_load_progress_counts_both_threads(void **state)
{
	(void)state;
	char dir[] = "/tmp/segstream-progress-XXXXXX", path[4096];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/orders.csv", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "order_id,user_id,eval_set,order_number,order_dow,order_hour_of_day,days_since_prior_order\n");
	for (int i = 1; i <= 1000; i++)
		fprintf(f, "%d,%d,prior,%d,1,10,%s\n", i, (i - 1) / 10 + 1, (i - 1) % 10 + 1,
			(i - 1) % 10 ? "7.0" : "");
	fclose(f);
	snprintf(path, sizeof path, "%s/order_products__prior.csv", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "order_id,product_id,add_to_cart_order,reordered\n");
	for (int i = 1; i <= 1000; i++)
		for (int k = 1; k <= 2600; k++)
			fprintf(f, "%d,%d,%d,0\n", i, k, k);
	fclose(f);
	struct progress_seen seen = { 0 };
	struct ds_report rep = { .on_error = DS_ON_ERROR_FAIL, .progress = record_progress, .progress_ctx = &seen };
	struct ds_history h;
	assert_int_equal(ds_history_load(dir, 0, &h, &rep), DS_OK);
	assert_true(rep.rows == 2601000 && h.n_lines == 2600000);
	assert_true(seen.last >= 2u << 20 && seen.last <= rep.rows);
	assert_true(seen.calls >= 2);
	assert_false(seen.decreased);
	ds_history_free(&h);
	snprintf(path, sizeof path, "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

/* The timeline counts the users of orders.csv and those without a row in customers.csv. */
static void test_users_without_demographics(void **state)
{
	(void)state;
	char path[] = "/tmp/segstream-customers-XXXXXX";
	FILE *f = temp_file(path);
	fprintf(f, "User_id,First Name,Surnam,Gender,STATE,Age,date_joined,n_dependants,fam_status,income\n");
	fprintf(f, "2,Ann,Lee,Female,Ohio,44,1/1/2017,2,married,59689\n"); /* user 2 of orders_quirks.csv */
	fprintf(f, "77,Bob,Kay,Male,Texas,30,2/1/2017,0,single,30000\n");  /* no orders: not counted */
	fclose(f);
	struct ds_customers customers;
	struct ds_report rep = { .on_error = DS_ON_ERROR_FAIL };
	assert_int_equal(ds_customers_read(path, &customers, &rep), DS_OK);
	unlink(path);
	assert_int_equal(customers.count, 2);
	struct ds_history h = { 0 };
	rep = (struct ds_report){ .on_error = DS_ON_ERROR_SKIP, .quiet = 1 };
	assert_int_equal(ds_orders_read(path_of("SEGSTREAM_FIXTURES", "orders_quirks.csv"), &h, &rep), DS_OK);
	assert_int_equal(ds_history_build_timeline(&h, &customers, 0), DS_OK);
	assert_int_equal(h.n_users, 2);                /* users 1 and 2 */
	assert_int_equal(h.users_without_customer, 1); /* user 1 */
	/* user 2 joined 1/1/2017: its first valid order (12; 9, 10 and 11 are bad rows) is on that day */
	assert_int_equal(h.orders[12].event_time_ms / 86400000LL, 17167);
	assert_int_equal(ds_history_build_timeline(&h, NULL, 0), DS_OK);
	assert_int_equal(h.users_without_customer, 2); /* no customers at all: nobody has a row */
	ds_history_free(&h);
	ds_customers_free(&customers);
}

/* Sums every field of every line it sees, and counts them. */
static int sum_line(const struct ds_line *l, void *ctx, char *why, size_t why_len)
{
	(void)why, (void)why_len;
	uint64_t *acc = ctx;
	acc[0]++;
	acc[1] = acc[1] * 31 + l->order_id * 7 + l->product_id * 3 + l->add_to_cart * 5 + l->reordered;
	return 0;
}

static void test_fast_path_equals_libcsv(void **state)
{
	(void)state;
	/* 300,000 quote-free rows (over a MiB: several chunks), CRLF on some, an empty line and a
	 * bad row, then quoted rows: the reader switches to libcsv in the middle of the file. */
	char path[] = "/tmp/segstream-lines-XXXXXX";
	FILE *f = temp_file(path);
	fprintf(f, "order_id,product_id,add_to_cart_order,reordered\n");
	for (int i = 1; i <= 300000; i++)
		fprintf(f, "%d,%d,%d,%d%s", i / 10 + 1, i % 49688 + 1, i % 10 + 1, i % 2, i % 7 ? "\n" : "\r\n");
	fprintf(f, "\n17,abc,1,0\n\"5\",\"196\",\"1\",\"1\"\n\"6\",\"7,\"\"x\",1,0\n");
	for (int i = 1; i <= 1000; i++)
		fprintf(f, "%d,%d,%d,0\n", 90000 + i, i, i);
	fprintf(f, "77,78,79,1"); /* no final newline */
	fclose(f);
	uint64_t fast[2] = { 0, 0 }, slow[2] = { 0, 0 };
	struct ds_report rf = { .on_error = DS_ON_ERROR_SKIP, .quiet = 1 };
	struct ds_report rs = { .on_error = DS_ON_ERROR_SKIP, .quiet = 1, .libcsv_only = 1 };
	assert_int_equal(ds_lines_read(path, sum_line, fast, &rf), DS_OK);
	assert_int_equal(ds_lines_read(path, sum_line, slow, &rs), DS_OK);
	unlink(path);
	assert_int_equal(fast[0], 300000 + 1 + 1000 + 1);
	assert_true(fast[0] == slow[0] && fast[1] == slow[1]);
	assert_true(rf.rows == rs.rows && rf.errors == rs.errors);
	assert_int_equal(rf.errors, 2); /* 'abc' and the quoted comma in a product id */
}

/* Rows the lines reader's fast path must leave to the row reader: each is judged as before. */
static void test_fast_path_leaves_odd_rows_to_the_row_reader(void **state)
{
	(void)state;
	char path[] = "/tmp/segstream-odd-XXXXXX";
	FILE *f = temp_file(path);
	fprintf(f, "order_id,product_id,add_to_cart_order,reordered\n"
		   "5,1,1,0\n"
		   " 6,2,2,1\n"          /* a space: trimmed, a line */
		   "7,3,4.0,1\n"         /* a ".0" fraction: a line */
		   "8,4,70000,0\n"       /* add_to_cart out of range */
		   "12345678901,5,1,0\n" /* 11 digits */
		   "9,6,1,2\n"           /* reordered 2 */
		   "0,7,1,0\n"           /* order_id 0 */
		   "10,4294967295,3,1\n" /* the largest product id: a line */
		   "11,8,1,0,9\n"        /* five columns */
		   "12,9,1\n");          /* three */
	fclose(f);
	uint64_t fast[2] = { 0, 0 }, slow[2] = { 0, 0 };
	char log_fast[2048] = "", log_slow[2048] = "";
	FILE *lf = fmemopen(log_fast, sizeof log_fast, "w"), *ls = fmemopen(log_slow, sizeof log_slow, "w");
	struct ds_report rf = { .on_error = DS_ON_ERROR_SKIP, .log = lf };
	struct ds_report rs = { .on_error = DS_ON_ERROR_SKIP, .log = ls, .libcsv_only = 1 };
	assert_int_equal(ds_lines_read(path, sum_line, fast, &rf), DS_OK);
	assert_int_equal(ds_lines_read(path, sum_line, slow, &rs), DS_OK);
	fclose(lf);
	fclose(ls);
	unlink(path);
	assert_int_equal(fast[0], 4);
	assert_true(fast[0] == slow[0] && fast[1] == slow[1]);
	assert_true(rf.rows == 10 && rs.rows == 10 && rf.errors == 6 && rs.errors == 6);
	assert_string_equal(log_fast, log_slow);
	assert_non_null(strstr(log_fast, ":5: add_to_cart_order '70000' not in 1..65535\n"));
}

/* Rows the orders reader's fast path must leave to the row reader, among rows it takes: the same
 * table, rejected ids, counts and reports as libcsv alone gives. */
static void test_orders_fast_path_equals_libcsv(void **state)
{
	(void)state;
	char path[] = "/tmp/segstream-orders-fast-XXXXXX";
	FILE *f = temp_file(path);
	fprintf(f, "order_id,user_id,eval_set,order_number,order_dow,order_hour_of_day,days_since_prior_order\n"
		   "1,1,prior,1,2,08,\n"
		   "2,1,prior,2,3,07,15.0\n"
		   "3,1,train,3,3,12,21\r\n"      /* no fraction, CRLF */
		   "4,2,test,1,0,00,\r\n"         /* empty days, CRLF */
		   " 5,2,prior,2,0,10,3.0\n"      /* a space: trimmed, an order */
		   "6,2,prior,3,0,10, 4.00\n"     /* a space and ".00": an order */
		   "7,2,prior,4,0,10,5.\n"        /* a dot without a zero */
		   "8,2,prior,5,0,10,31.0\n"      /* days out of range */
		   "9,2,prior,6,0,24,1.0\n"       /* hour 24 */
		   "10,2,Prior,7,0,10,1.0\n"      /* eval_set spelt otherwise */
		   "11,2,prior ,8,0,10,1.0\n"     /* a space after the eval_set */
		   "12,2,prior,0,0,10,1.0\n"      /* order_number 0 */
		   "13,0,prior,9,0,10,1.0\n"      /* user_id 0 */
		   "14,2,prior,70000,0,10,1.0\n"  /* order_number out of range */
		   "15,2,prior,10,7,10,1.0\n"     /* dow 7 */
		   "16,2,prior,11,0,10,1.0,9\n"   /* eight columns */
		   "17,2,prior,12,0,10\n"         /* six */
		   "0,2,prior,13,0,10,1.0\n"      /* order_id 0 */
		   "12345678901,2,prior,1,0,1,\n" /* 11 digits */
		   "2,3,prior,1,0,10,\n"          /* a repeated order_id */
		   "18,3,prior,2,0,10,5.0.0\n"    /* two fractions */
		   "19,3,prior,3,6,23,30.0\n"
		   "20,4294967295,prior,1,0,1,"); /* the largest user id (over the table's limit); no final newline */
	fclose(f);
	char log_fast[4096] = "", log_slow[4096] = "";
	FILE *lf = fmemopen(log_fast, sizeof log_fast, "w"), *ls = fmemopen(log_slow, sizeof log_slow, "w");
	struct ds_report rf = { .on_error = DS_ON_ERROR_SKIP, .log = lf };
	struct ds_report rs = { .on_error = DS_ON_ERROR_SKIP, .log = ls, .libcsv_only = 1 };
	struct ds_history hf = { 0 }, hs = { 0 };
	assert_int_equal(ds_orders_read(path, &hf, &rf), DS_OK);
	assert_int_equal(ds_orders_read(path, &hs, &rs), DS_OK);
	fclose(lf);
	fclose(ls);
	unlink(path);
	assert_int_equal(hf.n_orders, 7); /* 1-6, 19 */
	assert_true(hf.n_orders == hs.n_orders && hf.cap == hs.cap && hf.n_by_user == hs.n_by_user);
	assert_memory_equal(hf.orders, hs.orders, hf.cap * sizeof *hf.orders);
	assert_memory_equal(hf.by_user, hs.by_user, hf.n_by_user * sizeof *hf.by_user);
	assert_int_equal(hf.n_rejected_orders, hs.n_rejected_orders);
	assert_memory_equal(hf.rejected_orders, hs.rejected_orders, hf.n_rejected_orders * sizeof *hf.rejected_orders);
	assert_true(rf.rows == 23 && rs.rows == 23 && rf.errors == 16 && rs.errors == 16);
	assert_string_equal(log_fast, log_slow);
	assert_non_null(strstr(log_fast, ":21: order_id 2 appears twice\n"));
	assert_int_equal(hf.orders[6].days, 4);
	assert_int_equal(hf.orders[4].days, -1);
	assert_int_equal(hf.orders[3].eval_set, DS_EVAL_TRAIN);
	assert_int_equal(hf.orders[19].dow, 6);
	assert_non_null(strstr(log_fast, ":24: user_id 4294967295 is over the limit"));
	ds_history_free(&hf);
	ds_history_free(&hs);
}

/* Writes DIR/orders.csv (n orders of n / 4 users, ids shuffled) and DIR/order_products__prior.csv
 * (2 lines an order, by order id; every 97th order's products above 2^17), then dirty lines: an
 * order's lines apart and out of add_to_cart order, a repeated add_to_cart, a line of an unknown
 * order. */
static void write_walk_history(const char *dir, int n)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/orders.csv", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "order_id,user_id,eval_set,order_number,order_dow,order_hour_of_day,days_since_prior_order\n");
	for (int i = 0; i < n; i++)
		fprintf(f, "%d,%d,prior,%d,%d,%d,%s\n", (int)(((int64_t)i * 7919) % n) + 1, i / 4 + 1, i % 4 + 1, i % 7,
			i % 24, i % 4 ? "3" : "");
	fclose(f);
	snprintf(path, sizeof path, "%s/order_products__prior.csv", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "order_id,product_id,add_to_cart_order,reordered\n");
	for (int id = 1; id <= n; id++)
		for (int k = 1; k <= 2; k++)
			fprintf(f, "%d,%d,%d,%d\n", id, id % 97 ? (id * k) % 60000 + 1 : 131072 + id % 1000 + k, k,
				(id + k) % 2);
	fprintf(f, "7,99,1,1\n7,98,5,0\n7,97,3,1\n%d,5,1,0\n9,96,2,1\n", n + 5);
	fclose(f);
}

/* The walk over a history of write_walk_history() against that history's own grouping. */
static void check_walk_groups(uint32_t limit) /* products at or above it come out as 0 */
{
	enum { N = 90000 }; /* 72,000 in the sequence: more than a bucket (16,384) */
	char dir[] = "/tmp/segstream-walk-XXXXXX", path[4096];
	assert_non_null(mkdtemp(dir));
	write_walk_history(dir, N);
	struct ds_history full, h;
	struct ds_report r1 = { .on_error = DS_ON_ERROR_SKIP, .quiet = 1 };
	struct ds_report r2 = { .on_error = DS_ON_ERROR_SKIP, .quiet = 1 };
	assert_int_equal(ds_history_load(dir, 0, &full, &r1), DS_OK);
	assert_int_equal(ds_history_load_orders(dir, &h, &r2), DS_OK);
	assert_int_equal(h.n_lines, 0);
	assert_int_equal(ds_history_build_timeline(&h, NULL, 0), DS_OK);
	/* The sequence: by_user backwards, every fifth order left out (its lines are read past). */
	uint32_t *seq = malloc(h.n_by_user * sizeof *seq);
	assert_non_null(seq);
	uint64_t n_seq = 0;
	for (uint64_t i = h.n_by_user; i-- > 0;)
		if (i % 5)
			seq[n_seq++] = h.by_user[i];
	snprintf(path, sizeof path, "%s/order_products__prior.csv", dir);
	struct ds_range ranges[2];
	int parts = 0;
	assert_int_equal(ds_file_ranges(path, 2, ranges, &parts), DS_OK);
	assert_int_equal(parts, 2);
	struct ds_walk *w = NULL;
	assert_int_equal(ds_walk_read(&h, seq, n_seq, path, limit, &r2, &w), DS_OK);
	assert_true(r1.rows == r2.rows && r1.errors == 1 && r2.errors == 1); /* the unknown order */
	struct ds_walk_bucket b;
	uint64_t next = 0, lines = 0;
	int buckets = 0, rc;
	while ((rc = ds_walk_next(w, &b)) == 1) {
		assert_int_equal(b.from, next);
		for (uint64_t i = b.from; i < b.to; i++) {
			const struct ds_order *o = &full.orders[seq[i]];
			uint32_t first = b.first_line[i - b.from], m = b.first_line[i - b.from + 1] - first;
			assert_int_equal(m, o->n_lines);
			assert_int_equal(b.orders[i - b.from].user_id, o->user_id);
			assert_int_equal(b.orders[i - b.from].order_number, o->order_number);
			assert_int_equal(b.orders[i - b.from].event_time_ms, h.orders[seq[i]].event_time_ms);
			for (uint32_t k = 0; k < m; k++) {
				const struct ds_line *want = &full.lines[o->first_line + k], *got = &b.lines[first + k];
				assert_int_equal(got->order_id, seq[i]);
				assert_int_equal(got->product_id, want->product_id < limit ? want->product_id : 0);
				assert_int_equal(got->add_to_cart, want->add_to_cart);
				assert_int_equal(got->reordered, want->reordered);
			}
			lines += m;
		}
		next = b.to;
		buckets++;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(next, n_seq);
	assert_true(buckets >= 2);
	assert_true(lines > 0 && lines < full.n_lines);
	/* order 7: carts 1 (file), 1 (apart: after it), 2, 3, 5 */
	assert_int_equal(full.orders[7].n_lines, 5);
	assert_int_equal(full.lines[full.orders[7].first_line + 1].product_id, 99);
	ds_walk_free(w);
	ds_walk_free(NULL);
	free(seq);
	ds_history_free(&h);
	ds_history_free(&full);
	snprintf(path, sizeof path, "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

/* A walk hands out each order of its sequence with the lines the history groups for it, in the
 * same order (add_to_cart, ties in file order), over several buckets, read on two threads; with a
 * product limit below the large products (kept as 0) and above them (kept whole, apart). */
static void test_walk_groups_like_the_history(void **state)
{
	(void)state;
	for (int i = 0; i < 2; i++)
		check_walk_groups(i == 0 ? 50000 : 1u << 20);
}

/* The digits of the batch fast paths, eight bytes at a time, against a plain reading: 1 to 10
 * digits give their value, none or more than 10 give 0, whatever byte ends them. */
static void test_swar_digits_equal_scalar(void **state)
{
	(void)state;
	static const char ends[] = { ',', '\n', '\r', '/', ':', ' ', '.', (char)0x80, (char)0xb0, 0 };
	static const char digits[] = "98765432109876543210";
	for (int len = 0; len <= 12; len++)
		for (int start = 0; start < 10; start++)
			for (size_t e = 0; e < sizeof ends; e++) {
				char buf[40];
				memset(buf, '7', sizeof buf);
				memcpy(buf, digits + start, (size_t)len);
				buf[len] = ends[e];
				uint64_t want = 0, got = 12345;
				for (int i = 0; i < len && i < 10; i++)
					want = want * 10 + (uint64_t)(buf[i] - '0');
				int n = ds__swar_digits(buf, &got);
				if (len == 0 || len > 10) {
					assert_int_equal(n, 0);
				} else {
					assert_int_equal(n, len);
					assert_int_equal(got, want);
				}
			}
	uint64_t v = 0;
	assert_int_equal(ds__swar_digits("0000000000,.............", &v), 10);
	assert_int_equal(v, 0);
	assert_int_equal(ds__swar_digits("4294967295,.............", &v), 10);
	assert_int_equal(v, 4294967295u);
}

/* Writes a lines file for the orders of write_walk_history(dir, n): runs of plain rows (taken by
 * the walk's batch path) between rows it must leave to the one-row path, up to the end. */
static void write_odd_lines(const char *dir, int n)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/order_products__prior.csv", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	static const char *const odd[] = {
		"007,5,3,0\n",         /* leading zeros: order 7 */
		"7,6,4,01\n",          /* reordered "01" */
		"7,8,6,1\r\n",         /* CR LF */
		" 8,1,1,0\n",          /* a space */
		"8,1,1,2\n",           /* reordered 2 */
		"8,2,2,1\r",           /* a CR alone */
		"99999999,1,1,0\n",    /* 8 digits: no such order */
		"1234567890,1,1,0\n",  /* 10 */
		"12345678901,1,1,0\n", /* 11 */
		"9,0,1,0\n",           /* product 0 */
		"9,4294967296,1,0\n",  /* product too large */
		"9,4294967295,2,0\n",  /* the largest product: over the walk's limit, kept as 0 */
		"9,60001,3,1\n",       /* over the limit too */
		"9,12,0,0\n",          /* add_to_cart 0 */
		"9,12,65536,0\n",      /* add_to_cart too large */
		"9,12,65535,1\n",      /* the largest add_to_cart */
		"9,5,1,0,1\n",         /* five columns */
		"9,5\n",               /* two */
		"\n",                  /* an empty row */
		"10,5.0,1,0\n",        /* a fraction */
		"0,5,1,0\n",           /* order 0 */
		"11,,1,0\n",           /* an empty field */
	};
	fprintf(f, "order_id,product_id,add_to_cart_order,reordered\n");
	int id = 1;
	for (int round = 0; id <= n; round++) {
		for (int k = 0; k < 500 && id <= n; k++, id++)
			for (int c = 1; c <= 3; c++)
				fprintf(f, "%d,%d,%d,%d\n", id, (id * c) % 60000 + 1, 4 - c, (id + c) % 2);
		fputs(odd[round % (int)(sizeof odd / sizeof *odd)], f);
		fprintf(f, "%d,5,1,0\n", n + 5); /* an order not in orders.csv */
	}
	fputs("12,7,9,1\n13,7,9,0\n14,7,9,1", f); /* the last rows, within 40 bytes of the end; no newline */
	fclose(f);
}

/* The buckets of a walk, and what its reading reported, read with the fast paths or without. */
struct walk_read {
	uint64_t rows, errors, lines, sum;
	char log[16384];
};

static void read_walk(const char *dir, int libcsv_only, struct walk_read *out)
{
	char path[4096];
	memset(out, 0, sizeof *out);
	FILE *log = fmemopen(out->log, sizeof out->log, "w");
	assert_non_null(log);
	struct ds_report r = { .on_error = DS_ON_ERROR_SKIP, .log = log, .libcsv_only = libcsv_only };
	struct ds_history h;
	assert_int_equal(ds_history_load_orders(dir, &h, &r), DS_OK);
	assert_int_equal(ds_history_build_timeline(&h, NULL, 0), DS_OK);
	uint32_t *seq = malloc(h.n_by_user * sizeof *seq);
	assert_non_null(seq);
	uint64_t n_seq = 0;
	for (uint64_t i = 0; i < h.n_by_user; i++)
		if (i % 3)
			seq[n_seq++] = h.by_user[i];
	snprintf(path, sizeof path, "%s/order_products__prior.csv", dir);
	struct ds_walk *w = NULL;
	assert_int_equal(ds_walk_read(&h, seq, n_seq, path, 50000, &r, &w), DS_OK);
	fclose(log);
	struct ds_walk_bucket b;
	int rc;
	while ((rc = ds_walk_next(w, &b)) == 1)
		for (uint64_t i = b.from; i < b.to; i++)
			for (uint32_t k = b.first_line[i - b.from]; k < b.first_line[i - b.from + 1]; k++) {
				const struct ds_line *l = &b.lines[k];
				out->lines++;
				out->sum = out->sum * 31 + i * 11 + l->order_id * 7 + l->product_id * 3 +
					   l->add_to_cart * 5 + l->reordered;
			}
	assert_int_equal(rc, 0);
	out->rows = r.rows;
	out->errors = r.errors;
	ds_walk_free(w);
	free(seq);
	ds_history_free(&h);
}

/* The walk's batch path (parse and bucket in one loop) takes the plain rows and leaves every
 * other one to the row reader: the same buckets, counts and reports as libcsv alone gives, read
 * on two threads. */
static void test_walk_batch_path_equals_libcsv(void **state)
{
	(void)state;
	enum { N = 90000 };
	char dir[] = "/tmp/segstream-walk-odd-XXXXXX", cmd[4096];
	assert_non_null(mkdtemp(dir));
	write_walk_history(dir, N);
	write_odd_lines(dir, N);
	struct walk_read *fast = malloc(sizeof *fast), *slow = malloc(sizeof *slow);
	assert_true(fast && slow);
	read_walk(dir, 0, fast);
	read_walk(dir, 1, slow);
	assert_true(fast->lines > 2 * N);
	assert_int_equal(fast->lines, slow->lines);
	assert_int_equal(fast->sum, slow->sum);
	assert_int_equal(fast->rows, slow->rows);
	assert_int_equal(fast->errors, slow->errors);
	assert_int_equal(fast->errors,
			 180 + 12 * 8); /* each round's unknown order, and the 12 bad odd rows of 22, 8 times over */
	assert_string_equal(fast->log, slow->log);
	assert_non_null(strstr(fast->log, "add_to_cart_order '65536' not in 1..65535\n"));
	assert_non_null(strstr(fast->log, "order_id 99999999 is not in orders.csv\n"));
	free(fast);
	free(slow);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_ranges_read_like_the_whole_file(void **state)
{
	(void)state;
	char path[] = "/tmp/segstream-ranges-XXXXXX";
	FILE *f = temp_file(path);
	fprintf(f, "order_id,product_id,add_to_cart_order,reordered\r\n");
	for (int i = 1; i <= 200000; i++) {
		fprintf(f, "%d,%d,%d,%d\r\n", i / 10 + 1, i % 49688 + 1, i % 10 + 1, i % 2);
		if (i % 50000 == 0)
			fprintf(f, "\r\n%d,oops,1,0\r\n", i); /* an empty line and a bad row */
	}
	fclose(f);
	struct ds_range ranges[2];
	int n = 0;
	assert_int_equal(ds_file_ranges(path, 2, ranges, &n), DS_OK);
	assert_int_equal(n, 2);
	assert_true(ranges[0].start == 0 && ranges[0].end == ranges[1].start && ranges[1].first_row == DS_ROW_UNKNOWN);
	uint64_t whole[2] = { 0, 0 }, parts[2] = { 0, 0 };
	char log_whole[1024] = "", log_parts[1024] = "";
	FILE *lw = fmemopen(log_whole, sizeof log_whole, "w"), *lp = fmemopen(log_parts, sizeof log_parts, "w");
	struct ds_report rw = { .on_error = DS_ON_ERROR_SKIP, .log = lw };
	struct ds_report rp[2] = { { .on_error = DS_ON_ERROR_SKIP, .log = lp },
				   { .on_error = DS_ON_ERROR_SKIP, .log = lp } };
	assert_int_equal(ds_lines_read(path, sum_line, whole, &rw), DS_OK);
	/* the second range first, as a thread might: its errors wait for their row numbers */
	assert_int_equal(ds_lines_read_range(path, &ranges[1], sum_line, parts, &rp[1]), DS_OK);
	assert_int_equal(rp[1].n_deferred, 2);
	uint64_t parts_second[2] = { parts[0], parts[1] };
	parts[0] = parts[1] = 0;
	assert_int_equal(ds_lines_read_range(path, &ranges[0], sum_line, parts, &rp[0]), DS_OK);
	ds_report_settle(&rp[0], 0);
	ds_report_settle(&rp[1], rp[0].range_rows);
	fclose(lw);
	fclose(lp);
	unlink(path);
	assert_true(parts[0] + parts_second[0] == whole[0] && whole[0] == 200000);
	assert_true(rw.rows == rp[0].rows + rp[1].rows && rw.errors == 4 && rp[0].errors + rp[1].errors == 4);
	assert_null(rp[1].deferred);
	assert_string_equal(log_whole, log_parts); /* the same row numbers in the errors */
	assert_non_null(strstr(log_whole, ":150004: product_id 'oops'"));
}

static void test_range_with_quotes_asks_for_the_whole_file(void **state)
{
	(void)state;
	char path[] = "/tmp/segstream-quoted-XXXXXX";
	FILE *f = temp_file(path);
	for (int i = 1; i <= 100000; i++)
		fprintf(f, "%d,%d,1,0\n", i, i);
	fprintf(f, "\"5\",\"1\n96\",\"1\",\"1\"\n"); /* a row end inside a quoted field */
	for (int i = 1; i <= 1000; i++)
		fprintf(f, "%d,%d,1,0\n", i, i);
	fclose(f);
	struct ds_range ranges[2];
	int n = 0;
	uint64_t acc[2] = { 0, 0 };
	struct ds_report rep = { .on_error = DS_ON_ERROR_SKIP, .quiet = 1 };
	assert_int_equal(ds_file_ranges(path, 2, ranges, &n), DS_OK);
	assert_int_equal(n, 2);
	assert_int_equal(ds_lines_read_range(path, &ranges[0], sum_line, acc, &rep), DS_OK);
	assert_int_equal(ds_lines_read_range(path, &ranges[1], sum_line, acc, &rep), DS_SPLIT);
	ds_report_settle(&rep, 0);
	acc[0] = 0;
	assert_int_equal(ds_lines_read(path, sum_line, acc, &rep), DS_OK); /* whole: libcsv after the quote */
	assert_int_equal(acc[0], 100000 + 1000);
	assert_int_equal(rep.errors, 1); /* product_id "1\n96" */
	unlink(path);
}

/* ds_history_group keeps lines that are together by order where they are, and sorts others. */
static void test_group_keeps_or_sorts(void **state)
{
	(void)state;
	struct ds_history h = { 0 };
	h.cap = 4;
	h.orders = calloc(h.cap, sizeof *h.orders);
	assert_non_null(h.orders);
	for (size_t id = 1; id < h.cap; id++)
		h.orders[id].user_id = 1;
	/* together: order 1's lines continue from the first set into the second */
	struct ds_line a[] = { { 2, 10, 1, 0 }, { 2, 11, 2, 0 }, { 1, 12, 1, 0 } },
		       b[] = { { 1, 13, 2, 1 }, { 3, 14, 1, 0 } };
	struct ds_line_set sets[2] = { { malloc(sizeof a), 3, 3, 0 }, { malloc(sizeof b), 2, 2, 0 } };
	memcpy(sets[0].lines, a, sizeof a);
	memcpy(sets[1].lines, b, sizeof b);
	assert_int_equal(ds_history_group(&h, sets, 2), DS_OK);
	assert_null(sets[0].lines);
	assert_int_equal(h.n_lines, 5);
	assert_true(h.orders[1].first_line == 2 && h.orders[1].n_lines == 2 && h.lines[3].product_id == 13);
	assert_true(h.orders[3].first_line == 4 && h.orders[3].n_lines == 1);
	free(h.lines);
	h.lines = NULL;
	memset(h.orders, 0, h.cap * sizeof *h.orders);
	for (size_t id = 1; id < h.cap; id++)
		h.orders[id].user_id = 1;
	/* apart and out of cart order: sorted by order, then add_to_cart */
	struct ds_line c[] = { { 3, 20, 2, 0 }, { 2, 21, 1, 0 }, { 3, 22, 1, 0 } };
	struct ds_line_set one = { malloc(sizeof c), 3, 3, 0 };
	memcpy(one.lines, c, sizeof c);
	assert_int_equal(ds_history_group(&h, &one, 1), DS_OK);
	assert_true(h.orders[2].first_line == 0 && h.orders[2].n_lines == 1);
	assert_true(h.orders[3].first_line == 1 && h.orders[3].n_lines == 2);
	assert_true(h.lines[1].product_id == 22 && h.lines[2].product_id == 20);
	ds_history_free(&h);
}

/* A history row becomes the event replay produces and backfill applies, field by field. */
static void test_history_row_to_event(void **state)
{
	(void)state;
	struct ds_order o = { .user_id = 7,
			      .order_number = 3,
			      .dow = 6,
			      .hour = 23,
			      .days = -1,
			      .eval_set = DS_EVAL_TRAIN,
			      .n_lines = 1,
			      .event_time_ms = 1500000000123LL };
	struct ds_line l = { .order_id = 4242, .product_id = 196, .add_to_cart = 9, .reordered = 1 };
	struct event ev;
	memset(&ev, 0xff, sizeof ev);
	ds_history_event(&o, &l, &ev);
	assert_true(ev.user_id == 7 && ev.order_id == 4242 && ev.product_id == 196 && ev.order_number == 3);
	assert_true(ev.add_to_cart_order == 9 && ev.order_dow == 6 && ev.order_hour == 23);
	assert_true(ev.days_since_prior == EVENT_DAYS_NONE && ev.reordered == 1 && ev.event_time_ms == 1500000000123LL);
	assert_int_equal(ev.eval_set, EVENT_EVAL_TRAIN);
	assert_int_equal(event_validate(&ev, NULL, 0), EVENT_OK);
	o.eval_set = DS_EVAL_TEST; /* no test set on the stream: prior */
	o.days = 30;
	ds_history_event(&o, &l, &ev);
	assert_true(ev.eval_set == EVENT_EVAL_PRIOR && ev.days_since_prior == 30);

	struct ds_product p = { .product_id = 5, .aisle_id = 61, .department_id = 19, .price_cents = 580 };
	struct ds_product none = { 0 };
	struct event_product ep;
	assert_int_equal(ds_event_product(&p, &ep), 1);
	assert_true(ep.product_id == 5 && ep.aisle_id == 61 && ep.department_id == 19 && ep.price_cents == 580);
	assert_int_equal(ds_event_product(&none, &ep), 0);
	struct ds_customer c = { .user_id = 9,
				 .joined_day = 17167,
				 .state = 4,
				 .age = 33,
				 .n_dependants = 2,
				 .fam_status = 1,
				 .gender = 2,
				 .income = 56000 },
			   nobody = { 0 };
	struct event_customer ec;
	assert_int_equal(ds_event_customer(&c, &ec), 1);
	assert_true(ec.user_id == 9 && ec.joined_day == 17167 && ec.state == 4 && ec.age == 33 && ec.n_dependants == 2);
	assert_true(ec.fam_status == 1 && ec.gender == 2 && ec.income == 56000);
	assert_int_equal(ds_event_customer(&nobody, &ec), 0);
}

static void test_parse_date(void **state)
{
	(void)state;
	int32_t d;
	assert_int_equal(ds_parse_date("1/1/2017", 8, &d), 0);
	assert_int_equal(d, 17167);
	assert_int_equal(ds_parse_date("4/1/2020", 8, &d), 0);
	assert_int_equal(d, 18353);
	assert_int_equal(ds_parse_date("13/1/2020", 9, &d), -1);
	assert_int_equal(ds_parse_date("2020-01-01", 10, &d), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_price_cents_is_exact),
		cmocka_unit_test(test_real_products_catalog),
		cmocka_unit_test(test_products_without_prices_column),
		cmocka_unit_test(test_table_growth_keeps_entries),
		cmocka_unit_test(test_read_from_a_pipe),
		cmocka_unit_test(test_departments_both_layouts),
		cmocka_unit_test(test_aisles),
		cmocka_unit_test(test_names_of_a_data_directory),
		cmocka_unit_test(test_orders_quirks_and_row_errors),
		cmocka_unit_test(test_orders_without_header_all_quoted_crlf),
		cmocka_unit_test(test_orders_in_ranges_and_repeated_ids),
		cmocka_unit_test(test_history_groups_lines_and_reports_orphans),
		cmocka_unit_test(test_load_on_two_threads_equals_one_read),
		cmocka_unit_test(test_load_progress_counts_both_threads),
		cmocka_unit_test(test_users_without_demographics),
		cmocka_unit_test(test_fast_path_equals_libcsv),
		cmocka_unit_test(test_fast_path_leaves_odd_rows_to_the_row_reader),
		cmocka_unit_test(test_orders_fast_path_equals_libcsv),
		cmocka_unit_test(test_walk_groups_like_the_history),
		cmocka_unit_test(test_swar_digits_equal_scalar),
		cmocka_unit_test(test_walk_batch_path_equals_libcsv),
		cmocka_unit_test(test_ranges_read_like_the_whole_file),
		cmocka_unit_test(test_range_with_quotes_asks_for_the_whole_file),
		cmocka_unit_test(test_group_keeps_or_sorts),
		cmocka_unit_test(test_history_row_to_event),
		cmocka_unit_test(test_parse_date),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
