/* Kafka topic helpers shared by the CLI's commands. */
#include <librdkafka/rdkafka.h>
#include <stdio.h>

#include "tools/segstream/cli.h"

int cli_topic_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	int n = -1;
	if (rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 &&
	    md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
		n = md->topics[0].partition_cnt;
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	return n;
}

/*
 * Reference topics are compacted (latest value per key). A topic that exists is left as it is;
 * a missing one is created with cleanup.policy=compact and the broker's default partitions.
 * Failures are warnings: the broker may auto-create it, uncompacted, on the first produce.
 */
void cli_ensure_compacted_topic(rd_kafka_t *rk, const char *topic)
{
	if (cli_topic_partitions(rk, topic, 5000) >= 0)
		return;
	char err[256];
	rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, -1, -1, err, sizeof err);
	if (!nt) {
		fprintf(stderr, "segstream: warning: %s: %s\n", topic, err);
		return;
	}
	rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 10000);
	const rd_kafka_CreateTopics_result_t *res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
	size_t n = 0;
	const rd_kafka_topic_result_t **tr = res ? rd_kafka_CreateTopics_result_topics(res, &n) : NULL;
	if (!ev || rd_kafka_event_error(ev) || n != 1 ||
	    (rd_kafka_topic_result_error(tr[0]) && rd_kafka_topic_result_error(tr[0]) != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS))
		fprintf(stderr, "segstream: warning: could not create compacted topic %s: %s\n", topic,
			!ev ? "timed out" : rd_kafka_event_error(ev) ? rd_kafka_event_error_string(ev)
			: n == 1 ? rd_kafka_topic_result_error_string(tr[0]) : "no result");
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_NewTopic_destroy(nt);
}

