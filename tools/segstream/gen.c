/*
 * The data generator: seeded, so the same arguments give the same bytes. It draws users,
 * orders and lines from distributions shaped like the real data's (SPEC §5) over the real
 * product catalog, and writes them in the Kaggle layout, quirks included: orders sorted by
 * user then order_number with order ids that are not in time order, zero-padded hours,
 * days_since_prior_order written as a float and empty on first orders, lines sorted by order
 * id, customers sorted by date_joined.
 */
#include "tools/segstream/gen.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataset/dataset.h"
#include "event/event.h"

/* xoshiro256** seeded by splitmix64: fast and good enough for synthetic data. */
struct rng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

static double rng_unit(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* A discrete distribution by cumulative weights. */
struct table {
	double cum[64];
	int n;
};

static void table_init(struct table *t, const double *w, int n)
{
	double sum = 0;
	for (int i = 0; i < n; i++)
		sum += w[i];
	double acc = 0;
	for (int i = 0; i < n; i++) {
		acc += w[i] / sum;
		t->cum[i] = acc;
	}
	t->cum[n - 1] = 1.0;
	t->n = n;
}

static int table_draw(const struct table *t, struct rng *r)
{
	double u = rng_unit(r);
	int lo = 0, hi = t->n - 1;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (u < t->cum[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Shapes of the real data (SPEC §5): orders per days_since_prior value, dow, hour. */
static const double days_weights[31] = {
	67755, 145247, 193206, 217005, 221696, 214503, 240013, 320608, 181717, 118188, 95186,
	80970, 76146,  83214,  100230, 66579,  46941,  39245,  35881,  34384,  38527,  45470,
	32012, 23885,  20712,  19234,  19016,  22013,  26777,  19191,  369323,
};
static const double dow_weights[7] = { 600905, 587478, 467260, 436972, 426339, 453368, 448761 };
static const double hour_weights[24] = {
	22758,  12398,  7539,   5474,   5527,   9569,   30529,  91868,  178201, 257812, 288418, 284728,
	272841, 277999, 283042, 283639, 272553, 228795, 182912, 140569, 104292, 84187,  67412,  42351,
};
/* Items per department id 1..21 (share in percent, SPEC §5). */
static const double dept_share[22] = {
	0, 6.9, 0.1, 3.6, 29.3, 0.5, 0.8, 8.3, 0.3, 2.7, 0.1, 1.4, 2.2, 5.8, 2.2, 3.3, 16.7, 2.3, 1.3, 8.9, 3.2, 0.2,
};

struct catalog {
	uint32_t *ids[22]; /* product ids per department */
	uint32_t n[22];
};

static int load_catalog(const char *dir, struct catalog *cat)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/products.csv", dir);
	struct ds_products p;
	struct ds_report rep = { .on_error = DS_ON_ERROR_SKIP, .quiet = 1 };
	if (ds_products_read(path, &p, &rep) != DS_OK) {
		fprintf(stderr, "gen: cannot read %s\n", path);
		return -1;
	}
	memset(cat, 0, sizeof *cat);
	for (int pass = 0; pass < 2; pass++) {
		for (size_t id = 0; id < p.cap; id++) {
			const struct ds_product *e = &p.by_id[id];
			if (!e->product_id || e->department_id < 1 || e->department_id > 21)
				continue;
			if (pass == 1)
				cat->ids[e->department_id][cat->n[e->department_id]] = e->product_id;
			cat->n[e->department_id] += 1;
		}
		if (pass == 0)
			for (int d = 1; d <= 21; d++) {
				cat->ids[d] = malloc((cat->n[d] + 1) * sizeof(uint32_t));
				cat->n[d] = 0;
			}
	}
	ds_products_free(&p);
	return 0;
}

/* Whether DIR/data/instacart holds products.csv ("" is the root); if so, that directory goes
 * to dir_out. */
static int has_catalog(const char *dir, char *dir_out, size_t dir_len)
{
	char cand[4200], products[4300];
	snprintf(cand, sizeof cand, "%s/data/instacart", dir);
	snprintf(products, sizeof products, "%s/products.csv", cand);
	if (access(products, R_OK) != 0)
		return 0;
	snprintf(dir_out, dir_len, "%s", cand);
	return 1;
}

int gen_find_catalog(char *dir_out, size_t dir_len, char *tried, size_t tried_len)
{
	snprintf(tried, tried_len, "./data/instacart");
	if (has_catalog(".", dir_out, dir_len))
		return 0;
	char dir[4096];
	ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
	char *slash = NULL;
	if (n > 0) {
		dir[n] = 0;
		slash = strrchr(dir, '/');
	}
	if (slash) {
		*slash = 0; /* the executable's directory */
		size_t used = strlen(tried);
		snprintf(tried + used, tried_len - used, "; data/instacart in %s and each of its parents",
			 dir[0] ? dir : "/");
		for (;;) {
			if (has_catalog(dir, dir_out, dir_len))
				return 0;
			if ((slash = strrchr(dir, '/')) == NULL)
				break;
			*slash = 0; /* the parent; "" is the root */
		}
	}
#ifdef SEGSTREAM_SOURCE_DIR
	size_t used = strlen(tried);
	snprintf(tried + used, tried_len - used, "; %s/data/instacart (the source tree)", SEGSTREAM_SOURCE_DIR);
	if (has_catalog(SEGSTREAM_SOURCE_DIR, dir_out, dir_len))
		return 0;
#endif
	return -1;
}

/* A product of the department, skewed so that a few products are very popular. */
static uint32_t draw_product(const struct catalog *cat, int dept, struct rng *r)
{
	double u = rng_unit(r);
	uint32_t k = (uint32_t)(cat->n[dept] * u * u * u);
	return cat->ids[dept][k < cat->n[dept] ? k : cat->n[dept] - 1];
}

struct order_rec {
	uint32_t user;
	uint16_t number;
	uint8_t dow, hour;
	int8_t days;
	uint8_t eval;      /* 0 prior, 1 train, 2 test */
	uint32_t first, n; /* lines in the line arrays */
};

/* A buffered writer with hand-formatted integers: fprintf is the bottleneck otherwise. */
struct out {
	FILE *f;
	char buf[1 << 16];
	size_t len;
	int err;
};

static void out_flush(struct out *o)
{
	if (o->len && fwrite(o->buf, 1, o->len, o->f) != o->len)
		o->err = 1;
	o->len = 0;
}

static void out_str(struct out *o, const char *s)
{
	size_t n = strlen(s);
	if (o->len + n > sizeof o->buf)
		out_flush(o);
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void out_u(struct out *o, uint64_t v)
{
	char tmp[24];
	int i = 0;
	do {
		tmp[i++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (o->len + (size_t)i > sizeof o->buf)
		out_flush(o);
	while (i)
		o->buf[o->len++] = tmp[--i];
}

static int out_open(struct out *o, const char *dir, const char *name)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	o->f = fopen(path, "wb");
	o->len = 0;
	o->err = 0;
	if (!o->f)
		fprintf(stderr, "gen: %s: %s\n", path, strerror(errno));
	return o->f ? 0 : -1;
}

static int out_close(struct out *o)
{
	out_flush(o);
	int rc = o->err || fclose(o->f) != 0 ? -1 : 0;
	if (rc)
		fprintf(stderr, "gen: write error\n");
	return rc;
}

static int copy_file(const char *from_dir, const char *to_dir, const char *name)
{
	char a[4096], b[4096], buf[65536];
	snprintf(a, sizeof a, "%s/%s", from_dir, name);
	snprintf(b, sizeof b, "%s/%s", to_dir, name);
	FILE *in = fopen(a, "rb"), *out = in ? fopen(b, "wb") : NULL;
	size_t n;
	int rc = in && out ? 0 : -1;
	while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
		rc = fwrite(buf, 1, n, out) == n ? 0 : -1;
	if (in)
		fclose(in);
	if (out && fclose(out) != 0)
		rc = -1;
	if (rc)
		fprintf(stderr, "gen: copying %s to %s failed\n", a, b);
	return rc;
}

static void write_days(struct out *o, int days)
{
	if (days >= 0) {
		out_u(o, (uint64_t)days);
		out_str(o, ".0");
	}
}

static const char *const first_names[] = { "Deborah", "Patricia", "Kenneth", "Michelle", "Ann",  "Cynthia",
					   "Chris",   "Hillary",  "Joshua",  "Jose",     "Mary", "Linda" };
static const char *const surnames[] = { "Gillespie", "Hardin", "Oneal", "Wiggins", "Ramos", "Garner",
					"Hart",      "Tucker", "Pratt", "Best",    "Flynn", "Lamb" };

struct customer_rec {
	uint32_t user;
	int32_t joined;
};

static int compare_joined(const void *a, const void *b)
{
	const struct customer_rec *x = a, *y = b;
	if (x->joined != y->joined)
		return x->joined < y->joined ? -1 : 1;
	return (x->user > y->user) - (x->user < y->user);
}

/* Civil date from days since 1970-01-01 (Hinnant's civil_from_days). */
static void civil_from_days(int32_t z, int *y, int *m, int *d)
{
	z += 719468;
	const int era = (z >= 0 ? z : z - 146096) / 146097;
	const unsigned doe = (unsigned)(z - era * 146097);
	const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	const unsigned mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)yoe + era * 400 + (*m <= 2);
}

static int write_customers(const struct gen_config *cfg, struct rng *r)
{
	struct customer_rec *c = malloc((size_t)cfg->users * sizeof *c);
	if (!c)
		return -1;
	for (uint32_t u = 0; u < cfg->users; u++)
		c[u] = (struct customer_rec){ u + 1, 17167 + (int32_t)rng_below(r, 1186) };
	qsort(c, cfg->users, sizeof *c, compare_joined);
	static const double fam_w[] = { 144906, 33962, 17640, 9701 };
	struct table fam_t;
	table_init(&fam_t, fam_w, EVENT_FAM_STATUS_COUNT);
	struct out o;
	if (out_open(&o, cfg->out_dir, "customers.csv")) {
		free(c);
		return -1;
	}
	out_str(&o, "user_id,First Name,Surnam,Gender,STATE,Age,date_joined,n_dependants,fam_status,income\n");
	for (uint32_t i = 0; i < cfg->users; i++) {
		int y, m, d;
		civil_from_days(c[i].joined, &y, &m, &d);
		int f = table_draw(&fam_t, r);
		int deps = (f == 1 || f == 2) ? 0 : 1 + (int)rng_below(r, 3);
		/* income: normal(94,633, 42,474) by Box-Muller, clipped to the real range */
		double g = sqrt(-2 * log(1 - rng_unit(r))) * cos(6.283185307179586 * rng_unit(r));
		double inc = 94633 + 42474 * g;
		inc = inc < 25903 ? 25903 : inc > 593901 ? 593901 : inc;
		out_u(&o, c[i].user);
		out_str(&o, ",");
		if (rng_below(r, 1000) >= 55) /* First Name is missing for ~5.5% of rows */
			out_str(&o, first_names[rng_below(r, 12)]);
		out_str(&o, ",");
		out_str(&o, surnames[rng_below(r, 12)]);
		out_str(&o, rng_below(r, 2) ? ",Female," : ",Male,");
		out_str(&o, event_state_name((int)rng_below(r, EVENT_STATE_COUNT)));
		out_str(&o, ",");
		out_u(&o, 18 + rng_below(r, 64));
		out_str(&o, ",");
		out_u(&o, (uint64_t)m);
		out_str(&o, "/");
		out_u(&o, (uint64_t)d);
		out_str(&o, "/");
		out_u(&o, (uint64_t)y);
		out_str(&o, ",");
		out_u(&o, (uint64_t)deps);
		out_str(&o, ",");
		out_str(&o, event_fam_status_name(f));
		out_str(&o, ",");
		out_u(&o, (uint64_t)inc);
		out_str(&o, "\n");
	}
	free(c);
	return out_close(&o);
}

/* Lines are generated user by user into flat arrays, then written grouped by order id. */
struct lines {
	uint32_t *product;
	uint8_t *reordered;
	uint64_t n, cap;
};

static int lines_push(struct lines *l, uint32_t product, uint8_t reordered)
{
	if (l->n == l->cap) {
		uint64_t cap = l->cap ? l->cap * 2 : 1 << 20;
		uint32_t *p = realloc(l->product, cap * sizeof *p);
		if (!p)
			return -1;
		l->product = p;
		uint8_t *re = realloc(l->reordered, cap);
		if (!re)
			return -1;
		l->reordered = re;
		l->cap = cap;
	}
	l->product[l->n] = product;
	l->reordered[l->n++] = reordered;
	return 0;
}

/*
 * --dirty: the faults of real copies (SPEC §1), each at a small seeded rate, so readers must
 * report and skip them: CRLF line endings, rows quoted field by field, order rows with an
 * out-of-range hour or an unknown eval_set, lines with a non-numeric product or a missing
 * column, lines whose order_id is not in orders.csv, and lines of products not in the catalog.
 */
struct dirt {
	int on;
	struct rng r;
	uint64_t bad_rows, orphans, unknown_products;
};

static int dirt_roll(struct dirt *d, uint32_t per_million)
{
	return d->on && rng_below(&d->r, 1000000) < per_million;
}

static const char *eol(const struct dirt *d)
{
	return d->on ? "\r\n" : "\n";
}

static int write_lines(const struct gen_config *cfg, const char *name, const struct order_rec *orders,
		       const uint32_t *order_of_id, uint64_t n_orders, const struct lines *l, int eval, struct dirt *d)
{
	struct out o;
	if (out_open(&o, cfg->out_dir, name))
		return -1;
	out_str(&o, "order_id,product_id,add_to_cart_order,reordered");
	out_str(&o, eol(d));
	for (uint64_t id = 1; id <= n_orders; id++) {
		const struct order_rec *rec = &orders[order_of_id[id]];
		if (rec->eval != eval)
			continue;
		for (uint32_t k = 0; k < rec->n; k++) {
			uint32_t product = l->product[rec->first + k];
			if (dirt_roll(d, 300)) { /* a product the catalog does not have: an unpriced line */
				product = 900000 + rng_below(&d->r, 1000);
				d->unknown_products++;
			}
			int quoted = dirt_roll(d, 1000);
			out_str(&o, quoted ? "\"" : "");
			out_u(&o, id);
			out_str(&o, quoted ? "\",\"" : ",");
			out_u(&o, product);
			out_str(&o, quoted ? "\",\"" : ",");
			out_u(&o, k + 1);
			out_str(&o, quoted ? "\",\"" : ",");
			out_str(&o, l->reordered[rec->first + k] ? "1" : "0");
			out_str(&o, quoted ? "\"" : "");
			out_str(&o, eol(d));
			if (dirt_roll(d, 100)) { /* an unparseable row */
				out_u(&o, id);
				out_str(&o, rng_below(&d->r, 2) ? ",abc,99,0" : ",17");
				out_str(&o, eol(d));
				d->bad_rows++;
			}
			if (dirt_roll(d, 100)) { /* a line of an order that orders.csv does not have */
				out_u(&o, n_orders + 1 + rng_below(&d->r, 1000));
				out_str(&o, ",24852,1,0");
				out_str(&o, eol(d));
				d->orphans++;
			}
		}
	}
	return out_close(&o);
}

/* Whether the caller asked gen_run to stop (SIGINT/SIGTERM in the CLI). */
static int stopped(const struct gen_config *cfg)
{
	return cfg->stop && *cfg->stop;
}

int gen_run(const struct gen_config *cfg, struct gen_stats *st)
{
	int rc = -1;
	struct rng r;
	struct catalog cat;
	struct lines lines = { 0 };
	struct order_rec *orders = NULL;
	uint32_t *order_of_id = NULL, *history = NULL;
	uint64_t n_orders = 0, cap_orders = 0;
	memset(st, 0, sizeof *st);
	memset(&cat, 0, sizeof cat);
	if (mkdir(cfg->out_dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "gen: %s: %s\n", cfg->out_dir, strerror(errno));
		return -1;
	}
	if (load_catalog(cfg->catalog_dir, &cat))
		return -1;
	rng_seed(&r, cfg->seed);
	struct table days_t, dow_t, hour_t, dept_t;
	table_init(&days_t, days_weights, 31);
	table_init(&dow_t, dow_weights, 7);
	table_init(&hour_t, hour_weights, 24);
	table_init(&dept_t, dept_share, 22);
	history = malloc(4096 * sizeof *history);
	if (!history)
		goto out;
	for (uint32_t u = 1; u <= cfg->users && !stopped(cfg); u++) {
		/* 4..100 orders, geometric-like with the real mean of ~16.6 (3.42M orders / 206,209 users) */
		double x = -log(1 - rng_unit(&r)) * 13.1;
		uint32_t n = 4 + (uint32_t)(x > 96 ? 96 : x);
		uint32_t n_hist = 0;
		int hour = table_draw(&hour_t, &r), dow = table_draw(&dow_t, &r);
		for (uint32_t k = 1; k <= n; k++) {
			if (n_orders == cap_orders) {
				cap_orders = cap_orders ? cap_orders * 2 : 1 << 16;
				struct order_rec *t = realloc(orders, cap_orders * sizeof *t);
				if (!t)
					goto out;
				orders = t;
			}
			struct order_rec *o = &orders[n_orders++];
			int days = k == 1 ? -1 : table_draw(&days_t, &r);
			/* users keep habits: mostly their usual hour and day, sometimes another */
			if (rng_below(&r, 3) == 0)
				hour = table_draw(&hour_t, &r);
			if (rng_below(&r, 3) == 0)
				dow = table_draw(&dow_t, &r);
			*o = (struct order_rec){
				u, (uint16_t)k, (uint8_t)dow, (uint8_t)hour, (int8_t)days, 0, (uint32_t)lines.n, 0
			};
			if (k == n)
				o->eval = rng_below(&r, 206209) < 131209 ? 1 : 2;
			if (o->eval == 2)
				continue; /* test orders have no lines */
			/* basket: 1 + negative binomial(2, 0.18): mean ~10, mode 5 */
			uint32_t size = 1;
			for (int s = 0; s < 2; s++)
				while (rng_unit(&r) > 0.18)
					size++;
			if (size > 145)
				size = 145;
			uint32_t start_hist = n_hist;
			for (uint32_t i = 0; i < size; i++) {
				uint32_t product = 0;
				int re = 0;
				for (int attempt = 0; attempt < 8 && !product; attempt++) {
					if (start_hist > 0 && rng_unit(&r) < 0.68) {
						product = history[rng_below(&r, start_hist)];
						re = 1;
					} else {
						product = draw_product(&cat, table_draw(&dept_t, &r), &r);
						re = 0;
						for (uint32_t h = 0; h < start_hist && !re; h++)
							re = history[h] == product;
					}
					for (uint32_t j = start_hist; j < n_hist && product; j++)
						if (history[j] == product)
							product = 0; /* already in this basket */
				}
				if (!product)
					continue;
				if (n_hist < 4096)
					history[n_hist++] = product;
				if (lines_push(&lines, product, (uint8_t)re))
					goto out;
				o->n++;
			}
			if (o->n == 0) { /* never an empty basket */
				if (lines_push(&lines, draw_product(&cat, 4, &r), 0))
					goto out;
				o->n = 1;
			}
			if (o->eval == 0)
				st->prior_lines += o->n;
			else
				st->train_lines += o->n;
		}
	}
	/* order ids are a shuffle of 1..n_orders: ids are not in time order in the real data */
	order_of_id = stopped(cfg) ? NULL : malloc((n_orders + 1) * sizeof *order_of_id);
	if (!order_of_id)
		goto out;
	for (uint64_t i = 0; i < n_orders; i++)
		order_of_id[i + 1] = (uint32_t)i;
	for (uint64_t i = n_orders; i > 1; i--) {
		uint64_t j = 1 + rng_below(&r, (uint32_t)i);
		uint32_t t = order_of_id[i];
		order_of_id[i] = order_of_id[j];
		order_of_id[j] = t;
	}
	struct dirt dirt = { .on = cfg->dirty };
	rng_seed(&dirt.r, cfg->seed ^ 0xd1d1d1d1ULL);
	uint32_t *id_of_order = malloc((n_orders + 1) * sizeof *id_of_order);
	if (!id_of_order)
		goto out;
	for (uint64_t id = 1; id <= n_orders; id++)
		id_of_order[order_of_id[id]] = (uint32_t)id;
	struct out o;
	static const char *const eval_names[] = { "prior", "train", "test" };
	if (out_open(&o, cfg->out_dir, "orders.csv")) {
		free(id_of_order);
		goto out;
	}
	out_str(&o, "order_id,user_id,eval_set,order_number,order_dow,order_hour_of_day,days_since_prior_order");
	out_str(&o, eol(&dirt));
	for (uint64_t i = 0; i < n_orders; i++) {
		const struct order_rec *rec = &orders[i];
		const char *q = dirt_roll(&dirt, 1000) ? "\"" : ""; /* every field quoted */
		int broken = dirt_roll(&dirt, 50);                  /* hour 24 or eval_set "unknown" */
		dirt.bad_rows += broken != 0;
		out_str(&o, q);
		out_u(&o, id_of_order[i]);
		out_str(&o, q);
		out_str(&o, ",");
		out_str(&o, q);
		out_u(&o, rec->user);
		out_str(&o, q);
		out_str(&o, ",");
		out_str(&o, q);
		out_str(&o, broken && rng_below(&dirt.r, 2) ? "unknown" : eval_names[rec->eval]);
		out_str(&o, q);
		out_str(&o, ",");
		out_str(&o, q);
		out_u(&o, rec->number);
		out_str(&o, q);
		out_str(&o, ",");
		out_str(&o, q);
		out_u(&o, rec->dow);
		out_str(&o, q);
		out_str(&o, ",");
		out_str(&o, q);
		if (broken)
			out_str(&o, "24");
		else {
			out_str(&o, rec->hour < 10 ? "0" : "");
			out_u(&o, rec->hour);
		}
		out_str(&o, q);
		out_str(&o, ",");
		out_str(&o, rec->days >= 0 ? q : "");
		write_days(&o, rec->days);
		out_str(&o, rec->days >= 0 ? q : "");
		out_str(&o, eol(&dirt));
	}
	free(id_of_order);
	if (out_close(&o) || stopped(cfg))
		goto out;
	if (write_lines(cfg, "order_products__prior.csv", orders, order_of_id, n_orders, &lines, 0, &dirt) ||
	    write_lines(cfg, "order_products__train.csv", orders, order_of_id, n_orders, &lines, 1, &dirt) ||
	    stopped(cfg) || write_customers(cfg, &r) || stopped(cfg))
		goto out;
	if (copy_file(cfg->catalog_dir, cfg->out_dir, "products.csv") ||
	    copy_file(cfg->catalog_dir, cfg->out_dir, "aisles.csv") ||
	    copy_file(cfg->catalog_dir, cfg->out_dir, "departments.csv"))
		goto out;
	st->orders = n_orders;
	st->customers = cfg->users;
	st->bad_rows = dirt.bad_rows;
	st->orphan_lines = dirt.orphans;
	st->unknown_products = dirt.unknown_products;
	rc = 0;
out:
	if (rc && stopped(cfg))
		fprintf(stderr, "gen: stopped by a signal; the files in %s are incomplete\n", cfg->out_dir);
	else if (rc)
		fprintf(stderr, "gen: failed (out of memory or a write error)\n");
	for (int d = 0; d < 22; d++)
		free(cat.ids[d]);
	free(lines.product);
	free(lines.reordered);
	free(orders);
	free(order_of_id);
	free(history);
	return rc;
}
