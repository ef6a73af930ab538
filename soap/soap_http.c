/*
 * SOAP binding. Everything about the request is checked before a handler runs: method, size
 * (before parsing), the envelope (soap_envelope.c: hardened parse and the parameter schema),
 * then the credentials. Outcomes become a response element typed by the operation's result
 * schema, or a fault whose code is the stable API error (Client.NotFound, Server.Busy, ...).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api_ops.h"
#include "auth.h"
#include "http.h"
#include "journal.h"
#include "log.h"
#include "server.h"
#include "soap_envelope.h"
#include "soap_http.h"
#include "soap_wsdl.h"

/* SOAP 1.1 over HTTP: every fault travels with status 500. */
#define FAULT_STATUS 500

/* Owner: the call (c->binding), freed by respond(). */
struct soap_call {
	struct evhttp_request *req;
	struct soap_request sr;
	struct auth_wsse cred;
	char name[SOAP_NAME_MAX];
};

static const char *
fault_code(enum api_error err)
{
	switch (err) {
	case API_OK:
	case API_INVALID:
		return "Client.Invalid";
	case API_UNAUTHENTICATED:
		return "Client.Unauthenticated";
	case API_DENIED:
		return "Client.Denied";
	case API_NOT_FOUND:
		return "Client.NotFound";
	case API_CONFLICT:
		return "Client.Conflict";
	case API_QUOTA:
		return "Client.Quota";
	case API_TOO_LARGE:
		return "Client.TooLarge";
	case API_THROTTLED:
		return "Client.Throttled";
	case API_BUSY:
		return "Server.Busy";
	case API_UNAVAILABLE:
		return "Server.Unavailable";
	case API_INTERNAL:
		return "Server.Internal";
	}
	return "Server.Internal";
}

static void
send_body(struct evhttp_request *req, int status, const char *type, char *body, size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *out = evbuffer_new();

	http_add_security_headers(req);
	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	if (out != NULL && body != NULL)
		evbuffer_add(out, body, len);
	evhttp_send_reply(req, status, status == 200 ? "OK" : "Internal Server Error", out);
	if (out != NULL)
		evbuffer_free(out);
	free(body);
}

static void
send_fault(struct evhttp_request *req, enum api_error err, const char *message)
{
	size_t len = 0;
	char *body = soap_envelope_fault(fault_code(err), message ? message : "", &len);

	send_body(req, FAULT_STATUS, "text/xml; charset=utf-8", body, len);
}

static void
respond(struct call *c, enum api_error err, const char *message, json_t *result)
{
	struct soap_call *sc = c->binding;
	struct server *srv = c->srv;

	if (err == API_OK) {
		size_t len = 0;
		char *body = soap_envelope_response(sc->name, c->op->result_schema, result, &len);
		if (body != NULL)
			send_body(sc->req, 200, "text/xml; charset=utf-8", body, len);
		else
			send_fault(sc->req, API_BUSY, "out of memory");
	} else {
		log_debug("soap %s by %s from %s: %s: %s", sc->name,
			  c->who.username[0] ? c->who.username : "-", c->client_ip, fault_code(err),
			  message ? message : "");
		send_fault(sc->req, err, message);
	}
	json_decref(result);
	soap_request_clear(&sc->sr);
	free(sc);
	call_free(c);
	server_call_done(srv);
}

static void
run(struct call *c)
{
	c->op->handler(c);
}

/*
 * soap_op_find() derives every operation's SOAP name until one matches: fine for the WSDL, but
 * it was the most expensive step of a small request (twice per request). The table never
 * changes while webrackd runs, so names once found are remembered (also unknown ones, in a
 * bounded table: a client cannot grow it).
 */
#define OP_MEMO_SIZE 256

static const struct op *
find_op(const char *name)
{
	static struct {
		char name[SOAP_NAME_MAX];
		const struct op *op;
		bool set;
	} memo[OP_MEMO_SIZE];
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 16777619u;
	for (unsigned i = 0; i < 4; i++) { /* a few slots per name */
		unsigned slot = (h + i) % OP_MEMO_SIZE;
		if (memo[slot].set && strcmp(memo[slot].name, name) == 0)
			return memo[slot].op;
	}
	const struct op *op = soap_op_find(name);
	if (strlen(name) < SOAP_NAME_MAX) {
		for (unsigned i = 0; i < 4; i++) {
			unsigned slot = (h + i) % OP_MEMO_SIZE;
			if (!memo[slot].set) {
				snprintf(memo[slot].name, sizeof(memo[slot].name), "%s", name);
				memo[slot].op = op;
				memo[slot].set = true;
				break;
			}
		}
	}
	return op;
}

static const struct param *
lookup(const char *name, void *arg)
{
	const struct op *op = find_op(name);

	return op != NULL ? op->params : NULL;
}

/* A Host header we may echo into the WSDL: a host name or address and a port, nothing else. */
static bool
host_ok(const char *h)
{
	size_t n = h ? strlen(h) : 0;

	return n > 0 && n < 256 &&
	       strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") ==
		       n;
}

static void
serve_wsdl(struct server *srv, struct evhttp_request *req)
{
	const char *host = evhttp_find_header(evhttp_request_get_input_headers(req), "Host");
	char location[300];
	size_t len = 0;

	snprintf(location, sizeof(location), "https://%s/soap",
		 host_ok(host) ? host : srv->settings.listen);
	char *wsdl = soap_wsdl_generate(location, &len);
	if (wsdl == NULL) {
		send_fault(req, API_BUSY, "out of memory");
		return;
	}
	send_body(req, 200, "text/xml; charset=utf-8", wsdl, len);
}

static void
method_not_allowed(struct evhttp_request *req)
{
	struct evbuffer *out = evbuffer_new();
	const char *msg = "use POST for SOAP requests and GET /soap?wsdl for the WSDL\n";

	http_add_security_headers(req);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, POST");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain");
	evbuffer_add(out, msg, strlen(msg));
	evhttp_send_reply(req, 405, "Method Not Allowed", out);
	evbuffer_free(out);
}

void
soap_http_handle(struct server *srv, struct evhttp_request *req)
{
	const struct soap_limits limits = SOAP_LIMITS_DEFAULT;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct evbuffer *body = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(body);
	char why[256];

	if (cmd == EVHTTP_REQ_GET && query != NULL && strcasecmp(query, "wsdl") == 0) {
		serve_wsdl(srv, req);
		return;
	}
	if (cmd != EVHTTP_REQ_POST) {
		method_not_allowed(req);
		return;
	}
	if (len > (size_t)srv->settings.max_body_bytes) {
		send_fault(req, API_TOO_LARGE, "request body too large");
		return;
	}
	struct soap_call *sc = calloc(1, sizeof(*sc));
	if (sc == NULL) {
		send_fault(req, API_BUSY, "out of memory");
		return;
	}
	sc->req = req;
	const char *data = len ? (const char *)evbuffer_pullup(body, -1) : "";
	if (!soap_envelope_parse(data, len, &limits, lookup, NULL, &sc->sr, why, sizeof(why))) {
		log_debug("soap request refused: %s", why);
		send_fault(req, API_INVALID, why);
		soap_request_clear(&sc->sr);
		free(sc);
		return;
	}
	const struct op *op = find_op(sc->sr.operation);
	snprintf(sc->name, sizeof(sc->name), "%s", sc->sr.operation);
	struct call *c = call_new(srv, op, sc->sr.args);
	if (c == NULL) {
		send_fault(req, API_BUSY, "out of memory");
		soap_request_clear(&sc->sr);
		free(sc);
		return;
	}
	sc->sr.args = NULL; /* the call owns them now */
	c->binding = sc;
	c->respond = respond;

	char *peer = NULL;
	ev_uint16_t port = 0;
	evhttp_connection_get_peer(evhttp_request_get_connection(req), &peer, &port);
	snprintf(c->client_ip, sizeof(c->client_ip), "%s", peer ? peer : "-");

	const char *authz =
		evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	if (authz != NULL && strncasecmp(authz, "Bearer ", 7) == 0)
		c->bearer = strdup(authz + 7);
	const struct soap_wsse *w = &sc->sr.wsse;
	if (w->present && c->bearer != NULL) {
		call_fail(c, API_INVALID,
			  "send either a WS-Security UsernameToken or a Bearer token, not both");
		return;
	}
	if (op->flags & OP_PUBLIC) {
		run(c);
	} else if (w->present) {
		sc->cred.username = w->username;
		sc->cred.password = w->password;
		sc->cred.nonce = w->nonce;
		sc->cred.created = w->has_created ? w->created_at : 0;
		auth_wsse(c, &sc->cred, run);
	} else if (c->bearer != NULL) {
		auth_authenticate(c, run);
	} else {
		call_fail(c, API_UNAUTHENTICATED,
			  "authenticate with 'Authorization: Bearer TOKEN' or a WS-Security "
			  "UsernameToken");
	}
}
