/*
 * The walk of dataset/: a lines file read into buckets of consecutive positions of an order
 * sequence the caller chooses, 4 bytes a line, and each bucket grouped by order (add_to_cart
 * order within an order, ties in file order) when it is handed out.
 *
 * A line is kept as one 32-bit key: its order's offset in its bucket, the product (below the
 * caller's limit, else 0) and reordered, from the high bits to the low ones. Its add_to_cart is
 * not kept: the files hold an order's lines together, numbered 1, 2, 3... in file order, so a
 * part's run of an order's lines numbers them by place. Each reading thread appends its keys to
 * blocks of its own per bucket, and counts each order's run as it reads it; a bucket is sorted
 * by its first part's blocks, then the second's (file order), with a counting sort on the
 * offset (those counts).
 *
 * A line that does not fit that (its add_to_cart not the next number of its run, its order met
 * again after other orders, its product too large for a key) is a stray, kept whole in a list
 * of its part, and so is every later line of its order in that part; an order with strays, or
 * with runs in both parts, has its lines sorted by add_to_cart (stable) when handed out.
 */
#include "dataset/dataset_int.h"

#include <pthread.h>
#include <string.h>

/* A bucket holds up to 2^14 positions (about 150,000 lines, 0.6 MB of keys at the data's 9.5
 * lines an order): the sort's scattered writes stay in the core's cache, and the lines handed out
 * are still there when they are applied. A key: offset (14 bits), product (17), reordered (1). */
enum { BLOCK_KEYS = 16384, BUCKET_BITS = 14, PRODUCT_BITS = 17, OFF_SHIFT = PRODUCT_BITS + 1, SLOTS = 3 };
#define PRODUCT_KEY_LIMIT (1u << PRODUCT_BITS)

/* A bucket's keys from one part: full blocks, then its last block with fill[bucket] keys. */
struct block {
	struct block *next;
	uint32_t keys[BLOCK_KEYS];
};

/* A line kept whole, apart from the runs: in file order within its part (seq). */
struct stray {
	uint32_t order_id;
	uint32_t seq;
	uint32_t product_id; /* below the walk's product limit, else 0 */
	uint16_t add_to_cart;
	uint8_t reordered;
};

/* What one reading thread appends to: a list of blocks per bucket, and its strays. */
struct part {
	struct ds_walk *w;
	struct block **head, **tail; /* by bucket */
	uint32_t *fill;              /* by bucket: the keys in its tail block (a dense array: no cache
				      * miss in a block's header when the bucket changes) */
	struct stray *strays;        /* sorted by (order_id, seq) once the reading ends */
	uint64_t n_strays, cap_strays;
	int index; /* its place in w->parts */
	/* The order of the lines being read (0: none yet): whether they are kept, and how. */
	uint32_t cur_order;
	int cur_kept, cur_stray; /* cur_stray: its lines here go to the strays */
	uint64_t cur_bucket;     /* where its run goes */
	uint32_t cur_key;        /* its offset in the bucket, in place in a key */
	uint32_t *cur_count;     /* its run's lines in this part (in w->count) */
	/* The last order id keep_rows parsed (about 10 rows in a row share one): its text as loaded,
	 * digits only (last_len 0: none, or the one-row path read a row since). */
	uint64_t last_text[2];
	int last_len;
};

/* A bucket sorted for handing out, and the memory it is sorted in. */
struct slot {
	struct ds_walk *w;
	uint64_t b; /* the bucket */
	int rc;     /* 1, or DS_NOMEM */
	uint32_t *first_line;
	uint32_t *first_key; /* by position: where its run keys start in keys (while placing: next) */
	uint32_t *run0;      /* by position: its run's lines from part 0 */
	uint8_t *sort;       /* by position: 1 when its lines must be sorted (strays, or two runs) */
	uint32_t *keys;
	uint64_t cap_keys;
	struct ds_line *lines;
	uint64_t cap_lines;
	struct ds_order *orders; /* the bucket's orders, by position */
	struct ds_walk_bucket out;
};

struct ds_walk {
	const struct ds_history *h;
	const uint32_t *seq;
	uint64_t n_seq;
	uint32_t *pos_of; /* by order id: position in seq + 1, or 0 */
	uint8_t *strayed; /* by order id, a bit: some of its lines are strays (either part) */
	uint32_t *count;  /* by order id and part (count[id * DS_LINE_PARTS + part]): the lines of
			    * its run in that part, counted as they are read */
	uint32_t product_limit;
	uint64_t n_buckets, next;
	struct part parts[DS_LINE_PARTS];
	struct slot slots[SLOTS]; /* bucket b is sorted into slots[b % SLOTS] */
	/* The sorter: a thread sorting the buckets in order, up to SLOTS - 1 ahead of the one the
	 * caller holds (so that the sorting goes on while a bucket is applied slowly), or none (the
	 * caller sorts each bucket when it asks, if no thread could start). */
	pthread_t sorter;
	int sorter_state; /* 0: not started, 1: running, -1: none (sorting inline) */
	pthread_mutex_t lock;
	pthread_cond_t room, ready;
	uint64_t held;   /* the bucket the caller holds (under lock) */
	uint64_t sorted; /* buckets [0, sorted) are sorted (under lock) */
	int stop;        /* ds_walk_free: the sorter stops (under lock) */
	int ended;       /* the sorter has returned (under lock) */
};

/* Whether order id has strays (a relaxed load: the reading threads set the bits as they go). */
static inline int is_strayed(const struct ds_walk *w, uint32_t id)
{
	return __atomic_load_n(&w->strayed[id >> 3], __ATOMIC_RELAXED) >> (id & 7) & 1;
}

static void free_part(struct part *p, uint64_t n_buckets)
{
	for (uint64_t b = 0; p->head && b < n_buckets; b++) {
		struct block *k = p->head[b];
		while (k) {
			struct block *next = k->next;
			free(k);
			k = next;
		}
		p->head[b] = p->tail[b] = NULL;
	}
	free(p->strays);
	p->strays = NULL;
	p->n_strays = p->cap_strays = 0;
}

static void reset_part(void *ctx)
{
	struct part *p = ctx;
	struct ds_walk *w = p->w;
	free_part(p, w->n_buckets);
	p->cur_order = 0;
	p->last_len = 0;
	for (size_t id = 0; id < w->h->cap; id++)
		w->count[id * DS_LINE_PARTS + (size_t)p->index] = 0;
	memset(w->strayed, 0, (w->h->cap + 7) / 8); /* the resets come one after the other */
}

/* A new last block for bucket b (the one before it full), or NULL when out of memory. */
static struct block *new_block(struct part *p, uint64_t b)
{
	struct block *nk = malloc(sizeof *nk);
	if (!nk)
		return NULL;
	nk->next = NULL;
	p->fill[b] = 0;
	if (p->tail[b])
		p->tail[b]->next = nk;
	else
		p->head[b] = nk;
	return p->tail[b] = nk;
}

/* The lines that follow are of order id (in the history): where they go. */
static void begin_order(struct part *p, uint32_t id)
{
	struct ds_walk *w = p->w;
	uint32_t pos = w->pos_of[id];
	p->cur_order = id;
	p->cur_kept = pos != 0;
	p->cur_count = &w->count[(size_t)id * DS_LINE_PARTS + (size_t)p->index];
	/* met before in this part (its run ended), or strayed already: strays from here on */
	p->cur_stray = p->cur_kept && (*p->cur_count != 0 || is_strayed(w, id));
	if (p->cur_kept) {
		p->cur_bucket = (pos - 1) >> BUCKET_BITS;
		p->cur_key = ((pos - 1) & ((1u << BUCKET_BITS) - 1)) << OFF_SHIFT;
	}
}

/* Keeps a line of the current order as a stray (and its later lines in this part): 0, or
 * DS_NOMEM. */
static int add_stray(struct part *p, uint32_t product, uint16_t cart, uint8_t reordered)
{
	if (!p->cur_stray) {
		p->cur_stray = 1;
		__atomic_fetch_or(&p->w->strayed[p->cur_order >> 3], (uint8_t)(1u << (p->cur_order & 7)),
				  __ATOMIC_RELAXED);
	}
	if (ds__grow_array((void **)&p->strays, p->n_strays, &p->cap_strays, sizeof *p->strays, 256))
		return DS_NOMEM;
	p->strays[p->n_strays] = (struct stray){ p->cur_order, (uint32_t)p->n_strays, product, cart, reordered };
	p->n_strays++;
	return 0;
}

/* The product a line of the current order is kept with: as read below the walk's limit, else 0. */
static inline uint32_t kept_product(const struct part *p, uint64_t product)
{
	return product < p->w->product_limit ? (uint32_t)product : 0;
}

/* Whether a line of the current order (kept) goes on its run, run lines so far in this part:
 * the order is not strayed here, its add_to_cart is the run's next, its product fits a key. */
static inline int goes_on_run(const struct part *p, uint32_t product, uint64_t cart, uint32_t run)
{
	return !p->cur_stray && product < PRODUCT_KEY_LIMIT && cart == (uint64_t)run + 1;
}

/* The key of a line that goes on the current order's run. */
static inline uint32_t run_key(const struct part *p, uint32_t product, uint32_t reordered)
{
	return p->cur_key | product << 1 | reordered;
}

/* The sink of ds_history_read_lines(): keeps a line of an order of the sequence. */
static int keep_line(const struct ds_line *l, void *ctx, char *why, size_t why_len)
{
	struct part *p = ctx;
	const struct ds_walk *w = p->w;
	if (l->order_id >= w->h->cap || w->h->orders[l->order_id].user_id == 0)
		return ds__orphan_line(w->h, l, why, why_len);
	p->last_len = 0; /* keep_rows compares the next row's order with this one's afresh */
	if (l->order_id != p->cur_order)
		begin_order(p, l->order_id);
	if (!p->cur_kept)
		return 0; /* not in the sequence */
	uint32_t product = kept_product(p, l->product_id);
	if (!goes_on_run(p, product, l->add_to_cart, *p->cur_count))
		return add_stray(p, product, l->add_to_cart, l->reordered);
	uint64_t b = p->cur_bucket;
	struct block *k = p->tail[b];
	if ((!k || p->fill[b] == BLOCK_KEYS) && !(k = new_block(p, b)))
		return DS_NOMEM;
	k->keys[p->fill[b]++] = run_key(p, product, l->reordered);
	(*p->cur_count)++;
	return 0;
}

/*
 * The batch fast path of keep_line (ds__rows_fn), parse and bucket in one loop: rows of the form
 * "order,product,cart,reordered" in plain digits (at most 10 each, reordered one digit) whose
 * values are in range and whose order is in the history; each kept as keep_line keeps it, with
 * no ds_line built. A row's order id is parsed only when its text differs from the row before's.
 * Any other row stops the batch: the engine's one-row path (line_fast, keep_line, or line_row)
 * judges and reports it as before. Rows within 40 bytes of end are left to that path too, so
 * that every 8-byte load stays inside the text.
 */
static int keep_rows(const char **s_io, const char *end, uint64_t max_rows, void *ctx, uint64_t *rows_out)
{
	struct part *p = ctx;
	const struct ds_walk *w = p->w;
	const char *s = *s_io;
	uint64_t done = 0;
	int rc = 0;
	/* The current run's block and its fill, and its lines so far, held here (not in memory the
	 * next row must read back) until the order changes or the batch ends. */
	struct block *blk = NULL;
	uint32_t fill = 0, run = p->cur_order ? *p->cur_count : 0;
	while (DS__SWAR && done < max_rows && end - s >= 40 && (unsigned char)(*s - '0') < 10) {
		/* The row's first four non-digits, from one 32-byte look: its three commas and its end.
		 * The next row's start depends on these alone, not on the digits' values. */
		uint32_t nd = ds__nondigit_bits32(s);
		if (!nd)
			break;
		int c1 = __builtin_ctz(nd);
		nd &= nd - 1;
		if (!nd)
			break;
		int c2 = __builtin_ctz(nd);
		nd &= nd - 1;
		if (!nd)
			break;
		int c3 = __builtin_ctz(nd);
		nd &= nd - 1;
		if (!nd)
			break;
		int c4 = __builtin_ctz(nd);
		if (s[c1] != ',' || s[c2] != ',' || s[c3] != ',' || (s[c4] != '\n' && s[c4] != '\r') || c1 > 10 ||
		    c2 - c1 - 1 < 1 || c2 - c1 - 1 > 10 || c3 - c2 - 1 < 1 || c3 - c2 - 1 > 10 || c4 - c3 != 2 ||
		    s[c3 + 1] > '1')
			break;
		/* The order id's digits, compared as text with the last row's. */
		uint64_t t0 = ds__load8(s), t1 = 0;
		if (c1 < 8) {
			t0 &= ~0ull >> (64 - 8 * c1);
		} else if (c1 > 8) {
			t1 = ds__load8(s + 8) & ~0ull >> (64 - 8 * (c1 - 8));
		}
		if (c1 != p->last_len || t0 != p->last_text[0] || t1 != p->last_text[1]) {
			uint64_t order = ds__digits_n(s, c1);
			if (order == 0 || order > UINT32_MAX - 1 || order >= w->h->cap ||
			    w->h->orders[order].user_id == 0)
				break; /* a bad row, or an orphan line: reported by the one-row path */
			if (order != p->cur_order) {
				if (blk)
					p->fill[p->cur_bucket] = fill;
				blk = NULL;
				if (p->cur_order)
					*p->cur_count = run;
				begin_order(p, (uint32_t)order);
				run = *p->cur_count;
			}
			p->last_len = c1;
			p->last_text[0] = t0;
			p->last_text[1] = t1;
		}
		uint64_t product = ds__digits_n(s + c1 + 1, c2 - c1 - 1), cart = ds__digits_n(s + c2 + 1, c3 - c2 - 1);
		if (product == 0 || product > UINT32_MAX || cart == 0 || cart > UINT16_MAX)
			break;
		if (p->cur_kept) {
			uint32_t kept = kept_product(p, product);
			uint32_t reordered = (uint32_t)(s[c3 + 1] - '0');
			if (!goes_on_run(p, kept, cart, run)) {
				if ((rc = add_stray(p, kept, (uint16_t)cart, (uint8_t)reordered)) != 0)
					break;
			} else {
				if (!blk) {
					blk = p->tail[p->cur_bucket];
					fill = blk ? p->fill[p->cur_bucket] : BLOCK_KEYS;
				}
				if (fill == BLOCK_KEYS) {
					if (!(blk = new_block(p, p->cur_bucket))) {
						rc = DS_NOMEM;
						break;
					}
					fill = 0;
				}
				blk->keys[fill++] = run_key(p, kept, reordered);
				run++;
			}
		}
		done++;
		/* past the row's end; a CR LF's LF is an empty row, which the engine would skip */
		int crlf = s[c4] == '\r' && s[c4 + 1] == '\n';
		s += c4 + 1 + crlf;
	}
	if (blk)
		p->fill[p->cur_bucket] = fill;
	if (p->cur_order)
		*p->cur_count = run;
	*s_io = s;
	*rows_out = done;
	return rc;
}

static int stray_cmp(const void *a, const void *b)
{
	const struct stray *x = a, *y = b;
	if (x->order_id != y->order_id)
		return x->order_id < y->order_id ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The strays of order id in part p: [*first, return value) of p->strays (sorted by order). */
static uint64_t strays_of(const struct part *p, uint32_t id, uint64_t *first)
{
	uint64_t lo = 0, hi = p->n_strays;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (p->strays[mid].order_id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*first = lo;
	while (hi < p->n_strays && p->strays[hi].order_id == id)
		hi++;
	return hi;
}

int ds_walk_read(const struct ds_history *h, const uint32_t *seq, uint64_t n_seq, const char *path,
		 uint32_t product_limit, struct ds_report *rep, struct ds_walk **walk_out)
{
	*walk_out = NULL;
	if (n_seq >= UINT32_MAX)
		return DS_INVAL;
	struct ds_walk *w = calloc(1, sizeof *w);
	if (!w)
		return DS_NOMEM;
	int rc = DS_NOMEM;
	w->h = h;
	w->seq = seq;
	w->n_seq = n_seq;
	w->product_limit = product_limit;
	w->n_buckets = (n_seq + (1u << BUCKET_BITS) - 1) >> BUCKET_BITS;
	size_t cap = h->cap ? h->cap : 1;
	/* pos_of[id] is the position + 1 (0: not in the sequence), so that the pages of ids above
	 * the largest in the sequence stay untouched zeros. */
	w->pos_of = ds__calloc_huge(cap, sizeof *w->pos_of);
	w->strayed = calloc((cap + 7) / 8, 1);
	w->count = ds__calloc_huge(cap * DS_LINE_PARTS, sizeof *w->count);
	if (!w->pos_of || !w->strayed || !w->count)
		goto out;
	for (uint64_t i = 0; i < n_seq; i++)
		w->pos_of[seq[i]] = (uint32_t)i + 1;
	struct ds_line_sink sink = { .line = keep_line, .reset = reset_part };
	for (int i = 0; i < DS_LINE_PARTS; i++) {
		struct part *p = &w->parts[i];
		p->w = w;
		p->head = calloc(w->n_buckets ? w->n_buckets : 1, sizeof *p->head);
		p->tail = calloc(w->n_buckets ? w->n_buckets : 1, sizeof *p->tail);
		p->fill = calloc(w->n_buckets ? w->n_buckets : 1, sizeof *p->fill);
		p->index = i;
		if (!p->head || !p->tail || !p->fill)
			goto out;
		sink.ctx[i] = p;
	}
	const size_t positions = (size_t)1 << BUCKET_BITS;
	for (int i = 0; i < SLOTS; i++) {
		struct slot *sl = &w->slots[i];
		sl->w = w;
		sl->first_line = malloc((positions + 1) * sizeof *sl->first_line);
		sl->first_key = malloc((positions + 1) * sizeof *sl->first_key);
		sl->run0 = malloc(positions * sizeof *sl->run0);
		sl->sort = malloc(positions);
		sl->orders = malloc(positions * sizeof *sl->orders);
		if (!sl->first_line || !sl->first_key || !sl->run0 || !sl->sort || !sl->orders)
			goto out;
	}
	rc = ds__history_read_lines_rows(h, path, &sink, keep_rows, rep);
	for (int i = 0; rc == DS_OK && i < DS_LINE_PARTS; i++)
		if (w->parts[i].n_strays)
			qsort(w->parts[i].strays, w->parts[i].n_strays, sizeof *w->parts[i].strays, stray_cmp);
	/* The order ids are of no more use: the keys hold offsets in buckets. */
	free(w->pos_of);
	w->pos_of = NULL;
out:
	if (rc != DS_OK) {
		ds_walk_free(w);
		return rc;
	}
	*walk_out = w;
	return DS_OK;
}

/* Makes room for n elements of elem bytes in *items (its contents are not kept): 0, or -1. */
static int room(void **items, uint64_t *cap, uint64_t n, size_t elem)
{
	if (n <= *cap)
		return 0;
	free(*items);
	*items = malloc(n * elem);
	*cap = *items ? n : 0;
	return *items ? 0 : -1;
}

/* A run's keys as lines of order id, numbered from 1: returns past the last line written. */
static struct ds_line *run_lines(const uint32_t *keys, uint32_t n, uint32_t id, struct ds_line *out)
{
	for (uint32_t j = 0; j < n; j++)
		*out++ = (struct ds_line){
			.order_id = id,
			.product_id = keys[j] >> 1 & (PRODUCT_KEY_LIMIT - 1),
			.add_to_cart = (uint16_t)(j + 1),
			.reordered = (uint8_t)(keys[j] & 1),
		};
	return out;
}

/* An order's lines from its runs and its strays, in file order, then by add_to_cart (stable). */
static void order_lines(const struct ds_walk *w, uint32_t id, const uint32_t *keys, uint32_t run0, uint32_t run1,
			struct ds_line *out)
{
	struct ds_line *at = out;
	for (int j = 0; j < DS_LINE_PARTS; j++) {
		uint32_t n = j == 0 ? run0 : run1;
		at = run_lines(keys, n, id, at);
		keys += n;
		if (is_strayed(w, id)) {
			uint64_t first, end = strays_of(&w->parts[j], id, &first);
			for (const struct stray *s = w->parts[j].strays + first; s < w->parts[j].strays + end; s++)
				*at++ = (struct ds_line){ id, s->product_id, s->add_to_cart, s->reordered };
		}
	}
	for (struct ds_line *l = out + 1; l < at; l++) {
		struct ds_line x = *l, *k = l;
		for (; k > out && k[-1].add_to_cart > x.add_to_cart; k--)
			*k = k[-1];
		*k = x;
	}
}

/* Sorts bucket sl->b into sl (sl->rc: 1, or DS_NOMEM), and frees its blocks. */
static void *sort_bucket(void *arg)
{
	struct slot *sl = arg;
	struct ds_walk *w = sl->w;
	const uint64_t b = sl->b;
	sl->rc = DS_NOMEM;
	uint64_t from = b << BUCKET_BITS, to = from + (1u << BUCKET_BITS);
	if (to > w->n_seq)
		to = w->n_seq;
	uint32_t n_pos = (uint32_t)(to - from);
	/* The runs of each offset, counted as they were read, its strays, and the orders: the
	 * sequence visits the order table and the counts at random places, and a loop of loads that
	 * do not wait for each other (asked for ahead) lets their cache misses overlap. Then the keys
	 * are placed (the parts in file order). */
	uint64_t n_keys = 0, n_lines = 0;
	sl->first_key[0] = sl->first_line[0] = 0;
	for (uint32_t i = 0; i < n_pos; i++) {
		if (i + DS__PREFETCH_AHEAD < n_pos) {
			uint32_t ahead = w->seq[from + i + DS__PREFETCH_AHEAD];
			__builtin_prefetch(&w->h->orders[ahead]);
			__builtin_prefetch(&w->count[(size_t)ahead * DS_LINE_PARTS]);
		}
		uint32_t id = w->seq[from + i];
		const uint32_t *count = &w->count[(size_t)id * DS_LINE_PARTS];
		uint64_t runs = 0, strays = 0;
		for (int j = 0; j < DS_LINE_PARTS; j++)
			runs += count[j];
		sl->run0[i] = count[0];
		sl->sort[i] = count[0] && runs > count[0];
		if (is_strayed(w, id)) {
			sl->sort[i] = 1;
			for (int j = 0; j < DS_LINE_PARTS; j++) {
				uint64_t first, end = strays_of(&w->parts[j], id, &first);
				strays += end - first;
			}
		}
		n_keys += runs;
		n_lines += runs + strays;
		if (n_lines > UINT32_MAX)
			return NULL;
		sl->first_key[i + 1] = (uint32_t)n_keys;
		sl->first_line[i + 1] = (uint32_t)n_lines;
		sl->orders[i] = w->h->orders[id];
	}
	if (room((void **)&sl->keys, &sl->cap_keys, n_keys, sizeof *sl->keys) ||
	    room((void **)&sl->lines, &sl->cap_lines, n_lines, sizeof *sl->lines))
		return NULL;
	for (int i = 0; i < DS_LINE_PARTS; i++) {
		struct block *k = w->parts[i].head[b];
		while (k) {
			for (uint32_t j = 0, in_k = k->next ? BLOCK_KEYS : w->parts[i].fill[b]; j < in_k; j++) {
				uint32_t key = k->keys[j];
				/* first_key[off] is the next free slot of off while placing */
				sl->keys[sl->first_key[key >> OFF_SHIFT]++] = key;
			}
			struct block *next = k->next;
			free(k);
			k = next;
		}
		w->parts[i].head[b] = w->parts[i].tail[b] = NULL;
	}
	/* Placing moved each first_key to the next offset's start: shift them back. */
	memmove(sl->first_key + 1, sl->first_key, n_pos * sizeof *sl->first_key);
	sl->first_key[0] = 0;
	for (uint32_t i = 0; i < n_pos; i++) {
		const uint32_t *keys = sl->keys + sl->first_key[i];
		uint32_t runs = sl->first_key[i + 1] - sl->first_key[i];
		struct ds_line *out = sl->lines + sl->first_line[i];
		if (sl->sort[i])
			order_lines(w, w->seq[from + i], keys, sl->run0[i], runs - sl->run0[i], out);
		else
			run_lines(keys, runs, w->seq[from + i], out);
	}
	sl->out = (struct ds_walk_bucket){ from, to, sl->first_line, sl->lines, sl->orders };
	sl->rc = 1;
	return NULL;
}

/* The sorter's body: the buckets in order, each when its slot is free (the caller no longer
 * holds the bucket that was in it), until the last, a failure, or the stop. */
static void *sorter(void *arg)
{
	struct ds_walk *w = arg;
	for (uint64_t b = 0; b < w->n_buckets; b++) {
		pthread_mutex_lock(&w->lock);
		while (!w->stop && b >= w->held + SLOTS)
			pthread_cond_wait(&w->room, &w->lock);
		int stop = w->stop;
		pthread_mutex_unlock(&w->lock);
		if (stop)
			break;
		struct slot *sl = &w->slots[b % SLOTS];
		sl->b = b;
		sort_bucket(sl);
		pthread_mutex_lock(&w->lock);
		w->sorted = b + 1;
		pthread_cond_signal(&w->ready);
		pthread_mutex_unlock(&w->lock);
		if (sl->rc != 1)
			break;
	}
	pthread_mutex_lock(&w->lock);
	w->ended = 1;
	pthread_cond_signal(&w->ready);
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int ds_walk_next(struct ds_walk *w, struct ds_walk_bucket *out)
{
	if (w->next >= w->n_buckets)
		return 0;
	uint64_t b = w->next++;
	struct slot *sl = &w->slots[b % SLOTS];
	if (w->sorter_state == 0) {
		int ok = pthread_mutex_init(&w->lock, NULL) == 0;
		ok = ok && pthread_cond_init(&w->room, NULL) == 0;
		ok = ok && pthread_cond_init(&w->ready, NULL) == 0;
		w->sorter_state = ok && pthread_create(&w->sorter, NULL, sorter, w) == 0 ? 1 : -1;
	}
	if (w->sorter_state == 1) {
		pthread_mutex_lock(&w->lock);
		w->held = b; /* the bucket before it is free */
		pthread_cond_signal(&w->room);
		while (w->sorted <= b && !w->ended)
			pthread_cond_wait(&w->ready, &w->lock);
		int missing = w->sorted <= b; /* the sorter failed on an earlier bucket */
		pthread_mutex_unlock(&w->lock);
		if (missing)
			return DS_NOMEM;
	} else {
		sl->b = b;
		sort_bucket(sl);
	}
	if (sl->rc != 1)
		return sl->rc;
	*out = sl->out;
	return 1;
}

void ds_walk_free(struct ds_walk *w)
{
	if (!w)
		return;
	if (w->sorter_state == 1) {
		pthread_mutex_lock(&w->lock);
		w->stop = 1;
		pthread_cond_signal(&w->room);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->sorter, NULL);
	}
	if (w->sorter_state != 0) {
		pthread_cond_destroy(&w->ready);
		pthread_cond_destroy(&w->room);
		pthread_mutex_destroy(&w->lock);
	}
	for (int i = 0; i < SLOTS; i++) {
		free(w->slots[i].first_line);
		free(w->slots[i].first_key);
		free(w->slots[i].run0);
		free(w->slots[i].sort);
		free(w->slots[i].keys);
		free(w->slots[i].lines);
		free(w->slots[i].orders);
	}
	for (int i = 0; i < DS_LINE_PARTS; i++) {
		free_part(&w->parts[i], w->n_buckets);
		free(w->parts[i].head);
		free(w->parts[i].tail);
		free(w->parts[i].fill);
	}
	free(w->pos_of);
	free(w->strayed);
	free(w->count);
	free(w);
}
