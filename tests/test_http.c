/* http/: routes, GET only, JSON errors, long URLs and addresses, through a real socket. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "http/http.h"

static void hello(void *ctx, const char *path, const char *rest, struct http_response *resp)
{
	(void)path;
	(void)rest;
	http_reply_text(resp, 200, "text/plain", ctx);
}

/* Echoes what follows the prefix; "crash" answers nothing (the server must send a 500). */
static void echo(void *ctx, const char *path, const char *rest, struct http_response *resp)
{
	(void)ctx;
	(void)path;
	if (strcmp(rest, "nothing") != 0)
		http_reply_text(resp, 200, "text/plain", rest);
}

/* Sends raw request bytes to 127.0.0.1:port and returns the whole answer (malloc()ed). */
static char *exchange(uint16_t port, const char *request, size_t len)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, request + off, len - off);
		if (n <= 0)
			break; /* the server may answer and close before reading everything */
		off += (size_t)n;
	}
	shutdown(fd, SHUT_WR);
	size_t cap = 65536, used = 0;
	char *buf = malloc(cap);
	assert_non_null(buf);
	ssize_t n;
	while ((n = read(fd, buf + used, cap - used - 1)) > 0)
		used += (size_t)n;
	buf[used] = '\0';
	close(fd);
	return buf;
}

static char *get(uint16_t port, const char *method, const char *path)
{
	char req[32768];
	int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", method, path);
	return exchange(port, req, (size_t)n);
}

static struct http_server *start(struct http_config *cfg)
{
	static const struct http_route routes[] = {
		{ "/hello", hello, "hi there" },
		{ "/echo/", echo, NULL },
	};
	struct http_server *srv;
	char err[256];
	int rc = http_start(cfg, routes, 2, &srv, err, sizeof err);
	if (rc != HTTP_OK)
		fail_msg("%s", err);
	assert_true(http_port(srv) > 0);
	return srv;
}

static void test_routes_and_errors(void **state)
{
	(void)state;
	struct http_config cfg;
	http_config_init(&cfg);
	cfg.addr = "127.0.0.1:0";
	cfg.max_url = 100;
	struct http_server *srv = start(&cfg);
	uint16_t port = http_port(srv);
	char *a = get(port, "GET", "/hello");
	assert_non_null(strstr(a, "HTTP/1.1 200"));
	assert_non_null(strstr(a, "\r\n\r\nhi there"));
	free(a);
	a = get(port, "GET", "/echo/42?x=1");
	assert_non_null(strstr(a, "\r\n\r\n42")); /* no query string in rest */
	free(a);
	a = get(port, "GET", "/hello/");
	assert_non_null(strstr(a, "HTTP/1.1 404"));
	assert_non_null(strstr(a, "{\"error\":\"no such path\",\"status\":404}"));
	free(a);
	a = get(port, "GET", "/echo");
	assert_non_null(strstr(a, "HTTP/1.1 404"));
	free(a);
	a = get(port, "POST", "/hello");
	assert_non_null(strstr(a, "HTTP/1.1 405"));
	assert_non_null(strstr(a, "\"status\":405"));
	free(a);
	a = get(port, "GET", "/echo/nothing");
	assert_non_null(strstr(a, "HTTP/1.1 500"));
	free(a);
	char path[1200] = "/echo/";
	memset(path + 6, 'a', sizeof path - 7);
	path[sizeof path - 1] = '\0';
	a = get(port, "GET", path);
	assert_non_null(strstr(a, "HTTP/1.1 414"));
	free(a);
	/* Longer than a connection's memory: libmicrohttpd refuses it itself, the server lives on. */
	static char huge[30000];
	memset(huge, 'b', sizeof huge - 1);
	huge[0] = '/';
	a = get(port, "GET", huge);
	assert_non_null(strstr(a, "HTTP/1.1 4"));
	free(a);
	a = exchange(port, "garbage\r\n\r\n", 11);
	assert_true(a[0] == '\0' || strstr(a, "HTTP/1.1 400"));
	free(a);
	a = get(port, "GET", "/hello");
	assert_non_null(strstr(a, "HTTP/1.1 200"));
	free(a);
	http_stop(srv);
}

/* Beyond max_connections a connection waits in the listen queue or is closed without an answer
 * (libmicrohttpd decides): never a wrong answer, and the server serves afterwards. */
static void test_connection_limit(void **state)
{
	(void)state;
	struct http_config cfg;
	http_config_init(&cfg);
	cfg.addr = "127.0.0.1:0";
	cfg.max_connections = 2;
	cfg.threads = 1;
	struct http_server *srv = start(&cfg);
	enum { N = 40 };
	int fds[N];
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(http_port(srv)) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	static const char req[] = "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	for (int i = 0; i < N; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(fds[i] >= 0);
		assert_int_equal(connect(fds[i], (struct sockaddr *)&sa, sizeof sa), 0);
		(void)!write(fds[i], req, sizeof req - 1);
	}
	int ok = 0;
	for (int i = 0; i < N; i++) {
		char buf[4096];
		size_t used = 0;
		ssize_t n;
		while (used < sizeof buf - 1 && (n = read(fds[i], buf + used, sizeof buf - 1 - used)) > 0)
			used += (size_t)n;
		buf[used] = '\0';
		close(fds[i]);
		if (used == 0)
			continue; /* refused: closed without an answer */
		assert_non_null(strstr(buf, "HTTP/1.1 200"));
		assert_non_null(strstr(buf, "hi there"));
		ok++;
	}
	fprintf(stderr, "limit 2: %d of %d answered\n", ok, N);
	assert_true(ok >= 2);
	char *a = get(http_port(srv), "GET", "/hello");
	assert_non_null(strstr(a, "HTTP/1.1 200"));
	free(a);
	http_stop(srv);
}

static void test_bad_config(void **state)
{
	(void)state;
	static const struct http_route route = { "/x", hello, "" };
	static const struct http_route bad = { "x", hello, "" };
	struct http_config cfg;
	struct http_server *srv;
	char err[256];
	http_config_init(&cfg);
	const char *addrs[] = { "127.0.0.1:", "127.0.0.1:99999", "host:port", "", "no.such.host.invalid:80" };
	for (size_t i = 0; i < sizeof addrs / sizeof addrs[0]; i++) {
		cfg.addr = addrs[i];
		assert_int_equal(http_start(&cfg, &route, 1, &srv, err, sizeof err), HTTP_ADDR);
		assert_null(srv);
	}
	cfg.addr = "0";
	assert_int_equal(http_start(&cfg, &bad, 1, &srv, err, sizeof err), HTTP_INVAL);
	/* A port in use. */
	assert_int_equal(http_start(&cfg, &route, 1, &srv, err, sizeof err), HTTP_OK);
	char taken[32];
	snprintf(taken, sizeof taken, "127.0.0.1:%u", (unsigned)http_port(srv));
	struct http_server *second;
	cfg.addr = taken;
	assert_int_equal(http_start(&cfg, &route, 1, &second, err, sizeof err), HTTP_START);
	http_stop(srv);
	http_stop(NULL);
	assert_string_equal(http_strerror(HTTP_ADDR), "not a HOST:PORT address");
}

/* The path parsing the fuzz target drives without a daemon: prefix routes, ids without zeros. */
static void test_path_parsing(void **state)
{
	(void)state;
	static const struct http_route routes[] = { { "/customers/", NULL, NULL }, { "/segments", NULL, NULL } };
	const char *rest = NULL;
	assert_ptr_equal(http_route_match(routes, 2, "/customers/42", &rest), &routes[0]);
	assert_string_equal(rest, "42");
	assert_ptr_equal(http_route_match(routes, 2, "/segments", &rest), &routes[1]);
	assert_null(http_route_match(routes, 2, "/segments/x", &rest));
	assert_null(http_route_match(routes, 2, "/customers", &rest));
	uint64_t id = 0;
	assert_int_equal(http_parse_id("4294967295", 10, UINT32_MAX, &id), 0);
	assert_int_equal(id, 4294967295u);
	assert_int_equal(http_parse_id("4294967296", 10, UINT32_MAX, &id), -1);
	assert_int_equal(http_parse_id("05", 2, UINT32_MAX, &id), -1);
	assert_int_equal(http_parse_id("0", 1, UINT32_MAX, &id), -1);
	assert_int_equal(http_parse_id("", 0, UINT32_MAX, &id), -1);
	assert_int_equal(http_parse_id("+5", 2, UINT32_MAX, &id), -1);
	assert_int_equal(http_parse_id("12/report", 2, UINT64_MAX, &id), 0); /* a slice: the length counts */
	assert_int_equal(id, 12);
	assert_int_equal(http_parse_id("18446744073709551615", 20, UINT64_MAX, &id), 0);
	assert_int_equal(http_parse_id("18446744073709551616", 20, UINT64_MAX, &id), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes_and_errors),
		cmocka_unit_test(test_connection_limit),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_path_parsing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
