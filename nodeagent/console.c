/*
 * The node's console endpoint (see console.h): a TLS listener for controllers, the short list of
 * announced one-time tokens, and per connection a tiny state machine (TLS handshake, request line,
 * connect to vnc.sock) that ends in a relay (common/relay.c). Everything runs on the agent's
 * event loop without blocking it: a peer that stalls anywhere before the relay is dropped after
 * CONSOLE_HELLO_SECONDS.
 */
#include "monotime.h"
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "agent_settings.h"
#include "commands.h"
#include "conffile.h"
#include "console.h"
#include "log.h"
#include "proto.h"
#include "qemu_cmdline.h"
#include "relay.h"
#include "schema.h"
#include "tls.h"
#include "vm.h"

struct allowed {
	int64_t vm;
	unsigned char hash[32];
	double expires; /* CLOCK_MONOTONIC seconds */
};

struct conn {
	struct conn *next;
	struct console *c;
	struct bufferevent *tls; /* until the relay owns it */
	struct bufferevent *vnc;
	struct relay *relay;
	struct event *timer;
	char peer[64];
	int64_t vm;
};

/* Owner: main(); lives until console_free(). */
struct console {
	struct event_base *base;
	struct vms *vms;
	SSL_CTX *tls;
	struct evconnlistener *listener;
	struct allowed allowed[CONSOLE_ALLOW_MAX];
	size_t nallowed;
	struct conn *conns;
	size_t nconns;
};

static void
conn_free(struct conn *k)
{
	struct console *c = k->c;

	for (struct conn **p = &c->conns; *p != NULL; p = &(*p)->next) {
		if (*p == k) {
			*p = k->next;
			c->nconns--;
			break;
		}
	}
	if (k->timer)
		event_free(k->timer);
	if (k->relay)
		relay_free(k->relay);
	if (k->tls)
		bufferevent_free(k->tls);
	if (k->vnc)
		bufferevent_free(k->vnc);
	free(k);
}

static void
conn_drop(struct conn *k, const char *why)
{
	log_info("console %s (vm %lld): %s", k->peer, (long long)k->vm, why);
	conn_free(k);
}

static void on_tls_event(struct bufferevent *bev, short what, void *arg);

/* Answer the request line with an error and close once it is written. */
static void
refuse_written(struct bufferevent *bev, void *arg)
{
	conn_drop(arg, "refused");
}

static void
refuse(struct conn *k, const char *code, const char *message)
{
	json_t *j = json_pack("{s:b, s:s, s:s}", "ok", 0, "code", code, "message", message);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	log_info("console %s (vm %lld): refused: %s", k->peer, (long long)k->vm, message);
	if (text == NULL) {
		conn_free(k);
		return;
	}
	bufferevent_disable(k->tls, EV_READ);
	bufferevent_setcb(k->tls, NULL, refuse_written, on_tls_event, k);
	evbuffer_add_printf(bufferevent_get_output(k->tls), "%s\n", text);
	free(text);
}

static void
relay_done(void *arg, const char *reason)
{
	conn_drop(arg, reason);
}

static void
vnc_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *k = arg;

	if (what & BEV_EVENT_CONNECTED) {
		struct bufferevent *a = k->tls, *b = k->vnc;
		evbuffer_add(bufferevent_get_output(a), "{\"ok\":true}\n", 12);
		event_del(k->timer);
		k->tls = k->vnc = NULL;
		k->relay = relay_new(a, b, relay_done, k);
		if (k->relay == NULL)
			conn_drop(k, "out of memory");
		else
			log_info("console %s: vm %lld connected", k->peer, (long long)k->vm);
		return;
	}
	bufferevent_free(k->vnc);
	k->vnc = NULL;
	refuse(k, "unavailable", "the VM's VNC socket does not answer");
}

/* Take the announced token for vm (single use); false when there is none that matches. */
static bool
take_token(struct console *c, int64_t vm, const char *token)
{
	unsigned char hash[32];
	unsigned int n = 0;
	double now = now_mono();
	bool found = false;

	if (EVP_Digest(token, strlen(token), hash, &n, EVP_sha256(), NULL) != 1 || n != 32)
		return false;
	for (size_t i = 0; i < c->nallowed;) {
		struct allowed *a = &c->allowed[i];
		bool match = a->vm == vm && CRYPTO_memcmp(a->hash, hash, 32) == 0;
		if (match || a->expires <= now) {
			found = found || (match && a->expires > now);
			c->allowed[i] = c->allowed[--c->nallowed];
			continue;
		}
		i++;
	}
	return found;
}

static const struct param request_params[] = {
	{"vm", PARAM_INT, true, false, 1, INT64_MAX, NULL, "vServer id", NULL},
	{"token", PARAM_SECRET, true, false, 16, 128, NULL, "one-time token", NULL},
	PARAM_END,
};

static void
on_request(struct bufferevent *bev, void *arg)
{
	struct conn *k = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n = 0;
	char why[256];
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);
	if (line == NULL) {
		if (evbuffer_get_length(in) > CONSOLE_LINE_MAX)
			conn_drop(k, "request line too long");
		return;
	}
	json_error_t jerr;
	json_t *req =
		n <= CONSOLE_LINE_MAX ? json_loadb(line, n, JSON_REJECT_DUPLICATES, &jerr) : NULL;
	free(line);
	if (req == NULL || !json_is_object(req) ||
	    !schema_check(request_params, req, why, sizeof(why))) {
		json_decref(req);
		refuse(k, "invalid", "the request must be {\"vm\": ID, \"token\": TOKEN}");
		return;
	}
	k->vm = json_integer_value(json_object_get(req, "vm"));
	bool ok = take_token(k->c, k->vm, json_string_value(json_object_get(req, "token")));
	json_decref(req);
	if (!ok) {
		refuse(k, "denied", "no such console token (used, expired or for another VM)");
		return;
	}
	struct vm *vm = vms_find(k->c->vms, k->vm);
	if (vm == NULL || !vm_has_qemu(vm)) {
		refuse(k, "conflict", "the VM is not running on this node");
		return;
	}
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/" QEMU_VNC_SOCKET,
			     vm->spec.run_dir) >= sizeof(sun.sun_path)) {
		refuse(k, "internal", "VNC socket path too long");
		return;
	}
	bufferevent_disable(bev, EV_READ); /* nothing more until the relay runs */
	k->vnc = bufferevent_socket_new(k->c->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (k->vnc == NULL) {
		refuse(k, "internal", "out of memory");
		return;
	}
	bufferevent_setcb(k->vnc, NULL, NULL, vnc_event, k);
	if (bufferevent_socket_connect(k->vnc, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		bufferevent_free(k->vnc);
		k->vnc = NULL;
		refuse(k, "unavailable", "cannot connect to the VM's VNC socket");
	}
}

static void
on_tls_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *k = arg;

	if (what & BEV_EVENT_CONNECTED) {
		char cn[256];
		if (!tls_peer_cn(bufferevent_openssl_get_ssl(bev), cn, sizeof(cn)) ||
		    strcmp(cn, PROTO_CONSOLE_CN) != 0) {
			conn_drop(k, "the client certificate is not the controller's");
			return;
		}
		return;
	}
	unsigned long e = bufferevent_get_openssl_error(bev);
	char buf[256] = "connection closed";
	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	while (bufferevent_get_openssl_error(bev) != 0)
		;
	conn_drop(k, buf);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	conn_drop(arg, "no complete request in time");
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct console *c = arg;
	struct conn *k;
	SSL *ssl;

	if (c->nconns >= CONSOLE_SESSIONS_MAX || (k = calloc(1, sizeof(*k))) == NULL) {
		evutil_closesocket(fd);
		log_warn("console: connection refused (%zu open)", c->nconns);
		return;
	}
	k->c = c;
	relay_peer_name(sa, k->peer, sizeof(k->peer));
	k->next = c->conns;
	c->conns = k;
	c->nconns++;
	ssl = SSL_new(c->tls);
	k->timer = evtimer_new(c->base, on_timeout, k);
	k->tls = ssl ? bufferevent_openssl_socket_new(c->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
						      BEV_OPT_CLOSE_ON_FREE)
		     : NULL;
	if (k->tls == NULL || k->timer == NULL) {
		if (k->tls == NULL) {
			SSL_free(ssl);
			evutil_closesocket(fd);
		}
		conn_free(k);
		return;
	}
	struct timeval tv = {CONSOLE_HELLO_SECONDS, 0};
	evtimer_add(k->timer, &tv);
	bufferevent_setcb(k->tls, on_request, NULL, on_tls_event, k);
	bufferevent_setwatermark(k->tls, EV_READ, 0, CONSOLE_LINE_MAX + 2);
	bufferevent_enable(k->tls, EV_READ | EV_WRITE);
}

struct console *
console_new(struct event_base *base, const struct agent_settings *s, struct vms *vms, char *why,
	    size_t whylen)
{
	char cert[1024], key[1024], ca[1024], host[256], port_text[16];
	struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC,
					.ai_socktype = SOCK_STREAM,
					.ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_NUMERICHOST};
	struct evutil_addrinfo *ai = NULL;
	int port;

	why[0] = '\0';
	if (s->console_listen == NULL)
		return NULL;
	struct console *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	c->base = base;
	c->vms = vms;
	if (!agent_settings_state_path(s, "node.crt", cert, sizeof(cert)) ||
	    !agent_settings_state_path(s, "node.key", key, sizeof(key)) ||
	    !agent_settings_state_path(s, "ca.crt", ca, sizeof(ca)) ||
	    (c->tls = tls_server_ctx_mutual(cert, key, ca, why, whylen)) == NULL) {
		if (why[0] == '\0')
			snprintf(why, whylen, "state_dir path too long");
		goto fail;
	}
	/* Every console byte crosses this hop: the cheaper AES-GCM first (see tls.h). */
	if (!tls_ctx_prefer_aes128(c->tls)) {
		snprintf(why, whylen, "cannot set the TLS 1.3 cipher suites");
		goto fail;
	}
	if (!config_parse_hostport(s->console_listen, host, sizeof(host), &port)) {
		snprintf(why, whylen, "console_listen: '%s' is not host:port", s->console_listen);
		goto fail;
	}
	snprintf(port_text, sizeof(port_text), "%d", port);
	if (evutil_getaddrinfo(host, port_text, &hints, &ai) != 0 || ai == NULL) {
		snprintf(why, whylen, "console_listen: '%s' is not a numeric address", host);
		goto fail;
	}
	c->listener = evconnlistener_new_bind(base, on_accept, c,
					      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
						      LEV_OPT_CLOSE_ON_EXEC,
					      128, ai->ai_addr, (int)ai->ai_addrlen);
	evutil_freeaddrinfo(ai);
	if (c->listener == NULL) {
		snprintf(why, whylen, "cannot listen on %s: %s", s->console_listen,
			 strerror(errno));
		goto fail;
	}
	log_info("console endpoint on %s", s->console_listen);
	relay_malloc_tune();
	vms->console = c;
	return c;
fail:
	SSL_CTX_free(c->tls);
	free(c);
	return NULL;
}

void
console_free(struct console *c)
{
	if (c == NULL)
		return;
	while (c->conns != NULL)
		conn_free(c->conns);
	if (c->vms != NULL)
		c->vms->console = NULL;
	evconnlistener_free(c->listener);
	SSL_CTX_free(c->tls);
	free(c);
}

static bool
parse_hash(const char *hex, unsigned char out[32])
{
	for (int i = 0; i < 32; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return false;
		out[i] = (unsigned char)v;
	}
	return true;
}

void
console_cmd_allow(struct command *cmd)
{
	struct vms *vms = cmd->agent;
	struct console *c = vms ? vms->console : NULL;
	const char *hex = json_string_value(json_object_get(cmd->args, "token_hash"));
	int64_t vm = json_integer_value(json_object_get(cmd->args, "vm"));
	double now = now_mono();
	struct allowed a = {.vm = vm};

	if (c == NULL) {
		command_reply_error(cmd, "unsupported", "this node has no console_listen");
		return;
	}
	if (strspn(hex, "0123456789abcdef") != 64 || !parse_hash(hex, a.hash)) {
		command_reply_error(cmd, "invalid", "token_hash must be 64 lower-case hex digits");
		return;
	}
	struct vm *v = vms_find(vms, vm);
	if (v == NULL || !vm_has_qemu(v)) {
		command_reply_error(cmd, "conflict", "vm %lld is not running on this node",
				    (long long)vm);
		return;
	}
	a.expires = now + (double)json_integer_value(json_object_get(cmd->args, "expires_in"));
	for (size_t i = 0; i < c->nallowed;) /* drop the expired ones first */
		if (c->allowed[i].expires <= now)
			c->allowed[i] = c->allowed[--c->nallowed];
		else
			i++;
	if (c->nallowed >= CONSOLE_ALLOW_MAX) {
		command_reply_error(cmd, "busy", "too many console opens at once");
		return;
	}
	c->allowed[c->nallowed++] = a;
	command_reply_ok(cmd, NULL);
}
