/* libFuzzer target: the CSV engine and the table readers of dataset/. The first byte picks the
 * reader (products, departments, customers, orders, lines, or orders + lines loaded as a history
 * with its timeline, the two files split at the first NUL byte); the rest is the file, written to
 * a scratch directory. Bad rows are counted quietly; readers must fail cleanly or succeed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataset/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[256];
static FILE *devnull;

static int write_file(const char *name, const uint8_t *data, size_t size)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	int ok = fwrite(data, 1, size, f) == size;
	return fclose(f) == 0 && ok ? 0 : -1;
}

static int count_line(const struct ds_line *line, void *ctx, char *why, size_t why_len)
{
	(void)line;
	(void)why;
	(void)why_len;
	++*(uint64_t *)ctx;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!devnull) {
		snprintf(dir, sizeof dir, "%s/segstream-fuzz-dataset-%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
			 (int)getpid());
		mkdir(dir, 0700);
		devnull = fopen("/dev/null", "w");
	}
	if (size < 1)
		return 0;
	unsigned which = data[0] % 6;
	data++, size--;
	struct ds_report rep;
	memset(&rep, 0, sizeof rep);
	rep.quiet = 1;
	rep.log = devnull;
	rep.libcsv_only = (data - 1)[0] >= 128; /* both the fast splitter and libcsv */
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, which == 3 || which == 5 ? "orders.csv" : "in.csv");
	if (which == 5) {
		const uint8_t *nul = memchr(data, 0, size);
		size_t n = nul ? (size_t)(nul - data) : size;
		if (write_file("orders.csv", data, n) != 0 ||
		    write_file("order_products__prior.csv", nul ? nul + 1 : data + n, nul ? size - n - 1 : 0) != 0)
			return 0;
	} else if (write_file(which == 3 ? "orders.csv" : "in.csv", data, size) != 0) {
		return 0;
	}
	switch (which) {
	case 0: {
		struct ds_products p;
		memset(&p, 0, sizeof p);
		if (ds_products_read(path, &p, &rep) == DS_OK)
			for (uint32_t id = 0; id < 64; id++)
				ds_product_find(&p, id);
		ds_products_free(&p);
		break;
	}
	case 1: {
		static struct ds_departments d;
		ds_departments_read(path, &d, &rep);
		break;
	}
	case 2: {
		struct ds_customers c;
		memset(&c, 0, sizeof c);
		if (ds_customers_read(path, &c, &rep) == DS_OK)
			for (uint32_t id = 0; id < 64; id++)
				ds_customer_find(&c, id);
		ds_customers_free(&c);
		break;
	}
	case 3: {
		struct ds_history h;
		memset(&h, 0, sizeof h);
		ds_orders_read(path, &h, &rep);
		ds_history_free(&h);
		break;
	}
	case 4: {
		uint64_t n = 0;
		ds_lines_read(path, count_line, &n, &rep);
		break;
	}
	case 5: {
		struct ds_history h;
		memset(&h, 0, sizeof h);
		if (ds_history_load(dir, 0, &h, &rep) == DS_OK)
			ds_history_build_timeline(&h, NULL, 1);
		ds_history_free(&h);
		break;
	}
	}
	ds_report_settle(&rep, 0);
	return 0;
}
