/* libFuzzer target: request-path parsing of the HTTP server without a daemon: the route match
 * (http_route_match) over the routes `serve` and `consume --http` register, then the id parsing
 * of /customers/{id} and /snapshots/{seq}/report (http_parse_id), as their handlers do it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void none(void *ctx, const char *path, const char *rest, struct http_response *resp)
{
	(void)ctx;
	(void)path;
	(void)rest;
	(void)resp;
}

static const struct http_route routes[] = {
	{ "/customers/", none, NULL }, { "/segments", none, NULL }, { "/snapshots/latest", none, NULL },
	{ "/snapshots/", none, NULL }, { "/metrics", none, NULL },  { "/health", none, NULL },
	{ "/ready", none, NULL },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *path = malloc(size + 1);
	if (!path)
		return 0;
	memcpy(path, data, size);
	path[size] = '\0';
	const char *rest;
	const struct http_route *r = http_route_match(routes, sizeof routes / sizeof routes[0], path, &rest);
	uint64_t id;
	if (r && strcmp(r->path, "/customers/") == 0) {
		if (http_parse_id(rest, strlen(rest), UINT32_MAX, &id) == 0 && (id < 1 || id > UINT32_MAX))
			abort();
	} else if (r && strcmp(r->path, "/snapshots/") == 0) {
		const char *slash = strchr(rest, '/');
		if (slash && http_parse_id(rest, (size_t)(slash - rest), UINT64_MAX, &id) == 0 && id < 1)
			abort();
	}
	if (r && (rest < path || rest > path + strlen(path)))
		abort();
	free(path);
	return 0;
}
