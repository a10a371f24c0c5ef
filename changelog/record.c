/*
 * The changelog's records, pure: the customer and marker keys, the marker's value, and the
 * reconcile decision a new owner takes; plus the module's error texts.
 */
#include <string.h>

#include "changelog/changelog.h"

const char *clog_strerror(int err)
{
#define CLOG_ERR_TEXT(name, code, text) \
	case code:                      \
		return text;
	switch (err) {
		CLOG_ERR_MAP(CLOG_ERR_TEXT)
	}
#undef CLOG_ERR_TEXT
	return "unknown changelog error";
}

static void be_store(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * (3 - i)));
}

static uint32_t be_load(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

size_t clog_key_customer(uint32_t partition, uint32_t user_id, uint8_t out[CLOG_KEY_MAX])
{
	out[0] = CLOG_KEY_CUSTOMER;
	be_store(out + 1, partition);
	be_store(out + 5, user_id);
	return 9;
}

size_t clog_key_marker(uint32_t partition, uint8_t out[CLOG_KEY_MAX])
{
	out[0] = CLOG_KEY_MARKER;
	be_store(out + 1, partition);
	return 5;
}

int clog_key_decode(const void *key, size_t len, enum clog_key_kind *kind_out, uint32_t *partition_out,
		    uint32_t *user_id_out)
{
	const uint8_t *k = key;
	if (!k || len < 5 || (k[0] == CLOG_KEY_CUSTOMER && len != 9) || (k[0] == CLOG_KEY_MARKER && len != 5) ||
	    (k[0] != CLOG_KEY_CUSTOMER && k[0] != CLOG_KEY_MARKER))
		return CLOG_CORRUPT;
	*kind_out = (enum clog_key_kind)k[0];
	*partition_out = be_load(k + 1);
	*user_id_out = k[0] == CLOG_KEY_CUSTOMER ? be_load(k + 5) : 0;
	return CLOG_OK;
}

void clog_marker_encode(int64_t next_offset, uint8_t out[CLOG_MARKER_SIZE])
{
	out[0] = 1; /* version */
	for (int i = 0; i < 8; i++)
		out[1 + i] = (uint8_t)((uint64_t)next_offset >> (8 * i));
}

int clog_marker_decode(const void *value, size_t len, int64_t *next_out)
{
	const uint8_t *v = value;
	if (!v || len != CLOG_MARKER_SIZE || v[0] != 1)
		return CLOG_CORRUPT;
	uint64_t n = 0;
	for (int i = 0; i < 8; i++)
		n |= (uint64_t)v[1 + i] << (8 * i);
	if ((int64_t)n < 0)
		return CLOG_CORRUPT;
	*next_out = (int64_t)n;
	return CLOG_OK;
}

enum clog_action clog_reconcile(int64_t marker, int64_t local)
{
	if (marker < 0 && local < 0)
		return CLOG_KEEP;
	if (local < 0 || marker > local)
		return CLOG_REPLACE;
	if (marker < 0 || marker < local)
		return CLOG_REPUBLISH;
	return CLOG_KEEP;
}

const char *clog_action_name(enum clog_action a)
{
	switch (a) {
	case CLOG_KEEP:
		return "keep";
	case CLOG_REPLACE:
		return "replace";
	case CLOG_REPUBLISH:
		return "republish";
	}
	return "unknown";
}
