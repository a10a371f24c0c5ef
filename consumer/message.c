/*
 * A burst of the events topic into the open batch: each message decoded (either schema version:
 * one event, or an order's lines) ahead of its apply, so that the apply can prefetch; then, per
 * message, its offset, its stamp, and per line the one apply path or a dead letter. A message
 * refused as a whole goes to the dead-letter topic whole; a refused line of an order goes alone
 * (event_order_line_extract()), and the order's other lines are applied.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer/internal.h"
#include "event/event.h"
#include "kclient/kclient.h"

/* A burst's events decoded at once: at most this many lines (a message of the most lines always
 * fits in a window; a burst of larger orders is decoded and applied in several windows). */
#define LINES_WINDOW 32768
/* Lines prefetched ahead of the apply (the product and customer tables are larger than the caches). */
#define AHEAD        8

struct cons_decoded {
	int rc;         /* event_message_decode()'s result: EVENT_OK, or the message is refused whole */
	uint32_t first; /* its events in the window: lines[first .. first + n) */
	uint32_t n;
};

struct cons_burst {
	struct event_line *lines; /* LINES_WINDOW */
	int32_t *parts;           /* each line's partition, for the prefetch */
	struct cons_decoded *msgs;
	size_t cap_msgs;
	struct event_line *scratch; /* EVENT_ORDER_LINES_MAX: a refused message decoded again for its reason */
	uint8_t *letter;            /* a refused line's dead letter (at most its message's size) */
	size_t letter_cap;
};

int cons__burst_open(struct run *r, size_t max_messages)
{
	struct cons_burst *b = calloc(1, sizeof *b);
	if (b) {
		b->lines = malloc(LINES_WINDOW * sizeof *b->lines);
		b->parts = malloc(LINES_WINDOW * sizeof *b->parts);
		b->msgs = malloc(max_messages * sizeof *b->msgs);
		b->scratch = malloc(EVENT_ORDER_LINES_MAX * sizeof *b->scratch);
		b->cap_msgs = max_messages;
	}
	r->burst = b;
	if (!b || !b->lines || !b->parts || !b->msgs || !b->scratch)
		return cons__fatal(r, CONS_STATE, "out of memory");
	return 0;
}

void cons__burst_close(struct run *r)
{
	struct cons_burst *b = r->burst;
	if (!b)
		return;
	free(b->lines);
	free(b->parts);
	free(b->msgs);
	free(b->scratch);
	free(b->letter);
	free(b);
	r->burst = NULL;
}

/* The key as text for a reason: at most 24 bytes, anything unprintable as '?'. */
static void key_text(const rd_kafka_message_t *m, char *out, size_t out_len)
{
	size_t n = m->key ? m->key_len : 0, j = 0;
	const unsigned char *k = m->key;
	for (size_t i = 0; i < n && i < 24 && j + 1 < out_len; i++)
		out[j++] = k[i] >= 0x20 && k[i] < 0x7f ? (char)k[i] : '?';
	out[j] = 0;
}

/* Debug: a stamped event's produce -> append -> fetched split (the append time is the message's
 * timestamp when the topic has message.timestamp.type=LogAppendTime; else all of it is "fetch"). */
static void trace_stamped(struct run *r, const rd_kafka_message_t *m, int64_t produced_us)
{
	rd_kafka_timestamp_type_t type;
	int64_t ts_ms = rd_kafka_message_timestamp(m, &type);
	double append = 0, fetch = (double)(r->burst_us - produced_us) / 1e3;
	if (type == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME && ts_ms > 0) {
		append = (double)ts_ms - (double)produced_us / 1e3;
		fetch = (double)r->burst_us / 1e3 - (double)ts_ms;
	}
	if (!r->trace_n++)
		r->trace_first_fetch_us = r->burst_us;
	r->trace_append_sum += append;
	r->trace_fetch_sum += fetch;
	if (append > r->trace_append_max)
		r->trace_append_max = append;
	if (fetch > r->trace_fetch_max)
		r->trace_fetch_max = fetch;
}

/* A refused line of an order: its dead letter is the order with that line alone. */
static void dead_line(struct run *r, rd_kafka_message_t *m, const struct event_line *l, uint32_t index, uint32_t n)
{
	struct cons_burst *b = r->burst;
	char why[256] = "", reason[320];
	size_t len = 0;
	if (b->letter_cap < m->len) {
		uint8_t *t = realloc(b->letter, m->len);
		if (!t) {
			cons__fatal(r, CONS_STATE, "out of memory");
			return;
		}
		b->letter = t;
		b->letter_cap = m->len;
	}
	/* The line's reason: its extract decoded alone says it (the first bad line of one line). */
	size_t n_one = 0;
	if (event_order_line_extract(m->payload, m->len, l, b->letter, b->letter_cap, &len) != EVENT_OK ||
	    event_message_decode(b->letter, len, b->scratch, 1, &n_one, why, sizeof why) != EVENT_OK) {
		cons__fatal(r, CONS_STATE, "%s/%d/%" PRId64 ": the dead letter of line %" PRIu32 " could not be made",
			    r->cfg->events_topic, m->partition, m->offset, index + 1);
		return;
	}
	/* "line 1 of 1: product_id: ..." from the extract: say where it was in the message instead. */
	const char *field = strstr(why, ": ");
	snprintf(reason, sizeof reason, "%s: line %" PRIu32 " of %" PRIu32 "%s", event_errname(l->rc), index + 1, n,
		 field ? field : "");
	cons__send_dead_letter(r, m, b->letter, len, (int)index, event_errname(l->rc), reason);
}

/* A message at another offset than the next one: 1 if it is not to be applied (cons_offset_check). */
static int check_offset(struct run *r, const rd_kafka_message_t *m, struct partition_state *ps)
{
	enum cons_offset_action action = cons_offset_check(&ps->gap, ps->next, m->offset);
	if (action == CONS_OFFSET_APPLY)
		return 0;
	static const char *const what[] = {
		[CONS_OFFSET_REPEAT] = "a repeat: applied already, ignored",
		[CONS_OFFSET_SEEK] = "a gap: not applied; seeking back to the next one",
		[CONS_OFFSET_ACCEPT] = "the same gap after seeking back: the offsets between hold no events; accepted",
	};
	r->stats.offset_jumps++;
	if (action == CONS_OFFSET_FAIL) {
		cons__fatal(r, CONS_KAFKA,
			    "events %s/%d: offset %" PRId64 " where %" PRId64 " was next, after %d seeks back to it",
			    r->cfg->events_topic, m->partition, m->offset, ps->next, CONS_OFFSET_SEEKS_MAX);
		return 1;
	}
	if (r->stats.offset_jumps <= 10) /* said, never silent (the first 10) */
		log_warn(r->cfg->log, CONS_LOG, "events %s/%d: offset %" PRId64 " where %" PRId64 " was next (%s)",
			 r->cfg->events_topic, m->partition, m->offset, ps->next, what[action]);
	if (action == CONS_OFFSET_REPEAT) {
		r->stats.offset_repeats++;
		return 1;
	}
	if (action == CONS_OFFSET_SEEK) {
		r->stats.offset_seeks++;
		ps->seek_pending = 1;
		r->seeks_pending = 1;
		return 1;
	}
	r->stats.offset_gaps_accepted++;
	return 0;
}

/*
 * One message of the events topic: its offset, its stamp, then per event the key check and the
 * apply, or the dead letters. Events are counted per line (a message refused whole counts as one).
 */
static void handle_message(struct run *r, rd_kafka_message_t *m, const struct cons_decoded *d, int stamped)
{
	struct cons_burst *b = r->burst;
	if (cons__grow_parts(r, m->partition) || cons__ensure_batch(r))
		return;
	struct partition_state *ps = &r->parts[m->partition];
	if (!ps->assigned) /* not ours (any more): its owner applies it */
		return;
	if (ps->seek_pending) /* past a gap: fetched again after the seek at the end of the burst */
		return;
	if (m->offset != ps->next && check_offset(r, m, ps))
		return;
	ps->next = m->offset + 1;
	ps->dirty = 1;
	ps->eof = 0;
	int64_t produced_us;
	if (stamped && kc_produced_us(m, &produced_us)) {
		cons__stamp(r, produced_us);
		if (r->trace)
			trace_stamped(r, m, produced_us);
	}
	char why[256];
	if (d->rc != EVENT_OK) {
		r->stats.messages++;
		r->batch_events++;
		size_t n = 0; /* decoded again for the reason: rare, and the first pass skips the text */
		int rc = event_message_decode(m->payload, m->len, b->scratch, EVENT_ORDER_LINES_MAX, &n, why,
					      sizeof why);
		char reason[320];
		snprintf(reason, sizeof reason, "%s: %s", event_errname(rc), why);
		cons__send_dead_letter(r, m, m->payload, m->len, -1, event_errname(rc), reason);
		return;
	}
	const struct event_line *lines = b->lines + d->first;
	uint32_t key;
	if (event_key_user_id(m->key, m->key_len, &key) != EVENT_OK || key != lines[0].ev.user_id) {
		r->stats.messages++;
		r->batch_events++;
		char text[32];
		key_text(m, text, sizeof text);
		snprintf(why, sizeof why, "EVENT_KEY: message key \"%s\"%s is not the canonical decimal of user_id %u",
			 text, m->key_len > 24 ? "..." : "", lines[0].ev.user_id);
		cons__send_dead_letter(r, m, m->payload, m->len, -1, "EVENT_KEY", why);
		return;
	}
	if (lines[0].off > 0) /* version 2 (a version-1 event is the whole message) */
		r->stats.order_messages++;
	for (uint32_t i = 0; i < d->n && !r->failed; i++) {
		r->stats.messages++;
		r->batch_events++;
		if (lines[i].rc != EVENT_OK) {
			dead_line(r, m, &lines[i], i, d->n);
			continue;
		}
		int rc = state_batch_apply(r->batch, m->partition, &lines[i].ev);
		if (rc != STATE_OK)
			cons__fatal(r, CONS_STATE, "applying %s/%d/%" PRId64 ": %s", r->cfg->events_topic, m->partition,
				    m->offset, state_strerror(rc));
	}
}

/* Any other message of the events consumer: the end of a partition, lost offsets, errors. */
static void handle_error(struct run *r, rd_kafka_message_t *m)
{
	if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
		/* past a gap, the end is said again after the seek (a new fetch version) */
		if (cons__grow_parts(r, m->partition) == 0 && !r->parts[m->partition].seek_pending)
			r->parts[m->partition].eof = 1;
	} else if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET || m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
		cons__fatal(r, CONS_LOST, "%s/%d: %s: the events the state expects are no longer on the broker",
			    r->cfg->events_topic, m->partition, rd_kafka_message_errstr(m));
	} else {
		log_warn(r->cfg->log, CONS_LOG, "%s/%d: %s", r->cfg->events_topic, m->partition,
			 rd_kafka_message_errstr(m));
	}
}

void cons__handle_burst(struct run *r, rd_kafka_message_t **burst, ssize_t n, int stamped)
{
	struct cons_burst *b = r->burst;
	ssize_t i = 0;
	while (i < n) {
		/* Decode a window of messages, then apply it, a few lines ahead of the prefetch. */
		size_t used = 0;
		ssize_t end = i;
		for (; end < n && (size_t)end < b->cap_msgs && used + EVENT_ORDER_LINES_MAX <= LINES_WINDOW; end++) {
			struct cons_decoded *d = &b->msgs[end];
			size_t got = 0;
			d->first = (uint32_t)used;
			d->rc = burst[end]->err
				    ? EVENT_OK
				    : event_message_decode(burst[end]->payload, burst[end]->len, b->lines + used,
							   LINES_WINDOW - used, &got, NULL, 0);
			d->n = (uint32_t)got;
			for (size_t k = 0; k < got; k++)
				b->parts[used + k] = burst[end]->partition;
			used += got;
		}
		for (ssize_t k = i; k < end; k++) {
			rd_kafka_message_t *m = burst[k];
			const struct cons_decoded *d = &b->msgs[k];
			if (r->batch) /* the lines AHEAD after this message's first */
				for (uint32_t a = d->first + AHEAD;
				     a < d->first + AHEAD + (d->n ? d->n : 1) && a < used; a++)
					if (b->lines[a].rc == EVENT_OK)
						state_batch_prefetch(r->batch, b->parts[a], &b->lines[a].ev);
			if (r->failed) {
				/* stop applying: the batch will not be committed */
			} else if (!m->err) {
				handle_message(r, m, d, stamped);
				/* A batch holds at most batch_max_events lines: an order never splits across two. */
				if (r->batch && r->batch_events >= r->cfg->batch_max_events)
					cons__commit_batch(r);
			} else {
				handle_error(r, m);
			}
			rd_kafka_message_destroy(m);
		}
		i = end;
	}
}
