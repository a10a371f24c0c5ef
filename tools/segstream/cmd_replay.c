/*
 * segstream replay: reads the history files, builds the event-time timeline (SPEC §2) and
 * produces the reference records (products, customers, department and aisle names) their
 * compacted topics do not already hold, then the order-product events, keyed by user_id, in
 * event-time order: one message per order carrying its lines (--encoding order, schema version 2,
 * the default) or one per line (--encoding line, version 1); each Kafka message stamped with its
 * event time (and, with --stamp, with its wall-clock produce time in a header:
 * KC_HEADER_PRODUCED_US).
 */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dataset/dataset.h"
#include "event/event.h"
#include "kclient/kclient.h"
#include "log/log.h"
#include "tools/segstream/cli.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* How the events go out (--encoding): a message per order (schema version 2, the default since
 * issue #15's figures: ten times fewer messages, ~3x faster end to end) or per line (1). */
enum encoding { ENCODING_LINE, ENCODING_ORDER };

/* Delivery reports: messages (kc_delivery), and the events they carry (each event message's
 * opaque is its number of events; a reference record's is NULL). */
struct replay_delivery {
	struct kc_delivery dr; /* first: the logger's opaque head, through it */
	uint64_t events_ok;
};

static void count_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct replay_delivery *d = opaque;
	kc_delivery_count(rk, m, &d->dr);
	if (!m->err)
		d->events_ok += (uintptr_t)m->_private;
}

/* Produces one message, waiting on a full queue (back-pressure, never a drop); events: how many it
 * carries (0 for a reference record). */
static int produce(rd_kafka_t *rk, rd_kafka_topic_t *topic, const char *key, size_t key_len, const void *val,
		   size_t len, int64_t timestamp_ms, int stamp, size_t events)
{
	struct kc_msg msg = { .rkt = topic,
			      .key = key,
			      .key_len = key_len,
			      .value = val,
			      .value_len = len,
			      .timestamp_ms = timestamp_ms,
			      .opaque = (void *)(uintptr_t)events };
	char err[512];
	if (stamp) { /* the wall clock now, in microseconds, as decimal digits (kclient.h) */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		char us[24];
		int n = snprintf(us, sizeof us, "%" PRId64, (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
		msg.headers = rd_kafka_headers_new(1);
		rd_kafka_header_add(msg.headers, KC_HEADER_PRODUCED_US, -1, us, n);
	}
	if (kc_produce(rk, &msg, KC_PRODUCE_WAIT_MS, err, sizeof err) == KC_OK)
		return 0;
	if (msg.headers) /* still ours on failure */
		rd_kafka_headers_destroy(msg.headers);
	log_error(cli_log, cli_command, "%s", err);
	return -1;
}

/* A producer's handle of a topic, or NULL (said on stderr). */
static rd_kafka_topic_t *topic_handle(rd_kafka_t *rk, const char *topic)
{
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	if (!rkt)
		log_error(cli_log, cli_command, "topic %s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
	return rkt;
}

/*
 * Creates a missing topic (kclient.h); a failure is a warning, since the broker may auto-create
 * it. With a partition count (> 0), a failure is an error (said): auto-creation would not give
 * that count, and an existing topic with another count would put customers in other partitions.
 * @return 0, or -1 (partitions > 0 only).
 */
static int ensure_topic(rd_kafka_t *rk, const char *topic, int compacted, int partitions)
{
	char err[512];
	if (kc_topic_ensure_partitions(rk, topic, compacted, partitions, err, sizeof err) == KC_OK)
		return 0;
	if (partitions <= 0) {
		log_warn(cli_log, cli_command, "%s", err);
		return 0;
	}
	log_error(cli_log, cli_command, "--partitions %d: %s", partitions, err);
	return -1;
}

/* A reference record keyed by its id in decimal. */
static int produce_keyed(rd_kafka_t *rk, rd_kafka_topic_t *topic, uint32_t id, const void *val, size_t len)
{
	char key[16];
	int kl = snprintf(key, sizeof key, "%u", id);
	int rc = produce(rk, topic, key, (size_t)kl, val, len, 0, 0, 0);
	rd_kafka_poll(rk, 0);
	return rc;
}

/* Which reference records replay produces (--reference). */
enum reference_mode { REFERENCE_CHANGED, REFERENCE_ALWAYS, REFERENCE_NEVER };

/* What a compacted reference topic holds: each id's latest record as encoded bytes (len 0: none
 * or a tombstone; REF_OTHER: too long to be ours, so never equal), for ids below cap. */
#define REF_MAX   80
#define REF_OTHER 255
struct held {
	size_t cap;
	int names;      /* the names topic: keys "department/ID", "aisle/ID", held at name_slot() */
	uint8_t *len;   /* cap lengths */
	uint8_t *bytes; /* cap * REF_MAX bytes */
};

/* Where the names topic's record of (kind, id) is held (ids below 1024: more than any catalog). */
#define NAME_SLOTS 2048
static size_t name_slot(uint8_t kind, uint32_t id)
{
	return id < 1024 ? (size_t)kind * 1024 + id : NAME_SLOTS;
}

/* kc_topic_read()'s callback: keeps a record whose key is an id below cap (later offsets win). */
static int hold_record(int32_t partition, int64_t offset, const void *key, size_t key_len, const void *value,
		       size_t value_len, void *ctx)
{
	struct held *h = ctx;
	const char *k = key;
	uint64_t id = 0;
	uint8_t kind = 0;
	(void)partition, (void)offset;
	if (h->names && key_len > 11 && memcmp(k, "department/", 11) == 0) {
		k += 11, key_len -= 11, kind = EVENT_NAME_DEPARTMENT;
	} else if (h->names && key_len > 6 && memcmp(k, "aisle/", 6) == 0) {
		k += 6, key_len -= 6, kind = EVENT_NAME_AISLE;
	} else if (h->names) {
		return 0;
	}
	if (!k || key_len == 0 || key_len > 10)
		return 0;
	for (size_t i = 0; i < key_len; i++) {
		if (k[i] < '0' || k[i] > '9')
			return 0;
		id = id * 10 + (uint64_t)(k[i] - '0');
	}
	if (h->names)
		id = id > UINT32_MAX ? NAME_SLOTS : name_slot(kind, (uint32_t)id);
	if (id >= h->cap)
		return 0;
	h->len[id] = !value ? 0 : value_len > REF_MAX ? REF_OTHER : (uint8_t)value_len;
	if (value && value_len <= REF_MAX)
		memcpy(h->bytes + id * REF_MAX, value, value_len);
	return 0;
}

/* Reads what topic holds for ids below cap (--reference changed). @return 0, or -1 (said). */
static int read_held(const char *brokers, const struct cli_props *props, const char *topic, size_t cap, int names,
		     struct held *h)
{
	char err[512];
	h->cap = cap;
	h->names = names;
	h->len = calloc(cap ? cap : 1, 1);
	h->bytes = malloc((cap ? cap : 1) * REF_MAX);
	if (!h->len || !h->bytes) {
		fprintf(stderr, "replay: out of memory\n");
		return -1;
	}
	int rc = kc_topic_read(brokers, props->items, props->n, topic, 30000, hold_record, h, err, sizeof err);
	if (rc == KC_OK || rc == KC_NOTFOUND)
		return 0;
	fprintf(stderr, "replay: reading what %s holds: %s\n", topic, err);
	return -1;
}

static void held_free(struct held *h)
{
	free(h->len);
	free(h->bytes);
}

/* Whether topic already holds exactly this record at slot (then it is not produced again). */
static int held_same(const struct held *h, size_t slot, const uint8_t *rec, size_t len)
{
	return slot < h->cap && h->len[slot] == len && memcmp(h->bytes + slot * REF_MAX, rec, len) == 0;
}

static void progress(uint64_t done, uint64_t total, double started, int tty)
{
	double el = now_s() - started, rate = el > 0 ? done / el : 0;
	double eta = rate > 0 ? (total - done) / rate : 0;
	if (tty) {
		int width = 30, fill = total ? (int)(width * done / total) : width;
		fprintf(stderr, "\rreplay [%.*s%*s] %5.1f%% %9.0f ev/s ETA %4.0fs", fill,
			"##############################", width - fill, "", total ? 100.0 * done / total : 100.0, rate,
			eta);
	} else {
		struct log_field f[] = { LOG_UINT("events", done), LOG_UINT("total", total),
					 LOG_DOUBLE("events_per_s", rate), LOG_DOUBLE("eta_s", eta) };
		log_fields(cli_log, LOG_LEVEL_INFO, cli_command, f, 4, "progress");
	}
}

int cmd_replay(int argc, char **argv)
{
	const char *data = NULL, *brokers = NULL, *events_topic = "segstream.events",
		   *products_topic = "segstream.products", *customers_topic = "segstream.customers",
		   *dlq_topic = "segstream.events.dlq", *names_topic = "segstream.names";
	int64_t from_ms = INT64_MIN, until_ms = INT64_MAX;
	uint64_t limit = UINT64_MAX, skip = 0;
	double rate = 0, speed = 0;
	int include_train = 0, broker_timeout_ms = KC_BROKER_TIMEOUT_MS;
	int partitions = 0; /* --partitions: the events topic's, when replay creates it (0: the broker's default) */
	enum encoding encoding = ENCODING_ORDER;
	enum reference_mode reference = REFERENCE_CHANGED;
	struct held held_products = { 0 }, held_customers = { 0 }, held_names = { 0 };
	struct event_name *names = NULL;
	size_t n_names_read = 0;
	uint64_t stamp_every = 0; /* --stamp: 1, every event; --stamp-every N: one event in N */
	struct ds_report rep = { .on_error = DS_ON_ERROR_SKIP, .progress = cli_read_progress, .stop = &cli_stop };
	struct cli_props props = { 0 };
	static const struct option opts[] = {
		{ "data", required_argument, 0, 'd' },
		{ "brokers", required_argument, 0, 'b' },
		{ "topic", required_argument, 0, 't' },
		{ "products-topic", required_argument, 0, 'P' },
		{ "customers-topic", required_argument, 0, 'C' },
		{ "names-topic", required_argument, 0, 'A' },
		{ "dlq-topic", required_argument, 0, 'D' },
		{ "from", required_argument, 0, 'F' },
		{ "until", required_argument, 0, 'U' },
		{ "limit", required_argument, 0, 'l' },
		{ "skip", required_argument, 0, 'k' },
		{ "rate", required_argument, 0, 'r' },
		{ "speed", required_argument, 0, 's' },
		{ "include-train", no_argument, 0, 'T' },
		{ "stamp", no_argument, 0, 'S' },
		{ "stamp-every", required_argument, 0, 'Y' },
		{ "on-error", required_argument, 0, 'e' },
		{ "broker-timeout", required_argument, 0, 1000 },
		{ "partitions", required_argument, 0, 1001 },
		{ "reference", required_argument, 0, 'R' },
		{ "encoding", required_argument, 0, 1002 },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "d:b:t:P:C:D:F:U:l:k:r:s:TSY:e:R:X:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			data = optarg;
			break;
		case 1000:
			if (cli_parse_seconds_ms("--broker-timeout", optarg, &broker_timeout_ms))
				return 2;
			break;
		case 1001:
			if (cli_parse_int("--partitions", optarg, 1, 100000, &partitions))
				return 2;
			break;
		case 1002:
			if (strcmp(optarg, "line") == 0) {
				encoding = ENCODING_LINE;
			} else if (strcmp(optarg, "order") == 0) {
				encoding = ENCODING_ORDER;
			} else {
				fprintf(stderr, "segstream replay: --encoding: '%s' is not one of line, order\n",
					optarg);
				return 2;
			}
			break;
		case 'b':
			brokers = optarg;
			break;
		case 't':
			events_topic = optarg;
			break;
		case 'P':
			products_topic = optarg;
			break;
		case 'C':
			customers_topic = optarg;
			break;
		case 'A':
			names_topic = optarg;
			break;
		case 'D':
			dlq_topic = optarg;
			break;
		case 'F':
		case 'U': {
			int32_t day;
			if (cli_parse_iso_date(optarg, &day)) {
				fprintf(stderr, "replay: --from/--until take YYYY-MM-DD\n");
				return 2;
			}
			if (c == 'F')
				from_ms = (int64_t)day * 86400000LL;
			else
				until_ms = (int64_t)day * 86400000LL;
			break;
		}
		case 'l':
			if (cli_parse_u64("--limit", optarg, 0, UINT64_MAX, &limit))
				return 2;
			break;
		case 'k':
			if (cli_parse_u64("--skip", optarg, 0, UINT64_MAX, &skip))
				return 2;
			break;
		case 'r':
			if (cli_parse_double("--rate", optarg, 0, 1e9, &rate))
				return 2;
			break;
		case 's':
			if (cli_parse_double("--speed", optarg, 0, 1e9, &speed))
				return 2;
			break;
		case 'T':
			include_train = 1;
			break;
		case 'S':
			stamp_every = 1;
			break;
		case 'Y':
			if (cli_parse_u64("--stamp-every", optarg, 1, UINT64_MAX, &stamp_every))
				return 2;
			break;
		case 'e':
			if (cli_parse_on_error(optarg, &rep))
				return 2;
			break;
		case 'R':
			if (strcmp(optarg, "changed") == 0) {
				reference = REFERENCE_CHANGED;
			} else if (strcmp(optarg, "always") == 0) {
				reference = REFERENCE_ALWAYS;
			} else if (strcmp(optarg, "never") == 0) {
				reference = REFERENCE_NEVER;
			} else {
				fprintf(stderr,
					"segstream replay: --reference: '%s' is not one of changed, always, never\n",
					optarg);
				return 2;
			}
			break;
		case 'X':
			/* The partitioner decides each customer's partition, which backfill and the state's
			 * keys assume (KC_PARTITIONER): not a setting a user may change. */
			if (strncmp(optarg, "partitioner=", 12) == 0) {
				fprintf(stderr,
					"segstream replay: -X partitioner: fixed to %s (a customer's partition "
					"must be the same for replay and backfill)\n",
					KC_PARTITIONER);
				return 2;
			}
			if (cli_props_add(&props, optarg))
				return 2;
			break;
		case 'h':
			printf("usage: segstream replay --data DIR --brokers|-b HOST:PORT [--topic T]\n"
			       "         [--products-topic T] [--customers-topic T] [--names-topic T] [--dlq-topic T]\n"
			       "         [--from YYYY-MM-DD] [--until YYYY-MM-DD (exclusive)]\n"
			       "         [--skip N] [--limit N] [--rate EVENTS_PER_S | --speed X] [--include-train]\n"
			       "         [--stamp | --stamp-every N]\n"
			       "         [--on-error skip|fail] [--reference changed|always|never] [--partitions N]\n"
			       "         [--encoding order|line (order)]\n"
			       "         [-X librdkafka.property=value ...] [--broker-timeout SEC (120; 0: wait until "
			       "stopped)]\n"
			       "  --reference  which products, customers and names records to produce: those the\n"
			       "               compacted topics do not already hold as they are (changed, the\n"
			       "               default), all of them (always), or none (never)\n"
			       "  --partitions the events topic's partition count when replay creates it (default:\n"
			       "               the broker's); an existing events topic must have N, else exit 1\n"
			       "  --encoding   one message per order carrying its lines (order, the default: schema\n"
			       "               version 2) or one per order line (line: version 1); the consumer\n"
			       "               reads both, mixed in one topic. --skip, --limit and --rate count\n"
			       "               events (lines) either way; Kafka offsets, and so the consumer's lag,\n"
			       "               count messages (orders with the default)\n");
			return 0;
		default:
			return 2;
		}
	}
	if (!data || !brokers) {
		fprintf(stderr, "replay: --data and --brokers are required\n");
		return 2;
	}
	double started = now_s();
	char path[4096], err[512];
	struct ds_products products;
	struct ds_customers customers = { 0 };
	struct ds_history h = { 0 };
	snprintf(path, sizeof path, "%s/products.csv", data);
	int rc = ds_products_read(path, &products, &rep);
	if (rc != DS_OK) {
		log_error(cli_log, cli_command, "%s: %s", path, ds_strerror(rc));
		return 1;
	}
	/* departments.csv and aisles.csv, if there: the names the reports and profiles go by (their
	 * rows are not among the rows read: those count the products, customers and history). */
	struct ds_report names_rep = { .on_error = rep.on_error };
	rc = ds_names_read(data, &names, &n_names_read, &names_rep);
	rep.errors += names_rep.errors;
	if (rc != DS_OK) {
		fprintf(stderr, "replay: %s: names of departments and aisles: %s\n", data, ds_strerror(rc));
		ds_products_free(&products);
		return 1;
	}
	snprintf(path, sizeof path, "%s/customers.csv", data);
	int have_customers = access(path, R_OK) == 0;
	if (have_customers && (rc = ds_customers_read(path, &customers, &rep)) != DS_OK) {
		log_error(cli_log, cli_command, "%s: %s", path, ds_strerror(rc));
		ds_products_free(&products);
		free(names);
		return 1;
	}
	struct replay_delivery rd = { .dr = { .kc = { .log = cli_log } } };
	/* A queue of 100,000 messages keeps the broker busy; a longer one costs librdkafka more CPU
	 * than it saves (full history: 18 CPU-seconds instead of 28 with 1M; 30,000 stalls). */
	const char *mine[] = { "enable.idempotence",
			       "true",
			       "linger.ms",
			       "20",
			       "batch.num.messages",
			       "10000",
			       "compression.type",
			       "lz4",
			       "partitioner",
			       KC_PARTITIONER,
			       "queue.buffering.max.messages",
			       "100000",
			       "queue.buffering.max.kbytes",
			       "1048576" };
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk = NULL;
	if (kc_conf_new(brokers, mine, (int)(sizeof mine / sizeof mine[0]), props.items, props.n, &conf, err,
			sizeof err) == KC_OK) {
		kc_conf_set_logger(conf); /* dr starts with the kc_opaque: librdkafka's lines are logs too */
		rd_kafka_conf_set_dr_msg_cb(conf, count_delivery);
		rd_kafka_conf_set_opaque(conf, &rd);
		kc_new(RD_KAFKA_PRODUCER, conf, &rk, err, sizeof err);
	}
	if (!rk || kc_wait_brokers(rk, cli_log, "replay", broker_timeout_ms, &cli_stop, err, sizeof err) != KC_OK) {
		log_error(cli_log, cli_command, "%s", err);
		rc = 1;
		goto out;
	}
	ensure_topic(rk, products_topic, 1, 0);
	ensure_topic(rk, customers_topic, 1, 0);
	ensure_topic(rk, names_topic, 1, 0);
	rd_kafka_topic_t *products_rkt = topic_handle(rk, products_topic);
	rd_kafka_topic_t *customers_rkt = topic_handle(rk, customers_topic);
	rd_kafka_topic_t *names_rkt = topic_handle(rk, names_topic);
	rd_kafka_topic_t *events_rkt = NULL;
	rc = products_rkt && customers_rkt && names_rkt ? 0 : -1;
	/* --reference changed: what the compacted topics hold, so that a record they already hold
	 * as it is is not produced again (a restarted consumer would load it once more). */
	if (rc == 0 && reference == REFERENCE_CHANGED)
		rc = read_held(brokers, &props, products_topic, products.cap, 0, &held_products) ||
		     read_held(brokers, &props, customers_topic, customers.cap, 0, &held_customers) ||
		     read_held(brokers, &props, names_topic, NAME_SLOTS, 1, &held_names);
	uint64_t n_products = 0, n_events = 0, total = 0, same_products = 0, same_customers = 0;
	uint8_t ref[REF_MAX];
	size_t ref_len;
	for (size_t id = 0; id < products.cap && rc == 0 && reference != REFERENCE_NEVER; id++) {
		struct event_product ep;
		if (ds_event_product(&products.by_id[id], &ep) &&
		    event_product_encode(&ep, ref, sizeof ref, &ref_len) == EVENT_OK) {
			if (held_same(&held_products, ep.product_id, ref, ref_len)) {
				same_products++;
				continue;
			}
			rc = produce_keyed(rk, products_rkt, ep.product_id, ref, ref_len);
			n_products++;
		}
	}
	uint64_t n_customers = 0;
	for (size_t id = 0; id < customers.cap && rc == 0 && reference != REFERENCE_NEVER; id++) {
		struct event_customer ec;
		if (ds_event_customer(&customers.by_id[id], &ec) &&
		    event_customer_encode(&ec, ref, sizeof ref, &ref_len) == EVENT_OK) {
			if (held_same(&held_customers, ec.user_id, ref, ref_len)) {
				same_customers++;
				continue;
			}
			rc = produce_keyed(rk, customers_rkt, ec.user_id, ref, ref_len);
			n_customers++;
		}
	}
	uint64_t n_names = 0, same_names = 0;
	for (size_t i = 0; i < n_names_read && rc == 0 && reference != REFERENCE_NEVER; i++) {
		char key[32];
		int kl = event_name_key(&names[i], key, sizeof key);
		if (kl < 0 || event_name_encode(&names[i], ref, sizeof ref, &ref_len) != EVENT_OK)
			continue;
		if (held_same(&held_names, name_slot(names[i].kind, names[i].id), ref, ref_len)) {
			same_names++;
			continue;
		}
		rc = produce(rk, names_rkt, key, (size_t)kl, ref, ref_len, 0, 0, 0);
		rd_kafka_poll(rk, 0);
		n_names++;
	}
	held_free(&held_products);
	held_free(&held_customers);
	held_free(&held_names);
	/* The history is read while librdkafka delivers the reference data (and a consumer started
	 * beside the replay loads it). */
	double reading = now_s();
	if (rc == 0 && ((rc = ds_history_load(data, include_train, &h, &rep)) != DS_OK ||
			(rc = ds_history_build_timeline(&h, customers.count ? &customers : NULL, 1)) != DS_OK))
		log_error(cli_log, cli_command, "%s: %s", data, ds_strerror(rc));
	double loaded = now_s();
	if (isatty(2))
		fputc('\n', stderr);
	if (rc == 0 && have_customers)
		cli_warn_no_demographics(&h);
	/* Reference data is complete before the events topic exists: a consumer started beside the
	 * replay waits for that topic, then reads the reference topics to their ends. So the events
	 * topic is created only now, and its handle after it (a handle's metadata request would
	 * auto-create the topic). */
	if (rd_kafka_flush(rk, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR && rc == 0)
		rc = -1;
	if (rc == 0 && ensure_topic(rk, events_topic, 0, partitions) != 0)
		rc = -1;
	if (rc == 0) /* the consumer's dead letters go there: a reader (kcat) finds it before the first one */
		ensure_topic(rk, dlq_topic, 0, 0);
	if (rc == 0 && !(events_rkt = topic_handle(rk, events_topic)))
		rc = -1;
	for (uint64_t i = 0; i < h.n_timeline; i++) {
		const struct ds_order *o = &h.orders[h.timeline[i]];
		if (o->event_time_ms >= from_ms && o->event_time_ms < until_ms)
			total += o->n_lines;
	}
	total = total > skip ? total - skip : 0;
	if (total > limit)
		total = limit;
	uint64_t skipped = 0, n_messages = 0;
	static struct event evs[EVENT_ORDER_LINES_MAX]; /* one message's events */
	static uint8_t buf[EVENT_ORDER_ENCODED_MAX];    /* ... encoded */
	int tty = isatty(2);
	double ev_started = now_s(), last_progress = ev_started;
	/* --rate's clock, and the "produce" time reported, start at the first event produced: walking
	 * past --skip's events takes time (~1 s over a full-scale history on a busy machine), which
	 * the pacing must not make up for in one burst, nor the reported rate count. */
	double first_at = -1;
	int64_t first_event_ms = h.n_timeline ? h.orders[h.timeline[0]].event_time_ms : 0;
	if (from_ms > first_event_ms)
		first_event_ms = from_ms;
	for (uint64_t i = 0; i < h.n_timeline && rc == 0 && n_events < limit && !cli_stop; i++) {
		ds_history_prefetch(&h, h.timeline, h.n_timeline, i);
		uint32_t oid = h.timeline[i];
		const struct ds_order *o = &h.orders[oid];
		if (o->event_time_ms < from_ms || o->event_time_ms >= until_ms)
			continue;
		uint32_t first_line = 0; /* --skip: the first events of the selection are not produced */
		if (skipped < skip) {
			uint64_t left = skip - skipped;
			first_line = left >= o->n_lines ? o->n_lines : (uint32_t)left;
			skipped += first_line;
			if (first_line == o->n_lines)
				continue;
		}
		if (speed > 0) { /* event-time compression: wait until this order's time has come */
			double due = ev_started + (double)(o->event_time_ms - first_event_ms) / 1000.0 / speed;
			while (now_s() < due && !cli_stop)
				rd_kafka_poll(rk, 5);
		}
		char key[16];
		int kl = snprintf(key, sizeof key, "%u", o->user_id);
		uint32_t k = first_line;
		while (k < o->n_lines && rc == 0 && n_events < limit) {
			/* One message: a line's event (line), or up to EVENT_ORDER_LINES_MAX of the order's (order). */
			size_t n_ev = 0, want = encoding == ENCODING_ORDER ? EVENT_ORDER_LINES_MAX : 1;
			for (; k < o->n_lines && n_ev < want && n_events + n_ev < limit; k++) {
				const struct ds_line *l = &h.lines[o->first_line + k];
				ds_history_event(o, l, &evs[n_ev]);
				if (event_validate(&evs[n_ev], NULL, 0) != EVENT_OK) {
					log_warn(cli_log, cli_command, "order %u line %u: invalid event, skipped", oid,
						 l->add_to_cart);
					rep.errors++;
					continue;
				}
				n_ev++;
			}
			size_t len = 0;
			if (n_ev == 0 ||
			    (encoding == ENCODING_ORDER ? event_order_encode(evs, n_ev, buf, sizeof buf, &len)
							: event_encode(&evs[0], buf, sizeof buf, &len)) != EVENT_OK)
				continue; /* nothing valid (said above); an encoding of valid events does not fail */
			if (first_at < 0)
				first_at = now_s();
			if (rate > 0) {
				double due = first_at + (double)n_events / rate;
				while (now_s() < due)
					rd_kafka_poll(rk, 1);
			}
			/* Stamped when it carries an event whose number is a multiple of --stamp-every. */
			int stamp = stamp_every &&
				    (n_events % stamp_every == 0 || stamp_every - n_events % stamp_every < n_ev);
			rc = produce(rk, events_rkt, key, (size_t)kl, buf, len, evs[0].event_time_ms, stamp, n_ev);
			n_events += n_ev;
			n_messages++;
		}
		if (i % 64 == 0) { /* delivery reports and progress: often enough, not per order */
			rd_kafka_poll(rk, 0);
			if (now_s() - last_progress >= 1.0) {
				progress(n_events, total, ev_started, tty);
				last_progress = now_s();
			}
		}
	}
	rd_kafka_resp_err_t fe = rd_kafka_flush(rk, 300000);
	if (tty)
		progress(n_events, total, ev_started, tty), fputc('\n', stderr);
	int left = rd_kafka_outq_len(rk);
	double done = now_s();
	printf("replay: reference records produced: products %" PRIu64 " (%" PRIu64
	       " held as they are), customers %" PRIu64 " (%" PRIu64 " held as they are), names %" PRIu64 " (%" PRIu64
	       " held as they are)\n",
	       n_products, same_products, n_customers, same_customers, n_names, same_names);
	printf("replay: customers %" PRIu64 "\n", n_customers);
	printf("replay: rows read %" PRIu64 ", row errors %" PRIu64 ", products %" PRIu64 ", events produced %" PRIu64
	       ", delivered %" PRIu64 ", failed %" PRIu64 ", undelivered %d\n",
	       rep.rows, rep.errors, n_products, n_events, rd.events_ok, rd.dr.failed, left);
	if (encoding == ENCODING_ORDER)
		printf("replay: encoding order: %" PRIu64 " messages, %.2f events a message\n", n_messages,
		       n_messages ? (double)n_events / (double)n_messages : 0.0);
	if (first_at < 0)
		first_at = ev_started;
	printf("replay: elapsed %.2f s (load %.2f s, produce %.2f s, %.0f events/s)\n", done - started,
	       loaded - reading, done - first_at, done > first_at ? n_events / (done - first_at) : 0.0);
	if (rd.dr.failed)
		log_error(cli_log, cli_command, "%" PRIu64 " messages failed to deliver (first: %s)", rd.dr.failed,
			  rd.dr.first_error);
	if (rc != 0 || fe != RD_KAFKA_RESP_ERR_NO_ERROR || left > 0 || rd.dr.failed || cli_stop)
		rc = 1;
	rd_kafka_topic_t *handles[] = { products_rkt, customers_rkt, names_rkt, events_rkt };
	for (size_t i = 0; i < sizeof handles / sizeof handles[0]; i++)
		if (handles[i])
			rd_kafka_topic_destroy(handles[i]);
	rd_kafka_destroy(rk);
out:
	ds_products_free(&products);
	ds_customers_free(&customers);
	ds_history_free(&h);
	free(names);
	return rc;
}
