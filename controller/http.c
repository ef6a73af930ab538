/*
 * The HTTPS listener and router. TLS is terminated by bufferevent_openssl per connection; evhttp
 * parses requests with caps on header and body size. Routes: /api/v1/<op> (JSON binding),
 * GET /api/v1/ (the operation table described as JSON, api_describe.c),
 * /healthz, and the portal's static files under www_dir.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api_describe.h"
#include "api_json.h"
#include "console.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "server.h"
#include "tls.h"
#include "soap_http.h"
#include "stats_graph.h"

#define HEADERS_MAX	     (16 * 1024)
#define HTTP_TIMEOUT_SECONDS 60

/* Replies up to this size leave in one TLS record (see coalesce()). */
#define COALESCE_MAX (16 * 1024)

/*
 * bufferevent_openssl calls SSL_write once per chain of its output buffer, and evhttp adds a
 * reply's headers and its body as separate chains: two TLS records, two write(2)s, and the
 * client wakes twice per reply. The records are written later, when the loop finds the socket
 * writable; until then a small reply is made one chain here, so it leaves as one record. Only
 * HTTP replies (the pending output starts with the status line): a connection taken over by the
 * console's WebSocket (console_ws.c) keeps its frames as they are.
 */
static void
coalesce(struct evbuffer *out, const struct evbuffer_cb_info *info, void *arg)
{
	size_t len = evbuffer_get_length(out);
	char head[7];

	if (info->n_added > 0 && len > info->n_added && len <= COALESCE_MAX &&
	    evbuffer_copyout(out, head, sizeof(head)) == (ev_ssize_t)sizeof(head) &&
	    memcmp(head, "HTTP/1.", sizeof(head)) == 0)
		evbuffer_pullup(out, -1);
}

static struct bufferevent *
make_tls_bufferevent(struct event_base *base, void *arg)
{
	struct server *srv = arg;
	SSL *ssl = SSL_new(srv->tls);
	struct bufferevent *bev;

	if (ssl == NULL)
		return NULL;
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
					     BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev != NULL)
		evbuffer_add_cb(bufferevent_get_output(bev), coalesce, NULL);
	return bev;
}

void
http_add_security_headers(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Strict-Transport-Security", "max-age=31536000");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "Content-Security-Policy",
			  "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
}

static void
send_text(struct evhttp_request *req, int code, const char *reason, const char *type,
	  const char *body)
{
	struct evbuffer *out = evbuffer_new();

	http_add_security_headers(req);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
	evbuffer_add(out, body, strlen(body));
	evhttp_send_reply(req, code, reason, out);
	evbuffer_free(out);
}

static void
handle_healthz(struct server *srv, struct evhttp_request *req)
{
	if (db_is_up(srv->db))
		send_text(req, 200, "OK", "application/json", "{\"ok\":true,\"db\":\"up\"}\n");
	else
		send_text(req, 503, "Service Unavailable", "application/json",
			  "{\"ok\":false,\"db\":\"down\",\"error\":{\"code\":\"unavailable\","
			  "\"message\":\"the database is unavailable\"}}\n");
}

static const char *
content_type(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{".html", "text/html; charset=utf-8"},
		{".css", "text/css; charset=utf-8"},
		{".js", "text/javascript; charset=utf-8"},
		{".json", "application/json"},
		{".png", "image/png"},
		{".svg", "image/svg+xml"},
		{".ico", "image/x-icon"},
		{".txt", "text/plain; charset=utf-8"},
	};
	const char *dot = strrchr(path, '.');

	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

/* Only plain relative names: no "..", no hidden files, a conservative character set. */
static bool
static_path_ok(const char *p)
{
	if (*p == '\0' || strlen(p) > 200)
		return false;
	for (const char *s = p; *s; s++) {
		char ch = *s;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '/' || ch == '.' || ch == '-' || ch == '_'))
			return false;
		if (ch == '.' && (s == p || s[-1] == '/'))
			return false;
	}
	return true;
}

static void handle_static_in(struct server *srv, struct evhttp_request *req, const char *root,
			     const char *path);

static void
handle_static(struct server *srv, struct evhttp_request *req, const char *path)
{
	handle_static_in(srv, req, srv->settings.www_dir, path);
}

/* A file under root (www_dir, or novnc_dir for /novnc/). */
static void
handle_static_in(struct server *srv, struct evhttp_request *req, const char *root, const char *path)
{
	char file[1024];
	struct stat st;
	int fd;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
	    evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		send_text(req, 405, "Method Not Allowed", "text/plain", "method not allowed\n");
		return;
	}
	if (strcmp(path, "/") == 0)
		path = "/index.html";
	if (!static_path_ok(path + 1)) {
		send_text(req, 404, "Not Found", "text/plain", "not found\n");
		return;
	}
	snprintf(file, sizeof(file), "%s%s", root, path);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		send_text(req, 404, "Not Found", "text/plain", "not found\n");
		return;
	}
	struct evbuffer *out = evbuffer_new();
	http_add_security_headers(req);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  content_type(file));
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-cache");
	if (st.st_size > 0)
		evbuffer_add_file(out, fd, 0, st.st_size); /* takes the fd */
	else
		close(fd); /* evbuffer cannot map an empty file */
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
}

static void
route(struct evhttp_request *req, void *arg)
{
	struct server *srv = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;

	if (path == NULL) {
		send_text(req, 400, "Bad Request", "text/plain", "bad request\n");
		return;
	}
	if (srv->draining) {
		send_text(req, 503, "Service Unavailable", "application/json",
			  "{\"ok\":false,\"error\":{\"code\":\"unavailable\",\"message\":"
			  "\"the controller is shutting down\"}}\n");
		return;
	}
	if (strcmp(path, "/api/v1/") == 0) {
		api_describe_handle(req);
		return;
	}
	if (strncmp(path, "/api/v1/", 8) == 0) {
		api_json_handle(srv, req, path + 8);
		return;
	}
	if (strncmp(path, "/stats/", 7) == 0) {
		stats_graph_handle(srv, req, path + 7);
		return;
	}
	if (strcmp(path, "/soap") == 0) {
		soap_http_handle(srv, req);
		return;
	}
	if (strcmp(path, "/healthz") == 0) {
		handle_healthz(srv, req);
		return;
	}
	if (strcmp(path, "/console/ws") == 0) {
		console_ws_handle(srv, req);
		return;
	}
	if (strncmp(path, "/console/", 9) == 0) { /* /console/<vserver id>: the console page */
		handle_static(srv, req, "/console.html");
		return;
	}
	if (strncmp(path, "/novnc/", 7) == 0) { /* noVNC from Debian's novnc package */
		handle_static_in(srv, req, srv->settings.novnc_dir, path + 6);
		return;
	}
	handle_static(srv, req, path);
}

bool
http_start(struct server *srv)
{
	char host[256];
	int port;

	if (!config_parse_hostport(srv->settings.listen, host, sizeof(host), &port))
		return false;
	srv->http = evhttp_new(srv->base);
	if (srv->http == NULL)
		return false;
	/* Browsers (portal, console) and API clients: AES-128-GCM first (common/tls.h). */
	if (!tls_ctx_prefer_aes128(srv->tls))
		log_warn("TLS: cannot prefer AES-128-GCM; OpenSSL's default TLS 1.3 order stays");
	evhttp_set_bevcb(srv->http, make_tls_bufferevent, srv);
	evhttp_set_gencb(srv->http, route, srv);
	evhttp_set_max_headers_size(srv->http, HEADERS_MAX);
	/*
	 * evhttp refuses bodies over its own limit with an HTML page; keep it well above ours so
	 * that over-large API bodies get our JSON error, while still capping memory.
	 */
	evhttp_set_max_body_size(srv->http, (ev_ssize_t)srv->settings.max_body_bytes * 4);
	evhttp_set_timeout(srv->http, HTTP_TIMEOUT_SECONDS);
	evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
						      EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
	srv->listener = evhttp_bind_socket_with_handle(srv->http, host, (ev_uint16_t)port);
	if (srv->listener == NULL) {
		log_error("cannot listen on %s: %s", srv->settings.listen, strerror(errno));
		return false;
	}
	/*
	 * evhttp writes a reply's headers and body as separate TLS records: with Nagle the body
	 * waits for the client's delayed ACK of the headers (40 ms per keep-alive request).
	 * Accepted sockets inherit TCP_NODELAY from the listener on Linux.
	 */
	int one = 1;
	if (setsockopt(evhttp_bound_socket_get_fd(srv->listener), IPPROTO_TCP, TCP_NODELAY, &one,
		       sizeof(one)) != 0)
		log_warn("TCP_NODELAY on %s: %s", srv->settings.listen, strerror(errno));
	log_info("listening on https://%s", srv->settings.listen);
	return true;
}

void
http_stop_listening(struct server *srv)
{
	if (srv->listener != NULL) {
		evhttp_del_accept_socket(srv->http, srv->listener);
		srv->listener = NULL;
	}
}

void
http_free(struct server *srv)
{
	if (srv->http != NULL)
		evhttp_free(srv->http);
	srv->http = NULL;
}
