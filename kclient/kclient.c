/*
 * Configuration from defaults plus -X properties, librdkafka's log lines through our logger, and
 * producing with back-pressure (see kclient.h).
 */
#include "kclient/kclient.h"

#include <stdio.h>
#include <string.h>

#include "kclient/kclient_int.h"
#include "log/log.h"

const char *kc_strerror(int err)
{
#define KC_ERR_TEXT(name, code, text) \
	case code:                    \
		return text;
	switch (err) {
		KC_ERR_MAP(KC_ERR_TEXT)
	}
#undef KC_ERR_TEXT
	return "unknown Kafka helper error";
}

const char *kc_errname(int err)
{
#define KC_ERR_NAME(name, code, text) \
	case code:                    \
		return "KC_" #name;
	switch (err) {
		KC_ERR_MAP(KC_ERR_NAME)
	}
#undef KC_ERR_NAME
	return "KC_UNKNOWN";
}

/* Sets one property; on failure errbuf names it with librdkafka's reason, never with the value
 * (it may be a password). */
static int set_one(rd_kafka_conf_t *conf, const char *key, const char *value, char *errbuf, size_t errbuf_len)
{
	char why[512];
	if (rd_kafka_conf_set(conf, key, value, why, sizeof why) == RD_KAFKA_CONF_OK)
		return KC_OK;
	if (errbuf && errbuf_len)
		snprintf(errbuf, errbuf_len, "property %s: %s", key, why);
	return KC_PROPERTY;
}

int kc_conf_apply(rd_kafka_conf_t *conf, const char *brokers, const char *const *defaults, int n_defaults,
		  const char *const *props, int n_props, char *errbuf, size_t errbuf_len)
{
	if (brokers && set_one(conf, "bootstrap.servers", brokers, errbuf, errbuf_len))
		return KC_PROPERTY;
	for (int i = 0; i + 1 < n_defaults; i += 2)
		if (set_one(conf, defaults[i], defaults[i + 1], errbuf, errbuf_len))
			return KC_PROPERTY;
	for (int i = 0; i < n_props; i++) {
		char key[256];
		const char *eq = strchr(props[i], '=');
		if (!eq || eq == props[i] || (size_t)(eq - props[i]) >= sizeof key) {
			if (errbuf && errbuf_len)
				snprintf(errbuf, errbuf_len,
					 "property #%d is not key=value (not shown: it may hold a secret)", i + 1);
			return KC_PROPERTY;
		}
		memcpy(key, props[i], (size_t)(eq - props[i]));
		key[eq - props[i]] = 0;
		if (set_one(conf, key, eq + 1, errbuf, errbuf_len))
			return KC_PROPERTY;
	}
	return KC_OK;
}

int kc_conf_new(const char *brokers, const char *const *defaults, int n_defaults, const char *const *props, int n_props,
		rd_kafka_conf_t **conf_out, char *errbuf, size_t errbuf_len)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	int rc = kc_conf_apply(conf, brokers, defaults, n_defaults, props, n_props, errbuf, errbuf_len);
	if (rc != KC_OK) {
		rd_kafka_conf_destroy(conf);
		conf = NULL;
	}
	*conf_out = conf;
	return rc;
}

int kc_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, rd_kafka_t **rk_out, char *errbuf, size_t errbuf_len)
{
	char why[512];
	*rk_out = rd_kafka_new(type, conf, why, sizeof why);
	if (*rk_out)
		return KC_OK; /* conf belongs to the client now */
	rd_kafka_conf_destroy(conf);
	if (errbuf && errbuf_len)
		snprintf(errbuf, errbuf_len, "%s", why);
	return KC_KAFKA;
}

/* The logger of a client configured by kc_conf_set_logger() (NULL: log.h's default). */
static struct logger *client_logger(const rd_kafka_t *rk)
{
	const struct kc_opaque *o = rd_kafka_opaque(rk);
	return o ? o->log : NULL;
}

/*
 * Transient states librdkafka retries on its own and that a fresh broker always shows: the
 * idempotent producer's PID while the transaction coordinator loads ("Coordinator load in
 * progress") or is not there yet. Not a warning for the operator.
 */
static int transient(const char *fac, const char *text)
{
	return fac && strcmp(fac, "GETPID") == 0 &&
	       (strstr(text, "Coordinator load in progress") || strstr(text, "Coordinator not available") ||
		strstr(text, "Not coordinator"));
}

int kc_log_level(int syslog_level, const char *facility, const char *text)
{
	enum log_level l = syslog_level <= 3   ? LOG_LEVEL_ERROR
			   : syslog_level == 4 ? LOG_LEVEL_WARN
			   : syslog_level <= 6 ? LOG_LEVEL_INFO
					       : LOG_LEVEL_DEBUG;
	if (l < LOG_LEVEL_DEBUG && text && transient(facility, text))
		l = LOG_LEVEL_DEBUG;
	return (int)l;
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *text)
{
	enum log_level l = (enum log_level)kc_log_level(level, fac, text);
	struct logger *lg = client_logger(rk);
	if (!log_enabled(lg, l))
		return;
	struct log_field f[] = { LOG_STR("facility", fac), LOG_STR("client", rd_kafka_name(rk)) };
	log_fields(lg, l, "librdkafka", f, 2, text);
}

void kc_log_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	const struct kc_opaque *o = opaque;
	int fatal = err == RD_KAFKA_RESP_ERR__FATAL;
	struct log_field f[] = { LOG_STR("error", rd_kafka_err2name((rd_kafka_resp_err_t)err)),
				 LOG_STR("client", rd_kafka_name(rk)) };
	log_fields(o ? o->log : NULL, fatal ? LOG_LEVEL_ERROR : LOG_LEVEL_WARN, "librdkafka", f, 2, reason);
}

void kc_conf_set_logger(rd_kafka_conf_t *conf)
{
	rd_kafka_conf_set_log_cb(conf, on_log);
	rd_kafka_conf_set_error_cb(conf, kc_log_error);
}

void kc_delivery_count(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	struct kc_delivery *d = opaque;
	if (!m->err) {
		d->ok++;
		return;
	}
	if (!d->failed)
		snprintf(d->first_error, sizeof d->first_error, "%s", rd_kafka_err2str(m->err));
	d->failed++;
}

int kc_produced_us(rd_kafka_message_t *m, int64_t *us_out)
{
	rd_kafka_headers_t *hdrs;
	const void *val;
	size_t len;
	if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR ||
	    rd_kafka_header_get_last(hdrs, KC_HEADER_PRODUCED_US, &val, &len) != RD_KAFKA_RESP_ERR_NO_ERROR || !val ||
	    len == 0 || len > 18)
		return 0;
	int64_t us = 0;
	for (size_t i = 0; i < len; i++) {
		char c = ((const char *)val)[i];
		if (c < '0' || c > '9')
			return 0;
		us = us * 10 + (c - '0');
	}
	*us_out = us;
	return 1;
}

/*
 * One rd_kafka_produceva() per attempt; the clock is read only once the queue is full, so an
 * accepted message costs no more than a bare producev (the replay's hot path).
 */
int kc_produce(rd_kafka_t *rk, const struct kc_msg *msg, int max_wait_ms, char *errbuf, size_t errbuf_len)
{
	rd_kafka_vu_t vu[8];
	size_t n = 0;
	/* A topic handle, not a name: by name, every message looks the topic up under a lock. */
	if (msg->rkt) {
		vu[n].vtype = RD_KAFKA_VTYPE_RKT;
		vu[n++].u.rkt = msg->rkt;
	} else {
		vu[n].vtype = RD_KAFKA_VTYPE_TOPIC;
		vu[n++].u.cstr = msg->topic;
	}
	if (msg->has_partition) {
		vu[n].vtype = RD_KAFKA_VTYPE_PARTITION;
		vu[n++].u.i32 = msg->partition;
	}
	vu[n].vtype = RD_KAFKA_VTYPE_KEY;
	vu[n].u.mem.ptr = (void *)msg->key;
	vu[n++].u.mem.size = msg->key_len;
	vu[n].vtype = RD_KAFKA_VTYPE_VALUE;
	vu[n].u.mem.ptr = (void *)msg->value;
	vu[n++].u.mem.size = msg->value_len;
	vu[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
	vu[n++].u.i = RD_KAFKA_MSG_F_COPY;
	if (msg->timestamp_ms) {
		vu[n].vtype = RD_KAFKA_VTYPE_TIMESTAMP;
		vu[n++].u.i64 = msg->timestamp_ms;
	}
	if (msg->headers) {
		vu[n].vtype = RD_KAFKA_VTYPE_HEADERS;
		vu[n++].u.headers = msg->headers;
	}
	if (msg->opaque) {
		vu[n].vtype = RD_KAFKA_VTYPE_OPAQUE;
		vu[n++].u.ptr = msg->opaque;
	}
	double deadline = -1;
	int wait_ms = 10;
	for (;;) {
		rd_kafka_error_t *error = rd_kafka_produceva(rk, vu, n);
		if (!error)
			return KC_OK;
		rd_kafka_resp_err_t e = rd_kafka_error_code(error);
		rd_kafka_error_destroy(error);
		const char *topic = msg->rkt ? rd_kafka_topic_name(msg->rkt) : msg->topic;
		if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			if (errbuf && errbuf_len)
				snprintf(errbuf, errbuf_len, "produce to %s: %s", topic, rd_kafka_err2str(e));
			return KC_KAFKA;
		}
		double now = kc__now_ms();
		if (deadline < 0)
			deadline = now + max_wait_ms;
		if (now >= deadline) {
			if (errbuf && errbuf_len)
				snprintf(errbuf, errbuf_len, "produce to %s: the queue stayed full for %d ms", topic,
					 max_wait_ms);
			return KC_QUEUE_FULL;
		}
		rd_kafka_poll(rk, wait_ms); /* delivery reports make room */
		wait_ms = wait_ms * 2 > 100 ? 100 : wait_ms * 2;
	}
}
