/* Phase 1 of a run: the reference topics (products, customers, names), each read to its end into the state. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "consumer/internal.h"
#include "event/event.h"
#include "kclient/kclient.h"

/* Decodes one reference record and puts it into the open batch; a bad record is logged and skipped. */
static void put_reference(struct run *r, enum cons_table kind, const rd_kafka_message_t *m)
{
	char why[256];
	int rc = STATE_OK, drc;
	if (kind == CONS_TABLE_PRODUCTS) {
		struct event_product ep;
		if ((drc = event_product_decode(m->payload, m->len, &ep, why, sizeof why)) == EVENT_OK) {
			struct state_product sp;
			state_product_from_event(&ep, &sp);
			rc = state_batch_put_product(r->batch, &sp);
			if (rc == STATE_INVAL) { /* an id beyond what the state indexes (the decoder refuses 0) */
				log_warn(r->cfg->log, CONS_LOG,
					 "%s %d/%" PRId64
					 ": skipped: product_id %u is beyond the ids the state indexes now "
					 "(%u: %u per product held, at least %u)",
					 rd_kafka_topic_name(m->rkt), m->partition, m->offset, sp.product_id,
					 state_product_id_limit(r->db), STATE_PRODUCT_IDS_PER_PRODUCT,
					 STATE_PRODUCT_ID_FLOOR);
				rc = STATE_OK; /* a stray id must neither size the table nor stop the stream */
			} else if (rc == STATE_OK) {
				r->stats.products++;
			}
		}
	} else if (kind == CONS_TABLE_NAMES) {
		struct event_name en;
		if ((drc = event_name_decode(m->payload, m->len, &en, why, sizeof why)) == EVENT_OK) {
			if ((rc = state_batch_put_name(r->batch, &en)) == STATE_OK)
				r->stats.names++;
		}
	} else {
		struct event_customer ec;
		if ((drc = event_customer_decode(m->payload, m->len, &ec, why, sizeof why)) == EVENT_OK) {
			if ((rc = state_batch_put_demographics(r->batch, &ec)) == STATE_OK)
				r->stats.customers++;
		}
	}
	if (drc != EVENT_OK)
		log_warn(r->cfg->log, CONS_LOG, "%s %d/%" PRId64 ": skipped: %s", rd_kafka_topic_name(m->rkt),
			 m->partition, m->offset, why);
	if (rc != STATE_OK)
		cons__fatal(r, CONS_STATE, "storing a reference record: %s", state_strerror(rc));
}

/*
 * Reads every partition of topic from the state's offset (the beginning when none) to its end,
 * in one batch committed with the new offsets. A missing topic is a warning (no products: every
 * line is unpriced; no customers: no demographics), not an error.
 */
int cons__load_table(struct run *r, const char *topic, enum cons_table kind)
{
	const struct cons_config *cfg = r->cfg;
	char err[512];
	if (!topic || !*topic)
		return 0;
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	/* The end of a partition is seen in a fetch that finds nothing, which the broker holds for
	 * fetch.wait.max.ms (500 ms by default), and the waker's request queues behind it: 10 ms
	 * makes loading the two tables take ~0.1 s instead of 2 s. */
	const char *mine[] = { "enable.partition.eof", "true",     "enable.auto.commit", "false",
			       "auto.offset.reset",    "earliest", "group.id",           "segstream-reference-loader",
			       "fetch.wait.max.ms",    "10" };
	if (cons__conf(r, mine, (int)(sizeof mine / sizeof mine[0]), &conf, err, sizeof err) != KC_OK)
		return cons__fatal(r, CONS_CONFIG, "%s", err);
	if (kc_new(RD_KAFKA_CONSUMER, conf, &rk, err, sizeof err) != KC_OK)
		return cons__fatal(r, CONS_KAFKA, "%s", err);
	int n = kc_topic_partitions(rk, topic, 10000, err, sizeof err);
	if (n < 0) {
		log_warn(cfg->log, CONS_LOG, "%s (%s)",
			 kind == CONS_TABLE_PRODUCTS ? "no products: every line is unpriced"
			 : kind == CONS_TABLE_NAMES  ? "no department names: profiles by the Instacart ids"
						     : "no customer demographics",
			 err);
		rd_kafka_destroy(rk);
		return 0;
	}
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(n);
	for (int p = 0; p < n; p++)
		rd_kafka_topic_partition_list_add(list, topic, p)->offset = cons__stored_offset(
		    r, topic, p, RD_KAFKA_OFFSET_BEGINNING);
	rd_kafka_resp_err_t e = rd_kafka_assign(rk, list);
	rd_kafka_topic_partition_list_destroy(list);
	if (e) {
		rd_kafka_destroy(rk);
		return cons__fatal(r, CONS_KAFKA, "assign %s: %s", topic, rd_kafka_err2str(e));
	}
	struct waker waker;
	cons__waker_start(&waker, rk, topic, n, cfg->wake_ms);
	int *eof = calloc((size_t)n, sizeof *eof);
	int64_t *next = calloc((size_t)n, sizeof *next);
	int at_end = 0;
	while (!r->failed && at_end < n && !(cfg->stop && *cfg->stop) && eof && next) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (!m)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			at_end += !eof[m->partition];
			eof[m->partition] = 1;
		} else if (m->err) {
			log_warn(cfg->log, CONS_LOG, "%s: %s", topic, rd_kafka_message_errstr(m));
		} else if (cons__ensure_batch(r) == 0) {
			at_end -= eof[m->partition];
			eof[m->partition] = 0;
			next[m->partition] = m->offset + 1;
			put_reference(r, kind, m);
		}
		rd_kafka_message_destroy(m);
	}
	if (r->batch && !r->failed) {
		int rc = STATE_OK;
		for (int p = 0; p < n && rc == STATE_OK; p++)
			if (next[p])
				rc = state_batch_set_offset(r->batch, topic, p, next[p]);
		if (rc == STATE_OK) {
			rc = state_batch_commit(r->batch, NULL);
		} else {
			state_batch_abort(r->batch);
		}
		r->batch = NULL;
		if (rc != STATE_OK) /* the records are not kept without their offsets */
			cons__fatal(r, CONS_STATE, "committing %s: %s", topic, state_strerror(rc));
	}
	if (!eof || !next)
		cons__fatal(r, CONS_STATE, "out of memory");
	free(eof);
	free(next);
	cons__waker_stop(&waker);
	cons__close(r, rk, topic);
	return r->failed;
}
