/*
 * Consistent walks of the state: every customer (of one partition or all) with its demographics
 * in one read transaction, and the snapshot walk (names, offsets and a copy of the customers taken
 * in one read transaction, then the copy walked once or twice) that sees one committed point.
 */
#include "state/state_int.h"

#include <stdlib.h>
#include <string.h>

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
		if ((rc = state__customer_decode(&k, &v, &c)) != STATE_OK)
			goto out;
		int drc = state__demographics_in_txn(db, txn, c.user_id, &d);
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

/* Every stored name inside txn, by kind then id; a row that does not decode is skipped. */
static int walk_names(struct state_db *db, MDB_txn *txn, state_name_cb cb, void *ctx)
{
	MDB_cursor *cur = NULL;
	if (!db->has_names) /* a read-only open of a state made before the table */
		return STATE_OK;
	int rc = state__map_mdb(mdb_cursor_open(txn, db->names, &cur));
	if (rc != STATE_OK)
		return rc;
	MDB_val k, v;
	int mrc;
	while ((mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == MDB_SUCCESS) {
		char name[EVENT_NAME_MAX];
		if (state__name_decode(&k, &v, name, sizeof name) != STATE_OK)
			continue; /* state_name_get() finds no name there either */
		const uint8_t *kb = k.mv_data;
		if ((rc = cb((enum event_name_kind)kb[0], (uint32_t)state__be_load(kb + 1, 4), name, ctx)) != 0)
			goto out;
	}
	rc = mrc == MDB_NOTFOUND ? STATE_OK : state__map_mdb(mrc);
out:
	mdb_cursor_close(cur);
	return rc;
}

/* Every pass sees the same records: one read transaction, one key order. */
/* The customers of one read transaction copied out: the raw rows (key and value bytes, back to
 * back) and each one's demographics, so that the snapshot's passes, its k-means and its file
 * writes run after the transaction has ended. A read transaction held that long keeps LMDB from
 * reusing any page the writer frees meanwhile: the file grew to twice the state's size beside a
 * consumer committing every batch (BENCHMARKS.md, consumer memory with snapshots). */
struct copied_row {
	size_t at;          /* the key's first byte in bytes[]; the value follows it */
	uint32_t value_len; /* bytes of the value */
	int has_demographics;
	struct event_customer demographics;
};

struct customer_copy {
	uint8_t *bytes;
	size_t used, cap;
	struct copied_row *rows;
	size_t n, rows_cap;
};

static void copy_free(struct customer_copy *cc)
{
	free(cc->bytes);
	free(cc->rows);
}

/* Every customer row of txn and its demographics into cc. The sizes come from the table's
 * statistics first (pages x page size bounds the bytes), so the copy is allocated once; pages of
 * it never written cost no memory. */
static int copy_customers(struct state_db *db, MDB_txn *txn, struct customer_copy *cc)
{
	MDB_cursor *cur = NULL;
	MDB_stat st;
	int rc = state__map_mdb(mdb_stat(txn, db->customers, &st));
	if (rc != STATE_OK)
		return rc;
	if (state__reserve((void **)&cc->bytes, &cc->cap, (st.ms_leaf_pages + st.ms_overflow_pages) * st.ms_psize, 1,
			   4096) ||
	    state__reserve((void **)&cc->rows, &cc->rows_cap, st.ms_entries, sizeof *cc->rows, 4096))
		return STATE_NOMEM;
	if ((rc = state__map_mdb(mdb_cursor_open(txn, db->customers, &cur))) != STATE_OK)
		return rc;
	MDB_val k, v;
	int mrc;
	while ((mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == MDB_SUCCESS) {
		/* The record is decoded (and checked) where the copy is walked; here the key gives the user. */
		if (k.mv_size != 8) {
			rc = STATE_CORRUPT;
			goto out;
		}
		uint32_t user_id = (uint32_t)state__be_load((const uint8_t *)k.mv_data + 4, 4);
		if (state__reserve((void **)&cc->bytes, &cc->cap, cc->used + k.mv_size + v.mv_size, 1, 4096) ||
		    state__reserve((void **)&cc->rows, &cc->rows_cap, cc->n + 1, sizeof *cc->rows, 4096)) {
			rc = STATE_NOMEM;
			goto out;
		}
		struct copied_row *row = &cc->rows[cc->n];
		int drc = state__demographics_in_txn(db, txn, user_id, &row->demographics);
		if (drc != STATE_OK && drc != STATE_NOTFOUND) {
			rc = drc;
			goto out;
		}
		row->has_demographics = drc == STATE_OK;
		row->at = cc->used;
		row->value_len = (uint32_t)v.mv_size;
		memcpy(cc->bytes + cc->used, k.mv_data, k.mv_size);
		memcpy(cc->bytes + cc->used + k.mv_size, v.mv_data, v.mv_size);
		cc->used += k.mv_size + v.mv_size;
		cc->n++;
	}
	rc = mrc == MDB_NOTFOUND ? STATE_OK : state__map_mdb(mrc);
out:
	mdb_cursor_close(cur);
	return rc;
}

/* One pass over the copy, in key order, as walk_customers hands the rows out. */
static int walk_copy(const struct customer_copy *cc, state_customer_cb cb, void *ctx)
{
	for (size_t i = 0; i < cc->n; i++) {
		const struct copied_row *row = &cc->rows[i];
		MDB_val k = { 8, cc->bytes + row->at }, v = { row->value_len, cc->bytes + row->at + 8 };
		struct state_customer c;
		int rc = state__customer_decode(&k, &v, &c);
		if (rc != STATE_OK)
			return rc;
		if ((rc = cb(&c, row->has_demographics ? &row->demographics : NULL, ctx)) != 0)
			return rc;
	}
	return STATE_OK;
}

int state_snapshot_walk_named(struct state_db *db, state_name_cb ncb, state_offset_cb ocb, state_customer_cb first,
			      state_customer_cb ccb, void *ctx)
{
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
	struct customer_copy cc = { 0 };
	int rc = state__map_mdb(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn));
	if (rc != STATE_OK)
		return rc;
	if (ncb && (rc = walk_names(db, txn, ncb, ctx)) != STATE_OK)
		goto out;
	if ((rc = state__map_mdb(mdb_cursor_open(txn, db->offsets, &cur))) != STATE_OK)
		goto out;
	MDB_val k, v;
	int mrc;
	while ((mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == MDB_SUCCESS) {
		const uint8_t *kb = k.mv_data;
		int64_t next;
		if ((rc = state__offset_decode(&k, &v, &next)) != STATE_OK)
			goto out;
		const uint8_t *pb = kb + k.mv_size - 4;
		int32_t partition = (int32_t)(uint32_t)state__be_load(pb, 4);
		if ((rc = ocb((const char *)kb, partition, next, ctx)) != 0)
			goto out;
	}
	if (mrc != MDB_NOTFOUND) {
		rc = state__map_mdb(mrc);
		goto out;
	}
	if ((rc = copy_customers(db, txn, &cc)) != STATE_OK)
		goto out;
	/* Names, offsets and the customers are of one committed point; the rest needs no transaction. */
	mdb_cursor_close(cur);
	cur = NULL;
	mdb_txn_abort(txn);
	txn = NULL;
	if (first && (rc = walk_copy(&cc, first, ctx)) != STATE_OK)
		goto out;
	rc = walk_copy(&cc, ccb, ctx);
out:
	mdb_cursor_close(cur);
	if (txn)
		mdb_txn_abort(txn);
	copy_free(&cc);
	return rc;
}

int state_snapshot_walk_twice(struct state_db *db, state_offset_cb ocb, state_customer_cb first, state_customer_cb ccb,
			      void *ctx)
{
	return state_snapshot_walk_named(db, NULL, ocb, first, ccb, ctx);
}

int state_snapshot_walk(struct state_db *db, state_offset_cb ocb, state_customer_cb ccb, void *ctx)
{
	return state_snapshot_walk_named(db, NULL, ocb, NULL, ccb, ctx);
}
