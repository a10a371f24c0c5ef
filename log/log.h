/**
 * @file log.h
 * @brief Structured log lines on a stream (stderr in the CLI): a level (error, warn, info, debug),
 *        a component (the module or librdkafka facility that speaks), a message, and key/value
 *        fields, written either as text or as one JSON object per line (cJSON).
 *
 * Text: `2026-11-29T22:33:27.123Z info consumer: catch-up started partitions=4 lag=1200`.
 * JSON: `{"ts":"2026-11-29T22:33:27.123Z","level":"info","component":"consumer",
 *        "msg":"catch-up started","partitions":4,"lag":1200}` (one line).
 *
 * Data output (what get, dump or --json print on stdout) is never a log line.
 *
 * Threading: a logger is immutable once opened; each line is built in memory and written with
 * one fwrite() (stdio locks the stream per call), so any thread may log through the same handle
 * (librdkafka's own threads do). A NULL handle is the default: text, info, stderr.
 */
#ifndef SEGSTREAM_LOG_H
#define SEGSTREAM_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- Errors ---- */

#define LOG_ERR_MAP(XX)                            \
	XX(OK, 0, "success")                       \
	XX(INVAL, -801, "invalid logging setting") \
	XX(NOMEM, -802, "out of memory")

enum log_err {
#define LOG_ERR_ENUM(name, code, text) LOG_E##name = code,
	LOG_ERR_MAP(LOG_ERR_ENUM)
#undef LOG_ERR_ENUM
};

/** @return the text of a LOG_E* code ("unknown logging error" for others); never NULL. */
const char *log_strerror(int err);

/* ---- Levels and formats ---- */

/** From the most to the least severe; a logger writes its level and the ones above it. */
enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

/** @return "error", "warn", "info" or "debug" ("info" for an unknown value); never NULL. */
const char *log_level_name(enum log_level level);
/** @brief Parses "error|warn|info|debug" (also "warning"). @return LOG_EOK or LOG_EINVAL. */
int log_level_parse(const char *s, enum log_level *level_out);
/** @brief Parses "text|json". @return LOG_EOK or LOG_EINVAL. */
int log_format_parse(const char *s, enum log_format *format_out);

/* ---- Lifecycle ---- */

struct logger;

/**
 * @brief A logger writing lines at @p level and above to @p out in @p format.
 * @param[in] out  the stream (the caller's: it must stay open until log_close(); not closed)
 * @param[out] lg_out  the logger on LOG_EOK (free with log_close()), NULL otherwise
 * @return LOG_EOK, LOG_EINVAL (out is NULL, or a level or format out of range), LOG_ENOMEM.
 */
int log_open(enum log_level level, enum log_format format, FILE *out, struct logger **lg_out);

/** @brief Frees the logger (NULL is a no-op); the stream stays open. */
void log_close(struct logger *lg);

/** @return 1 if a line at @p level would be written (lg NULL: info and above), else 0. */
int log_enabled(const struct logger *lg, enum log_level level);

/* ---- Lines ---- */

enum log_field_type { LOG_FIELD_INT, LOG_FIELD_UINT, LOG_FIELD_DOUBLE, LOG_FIELD_STR };

/** One key/value field; a plain value, usually made with the LOG_* macros below. */
struct log_field {
	const char *key; /* a JSON key / text key; not escaped in text lines, so keep it a word */
	enum log_field_type type;
	int64_t i;
	uint64_t u;
	double d;
	const char *s; /* LOG_FIELD_STR; NULL is written as null (JSON) or "-" (text) */
};

#define LOG_INT(k, v)    ((struct log_field){ .key = (k), .type = LOG_FIELD_INT, .i = (int64_t)(v) })
#define LOG_UINT(k, v)   ((struct log_field){ .key = (k), .type = LOG_FIELD_UINT, .u = (uint64_t)(v) })
#define LOG_DOUBLE(k, v) ((struct log_field){ .key = (k), .type = LOG_FIELD_DOUBLE, .d = (double)(v) })
#define LOG_STR(k, v)    ((struct log_field){ .key = (k), .type = LOG_FIELD_STR, .s = (v) })

/**
 * @brief Writes one line (nothing when @p level is below the logger's).
 * @param[in] component  who speaks ("consumer", "kclient", "librdkafka", a subcommand's name)
 * @param[in] fields     n_fields fields, written after the message in this order; may be NULL
 *                       when n_fields is 0
 * @note A line that cannot be built (out of memory) is dropped; logging never fails the caller.
 */
void log_fields(struct logger *lg, enum log_level level, const char *component, const struct log_field *fields,
		size_t n_fields, const char *msg);

/** @brief log_fields() without fields, the message formatted as printf() does. */
void log_printf(struct logger *lg, enum log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/** The same with a va_list. */
void log_vprintf(struct logger *lg, enum log_level level, const char *component, const char *fmt, va_list ap);

/* Shorthands for the commonest calls. */
#define log_error(lg, component, ...) log_printf((lg), LOG_LEVEL_ERROR, (component), __VA_ARGS__)
#define log_warn(lg, component, ...)  log_printf((lg), LOG_LEVEL_WARN, (component), __VA_ARGS__)
#define log_info(lg, component, ...)  log_printf((lg), LOG_LEVEL_INFO, (component), __VA_ARGS__)
#define log_debug(lg, component, ...) log_printf((lg), LOG_LEVEL_DEBUG, (component), __VA_ARGS__)

#endif
