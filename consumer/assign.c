/*
 * Assignment of the events topic: waiting for the topic, static assign() of every partition or
 * a group subscription whose rebalance callback seeks each assigned partition to its offset in
 * the state and commits the open batch before a partition is given up; the on_assign and
 * on_revoke hooks; the results of assign, incremental assign and unassign checked; what was
 * fetched across a rebalance dropped and sought back; a member's first assignment awaited
 * before it leaves (librdkafka 2.0.2's cooperative-sticky abort).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer/internal.h"
#include "kclient/kclient.h"

/*
 * The assign list for these partitions, each at its LMDB offset (0 when none: see consumer.h);
 * NULL after a state error (then nothing may be assigned: the offsets are unknown).
 */
static rd_kafka_topic_partition_list_t *positions(struct run *r, const rd_kafka_topic_partition_list_t *parts)
{
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_copy(parts);
	for (int i = 0; i < list->cnt && !r->failed; i++) {
		int32_t p = list->elems[i].partition;
		list->elems[i].offset = cons__stored_offset(r, r->cfg->events_topic, p, 0);
		if (cons__grow_parts(r, p) == 0) {
			r->parts[p].assigned = 1;
			r->parts[p].eof = 0;
			r->parts[p].next = list->elems[i].offset;
			r->parts[p].committed = list->elems[i].offset;
			r->parts[p].dirty = 0;
			r->parts[p].rebalance = r->rebalances;
			r->parts[p].gap = (struct cons_offset_gap){ 0 };
			r->parts[p].seek_pending = 0;
		}
	}
	if (r->failed) {
		rd_kafka_topic_partition_list_destroy(list);
		return NULL;
	}
	return list;
}

/*
 * Calls an assign or revoke hook with these partitions: at the offsets the state holds now (-1:
 * none) for assign, at the committed ones for revoke. No batch is open during a hook.
 */
static void call_hook(struct run *r, cons_partitions_fn fn, void *ctx, const rd_kafka_topic_partition_list_t *list,
		      int revoke)
{
	if (!fn || list->cnt == 0 || r->failed)
		return;
	struct cons_partition *parts = malloc((size_t)list->cnt * sizeof *parts);
	if (!parts) {
		cons__fatal(r, CONS_STATE, "out of memory");
		return;
	}
	for (int i = 0; i < list->cnt; i++) {
		int32_t p = list->elems[i].partition;
		parts[i].topic = r->cfg->events_topic;
		parts[i].partition = p;
		parts[i].closing = revoke && r->closing;
		if (revoke)
			parts[i].offset = p < r->n_parts ? r->parts[p].committed : -1;
		else
			parts[i].offset = cons__stored_offset(r, r->cfg->events_topic, p, -1);
	}
	if (!r->failed)
		fn(ctx, parts, list->cnt);
	free(parts);
}

/* A rebalance at @p level: what happened, the protocol, and the partitions ("0,1,2"). */
static void log_rebalance(struct run *r, enum log_level level, const char *what, const char *protocol,
			  const rd_kafka_topic_partition_list_t *parts)
{
	if (!log_enabled(r->cfg->log, level))
		return;
	char list[1024];
	size_t len = 0;
	list[0] = 0;
	for (int i = 0; i < parts->cnt && len < sizeof list - 16; i++)
		len += (size_t)snprintf(list + len, sizeof list - len, "%s%d", i ? "," : "",
					(int)parts->elems[i].partition);
	struct log_field f[] = { LOG_STR("topic", r->cfg->events_topic), LOG_STR("protocol", protocol),
				 LOG_INT("count", parts->cnt), LOG_STR("partitions", list) };
	log_fields(r->cfg->log, level, CONS_LOG, f, sizeof f / sizeof f[0], what);
}

void cons__rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct run *r = opaque;
	const struct cons_config *cfg = r->cfg;
	int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
	/* Messages of these partitions fetched before this callback and not applied yet are
	 * dropped by the loop (consumer.c): a revoked partition is no longer ours, and an assigned
	 * one is fetched again from the offset the state holds. */
	r->rebalances++;
	for (int i = 0; i < parts->cnt; i++)
		if (cons__grow_parts(r, parts->elems[i].partition) == 0)
			r->parts[parts->elems[i].partition].rebalance = r->rebalances;
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		/* The open batch (other partitions', in a cooperative rebalance) is committed first, so
		 * that on_assign may write to the state; then the partitions are positioned at the
		 * offsets stored once it returns. */
		log_rebalance(r, LOG_LEVEL_INFO, "rebalance: partitions assigned", rd_kafka_rebalance_protocol(rk),
			      parts);
		cons__commit_batch(r);
		call_hook(r, cfg->on_assign, cfg->assign_ctx, parts, 0);
		rd_kafka_topic_partition_list_t *list = positions(r, parts);
		if (!list)
			return; /* the state failed: the loop stops without consuming these */
		rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
		char why[512] = "";
		if (cooperative) {
			rd_kafka_error_t *error = rd_kafka_incremental_assign(rk, list);
			if (error) {
				snprintf(why, sizeof why, "incremental assign: %s", rd_kafka_error_string(error));
				e = rd_kafka_error_code(error);
				rd_kafka_error_destroy(error);
			}
		} else if ((e = rd_kafka_assign(rk, list)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
			snprintf(why, sizeof why, "assign: %s", rd_kafka_err2str(e));
		}
		if (e) /* the partitions would be silently not consumed */
			cons__fatal(r, CONS_KAFKA, "%s", why);
		rd_kafka_topic_partition_list_destroy(list);
		if (!e && parts->cnt)
			cons__catchup_started(r);
		return;
	}
	/* Revoked or lost: what was applied so far is committed with its offsets first, so the
	 * next owner of the partition resumes exactly after it. Lost (this member missed its
	 * session timeout, e.g. it was stopped or cut off, or was fenced): the group may already
	 * have given them to another member, so it is a warning of its own. */
	if (rd_kafka_assignment_lost(rk))
		log_rebalance(r, LOG_LEVEL_WARN,
			      "rebalance: partitions lost (this member's session expired: another member may "
			      "own them already)",
			      rd_kafka_rebalance_protocol(rk), parts);
	else
		log_rebalance(r, LOG_LEVEL_INFO, "rebalance: partitions revoked", rd_kafka_rebalance_protocol(rk),
			      parts);
	cons__commit_batch(r);
	for (int i = 0; i < parts->cnt; i++)
		if (parts->elems[i].partition < r->n_parts)
			r->parts[parts->elems[i].partition].assigned = 0;
	call_hook(r, cfg->on_revoke, cfg->revoke_ctx, parts, 1);
	if (cooperative) {
		rd_kafka_error_t *error = rd_kafka_incremental_unassign(rk, parts);
		if (error) {
			log_warn(cfg->log, CONS_LOG, "incremental unassign: %s", rd_kafka_error_string(error));
			rd_kafka_error_destroy(error);
		}
	} else {
		rd_kafka_resp_err_t e = rd_kafka_assign(rk, NULL);
		if (e)
			log_warn(cfg->log, CONS_LOG, "unassign: %s", rd_kafka_err2str(e));
	}
}

void cons__revoke_all(struct run *r)
{
	if (!r->cfg->on_revoke)
		return;
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(r->n_parts > 0 ? r->n_parts : 1);
	for (int p = 0; p < r->n_parts; p++)
		if (r->parts[p].assigned)
			rd_kafka_topic_partition_list_add(list, r->cfg->events_topic, p);
	call_hook(r, r->cfg->on_revoke, r->cfg->revoke_ctx, list, 1);
	rd_kafka_topic_partition_list_destroy(list);
}

/*
 * Waits until the events topic exists. The replay tool publishes the products before the first
 * event creates the events topic, so once it exists the products topic is complete: a consumer
 * started beside a replay loads every product before it applies any event.
 */
int cons__wait_for_events_topic(struct run *r)
{
	char err[512] = "";
	int timeout_ms = r->cfg->broker_timeout_ms;
	double next_log = 0;
	while (!(r->cfg->stop && *r->cfg->stop)) {
		if (kc_topic_partitions(r->rk, r->cfg->events_topic, 10000, err, sizeof err) > 0)
			return 0;
		double waited = cons__now_ms() - r->started_ms;
		if (timeout_ms > 0 && waited >= timeout_ms)
			return cons__fatal(r, CONS_KAFKA, "topic %s did not appear in %.0f s (--broker-timeout): %s",
					   r->cfg->events_topic, waited / 1e3, err);
		if (cons__now_ms() >= next_log) { /* at once, then every 10 s */
			log_info(r->cfg->log, CONS_LOG, "waiting for topic %s (%s); %.0f s", r->cfg->events_topic, err,
				 waited / 1e3);
			next_log = cons__now_ms() + 10000;
		}
		const struct timespec pause = { 0, 50 * 1000 * 1000 };
		nanosleep(&pause, NULL);
	}
	return cons__fatal(r, CONS_KAFKA, "stopped while waiting for topic %s", r->cfg->events_topic);
}

int cons__start_events(struct run *r)
{
	const struct cons_config *cfg = r->cfg;
	char err[512];
	int n = r->events_partitions = kc_topic_partitions(r->rk, cfg->events_topic, 10000, err, sizeof err);
	if (cfg->group_id) {
		rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(1);
		rd_kafka_topic_partition_list_add(subs, cfg->events_topic, RD_KAFKA_PARTITION_UA);
		rd_kafka_resp_err_t e = rd_kafka_subscribe(r->rk, subs);
		rd_kafka_topic_partition_list_destroy(subs);
		return e ? cons__fatal(r, CONS_KAFKA, "subscribe %s: %s", cfg->events_topic, rd_kafka_err2str(e)) : 0;
	}
	if (n < 0)
		return cons__fatal(r, CONS_KAFKA, "%s", err);
	rd_kafka_topic_partition_list_t *all = rd_kafka_topic_partition_list_new(n);
	for (int p = 0; p < n; p++)
		rd_kafka_topic_partition_list_add(all, cfg->events_topic, p);
	call_hook(r, cfg->on_assign, cfg->assign_ctx, all, 0);
	rd_kafka_topic_partition_list_t *list = positions(r, all);
	rd_kafka_topic_partition_list_destroy(all);
	if (!list)
		return r->failed;
	rd_kafka_resp_err_t e = rd_kafka_assign(r->rk, list);
	rd_kafka_topic_partition_list_destroy(list);
	return e ? cons__fatal(r, CONS_KAFKA, "assign: %s", rd_kafka_err2str(e)) : 0;
}

/*
 * Seeks these partitions to their offsets (the list's), so that the next message of each is the
 * one the state expects; anything fetched for them before is purged by the seek. A seek waits for
 * the partition's fetcher. librdkafka 2.0.2 may give up long before the timeout ("Timed out
 * waiting for N remaining partition seek(s)") when a rebalance event wakes its wait, and while a
 * broker failed over on a loaded machine a seek once took more than 10 s (group test, a node
 * killed). Seeking again to the same offsets is harmless, and nothing may be consumed before it is
 * done (the next message would follow the dropped ones): it is asked again until 60 s have
 * passed, then the error is fatal. why: for the log lines ("after a rebalance").
 */
static void seek_back(struct run *r, rd_kafka_topic_partition_list_t *seek, const char *why)
{
	if (!seek->cnt)
		return;
	double until = cons__now_ms() + 60000;
	rd_kafka_error_t *error = rd_kafka_seek_partitions(r->rk, seek, 10000);
	for (int attempt = 1;
	     error && rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR__TIMED_OUT && cons__now_ms() < until; attempt++) {
		log_warn(r->cfg->log, CONS_LOG, "seek %s: %s (try %d); again", why, rd_kafka_error_string(error),
			 attempt);
		rd_kafka_error_destroy(error);
		error = rd_kafka_seek_partitions(r->rk, seek, 10000);
	}
	for (int i = 0; !error && i < seek->cnt; i++)
		if (seek->elems[i].err)
			cons__fatal(r, CONS_KAFKA, "seek %s/%d: %s", r->cfg->events_topic, seek->elems[i].partition,
				    rd_kafka_err2str(seek->elems[i].err));
	if (error) {
		cons__fatal(r, CONS_KAFKA, "seek %s: %s", why, rd_kafka_error_string(error));
		rd_kafka_error_destroy(error);
	}
}

/*
 * After a rebalance served inside the fetch call (librdkafka 2.0 returns, in the same burst,
 * messages fetched before it and after it). Every message of a partition the rebalance revoked
 * or assigned is dropped, never applied: a revoked partition is another consumer's now, and an
 * assigned one is sought back to the offset in the state (the seek also purges anything fetched
 * for it before), so nothing dropped is lost. Returns the number of messages kept, in order.
 */
ssize_t cons__drop_stale(struct run *r, rd_kafka_message_t **burst, ssize_t n, uint64_t rebalances_before)
{
	rd_kafka_topic_partition_list_t *seek = rd_kafka_topic_partition_list_new(4);
	ssize_t kept = 0;
	for (ssize_t i = 0; i < n; i++) {
		int32_t p = burst[i]->partition;
		if (p < 0 || p >= r->n_parts || r->parts[p].rebalance <= rebalances_before) {
			burst[kept++] = burst[i];
			continue;
		}
		if (r->parts[p].assigned && !rd_kafka_topic_partition_list_find(seek, r->cfg->events_topic, p))
			rd_kafka_topic_partition_list_add(seek, r->cfg->events_topic, p)->offset = r->parts[p].next;
		rd_kafka_message_destroy(burst[i]);
	}
	seek_back(r, seek, "after a rebalance");
	rd_kafka_topic_partition_list_destroy(seek);
	return kept;
}

/*
 * librdkafka 2.0.2 aborts (an assertion in the cooperative-sticky assignor's state destroy,
 * confluentinc/librdkafka#4312, fixed in 2.3.0) when a group member is destroyed after it has
 * joined the group and before its first assignment arrived: a consume stopped during its first
 * rebalance (SIGTERM at start-up, or a failure). So a member that has had no rebalance callback
 * yet polls, applying nothing, until its first assignment (the callback runs as usual) or for
 * the session timeout and 4 s more at most; only then does it close.
 */
void cons__await_first_assignment(struct run *r)
{
	rd_kafka_topic_partition_list_t *subs = NULL;
	if (!r->cfg->group_id || r->rebalances > 0 || rd_kafka_subscription(r->rk, &subs) || !subs)
		return;
	int subscribed = subs->cnt > 0;
	rd_kafka_topic_partition_list_destroy(subs);
	if (!subscribed)
		return;
	int session = r->cfg->session_timeout_ms > 0 ? r->cfg->session_timeout_ms : CONS_SESSION_TIMEOUT_MS;
	double until = cons__now_ms() + session + 4000;
	log_info(r->cfg->log, CONS_LOG,
		 "stopping: waiting up to %.0f s for the first assignment before leaving the group",
		 (until - cons__now_ms()) / 1e3);
	while (r->rebalances == 0 && cons__now_ms() < until) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, 100);
		if (m)
			rd_kafka_message_destroy(m);
	}
	if (r->rebalances == 0)
		log_warn(r->cfg->log, CONS_LOG, "no assignment came: closing anyway");
}

void cons__seek_gaps(struct run *r)
{
	rd_kafka_topic_partition_list_t *seek = rd_kafka_topic_partition_list_new(4);
	for (int p = 0; p < r->n_parts; p++) {
		struct partition_state *ps = &r->parts[p];
		if (!ps->seek_pending)
			continue;
		ps->seek_pending = 0;
		ps->eof = 0; /* an end seen past the gap; the fetch from the seek says it again */
		if (ps->assigned)
			rd_kafka_topic_partition_list_add(seek, r->cfg->events_topic, p)->offset = ps->next;
	}
	r->seeks_pending = 0;
	seek_back(r, seek, "back over a gap");
	rd_kafka_topic_partition_list_destroy(seek);
}
