/*
 * The consumer loop (see consumer.h for the contract): open the clients, load the reference
 * topics, then consume the events topic in bursts into batches, each committed with its
 * offsets in one state transaction. Assignment and its hooks are in assign.c, a burst's
 * messages into the batch in message.c, dead letters in dead_letter.c, the reference tables in
 * reference.c, the fetcher's waker in waker.c, the statistics in stats.c.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer/internal.h"
#include "event/event.h"
#include "kclient/kclient.h"

const char *cons_strerror(int err)
{
#define CONS_ERR_TEXT(name, code, text) \
	case code:                      \
		return text;
	switch (err) {
		CONS_ERR_MAP(CONS_ERR_TEXT)
	}
#undef CONS_ERR_TEXT
	return "unknown consumer error";
}

void cons_config_init(struct cons_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->events_topic = "segstream.events";
	cfg->products_topic = "segstream.products";
	cfg->customers_topic = "segstream.customers";
	cfg->names_topic = "segstream.names";
	cfg->dlq_topic = "segstream.events.dlq";
	cfg->batch_max_events = 500000;
	cfg->batch_max_ms = 500;
	cfg->batch_live_ms = 20;
	cfg->live_lag_events = 100000;
	cfg->wake_ms = 10;
	cfg->stats_ms = 1000;
	cfg->dlq_max_bytes = CONS_DLQ_MAX_BYTES;
	cfg->broker_timeout_ms = KC_BROKER_TIMEOUT_MS;
	cfg->status_ms = 10000;
	cfg->session_timeout_ms = CONS_SESSION_TIMEOUT_MS;
}

int cons__fatal(struct run *r, int err, const char *fmt, ...)
{
	if (!r->failed) {
		r->failed = err;
		va_list ap;
		va_start(ap, fmt);
		if (r->errbuf && r->errbuf_len)
			vsnprintf(r->errbuf, r->errbuf_len, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* Every client of the run logs through cfg->log (its opaque is the run, which starts with it). */
int cons__conf(struct run *r, const char *const *mine, int n_mine, rd_kafka_conf_t **conf_out, char *err,
	       size_t err_len)
{
	const struct cons_config *cfg = r->cfg;
	int rc = kc_conf_new(cfg->brokers, mine, n_mine, cfg->props, cfg->n_props, conf_out, err, err_len);
	if (rc == KC_OK) {
		kc_conf_set_logger(*conf_out);
		rd_kafka_conf_set_opaque(*conf_out, r);
	}
	return rc;
}

void cons__close(struct run *r, rd_kafka_t *rk, const char *what)
{
	rd_kafka_resp_err_t e = rd_kafka_consumer_close(rk);
	if (e)
		log_warn(r->cfg->log, CONS_LOG, "closing the consumer of %s: %s", what, rd_kafka_err2str(e));
	rd_kafka_destroy(rk);
}

int64_t cons__stored_offset(struct run *r, const char *topic, int32_t partition, int64_t fallback)
{
	int64_t next;
	int rc = state_offset_get(r->db, topic, partition, &next);
	if (rc == STATE_OK)
		return next;
	if (rc != STATE_NOTFOUND)
		cons__fatal(r, CONS_STATE, "reading the offset of %s/%d: %s", topic, partition, state_strerror(rc));
	return fallback;
}

int cons__ensure_batch(struct run *r)
{
	if (r->batch)
		return 0;
	int rc = state_batch_begin(r->db, &r->batch);
	if (rc != STATE_OK)
		return cons__fatal(r, CONS_STATE, "beginning a batch: %s", state_strerror(rc));
	r->batch_events = 0;
	r->n_stamps = 0;
	r->batch_started_ms = cons__now_ms(); /* once per batch, not per message */
	r->trace_n = 0;
	r->trace_append_sum = r->trace_append_max = r->trace_fetch_sum = r->trace_fetch_max = 0;
	return 0;
}

int cons__grow_parts(struct run *r, int32_t partition)
{
	if (partition < r->n_parts)
		return 0;
	int n = partition + 1;
	struct partition_state *t = realloc(r->parts, (size_t)n * sizeof *t);
	if (!t)
		return cons__fatal(r, CONS_STATE, "out of memory");
	memset(t + r->n_parts, 0, (size_t)(n - r->n_parts) * sizeof *t);
	r->parts = t;
	r->n_parts = n;
	return 0;
}

/* Debug: the bytes this thread has passed to write calls so far (/proc/thread-self/io's wchar; LMDB
 * writes its pages from the committing thread), or 0 where that is not readable. */
static uint64_t thread_wchar(void)
{
	FILE *f = fopen("/proc/thread-self/io", "r");
	unsigned long long v = 0;
	char line[128];
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "wchar: %llu", &v) == 1)
			break;
	if (f)
		fclose(f);
	return (uint64_t)v;
}

/*
 * Commits the open batch: dead letters delivered first, then state + offsets in one
 * transaction. After a fatal error nothing is committed (the batch may be incomplete).
 */
/*
 * A group member's offsets to the group coordinator, for monitoring (lag) only: every assigned
 * partition at the state's committed offset, asynchronously, at most every
 * CONS_BROKER_COMMIT_MS. Not after every batch: librdkafka 2.0.2 takes an OffsetCommit the
 * coordinator refuses with ILLEGAL_GENERATION or UNKNOWN_MEMBER_ID (one sent while the group
 * rebalances) for the loss of the whole assignment, and rejoins; committing every batch turned
 * each rebalance into a cascade of lost assignments on healthy members.
 */
static void commit_to_broker(struct run *r)
{
	double now = cons__now_ms();
	if (now < r->broker_commit_at_ms)
		return;
	r->broker_commit_at_ms = now + CONS_BROKER_COMMIT_MS;
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(r->n_parts > 0 ? r->n_parts : 1);
	for (int p = 0; p < r->n_parts; p++)
		if (r->parts[p].assigned && r->parts[p].committed > 0)
			rd_kafka_topic_partition_list_add(list, r->cfg->events_topic, p)->offset =
			    r->parts[p].committed;
	if (list->cnt)
		rd_kafka_commit(r->rk, list, 1);
	rd_kafka_topic_partition_list_destroy(list);
}

int cons__commit_batch(struct run *r)
{
	if (!r->batch || r->failed)
		return r->failed;
	const char *topic = r->cfg->events_topic;
	if (cons__dlq_settle(r)) {
		state_batch_abort(r->batch);
		r->batch = NULL;
		return r->failed;
	}
	for (int p = 0; p < r->n_parts; p++) {
		if (!r->parts[p].dirty)
			continue;
		int rc = state_batch_set_offset(r->batch, topic, p, r->parts[p].next);
		if (rc != STATE_OK) {
			state_batch_abort(r->batch);
			r->batch = NULL;
			return cons__fatal(r, CONS_STATE, "storing offsets: %s", state_strerror(rc));
		}
	}
	double t0 = cons__now_ms();
	int64_t closed_us = r->trace ? cons__wall_us() : 0;
	uint64_t wchar = r->trace ? thread_wchar() : 0;
	struct state_batch_stats st;
	int rc = state_batch_commit(r->batch, &st);
	r->batch = NULL;
	if (rc != STATE_OK)
		return cons__fatal(r, CONS_STATE, "committing a batch: %s", state_strerror(rc));
	if (r->trace)
		wchar = thread_wchar() - wchar;
	cons__record_commit_latency(r, cons__now_ms() - t0);
	cons__record_freshness(r);
	cons__record_batch_size(r, r->batch_events);
	r->stats.applied += st.applied;
	r->stats.duplicates += st.duplicates;
	r->stats.ignored += st.ignored;
	r->stats.batches++;
	r->committed_events += (uint64_t)r->batch_events;
	for (int p = 0; p < r->n_parts; p++)
		if (r->parts[p].dirty)
			r->parts[p].committed = r->parts[p].next;
	if (r->cfg->on_committed)
		r->cfg->on_committed(r->cfg->committed_ctx, r->committed_events);
	enum log_level level = r->cfg->verbose ? LOG_LEVEL_INFO : LOG_LEVEL_DEBUG;
	if (log_enabled(r->cfg->log, level)) {
		double n = r->trace_n ? (double)r->trace_n : 1;
		struct log_field f[] = {
			LOG_UINT("batch", r->stats.batches),
			LOG_INT("events", r->batch_events),
			LOG_UINT("customers", st.customers),
			LOG_DOUBLE("commit_ms", cons__now_ms() - t0),
			LOG_DOUBLE("age_ms", t0 - r->batch_started_ms),
			LOG_DOUBLE("put_ms", st.put_ms),
			LOG_DOUBLE("txn_commit_ms", st.commit_ms),
			LOG_UINT("free_entries", st.free_entries),
			LOG_UINT("free_pages", st.free_pages),
			LOG_UINT("map_pages", st.map_pages),
			LOG_UINT("written_kib", wchar / 1024),
			LOG_UINT("stamped", r->trace_n),
			LOG_DOUBLE("append_ms_mean", r->trace_append_sum / n),
			LOG_DOUBLE("append_ms_max", r->trace_append_max),
			LOG_DOUBLE("fetch_ms_mean", r->trace_fetch_sum / n),
			LOG_DOUBLE("fetch_ms_max", r->trace_fetch_max),
			LOG_DOUBLE("wait_ms_max",
				   r->trace_n ? (double)(closed_us - r->trace_first_fetch_us) / 1e3 : 0.0),
		};
		log_fields(r->cfg->log, level, CONS_LOG, f, r->trace ? 17 : 4, "batch committed");
	}
	/* Broker-side offsets are for monitoring (lag) only, and only after the LMDB commit. */
	if (r->cfg->group_id)
		commit_to_broker(r);
	for (int p = 0; p < r->n_parts; p++)
		r->parts[p].dirty = 0;
	return 0;
}

/*
 * Whether a burst's events are looked at for the produce-time header: always once caught up;
 * while catching up only if one of its first 64 events, or the first or last event of one of
 * its partitions' runs, has it. Looking costs ~100 ns an event in librdkafka 2.0.2 (it parses
 * the headers into memory of its own), a fifth of the catch-up's CPU. A producer stamps all its
 * events, or one in N (replay --stamp-every, N <= 64 is seen), so where stamping starts or stops
 * inside a partition's run, that run's last or first event shows it (a burst interleaves the
 * partitions: its own first and last events alone missed a partition that began stamping).
 */
static int burst_stamped(const struct run *r, rd_kafka_message_t **burst, ssize_t n)
{
	if (r->live)
		return 1;
	int64_t us;
	for (ssize_t i = 0; i < n; i++) {
		int32_t p = burst[i]->partition;
		int edge = i < 64 || i == n - 1 || burst[i - 1]->partition != p || burst[i + 1]->partition != p;
		if (edge && !burst[i]->err && kc_produced_us(burst[i], &us))
			return 1;
	}
	return 0;
}

static int all_at_end(const struct run *r)
{
	int assigned = 0;
	for (int p = 0; p < r->n_parts; p++) {
		if (!r->parts[p].assigned)
			continue;
		assigned++;
		if (!r->parts[p].eof)
			return 0;
	}
	return assigned > 0;
}

/* Events on the broker not read yet (all assigned partitions, from the latest fetches' high
 * watermarks: no request), or -1 if a partition's is not known yet. */
static int64_t lag_events(const struct run *r)
{
	int64_t lag = 0;
	for (int p = 0; p < r->n_parts; p++) {
		int64_t low, high;
		if (!r->parts[p].assigned)
			continue;
		if (rd_kafka_get_watermark_offsets(r->rk, r->cfg->events_topic, p, &low, &high) !=
			RD_KAFKA_RESP_ERR_NO_ERROR ||
		    high < 0)
			return -1;
		if (high > r->parts[p].next)
			lag += high - r->parts[p].next;
	}
	return lag;
}

/*
 * Live (caught up): takes the messages that are ready without waiting for a full burst, and
 * waits up to timeout_ms only when none is (for the first one). Catching up, the loop asks
 * librdkafka for full bursts instead (rd_kafka_consume_batch_queue waits for size messages).
 */
static ssize_t fetch_ready(rd_kafka_t *rk, rd_kafka_queue_t *queue, int timeout_ms, rd_kafka_message_t **burst,
			   size_t size)
{
	ssize_t n = rd_kafka_consume_batch_queue(queue, 0, burst, size);
	if (n != 0 || timeout_ms <= 0)
		return n;
	rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, timeout_ms);
	if (!m)
		return 0;
	burst[0] = m;
	n = rd_kafka_consume_batch_queue(queue, 0, burst + 1, size - 1);
	return n < 0 ? 1 : n + 1;
}

/* The batch policy's view of the open batch (lag only when the policy needs it), and its verdict. */
static int batch_due(struct run *r, int drained)
{
	const struct cons_config *cfg = r->cfg;
	struct cons_batch_view v = { .events = r->batch_events, .lag = -1 };
	v.age_ms = cons__now_ms() - r->batch_started_ms;
	v.drained = drained;
	v.exit_ready = cfg->exit_at_end && all_at_end(r);
	if (drained || (r->live && v.age_ms >= cfg->batch_live_ms)) {
		v.lag = lag_events(r);
		r->live = v.lag >= 0 && v.lag <= cfg->live_lag_events;
	}
	return cons_batch_due(cfg, &v);
}

/*
 * The events consumer's error callback (served in the loop's thread): "all brokers down" marks
 * the broker unreachable (/ready says 503) until a probe succeeds (stats.c; not the next
 * message: it may have been fetched before the broker went away); every error is logged as
 * kclient logs them.
 */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct run *r = opaque;
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && !r->broker_down) {
		r->broker_down = 1;
		r->probe_at_ms = cons__now_ms();
	}
	kc_log_error(rk, err, reason, opaque);
	if (err == RD_KAFKA_RESP_ERR__FATAL) { /* the client can do nothing more: stop */
		char why[512];
		rd_kafka_resp_err_t e = rd_kafka_fatal_error(rk, why, sizeof why);
		cons__fatal(r, CONS_KAFKA, "%s%s", why,
			    e == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID
				? " (another member took this --instance-id, or the group's coordinator moved and "
				  "lost track of this member: start it again)"
				: "");
	}
}

static int open_consumer(struct run *r)
{
	const struct cons_config *cfg = r->cfg;
	char err[512];
	rd_kafka_conf_t *conf;
	char session[16];
	snprintf(session, sizeof session, "%d",
		 cfg->session_timeout_ms > 0 ? cfg->session_timeout_ms : CONS_SESSION_TIMEOUT_MS);
	const char *mine[24] = { "enable.auto.commit",
				 "false",
				 "enable.auto.offset.store",
				 "false",
				 "auto.offset.reset",
				 "error",
				 "enable.partition.eof",
				 "true",
				 "group.id",
				 cfg->group_id ? cfg->group_id : "segstream-assign",
				 "queued.min.messages",
				 "20000",
				 "fetch.max.bytes",
				 "2097152",
				 "max.partition.fetch.bytes",
				 "262144",
				 "fetch.wait.max.ms",
				 "100" };
	int n_mine = 18;
	if (cfg->group_id) {
		/* Incremental rebalances: a member keeps what it has unless it must move. Static
		 * membership when an instance id is given (see consumer.h). -X may still override. */
		const char *group[] = { "partition.assignment.strategy",
					"cooperative-sticky",
					"session.timeout.ms",
					session,
					"group.instance.id",
					cfg->instance_id };
		int n_group = cfg->instance_id ? 6 : 4;
		memcpy(mine + n_mine, group, (size_t)n_group * sizeof group[0]);
		n_mine += n_group;
	}
	/* A queue of 20,000 messages and 2 MiB fetches are a few milliseconds of consumption each;
	 * enough because the waker (waker.c) restarts fetching within wake_ms, and each fetched
	 * buffer stays in memory until its last message is freed. Measured trade-offs: BENCHMARKS.md.
	 * A fetch that finds nothing waits at most 100 ms (not 500): the end of the topic is seen
	 * sooner, and so is new data after an idle spell. */
	if (cons__conf(r, mine, n_mine, &conf, err, sizeof err) != KC_OK)
		return cons__fatal(r, CONS_CONFIG, "%s", err);
	rd_kafka_conf_set_error_cb(conf, on_error);
	if (cfg->group_id)
		rd_kafka_conf_set_rebalance_cb(conf, cons__rebalance);
	if (kc_new(RD_KAFKA_CONSUMER, conf, &r->rk, err, sizeof err) != KC_OK)
		return cons__fatal(r, CONS_KAFKA, "%s", err);
	rd_kafka_poll_set_consumer(r->rk);
	if (cfg->group_id && cfg->on_client)
		cfg->on_client(cfg->client_ctx, r->rk);
	return 0;
}

/* Start-up: the brokers must answer within cfg->broker_timeout_ms (see consumer.h). */
static int wait_brokers(struct run *r)
{
	char err[512];
	int rc = kc_wait_brokers(r->rk, r->cfg->log, "consume", r->cfg->broker_timeout_ms, r->cfg->stop, err,
				 sizeof err);
	return rc == KC_OK ? 0 : cons__fatal(r, CONS_KAFKA, "%s", err);
}

int cons_run(const struct cons_config *cfg, struct state_db *db, struct cons_stats *stats_out, char *errbuf,
	     size_t errbuf_len)
{
	struct run r = { .kc = { .log = cfg->log }, .cfg = cfg, .db = db, .errbuf = errbuf, .errbuf_len = errbuf_len };
	if (!cfg->brokers || !cfg->events_topic || !cfg->dlq_topic)
		return cons__fatal(&r, CONS_CONFIG, "brokers, events topic and dead-letter topic are required");
	r.started_ms = cons__now_ms();
	r.trace = log_enabled(cfg->log, LOG_LEVEL_DEBUG);
	if (open_consumer(&r) || cons__dlq_open(&r) || wait_brokers(&r) || cons__wait_for_events_topic(&r) ||
	    cons__load_table(&r, cfg->products_topic, CONS_TABLE_PRODUCTS) ||
	    cons__load_table(&r, cfg->customers_topic, CONS_TABLE_CUSTOMERS) ||
	    cons__load_table(&r, cfg->names_topic, CONS_TABLE_NAMES) || cons__start_events(&r))
		goto out;
	if (!cfg->group_id) /* with a group, each assignment starts one (assign.c) */
		cons__catchup_started(&r);
	struct waker waker;
	cons__waker_start(&waker, r.rk, cfg->events_topic, r.events_partitions, cfg->wake_ms);
	double started = cons__now_ms();
	r.stats_at_ms = started;
	r.status_at_ms = started;
	double next_status_ms = started + cfg->status_ms;
	double next_stats_ms = started + cfg->stats_ms;
	/* Messages come in bursts from the consumer queue (callbacks such as rebalances are still
	 * served inside the call): one clock read and one batch check per burst, not per message. */
	rd_kafka_queue_t *queue = rd_kafka_queue_get_consumer(r.rk);
	enum { BURST = 2048 };
	rd_kafka_message_t **burst = malloc(BURST * sizeof *burst);
	double at_end_since = -1;
	if (!burst)
		cons__fatal(&r, CONS_STATE, "out of memory");
	cons__burst_open(&r, BURST);
	while (!r.failed && !(cfg->stop && *cfg->stop)) {
		uint64_t rebalances = r.rebalances;
		ssize_t n = r.live ? fetch_ready(r.rk, queue, r.batch ? 0 : 100, burst, BURST)
				   : rd_kafka_consume_batch_queue(queue, r.batch ? 10 : 100, burst, BURST);
		int drained = n < BURST;
		if (r.rebalances != rebalances) /* a rebalance was served inside the call */
			n = cons__drop_stale(&r, burst, n, rebalances);
		int stamped = burst_stamped(&r, burst, n);
		if (r.trace && stamped)
			r.burst_us = cons__wall_us();
		cons__handle_burst(&r, burst, n, stamped);
		if (r.seeks_pending)
			cons__seek_gaps(&r);
		if (r.batch && batch_due(&r, drained))
			cons__commit_batch(&r);
		if (r.dlq)
			rd_kafka_poll(r.dlq, 0);
		if (cfg->on_stats || cfg->status_ms > 0 || r.broker_down) { /* else no clock to read */
			double now = cons__now_ms();
			if (r.broker_down)
				cons__probe_broker(&r, now);
			if (cfg->on_stats && now >= next_stats_ms) {
				cons__report_stats(&r, now);
				next_stats_ms = now + cfg->stats_ms;
			}
			if (cfg->status_ms > 0 && now >= next_status_ms) {
				cons__log_status(&r, now);
				next_status_ms = now + cfg->status_ms;
			}
		}
		int at_end = all_at_end(&r);
		atomic_store(&waker.idle, at_end);
		if (!r.batch && at_end) {
			if (at_end_since < 0) {
				at_end_since = cons__now_ms();
				/* At the end of every partition with nothing open: caught up, so the next events
				 * are taken as they come (fetch_ready), not after a wait for a full burst. */
				r.live = 1;
				if (r.catching_up)
					cons__catchup_finished(&r, at_end_since);
				if (cfg->on_caught_up)
					cfg->on_caught_up(cfg->caught_up_ctx);
			}
			if (!cfg->exit_at_end)
				continue;
			if (cons__now_ms() - at_end_since >= cfg->idle_ms)
				break;
		} else {
			at_end_since = -1;
		}
	}
	free(burst);
	cons__burst_close(&r);
	cons__waker_stop(&waker);
	rd_kafka_queue_destroy(queue);
	r.stats.seconds = (cons__now_ms() - started - (at_end_since >= 0 ? cfg->idle_ms : 0)) / 1e3;
	if (!r.failed)
		cons__commit_batch(&r); /* graceful stop: finish the batch, commit, close */
	cons__report_stats(&r, cons__now_ms());
	r.closing = 1;
	if (!cfg->group_id)
		cons__revoke_all(&r); /* with a group, closing revokes through the rebalance callback */
out:
	if (r.batch)
		state_batch_abort(r.batch);
	r.batch = NULL;
	r.closing = 1;
	if (r.rk) {
		cons__await_first_assignment(&r);
		cons__close(&r, r.rk, cfg->events_topic);
	}
	if (r.dlq) {
		rd_kafka_flush(r.dlq, 10000);
		rd_kafka_destroy(r.dlq);
	}
	cons__finish_stats(&r);
	free(r.parts);
	if (stats_out)
		*stats_out = r.stats;
	return r.failed;
}
