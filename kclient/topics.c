/* Topics: a topic's partition count and offsets, a key's partition, and creating a topic before
 * anything is produced to it (see kclient.h). */
#include "kclient/kclient.h"
#include "kclient/kclient_int.h"
#include "log/log.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int kc_topic_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms, char *errbuf, size_t errbuf_len)
{
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	const struct rd_kafka_metadata *md = NULL;
	int n = KC_KAFKA;
	rd_kafka_resp_err_t e = rkt ? rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms) : rd_kafka_last_error();
	if (e) {
		if (errbuf && errbuf_len)
			snprintf(errbuf, errbuf_len, "metadata of %s: %s", topic, rd_kafka_err2str(e));
	} else if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		n = md->topics[0].partition_cnt;
	} else {
		n = md->topic_cnt && md->topics[0].err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ? KC_KAFKA
												  : KC_NOTFOUND;
		if (errbuf && errbuf_len)
			snprintf(errbuf, errbuf_len, "topic %s: %s", topic,
				 md->topic_cnt ? rd_kafka_err2str(md->topics[0].err) : "not found");
	}
	if (md)
		rd_kafka_metadata_destroy(md);
	if (rkt)
		rd_kafka_topic_destroy(rkt);
	return n;
}

/*
 * The topic's state in the broker's metadata: -1 missing (or no metadata), 0 present but some
 * partition has no leader yet, 1 ready; with its partition count (0 if missing) and the number
 * of brokers the cluster lists (0 without metadata). Asks for all topics: a metadata request
 * naming a topic makes the broker auto-create it (a producer allows that), with the default
 * cleanup policy.
 */
static int topic_state(rd_kafka_t *rk, const char *topic, int timeout_ms, int *partitions_out, int *brokers_out)
{
	const struct rd_kafka_metadata *md = NULL;
	int state = -1;
	*partitions_out = 0;
	*brokers_out = 0;
	if (rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return -1;
	*brokers_out = md->broker_cnt;
	for (int t = 0; t < md->topic_cnt && state < 0; t++) {
		const struct rd_kafka_metadata_topic *mt = &md->topics[t];
		if (strcmp(mt->topic, topic) != 0 || mt->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
			continue;
		state = mt->err == RD_KAFKA_RESP_ERR_NO_ERROR && mt->partition_cnt > 0;
		*partitions_out = mt->partition_cnt;
		for (int p = 0; p < mt->partition_cnt; p++)
			if (mt->partitions[p].leader < 0 || mt->partitions[p].err)
				state = 0;
	}
	rd_kafka_metadata_destroy(md);
	return state;
}

/*
 * Sends CreateTopics for one topic: partitions (-1: the broker's default), and KC_REPLICAS
 * replicas with min.insync.replicas on a cluster of that many brokers.
 * @return NULL, or why it failed (TOPIC_ALREADY_EXISTS is no failure).
 */
static const char *create_topic(rd_kafka_t *rk, const char *topic, int compacted, int partitions, int brokers,
				char *err, size_t err_len)
{
	int replicated = brokers >= KC_REPLICAS;
	rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions > 0 ? partitions : -1,
							replicated ? KC_REPLICAS : -1, err, err_len);
	if (!nt)
		return err;
	if (compacted)
		rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
	if (replicated)
		rd_kafka_NewTopic_set_config(nt, "min.insync.replicas", KC_MIN_INSYNC);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 10000);
	const rd_kafka_CreateTopics_result_t *res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
	size_t n = 0;
	const rd_kafka_topic_result_t **tr = res ? rd_kafka_CreateTopics_result_topics(res, &n) : NULL;
	const char *why = NULL;
	if (!ev)
		why = "timed out";
	else if (rd_kafka_event_error(ev))
		why = rd_kafka_event_error_string(ev);
	else if (n != 1)
		why = "no result";
	else if (rd_kafka_topic_result_error(tr[0]) &&
		 rd_kafka_topic_result_error(tr[0]) != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
		why = rd_kafka_topic_result_error_string(tr[0]);
	if (why) { /* copied: the event owns the string */
		snprintf(err, err_len, "%s", why);
		why = err;
	}
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_NewTopic_destroy(nt);
	return why;
}

int kc_topic_ensure(rd_kafka_t *rk, const char *topic, int compacted, char *errbuf, size_t errbuf_len)
{
	return kc_topic_ensure_partitions(rk, topic, compacted, 0, errbuf, errbuf_len);
}

/*
 * A topic that exists is left as it is (its partition count checked when one is asked for). A
 * missing one is created; then this waits until every partition has a leader, polling every
 * 20 ms. A failed creation returns at once (no wait for leaders).
 */
int kc_topic_ensure_partitions(rd_kafka_t *rk, const char *topic, int compacted, int partitions, char *errbuf,
			       size_t errbuf_len)
{
	int have = 0, brokers = 0;
	int state = topic_state(rk, topic, 5000, &have, &brokers);
	char err[256];
	if (state < 0) {
		const char *why = create_topic(rk, topic, compacted, partitions, brokers, err, sizeof err);
		if (why) {
			if (errbuf && errbuf_len)
				snprintf(errbuf, errbuf_len, "could not create topic %s: %s", topic, why);
			return KC_CREATE;
		}
	}
	for (int waited_ms = 0; state <= 0 && waited_ms < 10000; waited_ms += 20) {
		if ((state = topic_state(rk, topic, 5000, &have, &brokers)) <= 0) {
			const struct timespec pause = { 0, 20 * 1000 * 1000 };
			nanosleep(&pause, NULL);
		}
	}
	if (state <= 0) {
		if (errbuf && errbuf_len)
			snprintf(errbuf, errbuf_len, "topic %s has no leader for every partition yet", topic);
		return KC_NOLEADER;
	}
	if (partitions > 0 && have != partitions) {
		if (errbuf && errbuf_len)
			snprintf(errbuf, errbuf_len, "topic %s exists with %d partitions, not %d", topic, have,
				 partitions);
		return KC_PARTITIONS;
	}
	return KC_OK;
}

/* The configured bootstrap.servers, for messages. */
static void brokers_of(rd_kafka_t *rk, char *out, size_t out_len)
{
	size_t n = out_len;
	if (rd_kafka_conf_get(rd_kafka_conf(rk), "bootstrap.servers", out, &n) != RD_KAFKA_CONF_OK)
		snprintf(out, out_len, "?");
}

int kc_wait_brokers(rd_kafka_t *rk, struct logger *log, const char *who, int timeout_ms, volatile sig_atomic_t *stop,
		    char *errbuf, size_t errbuf_len)
{
	double start = kc__now_ms(), next_log = start;
	int backoff_ms = 100;
	char brokers[256];
	brokers_of(rk, brokers, sizeof brokers);
	for (;;) {
		double left = timeout_ms > 0 ? start + timeout_ms - kc__now_ms() : 2000;
		const struct rd_kafka_metadata *md = NULL;
		rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, NULL, &md,
							  left < 2000 ? (left > 100 ? (int)left : 100) : 2000);
		if (!e) {
			rd_kafka_metadata_destroy(md);
			if (next_log > start) /* the wait was said: say that it is over */
				log_info(log, who, "the brokers (%s) answer after %.0f s", brokers,
					 (kc__now_ms() - start) / 1e3);
			return KC_OK;
		}
		double waited = kc__now_ms() - start;
		if (stop && *stop) {
			if (errbuf && errbuf_len)
				snprintf(errbuf, errbuf_len, "stopped while waiting for the brokers (%s): %s", brokers,
					 rd_kafka_err2str(e));
			return KC_STOPPED;
		}
		if (timeout_ms > 0 && waited >= timeout_ms) {
			if (errbuf && errbuf_len)
				snprintf(
				    errbuf, errbuf_len,
				    "no answer from the brokers (%s) in %.0f s: %s (unreachable, or a security setting "
				    "that does not match: see -X)",
				    brokers, waited / 1e3, rd_kafka_err2str(e));
			return KC_TIMEOUT;
		}
		if (kc__now_ms() >= next_log) {
			if (timeout_ms > 0)
				log_warn(log, who, "waiting for the brokers (%s): %s; %.0f of %d s", brokers,
					 rd_kafka_err2str(e), waited / 1e3, timeout_ms / 1000);
			else
				log_warn(log, who, "waiting for the brokers (%s): %s; %.0f s", brokers,
					 rd_kafka_err2str(e), waited / 1e3);
			next_log = (next_log > start ? next_log : start) + 10000;
		}
		struct timespec pause = { backoff_ms / 1000, (backoff_ms % 1000) * 1000000L };
		nanosleep(&pause, NULL);
		backoff_ms = backoff_ms * 2 > 2000 ? 2000 : backoff_ms * 2;
	}
}

int kc_topic_offsets_for_time(rd_kafka_t *rk, const char *topic, int32_t partitions, int64_t time_ms, int64_t *next_out,
			      char *errbuf, size_t errbuf_len)
{
	int rc = KC_OK;
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(partitions > 0 ? partitions : 1);
	for (int32_t p = 0; p < partitions && rc == KC_OK; p++) {
		int64_t lo, hi;
		rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000);
		if (e) {
			snprintf(errbuf, errbuf_len, "watermarks of %s/%d: %s", topic, p, rd_kafka_err2str(e));
			rc = KC_KAFKA;
		}
		next_out[p] = hi; /* the whole partition, unless a time says otherwise */
		rd_kafka_topic_partition_list_add(list, topic, p)->offset = time_ms;
	}
	if (rc == KC_OK && time_ms != INT64_MAX) {
		rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(rk, list, 10000);
		if (e) {
			snprintf(errbuf, errbuf_len, "offsets_for_times on %s: %s", topic, rd_kafka_err2str(e));
			rc = KC_KAFKA;
		}
		for (int i = 0; rc == KC_OK && i < list->cnt; i++) /* -1: nothing at or after T yet: the end */
			if (list->elems[i].offset >= 0)
				next_out[list->elems[i].partition] = list->elems[i].offset;
	}
	rd_kafka_topic_partition_list_destroy(list);
	return rc;
}

int32_t kc_partition_for_key(const void *key, size_t key_len, int32_t partitions)
{
	return rd_kafka_msg_partitioner_murmur2(NULL, key, key_len, partitions, NULL, NULL);
}
