/*
 * event/ internals shared by its files (not part of the contract: see event.h): the byte cursor
 * the strict decoders read with, and the fixed-buffer target the encoders write to. Names with a
 * double underscore (event__) cross files inside the module only.
 */
#ifndef SEGSTREAM_EVENT_INT_H
#define SEGSTREAM_EVENT_INT_H

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>

#include "event/event.h"

/* A msgpack write target over a caller's fixed buffer: no allocation on the hot path. */
struct fixed_buffer {
	uint8_t *data;
	size_t cap;
	size_t len;
	int overflow;
};

/* msgpack_packer's write callback over a struct fixed_buffer (overflow set, -1, when full). */
int event__fixed_buffer_write(void *data, const char *buf, size_t len);

/* A read position in an encoded record. */
struct cursor {
	const uint8_t *p;
	size_t len;
	size_t off;
};

enum scalar_kind { SCALAR_UINT, SCALAR_NEG, SCALAR_NIL };

static inline uint64_t event__load_be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Writes a reason into why (if given) and returns err, so failures read as one line. */
int event__fail(int err, char *why, size_t why_len, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Reads one integer or nil at the cursor. A non-negative value is returned as SCALAR_UINT in
 * *u whatever its encoding width or signedness; a negative one as SCALAR_NEG in *i.
 */
int event__read_scalar(struct cursor *c, const char *field, enum scalar_kind *kind, uint64_t *u, int64_t *i, char *why,
		       size_t why_len);

/* Reads an array header at the cursor and returns its element count. */
int event__read_array_header(struct cursor *c, uint32_t *n, char *why, size_t why_len);

/* Reads an unsigned field no larger than max (nil allowed only if nil_ok; then *out = UINT64_MAX).
 * Inlined, with the positive fixint case first (most fields): the consumer decodes every event,
 * and the calls were ~6% of its time. On EVENT_RANGE (too large, or negative) the cursor is past
 * the field: a caller may go on reading. */
static inline __attribute__((always_inline)) int event__read_uint(struct cursor *c, const char *field, uint64_t max,
								  int nil_ok, uint64_t *out, char *why, size_t why_len)
{
	if (c->off < c->len && c->p[c->off] <= 0x7f) {
		*out = c->p[c->off++];
		if (*out > max)
			return event__fail(EVENT_RANGE, why, why_len, "%s: %" PRIu64 " exceeds %" PRIu64, field, *out,
					   max);
		return EVENT_OK;
	}
	enum scalar_kind kind;
	int64_t neg = 0;
	int rc = event__read_scalar(c, field, &kind, out, &neg, why, why_len);
	if (rc != EVENT_OK)
		return rc;
	if (kind == SCALAR_NIL) {
		if (!nil_ok)
			return event__fail(EVENT_TYPE, why, why_len, "%s: nil is not allowed", field);
		*out = UINT64_MAX;
		return EVENT_OK;
	}
	if (kind == SCALAR_NEG)
		return event__fail(EVENT_RANGE, why, why_len, "%s: negative value %" PRId64, field, neg);
	if (*out > max)
		return event__fail(EVENT_RANGE, why, why_len, "%s: %" PRIu64 " exceeds %" PRIu64, field, *out, max);
	return EVENT_OK;
}

#endif
