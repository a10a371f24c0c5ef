/* The wire format of the stream (see event.h): versioned msgpack encoding and strict decoding of
 * the order-product event and of the reference records (products, customers, names). */
#include "event/event.h"
#include "event/event_int.h"

#include <inttypes.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define EVENT_V1_FIELDS 12

const char *event_strerror(int err)
{
#define EVENT_ERR_TEXT(name, code, text) \
	case code:                       \
		return text;
	switch (err) {
		EVENT_ERR_MAP(EVENT_ERR_TEXT)
	}
#undef EVENT_ERR_TEXT
	return "unknown event error";
}

const char *event_errname(int err)
{
#define EVENT_ERR_NAME(name, code, text) \
	case code:                       \
		return "EVENT_" #name;
	switch (err) {
		EVENT_ERR_MAP(EVENT_ERR_NAME)
	}
#undef EVENT_ERR_NAME
	return "EVENT_UNKNOWN";
}

int event_key_user_id(const void *key, size_t key_len, uint32_t *user_id_out)
{
	const char *k = key;
	/* 4294967295 has 10 digits; a first digit 0 is a leading zero (or the invalid id 0). */
	if (!k || key_len == 0 || key_len > 10 || k[0] < '1' || k[0] > '9')
		return EVENT_KEY;
	uint64_t v = 0;
	for (size_t i = 0; i < key_len; i++) {
		if (k[i] < '0' || k[i] > '9')
			return EVENT_KEY;
		v = v * 10 + (uint64_t)(k[i] - '0');
	}
	if (v > UINT32_MAX)
		return EVENT_KEY;
	*user_id_out = (uint32_t)v;
	return EVENT_OK;
}

/* Writes a reason into why (if given) and returns err, so failures read as one line. */
int event__fail(int err, char *why, size_t why_len, const char *fmt, ...)
{
	if (why && why_len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return err;
}

int event_validate(const struct event *ev, char *why, size_t why_len)
{
	if (ev->user_id == 0)
		return event__fail(EVENT_RANGE, why, why_len, "user_id: 0 is not a valid id");
	if (ev->order_id == 0)
		return event__fail(EVENT_RANGE, why, why_len, "order_id: 0 is not a valid id");
	if (ev->product_id == 0)
		return event__fail(EVENT_RANGE, why, why_len, "product_id: 0 is not a valid id");
	if (ev->order_number == 0)
		return event__fail(EVENT_RANGE, why, why_len, "order_number: must be >= 1");
	if (ev->add_to_cart_order == 0)
		return event__fail(EVENT_RANGE, why, why_len, "add_to_cart_order: must be >= 1");
	if (ev->order_dow > 6)
		return event__fail(EVENT_RANGE, why, why_len, "order_dow: %u not in 0..6", ev->order_dow);
	if (ev->order_hour > 23)
		return event__fail(EVENT_RANGE, why, why_len, "order_hour_of_day: %u not in 0..23", ev->order_hour);
	if (ev->days_since_prior != EVENT_DAYS_NONE &&
	    (ev->days_since_prior < 0 || ev->days_since_prior > EVENT_DAYS_MAX))
		return event__fail(EVENT_RANGE, why, why_len, "days_since_prior_order: %d not in 0..30 or nil",
				   ev->days_since_prior);
	if (ev->reordered > 1)
		return event__fail(EVENT_RANGE, why, why_len, "reordered: %u not 0 or 1", ev->reordered);
	if (ev->eval_set > EVENT_EVAL_TRAIN)
		return event__fail(EVENT_RANGE, why, why_len, "eval_set: %u not 0 (prior) or 1 (train)", ev->eval_set);
	return EVENT_OK;
}

int event__fixed_buffer_write(void *data, const char *buf, size_t len)
{
	struct fixed_buffer *fb = data;
	if (fb->len + len > fb->cap) {
		fb->overflow = 1;
		return -1;
	}
	memcpy(fb->data + fb->len, buf, len);
	fb->len += len;
	return 0;
}

int event_encode(const struct event *ev, uint8_t *buf, size_t buf_len, size_t *len_out)
{
	int rc = event_validate(ev, NULL, 0);
	if (rc != EVENT_OK)
		return rc;
	struct fixed_buffer fb = { .data = buf, .cap = buf_len };
	msgpack_packer pk;
	msgpack_packer_init(&pk, &fb, event__fixed_buffer_write);
	msgpack_pack_array(&pk, EVENT_V1_FIELDS);
	msgpack_pack_uint8(&pk, EVENT_SCHEMA_VERSION);
	msgpack_pack_uint32(&pk, ev->user_id);
	msgpack_pack_uint32(&pk, ev->order_id);
	msgpack_pack_uint16(&pk, ev->order_number);
	msgpack_pack_uint8(&pk, ev->order_dow);
	msgpack_pack_uint8(&pk, ev->order_hour);
	if (ev->days_since_prior == EVENT_DAYS_NONE)
		msgpack_pack_nil(&pk);
	else
		msgpack_pack_uint8(&pk, (uint8_t)ev->days_since_prior);
	msgpack_pack_uint32(&pk, ev->product_id);
	msgpack_pack_uint16(&pk, ev->add_to_cart_order);
	msgpack_pack_uint8(&pk, ev->reordered);
	msgpack_pack_uint8(&pk, ev->eval_set);
	msgpack_pack_int64(&pk, ev->event_time_ms);
	if (fb.overflow)
		return EVENT_NOSPACE;
	*len_out = fb.len;
	return EVENT_OK;
}

static const char *const field_names[EVENT_V1_FIELDS] = {
	"schema_version",         "user_id",    "order_id",          "order_number", "order_dow", "order_hour_of_day",
	"days_since_prior_order", "product_id", "add_to_cart_order", "reordered",    "eval_set",  "event_time_ms",
};

/*
 * Decoding is hand-written rather than msgpack_unpack_next(): every v1 field is a scalar, so a
 * cursor over the bytes is enough, allocates nothing, and cannot be made to reserve memory by a
 * hostile length prefix (msgpack-c allocates an array's elements from its header before it
 * knows the bytes exist). Encoding uses msgpack-c's packer; the tests check that any integer
 * width the packer chooses decodes back.
 */
/* A name for a msgpack format byte that is not an integer or nil, for error reasons. */
static const char *format_name(uint8_t b)
{
	if ((b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb))
		return "a string";
	if ((b >= 0x90 && b <= 0x9f) || b == 0xdc || b == 0xdd)
		return "an array";
	if ((b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf)
		return "a map";
	if (b >= 0xc4 && b <= 0xc6)
		return "binary data";
	if (b == 0xc2 || b == 0xc3)
		return "a boolean";
	if (b == 0xca || b == 0xcb)
		return "a float";
	return "an extension value";
}

/*
 * Reads one integer or nil at the cursor. A non-negative value is returned as SCALAR_UINT in
 * *u whatever its encoding width or signedness; a negative one as SCALAR_NEG in *i.
 */
int event__read_scalar(struct cursor *c, const char *field, enum scalar_kind *kind, uint64_t *u, int64_t *i, char *why,
		       size_t why_len)
{
	if (c->off >= c->len)
		return event__fail(EVENT_TRUNCATED, why, why_len, "%s: payload ends before the field", field);
	uint8_t b = c->p[c->off];
	int width = 0, is_signed = 0;
	if (b <= 0x7f) {
		c->off++;
		*kind = SCALAR_UINT;
		*u = b;
		return EVENT_OK;
	}
	if (b >= 0xe0) {
		c->off++;
		*kind = SCALAR_NEG;
		*i = (int8_t)b;
		return EVENT_OK;
	}
	switch (b) {
	case 0xc0:
		c->off++;
		*kind = SCALAR_NIL;
		return EVENT_OK;
	case 0xcc:
		width = 1;
		break;
	case 0xcd:
		width = 2;
		break;
	case 0xce:
		width = 4;
		break;
	case 0xcf:
		width = 8;
		break;
	case 0xd0:
		width = 1;
		is_signed = 1;
		break;
	case 0xd1:
		width = 2;
		is_signed = 1;
		break;
	case 0xd2:
		width = 4;
		is_signed = 1;
		break;
	case 0xd3:
		width = 8;
		is_signed = 1;
		break;
	case 0xc1:
		return event__fail(EVENT_MALFORMED, why, why_len, "%s: byte 0xc1 is never used in msgpack", field);
	default:
		return event__fail(EVENT_TYPE, why, why_len, "%s: expected an integer, found %s", field,
				   format_name(b));
	}
	if (c->len - c->off - 1 < (size_t)width)
		return event__fail(EVENT_TRUNCATED, why, why_len, "%s: payload ends inside the field", field);
	uint64_t raw = event__load_be(c->p + c->off + 1, width);
	c->off += 1 + (size_t)width;
	if (is_signed) {
		int shift = 64 - 8 * width;
		int64_t s = (int64_t)(raw << shift) >> shift; /* sign-extend */
		if (s < 0) {
			*kind = SCALAR_NEG;
			*i = s;
			return EVENT_OK;
		}
		raw = (uint64_t)s;
	}
	*kind = SCALAR_UINT;
	*u = raw;
	return EVENT_OK;
}

/* Reads the array header and returns its element count. */
int event__read_array_header(struct cursor *c, uint32_t *n, char *why, size_t why_len)
{
	if (c->off >= c->len)
		return event__fail(EVENT_TRUNCATED, why, why_len, "payload ends before an array");
	uint8_t b = c->p[c->off];
	int width;
	if (b >= 0x90 && b <= 0x9f) {
		*n = b & 0x0f;
		c->off++;
		return EVENT_OK;
	}
	if (b == 0xdc)
		width = 2;
	else if (b == 0xdd)
		width = 4;
	else if (b == 0xc1)
		return event__fail(EVENT_MALFORMED, why, why_len, "byte 0xc1 is never used in msgpack");
	else
		return event__fail(EVENT_SHAPE, why, why_len, "event is %s, not an array", format_name(b));
	if (c->len - c->off < 1 + (size_t)width)
		return event__fail(EVENT_TRUNCATED, why, why_len, "payload ends inside the array header");
	*n = (uint32_t)event__load_be(c->p + c->off + 1, width);
	c->off += 1 + (size_t)width;
	return EVENT_OK;
}

int event_decode(const void *buf, size_t len, struct event *ev_out, char *why, size_t why_len)
{
	if (buf == NULL || len == 0)
		return event__fail(EVENT_TRUNCATED, why, why_len, "empty payload");
	struct cursor c = { .p = buf, .len = len };
	uint32_t n = 0;
	uint64_t v[EVENT_V1_FIELDS];
	int rc = event__read_array_header(&c, &n, why, why_len);
	if (rc != EVENT_OK)
		return rc;
	if (n == 0)
		return event__fail(EVENT_SHAPE, why, why_len, "event is an empty array");
	rc = event__read_uint(&c, field_names[0], UINT32_MAX, 0, &v[0], why, why_len);
	if (rc != EVENT_OK)
		return rc;
	if (v[0] != EVENT_SCHEMA_VERSION)
		return event__fail(EVENT_VERSION, why, why_len, "schema_version %" PRIu64 " is not supported", v[0]);
	if (n != EVENT_V1_FIELDS)
		return event__fail(EVENT_SHAPE, why, why_len, "array of %" PRIu32 " elements; schema v1 has %d", n,
				   EVENT_V1_FIELDS);
	static const uint64_t max[EVENT_V1_FIELDS - 1] = {
		0, UINT32_MAX, UINT32_MAX, UINT16_MAX, 6, 23, EVENT_DAYS_MAX, UINT32_MAX, UINT16_MAX, 1, 1,
	};
	for (int i = 1; i < EVENT_V1_FIELDS - 1; i++) {
		rc = event__read_uint(&c, field_names[i], max[i], i == 6, &v[i], why, why_len);
		if (rc != EVENT_OK)
			return rc;
	}
	enum scalar_kind kind;
	uint64_t time_u = 0;
	int64_t time_s = 0;
	rc = event__read_scalar(&c, field_names[11], &kind, &time_u, &time_s, why, why_len);
	if (rc != EVENT_OK)
		return rc;
	if (kind == SCALAR_NIL || (kind == SCALAR_UINT && time_u > INT64_MAX))
		return event__fail(EVENT_TYPE, why, why_len, "event_time_ms: expected a signed 64-bit integer");
	if (c.off != len)
		return event__fail(EVENT_TRAILING, why, why_len, "%zu trailing bytes after the event", len - c.off);
	ev_out->user_id = (uint32_t)v[1];
	ev_out->order_id = (uint32_t)v[2];
	ev_out->order_number = (uint16_t)v[3];
	ev_out->order_dow = (uint8_t)v[4];
	ev_out->order_hour = (uint8_t)v[5];
	ev_out->days_since_prior = v[6] == UINT64_MAX ? EVENT_DAYS_NONE : (int8_t)v[6];
	ev_out->product_id = (uint32_t)v[7];
	ev_out->add_to_cart_order = (uint16_t)v[8];
	ev_out->reordered = (uint8_t)v[9];
	ev_out->eval_set = (uint8_t)v[10];
	ev_out->event_time_ms = kind == SCALAR_NEG ? time_s : (int64_t)time_u;
	return event_validate(ev_out, why, why_len);
}

/* ---- Reference records (products, customers, names) ---- */

/* The head every reference record shares: a non-empty array whose first element is the schema
 * version this decoder reads, of that version's size. what names the record in the reasons. */
static int read_record_head(struct cursor *c, const char *what, uint64_t version_read, uint32_t fields, char *why,
			    size_t why_len)
{
	uint32_t n = 0;
	uint64_t version = 0;
	int rc = event__read_array_header(c, &n, why, why_len);
	if (rc == EVENT_OK && n == 0)
		rc = event__fail(EVENT_SHAPE, why, why_len, "%s is an empty array", what);
	if (rc == EVENT_OK)
		rc = event__read_uint(c, "schema_version", UINT32_MAX, 0, &version, why, why_len);
	if (rc == EVENT_OK && version != version_read)
		rc = event__fail(EVENT_VERSION, why, why_len, "%s schema_version %" PRIu64 " is not supported", what,
				 version);
	if (rc == EVENT_OK && n != fields)
		rc = event__fail(EVENT_SHAPE, why, why_len, "%s array of %" PRIu32 " elements; v1 has %" PRIu32, what,
				 n, fields);
	return rc;
}

/* ---- Product reference records ---- */

#define PRODUCT_V1_FIELDS 5

int event_product_encode(const struct event_product *p, uint8_t *buf, size_t buf_len, size_t *len_out)
{
	if (p->product_id == 0 || (p->price_cents != EVENT_NO_PRICE && (p->price_cents < 1 || p->price_cents > 10000)))
		return EVENT_RANGE;
	struct fixed_buffer fb = { .data = buf, .cap = buf_len };
	msgpack_packer pk;
	msgpack_packer_init(&pk, &fb, event__fixed_buffer_write);
	msgpack_pack_array(&pk, PRODUCT_V1_FIELDS);
	msgpack_pack_uint8(&pk, EVENT_PRODUCT_SCHEMA_VERSION);
	msgpack_pack_uint32(&pk, p->product_id);
	msgpack_pack_uint32(&pk, p->aisle_id);
	msgpack_pack_uint8(&pk, p->department_id);
	if (p->price_cents == EVENT_NO_PRICE)
		msgpack_pack_nil(&pk);
	else
		msgpack_pack_int32(&pk, p->price_cents);
	if (fb.overflow)
		return EVENT_NOSPACE;
	*len_out = fb.len;
	return EVENT_OK;
}

int event_product_decode(const void *buf, size_t len, struct event_product *p_out, char *why, size_t why_len)
{
	if (buf == NULL || len == 0)
		return event__fail(EVENT_TRUNCATED, why, why_len, "empty payload");
	struct cursor c = { .p = buf, .len = len };
	uint64_t id, aisle, dept, price;
	int rc = read_record_head(&c, "product", EVENT_PRODUCT_SCHEMA_VERSION, PRODUCT_V1_FIELDS, why, why_len);
	if (rc == EVENT_OK)
		rc = event__read_uint(&c, "product_id", UINT32_MAX, 0, &id, why, why_len);
	if (rc == EVENT_OK && id == 0)
		rc = event__fail(EVENT_RANGE, why, why_len, "product_id: 0 is not a valid id");
	if (rc == EVENT_OK)
		rc = event__read_uint(&c, "aisle_id", UINT32_MAX, 0, &aisle, why, why_len);
	if (rc == EVENT_OK)
		rc = event__read_uint(&c, "department_id", 255, 0, &dept, why, why_len);
	if (rc == EVENT_OK)
		rc = event__read_uint(&c, "price_cents", 10000, 1, &price, why, why_len);
	if (rc == EVENT_OK && price == 0)
		rc = event__fail(EVENT_RANGE, why, why_len, "price_cents: 0 is not a valid price");
	if (rc == EVENT_OK && c.off != len)
		rc = event__fail(EVENT_TRAILING, why, why_len, "%zu trailing bytes after the product", len - c.off);
	if (rc != EVENT_OK)
		return rc;
	p_out->product_id = (uint32_t)id;
	p_out->aisle_id = (uint32_t)aisle;
	p_out->department_id = (uint8_t)dept;
	p_out->price_cents = price == UINT64_MAX ? EVENT_NO_PRICE : (int32_t)price;
	return EVENT_OK;
}

/* ---- Customer reference records ---- */

#define CUSTOMER_V1_FIELDS 9
static const char *const customer_fields[CUSTOMER_V1_FIELDS] = {
	"schema_version", "user_id", "state", "age", "joined_day", "n_dependants", "fam_status", "income", "gender",
};
static const uint64_t customer_max[CUSTOMER_V1_FIELDS] = { UINT32_MAX, UINT32_MAX, 50,         150, INT32_MAX,
							   50,         3,          UINT32_MAX, 2 };

int event_customer_encode(const struct event_customer *c, uint8_t *buf, size_t buf_len, size_t *len_out)
{
	const uint64_t v[CUSTOMER_V1_FIELDS] = {
		EVENT_CUSTOMER_SCHEMA_VERSION,
		c->user_id,
		c->state,
		c->age,
		(uint64_t)(c->joined_day < 0 ? -1 : c->joined_day),
		c->n_dependants,
		c->fam_status,
		c->income,
		c->gender,
	};
	if (c->user_id == 0 || c->joined_day < 0)
		return EVENT_RANGE;
	for (int i = 0; i < CUSTOMER_V1_FIELDS; i++)
		if (v[i] > customer_max[i])
			return EVENT_RANGE;
	struct fixed_buffer fb = { .data = buf, .cap = buf_len };
	msgpack_packer pk;
	msgpack_packer_init(&pk, &fb, event__fixed_buffer_write);
	msgpack_pack_array(&pk, CUSTOMER_V1_FIELDS);
	for (int i = 0; i < CUSTOMER_V1_FIELDS; i++)
		msgpack_pack_uint64(&pk, v[i]);
	if (fb.overflow)
		return EVENT_NOSPACE;
	*len_out = fb.len;
	return EVENT_OK;
}

int event_customer_decode(const void *buf, size_t len, struct event_customer *c_out, char *why, size_t why_len)
{
	if (buf == NULL || len == 0)
		return event__fail(EVENT_TRUNCATED, why, why_len, "empty payload");
	struct cursor c = { .p = buf, .len = len };
	uint64_t v[CUSTOMER_V1_FIELDS]; /* by field; v[0] unused: the head reads the version */
	int rc = read_record_head(&c, "customer", EVENT_CUSTOMER_SCHEMA_VERSION, CUSTOMER_V1_FIELDS, why, why_len);
	for (int i = 1; i < CUSTOMER_V1_FIELDS && rc == EVENT_OK; i++)
		rc = event__read_uint(&c, customer_fields[i], customer_max[i], 0, &v[i], why, why_len);
	if (rc == EVENT_OK && v[1] == 0)
		rc = event__fail(EVENT_RANGE, why, why_len, "user_id: 0 is not a valid id");
	if (rc == EVENT_OK && c.off != len)
		rc = event__fail(EVENT_TRAILING, why, why_len, "%zu trailing bytes after the customer", len - c.off);
	if (rc != EVENT_OK)
		return rc;
	c_out->user_id = (uint32_t)v[1];
	c_out->state = (uint8_t)v[2];
	c_out->age = (uint8_t)v[3];
	c_out->joined_day = (int32_t)v[4];
	c_out->n_dependants = (uint8_t)v[5];
	c_out->fam_status = (uint8_t)v[6];
	c_out->income = (uint32_t)v[7];
	c_out->gender = (uint8_t)v[8];
	return EVENT_OK;
}

/* ---- Names (departments, aisles) ---- */

#define NAME_V1_FIELDS 4

/* A name is 1..EVENT_NAME_MAX-1 bytes without control characters (CSV-safe, JSON-safe). */
static int name_valid(const char *s, size_t len)
{
	if (len == 0 || len >= EVENT_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '"' || s[i] == '\\')
			return 0;
	return 1;
}

int event_name_encode(const struct event_name *n, uint8_t *buf, size_t buf_len, size_t *len_out)
{
	size_t len = strnlen(n->name, EVENT_NAME_MAX);
	if (n->kind > EVENT_NAME_AISLE || n->id == 0 || !name_valid(n->name, len))
		return EVENT_RANGE;
	struct fixed_buffer fb = { .data = buf, .cap = buf_len };
	msgpack_packer pk;
	msgpack_packer_init(&pk, &fb, event__fixed_buffer_write);
	msgpack_pack_array(&pk, NAME_V1_FIELDS);
	msgpack_pack_uint8(&pk, EVENT_NAME_SCHEMA_VERSION);
	msgpack_pack_uint8(&pk, n->kind);
	msgpack_pack_uint32(&pk, n->id);
	msgpack_pack_str(&pk, len);
	msgpack_pack_str_body(&pk, n->name, len);
	if (fb.overflow)
		return EVENT_NOSPACE;
	*len_out = fb.len;
	return EVENT_OK;
}

/* Reads a msgpack str (fixstr, str8, str16) at the cursor: a pointer into the buffer and its length. */
static int read_str(struct cursor *c, const char *field, const char **s, size_t *len, char *why, size_t why_len)
{
	if (c->off >= c->len)
		return event__fail(EVENT_TRUNCATED, why, why_len, "%s: payload ends before the field", field);
	uint8_t b = c->p[c->off];
	size_t head;
	if (b >= 0xa0 && b <= 0xbf) {
		head = 1;
		*len = b & 0x1f;
	} else if (b == 0xd9 || b == 0xda) {
		head = b == 0xd9 ? 2 : 3;
		if (c->len - c->off < head)
			return event__fail(EVENT_TRUNCATED, why, why_len, "%s: payload ends inside the field", field);
		*len = (size_t)event__load_be(c->p + c->off + 1, (int)head - 1);
	} else {
		return event__fail(EVENT_TYPE, why, why_len, "%s: expected a string of at most 65535 bytes", field);
	}
	if (c->len - c->off - head < *len)
		return event__fail(EVENT_TRUNCATED, why, why_len, "%s: payload ends inside the field", field);
	*s = (const char *)c->p + c->off + head;
	c->off += head + *len;
	return EVENT_OK;
}

int event_name_decode(const void *buf, size_t len, struct event_name *n_out, char *why, size_t why_len)
{
	if (buf == NULL || len == 0)
		return event__fail(EVENT_TRUNCATED, why, why_len, "empty payload");
	struct cursor c = { .p = buf, .len = len };
	uint64_t kind = 0, id = 0;
	const char *s = NULL;
	size_t slen = 0;
	int rc = read_record_head(&c, "name", EVENT_NAME_SCHEMA_VERSION, NAME_V1_FIELDS, why, why_len);
	if (rc == EVENT_OK)
		rc = event__read_uint(&c, "kind", EVENT_NAME_AISLE, 0, &kind, why, why_len);
	if (rc == EVENT_OK)
		rc = event__read_uint(&c, "id", UINT32_MAX, 0, &id, why, why_len);
	if (rc == EVENT_OK && id == 0)
		rc = event__fail(EVENT_RANGE, why, why_len, "id: 0 is not a valid id");
	if (rc == EVENT_OK)
		rc = read_str(&c, "name", &s, &slen, why, why_len);
	if (rc == EVENT_OK && !name_valid(s, slen))
		rc = event__fail(EVENT_RANGE, why, why_len,
				 "name: %zu bytes; 1..%d without control characters or quotes", slen,
				 EVENT_NAME_MAX - 1);
	if (rc == EVENT_OK && c.off != len)
		rc = event__fail(EVENT_TRAILING, why, why_len, "%zu trailing bytes after the name", len - c.off);
	if (rc != EVENT_OK)
		return rc;
	n_out->kind = (uint8_t)kind;
	n_out->id = (uint32_t)id;
	memcpy(n_out->name, s, slen);
	n_out->name[slen] = '\0';
	return EVENT_OK;
}

int event_name_key(const struct event_name *n, char *buf, size_t buf_len)
{
	int len = snprintf(buf, buf_len, "%s/%" PRIu32, n->kind == EVENT_NAME_DEPARTMENT ? "department" : "aisle",
			   n->id);
	return len < 0 || (size_t)len >= buf_len ? -1 : len;
}
