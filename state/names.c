/* The names table of the state: department and aisle names from the reference data, stored by
 * (kind, id) and read back by id (see state.h). */
#include <string.h>

#include "state/state_int.h"

/* Key: the kind byte, then the big-endian id. Value: version byte 1, then the name's bytes. */
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
	uint8_t key[5], val[EVENT_NAME_MAX];
	name_key(n->kind, n->id, key);
	val[0] = NAME_VERSION;
	memcpy(val + 1, n->name, len);
	MDB_val k = { sizeof key, key }, v = { len + 1, val };
	return state__map_mdb(mdb_put(txn, db->names, &k, &v, 0));
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
	if (rc == STATE_OK) {
		const uint8_t *b = v.mv_data;
		if (v.mv_size < 2 || v.mv_size > EVENT_NAME_MAX)
			rc = v.mv_size >= 1 && b[0] != NAME_VERSION ? STATE_VERSION : STATE_CORRUPT;
		else if (b[0] != NAME_VERSION)
			rc = STATE_VERSION;
		else if (v.mv_size > len) /* the name and its NUL do not fit */
			rc = STATE_INVAL;
		else {
			memcpy(name_out, b + 1, v.mv_size - 1);
			name_out[v.mv_size - 1] = '\0';
		}
	}
	mdb_txn_abort(txn);
	return rc;
}
