/* segstream consume | get | dump | snapshot: the state and what is read from it. */
#define _GNU_SOURCE /* syscall(SYS_gettid): a thread's own nice value (Linux) */
#include <getopt.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <zlib.h>
#include <pthread.h>
#include <time.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "consumer/consumer.h"
#include "dataset/dataset.h"
#include "kclient/kclient.h"
#include "segment/segment.h"
#include "snapshot/snapshot.h"
#include "state/state.h"
#include "tools/segstream/cli.h"

static int open_state(const char *path, int read_only, int durable, struct state_db **db)
{
	struct state_config cfg;
	char err[512];
	state_config_init(&cfg);
	cfg.path = path;
	cfg.read_only = read_only;
	cfg.durable = durable;
	int rc = state_open(&cfg, db, err, sizeof err);
	if (rc != STATE_OK)
		fprintf(stderr, "%s\n", err);
	return rc;
}

/*
 * Snapshots beside the consumer: a thread of its own with its own LMDB read transactions, so
 * the consumer's batches never wait for it. It publishes every `every_s` seconds, on SIGUSR1,
 * at the end of each catch-up, and once more when the consumer stops.
 */
static int snapshot_to_kafka(const char *brokers, const char *topic, const struct cli_props *props, const char *dir,
			     uint64_t seq);

struct snapshotter {
	struct state_db *db;
	const char *dir;
	const char *brokers;          /* with segments_topic: each snapshot also goes to Kafka */
	const char *segments_topic;
	const struct cli_props *props;
	double every_s;
	uint64_t every_events;   /* also after this many events (0: not by count) */
	uint64_t next_events;
	struct snap_options opts;
	struct segment_config cfg;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int requested, done;
	uint64_t published, failed;
};

static void request_snapshot(void *ctx)
{
	struct snapshotter *s = ctx;
	pthread_mutex_lock(&s->lock);
	s->requested = 1;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
}

/* After each committed batch: a snapshot once every_events more events are in the state. */
static void count_events(void *ctx, uint64_t events_total)
{
	struct snapshotter *s = ctx;
	if (s->every_events && events_total >= s->next_events) {
		s->next_events = (events_total / s->every_events + 1) * s->every_events;
		request_snapshot(s);
	}
}

static void publish_one(struct snapshotter *s)
{
	static struct snap_report r; /* only this thread publishes */
	uint64_t seq;
	char err[512];
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = snap_publish_files(s->db, &s->cfg, &s->opts, s->dir, &seq, &r, err, sizeof err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc != SNAP_OK) {
		s->failed++;
		fprintf(stderr, "consume: snapshot failed: %s\n", err);
		return;
	}
	s->published++;
	fprintf(stderr, "consume: snapshot %" PRIu64 " (%" PRIu64 " customers) in %.0f ms\n", seq, r.customers,
		(double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	if (s->segments_topic && snapshot_to_kafka(s->brokers, s->segments_topic, s->props, s->dir, seq) != 0)
		s->failed++;
}

static void *snapshot_thread(void *arg)
{
	struct snapshotter *s = arg;
	/* Snapshots yield the CPU to the consumer: on Linux a thread's nice value is its own. */
	pid_t tid = (pid_t)syscall(SYS_gettid);
	if (setpriority(PRIO_PROCESS, (id_t)tid, 15) != 0)
		fprintf(stderr, "consume: warning: could not lower the snapshot thread's priority\n");
	/* ... and the disk too, where the I/O scheduler honours it (bfq): the idle class
	 * (ioprio_set: IOPRIO_WHO_PROCESS = 1, IOPRIO_CLASS_IDLE = 3). */
	syscall(SYS_ioprio_set, 1, (int)tid, 3 << 13);
	pthread_mutex_lock(&s->lock);
	for (;;) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		double next = s->every_s > 0 ? s->every_s : 0.2;
		until.tv_sec += (time_t)next;
		until.tv_nsec += (long)((next - (double)(time_t)next) * 1e9);
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		int timed_out = 0;
		while (!s->requested && !s->done && !cli_snapshot_request && !timed_out)
			timed_out = pthread_cond_timedwait(&s->wake, &s->lock, &until) != 0;
		if (s->done)
			break;
		int due = s->requested || cli_snapshot_request || (timed_out && s->every_s > 0);
		s->requested = 0;
		cli_snapshot_request = 0;
		if (!due)
			continue;
		pthread_mutex_unlock(&s->lock);
		publish_one(s);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int cmd_consume(int argc, char **argv)
{
	struct cons_config cfg;
	cons_config_init(&cfg);
	const char *state_dir = NULL;
	int durable = 1;
	struct cli_props props = { 0 };
	struct snapshotter snaps = { .every_s = 0 };
	snap_options_init(&snaps.opts);
	segment_config_init(&snaps.cfg);
	static const struct option opts[] = {
		{ "state", required_argument, 0, 'S' }, { "brokers", required_argument, 0, 'b' },
		{ "snapshot-dir", required_argument, 0, 'O' }, { "snapshot-every", required_argument, 0, 'V' },
		{ "snapshot-keep", required_argument, 0, 'K' }, { "snapshot-every-events", required_argument, 0, 'W' },
		{ "segments-topic", required_argument, 0, 'G' },
		{ "topic", required_argument, 0, 't' }, { "products-topic", required_argument, 0, 'P' },
		{ "customers-topic", required_argument, 0, 'C' },
		{ "dlq-topic", required_argument, 0, 'D' }, { "group", required_argument, 0, 'g' },
		{ "batch-events", required_argument, 0, 'n' }, { "batch-ms", required_argument, 0, 'm' },
		{ "exit-at-end", no_argument, 0, 'E' }, { "idle-ms", required_argument, 0, 'I' },
		{ "no-sync", no_argument, 0, 'N' }, { "wake-ms", required_argument, 0, 'w' },
		{ "verbose", no_argument, 0, 'v' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "S:b:t:P:C:D:g:n:m:EI:Nw:vX:O:V:K:W:G:h", opts, NULL)) != -1) {
		switch (c) {
		case 'S': state_dir = optarg; break;
		case 'O': snaps.dir = optarg; break;
		case 'V': snaps.every_s = atof(optarg); break;
		case 'K': snaps.opts.keep = atoi(optarg); break;
		case 'W': snaps.every_events = strtoull(optarg, NULL, 10); break;
		case 'G': snaps.segments_topic = optarg; break;
		case 'b': cfg.brokers = optarg; break;
		case 't': cfg.events_topic = optarg; break;
		case 'P': cfg.products_topic = optarg; break;
		case 'C': cfg.customers_topic = optarg; break;
		case 'D': cfg.dlq_topic = optarg; break;
		case 'g': cfg.group_id = optarg; break;
		case 'n': cfg.batch_max_events = atoi(optarg); break;
		case 'm': cfg.batch_max_ms = atoi(optarg); break;
		case 'E': cfg.exit_at_end = 1; break;
		case 'I': cfg.idle_ms = atoi(optarg); break;
		case 'N': durable = 0; break;
		case 'w': cfg.wake_ms = atoi(optarg); break;
		case 'v': cfg.verbose = 1; break;
		case 'X':
			if (cli_props_add(&props, optarg))
				return 2;
			break;
		case 'h':
			printf("usage: segstream consume --state DIR --brokers HOST:PORT [--group ID] [--exit-at-end [--idle-ms MS]]\n"
			       "         [--topic T] [--products-topic T] [--customers-topic T] [--dlq-topic T]\n"
			       "         [--batch-events N] [--batch-ms MS] [--wake-ms MS (0: off)]\n"
			       "         [--no-sync] [--verbose] [-X librdkafka.property=value ...]\n"
			       "         [--snapshot-dir DIR [--snapshot-every SECONDS] [--snapshot-every-events N]\n"
			       "                             [--snapshot-keep K] [--segments-topic T]]\n"
			       "  Snapshots: every SECONDS and/or N events, on SIGUSR1, at the end of each catch-up\n"
			       "  and at exit; with --segments-topic each also goes to Kafka as a delta (one transaction).\n");
			return 0;
		default: return 2;
		}
	}
	if (!state_dir || !cfg.brokers || cfg.batch_max_events <= 0 || cfg.batch_max_ms <= 0 || cfg.wake_ms < 0) {
		fprintf(stderr, "consume: --state and --brokers are required; batch bounds must be positive\n");
		return 2;
	}
	cfg.props = props.items;
	cfg.n_props = props.n;
	cfg.stop = &cli_stop;
#ifdef M_ARENA_MAX
	/* glibc gives each thread its own heap and keeps what is freed there for that thread;
	 * librdkafka's threads fill theirs while catching up. One heap for the whole process:
	 * 25 MiB less peak RSS at full scale, the same throughput (BENCHMARKS.md). */
	mallopt(M_ARENA_MAX, 1);
#endif
	struct state_db *db;
	if (open_state(state_dir, 0, durable, &db) != STATE_OK)
		return 1;
	pthread_t snap_thread;
	int snapshots = snaps.dir != NULL;
	if (snapshots) {
		snaps.db = db;
		snaps.brokers = cfg.brokers;
		snaps.props = &props;
		pthread_mutex_init(&snaps.lock, NULL);
		pthread_cond_init(&snaps.wake, NULL);
		cfg.on_caught_up = request_snapshot;
		cfg.caught_up_ctx = &snaps;
		cfg.on_committed = count_events;
		cfg.committed_ctx = &snaps;
		snaps.next_events = snaps.every_events;
		if (pthread_create(&snap_thread, NULL, snapshot_thread, &snaps) != 0) {
			fprintf(stderr, "consume: cannot start the snapshot thread\n");
			state_close(db);
			return 1;
		}
	}
	struct cons_stats st;
	char err[512] = "";
	int rc = cons_run(&cfg, db, &st, err, sizeof err);
	if (snapshots) {
		pthread_mutex_lock(&snaps.lock);
		snaps.done = 1;
		pthread_cond_signal(&snaps.wake);
		pthread_mutex_unlock(&snaps.lock);
		pthread_join(snap_thread, NULL);
		if (rc == CONS_OK)
			publish_one(&snaps); /* the final state */
		printf("consume: %" PRIu64 " snapshots published, %" PRIu64 " failed\n", snaps.published, snaps.failed);
		pthread_cond_destroy(&snaps.wake);
		pthread_mutex_destroy(&snaps.lock);
	}
	state_close(db);
	printf("consume: events read %" PRIu64 ", applied %" PRIu64 ", duplicates %" PRIu64 ", train ignored %" PRIu64
	       ", dead-lettered %" PRIu64 ", products %" PRIu64 ", customers %" PRIu64 ", batches %" PRIu64 "\n",
	       st.messages, st.applied, st.duplicates, st.ignored, st.invalid, st.products, st.customers, st.batches);
	printf("consume: %.2f s, %.0f events/s, batch commit p50 %.2f ms p99 %.2f ms\n", st.seconds,
	       st.seconds > 0 ? st.messages / st.seconds : 0.0, st.commit_ms_p50, st.commit_ms_p99);
	if (rc != CONS_OK) {
		fprintf(stderr, "consume: %s: %s\n", cons_strerror(rc), err);
		return 1;
	}
	return 0;
}

/*
 * Parses "--state DIR [-T key=value ...] [ARG]" for get and dump: the thresholds of SPEC §4
 * come from configuration (segment_config_set names the keys).
 */
static int parse_read_args(int argc, char **argv, const char **state_dir, struct segment_config *cfg,
			   const char **arg)
{
	segment_config_init(cfg);
	*state_dir = NULL;
	*arg = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--state") == 0 && i + 1 < argc) {
			*state_dir = argv[++i];
		} else if (strcmp(argv[i], "-T") == 0 && i + 1 < argc) {
			if (segment_config_set(cfg, argv[++i]) != 0) {
				fprintf(stderr, "segstream: unknown threshold '%s'\n", argv[i]);
				return -1;
			}
		} else if (!*arg && argv[i][0] != '-') {
			*arg = argv[i];
		} else {
			return -1;
		}
	}
	return *state_dir ? 0 : -1;
}

static void print_customer(const struct segment_config *cfg, const struct state_customer *c,
			   const struct event_customer *d)
{
	struct segment_labels l;
	segment_label(cfg, c, &l);
	printf("user_id       %u\npartition     %u\norders        %u\nmax_order     %u\nitems         %u\n"
	       "priced_items  %u\nspend         %" PRIu64 ".%02" PRIu64 "\nreorders      %u\n",
	       c->user_id, c->partition, c->orders, c->max_order, c->items, c->priced_items, c->spend_cents / 100,
	       c->spend_cents % 100, c->reorders);
	if (l.median_days_x2 >= 0)
		printf("median_days   %d%s\n", l.median_days_x2 / 2, l.median_days_x2 % 2 ? ".5" : "");
	printf("loyalty       %s\nspending      %s\nfrequency     %s\nlow_activity  %s\n",
	       segment_loyalty_name(l.loyalty), segment_spending_name(l.spending), segment_frequency_name(l.frequency),
	       l.low_activity ? "yes" : "no");
	if (d) {
		const char *state = event_state_name(d->state), *fam = event_fam_status_name(d->fam_status);
		printf("state         %s\nage           %u\nn_dependants  %u\nfam_status    %s\nincome        %u\n",
		       state ? state : "?", d->age, d->n_dependants, fam ? fam : "?", d->income);
	}
}

int cmd_get(int argc, char **argv)
{
	const char *dir, *user;
	struct segment_config cfg;
	if (parse_read_args(argc, argv, &dir, &cfg, &user) || !user) {
		fprintf(stderr, "usage: segstream get --state DIR [-T threshold=value ...] USER_ID\n");
		return 2;
	}
	char *end;
	unsigned long id = strtoul(user, &end, 10);
	if (*end || id == 0 || id > UINT32_MAX) {
		fprintf(stderr, "get: '%s' is not a user id\n", user);
		return 2;
	}
	struct state_db *db;
	if (open_state(dir, 1, 1, &db) != STATE_OK)
		return 1;
	struct state_customer c;
	struct event_customer d;
	int rc = state_get(db, -1, (uint32_t)id, &c);
	int drc = state_demographics_get(db, (uint32_t)id, &d);
	state_close(db);
	if (rc == STATE_NOTFOUND) {
		fprintf(stderr, "get: no customer %lu\n", id);
		return 1;
	}
	if (rc != STATE_OK) {
		fprintf(stderr, "get: %s\n", state_strerror(rc));
		return 1;
	}
	print_customer(&cfg, &c, drc == STATE_OK ? &d : NULL);
	return 0;
}

int cmd_dump(int argc, char **argv)
{
	const char *dir, *extra;
	struct segment_config cfg;
	if (parse_read_args(argc, argv, &dir, &cfg, &extra) || extra) {
		fprintf(stderr, "usage: segstream dump --state DIR [-T threshold=value ...]   (CSV on stdout)\n");
		return 2;
	}
	struct state_db *db;
	if (open_state(dir, 1, 1, &db) != STATE_OK)
		return 1;
	struct snap_report r;
	int rc = snap_build(db, &cfg, &r, stdout);
	state_close(db);
	if (rc != SNAP_OK || fflush(stdout) != 0) {
		fprintf(stderr, "dump: %s\n", snap_strerror(rc));
		return 1;
	}
	return 0;
}

static void print_summary(const struct snap_report *r)
{
	printf("segments of %" PRIu64 " customers (%" PRIu64 " orders, %" PRIu64 " lines, spend %" PRIu64 ".%02" PRIu64 "):\n",
	       r->customers, r->orders, r->items, r->spend_cents / 100, r->spend_cents % 100);
	printf("  loyalty:   ");
	for (int i = 0; i < SEG_LOYALTY_COUNT; i++)
		printf("%s%s %" PRIu64, i ? ", " : "", segment_loyalty_name(i), r->loyalty[i]);
	printf("\n  spending:  ");
	for (int i = 0; i < SEG_SPENDING_COUNT; i++)
		printf("%s%s %" PRIu64, i ? ", " : "", segment_spending_name(i), r->spending[i]);
	printf("\n  frequency: ");
	for (int i = 0; i < SEG_FREQUENCY_COUNT; i++)
		printf("%s%s %" PRIu64, i ? ", " : "", segment_frequency_name(i), r->frequency[i]);
	printf("\n  low activity (max_order < 5): %" PRIu64 "\n", r->low_activity);
}

/*
 * Sends snapshot seq to Kafka as a delta against the last snapshot sent there, which
 * DIR/.kafka-TOPIC remembers (a full snapshot when it is unknown or no longer kept).
 */
static int snapshot_to_kafka(const char *brokers, const char *topic, const struct cli_props *props, const char *dir,
			     uint64_t seq)
{
	char marker[4200], tmp[4300], err[512];
	snprintf(marker, sizeof marker, "%s/.kafka-%s", dir, topic);
	unsigned long long prev = 0;
	FILE *f = fopen(marker, "r");
	if (f) {
		if (fscanf(f, "%llu", &prev) != 1)
			prev = 0;
		fclose(f);
	}
	char prev_dir[4300];
	snprintf(prev_dir, sizeof prev_dir, "%s/%010llu", dir, prev);
	if (prev && access(prev_dir, R_OK) != 0)
		prev = 0;
	/* The segments topic is created compacted before the delta is produced (a failure is a
	 * warning: the broker may auto-create it). */
	rd_kafka_conf_t *conf;
	rd_kafka_t *admin;
	if (kc_conf_new(brokers, NULL, 0, NULL, 0, &conf, err, sizeof err) == KC_OK &&
	    kc_new(RD_KAFKA_PRODUCER, conf, &admin, err, sizeof err) == KC_OK) {
		if (kc_topic_ensure(admin, topic, 1, err, sizeof err) != KC_OK)
			fprintf(stderr, "segstream: warning: %s\n", err);
		rd_kafka_destroy(admin);
	}
	struct snap_delta_stats st;
	int rc = snap_publish_kafka(brokers, topic, props->items, props->n, dir, seq, prev, &st, err, sizeof err);
	if (rc != SNAP_OK) {
		fprintf(stderr, "snapshot: %s: %s\n", snap_strerror(rc), err);
		return 1;
	}
	snprintf(tmp, sizeof tmp, "%s.tmp", marker);
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%llu\n", (unsigned long long)seq) < 0 || fclose(f) != 0 || rename(tmp, marker) != 0) {
		fprintf(stderr, "snapshot: cannot record %s\n", marker);
		return 1;
	}
	printf("snapshot %" PRIu64 " to Kafka topic %s: %" PRIu64 " changed rows, %" PRIu64 " removed, %" PRIu64
	       " unchanged (delta against %llu), one transaction\n", seq, topic, st.changed, st.removed, st.unchanged, prev);
	return 0;
}

/* segstream snapshot verify|show DIR [SEQ]: the reader side. */
static int snapshot_read(int argc, char **argv)
{
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: segstream snapshot verify|show DIR [SEQUENCE]\n");
		return 2;
	}
	struct snap_reader *r;
	char err[512];
	int rc = snap_reader_open(argv[2], argc == 4 ? strtoull(argv[3], NULL, 10) : 0, &r, err, sizeof err);
	if (rc != SNAP_OK) {
		fprintf(stderr, "snapshot: %s: %s\n", snap_strerror(rc), err);
		return 1;
	}
	struct snap_row row;
	uint64_t rows = 0, low = 0;
	while ((rc = snap_reader_next(r, &row)) == 1) {
		rows++;
		low += row.ints[12] != 0;
	}
	if (rc < 0) {
		fprintf(stderr, "snapshot: %s: rows: %s\n", snap_reader_path(r), snap_strerror(rc));
		snap_reader_close(r);
		return 1;
	}
	printf("snapshot %" PRIu64 " at %s: checksums verified, %" PRIu64 " customer rows (%" PRIu64 " low activity)\n",
	       snap_reader_sequence(r), snap_reader_path(r), rows, low);
	if (strcmp(argv[1], "show") == 0) {
		char *json;
		size_t len;
		if (snap_reader_report(r, &json, &len) != SNAP_OK) {
			fprintf(stderr, "snapshot: %s: cannot read report.json\n", snap_reader_path(r));
			snap_reader_close(r);
			return 1;
		}
		fwrite(json, 1, len, stdout);
		free(json);
	}
	snap_reader_close(r);
	return 0;
}

/* Row bytes of one snapshot by user_id, for diff: a sorted array. */
struct row_ref {
	uint32_t user;
	uint32_t crc;
};

static int compare_row_ref(const void *a, const void *b)
{
	uint32_t x = ((const struct row_ref *)a)->user, y = ((const struct row_ref *)b)->user;
	return (x > y) - (x < y);
}

static struct row_ref *load_refs(struct snap_reader *r, size_t *n)
{
	struct row_ref *refs = NULL;
	size_t cap = 0;
	const void *bytes;
	size_t len;
	uint32_t user;
	*n = 0;
	while (snap_reader_next_raw(r, &bytes, &len, &user) == 1) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 4096;
			struct row_ref *t = realloc(refs, cap * sizeof *t);
			if (!t) {
				free(refs);
				return NULL;
			}
			refs = t;
		}
		refs[(*n)++] = (struct row_ref){ user, (uint32_t)crc32(0L, bytes, (uInt)len) };
	}
	if (*n)
		qsort(refs, *n, sizeof *refs, compare_row_ref);
	return refs;
}

/* segstream snapshot diff DIR SEQ_A SEQ_B: which customers' segment rows differ. */
static int snapshot_diff(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: segstream snapshot diff DIR SEQUENCE_A SEQUENCE_B\n");
		return 2;
	}
	struct snap_reader *a = NULL, *b = NULL;
	char err[512];
	int rc = snap_reader_open(argv[2], strtoull(argv[3], NULL, 10), &a, err, sizeof err);
	if (rc == SNAP_OK)
		rc = snap_reader_open(argv[2], strtoull(argv[4], NULL, 10), &b, err, sizeof err);
	if (rc != SNAP_OK) {
		fprintf(stderr, "snapshot: %s: %s\n", snap_strerror(rc), err);
		snap_reader_close(a);
		return 1;
	}
	size_t na, nb, i = 0, j = 0;
	struct row_ref *ra = load_refs(a, &na), *rb = load_refs(b, &nb);
	uint64_t added = 0, removed = 0, changed = 0, same = 0;
	while (i < na || j < nb) {
		if (j == nb || (i < na && ra[i].user < rb[j].user)) {
			removed++;
			printf("- %u\n", ra[i++].user);
		} else if (i == na || rb[j].user < ra[i].user) {
			added++;
			printf("+ %u\n", rb[j++].user);
		} else {
			if (ra[i].crc != rb[j].crc) {
				changed++;
				printf("~ %u\n", ra[i].user);
			} else {
				same++;
			}
			i++, j++;
		}
	}
	printf("snapshot diff %s -> %s: %" PRIu64 " changed, %" PRIu64 " added, %" PRIu64 " removed, %" PRIu64
	       " unchanged\n", argv[3], argv[4], changed, added, removed, same);
	free(ra);
	free(rb);
	snap_reader_close(a);
	snap_reader_close(b);
	return 0;
}

int cmd_snapshot(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "verify") == 0 || strcmp(argv[1], "show") == 0))
		return snapshot_read(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "diff") == 0)
		return snapshot_diff(argc, argv);
	const char *state_dir = NULL, *out = NULL, *brokers = NULL, *topic = "segstream.segments";
	struct cli_props props = { 0 };
	struct segment_config cfg;
	struct snap_options sopts;
	segment_config_init(&cfg);
	snap_options_init(&sopts);
	static const struct option opts[] = {
		{ "state", required_argument, 0, 'S' }, { "out", required_argument, 0, 'o' },
		{ "keep", required_argument, 0, 'k' }, { "csv", no_argument, 0, 'c' },
		{ "brokers", required_argument, 0, 'b' }, { "topic", required_argument, 0, 't' },
		{ "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "S:o:k:cT:b:t:X:h", opts, NULL)) != -1) {
		switch (c) {
		case 'S': state_dir = optarg; break;
		case 'o': out = optarg; break;
		case 'k': sopts.keep = atoi(optarg); break;
		case 'c': sopts.write_csv = 1; break;
		case 'b': brokers = optarg; break;
		case 't': topic = optarg; break;
		case 'X':
			if (cli_props_add(&props, optarg))
				return 2;
			break;
		case 'T':
			if (segment_config_set(&cfg, optarg) != 0) {
				fprintf(stderr, "snapshot: unknown threshold '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h':
			printf("usage: segstream snapshot --state DIR --out DIR [--keep K (5)] [--csv] [-T threshold=value ...]\n"
			       "         [--brokers HOST:PORT [--topic T (segstream.segments)] [-X prop=value ...]]\n"
			       "  With --brokers, the rows changed since the last snapshot published to Kafka go to the\n"
			       "  compacted topic, with a manifest record, in one transaction.\n"
			       "       segstream snapshot verify|show DIR [SEQUENCE]\n"
			       "       segstream snapshot diff DIR SEQUENCE_A SEQUENCE_B\n");
			return 0;
		default: return 2;
		}
	}
	if (!state_dir || !out) {
		fprintf(stderr, "snapshot: --state and --out are required\n");
		return 2;
	}
	struct state_db *db;
	if (open_state(state_dir, 1, 1, &db) != STATE_OK)
		return 1;
	static struct snap_report r;
	uint64_t seq;
	char err[512];
	int rc = snap_publish_files(db, &cfg, &sopts, out, &seq, &r, err, sizeof err);
	state_close(db);
	if (rc != SNAP_OK) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	printf("snapshot %" PRIu64 " published in %s/%010" PRIu64 "\n", seq, out, seq);
	print_summary(&r);
	return brokers ? snapshot_to_kafka(brokers, topic, &props, out, seq) : 0;
}
