/* Reading a whole topic: every partition from its beginning to the end it had when the read
 * began, record by record to the caller (what a compacted topic holds; see kclient.h). */
#include "kclient/kclient.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kclient/kclient_int.h"

/* Errors of a partition whose leader is still being elected or learned: asking again helps. */
static int retriable(rd_kafka_resp_err_t e)
{
	return e == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION || e == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
	       e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || e == RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE ||
	       e == RD_KAFKA_RESP_ERR_REPLICA_NOT_AVAILABLE || e == RD_KAFKA_RESP_ERR__TRANSPORT;
}

/*
 * Each partition's end (high watermark) is asked for first, and the read stops at those ends:
 * a producer writing meanwhile does not make it longer. A partition is done at its end offset
 * or at a partition EOF (the end of a transactional topic is a control record never delivered).
 */
int kc_topic_read(const char *brokers, const char *const *props, int n_props, const char *topic, int timeout_ms,
		  kc_record_cb cb, void *ctx, char *errbuf, size_t errbuf_len)
{
	/* 10 ms fetch waits: the end of a partition is a fetch that finds nothing, which the broker
	 * would otherwise hold for 500 ms. A large queued.min.messages keeps librdkafka 2.0.2 from
	 * pausing its fetcher for a second each time the queue fills (consumer/waker.c). */
	static const char *const mine[] = { "group.id",
					    "segstream-topic-reader",
					    "enable.auto.commit",
					    "false",
					    "enable.partition.eof",
					    "true",
					    "auto.offset.reset",
					    "earliest",
					    "fetch.wait.max.ms",
					    "10",
					    "queued.min.messages",
					    "1000000" };
	rd_kafka_conf_t *conf = NULL;
	rd_kafka_t *rk = NULL;
	rd_kafka_topic_partition_list_t *list = NULL;
	int64_t *end = NULL;
	int n = 0, left = 0,
	    rc = kc_conf_new(brokers, mine, (int)(sizeof mine / sizeof mine[0]), props, n_props, &conf, errbuf,
			     errbuf_len);
	if (rc != KC_OK)
		goto out;
	if ((rc = kc_new(RD_KAFKA_CONSUMER, conf, &rk, errbuf, errbuf_len)) != KC_OK)
		goto out;
	if ((n = kc_topic_partitions(rk, topic, timeout_ms, errbuf, errbuf_len)) < 0) {
		rc = n;
		goto out;
	}
	end = calloc((size_t)n + 1, sizeof *end);
	list = rd_kafka_topic_partition_list_new(n > 0 ? n : 1);
	if (!end || !list) {
		rc = KC_KAFKA;
		snprintf(errbuf, errbuf_len, "reading %s: out of memory", topic);
		goto out;
	}
	for (int p = 0; p < n; p++) {
		int64_t low, high;
		double since = kc__now_ms();
		rd_kafka_resp_err_t e;
		/* A topic created a moment ago may have leaders in the metadata before they answer. */
		while ((e = rd_kafka_query_watermark_offsets(rk, topic, p, &low, &high, timeout_ms)) != 0 &&
		       retriable(e) && kc__now_ms() - since < timeout_ms) {
			struct timespec pause = { 0, 50 * 1000 * 1000 };
			nanosleep(&pause, NULL);
		}
		if (e) {
			rc = KC_KAFKA;
			snprintf(errbuf, errbuf_len, "watermarks of %s [%d]: %s", topic, p, rd_kafka_err2str(e));
			goto out;
		}
		end[p] = high;
		if (high > low) {
			rd_kafka_topic_partition_list_add(list, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
			left++;
		}
	}
	if (left == 0)
		goto out;
	rd_kafka_resp_err_t e = rd_kafka_assign(rk, list);
	if (e) {
		rc = KC_KAFKA;
		snprintf(errbuf, errbuf_len, "assign %s: %s", topic, rd_kafka_err2str(e));
		goto out;
	}
	double last_progress = kc__now_ms();
	while (left > 0 && rc == KC_OK) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (!m) {
			if (kc__now_ms() - last_progress > timeout_ms) {
				rc = KC_KAFKA;
				snprintf(errbuf, errbuf_len, "reading %s: nothing for %d ms before its end", topic,
					 timeout_ms);
			}
			continue;
		}
		int p = m->partition;
		last_progress = kc__now_ms();
		if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			rc = KC_KAFKA;
			snprintf(errbuf, errbuf_len, "reading %s: %s", topic, rd_kafka_message_errstr(m));
		} else if (p >= 0 && p < n && end[p] >= 0) {
			if (!m->err && m->offset < end[p])
				rc = cb(p, m->offset, m->key, m->key_len, m->payload, m->len, ctx);
			if (m->err || m->offset + 1 >= end[p]) {
				end[p] = -1; /* done */
				left--;
			}
		}
		rd_kafka_message_destroy(m);
	}
out:
	if (list)
		rd_kafka_topic_partition_list_destroy(list);
	free(end);
	if (rk) {
		rd_kafka_consumer_close(rk);
		rd_kafka_destroy(rk);
	}
	return rc;
}
