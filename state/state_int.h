/*
 * Internals shared by the files of state/ (never included outside it): the db handle, the
 * big-endian key layout, and the table accesses the batch needs from the store.
 * The small hot helpers are static inline so the batch's apply path inlines them as before.
 */
#ifndef SEGSTREAM_STATE_INT_H
#define SEGSTREAM_STATE_INT_H

#include <errno.h>
#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "state/state.h"

struct state_db {
	MDB_env *env;
	MDB_dbi customers, products, offsets, demographics, names;
	int has_names; /* 0: a read-only open of a state made before the names table */
	int include_train;
	int read_only;
	struct state_product *products_by_id; /* indexed by product_id; product_id 0 = absent; moves on growth */
	size_t products_cap;
	size_t n_products;
	struct state_batch *open_batch;
	struct state_changes *changes; /* NULL unless state_changes_track() is on (partition.c) */
	int commit_details;            /* state_commit_details_track(): commits fill the stats' details */
};

/* partition.c, with tracking on (db->changes): a committed customer's key, and a partition whose
 * offset a batch set, go into the change set (STATE_NOMEM: the set is marked overflowed, and
 * the next walk says so); the change set is freed at close. */
int state__changes_note(struct state_db *db, const uint8_t key[8]);
int state__changes_note_partition(struct state_db *db, int32_t partition);
void state__changes_free(struct state_db *db);

/* Room for need elements of size bytes in *p: *cap doubled (from first) until it holds them, the
 * elements kept. 0, or -1 without memory (*p and *cap unchanged). */
static inline int state__reserve(void **p, size_t *cap, size_t need, size_t size, size_t first)
{
	if (need <= *cap)
		return 0;
	size_t want = *cap ? *cap : first;
	while (want < need)
		want *= 2;
	void *more = realloc(*p, want * size);
	if (!more)
		return -1;
	*p = more;
	*cap = want;
	return 0;
}

/* Maps an LMDB return code at the module boundary; raw MDB_* codes never escape. */
static inline int state__map_mdb(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return STATE_OK;
	case MDB_NOTFOUND:
		return STATE_NOTFOUND;
	case MDB_MAP_FULL:
		return STATE_FULL;
	case ENOMEM:
		return STATE_NOMEM;
	default:
		return rc > 0 ? rc : STATE_IO;
	}
}

/*
 * LMDB reports a short write, which is how a full disk often shows, as EIO: when the state's
 * file system has (almost) no space left, that EIO becomes ENOSPC ("No space left on device").
 * Any other code is returned as it is.
 */
int state__disk_error(struct state_db *db, int rc);

/*
 * Every LMDB key is big-endian (most significant byte first), so that LMDB's byte-wise key order
 * is the numeric order: customers sort by partition, then user_id. These two are the only place
 * that byte order is written.
 */

/* Stores the low n bytes (n <= 8) of v at p, most significant first. */
static inline void state__be_store(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

/* Loads n bytes (n <= 8) at p, most significant first. */
static inline uint64_t state__be_load(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* A customer's key: big-endian partition, then big-endian user_id. */
static inline void state__customer_key(uint32_t partition, uint32_t user_id, uint8_t key[8])
{
	state__be_store(key, partition, 4);
	state__be_store(key + 4, user_id, 4);
}

/* The product of the in-memory table, or NULL (state_product_find(), inlined in the apply path). */
static inline const struct state_product *state__product_find(const struct state_db *db, uint32_t product_id)
{
	if (product_id == 0 || product_id >= db->products_cap || db->products_by_id[product_id].product_id == 0)
		return NULL;
	return &db->products_by_id[product_id];
}

/* Reads and decodes one customer inside txn: STATE_OK, STATE_NOTFOUND, or a decode or LMDB error. */
int state__customer_get(struct state_db *db, MDB_txn *txn, uint32_t partition, uint32_t user_id,
			struct state_customer *c_out);

/* Loads the products table of txn into the in-memory table (which must hold no other products). */
int state__products_load(struct state_db *db, MDB_txn *txn);

/* Writes a product row in txn (STATE_INVAL for product_id 0); the in-memory table is not changed. */
int state__product_put(struct state_db *db, MDB_txn *txn, const struct state_product *p);

/* Puts p into the in-memory table, growing (reallocating) it to cover the id: STATE_OK, STATE_INVAL, STATE_NOMEM. */
int state__product_remember(struct state_db *db, const struct state_product *p);

/* Writes a demographics row in txn (STATE_INVAL for user_id 0). */
int state__demographics_put(struct state_db *db, MDB_txn *txn, const struct event_customer *d);

/* Writes a name row in txn (STATE_INVAL for id 0, a bad kind or name, or no names table). */
int state__name_put(struct state_db *db, MDB_txn *txn, const struct event_name *n);

/* Writes the next offset of (topic, partition) in txn (STATE_INVAL for a topic name too long). */
int state__offset_put(struct state_db *db, MDB_txn *txn, const char *topic, int32_t partition, int64_t next_offset);

/* batch.c: the batch's transaction made a write transaction, and its db (for partition.c's writes
 * in a batch); NULL if the write transaction could not begin (partition.c's writes then return STATE_IO). */
MDB_txn *state__batch_txn(struct state_batch *b, struct state_db **db_out);
/* The longest topic name an offset's key holds (store.c: a 300-byte key, the name, a NUL and the
 * partition); Kafka's own limit is 249. */
#define STATE__TOPIC_MAX 295

/* The stored next offset of (topic, partition) read in txn (STATE_NOTFOUND if none, STATE_INVAL for
 * a topic name too long), and its deletion (none stored is no error). */
int state__offset_in_txn(struct state_db *db, MDB_txn *txn, const char *topic, int32_t partition, int64_t *next_out);
int state__offset_del(struct state_db *db, MDB_txn *txn, const char *topic, int32_t partition);

/* Reference rows end with the CRC-32 of their key and the value's other bytes (store.c):
 * put_row_crc appends it at v + v_len; row_crc_ok is 1 if the last 4 bytes of v match. */
void state__put_row_crc(const MDB_val *k, uint8_t *v, size_t v_len);
int state__row_crc_ok(const MDB_val *k, const MDB_val *v);

/* Row decoders shared by the reads and state verify: each checks the key's size, the version, the
 * length and (in the current versions) the CRC-32, and that the value names its key. STATE_OK,
 * STATE_CORRUPT or STATE_VERSION. */
int state__customer_decode(const MDB_val *k, const MDB_val *v, struct state_customer *c_out);
int state__product_decode(const MDB_val *k, const MDB_val *v, struct state_product *p_out);
int state__demographics_decode(const MDB_val *k, const MDB_val *v, struct event_customer *d_out);
int state__offset_decode(const MDB_val *k, const MDB_val *v, int64_t *next_out);
/* The demographics row of user_id read in txn (store.c): STATE_NOTFOUND if there is none. */
int state__demographics_in_txn(struct state_db *db, MDB_txn *txn, uint32_t user_id, struct event_customer *d);
/* A name row into name_out (len bytes, EVENT_NAME_MAX suffices; STATE_INVAL if it does not fit). */
int state__name_decode(const MDB_val *k, const MDB_val *v, char *name_out, size_t len);

/* verify.c: checks the file's size against its last page (level 0), then every page (level 1),
 * then every row too (level 2: state_verify()); state_open() calls it with level cfg->verify
 * before any table is read through the map. */
int state__verify(struct state_db *db, int level, struct state_verify_report *rep);

#endif
