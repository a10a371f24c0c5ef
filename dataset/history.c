/*
 * The history files of dataset/: orders.csv (rows collected per range, then merged into the
 * order table) and the order_products__*.csv lines files (rows streamed to a callback, or
 * collected per range and checked against the orders).
 */
#include "dataset/dataset_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* The order tables hold one per order id (3.4M at full scale): no padding in them. */
_Static_assert(sizeof(struct ds_order) == 24, "struct ds_order grew");

/* ---- Orders ---- */

/* Up to 10 digits at p (no sign, no space): their value and where they end, or NULL. */
static inline const char *digits(const char *p, const char *end, uint64_t *v_out)
{
	const char *d = p;
	uint64_t v = 0;
	while (p < end && p - d < 10 && (unsigned char)(*p - '0') < 10)
		v = v * 10 + (uint64_t)(*p++ - '0');
	*v_out = v;
	return p > d ? p : NULL;
}

/* The fields of an order row after its order_id, into out: 0, 1 for a bad row, or DS_NOMEM. */
static int order_fields(const struct ds__row *r, uint32_t id, struct ds_order_rows *out, char *why, size_t why_len)
{
	uint64_t user, number, dow, hour, days;
	if (ds__parse_uint(r->field[1], r->len[1], UINT32_MAX, &user) || user == 0)
		return ds__bad(why, why_len, "user_id '%s' is not a positive integer", r->field[1]);
	int eval = strcmp(r->field[2], "prior") == 0   ? DS_EVAL_PRIOR
		   : strcmp(r->field[2], "train") == 0 ? DS_EVAL_TRAIN
		   : strcmp(r->field[2], "test") == 0  ? DS_EVAL_TEST
						       : -1;
	if (eval < 0)
		return ds__bad(why, why_len, "eval_set '%s' is not prior, train or test", r->field[2]);
	if (ds__parse_uint(r->field[3], r->len[3], UINT16_MAX, &number) || number == 0)
		return ds__bad(why, why_len, "order_number '%s' not in 1..65535", r->field[3]);
	if (ds__parse_uint(r->field[4], r->len[4], 6, &dow))
		return ds__bad(why, why_len, "order_dow '%s' not in 0..6", r->field[4]);
	if (ds__parse_uint(r->field[5], r->len[5], 23, &hour))
		return ds__bad(why, why_len, "order_hour_of_day '%s' not in 0..23", r->field[5]);
	const char *d = r->field[6];
	size_t dl = r->len[6];
	ds__trim(&d, &dl);
	if (dl == 0)
		days = UINT64_MAX;
	else if (ds__parse_uint(d, dl, 30, &days))
		return ds__bad(why, why_len, "days_since_prior_order '%s' not empty or an integer in 0..30",
			       r->field[6]);
	if (ds__grow_array((void **)&out->rows, out->n, &out->cap, sizeof *out->rows, 1 << 16))
		return DS_NOMEM;
	out->rows[out->n++] = (struct ds_order_row){
		.order_id = id,
		.user_id = (uint32_t)user,
		.order_number = (uint16_t)number,
		.dow = (uint8_t)dow,
		.hour = (uint8_t)hour,
		.days = days == UINT64_MAX ? -1 : (int8_t)days,
		.eval_set = (uint8_t)eval,
		.rowno = r->rowno,
	};
	return 0;
}

static int order_row(const struct ds__row *r, void *ctx, char *why, size_t why_len)
{
	struct ds_order_rows *out = ctx;
	static const char *const cols[] = { "order_id",
					    "user_id",
					    "eval_set",
					    "order_number",
					    "order_dow",
					    "order_hour_of_day",
					    "days_since_prior_order" };
	if (ds__is_header(r)) {
		int rc = ds__check_header(r, cols, 7, why, why_len);
		return rc ? ds__layout_error(r, why) : 0;
	}
	uint64_t id;
	int have_id = ds__parse_uint(r->field[0], r->len[0], UINT32_MAX - 1, &id) == 0 && id != 0;
	int rc;
	if (r->n != 7)
		rc = ds__bad(why, why_len, "%d columns, expected 7", r->n);
	else if (!have_id)
		return ds__bad(why, why_len, "order_id '%s' is not a positive integer", r->field[0]);
	else
		rc = order_fields(r, (uint32_t)id, out, why, why_len);
	/* A bad row whose order_id reads: its lines are then said to be of a rejected order. */
	if (rc == 1 && have_id) {
		if (ds__grow_array((void **)&out->rejected, out->n_rejected, &out->cap_rejected, sizeof *out->rejected,
				   64))
			return DS_NOMEM;
		out->rejected[out->n_rejected++] = (uint32_t)id;
	}
	return rc;
}

/* The eval_set at p followed by a comma: its value, and *p_io moved past the comma; or -1. */
static inline int eval_word(const char **p_io, const char *end)
{
	const char *p = *p_io;
	size_t left = (size_t)(end - p);
	int eval = left >= 6 && memcmp(p, "prior,", 6) == 0   ? DS_EVAL_PRIOR
		   : left >= 6 && memcmp(p, "train,", 6) == 0 ? DS_EVAL_TRAIN
		   : left >= 5 && memcmp(p, "test,", 5) == 0  ? DS_EVAL_TEST
							      : -1;
	if (eval >= 0)
		*p_io = p + (eval == DS_EVAL_TEST ? 5 : 6);
	return eval;
}

/* Digits at p followed by a comma: their value and *p_io past the comma; or -1. */
static inline int digits_comma(const char **p_io, const char *end, uint64_t *v_out)
{
	const char *p = digits(*p_io, end, v_out);
	if (!p || p == end || *p != ',')
		return -1;
	*p_io = p + 1;
	return 0;
}

/*
 * The fast path of order_row for the common form "order,user,eval_set,number,dow,hour,days"
 * (plain digits, eval_set written as the word alone, days empty or digits with an optional
 * ".0" fraction, every value in range): the same row into the table, without splitting it.
 * Anything else (spaces, quotes, a value out of range, a bad row) is left to order_row.
 */
static const char *order_fast(const char *s, const char *end, void *ctx, uint64_t rowno, int *rc_out, char *why,
			      size_t why_len)
{
	(void)why;
	(void)why_len;
	struct ds_order_rows *out = ctx;
	uint64_t id, user, number, dow, hour, days = UINT64_MAX;
	const char *p = s;
	int eval;
	if (digits_comma(&p, end, &id) || digits_comma(&p, end, &user) || (eval = eval_word(&p, end)) < 0 ||
	    digits_comma(&p, end, &number) || digits_comma(&p, end, &dow) || digits_comma(&p, end, &hour))
		return NULL;
	if (p < end && *p != '\n' && *p != '\r') { /* days is not empty */
		if (!(p = digits(p, end, &days)))
			return NULL;
		if (p < end && *p == '.') { /* "8.0": a fraction of zeros, at least one */
			const char *z = ++p;
			while (p < end && *p == '0')
				p++;
			if (p == z)
				return NULL;
		}
		if (p < end && *p != '\n' && *p != '\r')
			return NULL;
		if (days > 30)
			return NULL;
	}
	if (id == 0 || id > UINT32_MAX - 1 || user == 0 || user > UINT32_MAX || number == 0 || number > UINT16_MAX ||
	    dow > 6 || hour > 23)
		return NULL;
	if (ds__grow_array((void **)&out->rows, out->n, &out->cap, sizeof *out->rows, 1 << 16)) {
		*rc_out = DS_NOMEM;
		return p;
	}
	out->rows[out->n++] = (struct ds_order_row){
		.order_id = (uint32_t)id,
		.user_id = (uint32_t)user,
		.order_number = (uint16_t)number,
		.dow = (uint8_t)dow,
		.hour = (uint8_t)hour,
		.days = days == UINT64_MAX ? -1 : (int8_t)days,
		.eval_set = (uint8_t)eval,
		.rowno = rowno,
	};
	*rc_out = 0;
	return p;
}

int ds_orders_collect(const char *path, const struct ds_range *range, struct ds_order_rows *out, struct ds_report *rep)
{
	return ds__csv_read_range_fast(path, range, rep, order_row, order_fast, out);
}

void ds_order_rows_free(struct ds_order_rows *rows)
{
	if (!rows)
		return;
	free(rows->rows);
	free(rows->rejected);
	memset(rows, 0, sizeof *rows);
}

static int compare_id(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* Adds the sets' rejected order ids to h->rejected_orders, kept sorted and distinct. */
static int merge_rejected(struct ds_history *h, const struct ds_order_rows *sets, int n_sets)
{
	uint64_t n = h->n_rejected_orders;
	for (int s = 0; s < n_sets; s++)
		n += sets[s].n_rejected;
	if (n == h->n_rejected_orders)
		return DS_OK;
	uint32_t *ids = realloc(h->rejected_orders, n * sizeof *ids);
	if (!ids)
		return DS_NOMEM;
	uint64_t at = h->n_rejected_orders;
	for (int s = 0; s < n_sets; s++) {
		if (sets[s].n_rejected)
			memcpy(ids + at, sets[s].rejected, sets[s].n_rejected * sizeof *ids);
		at += sets[s].n_rejected;
	}
	qsort(ids, n, sizeof *ids, compare_id);
	uint64_t distinct = 0;
	for (uint64_t i = 0; i < n; i++)
		if (distinct == 0 || ids[distinct - 1] != ids[i])
			ids[distinct++] = ids[i];
	h->rejected_orders = ids;
	h->n_rejected_orders = distinct;
	return DS_OK;
}

int ds_orders_merge(struct ds_history *h, const char *path, struct ds_order_rows *sets, const uint64_t *rows_before,
		    int n_sets, struct ds_report *rep)
{
	uint64_t total = h->n_by_user, max_id = 0, n_over = 0;
	for (int s = 0; s < n_sets; s++)
		total += sets[s].n;
	/* Ids over the limit the rows read allow (dataset.h, DS_ID_FLOOR): bad rows, their lines
	 * those of a rejected order; the others size the table. */
	const uint64_t limit = ds__id_limit(total);
	struct ds_order_rows over = { 0 };
	int rc = DS_OK;
	for (int s = 0; s < n_sets; s++)
		for (uint64_t i = 0; i < sets[s].n; i++) {
			const struct ds_order_row *row = &sets[s].rows[i];
			if (row->order_id <= limit && row->user_id <= limit) {
				if (row->order_id > max_id)
					max_id = row->order_id;
				continue;
			}
			char why[200];
			snprintf(why, sizeof why,
				 "%s %" PRIu32 " is over the limit %" PRIu64 " for %" PRIu64
				 " rows (ids up to %u per row read, %u at least)",
				 row->order_id > limit ? "order_id" : "user_id",
				 row->order_id > limit ? row->order_id : row->user_id, limit, total, DS_ID_PER_ROW,
				 DS_ID_FLOOR);
			rep->errors++;
			n_over++;
			ds__print_bad_row(rep, path, rows_before[s] + row->rowno, why);
			if (rep->on_error == DS_ON_ERROR_FAIL)
				rc = DS_ROWS;
			if (ds__grow_array((void **)&over.rejected, over.n_rejected, &over.cap_rejected,
					   sizeof *over.rejected, 16))
				rc = DS_NOMEM;
			else
				over.rejected[over.n_rejected++] = row->order_id;
		}
	if (rc == DS_OK)
		rc = merge_rejected(h, sets, n_sets);
	if (rc == DS_OK && n_over)
		rc = merge_rejected(h, &over, 1);
	ds_order_rows_free(&over);
	if (rc != DS_OK)
		goto out;
	if (ds__grow_table((void **)&h->orders, &h->cap, sizeof *h->orders, max_id)) {
		rc = DS_NOMEM;
		goto out;
	}
	if (total > h->cap_by_user) {
		uint32_t *t = realloc(h->by_user, (total ? total : 1) * sizeof *t);
		if (!t) {
			rc = DS_NOMEM;
			goto out;
		}
		h->by_user = t;
		h->cap_by_user = total;
	}
	/* Rows in file order, at random places in the table: each slot is asked for ahead. */
	for (int s = 0; s < n_sets && rc == DS_OK; s++) {
		const struct ds_order_rows *set = &sets[s];
		for (uint64_t i = 0; i < set->n; i++) {
			if (i + DS__PREFETCH_AHEAD < set->n && set->rows[i + DS__PREFETCH_AHEAD].order_id < h->cap)
				__builtin_prefetch(&h->orders[set->rows[i + DS__PREFETCH_AHEAD].order_id], 1);
			const struct ds_order_row *row = &set->rows[i];
			if (row->order_id > limit || row->user_id > limit)
				continue; /* reported above */
			struct ds_order *o = &h->orders[row->order_id];
			if (o->user_id) { /* the first row of an order id wins */
				char why[64];
				snprintf(why, sizeof why, "order_id %u appears twice", row->order_id);
				rep->errors++;
				ds__print_bad_row(rep, path, rows_before[s] + row->rowno, why);
				if (rep->on_error == DS_ON_ERROR_FAIL) {
					rc = DS_ROWS;
					break;
				}
				continue;
			}
			*o = (struct ds_order){ .user_id = row->user_id,
						.order_number = row->order_number,
						.dow = row->dow,
						.hour = row->hour,
						.days = row->days,
						.eval_set = row->eval_set };
			/* by_user holds the file's order until the timeline is built (often already by user) */
			h->by_user[h->n_by_user++] = row->order_id;
			h->n_orders++;
		}
	}
out:
	for (int s = 0; s < n_sets; s++)
		ds_order_rows_free(&sets[s]);
	return rc;
}

int ds_orders_read(const char *path, struct ds_history *h, struct ds_report *rep)
{
	struct ds_order_rows rows = { 0 };
	const uint64_t before = 0;
	int rc = ds_orders_collect(path, NULL, &rows, rep);
	int mrc = ds_orders_merge(h, path, &rows, &before, 1, rep);
	return rc != DS_OK ? rc : mrc;
}

/* ---- Lines ---- */

struct lines_ctx {
	ds_line_cb cb;
	void *ctx;
};

static int line_row(const struct ds__row *r, void *vctx, char *why, size_t why_len)
{
	struct lines_ctx *c = vctx;
	static const char *const cols[] = { "order_id", "product_id", "add_to_cart_order", "reordered" };
	if (ds__is_header(r)) {
		int rc = ds__check_header(r, cols, 4, why, why_len);
		return rc ? ds__layout_error(r, why) : 0;
	}
	if (r->n != 4)
		return ds__bad(why, why_len, "%d columns, expected 4", r->n);
	uint64_t order, product, cart, re;
	if (ds__parse_uint(r->field[0], r->len[0], UINT32_MAX - 1, &order) || order == 0)
		return ds__bad(why, why_len, "order_id '%s' is not a positive integer", r->field[0]);
	if (ds__parse_uint(r->field[1], r->len[1], UINT32_MAX, &product) || product == 0)
		return ds__bad(why, why_len, "product_id '%s' is not a positive integer", r->field[1]);
	if (ds__parse_uint(r->field[2], r->len[2], UINT16_MAX, &cart) || cart == 0)
		return ds__bad(why, why_len, "add_to_cart_order '%s' not in 1..65535", r->field[2]);
	if (ds__parse_uint(r->field[3], r->len[3], 1, &re))
		return ds__bad(why, why_len, "reordered '%s' is not 0 or 1", r->field[3]);
	/* Zeroed first: an initialiser leaves the padding byte as the stack had it, and line
	 * tables are compared byte for byte (one read against the two-thread load). */
	struct ds_line l;
	memset(&l, 0, sizeof l);
	l.order_id = (uint32_t)order;
	l.product_id = (uint32_t)product;
	l.add_to_cart = (uint16_t)cart;
	l.reordered = (uint8_t)re;
	return c->cb(&l, c->ctx, why, why_len);
}

int ds_lines_read(const char *path, ds_line_cb cb, void *ctx, struct ds_report *rep)
{
	return ds_lines_read_range(path, NULL, cb, ctx, rep);
}

/*
 * The fast path of line_row for the common form "order,product,cart,reordered" (plain digits,
 * every value in range): the same line to the callback, without splitting the row. Anything
 * else (spaces, "15.0", a value out of range, more digits) is left to line_row.
 */
static const char *line_fast(const char *s, const char *end, void *vctx, uint64_t rowno, int *rc_out, char *why,
			     size_t why_len)
{
	(void)rowno;
	struct lines_ctx *c = vctx;
	uint64_t order, product, cart, re;
	const char *p = digits(s, end, &order);
	if (!p || p == end || *p != ',' || !(p = digits(p + 1, end, &product)) || p == end || *p != ',' ||
	    !(p = digits(p + 1, end, &cart)) || p == end || *p != ',' || !(p = digits(p + 1, end, &re)))
		return NULL;
	if (p < end && *p != '\n' && *p != '\r')
		return NULL;
	if (order == 0 || order > UINT32_MAX - 1 || product == 0 || product > UINT32_MAX || cart == 0 ||
	    cart > UINT16_MAX || re > 1)
		return NULL;
	struct ds_line l;
	memset(&l, 0, sizeof l); /* its padding too: tables of lines are compared whole */
	l.order_id = (uint32_t)order;
	l.product_id = (uint32_t)product;
	l.add_to_cart = (uint16_t)cart;
	l.reordered = (uint8_t)re;
	*rc_out = c->cb(&l, c->ctx, why, why_len);
	return p;
}

int ds_lines_read_range(const char *path, const struct ds_range *range, ds_line_cb cb, void *ctx, struct ds_report *rep)
{
	return ds__lines_read_range_rows(path, range, cb, NULL, ctx, rep);
}

int ds__lines_read_range_rows(const char *path, const struct ds_range *range, ds_line_cb cb, ds__rows_fn rows,
			      void *ctx, struct ds_report *rep)
{
	struct lines_ctx c = { cb, ctx };
	return ds__csv_read_range_rows(path, range, rep, line_row, line_fast, rows, &c, ctx);
}

/* ---- History ---- */

struct collect_ctx {
	const struct ds_history *h;
	struct ds_line_set *set;
};

int ds__orphan_line(const struct ds_history *h, const struct ds_line *l, char *why, size_t why_len)
{
	if (h->n_rejected_orders &&
	    bsearch(&l->order_id, h->rejected_orders, h->n_rejected_orders, sizeof *h->rejected_orders, compare_id))
		return ds__bad(why, why_len, "order_id %u was rejected (bad row in orders.csv)", l->order_id);
	return ds__bad(why, why_len, "order_id %u is not in orders.csv", l->order_id);
}

static int collect_line(const struct ds_line *l, void *vctx, char *why, size_t why_len)
{
	struct collect_ctx *c = vctx;
	struct ds_line_set *set = c->set;
	if (l->order_id >= c->h->cap || c->h->orders[l->order_id].user_id == 0) {
		set->orphans++;
		return ds__orphan_line(c->h, l, why, why_len);
	}
	if (ds__grow_array((void **)&set->lines, set->n, &set->cap, sizeof *set->lines, 1 << 16))
		return DS_NOMEM;
	set->lines[set->n++] = *l;
	return 0;
}

int ds_history_collect(const struct ds_history *h, const char *path, const struct ds_range *range,
		       struct ds_line_set *set, struct ds_report *rep)
{
	struct collect_ctx c = { h, set };
	return ds_lines_read_range(path, range, collect_line, &c, rep);
}

void ds_line_set_free(struct ds_line_set *set)
{
	if (!set)
		return;
	free(set->lines);
	memset(set, 0, sizeof *set);
}
