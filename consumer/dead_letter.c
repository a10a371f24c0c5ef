/*
 * Dead letters: invalid event messages go, unchanged, to the dead-letter topic with the reason
 * in the `segstream.error` header and their source in `segstream.source` (a message larger than
 * the dead-letter limit goes out truncated, marked); a refused line of an order message goes as
 * that order with the line alone, its position in `segstream.line`. A batch is committed only
 * after its dead letters are delivered (cons__dlq_settle).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
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
	/* The limit: cfg->dlq_max_bytes, never above what this producer accepts (-X may change it). */
	char v[32];
	size_t v_len = sizeof v;
	unsigned long long producer_max = 1000000;
	if (rd_kafka_conf_get(conf, "message.max.bytes", v, &v_len) == RD_KAFKA_CONF_OK)
		producer_max = strtoull(v, NULL, 10);
	r->dlq_limit = r->cfg->dlq_max_bytes && r->cfg->dlq_max_bytes < producer_max ? r->cfg->dlq_max_bytes
										     : (size_t)producer_max;
	kc_conf_set_logger(conf);
	rd_kafka_conf_set_opaque(conf, r);
	rd_kafka_conf_set_dr_msg_cb(conf, dlq_delivered);
	if (kc_new(RD_KAFKA_PRODUCER, conf, &r->dlq, err, sizeof err) != KC_OK)
		return cons__fatal(r, CONS_KAFKA, "%s", err);
	return 0;
}

/* Room kept under the limit for the record's headers (the reason is at most DLQ_REASON_MAX) and
 * its framing; the key of a truncated dead letter keeps at most DLQ_KEY_KEEP bytes. */
#define DLQ_OVERHEAD   2048
#define DLQ_REASON_MAX 640
#define DLQ_KEY_KEEP   256

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

/*
 * Sends one dead letter; a message whose key and value do not fit the limit is cut to fit: the
 * value keeps its first bytes, `segstream.truncated` holds its original size and the reason says
 * so. A refused produce is fatal (the batch must not be committed without it).
 */
void cons__send_dead_letter(struct run *r, const rd_kafka_message_t *m, const void *value, size_t len, int line,
			    const char *reason, const char *why)
{
	char source[512], error[DLQ_REASON_MAX], original[24], line_text[16];
	snprintf(source, sizeof source, "%s/%d/%" PRId64, rd_kafka_topic_name(m->rkt), m->partition, m->offset);
	size_t key_len = m->key ? m->key_len : 0, value_len = len;
	size_t room = r->dlq_limit > DLQ_OVERHEAD ? r->dlq_limit - DLQ_OVERHEAD : 0;
	int truncated = key_len + value_len > room;
	if (truncated) {
		if (key_len > DLQ_KEY_KEEP)
			key_len = DLQ_KEY_KEEP;
		if (value_len > room - (key_len < room ? key_len : room))
			value_len = room - (key_len < room ? key_len : room);
		snprintf(error, sizeof error,
			 "%s; dead letter truncated: payload %zu of %zu bytes, key %zu of %zu (limit %zu)", why,
			 value_len, len, key_len, m->key ? m->key_len : 0, r->dlq_limit);
		snprintf(original, sizeof original, "%zu", len);
		log_warn(r->cfg->log, CONS_LOG, "dead letter for %s truncated to %zu of %zu bytes (limit %zu)", source,
			 value_len, len, r->dlq_limit);
	} else {
		snprintf(error, sizeof error, "%s", why);
	}
	rd_kafka_headers_t *hdrs = rd_kafka_headers_new(4);
	rd_kafka_header_add(hdrs, "segstream.error", -1, error, -1);
	rd_kafka_header_add(hdrs, "segstream.source", -1, source, -1);
	if (truncated)
		rd_kafka_header_add(hdrs, "segstream.truncated", -1, original, -1);
	if (line >= 0) { /* a line of an order message: its position there, 1-based */
		snprintf(line_text, sizeof line_text, "%d", line + 1);
		rd_kafka_header_add(hdrs, "segstream.line", -1, line_text, -1);
	}
	struct kc_msg msg = { .topic = r->cfg->dlq_topic,
			      .key = m->key,
			      .key_len = key_len,
			      .value = value,
			      .value_len = value_len,
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
