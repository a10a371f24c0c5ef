/*
 * The customer record, pure: its versioned encoding (versions 1 to 4 read, version 4 written) and
 * the one apply path that updates a record with an event. No I/O, no LMDB (see state.h).
 */
#include "state/state.h"

#include <string.h>
#include <zlib.h>

/*
 * Customer records: version byte, then LEB128 varints field by field, then each histogram as a
 * bitmap of its non-zero bins and those bins' values, then (versions 3 and 4) the CRC-32 of all
 * the bytes before it, little-endian: a flipped bit anywhere in a record is refused, never read
 * as another value. Version 4 added the last two histograms (cents per day and hour); version 3
 * is the same without them, version 2 also without the CRC, and version 1 wrote [count] then
 * [bin index, value] pairs instead; all are still read (what they lack reads as 0).
 * Records are variable-size on purpose: events arrive in event-time order, so every batch
 * updates customers all over the key space and LMDB rewrites each touched 4 KiB page whole;
 * a typical customer takes ~120 bytes (version 1: ~167; fixed fields: 681), so pages hold more
 * customers, a catch-up writes fewer pages and the consumer maps fewer (BENCHMARKS.md).
 */
struct vwriter {
	uint8_t *p, *end;
	int overflow;
};

static void put_varint(struct vwriter *w, uint64_t v)
{
	do {
		if (w->p == w->end) {
			w->overflow = 1;
			return;
		}
		uint8_t b = v & 0x7f;
		v >>= 7;
		*w->p++ = b | (v ? 0x80 : 0);
	} while (v);
}

/* A record's histograms in their encoded order: one list for the encoder and the decoder. */
static const struct {
	size_t offset; /* in struct state_customer */
	int bins;      /* at most 32 (get_bins' bitmap) */
	int wide;      /* uint64_t values, else uint32_t */
} histograms[] = {
	{ offsetof(struct state_customer, days_lines), STATE_DAY_BINS, 0 },
	{ offsetof(struct state_customer, days_orders), STATE_DAY_BINS, 0 },
	{ offsetof(struct state_customer, dept_items), STATE_DEPARTMENTS, 0 },
	{ offsetof(struct state_customer, dept_cents), STATE_DEPARTMENTS, 1 },
	{ offsetof(struct state_customer, dow_orders), 7, 0 },
	{ offsetof(struct state_customer, hour_orders), 24, 0 },
	{ offsetof(struct state_customer, dow_lines), 7, 0 },
	{ offsetof(struct state_customer, hour_lines), 24, 0 },
	{ offsetof(struct state_customer, dow_cents), 7, 1 },   /* version 4 on */
	{ offsetof(struct state_customer, hour_cents), 24, 1 }, /* version 4 on */
};

/* How many of histograms[] a record of versions 1 to 3 holds. */
#define HISTOGRAMS_BEFORE_V4 8

/* Writes a histogram given as uint32 (v32) or uint64 (v64) values: a bitmap of its non-zero
 * bins (ceil(n / 8) bytes, bin 0 in the low bit of the first byte), then those bins' values. */
static void put_bins(struct vwriter *w, const uint32_t *v32, const uint64_t *v64, int n)
{
	uint8_t *bitmap = w->p;
	int bitmap_len = (n + 7) / 8;
	if (w->end - w->p < bitmap_len) {
		w->overflow = 1;
		return;
	}
	memset(bitmap, 0, (size_t)bitmap_len);
	w->p += bitmap_len;
	for (int i = 0; i < n; i++) {
		uint64_t v = v32 ? v32[i] : v64[i];
		if (v) {
			bitmap[i / 8] |= (uint8_t)(1u << (i % 8));
			put_varint(w, v);
		}
	}
}

int state_customer_encode(const struct state_customer *c, uint8_t *buf, size_t buf_len, size_t *len_out)
{
	struct vwriter w = { buf, buf + buf_len, 0 };
	if (buf_len < 1)
		return STATE_INVAL;
	*w.p++ = STATE_RECORD_VERSION;
	const uint64_t scalars[] = {
		c->user_id,
		c->partition,
		c->orders,
		c->max_order,
		c->items,
		c->priced_items,
		c->reorders,
		c->span_days,
		c->last_order_number,
		c->last_add_to_cart,
		c->spend_cents,
		((uint64_t)c->last_event_ms << 1) ^ (uint64_t)(c->last_event_ms >> 63), /* zigzag */
	};
	for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++)
		put_varint(&w, scalars[i]);
	for (size_t h = 0; h < sizeof histograms / sizeof histograms[0]; h++) {
		const char *field = (const char *)c + histograms[h].offset;
		put_bins(&w, histograms[h].wide ? NULL : (const uint32_t *)field,
			 histograms[h].wide ? (const uint64_t *)field : NULL, histograms[h].bins);
	}
	if (w.overflow || w.end - w.p < 4)
		return STATE_INVAL;
	uint32_t crc = (uint32_t)crc32(0L, buf, (uInt)(w.p - buf));
	for (int i = 0; i < 4; i++)
		*w.p++ = (uint8_t)(crc >> (8 * i));
	*len_out = (size_t)(w.p - buf);
	return STATE_OK;
}

struct vreader {
	const uint8_t *p, *end;
	int bad;
};

static uint64_t get_varint(struct vreader *r, uint64_t max)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (r->p == r->end) {
			r->bad = 1;
			return 0;
		}
		uint8_t b = *r->p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			if (v > max)
				r->bad = 1;
			return v;
		}
	}
	r->bad = 1;
	return 0;
}

/* Version 1 histograms: the number of non-zero bins, then (bin index, value) pairs. */
static void get_pairs(struct vreader *r, uint32_t *v32, uint64_t *v64, int n)
{
	uint64_t k = get_varint(r, (uint64_t)n);
	int64_t last = -1;
	for (uint64_t j = 0; j < k && !r->bad; j++) {
		uint64_t i = get_varint(r, (uint64_t)n - 1);
		if (r->bad || (int64_t)i <= last) {
			r->bad = 1;
			return;
		}
		last = (int64_t)i;
		if (v32)
			v32[i] = (uint32_t)get_varint(r, UINT32_MAX);
		else
			v64[i] = get_varint(r, UINT64_MAX);
	}
}

/* Version 2 histograms (put_bins). A bit past the last bin or a zero value is corrupt: every
 * record has exactly one encoding. Walks the set bits only (n <= 32). */
static void get_bins(struct vreader *r, uint32_t *v32, uint64_t *v64, int n)
{
	int bitmap_len = (n + 7) / 8;
	if (r->end - r->p < bitmap_len) {
		r->bad = 1;
		return;
	}
	uint64_t mask = 0;
	for (int b = 0; b < bitmap_len; b++)
		mask |= (uint64_t)*r->p++ << (8 * b);
	if (mask >> n) {
		r->bad = 1;
		return;
	}
	while (mask && !r->bad) {
		int i = __builtin_ctzll(mask);
		mask &= mask - 1;
		uint64_t v = get_varint(r, v32 ? UINT32_MAX : UINT64_MAX);
		if (v == 0)
			r->bad = 1;
		else if (v32)
			v32[i] = (uint32_t)v;
		else
			v64[i] = v;
	}
}

int state_customer_decode(const uint8_t *buf, size_t len, struct state_customer *c)
{
	if (len < 1)
		return STATE_CORRUPT;
	void (*get_histogram)(struct vreader *, uint32_t *, uint64_t *, int);
	size_t n_histograms = HISTOGRAMS_BEFORE_V4;
	if (buf[0] == STATE_RECORD_VERSION || buf[0] == 3) {
		if (len < 5)
			return STATE_CORRUPT;
		len -= 4;
		uint32_t stored = (uint32_t)buf[len] | (uint32_t)buf[len + 1] << 8 | (uint32_t)buf[len + 2] << 16 |
				  (uint32_t)buf[len + 3] << 24;
		if ((uint32_t)crc32(0L, buf, (uInt)len) != stored)
			return STATE_CORRUPT;
		get_histogram = get_bins;
		if (buf[0] == STATE_RECORD_VERSION)
			n_histograms = sizeof histograms / sizeof histograms[0];
	} else if (buf[0] == 2) {
		get_histogram = get_bins; /* still read (no CRC); the next put writes the current version */
	} else if (buf[0] == 1) {
		get_histogram = get_pairs; /* still read; the next put writes the current version */
	} else {
		return STATE_VERSION;
	}
	struct vreader r = { buf + 1, buf + len, 0 };
	memset(c, 0, sizeof *c);
	c->user_id = (uint32_t)get_varint(&r, UINT32_MAX);
	c->partition = (uint32_t)get_varint(&r, UINT32_MAX);
	c->orders = (uint32_t)get_varint(&r, UINT32_MAX);
	c->max_order = (uint32_t)get_varint(&r, UINT32_MAX);
	c->items = (uint32_t)get_varint(&r, UINT32_MAX);
	c->priced_items = (uint32_t)get_varint(&r, UINT32_MAX);
	c->reorders = (uint32_t)get_varint(&r, UINT32_MAX);
	c->span_days = (uint32_t)get_varint(&r, UINT32_MAX);
	c->last_order_number = (uint32_t)get_varint(&r, UINT32_MAX);
	c->last_add_to_cart = (uint32_t)get_varint(&r, UINT32_MAX);
	c->spend_cents = get_varint(&r, UINT64_MAX);
	uint64_t zz = get_varint(&r, UINT64_MAX);
	c->last_event_ms = (int64_t)(zz >> 1) ^ -(int64_t)(zz & 1);
	for (size_t h = 0; h < n_histograms; h++) {
		char *field = (char *)c + histograms[h].offset;
		get_histogram(&r, histograms[h].wide ? NULL : (uint32_t *)field,
			      histograms[h].wide ? (uint64_t *)field : NULL, histograms[h].bins);
	}
	if (r.bad || r.p != r.end)
		return STATE_CORRUPT;
	return STATE_OK;
}

/* ---- The one apply path. ---- */

enum state_apply_result state_customer_apply(struct state_customer *c, const struct event *ev,
					     const struct state_product *product, int include_train)
{
	if (ev->eval_set == EVENT_EVAL_TRAIN && !include_train)
		return STATE_IGNORED;
	if (ev->order_number < c->last_order_number ||
	    (ev->order_number == c->last_order_number && ev->add_to_cart_order <= c->last_add_to_cart))
		return STATE_DUPLICATE;
	int has_days = ev->days_since_prior != EVENT_DAYS_NONE;
	if (ev->order_number != c->last_order_number) {
		c->orders++;
		c->dow_orders[ev->order_dow]++;
		c->hour_orders[ev->order_hour]++;
		if (has_days) {
			c->days_orders[ev->days_since_prior]++;
			c->span_days += (uint32_t)ev->days_since_prior;
		}
	}
	if (ev->order_number > c->max_order)
		c->max_order = ev->order_number;
	c->user_id = ev->user_id;
	c->items++;
	c->reorders += ev->reordered;
	if (has_days)
		c->days_lines[ev->days_since_prior]++;
	c->dow_lines[ev->order_dow]++;
	c->hour_lines[ev->order_hour]++;
	int priced = product && product->price_cents > 0;
	if (priced) {
		c->priced_items++;
		c->spend_cents += (uint64_t)product->price_cents;
		c->dow_cents[ev->order_dow] += (uint64_t)product->price_cents;
		c->hour_cents[ev->order_hour] += (uint64_t)product->price_cents;
	}
	if (product && product->department_id >= 1 && product->department_id <= STATE_DEPARTMENTS) {
		c->dept_items[product->department_id - 1]++;
		if (priced)
			c->dept_cents[product->department_id - 1] += (uint64_t)product->price_cents;
	}
	c->last_order_number = ev->order_number;
	c->last_add_to_cart = ev->add_to_cart_order;
	c->last_event_ms = ev->event_time_ms;
	return STATE_APPLIED;
}

void state_product_from_event(const struct event_product *ep, struct state_product *out)
{
	*out = (struct state_product){ ep->product_id, ep->aisle_id, ep->department_id, ep->price_cents };
}
