/* serve's dashboard: the page at / and the charting library it loads (Chart.js, vendored under
 * tools/dashboard/vendor), both compiled into the binary from tools/dashboard at build time. */
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "tools/segstream/cli.h"

/* tools/dashboard/embed.cmake generates these. */
extern const unsigned char cli_dashboard_index_html[], cli_dashboard_chart_js[];
extern const size_t cli_dashboard_index_html_len, cli_dashboard_chart_js_len;

static void reply_copy(struct http_response *resp, const char *type, const unsigned char *data, size_t len)
{
	char *body = malloc(len ? len : 1);
	if (!body) {
		http_reply_error(resp, 500, "out of memory");
		return;
	}
	memcpy(body, data, len);
	http_reply_owned(resp, 200, type, body, len);
}

void cli_dashboard_page(void *ctx, const char *path, const char *rest, struct http_response *resp)
{
	(void)ctx, (void)path;
	if (rest[0]) { /* "/" is a prefix route: every path no other route took */
		http_reply_error(resp, 404, "no such path");
		return;
	}
	reply_copy(resp, "text/html; charset=utf-8", cli_dashboard_index_html, cli_dashboard_index_html_len);
}

void cli_dashboard_file(void *ctx, const char *path, const char *rest, struct http_response *resp)
{
	(void)ctx, (void)path;
	if (strcmp(rest, "chart.umd.min.js") == 0)
		reply_copy(resp, "application/javascript", cli_dashboard_chart_js, cli_dashboard_chart_js_len);
	else
		http_reply_error(resp, 404, "no such file (/dashboard/chart.umd.min.js)");
}
