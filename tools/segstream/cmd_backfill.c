/*
 * segstream backfill: builds the state straight from the history files, with the replay tool's
 * reader (dataset/) and the consumer's apply function (state_customer_apply), and writes it to
 * LMDB in one bulk transaction (keys in order, MDB_APPEND): the orders first, then the lines
 * in 4 bytes each (ds_walk), applied customer after customer in key order and each customer
 * written as soon as it is complete (its record encoded on another thread while the next bucket
 * is applied), so memory follows the orders and the customers more than the lines (12 bytes a
 * line and every customer's record before). With --brokers it also stores,
 * in that transaction, where the consumer must continue: the offsets that offsets_for_times(T)
 * returns (the first event at or after T in each partition), or the end offsets when the whole
 * history was backfilled. The consumer's duplicate guard absorbs any overlap at the seam.
 */
#include <getopt.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dataset/dataset.h"
#include "kclient/kclient.h"
#include "state/state.h"
#include "log/log.h"
#include "tools/segstream/cli.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Where the stream takes over: per partition, the first offset the backfill did not cover. */
struct handover {
	int32_t partitions;
	int64_t *next; /* NULL when no broker was given */
};

static int fetch_handover(const char *brokers, const struct cli_props *props, const char *topic, int64_t until_ms,
			  int32_t partitions, struct handover *h, char *err, size_t err_len)
{
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	if (kc_conf_new(brokers, NULL, 0, props->items, props->n, &conf, err, err_len) != KC_OK ||
	    kc_new(RD_KAFKA_CONSUMER, conf, &rk, err, err_len) != KC_OK)
		return -1;
	int rc = -1;
	h->partitions = kc_topic_partitions(rk, topic, 10000, err, err_len);
	if (h->partitions < 0) /* not found, or the broker could not be asked: err says which */
		goto out;
	if (partitions > 0 && partitions != h->partitions) {
		snprintf(err, err_len, "--partitions %d but %s has %d", partitions, topic, h->partitions);
		goto out;
	}
	h->next = calloc((size_t)h->partitions > 0 ? (size_t)h->partitions : 1, sizeof *h->next);
	if (!h->next) {
		snprintf(err, err_len, "out of memory");
		goto out;
	}
	if (kc_topic_offsets_for_time(rk, topic, h->partitions, until_ms, h->next, err, err_len) != KC_OK)
		goto out;
	rc = 0;
out:
	rd_kafka_destroy(rk);
	return rc;
}

/* A customer of the history: its orders before T, in order_number order, are by_user[first, end)
 * while the sequence is built, seq[first, end) after. */
struct cust_run {
	uint32_t partition;
	uint32_t user_id;
	uint64_t first, end;
};

/* --only-partitions LIST ("0,2"): a flag per partition, 1 for those listed. @return 0, or 2 (said why). */
static int parse_only(const char *list, int32_t partitions, unsigned char **keep_out)
{
	unsigned char *keep = calloc((size_t)partitions, 1);
	char *copy = strdup(list), *save = NULL;
	int rc = keep && copy ? 0 : 2;
	for (char *item = copy ? strtok_r(copy, ",", &save) : NULL; item && rc == 0;
	     item = strtok_r(NULL, ",", &save)) {
		int p;
		if (cli_parse_int("--only-partitions", item, 0, partitions - 1, &p))
			rc = 2;
		else
			keep[p] = 1;
	}
	free(copy);
	if (rc) {
		free(keep);
		keep = NULL;
	}
	*keep_out = keep;
	return rc;
}

/*
 * The sequence the walk hands the orders out in: customer after customer in the state's key
 * order (partition, user_id), so that each customer can be written (appended) as soon as its
 * last order is applied; each customer's orders in order_number order (by_user), those before
 * T only (a user's event times never decrease with order_number). *runs_out are the customers,
 * in that order, each with the range of its orders in *seq_out. With keep (--only-partitions),
 * only the customers of the partitions kept: the others' lines are skipped like those after T.
 */
static int build_sequence(const struct ds_history *h, int64_t until_ms, int32_t partitions, const unsigned char *keep,
			  struct cust_run **runs_out, uint64_t *n_runs_out, uint32_t **seq_out, uint64_t *n_seq_out)
{
	struct cust_run *runs = malloc((h->n_users ? h->n_users : 1) * sizeof *runs);
	struct cust_run *unsorted = malloc((h->n_users ? h->n_users : 1) * sizeof *unsorted);
	uint64_t *at = calloc((size_t)partitions + 1, sizeof *at); /* partition p's runs from at[p] */
	uint32_t *seq = malloc((h->n_by_user ? h->n_by_user : 1) * sizeof *seq);
	if (!runs || !unsorted || !at || !seq) {
		free(runs);
		free(unsorted);
		free(at);
		free(seq);
		return -1;
	}
	uint64_t n_runs = 0;
	for (uint64_t i = 0; i < h->n_by_user;) {
		uint32_t user = h->orders[h->by_user[i]].user_id;
		uint64_t end = i + 1;
		/* by_user[i, cut): the user's orders before T (their times never decrease) */
		uint64_t cut = h->orders[h->by_user[i]].event_time_ms < until_ms ? i + 1 : i;
		while (end < h->n_by_user && h->orders[h->by_user[end]].user_id == user) {
			ds_history_prefetch(h, h->by_user, h->n_by_user, end);
			if (cut == end && h->orders[h->by_user[end]].event_time_ms < until_ms)
				cut++;
			end++;
		}
		char key[16];
		int kl = snprintf(key, sizeof key, "%u", user);
		uint32_t partition = (uint32_t)kc_partition_for_key(key, (size_t)kl, partitions);
		if (!keep || keep[partition]) {
			unsorted[n_runs++] = (struct cust_run){ partition, user, i, cut };
			at[partition + 1]++;
		}
		i = end;
	}
	/* The runs come in user_id order (h->by_user is by user): a stable counting sort on the
	 * partition puts them in (partition, user_id) order. */
	for (int32_t p = 0; p < partitions; p++)
		at[p + 1] += at[p];
	for (uint64_t r = 0; r < n_runs; r++)
		runs[at[unsorted[r].partition]++] = unsorted[r];
	free(unsorted);
	free(at);
	/* The sequence: each run's orders before T, copied from by_user (the order table is not read
	 * again). */
	uint64_t n_seq = 0;
	for (uint64_t r = 0; r < n_runs; r++) {
		uint64_t first = n_seq, n = runs[r].end - runs[r].first;
		if (n)
			memcpy(seq + n_seq, h->by_user + runs[r].first, n * sizeof *seq);
		n_seq += n;
		runs[r].first = first;
		runs[r].end = n_seq;
	}
	*runs_out = runs;
	*n_runs_out = n_runs;
	*seq_out = seq;
	*n_seq_out = n_seq;
	return 0;
}

/*
 * Customers completed while one bucket was applied, then their records: encoded on a thread of
 * their own while the next bucket is applied, and written (appended) by the batch's thread after
 * it. Encoding took a third of the applying thread's time, while the thread sorting the buckets
 * waited for it.
 */
struct done_set {
	struct state_customer *cust;
	uint64_t n, cap;
	uint8_t *bytes; /* the records, one after the other: record i ends at end[i] */
	size_t *end;
	size_t cap_bytes;
	int rc; /* of the encoding: 0, or -1 (out of memory or a record that does not encode) */
};

static void done_set_free(struct done_set *d)
{
	free(d->cust);
	free(d->bytes);
	free(d->end);
}

/* Encodes the set's customers into its bytes (a thread's body); d->rc says how it went. */
static void *encode_set(void *arg)
{
	struct done_set *d = arg;
	d->rc = -1;
	size_t *e = realloc(d->end, (d->cap ? d->cap : 1) * sizeof *e);
	if (!e)
		return NULL;
	d->end = e;
	size_t used = 0;
	for (uint64_t i = 0; i < d->n; i++) {
		if (used + STATE_RECORD_MAX > d->cap_bytes) {
			size_t cap = d->cap_bytes ? d->cap_bytes * 2 : (size_t)1 << 20;
			uint8_t *t = realloc(d->bytes, cap);
			if (!t)
				return NULL;
			d->bytes = t;
			d->cap_bytes = cap;
		}
		size_t len = 0;
		if (state_customer_encode(&d->cust[i], d->bytes + used, STATE_RECORD_MAX, &len) != STATE_OK)
			return NULL;
		used += len;
		d->end[i] = used;
	}
	d->rc = 0;
	return NULL;
}

/* Applying the walk customer by customer, and writing each customer when it is complete. */
struct apply_state {
	const struct ds_history *h;
	const uint32_t *seq;
	const struct cust_run *runs;
	uint64_t n_runs, run;                 /* the customer of the current position */
	const struct state_product *products; /* by product_id (product_id 0: unknown), n_products */
	size_t n_products;
	struct state_customer cust; /* the current customer (user_id 0: nothing applied yet) */
	struct state_batch *b;
	uint64_t applied, customers;
	double put_s;            /* time spent writing customers */
	struct done_set done[2]; /* done[cur]: completed in the bucket being applied */
	int cur, encoding;       /* encoding: done[!cur] is being encoded by encoder */
	pthread_t encoder;
};

/* Keeps the current customer, if it has an applied order, to be written after the bucket. */
static int put_customer(struct apply_state *a)
{
	if (!a->cust.user_id)
		return 0;
	struct done_set *d = &a->done[a->cur];
	if (d->n == d->cap) {
		uint64_t cap = d->cap ? d->cap * 2 : 4096;
		struct state_customer *t = realloc(d->cust, cap * sizeof *t);
		if (!t) {
			log_error(cli_log, cli_command, "out of memory");
			return -1;
		}
		d->cust = t;
		d->cap = cap;
	}
	d->cust[d->n++] = a->cust;
	return 0;
}

/* Appends the records of an encoded set (runs are in key order) and empties it. */
static int write_set(struct apply_state *a, struct done_set *d)
{
	if (d->rc) {
		log_error(cli_log, cli_command, "encoding customers: out of memory");
		return -1;
	}
	double t = now_s();
	for (uint64_t i = 0; i < d->n; i++) {
		size_t from = i ? d->end[i - 1] : 0;
		int src = state_batch_put_encoded(a->b, d->cust[i].partition, d->cust[i].user_id, d->bytes + from,
						  d->end[i] - from, 1);
		if (src != STATE_OK) {
			log_error(cli_log, cli_command, "writing customer %u: %s", d->cust[i].user_id,
				  state_strerror(src));
			return -1;
		}
	}
	a->put_s += now_s() - t;
	a->customers += d->n;
	d->n = 0;
	return 0;
}

/*
 * After a bucket: waits for the set encoded meanwhile and writes it, then has the bucket's
 * customers encoded on a thread (on this one, and written, if none starts or if @p last).
 */
static int hand_over(struct apply_state *a, int last)
{
	if (a->encoding) {
		pthread_join(a->encoder, NULL);
		a->encoding = 0;
		if (write_set(a, &a->done[!a->cur]))
			return -1;
	}
	a->cur = !a->cur; /* the bucket's set is done[!cur] now */
	struct done_set *d = &a->done[!a->cur];
	if (d->n == 0)
		return 0;
	if (!last && pthread_create(&a->encoder, NULL, encode_set, d) == 0) {
		a->encoding = 1;
		return 0;
	}
	encode_set(d);
	return write_set(a, d);
}

/* Applies one bucket of the walk through the one apply function, order by order. */
static int apply_bucket(struct apply_state *a, const struct ds_walk_bucket *wb)
{
	for (uint64_t i = wb->from; i < wb->to; i++) {
		while (i >= a->runs[a->run].end) { /* the next customer: the current one is complete */
			if (put_customer(a))
				return -1;
			memset(&a->cust, 0, sizeof a->cust);
			a->run++;
		}
		uint32_t first = wb->first_line[i - wb->from], end = wb->first_line[i - wb->from + 1];
		if (first == end)
			continue;
		const struct ds_order *o = &wb->orders[i - wb->from];
		if (a->cust.user_id == 0) {
			a->cust.user_id = o->user_id;
			a->cust.partition = a->runs[a->run].partition;
		}
		for (uint32_t k = first; k < end; k++) {
			const struct ds_line *l = &wb->lines[k];
			struct event ev;
			ds_history_event(o, l, &ev);
			const struct state_product *sp = l->product_id < a->n_products ? &a->products[l->product_id]
										       : NULL;
			a->applied += state_customer_apply(&a->cust, &ev, sp && sp->product_id ? sp : NULL, 0) ==
				      STATE_APPLIED;
		}
	}
	return 0;
}

int cmd_backfill(int argc, char **argv)
{
	const char *data = NULL, *state_dir = NULL, *brokers = NULL, *topic = "segstream.events";
	int partitions = 0;
	unsigned file_mode = 0640; /* the state's files; its directory 0750 */
	int64_t until_ms = INT64_MAX;
	const char *only = NULL; /* --only-partitions LIST: the partitions whose customers are kept */
	struct ds_report rep = { .on_error = DS_ON_ERROR_SKIP, .progress = cli_read_progress, .stop = &cli_stop };
	struct cli_props props = { 0 };
	static const struct option opts[] = {
		{ "data", required_argument, 0, 'd' },
		{ "state", required_argument, 0, 'S' },
		{ "brokers", required_argument, 0, 'b' },
		{ "topic", required_argument, 0, 't' },
		{ "partitions", required_argument, 0, 'p' },
		{ "until", required_argument, 0, 'U' },
		{ "on-error", required_argument, 0, 'e' },
		{ "file-mode", required_argument, 0, 'F' },
		{ "only-partitions", required_argument, 0, 'O' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "d:S:b:t:p:U:e:X:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			data = optarg;
			break;
		case 'S':
			state_dir = optarg;
			break;
		case 'b':
			brokers = optarg;
			break;
		case 't':
			topic = optarg;
			break;
		case 'F':
			if (cli_parse_file_mode("--file-mode", optarg, &file_mode))
				return 2;
			break;
		case 'p':
			if (cli_parse_int("--partitions", optarg, 1, INT32_MAX, &partitions))
				return 2;
			break;
		case 'U': {
			int32_t day;
			if (cli_parse_iso_date(optarg, &day)) {
				fprintf(stderr, "backfill: --until takes YYYY-MM-DD\n");
				return 2;
			}
			until_ms = (int64_t)day * 86400000LL;
			break;
		}
		case 'O':
			only = optarg;
			break;
		case 'e':
			if (cli_parse_on_error(optarg, &rep))
				return 2;
			break;
		case 'X':
			if (cli_props_add(&props, optarg))
				return 2;
			break;
		case 'h':
			printf("usage: segstream backfill --data DIR --state DIR [--until YYYY-MM-DD (exclusive)]\n"
			       "         [--brokers|-b HOST:PORT [--topic T] [-X prop=value ...]] | [--partitions N]\n"
			       "         [--on-error skip|fail] [--file-mode MODE (0640)] [--only-partitions LIST "
			       "(e.g. 0,2)]\n"
			       "The state's partitions follow the events topic (from --brokers) or --partitions.\n"
			       "--only-partitions keeps the customers (and offsets) of those partitions alone: one\n"
			       "instance's share of a consumer group.\n");
			return 0;
		default:
			return 2;
		}
	}
	if (!data || !state_dir || (!brokers && partitions <= 0)) {
		fprintf(stderr, "backfill: --data, --state and either --brokers or --partitions are required\n");
		return 2;
	}
	double t0 = now_s();
	char err[512], path[4096];
	struct handover ho = { partitions, NULL };
	if (brokers && fetch_handover(brokers, &props, topic, until_ms, partitions, &ho, err, sizeof err)) {
		log_error(cli_log, cli_command, "%s", err);
		return 1;
	}
	unsigned char *keep = NULL; /* by partition, with --only-partitions: 1 to keep */
	if (only && parse_only(only, ho.partitions, &keep)) {
		free(ho.next);
		return 2;
	}
	struct ds_products products = { 0 };
	struct ds_customers customers = { 0 };
	struct ds_history h = { 0 };
	struct cust_run *runs = NULL;
	uint64_t n_runs = 0, n_seq = 0;
	uint32_t *seq = NULL;
	struct ds_walk *walk = NULL;
	struct apply_state ap = { 0 };
	struct state_product *state_products = NULL;
	struct event_name *names = NULL;
	size_t n_names = 0;
	struct state_db *db = NULL;
	struct state_batch *b = NULL;
	int rc = 1;
	snprintf(path, sizeof path, "%s/products.csv", data);
	if (ds_products_read(path, &products, &rep) != DS_OK)
		goto out;
	/* The products as the stream carries them, then as the state keeps them: the same two
	 * conversions the replay and the consumer make. */
	state_products = calloc(products.cap ? products.cap : 1, sizeof *state_products);
	if (!state_products)
		goto out;
	for (size_t id = 0; id < products.cap; id++) {
		struct event_product ep;
		if (ds_event_product(&products.by_id[id], &ep))
			state_product_from_event(&ep, &state_products[id]);
	}
	/* The department and aisle names, as replay publishes them (not counted in the rows read). */
	struct ds_report names_rep = { .on_error = rep.on_error };
	int nrc = ds_names_read(data, &names, &n_names, &names_rep);
	rep.errors += names_rep.errors;
	if (nrc != DS_OK)
		goto out;
	snprintf(path, sizeof path, "%s/customers.csv", data);
	int have_customers = access(path, R_OK) == 0;
	if (have_customers && ds_customers_read(path, &customers, &rep) != DS_OK)
		goto out;
	/* The orders and their event times first; then the lines, kept compactly in the order the
	 * customers are applied and written (build_sequence), not as the history's table. */
	double t_reference = now_s();
	if (ds_history_load_orders(data, &h, &rep) != DS_OK)
		goto out;
	double t_orders = now_s();
	if (ds_history_build_timeline(&h, customers.count ? &customers : NULL, 0) != DS_OK)
		goto out;
	if (build_sequence(&h, until_ms, ho.partitions, keep, &runs, &n_runs, &seq, &n_seq))
		goto out;
	double t_sequence = now_s();
	free(h.by_user); /* the sequence replaces it (and it is ours: the history is backfill's own) */
	h.by_user = NULL;
	h.n_by_user = h.cap_by_user = 0;
	snprintf(path, sizeof path, "%s/order_products__prior.csv", data);
	if (ds_walk_read(&h, seq, n_seq, path, (uint32_t)products.cap, &rep, &walk) != DS_OK)
		goto out;
	if (cli_stop)
		goto out;
	double t_read = now_s();
	if (isatty(2))
		fputc('\n', stderr);
	if (have_customers)
		cli_warn_no_demographics(&h);
	log_info(cli_log, cli_command,
		 "%" PRIu64 " rows read (%.2f s: reference files %.2f, orders %.2f, timeline and sequence %.2f, "
		 "lines %.2f); applying and writing LMDB",
		 rep.rows, t_read - t0, t_reference - t0, t_orders - t_reference, t_sequence - t_orders,
		 t_read - t_sequence);

	/* One bulk transaction: reference tables, customers in key order (append), offsets. */
	struct state_config cfg;
	state_config_init(&cfg);
	cfg.path = state_dir;
	cfg.file_mode = file_mode;
	if (state_open(&cfg, &db, err, sizeof err) != STATE_OK) {
		log_error(cli_log, cli_command, "%s", err);
		goto out;
	}
	/* A new state only: the customers are appended in key order (MDB_APPEND), which a state that
	 * has customers already refuses; say so, with both partition counts when they differ. */
	uint64_t had_customers;
	uint32_t had_partitions;
	int xrc = state_customers_extent(db, &had_customers, &had_partitions);
	if (xrc != STATE_OK) {
		fprintf(stderr, "backfill: %s: %s\n", state_dir, state_strerror(xrc));
		goto out;
	}
	if (had_customers && had_partitions != (uint32_t)ho.partitions) {
		fprintf(stderr,
			"backfill: the state in %s holds customers of %" PRIu32 " partitions, this backfill makes %d: "
			"give an empty --state directory (backfill builds a new state)\n",
			state_dir, had_partitions, ho.partitions);
		goto out;
	}
	if (had_customers) {
		fprintf(stderr,
			"backfill: the state in %s already holds %" PRIu64 " customers: give an empty --state "
			"directory (backfill builds a new state)\n",
			state_dir, had_customers);
		goto out;
	}
	if (state_batch_begin(db, &b) != STATE_OK)
		goto out;
	for (size_t id = 0; id < products.cap; id++)
		if (state_products[id].product_id && state_batch_put_product(b, &state_products[id]) != STATE_OK)
			goto out;
	for (size_t id = 0; id < customers.cap; id++) {
		struct event_customer ec;
		if (ds_event_customer(&customers.by_id[id], &ec) && state_batch_put_demographics(b, &ec) != STATE_OK)
			goto out;
	}
	for (size_t i = 0; i < n_names; i++)
		if (state_batch_put_name(b, &names[i]) != STATE_OK)
			goto out;
	/* Every line before T through the one apply function, customer after customer in key order,
	 * each customer appended as soon as it is complete. */
	ap = (struct apply_state){ .h = &h,
				   .seq = seq,
				   .runs = runs,
				   .n_runs = n_runs,
				   .products = state_products,
				   .n_products = products.cap,
				   .b = b };
	struct ds_walk_bucket wb;
	int wrc;
	double wait_s = 0, t_next = now_s(); /* time waiting for the next sorted bucket */
	while ((wrc = ds_walk_next(walk, &wb)) == 1 && !cli_stop) {
		wait_s += now_s() - t_next;
		if (apply_bucket(&ap, &wb) || hand_over(&ap, 0))
			goto out;
		t_next = now_s();
	}
	if (wrc < 0) {
		log_error(cli_log, cli_command, "%s", ds_strerror(wrc));
		goto out;
	}
	if (cli_stop || put_customer(&ap) || hand_over(&ap, 1))
		goto out;
	ds_walk_free(walk);
	walk = NULL;
	uint64_t applied = ap.applied, n = ap.customers;
	double t_apply = now_s() - ap.put_s;
	for (int p = 0; ho.next && p < ho.partitions; p++)
		if ((!keep || keep[p]) && state_batch_set_offset(b, topic, p, ho.next[p]) != STATE_OK)
			goto out;
	if (cli_stop) /* the last moment the state can stay as it was */
		goto out;
	int crc = state_batch_commit(b, NULL);
	b = NULL;
	if (crc != STATE_OK) {
		log_error(cli_log, cli_command, "commit: %s", state_strerror(crc));
		goto out;
	}
	double t_end = now_s();
	log_info(cli_log, cli_command,
		 "applied in %.2f s (%.2f s of it waiting for sorted buckets), customers written in %.2f s, "
		 "committed in %.2f s",
		 t_apply - t_read, wait_s, ap.put_s, t_end - t_apply - ap.put_s);
	printf("backfill: %" PRIu64 " rows read, %" PRIu64 " row errors, %" PRIu64 " lines applied, %" PRIu64
	       " customers over %d partitions\n",
	       rep.rows, rep.errors, applied, n, ho.partitions);
	printf("backfill: %.2f s (read %.2f s, apply %.2f s, write %.2f s)\n", t_end - t0, t_read - t0,
	       t_apply - t_read, t_end - t_apply);
	if (ho.next) {
		printf("backfill: the consumer continues %s at offsets", topic);
		for (int p = 0; p < ho.partitions; p++)
			if (!keep || keep[p])
				printf(" %d:%" PRId64, p, ho.next[p]);
		printf("\n");
	}
	rc = rep.errors && rep.on_error == DS_ON_ERROR_FAIL ? 1 : 0;
out:
	if (rc && cli_stop)
		log_error(cli_log, cli_command, "stopped by a signal; the state is as it was before");
	else if (rc)
		log_error(cli_log, cli_command, "failed");
	if (ap.encoding)
		pthread_join(ap.encoder, NULL);
	done_set_free(&ap.done[0]);
	done_set_free(&ap.done[1]);
	state_batch_abort(b);
	state_close(db);
	ds_walk_free(walk);
	free(seq);
	free(runs);
	free(state_products);
	free(names);
	free(ho.next);
	free(keep);
	ds_products_free(&products);
	ds_customers_free(&customers);
	ds_history_free(&h);
	return rc;
}
