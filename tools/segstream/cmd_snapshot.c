/* segstream snapshot: publish a snapshot of the state (files, optionally a Kafka delta), the
 * reader side (verify, show, diff), and the merge of several instances' snapshots. */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "kclient/kclient.h"
#include "segment/segment.h"
#include "snapshot/snapshot.h"
#include "state/state.h"
#include "log/log.h"
#include "tools/segstream/cli.h"

/* The labels' counts of a published snapshot; thresholds as configured (-T). */
static void print_summary(const struct snap_report *r, const struct segment_config *cfg)
{
	printf("segments of %" PRIu64 " customers (%" PRIu64 " orders, %" PRIu64 " lines, spend %" PRIu64 ".%02" PRIu64
	       "):\n",
	       r->customers, r->orders, r->items, r->spend_cents / 100, r->spend_cents % 100);
	printf("  loyalty:   ");
	for (int i = 0; i < SEG_LOYALTY_COUNT; i++)
		printf("%s%s %" PRIu64, i ? ", " : "", segment_loyalty_name(i), r->loyalty[i]);
	printf("\n  spending:  ");
	for (int i = 0; i < SEG_SPENDING_COUNT; i++)
		printf("%s%s %" PRIu64, i ? ", " : "", segment_spending_name(i), r->spending[i]);
	printf("\n  frequency: ");
	for (int i = 0; i < SEG_FREQUENCY_COUNT; i++)
		printf("%s%s %" PRIu64, i ? ", " : "", segment_frequency_name(i), r->frequency[i]);
	printf("\n  low activity (max_order < %" PRIu32 "): %" PRIu64 "\n", cfg->low_activity_below, r->low_activity);
}

/* segstream snapshot verify|show DIR [SEQ]: the reader side. */
static int snapshot_read(int argc, char **argv)
{
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: segstream snapshot verify|show DIR [SEQUENCE]\n");
		return 2;
	}
	if (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0) {
		printf("usage: segstream snapshot verify|show DIR [SEQUENCE (the newest)]\n");
		return 0;
	}
	struct snap_reader *r;
	char err[512];
	uint64_t seq = 0;
	if (argc == 4 && cli_parse_u64("SEQUENCE", argv[3], 1, UINT64_MAX, &seq))
		return 2;
	int rc = snap_reader_open(argv[2], seq, &r, err, sizeof err);
	if (rc != SNAP_OK) {
		fprintf(stderr, "snapshot: %s: %s\n", snap_strerror(rc), err);
		return 1;
	}
	struct snap_row row;
	uint64_t rows = 0, low = 0;
	int low_col = snap_reader_column_index(r, "low_activity");
	while ((rc = snap_reader_next(r, &row)) == 1) {
		rows++;
		low += low_col >= 0 && row.ints[low_col] != 0;
	}
	if (rc < 0) {
		fprintf(stderr, "snapshot: %s: rows: %s\n", snap_reader_path(r), snap_strerror(rc));
		snap_reader_close(r);
		return 1;
	}
	printf("snapshot %" PRIu64 " at %s: checksums verified, %" PRIu64 " customer rows (%" PRIu64 " low activity)\n",
	       snap_reader_sequence(r), snap_reader_path(r), rows, low);
	if (strcmp(argv[1], "show") == 0) {
		char *json;
		size_t len;
		if (snap_reader_report(r, &json, &len) != SNAP_OK) {
			fprintf(stderr, "snapshot: %s: cannot read report.json\n", snap_reader_path(r));
			snap_reader_close(r);
			return 1;
		}
		fwrite(json, 1, len, stdout);
		free(json);
	}
	snap_reader_close(r);
	return 0;
}

/* Row bytes of one snapshot by user_id, for diff: a sorted array. */
struct row_ref {
	uint32_t user;
	uint32_t crc;
};

/* By user, then by CRC: rows of one user (a snapshot should not have them, a hand-made one may)
 * pair up the same way in two identical copies whatever order qsort leaves equal keys in. */
static int compare_row_ref(const void *a, const void *b)
{
	const struct row_ref *x = a, *y = b;
	if (x->user != y->user)
		return (x->user > y->user) - (x->user < y->user);
	return (x->crc > y->crc) - (x->crc < y->crc);
}

/* Every row's user and CRC, sorted by user. @return SNAP_OK, SNAP_NOMEM or the reader's error. */
static int load_refs(struct snap_reader *r, struct row_ref **refs_out, size_t *n)
{
	struct row_ref *refs = NULL;
	size_t cap = 0;
	const void *bytes;
	size_t len;
	uint32_t user;
	int more;
	*n = 0;
	while ((more = snap_reader_next_raw(r, &bytes, &len, &user)) == 1) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 4096;
			struct row_ref *t = realloc(refs, cap * sizeof *t);
			if (!t) {
				more = SNAP_NOMEM;
				break;
			}
			refs = t;
		}
		refs[(*n)++] = (struct row_ref){ user, (uint32_t)crc32(0L, bytes, (uInt)len) };
	}
	if (more < 0) {
		free(refs);
		*n = 0;
		return more;
	}
	if (*n)
		qsort(refs, *n, sizeof *refs, compare_row_ref);
	*refs_out = refs;
	return SNAP_OK;
}

/* segstream snapshot diff DIR SEQ_A SEQ_B: which customers' segment rows differ. */
static int snapshot_diff(int argc, char **argv)
{
	int help = argc == 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0);
	if (argc != 5 || help) {
		fprintf(help ? stdout : stderr, "usage: segstream snapshot diff DIR SEQUENCE_A SEQUENCE_B\n");
		return help ? 0 : 2;
	}
	uint64_t seq_a, seq_b;
	if (cli_parse_u64("SEQUENCE_A", argv[3], 1, UINT64_MAX, &seq_a) ||
	    cli_parse_u64("SEQUENCE_B", argv[4], 1, UINT64_MAX, &seq_b))
		return 2;
	struct snap_reader *a = NULL, *b = NULL;
	char err[512];
	int rc = snap_reader_open(argv[2], seq_a, &a, err, sizeof err);
	if (rc == SNAP_OK)
		rc = snap_reader_open(argv[2], seq_b, &b, err, sizeof err);
	if (rc != SNAP_OK) {
		fprintf(stderr, "snapshot: %s: %s\n", snap_strerror(rc), err);
		snap_reader_close(a);
		return 1;
	}
	if (snap_reader_column_index(a, "user_id") < 0 || snap_reader_column_index(b, "user_id") < 0) {
		fprintf(stderr, "snapshot: diff: snapshot %s has no user_id column\n",
			snap_reader_column_index(a, "user_id") < 0 ? argv[3] : argv[4]);
		snap_reader_close(a);
		snap_reader_close(b);
		return 1;
	}
	size_t na = 0, nb = 0, i = 0, j = 0;
	struct row_ref *ra = NULL, *rb = NULL;
	if ((rc = load_refs(a, &ra, &na)) != SNAP_OK || (rc = load_refs(b, &rb, &nb)) != SNAP_OK) {
		fprintf(stderr, "snapshot: reading rows: %s\n", snap_strerror(rc));
		free(ra);
		snap_reader_close(a);
		snap_reader_close(b);
		return 1;
	}
	uint64_t added = 0, removed = 0, changed = 0, same = 0;
	while (i < na || j < nb) {
		if (j == nb || (i < na && ra[i].user < rb[j].user)) {
			removed++;
			printf("- %u\n", ra[i++].user);
		} else if (i == na || rb[j].user < ra[i].user) {
			added++;
			printf("+ %u\n", rb[j++].user);
		} else {
			if (ra[i].crc != rb[j].crc) {
				changed++;
				printf("~ %u\n", ra[i].user);
			} else {
				same++;
			}
			i++, j++;
		}
	}
	printf("snapshot diff %s -> %s: %" PRIu64 " changed, %" PRIu64 " added, %" PRIu64 " removed, %" PRIu64
	       " unchanged\n",
	       argv[3], argv[4], changed, added, removed, same);
	free(ra);
	free(rb);
	snap_reader_close(a);
	snap_reader_close(b);
	return 0;
}

/*
 * The options publishing and merging share: --keep (-k), --file-mode and -T. 1 when c is one of
 * them, taken from optarg; -1 when its value is refused (the parser said why); 0 when c is
 * another option, left to the caller.
 */
static int shared_option(int c, struct segment_config *cfg, struct snap_options *sopts)
{
	switch (c) {
	case 'k':
		return cli_parse_int("--keep", optarg, 0, INT_MAX, &sopts->keep) ? -1 : 1;
	case 'F':
		return cli_parse_file_mode("--file-mode", optarg, &sopts->file_mode) ? -1 : 1;
	case 'T':
		return cli_parse_threshold(cfg, optarg) != 0 ? -1 : 1;
	default:
		return 0;
	}
}

/* segstream snapshot merge OUT_DIR SNAPSHOT_DIR...: the global view of several instances. */
static int snapshot_merge(int argc, char **argv)
{
	struct segment_config cfg;
	struct snap_options sopts;
	segment_config_init(&cfg);
	snap_options_init(&sopts);
	static const struct option opts[] = {
		{ "keep", required_argument, 0, 'k' },
		{ "file-mode", required_argument, 0, 'F' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "k:T:h", opts, NULL)) != -1) {
		int shared = shared_option(c, &cfg, &sopts);
		if (shared != 0) {
			if (shared < 0)
				return 2;
			continue;
		}
		switch (c) {
		case 'h':
			printf(
			    "usage: segstream snapshot merge OUT_DIR SNAPSHOT_DIR... [--keep K (5)] [-T clusters=K -T "
			    "cluster_seed=S] [--file-mode MODE (0640)]\n"
			    "  Merges the newest snapshot of each SNAPSHOT_DIR (or that snapshot, for "
			    "DIR/NNNNNNNNNN),\n"
			    "  each instance's own partitions, into one snapshot under OUT_DIR: the snapshot one "
			    "state\n"
			    "  of all their partitions would publish. A partition in two of them is refused.\n");
			return 0;
		default:
			return 2;
		}
	}
	int first = optind + 1; /* argv[0] is "snapshot", argv[1] "merge" */
	if (argc - first < 2) {
		fprintf(stderr, "usage: segstream snapshot merge OUT_DIR SNAPSHOT_DIR... (see --help)\n");
		return 2;
	}
	const char *out = argv[first];
	static struct snap_report r;
	struct snap_merge_stats st;
	uint64_t seq;
	char err[1024];
	int rc = snap_merge((const char *const *)argv + first + 1, argc - first - 1, &cfg, &sopts, out, &seq, &r, &st,
			    err, sizeof err);
	if (rc != SNAP_OK) {
		fprintf(stderr, "snapshot: merge: %s: %s\n", snap_strerror(rc), err);
		return 1;
	}
	printf("snapshot %" PRIu64 " published in %s/%010" PRIu64 ": %d snapshots merged, %zu partitions, %zu source "
	       "offsets\n",
	       seq, out, seq, st.inputs, st.partitions, st.offsets);
	if (st.reference_offsets_max)
		fprintf(
		    stderr,
		    "snapshot: merge: warning: the instances read %zu reference partitions to different offsets (the "
		    "highest is listed)\n",
		    st.reference_offsets_max);
	print_summary(&r, &cfg);
	return 0;
}

/*
 * Sends snapshot seq to Kafka as a delta against the last snapshot sent there, which
 * DIR/.kafka-TOPIC remembers (a full snapshot when it is unknown or no longer kept), written with
 * the snapshot files' mode.
 */
int cli_snapshot_to_kafka(const char *brokers, const char *topic, const struct cli_props *props, const char *dir,
			  uint64_t seq, unsigned file_mode)
{
	char marker[4200], tmp[4300], err[512];
	snprintf(marker, sizeof marker, "%s/.kafka-%s", dir, topic);
	unsigned long long prev = 0;
	FILE *f = fopen(marker, "r");
	if (f) {
		if (fscanf(f, "%llu", &prev) != 1)
			prev = 0;
		fclose(f);
	}
	char prev_dir[4300];
	snprintf(prev_dir, sizeof prev_dir, "%s/%010llu", dir, prev);
	if (prev && access(prev_dir, R_OK) != 0)
		prev = 0;
	struct snap_delta_stats st;
	int rc = snap_publish_kafka(brokers, topic, props->items, props->n, dir, seq, prev, &st, err, sizeof err);
	if (rc != SNAP_OK) {
		log_error(cli_log, cli_command, "%s: %s", snap_strerror(rc), err);
		return 1;
	}
	snprintf(tmp, sizeof tmp, "%s.tmp", marker);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)file_mode);
	f = fd >= 0 && fchmod(fd, (mode_t)file_mode) == 0 ? fdopen(fd, "w") : NULL;
	if (!f && fd >= 0)
		close(fd);
	int written = f && fprintf(f, "%llu\n", (unsigned long long)seq) > 0;
	if (f && fclose(f) != 0)
		written = 0;
	if (!written || rename(tmp, marker) != 0) {
		log_error(cli_log, cli_command, "cannot record %s", marker);
		return 1;
	}
	char moved[96] = ""; /* customers of partitions gone to another instance: no tombstones */
	if (st.moved)
		snprintf(moved, sizeof moved, ", %" PRIu64 " left to their partitions' new owners", st.moved);
	printf("snapshot %" PRIu64 " to Kafka topic %s: %" PRIu64 " changed rows, %" PRIu64 " removed%s, %" PRIu64
	       " unchanged (delta against %llu), one transaction\n",
	       seq, topic, st.changed, st.removed, moved, st.unchanged, prev);
	return 0;
}

/* 0 once the brokers answer (kc_wait_brokers, logged while waiting), else 1 with the reason said. */
static int brokers_answer(const char *brokers, const struct cli_props *props, int timeout_ms)
{
	char err[512];
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk = NULL;
	int rc = kc_conf_new(brokers, NULL, 0, props->items, props->n, &conf, err, sizeof err);
	if (rc == KC_OK)
		rc = kc_new(RD_KAFKA_PRODUCER, conf, &rk, err, sizeof err);
	if (rc == KC_OK)
		rc = kc_wait_brokers(rk, cli_log, "snapshot", timeout_ms, &cli_stop, err, sizeof err);
	if (rk)
		rd_kafka_destroy(rk);
	if (rc != KC_OK)
		fprintf(stderr, "snapshot: %s\n", err);
	return rc == KC_OK ? 0 : 1;
}

int cmd_snapshot(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "verify") == 0 || strcmp(argv[1], "show") == 0))
		return snapshot_read(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "diff") == 0)
		return snapshot_diff(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "merge") == 0)
		return snapshot_merge(argc, argv);
	const char *state_dir = NULL, *out = NULL, *brokers = NULL, *topic = "segstream.segments";
	struct cli_props props = { 0 };
	struct segment_config cfg;
	struct snap_options sopts;
	int broker_timeout_ms = KC_BROKER_TIMEOUT_MS;
	segment_config_init(&cfg);
	snap_options_init(&sopts);
	static const struct option opts[] = {
		{ "state", required_argument, 0, 'S' },
		{ "out", required_argument, 0, 'o' },
		{ "keep", required_argument, 0, 'k' },
		{ "csv", no_argument, 0, 'c' },
		{ "brokers", required_argument, 0, 'b' },
		{ "segments-topic", required_argument, 0, 'G' },
		{ "topic", required_argument, 0, 't' }, /* deprecated: elsewhere --topic is the events topic */
		{ "file-mode", required_argument, 0, 'F' },
		{ "broker-timeout", required_argument, 0, 1000 },
		{ "events-topic", required_argument, 0, 1001 },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "S:o:k:cT:b:t:G:X:h", opts, NULL)) != -1) {
		int shared = shared_option(c, &cfg, &sopts);
		if (shared != 0) {
			if (shared < 0)
				return 2;
			continue;
		}
		switch (c) {
		case 'S':
			state_dir = optarg;
			break;
		case 1000:
			if (cli_parse_seconds_ms("--broker-timeout", optarg, &broker_timeout_ms))
				return 2;
			break;
		case 1001:
			sopts.events_topic = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'c':
			snap_options_add_sink(&sopts, &snap_sink_csv);
			break;
		case 'b':
			brokers = optarg;
			break;
		case 't':
			fprintf(stderr,
				"segstream snapshot: warning: --topic is deprecated (elsewhere it names the events "
				"topic); use --segments-topic\n");
			/* fall through */
		case 'G':
			topic = optarg;
			break;
		case 'X':
			if (cli_props_add(&props, optarg))
				return 2;
			break;
		case 'h':
			printf(
			    "usage: segstream snapshot --state DIR --out DIR [--keep K (5)] [--csv] [-T "
			    "threshold=value ...] [--file-mode MODE (0640)]\n"
			    "         [--brokers|-b HOST:PORT [--segments-topic T (segstream.segments)] [-X prop=value "
			    "...]]\n"
			    "         [--broker-timeout SEC (120; 0: wait until stopped)] [--events-topic T "
			    "(segstream.events)]\n"
			    "  With --brokers, the rows changed since the last snapshot published to Kafka go to the\n"
			    "  compacted topic, with a manifest record, in one transaction.\n"
			    "       segstream snapshot verify|show DIR [SEQUENCE]\n"
			    "       segstream snapshot diff DIR SEQUENCE_A SEQUENCE_B\n"
			    "       segstream snapshot merge OUT_DIR SNAPSHOT_DIR... (several instances' snapshots as "
			    "one)\n");
			return 0;
		default:
			return 2;
		}
	}
	if (!state_dir || !out) {
		fprintf(stderr, "snapshot: --state and --out are required\n");
		return 2;
	}
	struct state_db *db;
	if (cli_open_state(state_dir, 1, 1, 0, &db) != STATE_OK)
		return 1;
	static struct snap_report r;
	uint64_t seq;
	char err[512];
	int rc = snap_publish_files(db, &cfg, &sopts, out, &seq, &r, err, sizeof err);
	state_close(db);
	if (rc != SNAP_OK) {
		log_error(cli_log, cli_command, "%s", err);
		return 1;
	}
	printf("snapshot %" PRIu64 " published in %s/%010" PRIu64 "\n", seq, out, seq);
	print_summary(&r, &cfg);
	if (brokers && brokers_answer(brokers, &props, broker_timeout_ms))
		return 1;
	return brokers ? cli_snapshot_to_kafka(brokers, topic, &props, out, seq, sopts.file_mode) : 0;
}
