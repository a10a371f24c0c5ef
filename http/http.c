/* The HTTP server: libmicrohttpd's daemon, the route table, GET only, JSON errors. */
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "http/http.h"

struct http_server {
	struct MHD_Daemon *daemon;
	struct http_route *routes;
	size_t n_routes;
	size_t max_url;
	uint16_t port;
};

const char *http_strerror(int err)
{
	switch (err) {
#define HTTP_ERR_TEXT(name, code, text) \
	case code:                      \
		return text;
		HTTP_ERR_MAP(HTTP_ERR_TEXT)
#undef HTTP_ERR_TEXT
	default:
		return err > 0 ? strerror(err) : "unknown HTTP error";
	}
}

void http_config_init(struct http_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->max_connections = 1024;
	cfg->connection_memory = 16 * 1024;
	cfg->timeout_s = 10;
	cfg->max_url = 2048;
	cfg->threads = 2;
}

static void set_err(char *errbuf, size_t errbuf_len, const char *fmt, ...)
{
	if (!errbuf || !errbuf_len)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errbuf, errbuf_len, fmt, ap);
	va_end(ap);
}

int http_reply_owned(struct http_response *resp, int status, const char *content_type, char *body, size_t len)
{
	free(resp->body);
	resp->status = status;
	resp->content_type = content_type;
	resp->body = body;
	resp->len = len;
	return HTTP_OK;
}

int http_reply_text(struct http_response *resp, int status, const char *content_type, const char *text)
{
	size_t len = strlen(text);
	char *body = malloc(len + 1);
	if (!body) {
		http_reply_owned(resp, 500, NULL, NULL, 0);
		return HTTP_NOMEM;
	}
	memcpy(body, text, len + 1);
	return http_reply_owned(resp, status, content_type, body, len);
}

int http_reply_json(struct http_response *resp, int status, struct cJSON *json)
{
	char *body = json ? cJSON_PrintUnformatted(json) : NULL;
	cJSON_Delete(json);
	if (!body) {
		http_reply_owned(resp, 500, NULL, NULL, 0);
		return HTTP_NOMEM;
	}
	return http_reply_owned(resp, status, "application/json", body, strlen(body));
}

int http_reply_error(struct http_response *resp, int status, const char *message)
{
	cJSON *o = cJSON_CreateObject();
	if (!o || !cJSON_AddStringToObject(o, "error", message) || !cJSON_AddNumberToObject(o, "status", status)) {
		cJSON_Delete(o);
		http_reply_owned(resp, 500, NULL, NULL, 0);
		return HTTP_NOMEM;
	}
	return http_reply_json(resp, status, o);
}

const struct http_route *http_route_match(const struct http_route *routes, size_t n_routes, const char *path,
					  const char **rest_out)
{
	for (size_t i = 0; i < n_routes; i++) {
		const char *p = routes[i].path;
		size_t n = strlen(p);
		if (strcmp(path, p) == 0 || (n > 0 && p[n - 1] == '/' && strncmp(path, p, n) == 0)) {
			*rest_out = path + n;
			return &routes[i];
		}
	}
	return NULL;
}

int http_parse_id(const char *text, size_t len, uint64_t max, uint64_t *id_out)
{
	uint64_t v = 0;
	if (len == 0 || text[0] == '0' || len > 20)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (text[i] < '0' || text[i] > '9' || v > (max - (uint64_t)(text[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(text[i] - '0');
	}
	*id_out = v;
	return 0;
}

/* Queues resp (taking its body) on the connection; a response that cannot be built closes it. */
static enum MHD_Result send_response(struct MHD_Connection *conn, struct http_response *resp, int allow_get)
{
	static const char fallback[] = "{\"error\":\"internal error\",\"status\":500}";
	struct MHD_Response *r = NULL;
	if (resp->status != 0 && (resp->body || resp->len == 0))
		r = MHD_create_response_from_buffer(resp->len, resp->body ? resp->body : (void *)"",
						    resp->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (r) {
		resp->body = NULL; /* MHD frees it now */
	} else {
		free(resp->body);
		resp->body = NULL;
		resp->status = 500;
		resp->content_type = NULL;
		r = MHD_create_response_from_buffer(sizeof fallback - 1, (void *)fallback, MHD_RESPMEM_PERSISTENT);
		if (!r)
			return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				resp->content_type ? resp->content_type : "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (allow_get)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET");
	enum MHD_Result ok = MHD_queue_response(conn, (unsigned)resp->status, r);
	MHD_destroy_response(r);
	return ok;
}

/*
 * libmicrohttpd's access handler: called once per request here (the first call, before any
 * upload), since a GET has no body and every other method is refused at once.
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **req_cls)
{
	struct http_server *srv = cls;
	struct http_response resp = { 0 };
	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)req_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0) {
		http_reply_error(&resp, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET is served");
		return send_response(conn, &resp, 1);
	}
	const char *rest;
	const struct http_route *route;
	if (strlen(url) > srv->max_url)
		http_reply_error(&resp, MHD_HTTP_URI_TOO_LONG, "the URL is too long");
	else if (url[0] != '/')
		http_reply_error(&resp, MHD_HTTP_BAD_REQUEST, "the request target is not a path");
	else if (!(route = http_route_match(srv->routes, srv->n_routes, url, &rest)))
		http_reply_error(&resp, MHD_HTTP_NOT_FOUND, "no such path");
	else
		route->fn(route->ctx, url, rest, &resp);
	return send_response(conn, &resp, 0);
}

/* HOST:PORT, [V6]:PORT or PORT into a socket address. */
static int parse_addr(const char *addr, struct sockaddr_storage *sa, char *errbuf, size_t errbuf_len)
{
	char host[256] = "127.0.0.1";
	const char *port = addr;
	const char *colon = strrchr(addr, ':');
	if (colon) {
		const char *h = addr;
		size_t n = (size_t)(colon - addr);
		if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
			h++;
			n -= 2;
		}
		if (n >= sizeof host)
			goto bad;
		if (n > 0) {
			memcpy(host, h, n);
			host[n] = '\0';
		}
		port = colon + 1;
	}
	char *end;
	errno = 0;
	unsigned long p = strtoul(port, &end, 10);
	if (!*port || *end || errno || p > 65535)
		goto bad;
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0 || !res) {
		set_err(errbuf, errbuf_len, "%s: %s", addr, rc ? gai_strerror(rc) : "no address");
		if (res)
			freeaddrinfo(res);
		return HTTP_ADDR;
	}
	memcpy(sa, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return HTTP_OK;
bad:
	set_err(errbuf, errbuf_len, "'%s' is not HOST:PORT", addr);
	return HTTP_ADDR;
}

int http_start(const struct http_config *cfg, const struct http_route *routes, size_t n_routes,
	       struct http_server **srv_out, char *errbuf, size_t errbuf_len)
{
	int rc = HTTP_INVAL;
	struct http_server *srv = NULL;
	*srv_out = NULL;
	if (!cfg->addr || !routes || !n_routes) {
		set_err(errbuf, errbuf_len, "an address and at least one route are needed");
		goto error;
	}
	for (size_t i = 0; i < n_routes; i++)
		if (!routes[i].path || routes[i].path[0] != '/' || !routes[i].fn) {
			set_err(errbuf, errbuf_len, "route %zu: a path starting with '/' and a handler are needed", i);
			goto error;
		}
	struct sockaddr_storage sa;
	if ((rc = parse_addr(cfg->addr, &sa, errbuf, errbuf_len)) != HTTP_OK)
		goto error;
	rc = HTTP_NOMEM;
	if (!(srv = calloc(1, sizeof *srv)) || !(srv->routes = malloc(n_routes * sizeof *routes))) {
		set_err(errbuf, errbuf_len, "out of memory");
		goto error;
	}
	memcpy(srv->routes, routes, n_routes * sizeof *routes);
	srv->n_routes = n_routes;
	srv->max_url = cfg->max_url;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
	if (sa.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	unsigned threads = cfg->threads ? cfg->threads : 1;
	struct MHD_OptionItem options[] = {
		{ MHD_OPTION_SOCK_ADDR, 0, &sa },
		{ MHD_OPTION_CONNECTION_LIMIT, (intptr_t)cfg->max_connections, NULL },
		{ MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)cfg->connection_memory, NULL },
		{ MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)cfg->timeout_s, NULL },
		{ MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)threads, NULL },
		{ MHD_OPTION_END, 0, NULL },
	};
	if (threads == 1)
		options[4].option = MHD_OPTION_END;
	srv->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_ARRAY, options,
				       MHD_OPTION_END);
	if (!srv->daemon) {
		rc = HTTP_START;
		set_err(errbuf, errbuf_len, "cannot listen on %s (in use, or not a local address?)", cfg->addr);
		goto error;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = info ? info->port : 0;
	*srv_out = srv;
	return HTTP_OK;
error:
	http_stop(srv);
	return rc;
}

uint16_t http_port(const struct http_server *srv)
{
	return srv->port;
}

void http_stop(struct http_server *srv)
{
	if (!srv)
		return;
	if (srv->daemon)
		MHD_stop_daemon(srv->daemon);
	free(srv->routes);
	free(srv);
}
