/*
 * The console proxy's core (see console.h): ticket redemption, the connection to the node's
 * console endpoint and the RFB handshake toward QEMU, the registry of open consoles, and the
 * addresses viewers are given. Everything is asynchronous on the loop: one struct console_open
 * walks through its stages driven by the database, the agent link and its bufferevent.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/util.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "agents.h"
#include "ca.h"
#include "call.h"
#include "conffile.h"
#include "console.h"
#include "db.h"
#include "log.h"
#include "proto.h"
#include "relay.h"
#include "rfb.h"
#include "secret.h"
#include "server.h"
#include "tls.h"

#define NODE_LINE_MAX 1024

/* Owner: the server (srv->console), from console_start() to console_stop(). */
struct console {
	SSL_CTX *client_tls;
	struct console_session *sessions;
	struct console_vnc *vnc;
};

enum stage {
	ST_TICKET,     /* consuming the ticket */
	ST_ALLOW,      /* console.allow on the agent link */
	ST_CONNECT,    /* TLS to the node */
	ST_NODE_REPLY, /* waiting for {"ok":true} */
	ST_VERSION,    /* QEMU's ProtocolVersion */
	ST_SECTYPES,   /* its security types */
	ST_SECRESULT,  /* SecurityResult of None */
	ST_SERVERINIT, /* ServerInit after our ClientInit */
};

/* Owner: console.c until the callback ran (or the cancelled open's last callback arrived). */
struct console_open {
	struct server *srv;
	console_open_fn cb; /* NULL once cancelled */
	void *arg;
	bool waiting; /* a db or agent callback is outstanding: it frees a cancelled open */
	enum stage stage;
	char hash[SECRET_SHA256_HEX_SIZE];
	int64_t want_vserver;
	char session_hash[SECRET_SHA256_HEX_SIZE]; /* "" when no cookie came */
	char client_ip[64];
	char via[16];
	int64_t vserver_id, user_id, node_id;
	char node_name[64];
	char endpoint[264];
	char token[2 * 32 + 1];
	struct bufferevent *bev;
	struct event *timer;
};

static void
open_free(struct console_open *o)
{
	if (o->timer)
		event_free(o->timer);
	if (o->bev)
		bufferevent_free(o->bev);
	OPENSSL_cleanse(o->token, sizeof(o->token));
	free(o);
}

/* The end of an open: tell the front end (unless it left) and free. */
static void
open_done(struct console_open *o, const struct console_backend *b, const char *code,
	  const char *message)
{
	if (o->cb != NULL)
		o->cb(o->arg, b, code, message);
	if (code != NULL)
		log_info("console open (vServer %lld via %s from %s): %s: %s",
			 (long long)o->vserver_id, o->via, o->client_ip, code, message);
	open_free(o);
}

static void
open_fail(struct console_open *o, const char *code, const char *message)
{
	open_done(o, NULL, code, message);
}

void
console_open_cancel(struct console_open *o)
{
	if (o == NULL)
		return;
	o->cb = NULL;
	if (!o->waiting)
		open_free(o); /* no callback outstanding: the bev and timer belong to us */
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct console_open *o = arg;

	if (o->waiting) {
		/* The outstanding database or agent callback frees it. */
		console_open_fn cb = o->cb;
		o->cb = NULL;
		if (cb != NULL)
			cb(o->arg, NULL, "timeout", "the vServer's console did not answer in time");
		return;
	}
	open_fail(o, "timeout", "the vServer's console did not answer in time");
}

/* ---- QEMU's side of the handshake ---- */

static void
backend_read(struct bufferevent *bev, void *arg)
{
	struct console_open *o = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char why[RFB_REASON_MAX + 64];
	uint8_t types[32];
	size_t ntypes = 0, used = 0;
	struct rfb_server_init si;

	for (;;) {
		size_t len = evbuffer_get_length(in);
		if (len > RFB_HANDSHAKE_MAX)
			len = RFB_HANDSHAKE_MAX;
		const uint8_t *p = len ? evbuffer_pullup(in, (ev_ssize_t)len) : NULL;
		int st = RFB_MORE;

		switch (o->stage) {
		case ST_NODE_REPLY: {
			size_t n = 0;
			char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);
			if (line == NULL) {
				if (evbuffer_get_length(in) > NODE_LINE_MAX)
					open_fail(o, "internal", "the node's answer is too long");
				return;
			}
			json_t *j = json_loadb(line, n, 0, NULL);
			free(line);
			bool ok = json_is_true(json_object_get(j, "ok"));
			if (!ok) {
				const char *m = json_string_value(json_object_get(j, "message"));
				snprintf(why, sizeof(why), "the node refused: %s", m ? m : "?");
				json_decref(j);
				open_fail(o, "unavailable", why);
				return;
			}
			json_decref(j);
			o->stage = ST_VERSION;
			continue;
		}
		case ST_VERSION:
			st = rfb_parse_version(p, len, &used, why, sizeof(why));
			if (st == RFB_DONE) {
				bufferevent_write(bev, "RFB 003.008\n", RFB_VERSION_LEN);
				o->stage = ST_SECTYPES;
			}
			break;
		case ST_SECTYPES:
			st = rfb_parse_security_types(p, len, types, &ntypes, &used, why,
						      sizeof(why));
			if (st == RFB_DONE) {
				if (memchr(types, RFB_SEC_NONE, ntypes) == NULL) {
					open_fail(o, "internal",
						  "QEMU's VNC asks for authentication");
					return;
				}
				uint8_t none = RFB_SEC_NONE;
				bufferevent_write(bev, &none, 1);
				o->stage = ST_SECRESULT;
			}
			break;
		case ST_SECRESULT:
			st = rfb_parse_security_result(p, len, &used, why, sizeof(why));
			if (st == RFB_DONE) {
				uint8_t shared = 1; /* several consoles on one vServer coexist */
				bufferevent_write(bev, &shared, 1);
				o->stage = ST_SERVERINIT;
			}
			break;
		case ST_SERVERINIT:
			st = rfb_parse_server_init(p, len, &si, &used, why, sizeof(why));
			if (st == RFB_DONE) {
				uint8_t init[RFB_SERVERINIT_MIN + RFB_NAME_MAX];
				memcpy(init, p, used);
				evbuffer_drain(in, used);
				struct console_backend b = {o->bev, init, used, o->vserver_id,
							    o->user_id};
				bufferevent_setcb(o->bev, NULL, NULL, NULL, NULL);
				o->bev = NULL; /* now the front end's */
				log_info("console open: vServer %lld (%ux%u) via %s for user %lld "
					 "from %s",
					 (long long)b.vserver_id, si.width, si.height, o->via,
					 (long long)b.user_id, o->client_ip);
				if (o->cb == NULL)
					bufferevent_free(b.bev);
				open_done(o, &b, NULL, NULL);
				return;
			}
			break;
		default:
			return;
		}
		if (st == RFB_ERROR) {
			open_fail(o, "internal", why);
			return;
		}
		if (st == RFB_MORE)
			return;
		evbuffer_drain(in, used);
	}
}

static void
backend_event(struct bufferevent *bev, short what, void *arg)
{
	struct console_open *o = arg;
	char cn[256];

	if (what & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(bev);
		if (!tls_peer_cn(ssl, cn, sizeof(cn)) || strcmp(cn, o->node_name) != 0) {
			open_fail(o, "unavailable",
				  "the console endpoint's certificate is not the node's");
			return;
		}
		char *req = NULL;
		json_t *j =
			json_pack("{s:I, s:s}", "vm", (json_int_t)o->vserver_id, "token", o->token);
		if (j != NULL)
			req = json_dumps(j, JSON_COMPACT);
		json_decref(j);
		if (req == NULL) {
			open_fail(o, "internal", "out of memory");
			return;
		}
		evbuffer_add_printf(bufferevent_get_output(bev), "%s\n", req);
		OPENSSL_cleanse(req, strlen(req));
		free(req);
		o->stage = ST_NODE_REPLY;
		return;
	}
	unsigned long e = bufferevent_get_openssl_error(bev);
	char buf[256];
	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "%s", what & BEV_EVENT_EOF ? "closed" : "unreachable");
	while (bufferevent_get_openssl_error(bev) != 0)
		;
	char why[1024];
	snprintf(why, sizeof(why), "console endpoint %s of node %s: %s", o->endpoint, o->node_name,
		 buf);
	open_fail(o, "unavailable", why);
}

static void
connect_node(struct console_open *o)
{
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);
	SSL *ssl;

	if (evutil_parse_sockaddr_port(o->endpoint, (struct sockaddr *)&ss, &sslen) != 0) {
		open_fail(o, "unavailable", "the node's console endpoint is not a numeric address");
		return;
	}
	ssl = SSL_new(o->srv->console->client_tls);
	if (ssl == NULL) {
		open_fail(o, "internal", "out of memory");
		return;
	}
	o->bev = bufferevent_openssl_socket_new(o->srv->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
						BEV_OPT_CLOSE_ON_FREE);
	if (o->bev == NULL) {
		SSL_free(ssl);
		open_fail(o, "internal", "out of memory");
		return;
	}
	o->stage = ST_CONNECT;
	bufferevent_setcb(o->bev, backend_read, NULL, backend_event, o);
	bufferevent_enable(o->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(o->bev, (struct sockaddr *)&ss, sslen) != 0)
		open_fail(o, "unavailable", "cannot connect to the node's console endpoint");
	else
		relay_nodelay(o->bev); /* RFB answers go out at once, whatever their size */
}

static void
allowed(void *arg, bool ok, json_t *result, const char *code, const char *message)
{
	struct console_open *o = arg;
	char why[PROTO_MESSAGE_MAX + 64];

	o->waiting = false;
	if (o->cb == NULL) {
		open_free(o);
		return;
	}
	if (!ok) {
		snprintf(why, sizeof(why), "node %s: %s", o->node_name,
			 message ? message
			 : code	 ? code
				 : "failed");
		open_fail(o,
			  code != NULL && strcmp(code, "conflict") == 0 ? "conflict"
									: "unavailable",
			  why);
		return;
	}
	connect_node(o);
}

static void
ticket_redeemed(const struct db_result *r, void *arg)
{
	struct console_open *o = arg;
	unsigned char raw[32];
	char hash[SECRET_SHA256_HEX_SIZE];

	o->waiting = false;
	if (o->cb == NULL) {
		open_free(o);
		return;
	}
	if (r->status != DB_OK) {
		open_fail(o, "unavailable", "the database is unavailable");
		return;
	}
	if (PQntuples(r->res) != 1) {
		open_fail(o, "denied", "unknown, used or expired console ticket");
		return;
	}
	o->vserver_id = strtoll(PQgetvalue(r->res, 0, 0), NULL, 10);
	o->user_id = strtoll(PQgetvalue(r->res, 0, 1), NULL, 10);
	o->node_id = strtoll(PQgetvalue(r->res, 0, 2), NULL, 10);
	snprintf(o->node_name, sizeof(o->node_name), "%s", PQgetvalue(r->res, 0, 3));
	snprintf(o->endpoint, sizeof(o->endpoint), "%s", PQgetvalue(r->res, 0, 4));
	if ((o->want_vserver != 0 && o->want_vserver != o->vserver_id) ||
	    (o->session_hash[0] != '\0' &&
	     strtoll(PQgetvalue(r->res, 0, 5), NULL, 10) != o->user_id)) {
		open_fail(o, "denied", "the console ticket is for another vServer or user");
		return;
	}
	if (o->node_id == 0 || o->endpoint[0] == '\0') {
		open_fail(o, "unavailable", "the vServer's node has no console endpoint");
		return;
	}
	/* A fresh token for the node: the user's ticket never leaves the controller. */
	if (secret_random(raw, sizeof(raw)) != 0) {
		open_fail(o, "internal", "no randomness");
		return;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(o->token + 2 * i, 3, "%02x", raw[i]);
	secret_sha256_hex(o->token, strlen(o->token), hash);
	json_t *args = json_pack("{s:I, s:s, s:i}", "vm", (json_int_t)o->vserver_id, "token_hash",
				 hash, "expires_in", CONSOLE_OPEN_SECONDS);
	if (args == NULL) {
		open_fail(o, "internal", "out of memory");
		return;
	}
	o->stage = ST_ALLOW;
	o->waiting = true;
	agents_command(o->srv, o->node_id, 0, "console.allow", args, CONSOLE_OPEN_SECONDS, allowed,
		       o);
	json_decref(args);
}

struct console_open *
console_open(struct server *srv, const char *ticket, int64_t want_vserver,
	     const char *session_cookie, const char *client_ip, const char *via, console_open_fn cb,
	     void *arg)
{
	/*
	 * Consumed whenever presented (single use, whoever presents it); audited only when it
	 * opens the console, i.e. when vServer and user match what the front end requires.
	 */
	static const char sql[] =
		"WITH t AS (UPDATE console_tickets SET used_at = now() WHERE hash = $1 AND "
		"used_at IS NULL AND expires_at > now() RETURNING vserver_id, user_id), "
		"x AS (SELECT t.vserver_id, t.user_id, u.username, a.path, v.node_id, n.name, "
		"n.console_endpoint, (SELECT s.user_id FROM sessions s WHERE s.token_hash = $3) "
		"AS sess_user FROM t JOIN users u ON u.id = t.user_id JOIN vservers v ON "
		"v.id = t.vserver_id JOIN accounts a ON a.id = v.account_id LEFT JOIN nodes n ON "
		"n.id = v.node_id), "
		"au AS (INSERT INTO audit (user_id, username, scope_path, event, object_type, "
		"object_id, detail, client_ip) SELECT user_id, username, path, 'console-open', "
		"'vserver', vserver_id, 'via ' || $4, $5 FROM x WHERE ($2::bigint = 0 OR "
		"vserver_id = $2::bigint) AND ($3 = '' OR sess_user = user_id)) "
		"SELECT vserver_id, user_id, coalesce(node_id, 0), coalesce(name, ''), "
		"coalesce(console_endpoint, ''), coalesce(sess_user, 0) FROM x";
	struct console_open *o = calloc(1, sizeof(*o));
	char v[24];

	if (o == NULL)
		return NULL;
	o->srv = srv;
	o->cb = cb;
	o->arg = arg;
	o->want_vserver = want_vserver;
	if (session_cookie != NULL)
		secret_sha256_hex(session_cookie, strlen(session_cookie), o->session_hash);
	snprintf(o->client_ip, sizeof(o->client_ip), "%s", client_ip);
	snprintf(o->via, sizeof(o->via), "%s", via);
	secret_sha256_hex(ticket, strlen(ticket), o->hash);
	o->timer = evtimer_new(srv->base, on_timeout, o);
	if (o->timer == NULL) {
		free(o);
		return NULL;
	}
	struct timeval tv = {CONSOLE_OPEN_SECONDS, 0};
	evtimer_add(o->timer, &tv);
	const char *params[] = {o->hash, call_i64(v, want_vserver), o->session_hash, o->via,
				o->client_ip};
	o->waiting = true;
	db_query(srv->db, sql, 5, params, ticket_redeemed, o);
	return o;
}

/* ---- open consoles ---- */

void
console_session_add(struct server *srv, struct console_session *s)
{
	if (srv->console == NULL)
		return;
	s->next = srv->console->sessions;
	srv->console->sessions = s;
}

void
console_session_remove(struct server *srv, struct console_session *s)
{
	if (srv->console == NULL)
		return;
	for (struct console_session **p = &srv->console->sessions; *p != NULL; p = &(*p)->next) {
		if (*p == s) {
			*p = s->next;
			return;
		}
	}
}

void
console_revoke_vserver(struct server *srv, int64_t vserver_id, const char *reason)
{
	if (srv->console == NULL)
		return;
	/* close() removes the session from the list: restart from the head every time. */
	for (bool again = true; again;) {
		again = false;
		for (struct console_session *s = srv->console->sessions; s != NULL; s = s->next) {
			if (s->vserver_id == vserver_id) {
				log_info("console of vServer %lld closed: %s",
					 (long long)vserver_id, reason);
				s->close(s, reason);
				again = true;
				break;
			}
		}
	}
}

/* ---- addresses ---- */

void
console_public_origin(const struct server *srv, char *out, size_t len)
{
	if (srv->settings.public_url != NULL)
		snprintf(out, len, "%s", srv->settings.public_url);
	else
		snprintf(out, len, "https://%s", srv->settings.listen);
}

void
console_vnc_address(const struct server *srv, char *host, size_t hostlen, int *port)
{
	const char *addr = srv->settings.vnc_advertise ? srv->settings.vnc_advertise
						       : srv->settings.vnc_listen;
	char origin[512], ohost[256];
	int oport;

	*port = 0;
	host[0] = '\0';
	if (addr == NULL || srv->settings.vnc_listen == NULL ||
	    !config_parse_hostport(addr, host, hostlen, port))
		return;
	if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 || host[0] == '\0') {
		/* A wildcard is no address to give out: use the portal's host name. */
		console_public_origin(srv, origin, sizeof(origin));
		if (config_parse_hostport(origin + 8, ohost, sizeof(ohost), &oport))
			snprintf(host, hostlen, "%s", ohost);
		else
			snprintf(host, hostlen, "%s", origin + 8);
	}
}

bool
console_start(struct server *srv)
{
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	char why[512];
	struct console *c;

	if (srv->settings.ca_cert == NULL)
		return true; /* no CA, no nodes, no console */
	relay_malloc_tune();
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return false;
	if (!ca_issue_client(srv->settings.ca_cert, srv->settings.ca_key, PROTO_CONSOLE_CN, &cert,
			     &key, why, sizeof(why)) ||
	    (c->client_tls = tls_client_ctx(NULL, NULL, srv->settings.ca_cert, why, sizeof(why))) ==
		    NULL) {
		log_error("console: %s", why);
		goto fail;
	}
	/*
	 * Nodes present their node certificate (clientAuth, CN = node name) on the console
	 * endpoint too: verify it as such; the CN is compared with the node's name on connect.
	 */
	if (SSL_CTX_use_certificate(c->client_tls, cert) != 1 ||
	    SSL_CTX_use_PrivateKey(c->client_tls, key) != 1 ||
	    SSL_CTX_set_purpose(c->client_tls, X509_PURPOSE_SSL_CLIENT) != 1) {
		log_error("console: cannot set up the client certificate");
		goto fail;
	}
	X509_free(cert);
	EVP_PKEY_free(key);
	cert = NULL;
	key = NULL;
	srv->console = c;
	if (srv->settings.vnc_listen != NULL) {
		c->vnc = console_vnc_start(srv, why, sizeof(why));
		if (c->vnc == NULL) {
			log_error("console: %s", why);
			srv->console = NULL;
			goto fail;
		}
	}
	return true;
fail:
	X509_free(cert);
	EVP_PKEY_free(key);
	SSL_CTX_free(c->client_tls);
	free(c);
	return false;
}

void
console_stop(struct server *srv)
{
	struct console *c = srv->console;

	if (c == NULL)
		return;
	while (c->sessions != NULL)
		c->sessions->close(c->sessions, "the controller is shutting down");
	console_vnc_stop(c->vnc);
	SSL_CTX_free(c->client_tls);
	free(c);
	srv->console = NULL;
}
