/*
 * Settings from a config file (--config FILE or SEGSTREAM_CONFIG, INI read with libinih) and
 * SEGSTREAM_* environment variables, turned into options placed before the command line's own:
 * getopt keeps the last value of an option, so flags win over the environment, which wins over
 * the file. Each subcommand gets only the settings it takes.
 */
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/segstream/cli.h"

/* The settings, by name: a command's mask below says which it takes. */
enum setting {
	SET_BROKERS,
	SET_EVENTS_TOPIC,
	SET_PRODUCTS_TOPIC,
	SET_CUSTOMERS_TOPIC,
	SET_DLQ_TOPIC,
	SET_SEGMENTS_TOPIC,
	SET_STATE,
	SET_FILE_MODE,
	SET_NAMES_TOPIC,
	SET_LOG_LEVEL,
	SET_LOG_FORMAT,
	N_SETTINGS,
	SET_X = N_SETTINGS /* -X: librdkafka properties */
};

/* A setting: its key in the file ([segstream] section), its environment variable, its option. */
static const struct {
	const char *key, *env, *option;
} settings[N_SETTINGS] = {
	[SET_BROKERS] = { "brokers", "SEGSTREAM_BROKERS", "--brokers" },
	[SET_EVENTS_TOPIC] = { "events_topic", "SEGSTREAM_EVENTS_TOPIC", "--topic" },
	[SET_PRODUCTS_TOPIC] = { "products_topic", "SEGSTREAM_PRODUCTS_TOPIC", "--products-topic" },
	[SET_CUSTOMERS_TOPIC] = { "customers_topic", "SEGSTREAM_CUSTOMERS_TOPIC", "--customers-topic" },
	[SET_DLQ_TOPIC] = { "dlq_topic", "SEGSTREAM_DLQ_TOPIC", "--dlq-topic" },
	[SET_SEGMENTS_TOPIC] = { "segments_topic", "SEGSTREAM_SEGMENTS_TOPIC", "--segments-topic" },
	[SET_STATE] = { "state", "SEGSTREAM_STATE", "--state" },
	[SET_FILE_MODE] = { "file_mode", "SEGSTREAM_FILE_MODE", "--file-mode" },
	[SET_NAMES_TOPIC] = { "names_topic", "SEGSTREAM_NAMES_TOPIC", "--names-topic" },
	[SET_LOG_LEVEL] = { "log_level", "SEGSTREAM_LOG_LEVEL", "--log-level" },
	[SET_LOG_FORMAT] = { "log_format", "SEGSTREAM_LOG_FORMAT", "--log-format" },
};

/* Which settings each subcommand takes (bit i: settings[i], bit SET_X: -X); every command also
 * takes the logging ones (main.c reads them). snapshot's --brokers is an action (send a delta),
 * not a connection setting, so it is never implied. */
#define S(i) (1u << (i))
#define TOPICS \
	(S(SET_EVENTS_TOPIC) | S(SET_PRODUCTS_TOPIC) | S(SET_CUSTOMERS_TOPIC) | S(SET_DLQ_TOPIC) | S(SET_NAMES_TOPIC))
#define EVERY_COMMAND (S(SET_LOG_LEVEL) | S(SET_LOG_FORMAT))
static const struct {
	const char *command;
	unsigned takes;
} commands[] = {
	{ "replay", S(SET_BROKERS) | TOPICS | S(SET_X) },
	{ "consume", S(SET_BROKERS) | TOPICS | S(SET_SEGMENTS_TOPIC) | S(SET_STATE) | S(SET_FILE_MODE) | S(SET_X) },
	{ "backfill", S(SET_BROKERS) | S(SET_EVENTS_TOPIC) | S(SET_STATE) | S(SET_FILE_MODE) | S(SET_X) },
	{ "snapshot", S(SET_SEGMENTS_TOPIC) | S(SET_STATE) | S(SET_FILE_MODE) | S(SET_X) },
	{ "get", S(SET_STATE) },
	{ "dump", S(SET_STATE) },
	{ "serve", S(SET_STATE) },
};

struct collected {
	const char *path;
	char *value[N_SETTINGS]; /* from the file, then replaced by the environment */
	char **props;            /* "key=value" for -X: the file's [kafka] section, then SEGSTREAM_X */
	int n_props;
	int bad;
};

static int add_prop(struct collected *c, const char *key, size_t key_len, const char *value)
{
	char **p = realloc(c->props, (size_t)(c->n_props + 1) * sizeof *p);
	size_t len = key_len + 1 + strlen(value) + 1;
	char *kv = malloc(len);
	if (p)
		c->props = p;
	if (!p || !kv) {
		free(kv);
		return -1;
	}
	snprintf(kv, len, "%.*s=%s", (int)key_len, key, value);
	c->props[c->n_props++] = kv;
	return 0;
}

/* libinih's handler: [segstream] keys (also before any section) and [kafka] properties. */
static int on_ini(void *user, const char *section, const char *name, const char *value)
{
	struct collected *c = user;
	if (strcmp(section, "kafka") == 0)
		return add_prop(c, name, strlen(name), value) == 0;
	if (section[0] == 0 || strcmp(section, "segstream") == 0) {
		for (int i = 0; i < N_SETTINGS; i++) {
			if (strcmp(name, settings[i].key) == 0) {
				free(c->value[i]);
				c->value[i] = strdup(value);
				return c->value[i] != NULL;
			}
		}
	}
	fprintf(stderr, "segstream: %s: unknown setting '%s' in [%s] (keys of [segstream]:", c->path, name,
		section[0] ? section : "segstream");
	for (int i = 0; i < N_SETTINGS; i++)
		fprintf(stderr, "%s %s", i ? "," : "", settings[i].key);
	fprintf(stderr, "; [kafka] takes librdkafka properties)\n");
	c->bad = 1;
	return 0;
}

/* Takes --config FILE / --config=FILE out of argv (it may stand anywhere after the command). */
static const char *take_config_option(int *argc, char **argv)
{
	const char *path = NULL;
	int out = 1;
	for (int i = 1; i < *argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < *argc)
			path = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			path = argv[i] + 9;
		else
			argv[out++] = argv[i];
	}
	*argc = out;
	return path;
}

int cli_config_apply(int *argc, char ***argv, char ***owned)
{
	struct collected c = { 0 };
	int rc = 0, n = 0;
	char **args = *argv, **out = NULL;
	*owned = NULL;
	const char *path = take_config_option(argc, args);
	if (!path)
		path = getenv("SEGSTREAM_CONFIG");
	unsigned takes = 0;
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(args[0], commands[i].command) == 0)
			takes = commands[i].takes;
	/* snapshot verify|show|diff read a snapshot directory: no settings apply but the logging ones,
	 * which every command takes. */
	if (strcmp(args[0], "snapshot") == 0 && *argc > 1 && args[1][0] != '-')
		takes = 0;
	takes |= EVERY_COMMAND;
	if (path) {
		c.path = path;
		int line = ini_parse(path, on_ini, &c);
		if (line != 0 && !c.bad)
			fprintf(stderr, "segstream: %s: %s\n", path, line < 0 ? "cannot be read" : "malformed line");
		if (line != 0) {
			rc = -1;
			goto out;
		}
	}
	for (int i = 0; i < N_SETTINGS; i++) {
		const char *env = getenv(settings[i].env);
		if (env && *env) {
			free(c.value[i]);
			if (!(c.value[i] = strdup(env))) {
				rc = -1;
				goto out;
			}
		}
	}
	const char *x = getenv("SEGSTREAM_X");
	for (const char *p = x; p && *p;) { /* "key=value;key=value" */
		size_t len = strcspn(p, ";");
		const char *eq = memchr(p, '=', len);
		if (len && eq) {
			char value[1024];
			snprintf(value, sizeof value, "%.*s", (int)(len - (size_t)(eq + 1 - p)), eq + 1);
			if (add_prop(&c, p, (size_t)(eq - p), value)) {
				rc = -1;
				goto out;
			}
		}
		p += len + (p[len] == ';');
	}
	/* The new argv: the command, the settings it takes, then the command line's own options. */
	out = calloc((size_t)(*argc + 2 * (N_SETTINGS + c.n_props) + 1), sizeof *out);
	if (!out) {
		rc = -1;
		goto out;
	}
	out[n++] = args[0];
	for (int i = 0; i < N_SETTINGS; i++)
		if (c.value[i] && (takes & S(i))) {
			out[n++] = (char *)settings[i].option;
			out[n++] = c.value[i];
		}
	for (int i = 0; i < c.n_props && (takes & S(SET_X)); i++) {
		out[n++] = "-X";
		out[n++] = c.props[i];
	}
	for (int i = 1; i < *argc; i++)
		out[n++] = args[i];
out:
	/* What the new argv points to lives until cli_config_free: the values and properties. */
	if (rc == 0) {
		char **keep = calloc((size_t)(N_SETTINGS + c.n_props + 2), sizeof *keep);
		int k = 0;
		if (keep) {
			keep[k++] = (char *)out;
			for (int i = 0; i < N_SETTINGS; i++)
				if (c.value[i])
					keep[k++] = c.value[i];
			for (int i = 0; i < c.n_props; i++)
				keep[k++] = c.props[i];
			free(c.props);
			*owned = keep;
			*argc = n;
			*argv = out;
			return 0;
		}
		rc = -1;
	}
	for (int i = 0; i < N_SETTINGS; i++)
		free(c.value[i]);
	for (int i = 0; i < c.n_props; i++)
		free(c.props[i]);
	free(c.props);
	free(out);
	return rc;
}

void cli_config_free(char **owned)
{
	for (int i = 0; owned && owned[i]; i++)
		free(owned[i]);
	free(owned);
}
