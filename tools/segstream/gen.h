/**
 * @file gen.h
 * @brief Deterministic generator of Kaggle-layout Instacart files shaped like SPEC §5.
 */
#ifndef SEGSTREAM_TOOLS_GEN_H
#define SEGSTREAM_TOOLS_GEN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

struct gen_config {
	uint32_t users;                    /* default 206,209 */
	uint64_t seed;                     /* default 2017 */
	const char *catalog_dir;           /* products.csv, aisles.csv, departments.csv to copy and draw from */
	const char *out_dir;               /* created if missing */
	int dirty;                         /* inject the real-world faults of SPEC §1 (see gen.c) */
	const volatile sig_atomic_t *stop; /* optional: when it becomes non-zero, gen_run stops (files incomplete) */
};

struct gen_stats {
	uint64_t orders, prior_lines, train_lines, customers;
	uint64_t bad_rows, orphan_lines, unknown_products; /* --dirty faults injected */
};

/**
 * @brief Finds the bundled catalog (data/instacart: products.csv, aisles.csv, departments.csv)
 *        for a gen without --catalog, wherever it is run from. Looks, in this order, for a
 *        directory data/instacart holding products.csv:
 *        1. under the current directory (the repository's root, as before);
 *        2. under the executable's directory or the nearest of its parents that has one
 *           (/proc/self/exe: build/release/tools/segstream finds the tree it was built in);
 *        3. under the source tree the binary was built from (SEGSTREAM_SOURCE_DIR, set by CMake).
 * @param[out] dir_out  the directory found
 * @param[out] tried    where it looked, for the error message ("; "-separated)
 * @return 0, or -1 if none holds products.csv.
 */
int gen_find_catalog(char *dir_out, size_t dir_len, char *tried, size_t tried_len);

/** @brief Writes orders.csv, order_products__{prior,train}.csv, customers.csv and the catalog.
 *  @return 0, or -1 (message on stderr), also when cfg->stop was set (then some files are incomplete). */
int gen_run(const struct gen_config *cfg, struct gen_stats *stats_out);

#endif
