/* segstream: one CLI with subcommands, as users of kcat and git expect. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <lmdb.h>

#include "dataset/dataset.h"
#include "event/event.h"
#include "log/log.h"
#include "segment/segment.h"
#include "snapshot/snapshot.h"
#include "state/state.h"
#include "tools/segstream/cli.h"

volatile sig_atomic_t cli_stop;
volatile sig_atomic_t cli_snapshot_request;
const char *cli_command = "";
struct logger *cli_log;

/* SIGINT/SIGTERM ask the command to stop (cli_stop); a second one ends the process at once, as
 * the signal's default action, if the command is slow to stop. */
static void on_signal(int sig)
{
	if (sig == SIGUSR1) {
		cli_snapshot_request = 1;
	} else if (cli_stop) {
		signal(sig, SIG_DFL);
		raise(sig);
	} else {
		cli_stop = 1;
	}
}

int cli_props_add(struct cli_props *p, const char *kv)
{
	if (!strchr(kv, '=') || p->n >= (int)(sizeof p->items / sizeof p->items[0])) {
		fprintf(stderr, "segstream: -X takes key=value (at most 64)\n");
		return -1;
	}
	p->items[p->n++] = kv;
	return 0;
}

/*
 * Numbers are parsed whole: digits only (no sign, no spaces, no suffix), within the range, or
 * the flag, the argument and the range are named on stderr. strtoull would read "10x" as 10
 * and "-1" as 18446744073709551615, and atoi "abc" as 0.
 */
int cli_parse_u64(const char *flag, const char *arg, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end = NULL;
	unsigned long long v = 0;
	errno = 0;
	if (isdigit((unsigned char)arg[0]))
		v = strtoull(arg, &end, 10);
	if (!end || *end || errno == ERANGE || v < min || v > max) {
		fprintf(stderr, "segstream %s: %s: '%s' is not an integer in [%" PRIu64 ", %" PRIu64 "]\n", cli_command,
			flag, arg, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

int cli_parse_int(const char *flag, const char *arg, int min, int max, int *out)
{
	uint64_t v;
	if (cli_parse_u64(flag, arg, (uint64_t)min, (uint64_t)max, &v) != 0)
		return -1;
	*out = (int)v;
	return 0;
}

int cli_parse_seconds_ms(const char *flag, const char *arg, int *ms_out)
{
	int sec;
	if (cli_parse_int(flag, arg, 0, INT_MAX / 1000, &sec))
		return -1;
	*ms_out = sec * 1000;
	return 0;
}

int cli_parse_file_mode(const char *flag, const char *arg, unsigned *out)
{
	unsigned mode = 0;
	size_t n = strlen(arg);
	int ok = n >= 1 && n <= 4;
	for (size_t i = 0; ok && i < n; i++) {
		ok = arg[i] >= '0' && arg[i] <= '7';
		mode = mode * 8 + (unsigned)(arg[i] - '0');
	}
	if (!ok || mode > 0777 || (mode & 0600) != 0600) {
		fprintf(stderr,
			"segstream %s: %s: '%s' is not an octal file mode in [0600, 0777] (the owner reads and "
			"writes)\n",
			cli_command, flag, arg);
		return -1;
	}
	*out = mode;
	return 0;
}

/* Decimal numbers (strtod's syntax without leading spaces), finite and within the range. */
int cli_parse_double(const char *flag, const char *arg, double min, double max, double *out)
{
	char *end = NULL;
	double v = 0;
	errno = 0;
	if (arg[0] && !isspace((unsigned char)arg[0]))
		v = strtod(arg, &end);
	if (!end || end == arg || *end || errno == ERANGE || !(v >= min && v <= max)) {
		fprintf(stderr, "segstream %s: %s: '%s' is not a number in [%.15g, %.15g]\n", cli_command, flag, arg,
			min, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* -T NAME=VALUE; a wrong name lists the valid ones, a wrong value names the range. */
int cli_parse_threshold(struct segment_config *cfg, const char *kv)
{
	if (segment_config_set(cfg, kv) == 0)
		return 0;
	const char *eq = strchr(kv, '='), *name;
	int klen = eq ? (int)(eq - kv) : (int)strlen(kv);
	for (size_t i = 0; (name = segment_config_name(i)) != NULL; i++) {
		if (eq && (int)strlen(name) == klen && strncmp(name, kv, (size_t)klen) == 0) {
			fprintf(stderr, "segstream %s: -T %s: '%s' is not an integer in [0, %" PRIu32 "]\n",
				cli_command, name, eq + 1, UINT32_MAX);
			return -1;
		}
	}
	if (eq)
		fprintf(stderr, "segstream %s: -T: unknown threshold '%.*s' (names:", cli_command, klen, kv);
	else
		fprintf(stderr, "segstream %s: -T: '%s' is not NAME=VALUE (names:", cli_command, kv);
	for (size_t i = 0; (name = segment_config_name(i)) != NULL; i++)
		fprintf(stderr, "%s %s", i ? "," : "", name);
	fprintf(stderr, ")\n");
	return -1;
}

int cli_parse_iso_date(const char *s, int32_t *day)
{
	unsigned y, m, d;
	char tail, mdy[32];
	if (sscanf(s, "%4u-%2u-%2u%c", &y, &m, &d, &tail) != 3)
		return -1;
	snprintf(mdy, sizeof mdy, "%u/%u/%u", m, d, y);
	return ds_parse_date(mdy, strlen(mdy), day); /* one calendar: the dataset's */
}

int cli_parse_on_error(const char *arg, struct ds_report *rep)
{
	if (strcmp(arg, "skip") != 0 && strcmp(arg, "fail") != 0) {
		fprintf(stderr, "segstream: --on-error is skip or fail\n");
		return -1;
	}
	rep->on_error = strcmp(arg, "fail") == 0 ? DS_ON_ERROR_FAIL : DS_ON_ERROR_SKIP;
	return 0;
}

void cli_warn_no_demographics(const struct ds_history *h)
{
	if (h->users_without_customer)
		log_warn(cli_log, cli_command,
			 "%" PRIu64 " of %" PRIu64 " customers have no demographics row in customers.csv",
			 h->users_without_customer, h->n_users);
}

/* The loader calls it one call at a time (dataset.h), so the last line's count is plain. */
void cli_read_progress(uint64_t rows, void *ctx)
{
	static uint64_t last_line; /* rows when the last line was written (not a terminal) */
	(void)ctx;
	if (isatty(2)) {
		fprintf(stderr, "\rreading the history: %6.1fM rows", (double)rows / 1e6);
	} else if (rows >= last_line + (8u << 20)) {
		log_info(cli_log, cli_command, "reading the history: %.1fM rows so far", (double)rows / 1e6);
		last_line = rows;
	}
}

/*
 * Takes --log-level LEVEL / --log-format FORMAT (or --opt=VALUE) out of a subcommand's argv, the
 * last of each winning, and opens cli_log on stderr. @return 0, or -1 (message printed: exit 2).
 */
static int open_log(int *argc, char **argv)
{
	enum log_level level = LOG_LEVEL_INFO;
	enum log_format format = LOG_FORMAT_TEXT;
	int out = 1;
	for (int i = 1; i < *argc; i++) {
		const char *value = NULL;
		int is_level = 0;
		if ((strcmp(argv[i], "--log-level") == 0 || strcmp(argv[i], "--log-format") == 0) && i + 1 < *argc) {
			is_level = argv[i][6] == 'l';
			value = argv[++i];
		} else if (strncmp(argv[i], "--log-level=", 12) == 0 || strncmp(argv[i], "--log-format=", 13) == 0) {
			is_level = argv[i][6] == 'l';
			value = strchr(argv[i], '=') + 1;
		} else {
			argv[out++] = argv[i];
			continue;
		}
		if (is_level ? log_level_parse(value, &level) != LOG_EOK
			     : log_format_parse(value, &format) != LOG_EOK) {
			fprintf(stderr, "segstream %s: %s: '%s' is not one of %s\n", cli_command,
				is_level ? "--log-level" : "--log-format", value,
				is_level ? "error, warn, info, debug" : "text, json");
			return -1;
		}
	}
	*argc = out;
	if (log_open(level, format, stderr, &cli_log) != LOG_EOK) {
		fprintf(stderr, "segstream: out of memory\n");
		return -1;
	}
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *help;
	int polls_stop; /* 1: stops cleanly on cli_stop; 0: SIGINT/SIGTERM end it at once (it writes
			 * nothing a sudden end could leave half done: reads, or an atomic publication) */
} commands[] = {
	{ "gen", cmd_gen, "generate Kaggle-layout Instacart files (seeded)", 1 },
	{ "replay", cmd_replay, "stream the history into Kafka as order-product events", 1 },
	{ "consume", cmd_consume, "consume events into the LMDB state, exactly once", 1 },
	{ "get", cmd_get, "one customer's metrics and labels (live)", 0 },
	{ "dump", cmd_dump, "all customers as CSV (live)", 0 },
	{ "backfill", cmd_backfill, "build the state straight from the history files", 1 },
	{ "snapshot", cmd_snapshot, "publish a consistent segment snapshot", 0 },
	{ "serve", cmd_serve, "answer HTTP queries from the live state and the snapshots", 1 },
	{ "report", cmd_report, "a snapshot's stakeholder workbook (--xlsx) and chart set (--charts)", 0 },
	{ "state", cmd_state, "state verify: check every page and row of a state", 0 },
	{ "mock-cluster", cmd_mock_cluster, "run librdkafka's in-process mock Kafka cluster", 1 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: segstream COMMAND [--config FILE] [options]   (segstream COMMAND --help; segstream --version)\n"
		"  Settings: flags, then SEGSTREAM_* variables, then the --config (or SEGSTREAM_CONFIG) file.\n"
		"  Every command takes --log-level error|warn|info|debug (info) and --log-format text|json (text):\n"
		"  its messages on stderr as structured lines (results stay on stdout).\n\n"
		"commands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].help);
}

/* What a bug report needs: our version, the versions of what we write, and the libraries'. */
static void print_version(void)
{
	int major, minor, patch;
	mdb_version(&major, &minor, &patch);
	printf("segstream %s\n", SEGSTREAM_VERSION);
	/* replay writes one message per order by default (version 2), one per line with --encoding line */
	printf("  event schema      %d (%d with --encoding line; products %d, customers %d)\n",
	       EVENT_ORDER_SCHEMA_VERSION, EVENT_SCHEMA_VERSION, EVENT_PRODUCT_SCHEMA_VERSION,
	       EVENT_CUSTOMER_SCHEMA_VERSION);
	printf("  customer record   %d\n", STATE_RECORD_VERSION);
	printf("  snapshot format   %d (report.json %d)\n", SNAP_FORMAT_VERSION, SNAP_REPORT_FORMAT);
	printf("  librdkafka        %s\n", rd_kafka_version_str());
	printf("  LMDB              %d.%d.%d\n", major, minor, patch);
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		print_version();
		return 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(argv[1], commands[i].name) == 0) {
			cli_command = commands[i].name;
			if (!commands[i].polls_stop) {
				signal(SIGINT, SIG_DFL);
				signal(SIGTERM, SIG_DFL);
			}
			int cmd_argc = argc - 1;
			char **cmd_argv = argv + 1, **owned;
			if (cli_config_apply(&cmd_argc, &cmd_argv, &owned) != 0)
				return 2;
			if (open_log(&cmd_argc, cmd_argv) != 0) {
				cli_config_free(owned);
				return 2;
			}
			int rc = commands[i].fn(cmd_argc, cmd_argv);
			log_close(cli_log);
			cli_log = NULL;
			cli_config_free(owned);
			return rc;
		}
	fprintf(stderr, "segstream: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
