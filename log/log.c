/* Log lines as text or JSON (see log.h): each line built in memory, then written with one fwrite. */
#include "log/log.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct logger {
	enum log_level level;
	enum log_format format;
	FILE *out; /* the caller's */
};

const char *log_strerror(int err)
{
#define LOG_ERR_TEXT(name, code, text) \
	case code:                     \
		return text;
	switch (err) {
		LOG_ERR_MAP(LOG_ERR_TEXT)
	}
#undef LOG_ERR_TEXT
	return "unknown logging error";
}

static const char *const level_names[] = { "error", "warn", "info", "debug" };

const char *log_level_name(enum log_level level)
{
	return (unsigned)level <= LOG_LEVEL_DEBUG ? level_names[level] : "info";
}

int log_level_parse(const char *s, enum log_level *level_out)
{
	for (int i = 0; s && i <= LOG_LEVEL_DEBUG; i++)
		if (strcmp(s, level_names[i]) == 0) {
			*level_out = (enum log_level)i;
			return LOG_EOK;
		}
	if (s && strcmp(s, "warning") == 0) {
		*level_out = LOG_LEVEL_WARN;
		return LOG_EOK;
	}
	return LOG_EINVAL;
}

int log_format_parse(const char *s, enum log_format *format_out)
{
	if (s && strcmp(s, "text") == 0)
		*format_out = LOG_FORMAT_TEXT;
	else if (s && strcmp(s, "json") == 0)
		*format_out = LOG_FORMAT_JSON;
	else
		return LOG_EINVAL;
	return LOG_EOK;
}

int log_open(enum log_level level, enum log_format format, FILE *out, struct logger **lg_out)
{
	*lg_out = NULL;
	if (!out || (unsigned)level > LOG_LEVEL_DEBUG || (unsigned)format > LOG_FORMAT_JSON)
		return LOG_EINVAL;
	struct logger *lg = malloc(sizeof *lg);
	if (!lg)
		return LOG_ENOMEM;
	lg->level = level;
	lg->format = format;
	lg->out = out;
	*lg_out = lg;
	return LOG_EOK;
}

void log_close(struct logger *lg)
{
	free(lg);
}

int log_enabled(const struct logger *lg, enum log_level level)
{
	return level <= (lg ? lg->level : LOG_LEVEL_INFO);
}

/* UTC wall-clock time with milliseconds, ISO 8601 ("2026-11-29T22:33:27.123Z"). */
static void timestamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	char date[32];
	strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%.20s.%03dZ", date, (int)(ts.tv_nsec / 1000000) % 1000);
}

/* A text value: as it is when it is one word, else in double quotes with " and \ escaped;
 * control characters (a newline in librdkafka's text) become spaces, so a line stays a line. */
static void put_text_value(FILE *l, const char *s, int always_plain)
{
	int plain = always_plain || (*s && !strpbrk(s, " \t\"=\\"));
	if (!plain)
		fputc('"', l);
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20)
			fputc(' ', l);
		else if (!plain && (c == '"' || c == '\\'))
			fprintf(l, "\\%c", c);
		else
			fputc(c, l);
	}
	if (!plain)
		fputc('"', l);
}

static void build_text(FILE *l, const char *ts, enum log_level level, const char *component, const struct log_field *f,
		       size_t n, const char *msg)
{
	fprintf(l, "%s %s %s: ", ts, log_level_name(level), component ? component : "-");
	put_text_value(l, msg, 1);
	for (size_t i = 0; i < n; i++) {
		fprintf(l, " %s=", f[i].key);
		switch (f[i].type) {
		case LOG_FIELD_INT:
			fprintf(l, "%lld", (long long)f[i].i);
			break;
		case LOG_FIELD_UINT:
			fprintf(l, "%llu", (unsigned long long)f[i].u);
			break;
		case LOG_FIELD_DOUBLE:
			fprintf(l, "%.6g", f[i].d);
			break;
		case LOG_FIELD_STR:
			put_text_value(l, f[i].s ? f[i].s : "-", 0);
			break;
		}
	}
	fprintf(l, "\n");
}

/* One JSON object (cJSON, unformatted: one line); 0, or -1 when out of memory. */
static int build_json(FILE *l, const char *ts, enum log_level level, const char *component, const struct log_field *f,
		      size_t n, const char *msg)
{
	int rc = -1;
	char *text = NULL;
	cJSON *o = cJSON_CreateObject();
	if (!o || !cJSON_AddStringToObject(o, "ts", ts) ||
	    !cJSON_AddStringToObject(o, "level", log_level_name(level)) ||
	    !cJSON_AddStringToObject(o, "component", component ? component : "-") ||
	    !cJSON_AddStringToObject(o, "msg", msg))
		goto out;
	for (size_t i = 0; i < n; i++) {
		cJSON *v = NULL;
		switch (f[i].type) {
		case LOG_FIELD_INT:
			v = cJSON_CreateNumber((double)f[i].i);
			break;
		case LOG_FIELD_UINT:
			v = cJSON_CreateNumber((double)f[i].u);
			break;
		case LOG_FIELD_DOUBLE:
			/* cJSON writes NaN and infinities as null, which stays valid JSON */
			v = cJSON_CreateNumber(f[i].d);
			break;
		case LOG_FIELD_STR:
			v = f[i].s ? cJSON_CreateString(f[i].s) : cJSON_CreateNull();
			break;
		}
		if (!v)
			goto out;
		cJSON_AddItemToObject(o, f[i].key, v);
	}
	text = cJSON_PrintUnformatted(o);
	if (!text)
		goto out;
	fprintf(l, "%s\n", text);
	rc = 0;
out:
	cJSON_free(text);
	cJSON_Delete(o);
	return rc;
}

void log_fields(struct logger *lg, enum log_level level, const char *component, const struct log_field *fields,
		size_t n_fields, const char *msg)
{
	if (!log_enabled(lg, level))
		return;
	char ts[40];
	timestamp(ts, sizeof ts);
	char *buf = NULL;
	size_t len = 0;
	FILE *line = open_memstream(&buf, &len); /* the line in memory: one fwrite, never half a line */
	if (!line)
		return;
	if (!msg)
		msg = "";
	int ok = 1;
	if (lg && lg->format == LOG_FORMAT_JSON)
		ok = build_json(line, ts, level, component, fields, n_fields, msg) == 0;
	else
		build_text(line, ts, level, component, fields, n_fields, msg);
	ok = fclose(line) == 0 && ok; /* the stream's out of memory shows here: the line is dropped */
	if (ok) {
		FILE *out = lg ? lg->out : stderr;
		fwrite(buf, 1, len, out);
		fflush(out);
	}
	free(buf);
}

void log_vprintf(struct logger *lg, enum log_level level, const char *component, const char *fmt, va_list ap)
{
	if (!log_enabled(lg, level))
		return;
	char small[512];
	va_list again;
	va_copy(again, ap);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	if (n >= 0 && (size_t)n >= sizeof small) {
		char *big = malloc((size_t)n + 1);
		if (big) {
			vsnprintf(big, (size_t)n + 1, fmt, again);
			log_fields(lg, level, component, NULL, 0, big);
			free(big);
			va_end(again);
			return;
		}
	}
	va_end(again);
	if (n >= 0)
		log_fields(lg, level, component, NULL, 0, small);
}

void log_printf(struct logger *lg, enum log_level level, const char *component, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vprintf(lg, level, component, fmt, ap);
	va_end(ap);
}
