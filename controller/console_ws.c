/*
 * The console WebSocket for noVNC: GET /console/ws?vserver=ID&ticket=T on the HTTPS listener.
 *
 * The upgrade is checked before anything else (RFC 6455 headers, and the Origin must be the
 * portal's own, so another site cannot drive a logged-in browser's console); then the ticket is
 * redeemed for exactly that vServer, and when the request carries a session cookie, that session
 * must belong to the ticket's user. A refused ticket answers 403 with our JSON error, before any
 * upgrade. On success webrackd takes the connection over from evhttp (libevent 2.1 has no
 * upgrade API: the connection's bufferevent gets our callbacks and evhttp_connection_free()
 * ends it), answers 101 and speaks WebSocket through libwslay, binary messages only.
 *
 * Toward the browser the proxy completes RFB itself: version 3.8, security type None (the
 * WebSocket is inside TLS and the ticket was the credential), SecurityResult, ClientInit, and then
 * QEMU's ServerInit; after that every RFB byte is relayed in binary messages. A console that is
 * revoked (the vServer stopped or moved) ends with a WebSocket close frame, code 4000, whose
 * reason says why.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <wslay/wslay.h>

#include "console.h"
#include "http.h"
#include "log.h"
#include "relay.h"
#include "rfb.h"
#include "secret.h"
#include "server.h"
#include "wsframe.h"

#define WS_MSG_MAX   (1024 * 1024) /* RFB client messages are tiny; 1 MiB is generous */
#define WS_FRAME_MAX (256 * 1024)  /* framebuffer data per binary message, at most */
/* A frame decrypted in place: with its 4-byte header exactly four full TLS records. */
#define WS_DIRECT_MAX  (4 * 16384 - 4)
#define WS_CLOSE_MOVED 4000
#define TICKET_MAX     255

enum wstage {
	W_OPENING,    /* ticket and backend; the HTTP request is still evhttp's */
	W_VERSION,    /* the browser's ProtocolVersion */
	W_SECTYPE,    /* its security type choice (None) */
	W_CLIENTINIT, /* its ClientInit */
	W_RELAY,
	W_CLOSING, /* close frame queued: end when written */
};

/* Owner: itself; freed by ws_free() (also when evhttp closes the connection first). */
struct ws {
	struct server *srv;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	struct bufferevent *bev; /* the browser (evhttp's, taken over) */
	struct bufferevent *backend;
	struct console_open *open;
	wslay_event_context_ptr ctx;
	enum wstage stage;
	struct evbuffer *hs; /* handshake bytes from the browser */
	uint8_t server_init[RFB_SERVERINIT_MIN + RFB_NAME_MAX];
	size_t server_init_len;
	struct console_session session;
	bool registered;
	bool corked; /* TCP_CORK on the browser's socket: a bulk transfer is queued */
	struct event *timer;
	char accept[32];
	char protocol[16];
	char peer[64];
};

static bool ws_flush(struct ws *w);

static void
ws_free(struct ws *w, const char *why)
{
	log_debug("websocket %s: closed: %s", w->peer, why);
	if (w->registered)
		console_session_remove(w->srv, &w->session);
	console_open_cancel(w->open);
	if (w->timer)
		event_free(w->timer);
	if (w->backend)
		bufferevent_free(w->backend);
	if (w->ctx)
		wslay_event_context_free(w->ctx);
	if (w->hs)
		evbuffer_free(w->hs);
	if (w->evcon != NULL && w->stage != W_OPENING) {
		/* Ours since the upgrade: freeing it frees the request and the bufferevent. */
		evhttp_connection_set_closecb(w->evcon, NULL, NULL);
		evhttp_connection_free(w->evcon);
	}
	free(w);
}

/* evhttp closes the connection (the browser left, or webrackd shuts down). */
static void
evcon_closed(struct evhttp_connection *evcon, void *arg)
{
	struct ws *w = arg;

	w->evcon = NULL; /* evhttp is freeing it */
	w->bev = NULL;
	ws_free(w, "connection closed");
}

static void
send_json_error(struct evhttp_request *req, int status, const char *reason, const char *code,
		const char *message)
{
	struct evbuffer *out = evbuffer_new();
	json_t *j = json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", code, "message",
			      message);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

	http_add_security_headers(req);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	/* A refused upgrade ends the connection: it was opened for a WebSocket, nothing else. */
	evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
	if (text != NULL)
		evbuffer_add_printf(out, "%s\n", text);
	evhttp_send_reply(req, status, reason, out);
	evbuffer_free(out);
	free(text);
	json_decref(j);
}

/* ---- wslay glue ---- */

static ssize_t
ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
	struct ws *w = user;
	int n = evbuffer_remove(bufferevent_get_input(w->bev), buf, len);

	if (n <= 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	return n;
}

static ssize_t
ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *user)
{
	struct ws *w = user;

	if (evbuffer_add(bufferevent_get_output(w->bev), data, len) != 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)len;
}

static void
send_binary(struct ws *w, const void *data, size_t len)
{
	struct wslay_event_msg m = {WSLAY_BINARY_FRAME, data, len};

	wslay_event_queue_msg(w->ctx, &m);
}

/*
 * End with a close frame saying why. Inside a wslay callback (on_msg) flush must be false:
 * client_read() flushes once wslay_event_recv() has returned.
 */
static void
ws_close_with(struct ws *w, uint16_t code, const char *reason, bool flush)
{
	if (w->registered) {
		console_session_remove(w->srv, &w->session);
		w->registered = false;
	}
	if (w->backend) {
		bufferevent_free(w->backend);
		w->backend = NULL;
	}
	w->stage = W_CLOSING;
	if (w->corked) {
		relay_cork(w->bev, false); /* the close frame goes out at once */
		w->corked = false;
	}
	wslay_event_queue_close(w->ctx, code, (const uint8_t *)reason,
				strlen(reason) > 120 ? 120 : strlen(reason));
	if (flush)
		ws_flush(w);
}

static void
session_close(struct console_session *s, const char *reason)
{
	struct ws *w = (struct ws *)((char *)s - offsetof(struct ws, session));

	ws_close_with(w, WS_CLOSE_MOVED, reason, true);
}

/*
 * bufferevent_openssl decrypts one or two TLS records per read event (its SSL_read calls end with
 * the space it reserved); the rest of what the node sent would wait for the next turn of the
 * loop, one 16 KiB record per turn. So read on here, straight from the backend's SSL into frames
 * in the browser's output (decrypted in place: no copy), until the socket has nothing more, the
 * output is full or RELAY_SINGLE_IO moved (then at the end of a record: a record's rest in the SSL
 * would wait for no socket event; when the output is full, client_write() drains it). A close or
 * error from the node ends the console as backend_event() does. False when the WebSocket was
 * closed.
 */
static bool
backend_drain(struct ws *w)
{
	SSL *ssl = bufferevent_openssl_get_ssl(w->backend);
	struct evbuffer *out = bufferevent_get_output(w->bev);
	struct evbuffer_iovec v;
	int err = SSL_ERROR_NONE;

	if (ssl == NULL)
		return true;
	ERR_clear_error();
	/* At most RELAY_SINGLE_IO per turn: the loop writes in between, the hops overlap. */
	for (size_t moved = 0; err == SSL_ERROR_NONE &&
			       (moved < RELAY_SINGLE_IO || SSL_pending(ssl) > 0) &&
			       evbuffer_get_length(out) < RELAY_HIGH;) {
		if (evbuffer_reserve_space(out, 4 + WS_DIRECT_MAX, &v, 1) != 1) {
			ws_free(w, "out of memory");
			return false;
		}
		uint8_t *frame = v.iov_base, h[WSFRAME_HEADER_MAX];
		size_t got = 0;
		while (got < WS_DIRECT_MAX) {
			int n = SSL_read(ssl, frame + 4 + got, (int)(WS_DIRECT_MAX - got));
			if (n <= 0) {
				err = SSL_get_error(ssl, n);
				break;
			}
			got += (size_t)n;
		}
		if (got == 0)
			break;
		size_t hl = wsframe_header(h, WSFRAME_BINARY, got);
		if (hl != 4)
			memmove(frame + hl, frame + 4, got); /* a short one: 2-byte header */
		memcpy(frame, h, hl);
		v.iov_len = hl + got;
		evbuffer_commit_space(out, &v, 1);
		moved += got;
	}
	if (err != SSL_ERROR_NONE && err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
		ERR_clear_error();
		ws_close_with(w, WS_CLOSE_MOVED, "the console ended: the vServer stopped or moved",
			      true);
		return false;
	}
	return true;
}

/* Frame what the backend bufferevent read, drain its SSL, pause it when the browser is slow. */
static void
backend_pump(struct ws *w)
{
	struct bufferevent *bev = w->backend;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer *out = bufferevent_get_output(w->bev);
	size_t len;

	while ((len = evbuffer_get_length(in)) > 0) {
		if (wsframe_add_binary(out, in, len > WS_FRAME_MAX ? WS_FRAME_MAX : len) != 0) {
			ws_free(w, "out of memory");
			return;
		}
	}
	if (!backend_drain(w))
		return;
	if (!w->corked && evbuffer_get_length(out) >= RELAY_CORK_AT) {
		relay_cork(w->bev, true);
		w->corked = true;
	}
	if (evbuffer_get_length(out) >= RELAY_HIGH) {
		/* The browser is slow: pause QEMU's side until its output drains to half. */
		bufferevent_disable(bev, EV_READ);
		bufferevent_setwatermark(w->bev, EV_WRITE, RELAY_HIGH / 2, 0);
	}
}

/*
 * QEMU's bytes to the browser. Whatever wslay has queued (a pong) goes first and wslay never
 * keeps half a frame (ws_send_cb takes everything), so frames written here directly
 * (wsframe.c: no per-message allocation and copy as with wslay_event_queue_msg) never interleave
 * with one of wslay's.
 */
static void
backend_read(struct bufferevent *bev, void *arg)
{
	struct ws *w = arg;

	if (!ws_flush(w))
		return;
	backend_pump(w);
}

static void
backend_event(struct bufferevent *bev, short what, void *arg)
{
	struct ws *w = arg;

	ws_close_with(w, WS_CLOSE_MOVED, "the console ended: the vServer stopped or moved", true);
}

/* One RFB handshake step with the browser; false when the stage needs more bytes. */
static bool
handshake_step(struct ws *w)
{
	static const uint8_t none[] = {RFB_SEC_NONE};
	static const uint8_t client_init[] = {0, 1};
	static const uint8_t ok[4] = {0, 0, 0, 0};
	size_t len = evbuffer_get_length(w->hs), used = 0;
	char why[RFB_REASON_MAX + 64];
	uint8_t c8;
	int st;

	if (len > RFB_HANDSHAKE_MAX)
		len = RFB_HANDSHAKE_MAX;
	const uint8_t *p = len ? evbuffer_pullup(w->hs, (ev_ssize_t)len) : NULL;
	switch (w->stage) {
	case W_VERSION:
		st = rfb_parse_version(p, len, &used, why, sizeof(why));
		if (st == RFB_DONE) {
			send_binary(w, "\001\001", 2);
			w->stage = W_SECTYPE;
		}
		break;
	case W_SECTYPE:
		st = rfb_parse_u8_choice(p, len, none, 1, &c8, &used, why, sizeof(why));
		if (st == RFB_DONE) {
			send_binary(w, ok, 4);
			w->stage = W_CLIENTINIT;
		}
		break;
	case W_CLIENTINIT:
		st = rfb_parse_u8_choice(p, len, client_init, 2, &c8, &used, why, sizeof(why));
		if (st == RFB_DONE) {
			send_binary(w, w->server_init, w->server_init_len);
			evbuffer_drain(w->hs, used);
			w->stage = W_RELAY;
			event_del(w->timer);
			/* Whatever the browser sent after ClientInit is RFB for QEMU. */
			bufferevent_write_buffer(w->backend, w->hs);
			bufferevent_enable(w->backend, EV_READ);
			log_info("websocket %s: console of vServer %lld open", w->peer,
				 (long long)w->session.vserver_id);
			return false;
		}
		break;
	default:
		return false;
	}
	if (st == RFB_ERROR) {
		ws_close_with(w, WSLAY_CODE_PROTOCOL_ERROR, why, false);
		return false;
	}
	if (st == RFB_MORE)
		return false;
	evbuffer_drain(w->hs, used);
	return true;
}

static void
on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *m, void *user)
{
	struct ws *w = user;

	if (wslay_is_ctrl_frame(m->opcode))
		return; /* wslay answers pings and closes itself */
	if (m->opcode != WSLAY_BINARY_FRAME) {
		ws_close_with(w, WSLAY_CODE_UNSUPPORTED_DATA, "binary messages only", false);
		return;
	}
	if (w->stage == W_RELAY) {
		bufferevent_write(w->backend, m->msg, m->msg_length);
		return;
	}
	if (w->stage == W_CLOSING)
		return;
	if (evbuffer_get_length(w->hs) + m->msg_length > RFB_HANDSHAKE_MAX) {
		ws_close_with(w, WSLAY_CODE_PROTOCOL_ERROR, "handshake too long", false);
		return;
	}
	evbuffer_add(w->hs, m->msg, m->msg_length);
	while (handshake_step(w))
		;
}

/*
 * Send what wslay has queued; end the connection when the WebSocket is finished. False when w
 * was freed.
 */
static bool
ws_flush(struct ws *w)
{
	if (wslay_event_send(w->ctx) != 0) {
		ws_free(w, "cannot send");
		return false;
	}
	if (!wslay_event_want_read(w->ctx) && !wslay_event_want_write(w->ctx) &&
	    evbuffer_get_length(bufferevent_get_output(w->bev)) == 0) {
		ws_free(w, "closed");
		return false;
	}
	return true;
}

static void
client_read(struct bufferevent *bev, void *arg)
{
	struct ws *w = arg;

	if (wslay_event_recv(w->ctx) != 0) {
		ws_free(w, "WebSocket protocol error");
		return;
	}
	ws_flush(w);
}

static void
client_write(struct bufferevent *bev, void *arg)
{
	struct ws *w = arg;

	if (w->corked) {
		relay_cork(bev, false); /* the output drained: the cork's rest goes now */
		w->corked = false;
	}
	if (w->stage == W_CLOSING ||
	    (!wslay_event_want_read(w->ctx) && !wslay_event_want_write(w->ctx))) {
		ws_flush(w);
		return;
	}
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	if (w->backend != NULL && w->stage == W_RELAY) {
		SSL *ssl = bufferevent_openssl_get_ssl(w->backend);
		bufferevent_enable(w->backend, EV_READ);
		/* What a paused drain left inside the SSL: no socket event would fetch it. */
		if (ssl != NULL && SSL_pending(ssl) > 0)
			backend_pump(w);
	}
}

static void
client_event(struct bufferevent *bev, short what, void *arg)
{
	ws_free(arg, "connection closed by the browser");
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct ws *w = arg;

	if (w->stage == W_OPENING) {
		/* The request is still evhttp's: answer it, then forget it. */
		send_json_error(w->req, 503, "Service Unavailable", "timeout",
				"the console did not open in time");
		evhttp_connection_set_closecb(w->evcon, NULL, NULL);
		w->evcon = NULL;
	}
	ws_free(w, "handshake not completed in time");
}

/* Take the connection over from evhttp and answer 101. */
static void
upgrade(struct ws *w)
{
	static const struct wslay_event_callbacks cbs = {ws_recv_cb, ws_send_cb, NULL,	NULL,
							 NULL,	     NULL,	 on_msg};
	struct evbuffer *out;

	w->bev = evhttp_connection_get_bufferevent(w->evcon);
	if (wslay_event_context_server_init(&w->ctx, &cbs, w) != 0 ||
	    (w->hs = evbuffer_new()) == NULL) {
		send_json_error(w->req, 500, "Internal Server Error", "internal", "out of memory");
		w->evcon = NULL;
		ws_free(w, "out of memory");
		return;
	}
	wslay_event_config_set_max_recv_msg_length(w->ctx, WS_MSG_MAX);
	w->stage = W_VERSION;
	out = bufferevent_get_output(w->bev);
	evbuffer_add_printf(out,
			    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			    "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
			    w->accept, w->protocol[0] ? "Sec-WebSocket-Protocol: " : "",
			    w->protocol, w->protocol[0] ? "\r\n" : "");
	bufferevent_setcb(w->bev, client_read, client_write, client_event, w);
	bufferevent_set_timeouts(w->bev, NULL, NULL);
	relay_tune(w->bev);
	relay_tune(w->backend);
	bufferevent_setwatermark(w->bev, EV_WRITE, 0, 0);
	bufferevent_enable(w->bev, EV_READ | EV_WRITE);
	bufferevent_setcb(w->backend, backend_read, NULL, backend_event, w);
	bufferevent_disable(w->backend, EV_READ); /* until the browser sent ClientInit */
	send_binary(w, "RFB 003.008\n", RFB_VERSION_LEN);
	if (!ws_flush(w))
		return;
	if (evbuffer_get_length(bufferevent_get_input(w->bev)) > 0)
		client_read(w->bev, w);
}

static void
opened(void *arg, const struct console_backend *b, const char *code, const char *message)
{
	struct ws *w = arg;

	w->open = NULL;
	if (b == NULL) {
		bool denied = strcmp(code, "denied") == 0;
		send_json_error(w->req, denied ? 403 : 503,
				denied ? "Forbidden" : "Service Unavailable", code, message);
		evhttp_connection_set_closecb(w->evcon, NULL, NULL);
		w->evcon = NULL;
		ws_free(w, message);
		return;
	}
	w->backend = b->bev;
	memcpy(w->server_init, b->server_init, b->server_init_len);
	w->server_init_len = b->server_init_len;
	w->session.vserver_id = b->vserver_id;
	w->session.close = session_close;
	console_session_add(w->srv, &w->session);
	w->registered = true;
	upgrade(w);
}

/* Whether header list h contains token (case-insensitive, comma-separated). */
static bool
header_has_token(const char *h, const char *token)
{
	size_t n = strlen(token);

	for (const char *p = h; p != NULL && *p != '\0';) {
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		if (strncasecmp(p, token, n) == 0 &&
		    (p[n] == '\0' || p[n] == ',' || p[n] == ' ' || p[n] == '\t'))
			return true;
		p = strchr(p, ',');
	}
	return false;
}

/* The value of cookie name in a Cookie header, into out; false when absent. */
static bool
cookie_value(const char *header, const char *name, char *out, size_t len)
{
	size_t n = strlen(name);

	for (const char *p = header; p != NULL && *p != '\0';) {
		while (*p == ' ' || *p == ';')
			p++;
		if (strncmp(p, name, n) == 0 && p[n] == '=') {
			size_t v = strcspn(p + n + 1, "; ");
			if (v + 1 > len)
				return false;
			memcpy(out, p + n + 1, v);
			out[v] = '\0';
			return true;
		}
		p = strchr(p, ';');
	}
	return false;
}

static bool
accept_key(const char *key, char *out, size_t outlen)
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	unsigned char digest[20];
	char buf[128];
	unsigned int n = 0;

	if (strlen(key) != 24)
		return false;
	snprintf(buf, sizeof(buf), "%s%s", key, guid);
	if (EVP_Digest(buf, strlen(buf), digest, &n, EVP_sha1(), NULL) != 1)
		return false;
	char *b64 = secret_base64(digest, n);
	if (b64 == NULL || strlen(b64) + 1 > outlen) {
		free(b64);
		return false;
	}
	snprintf(out, outlen, "%s", b64);
	free(b64);
	return true;
}

/* The Origin a page of this portal sends: public_url, or https:// + the Host it asked for. */
static bool
origin_ok(struct server *srv, const char *origin, const char *host)
{
	char want[512];

	if (origin == NULL)
		return false;
	if (srv->settings.public_url != NULL)
		snprintf(want, sizeof(want), "%s", srv->settings.public_url);
	else if (host != NULL)
		snprintf(want, sizeof(want), "https://%s", host);
	else
		return false;
	return strcasecmp(origin, want) == 0;
}

void
console_ws_handle(struct server *srv, struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	const char *upgrade_h = evhttp_find_header(h, "Upgrade");
	const char *conn_h = evhttp_find_header(h, "Connection");
	const char *version = evhttp_find_header(h, "Sec-WebSocket-Version");
	const char *key = evhttp_find_header(h, "Sec-WebSocket-Key");
	const char *protos = evhttp_find_header(h, "Sec-WebSocket-Protocol");
	const char *cookies = evhttp_find_header(h, "Cookie");
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	struct evkeyvalq q;
	char session[128];
	char *peer_host = NULL;
	ev_uint16_t peer_port = 0;

	if (srv->console == NULL) {
		send_json_error(req, 404, "Not Found", "not_found", "the console is not set up");
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET || upgrade_h == NULL ||
	    strcasecmp(upgrade_h, "websocket") != 0 || conn_h == NULL ||
	    !header_has_token(conn_h, "upgrade") || version == NULL || strcmp(version, "13") != 0 ||
	    key == NULL) {
		send_json_error(req, 400, "Bad Request", "invalid",
				"a WebSocket upgrade (version 13) is required");
		return;
	}
	if (!origin_ok(srv, evhttp_find_header(h, "Origin"), evhttp_find_header(h, "Host"))) {
		send_json_error(req, 403, "Forbidden", "denied",
				"cross-origin console WebSocket refused");
		return;
	}
	struct ws *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		send_json_error(req, 500, "Internal Server Error", "internal", "out of memory");
		return;
	}
	w->srv = srv;
	w->req = req;
	w->evcon = evhttp_request_get_connection(req);
	w->stage = W_OPENING;
	if (!accept_key(key, w->accept, sizeof(w->accept))) {
		free(w);
		send_json_error(req, 400, "Bad Request", "invalid", "bad Sec-WebSocket-Key");
		return;
	}
	if (protos != NULL && header_has_token(protos, "binary"))
		snprintf(w->protocol, sizeof(w->protocol), "binary");
	TAILQ_INIT(&q);
	if (query == NULL || evhttp_parse_query_str(query, &q) != 0) {
		free(w);
		send_json_error(req, 400, "Bad Request", "invalid", "vserver and ticket required");
		return;
	}
	const char *vs = evhttp_find_header(&q, "vserver");
	const char *ticket = evhttp_find_header(&q, "ticket");
	char *end = NULL;
	long long vid = vs ? strtoll(vs, &end, 10) : 0;
	if (vs == NULL || *end != '\0' || vid <= 0 || ticket == NULL ||
	    strlen(ticket) > TICKET_MAX) {
		evhttp_clear_headers(&q);
		free(w);
		send_json_error(req, 400, "Bad Request", "invalid",
				"vserver (an id) and ticket are required");
		return;
	}
	evhttp_connection_get_peer(w->evcon, &peer_host, &peer_port);
	snprintf(w->peer, sizeof(w->peer), "%s:%u", peer_host ? peer_host : "?", peer_port);
	w->timer = evtimer_new(srv->base, on_timeout, w);
	bool has_session =
		cookies != NULL && cookie_value(cookies, "wr_session", session, sizeof(session));
	evhttp_connection_set_closecb(w->evcon, evcon_closed, w);
	struct timeval tv = {CONSOLE_OPEN_SECONDS + CONSOLE_HANDSHAKE_SECONDS, 0};
	if (w->timer != NULL)
		evtimer_add(w->timer, &tv);
	w->open = console_open(srv, ticket, vid, has_session ? session : NULL,
			       peer_host ? peer_host : "?", "websocket", opened, w);
	evhttp_clear_headers(&q);
	if (w->open == NULL || w->timer == NULL) {
		send_json_error(req, 500, "Internal Server Error", "internal", "out of memory");
		evhttp_connection_set_closecb(w->evcon, NULL, NULL);
		w->evcon = NULL;
		ws_free(w, "out of memory");
	}
}
