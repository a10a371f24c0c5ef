/* Subcommands of the segstream CLI; each is a thin main that wires modules together. */
#ifndef SEGSTREAM_TOOLS_CLI_H
#define SEGSTREAM_TOOLS_CLI_H

#include <signal.h>
#include <stdint.h>

/* The process-wide stop flag, set by SIGINT/SIGTERM (owned by main.c). */
extern volatile sig_atomic_t cli_stop;
/* Set by SIGUSR1: publish a snapshot now (consume --snapshot-dir). */
extern volatile sig_atomic_t cli_snapshot_request;

/* The running subcommand's name, for messages (set by main.c before it runs it). */
extern const char *cli_command;

/*
 * The process's logger (log/log.h) from --log-level and --log-format, which main.c takes out of
 * every subcommand's arguments (after the config file's and SEGSTREAM_LOG_* settings, so the
 * flags win) before it runs the subcommand; owned by main.c, open while a subcommand runs.
 * Subcommands log their runtime messages through it (component: cli_command) and hand it to
 * the modules (cons_config.log, kc_opaque.log). Usage errors and data output are not logs.
 */
struct logger;
extern struct logger *cli_log;

/*
 * Every subcommand returns the exit code: 0 done (and --help), 1 failed, 2 usage error (an
 * unknown or malformed option, a missing required one).
 */

int cmd_gen(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_consume(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_backfill(int argc, char **argv);
int cmd_mock_cluster(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_state(int argc, char **argv);
int cmd_report(int argc, char **argv);

/*
 * Settings from a config file and the environment (config.c): takes --config FILE out of the
 * subcommand's argv (else SEGSTREAM_CONFIG names the file), reads its [segstream] keys and
 * [kafka] properties, then the SEGSTREAM_* variables (environment over file), and gives the
 * subcommand a new argv: its name, the options those settings mean for it, then its own
 * arguments (flags last, so they win). argv[0] is the subcommand's name.
 * @param[out] owned what the new argv points to: free it with cli_config_free() after the
 *             subcommand has returned.
 * @return 0, or -1 (message printed: an unreadable file, an unknown key; exit 2).
 */
int cli_config_apply(int *argc, char ***argv, char ***owned);
void cli_config_free(char **owned);

/* Collects repeated -X key=value options (kc_conf_apply() of kclient/ applies them). */
struct cli_props {
	const char *items[64];
	int n;
};
int cli_props_add(struct cli_props *p, const char *kv);

/* Opens the state (read_only, durable, file_mode as in state_config; file_mode 0: the default);
 * prints why on failure (cmd_read.c).
 * @return a STATE_* code. */
struct state_db;
int cli_open_state(const char *path, int read_only, int durable, unsigned file_mode, struct state_db **db);

/* Sends snapshot seq under dir to Kafka as a delta against the last one sent to topic, which
 * dir/.kafka-TOPIC (written with file_mode) remembers (cmd_snapshot.c). @return 0, or 1 (message printed). */
int cli_snapshot_to_kafka(const char *brokers, const char *topic, const struct cli_props *props, const char *dir,
			  uint64_t seq, unsigned file_mode);

/* The demographics get and serve show beside the snapshot columns, by name: state and fam_status
 * (the raw numbers are snapshot columns) (cmd_read.c). */
#define CLI_DEMOGRAPHICS 2
extern const char *const cli_demographic_names[CLI_DEMOGRAPHICS];
/* Demographic field i of d as text. @return the name, or NULL when the code is unknown. */
struct event_customer;
const char *cli_demographic_text(const struct event_customer *d, int i);

/* One customer as `get --json` prints it and `serve` answers it: every snapshot column by name
 * (numbers as get writes them), then the demographics (null if unknown). @return the object
 * (the caller frees it with cJSON_Delete()), or NULL when out of memory. */
struct cJSON;
struct snap_values;
struct cJSON *cli_customer_json(const struct snap_values *v);

/* serve's dashboard (dashboard.c): http/ handlers for the page at / and, under /dashboard/, the
 * charting library it loads; both are embedded in the binary. */
struct http_response;
void cli_dashboard_page(void *ctx, const char *path, const char *rest, struct http_response *resp);
void cli_dashboard_file(void *ctx, const char *path, const char *rest, struct http_response *resp);

/* After a history was loaded with customers.csv: "CMD: warning: N of M customers have no
 * demographics row in customers.csv" on stderr, if any has none (ds_history.users_without_customer). */
struct ds_history;
void cli_warn_no_demographics(const struct ds_history *h);

/* --on-error skip|fail into a dataset report. @return 0, or -1 (message printed). */
struct ds_report;
int cli_parse_on_error(const char *arg, struct ds_report *rep);

/* Progress of reading the history files on stderr (ds_report.progress): the rows of both
 * reading threads, a counter updated in place on a terminal, a line every ~8M rows otherwise.
 * Not for two loads at once (it keeps the last line's count). ctx is unused. */
void cli_read_progress(uint64_t rows, void *ctx);

/*
 * Strict numbers for options: the whole of arg, decimal digits only (no sign, spaces or
 * suffix), within [min, max]; otherwise "segstream CMD: FLAG: 'ARG' is not an integer in
 * [MIN, MAX]" on stderr (the caller then exits 2). flag is the option as the user
 * wrote it, e.g. "--rate". *out is set only on success. @return 0, or -1 (message printed).
 */
int cli_parse_u64(const char *flag, const char *arg, uint64_t min, uint64_t max, uint64_t *out);
/* cli_parse_u64 for an int option; 0 <= min <= max <= INT_MAX. */
int cli_parse_int(const char *flag, const char *arg, int min, int max, int *out);
/* --file-mode: an octal mode of 1 to 4 digits, at most 0777, that lets its owner read and write
 * (0600..0777): "FLAG: 'ARG' is not an octal file mode in [0600, 0777]" otherwise. */
int cli_parse_file_mode(const char *flag, const char *arg, unsigned *out);
/* A whole number of seconds (0 .. INT_MAX / 1000) as milliseconds, e.g. --broker-timeout. */
int cli_parse_seconds_ms(const char *flag, const char *arg, int *ms_out);
/* A finite decimal number in [min, max] (strtod's syntax, the whole string). */
int cli_parse_double(const char *flag, const char *arg, double min, double max, double *out);

/*
 * -T NAME=VALUE into cfg (segment_config_set); an unknown name is reported with the list of
 * valid names, a malformed value with the accepted range. @return 0, or -1 (message printed).
 */
struct segment_config;
int cli_parse_threshold(struct segment_config *cfg, const char *name_value);

/* YYYY-MM-DD as days since 1970-01-01. @return 0, or -1 if malformed. */
int cli_parse_iso_date(const char *s, int32_t *day);

#endif
