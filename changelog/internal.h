/*
 * Internals shared by the files of changelog/ (never included outside it): the clog handle and
 * the helpers restore.c takes from publish.c.
 */
#ifndef SEGSTREAM_CHANGELOG_INTERNAL_H
#define SEGSTREAM_CHANGELOG_INTERNAL_H

#include <librdkafka/rdkafka.h>

#include "changelog/changelog.h"

#define CLOG_LOG "changelog" /* the log lines' component */

struct clog {
	struct clog_config cfg;    /* a copy; its strings are the caller's */
	struct state_db *db;       /* borrowed */
	rd_kafka_t *producer;      /* transactional */
	rd_kafka_t *reader;        /* read_committed, no group: assigned one partition per restore */
	rd_kafka_t *group;         /* the group's consumer whose metadata fences each transaction, or NULL */
	int32_t partitions;        /* the topic's partition count once made or checked (0: not yet) */
	int failed;                /* an error that leaves the producer unusable until clog__recover */
	double last_flush_ms;      /* when the last flush began */
	double last_flush_took_ms; /* how long it took (the next waits nine times as long at least) */
	double stable_until_ms;    /* restores: the end of the wait for stable offsets they share (restore.c) */
	double restore_ended_ms;   /* when the last restore ended */
	struct clog_stats stats;
	/* The transaction being filled. */
	uint64_t records;
	rd_kafka_topic_partition_list_t *markers; /* with group: the markers written, as the group's offsets */
	char err[512];
};

/* publish.c: the topic made (compacted, the events topic's partition count) or checked. */
int clog__topic_ready(struct clog *c);

/* publish.c: all of a partition's records and its marker (as the state holds them now) in one
 * transaction; *records_out the customers written. */
int clog__republish(struct clog *c, int32_t partition, uint64_t *records_out);

/* publish.c: after a failure (c->failed), a new transactional producer of the same id; CLOG_OK (then
 * c->failed is cleared) or CLOG_KAFKA with c->err. */
int clog__recover(struct clog *c);

/* publish.c: monotonic milliseconds. */
double clog__now_ms(void);

/* Sets c->err (the first error of a call is kept by the caller's errbuf). */
void clog__error(struct clog *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
