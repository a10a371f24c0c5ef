/* Schema version 2 of the events topic (see event.h): one message per order carrying its lines;
 * its encoding, the strict decoding of a message of either version into events, and the dead
 * letter of one refused line. */
#include <inttypes.h>
#include <msgpack.h>
#include <string.h>

#include "event/event.h"
#include "event/event_int.h"

#define ORDER_V2_FIELDS 10
#define LINE_FIELDS     3

/* Whether b carries the order of a: every field but the line's three. */
static int same_order(const struct event *a, const struct event *b)
{
	return a->user_id == b->user_id && a->order_id == b->order_id && a->order_number == b->order_number &&
	       a->order_dow == b->order_dow && a->order_hour == b->order_hour &&
	       a->days_since_prior == b->days_since_prior && a->eval_set == b->eval_set &&
	       a->event_time_ms == b->event_time_ms;
}

int event_order_encode(const struct event *lines, size_t n, uint8_t *buf, size_t buf_len, size_t *len_out)
{
	if (n == 0 || n > EVENT_ORDER_LINES_MAX)
		return EVENT_RANGE;
	for (size_t i = 0; i < n; i++)
		if (event_validate(&lines[i], NULL, 0) != EVENT_OK || !same_order(&lines[0], &lines[i]))
			return EVENT_RANGE;
	const struct event *o = &lines[0];
	struct fixed_buffer fb = { .data = buf, .cap = buf_len };
	msgpack_packer pk;
	msgpack_packer_init(&pk, &fb, event__fixed_buffer_write);
	msgpack_pack_array(&pk, ORDER_V2_FIELDS);
	msgpack_pack_uint8(&pk, EVENT_ORDER_SCHEMA_VERSION);
	msgpack_pack_uint32(&pk, o->user_id);
	msgpack_pack_uint32(&pk, o->order_id);
	msgpack_pack_uint16(&pk, o->order_number);
	msgpack_pack_uint8(&pk, o->order_dow);
	msgpack_pack_uint8(&pk, o->order_hour);
	if (o->days_since_prior == EVENT_DAYS_NONE)
		msgpack_pack_nil(&pk);
	else
		msgpack_pack_uint8(&pk, (uint8_t)o->days_since_prior);
	msgpack_pack_uint8(&pk, o->eval_set);
	msgpack_pack_int64(&pk, o->event_time_ms);
	msgpack_pack_array(&pk, (size_t)n);
	for (size_t i = 0; i < n; i++) {
		msgpack_pack_array(&pk, LINE_FIELDS);
		msgpack_pack_uint32(&pk, lines[i].product_id);
		msgpack_pack_uint16(&pk, lines[i].add_to_cart_order);
		msgpack_pack_uint8(&pk, lines[i].reordered);
	}
	if (fb.overflow)
		return EVENT_NOSPACE;
	*len_out = fb.len;
	return EVENT_OK;
}

static const char *const order_fields[ORDER_V2_FIELDS - 1] = {
	"schema_version",         "user_id",  "order_id",      "order_number", "order_dow", "order_hour_of_day",
	"days_since_prior_order", "eval_set", "event_time_ms",
};

/*
 * Reads the order's fields (elements 1..8, after the version) into o; the cursor ends at the
 * lines. Every failure refuses the message.
 */
static int read_order(struct cursor *c, struct event *o, char *why, size_t why_len)
{
	static const uint64_t max[ORDER_V2_FIELDS - 2] = { 0, UINT32_MAX, UINT32_MAX,     UINT16_MAX,
							   6, 23,         EVENT_DAYS_MAX, 1 };
	uint64_t v[ORDER_V2_FIELDS - 2];
	for (int i = 1; i < ORDER_V2_FIELDS - 2; i++) {
		int rc = event__read_uint(c, order_fields[i], max[i], i == 6, &v[i], why, why_len);
		if (rc != EVENT_OK)
			return rc;
	}
	enum scalar_kind kind;
	uint64_t time_u = 0;
	int64_t time_s = 0;
	int rc = event__read_scalar(c, order_fields[8], &kind, &time_u, &time_s, why, why_len);
	if (rc != EVENT_OK)
		return rc;
	if (kind == SCALAR_NIL || (kind == SCALAR_UINT && time_u > INT64_MAX))
		return event__fail(EVENT_TYPE, why, why_len, "event_time_ms: expected a signed 64-bit integer");
	for (int i = 1; i <= 3; i++)
		if (v[i] == 0)
			return event__fail(EVENT_RANGE, why, why_len, "%s: must be >= 1", order_fields[i]);
	memset(o, 0, sizeof *o);
	o->user_id = (uint32_t)v[1];
	o->order_id = (uint32_t)v[2];
	o->order_number = (uint16_t)v[3];
	o->order_dow = (uint8_t)v[4];
	o->order_hour = (uint8_t)v[5];
	o->days_since_prior = v[6] == UINT64_MAX ? EVENT_DAYS_NONE : (int8_t)v[6];
	o->eval_set = (uint8_t)v[7];
	o->event_time_ms = kind == SCALAR_NEG ? time_s : (int64_t)time_u;
	return EVENT_OK;
}

/* Whether b starts a msgpack array (or is the never-used byte, which the array reader names). */
static int array_byte(uint8_t b)
{
	return (b >= 0x90 && b <= 0x9f) || b == 0xdc || b == 0xdd || b == 0xc1;
}

/*
 * Reads one line (index i of n) into l, the order's fields from o. A value out of range marks
 * the line alone (l->rc = EVENT_RANGE, its reason in lwhy if given) and returns EVENT_OK; anything
 * else refuses the message (returned, its reason in why). The reasons are formatted only on
 * failure: this runs for every line the consumer reads.
 */
static int read_line(struct cursor *c, const struct event *o, uint32_t i, uint32_t n, struct event_line *l, char *lwhy,
		     size_t lwhy_len, char *why, size_t why_len)
{
	static const char *const names[LINE_FIELDS] = { "product_id", "add_to_cart_order", "reordered" };
	static const uint64_t max[LINE_FIELDS] = { UINT32_MAX, UINT16_MAX, 1 };
	char r[160];
	uint32_t k = 0;
	size_t start = c->off;
	if (c->off < c->len && !array_byte(c->p[c->off]))
		return event__fail(EVENT_SHAPE, why, why_len, "line %" PRIu32 " of %" PRIu32 ": not an array", i + 1,
				   n);
	int rc = event__read_array_header(c, &k, r, sizeof r);
	if (rc != EVENT_OK)
		return event__fail(rc, why, why_len, "line %" PRIu32 " of %" PRIu32 ": %s", i + 1, n, r);
	if (k != LINE_FIELDS)
		return event__fail(EVENT_SHAPE, why, why_len,
				   "line %" PRIu32 " of %" PRIu32 ": array of %" PRIu32 " elements; a line has %d",
				   i + 1, n, k, LINE_FIELDS);
	uint64_t v[LINE_FIELDS] = { 0, 0, 0 };
	l->ev = *o;
	l->rc = EVENT_OK;
	for (int f = 0; f < LINE_FIELDS; f++) {
		rc = event__read_uint(c, names[f], max[f], 0, &v[f], r, sizeof r);
		if (rc == EVENT_OK && v[f] == 0 && f < 2)
			rc = event__fail(EVENT_RANGE, r, sizeof r, "%s: 0 is not valid", names[f]);
		if (rc == EVENT_RANGE) { /* the cursor is past the value: the line alone is refused */
			if (l->rc == EVENT_OK)
				event__fail(EVENT_RANGE, lwhy, lwhy_len, "line %" PRIu32 " of %" PRIu32 ": %s", i + 1,
					    n, r);
			l->rc = EVENT_RANGE;
		} else if (rc != EVENT_OK) {
			return event__fail(rc, why, why_len, "line %" PRIu32 " of %" PRIu32 ": %s", i + 1, n, r);
		}
	}
	l->ev.product_id = (uint32_t)v[0];
	l->ev.add_to_cart_order = (uint16_t)v[1];
	l->ev.reordered = (uint8_t)v[2];
	l->off = (uint32_t)start;
	l->len = (uint32_t)(c->off - start);
	return EVENT_OK;
}

int event_message_decode(const void *buf, size_t len, struct event_line *lines, size_t lines_cap, size_t *n_out,
			 char *why, size_t why_len)
{
	*n_out = 0;
	if (buf == NULL || len == 0)
		return event__fail(EVENT_TRUNCATED, why, why_len, "empty payload");
	struct cursor c = { .p = buf, .len = len };
	uint32_t n = 0, n_lines = 0;
	uint64_t version = 0;
	int rc = event__read_array_header(&c, &n, why, why_len);
	if (rc == EVENT_OK && n == 0)
		rc = event__fail(EVENT_SHAPE, why, why_len, "event is an empty array");
	if (rc == EVENT_OK)
		rc = event__read_uint(&c, "schema_version", UINT32_MAX, 0, &version, why, why_len);
	if (rc != EVENT_OK)
		return rc;
	if (version == EVENT_SCHEMA_VERSION) {
		if (lines_cap < 1)
			return event__fail(EVENT_NOSPACE, why, why_len, "no room for the event");
		rc = event_decode(buf, len, &lines[0].ev, why, why_len);
		if (rc != EVENT_OK)
			return rc;
		lines[0].rc = EVENT_OK;
		lines[0].off = 0;
		lines[0].len = (uint32_t)len;
		*n_out = 1;
		return EVENT_OK;
	}
	if (version != EVENT_ORDER_SCHEMA_VERSION)
		return event__fail(EVENT_VERSION, why, why_len, "schema_version %" PRIu64 " is not supported", version);
	if (n != ORDER_V2_FIELDS)
		return event__fail(EVENT_SHAPE, why, why_len, "array of %" PRIu32 " elements; schema v2 has %d", n,
				   ORDER_V2_FIELDS);
	struct event o;
	rc = read_order(&c, &o, why, why_len);
	if (rc != EVENT_OK)
		return rc;
	if (c.off < c.len && !array_byte(c.p[c.off]))
		return event__fail(EVENT_TYPE, why, why_len, "lines: expected an array");
	rc = event__read_array_header(&c, &n_lines, why, why_len);
	if (rc != EVENT_OK)
		return rc;
	if (n_lines == 0 || n_lines > EVENT_ORDER_LINES_MAX)
		return event__fail(EVENT_SHAPE, why, why_len, "lines: %" PRIu32 " lines; an order message has 1..%d",
				   n_lines, EVENT_ORDER_LINES_MAX);
	if (n_lines > lines_cap)
		return event__fail(EVENT_NOSPACE, why, why_len, "lines: %" PRIu32 " lines, room for %zu", n_lines,
				   lines_cap);
	int first_bad = 1;
	for (uint32_t i = 0; i < n_lines; i++) {
		rc = read_line(&c, &o, i, n_lines, &lines[i], first_bad ? why : NULL, first_bad ? why_len : 0, why,
			       why_len);
		if (rc != EVENT_OK)
			return rc;
		if (lines[i].rc != EVENT_OK)
			first_bad = 0;
	}
	if (c.off != len)
		return event__fail(EVENT_TRAILING, why, why_len, "%zu trailing bytes after the order", len - c.off);
	for (uint32_t i = 0; i < n_lines; i++) /* the line's checks cover it; this keeps one rule (event_validate) */
		if (lines[i].rc == EVENT_OK && event_validate(&lines[i].ev, NULL, 0) != EVENT_OK)
			lines[i].rc = EVENT_RANGE;
	*n_out = n_lines;
	return EVENT_OK;
}

int event_order_line_extract(const void *buf, size_t len, const struct event_line *line, uint8_t *out, size_t out_len,
			     size_t *len_out)
{
	struct cursor c = { .p = buf, .len = len };
	uint32_t n = 0, n_lines = 0;
	uint64_t version = 0;
	if (!buf || len == 0 || event__read_array_header(&c, &n, NULL, 0) != EVENT_OK || n != ORDER_V2_FIELDS ||
	    event__read_uint(&c, "", UINT32_MAX, 0, &version, NULL, 0) != EVENT_OK ||
	    version != EVENT_ORDER_SCHEMA_VERSION)
		return EVENT_SHAPE;
	size_t order_start = c.off;
	for (int i = 1; i < ORDER_V2_FIELDS - 1; i++) {
		enum scalar_kind kind;
		uint64_t u;
		int64_t s;
		if (event__read_scalar(&c, "", &kind, &u, &s, NULL, 0) != EVENT_OK)
			return EVENT_SHAPE;
	}
	size_t order_end = c.off;
	if (event__read_array_header(&c, &n_lines, NULL, 0) != EVENT_OK || line->off < c.off || line->off > len ||
	    line->len > len - line->off || line->len == 0)
		return EVENT_SHAPE;
	size_t need = 2 + (order_end - order_start) + 1 + line->len;
	if (need > out_len)
		return EVENT_NOSPACE;
	size_t k = 0;
	out[k++] = 0x90 | ORDER_V2_FIELDS;
	out[k++] = EVENT_ORDER_SCHEMA_VERSION;
	memcpy(out + k, c.p + order_start, order_end - order_start);
	k += order_end - order_start;
	out[k++] = 0x91; /* the lines: one */
	memcpy(out + k, c.p + line->off, line->len);
	k += line->len;
	*len_out = k;
	return EVENT_OK;
}
