/*
 * Dead letters: invalid event messages go, unchanged, to the dead-letter topic with the reason
 * in the `segstream.error` header and their source in `segstream.source`; a batch is committed
 * only after its dead letters are delivered (cons__dlq_settle).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "consumer/internal.h"
#include "kclient/kclient.h"

static void dlq_delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	struct run *r = opaque;
	if (m->err) {
		r->dlq_failed++;
		log_warn(r->cfg->log, CONS_LOG, "dead letter not delivered: %s", rd_kafka_err2str(m->err));
	}
}

/* The dead-letter producer takes the user's properties too (security settings must reach every
 * client; librdkafka only warns about a consumer property it ignores), after its own. */
int cons__dlq_open(struct run *r)
{
	char err[512];
	rd_kafka_conf_t *conf;
	const char *dlq[] = { "enable.idempotence", "true", "linger.ms", "10" };
	if (kc_conf_new(r->cfg->brokers, dlq, (int)(sizeof dlq / sizeof dlq[0]), r->cfg->props, r->cfg->n_props, &conf,
			err, sizeof err) != KC_OK)
		return cons__fatal(r, CONS_CONFIG, "%s", err);
	kc_conf_set_logger(conf);
	rd_kafka_conf_set_opaque(conf, r);
	rd_kafka_conf_set_dr_msg_cb(conf, dlq_delivered);
	if (kc_new(RD_KAFKA_PRODUCER, conf, &r->dlq, err, sizeof err) != KC_OK)
		return cons__fatal(r, CONS_KAFKA, "%s", err);
	return 0;
}

/* Counts a dead letter under its reason; the table is small (the event error names and EVENT_KEY),
 * and a reason beyond it counts as the last one's ("other"). */
static void count_reason(struct run *r, const char *reason)
{
	for (int i = 0; i < r->n_dl_reasons; i++)
		if (strcmp(r->dl_reasons[i].reason, reason) == 0) {
			r->dl_reasons[i].count++;
			return;
		}
	int cap = (int)(sizeof r->dl_reasons / sizeof r->dl_reasons[0]);
	if (r->n_dl_reasons == cap - 1)
		reason = "other";
	if (r->n_dl_reasons < cap)
		r->dl_reasons[r->n_dl_reasons++] = (struct cons_reason_count){ .reason = reason, .count = 0 };
	r->dl_reasons[r->n_dl_reasons - 1].count++;
}

void cons__send_dead_letter(struct run *r, const rd_kafka_message_t *m, const char *reason, const char *why)
{
	char source[512];
	snprintf(source, sizeof source, "%s/%d/%" PRId64, rd_kafka_topic_name(m->rkt), m->partition, m->offset);
	rd_kafka_headers_t *hdrs = rd_kafka_headers_new(2);
	rd_kafka_header_add(hdrs, "segstream.error", -1, why, -1);
	rd_kafka_header_add(hdrs, "segstream.source", -1, source, -1);
	struct kc_msg msg = { .topic = r->cfg->dlq_topic,
			      .key = m->key,
			      .key_len = m->key_len,
			      .value = m->payload,
			      .value_len = m->len,
			      .headers = hdrs };
	char err[512];
	if (kc_produce(r->dlq, &msg, KC_PRODUCE_WAIT_MS, err, sizeof err) != KC_OK) {
		rd_kafka_headers_destroy(hdrs);
		cons__fatal(r, CONS_DLQ, "dead letter for %s: %s", source, err);
		return;
	}
	r->dlq_pending++;
	r->stats.invalid++;
	count_reason(r, reason);
	rd_kafka_poll(r->dlq, 0);
}

/* Waits until the batch's dead letters are delivered; CONS_DLQ if any was not (logged via fatal). */
int cons__dlq_settle(struct run *r)
{
	if (!r->dlq_pending)
		return 0;
	rd_kafka_flush(r->dlq, 30000);
	if (r->dlq_failed || rd_kafka_outq_len(r->dlq) > 0)
		return cons__fatal(r, CONS_DLQ, "%ld dead letters not delivered to %s; batch not committed",
				   r->dlq_failed + rd_kafka_outq_len(r->dlq), r->cfg->dlq_topic);
	r->dlq_pending = 0;
	return 0;
}
