/**
 * @file state.h
 * @brief Per-customer state in one LMDB environment, with the Kafka offsets that produced it.
 *
 * The module consumes `struct event` values and knows nothing of Kafka or msgpack. It owns:
 *  - customer records (SPEC §3 metrics), versioned and explicitly encoded, keyed by
 *    (partition, user_id) so that a partition's state can move to another instance;
 *  - the reference tables: products (department and price in cents), customers' demographics,
 *    and the names of departments and aisles;
 *  - the next offset to consume of every (topic, partition), written in the same transaction as
 *    the state it produced: a crash loses nothing and counts nothing twice.
 *
 * There is one apply path: state_customer_apply(), a pure function used by every writer.
 *
 * Threading (LMDB's rules restated): one state_db per process, opened once, never used across
 * fork(). At most one batch (this process's only writer) is open at a time and it belongs to the
 * thread that began it. Reads may run in other threads and other processes at any time.
 * Durability: a batch is durable once state_batch_commit() returns STATE_OK (unless the db was
 * opened with durable = 0, for tests and bulk loads). A batch that only applied events and set
 * offsets commits a partition's customers and offsets together, but may commit some partitions
 * before others (see state_batch_commit()).
 */
#ifndef SEGSTREAM_STATE_H
#define SEGSTREAM_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "event/event.h"

/** Errors of this module: negative, in the -100 range; positive values are errno. */
#define STATE_ERR_MAP(XX)                                                                           \
	XX(OK, 0, "success")                                                                        \
	XX(NOTFOUND, -101, "not found")                                                             \
	XX(FULL, -102, "LMDB map is full")                                                          \
	XX(CORRUPT, -103, "stored data is corrupt (a record's length, checksum or key, or a page)") \
	XX(VERSION, -104, "stored record has an unknown version")                                   \
	XX(INVAL, -105, "invalid argument")                                                         \
	XX(NOMEM, -106, "out of memory")                                                            \
	XX(IO, -107, "LMDB error")                                                                  \
	XX(BUSY, -108, "a batch is already open")

enum state_err {
#define STATE_ERR_ENUM(name, code, text) STATE_##name = code,
	STATE_ERR_MAP(STATE_ERR_ENUM)
#undef STATE_ERR_ENUM
};

/** @brief A message for an error code (module codes and errno). Never NULL. */
const char *state_strerror(int err);
/** @brief The symbolic name of a module error code ("STATE_FULL"). Never NULL. */
const char *state_errname(int err);

#define STATE_DEPARTMENTS    21 /**< department ids 1..21 */
#define STATE_DAY_BINS       31 /**< days_since_prior_order 0..30 */
#define STATE_RECORD_VERSION 4

/** One customer's metrics (SPEC §3). A plain value; zero-initialised means "no events yet". */
struct state_customer {
	uint32_t user_id;
	uint32_t partition;         /* Kafka partition the customer's events come from */
	uint32_t orders;            /* distinct orders */
	uint32_t max_order;         /* largest order_number seen */
	uint32_t items;             /* lines */
	uint32_t priced_items;      /* lines with a valid price */
	uint64_t spend_cents;       /* sum of the priced lines' cents */
	uint32_t reorders;          /* sum of reordered */
	uint32_t span_days;         /* sum of days_since_prior_order over orders */
	uint32_t last_order_number; /* position of the last applied event, for the duplicate guard */
	uint32_t last_add_to_cart;
	int64_t last_event_ms;                  /* event time of the last applied event */
	uint32_t days_lines[STATE_DAY_BINS];    /* lines per days_since_prior value (first orders excluded) */
	uint32_t days_orders[STATE_DAY_BINS];   /* orders per days_since_prior value */
	uint32_t dept_items[STATE_DEPARTMENTS]; /* lines per department (index = id - 1) */
	uint64_t dept_cents[STATE_DEPARTMENTS]; /* cents per department */
	uint32_t dow_orders[7];                 /* orders per order_dow */
	uint32_t hour_orders[24];               /* orders per order_hour_of_day */
	uint32_t dow_lines[7];                  /* lines per order_dow (SPEC §4: busiest days, per line) */
	uint32_t hour_lines[24];                /* lines per order_hour_of_day */
	uint64_t dow_cents[7];                  /* priced lines' cents per order_dow (version 4; 0 in older records) */
	uint64_t hour_cents[24];                /* priced lines' cents per order_hour_of_day (version 4) */
};

/** Upper bound of an encoded customer record, in bytes (typical: ~120). */
#define STATE_RECORD_MAX 2048

/**
 * @brief Encodes a record (version STATE_RECORD_VERSION): version byte, then varints, each
 *        histogram as a bitmap of its non-zero bins and their values (variable-size on
 *        purpose: see state/record.c), then the CRC-32 of those bytes. Pure.
 * @param[out] len_out  bytes written
 * @return STATE_OK or STATE_INVAL (buf too small; STATE_RECORD_MAX always suffices).
 */
int state_customer_encode(const struct state_customer *c, uint8_t *buf, size_t buf_len, size_t *len_out);
/**
 * @brief Decodes a record of version 1 to 4 (versions 3 and 4 carry a CRC; only version 4 has the
 *        cents per day and hour, which older versions leave at 0). Pure.
 * @return STATE_OK, STATE_VERSION (unknown version byte) or STATE_CORRUPT (a CRC that does not
 *         match, truncated, trailing bytes, a value out of range, a zero or out-of-range bin, or
 *         version 1's bin indexes not increasing).
 */
int state_customer_decode(const uint8_t *buf, size_t len, struct state_customer *c_out);

/** A product of the reference table. */
struct state_product {
	uint32_t product_id;
	uint32_t aisle_id;
	uint8_t department_id; /* 1..21, or 0 if unknown */
	int32_t price_cents;   /* 1..10000, or -1 when the product has no valid price */
};

/** @brief The state's copy of a product reference record (the one conversion: consumer, backfill). */
void state_product_from_event(const struct event_product *ep, struct state_product *out);

/** What applying one event did. */
enum state_apply_result {
	STATE_APPLIED = 0,
	STATE_DUPLICATE = 1, /* (order_number, add_to_cart_order) not after the last applied one */
	STATE_IGNORED = 2,   /* a train line while train lines are not counted */
};

/**
 * @brief The one apply path: updates @p c with @p ev. Pure, no I/O.
 * @param product  the event's product, or NULL if unknown (the line is then unpriced and has
 *                 no department)
 * @param include_train  count eval_set = train lines too (SPEC §3: prior only by default)
 */
enum state_apply_result state_customer_apply(struct state_customer *c, const struct event *ev,
					     const struct state_product *product, int include_train);

/** Configuration of state_open(); state_config_init() fills the defaults. */
struct state_config {
	const char *path;      /* directory of the LMDB environment (created if missing); required */
	size_t map_size_bytes; /* default 8 GiB; the file grows only as needed */
	int durable;           /* default 1: fsync on commit; 0: MDB_NOSYNC (tests, bulk loads) */
	int read_only;         /* default 0; 1 for live readers (get, dump) beside a running writer */
	int include_train;     /* default 0 */
	unsigned file_mode;    /* default 0640: data.mdb and lock.mdb, set on every writable open whatever the
				* umask; a directory it creates gets STATE_DIR_MODE(file_mode) (0750) */
	int verify;            /* default 1: at open, check every page's structure (what LMDB would trust);
				* 2: every row too, as state_verify(); 0: only the file's size against
				* its last page (always done). Rows are checked as they are read anyway. */
};

/* The mode of a directory holding files of mode m: m plus search (x) wherever m can read. */
#define STATE_DIR_MODE(m) ((m) | (((m)&0444u) >> 2))

void state_config_init(struct state_config *cfg);

struct state_db;
struct state_batch;

/**
 * @brief Opens (creating if needed) the environment and loads the products table into memory.
 *        A data.mdb shorter than its last page (truncated), or one whose pages or rows fail
 *        the check (cfg->verify), is refused before anything is read through the map.
 * @param[out] db_out  the handle; free with state_close()
 * @return STATE_OK, STATE_INVAL, STATE_NOMEM, STATE_IO, STATE_CORRUPT (errbuf names the fault),
 *         STATE_VERSION, or an errno.
 * @note Open one environment once per process (LMDB rule).
 */
int state_open(const struct state_config *cfg, struct state_db **db_out, char *errbuf, size_t errbuf_len);

/** @brief Closes the environment. NULL is a no-op. An open batch is aborted first. */
void state_close(struct state_db *db);

/** What state_verify() found. */
struct state_verify_report {
	uint64_t file_bytes; /* data.mdb's size */
	uint64_t last_page;  /* the last page the current root uses */
	uint64_t page_size;  /* bytes */
	uint64_t pages;      /* pages reached from the roots (branch, leaf, overflow; every table) */
	uint64_t customers;  /* rows of each table, each decoded and checked */
	uint64_t products;
	uint64_t demographics;
	uint64_t offsets;
	uint64_t names;
	uint64_t free_pages;   /* pages the free list holds */
	char first_error[256]; /* "" if sound, else the first bad page or row and what is wrong */
};

/**
 * @brief Checks the whole environment as of now, inside one read transaction: data.mdb's size
 *        against its last page, then every page of every table (read from the file, never
 *        through the map, so a corrupt page is reported rather than crashing the walk: page
 *        number, type, bounds, key order, child pointers, overflow runs, each page reached
 *        once), and every row decoded with its CRC-32 and key checked.
 * @param[out] rep_out  filled in full (first_error names the first fault)
 * @return STATE_OK, STATE_CORRUPT (a fault: see rep_out->first_error) or STATE_IO / errno.
 * @note state_open() runs the size and page checks (cfg->verify), so LMDB never reads a page
 *       that fails them; every read decodes its rows with the row checks. state_verify() is the
 *       explicit check of everything at once (`segstream state verify`).
 */
int state_verify(struct state_db *db, struct state_verify_report *rep_out);

/**
 * @brief Copies one customer out of the map.
 * @param partition  the partition, or -1 to look in every partition
 * @return STATE_OK, STATE_NOTFOUND, STATE_CORRUPT, STATE_VERSION or STATE_IO.
 */
int state_get(struct state_db *db, int32_t partition, uint32_t user_id, struct state_customer *c_out);

/**
 * @brief The product of the in-memory table, or NULL if unknown.
 * @note The pointer is borrowed from @p db's table and valid only until the next
 *       state_batch_put_product() on @p db: a put may grow the table, which moves it (realloc).
 *       A put of the same id also changes the values in place, state_batch_abort() of a batch that
 *       put products reloads the table from the map (the entry may become absent or older), and
 *       state_close() frees it. Copy the struct to keep it longer. A successful commit does not
 *       affect it; a failed one reloads the table (as an abort does).
 */
const struct state_product *state_product_find(const struct state_db *db, uint32_t product_id);

/** @brief Number of products in the in-memory table. */
size_t state_product_count(const struct state_db *db);

/* The in-memory products table is indexed by id, so one stray id would size it (an id near 2^32
 * asks for ~64 GB): ids below max(STATE_PRODUCT_ID_FLOOR, STATE_PRODUCT_IDS_PER_PRODUCT x the
 * products held + 1) are taken, larger ones refused (the dataset/ readers' rule). */
#define STATE_PRODUCT_ID_FLOOR        (1u << 22)
#define STATE_PRODUCT_IDS_PER_PRODUCT 4u

/** @brief The first product id state_batch_put_product() refuses now (grows with the table). */
uint32_t state_product_id_limit(const struct state_db *db);

/** The environment's size and use, and each table's entries (state_env_info()). */
struct state_env_info {
	uint64_t map_size_bytes; /* the map size: the most the data file may grow to */
	uint64_t used_bytes;     /* the pages in use: (last page number + 1) * page size */
	uint64_t customers;      /* customer records (all partitions) */
	uint64_t products;       /* product reference records stored */
	uint64_t demographics;   /* customer reference records (demographics) stored */
};

/**
 * @brief The environment's size and use and the tables' sizes, from one short read transaction.
 * @note Safe from any thread beside a writer (the HTTP threads of consume --http call it).
 * @return STATE_OK, STATE_NOMEM (no reader slot or memory) or STATE_IO.
 */
int state_env_info(struct state_db *db, struct state_env_info *info_out);

/**
 * @brief The id of the last transaction committed to the state, by this process or another: it
 *        changes with every commit, so what is computed from the state can be cached under it.
 * @note Reads LMDB's meta page: no transaction, no reader slot (cheap enough for every request).
 * @param[out] txn_id_out  0 on failure
 * @return STATE_OK or STATE_IO.
 */
int state_last_commit(struct state_db *db, uint64_t *txn_id_out);

/**
 * @brief Copies a customer's demographics out of the map.
 * @return STATE_OK, STATE_NOTFOUND, STATE_CORRUPT, STATE_VERSION or STATE_IO.
 */
int state_demographics_get(struct state_db *db, uint32_t user_id, struct event_customer *d_out);

/**
 * @brief Copies a department's or an aisle's name (NUL-terminated) into @p name_out.
 * @param len  the size of name_out; EVENT_NAME_MAX always suffices
 * @return STATE_OK, STATE_NOTFOUND (no such name, or a read-only state made before names were
 *         kept), STATE_INVAL (len too small), STATE_CORRUPT, STATE_VERSION or STATE_IO.
 */
int state_name_get(struct state_db *db, enum event_name_kind kind, uint32_t id, char *name_out, size_t len);

/**
 * @brief The stored next offset of (topic, partition).
 * @return STATE_OK, STATE_NOTFOUND (never committed: start from the beginning) or STATE_IO.
 */
int state_offset_get(struct state_db *db, const char *topic, int32_t partition, int64_t *next_out);

/**
 * @brief How many customer records the state holds, and the highest partition among them + 1
 *        (both 0 for a state without customers): one read transaction, no walk.
 * @return STATE_OK, STATE_CORRUPT (a key of the wrong size) or a module error.
 */
int state_customers_extent(struct state_db *db, uint64_t *customers_out, uint32_t *partitions_out);

/**
 * Callback of state_foreach_customer(); a non-zero return stops the walk and is returned.
 * @param demographics  the customer's reference record, or NULL if none is known
 */
typedef int (*state_customer_cb)(const struct state_customer *c, const struct event_customer *demographics, void *ctx);

/**
 * @brief Calls @p cb for every customer inside one read transaction (a consistent point in time).
 * @param partition  one partition, or -1 for all
 * @warning Keep the callback fast: a long read transaction makes the LMDB file grow.
 * @return STATE_OK, the callback's non-zero return, or a module error.
 */
int state_foreach_customer(struct state_db *db, int32_t partition, state_customer_cb cb, void *ctx);

/** Callback of state_snapshot_walk() for each stored offset. */
typedef int (*state_offset_cb)(const char *topic, int32_t partition, int64_t next_offset, void *ctx);

/**
 * @brief One consistent point in time: every stored offset, then every customer, all inside one
 *        read transaction (so the offsets are exactly those that produced these customers).
 * @return STATE_OK, a callback's non-zero return, or a module error.
 */
int state_snapshot_walk(struct state_db *db, state_offset_cb ocb, state_customer_cb ccb, void *ctx);

/**
 * @brief state_snapshot_walk() with a first pass: every offset, then @p first for every customer,
 *        then @p ccb for every customer again in the same order, all inside one read transaction
 *        (both passes see the same records). For what needs every customer before any row, such
 *        as the snapshot's clusters.
 * @param first  the first pass, or NULL (then this is state_snapshot_walk())
 * The read transaction lasts only while the customers are copied out (raw rows and demographics,
 * about the state's size, to a temporary file with no name: O_TMPFILE in the state's directory,
 * else tmpfile(); closed, and so gone, when the call returns); both passes read the copy after the
 * transaction has ended, so a slow callback no longer keeps LMDB from reusing the pages a writer
 * frees meanwhile, and the copy takes page cache rather than the caller's memory.
 * @return STATE_OK, a callback's non-zero return, a module error, or an errno (the temporary
 *         file could not be made, written or read back: ENOSPC, EIO, ...).
 */
int state_snapshot_walk_twice(struct state_db *db, state_offset_cb ocb, state_customer_cb first, state_customer_cb ccb,
			      void *ctx);

/** Callback of state_snapshot_walk_named() for each stored name; @p name (NUL-terminated) is
 *  valid during the call only. A non-zero return stops the walk and is returned. */
typedef int (*state_name_cb)(enum event_name_kind kind, uint32_t id, const char *name, void *ctx);

/**
 * @brief state_snapshot_walk_twice() that first hands every stored department and aisle name to
 *        @p ncb (by kind, then id), in the same read transaction: names, offsets and customers
 *        of one committed point (a snapshot labels its customers by the names it reports).
 * @param ncb  NULL: no names (then this is state_snapshot_walk_twice()). A name row that does not
 *             decode is skipped, as state_name_get() finds no name there; a read-only state made
 *             before the names table has none.
 * @return STATE_OK, a callback's non-zero return, or a module error.
 */
int state_snapshot_walk_named(struct state_db *db, state_name_cb ncb, state_offset_cb ocb, state_customer_cb first,
			      state_customer_cb ccb, void *ctx);

/** Counters of one batch, for logs and benchmarks. */
struct state_batch_stats {
	uint64_t applied;      /* events that changed a customer */
	uint64_t duplicates;   /* events skipped by the duplicate guard */
	uint64_t ignored;      /* train lines not counted */
	uint64_t customers;    /* distinct customers written */
	uint64_t products;     /* products written */
	uint64_t demographics; /* customer reference records written */
	uint64_t names;        /* department and aisle names written */
	/* Where a commit's time goes, for the consumer's debug line: state_batch_commit fills these
	 * only while state_commit_details_track() is on (else they stay 0). */
	double put_ms;         /* the touched customers encoded and put, in key order */
	double commit_ms;      /* mdb_txn_commit: LMDB's free list saved, pages written, fsync */
	uint64_t free_entries; /* records in LMDB's free-page list just before the commit */
	uint64_t free_pages;   /* pages that list occupies (its leaf and overflow pages) */
	uint64_t map_pages;    /* the map's used pages after the commit (last page number + 1) */
};

/**
 * @brief Whether state_batch_commit() fills the stats' details (put_ms, commit_ms, free_entries,
 *        free_pages, map_pages): two clock reads, a look at LMDB's free-page list and at the
 *        environment per commit, which only a debug log line needs. Off after state_open().
 * @param on  1: fill them from the next commit on; 0: leave them 0
 */
void state_commit_details_track(struct state_db *db, int on);

/**
 * @brief Begins a batch. It reads through a read-only LMDB transaction until it writes anything
 *        but applied events and offsets (a customer, a reference row, a dropped partition): from
 *        then on it is one write transaction (begun then: this process is the only writer, so
 *        it sees what the read-only one saw).
 * @return STATE_OK, STATE_BUSY (a batch is open), STATE_NOMEM or STATE_IO.
 */
int state_batch_begin(struct state_db *db, struct state_batch **batch_out);

/**
 * @brief Applies one event to its customer (kept in memory until commit: one put per customer).
 * @return STATE_OK, STATE_CORRUPT/STATE_VERSION (stored record unreadable), STATE_NOMEM or STATE_IO.
 */
int state_batch_apply(struct state_batch *b, int32_t partition, const struct event *ev);

/**
 * @brief Starts loading the memory that applying ev will read (its product's entry, its
 *        customer's hash slot) and changes nothing. Called some events ahead of
 *        state_batch_apply(), it hides cache misses: the tables are larger than the caches.
 */
void state_batch_prefetch(const struct state_batch *b, int32_t partition, const struct event *ev);

/**
 * @brief Writes a whole customer record (bulk loads: backfill). Records put this way bypass the
 *        batch's coalescing; do not mix with state_batch_apply() for the same customer.
 * @param append  1 when customers come in increasing (partition, user_id) order: LMDB appends
 *                without searching (MDB_APPEND), and a key out of order fails with STATE_INVAL
 * @return STATE_OK, STATE_INVAL, STATE_FULL or STATE_IO.
 */
int state_batch_put_customer(struct state_batch *b, const struct state_customer *c, int append);

/**
 * @brief state_batch_put_customer() of a record already encoded: @p rec is the
 *        state_customer_encode() output of the customer (partition, user_id), written as given
 *        (not decoded again). For bulk loads that encode on another thread than the batch's
 *        (backfill); @p rec is borrowed for the call only.
 * @return STATE_OK, STATE_INVAL (also a record longer than STATE_RECORD_MAX), STATE_FULL or STATE_IO.
 */
int state_batch_put_encoded(struct state_batch *b, uint32_t partition, uint32_t user_id, const void *rec, size_t len,
			    int append);

/**
 * @brief Inserts or replaces a product (reference table).
 * @return STATE_OK, STATE_NOMEM, STATE_IO, STATE_FULL; STATE_INVAL for product_id 0 or an id at
 *         or beyond state_product_id_limit() (nothing written).
 */
int state_batch_put_product(struct state_batch *b, const struct state_product *p);

/** @brief Inserts or replaces a customer's demographics (reference table; never names).
 *  @return STATE_OK, STATE_FULL (the map is full) or STATE_IO. */
int state_batch_put_demographics(struct state_batch *b, const struct event_customer *d);

/** @brief Inserts or replaces a department's or an aisle's name (reference table).
 *  @return STATE_OK, STATE_INVAL (id 0, a kind or name event_name_encode() refuses), STATE_FULL or STATE_IO. */
int state_batch_put_name(struct state_batch *b, const struct event_name *n);

/** @brief Records the next offset to consume of (topic, partition), committed with the batch.
 *  @return STATE_OK, STATE_INVAL (a topic name too long for a key), STATE_FULL or STATE_IO. */
int state_batch_set_offset(struct state_batch *b, const char *topic, int32_t partition, int64_t next_offset);

/**
 * @brief Writes every touched customer and the offsets, and commits. Consumes the batch.
 *        A batch that wrote nothing but applied events and offsets commits in a few write
 *        transactions, each of whole partitions (a partition's customers with its offsets; an
 *        offset of a partition without customers in the batch goes with the next partition's):
 *        a transaction ends at a partition's end once it holds a quarter of the batch's customers
 *        and at least 4,096 (a batch of fewer customers is one transaction). Each copies only its partitions' pages, which keeps LMDB's copies in memory
 *        and its data file small (#15). Any other batch is one transaction.
 * @param[out] stats_out  optional
 * @return STATE_OK; STATE_FULL or STATE_IO: nothing committed, or (a batch of several
 *         transactions) the partitions of the transactions before the failing one, each with its
 *         offsets, and nothing after.
 */
int state_batch_commit(struct state_batch *b, struct state_batch_stats *stats_out);

/** @brief Discards the batch. NULL is a no-op. Consumes the batch. */
void state_batch_abort(struct state_batch *b);

/* ---- Partitions: hand-off between instances (state/partition.c) ---- */

/**
 * Callback of the raw walks: one customer's stored record, byte for byte as the state holds it
 * (a state_customer_encode() output, CRC included). @p rec is borrowed for the call only (it
 * points into the map). A non-zero return stops the walk and is returned.
 */
typedef int (*state_raw_cb)(uint32_t partition, uint32_t user_id, const void *rec, size_t len, void *ctx);

/**
 * @brief Every customer of one partition as stored (raw bytes), in user_id order, and the stored
 *        next offset of (topic, partition), all inside one read transaction: a consistent copy.
 * @param[out] next_out  the stored next offset, or -1 if none is stored (set before the walk)
 * @return STATE_OK, the callback's non-zero return, STATE_INVAL, STATE_CORRUPT or STATE_IO.
 */
int state_partition_walk_raw(struct state_db *db, const char *topic, int32_t partition, state_raw_cb cb, void *ctx,
			     int64_t *next_out);

/**
 * @brief Deletes every customer of @p partition and the stored offset of (topic, partition), in
 *        the batch (so together with what else it writes, e.g. a partition's replacement).
 * @param[out] dropped_out  customers deleted (optional)
 * @note Do not mix with state_batch_apply() of the same partition in one batch.
 * @return STATE_OK, STATE_INVAL (partition < 0, topic too long), STATE_FULL or STATE_IO.
 */
int state_batch_drop_partition(struct state_batch *b, const char *topic, int32_t partition, uint64_t *dropped_out);

/**
 * @brief Writes one customer's stored record as given (a byte-identical copy of another state's
 *        record: state_partition_walk_raw()), after checking that it decodes (CRC, version) and
 *        names this key. Not noted in the change set (it came from elsewhere).
 * @note Do not mix with state_batch_apply() of the same customer in one batch.
 * @return STATE_OK, STATE_CORRUPT / STATE_VERSION (the bytes are not a record of this key:
 *         nothing written), STATE_FULL or STATE_IO.
 */
int state_batch_put_raw(struct state_batch *b, uint32_t partition, uint32_t user_id, const void *rec, size_t len);

/**
 * @brief Turns the change set on or off. On, each committed batch adds the customers it wrote
 *        through state_batch_apply() and the partitions whose offsets it set; off (the default)
 *        costs one test per commit. Turning it off empties the set.
 * @return STATE_OK, STATE_INVAL (a read-only state) or STATE_NOMEM.
 */
int state_changes_track(struct state_db *db, int on);

/**
 * @brief Walks the change set inside one read transaction: for each partition in it (increasing),
 *        each changed customer's stored record (rec_cb, by user_id, each customer once), then
 *        that partition's stored next offset of @p topic (off_cb). A partition with no stored
 *        offset (dropped since) is skipped whole, and so is a customer no longer stored. The set
 *        is left as it is: state_changes_clear() once what was walked is safe elsewhere.
 * @return STATE_OK (also for an empty set or tracking off), a callback's non-zero return,
 *         STATE_NOMEM (noting a change ran out of memory: the set is incomplete; the caller
 *         must copy its partitions whole) or a module error.
 */
int state_changes_walk(struct state_db *db, const char *topic, state_raw_cb rec_cb, state_offset_cb off_cb, void *ctx);

/** @brief Empties the change set (tracking stays as it is). */
void state_changes_clear(struct state_db *db);

/** @brief Entries noted since the last clear (a customer changed in two batches counts twice until a walk). */
size_t state_changes_pending(const struct state_db *db);

#endif
