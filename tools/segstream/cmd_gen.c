/* segstream gen: writes a seeded data set in the Kaggle layout. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tools/segstream/cli.h"
#include "tools/segstream/gen.h"

int cmd_gen(int argc, char **argv)
{
	struct gen_config cfg = {
		.users = 206209, .seed = 2017, .catalog_dir = NULL, .out_dir = NULL, .stop = &cli_stop
	};
	char found[4300], tried[8192];
	static const struct option opts[] = {
		{ "users", required_argument, 0, 'u' },
		{ "seed", required_argument, 0, 's' },
		{ "catalog", required_argument, 0, 'c' },
		{ "out", required_argument, 0, 'o' },
		{ "dirty", no_argument, 0, 'D' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "u:s:c:o:Dh", opts, NULL)) != -1) {
		switch (c) {
		case 'u': {
			uint64_t v;
			if (cli_parse_u64("--users", optarg, 1, UINT32_MAX, &v))
				return 2;
			cfg.users = (uint32_t)v;
			break;
		}
		case 's':
			if (cli_parse_u64("--seed", optarg, 0, UINT64_MAX, &cfg.seed))
				return 2;
			break;
		case 'c':
			cfg.catalog_dir = optarg;
			break;
		case 'o':
			cfg.out_dir = optarg;
			break;
		case 'D':
			cfg.dirty = 1;
			break;
		case 'h':
			printf("usage: segstream gen --out DIR [--users N (206209)] [--seed S (2017)] [--catalog DIR]\n"
			       "         [--dirty]\n"
			       "Without --catalog, the bundled data/instacart is looked for under the current\n"
			       "directory, then under the executable's directory and its parents, then in the\n"
			       "source tree.\n");
			return 0;
		default:
			return 2;
		}
	}
	if (!cfg.out_dir || cfg.users == 0) {
		fprintf(stderr, "gen: --out DIR is required, and --users must be positive\n");
		return 2;
	}
	if (!cfg.catalog_dir) {
		if (gen_find_catalog(found, sizeof found, tried, sizeof tried) != 0) {
			fprintf(stderr,
				"gen: no catalog (data/instacart with products.csv) found; looked in: %s. "
				"Give --catalog DIR\n",
				tried);
			return 1;
		}
		cfg.catalog_dir = found;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct gen_stats st;
	if (gen_run(&cfg, &st) != 0)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("gen: %" PRIu64 " customers, %" PRIu64 " orders, %" PRIu64 " prior lines, %" PRIu64
	       " train lines in %s (%.1f s)\n",
	       st.customers, st.orders, st.prior_lines, st.train_lines, cfg.out_dir,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (cfg.dirty)
		printf("gen: dirty: %" PRIu64 " unparseable rows, %" PRIu64 " orphan lines, %" PRIu64
		       " lines of unknown products, CRLF line endings, quoted rows\n",
		       st.bad_rows, st.orphan_lines, st.unknown_products);
	return 0;
}
