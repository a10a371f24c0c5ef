/*
 * Write batches: the customers a batch touches coalesced in memory (one put per customer, in key
 * order at commit) with the reference rows and offsets written with them. A batch that only applies
 * events reads through a read-only transaction and commits in a few write transactions of whole
 * partitions (see commit_by_partitions); one that writes anything else is one write transaction.
 * The apply path (touch, hash_key, state_batch_apply) lives here whole so that it stays inlined.
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

/* An offset set while the batch reads only: written at commit with its partition's customers. */
struct pending_offset {
	char topic[STATE__TOPIC_MAX + 1];
	int32_t partition;
	int64_t next;
};

struct state_batch {
	struct state_db *db;
	MDB_txn *txn; /* read-only until something other than applied events is written (see writable) */
	int writable; /* txn is a write transaction */
	struct pending_offset *offsets; /* set while read-only, in call order */
	size_t n_offsets, cap_offsets;
	struct touched *items; /* touched customers, in first-touch order */
	size_t n_items, cap_items;
	uint32_t *slots;  /* open addressing: index + 1 into items, 0 = empty */
	size_t n_slots;   /* a power of two, kept at least twice n_items */
	size_t last_item; /* index + 1 of the customer touched last, 0 = none */
	struct state_batch_stats stats;
};

/*
 * The batch's transaction made a write transaction, if it is not one yet: the read-only one is
 * ended and a write transaction begun, which sees the same committed state (this process is the
 * only writer, and no batch commits while this one is open); offsets set meanwhile are written
 * into it, in their order. On failure the batch holds no transaction and every call but abort fails.
 */
static int make_writable(struct state_batch *b)
{
	if (b->writable)
		return STATE_OK;
	if (!b->txn)
		return STATE_IO;
	mdb_txn_abort(b->txn);
	b->txn = NULL;
	int rc = state__map_mdb(mdb_txn_begin(b->db->env, NULL, 0, &b->txn));
	if (rc != STATE_OK) {
		b->txn = NULL;
		return rc;
	}
	b->writable = 1;
	for (size_t i = 0; i < b->n_offsets && rc == STATE_OK; i++)
		rc = state__offset_put(b->db, b->txn, b->offsets[i].topic, b->offsets[i].partition, b->offsets[i].next);
	b->n_offsets = 0;
	return rc;
}

MDB_txn *state__batch_txn(struct state_batch *b, struct state_db **db_out)
{
	*db_out = b->db;
	return make_writable(b) == STATE_OK ? b->txn : NULL;
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
	/* Read-only until it must write more than applied events: see state_batch_commit. */
	int rc = state__map_mdb(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &b->txn));
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
	if (!b->txn)
		return STATE_IO; /* make_writable() failed: the batch can only be aborted */
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
	if (rc == STATE_OK)
		rc = make_writable(b);
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
	int wrc = make_writable(b);
	if (wrc != STATE_OK)
		return wrc;
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
	int rc = make_writable(b);
	if (rc == STATE_OK)
		rc = state__product_put(b->db, b->txn, p);
	if (rc != STATE_OK)
		return rc;
	b->stats.products++;
	/* The in-memory table changes now (and may move); an aborted batch reloads it (see state_batch_abort). */
	return state__product_remember(b->db, p);
}

int state_batch_put_demographics(struct state_batch *b, const struct event_customer *d)
{
	int rc = make_writable(b);
	if (rc == STATE_OK)
		rc = state__demographics_put(b->db, b->txn, d);
	if (rc == STATE_OK)
		b->stats.demographics++;
	return rc;
}

int state_batch_put_name(struct state_batch *b, const struct event_name *n)
{
	int rc = make_writable(b);
	if (rc == STATE_OK)
		rc = state__name_put(b->db, b->txn, n);
	if (rc == STATE_OK)
		b->stats.names++;
	return rc;
}

int state_batch_set_offset(struct state_batch *b, const char *topic, int32_t partition, int64_t next_offset)
{
	int rc = STATE_OK;
	if (b->writable) {
		rc = state__offset_put(b->db, b->txn, topic, partition, next_offset);
	} else if (!topic || strlen(topic) > STATE__TOPIC_MAX) {
		rc = STATE_INVAL; /* as state__offset_put would say */
	} else if (state__reserve((void **)&b->offsets, &b->cap_offsets, b->n_offsets + 1, sizeof *b->offsets, 16)) {
		rc = STATE_NOMEM;
	} else {
		struct pending_offset *o = &b->offsets[b->n_offsets++];
		strcpy(o->topic, topic);
		o->partition = partition;
		o->next = next_offset;
	}
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
	free(b->offsets);
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

/* Puts the touched customers order[from..to) through one cursor of txn, in key order: each B-tree
 * page is written once, and LMDB looks for a key first on the leaf page of the previous put, so
 * most puts skip the descent from the root. */
static int put_items(struct state_batch *b, MDB_txn *txn, const struct put_order *order, size_t from, size_t to)
{
	MDB_cursor *cur = NULL;
	if (from == to)
		return STATE_OK;
	int rc = state__map_mdb(mdb_cursor_open(txn, b->db->customers, &cur));
	for (size_t i = from; i < to && rc == STATE_OK; i++) {
		struct touched *t = &b->items[order[i].item];
		uint8_t buf[STATE_RECORD_MAX];
		size_t len = 0;
		state_customer_encode(&t->c, buf, sizeof buf, &len);
		MDB_val k = { 8, t->key }, v = { len, buf };
		rc = state__map_mdb(mdb_cursor_put(cur, &k, &v, 0));
	}
	if (cur)
		mdb_cursor_close(cur);
	return rc;
}

/* Commits txn (consumed either way), filling the details of the stats when asked: put_ms from t0,
 * commit_ms, the free-page list before the commit and the map's pages after it. */
static int commit_txn(struct state_batch *b, MDB_txn *txn, int details, double t0)
{
	MDB_stat fst; /* the free-page list (LMDB's FREE_DBI, 0) as this transaction sees it */
	if (details && mdb_stat(txn, 0, &fst) == MDB_SUCCESS) {
		b->stats.free_entries = fst.ms_entries;
		b->stats.free_pages = fst.ms_leaf_pages + fst.ms_branch_pages + fst.ms_overflow_pages;
	}
	double t1 = details ? now_ms() : 0;
	int rc = state__disk_error(b->db, state__map_mdb(mdb_txn_commit(txn)));
	if (details) {
		double t2 = now_ms();
		b->stats.put_ms += t1 - t0;
		b->stats.commit_ms += t2 - t1;
		MDB_envinfo ei;
		if (rc == STATE_OK && mdb_env_info(b->db->env, &ei) == MDB_SUCCESS)
			b->stats.map_pages = (uint64_t)ei.me_last_pgno + 1;
	}
	return rc;
}

/* The fewest customers a transaction of commit_by_partitions() closes at (a partition's end). */
#define SPLIT_MIN_CUSTOMERS 4096

/*
 * Commits a batch that only applied events (its transaction read-only): the touched customers
 * (order: in key order, so by partition) and the pending offsets in a few write transactions, each
 * holding whole partitions: a partition's customers with its offsets, which is all that must be
 * atomic (a customer's events all come from its partition). A transaction closes at a partition's
 * end once it holds a quarter of the customers (at least SPLIT_MIN_CUSTOMERS): a small batch is one
 * transaction, a catch-up batch over 4 partitions four. Why: LMDB copies every page a transaction
 * writes, keeps the copies in memory until the commit (and reuses that memory, never frees it),
 * and can reuse a page the transaction frees only two transactions later; a catch-up batch whose
 * events interleave every partition rewrites nearly every leaf page, so the data file settled at
 * live pages + two batches' copies (2.3x the live pages with line messages) and the dirty pages
 * took ~45 MB. A transaction per quarter of the key space copies a quarter (#15, BENCHMARKS.md).
 * Transactions committed before a failure stay committed, each consistent with its offsets.
 */
static int commit_by_partitions(struct state_batch *b, const struct put_order *order, int details, double t0)
{
	size_t n = b->n_items, target = n / 4 > SPLIT_MIN_CUSTOMERS ? n / 4 : SPLIT_MIN_CUSTOMERS;
	size_t from = 0, next_offset = 0;
	int rc = STATE_OK;
	mdb_txn_abort(b->txn); /* every customer it read is in items */
	b->txn = NULL;
	if (n == 0 && b->n_offsets == 0)
		return STATE_OK; /* nothing to write */
	/* Offsets go in the first transaction whose last partition is at or past theirs (so with their
	 * customers), the rest in the last. Sorted by partition, stable for a partition's repeats. */
	for (size_t i = 1; i < b->n_offsets; i++)
		for (size_t j = i; j > 0 && b->offsets[j - 1].partition > b->offsets[j].partition; j--) {
			struct pending_offset t = b->offsets[j];
			b->offsets[j] = b->offsets[j - 1];
			b->offsets[j - 1] = t;
		}
	do {
		size_t to = from;
		while (to < n) { /* whole partitions until the target */
			uint64_t part = order[to].key >> 32;
			while (to < n && order[to].key >> 32 == part)
				to++;
			if (to - from >= target)
				break;
		}
		int64_t last_part = to > from ? (int64_t)(order[to - 1].key >> 32) : -1;
		MDB_txn *txn;
		if ((rc = state__map_mdb(mdb_txn_begin(b->db->env, NULL, 0, &txn))) != STATE_OK)
			break;
		rc = put_items(b, txn, order, from, to);
		for (; rc == STATE_OK && next_offset < b->n_offsets &&
		       (to == n || b->offsets[next_offset].partition <= last_part);
		     next_offset++) {
			const struct pending_offset *o = &b->offsets[next_offset];
			rc = state__offset_put(b->db, txn, o->topic, o->partition, o->next);
		}
		if (rc != STATE_OK) {
			mdb_txn_abort(txn);
			break;
		}
		if ((rc = commit_txn(b, txn, details, t0)) != STATE_OK)
			break;
		if (b->db->changes) /* change tracking on (state_changes_track): off costs this test */
			for (size_t i = from; i < to; i++)
				state__changes_note(b->db, b->items[order[i].item].key); /* a failure: overflowed */
		t0 = details ? now_ms() : 0;
		from = to;
	} while (from < n);
	return rc;
}

int state_batch_commit(struct state_batch *b, struct state_batch_stats *stats_out)
{
	int rc = STATE_OK;
	int details = b->db->commit_details; /* the debug line's figures: only when asked for */
	double t0 = details ? now_ms() : 0;
	struct put_order *order = b->n_items ? malloc(b->n_items * sizeof *order) : NULL;
	if (b->n_items && !order)
		rc = STATE_NOMEM;
	else if (!b->txn)
		rc = STATE_IO; /* the write transaction could not begin (make_writable) */
	for (size_t i = 0; i < b->n_items && rc == STATE_OK; i++) {
		order[i].key = key_number(b->items[i].key);
		order[i].item = i;
	}
	if (rc == STATE_OK && b->n_items > 1)
		qsort(order, b->n_items, sizeof *order, compare_put_order);
	if (rc == STATE_OK && !b->writable) {
		rc = commit_by_partitions(b, order, details, t0);
	} else if (rc == STATE_OK) { /* it wrote more than applied events: one transaction, as it began */
		rc = put_items(b, b->txn, order, 0, b->n_items);
		if (rc == STATE_OK) {
			rc = commit_txn(b, b->txn, details, t0);
			b->txn = NULL;                        /* committed, or aborted by LMDB */
			if (rc == STATE_OK && b->db->changes) /* change tracking on (state_changes_track) */
				for (size_t i = 0; i < b->n_items; i++)
					state__changes_note(b->db,
							    b->items[i].key); /* a failure marks the set overflowed */
		}
	}
	free(order);
	if (rc != STATE_OK && b->txn) { /* nothing committed */
		state_batch_abort(b);
		return rc;
	}
	b->stats.customers += b->n_items;
	if (stats_out)
		*stats_out = b->stats;
	struct state_db *db = b->db;
	int products_changed = b->stats.products > 0;
	batch_free(b); /* the transactions are gone: committed, or aborted */
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
	if (b->txn)
		mdb_txn_abort(b->txn);
	batch_free(b);
	if (products_changed)
		reload_products(db);
}
