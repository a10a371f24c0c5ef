/* segstream state verify: walks a state's every page and row and reports the first fault (#14); state records:
 * one partition's stored customer records, raw (the hand-off's byte-identity check, #18). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/state.h"
#include "tools/segstream/cli.h"

static int usage(FILE *out)
{
	fprintf(out, "usage: segstream state verify --state DIR\n"
		     "  Checks data.mdb's size, every page of every table and every row (CRC-32, key);\n"
		     "  exit 0 if sound, 1 with the first bad page or row named.\n"
		     "       segstream state records --state DIR --partition P [--topic T (segstream.events)]\n"
		     "  One partition's stored offset (\"next_offset N\", -1: none), then each customer's stored\n"
		     "  record as it is in the state (\"user_id HEX\"), by user_id, from one read transaction.\n");
	return out == stdout ? 0 : 2;
}

static int print_record(uint32_t partition, uint32_t user_id, const void *rec, size_t len, void *ctx)
{
	(void)partition;
	FILE *out = ctx;
	fprintf(out, "%" PRIu32 " ", user_id);
	for (size_t i = 0; i < len; i++)
		fprintf(out, "%02x", ((const uint8_t *)rec)[i]);
	fputc('\n', out);
	return 0;
}

/* state records: the offset line first (known only once the walk's transaction has read it), then the records. */
static int print_records(const char *dir, const char *topic, int partition)
{
	struct state_db *db;
	if (cli_open_state(dir, 1, 1, 0, &db) != STATE_OK)
		return 1;
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	int64_t next = -1;
	int rc = mem ? state_partition_walk_raw(db, topic, partition, print_record, mem, &next) : STATE_NOMEM;
	if (mem)
		fclose(mem);
	state_close(db);
	if (rc == STATE_OK)
		printf("next_offset %" PRId64 "\n%s", next, buf ? buf : "");
	else
		fprintf(stderr, "state records: %s: %s\n", dir, state_strerror(rc));
	free(buf);
	return rc == STATE_OK ? 0 : 1;
}

int cmd_state(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
		return usage(stdout);
	int records = argc >= 2 && strcmp(argv[1], "records") == 0;
	if (argc < 2 || (strcmp(argv[1], "verify") != 0 && !records))
		return usage(stderr);
	static const struct option opts[] = {
		{ "state", required_argument, 0, 'S' },
		{ "partition", required_argument, 0, 'p' },
		{ "topic", required_argument, 0, 't' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	const char *dir = NULL, *topic = "segstream.events";
	int partition = -1;
	int c;
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "S:p:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 'S':
			dir = optarg;
			break;
		case 'p':
			if (cli_parse_int("--partition", optarg, 0, INT32_MAX, &partition))
				return 2;
			break;
		case 't':
			topic = optarg;
			break;
		case 'h':
			return usage(stdout);
		default:
			return usage(stderr);
		}
	}
	if (!dir || optind != argc - 1 || (records && partition < 0))
		return usage(stderr);
	if (records)
		return print_records(dir, topic, partition);
	struct state_db *db;
	if (cli_open_state(dir, 1, 1, 0, &db) != STATE_OK) /* the open runs the same check first */
		return 1;
	struct state_verify_report rep;
	int rc = state_verify(db, &rep);
	state_close(db);
	if (rc != STATE_OK) {
		fprintf(stderr, "state verify: %s: %s\n", dir,
			rep.first_error[0] ? rep.first_error : state_strerror(rc));
		return 1;
	}
	printf("state verify: %s is sound: %" PRIu64 " customers, %" PRIu64 " products, %" PRIu64
	       " demographics, %" PRIu64 " offsets, %" PRIu64 " names in %" PRIu64 " pages of %" PRIu64
	       " bytes (%" PRIu64 " free); data.mdb %" PRIu64 " bytes\n",
	       dir, rep.customers, rep.products, rep.demographics, rep.offsets, rep.names, rep.pages, rep.page_size,
	       rep.free_pages, rep.file_bytes);
	return 0;
}
