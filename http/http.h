/**
 * @file http.h
 * @brief A small read-only HTTP server (libmicrohttpd) with routes the caller registers: GET
 *        only, bounded connections, memory and time per connection, JSON errors (cJSON).
 *
 * The module knows nothing of what it serves: a route is a path (or a path prefix) with a
 * handler and the handler's own context; the handler fills a struct http_response. Unknown
 * paths answer 404, other methods than GET 405, URLs longer than max_url 414, each with a
 * JSON body {"error": "...", "status": N}. Requests too big for a connection's memory are
 * refused by libmicrohttpd itself (414 or 431, its own body); malformed HTTP gets its 400.
 *
 * Threading: the server runs its own threads (a small pool, started by http_start, stopped and
 * joined by http_stop). Handlers run in those threads, possibly several at once: a handler and
 * its ctx must be safe to call concurrently, and quick (they hold a connection slot).
 */
#ifndef SEGSTREAM_HTTP_H
#define SEGSTREAM_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_ERR_MAP(XX)                                \
	XX(OK, 0, "success")                            \
	XX(ADDR, -701, "not a HOST:PORT address")       \
	XX(START, -702, "cannot start the HTTP server") \
	XX(NOMEM, -703, "out of memory")                \
	XX(INVAL, -704, "invalid route or configuration")

enum http_err {
#define HTTP_ERR_ENUM(name, code, text) HTTP_##name = code,
	HTTP_ERR_MAP(HTTP_ERR_ENUM)
#undef HTTP_ERR_ENUM
};

const char *http_strerror(int err);

/** What a handler answers. The server frees body (with free()) after sending it. */
struct http_response {
	int status;               /* an HTTP status; 0 (never set) becomes a 500 */
	const char *content_type; /* static storage; NULL: "application/json" */
	char *body;               /* malloc()ed; owned by the response once set */
	size_t len;
};

/**
 * A handler: @p path is the decoded request path (no query string), @p rest what follows the
 * route's prefix (empty for an exact route). Both are valid during the call only.
 */
typedef void (*http_handler_fn)(void *ctx, const char *path, const char *rest, struct http_response *resp);

/**
 * A route: @p path matches a request path equal to it; a path ending in '/' ("/customers/")
 * matches every request path that starts with it (rest is then the remainder). The first
 * matching route in the table wins.
 */
struct http_route {
	const char *path; /* must start with '/'; borrowed until http_stop() */
	http_handler_fn fn;
	void *ctx; /* borrowed until http_stop() */
};

struct http_config {
	const char *addr;         /* "HOST:PORT", "[V6]:PORT" or "PORT" (host 127.0.0.1); port 0 picks one */
	unsigned max_connections; /* default 1024; beyond it a new connection waits or is closed unanswered */
	size_t connection_memory; /* bytes per connection for the request (default 16 KiB) */
	unsigned timeout_s;       /* an idle connection is closed after this (default 10) */
	size_t max_url;           /* longer URLs answer 414 (default 2048) */
	unsigned threads;         /* handler threads (default 2) */
};

/** @brief Fills the defaults (addr NULL: must be set). */
void http_config_init(struct http_config *cfg);

struct http_server;

/**
 * @brief Starts the server on cfg->addr with @p n_routes routes (copied; their path and ctx are
 *        borrowed until http_stop()).
 * @param[out] srv_out  stop and free with http_stop()
 * @param errbuf        optional; says why on failure
 * @return HTTP_OK, HTTP_ADDR (unparsable or unresolvable address), HTTP_INVAL (a route path not
 *         starting with '/', no routes), HTTP_NOMEM, or HTTP_START (the port is taken, ...).
 */
int http_start(const struct http_config *cfg, const struct http_route *routes, size_t n_routes,
	       struct http_server **srv_out, char *errbuf, size_t errbuf_len);

/** @brief The port the server listens on (useful with port 0). */
uint16_t http_port(const struct http_server *srv);

/** @brief Stops the server, waits for its threads and frees it; NULL is a no-op. */
void http_stop(struct http_server *srv);

/* ---- Parsing request paths (pure: the fuzz target calls them without a daemon) ---- */

/**
 * @brief The first of @p routes matching @p path: equal to a route's path, or starting with it
 *        when that path ends in '/' (a prefix route).
 * @param[out] rest_out  what follows the route's path in @p path (borrowed from @p path)
 * @return the route (borrowed from @p routes), or NULL if none matches.
 */
const struct http_route *http_route_match(const struct http_route *routes, size_t n_routes, const char *path,
					  const char **rest_out);

/**
 * @brief A path segment as an id: decimal digits, no sign, no leading zero, 1..max.
 * @param text  @p len bytes, not necessarily NUL-terminated
 * @return 0 with *id_out, or -1 if malformed or out of range.
 */
int http_parse_id(const char *text, size_t len, uint64_t max, uint64_t *id_out);

/* ---- Building responses (for handlers) ---- */

/** @brief A copy of @p text (NUL-terminated) as the body. @return HTTP_OK or HTTP_NOMEM (then a 500). */
int http_reply_text(struct http_response *resp, int status, const char *content_type, const char *text);

/** @brief Takes @p body (malloc()ed, @p len bytes; freed on failure too). @return HTTP_OK. */
int http_reply_owned(struct http_response *resp, int status, const char *content_type, char *body, size_t len);

struct cJSON;
/**
 * @brief @p json printed (compact) as an application/json body; the JSON is deleted either way.
 * @return HTTP_OK, or HTTP_NOMEM (then a 500; also when json is NULL).
 */
int http_reply_json(struct http_response *resp, int status, struct cJSON *json);

/** @brief {"error": message, "status": status} as the body. @return HTTP_OK or HTTP_NOMEM. */
int http_reply_error(struct http_response *resp, int status, const char *message);

#endif
