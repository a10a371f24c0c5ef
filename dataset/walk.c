/*
 * The walk of dataset/: a lines file read into buckets of consecutive positions of an order
 * sequence the caller chooses, 8 bytes a line, and each bucket grouped by order (add_to_cart
 * order within an order, ties in file order) when it is handed out.
 *
 * A line is kept as one 64-bit key: its order's offset in its bucket, add_to_cart, the product
 * (below the caller's limit, else 0) and reordered, from the high bits to the low ones. Each
 * reading thread appends its keys to blocks of its own per bucket, and counts the lines of each
 * order as it reads them; a bucket is sorted by its first part's blocks, then the second's (file
 * order), with a counting sort on the offset (those counts) and an insertion sort on add_to_cart
 * (the files have an order's lines in that order already).
 */
#include "dataset/dataset_int.h"

#include <pthread.h>
#include <string.h>

/* A bucket holds up to 2^14 positions (about 150,000 lines, 1.2 MB of keys at the data's 9.5
 * lines an order): the sort's scattered writes stay in the core's cache, and the lines handed out
 * are still there when they are applied. 2^16 took a fifth more of the sorting thread's time. */
enum { BLOCK_KEYS = 8192, BUCKET_BITS_MAX = 14 };

/* A bucket's keys from one part: full blocks, then its last block with fill[bucket] keys. */
struct block {
	struct block *next;
	uint64_t keys[BLOCK_KEYS];
};

/* What one reading thread appends to: a list of blocks per bucket. */
struct part {
	const struct ds_walk *w;
	struct block **head, **tail; /* by bucket */
	uint32_t *fill;              /* by bucket: the keys in its tail block (a dense array: no cache
				      * miss in a block's header when the bucket changes) */
	int index;                   /* its place in w->parts */
	/* The last order id keep_rows looked up (about 10 rows in a row share one): its text as
	 * loaded, digits only (0 when none yet), and where its lines go. */
	uint64_t last_text[2];
	int last_len;
	uint64_t last_bucket; /* UINT64_MAX: not in the sequence */
	uint64_t last_key;    /* its offset in the bucket, in place in a key */
	uint32_t *last_count; /* its lines kept by this part (in w->count) */
};

/* A bucket sorted for handing out, and the memory it is sorted in. */
struct slot {
	struct ds_walk *w;
	uint64_t b; /* the bucket */
	int rc;     /* 1, or DS_NOMEM */
	uint32_t *first_line;
	uint64_t *keys;
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
	uint32_t *count;  /* by order id and part (count[id * DS_LINE_PARTS + part]): the lines each part
			   * kept, counted as they are read (in order id order, mostly) for the sort */
	uint32_t product_limit;
	int product_bits;
	int bucket_bits; /* a bucket holds 2^bucket_bits positions */
	uint64_t n_buckets, next;
	struct part parts[DS_LINE_PARTS];
	struct slot slots[2]; /* bucket b is sorted into slots[b % 2] */
	pthread_t worker;     /* sorting the bucket after the one handed out, if running */
	int worker_running;
};

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
}

static void reset_part(void *ctx)
{
	struct part *p = ctx;
	free_part(p, p->w->n_buckets);
	for (size_t id = 0; id < p->w->h->cap; id++)
		p->w->count[id * DS_LINE_PARTS + (size_t)p->index] = 0;
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

/* Appends a key to bucket b's blocks: 0, or DS_NOMEM. */
static inline int append_key(struct part *p, uint64_t b, uint64_t key)
{
	struct block *k = p->tail[b];
	if ((!k || p->fill[b] == BLOCK_KEYS) && !(k = new_block(p, b)))
		return DS_NOMEM;
	k->keys[p->fill[b]++] = key;
	return 0;
}

/* The sink of ds_history_read_lines(): keeps a line of an order of the sequence as its key. */
static int keep_line(const struct ds_line *l, void *ctx, char *why, size_t why_len)
{
	struct part *p = ctx;
	const struct ds_walk *w = p->w;
	if (l->order_id >= w->h->cap || w->h->orders[l->order_id].user_id == 0)
		return ds__orphan_line(w->h, l, why, why_len);
	uint32_t pos = w->pos_of[l->order_id];
	if (pos-- == 0)
		return 0; /* not in the sequence */
	uint64_t b = pos >> w->bucket_bits, off = pos & ((1u << w->bucket_bits) - 1);
	uint64_t product = l->product_id < w->product_limit ? l->product_id : 0;
	uint64_t key = off << (17 + w->product_bits) | (uint64_t)l->add_to_cart << (1 + w->product_bits) |
		       product << 1 | l->reordered;
	w->count[(size_t)l->order_id * DS_LINE_PARTS + (size_t)p->index]++;
	return append_key(p, b, key);
}

/*
 * The batch fast path of keep_line (ds__rows_fn), parse and bucket in one loop: rows of the form
 * "order,product,cart,reordered" in plain digits (at most 10 each, reordered one digit) whose
 * values are in range and whose order is in the history; each kept as keep_line keeps it, with
 * no ds_line built. A row's order id is looked up only when its text differs from the row
 * before's. Any other row stops the batch: the engine's one-row path (line_fast, keep_line, or
 * line_row) judges and reports it as before. Rows within 40 bytes of end are left to that path
 * too, so that every 8-byte load stays inside the text.
 */
static int keep_rows(const char **s_io, const char *end, uint64_t max_rows, void *ctx, uint64_t *rows_out)
{
	struct part *p = ctx;
	const struct ds_walk *w = p->w;
	const char *s = *s_io;
	uint64_t done = 0;
	int rc = 0;
	const int cart_shift = 1 + w->product_bits;
	/* The current order's block and its fill, and its lines kept, held here (not in memory the
	 * next row must read back) until the order changes or the batch ends. */
	struct block *blk = NULL;
	uint32_t fill = 0, run = 0;
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
			if (blk)
				p->fill[p->last_bucket] = fill;
			blk = NULL;
			if (run)
				*p->last_count += run;
			run = 0;
			uint64_t order = ds__digits_n(s, c1);
			if (order == 0 || order > UINT32_MAX - 1 || order >= w->h->cap ||
			    w->h->orders[order].user_id == 0)
				break; /* a bad row, or an orphan line: reported by the one-row path */
			uint32_t pos = w->pos_of[order];
			p->last_len = c1;
			p->last_text[0] = t0;
			p->last_text[1] = t1;
			p->last_count = &w->count[order * DS_LINE_PARTS + (uint64_t)p->index];
			p->last_bucket = pos ? (pos - 1) >> w->bucket_bits : UINT64_MAX;
			p->last_key = pos ? (uint64_t)((pos - 1) & ((1u << w->bucket_bits) - 1))
						<< (17 + w->product_bits)
					  : 0;
		}
		uint64_t product = ds__digits_n(s + c1 + 1, c2 - c1 - 1), cart = ds__digits_n(s + c2 + 1, c3 - c2 - 1);
		if (product == 0 || product > UINT32_MAX || cart == 0 || cart > UINT16_MAX)
			break;
		if (p->last_bucket != UINT64_MAX) {
			uint64_t key = p->last_key | cart << cart_shift |
				       (product < w->product_limit ? product : 0) << 1 | (uint64_t)(s[c3 + 1] - '0');
			if (!blk) {
				blk = p->tail[p->last_bucket];
				fill = blk ? p->fill[p->last_bucket] : BLOCK_KEYS;
			}
			if (fill == BLOCK_KEYS) {
				if (!(blk = new_block(p, p->last_bucket))) {
					rc = DS_NOMEM;
					break;
				}
				fill = 0;
			}
			blk->keys[fill++] = key;
			run++;
		}
		done++;
		/* past the row's end; a CR LF's LF is an empty row, which the engine would skip */
		int crlf = s[c4] == '\r' && s[c4 + 1] == '\n';
		s += c4 + 1 + crlf;
	}
	if (blk)
		p->fill[p->last_bucket] = fill;
	if (run)
		*p->last_count += run;
	*s_io = s;
	*rows_out = done;
	return rc;
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
	while (w->product_bits < 32 && (1ull << w->product_bits) < product_limit)
		w->product_bits++;
	/* offset + add_to_cart (16) + product + reordered (1) in 64 bits */
	w->bucket_bits = 47 - w->product_bits < BUCKET_BITS_MAX ? 47 - w->product_bits : BUCKET_BITS_MAX;
	w->n_buckets = (n_seq + (1u << w->bucket_bits) - 1) >> w->bucket_bits;
	/* pos_of[id] is the position + 1 (0: not in the sequence), so that the pages of ids above
	 * the largest in the sequence stay untouched zeros. */
	w->pos_of = calloc(h->cap ? h->cap : 1, sizeof *w->pos_of);
	w->count = calloc((h->cap ? h->cap : 1) * DS_LINE_PARTS, sizeof *w->count);
	if (!w->pos_of || !w->count)
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
	for (int i = 0; i < 2; i++) {
		struct slot *sl = &w->slots[i];
		sl->w = w;
		sl->first_line = malloc(((1u << w->bucket_bits) + 1) * sizeof *sl->first_line);
		sl->orders = malloc((1u << w->bucket_bits) * sizeof *sl->orders);
		if (!sl->first_line || !sl->orders)
			goto out;
	}
	rc = ds__history_read_lines_rows(h, path, &sink, keep_rows, rep);
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

/* Sorts bucket sl->b into sl (sl->rc: 1, or DS_NOMEM), and frees its blocks. */
static void *sort_bucket(void *arg)
{
	struct slot *sl = arg;
	struct ds_walk *w = sl->w;
	const uint64_t b = sl->b;
	sl->rc = DS_NOMEM;
	uint64_t from = b << w->bucket_bits, to = from + (1u << w->bucket_bits);
	if (to > w->n_seq)
		to = w->n_seq;
	uint32_t n_pos = (uint32_t)(to - from);
	const int off_shift = 17 + w->product_bits, cart_shift = 1 + w->product_bits;
	/* The lines of each offset, counted as they were read, and the orders: the sequence visits
	 * the order table and the counts at random places, and a loop of loads that do not wait for
	 * each other (asked for ahead) lets their cache misses overlap. Then the keys are placed
	 * (the parts in file order). */
	uint64_t n = 0;
	sl->first_line[0] = 0;
	for (uint32_t i = 0; i < n_pos; i++) {
		if (i + DS__PREFETCH_AHEAD < n_pos) {
			uint32_t ahead = w->seq[from + i + DS__PREFETCH_AHEAD];
			__builtin_prefetch(&w->h->orders[ahead]);
			__builtin_prefetch(&w->count[(size_t)ahead * DS_LINE_PARTS]);
		}
		uint32_t id = w->seq[from + i];
		uint64_t m = 0;
		for (int j = 0; j < DS_LINE_PARTS; j++)
			m += w->count[(size_t)id * DS_LINE_PARTS + (size_t)j];
		sl->first_line[i + 1] = (uint32_t)m; /* if it does not fit, n does not either */
		n += m;
		sl->orders[i] = w->h->orders[id];
	}
	if (n > UINT32_MAX)
		return NULL;
	if (n > sl->cap_lines) {
		free(sl->keys);
		free(sl->lines);
		sl->keys = malloc(n * sizeof *sl->keys);
		sl->lines = malloc(n * sizeof *sl->lines);
		sl->cap_lines = sl->keys && sl->lines ? n : 0;
		if (!sl->cap_lines)
			return NULL;
	}
	for (uint32_t i = 0; i < n_pos; i++)
		sl->first_line[i + 1] += sl->first_line[i];
	for (int i = 0; i < DS_LINE_PARTS; i++) {
		struct block *k = w->parts[i].head[b];
		while (k) {
			for (uint32_t j = 0, in_k = k->next ? BLOCK_KEYS : w->parts[i].fill[b]; j < in_k; j++) {
				uint64_t key = k->keys[j];
				/* first_line[off] is the next free slot of off while placing */
				sl->keys[sl->first_line[key >> off_shift]++] = key;
			}
			struct block *next = k->next;
			free(k);
			k = next;
		}
		w->parts[i].head[b] = w->parts[i].tail[b] = NULL;
	}
	/* Placing moved each first_line to the next offset's start: shift them back. */
	memmove(sl->first_line + 1, sl->first_line, n_pos * sizeof *sl->first_line);
	sl->first_line[0] = 0;
	const uint64_t product_mask = (1ull << w->product_bits) - 1;
	for (uint32_t i = 0; i < n_pos; i++) {
		uint64_t *keys = sl->keys + sl->first_line[i];
		uint32_t m = sl->first_line[i + 1] - sl->first_line[i];
		/* By add_to_cart, stable: the offset is the same, so compare the key above the product. */
		for (uint32_t j = 1; j < m; j++) {
			uint64_t key = keys[j];
			uint32_t k = j;
			while (k > 0 && keys[k - 1] >> cart_shift > key >> cart_shift) {
				keys[k] = keys[k - 1];
				k--;
			}
			keys[k] = key;
		}
		uint32_t order_id = w->seq[from + i];
		for (uint32_t j = 0; j < m; j++)
			sl->lines[sl->first_line[i] + j] = (struct ds_line){
				.order_id = order_id,
				.product_id = (uint32_t)(keys[j] >> 1 & product_mask),
				.add_to_cart = (uint16_t)(keys[j] >> cart_shift),
				.reordered = (uint8_t)(keys[j] & 1),
			};
	}
	sl->out = (struct ds_walk_bucket){ from, to, sl->first_line, sl->lines, sl->orders };
	sl->rc = 1;
	return NULL;
}

int ds_walk_next(struct ds_walk *w, struct ds_walk_bucket *out)
{
	if (w->next >= w->n_buckets)
		return 0;
	uint64_t b = w->next++;
	struct slot *sl = &w->slots[b % 2];
	if (w->worker_running) { /* it sorted b */
		pthread_join(w->worker, NULL);
		w->worker_running = 0;
	} else {
		sl->b = b;
		sort_bucket(sl);
	}
	/* The next bucket is sorted on another thread while the caller walks this one. */
	if (sl->rc == 1 && b + 1 < w->n_buckets) {
		struct slot *next = &w->slots[(b + 1) % 2];
		next->b = b + 1;
		w->worker_running = pthread_create(&w->worker, NULL, sort_bucket, next) == 0;
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
	if (w->worker_running)
		pthread_join(w->worker, NULL);
	for (int i = 0; i < 2; i++) {
		free(w->slots[i].first_line);
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
	free(w->count);
	free(w);
}
