/*
 * SOAP's WS-Security UsernameToken (PasswordText over TLS). Every request proves the password
 * again, so the order follows login: cheap checks first (Created inside the window), then the
 * throttle, then the nonce is recorded in PostgreSQL (a unique key: a replay, even a concurrent
 * one, loses the insert and costs no argon2 work), and only then the password is verified on the
 * worker pool through hashing_verify(), failures counting towards the same throttle as the
 * portal's login. A user with a second factor cannot prove it in a UsernameToken: such users
 * (and users who still have to enrol one) authenticate SOAP with API tokens.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "hashing.h"
#include "log.h"
#include "secret.h"
#include "server.h"

/* Owner: c->state while authenticating; released before the operation runs. */
struct wsse_state {
	const struct auth_wsse *cred;
	call_done_fn next;
	json_t *row;
	char *rehash;
};

static void
wsse_state_free(void *p)
{
	struct wsse_state *ws = p;

	if (ws == NULL)
		return;
	json_decref(ws->row);
	free(ws->rehash);
	free(ws);
}

static void
authenticated(struct call *c, const PGresult *res)
{
	struct wsse_state *ws = c->state;
	call_done_fn next = ws->next;

	wsse_state_free(ws);
	c->state = NULL;
	c->state_free = NULL;
	c->who.kind = AUTH_PASSWORD;
	c->who.token_mask = PRIV_ALL;
	next(c);
}

/* Success: rehash if needed, reset the failure count, audit at most once a minute per user. */
static void
record_success(struct call *c)
{
	static const char sql[] =
		"WITH rh AS (UPDATE users SET password_hash = $2::text WHERE id = $1::bigint AND "
		"$2::text IS NOT NULL), "
		"ok AS (DELETE FROM login_failures WHERE lower(username) = lower($3::text)), "
		"seen AS (INSERT INTO soap_logins (user_id, last_audit_at) VALUES ($1::bigint, "
		"now()) ON CONFLICT (user_id) DO UPDATE SET last_audit_at = now() WHERE "
		"soap_logins.last_audit_at < now() - interval '1 minute' RETURNING user_id) "
		"INSERT INTO audit (user_id, username, scope_path, event, client_ip) "
		"SELECT $1::bigint, $3::text, $4::bigint[], 'login.soap', $5::text FROM seen";
	struct wsse_state *ws = c->state;
	char uid[24], path[MAX_PATH * 24];
	const char *params[] = {call_i64(uid, c->who.user_id), ws->rehash, c->who.username,
				call_path_text(c->who.path, c->who.path_len, path, sizeof(path)),
				c->client_ip};

	call_sql(c, sql, 5, params, authenticated);
}

static void
verified(struct call *c, int match, const char *rehash)
{
	struct wsse_state *ws = c->state;

	if (!match) {
		auth_login_failed(c, ws->cred->username,
				  ws->row ? "wrong password (SOAP)" : "unknown user (SOAP)",
				  "wrong username or password");
		return;
	}
	if (json_is_true(json_object_get(ws->row, "totp_enabled"))) {
		call_fail(c, API_UNAUTHENTICATED,
			  "this user has two-factor authentication: use an API token "
			  "(Authorization: Bearer) for SOAP");
		return;
	}
	if (json_is_true(json_object_get(ws->row, "require_2fa"))) {
		call_fail(c, API_DENIED,
			  "your account requires two-factor authentication: enrol TOTP in the "
			  "portal, then use an API token for SOAP");
		return;
	}
	if (rehash != NULL && (ws->rehash = strdup(rehash)) == NULL) {
		call_fail(c, API_BUSY, "out of memory");
		return;
	}
	record_success(c);
}

static void
user_loaded(struct call *c, json_t *row)
{
	struct wsse_state *ws = c->state;

	ws->row = row;
	if (row != NULL && !auth_principal_from_json(&c->who, json_object_get(row, "principal"))) {
		call_fail(c, API_INTERNAL, "internal error (logged)");
		return;
	}
	hashing_verify(c, row ? json_string_value(json_object_get(row, "hash")) : NULL,
		       ws->cred->password, verified);
}

static void
nonce_recorded(struct call *c, const PGresult *res)
{
	static const char sql[] =
		"SELECT json_build_object('principal', " AUTH_PRINCIPAL_JSON
		", 'hash', u.password_hash, 'totp_enabled', u.totp_enabled, 'require_2fa', "
		"EXISTS (SELECT 1 FROM accounts x WHERE x.id = ANY(a.path) AND x.require_2fa)) "
		"FROM users u JOIN accounts a ON a.id = u.account_id "
		"WHERE lower(u.username) = lower($1) AND " AUTH_ACCOUNT_ENABLED;
	struct wsse_state *ws = c->state;
	const char *params[] = {ws->cred->username};

	if (PQntuples(res) != 1) {
		auth_login_failed(c, ws->cred->username, "replayed WS-Security nonce (SOAP)",
				  "the WS-Security nonce was already used");
		return;
	}
	call_sql_json(c, sql, 1, params, user_loaded);
}

/* The nonce is kept until its Created can no longer pass the window in either direction. */
static void
not_throttled(struct call *c)
{
	static const char sql[] =
		"INSERT INTO soap_nonces (nonce_hash, expires_at) VALUES ($1, now() + "
		"make_interval(secs => $2::int)) ON CONFLICT DO NOTHING RETURNING 1";
	struct wsse_state *ws = c->state;
	char hash[65], keep[24];
	const char *params[] = {hash, call_i64(keep, 2 * c->srv->settings.soap_wsse_window + 60)};

	secret_sha256_hex(ws->cred->nonce, strlen(ws->cred->nonce), hash);
	call_sql(c, sql, 2, params, nonce_recorded);
}

void
auth_wsse(struct call *c, const struct auth_wsse *cred, call_done_fn next)
{
	long long window = c->srv->settings.soap_wsse_window;
	time_t now = time(NULL);

	if (cred->nonce == NULL || cred->created == 0) {
		call_fail(c, API_UNAUTHENTICATED,
			  "the UsernameToken needs a Nonce and a Created time (xsd:dateTime "
			  "with zone)");
		return;
	}
	if (cred->created < now - window || cred->created > now + window) {
		call_fail(c, API_UNAUTHENTICATED,
			  "the UsernameToken's Created is outside the allowed window of %lld s",
			  window);
		return;
	}
	if (cred->username[0] == '\0' || strlen(cred->username) > 64 ||
	    strlen(cred->password) > 1024) {
		call_fail(c, API_UNAUTHENTICATED, "wrong username or password");
		return;
	}
	struct wsse_state *ws = calloc(1, sizeof(*ws));
	if (ws == NULL) {
		call_fail(c, API_BUSY, "out of memory");
		return;
	}
	ws->cred = cred;
	ws->next = next;
	c->state = ws;
	c->state_free = wsse_state_free;
	auth_throttle_check(c, cred->username, not_throttled);
}

static void
cleaned(const struct db_result *r, void *arg)
{
	if (r->status != DB_OK)
		log_debug("SOAP nonce cleanup skipped: %s", r->message ? r->message : "-");
}

void
auth_wsse_cleanup(struct server *srv)
{
	if (db_is_up(srv->db))
		db_query(srv->db, "DELETE FROM soap_nonces WHERE expires_at < now()", 0, NULL,
			 cleaned, NULL);
}
