/* log/: text and JSON lines parse back to what was logged, and levels filter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "log/log.h"

/* A logger writing into memory; *buf holds what was written once the stream is flushed. */
struct capture {
	FILE *f;
	char *buf;
	size_t len;
	struct logger *lg;
};

static void capture_open(struct capture *c, enum log_level level, enum log_format format)
{
	memset(c, 0, sizeof *c);
	c->f = open_memstream(&c->buf, &c->len);
	assert_non_null(c->f);
	assert_int_equal(log_open(level, format, c->f, &c->lg), LOG_EOK);
}

static void capture_close(struct capture *c)
{
	log_close(c->lg);
	fclose(c->f);
	free(c->buf);
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; s && *s; s++)
		n += *s == '\n';
	return n;
}

static void test_parse_levels_and_formats(void **state)
{
	(void)state;
	enum log_level l;
	enum log_format f;
	assert_int_equal(log_level_parse("debug", &l), LOG_EOK);
	assert_int_equal(l, LOG_LEVEL_DEBUG);
	assert_int_equal(log_level_parse("warning", &l), LOG_EOK);
	assert_int_equal(l, LOG_LEVEL_WARN);
	assert_int_equal(log_level_parse("loud", &l), LOG_EINVAL);
	assert_int_equal(log_level_parse(NULL, &l), LOG_EINVAL);
	assert_int_equal(log_format_parse("json", &f), LOG_EOK);
	assert_int_equal(f, LOG_FORMAT_JSON);
	assert_int_equal(log_format_parse("xml", &f), LOG_EINVAL);
	assert_string_equal(log_level_name(LOG_LEVEL_ERROR), "error");
	struct logger *lg;
	assert_int_equal(log_open(LOG_LEVEL_INFO, LOG_FORMAT_TEXT, NULL, &lg), LOG_EINVAL);
	assert_null(lg);
	log_close(NULL);
}

static void test_levels_filter(void **state)
{
	(void)state;
	struct capture c;
	capture_open(&c, LOG_LEVEL_WARN, LOG_FORMAT_TEXT);
	assert_true(log_enabled(c.lg, LOG_LEVEL_ERROR));
	assert_false(log_enabled(c.lg, LOG_LEVEL_INFO));
	log_debug(c.lg, "t", "debug %d", 1);
	log_info(c.lg, "t", "info %d", 2);
	log_warn(c.lg, "t", "warn %d", 3);
	log_error(c.lg, "t", "error %d", 4);
	fflush(c.f);
	assert_int_equal(count_lines(c.buf), 2);
	assert_null(strstr(c.buf, "info 2"));
	assert_non_null(strstr(c.buf, " warn t: warn 3\n"));
	assert_non_null(strstr(c.buf, " error t: error 4\n"));
	capture_close(&c);
	/* The default (NULL handle) is info. */
	assert_true(log_enabled(NULL, LOG_LEVEL_INFO));
	assert_false(log_enabled(NULL, LOG_LEVEL_DEBUG));
}

static void test_text_line_fields(void **state)
{
	(void)state;
	struct capture c;
	capture_open(&c, LOG_LEVEL_DEBUG, LOG_FORMAT_TEXT);
	struct log_field f[] = { LOG_INT("lag", -3), LOG_UINT("events", 12345), LOG_DOUBLE("rate", 2.5),
				 LOG_STR("topic", "a b\"c"), LOG_STR("none", NULL) };
	log_fields(c.lg, LOG_LEVEL_INFO, "consumer", f, 5, "catch-up\nstarted");
	fflush(c.f);
	assert_int_equal(count_lines(c.buf), 1);
	/* 2026-11-29T22:33:27.123Z: a timestamp of 24 characters, then the level. */
	assert_true(strlen(c.buf) > 25);
	assert_int_equal(c.buf[10], 'T');
	assert_int_equal(c.buf[23], 'Z');
	assert_string_equal(
	    c.buf + 24, " info consumer: catch-up started lag=-3 events=12345 rate=2.5 topic=\"a b\\\"c\" none=-\n");
	capture_close(&c);
}

static void test_json_lines_parse(void **state)
{
	(void)state;
	struct capture c;
	capture_open(&c, LOG_LEVEL_INFO, LOG_FORMAT_JSON);
	struct log_field f[] = { LOG_INT("partitions", 4), LOG_STR("fac", "GET\"PID\n"), LOG_DOUBLE("s", 0.25) };
	log_fields(c.lg, LOG_LEVEL_WARN, "librdkafka", f, 3, "a \"quoted\"\nmessage");
	log_debug(c.lg, "x", "filtered");
	log_info(c.lg, "consumer", "plain %s", "text");
	fflush(c.f);
	assert_int_equal(count_lines(c.buf), 2);
	char *nl = strchr(c.buf, '\n');
	*nl = 0;
	cJSON *o = cJSON_Parse(c.buf);
	assert_non_null(o);
	assert_string_equal(cJSON_GetObjectItem(o, "level")->valuestring, "warn");
	assert_string_equal(cJSON_GetObjectItem(o, "component")->valuestring, "librdkafka");
	assert_string_equal(cJSON_GetObjectItem(o, "msg")->valuestring, "a \"quoted\"\nmessage");
	assert_int_equal(cJSON_GetObjectItem(o, "partitions")->valueint, 4);
	assert_string_equal(cJSON_GetObjectItem(o, "fac")->valuestring, "GET\"PID\n");
	assert_true(cJSON_GetObjectItem(o, "s")->valuedouble == 0.25);
	assert_int_equal(strlen(cJSON_GetObjectItem(o, "ts")->valuestring), 24);
	cJSON_Delete(o);
	o = cJSON_Parse(nl + 1);
	assert_non_null(o);
	assert_string_equal(cJSON_GetObjectItem(o, "msg")->valuestring, "plain text");
	assert_string_equal(cJSON_GetObjectItem(o, "level")->valuestring, "info");
	cJSON_Delete(o);
	capture_close(&c);
}

static void test_long_message_kept_whole(void **state)
{
	(void)state;
	struct capture c;
	capture_open(&c, LOG_LEVEL_INFO, LOG_FORMAT_JSON);
	char big[3000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = 0;
	log_info(c.lg, "t", "%s!", big);
	fflush(c.f);
	cJSON *o = cJSON_Parse(c.buf);
	assert_non_null(o);
	assert_int_equal(strlen(cJSON_GetObjectItem(o, "msg")->valuestring), sizeof big);
	cJSON_Delete(o);
	capture_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_levels_and_formats), cmocka_unit_test(test_levels_filter),
		cmocka_unit_test(test_text_line_fields),         cmocka_unit_test(test_json_lines_parse),
		cmocka_unit_test(test_long_message_kept_whole),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
