/* segstream get | dump: one customer's row, or every row as CSV, read from the state with the
 * snapshot's column table, so both print the same fields under the same names. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "segment/segment.h"
#include "snapshot/snapshot.h"
#include "state/state.h"
#include "log/log.h"
#include "tools/segstream/cli.h"

int cli_open_state(const char *path, int read_only, int durable, unsigned file_mode, struct state_db **db)
{
	struct state_config cfg;
	char err[512];
	state_config_init(&cfg);
	cfg.path = path;
	cfg.read_only = read_only;
	cfg.durable = durable;
	if (file_mode)
		cfg.file_mode = file_mode;
	int rc = state_open(&cfg, db, err, sizeof err);
	if (rc != STATE_OK)
		log_error(cli_log, cli_command, "%s", err);
	return rc;
}

/*
 * Parses "--state DIR [-T key=value ...] [--json] [ARG]" for get and dump: the thresholds of
 * SPEC §4 come from configuration (segment_config_set names the keys). json is NULL where
 * --json is not an option. @return 0, 1 for --help, -1 for a usage error, -2 for one already
 * explained on stderr.
 */
static int parse_read_args(int argc, char **argv, const char **state_dir, struct segment_config *cfg, const char **arg,
			   int *json)
{
	segment_config_init(cfg);
	*state_dir = NULL;
	*arg = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
		if (strcmp(argv[i], "--state") == 0 && i + 1 < argc) {
			*state_dir = argv[++i];
		} else if (strcmp(argv[i], "-T") == 0 && i + 1 < argc) {
			if (cli_parse_threshold(cfg, argv[++i]) != 0)
				return -2; /* said */
		} else if (json && strcmp(argv[i], "--json") == 0) {
			*json = 1;
		} else if (!*arg && argv[i][0] != '-') {
			*arg = argv[i];
		} else {
			return -1;
		}
	}
	return *state_dir ? 0 : -1;
}

/* The demographics get prints beside the columns: those that are not snapshot columns (age, income
 * and n_dependants are). */
enum { DEMO_STATE, DEMO_FAM_STATUS };
const char *const cli_demographic_names[CLI_DEMOGRAPHICS] = { "state", "fam_status" };

const char *cli_demographic_text(const struct event_customer *d, int i)
{
	return i == DEMO_STATE ? event_state_name(d->state) : event_fam_status_name(d->fam_status);
}

/* Adds name: text to o (null without text; a string, or the number as written, so the digits are
 * those get prints). @return 0, or -1 (out of memory: o is left to the caller). */
static int add_value(cJSON *o, const char *name, const char *text, int is_text)
{
	cJSON *item = !text ? cJSON_CreateNull() : is_text ? cJSON_CreateString(text) : cJSON_CreateRaw(text);
	if (item && cJSON_AddItemToObject(o, name, item))
		return 0;
	cJSON_Delete(item);
	return -1;
}

cJSON *cli_customer_json(const struct snap_values *v)
{
	size_t n;
	const struct snap_column *cols = snap_columns(&n);
	cJSON *o = cJSON_CreateObject();
	char buf[32];
	for (size_t i = 0; o && i < n; i++) {
		struct snap_value val;
		snap_column_value(v, i, &val);
		const char *text = snap_value_text(cols[i].type, &val, buf, sizeof buf);
		if (add_value(o, cols[i].name, text, cols[i].type == SNAP_TEXT) != 0) {
			cJSON_Delete(o);
			return NULL;
		}
	}
	for (int i = 0; o && i < CLI_DEMOGRAPHICS; i++) {
		if (add_value(o, cli_demographic_names[i], v->d ? cli_demographic_text(v->d, i) : NULL, 1) != 0) {
			cJSON_Delete(o);
			return NULL;
		}
	}
	return o;
}

/*
 * One customer: every column of the table, one per line ("name  value", "-" for a null), then
 * the demographics; or, with json, cli_customer_json() on one line. @return 0, or -1.
 */
static int print_customer(const struct snap_values *v, int json)
{
	if (json) {
		cJSON *o = cli_customer_json(v);
		char *text = o ? cJSON_PrintUnformatted(o) : NULL;
		cJSON_Delete(o);
		if (!text)
			return -1;
		puts(text);
		cJSON_free(text);
		return 0;
	}
	size_t n, width = 0;
	const struct snap_column *cols = snap_columns(&n);
	for (size_t i = 0; i < n; i++)
		width = strlen(cols[i].name) > width ? strlen(cols[i].name) : width;
	char buf[32];
	for (size_t i = 0; i < n; i++) {
		struct snap_value val;
		snap_column_value(v, i, &val);
		const char *text = snap_value_text(cols[i].type, &val, buf, sizeof buf);
		printf("%-*s  %s\n", (int)width, cols[i].name, text ? text : "-");
	}
	for (int i = 0; i < CLI_DEMOGRAPHICS && v->d; i++) {
		const char *text = cli_demographic_text(v->d, i);
		printf("%-*s  %s\n", (int)width, cli_demographic_names[i], text ? text : "?");
	}
	return 0;
}

int cmd_get(int argc, char **argv)
{
	const char *dir, *user;
	struct segment_config cfg;
	int json = 0;
	int prc = parse_read_args(argc, argv, &dir, &cfg, &user, &json);
	if (prc == -2)
		return 2;
	if (prc || !user) {
		fprintf(prc == 1 ? stdout : stderr,
			"usage: segstream get --state DIR [-T threshold=value ...] [--json] USER_ID\n"
			"  The customer's snapshot columns (the names of dump's header), then demographics.\n");
		return prc == 1 ? 0 : 2;
	}
	uint64_t id;
	if (cli_parse_u64("USER_ID", user, 1, UINT32_MAX, &id))
		return 2;
	struct state_db *db;
	if (cli_open_state(dir, 1, 1, 0, &db) != STATE_OK)
		return 1;
	struct state_customer c;
	struct event_customer d;
	int rc = state_get(db, -1, (uint32_t)id, &c);
	int drc = state_demographics_get(db, (uint32_t)id, &d);
	snap_department_names(db, &cfg, NULL); /* profiles by the state's department names */
	state_close(db);
	if (rc == STATE_NOTFOUND) {
		log_error(cli_log, cli_command, "no customer %" PRIu64, id);
		return 1;
	}
	if (rc != STATE_OK) {
		log_error(cli_log, cli_command, "%s", state_strerror(rc));
		return 1;
	}
	struct snap_values v;
	snap_values_compute(&cfg, &c, drc == STATE_OK ? &d : NULL, &v);
	if (print_customer(&v, json) != 0) {
		log_error(cli_log, cli_command, "out of memory");
		return 1;
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

int cmd_dump(int argc, char **argv)
{
	const char *dir, *extra;
	struct segment_config cfg;
	int prc = parse_read_args(argc, argv, &dir, &cfg, &extra, NULL);
	if (prc == -2)
		return 2;
	if (prc || extra) {
		fprintf(prc == 1 ? stdout : stderr,
			"usage: segstream dump --state DIR [-T threshold=value ...]   (CSV on stdout)\n");
		return prc == 1 ? 0 : 2;
	}
	struct state_db *db;
	if (cli_open_state(dir, 1, 1, 0, &db) != STATE_OK)
		return 1;
	struct snap_report r;
	int rc = snap_build(db, &cfg, &r, stdout);
	struct state_verify_report vr;
	/* A row refused mid-walk: name it (the walk's error says only that the state is unreadable). */
	int corrupt = rc != SNAP_OK && state_verify(db, &vr) == STATE_CORRUPT;
	state_close(db);
	if (rc != SNAP_OK || fflush(stdout) != 0) {
		if (corrupt)
			log_error(cli_log, cli_command, "%s is corrupt: %s", dir, vr.first_error);
		else
			log_error(cli_log, cli_command, "%s", snap_strerror(rc));
		return 1;
	}
	return 0;
}
