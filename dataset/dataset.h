/**
 * @file dataset.h
 * @brief Reading the Instacart files (SPEC §1) with all their quirks into compact tables, and
 *        the event-time timeline of SPEC §2. Knows nothing of Kafka or LMDB.
 *
 * CSV parsing is libcsv's (RFC 4180: quoted fields, doubled quotes, CRLF or LF), with a fast
 * path that splits quote-free text itself until the first quote of a file. Readers are
 * strict about the layout (the columns, in order; the header is optional) and tolerant of
 * quoting (a quoted number is a number). A row that cannot be used is reported with file, row
 * number and reason to the report's log and counted; with DS_ON_ERROR_FAIL the read stops
 * there and returns DS_ROWS.
 *
 * Ownership: every table is caller-allocated and filled by a *_read function; free its
 * contents with the matching *_free (NULL-safe, and safe on a zeroed struct).
 *
 * Files: csv.c (the CSV engine: rows, byte ranges, bad-row reports), reference.c (products,
 * departments, customers), history.c (orders and lines), timeline.c (lines grouped by order,
 * the event-time timeline), load.c (the threaded history loader), walk.c (lines kept compactly
 * in buckets of a chosen order sequence), events.c (rows as the stream carries them);
 * dataset_int.h is private to them.
 */
#ifndef SEGSTREAM_DATASET_H
#define SEGSTREAM_DATASET_H

#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "event/event.h"

#define DS_ERR_MAP(XX)                                                       \
	XX(OK, 0, "success")                                                 \
	XX(IO, -401, "cannot read the file")                                 \
	XX(ROWS, -402, "a row could not be parsed (on-error=fail)")          \
	XX(NOMEM, -403, "out of memory")                                     \
	XX(LAYOUT, -404, "unexpected columns: not the Instacart layout")     \
	XX(INVAL, -405, "invalid argument")                                  \
	XX(SPLIT, -406, "quoted fields: the file must be read as one range") \
	XX(STOPPED, -407, "stopped by a signal")

enum ds_err {
#define DS_ERR_ENUM(name, code, text) DS_##name = code,
	DS_ERR_MAP(DS_ERR_ENUM)
#undef DS_ERR_ENUM
};

const char *ds_strerror(int err);

enum ds_on_error { DS_ON_ERROR_SKIP, DS_ON_ERROR_FAIL };

/** A bad row kept until its row number in the file is known (see ds_report_settle). */
struct ds_bad_row {
	const char *path; /* the path given to the read: it must outlive the report */
	uint64_t rowno;   /* within its range */
	char why[200];
};

/** How a read reports bad rows, and what it counted. Zero-initialise, then set the policy. */
struct ds_report {
	enum ds_on_error on_error;
	FILE *log;                                  /* where bad rows are described; NULL means stderr */
	int quiet;                                  /* 1: count bad rows without describing them */
	int libcsv_only;                            /* 1: no fast path for quote-free text (tests compare both) */
	void (*progress)(uint64_t rows, void *ctx); /* optional: called every 1,048,576 rows */
	void *progress_ctx;
	const volatile sig_atomic_t *stop; /* optional: a read stops with DS_STOPPED soon after it is set */
	uint64_t rows;                     /* data rows read (all files read with this report) */
	uint64_t errors;                   /* rows rejected */
	uint64_t range_rows;               /* rows (the header included) of the last file or range read */
	struct ds_bad_row *deferred;       /* bad rows of a range whose first row number was unknown */
	uint64_t n_deferred, cap_deferred;
};

/**
 * @brief Prints the report's deferred bad rows, numbered rows_before + their row in the range,
 *        and frees them. Call it once the rows before the range are known (even if there are
 *        none deferred: it is the report's only cleanup).
 */
void ds_report_settle(struct ds_report *rep, uint64_t rows_before);

/* ---- Ids ---- */

/**
 * Tables indexed by id (orders by order_id and user_id, products, customers) take ids up to
 * DS_ID_PER_ROW times the rows read, and DS_ID_FLOOR at least: a row with a larger id is a bad
 * row ("order_id 100000000 is over the limit 4194304 ...") that on-error decides about, so one
 * stray id cannot make a table of gigabytes. (Instacart: 3.4M orders, ids up to 3,421,083.)
 */
#define DS_ID_FLOOR   4194304u /* 2^22 */
#define DS_ID_PER_ROW 4u

/* ---- Numbers ---- */

/**
 * @brief Converts a price text to integer cents exactly (no binary float): "14" -> 1400,
 *        "7.4" -> 740, a third decimal rounds half away from zero. SPEC §3: valid if 0 < p <= 100.
 * @return 1 and *cents_out if the price is valid; 0 if empty, malformed or out of range.
 */
int ds_price_cents(const char *text, size_t len, int32_t *cents_out);

/* ---- Products ---- */

struct ds_product {
	uint32_t product_id; /* 0 = no product with this id */
	uint32_t aisle_id;
	uint8_t department_id; /* 1..255 as written; 0 if unknown */
	int32_t price_cents;   /* -1 when there is no valid price */
};

struct ds_products {
	struct ds_product *by_id; /* indexed by product_id, size cap */
	size_t cap;
	size_t count;             /* distinct ids */
	uint64_t duplicate_rows;  /* rows whose id was seen before (the last row wins) */
	uint64_t unpriced;        /* distinct products without a valid price */
	uint64_t no_price_column; /* rows read without the prices column (4 columns): their products are unpriced */
};

/**
 * @brief Reads products.csv, with or without the prices column. Rows without it are counted
 *        (no_price_column) and, as every such product gets the unknown spending label, said
 *        once in a warning on the report's log (stderr by default), quiet or not.
 * @return DS_OK, DS_IO, DS_ROWS, DS_NOMEM, DS_LAYOUT.
 */
int ds_products_read(const char *path, struct ds_products *out, struct ds_report *rep);
void ds_products_free(struct ds_products *p);
const struct ds_product *ds_product_find(const struct ds_products *p, uint32_t product_id);

/* ---- Departments ---- */

#define DS_MAX_DEPARTMENTS 64
struct ds_departments {
	char names[DS_MAX_DEPARTMENTS + 1][48]; /* by department_id; "" if absent */
	int count;
};

/** @brief Reads departments.csv in the long or the transposed (2-row wide) layout. */
int ds_departments_read(const char *path, struct ds_departments *out, struct ds_report *rep);

/* ---- Aisles ---- */

#define DS_MAX_AISLES 1000
struct ds_aisles {
	char names[DS_MAX_AISLES + 1][48]; /* by aisle_id; "" if absent */
	int count;
};

/**
 * @brief Reads aisles.csv (`aisle_id,aisle`). A row with a bad id or an empty or too long name
 *        is a row error (the report's policy decides).
 * @return DS_OK, DS_IO, DS_ROWS, DS_NOMEM, DS_LAYOUT (not the aisle_id,aisle header).
 */
int ds_aisles_read(const char *path, struct ds_aisles *out, struct ds_report *rep);

/* ---- Customers ---- */

struct ds_customer {
	uint32_t user_id;   /* 0 = absent */
	int32_t joined_day; /* date_joined as days since 1970-01-01 */
	uint8_t state;      /* event_state_name() */
	uint8_t age;
	uint8_t n_dependants;
	uint8_t fam_status; /* event_fam_status_name() */
	uint8_t gender;     /* 0 unknown, 1 female, 2 male */
	uint32_t income;
};

struct ds_customers {
	struct ds_customer *by_id;
	size_t cap;
	size_t count;
};

/** @brief Reads customers.csv; names are read past and never kept (personal data). */
int ds_customers_read(const char *path, struct ds_customers *out, struct ds_report *rep);
void ds_customers_free(struct ds_customers *c);
const struct ds_customer *ds_customer_find(const struct ds_customers *c, uint32_t user_id);
/** @brief Parses M/D/YYYY into days since 1970-01-01. @return 0 on success, -1 if malformed. */
int ds_parse_date(const char *text, size_t len, int32_t *days_out);

/* ---- Orders and lines ---- */

enum ds_eval_set { DS_EVAL_PRIOR = 0, DS_EVAL_TRAIN = 1, DS_EVAL_TEST = 2 };

struct ds_order {         /* 24 bytes (no padding): the tables hold one per order id */
	uint32_t user_id; /* 0 = no order with this id */
	uint16_t order_number;
	uint8_t dow;
	uint8_t hour;
	int8_t days;      /* -1 when empty (first orders) */
	uint8_t eval_set; /* enum ds_eval_set */
	uint16_t n_lines;
	uint32_t first_line;   /* index of the order's first line in ds_history.lines */
	int64_t event_time_ms; /* filled by ds_history_build_timeline() */
};

struct ds_line {
	uint32_t order_id;
	uint32_t product_id;
	uint16_t add_to_cart;
	uint8_t reordered;
};

/**
 * Callback of ds_lines_read(): 0 to go on; 1 to reject the row (write the reason to why: it is
 * reported and counted like a parse error); a negative DS_* error to stop the read.
 */
typedef int (*ds_line_cb)(const struct ds_line *line, void *ctx, char *why, size_t why_len);

struct ds_range;

/** @brief Reads orders.csv into @p h's order table (see ds_history): ds_orders_collect() of
 *         the whole file, then ds_orders_merge(). */
struct ds_history;
int ds_orders_read(const char *path, struct ds_history *h, struct ds_report *rep);

/** One parsed row of orders.csv, before it goes into the table. */
struct ds_order_row {
	uint32_t order_id;
	uint32_t user_id;
	uint16_t order_number;
	uint8_t dow, hour;
	int8_t days;
	uint8_t eval_set;
	uint64_t rowno; /* in its range (see ds_range.first_row) */
};

/** Rows of orders.csv (or of a range of it) in file order. */
struct ds_order_rows {
	struct ds_order_row *rows;
	uint64_t n, cap;
	uint32_t *rejected; /* order_ids of bad rows whose order_id could be read, in file order */
	uint64_t n_rejected, cap_rejected;
};

/** @brief Parses a range of orders.csv (NULL: all of it) into @p out. Touches no table, so
 *         several threads may collect distinct ranges with distinct reports. */
int ds_orders_collect(const char *path, const struct ds_range *range, struct ds_order_rows *out, struct ds_report *rep);
/**
 * @brief Puts collected rows into @p h's order table, the sets in the order given (file
 *        order); rows_before[i] is the number of rows before set i's range. An order_id seen
 *        before is a bad row (the first one wins). The rejected ids go into h->rejected_orders.
 *        Frees the sets (on failure too).
 * @return DS_OK, DS_ROWS (on-error=fail) or DS_NOMEM.
 */
int ds_orders_merge(struct ds_history *h, const char *path, struct ds_order_rows *sets, const uint64_t *rows_before,
		    int n_sets, struct ds_report *rep);
void ds_order_rows_free(struct ds_order_rows *rows);

/** @brief Streams order_products__*.csv rows to @p cb. */
int ds_lines_read(const char *path, ds_line_cb cb, void *ctx, struct ds_report *rep);

#define DS_ROW_UNKNOWN UINT64_MAX

/** A byte range of a file that starts and ends at row boundaries. */
struct ds_range {
	uint64_t start, end; /* [start, end) in bytes */
	/* rows (the header included) before start, so row numbers continue; or DS_ROW_UNKNOWN:
	 * then bad rows wait in the report for ds_report_settle() */
	uint64_t first_row;
};

/**
 * @brief Splits a file into up to @p parts ranges of about equal size at line ends (LF), so
 *        that callers can read them on several threads; reads only a few bytes per part. When
 *        there is more than one, each range's first_row is DS_ROW_UNKNOWN (it is the sum of the
 *        range_rows of the ranges before it, once they are read). Reading a part of a file
 *        that holds a quote fails with DS_SPLIT (a quoted field could hide a row end): read
 *        the whole file then.
 * @param[out] ranges  at least @p parts entries; *n_out of them are filled
 * @return DS_OK, DS_IO or DS_INVAL.
 */
int ds_file_ranges(const char *path, int parts, struct ds_range *ranges, int *n_out);

/** @brief ds_lines_read() over one range (NULL: the whole file). Thread-safe for distinct reports.
 *  @return as ds_lines_read(), or DS_SPLIT (see ds_file_ranges). */
int ds_lines_read_range(const char *path, const struct ds_range *range, ds_line_cb cb, void *ctx,
			struct ds_report *rep);

/**
 * Orders with their lines grouped by order, and the timeline: what the replay tool walks.
 * Memory: 24 bytes per order id and 12 per line (and 4 per rejected order row).
 */
struct ds_history {
	struct ds_order *orders; /* indexed by order_id, size cap */
	size_t cap;
	uint64_t n_orders;
	struct ds_line *lines; /* grouped by order, each order's lines in add_to_cart order */
	uint64_t n_lines;
	uint64_t orphan_lines;     /* lines whose order_id is not in orders.csv (reported), rejected
				    * order rows' lines included (reported as such) */
	uint32_t *rejected_orders; /* sorted, distinct order_ids of bad rows of orders.csv: a line of
				    * one of them is reported as a line of a rejected order */
	uint64_t n_rejected_orders;
	uint32_t *timeline; /* order ids with lines, in event-time order (if asked for) */
	uint64_t n_timeline;
	uint32_t *by_user; /* every order id, by (user_id, order_number); in the order of
				    * orders.csv until ds_history_build_timeline() */
	uint64_t n_by_user;
	size_t cap_by_user;
	uint64_t n_users;                /* distinct user_ids of the orders (ds_history_build_timeline) */
	uint64_t users_without_customer; /* of them, those without a row in the customers given to
					  * ds_history_build_timeline() (all of them if it had none) */
};

/* ---- As the stream carries them (events.c) ---- */

/**
 * @brief The order-product event of line @p l of order @p o (whose id is l->order_id): the one
 *        conversion of a history row, for replay and backfill alike. eval_set is the order's
 *        (train stays train, so the apply function ignores it unless asked; prior and test are
 *        prior). Inline: backfill calls it for every line of the history.
 */
static inline void ds_history_event(const struct ds_order *o, const struct ds_line *l, struct event *ev_out)
{
	*ev_out = (struct event){
		.user_id = o->user_id,
		.order_id = l->order_id,
		.product_id = l->product_id,
		.order_number = o->order_number,
		.add_to_cart_order = l->add_to_cart,
		.order_dow = o->dow,
		.order_hour = o->hour,
		.days_since_prior = o->days,
		.reordered = l->reordered,
		.eval_set = o->eval_set == DS_EVAL_TRAIN ? EVENT_EVAL_TRAIN : EVENT_EVAL_PRIOR,
		.event_time_ms = o->event_time_ms,
	};
}

/**
 * @brief A product as the products topic carries it.
 * @return 1, or 0 for an empty slot of the table (product_id 0: *out is then of no use).
 */
int ds_event_product(const struct ds_product *p, struct event_product *out);

/**
 * @brief A customer's demographics as the customers topic carries them.
 * @return 1, or 0 for an empty slot of the table (user_id 0: *out is then of no use).
 */
int ds_event_customer(const struct ds_customer *c, struct event_customer *out);

/**
 * @brief The department and aisle names of a data directory as the names topic carries them:
 *        DIR/departments.csv (either layout) and DIR/aisles.csv, each if present, departments
 *        first, by id. A name event/ cannot carry (control characters, quotes) is a row error.
 * @param[out] names_out  the records (free() them; NULL when there are none)
 * @param[out] n_out      how many
 * @return DS_OK (also when neither file exists), or the first reader's error (DS_IO, DS_ROWS,
 *         DS_NOMEM, DS_LAYOUT).
 */
int ds_names_read(const char *dir, struct event_name **names_out, size_t *n_out, struct ds_report *rep);

/** Lines collected from one range of a lines file, in file order. */
struct ds_line_set {
	struct ds_line *lines;
	uint64_t n, cap;
	uint64_t orphans; /* lines whose order_id is not in orders.csv (reported, not kept) */
};

/**
 * @brief Collects the lines of one range of a lines file, checking each against h's orders
 *        (which must be loaded, and are only read: several threads may collect at once into
 *        distinct sets with distinct reports).
 */
int ds_history_collect(const struct ds_history *h, const char *path, const struct ds_range *range,
		       struct ds_line_set *set, struct ds_report *rep);

/** @brief Groups collected sets (in the order given) into h->lines, by order; frees the sets
 *         (on failure too). Lines already together by order, as in the files, are not moved. */
int ds_history_group(struct ds_history *h, struct ds_line_set *sets, int n_sets);
void ds_line_set_free(struct ds_line_set *set);

/**
 * @brief Loads DIR/orders.csv, DIR/order_products__prior.csv and, if @p include_train,
 *        DIR/order_products__train.csv into @p h (zeroed first); lines of unknown orders are
 *        reported and not kept, the lines are grouped by order (ds_history_group).
 *
 * On both cores (load.c): each file is split at line ends into two byte ranges read by two
 * threads, which live only for the call. Bad rows are reported once both ranges of a file are
 * read, in file order, with the row numbers of the whole file. A file with a quote in it is
 * read again whole on this thread with libcsv (a quoted field could hide a line end, so the
 * split might be wrong). @p rep's progress callback, if any, gets the history rows read so far
 * by both threads in every file (about every 1,048,576 rows of each thread), from the
 * reading threads but one call at a time; the count grows, except that a file read again
 * whole is counted again from its start.
 *
 * @param[out] h   the history; free it with ds_history_free() (on failure it is freed already)
 * @return DS_OK, DS_IO, DS_ROWS (on-error=fail), DS_NOMEM or DS_LAYOUT.
 */
int ds_history_load(const char *dir, int include_train, struct ds_history *h, struct ds_report *rep);

/**
 * @brief The orders part of ds_history_load(): DIR/orders.csv into @p h (zeroed first), on
 *        both cores, without lines (every order's n_lines is 0).
 * @param[out] h   free it with ds_history_free() (on failure it is freed already)
 * @return DS_OK, DS_IO, DS_ROWS (on-error=fail), DS_NOMEM or DS_LAYOUT (no order at all).
 */
int ds_history_load_orders(const char *dir, struct ds_history *h, struct ds_report *rep);

/** The parts a lines file is read in by ds_history_read_lines(), one thread each. */
#define DS_LINE_PARTS 2

/** Where ds_history_read_lines() hands the lines of each part of the file. */
struct ds_line_sink {
	ds_line_cb line;          /* each line whose order is in the history, in file order within its part;
			  * called from the part's thread (parts at once, distinct ctx) */
	void (*reset)(void *ctx); /* forget all a part got: the file is then read again whole into part 0 */
	void *ctx[DS_LINE_PARTS]; /* part i's lines come before part i + 1's in the file */
};

/**
 * @brief Reads a lines file against @p h's orders (loaded, and only read) as ds_history_load()
 *        does, in DS_LINE_PARTS byte ranges on as many threads, handing each line to the sink
 *        of its part instead of keeping it. A line of an order not in @p h is a bad row (counted
 *        in rep->errors, reported as ds_history_load() does), not handed on. A file with a quote
 *        in it is read again whole into part 0 (the parts are reset first).
 * @return DS_OK, DS_IO, DS_ROWS (on-error=fail), DS_NOMEM, DS_LAYOUT, DS_STOPPED, or the
 *         sink's negative error.
 */
int ds_history_read_lines(const struct ds_history *h, const char *path, const struct ds_line_sink *sink,
			  struct ds_report *rep);

/* ---- A walk over the history in a sequence of orders (walk.c) ---- */

/**
 * The lines of a lines file grouped by order in a sequence of orders the caller chooses (e.g.
 * customer after customer), each order's lines in add_to_cart order (ties in file order), as
 * ds_history_group() groups them. They are kept in 4 bytes a line (not ds_history's 12, nor its
 * grouping copy; a line that is not the next add_to_cart of its order's run in the file, or whose
 * product is 2^17 or more, in 16 bytes apart) and handed out in buckets of consecutive positions
 * of the sequence, each bucket sorted only when it is asked for. Lines of orders that are not in
 * the sequence are read past (not kept).
 */
struct ds_walk;

/** One bucket of a walk: positions [from, to) of the sequence. */
struct ds_walk_bucket {
	uint64_t from, to;
	const uint32_t *first_line; /* to - from + 1 entries: the lines of position i are
				     * lines[first_line[i - from], first_line[i - from + 1]) */
	const struct ds_line *lines;
	const struct ds_order *orders; /* to - from entries: a copy of the order of each position */
};

/**
 * @brief Reads the lines file at @p path (ds_history_read_lines) into a walk over @p seq.
 * @param h              the history's orders (ds_history_load_orders): must outlive the walk
 * @param seq            distinct order ids of @p h, in the order the walk hands them out: must
 *                       outlive the walk; fewer than UINT32_MAX
 * @param product_limit  a line's product_id is handed out as read if it is below this (e.g. the
 *                       products table's size), as 0 otherwise: the caller knows no such product
 * @param[out] walk_out  free it with ds_walk_free() (NULL on failure)
 * @return as ds_history_read_lines(); DS_INVAL for a sequence of UINT32_MAX orders or more.
 */
int ds_walk_read(const struct ds_history *h, const uint32_t *seq, uint64_t n_seq, const char *path,
		 uint32_t product_limit, struct ds_report *rep, struct ds_walk **walk_out);

/**
 * @brief The next bucket, sorted, in sequence order. Its lines are freed as it is handed out:
 *        the walk can be walked once. The buckets after it are sorted meanwhile, up to two
 *        ahead, on a thread of the walk's own (started by the first call, stopped and joined by
 *        ds_walk_free); the bucket handed out before this one is given back by this call.
 * @param[out] out  valid until the next call or ds_walk_free()
 * @return 1 with a bucket, 0 at the end, or DS_NOMEM.
 */
int ds_walk_next(struct ds_walk *w, struct ds_walk_bucket *out);

/** @brief Frees a walk (NULL-safe). */
void ds_walk_free(struct ds_walk *w);

/**
 * @brief Event times (SPEC §2): a user's first order is on their date_joined (customers may be
 *        NULL: then a date derived from a hash of the user id) at its hour; each next order is
 *        days_since_prior days later at its own hour. Fills every order's event_time_ms and
 *        by_user; with @p time_order also timeline, sorted by (time, user, order_number).
 *        A user's event times never decrease with order_number. Counts the users and those
 *        without demographics (n_users, users_without_customer), for the tools' warning.
 */
int ds_history_build_timeline(struct ds_history *h, const struct ds_customers *customers, int time_order);
void ds_history_free(struct ds_history *h);

/**
 * @brief A hint for a walk over orders in the sequence @p order_ids[0..n) (by_user or timeline),
 *        at step @p i: fetches into the cache the order 16 steps ahead and the lines of the
 *        order 8 steps ahead. Such walks read both at random places; without the hint, cache
 *        misses take most of their time. No effect on results.
 * @note always_inline: GCC 12 otherwise finds the function free of side effects and deletes
 *       the calls (checked in the disassembly).
 */
__attribute__((always_inline)) static inline void ds_history_prefetch(const struct ds_history *h,
								      const uint32_t *order_ids, uint64_t n, uint64_t i)
{
	if (i + 16 < n)
		__builtin_prefetch(&h->orders[order_ids[i + 16]]);
	if (i + 8 < n) {
		const char *lines = (const char *)&h->lines[h->orders[order_ids[i + 8]].first_line];
		__builtin_prefetch(lines);
		__builtin_prefetch(lines + 64);
		__builtin_prefetch(lines + 128);
	}
}

#endif
