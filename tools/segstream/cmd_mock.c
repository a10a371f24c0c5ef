/*
 * segstream mock-cluster: librdkafka's in-process mock cluster in a process of its own, so the
 * demo's replay and consume processes can talk to it like to a broker. It keeps only ~5 MiB per
 * partition (docs/KAFKA.md): the consumer refuses to skip what it evicted.
 */
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kclient/kclient.h"
#include "log/log.h"
#include "tools/segstream/cli.h"

int cmd_mock_cluster(int argc, char **argv)
{
	const char *file = NULL;
	int partitions = 4;
	static const struct option opts[] = {
		{ "bootstrap-file", required_argument, 0, 'f' },
		{ "partitions", required_argument, 0, 'p' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "f:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			file = optarg;
			break;
		case 'p':
			if (cli_parse_int("--partitions", optarg, 1, 100000, &partitions))
				return 2;
			break;
		case 'h':
			printf(
			    "usage: segstream mock-cluster [--bootstrap-file F] [--partitions N (4)]\n"
			    "Prints the bootstrap servers (and writes them to F), then runs until SIGINT/SIGTERM.\n");
			return 0;
		default:
			return 2;
		}
	}
	char err[512];
	const char *quiet[] = { "log_level", "3" };
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	if (kc_conf_new(NULL, quiet, 2, NULL, 0, &conf, err, sizeof err) != KC_OK ||
	    kc_new(RD_KAFKA_PRODUCER, conf, &rk, err, sizeof err) != KC_OK) {
		log_error(cli_log, cli_command, "%s", err);
		return 1;
	}
	rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, 1);
	if (!mc) {
		log_error(cli_log, cli_command, "could not create the mock cluster");
		rd_kafka_destroy(rk);
		return 1;
	}
	const char *topics[] = { "segstream.events", "segstream.products", "segstream.customers", "segstream.names",
				 "segstream.events.dlq" };
	for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++)
		rd_kafka_mock_topic_create(mc, topics[i], partitions, 1);
	const char *bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
	if (file) {
		char tmp[4096];
		snprintf(tmp, sizeof tmp, "%s.tmp", file);
		FILE *f = fopen(tmp, "w");
		if (!f || fprintf(f, "%s\n", bootstraps) < 0 || fclose(f) != 0 || rename(tmp, file) != 0) {
			fprintf(stderr, "mock-cluster: cannot write %s\n", file);
			return 1;
		}
	}
	printf("%s\n", bootstraps);
	fflush(stdout);
	const struct timespec tick = { 0, 100 * 1000 * 1000 };
	while (!cli_stop)
		nanosleep(&tick, NULL);
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return 0;
}
