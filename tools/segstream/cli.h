/* Subcommands of the segstream CLI; each is a thin main that wires modules together. */
#ifndef SEGSTREAM_TOOLS_CLI_H
#define SEGSTREAM_TOOLS_CLI_H

#include <signal.h>
#include <stdint.h>

/* The process-wide stop flag, set by SIGINT/SIGTERM (owned by main.c). */
extern volatile sig_atomic_t cli_stop;
/* Set by SIGUSR1: publish a snapshot now (consume --snapshot-dir). */
extern volatile sig_atomic_t cli_snapshot_request;

int cmd_gen(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_consume(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_backfill(int argc, char **argv);
int cmd_mock_cluster(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* Collects repeated -X key=value options (kc_conf_apply() of kclient/ applies them). */
struct cli_props {
	const char *items[64];
	int n;
};
int cli_props_add(struct cli_props *p, const char *kv);

/* Opens the state (read_only, durable as in state_config); prints why on failure (cmd_read.c).
 * @return a STATE_* code. */
struct state_db;
int cli_open_state(const char *path, int read_only, int durable, struct state_db **db);

/* Sends snapshot seq under dir to Kafka as a delta against the last one sent to topic, which
 * dir/.kafka-TOPIC remembers (cmd_snapshot.c). @return 0, or 1 (message printed). */
int cli_snapshot_to_kafka(const char *brokers, const char *topic, const struct cli_props *props, const char *dir,
			  uint64_t seq);

/* The demographics get and serve show beside the snapshot columns, by name (cmd_read.c). */
#define CLI_DEMOGRAPHICS 5
extern const char *const cli_demographic_names[CLI_DEMOGRAPHICS];
/* Demographic field i of d as text (numbers written into buf); is_text says whether it is a
 * string (else a number). @return the text, or NULL when unknown. */
struct event_customer;
const char *cli_demographic_text(const struct event_customer *d, int i, char *buf, size_t len, int *is_text);

/* --on-error skip|fail into a dataset report. @return 0, or -1 (message printed). */
struct ds_report;
int cli_parse_on_error(const char *arg, struct ds_report *rep);

/* Progress of reading the history files on stderr (ds_report.progress): a counter updated in
 * place on a terminal, a line every ~8M rows otherwise. ctx is unused. */
void cli_read_progress(uint64_t rows, void *ctx);

/* YYYY-MM-DD as days since 1970-01-01. @return 0, or -1 if malformed. */
int cli_parse_iso_date(const char *s, int32_t *day);

#endif
