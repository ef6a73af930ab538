/*
 * HTTPS transport of wrctl (libcurl). Everything the server answers is treated as untrusted: the
 * body is capped before it is parsed, and an answer that is not the binding's JSON envelope
 * becomes a clear "internal" error instead of a crash or a misleading success.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "wrctl.h"
#include "wrctl_config.h"
#include "wrctl_http.h"

#define BODY_MAX (64L * 1024 * 1024) /* a task list of 1000 rows is far below this */

struct wrctl_http {
	CURL *curl;
	const struct wrctl_config *cfg;
	struct curl_slist *headers;
	char *buf;
	size_t len;
	bool overflow;
	char curl_err[CURL_ERROR_SIZE];
	bool session; /* logged in with wrctl_http_login() */
};

void
wrctl_reply_fail(struct wrctl_reply *r, const char *code, const char *fmt, ...)
{
	va_list ap;

	json_decref(r->result);
	r->result = NULL;
	snprintf(r->code, sizeof(r->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
	r->exit = wrctl_exit_for_code(code);
}

void
wrctl_reply_clear(struct wrctl_reply *r)
{
	json_decref(r->result);
	memset(r, 0, sizeof(*r));
}

static size_t
on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct wrctl_http *h = arg;
	size_t n = size * nmemb;

	if (h->len + n > (size_t)BODY_MAX) {
		h->overflow = true;
		return 0; /* aborts the transfer */
	}
	char *nb = realloc(h->buf, h->len + n + 1);
	if (nb == NULL)
		return 0;
	h->buf = nb;
	memcpy(h->buf + h->len, ptr, n);
	h->len += n;
	h->buf[h->len] = '\0';
	return n;
}

struct wrctl_http *
wrctl_http_new(const struct wrctl_config *cfg)
{
	struct wrctl_http *h = calloc(1, sizeof(*h));
	char auth[1200];

	if (h == NULL)
		return NULL;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	h->curl = curl_easy_init();
	h->cfg = cfg;
	if (h->curl == NULL) {
		free(h);
		return NULL;
	}
	h->headers = curl_slist_append(NULL, "Content-Type: application/json");
	h->headers = curl_slist_append(h->headers, "Accept: application/json");
	if (cfg->token != NULL && *cfg->token != '\0') {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", cfg->token);
		h->headers = curl_slist_append(h->headers, auth);
		explicit_bzero(auth, sizeof(auth));
	}
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, h->headers);
	curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, h->curl_err);
	curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT, 15L);
	curl_easy_setopt(h->curl, CURLOPT_TIMEOUT, (long)cfg->timeout);
	curl_easy_setopt(h->curl, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h->curl, CURLOPT_USERAGENT, "wrctl/" PACKAGE_VERSION);
	if (cfg->ca_file != NULL)
		curl_easy_setopt(h->curl, CURLOPT_CAINFO, cfg->ca_file);
	if (cfg->insecure) {
		curl_easy_setopt(h->curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h->curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	return h;
}

void
wrctl_http_free(struct wrctl_http *h)
{
	if (h == NULL)
		return;
	curl_easy_cleanup(h->curl);
	curl_slist_free_all(h->headers);
	free(h->buf);
	free(h);
	curl_global_cleanup();
}

/* One request; false with err filled when no HTTP answer arrived. */
static bool
perform(struct wrctl_http *h, const char *path, const char *post, long *status,
	struct wrctl_reply *err)
{
	char url[2048];
	const char *base = h->cfg->url;

	if (base == NULL || *base == '\0') {
		wrctl_reply_fail(err, "local",
				 "no controller URL: set url in wrctl.conf, WEBRACK_URL or --url");
		return false;
	}
	size_t blen = strlen(base);
	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	snprintf(url, sizeof(url), "%.*s%s", (int)blen, base, path);
	h->len = 0;
	h->overflow = false;
	h->curl_err[0] = '\0';
	curl_easy_setopt(h->curl, CURLOPT_URL, url);
	if (post != NULL) {
		curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, post);
		curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(post));
	} else {
		curl_easy_setopt(h->curl, CURLOPT_HTTPGET, 1L);
	}
	CURLcode rc = curl_easy_perform(h->curl);
	if (rc != CURLE_OK) {
		if (h->overflow)
			wrctl_reply_fail(err, "internal", "the answer is larger than %ld bytes",
					 BODY_MAX);
		else
			wrctl_reply_fail(err,
					 rc == CURLE_OPERATION_TIMEDOUT ? "timeout" : "unavailable",
					 "%s: %s", url,
					 h->curl_err[0] ? h->curl_err : curl_easy_strerror(rc));
		return false;
	}
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, status);
	return true;
}

/* The binding's envelope: {"ok": true, "result"} or {"ok": false, "error": {code, message}}. */
static void
read_envelope(struct wrctl_http *h, long status, struct wrctl_reply *r)
{
	json_error_t jerr;
	json_t *body = h->len ? json_loadb(h->buf, h->len, 0, &jerr) : NULL;
	json_t *ok = json_object_get(body, "ok");

	if (json_is_true(ok)) {
		r->exit = WRCTL_OK;
		r->result = json_incref(json_object_get(body, "result"));
		if (r->result == NULL)
			r->result = json_object();
	} else if (json_is_false(ok)) {
		json_t *e = json_object_get(body, "error");
		const char *code = json_string_value(json_object_get(e, "code"));
		const char *msg = json_string_value(json_object_get(e, "message"));
		wrctl_reply_fail(r, code ? code : "internal", "%s",
				 msg ? msg : "(no message in the error)");
	} else {
		wrctl_reply_fail(
			r, status == 404 ? "not_found" : "internal",
			"HTTP %ld without a JSON answer (is the URL a webrack controller?)",
			status);
	}
	json_decref(body);
}

bool
wrctl_http_get_json(struct wrctl_http *h, const char *path, json_t **body, struct wrctl_reply *err)
{
	long status = 0;

	*body = NULL;
	if (!perform(h, path, NULL, &status, err))
		return false;
	read_envelope(h, status, err);
	if (err->exit != WRCTL_OK)
		return false;
	*body = err->result;
	err->result = NULL;
	return true;
}

void
wrctl_http_call(struct wrctl_http *h, const char *op, const json_t *args, struct wrctl_reply *r)
{
	char path[256];
	long status = 0;
	char *text = json_dumps(args, JSON_COMPACT);

	memset(r, 0, sizeof(*r));
	if (text == NULL) {
		wrctl_reply_fail(r, "local", "cannot encode the arguments");
		return;
	}
	snprintf(path, sizeof(path), "/api/v1/%s", op);
	if (perform(h, path, text, &status, r))
		read_envelope(h, status, r);
	explicit_bzero(text, strlen(text)); /* may hold a password */
	free(text);
}

void
wrctl_http_login(struct wrctl_http *h, const char *username, const char *password, const char *totp,
		 struct wrctl_reply *r)
{
	char header[300];
	json_t *args = json_pack("{s:s, s:s}", "username", username, "password", password);

	if (totp != NULL)
		json_object_set_new(args, "totp", json_string(totp));
	curl_easy_setopt(h->curl, CURLOPT_COOKIEFILE, ""); /* in-memory cookies only */
	wrctl_http_call(h, "login", args, r);
	json_decref(args);
	if (r->exit != WRCTL_OK)
		return;
	const char *csrf = json_string_value(json_object_get(r->result, "csrf_token"));
	if (json_is_true(json_object_get(r->result, "totp_required"))) {
		wrctl_reply_fail(r, "unauthenticated",
				 "this user needs a TOTP code: add --totp CODE");
		return;
	}
	if (csrf == NULL || strlen(csrf) > 200) {
		wrctl_reply_fail(r, "internal", "the login answer has no CSRF token");
		return;
	}
	snprintf(header, sizeof(header), "X-CSRF-Token: %s", csrf);
	h->headers = curl_slist_append(h->headers, header);
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, h->headers);
	h->session = true;
}

void
wrctl_http_logout(struct wrctl_http *h)
{
	struct wrctl_reply r;
	json_t *none = json_object();

	if (!h->session)
		return;
	wrctl_http_call(h, "logout", none, &r);
	json_decref(none);
	wrctl_reply_clear(&r);
	h->session = false;
}
