/*
 * Checking a state file without trusting it: data.mdb's size against its last page, then a walk
 * of every B-tree page read with pread() (never through LMDB's map, where a page past the end of
 * a truncated file is SIGBUS and a corrupt pointer a segfault), each row decoded and checked.
 * The page layout read here is LMDB 0.9's on-disk format (lmdb's mdb.c: MDB_page, MDB_node,
 * MDB_meta, MDB_db), 64-bit little-endian, the only one this project builds for.
 */
#include "state/state_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* LMDB 0.9's on-disk constants (mdb.c). */
#define PAGEHDRSZ   16 /* mp_pgno (8), mp_pad (2), mp_flags (2), mp_lower and mp_upper (2 + 2) or mp_pages (4) */
#define NODESIZE    8  /* mn_lo, mn_hi, mn_flags, mn_ksize: 2 bytes each */
#define P_BRANCH    0x01
#define P_LEAF      0x02
#define P_OVERFLOW  0x04
#define P_META      0x08
#define P_IGNORED   (0x10 | 0x4000 | 0x8000) /* P_DIRTY, P_LOOSE, P_KEEP: in-memory bits */
#define F_BIGDATA   0x01
#define F_SUBDATA   0x02
#define MDB_MAGIC   0xBEEFC0DEu
#define MDB_DB_SIZE 48               /* MDB_db: md_pad, md_flags, md_depth, 4 counters, md_root */
#define META_DBS    (PAGEHDRSZ + 24) /* mm_magic, mm_version, mm_address, mm_mapsize: then mm_dbs[2] */
#define P_INVALID   UINT64_MAX
#define MAX_DEPTH   32

static uint64_t le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* One MDB_db record: a table's root and counters. */
struct tree {
	uint16_t flags, depth;
	uint64_t branch, leaf, overflow, entries, root;
};

static void parse_tree(const uint8_t *p, struct tree *t)
{
	t->flags = (uint16_t)le(p + 4, 2);
	t->depth = (uint16_t)le(p + 6, 2);
	t->branch = le(p + 8, 8);
	t->leaf = le(p + 16, 8);
	t->overflow = le(p + 24, 8);
	t->entries = le(p + 32, 8);
	t->root = le(p + 40, 8);
}

enum table { T_FREE, T_MAIN, T_CUSTOMERS, T_PRODUCTS, T_OFFSETS, T_DEMOGRAPHICS, T_NAMES, T_LAST = T_NAMES };
static const char *const table_names[] = { "free list", "main",         "customers", "products",
					   "offsets",   "demographics", "names" };

struct walk {
	int fd;
	uint64_t psize, last_pg;
	uint8_t *seen; /* a bit per page: each is reached once */
	struct state_verify_report *rep;
	struct tree sub[T_LAST + 1]; /* the named tables, from the main table's rows */
	int has_sub[T_LAST + 1];
	uint64_t branch, leaf, overflow, entries; /* of the table being walked */
	int rows;                                 /* decode and check every row too (else pages only) */
};

/* Records the first fault; returns STATE_CORRUPT. */
static int bad(struct walk *w, const char *fmt, ...)
{
	if (!w->rep->first_error[0]) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(w->rep->first_error, sizeof w->rep->first_error, fmt, ap);
		va_end(ap);
	}
	return STATE_CORRUPT;
}

/* Reads n pages from pgno into buf; STATE_CORRUPT on a page out of range or a short file. */
static int read_pages(struct walk *w, uint64_t pgno, uint64_t n, uint8_t *buf, size_t len, enum table t)
{
	if (pgno < 2 || pgno > w->last_pg || n > w->last_pg - pgno + 1)
		return bad(w, "%s: page %" PRIu64 " is out of range (last page %" PRIu64 ")", table_names[t], pgno,
			   w->last_pg);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t pg = pgno + i;
		if (w->seen[pg / 8] & (1u << (pg % 8)))
			return bad(w, "%s: page %" PRIu64 " is reached twice", table_names[t], pg);
		w->seen[pg / 8] |= (uint8_t)(1u << (pg % 8));
	}
	ssize_t got = pread(w->fd, buf, len, (off_t)(pgno * w->psize));
	if (got != (ssize_t)len)
		return bad(w, "%s: page %" PRIu64 " is past the end of the file (truncated)", table_names[t], pgno);
	if (le(buf, 8) != pgno)
		return bad(w, "%s: page %" PRIu64 " says it is page %" PRIu64, table_names[t], pgno, le(buf, 8));
	w->rep->pages += n;
	return STATE_OK;
}

static int key_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl, enum table t)
{
	if (t == T_FREE) /* MDB_INTEGERKEY: native (little-endian) size_t */
		return al == 8 && bl == 8 ? (le(a, 8) > le(b, 8)) - (le(a, 8) < le(b, 8)) : (int)al - (int)bl;
	int c = memcmp(a, b, al < bl ? al : bl);
	return c ? c : (al > bl) - (al < bl);
}

/* Checks one row of table t (the value read in full). */
static int check_row(struct walk *w, enum table t, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
		     unsigned nflags)
{
	MDB_val k = { klen, (void *)key }, v = { vlen, (void *)val };
	int rc = STATE_OK;
	struct state_customer c;
	struct state_product p;
	struct event_customer d;
	int64_t next;
	char name[EVENT_NAME_MAX];
	if (t == T_MAIN) {
		static const char *const names[] = { "customers", "products", "offsets", "demographics", "names" };
		for (int i = 0; i < 5; i++)
			if (klen == strlen(names[i]) && memcmp(key, names[i], klen) == 0) {
				if (!(nflags & F_SUBDATA) || vlen != MDB_DB_SIZE)
					return bad(w, "main: the entry of table %s is not a table", names[i]);
				parse_tree(val, &w->sub[T_CUSTOMERS + i]);
				w->has_sub[T_CUSTOMERS + i] = 1;
				return STATE_OK;
			}
		return bad(w, "main: unknown entry '%.*s'", (int)(klen < 64 ? klen : 64), (const char *)key);
	}
	if (nflags & F_SUBDATA)
		return bad(w, "%s: a row marked as a table", table_names[t]);
	if (!w->rows && t != T_FREE)
		return STATE_OK; /* every read decodes its rows with these same checks */
	switch (t) {
	case T_FREE:
		if (klen != 8 || vlen < 8 || vlen % 8 || le(val, 8) != vlen / 8 - 1)
			return bad(w, "free list: a malformed entry (%zu bytes)", vlen);
		for (size_t i = 8; i < vlen; i += 8) {
			uint64_t pg = le(val + i, 8);
			if (pg < 2 || pg > w->last_pg)
				return bad(w, "free list: free page %" PRIu64 " is out of range", pg);
		}
		w->rep->free_pages += vlen / 8 - 1;
		return STATE_OK;
	case T_CUSTOMERS:
		rc = state__customer_decode(&k, &v, &c);
		w->rep->customers++;
		break;
	case T_PRODUCTS:
		rc = state__product_decode(&k, &v, &p);
		w->rep->products++;
		break;
	case T_DEMOGRAPHICS:
		rc = state__demographics_decode(&k, &v, &d);
		w->rep->demographics++;
		break;
	case T_OFFSETS:
		rc = state__offset_decode(&k, &v, &next);
		w->rep->offsets++;
		break;
	case T_NAMES:
		rc = state__name_decode(&k, &v, name, sizeof name);
		w->rep->names++;
		break;
	default:
		break;
	}
	if (rc == STATE_OK)
		return STATE_OK;
	if (t == T_CUSTOMERS && klen == 8)
		return bad(w, "customers: the record of partition %" PRIu64 ", user %" PRIu64 ": %s",
			   state__be_load(key, 4), state__be_load(key + 4, 4), state_strerror(rc));
	if ((t == T_PRODUCTS || t == T_DEMOGRAPHICS) && klen == 4)
		return bad(w, "%s: the row of id %" PRIu64 ": %s", table_names[t], state__be_load(key, 4),
			   state_strerror(rc));
	return bad(w, "%s: a row (%zu-byte key): %s", table_names[t], klen, state_strerror(rc));
}

/* A leaf node's value: in the page, or on its overflow pages (read into *big, which grows). */
static int leaf_value(struct walk *w, enum table t, const uint8_t *data, uint64_t dsize, uint8_t **big,
		      const uint8_t **val_out)
{
	uint64_t opg = le(data, 8);
	if (opg < 2 || opg > w->last_pg)
		return bad(w, "%s: overflow page %" PRIu64 " is out of range", table_names[t], opg);
	uint8_t head[PAGEHDRSZ];
	if (pread(w->fd, head, sizeof head, (off_t)(opg * w->psize)) != (ssize_t)sizeof head)
		return bad(w, "%s: overflow page %" PRIu64 " is past the end of the file (truncated)", table_names[t],
			   opg);
	uint64_t n = le(head + 12, 4);
	if ((le(head + 10, 2) & ~P_IGNORED) != P_OVERFLOW || n == 0 || dsize > n * w->psize - PAGEHDRSZ ||
	    n > w->last_pg)
		return bad(w, "%s: overflow page %" PRIu64 " is malformed", table_names[t], opg);
	uint8_t *buf = realloc(*big, (size_t)(n * w->psize));
	if (!buf)
		return STATE_NOMEM;
	*big = buf;
	int rc = read_pages(w, opg, n, buf, (size_t)(n * w->psize), t);
	if (rc != STATE_OK)
		return rc;
	w->overflow += n;
	*val_out = buf + PAGEHDRSZ;
	return STATE_OK;
}

/*
 * Walks the subtree at pgno with depth levels below it (1: a leaf); every key k must satisfy
 * lo <= k < hi (NULL: unbounded). Pages are read into a buffer of this level, so the bounds
 * passed down stay valid during the children's walk.
 */
static int walk_page(struct walk *w, enum table t, uint64_t pgno, int depth, const uint8_t *lo, size_t lo_len,
		     const uint8_t *hi, size_t hi_len)
{
	if (depth < 1 || depth > MAX_DEPTH)
		return bad(w, "%s: page %" PRIu64 " lies deeper than the table's depth", table_names[t], pgno);
	uint8_t *pg = malloc((size_t)w->psize), *big = NULL;
	if (!pg)
		return STATE_NOMEM;
	int rc = read_pages(w, pgno, 1, pg, (size_t)w->psize, t);
	if (rc != STATE_OK)
		goto out;
	unsigned flags = (unsigned)le(pg + 10, 2) & ~(unsigned)P_IGNORED;
	uint64_t lower = le(pg + 12, 2), upper = le(pg + 14, 2);
	if ((flags != P_BRANCH && flags != P_LEAF) || (flags == P_LEAF) != (depth == 1)) {
		rc = bad(w, "%s: page %" PRIu64 " has type 0x%x at depth %d", table_names[t], pgno, flags, depth);
		goto out;
	}
	if (lower < PAGEHDRSZ || lower > upper || upper > w->psize || (lower - PAGEHDRSZ) % 2) {
		rc = bad(w, "%s: page %" PRIu64 " has bad bounds (%" PRIu64 ", %" PRIu64 ")", table_names[t], pgno,
			 lower, upper);
		goto out;
	}
	int n = (int)((lower - PAGEHDRSZ) / 2);
	if (n == 0 || (flags == P_BRANCH && n < 2)) {
		rc = bad(w, "%s: page %" PRIu64 " holds %d keys", table_names[t], pgno, n);
		goto out;
	}
	if (flags == P_BRANCH)
		w->branch++;
	else
		w->leaf++;
	const uint8_t *prev = lo; /* the lower bound (inclusive), then the previous key (strictly less) */
	size_t prev_len = lo_len;
	int prev_is_key = 0;
	for (int i = 0; i < n && rc == STATE_OK; i++) {
		uint64_t off = le(pg + PAGEHDRSZ + 2 * i, 2);
		if (off < upper || off % 2 || off + NODESIZE > w->psize) {
			rc = bad(w, "%s: page %" PRIu64 ", node %d: offset %" PRIu64 " is out of the page",
				 table_names[t], pgno, i, off);
			break;
		}
		const uint8_t *node = pg + off;
		uint64_t ksize = le(node + 6, 2), dsize = le(node, 2) | le(node + 2, 2) << 16;
		unsigned nflags = (unsigned)le(node + 4, 2);
		const uint8_t *key = node + NODESIZE;
		if (off + NODESIZE + ksize > w->psize ||
		    (t == T_FREE && ksize != 8 && !(flags == P_BRANCH && i == 0))) {
			rc = bad(w, "%s: page %" PRIu64 ", node %d: a key of %" PRIu64 " bytes", table_names[t], pgno,
				 i, ksize);
			break;
		}
		/* Key order: increasing, inside the parent's bounds (a branch's key 0 is the lower bound). */
		if (!(flags == P_BRANCH && i == 0)) {
			int c = prev ? key_cmp(prev, prev_len, key, (size_t)ksize, t) : -1;
			if (c > 0 || (c == 0 && prev_is_key) ||
			    (hi && key_cmp(key, (size_t)ksize, hi, hi_len, t) >= 0)) {
				rc = bad(w, "%s: page %" PRIu64 ", node %d: keys out of order", table_names[t], pgno,
					 i);
				break;
			}
			prev = key;
			prev_len = (size_t)ksize;
			prev_is_key = 1;
		}
		if (flags == P_BRANCH) {
			uint64_t child = le(node, 2) | le(node + 2, 2) << 16 | le(node + 4, 2) << 32;
			const uint8_t *next_key = hi;
			size_t next_len = hi_len;
			if (i + 1 < n) {
				uint64_t noff = le(pg + PAGEHDRSZ + 2 * (i + 1), 2);
				if (noff < upper || noff + NODESIZE > w->psize ||
				    noff + NODESIZE + le(pg + noff + 6, 2) > w->psize) {
					rc = bad(w, "%s: page %" PRIu64 ", node %d is out of the page", table_names[t],
						 pgno, i + 1);
					break;
				}
				next_key = pg + noff + NODESIZE;
				next_len = (size_t)le(pg + noff + 6, 2);
			}
			rc = walk_page(w, t, child, depth - 1, i == 0 ? lo : key, i == 0 ? lo_len : (size_t)ksize,
				       next_key, next_len);
			continue;
		}
		const uint8_t *val = key + ksize;
		if (nflags & F_BIGDATA) {
			if (off + NODESIZE + ksize + 8 > w->psize) {
				rc = bad(w, "%s: page %" PRIu64 ", node %d: out of the page", table_names[t], pgno, i);
				break;
			}
			if ((rc = leaf_value(w, t, val, dsize, &big, &val)) != STATE_OK)
				break;
		} else if (off + NODESIZE + ksize + dsize > w->psize) {
			rc = bad(w, "%s: page %" PRIu64 ", node %d: a value of %" PRIu64 " bytes overruns the page",
				 table_names[t], pgno, i, dsize);
			break;
		}
		w->entries++;
		rc = check_row(w, t, key, (size_t)ksize, val, (size_t)dsize, nflags);
	}
out:
	free(big);
	free(pg);
	return rc;
}

/* Walks one table from its MDB_db record; its counters must match what the walk found. */
static int walk_tree(struct walk *w, enum table t, const struct tree *tr)
{
	w->branch = w->leaf = w->overflow = w->entries = 0;
	/* Our tables use none of LMDB's key or duplicate options; the free list has integer keys. */
	if ((tr->flags & 0x7e) != (t == T_FREE ? 0x08 : 0))
		return bad(w, "%s: unexpected table flags 0x%x", table_names[t], tr->flags);
	if (tr->root == P_INVALID) {
		if (tr->entries || tr->depth)
			return bad(w, "%s: an empty table that claims %" PRIu64 " rows", table_names[t], tr->entries);
		return STATE_OK;
	}
	int rc = walk_page(w, t, tr->root, tr->depth, NULL, 0, NULL, 0);
	if (rc != STATE_OK)
		return rc;
	if (w->entries != tr->entries || w->branch != tr->branch || w->leaf != tr->leaf || w->overflow != tr->overflow)
		return bad(w,
			   "%s: the table claims %" PRIu64 " rows in %" PRIu64 " pages, the walk found %" PRIu64
			   " in %" PRIu64,
			   table_names[t], tr->entries, tr->branch + tr->leaf + tr->overflow, w->entries,
			   w->branch + w->leaf + w->overflow);
	return STATE_OK;
}

/* The meta page of the read transaction txnid (LMDB keeps two and writes them in turn). */
static int read_meta(struct walk *w, uint64_t txnid, struct tree *free_tree, struct tree *main_tree)
{
	uint8_t head[256];
	if (pread(w->fd, head, sizeof head, 0) != (ssize_t)sizeof head)
		return bad(w, "data.mdb is shorter than its first page (truncated)");
	w->psize = le(head + META_DBS, 4); /* mm_dbs[FREE_DBI].md_pad holds the page size */
	if (w->psize < 512 || w->psize > 65536 || (w->psize & (w->psize - 1)))
		return bad(w, "meta page: a page size of %" PRIu64, w->psize);
	for (int m = 0; m < 2; m++) {
		uint8_t meta[256];
		if (pread(w->fd, meta, sizeof meta, (off_t)(m * w->psize)) != (ssize_t)sizeof meta)
			return bad(w, "data.mdb is shorter than its meta pages (truncated)");
		if (le(meta + PAGEHDRSZ, 4) != MDB_MAGIC || (le(meta + 10, 2) & ~P_IGNORED) != P_META)
			continue;
		const uint8_t *after = meta + META_DBS + 2 * MDB_DB_SIZE;
		if (le(after + 8, 8) != txnid)
			continue;
		parse_tree(meta + META_DBS, free_tree);
		parse_tree(meta + META_DBS + MDB_DB_SIZE, main_tree);
		w->last_pg = le(after, 8);
		return STATE_OK;
	}
	return STATE_BUSY; /* a writer has moved on twice since the transaction began: try again */
}

int state__verify(struct state_db *db, int level, struct state_verify_report *rep)
{
	memset(rep, 0, sizeof *rep);
	struct walk w = { .rep = rep, .rows = level >= 2 };
	MDB_txn *txn = NULL;
	struct stat st;
	int rc = state__map_mdb(mdb_env_get_fd(db->env, &w.fd));
	if (rc != STATE_OK)
		return rc;
	if (fstat(w.fd, &st) != 0)
		return errno;
	rep->file_bytes = (uint64_t)st.st_size;
	struct tree free_tree, main_tree;
	for (int attempt = 0;; attempt++) {
		/* A read transaction pins its pages: a writer beside us never reuses them meanwhile. */
		if ((rc = state__map_mdb(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn))) != STATE_OK)
			return rc;
		rc = read_meta(&w, (uint64_t)mdb_txn_id(txn), &free_tree, &main_tree);
		if (rc != STATE_BUSY || attempt == 10)
			break;
		mdb_txn_abort(txn);
		txn = NULL;
	}
	if (rc == STATE_BUSY)
		rc = bad(&w, "no meta page matches the current transaction");
	if (rc != STATE_OK)
		goto out;
	rep->page_size = w.psize;
	rep->last_page = w.last_pg;
	if (fstat(w.fd, &st) == 0)
		rep->file_bytes = (uint64_t)st.st_size;
	if (rep->file_bytes < (w.last_pg + 1) * w.psize) {
		rc = bad(&w,
			 "data.mdb is %" PRIu64 " bytes but its last page (%" PRIu64 ") ends at byte %" PRIu64
			 ": the file is truncated",
			 rep->file_bytes, w.last_pg, (w.last_pg + 1) * w.psize);
		goto out;
	}
	MDB_envinfo info;
	mdb_env_info(db->env, &info);
	if ((w.last_pg + 1) * w.psize > info.me_mapsize) {
		rc = bad(&w, "data.mdb's last page (%" PRIu64 ") lies beyond the map (%zu bytes)", w.last_pg,
			 info.me_mapsize);
		goto out;
	}
	if (level < 1)
		goto out;
	w.seen = calloc((size_t)(w.last_pg / 8 + 1), 1);
	if (!w.seen) {
		rc = STATE_NOMEM;
		goto out;
	}
	if ((rc = walk_tree(&w, T_FREE, &free_tree)) != STATE_OK ||
	    (rc = walk_tree(&w, T_MAIN, &main_tree)) != STATE_OK)
		goto out;
	for (int t = T_CUSTOMERS; t <= T_LAST && rc == STATE_OK; t++)
		if (w.has_sub[t])
			rc = walk_tree(&w, (enum table)t, &w.sub[t]);
out:
	free(w.seen);
	if (txn)
		mdb_txn_abort(txn);
	return rc;
}

int state_verify(struct state_db *db, struct state_verify_report *rep_out)
{
	return state__verify(db, 2, rep_out);
}
