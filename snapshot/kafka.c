/* The Kafka delta of a snapshot (see snapshot.h): the rows that changed since the previous
 * snapshot, tombstones for customers gone, then the manifest, in one producer transaction. */
#define _GNU_SOURCE /* realpath, gethostname */
#include "snapshot/snapshot.h"

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "kclient/kclient.h"
#include "snapshot/snapshot_int.h"

/* user_id -> CRC-32 of the row, open addressing; crc_plus1 = 0 marks an empty slot. */
struct row_index {
	uint32_t *user;
	uint64_t *crc_plus1; /* crc + 1, so that 0 means empty; top bit: seen in the new snapshot */
	int64_t *partition;  /* the previous snapshot's row's partition (-1: none) */
	size_t cap;
};

/* Whether the customers of partition p gone from the new snapshot get tombstones: p is one it
 * covers (or it does not say which it covers: a manifest older than the list). */
static int still_covered(const struct snap__coverage *cov, int listed, int64_t p)
{
	if (!listed || p < 0)
		return 1;
	for (size_t i = 0; i < cov->n_partitions; i++)
		if (cov->partitions[i] == p)
			return 1;
	return 0;
}

static size_t slot_of(const struct row_index *ix, uint32_t user)
{
	size_t s = (user * 2654435761u) & (ix->cap - 1);
	while (ix->crc_plus1[s] && ix->user[s] != user)
		s = (s + 1) & (ix->cap - 1);
	return s;
}

/* One record of the delta (a NULL value is a tombstone); err says why it failed. */
static int produce_one(rd_kafka_t *rk, const char *topic, const char *key, size_t klen, const void *v, size_t vlen,
		       char *err, size_t err_len)
{
	struct kc_msg msg = { .topic = topic, .key = key, .key_len = klen, .value = v, .value_len = vlen };
	return kc_produce(rk, &msg, KC_PRODUCE_WAIT_MS, err, err_len) == KC_OK ? 0 : -1;
}

int snap_publish_kafka(const char *brokers, const char *topic, const char *const *props, int n_props, const char *dir,
		       uint64_t seq, uint64_t prev_seq, struct snap_delta_stats *st, char *errbuf, size_t errbuf_len)
{
	struct snap_reader *cur = NULL, *prev = NULL;
	struct row_index ix = { 0 };
	struct snap__coverage cov = { 0 };
	struct snap_row row;
	rd_kafka_t *rk = NULL;
	rd_kafka_error_t *kerr = NULL;
	char err[512] = "", key[16];
	struct kc_delivery delivery = { 0 };
	int rc = snap_reader_open(dir, seq, &cur, errbuf, errbuf_len);
	memset(st, 0, sizeof *st);
	if (rc != SNAP_OK)
		return rc;
	if (prev_seq) {
		rc = snap_reader_open(dir, prev_seq, &prev, errbuf, errbuf_len);
		if (rc != SNAP_OK)
			goto out;
	}
	/* Open addressing at <= 50% load: a row takes at least 16 bytes, which bounds the count. */
	size_t bound = (snap__reader_rows_bytes(cur) + (prev ? snap__reader_rows_bytes(prev) : 0)) / 16 + 1;
	ix.cap = 1024;
	while (ix.cap < 2 * bound)
		ix.cap *= 2;
	ix.user = calloc(ix.cap, sizeof *ix.user);
	ix.crc_plus1 = calloc(ix.cap, sizeof *ix.crc_plus1);
	ix.partition = calloc(ix.cap, sizeof *ix.partition);
	if (!ix.user || !ix.crc_plus1 || !ix.partition) {
		rc = SNAP_NOMEM;
		goto out;
	}
	const void *bytes;
	size_t len;
	uint32_t user;
	int more;
	int user_col = snap_reader_column_index(prev ? prev : cur, "user_id");
	int part_col = snap_reader_column_index(prev ? prev : cur, "partition");
	while (prev && (more = snap__reader_next_raw(prev, &bytes, &len, &row)) == 1) {
		user = user_col >= 0 ? (uint32_t)row.ints[user_col] : 0;
		size_t s = slot_of(&ix, user);
		ix.user[s] = user;
		ix.crc_plus1[s] = (uint64_t)crc32(0L, bytes, (uInt)len) + 1;
		ix.partition[s] = part_col >= 0 ? row.ints[part_col] : -1;
	}
	if (prev && more < 0) { /* a row the previous snapshot cannot give: no delta against it */
		snprintf(err, sizeof err, "reading snapshot %" PRIu64 ": %s", prev_seq, snap_strerror(more));
		rc = more;
		goto out;
	}

	rd_kafka_conf_t *conf;
	/* One transactional id per publisher, the host and snapshot directory: instances sharing the
	 * topic do not fence each other, and a publisher restarted on its directory fences its dead
	 * self (aborting the transaction it left open). -X transactional.id=... overrides it. */
	char txid[512], host[256] = "", real[PATH_MAX];
	gethostname(host, sizeof host - 1);
	const char *where = realpath(dir, real) ? real : dir;
	uLong who = crc32(crc32(crc32(0L, Z_NULL, 0), (const Bytef *)host, (uInt)strlen(host)), (const Bytef *)where,
			  (uInt)strlen(where));
	snprintf(txid, sizeof txid, "segstream-snapshots-%s-%08lx", topic, (unsigned long)who);
	const char *mine[] = { "transactional.id", txid, "compression.type", "lz4" };
	if (kc_conf_new(brokers, mine, 4, props, n_props, &conf, err, sizeof err) != KC_OK) {
		rc = SNAP_IO;
		goto out;
	}
	/* librdkafka's lines as log lines (log.h's default: the snapshot API takes no logger), so the
	 * transactional producer's GETPID retry on a fresh broker is a debug line, not a warning. */
	kc_conf_set_logger(conf);
	rd_kafka_conf_set_dr_msg_cb(conf, kc_delivery_count);
	rd_kafka_conf_set_opaque(conf, &delivery);
	if (kc_new(RD_KAFKA_PRODUCER, conf, &rk, err, sizeof err) != KC_OK) {
		rc = SNAP_IO;
		goto out;
	}
	/* The topic is created compacted before anything is produced to it; a failure is only a
	 * warning, since the broker may still create it on the first produce (kclient.h). */
	char topic_err[512];
	if (kc_topic_ensure(rk, topic, 1, topic_err, sizeof topic_err) != KC_OK)
		fprintf(stderr, "snapshot: warning: %s\n", topic_err);
	if ((kerr = rd_kafka_init_transactions(rk, 30000)) || (kerr = rd_kafka_begin_transaction(rk))) {
		snprintf(err, sizeof err, "%s", rd_kafka_error_string(kerr));
		rc = SNAP_IO;
		goto out;
	}
	while ((more = snap_reader_next_raw(cur, &bytes, &len, &user)) == 1) {
		size_t s = slot_of(&ix, user);
		uint64_t crc1 = (uint64_t)crc32(0L, bytes, (uInt)len) + 1;
		int same = ix.crc_plus1[s] && (ix.crc_plus1[s] & ~(1ULL << 63)) == crc1;
		if (!ix.crc_plus1[s])
			ix.user[s] = user;
		ix.crc_plus1[s] = crc1 | (1ULL << 63); /* seen in this snapshot */
		if (same) {
			st->unchanged++;
			continue;
		}
		int kl = snprintf(key, sizeof key, "%u", user);
		if (produce_one(rk, topic, key, (size_t)kl, bytes, len, err, sizeof err)) {
			rc = SNAP_IO;
			goto abort;
		}
		st->changed++;
		rd_kafka_poll(rk, 0);
	}
	if (more < 0) { /* a row that cannot be read: never tombstones for the customers after it */
		snprintf(err, sizeof err, "reading snapshot %" PRIu64 ": %s", seq, snap_strerror(more));
		rc = more;
		goto abort;
	}
	size_t mlen; /* the manifest the rows were verified against, not a second read of the file */
	const char *manifest = snap_reader_manifest(cur, &mlen);
	char events_topic[256], why[256];
	int listed = snap__coverage_parse(&cov, events_topic, sizeof events_topic, manifest, mlen, why, sizeof why) ==
		     SNAP_OK;
	for (size_t s = 0; prev && s < ix.cap; s++) { /* customers gone since: tombstones */
		if (ix.crc_plus1[s] && !(ix.crc_plus1[s] >> 63) && !still_covered(&cov, listed, ix.partition[s])) {
			st->moved++;
		} else if (ix.crc_plus1[s] && !(ix.crc_plus1[s] >> 63)) {
			int kl = snprintf(key, sizeof key, "%u", ix.user[s]);
			if (produce_one(rk, topic, key, (size_t)kl, NULL, 0, err, sizeof err)) {
				rc = SNAP_IO;
				goto abort;
			}
			st->removed++;
		}
	}
	if (produce_one(rk, topic, "__manifest", 10, manifest, mlen, err, sizeof err)) {
		rc = SNAP_IO;
		goto abort;
	}
	if ((kerr = rd_kafka_commit_transaction(rk, 120000))) {
		snprintf(err, sizeof err, "commit: %s", rd_kafka_error_string(kerr));
		rc = SNAP_IO;
		goto abort;
	}
	if (delivery.failed)
		snprintf(err, sizeof err, "%" PRIu64 " records were not delivered (first: %s)", delivery.failed,
			 delivery.first_error);
	rc = delivery.failed ? SNAP_IO : SNAP_OK;
	goto out;
abort:
	if (kerr)
		rd_kafka_error_destroy(kerr);
	kerr = rd_kafka_abort_transaction(rk, 30000);
out:
	if (rc != SNAP_OK && err[0] && errbuf && errbuf_len)
		snprintf(errbuf, errbuf_len, "snapshot to Kafka topic %s: %s", topic, err);
	if (kerr)
		rd_kafka_error_destroy(kerr);
	if (rk)
		rd_kafka_destroy(rk);
	free(ix.user);
	free(ix.crc_plus1);
	free(ix.partition);
	snap__coverage_free(&cov);
	snap_reader_close(cur);
	snap_reader_close(prev);
	return rc;
}
