/*
 * Consistent walks of the state: every customer (of one partition or all) with its demographics
 * in one read transaction, and the snapshot walk (names, offsets and a copy of the customers taken
 * in one read transaction, then the copy walked once or twice) that sees one committed point.
 */
#define _GNU_SOURCE /* O_TMPFILE (Linux): the snapshot's copy in a file with no name */
#include "state/state_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
/* The customers of one read transaction copied out (the raw rows and each one's demographics), so
 * that the snapshot's passes, its k-means and its file writes run after the transaction has ended.
 * A read transaction held that long keeps LMDB from reusing any page the writer frees meanwhile:
 * the file grew to twice the state's size beside a consumer committing every batch (BENCHMARKS.md,
 * consumer memory with snapshots). The copy goes to a temporary file with no name (O_TMPFILE in the
 * state's directory, else tmpfile()), read back once per pass: the state's size (~55 MB at full
 * scale) in the page cache, which the kernel may write back or drop, instead of in the process
 * beside a consumer's own memory (#15: consumer peak RSS with snapshots). The file is this call's
 * scratch, read by this process only; a row in it is a header (the value's length, whether
 * demographics follow), the demographics as their struct's bytes if any, the 8-byte key, the value. */
struct customer_copy {
	FILE *f;
	char *buf; /* f's buffer */
	uint64_t n;
};

enum { COPY_BUFFER = 256 * 1024, COPY_HEADER = 5 };

static void copy_free(struct customer_copy *cc)
{
	if (cc->f)
		fclose(cc->f); /* the file has no name: closing it frees its pages */
	free(cc->buf);
}

/* An unnamed read-write file in the state's directory (O_TMPFILE), or tmpfile()'s where that is not
 * possible (a read-only state directory, a file system without O_TMPFILE). @return 0 or an errno. */
static int copy_open(struct state_db *db, struct customer_copy *cc)
{
	const char *dir = NULL;
	int fd = -1;
#ifdef O_TMPFILE
	if (mdb_env_get_path(db->env, &dir) == MDB_SUCCESS && dir)
		fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
#endif
	if (fd >= 0 && !(cc->f = fdopen(fd, "w+b")))
		close(fd);
	if (!cc->f && !(cc->f = tmpfile()))
		return errno ? errno : EIO;
	if ((cc->buf = malloc(COPY_BUFFER)) != NULL)
		setvbuf(cc->f, cc->buf, _IOFBF, COPY_BUFFER);
	return 0;
}

/* Every customer row of txn and its demographics into cc's file, flushed. @return STATE_OK,
 * STATE_CORRUPT (a key or value of impossible size), a module error or an errno (writing). */
static int copy_customers(struct state_db *db, MDB_txn *txn, struct customer_copy *cc)
{
	MDB_cursor *cur = NULL;
	int rc = copy_open(db, cc);
	if (rc != 0)
		return rc;
	if ((rc = state__map_mdb(mdb_cursor_open(txn, db->customers, &cur))) != STATE_OK)
		return rc;
	MDB_val k, v;
	int mrc;
	while ((mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == MDB_SUCCESS) {
		/* The record is decoded (and checked) where the copy is walked; here the key gives the user. */
		if (k.mv_size != 8 || v.mv_size > STATE_RECORD_MAX) {
			rc = STATE_CORRUPT;
			goto out;
		}
		uint32_t user_id = (uint32_t)state__be_load((const uint8_t *)k.mv_data + 4, 4);
		struct event_customer d;
		int drc = state__demographics_in_txn(db, txn, user_id, &d);
		if (drc != STATE_OK && drc != STATE_NOTFOUND) {
			rc = drc;
			goto out;
		}
		uint8_t head[COPY_HEADER];
		state__be_store(head, v.mv_size, 4);
		head[4] = drc == STATE_OK;
		if (fwrite(head, sizeof head, 1, cc->f) != 1 || (head[4] && fwrite(&d, sizeof d, 1, cc->f) != 1) ||
		    fwrite(k.mv_data, k.mv_size, 1, cc->f) != 1 ||
		    (v.mv_size && fwrite(v.mv_data, v.mv_size, 1, cc->f) != 1)) {
			rc = errno ? errno : EIO;
			goto out;
		}
		cc->n++;
	}
	rc = mrc == MDB_NOTFOUND ? STATE_OK : state__map_mdb(mrc);
	if (rc == STATE_OK && fflush(cc->f) != 0)
		rc = errno ? errno : EIO;
out:
	mdb_cursor_close(cur);
	return rc;
}

/* One pass over the copy, in key order, as walk_customers hands the rows out. */
static int walk_copy(const struct customer_copy *cc, state_customer_cb cb, void *ctx)
{
	if (fseek(cc->f, 0, SEEK_SET) != 0)
		return errno ? errno : EIO;
	for (uint64_t i = 0; i < cc->n; i++) {
		uint8_t head[COPY_HEADER], row[8 + STATE_RECORD_MAX];
		struct event_customer d;
		if (fread(head, sizeof head, 1, cc->f) != 1)
			return ferror(cc->f) && errno ? errno : EIO;
		size_t value_len = (size_t)state__be_load(head, 4);
		if (value_len > STATE_RECORD_MAX)
			return STATE_CORRUPT;
		if ((head[4] && fread(&d, sizeof d, 1, cc->f) != 1) || fread(row, 8 + value_len, 1, cc->f) != 1)
			return ferror(cc->f) && errno ? errno : EIO;
		MDB_val k = { 8, row }, v = { value_len, row + 8 };
		struct state_customer c;
		int rc = state__customer_decode(&k, &v, &c);
		if (rc != STATE_OK)
			return rc;
		if ((rc = cb(&c, head[4] ? &d : NULL, ctx)) != 0)
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
