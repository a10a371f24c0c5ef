/* segstream serve: HTTP queries of the live state (read-only, beside a running consumer) and of
 * the published snapshots: /customers/{id}, /segments, /snapshots/latest, /snapshots/{seq}/report. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "http/http.h"
#include "segment/segment.h"
#include "snapshot/snapshot.h"
#include "snapshot/snapshot_reader.h"
#include "state/state.h"
#include "log/log.h"
#include "tools/segstream/cli.h"

/* What the handlers share; read-only while the server runs (LMDB read transactions per call),
 * but for the /segments cache, under its lock. */
struct server {
	struct state_db *db;
	const char *snapshots; /* NULL: no /snapshots */
	struct segment_config cfg;
	pthread_mutex_t segments_lock; /* the cache below, shared by the HTTP threads */
	char *segments_body;           /* the last /segments answer (NULL: none yet); owned */
	size_t segments_len;
	uint64_t segments_txn; /* the state's last committed transaction when it was computed */
};

/* A copy of the cached /segments answer if the state has not changed since (NULL: compute it). */
static char *segments_cached(struct server *s, uint64_t txn, size_t *len_out)
{
	char *copy = NULL;
	pthread_mutex_lock(&s->segments_lock);
	if (s->segments_body && s->segments_txn == txn && (copy = malloc(s->segments_len)) != NULL) {
		memcpy(copy, s->segments_body, s->segments_len);
		*len_out = s->segments_len;
	}
	pthread_mutex_unlock(&s->segments_lock);
	return copy;
}

/* Keeps a copy of an answer computed when the state's last commit was txn (none if out of memory). */
static void segments_remember(struct server *s, uint64_t txn, const char *body, size_t len)
{
	char *copy = malloc(len ? len : 1);
	if (copy)
		memcpy(copy, body, len);
	pthread_mutex_lock(&s->segments_lock);
	free(s->segments_body);
	s->segments_body = copy;
	s->segments_len = len;
	s->segments_txn = txn;
	pthread_mutex_unlock(&s->segments_lock);
}

static void serve_customer(void *ctx, const char *path, const char *rest, struct http_response *resp)
{
	struct server *s = ctx;
	uint64_t id;
	(void)path;
	if (http_parse_id(rest, strlen(rest), UINT32_MAX, &id) != 0) {
		http_reply_error(resp, 400, "a user id is a decimal number from 1 to 4294967295");
		return;
	}
	struct state_customer c;
	struct event_customer d;
	int rc = state_get(s->db, -1, (uint32_t)id, &c);
	if (rc == STATE_NOTFOUND) {
		http_reply_error(resp, 404, "no such customer");
		return;
	}
	if (rc != STATE_OK) {
		http_reply_error(resp, 500, state_strerror(rc));
		return;
	}
	int drc = state_demographics_get(s->db, (uint32_t)id, &d);
	struct snap_values v;
	snap_values_compute(&s->cfg, &c, drc == STATE_OK ? &d : NULL, &v);
	http_reply_json(resp, 200, cli_customer_json(&v));
}

/*
 * Counts per label and group now: report.json of a walk in one read transaction (with the
 * clusters' k-means). The answer is kept under the state's last committed transaction and
 * served again until the next commit: a walk begun after that id was read sees that commit or a
 * later one, and a later one changes the id, so a kept answer is never older than the state.
 */
static void serve_segments(void *ctx, const char *path, const char *rest, struct http_response *resp)
{
	struct server *s = ctx;
	(void)path;
	(void)rest;
	uint64_t txn;
	int known = state_last_commit(s->db, &txn) == STATE_OK;
	size_t len = 0;
	char *body = known ? segments_cached(s, txn, &len) : NULL;
	if (body) {
		log_debug(cli_log, cli_command, "/segments: the answer at transaction %" PRIu64 " again", txn);
		http_reply_owned(resp, 200, "application/json", body, len);
		return;
	}
	struct snap_report r;
	int rc = snap_build(s->db, &s->cfg, &r, NULL);
	if (rc != SNAP_OK) {
		http_reply_error(resp, 500, snap_strerror(rc));
		return;
	}
	FILE *f = open_memstream(&body, &len);
	if (!f) {
		http_reply_error(resp, 500, "out of memory");
		return;
	}
	rc = snap_report_write_json(&r, f);
	if (fclose(f) != 0 || rc != SNAP_OK) {
		free(body);
		http_reply_error(resp, 500, "cannot write the report");
		return;
	}
	if (known)
		segments_remember(s, txn, body, len);
	http_reply_owned(resp, 200, "application/json", body, len);
}

/* Opens snapshot seq (0: the latest) for a handler; answers 404 / 500 itself on failure. */
static struct snap_reader *open_snapshot(const struct server *s, uint64_t seq, struct http_response *resp)
{
	struct snap_reader *r = NULL;
	char err[512];
	if (!s->snapshots) {
		http_reply_error(resp, 404, "serve runs without --snapshots");
		return NULL;
	}
	int rc = snap_reader_open(s->snapshots, seq, &r, err, sizeof err);
	if (rc == SNAP_NONE)
		http_reply_error(resp, 404, seq ? "no such snapshot" : "no snapshot yet");
	else if (rc != SNAP_OK)
		http_reply_error(resp, 500, snap_strerror(rc));
	return rc == SNAP_OK ? r : NULL;
}

/* The latest snapshot's manifest.json, as published (its files verified first). */
static void serve_latest(void *ctx, const char *path, const char *rest, struct http_response *resp)
{
	(void)path;
	(void)rest;
	struct snap_reader *r = open_snapshot(ctx, 0, resp);
	if (!r)
		return;
	size_t len;
	const char *manifest = snap_reader_manifest(r, &len);
	http_reply_text(resp, 200, "application/json", manifest);
	snap_reader_close(r);
}

/* /snapshots/{seq}/report: that snapshot's report.json. */
static void serve_report(void *ctx, const char *path, const char *rest, struct http_response *resp)
{
	(void)path;
	const char *slash = strchr(rest, '/');
	uint64_t seq;
	size_t n = slash ? (size_t)(slash - rest) : 0;
	if (!slash || strcmp(slash, "/report") != 0 || n >= 24) {
		http_reply_error(resp, 404, "no such path (/snapshots/latest, /snapshots/{seq}/report)");
		return;
	}
	if (http_parse_id(rest, n, UINT64_MAX, &seq) != 0) {
		http_reply_error(resp, 400, "a snapshot sequence is a decimal number from 1");
		return;
	}
	struct snap_reader *r = open_snapshot(ctx, seq, resp);
	if (!r)
		return;
	char *json = NULL;
	size_t len = 0;
	int rc = snap_reader_report(r, &json, &len);
	snap_reader_close(r);
	if (rc != SNAP_OK) {
		http_reply_error(resp, 500, snap_strerror(rc));
		return;
	}
	http_reply_owned(resp, 200, "application/json", json, len);
}

int cmd_serve(int argc, char **argv)
{
	struct server s = { .segments_lock = PTHREAD_MUTEX_INITIALIZER };
	const char *state_dir = NULL, *addr = NULL;
	segment_config_init(&s.cfg);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--state") == 0 && i + 1 < argc) {
			state_dir = argv[++i];
		} else if (strcmp(argv[i], "--snapshots") == 0 && i + 1 < argc) {
			s.snapshots = argv[++i];
		} else if (strcmp(argv[i], "--http") == 0 && i + 1 < argc) {
			addr = argv[++i];
		} else if (strcmp(argv[i], "-T") == 0 && i + 1 < argc) {
			if (segment_config_set(&s.cfg, argv[++i]) != 0) {
				fprintf(stderr, "serve: unknown threshold '%s'\n", argv[i]);
				return 2;
			}
		} else {
			int help = strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
			fprintf(
			    help ? stdout : stderr,
			    "usage: segstream serve --state DIR [--snapshots DIR] --http HOST:PORT [-T "
			    "threshold=value ...]\n"
			    "  GET /customers/{user_id}  what get --json prints (404 unknown, 400 malformed)\n"
			    "  GET /segments             counts per label and group now (report.json)\n"
			    "  GET /snapshots/latest     the latest snapshot's manifest.json\n"
			    "  GET /snapshots/{seq}/report  that snapshot's report.json\n"
			    "  GET /                     the dashboard (a page over the latest snapshot, updating)\n");
			return help ? 0 : 2;
		}
	}
	if (!state_dir || !addr) {
		fprintf(stderr, "serve: --state and --http are required\n");
		return 2;
	}
	if (cli_open_state(state_dir, 1, 1, 0, &s.db) != STATE_OK)
		return 1;
	/* Profiles by the department names the state holds now (a consumer loads them at its start). */
	snap_department_names(s.db, &s.cfg, NULL);
	const struct http_route routes[] = {
		{ "/customers/", serve_customer, &s },
		{ "/segments", serve_segments, &s },
		{ "/snapshots/latest", serve_latest, &s },
		{ "/snapshots/", serve_report, &s },
		{ "/dashboard/", cli_dashboard_file, NULL },
		{ "/", cli_dashboard_page, NULL }, /* a prefix route: last, and answers 404 for any other path */
	};
	struct http_config hc;
	struct http_server *srv;
	char err[512];
	http_config_init(&hc);
	hc.addr = addr;
	int rc = http_start(&hc, routes, sizeof routes / sizeof routes[0], &srv, err, sizeof err);
	if (rc != HTTP_OK) {
		log_error(cli_log, cli_command, "--http: %s: %s", http_strerror(rc), err);
		state_close(s.db);
		return 1;
	}
	log_info(cli_log, cli_command, "listening on port %u", (unsigned)http_port(srv));
	struct timespec tick = { 0, 100 * 1000 * 1000 };
	while (!cli_stop)
		nanosleep(&tick, NULL);
	http_stop(srv);
	state_close(s.db);
	free(s.segments_body);
	log_info(cli_log, cli_command, "stopped");
	return 0;
}
