/**
 * @file event.h
 * @brief The order-product event: one line of an Instacart order joined with its order row.
 *
 * This module owns the event struct, its versioned msgpack encoding and its validation. It is
 * pure: bytes in, event or error out. It knows nothing of Kafka, LMDB or files.
 *
 * Wire format, schema version 1: a msgpack array of exactly 12 elements, in this order:
 *
 *  | # | field              | msgpack type       | range                          |
 *  |---|--------------------|--------------------|--------------------------------|
 *  | 0 | schema version     | positive int       | 1                              |
 *  | 1 | user_id            | positive int       | 1 .. 2^32-1                    |
 *  | 2 | order_id           | positive int       | 1 .. 2^32-1                    |
 *  | 3 | order_number       | positive int       | 1 .. 65535                     |
 *  | 4 | order_dow          | positive int       | 0 .. 6                         |
 *  | 5 | order_hour_of_day  | positive int       | 0 .. 23                        |
 *  | 6 | days_since_prior   | positive int / nil | 0 .. 30, nil on a first order  |
 *  | 7 | product_id         | positive int       | 1 .. 2^32-1                    |
 *  | 8 | add_to_cart_order  | positive int       | 1 .. 65535                     |
 *  | 9 | reordered          | positive int       | 0 .. 1                         |
 *  |10 | eval_set           | positive int       | 0 prior, 1 train               |
 *  |11 | event_time_ms      | int                | ms since the Unix epoch        |
 *
 * A reader rejects anything else, including trailing bytes after the array. A new field means
 * a new schema version; decoders keep accepting the old ones.
 *
 * Schema version 2, the order encoding: one message per order carrying its lines (replay
 * --encoding order), a msgpack array of exactly 10 elements; the same key (the user id's
 * canonical decimal) and so the same partition as version 1:
 *
 *  | # | field              | msgpack type       | range                                      |
 *  |---|--------------------|--------------------|--------------------------------------------|
 *  | 0 | schema version     | positive int       | 2                                          |
 *  | 1 | user_id            | positive int       | 1 .. 2^32-1                                |
 *  | 2 | order_id           | positive int       | 1 .. 2^32-1                                |
 *  | 3 | order_number       | positive int       | 1 .. 65535                                 |
 *  | 4 | order_dow          | positive int       | 0 .. 6                                     |
 *  | 5 | order_hour_of_day  | positive int       | 0 .. 23                                    |
 *  | 6 | days_since_prior   | positive int / nil | 0 .. 30, nil on a first order              |
 *  | 7 | eval_set           | positive int       | 0 prior, 1 train                           |
 *  | 8 | event_time_ms      | int                | ms since the Unix epoch                    |
 *  | 9 | lines              | array              | 1 .. EVENT_ORDER_LINES_MAX (1000) lines    |
 *
 * and each line an array of exactly 3 elements [product_id (1 .. 2^32-1), add_to_cart_order
 * (1 .. 65535), reordered (0 .. 1)], in add-to-cart order. Each line with the order's fields is
 * one struct event, exactly the event version 1 carries for it. An order longer than the maximum
 * goes out as several messages (each with the order's fields and some of its lines); so does a
 * --skip or --limit that cuts an order.
 *
 * Strictness, per line: a line whose values are out of range (EVENT_RANGE: a zero id or
 * position, reordered 2, a negative value) is refused alone, and the others stand. Anything else
 * refuses the whole message: a field of the order out of range, a wrong type or shape anywhere
 * (in a line too), no line or more than the maximum, truncation, trailing bytes.
 */
#ifndef SEGSTREAM_EVENT_H
#define SEGSTREAM_EVENT_H

#include <stddef.h>
#include <stdint.h>

#define EVENT_SCHEMA_VERSION 1
#define EVENT_ENCODED_MAX    64   /**< Upper bound of an encoded event, in bytes. */
#define EVENT_DAYS_NONE      (-1) /**< days_since_prior of a user's first order. */
#define EVENT_DAYS_MAX       30

enum event_eval_set { EVENT_EVAL_PRIOR = 0, EVENT_EVAL_TRAIN = 1 };

/** Errors of this module: negative, in the -300 range. */
#define EVENT_ERR_MAP(XX)                                      \
	XX(OK, 0, "success")                                   \
	XX(TRUNCATED, -301, "truncated msgpack")               \
	XX(MALFORMED, -302, "malformed msgpack")               \
	XX(SHAPE, -303, "not an array of the schema's length") \
	XX(TYPE, -304, "field of the wrong type")              \
	XX(RANGE, -305, "field out of range")                  \
	XX(TRAILING, -306, "trailing bytes after the event")   \
	XX(VERSION, -307, "unknown schema version")            \
	XX(NOSPACE, -308, "output buffer too small")           \
	XX(KEY, -309, "message key is not the canonical decimal of a user id")

enum event_err {
#define EVENT_ERR_ENUM(name, code, text) EVENT_##name = code,
	EVENT_ERR_MAP(EVENT_ERR_ENUM)
#undef EVENT_ERR_ENUM
};

/** @brief A message for an error code of this module. Never NULL. */
const char *event_strerror(int err);
/** @brief The symbolic name of an error code ("EVENT_RANGE"). Never NULL. */
const char *event_errname(int err);

/** One order-product event. A plain value: no pointers, copy freely. */
struct event {
	uint32_t user_id;
	uint32_t order_id;
	uint32_t product_id;
	uint16_t order_number;      /* 1-based position of the order in the user's history */
	uint16_t add_to_cart_order; /* 1-based position of the line in its order */
	uint8_t order_dow;          /* 0..6, 0 = Saturday by the data's convention */
	uint8_t order_hour;         /* 0..23 */
	int8_t days_since_prior;    /* 0..30, or EVENT_DAYS_NONE on a first order */
	uint8_t reordered;          /* 0 or 1 */
	uint8_t eval_set;           /* enum event_eval_set */
	int64_t event_time_ms;      /* event time, ms since the Unix epoch */
};

/**
 * @brief Checks every field of @p ev against the ranges of the schema.
 * @param[out] why  optional; receives which field failed and why (NUL-terminated)
 * @return EVENT_OK or EVENT_RANGE.
 */
int event_validate(const struct event *ev, char *why, size_t why_len);

/**
 * @brief Encodes a valid event as schema version EVENT_SCHEMA_VERSION.
 * @param[out] buf      receives the encoding; EVENT_ENCODED_MAX bytes always suffice
 * @param[out] len_out  the number of bytes written
 * @return EVENT_OK, EVENT_RANGE (invalid field; nothing useful written) or EVENT_NOSPACE.
 */
int event_encode(const struct event *ev, uint8_t *buf, size_t buf_len, size_t *len_out);

/**
 * @brief Decodes and validates one event. Pure: no allocation outlives the call.
 * @param[out] ev_out  the event; unspecified on error
 * @param[out] why     optional; a human-readable reason on error, naming the field
 * @return EVENT_OK, EVENT_TRUNCATED, EVENT_MALFORMED, EVENT_SHAPE, EVENT_TYPE,
 *         EVENT_RANGE, EVENT_TRAILING or EVENT_VERSION.
 */
int event_decode(const void *buf, size_t len, struct event *ev_out, char *why, size_t why_len);

/* ---- Version 2: one message per order ---- */

#define EVENT_ORDER_SCHEMA_VERSION  2
#define EVENT_ORDER_LINES_MAX       1000 /**< the most lines one order message carries */
/** Upper bound of an order message of n lines, in bytes (28 for the order, 3 for the lines' array
 * header, 10 per line). */
#define EVENT_ORDER_ENCODED_SIZE(n) (31 + 10 * (size_t)(n))
#define EVENT_ORDER_ENCODED_MAX     EVENT_ORDER_ENCODED_SIZE(EVENT_ORDER_LINES_MAX)

/**
 * @brief Encodes lines of one order as one message of schema version 2.
 * @param lines  n events of one order (every field but product_id, add_to_cart_order and
 *               reordered the same in all), each valid (event_validate()), in add-to-cart order
 * @param[out] buf  EVENT_ORDER_ENCODED_SIZE(n) bytes always suffice
 * @return EVENT_OK, EVENT_RANGE (n is 0 or above EVENT_ORDER_LINES_MAX, an invalid event, or
 *         events of different orders: nothing useful written) or EVENT_NOSPACE.
 */
int event_order_encode(const struct event *lines, size_t n, uint8_t *buf, size_t buf_len, size_t *len_out);

/** One event of a decoded message (event_message_decode()). A plain value. */
struct event_line {
	struct event ev;   /* the event; with rc EVENT_RANGE its order's fields are set, its line's may not be */
	int rc;            /* EVENT_OK, or EVENT_RANGE: this line alone is invalid (the others stand) */
	uint32_t off, len; /* the line's bytes in the message (version 1: the whole message) */
};

/**
 * @brief Decodes a message of the events topic of either schema version into its events: one
 *        for version 1 (event_decode()), one per line for version 2. Pure: no allocation.
 * @param[out] lines   receives the events, in the message's order; lines_cap of them (1 is enough
 *                     for version 1, EVENT_ORDER_LINES_MAX for any message)
 * @param[out] n_out   the number of events (0 when the message is refused as a whole)
 * @param[out] why     optional: the reason when the message is refused; when it is not but some
 *                     line is, the reason of its first bad line ("line 3 of 10: product_id: ...")
 * @return EVENT_OK (each line's own rc says whether it is valid), or the message is refused as a
 *         whole: EVENT_TRUNCATED, EVENT_MALFORMED, EVENT_SHAPE (also no line, or more than
 *         EVENT_ORDER_LINES_MAX), EVENT_TYPE, EVENT_RANGE (a field of the order), EVENT_TRAILING,
 *         EVENT_VERSION or EVENT_NOSPACE (more lines than lines_cap).
 */
int event_message_decode(const void *buf, size_t len, struct event_line *lines, size_t lines_cap, size_t *n_out,
			 char *why, size_t why_len);

/**
 * @brief The dead letter of one line of an order message: a version-2 message with the order's
 *        fields and that line alone, each copied byte for byte (so the refused values are kept as
 *        they came). Pure.
 * @param buf, len  a message event_message_decode() returned EVENT_OK for, at version 2
 * @param line      one of its lines (as decoded from these bytes)
 * @param[out] out  len bytes always suffice
 * @return EVENT_OK, EVENT_NOSPACE, or EVENT_SHAPE (not such a message, or the line not in it).
 */
int event_order_line_extract(const void *buf, size_t len, const struct event_line *line, uint8_t *out, size_t out_len,
			     size_t *len_out);

/**
 * @brief Parses a message key of the events (or customers) topic: the canonical decimal of a
 *        user id, 1 .. 2^32-1, exactly as the producers write it ("%u"): digits only, no sign,
 *        no leading zero, no space. Any other spelling ("05", "+5", " 5", "5 ") is refused, so
 *        that one customer can never be keyed (and partitioned) two ways. Pure.
 * @param key      the key's bytes (not NUL-terminated); may be NULL when key_len is 0
 * @param[out] user_id_out  the user id; unspecified on error
 * @return EVENT_OK or EVENT_KEY.
 */
int event_key_user_id(const void *key, size_t key_len, uint32_t *user_id_out);

/**
 * Product reference record (compacted products topic, key = product_id in decimal), schema
 * version 1: a msgpack array [1, product_id, aisle_id, department_id, price_cents or nil].
 * Names are not carried: nothing downstream needs them.
 */
#define EVENT_PRODUCT_SCHEMA_VERSION 1
#define EVENT_NO_PRICE               (-1)

struct event_product {
	uint32_t product_id; /* >= 1 */
	uint32_t aisle_id;
	uint8_t department_id; /* 0 if unknown */
	int32_t price_cents;   /* 1..10000, or EVENT_NO_PRICE */
};

/** @brief Encodes a product. @return EVENT_OK, EVENT_RANGE or EVENT_NOSPACE. */
int event_product_encode(const struct event_product *p, uint8_t *buf, size_t buf_len, size_t *len_out);

/** @brief Decodes and validates a product record; same codes as event_decode(). */
int event_product_decode(const void *buf, size_t len, struct event_product *p_out, char *why, size_t why_len);

/**
 * Customer reference record (compacted customers topic, key = user_id in decimal), schema
 * version 1: [1, user_id, state, age, joined_day, n_dependants, fam_status, income, gender].
 * Demographics only: names are personal data and never leave the files.
 */
#define EVENT_CUSTOMER_SCHEMA_VERSION 1

struct event_customer {
	uint32_t user_id;     /* >= 1 */
	uint8_t state;        /* 0..50: index into the 51 names (50 states + DC), alphabetical */
	uint8_t age;          /* 0..150 */
	int32_t joined_day;   /* date_joined, days since 1970-01-01, >= 0 */
	uint8_t n_dependants; /* 0..50 */
	uint8_t fam_status;   /* 0 married, 1 single, 2 divorced/widowed, 3 living with parents and siblings */
	uint32_t income;
	uint8_t gender; /* 0 unknown, 1 female, 2 male */
};

#define EVENT_STATE_COUNT      51 /* 50 states + District of Columbia, alphabetical */
#define EVENT_FAM_STATUS_COUNT 4

/** @brief The name of state code @p state (as customers.csv spells it), or NULL if out of range. */
const char *event_state_name(int state);
/** @brief The name of family-status code @p fam_status (as customers.csv spells it), or NULL. */
const char *event_fam_status_name(int fam_status);

/** @brief Encodes a customer. @return EVENT_OK, EVENT_RANGE or EVENT_NOSPACE. */
int event_customer_encode(const struct event_customer *c, uint8_t *buf, size_t buf_len, size_t *len_out);

/** @brief Decodes and validates a customer record; same codes as event_decode(). */
int event_customer_decode(const void *buf, size_t len, struct event_customer *c_out, char *why, size_t why_len);

/**
 * Name reference record (compacted names topic), schema version 1: a msgpack array
 * [1, kind, id, name] with kind 0 for a department (departments.csv) and 1 for an aisle
 * (aisles.csv), id 1..2^32-1 and name a UTF-8 string of 1..EVENT_NAME_MAX-1 bytes with no
 * control characters. Key: "department/ID" or "aisle/ID" (event_name_key()). The names the
 * reports and the shopper-profile rule (SPEC §4: by department name) go by.
 */
#define EVENT_NAME_SCHEMA_VERSION 1
#define EVENT_NAME_MAX            64 /**< a name's bytes + its NUL */

enum event_name_kind { EVENT_NAME_DEPARTMENT = 0, EVENT_NAME_AISLE = 1 };

struct event_name {
	uint8_t kind; /* enum event_name_kind */
	uint32_t id;  /* >= 1 */
	char name[EVENT_NAME_MAX];
};

/** @brief Encodes a name. @return EVENT_OK, EVENT_RANGE (kind, id 0, empty or control characters) or EVENT_NOSPACE. */
int event_name_encode(const struct event_name *n, uint8_t *buf, size_t buf_len, size_t *len_out);

/** @brief Decodes and validates a name record; same codes as event_decode(). */
int event_name_decode(const void *buf, size_t len, struct event_name *n_out, char *why, size_t why_len);

/** @brief The record's key ("department/4", "aisle/61") into buf. @return its length, or -1 if it does not fit. */
int event_name_key(const struct event_name *n, char *buf, size_t buf_len);

#endif
