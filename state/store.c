/*
 * The LMDB store: opening the environment, the rows of its tables (customers, products,
 * demographics, offsets) and reading them, the in-memory products table, and the consistent walks;
 * plus the module's error texts. Batches (state/batch.c) write rows through state_int.h.
 */
#include "state/state_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *state_strerror(int err)
{
	if (err > 0)
		return strerror(err);
#define STATE_ERR_TEXT(name, code, text) \
	case code:                       \
		return text;
	switch (err) {
		STATE_ERR_MAP(STATE_ERR_TEXT)
	}
#undef STATE_ERR_TEXT
	return "unknown state error";
}

const char *state_errname(int err)
{
#define STATE_ERR_NAME(name, code, text) \
	case code:                       \
		return "STATE_" #name;
	switch (err) {
		STATE_ERR_MAP(STATE_ERR_NAME)
	}
#undef STATE_ERR_NAME
	return "STATE_UNKNOWN";
}

/* ---- Fixed-width little-endian helpers (values of products, demographics, offsets). ---- */

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

/* ---- Environment and products. ---- */

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

/* Products: key the big-endian product_id; value a version byte, then fixed little-endian fields (13 bytes). */
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

/* Puts p into the in-memory table, growing it to cover the id: a pointer state_product_find() returned
 * before then may point into freed memory (see state.h). */
int state__product_remember(struct state_db *db, const struct state_product *p)
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

int state__products_load(struct state_db *db, MDB_txn *txn)
{
	MDB_cursor *cur;
	int rc = state__map_mdb(mdb_cursor_open(txn, db->products, &cur));
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
		p.product_id = (uint32_t)state__be_load(kb, 4);
		p.aisle_id = get32(&r);
		p.price_cents = (int32_t)get32(&r);
		p.department_id = *r.p;
		rc = state__product_remember(db, &p);
		if (rc != STATE_OK)
			break;
	}
	if (rc == STATE_OK && mrc != MDB_NOTFOUND)
		rc = state__map_mdb(mrc);
	mdb_cursor_close(cur);
	return rc;
}

int state__product_put(struct state_db *db, MDB_txn *txn, const struct state_product *p)
{
	if (p->product_id == 0)
		return STATE_INVAL;
	uint8_t key[4], val[13];
	state__be_store(key, p->product_id, 4);
	encode_product(p, val);
	MDB_val k = { sizeof key, key }, v = { sizeof val, val };
	return state__map_mdb(mdb_put(txn, db->products, &k, &v, 0));
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
	if ((rc = state__map_mdb(mdb_env_create(&db->env))) != STATE_OK)
		goto error;
	mdb_env_set_maxdbs(db->env, 8);
	mdb_env_set_maxreaders(db->env, 126);
	op = "mdb_env_set_mapsize";
	if ((rc = state__map_mdb(mdb_env_set_mapsize(db->env, cfg->map_size_bytes))) != STATE_OK)
		goto error;
	unsigned flags = MDB_NOTLS;
	if (cfg->read_only)
		flags |= MDB_RDONLY;
	else if (!cfg->durable)
		flags |= MDB_NOSYNC;
	op = "mdb_env_open";
	if ((rc = state__map_mdb(mdb_env_open(db->env, cfg->path, flags, 0644))) != STATE_OK)
		goto error;
	op = "mdb_txn_begin";
	if ((rc = state__map_mdb(mdb_txn_begin(db->env, NULL, cfg->read_only ? MDB_RDONLY : 0, &txn))) != STATE_OK)
		goto error;
	unsigned dbflags = cfg->read_only ? 0 : MDB_CREATE;
	op = "mdb_dbi_open";
	if ((rc = state__map_mdb(mdb_dbi_open(txn, "customers", dbflags, &db->customers))) != STATE_OK ||
	    (rc = state__map_mdb(mdb_dbi_open(txn, "products", dbflags, &db->products))) != STATE_OK ||
	    (rc = state__map_mdb(mdb_dbi_open(txn, "offsets", dbflags, &db->offsets))) != STATE_OK ||
	    (rc = state__map_mdb(mdb_dbi_open(txn, "demographics", dbflags, &db->demographics))) != STATE_OK)
		goto error;
	op = "loading products";
	if ((rc = state__products_load(db, txn)) != STATE_OK)
		goto error;
	op = "mdb_txn_commit";
	rc = state__map_mdb(mdb_txn_commit(txn));
	txn = NULL;
	if (rc != STATE_OK)
		goto error;
	*db_out = db;
	return STATE_OK;
error:
	errmsg(errbuf, errbuf_len, "state: %s %s: %s", op, cfg->path,
	       rc == STATE_IO || rc == STATE_NOTFOUND ? "LMDB error (missing or not an environment?)"
						      : state_strerror(rc));
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
	return state__product_find(db, product_id);
}

size_t state_product_count(const struct state_db *db)
{
	return db->n_products;
}

int state_env_info(struct state_db *db, struct state_env_info *info_out)
{
	MDB_envinfo ei;
	MDB_stat st;
	MDB_txn *txn = NULL;
	memset(info_out, 0, sizeof *info_out);
	int rc = state__map_mdb(mdb_env_info(db->env, &ei));
	if (rc == STATE_OK)
		rc = state__map_mdb(mdb_env_stat(db->env, &st));
	if (rc != STATE_OK)
		return rc;
	info_out->map_size_bytes = ei.me_mapsize;
	info_out->used_bytes = ((uint64_t)ei.me_last_pgno + 1) * st.ms_psize;
	if ((rc = state__map_mdb(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn))) != STATE_OK)
		return rc;
	const MDB_dbi dbis[] = { db->customers, db->products, db->demographics };
	uint64_t *counts[] = { &info_out->customers, &info_out->products, &info_out->demographics };
	for (int i = 0; i < 3 && rc == STATE_OK; i++)
		if ((rc = state__map_mdb(mdb_stat(txn, dbis[i], &st))) == STATE_OK)
			*counts[i] = st.ms_entries;
	mdb_txn_abort(txn);
	return rc;
}

/* ---- Customers and offsets. ---- */

int state__customer_get(struct state_db *db, MDB_txn *txn, uint32_t partition, uint32_t user_id,
			struct state_customer *c)
{
	uint8_t key[8];
	state__customer_key(partition, user_id, key);
	MDB_val k = { sizeof key, key }, v;
	int rc = state__map_mdb(mdb_get(txn, db->customers, &k, &v));
	if (rc != STATE_OK)
		return rc;
	return state_customer_decode(v.mv_data, v.mv_size, c);
}

/* Finds a customer in any partition: keys are partition-first, so look at each partition's range. */
static int get_any_partition(struct state_db *db, MDB_txn *txn, uint32_t user_id, struct state_customer *c)
{
	MDB_cursor *cur;
	int rc = state__map_mdb(mdb_cursor_open(txn, db->customers, &cur));
	if (rc != STATE_OK)
		return rc;
	uint8_t key[8];
	state__customer_key(0, user_id, key);
	MDB_val k = { sizeof key, key }, v;
	int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	rc = STATE_NOTFOUND;
	while (mrc == MDB_SUCCESS && k.mv_size == 8) {
		const uint8_t *kb = k.mv_data;
		uint32_t part = (uint32_t)state__be_load(kb, 4);
		uint32_t uid = (uint32_t)state__be_load(kb + 4, 4);
		if (uid == user_id) {
			rc = state_customer_decode(v.mv_data, v.mv_size, c);
			break;
		}
		/* Jump to this user's key in the next partition that has keys. */
		if (uid > user_id) {
			if (part == UINT32_MAX)
				break;
			state__customer_key(part + 1, user_id, key);
		} else {
			state__customer_key(part, user_id, key);
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
	int rc = state__map_mdb(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn));
	if (rc != STATE_OK)
		return rc;
	rc = partition >= 0 ? state__customer_get(db, txn, (uint32_t)partition, user_id, c_out)
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
	state__be_store(key + n + 1, (uint32_t)partition, 4);
	return n + 5;
}

int state_offset_get(struct state_db *db, const char *topic, int32_t partition, int64_t *next_out)
{
	uint8_t key[300];
	size_t klen = offset_key(topic, partition, key, sizeof key);
	if (!klen)
		return STATE_INVAL;
	MDB_txn *txn;
	int rc = state__map_mdb(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn));
	if (rc != STATE_OK)
		return rc;
	MDB_val k = { klen, key }, v;
	rc = state__map_mdb(mdb_get(txn, db->offsets, &k, &v));
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

int state__offset_put(struct state_db *db, MDB_txn *txn, const char *topic, int32_t partition, int64_t next_offset)
{
	uint8_t key[300], val[8];
	size_t klen = offset_key(topic, partition, key, sizeof key);
	if (!klen)
		return STATE_INVAL;
	struct writer w = { val };
	put64(&w, (uint64_t)next_offset);
	MDB_val k = { klen, key }, v = { sizeof val, val };
	return state__map_mdb(mdb_put(txn, db->offsets, &k, &v, 0));
}

/* ---- Demographics: version byte, then fixed little-endian fields (18 bytes). ---- */

#define DEMOGRAPHICS_SIZE 18

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
	state__be_store(key, user_id, 4);
	MDB_val k = { sizeof key, key }, v;
	int rc = state__map_mdb(mdb_get(txn, db->demographics, &k, &v));
	return rc == STATE_OK ? decode_demographics(&v, d) : rc;
}

int state_demographics_get(struct state_db *db, uint32_t user_id, struct event_customer *d_out)
{
	MDB_txn *txn;
	int rc = state__map_mdb(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn));
	if (rc != STATE_OK)
		return rc;
	rc = demographics_in_txn(db, txn, user_id, d_out);
	mdb_txn_abort(txn);
	return rc;
}

int state__demographics_put(struct state_db *db, MDB_txn *txn, const struct event_customer *d)
{
	if (d->user_id == 0)
		return STATE_INVAL;
	uint8_t key[4], val[DEMOGRAPHICS_SIZE];
	state__be_store(key, d->user_id, 4);
	encode_demographics(d, val);
	MDB_val k = { sizeof key, key }, v = { sizeof val, val };
	return state__map_mdb(mdb_put(txn, db->demographics, &k, &v, 0));
}

/* ---- Walks. ---- */

/* Walks the customers of one partition (or all, partition < 0) inside txn. */
static int walk_customers(struct state_db *db, MDB_txn *txn, int32_t partition, state_customer_cb cb, void *ctx)
{
	MDB_cursor *cur = NULL;
	int rc = state__map_mdb(mdb_cursor_open(txn, db->customers, &cur));
	if (rc != STATE_OK)
		return rc;
	uint8_t start[8];
	state__customer_key(partition >= 0 ? (uint32_t)partition : 0, 0, start);
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
	rc = mrc == MDB_NOTFOUND || mrc == MDB_SUCCESS ? STATE_OK : state__map_mdb(mrc);
out:
	mdb_cursor_close(cur);
	return rc;
}

int state_foreach_customer(struct state_db *db, int32_t partition, state_customer_cb cb, void *ctx)
{
	MDB_txn *txn;
	int rc = state__map_mdb(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn));
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
	int rc = state__map_mdb(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn));
	if (rc != STATE_OK)
		return rc;
	if ((rc = state__map_mdb(mdb_cursor_open(txn, db->offsets, &cur))) != STATE_OK)
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
		int32_t partition = (int32_t)(uint32_t)state__be_load(pb, 4);
		if ((rc = ocb((const char *)kb, partition, (int64_t)get64(&r), ctx)) != 0)
			goto out;
	}
	if (mrc != MDB_NOTFOUND) {
		rc = state__map_mdb(mrc);
		goto out;
	}
	rc = walk_customers(db, txn, -1, ccb, ctx);
out:
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc;
}
