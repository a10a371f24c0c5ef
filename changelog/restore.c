/*
 * Taking a partition over and giving it up: a restore reads one changelog partition
 * (read_committed, from its beginning to its end), keeps the latest value of each key, and
 * reconciles it with the state (replace, republish or keep), once no transaction of a previous
 * owner is pending; a release flushes, then drops the partition from the state.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "changelog/internal.h"
#include "log/log.h"

/* One customer record read, in read order; the value is in the arena. */
struct entry {
	uint32_t user_id;
	int64_t offset; /* in the changelog partition: the later one wins */
	size_t at;      /* into the arena */
	size_t len;     /* 0 with tombstone */
	int tombstone;
};

struct readout {
	struct entry *entries;
	size_t n, cap;
	uint8_t *arena;
	size_t used, arena_cap;
	int64_t marker, marker_offset; /* -1: none read */
	uint64_t read;
};

static int remember(struct readout *r, uint32_t user_id, int64_t offset, const void *value, size_t len)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16384;
		struct entry *e = realloc(r->entries, cap * sizeof *e);
		if (!e)
			return CLOG_NOMEM;
		r->entries = e;
		r->cap = cap;
	}
	if (r->used + len > r->arena_cap) {
		size_t cap = r->arena_cap ? r->arena_cap * 2 : (size_t)2 << 20;
		while (cap < r->used + len)
			cap *= 2;
		uint8_t *a = realloc(r->arena, cap);
		if (!a)
			return CLOG_NOMEM;
		r->arena = a;
		r->arena_cap = cap;
	}
	if (len)
		memcpy(r->arena + r->used, value, len);
	r->entries[r->n++] = (struct entry){ user_id, offset, r->used, len, value == NULL };
	r->used += len;
	return CLOG_OK;
}

/* One message of the partition being read: a customer's record or the marker. */
static int take(struct clog *c, struct readout *r, int32_t partition, const rd_kafka_message_t *m)
{
	enum clog_key_kind kind;
	uint32_t part, user;
	r->read++;
	if (clog_key_decode(m->key, m->key_len, &kind, &part, &user) != CLOG_OK || part != (uint32_t)partition) {
		clog__error(c, "offset %" PRId64 ": a key that is not one of partition %d's", m->offset,
			    (int)partition);
		return CLOG_CORRUPT;
	}
	if (kind == CLOG_KEY_MARKER) {
		int64_t next;
		if (clog_marker_decode(m->payload, m->len, &next) != CLOG_OK) {
			clog__error(c, "offset %" PRId64 ": a marker that does not decode", m->offset);
			return CLOG_CORRUPT;
		}
		r->marker = next;
		r->marker_offset = m->offset;
		return CLOG_OK;
	}
	return remember(r, user, m->offset, m->payload, m->payload ? m->len : 0);
}

/* Reads changelog partition p from its beginning to its end (the last stable offset: the EOF of
 * a read_committed consumer). */
static int read_partition(struct clog *c, int32_t partition, struct readout *r)
{
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(list, c->cfg.topic, partition)->offset = RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_resp_err_t e = rd_kafka_assign(c->reader, list);
	rd_kafka_topic_partition_list_destroy(list);
	if (e) {
		clog__error(c, "assign %s [%d]: %s", c->cfg.topic, (int)partition, rd_kafka_err2str(e));
		return CLOG_KAFKA;
	}
	int rc = CLOG_KAFKA;
	double last_progress = clog__now_ms();
	char last_err[256] = "no answer";
	for (;;) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c->reader, 100);
		if (!m) {
			if (clog__now_ms() - last_progress > c->cfg.timeout_ms) {
				clog__error(c, "reading %s [%d]: nothing for %d ms (%s)", c->cfg.topic, (int)partition,
					    c->cfg.timeout_ms, last_err);
				break;
			}
			continue;
		}
		if (m->partition != partition || !m->rkt || strcmp(rd_kafka_topic_name(m->rkt), c->cfg.topic) != 0) {
			rd_kafka_message_destroy(m); /* a previous restore's leftover */
			continue;
		}
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			rd_kafka_message_destroy(m);
			rc = CLOG_OK;
			break;
		}
		if (m->err) {
			snprintf(last_err, sizeof last_err, "%s", rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			continue; /* transient (a leader moving, a topic just made): the timeout bounds it */
		}
		last_progress = clog__now_ms();
		rc = take(c, r, partition, m);
		rd_kafka_message_destroy(m);
		if (rc != CLOG_OK)
			break;
		rc = CLOG_KAFKA;
	}
	rd_kafka_assign(c->reader, NULL);
	return rc;
}

/*
 * With a group: waits until the group holds no pending transactional offset of the partition,
 * i.e. no transaction of the previous owner that the group accepted (its markers) and that is
 * not committed or aborted yet: a read_committed reader stops at the last stable offset, before
 * such a transaction, which could then commit after this restore and overwrite later records
 * with older ones (KIP-447: the new owner fetches stable offsets). rd_kafka_committed() asks for
 * stable offsets (the consumer is read_committed, librdkafka's default) and librdkafka retries
 * UNSTABLE_OFFSET_COMMIT a few times; this asks again until a deadline (a pending transaction
 * ends within transaction.timeout.ms, 10 s: committed, or aborted by the broker). A failure or a
 * timeout is a warning, and the restore goes on: it runs in the rebalance callback, and a member
 * that stays there cannot rejoin the group's next rebalance until it returns (seen in one
 * handoff_cluster run at load average 20: three restores that each waited 15 s, the member's new
 * partitions given to the others 6 s after it got them, then a cascade of rebalances). So the
 * restores of one assignment (each beginning within a second of the last one's end) share one
 * deadline: half the session timeout, 15 s and the changelog's timeout at most.
 */
static double stable_deadline(struct clog *c)
{
	double now = clog__now_ms();
	if (now - c->restore_ended_ms <= 1000 && c->stable_until_ms > 0)
		return c->stable_until_ms;
	double budget = c->cfg.timeout_ms < 15000 ? c->cfg.timeout_ms : 15000;
	char value[32];
	size_t len = sizeof value;
	if (rd_kafka_conf_get(rd_kafka_conf(c->group), "session.timeout.ms", value, &len) == RD_KAFKA_CONF_OK &&
	    atof(value) / 2 < budget)
		budget = atof(value) / 2;
	return c->stable_until_ms = now + budget;
}

static void await_stable(struct clog *c, int32_t partition)
{
	double until = stable_deadline(c);
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_add(list, c->cfg.events_topic, partition);
	rd_kafka_resp_err_t e;
	int waits = 0;
	for (;;) {
		int left = (int)(until - clog__now_ms());
		e = rd_kafka_committed(c->group, list, left > 100 ? left : 100);
		if (!e)
			e = tp->err;
		if (e != RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT || clog__now_ms() >= until)
			break;
		waits++;
		const struct timespec pause = { 0, 100 * 1000 * 1000 };
		nanosleep(&pause, NULL);
	}
	if (e)
		log_warn(c->cfg.log, CLOG_LOG, "partition %d: the group's offset is not stable (%s): restoring anyway",
			 (int)partition, rd_kafka_err2str(e));
	else if (waits)
		log_info(c->cfg.log, CLOG_LOG, "partition %d: waited for a pending transaction of its previous owner",
			 (int)partition);
	rd_kafka_topic_partition_list_destroy(list);
}

static int by_user_then_offset(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	if (x->user_id != y->user_id)
		return x->user_id < y->user_id ? -1 : 1;
	return (x->offset > y->offset) - (x->offset < y->offset);
}

/* Replaces the state's partition with the changelog's latest records and marker, in one state
 * transaction; a record that is not a valid one of its key aborts it whole. */
static int replace(struct clog *c, int32_t partition, struct readout *r, uint64_t *records_out)
{
	if (r->n > 1)
		qsort(r->entries, r->n, sizeof *r->entries, by_user_then_offset);
	struct state_batch *b;
	int src = state_batch_begin(c->db, &b);
	if (src != STATE_OK) {
		clog__error(c, "state: %s", state_strerror(src));
		return CLOG_STATE;
	}
	uint64_t written = 0;
	src = state_batch_drop_partition(b, c->cfg.events_topic, partition, NULL);
	for (size_t i = 0; i < r->n && src == STATE_OK; i++) {
		const struct entry *e = &r->entries[i];
		if (i + 1 < r->n && r->entries[i + 1].user_id == e->user_id)
			continue; /* a later value of the same key follows */
		if (e->tombstone)
			continue;
		src = state_batch_put_raw(b, (uint32_t)partition, e->user_id, r->arena + e->at, e->len);
		if (src == STATE_CORRUPT || src == STATE_VERSION) {
			state_batch_abort(b);
			clog__error(c, "customer %u of partition %d: its record is not valid (%s)", e->user_id,
				    (int)partition, state_strerror(src));
			return CLOG_CORRUPT;
		}
		written++;
	}
	if (src == STATE_OK)
		src = state_batch_set_offset(b, c->cfg.events_topic, partition, r->marker);
	if (src != STATE_OK) {
		state_batch_abort(b);
		clog__error(c, "state: %s", state_strerror(src));
		return CLOG_STATE;
	}
	if ((src = state_batch_commit(b, NULL)) != STATE_OK) {
		clog__error(c, "state commit: %s", state_strerror(src));
		return CLOG_STATE;
	}
	*records_out = written;
	return CLOG_OK;
}

int clog_restore(struct clog *c, int32_t partition, struct clog_restore_report *rep_out, char *errbuf,
		 size_t errbuf_len)
{
	struct clog_restore_report rep = { .marker = -1, .local = -1 };
	struct readout r = { .marker = -1, .marker_offset = -1 };
	double t0 = clog__now_ms();
	int rc = CLOG_FAILED;
	c->err[0] = 0;
	if (clog__recover(c) != CLOG_OK)
		goto out;
	log_info(c->cfg.log, CLOG_LOG, "restore of partition %d started", (int)partition);
	if ((rc = clog__topic_ready(c)) != CLOG_OK)
		goto out;
	if (c->group)
		await_stable(c, partition);
	if ((rc = read_partition(c, partition, &r)) != CLOG_OK)
		goto out;
	int src = state_offset_get(c->db, c->cfg.events_topic, partition, &rep.local);
	if (src == STATE_NOTFOUND)
		rep.local = -1;
	else if (src != STATE_OK) {
		clog__error(c, "state: %s", state_strerror(src));
		rc = CLOG_STATE;
		goto out;
	}
	rep.marker = r.marker;
	rep.read = r.read;
	rep.action = clog_reconcile(r.marker, rep.local);
	if (rep.action == CLOG_REPLACE) {
		rc = replace(c, partition, &r, &rep.records);
		if (rc == CLOG_OK)
			c->stats.restored++;
	} else if (rep.action == CLOG_REPUBLISH) {
		rc = clog__republish(c, partition, &rep.records);
	}
out:
	c->restore_ended_ms = clog__now_ms();
	rep.seconds = (c->restore_ended_ms - t0) / 1e3;
	if (rc == CLOG_OK) {
		struct log_field f[] = {
			LOG_INT("partition", partition),   LOG_STR("action", clog_action_name(rep.action)),
			LOG_UINT("records", rep.records),  LOG_INT("marker", rep.marker),
			LOG_INT("local", rep.local),       LOG_UINT("read", rep.read),
			LOG_DOUBLE("seconds", rep.seconds)
		};
		char msg[128];
		snprintf(msg, sizeof msg, "restore of partition %d done: %s", (int)partition,
			 clog_action_name(rep.action));
		log_fields(c->cfg.log, LOG_LEVEL_INFO, CLOG_LOG, f, sizeof f / sizeof f[0], msg);
	} else {
		c->failed = 1;
		snprintf(errbuf, errbuf_len, "changelog %s: restore of partition %d: %s", c->cfg.topic, (int)partition,
			 c->err);
	}
	if (rep_out)
		*rep_out = rep;
	free(r.entries);
	free(r.arena);
	return rc;
}

/* Deletes a partition's customers and offset from the state in one transaction, and logs it. */
static int drop(struct clog *c, int32_t partition, const char *why, uint64_t *dropped_out, char *errbuf,
		size_t errbuf_len)
{
	uint64_t dropped = 0;
	struct state_batch *b;
	int src = state_batch_begin(c->db, &b);
	if (src == STATE_OK) {
		src = state_batch_drop_partition(b, c->cfg.events_topic, partition, &dropped);
		if (src == STATE_OK)
			src = state_batch_commit(b, NULL);
		else
			state_batch_abort(b);
	}
	if (src != STATE_OK) {
		snprintf(errbuf, errbuf_len, "changelog: dropping partition %d: %s", (int)partition,
			 state_strerror(src));
		return CLOG_STATE;
	}
	c->stats.dropped++;
	struct log_field f[] = { LOG_INT("partition", partition), LOG_UINT("customers", dropped) };
	char msg[128];
	snprintf(msg, sizeof msg, "partition %d dropped (%s)", (int)partition, why);
	log_fields(c->cfg.log, LOG_LEVEL_INFO, CLOG_LOG, f, 2, msg);
	if (dropped_out)
		*dropped_out = dropped;
	return CLOG_OK;
}

int clog_release(struct clog *c, int32_t partition, int keep, uint64_t *dropped_out, char *errbuf, size_t errbuf_len)
{
	if (dropped_out)
		*dropped_out = 0;
	int rc = clog_flush(c, 1, errbuf, errbuf_len);
	if (rc == CLOG_FENCED || rc == CLOG_KAFKA) {
		/* Not flushed: the changelog still holds the last flush that committed, with its marker,
		 * and the next owner restores that and replays the events after it. Fenced (a zombie:
		 * the group has given the partition to another member already), it is dropped even at
		 * exit; otherwise (the brokers did not take the transaction) a member that exits keeps
		 * it, and its change set waits for its next flush. */
		int fenced = rc == CLOG_FENCED;
		log_warn(c->cfg.log, CLOG_LOG, "partition %d: its last changes are not in the changelog (%s)",
			 (int)partition, c->err);
		if (keep && !fenced)
			return CLOG_OK;
		return drop(c, partition,
			    fenced ? "lost; this member was fenced, its last changes are not in the changelog"
				   : "revoked; its last changes not flushed",
			    dropped_out, errbuf, errbuf_len);
	}
	if (rc != CLOG_OK)
		return rc;
	if (keep) {
		log_info(c->cfg.log, CLOG_LOG, "partition %d kept at exit (flushed to the changelog)", (int)partition);
		return CLOG_OK;
	}
	return drop(c, partition, "revoked; flushed to the changelog first", dropped_out, errbuf, errbuf_len);
}

int clog_drop_unassigned(struct clog *c, const int32_t *assigned, int n, char *errbuf, size_t errbuf_len)
{
	int rc = clog__topic_ready(c);
	if (rc != CLOG_OK) {
		snprintf(errbuf, errbuf_len, "changelog %s: %s", c->cfg.topic, c->err);
		return rc;
	}
	for (int32_t p = 0; p < c->partitions; p++) {
		int mine = 0;
		for (int i = 0; i < n && !mine; i++)
			mine = assigned[i] == p;
		int64_t next;
		int src = mine ? STATE_NOTFOUND : state_offset_get(c->db, c->cfg.events_topic, p, &next);
		if (src == STATE_NOTFOUND)
			continue;
		if (src != STATE_OK) {
			snprintf(errbuf, errbuf_len, "changelog: partition %d's offset: %s", (int)p,
				 state_strerror(src));
			return CLOG_STATE;
		}
		if ((rc = drop(c, p, "held from an earlier run, not assigned to this one", NULL, errbuf, errbuf_len)) !=
		    CLOG_OK)
			return rc;
	}
	return CLOG_OK;
}
