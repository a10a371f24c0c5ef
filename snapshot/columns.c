/* The column table of a snapshot row (see snapshot.h): each column's name, type, flags and
 * value, declared once; the sinks, the manifest and the CLI read rows through it. */
#include "snapshot/snapshot.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* A median kept times two (segment_median_x2), as days; NaN (null) when there is none. */
static double half(int32_t x2)
{
	return x2 < 0 ? NAN : x2 / 2.0;
}

/* A demographic group's name, NULL (null) when the customer has no demographics. */
#define GROUP(v, name_of, member) ((v)->g.valid ? name_of((v)->g.member) : NULL)

/* An integer column's null. */
#define SNAP_INT_NULL INT64_MIN

/* A raw demographic field, SNAP_INT_NULL (null) when the customer has no demographics. */
#define DEMO(v, member) ((v)->d ? (int64_t)(v)->d->member : SNAP_INT_NULL)

/*
 * THE column table. XX(name, type, flags, value): name is the column's name everywhere (the
 * manifest, the CSV header, `segstream get`); type is INT, REAL or TEXT; value is an expression
 * over `const struct snap_values *v` (a null is NULL for texts, NaN for reals, SNAP_INT_NULL
 * for integers). Adding a column is one line here.
 */
#define SNAP_COLUMN_TABLE(XX)                                                          \
	XX(user_id, INT, 0, v->c->user_id)                                             \
	XX(partition, INT, 0, v->c->partition)                                         \
	XX(orders, INT, 0, v->c->orders)                                               \
	XX(max_order, INT, 0, v->c->max_order)                                         \
	XX(items, INT, 0, v->c->items)                                                 \
	XX(priced_items, INT, 0, v->c->priced_items)                                   \
	XX(spend_cents, INT, 0, v->c->spend_cents)                                     \
	XX(reorders, INT, 0, v->c->reorders)                                           \
	XX(median_days, REAL, SNAP_NULLABLE, half(v->l.median_days_x2))                \
	XX(order_median_days, REAL, SNAP_NULLABLE, half(v->l.order_median_days_x2))    \
	XX(loyalty, TEXT, 0, segment_loyalty_name(v->l.loyalty))                       \
	XX(spending, TEXT, 0, segment_spending_name(v->l.spending))                    \
	XX(frequency, TEXT, 0, segment_frequency_name(v->l.frequency))                 \
	XX(low_activity, INT, 0, v->l.low_activity != 0)                               \
	XX(region, TEXT, SNAP_NULLABLE, GROUP(v, segment_region_name, region))         \
	XX(age_group, TEXT, SNAP_NULLABLE, GROUP(v, segment_age_name, age))            \
	XX(income_group, TEXT, SNAP_NULLABLE, GROUP(v, segment_income_name, income))   \
	XX(family, TEXT, SNAP_NULLABLE, GROUP(v, segment_family_name, family))         \
	XX(primary_profile, TEXT, 0, segment_profile_name(v->primary))                 \
	XX(persona, TEXT, SNAP_NULLABLE | SNAP_QUOTED, v->g.valid ? v->persona : NULL) \
	XX(basket_size, REAL, SNAP_NULLABLE, v->drv.basket_size)                       \
	XX(order_rate, REAL, SNAP_NULLABLE, v->drv.order_rate)                         \
	XX(reorder_rate, REAL, SNAP_NULLABLE, v->drv.reorder_rate)                     \
	XX(age, INT, SNAP_NULLABLE, DEMO(v, age))                                      \
	XX(income, INT, SNAP_NULLABLE, DEMO(v, income))                                \
	XX(n_dependants, INT, SNAP_NULLABLE, DEMO(v, n_dependants))                    \
	XX(cluster, INT, SNAP_NULLABLE, v->cluster == SNAP_CLUSTER_UNKNOWN ? SNAP_INT_NULL : v->cluster)

enum column_id {
#define COLUMN_ID(name, type, flags, value) COL_##name,
	SNAP_COLUMN_TABLE(COLUMN_ID)
#undef COLUMN_ID
	    COLUMN_COUNT
};

static const struct snap_column columns[] = {
#define COLUMN_DESC(name, type, flags, value) { #name, SNAP_##type, flags },
	SNAP_COLUMN_TABLE(COLUMN_DESC)
#undef COLUMN_DESC
};

_Static_assert(COLUMN_COUNT <= SNAP_COLUMNS_MAX, "more columns than a reader takes");

const struct snap_column *snap_columns(size_t *n_out)
{
	*n_out = COLUMN_COUNT;
	return columns;
}

#define SET_INT(x)  (out->i = (int64_t)(x), out->null = out->i == SNAP_INT_NULL)
#define SET_REAL(x) (out->r = (x), out->null = isnan(out->r))
#define SET_TEXT(x) (out->s = (x), out->null = out->s == NULL)

void snap_column_value(const struct snap_values *v, size_t col, struct snap_value *out)
{
	switch ((enum column_id)col) {
#define COLUMN_CASE(name, type, flags, value) \
	case COL_##name:                      \
		SET_##type(value);            \
		return;
		SNAP_COLUMN_TABLE(COLUMN_CASE)
#undef COLUMN_CASE
	case COLUMN_COUNT:
		break;
	}
	out->null = 1;
}

void snap_values_compute(const struct segment_config *cfg, const struct state_customer *c,
			 const struct event_customer *d, struct snap_values *v)
{
	v->c = c;
	v->d = d;
	segment_label(cfg, c, &v->l);
	segment_groups(d, &v->g);
	v->primary = segment_profiles(cfg, c, v->profile_items, v->profile_cents);
	segment_drivers(c, &v->drv);
	v->persona[0] = 0;
	v->cluster = SNAP_CLUSTER_UNKNOWN;
	if (v->g.valid)
		segment_persona_name(segment_persona(&v->g, v->primary), v->persona, sizeof v->persona);
}

/* Decimal digits of x into buf (at least 21 bytes). @return buf. */
static char *format_u64(uint64_t x, char *buf)
{
	char tmp[24];
	int n = 0;
	do
		tmp[n++] = (char)('0' + x % 10);
	while ((x /= 10) != 0);
	for (int i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = 0;
	return buf;
}

const char *snap_value_text(enum snap_type type, const struct snap_value *val, char *buf, size_t len)
{
	if (val->null)
		return NULL;
	switch (type) {
	case SNAP_INT:
		if (val->i >= 0 && len >= 24)
			return format_u64((uint64_t)val->i, buf);
		snprintf(buf, len, "%" PRId64, val->i);
		return buf;
	case SNAP_REAL:
		/* Whole and half numbers (counts, medians) without printf; the same text as %.17g. */
		if (val->r >= 0 && val->r < 1e15 && len >= 24 && val->r * 2 == (double)(uint64_t)(val->r * 2)) {
			uint64_t x2 = (uint64_t)(val->r * 2);
			format_u64(x2 / 2, buf);
			if (x2 % 2)
				memcpy(buf + strlen(buf), ".5", 3);
			return buf;
		}
		snprintf(buf, len, "%.17g", val->r);
		return buf;
	case SNAP_TEXT:
		return val->s;
	}
	return NULL;
}
