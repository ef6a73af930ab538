/*
 * The VeNCrypt listener for native VNC viewers (TigerVNC's vncviewer, Remmina, libvncclient ...).
 * The proxy speaks RFB 3.8 itself: it offers exactly one security type, VeNCrypt (19), version
 * 0.2, subtype X509Plain (262): the viewer switches to TLS (webrackd's HTTPS certificate, TLS 1.2
 * or newer) and sends user name and password in it. The user name is ignored (viewers insist on
 * asking for one; "ticket" is customary), the password is the one-time console ticket. Once the
 * ticket has opened the backend (console.c) the viewer gets SecurityResult OK, sends ClientInit,
 * receives QEMU's ServerInit, and from then on bytes are relayed unchanged both ways.
 *
 * Every viewer that has not completed its handshake within CONSOLE_HANDSHAKE_SECONDS is dropped,
 * and at most CONSOLE_PENDING_MAX may be in their handshake at once, so slow or half-open
 * connections cost a file descriptor and a timer each and never block the loop.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "conffile.h"
#include "console.h"
#include "log.h"
#include "relay.h"
#include "rfb.h"
#include "server.h"

enum vstage {
	V_VERSION,    /* the viewer's ProtocolVersion */
	V_SECTYPE,    /* its choice of security type */
	V_VC_VERSION, /* its VeNCrypt version */
	V_VC_SUBTYPE, /* its VeNCrypt subtype */
	V_TLS_SWITCH, /* our accept byte is being written; TLS starts after it */
	V_PLAIN,      /* user name and password inside TLS */
	V_OPENING,    /* console_open() in flight */
	V_CLIENTINIT, /* the viewer's ClientInit */
	V_RELAY,
	V_CLOSING, /* a failure result is being written */
};

struct console_vnc {
	struct server *srv;
	struct evconnlistener *listener;
	struct vnc_client *clients;
	size_t npending;
};

/* Owner: the listener's list, from accept until vnc_close(). */
struct vnc_client {
	struct vnc_client *next;
	struct console_vnc *v;
	evutil_socket_t fd;
	struct bufferevent *bev; /* plain until V_TLS_SWITCH, then TLS */
	enum vstage stage;
	bool pending; /* counted in v->npending */
	struct event *timer;
	struct console_open *open;
	struct bufferevent *backend;
	uint8_t server_init[RFB_SERVERINIT_MIN + RFB_NAME_MAX];
	size_t server_init_len;
	struct relay *relay;
	struct console_session session;
	bool registered;
	char peer[64];
};

static void client_read(struct bufferevent *bev, void *arg);
static void client_event(struct bufferevent *bev, short what, void *arg);

static void
not_pending(struct vnc_client *k)
{
	if (k->pending) {
		k->pending = false;
		k->v->npending--;
	}
}

static void
vnc_close(struct vnc_client *k, const char *why)
{
	struct console_vnc *v = k->v;

	log_debug("vnc %s: closed: %s", k->peer, why);
	for (struct vnc_client **p = &v->clients; *p != NULL; p = &(*p)->next) {
		if (*p == k) {
			*p = k->next;
			break;
		}
	}
	not_pending(k);
	if (k->registered)
		console_session_remove(v->srv, &k->session);
	console_open_cancel(k->open);
	if (k->timer)
		event_free(k->timer);
	if (k->relay) {
		relay_free(k->relay);
	} else {
		if (k->bev)
			bufferevent_free(k->bev);
		if (k->fd >= 0) /* the plain bufferevent does not close it */
			evutil_closesocket(k->fd);
		if (k->backend)
			bufferevent_free(k->backend);
	}
	free(k);
}

static void
session_close(struct console_session *s, const char *reason)
{
	struct vnc_client *k =
		(struct vnc_client *)((char *)s - offsetof(struct vnc_client, session));

	vnc_close(k, reason);
}

static void
failure_written(struct bufferevent *bev, void *arg)
{
	vnc_close(arg, "refused");
}

/* SecurityResult failed with a reason, then close (RFB 3.8 lets the viewer show the reason). */
static void
refuse(struct vnc_client *k, const char *reason)
{
	uint8_t msg[8 + 256];
	size_t n = rfb_build_failure(msg, sizeof(msg), reason);

	log_info("vnc %s: refused: %s", k->peer, reason);
	k->stage = V_CLOSING;
	bufferevent_disable(k->bev, EV_READ);
	bufferevent_setcb(k->bev, NULL, failure_written, client_event, k);
	bufferevent_write(k->bev, msg, n);
}

static void
relay_done(void *arg, const char *reason)
{
	vnc_close(arg, reason);
}

static void
opened(void *arg, const struct console_backend *b, const char *code, const char *message)
{
	struct vnc_client *k = arg;
	uint8_t ok[4] = {0, 0, 0, 0};

	k->open = NULL;
	if (b == NULL) {
		refuse(k, message);
		return;
	}
	k->backend = b->bev;
	memcpy(k->server_init, b->server_init, b->server_init_len);
	k->server_init_len = b->server_init_len;
	k->session.vserver_id = b->vserver_id;
	k->session.close = session_close;
	console_session_add(k->v->srv, &k->session);
	k->registered = true;
	bufferevent_disable(k->backend, EV_READ); /* until the viewer is ready for it */
	k->stage = V_CLIENTINIT;
	bufferevent_write(k->bev, ok, 4);
	bufferevent_enable(k->bev, EV_READ);
	client_read(k->bev, k); /* a ClientInit may already be there */
}

/* The accept byte is out: continue on the same socket with TLS. */
static void
switch_to_tls(struct bufferevent *bev, void *arg)
{
	struct vnc_client *k = arg;
	SSL *ssl;

	if (evbuffer_get_length(bufferevent_get_input(bev)) > 0) {
		vnc_close(k, "data before the TLS handshake");
		return;
	}
	bufferevent_free(k->bev); /* not BEV_OPT_CLOSE_ON_FREE: the fd stays */
	k->bev = NULL;
	ssl = SSL_new(k->v->srv->tls);
	if (ssl != NULL)
		k->bev = bufferevent_openssl_socket_new(k->v->srv->base, k->fd, ssl,
							BUFFEREVENT_SSL_ACCEPTING,
							BEV_OPT_CLOSE_ON_FREE);
	if (k->bev == NULL) {
		SSL_free(ssl);
		vnc_close(k, "out of memory");
		return;
	}
	k->fd = -1; /* the TLS bufferevent owns it */
	k->stage = V_PLAIN;
	bufferevent_setcb(k->bev, client_read, NULL, client_event, k);
	bufferevent_setwatermark(k->bev, EV_READ, 0, RFB_HANDSHAKE_MAX);
	bufferevent_enable(k->bev, EV_READ | EV_WRITE);
}

static void
client_read(struct bufferevent *bev, void *arg)
{
	static const uint8_t vencrypt_only[] = {RFB_SEC_VENCRYPT};
	static const uint8_t client_init[] = {0, 1};
	static const uint32_t subtypes[] = {RFB_VENCRYPT_X509PLAIN};
	struct vnc_client *k = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char why[RFB_REASON_MAX + 64], user[RFB_CRED_MAX + 1], pass[RFB_CRED_MAX + 1];
	size_t used = 0;
	uint8_t c8;
	uint32_t c32;

	while (k->stage != V_RELAY && k->stage != V_OPENING && k->stage != V_CLOSING &&
	       k->stage != V_TLS_SWITCH) {
		size_t len = evbuffer_get_length(in);
		if (len > RFB_HANDSHAKE_MAX)
			len = RFB_HANDSHAKE_MAX;
		const uint8_t *p = len ? evbuffer_pullup(in, (ev_ssize_t)len) : NULL;
		int st;

		switch (k->stage) {
		case V_VERSION:
			st = rfb_parse_version(p, len, &used, why, sizeof(why));
			if (st == RFB_DONE)
				bufferevent_write(bev, "\001\023", 2); /* one type: VeNCrypt */
			k->stage = st == RFB_DONE ? V_SECTYPE : k->stage;
			break;
		case V_SECTYPE:
			st = rfb_parse_u8_choice(p, len, vencrypt_only, 1, &c8, &used, why,
						 sizeof(why));
			if (st == RFB_DONE)
				bufferevent_write(bev, "\000\002", 2); /* VeNCrypt 0.2 */
			k->stage = st == RFB_DONE ? V_VC_VERSION : k->stage;
			break;
		case V_VC_VERSION:
			st = rfb_parse_vencrypt_version(p, len, &used, why, sizeof(why));
			if (st == RFB_DONE) {
				uint8_t msg[6] = {0, 1};
				rfb_put_u32(msg + 2, RFB_VENCRYPT_X509PLAIN);
				bufferevent_write(bev, msg, sizeof(msg));
				k->stage = V_VC_SUBTYPE;
			}
			break;
		case V_VC_SUBTYPE:
			st = rfb_parse_vencrypt_choice(p, len, subtypes, 1, &c32, &used, why,
						       sizeof(why));
			if (st == RFB_DONE) {
				evbuffer_drain(in, used);
				k->stage = V_TLS_SWITCH;
				bufferevent_disable(bev, EV_READ);
				bufferevent_setcb(bev, NULL, switch_to_tls, client_event, k);
				bufferevent_write(bev, "\001", 1);
				return;
			}
			break;
		case V_PLAIN:
			st = rfb_parse_plain_auth(p, len, user, sizeof(user), pass, sizeof(pass),
						  &used, why, sizeof(why));
			if (st == RFB_DONE) {
				evbuffer_drain(in, used);
				k->stage = V_OPENING;
				bufferevent_disable(bev, EV_READ);
				k->open = console_open(k->v->srv, pass, 0, NULL, k->peer,
						       "vencrypt", opened, k);
				OPENSSL_cleanse(pass, sizeof(pass));
				if (k->open == NULL)
					refuse(k, "out of memory");
				return;
			}
			break;
		case V_CLIENTINIT:
			st = rfb_parse_u8_choice(p, len, client_init, 2, &c8, &used, why,
						 sizeof(why));
			if (st == RFB_DONE) {
				struct bufferevent *a = k->bev, *b = k->backend;
				evbuffer_drain(in, used);
				bufferevent_write(a, k->server_init, k->server_init_len);
				event_del(k->timer);
				not_pending(k);
				k->stage = V_RELAY;
				k->bev = k->backend = NULL;
				k->relay = relay_new(a, b, relay_done, k);
				if (k->relay == NULL)
					vnc_close(k, "out of memory");
				else
					log_info("vnc %s: console of vServer %lld open", k->peer,
						 (long long)k->session.vserver_id);
				return;
			}
			break;
		default:
			return;
		}
		if (st == RFB_ERROR) {
			if (k->stage >= V_PLAIN)
				refuse(k, why);
			else
				vnc_close(k, why);
			return;
		}
		if (st == RFB_MORE)
			return;
		evbuffer_drain(in, used);
	}
}

static void
client_event(struct bufferevent *bev, short what, void *arg)
{
	struct vnc_client *k = arg;
	unsigned long e = bufferevent_get_openssl_error(bev);
	char buf[256] = "connection closed";

	if (what & BEV_EVENT_CONNECTED)
		return; /* TLS handshake done */
	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	while (bufferevent_get_openssl_error(bev) != 0)
		;
	vnc_close(k, buf);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	vnc_close(arg, "handshake not completed in time");
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct console_vnc *v = arg;
	struct vnc_client *k;

	if (v->npending >= CONSOLE_PENDING_MAX || v->srv->draining ||
	    (k = calloc(1, sizeof(*k))) == NULL) {
		evutil_closesocket(fd);
		return;
	}
	k->v = v;
	k->fd = fd;
	relay_peer_name(sa, k->peer, sizeof(k->peer));
	k->next = v->clients;
	v->clients = k;
	k->pending = true;
	v->npending++;
	k->timer = evtimer_new(v->srv->base, on_timeout, k);
	k->bev = bufferevent_socket_new(v->srv->base, fd, 0);
	if (k->timer == NULL || k->bev == NULL) {
		vnc_close(k, "out of memory");
		return;
	}
	struct timeval tv = {CONSOLE_HANDSHAKE_SECONDS, 0};
	evtimer_add(k->timer, &tv);
	bufferevent_setcb(k->bev, client_read, NULL, client_event, k);
	bufferevent_setwatermark(k->bev, EV_READ, 0, RFB_HANDSHAKE_MAX);
	bufferevent_enable(k->bev, EV_READ | EV_WRITE);
	bufferevent_write(k->bev, "RFB 003.008\n", RFB_VERSION_LEN);
}

struct console_vnc *
console_vnc_start(struct server *srv, char *why, size_t whylen)
{
	struct console_vnc *v = calloc(1, sizeof(*v));
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);

	if (v == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	v->srv = srv;
	if (evutil_parse_sockaddr_port(srv->settings.vnc_listen, (struct sockaddr *)&ss, &sslen) !=
	    0) {
		snprintf(why, whylen, "vnc_listen: '%s' is not a numeric address:port",
			 srv->settings.vnc_listen);
		free(v);
		return NULL;
	}
	v->listener = evconnlistener_new_bind(srv->base, on_accept, v,
					      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
						      LEV_OPT_CLOSE_ON_EXEC,
					      512, (struct sockaddr *)&ss, sslen);
	if (v->listener == NULL) {
		snprintf(why, whylen, "cannot listen on %s: %s", srv->settings.vnc_listen,
			 strerror(errno));
		free(v);
		return NULL;
	}
	log_info("VeNCrypt console listener on %s", srv->settings.vnc_listen);
	return v;
}

void
console_vnc_stop(struct console_vnc *v)
{
	if (v == NULL)
		return;
	while (v->clients != NULL)
		vnc_close(v->clients, "the controller is shutting down");
	evconnlistener_free(v->listener);
	free(v);
}
