/*
 * Consistent walks of the state: every customer (of one partition or all) with its demographics
 * in one read transaction, and the snapshot walk (names, offsets, then the customers once or
 * twice) that sees one committed point.
 */
#include "state/state_int.h"

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
int state_snapshot_walk_named(struct state_db *db, state_name_cb ncb, state_offset_cb ocb, state_customer_cb first,
			      state_customer_cb ccb, void *ctx)
{
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
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
	if (first && (rc = walk_customers(db, txn, -1, first, ctx)) != STATE_OK)
		goto out;
	rc = walk_customers(db, txn, -1, ccb, ctx);
out:
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
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
