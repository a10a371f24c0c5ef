/*
 * Write batches: one LMDB write transaction that coalesces the customers it touches in memory
 * (one put per customer, in key order at commit) and carries the reference rows and offsets
 * written with them. The apply path (touch, hash_key, state_batch_apply) lives here whole so that
 * it stays inlined.
 */
#include "state/state_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A customer touched by the open batch, coalesced in memory until commit. */
struct touched {
	uint8_t key[8]; /* big-endian partition, big-endian user_id: sorted like the B-tree */
	struct state_customer c;
};

struct state_batch {
	struct state_db *db;
	MDB_txn *txn;
	struct touched *items; /* touched customers, in first-touch order */
	size_t n_items, cap_items;
	uint32_t *slots;  /* open addressing: index + 1 into items, 0 = empty */
	size_t n_slots;   /* a power of two, kept at least twice n_items */
	size_t last_item; /* index + 1 of the customer touched last, 0 = none */
	struct state_batch_stats stats;
};

MDB_txn *state__batch_txn(struct state_batch *b, struct state_db **db_out)
{
	*db_out = b->db;
	return b->txn;
}

void state_commit_details_track(struct state_db *db, int on)
{
	db->commit_details = on != 0;
}

int state_batch_begin(struct state_db *db, struct state_batch **batch_out)
{
	if (db->read_only)
		return STATE_INVAL;
	if (db->open_batch)
		return STATE_BUSY;
	struct state_batch *b = calloc(1, sizeof *b);
	if (!b)
		return STATE_NOMEM;
	int rc = state__map_mdb(mdb_txn_begin(db->env, NULL, 0, &b->txn));
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
	return state__be_load(key, 8);
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
	state__customer_key(partition, user_id, key);
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
	int rc = state__customer_get(b->db, b->txn, partition, user_id, &t->c);
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
		state__customer_key((uint32_t)partition, ev->user_id, key);
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
	switch (state_customer_apply(c, ev, state__product_find(b->db, ev->product_id), b->db->include_train)) {
	case STATE_APPLIED:
		b->stats.applied++;
		break;
	case STATE_DUPLICATE:
		b->stats.duplicates++;
		break;
	case STATE_IGNORED:
		b->stats.ignored++;
		break;
	}
	return STATE_OK;
}

int state_batch_put_customer(struct state_batch *b, const struct state_customer *c, int append)
{
	uint8_t key[8], buf[STATE_RECORD_MAX];
	size_t len = 0;
	state__customer_key(c->partition, c->user_id, key);
	int rc = state_customer_encode(c, buf, sizeof buf, &len);
	if (rc != STATE_OK)
		return rc;
	MDB_val k = { sizeof key, key }, v = { len, buf };
	int mrc = mdb_put(b->txn, b->db->customers, &k, &v, append ? MDB_APPEND : 0);
	if (mrc == MDB_KEYEXIST)
		return STATE_INVAL;
	rc = state__map_mdb(mrc);
	if (rc == STATE_OK)
		b->stats.customers++;
	return rc;
}

int state_batch_put_encoded(struct state_batch *b, uint32_t partition, uint32_t user_id, const void *rec, size_t len,
			    int append)
{
	uint8_t key[8];
	if (len == 0 || len > STATE_RECORD_MAX)
		return STATE_INVAL;
	state__customer_key(partition, user_id, key);
	MDB_val k = { sizeof key, key }, v = { len, (void *)rec };
	int mrc = mdb_put(b->txn, b->db->customers, &k, &v, append ? MDB_APPEND : 0);
	if (mrc == MDB_KEYEXIST)
		return STATE_INVAL;
	int rc = state__map_mdb(mrc);
	if (rc == STATE_OK)
		b->stats.customers++;
	return rc;
}

int state_batch_put_product(struct state_batch *b, const struct state_product *p)
{
	if (p->product_id >= state_product_id_limit(b->db))
		return STATE_INVAL; /* it would size the in-memory table (see state_product_id_limit) */
	int rc = state__product_put(b->db, b->txn, p);
	if (rc != STATE_OK)
		return rc;
	b->stats.products++;
	/* The in-memory table changes now (and may move); an aborted batch reloads it (see state_batch_abort). */
	return state__product_remember(b->db, p);
}

int state_batch_put_demographics(struct state_batch *b, const struct event_customer *d)
{
	int rc = state__demographics_put(b->db, b->txn, d);
	if (rc == STATE_OK)
		b->stats.demographics++;
	return rc;
}

int state_batch_put_name(struct state_batch *b, const struct event_name *n)
{
	int rc = state__name_put(b->db, b->txn, n);
	if (rc == STATE_OK)
		b->stats.names++;
	return rc;
}

int state_batch_set_offset(struct state_batch *b, const char *topic, int32_t partition, int64_t next_offset)
{
	int rc = state__offset_put(b->db, b->txn, topic, partition, next_offset);
	/* Noted before the commit: should the batch fail, the walk re-reads what is committed. */
	if (rc == STATE_OK && b->db->changes)
		rc = state__changes_note_partition(b->db, partition);
	return rc;
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

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void batch_free(struct state_batch *b)
{
	b->db->open_batch = NULL;
	free(b->items);
	free(b->slots);
	free(b);
}

/* Brings the in-memory products back to what is committed, after a batch that put products
 * was aborted or failed to commit. */
static void reload_products(struct state_db *db)
{
	MDB_txn *txn;
	memset(db->products_by_id, 0, db->products_cap * sizeof *db->products_by_id);
	db->n_products = 0;
	if (mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn) == MDB_SUCCESS) {
		if (state__products_load(db, txn) != STATE_OK)
			fprintf(stderr, "state: warning: could not reload products after a failed batch\n");
		mdb_txn_abort(txn);
	}
}

int state_batch_commit(struct state_batch *b, struct state_batch_stats *stats_out)
{
	int rc = STATE_OK;
	int details = b->db->commit_details; /* the debug line's figures: only when asked for */
	double t0 = details ? now_ms() : 0;
	struct put_order *order = b->n_items ? malloc(b->n_items * sizeof *order) : NULL;
	MDB_cursor *cur = NULL;
	if (b->n_items && !order)
		rc = STATE_NOMEM;
	else if (b->n_items)
		rc = state__map_mdb(mdb_cursor_open(b->txn, b->db->customers, &cur));
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
		rc = state__map_mdb(mdb_cursor_put(cur, &k, &v, 0));
	}
	if (cur)
		mdb_cursor_close(cur);
	free(order);
	if (rc != STATE_OK) {
		state_batch_abort(b);
		return rc;
	}
	MDB_stat fst; /* the free-page list (LMDB's FREE_DBI, 0) as this transaction sees it */
	if (details && mdb_stat(b->txn, 0, &fst) == MDB_SUCCESS) {
		b->stats.free_entries = fst.ms_entries;
		b->stats.free_pages = fst.ms_leaf_pages + fst.ms_branch_pages + fst.ms_overflow_pages;
	}
	double t1 = details ? now_ms() : 0;
	rc = state__disk_error(b->db, state__map_mdb(mdb_txn_commit(b->txn)));
	if (details) {
		double t2 = now_ms();
		b->stats.put_ms = t1 - t0;
		b->stats.commit_ms = t2 - t1;
		MDB_envinfo ei;
		if (rc == STATE_OK && mdb_env_info(b->db->env, &ei) == MDB_SUCCESS)
			b->stats.map_pages = (uint64_t)ei.me_last_pgno + 1;
	}
	b->stats.customers += b->n_items;
	if (rc == STATE_OK && b->db->changes) /* change tracking on (state_changes_track): off costs this test */
		for (size_t i = 0; i < b->n_items; i++)
			state__changes_note(b->db, b->items[i].key); /* a failure marks the set overflowed */
	if (stats_out)
		*stats_out = b->stats;
	struct state_db *db = b->db;
	int products_changed = b->stats.products > 0;
	batch_free(b); /* the transaction is gone either way: committed, or aborted by LMDB */
	if (rc != STATE_OK && products_changed)
		reload_products(db);
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
	if (products_changed)
		reload_products(db);
}
