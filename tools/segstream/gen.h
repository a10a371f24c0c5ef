/**
 * @file gen.h
 * @brief Deterministic generator of Kaggle-layout Instacart files shaped like SPEC §5.
 */
#ifndef SEGSTREAM_TOOLS_GEN_H
#define SEGSTREAM_TOOLS_GEN_H

#include <stdint.h>

struct gen_config {
	uint32_t users;          /* default 206,209 */
	uint64_t seed;           /* default 2017 */
	const char *catalog_dir; /* products.csv, aisles.csv, departments.csv to copy and draw from */
	const char *out_dir;     /* created if missing */
	int dirty;               /* inject the real-world faults of SPEC §1 (see gen.c) */
};

struct gen_stats {
	uint64_t orders, prior_lines, train_lines, customers;
	uint64_t bad_rows, orphan_lines, unknown_products; /* --dirty faults injected */
};

/** @brief Writes orders.csv, order_products__{prior,train}.csv, customers.csv and the catalog. @return 0 or -1 (message on stderr). */
int gen_run(const struct gen_config *cfg, struct gen_stats *stats_out);

#endif
