/* The names table of the state: department and aisle names from the reference data, stored by
 * (kind, id) and read back by id (see state.h). */
#include <string.h>

#include "state/state_int.h"

/* Key: the kind byte, then the big-endian id. Value: version byte 1, the name's bytes, the row's
 * CRC-32 (state__put_row_crc). */
#define NAME_VERSION 1

static void name_key(uint8_t kind, uint32_t id, uint8_t key[5])
{
	key[0] = kind;
	state__be_store(key + 1, id, 4);
}

int state__name_put(struct state_db *db, MDB_txn *txn, const struct event_name *n)
{
	size_t len = strnlen(n->name, EVENT_NAME_MAX);
	if (n->id == 0 || n->kind > EVENT_NAME_AISLE || len == 0 || len >= EVENT_NAME_MAX || !db->has_names)
		return STATE_INVAL;
	uint8_t key[5], val[EVENT_NAME_MAX + 4];
	name_key(n->kind, n->id, key);
	val[0] = NAME_VERSION;
	memcpy(val + 1, n->name, len);
	MDB_val k = { sizeof key, key }, v = { len + 5, val };
	state__put_row_crc(&k, val, len + 1);
	return state__map_mdb(mdb_put(txn, db->names, &k, &v, 0));
}

int state__name_decode(const MDB_val *k, const MDB_val *v, char *name_out, size_t len)
{
	const uint8_t *b = v->mv_data;
	if (k->mv_size != 5 || v->mv_size < 1)
		return STATE_CORRUPT;
	if (b[0] != NAME_VERSION)
		return STATE_VERSION;
	if (v->mv_size < 6 || v->mv_size > EVENT_NAME_MAX + 4 || !state__row_crc_ok(k, v))
		return STATE_CORRUPT;
	size_t n = v->mv_size - 5; /* the name's bytes */
	if (n + 1 > len)
		return STATE_INVAL;
	memcpy(name_out, b + 1, n);
	name_out[n] = '\0';
	return STATE_OK;
}

int state_name_get(struct state_db *db, enum event_name_kind kind, uint32_t id, char *name_out, size_t len)
{
	if (!db->has_names) /* a read-only open of a state older than the table */
		return STATE_NOTFOUND;
	if (len == 0)
		return STATE_INVAL;
	MDB_txn *txn;
	int rc = state__map_mdb(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn));
	if (rc != STATE_OK)
		return rc;
	uint8_t key[5];
	name_key((uint8_t)kind, id, key);
	MDB_val k = { sizeof key, key }, v;
	rc = state__map_mdb(mdb_get(txn, db->names, &k, &v));
	if (rc == STATE_OK)
		rc = state__name_decode(&k, &v, name_out, len);
	mdb_txn_abort(txn);
	return rc;
}
