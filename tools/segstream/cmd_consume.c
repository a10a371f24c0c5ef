/* segstream consume: the consumer into the state, with its snapshot thread (files and Kafka deltas). */
#define _GNU_SOURCE /* syscall(SYS_gettid): a thread's own nice value (Linux) */
#include <getopt.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <pthread.h>
#include <time.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "changelog/changelog.h"
#include "consumer/consumer.h"
#include "http/http.h"
#include "log/log.h"
#include "segment/segment.h"
#include "snapshot/snapshot.h"
#include "state/state.h"
#include "tools/segstream/cli.h"
#include "tools/segstream/metrics.h"

/*
 * Snapshots beside the consumer: a thread of its own with its own LMDB read transactions, so
 * the consumer's batches never wait for it. It publishes every `every_s` seconds, on SIGUSR1,
 * at the end of each catch-up, and once more when the consumer stops; but, except on SIGUSR1,
 * not when no event was committed since the last one it published (the same rows again, and
 * a Kafka transaction for nothing). The first of a run is always published.
 */

struct snapshotter {
	struct state_db *db;
	const char *dir;
	const char *brokers; /* with segments_topic: each snapshot also goes to Kafka */
	const char *segments_topic;
	const struct cli_props *props;
	double every_s;
	uint64_t every_events; /* also after this many events (0: not by count) */
	uint64_t next_events;
	struct snap_options opts;
	struct segment_config cfg;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int requested, done;
	uint64_t events_total;     /* events committed so far this run (count_events; under lock) */
	uint64_t events_published; /* events_total when the last published snapshot began */
	uint64_t published, failed, skipped;
	struct cli_metrics *metrics; /* with --http: counts published and failed snapshots too */
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
	pthread_mutex_lock(&s->lock);
	s->events_total = events_total;
	pthread_mutex_unlock(&s->lock);
	if (s->every_events && events_total >= s->next_events) {
		s->next_events = (events_total / s->every_events + 1) * s->every_events;
		request_snapshot(s);
	}
}

/*
 * Publishes a snapshot unless nothing was committed since the last one (forced: always).
 * The count is read before the snapshot's read transaction begins, so events committed in
 * between are in this snapshot and make the next one due too: a snapshot is never skipped
 * that would have shown something new.
 */
static void publish_one(struct snapshotter *s, int forced)
{
	static struct snap_report r; /* only one thread publishes at a time */
	pthread_mutex_lock(&s->lock);
	uint64_t events = s->events_total;
	pthread_mutex_unlock(&s->lock);
	if (!forced && s->published && events == s->events_published) {
		s->skipped++;
		return;
	}
	uint64_t seq;
	char err[512];
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = snap_publish_files(s->db, &s->cfg, &s->opts, s->dir, &seq, &r, err, sizeof err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	if (rc != SNAP_OK) {
		s->failed++;
		cli_metrics_snapshot(s->metrics, 0, 0, 0);
		log_error(cli_log, cli_command, "snapshot failed: %s", err);
		return;
	}
	s->published++;
	s->events_published = events;
	cli_metrics_snapshot(s->metrics, 1, seq, ms / 1e3);
	struct log_field f[] = { LOG_UINT("seq", seq), LOG_UINT("customers", r.customers), LOG_DOUBLE("ms", ms) };
	char msg[96];
	snprintf(msg, sizeof msg, "snapshot %" PRIu64 " (%" PRIu64 " customers) in %.0f ms", seq, r.customers, ms);
	log_fields(cli_log, LOG_LEVEL_INFO, cli_command, f, 3, msg);
	if (s->segments_topic &&
	    cli_snapshot_to_kafka(s->brokers, s->segments_topic, s->props, s->dir, seq, s->opts.file_mode) != 0) {
		s->failed++;
		cli_metrics_snapshot(s->metrics, 0, 0, 0);
	}
}

static void *snapshot_thread(void *arg)
{
	struct snapshotter *s = arg;
	/* Snapshots yield the CPU to the consumer: on Linux a thread's nice value is its own. */
	pid_t tid = (pid_t)syscall(SYS_gettid);
	if (setpriority(PRIO_PROCESS, (id_t)tid, 15) != 0)
		log_warn(cli_log, cli_command, "could not lower the snapshot thread's priority");
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
		int forced = cli_snapshot_request != 0;
		int due = s->requested || forced || (timed_out && s->every_s > 0);
		s->requested = 0;
		cli_snapshot_request = 0;
		if (!due)
			continue;
		pthread_mutex_unlock(&s->lock);
		publish_one(s, forced);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/*
 * --changelog: the partition hand-off through Kafka (changelog/). on_assign restores each new
 * partition (the first one also drops what an earlier run kept and this one was not given),
 * on_revoke flushes and drops it (keeps it when the run ends), on_committed flushes at most every --changelog-ms
 * (and feeds the snapshotter's count as before), on_client lets the group fence the flushes of a
 * member it has replaced (KIP-447). An error stops the consumer: a changelog it cannot keep exact
 * must not move on; a fenced flush is not one (the partitions are going, unflushed).
 */
struct handoff {
	struct clog *clog;
	struct snapshotter *snaps; /* count_events too, when snapshots are on; else NULL */
	int assigned_once;         /* the run's first assignment was seen */
	int failed;
};

static void handoff_fail(struct handoff *h, const char *err)
{
	log_error(cli_log, cli_command, "%s", err);
	h->failed = 1;
	cli_stop = 1;
}

static void handoff_assign(void *ctx, const struct cons_partition *parts, int n)
{
	struct handoff *h = ctx;
	char err[768];
	if (!h->assigned_once && !h->failed) { /* what an earlier run kept and this one was not given goes */
		int32_t *mine = malloc((size_t)(n > 0 ? n : 1) * sizeof *mine);
		for (int i = 0; mine && i < n; i++)
			mine[i] = parts[i].partition;
		if (!mine)
			handoff_fail(h, "changelog: out of memory");
		else if (clog_drop_unassigned(h->clog, mine, n, err, sizeof err) != CLOG_OK)
			handoff_fail(h, err);
		free(mine);
		h->assigned_once = 1;
	}
	for (int i = 0; i < n && !h->failed; i++)
		if (clog_restore(h->clog, parts[i].partition, NULL, err, sizeof err) != CLOG_OK)
			handoff_fail(h, err);
}

static void handoff_revoke(void *ctx, const struct cons_partition *parts, int n)
{
	struct handoff *h = ctx;
	char err[768];
	for (int i = 0; i < n && !h->failed; i++)
		if (clog_release(h->clog, parts[i].partition, parts[i].closing, NULL, err, sizeof err) != CLOG_OK)
			handoff_fail(h, err);
}

static void handoff_committed(void *ctx, uint64_t events_total)
{
	struct handoff *h = ctx;
	char err[768];
	if (h->snaps)
		count_events(h->snaps, events_total);
	int rc = h->failed ? CLOG_OK : clog_flush(h->clog, 0, err, sizeof err);
	if (rc == CLOG_KAFKA) /* aborted: the changes stay and go with the next flush */
		log_warn(cli_log, cli_command, "%s (retried at the next flush)", err);
	else if (rc == CLOG_FENCED) /* aborted: the revoke of lost partitions follows, or a rejoin */
		log_warn(cli_log, cli_command,
			 "%s (fenced: the changes stay; the revoke of lost partitions drops them)", err);
	else if (rc != CLOG_OK)
		handoff_fail(h, err);
}

static void handoff_client(void *ctx, struct rd_kafka_s *rk)
{
	struct handoff *h = ctx;
	if (h->clog)
		clog_set_group(h->clog, rk);
}

/* The changelog's transactional id: the group's and the instance's (--instance-id), else the state
 * directory's (its real path, hashed), so a restart of the same instance fences what its killed
 * predecessor left open. */
static void handoff_txid(const char *group, const char *instance_id, const char *state_dir, char *out, size_t len)
{
	if (instance_id) {
		snprintf(out, len, "segstream-changelog-%s-%s", group, instance_id);
		return;
	}
	char real[PATH_MAX];
	const char *path = realpath(state_dir, real) ? real : state_dir;
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (const char *p = path; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ULL;
	snprintf(out, len, "segstream-changelog-%s-%016" PRIx64, group, h);
}

/* Long options without a short letter. */
enum {
	OPT_DLQ_MAX_BYTES = 1000,
	OPT_BROKER_TIMEOUT,
	OPT_CHANGELOG,
	OPT_CHANGELOG_TOPIC,
	OPT_CHANGELOG_MS,
	OPT_CHANGELOG_ID,
	OPT_INSTANCE_ID,
	OPT_SESSION_TIMEOUT
};

int cmd_consume(int argc, char **argv)
{
	struct cons_config cfg;
	cons_config_init(&cfg);
	const char *state_dir = NULL;
	int durable = 1;
	struct cli_props props = { 0 };
	struct snapshotter snaps = { .every_s = 0 };
	const char *http_addr = NULL;
	int64_t ready_lag = 10000;
	unsigned file_mode = 0640; /* state and snapshot files; directories 0750 */
	int session_timeout_set = 0;
	snap_options_init(&snaps.opts);
	segment_config_init(&snaps.cfg);
	int changelog = 0;
	struct clog_config ccfg;
	clog_config_init(&ccfg);
	static const struct option opts[] = {
		{ "state", required_argument, 0, 'S' },
		{ "brokers", required_argument, 0, 'b' },
		{ "snapshot-dir", required_argument, 0, 'O' },
		{ "snapshot-every", required_argument, 0, 'V' },
		{ "keep", required_argument, 0, 'K' },
		{ "snapshot-keep", required_argument, 0, 'K' }, /* the old name of --keep */
		{ "snapshot-every-events", required_argument, 0, 'W' },
		{ "segments-topic", required_argument, 0, 'G' },
		{ "topic", required_argument, 0, 't' },
		{ "products-topic", required_argument, 0, 'P' },
		{ "customers-topic", required_argument, 0, 'C' },
		{ "names-topic", required_argument, 0, 'A' },
		{ "dlq-topic", required_argument, 0, 'D' },
		{ "group", required_argument, 0, 'g' },
		{ "instance-id", required_argument, 0, OPT_INSTANCE_ID },
		{ "session-timeout-ms", required_argument, 0, OPT_SESSION_TIMEOUT },
		{ "batch-events", required_argument, 0, 'n' },
		{ "batch-ms", required_argument, 0, 'm' },
		{ "catchup-batch-ms", required_argument, 0, 'M' },
		{ "live-lag", required_argument, 0, 'R' },
		{ "exit-at-end", no_argument, 0, 'E' },
		{ "idle-ms", required_argument, 0, 'I' },
		{ "no-sync", no_argument, 0, 'N' },
		{ "wake-ms", required_argument, 0, 'w' },
		{ "verbose", no_argument, 0, 'v' },
		{ "http", required_argument, 0, 'H' },
		{ "ready-lag", required_argument, 0, 'L' },
		{ "file-mode", required_argument, 0, 'F' },
		{ "dlq-max-bytes", required_argument, 0, OPT_DLQ_MAX_BYTES },
		{ "broker-timeout", required_argument, 0, OPT_BROKER_TIMEOUT },
		{ "status-every", required_argument, 0, 'Z' },
		{ "changelog", no_argument, 0, OPT_CHANGELOG },
		{ "changelog-topic", required_argument, 0, OPT_CHANGELOG_TOPIC },
		{ "changelog-ms", required_argument, 0, OPT_CHANGELOG_MS },
		{ "changelog-id", required_argument, 0, OPT_CHANGELOG_ID },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "S:b:t:P:C:D:g:n:m:M:R:EI:Nw:vX:O:V:K:W:G:T:h", opts, NULL)) != -1) {
		switch (c) {
		case 'S':
			state_dir = optarg;
			break;
		case 'O':
			snaps.dir = optarg;
			break;
		case 'V':
			if (cli_parse_double("--snapshot-every", optarg, 0, 31536000, &snaps.every_s))
				return 2;
			break;
		case 'K':
			if (cli_parse_int("--keep", optarg, 0, INT_MAX, &snaps.opts.keep))
				return 2;
			break;
		case 'W':
			if (cli_parse_u64("--snapshot-every-events", optarg, 0, UINT64_MAX, &snaps.every_events))
				return 2;
			break;
		case 'G':
			snaps.segments_topic = optarg;
			break;
		case 'b':
			cfg.brokers = optarg;
			break;
		case 't':
			cfg.events_topic = optarg;
			break;
		case 'P':
			cfg.products_topic = optarg;
			break;
		case 'C':
			cfg.customers_topic = optarg;
			break;
		case 'A':
			cfg.names_topic = optarg;
			break;
		case 'D':
			cfg.dlq_topic = optarg;
			break;
		case 'g':
			cfg.group_id = optarg;
			break;
		case 'n':
			if (cli_parse_int("--batch-events", optarg, 1, INT_MAX, &cfg.batch_max_events))
				return 2;
			break;
		case 'm':
			if (cli_parse_int("--batch-ms", optarg, 1, INT_MAX, &cfg.batch_live_ms))
				return 2;
			break;
		case 'M':
			if (cli_parse_int("--catchup-batch-ms", optarg, 1, INT_MAX, &cfg.batch_max_ms))
				return 2;
			break;
		case 'R': {
			uint64_t lag;
			if (cli_parse_u64("--live-lag", optarg, 0, INT64_MAX, &lag))
				return 2;
			cfg.live_lag_events = (int64_t)lag;
			break;
		}
		case 'E':
			cfg.exit_at_end = 1;
			break;
		case 'I':
			if (cli_parse_int("--idle-ms", optarg, 0, INT_MAX, &cfg.idle_ms))
				return 2;
			break;
		case 'F':
			if (cli_parse_file_mode("--file-mode", optarg, &file_mode))
				return 2;
			snaps.opts.file_mode = file_mode;
			break;
		case 'N':
			durable = 0;
			break;
		case 'w':
			if (cli_parse_int("--wake-ms", optarg, 0, INT_MAX, &cfg.wake_ms))
				return 2;
			break;
		case 'v':
			cfg.verbose = 1;
			break;
		case 'H':
			http_addr = optarg;
			break;
		case 'L': {
			uint64_t lag;
			if (cli_parse_u64("--ready-lag", optarg, 0, INT64_MAX, &lag))
				return 2;
			ready_lag = (int64_t)lag;
			break;
		}
		case OPT_DLQ_MAX_BYTES: {
			uint64_t max;
			if (cli_parse_u64("--dlq-max-bytes", optarg, 4096, SIZE_MAX, &max))
				return 2;
			cfg.dlq_max_bytes = (size_t)max;
			break;
		}
		case OPT_INSTANCE_ID:
			cfg.instance_id = optarg;
			break;
		case OPT_SESSION_TIMEOUT:
			if (cli_parse_int("--session-timeout-ms", optarg, CONS_SESSION_TIMEOUT_MIN_MS,
					  CONS_SESSION_TIMEOUT_MAX_MS, &cfg.session_timeout_ms))
				return 2;
			session_timeout_set = 1;
			break;
		case OPT_BROKER_TIMEOUT:
			if (cli_parse_seconds_ms("--broker-timeout", optarg, &cfg.broker_timeout_ms))
				return 2;
			break;
		case OPT_CHANGELOG:
			changelog = 1;
			break;
		case OPT_CHANGELOG_TOPIC:
			ccfg.topic = optarg;
			break;
		case OPT_CHANGELOG_MS:
			if (cli_parse_int("--changelog-ms", optarg, 0, INT_MAX, &ccfg.flush_ms))
				return 2;
			break;
		case OPT_CHANGELOG_ID:
			ccfg.transactional_id = optarg;
			break;
		case 'Z': {
			double s;
			if (cli_parse_double("--status-every", optarg, 0, 86400, &s))
				return 2;
			cfg.status_ms = (int)(s * 1e3 + 0.5);
			break;
		}
		case 'X':
			if (cli_props_add(&props, optarg))
				return 2;
			break;
		case 'T':
			if (cli_parse_threshold(&snaps.cfg, optarg))
				return 2;
			break;
		case 'h':
			printf(
			    "usage: segstream consume --state DIR --brokers|-b HOST:PORT\n"
			    "         [--group ID [--instance-id ID] [--session-timeout-ms MS (6000)]]\n"
			    "         [--exit-at-end [--idle-ms MS]]\n"
			    "         [--topic T] [--products-topic T] [--customers-topic T] [--names-topic T] "
			    "[--dlq-topic T]\n"
			    "         [--dlq-max-bytes N (1000000: larger dead letters go out truncated)]\n"
			    "         [--broker-timeout SEC (120; 0: wait until stopped): brokers and topic at start]\n"
			    "         [--batch-events N (500000)] [--catchup-batch-ms MS (500)] [--batch-ms MS (20)]\n"
			    "         [--live-lag N (100000)] [--wake-ms MS (0: off)]\n"
			    "         [--no-sync] [--verbose] [--status-every SECONDS (10; 0: off)]\n"
			    "         [--log-level error|warn|info|debug] [--log-format text|json]\n"
			    "         [-X librdkafka.property=value ...] [--file-mode MODE (0640)]\n"
			    "         [--http HOST:PORT [--ready-lag N (10000)]]\n"
			    "         [--changelog [--changelog-topic T (segstream.changelog)] [--changelog-ms MS "
			    "(1000)]\n"
			    "                      [--changelog-id ID]] (with --group: partition hand-off through "
			    "Kafka)\n"
			    "         [--snapshot-dir DIR [--snapshot-every SECONDS] [--snapshot-every-events N]\n"
			    "                             [--keep K (5)] [--segments-topic T] [-T threshold=value "
			    "...]]\n"
			    "  Snapshots: every SECONDS and/or N events, on SIGUSR1, at the end of each catch-up\n"
			    "  and at exit; with --segments-topic each also goes to Kafka as a delta (one "
			    "transaction).\n"
			    "  --http: GET /metrics (Prometheus), /health, /ready (200 once every partition's lag "
			    "<= N).\n"
			    "  Batches: behind by more than --live-lag, up to --batch-events or "
			    "--catchup-batch-ms;\n"
			    "  caught up, committed once no more messages are ready, or after --batch-ms.\n"
			    "  Lags (--live-lag, --ready-lag, the metrics and logs) count Kafka messages: orders as\n"
			    "  replay writes them by default (--encoding order), lines with --encoding line; the\n"
			    "  event counts (--batch-events, events read, applied) count lines either way.\n"
			    "  --group: a consumer group (cooperative-sticky); --instance-id: static membership,\n"
			    "  a restart within the session timeout keeps the partitions. Each member keeps its\n"
			    "  own --state.\n");
			return 0;
		default:
			return 2;
		}
	}
	if (!state_dir || !cfg.brokers || cfg.batch_max_events <= 0 || cfg.batch_max_ms <= 0 ||
	    cfg.batch_live_ms <= 0 || cfg.wake_ms < 0 || ready_lag < 0) {
		fprintf(stderr, "consume: --state and --brokers are required; batch bounds and --ready-lag must be "
				"positive\n");
		return 2;
	}
	if (!cfg.group_id && (cfg.instance_id || session_timeout_set)) {
		fprintf(stderr, "consume: --instance-id and --session-timeout-ms need --group\n");
		return 2;
	}
	if (cfg.instance_id && !*cfg.instance_id) {
		fprintf(stderr, "consume: --instance-id: empty\n");
		return 2;
	}
	if (changelog && !cfg.group_id) {
		fprintf(stderr, "consume: --changelog needs --group (it hands partitions between a group's members)\n");
		return 2;
	}
	cfg.props = props.items;
	cfg.n_props = props.n;
	cfg.stop = &cli_stop;
	cfg.log = cli_log;
#ifdef M_ARENA_MAX
	/* glibc gives each thread its own heap and keeps what is freed there for that thread;
	 * librdkafka's threads fill theirs while catching up. One heap for the whole process:
	 * 25 MiB less peak RSS at full scale, the same throughput (BENCHMARKS.md). */
	mallopt(M_ARENA_MAX, 1);
#endif
	struct state_db *db;
	if (cli_open_state(state_dir, 0, durable, file_mode, &db) != STATE_OK)
		return 1;
	state_commit_details_track(db, log_enabled(cli_log, LOG_LEVEL_DEBUG)); /* the debug batch line's figures */
	/* --http: the HTTP threads render the latest stats report, copied under a lock. */
	struct cli_metrics metrics;
	struct http_server *http = NULL;
	if (http_addr) {
		cli_metrics_init(&metrics, ready_lag, 5.0);
		metrics.db = db; /* LMDB map size and use, reference table sizes at each scrape */
		if (cli_metrics_serve(&metrics, http_addr, &http) != 0) {
			cli_metrics_destroy(&metrics);
			state_close(db);
			return 1;
		}
		cfg.on_stats = cli_metrics_on_stats;
		cfg.stats_ctx = &metrics;
		cfg.stats_ms = 500;
		snaps.metrics = &metrics;
	}
	pthread_t snap_thread;
	int snapshots = snaps.dir != NULL;
	if (snapshots) {
		snaps.db = db;
		snaps.opts.events_topic = cfg.events_topic; /* the manifest lists the partitions of it */
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
			log_error(cli_log, cli_command, "cannot start the snapshot thread");
			if (http) {
				http_stop(http);
				cli_metrics_destroy(&metrics);
			}
			state_close(db);
			return 1;
		}
	}
	struct handoff handoff = { 0 };
	char txid[PATH_MAX + 128];
	if (changelog) {
		char cerr[768];
		ccfg.brokers = cfg.brokers;
		ccfg.events_topic = cfg.events_topic ? cfg.events_topic : "segstream.events";
		ccfg.props = props.items;
		ccfg.n_props = props.n;
		ccfg.log = cli_log;
		if (!ccfg.transactional_id) {
			handoff_txid(cfg.group_id, cfg.instance_id, state_dir, txid, sizeof txid);
			ccfg.transactional_id = txid;
		}
		if (clog_open(&ccfg, db, &handoff.clog, cerr, sizeof cerr) != CLOG_OK) {
			log_error(cli_log, cli_command, "%s", cerr);
			cli_stop = 1; /* the snapshot thread and the HTTP server stop with the consumer below */
			handoff.failed = 1;
		}
		handoff.snaps = snapshots ? &snaps : NULL;
		cfg.on_assign = handoff_assign;
		cfg.assign_ctx = &handoff;
		cfg.on_revoke = handoff_revoke;
		cfg.revoke_ctx = &handoff;
		cfg.on_committed = handoff_committed;
		cfg.committed_ctx = &handoff;
		cfg.on_client = handoff_client;
		cfg.client_ctx = &handoff;
	}
	struct cons_stats st = { 0 };
	char err[512] = "";
	int rc = handoff.failed ? CONS_CONFIG : cons_run(&cfg, db, &st, err, sizeof err);
	if (handoff.failed && !err[0])
		snprintf(err, sizeof err, "the changelog failed (see above)");
	if (changelog) {
		struct clog_stats cst = { 0 };
		if (handoff.clog)
			clog_get_stats(handoff.clog, &cst);
		printf("consume: changelog flushes %" PRIu64 " (%" PRIu64 " records), partitions restored %" PRIu64
		       ", republished %" PRIu64 ", dropped %" PRIu64 ", transactions aborted %" PRIu64
		       " (fenced %" PRIu64 "), producers replaced %" PRIu64 "\n",
		       cst.flushes, cst.records, cst.restored, cst.republished, cst.dropped, cst.aborted, cst.fenced,
		       cst.recovered);
		clog_close(handoff.clog);
		if (handoff.failed && rc == CONS_OK)
			rc = CONS_STATE;
	}
	if (snapshots) {
		pthread_mutex_lock(&snaps.lock);
		snaps.done = 1;
		pthread_cond_signal(&snaps.wake);
		pthread_mutex_unlock(&snaps.lock);
		pthread_join(snap_thread, NULL);
		if (rc == CONS_OK)
			publish_one(&snaps, 0); /* the final state, unless the last one has it */
		printf("consume: %" PRIu64 " snapshots published, %" PRIu64 " failed, %" PRIu64
		       " skipped (no new events)\n",
		       snaps.published, snaps.failed, snaps.skipped);
		pthread_cond_destroy(&snaps.wake);
		pthread_mutex_destroy(&snaps.lock);
	}
	if (http) {
		http_stop(http);
		cli_metrics_destroy(&metrics);
	}
	state_close(db);
	printf("consume: events read %" PRIu64 ", applied %" PRIu64 ", duplicates %" PRIu64 ", train ignored %" PRIu64
	       ", dead-lettered %" PRIu64 ", products %" PRIu64 ", customers %" PRIu64 ", batches %" PRIu64 "\n",
	       st.messages, st.applied, st.duplicates, st.ignored, st.invalid, st.products, st.customers, st.batches);
	printf("consume: %.2f s, %.0f events/s, batch commit p50 %.2f ms p99 %.2f ms\n", st.seconds,
	       st.seconds > 0 ? st.messages / st.seconds : 0.0, st.commit_ms_p50, st.commit_ms_p99);
	if (st.order_messages) /* replay --encoding order: the events above are these messages' lines */
		printf("consume: order messages %" PRIu64 " (schema version 2)\n", st.order_messages);
	if (st.offset_jumps) /* the warnings say where */
		printf("consume: offset jumps %" PRIu64
		       " (messages at another offset than the next one expected): %" PRIu64
		       " gaps sought back, %" PRIu64 " gaps accepted, %" PRIu64 " repeats ignored\n",
		       st.offset_jumps, st.offset_seeks, st.offset_gaps_accepted, st.offset_repeats);
	if (st.stamped) /* replay --stamp: produce -> committed */
		printf("consume: stamped events %" PRIu64 ", produce to commit p50 %.1f ms p99 %.1f ms max %.1f ms\n",
		       st.stamped, st.fresh_ms_p50, st.fresh_ms_p99, st.fresh_ms_max);
	if (rc != CONS_OK) {
		log_error(cli_log, cli_command, "%s: %s", cons_strerror(rc), err);
		return 1;
	}
	return 0;
}
