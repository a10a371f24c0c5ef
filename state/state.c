/* Per-customer state in LMDB (see state.h for the contract). */
#include "state/state.h"

#include <errno.h>
#include <lmdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *state_strerror(int err)
{
	if (err > 0)
		return strerror(err);
#define STATE_ERR_TEXT(name, code, text) case code: return text;
	switch (err) { STATE_ERR_MAP(STATE_ERR_TEXT) }
#undef STATE_ERR_TEXT
	return "unknown state error";
}

const char *state_errname(int err)
{
#define STATE_ERR_NAME(name, code, text) case code: return "STATE_" #name;
	switch (err) { STATE_ERR_MAP(STATE_ERR_NAME) }
#undef STATE_ERR_NAME
	return "STATE_UNKNOWN";
}

/* Maps an LMDB return code at the module boundary; raw MDB_* codes never escape. */
static int map_mdb(int rc)
{
	switch (rc) {
	case MDB_SUCCESS: return STATE_OK;
	case MDB_NOTFOUND: return STATE_NOTFOUND;
	case MDB_MAP_FULL: return STATE_FULL;
	case ENOMEM: return STATE_NOMEM;
	default: return rc > 0 ? rc : STATE_IO;
	}
}

/* ---- Fixed-width little-endian helpers (products, offsets). ---- */

struct writer {
	uint8_t *p;
};

static void put32(struct writer *w, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		*w->p++ = (uint8_t)(v >> (8 * i));
}

static void put64(struct writer *w, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		*w->p++ = (uint8_t)(v >> (8 * i));
}

struct reader {
	const uint8_t *p;
};

static uint32_t get32(struct reader *r)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t)*r->p++ << (8 * i);
	return v;
}

static uint64_t get64(struct reader *r)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)*r->p++ << (8 * i);
	return v;
}

/*
 * Customer records: version byte, then LEB128 varints field by field, then each histogram as a
 * bitmap of its non-zero bins and those bins' values (version 1 wrote [count] then
 * [bin index, value] pairs instead; it is still read).
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
};

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
		c->user_id, c->partition, c->orders, c->max_order, c->items, c->priced_items, c->reorders,
		c->span_days, c->last_order_number, c->last_add_to_cart, c->spend_cents,
		((uint64_t)c->last_event_ms << 1) ^ (uint64_t)(c->last_event_ms >> 63), /* zigzag */
	};
	for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++)
		put_varint(&w, scalars[i]);
	for (size_t h = 0; h < sizeof histograms / sizeof histograms[0]; h++) {
		const char *field = (const char *)c + histograms[h].offset;
		put_bins(&w, histograms[h].wide ? NULL : (const uint32_t *)field,
			 histograms[h].wide ? (const uint64_t *)field : NULL, histograms[h].bins);
	}
	if (w.overflow)
		return STATE_INVAL;
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
	if (buf[0] == STATE_RECORD_VERSION)
		get_histogram = get_bins;
	else if (buf[0] == 1)
		get_histogram = get_pairs; /* still read; the next put writes it as version 2 */
	else
		return STATE_VERSION;
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
	for (size_t h = 0; h < sizeof histograms / sizeof histograms[0]; h++) {
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

/* ---- Environment. ---- */

/* A customer touched by the open batch, coalesced in memory until commit. */
struct touched {
	uint8_t key[8]; /* big-endian partition, big-endian user_id: sorted like the B-tree */
	struct state_customer c;
};

struct state_batch {
	struct state_db *db;
	MDB_txn *txn;
	struct touched *items;    /* touched customers, in first-touch order */
	size_t n_items, cap_items;
	uint32_t *slots;          /* open addressing: index + 1 into items, 0 = empty */
	size_t n_slots;           /* a power of two, kept at least twice n_items */
	size_t last_item;         /* index + 1 of the customer touched last, 0 = none */
	struct state_batch_stats stats;
};

struct state_db {
	MDB_env *env;
	MDB_dbi customers, products, offsets, demographics;
	int include_train;
	int read_only;
	struct state_product *products_by_id; /* indexed by product_id; product_id 0 = absent */
	size_t products_cap;
	size_t n_products;
	struct state_batch *open_batch;
};

void state_config_init(struct state_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->map_size_bytes = (size_t)8 << 30;
	cfg->durable = 1;
}

static void errmsg(char *errbuf, size_t len, const char *fmt, ...)
{
	if (!errbuf || !len)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errbuf, len, fmt, ap);
	va_end(ap);
}

static void encode_product(const struct state_product *p, uint8_t out[13])
{
	struct writer w = { out };
	*w.p++ = 1; /* version */
	put32(&w, p->aisle_id);
	put32(&w, (uint32_t)p->price_cents);
	*w.p++ = p->department_id;
	*w.p++ = 0;
	*w.p++ = 0;
	*w.p++ = 0;
}

/* Puts p into the in-memory table, growing it to cover the id. */
static int remember_product(struct state_db *db, const struct state_product *p)
{
	if (p->product_id == 0)
		return STATE_INVAL;
	if (p->product_id >= db->products_cap) {
		size_t cap = db->products_cap ? db->products_cap : 65536;
		while (cap <= p->product_id)
			cap *= 2;
		struct state_product *t = realloc(db->products_by_id, cap * sizeof *t);
		if (!t)
			return STATE_NOMEM;
		memset(t + db->products_cap, 0, (cap - db->products_cap) * sizeof *t);
		db->products_by_id = t;
		db->products_cap = cap;
	}
	if (db->products_by_id[p->product_id].product_id == 0)
		db->n_products++;
	db->products_by_id[p->product_id] = *p;
	return STATE_OK;
}

static int load_products(struct state_db *db, MDB_txn *txn)
{
	MDB_cursor *cur;
	int rc = map_mdb(mdb_cursor_open(txn, db->products, &cur));
	if (rc != STATE_OK)
		return rc;
	MDB_val k, v;
	int mrc;
	while ((mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == MDB_SUCCESS) {
		if (k.mv_size != 4 || v.mv_size != 13 || ((uint8_t *)v.mv_data)[0] != 1) {
			rc = STATE_CORRUPT;
			break;
		}
		const uint8_t *kb = k.mv_data;
		struct reader r = { (const uint8_t *)v.mv_data + 1 };
		struct state_product p;
		p.product_id = (uint32_t)kb[0] << 24 | (uint32_t)kb[1] << 16 | (uint32_t)kb[2] << 8 | kb[3];
		p.aisle_id = get32(&r);
		p.price_cents = (int32_t)get32(&r);
		p.department_id = *r.p;
		rc = remember_product(db, &p);
		if (rc != STATE_OK)
			break;
	}
	if (rc == STATE_OK && mrc != MDB_NOTFOUND)
		rc = map_mdb(mrc);
	mdb_cursor_close(cur);
	return rc;
}

int state_open(const struct state_config *cfg, struct state_db **db_out, char *errbuf, size_t errbuf_len)
{
	int rc;
	const char *op = "";
	MDB_txn *txn = NULL;
	*db_out = NULL;
	if (!cfg || !cfg->path) {
		errmsg(errbuf, errbuf_len, "state: no path given");
		return STATE_INVAL;
	}
	struct state_db *db = calloc(1, sizeof *db);
	if (!db)
		return STATE_NOMEM;
	db->include_train = cfg->include_train;
	db->read_only = cfg->read_only;
	if (!cfg->read_only && mkdir(cfg->path, 0755) != 0 && errno != EEXIST) {
		rc = errno;
		op = "mkdir";
		goto error;
	}
	op = "mdb_env_create";
	if ((rc = map_mdb(mdb_env_create(&db->env))) != STATE_OK)
		goto error;
	mdb_env_set_maxdbs(db->env, 8);
	mdb_env_set_maxreaders(db->env, 126);
	op = "mdb_env_set_mapsize";
	if ((rc = map_mdb(mdb_env_set_mapsize(db->env, cfg->map_size_bytes))) != STATE_OK)
		goto error;
	unsigned flags = MDB_NOTLS;
	if (cfg->read_only)
		flags |= MDB_RDONLY;
	else if (!cfg->durable)
		flags |= MDB_NOSYNC;
	op = "mdb_env_open";
	if ((rc = map_mdb(mdb_env_open(db->env, cfg->path, flags, 0644))) != STATE_OK)
		goto error;
	op = "mdb_txn_begin";
	if ((rc = map_mdb(mdb_txn_begin(db->env, NULL, cfg->read_only ? MDB_RDONLY : 0, &txn))) != STATE_OK)
		goto error;
	unsigned dbflags = cfg->read_only ? 0 : MDB_CREATE;
	op = "mdb_dbi_open";
	if ((rc = map_mdb(mdb_dbi_open(txn, "customers", dbflags, &db->customers))) != STATE_OK ||
	    (rc = map_mdb(mdb_dbi_open(txn, "products", dbflags, &db->products))) != STATE_OK ||
	    (rc = map_mdb(mdb_dbi_open(txn, "offsets", dbflags, &db->offsets))) != STATE_OK ||
	    (rc = map_mdb(mdb_dbi_open(txn, "demographics", dbflags, &db->demographics))) != STATE_OK)
		goto error;
	op = "loading products";
	if ((rc = load_products(db, txn)) != STATE_OK)
		goto error;
	op = "mdb_txn_commit";
	rc = map_mdb(mdb_txn_commit(txn));
	txn = NULL;
	if (rc != STATE_OK)
		goto error;
	*db_out = db;
	return STATE_OK;
error:
	errmsg(errbuf, errbuf_len, "state: %s %s: %s", op, cfg->path,
	       rc == STATE_IO || rc == STATE_NOTFOUND ? "LMDB error (missing or not an environment?)" : state_strerror(rc));
	if (txn)
		mdb_txn_abort(txn);
	if (db->env)
		mdb_env_close(db->env);
	free(db->products_by_id);
	free(db);
	return rc;
}

void state_close(struct state_db *db)
{
	if (!db)
		return;
	if (db->open_batch) {
		fprintf(stderr, "state: warning: closing with an open batch; aborting it\n");
		state_batch_abort(db->open_batch);
	}
	mdb_env_close(db->env);
	free(db->products_by_id);
	free(db);
}

const struct state_product *state_product_find(const struct state_db *db, uint32_t product_id)
{
	if (product_id == 0 || product_id >= db->products_cap || db->products_by_id[product_id].product_id == 0)
		return NULL;
	return &db->products_by_id[product_id];
}

size_t state_product_count(const struct state_db *db)
{
	return db->n_products;
}

static void customer_key(uint32_t partition, uint32_t user_id, uint8_t key[8])
{
	for (int i = 0; i < 4; i++) {
		key[i] = (uint8_t)(partition >> (24 - 8 * i));
		key[4 + i] = (uint8_t)(user_id >> (24 - 8 * i));
	}
}

static int get_in_txn(struct state_db *db, MDB_txn *txn, uint32_t partition, uint32_t user_id,
		      struct state_customer *c)
{
	uint8_t key[8];
	customer_key(partition, user_id, key);
	MDB_val k = { sizeof key, key }, v;
	int rc = map_mdb(mdb_get(txn, db->customers, &k, &v));
	if (rc != STATE_OK)
		return rc;
	return state_customer_decode(v.mv_data, v.mv_size, c);
}

/* Finds a customer in any partition: keys are partition-first, so look at each partition's range. */
static int get_any_partition(struct state_db *db, MDB_txn *txn, uint32_t user_id, struct state_customer *c)
{
	MDB_cursor *cur;
	int rc = map_mdb(mdb_cursor_open(txn, db->customers, &cur));
	if (rc != STATE_OK)
		return rc;
	uint8_t key[8];
	customer_key(0, user_id, key);
	MDB_val k = { sizeof key, key }, v;
	int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	rc = STATE_NOTFOUND;
	while (mrc == MDB_SUCCESS && k.mv_size == 8) {
		const uint8_t *kb = k.mv_data;
		uint32_t part = (uint32_t)kb[0] << 24 | (uint32_t)kb[1] << 16 | (uint32_t)kb[2] << 8 | kb[3];
		uint32_t uid = (uint32_t)kb[4] << 24 | (uint32_t)kb[5] << 16 | (uint32_t)kb[6] << 8 | kb[7];
		if (uid == user_id) {
			rc = state_customer_decode(v.mv_data, v.mv_size, c);
			break;
		}
		/* Jump to this user's key in the next partition that has keys. */
		if (uid > user_id) {
			if (part == UINT32_MAX)
				break;
			customer_key(part + 1, user_id, key);
		} else {
			customer_key(part, user_id, key);
		}
		k.mv_size = sizeof key;
		k.mv_data = key;
		mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	}
	mdb_cursor_close(cur);
	return rc;
}

int state_get(struct state_db *db, int32_t partition, uint32_t user_id, struct state_customer *c_out)
{
	MDB_txn *txn;
	int rc = map_mdb(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn));
	if (rc != STATE_OK)
		return rc;
	rc = partition >= 0 ? get_in_txn(db, txn, (uint32_t)partition, user_id, c_out)
			    : get_any_partition(db, txn, user_id, c_out);
	mdb_txn_abort(txn);
	return rc;
}

static size_t offset_key(const char *topic, int32_t partition, uint8_t *key, size_t cap)
{
	size_t n = strlen(topic);
	if (n + 5 > cap)
		return 0;
	memcpy(key, topic, n);
	key[n] = 0;
	for (int i = 0; i < 4; i++)
		key[n + 1 + i] = (uint8_t)((uint32_t)partition >> (24 - 8 * i));
	return n + 5;
}

int state_offset_get(struct state_db *db, const char *topic, int32_t partition, int64_t *next_out)
{
	uint8_t key[300];
	size_t klen = offset_key(topic, partition, key, sizeof key);
	if (!klen)
		return STATE_INVAL;
	MDB_txn *txn;
	int rc = map_mdb(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn));
	if (rc != STATE_OK)
		return rc;
	MDB_val k = { klen, key }, v;
	rc = map_mdb(mdb_get(txn, db->offsets, &k, &v));
	if (rc == STATE_OK) {
		if (v.mv_size != 8) {
			rc = STATE_CORRUPT;
		} else {
			struct reader r = { v.mv_data };
			*next_out = (int64_t)get64(&r);
		}
	}
	mdb_txn_abort(txn);
	return rc;
}

/* ---- Demographics: version byte, then fixed little-endian fields (18 bytes). ---- */

#define DEMOGRAPHICS_SIZE 18

static void user_key(uint32_t user_id, uint8_t key[4])
{
	for (int i = 0; i < 4; i++)
		key[i] = (uint8_t)(user_id >> (24 - 8 * i));
}

static void encode_demographics(const struct event_customer *d, uint8_t out[DEMOGRAPHICS_SIZE])
{
	struct writer w = { out };
	*w.p++ = 1;
	put32(&w, d->user_id);
	put32(&w, (uint32_t)d->joined_day);
	put32(&w, d->income);
	*w.p++ = d->state;
	*w.p++ = d->age;
	*w.p++ = d->n_dependants;
	*w.p++ = d->fam_status;
	*w.p++ = d->gender;
}

static int decode_demographics(const MDB_val *v, struct event_customer *d)
{
	const uint8_t *b = v->mv_data;
	if (v->mv_size < 1)
		return STATE_CORRUPT;
	if (b[0] != 1)
		return STATE_VERSION;
	if (v->mv_size != DEMOGRAPHICS_SIZE)
		return STATE_CORRUPT;
	struct reader r = { b + 1 };
	d->user_id = get32(&r);
	d->joined_day = (int32_t)get32(&r);
	d->income = get32(&r);
	d->state = *r.p++;
	d->age = *r.p++;
	d->n_dependants = *r.p++;
	d->fam_status = *r.p++;
	d->gender = *r.p++;
	return STATE_OK;
}

static int demographics_in_txn(struct state_db *db, MDB_txn *txn, uint32_t user_id, struct event_customer *d)
{
	uint8_t key[4];
	user_key(user_id, key);
	MDB_val k = { sizeof key, key }, v;
	int rc = map_mdb(mdb_get(txn, db->demographics, &k, &v));
	return rc == STATE_OK ? decode_demographics(&v, d) : rc;
}

int state_demographics_get(struct state_db *db, uint32_t user_id, struct event_customer *d_out)
{
	MDB_txn *txn;
	int rc = map_mdb(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn));
	if (rc != STATE_OK)
		return rc;
	rc = demographics_in_txn(db, txn, user_id, d_out);
	mdb_txn_abort(txn);
	return rc;
}

/* Walks the customers of one partition (or all, partition < 0) inside txn. */
static int walk_customers(struct state_db *db, MDB_txn *txn, int32_t partition, state_customer_cb cb, void *ctx)
{
	MDB_cursor *cur = NULL;
	int rc = map_mdb(mdb_cursor_open(txn, db->customers, &cur));
	if (rc != STATE_OK)
		return rc;
	uint8_t start[8];
	customer_key(partition >= 0 ? (uint32_t)partition : 0, 0, start);
	MDB_val k = { sizeof start, start }, v;
	int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (mrc == MDB_SUCCESS) {
		const uint8_t *kb = k.mv_data;
		if (partition >= 0 && (k.mv_size != 8 || memcmp(kb, start, 4) != 0))
			break;
		struct state_customer c;
		struct event_customer d;
		if ((rc = state_customer_decode(v.mv_data, v.mv_size, &c)) != STATE_OK)
			goto out;
		int drc = demographics_in_txn(db, txn, c.user_id, &d);
		if (drc != STATE_OK && drc != STATE_NOTFOUND) {
			rc = drc;
			goto out;
		}
		if ((rc = cb(&c, drc == STATE_OK ? &d : NULL, ctx)) != 0)
			goto out;
		mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	rc = mrc == MDB_NOTFOUND || mrc == MDB_SUCCESS ? STATE_OK : map_mdb(mrc);
out:
	mdb_cursor_close(cur);
	return rc;
}

int state_foreach_customer(struct state_db *db, int32_t partition, state_customer_cb cb, void *ctx)
{
	MDB_txn *txn;
	int rc = map_mdb(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn));
	if (rc != STATE_OK)
		return rc;
	rc = walk_customers(db, txn, partition, cb, ctx);
	mdb_txn_abort(txn);
	return rc;
}

int state_snapshot_walk(struct state_db *db, state_offset_cb ocb, state_customer_cb ccb, void *ctx)
{
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
	int rc = map_mdb(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn));
	if (rc != STATE_OK)
		return rc;
	if ((rc = map_mdb(mdb_cursor_open(txn, db->offsets, &cur))) != STATE_OK)
		goto out;
	MDB_val k, v;
	int mrc;
	while ((mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == MDB_SUCCESS) {
		const uint8_t *kb = k.mv_data;
		if (k.mv_size < 5 || v.mv_size != 8 || kb[k.mv_size - 5] != 0) {
			rc = STATE_CORRUPT;
			goto out;
		}
		struct reader r = { v.mv_data };
		const uint8_t *pb = kb + k.mv_size - 4;
		int32_t partition = (int32_t)((uint32_t)pb[0] << 24 | (uint32_t)pb[1] << 16 | (uint32_t)pb[2] << 8 | pb[3]);
		if ((rc = ocb((const char *)kb, partition, (int64_t)get64(&r), ctx)) != 0)
			goto out;
	}
	if (mrc != MDB_NOTFOUND) {
		rc = map_mdb(mrc);
		goto out;
	}
	rc = walk_customers(db, txn, -1, ccb, ctx);
out:
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc;
}

/* ---- Batches. ---- */

int state_batch_begin(struct state_db *db, struct state_batch **batch_out)
{
	if (db->read_only)
		return STATE_INVAL;
	if (db->open_batch)
		return STATE_BUSY;
	struct state_batch *b = calloc(1, sizeof *b);
	if (!b)
		return STATE_NOMEM;
	int rc = map_mdb(mdb_txn_begin(db->env, NULL, 0, &b->txn));
	if (rc != STATE_OK) {
		free(b);
		return rc;
	}
	b->db = db;
	db->open_batch = b;
	*batch_out = b;
	return STATE_OK;
}

/* A customer key's big-endian bytes as a number: orders keys as the B-tree does. */
static uint64_t key_number(const uint8_t key[8])
{
	uint64_t n = 0;
	for (int i = 0; i < 8; i++)
		n = (n << 8) | key[i];
	return n;
}

static uint64_t hash_key(const uint8_t key[8])
{
	uint64_t h = key_number(key);
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static int grow_slots(struct state_batch *b)
{
	size_t n = b->n_slots ? b->n_slots * 2 : 4096;
	uint32_t *slots = calloc(n, sizeof *slots);
	if (!slots)
		return STATE_NOMEM;
	for (size_t i = 0; i < b->n_items; i++) {
		size_t s = hash_key(b->items[i].key) & (n - 1);
		while (slots[s])
			s = (s + 1) & (n - 1);
		slots[s] = (uint32_t)i + 1;
	}
	free(b->slots);
	b->slots = slots;
	b->n_slots = n;
	return STATE_OK;
}

/* The batch's in-memory copy of a customer, loaded from the map on first touch. */
static int touch(struct state_batch *b, uint32_t partition, uint32_t user_id, struct state_customer **c_out)
{
	uint8_t key[8];
	customer_key(partition, user_id, key);
	/* An order's lines arrive one after another: most events are for the customer just touched. */
	if (b->last_item && memcmp(b->items[b->last_item - 1].key, key, 8) == 0) {
		*c_out = &b->items[b->last_item - 1].c;
		return STATE_OK;
	}
	if (b->n_slots == 0 || (b->n_items + 1) * 2 > b->n_slots) {
		int rc = grow_slots(b);
		if (rc != STATE_OK)
			return rc;
	}
	size_t s = hash_key(key) & (b->n_slots - 1);
	while (b->slots[s]) {
		struct touched *t = &b->items[b->slots[s] - 1];
		if (memcmp(t->key, key, 8) == 0) {
			b->last_item = b->slots[s];
			*c_out = &t->c;
			return STATE_OK;
		}
		s = (s + 1) & (b->n_slots - 1);
	}
	if (b->n_items == b->cap_items) {
		size_t cap = b->cap_items ? b->cap_items * 2 : 1024;
		struct touched *items = realloc(b->items, cap * sizeof *items);
		if (!items)
			return STATE_NOMEM;
		b->items = items;
		b->cap_items = cap;
	}
	struct touched *t = &b->items[b->n_items];
	memcpy(t->key, key, 8);
	int rc = get_in_txn(b->db, b->txn, partition, user_id, &t->c);
	if (rc == STATE_NOTFOUND) {
		memset(&t->c, 0, sizeof t->c);
		t->c.user_id = user_id;
		t->c.partition = partition;
	} else if (rc != STATE_OK) {
		return rc;
	}
	b->slots[s] = (uint32_t)++b->n_items;
	b->last_item = b->n_items;
	*c_out = &t->c;
	return STATE_OK;
}

void state_batch_prefetch(const struct state_batch *b, int32_t partition, const struct event *ev)
{
	const struct state_db *db = b->db;
	if (ev->product_id < db->products_cap)
		__builtin_prefetch(&db->products_by_id[ev->product_id]);
	if (b->n_slots && partition >= 0) {
		uint8_t key[8];
		customer_key((uint32_t)partition, ev->user_id, key);
		__builtin_prefetch(&b->slots[hash_key(key) & (b->n_slots - 1)]);
	}
}

int state_batch_apply(struct state_batch *b, int32_t partition, const struct event *ev)
{
	if (partition < 0)
		return STATE_INVAL;
	struct state_customer *c;
	int rc = touch(b, (uint32_t)partition, ev->user_id, &c);
	if (rc != STATE_OK)
		return rc;
	switch (state_customer_apply(c, ev, state_product_find(b->db, ev->product_id), b->db->include_train)) {
	case STATE_APPLIED: b->stats.applied++; break;
	case STATE_DUPLICATE: b->stats.duplicates++; break;
	case STATE_IGNORED: b->stats.ignored++; break;
	}
	return STATE_OK;
}

int state_batch_put_customer(struct state_batch *b, const struct state_customer *c, int append)
{
	uint8_t key[8], buf[STATE_RECORD_MAX];
	size_t len = 0;
	customer_key(c->partition, c->user_id, key);
	int rc = state_customer_encode(c, buf, sizeof buf, &len);
	if (rc != STATE_OK)
		return rc;
	MDB_val k = { sizeof key, key }, v = { len, buf };
	int mrc = mdb_put(b->txn, b->db->customers, &k, &v, append ? MDB_APPEND : 0);
	if (mrc == MDB_KEYEXIST)
		return STATE_INVAL;
	rc = map_mdb(mrc);
	if (rc == STATE_OK)
		b->stats.customers++;
	return rc;
}

int state_batch_put_product(struct state_batch *b, const struct state_product *p)
{
	if (p->product_id == 0)
		return STATE_INVAL;
	uint8_t key[4], val[13];
	for (int i = 0; i < 4; i++)
		key[i] = (uint8_t)(p->product_id >> (24 - 8 * i));
	encode_product(p, val);
	MDB_val k = { sizeof key, key }, v = { sizeof val, val };
	int rc = map_mdb(mdb_put(b->txn, b->db->products, &k, &v, 0));
	if (rc != STATE_OK)
		return rc;
	b->stats.products++;
	/* The in-memory table changes now; an aborted batch reloads it (see state_batch_abort). */
	return remember_product(b->db, p);
}

int state_batch_put_demographics(struct state_batch *b, const struct event_customer *d)
{
	if (d->user_id == 0)
		return STATE_INVAL;
	uint8_t key[4], val[DEMOGRAPHICS_SIZE];
	user_key(d->user_id, key);
	encode_demographics(d, val);
	MDB_val k = { sizeof key, key }, v = { sizeof val, val };
	int rc = map_mdb(mdb_put(b->txn, b->db->demographics, &k, &v, 0));
	if (rc == STATE_OK)
		b->stats.demographics++;
	return rc;
}

int state_batch_set_offset(struct state_batch *b, const char *topic, int32_t partition, int64_t next_offset)
{
	uint8_t key[300], val[8];
	size_t klen = offset_key(topic, partition, key, sizeof key);
	if (!klen)
		return STATE_INVAL;
	struct writer w = { val };
	put64(&w, (uint64_t)next_offset);
	MDB_val k = { klen, key }, v = { sizeof val, val };
	return map_mdb(mdb_put(b->txn, b->db->offsets, &k, &v, 0));
}

/* A touched customer's place in key order: the items stay where they are, only these move. */
struct put_order {
	uint64_t key; /* key_number() */
	size_t item;
};

static int compare_put_order(const void *a, const void *b)
{
	uint64_t x = ((const struct put_order *)a)->key, y = ((const struct put_order *)b)->key;
	return (x > y) - (x < y);
}

static void batch_free(struct state_batch *b)
{
	b->db->open_batch = NULL;
	free(b->items);
	free(b->slots);
	free(b);
}

int state_batch_commit(struct state_batch *b, struct state_batch_stats *stats_out)
{
	int rc = STATE_OK;
	struct put_order *order = b->n_items ? malloc(b->n_items * sizeof *order) : NULL;
	MDB_cursor *cur = NULL;
	if (b->n_items && !order)
		rc = STATE_NOMEM;
	else if (b->n_items)
		rc = map_mdb(mdb_cursor_open(b->txn, b->db->customers, &cur));
	for (size_t i = 0; i < b->n_items && rc == STATE_OK; i++) {
		order[i].key = key_number(b->items[i].key);
		order[i].item = i;
	}
	if (rc == STATE_OK && b->n_items > 1)
		qsort(order, b->n_items, sizeof *order, compare_put_order);
	/* In key order through one cursor: each B-tree page is written once, and LMDB looks for a
	 * key first on the leaf page of the previous put, so most puts skip the descent from the root. */
	for (size_t i = 0; i < b->n_items && rc == STATE_OK; i++) {
		struct touched *t = &b->items[order[i].item];
		uint8_t buf[STATE_RECORD_MAX];
		size_t len = 0;
		state_customer_encode(&t->c, buf, sizeof buf, &len);
		MDB_val k = { 8, t->key }, v = { len, buf };
		rc = map_mdb(mdb_cursor_put(cur, &k, &v, 0));
	}
	if (cur)
		mdb_cursor_close(cur);
	free(order);
	if (rc != STATE_OK) {
		state_batch_abort(b);
		return rc;
	}
	rc = map_mdb(mdb_txn_commit(b->txn));
	b->stats.customers += b->n_items;
	if (stats_out)
		*stats_out = b->stats;
	batch_free(b);
	return rc;
}

void state_batch_abort(struct state_batch *b)
{
	if (!b)
		return;
	struct state_db *db = b->db;
	int products_changed = b->stats.products > 0;
	mdb_txn_abort(b->txn);
	batch_free(b);
	if (products_changed) {
		/* Bring the in-memory products back to what is committed. */
		MDB_txn *txn;
		memset(db->products_by_id, 0, db->products_cap * sizeof *db->products_by_id);
		db->n_products = 0;
		if (mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn) == MDB_SUCCESS) {
			if (load_products(db, txn) != STATE_OK)
				fprintf(stderr, "state: warning: could not reload products after abort\n");
			mdb_txn_abort(txn);
		}
	}
}
