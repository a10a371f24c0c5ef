/* segstream state verify: walks a state's every page and row and reports the first fault (#14). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "state/state.h"
#include "tools/segstream/cli.h"

static int usage(FILE *out)
{
	fprintf(out, "usage: segstream state verify --state DIR\n"
		     "  Checks data.mdb's size, every page of every table and every row (CRC-32, key);\n"
		     "  exit 0 if sound, 1 with the first bad page or row named.\n");
	return out == stdout ? 0 : 2;
}

int cmd_state(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
		return usage(stdout);
	if (argc < 2 || strcmp(argv[1], "verify") != 0)
		return usage(stderr);
	static const struct option opts[] = {
		{ "state", required_argument, 0, 'S' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	const char *dir = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "S:h", opts, NULL)) != -1) {
		switch (c) {
		case 'S':
			dir = optarg;
			break;
		case 'h':
			return usage(stdout);
		default:
			return usage(stderr);
		}
	}
	if (!dir || optind != argc - 1)
		return usage(stderr);
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
