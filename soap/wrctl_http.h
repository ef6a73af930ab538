/*
 * wrctl's transport: HTTPS to webrackd with libcurl, one handle (and so one keep-alive
 * connection) per run, the API token as "Authorization: Bearer", answers capped in size.
 */
#ifndef WEBRACK_WRCTL_HTTP_H
#define WEBRACK_WRCTL_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct wrctl_config;
struct wrctl_http;

/* The outcome of one operation call. */
struct wrctl_reply {
	int exit;	    /* WRCTL_OK or the exit code of the error class */
	json_t *result;	    /* on success: the result (owned by the reply) */
	char code[32];	    /* on failure: the API error code ("not_found", ...) */
	char message[1024]; /* on failure: the server's (or the transport's) message */
};

struct wrctl_http *wrctl_http_new(const struct wrctl_config *cfg);
void wrctl_http_free(struct wrctl_http *h);

/*
 * GET url_path; on HTTP 200 *body is the parsed JSON (new reference) and true is returned; else
 * reply-style error fields are filled.
 */
bool wrctl_http_get_json(struct wrctl_http *h, const char *path, json_t **body,
			 struct wrctl_reply *err) __attribute__((warn_unused_result));

/* POST /api/v1/<op> with args (borrowed); fills r (release with wrctl_reply_clear). */
void wrctl_http_call(struct wrctl_http *h, const char *op, const json_t *args,
		     struct wrctl_reply *r);

void wrctl_reply_clear(struct wrctl_reply *r);

/*
 * Log in with a user name and password instead of a token (for "wrctl --user NAME token ...":
 * tokens are only created from a session). The session cookie lives in this handle only and
 * its CSRF token is sent with every later call; wrctl_http_logout() ends it.
 */
void wrctl_http_login(struct wrctl_http *h, const char *username, const char *password,
		      const char *totp, struct wrctl_reply *r);
void wrctl_http_logout(struct wrctl_http *h);

/* Fill r as a failure of class code with a formatted message (for local errors too). */
void wrctl_reply_fail(struct wrctl_reply *r, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
