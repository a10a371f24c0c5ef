/*
 * The LMDB store: opening the environment, the rows of its tables (customers, products,
 * demographics, offsets) and reading them, and the in-memory products table; plus the module's
 * error texts (the consistent walks are in state/walk.c). Batches (state/batch.c) write rows through state_int.h.
 */
#include "state/state_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/stat.h>
#include <zlib.h>

int state__disk_error(struct state_db *db, int rc)
{
	const char *path = NULL;
	struct statvfs fs;
	if (rc == EIO && mdb_env_get_path(db->env, &path) == MDB_SUCCESS && path && statvfs(path, &fs) == 0 &&
	    (uint64_t)fs.f_bavail * fs.f_frsize < 1u << 20)
		return ENOSPC;
	return rc;
}

int state_customers_extent(struct state_db *db, uint64_t *customers_out, uint32_t *partitions_out)
{
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_stat st;
	MDB_val k, v;
	*customers_out = 0;
	*partitions_out = 0;
	int rc = state__map_mdb(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn));
	if (rc == STATE_OK)
		rc = state__map_mdb(mdb_stat(txn, db->customers, &st));
	if (rc == STATE_OK)
		rc = state__map_mdb(mdb_cursor_open(txn, db->customers, &cur));
	if (rc == STATE_OK && (rc = state__map_mdb(mdb_cursor_get(cur, &k, &v, MDB_LAST))) == STATE_OK) {
		if (k.mv_size != 8) {
			rc = STATE_CORRUPT;
		} else {
			*customers_out = st.ms_entries;
			*partitions_out = (uint32_t)state__be_load(k.mv_data, 4) + 1;
		}
	}
	if (rc == STATE_NOTFOUND) /* no customers */
		rc = STATE_OK;
	if (cur)
		mdb_cursor_close(cur);
	if (txn)
		mdb_txn_abort(txn);
	return rc;
}

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

/* The CRC-32 of a row's key and value (the value's last 4 bytes excluded: they hold it). */
static uint32_t row_crc(const MDB_val *k, const uint8_t *v, size_t v_len)
{
	uLong c = crc32(0L, k->mv_data, (uInt)k->mv_size);
	return (uint32_t)crc32(c, v, (uInt)v_len);
}

void state__put_row_crc(const MDB_val *k, uint8_t *v, size_t v_len)
{
	struct writer w = { v + v_len };
	put32(&w, row_crc(k, v, v_len));
}

int state__row_crc_ok(const MDB_val *k, const MDB_val *v)
{
	if (v->mv_size < 4)
		return 0;
	size_t n = v->mv_size - 4;
	struct reader r = { (const uint8_t *)v->mv_data + n };
	return get32(&r) == row_crc(k, v->mv_data, n);
}

/* ---- Environment and products. ---- */

void state_config_init(struct state_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->map_size_bytes = (size_t)8 << 30;
	cfg->durable = 1;
	cfg->file_mode = 0640;
	cfg->verify = 1;
}

/* data.mdb and lock.mdb to @p mode (LMDB creates them through the umask, and leaves older files
 * as they were). @return 0 or an errno. */
static int chmod_env_files(const char *dir, unsigned mode)
{
	static const char *const names[] = { "data.mdb", "lock.mdb" };
	char path[4200];
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		if (chmod(path, (mode_t)mode) != 0)
			return errno;
	}
	return 0;
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

/* Products: key the big-endian product_id; value a version byte, then fixed little-endian fields
 * (13 bytes), then (version 2) the CRC-32 of key and value (17 bytes). Version 1 is still read. */
#define PRODUCT_SIZE_V1 13
#define PRODUCT_SIZE    17
static void encode_product(const struct state_product *p, uint8_t out[PRODUCT_SIZE])
{
	struct writer w = { out };
	*w.p++ = 2; /* version */
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
		struct state_product p;
		if ((rc = state__product_decode(&k, &v, &p)) != STATE_OK)
			break;
		rc = state__product_remember(db, &p);
		if (rc != STATE_OK)
			break;
	}
	if (rc == STATE_OK && mrc != MDB_NOTFOUND)
		rc = state__map_mdb(mrc);
	mdb_cursor_close(cur);
	return rc;
}

int state__product_decode(const MDB_val *k, const MDB_val *v, struct state_product *p)
{
	const uint8_t *b = v->mv_data;
	if (k->mv_size != 4 || v->mv_size < 1)
		return STATE_CORRUPT;
	if (b[0] != 1 && b[0] != 2)
		return STATE_VERSION;
	if (v->mv_size != (b[0] == 1 ? PRODUCT_SIZE_V1 : PRODUCT_SIZE) || (b[0] == 2 && !state__row_crc_ok(k, v)))
		return STATE_CORRUPT;
	struct reader r = { b + 1 };
	p->product_id = (uint32_t)state__be_load(k->mv_data, 4);
	p->aisle_id = get32(&r);
	p->price_cents = (int32_t)get32(&r);
	p->department_id = *r.p;
	return p->product_id ? STATE_OK : STATE_CORRUPT;
}

int state__product_put(struct state_db *db, MDB_txn *txn, const struct state_product *p)
{
	if (p->product_id == 0)
		return STATE_INVAL;
	uint8_t key[4], val[PRODUCT_SIZE];
	state__be_store(key, p->product_id, 4);
	encode_product(p, val);
	MDB_val k = { sizeof key, key }, v = { sizeof val, val };
	state__put_row_crc(&k, val, PRODUCT_SIZE - 4);
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
	if (!cfg->read_only) {
		/* The configured modes whatever the umask: it must neither narrow nor widen them. */
		op = "mkdir";
		if (mkdir(cfg->path, STATE_DIR_MODE(cfg->file_mode)) == 0) {
			op = "chmod";
			if (chmod(cfg->path, STATE_DIR_MODE(cfg->file_mode)) != 0) {
				rc = errno;
				goto error;
			}
		} else if (errno != EEXIST) {
			rc = errno;
			goto error;
		}
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
	if ((rc = state__map_mdb(mdb_env_open(db->env, cfg->path, flags, (mdb_mode_t)cfg->file_mode))) != STATE_OK)
		goto error;
	op = "chmod";
	if (!cfg->read_only && (rc = chmod_env_files(cfg->path, cfg->file_mode)) != 0)
		goto error;
	/* Before any table is read through the map: a truncated file would be SIGBUS there, a corrupt
	 * page a crash or a wrong answer. */
	struct state_verify_report rep;
	if ((rc = state__verify(db, cfg->verify, &rep)) != STATE_OK) {
		if (rc == STATE_CORRUPT) {
			errmsg(errbuf, errbuf_len,
			       "state: %s is corrupt: %s; refusing to read it (segstream state verify --state %s)",
			       cfg->path, rep.first_error, cfg->path);
			errbuf = NULL; /* the message is written */
		}
		op = "checking";
		goto error;
	}
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
	/* The names table came later: a read-only open of an older state goes on without it. */
	rc = state__map_mdb(mdb_dbi_open(txn, "names", dbflags, &db->names));
	db->has_names = rc == STATE_OK;
	if (rc != STATE_OK && !(rc == STATE_NOTFOUND && cfg->read_only))
		goto error;
	op = "loading products";
	if ((rc = state__products_load(db, txn)) != STATE_OK)
		goto error;
	op = "mdb_txn_commit";
	rc = state__disk_error(db, state__map_mdb(mdb_txn_commit(txn)));
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
	state__changes_free(db);
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

uint32_t state_product_id_limit(const struct state_db *db)
{
	uint64_t by_count = STATE_PRODUCT_IDS_PER_PRODUCT * ((uint64_t)db->n_products + 1);
	uint64_t limit = by_count > STATE_PRODUCT_ID_FLOOR ? by_count : STATE_PRODUCT_ID_FLOOR;
	return limit > UINT32_MAX ? UINT32_MAX : (uint32_t)limit;
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

int state_last_commit(struct state_db *db, uint64_t *txn_id_out)
{
	MDB_envinfo ei;
	int rc = state__map_mdb(mdb_env_info(db->env, &ei));
	*txn_id_out = rc == STATE_OK ? (uint64_t)ei.me_last_txnid : 0;
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
	return state__customer_decode(&k, &v, c);
}

int state__customer_decode(const MDB_val *k, const MDB_val *v, struct state_customer *c)
{
	if (k->mv_size != 8)
		return STATE_CORRUPT;
	int rc = state_customer_decode(v->mv_data, v->mv_size, c);
	if (rc != STATE_OK)
		return rc;
	/* The record names its own key: a flipped key byte is refused, not read as another customer. */
	if (c->partition != state__be_load(k->mv_data, 4) ||
	    c->user_id != state__be_load((const uint8_t *)k->mv_data + 4, 4))
		return STATE_CORRUPT;
	return STATE_OK;
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
			rc = state__customer_decode(&k, &v, c);
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

int state__offset_in_txn(struct state_db *db, MDB_txn *txn, const char *topic, int32_t partition, int64_t *next_out)
{
	uint8_t key[300];
	size_t klen = offset_key(topic, partition, key, sizeof key);
	if (!klen)
		return STATE_INVAL;
	MDB_val k = { klen, key }, v;
	int rc = state__map_mdb(mdb_get(txn, db->offsets, &k, &v));
	if (rc == STATE_OK)
		rc = state__offset_decode(&k, &v, next_out);
	return rc;
}

int state__offset_del(struct state_db *db, MDB_txn *txn, const char *topic, int32_t partition)
{
	uint8_t key[300];
	size_t klen = offset_key(topic, partition, key, sizeof key);
	if (!klen)
		return STATE_INVAL;
	MDB_val k = { klen, key };
	int rc = state__map_mdb(mdb_del(txn, db->offsets, &k, NULL));
	return rc == STATE_NOTFOUND ? STATE_OK : rc;
}

int state_offset_get(struct state_db *db, const char *topic, int32_t partition, int64_t *next_out)
{
	MDB_txn *txn;
	int rc = state__map_mdb(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn));
	if (rc != STATE_OK)
		return rc;
	rc = state__offset_in_txn(db, txn, topic, partition, next_out);
	mdb_txn_abort(txn);
	return rc;
}

/* Offsets: key the topic, a NUL and the big-endian partition; value the next offset, 8 bytes
 * little-endian, then the CRC-32 of key and value (12 bytes; the 8-byte form is still read). */
int state__offset_decode(const MDB_val *k, const MDB_val *v, int64_t *next)
{
	const uint8_t *kb = k->mv_data;
	if (k->mv_size < 5 || kb[k->mv_size - 5] != 0 || memchr(kb, 0, k->mv_size - 5) ||
	    (v->mv_size != 8 && v->mv_size != 12) || (v->mv_size == 12 && !state__row_crc_ok(k, v)))
		return STATE_CORRUPT;
	struct reader r = { v->mv_data };
	*next = (int64_t)get64(&r);
	return STATE_OK;
}

int state__offset_put(struct state_db *db, MDB_txn *txn, const char *topic, int32_t partition, int64_t next_offset)
{
	uint8_t key[300], val[12];
	size_t klen = offset_key(topic, partition, key, sizeof key);
	if (!klen)
		return STATE_INVAL;
	struct writer w = { val };
	put64(&w, (uint64_t)next_offset);
	MDB_val k = { klen, key }, v = { sizeof val, val };
	state__put_row_crc(&k, val, 8);
	return state__map_mdb(mdb_put(txn, db->offsets, &k, &v, 0));
}

/* ---- Demographics: version byte, then fixed little-endian fields (18 bytes), then (version 2)
 * the CRC-32 of key and value (22 bytes). Version 1 is still read. ---- */

#define DEMOGRAPHICS_SIZE_V1 18
#define DEMOGRAPHICS_SIZE    22

static void encode_demographics(const struct event_customer *d, uint8_t out[DEMOGRAPHICS_SIZE])
{
	struct writer w = { out };
	*w.p++ = 2;
	put32(&w, d->user_id);
	put32(&w, (uint32_t)d->joined_day);
	put32(&w, d->income);
	*w.p++ = d->state;
	*w.p++ = d->age;
	*w.p++ = d->n_dependants;
	*w.p++ = d->fam_status;
	*w.p++ = d->gender;
}

int state__demographics_decode(const MDB_val *k, const MDB_val *v, struct event_customer *d)
{
	const uint8_t *b = v->mv_data;
	if (k->mv_size != 4 || v->mv_size < 1)
		return STATE_CORRUPT;
	if (b[0] != 1 && b[0] != 2)
		return STATE_VERSION;
	if (v->mv_size != (b[0] == 1 ? DEMOGRAPHICS_SIZE_V1 : DEMOGRAPHICS_SIZE) ||
	    (b[0] == 2 && !state__row_crc_ok(k, v)))
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
	return d->user_id == state__be_load(k->mv_data, 4) ? STATE_OK : STATE_CORRUPT;
}

int state__demographics_in_txn(struct state_db *db, MDB_txn *txn, uint32_t user_id, struct event_customer *d)
{
	uint8_t key[4];
	state__be_store(key, user_id, 4);
	MDB_val k = { sizeof key, key }, v;
	int rc = state__map_mdb(mdb_get(txn, db->demographics, &k, &v));
	return rc == STATE_OK ? state__demographics_decode(&k, &v, d) : rc;
}

int state_demographics_get(struct state_db *db, uint32_t user_id, struct event_customer *d_out)
{
	MDB_txn *txn;
	int rc = state__map_mdb(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn));
	if (rc != STATE_OK)
		return rc;
	rc = state__demographics_in_txn(db, txn, user_id, d_out);
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
	state__put_row_crc(&k, val, DEMOGRAPHICS_SIZE - 4);
	return state__map_mdb(mdb_put(txn, db->demographics, &k, &v, 0));
}
