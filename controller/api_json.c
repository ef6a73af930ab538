/*
 * JSON binding. Validates everything about the request before any handler runs (method, size,
 * JSON syntax, parameter schema, credentials, CSRF token), then hands a struct call to the
 * operation's handler and turns its outcome into an HTTP reply with a stable error code.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api_json.h"
#include "api_ops.h"
#include "auth.h"
#include "http.h"
#include "journal.h"
#include "log.h"
#include "secret.h"
#include "server.h"

static int
http_status(enum api_error err)
{
	switch (err) {
	case API_OK:
		return 200;
	case API_INVALID:
		return 400;
	case API_UNAUTHENTICATED:
		return 401;
	case API_DENIED:
		return 403;
	case API_NOT_FOUND:
		return 404;
	case API_CONFLICT:
	case API_QUOTA:
		return 409;
	case API_TOO_LARGE:
		return 413;
	case API_THROTTLED:
		return 429;
	case API_BUSY:
	case API_UNAVAILABLE:
		return 503;
	case API_INTERNAL:
		return 500;
	}
	return 500;
}

static void
send_json(struct evhttp_request *req, int status, json_t *body, const char *set_cookie)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *out = evbuffer_new();
	char *text = json_dumps(body, JSON_COMPACT);

	http_add_security_headers(req);
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Cache-Control", "no-store");
	if (set_cookie != NULL)
		evhttp_add_header(h, "Set-Cookie", set_cookie);
	if (text != NULL) {
		evbuffer_add(out, text, strlen(text));
		evbuffer_add(out, "\n", 1);
	}
	evhttp_send_reply(req, status, NULL, out);
	evbuffer_free(out);
	free(text);
}

static void
send_error(struct evhttp_request *req, enum api_error err, const char *message)
{
	json_t *body = json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code",
				 journal_error_code(err), "message", message);
	send_json(req, http_status(err), body, NULL);
	json_decref(body);
}

static void
respond(struct call *c, enum api_error err, const char *message, json_t *result)
{
	struct evhttp_request *req = c->binding;
	json_t *body;

	if (err == API_OK) {
		body = json_pack("{s:b, s:o}", "ok", 1, "result", result ? result : json_object());
	} else {
		body = json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code",
				 journal_error_code(err), "message", message ? message : "");
		json_decref(result);
		log_debug("op %s by %s from %s: %s: %s", c->op->name,
			  c->who.username[0] ? c->who.username : "-", c->client_ip,
			  journal_error_code(err), message ? message : "");
	}
	send_json(req, http_status(err), body, c->set_cookie);
	json_decref(body);
	struct server *srv = c->srv;
	call_free(c);
	server_call_done(srv);
}

/* The value of one cookie from the Cookie header, or NULL. */
static char *
cookie_value(const char *header, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = header;

	while (p != NULL && *p != '\0') {
		while (*p == ' ' || *p == ';')
			p++;
		if (strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
			const char *v = p + nlen + 1;
			return strndup(v, strcspn(v, "; "));
		}
		p = strchr(p, ';');
	}
	return NULL;
}

static void
authenticated(struct call *c)
{
	const struct principal *who = &c->who;
	unsigned flags = c->op->flags;

	if (who->kind == AUTH_SESSION && !(flags & OP_NO_CSRF)) {
		size_t n = strlen(who->csrf);
		if (c->csrf_header == NULL || strlen(c->csrf_header) != n ||
		    !secret_equal(c->csrf_header, who->csrf, n)) {
			call_fail(c, API_DENIED, "missing or wrong X-CSRF-Token header");
			return;
		}
	}
	if (who->mfa_pending && !(flags & OP_PENDING_OK)) {
		call_fail(c, API_UNAUTHENTICATED,
			  "the second factor is still required (login-totp)");
		return;
	}
	if (who->enrol_only && !(flags & OP_ENROL_OK)) {
		call_fail(c, API_DENIED,
			  "your account requires two-factor authentication: enrol TOTP first");
		return;
	}
	c->op->handler(c);
}

void
api_json_take_credentials(struct call *c, struct evhttp_request *req)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	char *peer = NULL;
	ev_uint16_t port = 0;

	evhttp_connection_get_peer(evhttp_request_get_connection(req), &peer, &port);
	snprintf(c->client_ip, sizeof(c->client_ip), "%s", peer ? peer : "-");

	const char *cookie = evhttp_find_header(in, "Cookie");
	const char *authz = evhttp_find_header(in, "Authorization");
	const char *csrf = evhttp_find_header(in, "X-CSRF-Token");
	if (cookie != NULL)
		c->session_cookie = cookie_value(cookie, SESSION_COOKIE);
	if (authz != NULL && strncasecmp(authz, "Bearer ", 7) == 0)
		c->bearer = strdup(authz + 7);
	if (csrf != NULL)
		c->csrf_header = strdup(csrf);
}

void
api_json_send_error(struct evhttp_request *req, enum api_error err, const char *message)
{
	send_error(req, err, message);
}

void
api_json_call_free(struct call *c)
{
	call_free(c);
}

void
api_json_handle(struct server *srv, struct evhttp_request *req, const char *op_name)
{
	const struct op *op = api_op_find(op_name);
	struct evbuffer *body = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(body);
	char why[256];
	json_error_t jerr;
	json_t *args;

	if (op == NULL) {
		send_error(req, API_NOT_FOUND, "unknown operation");
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
		struct evbuffer *out = evbuffer_new();
		const char *msg = "{\"ok\":false,\"error\":{\"code\":\"invalid\",\"message\":"
				  "\"use POST\"}}\n";
		http_add_security_headers(req);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
				  "application/json");
		evbuffer_add(out, msg, strlen(msg));
		evhttp_send_reply(req, 405, "Method Not Allowed", out);
		evbuffer_free(out);
		return;
	}
	if (len > (size_t)srv->settings.max_body_bytes) {
		send_error(req, API_TOO_LARGE, "request body too large");
		return;
	}
	if (len == 0) {
		args = json_object();
	} else {
		const char *data = (const char *)evbuffer_pullup(body, -1);
		args = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
		if (args == NULL) {
			snprintf(why, sizeof(why), "malformed JSON at byte %d: %s", jerr.position,
				 jerr.text);
			send_error(req, API_INVALID, why);
			return;
		}
	}
	if (!schema_check(op->params, args, why, sizeof(why))) {
		json_decref(args);
		send_error(req, API_INVALID, why);
		return;
	}

	struct call *c = call_new(srv, op, args);
	if (c == NULL) {
		json_decref(args);
		send_error(req, API_BUSY, "out of memory");
		return;
	}
	c->binding = req;
	c->respond = respond;
	api_json_take_credentials(c, req);

	if (op->flags & OP_PUBLIC) {
		op->handler(c);
		return;
	}
	auth_authenticate(c, authenticated);
}
