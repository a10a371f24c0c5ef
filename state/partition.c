/*
 * Whole partitions of the state, for handing a partition from one instance to another: raw
 * (byte-identical) copies of a partition's records with its offset, dropping a partition,
 * writing copied records, and the change set (the customers and partitions committed since the
 * set was last cleared) that lets a copy elsewhere follow the state by differences.
 */
#include "state/state_int.h"

#include <stdlib.h>
#include <string.h>

/* The change set: customer keys (as big-endian numbers) and partitions, appended at commit,
 * sorted and made unique when walked (and whenever the keys double, to bound the memory). */
struct state_changes {
	uint64_t *keys;
	size_t n_keys, cap_keys;
	size_t compact_at; /* n_keys at which to sort and dedupe again */
	int32_t *parts;
	size_t n_parts, cap_parts;
	int overflowed; /* a note failed (out of memory): the set is incomplete */
};

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* Sorts the keys and removes repeats. */
static void compact_keys(struct state_changes *ch)
{
	if (ch->n_keys > 1)
		qsort(ch->keys, ch->n_keys, sizeof *ch->keys, compare_u64);
	size_t n = 0;
	for (size_t i = 0; i < ch->n_keys; i++)
		if (n == 0 || ch->keys[n - 1] != ch->keys[i])
			ch->keys[n++] = ch->keys[i];
	ch->n_keys = n;
	ch->compact_at = n * 2 > 65536 ? n * 2 : 65536;
}

int state__changes_note(struct state_db *db, const uint8_t key[8])
{
	struct state_changes *ch = db->changes;
	if (ch->n_keys >= ch->compact_at)
		compact_keys(ch);
	if (state__reserve((void **)&ch->keys, &ch->cap_keys, ch->n_keys + 1, sizeof *ch->keys, 4096)) {
		ch->overflowed = 1;
		return STATE_NOMEM;
	}
	ch->keys[ch->n_keys++] = state__be_load(key, 8);
	return STATE_OK;
}

int state__changes_note_partition(struct state_db *db, int32_t partition)
{
	struct state_changes *ch = db->changes;
	for (size_t i = 0; i < ch->n_parts; i++)
		if (ch->parts[i] == partition)
			return STATE_OK;
	if (state__reserve((void **)&ch->parts, &ch->cap_parts, ch->n_parts + 1, sizeof *ch->parts, 16)) {
		ch->overflowed = 1;
		return STATE_NOMEM;
	}
	ch->parts[ch->n_parts++] = partition;
	return STATE_OK;
}

void state__changes_free(struct state_db *db)
{
	if (!db->changes)
		return;
	free(db->changes->keys);
	free(db->changes->parts);
	free(db->changes);
	db->changes = NULL;
}

int state_changes_track(struct state_db *db, int on)
{
	if (db->read_only)
		return STATE_INVAL;
	if (!on) {
		state__changes_free(db);
		return STATE_OK;
	}
	if (db->changes)
		return STATE_OK;
	db->changes = calloc(1, sizeof *db->changes);
	if (!db->changes)
		return STATE_NOMEM;
	db->changes->compact_at = 65536;
	return STATE_OK;
}

void state_changes_clear(struct state_db *db)
{
	if (!db->changes)
		return;
	db->changes->n_keys = 0;
	db->changes->n_parts = 0;
	db->changes->overflowed = 0;
	db->changes->compact_at = 65536;
}

size_t state_changes_pending(const struct state_db *db)
{
	return db->changes ? db->changes->n_keys + db->changes->n_parts : 0;
}

static int compare_i32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	return (x > y) - (x < y);
}

/* One partition of a change walk: its changed customers (keys[from, to)) as stored, then its offset. */
static int walk_changed_partition(struct state_db *db, MDB_txn *txn, const char *topic, int32_t partition,
				  const uint64_t *keys, size_t n, state_raw_cb rec_cb, state_offset_cb off_cb,
				  void *ctx)
{
	int64_t next;
	int rc = state__offset_in_txn(db, txn, topic, partition, &next);
	if (rc == STATE_NOTFOUND)
		return STATE_OK; /* dropped since: nothing of it to copy */
	if (rc != STATE_OK)
		return rc;
	for (size_t i = 0; i < n; i++) {
		uint8_t key[8];
		state__be_store(key, keys[i], 8);
		MDB_val k = { sizeof key, key }, v;
		rc = state__map_mdb(mdb_get(txn, db->customers, &k, &v));
		if (rc == STATE_NOTFOUND)
			continue;
		if (rc != STATE_OK)
			return rc;
		if ((rc = rec_cb((uint32_t)partition, (uint32_t)keys[i], v.mv_data, v.mv_size, ctx)) != 0)
			return rc;
	}
	return off_cb(topic, partition, next, ctx);
}

int state_changes_walk(struct state_db *db, const char *topic, state_raw_cb rec_cb, state_offset_cb off_cb, void *ctx)
{
	struct state_changes *ch = db->changes;
	if (!ch)
		return STATE_OK;
	if (ch->overflowed)
		return STATE_NOMEM;
	compact_keys(ch);
	/* Every partition of a key is in parts too (a key is committed with its partition's offset),
	 * but a key's partition is added here anyway in case a writer stored no offset. */
	for (size_t i = 0; i < ch->n_keys; i++)
		if ((i == 0 || ch->keys[i] >> 32 != ch->keys[i - 1] >> 32) &&
		    state__changes_note_partition(db, (int32_t)(ch->keys[i] >> 32)) != STATE_OK)
			return STATE_NOMEM;
	if (ch->n_parts > 1)
		qsort(ch->parts, ch->n_parts, sizeof *ch->parts, compare_i32);
	MDB_txn *txn;
	int rc = state__map_mdb(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn));
	if (rc != STATE_OK)
		return rc;
	size_t k = 0;
	for (size_t i = 0; i < ch->n_parts && rc == STATE_OK; i++) {
		int32_t p = ch->parts[i];
		if (p < 0)
			continue;
		while (k < ch->n_keys && (ch->keys[k] >> 32) < (uint64_t)p)
			k++;
		size_t end = k;
		while (end < ch->n_keys && (ch->keys[end] >> 32) == (uint64_t)p)
			end++;
		rc = walk_changed_partition(db, txn, topic, p, ch->keys + k, end - k, rec_cb, off_cb, ctx);
		k = end;
	}
	mdb_txn_abort(txn);
	return rc;
}

int state_partition_walk_raw(struct state_db *db, const char *topic, int32_t partition, state_raw_cb cb, void *ctx,
			     int64_t *next_out)
{
	*next_out = -1;
	if (partition < 0)
		return STATE_INVAL;
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
	int rc = state__map_mdb(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn));
	if (rc != STATE_OK)
		return rc;
	rc = state__offset_in_txn(db, txn, topic, partition, next_out);
	if (rc == STATE_NOTFOUND) {
		*next_out = -1;
		rc = STATE_OK;
	}
	if (rc == STATE_OK)
		rc = state__map_mdb(mdb_cursor_open(txn, db->customers, &cur));
	if (rc != STATE_OK)
		goto out;
	uint8_t start[8];
	state__customer_key((uint32_t)partition, 0, start);
	MDB_val k = { sizeof start, start }, v;
	int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (mrc == MDB_SUCCESS) {
		if (k.mv_size != 8) {
			rc = STATE_CORRUPT;
			goto out;
		}
		if (memcmp(k.mv_data, start, 4) != 0)
			break;
		uint32_t user_id = (uint32_t)state__be_load((const uint8_t *)k.mv_data + 4, 4);
		if ((rc = cb((uint32_t)partition, user_id, v.mv_data, v.mv_size, ctx)) != 0)
			goto out;
		mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	rc = mrc == MDB_SUCCESS || mrc == MDB_NOTFOUND ? STATE_OK : state__map_mdb(mrc);
out:
	if (cur)
		mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc;
}

int state_batch_drop_partition(struct state_batch *b, const char *topic, int32_t partition, uint64_t *dropped_out)
{
	struct state_db *db;
	MDB_txn *txn = state__batch_txn(b, &db);
	MDB_cursor *cur = NULL;
	uint64_t dropped = 0;
	if (dropped_out)
		*dropped_out = 0;
	if (partition < 0)
		return STATE_INVAL;
	if (!txn)
		return STATE_IO; /* the batch's write transaction could not begin */
	int rc = state__offset_del(db, txn, topic, partition);
	if (rc == STATE_OK)
		rc = state__map_mdb(mdb_cursor_open(txn, db->customers, &cur));
	if (rc != STATE_OK)
		return rc;
	uint8_t start[8];
	state__customer_key((uint32_t)partition, 0, start);
	MDB_val k = { sizeof start, start }, v;
	int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	/* After a delete the cursor seeks again: the partition's first key left is the next one. */
	while (mrc == MDB_SUCCESS && k.mv_size == 8 && memcmp(k.mv_data, start, 4) == 0) {
		if ((mrc = mdb_cursor_del(cur, 0)) != MDB_SUCCESS)
			break;
		dropped++;
		k.mv_size = sizeof start;
		k.mv_data = start;
		mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	}
	rc = mrc == MDB_SUCCESS || mrc == MDB_NOTFOUND ? STATE_OK : state__map_mdb(mrc);
	mdb_cursor_close(cur);
	if (dropped_out)
		*dropped_out = dropped;
	return rc;
}

int state_batch_put_raw(struct state_batch *b, uint32_t partition, uint32_t user_id, const void *rec, size_t len)
{
	struct state_db *db;
	MDB_txn *txn = state__batch_txn(b, &db);
	uint8_t key[8];
	if (!txn)
		return STATE_IO; /* the batch's write transaction could not begin */
	state__customer_key(partition, user_id, key);
	MDB_val k = { sizeof key, key }, v = { len, (void *)rec };
	struct state_customer c;
	int rc = state__customer_decode(&k, &v, &c); /* the CRC, the version, and that it names this key */
	if (rc != STATE_OK)
		return rc;
	return state__map_mdb(mdb_put(txn, db->customers, &k, &v, 0));
}
