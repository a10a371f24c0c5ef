/*
 * The reference tables of dataset/: products.csv (with its prices), departments.csv (long or
 * transposed), aisles.csv and customers.csv (demographics, names never kept), each read into an
 * id-indexed table, and the number and date parsers they need.
 */
#include "dataset/dataset_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "event/event.h"

int ds_price_cents(const char *s, size_t len, int32_t *cents_out)
{
	ds__trim(&s, &len);
	if (len == 0)
		return 0;
	uint64_t whole = 0;
	size_t i = 0;
	for (; i < len && isdigit((unsigned char)s[i]); i++) {
		whole = whole * 10 + (uint64_t)(s[i] - '0');
		if (whole > 1000000)
			return 0;
	}
	uint64_t frac = 0; /* thousandths */
	int digits = 0, round_up = 0;
	if (i < len && s[i] == '.') {
		for (i++; i < len && isdigit((unsigned char)s[i]); i++) {
			if (digits < 3)
				frac = frac * 10 + (uint64_t)(s[i] - '0');
			digits++;
		}
		if (digits == 0 && i == 1)
			return 0;
	}
	if (i != len || (i == 0))
		return 0;
	for (int d = digits; d < 3; d++)
		frac *= 10;
	/* Half away from zero on the third decimal; later decimals only matter past it
	 * ("x.xx5" exactly is half; "x.xx49" is not, so the third digit decides). */
	round_up = frac % 10 >= 5;
	uint64_t cents = whole * 100 + frac / 10 + (uint64_t)round_up;
	if (cents == 0 || cents > 10000)
		return 0;
	*cents_out = (int32_t)cents;
	return 1;
}

/* ---- Products ---- */

static int product_row(const struct ds__row *r, void *ctx, char *why, size_t why_len)
{
	struct ds_products *p = ctx;
	static const char *const cols[] = { "product_id", "product_name", "aisle_id", "department_id", "prices" };
	if (ds__is_header(r)) {
		int rc = ds__check_header(r, cols, r->n == 4 ? 4 : 5, why, why_len);
		return rc ? ds__layout_error(r, why) : 0;
	}
	if (r->n != 4 && r->n != 5)
		return ds__bad(why, why_len, "%d columns, expected 4 or 5", r->n);
	uint64_t id, aisle, dept;
	if (ds__parse_uint(r->field[0], r->len[0], UINT32_MAX, &id) || id == 0)
		return ds__bad(why, why_len, "product_id '%s' is not a positive integer", r->field[0]);
	if (ds__parse_uint(r->field[2], r->len[2], UINT32_MAX, &aisle))
		return ds__bad(why, why_len, "aisle_id '%s' is not an integer", r->field[2]);
	if (ds__parse_uint(r->field[3], r->len[3], 255, &dept))
		return ds__bad(why, why_len, "department_id '%s' is not an integer in 0..255", r->field[3]);
	if (id > ds__id_limit(r->rowno))
		return ds__bad(why, why_len,
			       "product_id %" PRIu64 " is over the limit %" PRIu64 " at row %" PRIu64
			       " (ids up to %u per row read, %u at least)",
			       id, ds__id_limit(r->rowno), r->rowno, DS_ID_PER_ROW, DS_ID_FLOOR);
	if (ds__grow_table((void **)&p->by_id, &p->cap, sizeof *p->by_id, id))
		return DS_NOMEM;
	struct ds_product *e = &p->by_id[id];
	if (e->product_id) {
		p->duplicate_rows++;
		p->unpriced -= e->price_cents < 0;
	} else {
		p->count++;
	}
	e->product_id = (uint32_t)id;
	e->aisle_id = (uint32_t)aisle;
	e->department_id = (uint8_t)dept;
	e->price_cents = -1;
	if (r->n == 5)
		ds_price_cents(r->field[4], r->len[4], &e->price_cents);
	else
		p->no_price_column++;
	p->unpriced += e->price_cents < 0;
	return 0;
}

/* Products without a price get the unknown spending label: said once, as it is rarely meant. */
static void warn_no_price_column(const char *path, const struct ds_products *p, const struct ds_report *rep)
{
	FILE *log = rep->log ? rep->log : stderr;
	uint64_t rows = p->count + p->duplicate_rows;
	if (p->no_price_column == rows)
		fprintf(log,
			"%s: warning: no prices column: no product has a price, so every spending label "
			"will be unknown\n",
			path);
	else
		fprintf(log,
			"%s: warning: %llu of %llu rows have no prices column: their products have no price "
			"(spending label unknown)\n",
			path, (unsigned long long)p->no_price_column, (unsigned long long)rows);
}

int ds_products_read(const char *path, struct ds_products *out, struct ds_report *rep)
{
	memset(out, 0, sizeof *out);
	int rc = ds__csv_read_range(path, NULL, rep, product_row, out);
	if (rc != DS_OK && rc != DS_ROWS)
		ds_products_free(out);
	else if (out->no_price_column)
		warn_no_price_column(path, out, rep);
	return rc;
}

void ds_products_free(struct ds_products *p)
{
	if (!p)
		return;
	free(p->by_id);
	memset(p, 0, sizeof *p);
}

const struct ds_product *ds_product_find(const struct ds_products *p, uint32_t product_id)
{
	if (product_id >= p->cap || p->by_id[product_id].product_id == 0)
		return NULL;
	return &p->by_id[product_id];
}

/* ---- Departments ---- */

struct departments_ctx {
	struct ds_departments *d;
	int layout; /* 0 unknown, 1 long, 2 transposed */
	uint64_t ids[DS_MAX_DEPARTMENTS + 1];
	int n_ids;
};

static int set_department(struct ds_departments *d, uint64_t id, const struct ds__row *r, int col, char *why,
			  size_t why_len)
{
	if (id == 0 || id > DS_MAX_DEPARTMENTS)
		return ds__bad(why, why_len, "department_id %llu not in 1..%d", (unsigned long long)id,
			       DS_MAX_DEPARTMENTS);
	if (r->len[col] == 0 || r->len[col] >= sizeof d->names[0])
		return ds__bad(why, why_len, "department %llu has an empty or too long name", (unsigned long long)id);
	if (d->names[id][0] == 0)
		d->count++;
	memcpy(d->names[id], r->field[col], r->len[col] + 1);
	return 0;
}

static int department_row(const struct ds__row *r, void *vctx, char *why, size_t why_len)
{
	struct departments_ctx *c = vctx;
	if (r->rowno == 1) {
		if (r->n == 2) {
			c->layout = 1;
			return ds__is_header(r) ? 0
						: ds__bad(why, why_len, "expected the header department_id,department");
		}
		/* Transposed: department_id,1,2,...  then  department,frozen,other,... */
		if (r->n < 2 || strcasecmp(r->field[0], "department_id") != 0)
			return ds__layout_error(r, "departments: neither the long nor the transposed layout");
		c->layout = 2;
		for (int i = 1; i < r->n && i < DS__MAX_FIELDS; i++) {
			if (ds__parse_uint(r->field[i], r->len[i], DS_MAX_DEPARTMENTS, &c->ids[i]))
				return ds__layout_error(r, "departments: transposed header has a non-numeric id");
		}
		c->n_ids = r->n;
		return 0;
	}
	if (c->layout == 1) {
		uint64_t id;
		if (r->n != 2 || ds__parse_uint(r->field[0], r->len[0], UINT32_MAX, &id))
			return ds__bad(why, why_len, "expected department_id,department");
		return set_department(c->d, id, r, 1, why, why_len);
	}
	if (r->rowno != 2 || r->n != c->n_ids || strcasecmp(r->field[0], "department") != 0)
		return ds__bad(why, why_len, "transposed departments: expected one row 'department,...' of %d columns",
			       c->n_ids);
	int rc = 0;
	for (int i = 1; i < r->n && i < DS__MAX_FIELDS && rc == 0; i++)
		rc = set_department(c->d, c->ids[i], r, i, why, why_len);
	return rc;
}

int ds_departments_read(const char *path, struct ds_departments *out, struct ds_report *rep)
{
	memset(out, 0, sizeof *out);
	struct departments_ctx c = { .d = out };
	return ds__csv_read_range(path, NULL, rep, department_row, &c);
}

/* ---- Aisles ---- */

static int aisle_row(const struct ds__row *r, void *vctx, char *why, size_t why_len)
{
	struct ds_aisles *a = vctx;
	uint64_t id;
	if (r->rowno == 1) {
		if (r->n != 2 || strcasecmp(r->field[0], "aisle_id") != 0)
			return ds__layout_error(r, "aisles: expected the header aisle_id,aisle");
		return 0;
	}
	if (r->n != 2 || ds__parse_uint(r->field[0], r->len[0], DS_MAX_AISLES, &id) || id == 0)
		return ds__bad(why, why_len, "expected aisle_id (1..%d),aisle", DS_MAX_AISLES);
	if (r->len[1] == 0 || r->len[1] >= sizeof a->names[0])
		return ds__bad(why, why_len, "aisle %llu has an empty or too long name", (unsigned long long)id);
	if (a->names[id][0] == 0)
		a->count++;
	memcpy(a->names[id], r->field[1], r->len[1] + 1);
	return 0;
}

int ds_aisles_read(const char *path, struct ds_aisles *out, struct ds_report *rep)
{
	memset(out, 0, sizeof *out);
	return ds__csv_read_range(path, NULL, rep, aisle_row, out);
}

/* ---- Customers ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int32_t days_from_civil(int y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int32_t)doe - 719468;
}

int ds_parse_date(const char *s, size_t len, int32_t *days_out)
{
	ds__trim(&s, &len);
	const char *slash1 = memchr(s, '/', len);
	const char *slash2 = slash1 ? memchr(slash1 + 1, '/', len - (size_t)(slash1 + 1 - s)) : NULL;
	uint64_t m, d, y;
	if (!slash2 || ds__parse_uint(s, (size_t)(slash1 - s), 12, &m) ||
	    ds__parse_uint(slash1 + 1, (size_t)(slash2 - slash1 - 1), 31, &d) ||
	    ds__parse_uint(slash2 + 1, len - (size_t)(slash2 + 1 - s), 9999, &y))
		return -1;
	static const uint8_t mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (m < 1 || d < 1 || d > mdays[m - 1] || y < 1900 || y > 2999)
		return -1;
	*days_out = days_from_civil((int)y, (unsigned)m, (unsigned)d);
	return 0;
}

/* A customers file being read: the table, and the state names as a row compares them. */
struct customers_read {
	struct ds_customers *c;
	struct {
		const char *name;
		size_t len;
		int first; /* its first letter, lower case */
	} states[EVENT_STATE_COUNT];
};

static int customer_row(const struct ds__row *r, void *ctx, char *why, size_t why_len)
{
	struct customers_read *cr = ctx;
	struct ds_customers *c = cr->c;
	if (ds__is_header(r)) {
		if (r->n != 10 || strcasecmp(r->field[0], "user_id") != 0)
			return ds__layout_error(r, "customers: expected 10 columns starting with user_id");
		return 0;
	}
	if (r->n != 10)
		return ds__bad(why, why_len, "%d columns, expected 10", r->n);
	uint64_t id, age, deps, income;
	int32_t joined;
	if (ds__parse_uint(r->field[0], r->len[0], UINT32_MAX, &id) || id == 0)
		return ds__bad(why, why_len, "user_id '%s' is not a positive integer", r->field[0]);
	int state = -1;
	/* The length and first letter compared first: strcasecmp for each of the ~50 names took most
	 * of the read. */
	const int first = tolower((unsigned char)r->field[4][0]);
	for (int i = 0; i < EVENT_STATE_COUNT && state < 0; i++)
		if (cr->states[i].len == r->len[4] && cr->states[i].first == first &&
		    strcasecmp(cr->states[i].name, r->field[4]) == 0)
			state = i;
	if (state < 0)
		return ds__bad(why, why_len, "STATE '%s' is not a US state name", r->field[4]);
	if (ds__parse_uint(r->field[5], r->len[5], 150, &age))
		return ds__bad(why, why_len, "Age '%s' is not an integer", r->field[5]);
	if (ds_parse_date(r->field[6], r->len[6], &joined))
		return ds__bad(why, why_len, "date_joined '%s' is not M/D/YYYY", r->field[6]);
	if (ds__parse_uint(r->field[7], r->len[7], 50, &deps))
		return ds__bad(why, why_len, "n_dependants '%s' is not an integer", r->field[7]);
	int fam_status = -1;
	for (int i = 0; i < EVENT_FAM_STATUS_COUNT; i++)
		if (strcasecmp(event_fam_status_name(i), r->field[8]) == 0)
			fam_status = i;
	if (fam_status < 0)
		return ds__bad(why, why_len, "fam_status '%s' is unknown", r->field[8]);
	if (ds__parse_uint(r->field[9], r->len[9], UINT32_MAX, &income))
		return ds__bad(why, why_len, "income '%s' is not an integer", r->field[9]);
	if (id > ds__id_limit(r->rowno))
		return ds__bad(why, why_len,
			       "user_id %" PRIu64 " is over the limit %" PRIu64 " at row %" PRIu64
			       " (ids up to %u per row read, %u at least)",
			       id, ds__id_limit(r->rowno), r->rowno, DS_ID_PER_ROW, DS_ID_FLOOR);
	if (ds__grow_table((void **)&c->by_id, &c->cap, sizeof *c->by_id, id))
		return DS_NOMEM;
	struct ds_customer *e = &c->by_id[id];
	c->count += e->user_id == 0;
	e->user_id = (uint32_t)id;
	e->joined_day = joined;
	e->state = (uint8_t)state;
	e->age = (uint8_t)age;
	e->n_dependants = (uint8_t)deps;
	e->fam_status = (uint8_t)fam_status;
	e->income = (uint32_t)income;
	e->gender = strcasecmp(r->field[3], "female") == 0 ? 1 : strcasecmp(r->field[3], "male") == 0 ? 2 : 0;
	return 0;
}

int ds_customers_read(const char *path, struct ds_customers *out, struct ds_report *rep)
{
	memset(out, 0, sizeof *out);
	struct customers_read cr = { .c = out };
	for (int i = 0; i < EVENT_STATE_COUNT; i++) {
		cr.states[i].name = event_state_name(i);
		cr.states[i].len = strlen(cr.states[i].name);
		cr.states[i].first = tolower((unsigned char)cr.states[i].name[0]);
	}
	int rc = ds__csv_read_range(path, NULL, rep, customer_row, &cr);
	if (rc != DS_OK && rc != DS_ROWS)
		ds_customers_free(out);
	return rc;
}

void ds_customers_free(struct ds_customers *c)
{
	if (!c)
		return;
	free(c->by_id);
	memset(c, 0, sizeof *c);
}

const struct ds_customer *ds_customer_find(const struct ds_customers *c, uint32_t user_id)
{
	if (!c || user_id >= c->cap || c->by_id[user_id].user_id == 0)
		return NULL;
	return &c->by_id[user_id];
}
