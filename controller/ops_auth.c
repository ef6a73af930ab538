/*
 * login, login-totp, logout and whoami. Login order matters: throttling is checked before the
 * password (so a throttled attacker learns nothing and costs no argon2 work), an unknown user
 * costs the same hashing time as a known one, the session id is always new (rotation), and a
 * second factor, when enrolled, turns the first session into a pending one that login-totp
 * replaces again.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "hashing.h"
#include "log.h"
#include "mfa.h"
#include "objects.h"
#include "ops.h"
#include "secret.h"
#include "server.h"

struct login_state {
	json_t *row; /* user row: principal, hash, TOTP data */
	int64_t totp_step;
	char *rehash;
	bool pending; /* second factor still due */
	bool enrol_only;
	char *token;
	char *csrf;
};

static void
login_state_free(void *p)
{
	struct login_state *ls = p;

	if (ls == NULL)
		return;
	json_decref(ls->row);
	free(ls->rehash);
	if (ls->token)
		explicit_bzero(ls->token, strlen(ls->token));
	free(ls->token);
	free(ls->csrf);
	free(ls);
}

static struct login_state *
login_state(struct call *c)
{
	if (c->state == NULL) {
		c->state = calloc(1, sizeof(struct login_state));
		c->state_free = login_state_free;
		((struct login_state *)c->state)->totp_step = -1;
	}
	return c->state;
}

static const char *
login_username(struct call *c)
{
	/* login names the user in its arguments; login-totp has it from the pending session. */
	return c->who.user_id ? c->who.username : call_arg_str(c, "username");
}

/* Step: throttle check for the username and the client address. */
static void
check_throttle(struct call *c, call_done_fn next)
{
	auth_throttle_check(c, login_username(c), next);
}

/* Record a failed attempt, then answer 401 with one message for every cause. */
static void
login_fail(struct call *c, const char *why)
{
	auth_login_failed(c, login_username(c), why, "wrong username, password or code");
}

static void
session_created(struct call *c, const PGresult *res)
{
	struct login_state *ls = login_state(c);
	char cookie[256];

	if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), "1") != 0) {
		/* The TOTP step was used meanwhile: a replay that lost the race. */
		login_fail(c, "second factor code already used");
		return;
	}
	snprintf(cookie, sizeof(cookie),
		 SESSION_COOKIE "=%s; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=%lld",
		 ls->token, c->srv->settings.session_absolute_timeout);
	c->set_cookie = strdup(cookie);
	json_t *user = json_object_get(ls->row, "public");
	json_t *result =
		json_pack("{s:O, s:s, s:b, s:b}", "user", user, "csrf_token", ls->csrf,
			  "totp_required", ls->pending, "totp_enrol_required", ls->enrol_only);
	log_info("login of '%s' from %s%s", login_username(c), c->client_ip,
		 ls->pending ? " (second factor pending)" : "");
	call_reply(c, result);
}

/* Create the new session (rotating out any session the client presented). */
static void
session_create(struct call *c)
{
	static const char sql[] =
		"WITH old AS (DELETE FROM sessions WHERE token_hash = $8::text), "
		"rh AS (UPDATE users SET password_hash = $7::text WHERE id = $1::bigint AND "
		"$7::text IS NOT NULL), "
		"st AS (UPDATE users SET totp_last_step = $9::bigint WHERE id = $1::bigint AND "
		"$9::bigint IS NOT NULL AND totp_last_step < $9::bigint RETURNING id), "
		"s AS (INSERT INTO sessions (token_hash, user_id, csrf_token, mfa_pending, "
		"enrol_only, client_ip) SELECT $2::text, $1::bigint, $3::text, $4::bool, $5::bool, "
		"$6::text WHERE $9::bigint IS NULL OR EXISTS (SELECT 1 FROM st) RETURNING id), "
		"ok AS (DELETE FROM login_failures WHERE lower(username) = lower($10::text) AND "
		"EXISTS (SELECT 1 FROM s) AND NOT $4::bool), "
		"a AS (INSERT INTO audit (user_id, username, scope_path, event, detail, client_ip) "
		"SELECT $1::bigint, $10::text, $11::bigint[], $12::text, NULL, $6::text FROM s) "
		"SELECT count(*) FROM s";
	struct login_state *ls = login_state(c);
	char hash[65], oldhash[65], uid[24], step[24], path[MAX_PATH * 24];

	ls->token = secret_new_token("", 32);
	ls->csrf = secret_new_token("", 24);
	if (ls->token == NULL || ls->csrf == NULL) {
		call_fail(c, API_INTERNAL, "cannot create a session");
		return;
	}
	secret_sha256_hex(ls->token, strlen(ls->token), hash);
	if (c->session_cookie != NULL)
		secret_sha256_hex(c->session_cookie, strlen(c->session_cookie), oldhash);
	const char *params[] = {
		call_i64(uid, c->who.user_id),
		hash,
		ls->csrf,
		ls->pending ? "true" : "false",
		ls->enrol_only ? "true" : "false",
		c->client_ip,
		ls->rehash,
		c->session_cookie ? oldhash : NULL,
		ls->totp_step >= 0 ? call_i64(step, ls->totp_step) : NULL,
		c->who.username,
		call_path_text(c->who.path, c->who.path_len, path, sizeof(path)),
		ls->pending ? "login.password" : "login",
	};
	call_sql(c, sql, 12, params, session_created);
}

static void
password_checked(struct call *c, int match, const char *rehash)
{
	struct login_state *ls = login_state(c);
	json_t *row = ls->row;

	if (!match) {
		login_fail(c, row ? "wrong password" : "unknown user");
		return;
	}
	if (rehash != NULL)
		ls->rehash = strdup(rehash);
	bool totp_enabled = json_is_true(json_object_get(row, "totp_enabled"));
	const char *code = call_arg_str(c, "totp");
	if (totp_enabled && code != NULL) {
		ls->totp_step =
			mfa_check(json_string_value(json_object_get(row, "totp_secret")), code,
				  json_integer_value(json_object_get(row, "totp_last_step")));
		if (ls->totp_step < 0) {
			login_fail(c, "wrong second factor code");
			return;
		}
	} else if (totp_enabled) {
		ls->pending = true;
	}
	ls->enrol_only = !totp_enabled && json_is_true(json_object_get(row, "require_2fa"));
	session_create(c);
}

static void
user_loaded(struct call *c, json_t *row)
{
	struct login_state *ls = login_state(c);

	ls->row = row;
	if (row != NULL && !auth_principal_from_json(&c->who, json_object_get(row, "principal"))) {
		call_fail(c, API_INTERNAL, "internal error (logged)");
		return;
	}
	hashing_verify(c, row ? json_string_value(json_object_get(row, "hash")) : NULL,
		       call_arg_str(c, "password"), password_checked);
}

static void
login_not_throttled(struct call *c)
{
	static const char sql[] =
		"SELECT json_build_object('principal', " AUTH_PRINCIPAL_JSON
		", 'public', " USER_JSON
		", 'hash', u.password_hash, 'totp_enabled', u.totp_enabled, 'totp_secret', "
		"u.totp_secret, 'totp_last_step', u.totp_last_step, 'require_2fa', EXISTS (SELECT "
		"1 "
		"FROM accounts x WHERE x.id = ANY(a.path) AND x.require_2fa)) "
		"FROM users u JOIN accounts a ON a.id = u.account_id "
		"WHERE lower(u.username) = lower($1) AND " AUTH_ACCOUNT_ENABLED;
	const char *params[] = {call_arg_str(c, "username")};

	call_sql_json(c, sql, 1, params, user_loaded);
}

void
op_login(struct call *c)
{
	check_throttle(c, login_not_throttled);
}

/* login-totp: the pending session proves the password; now the code. */
static void
totp_row_loaded(struct call *c, json_t *row)
{
	struct login_state *ls = login_state(c);

	ls->row = row;
	if (row == NULL) {
		call_fail(c, API_UNAUTHENTICATED, "not logged in");
		return;
	}
	ls->totp_step = mfa_check(json_string_value(json_object_get(row, "totp_secret")),
				  call_arg_str(c, "code"),
				  json_integer_value(json_object_get(row, "totp_last_step")));
	if (ls->totp_step < 0) {
		login_fail(c, "wrong second factor code");
		return;
	}
	session_create(c);
}

static void
login_totp_not_throttled(struct call *c)
{
	static const char sql[] =
		"SELECT json_build_object('public', " USER_JSON ", 'totp_secret', u.totp_secret, "
		"'totp_last_step', u.totp_last_step) FROM users u WHERE u.id = $1 AND "
		"u.totp_enabled";
	call_sql_json_id(c, sql, c->who.user_id, totp_row_loaded);
}

void
op_login_totp(struct call *c)
{
	if (c->who.kind != AUTH_SESSION || !c->who.mfa_pending) {
		call_fail(c, API_CONFLICT, "no second factor is pending for this session");
		return;
	}
	check_throttle(c, login_totp_not_throttled);
}

static void
logged_out(struct call *c, const PGresult *res)
{
	c->set_cookie = strdup(SESSION_COOKIE "=; Path=/; HttpOnly; Secure; SameSite=Strict; "
					      "Max-Age=0");
	call_reply(c, json_object());
}

void
op_logout(struct call *c)
{
	static const char sql[] =
		"WITH s AS (DELETE FROM sessions WHERE id = $1 RETURNING user_id) "
		"INSERT INTO audit (user_id, username, scope_path, event, client_ip) "
		"SELECT $2::bigint, $3, $4::bigint[], 'logout', $5 FROM s";
	char sid[24], uid[24], path[MAX_PATH * 24];

	if (c->who.kind != AUTH_SESSION) {
		call_fail(c, API_INVALID,
			  "logout ends a session; revoke a token with token-revoke");
		return;
	}
	const char *params[] = {
		call_i64(sid, c->who.session_id), call_i64(uid, c->who.user_id), c->who.username,
		call_path_text(c->who.path, c->who.path_len, path, sizeof(path)), c->client_ip};
	call_sql(c, sql, 5, params, logged_out);
}

static void
whoami_loaded(struct call *c, json_t *row)
{
	const struct principal *who = &c->who;
	json_t *privs = json_array();

	if (row == NULL) {
		call_fail(c, API_UNAUTHENTICATED, "not logged in");
		return;
	}
	uint32_t own = call_privs(c, who->path, who->path_len, 0, 0);
	for (int i = 0; i < PRIV_COUNT; i++)
		if (own & (1u << i))
			json_array_append_new(privs, json_string(rights_priv_name(1u << i)));
	json_object_set_new(row, "auth",
			    json_string(who->kind == AUTH_TOKEN	     ? "token"
					: who->kind == AUTH_PASSWORD ? "password"
								     : "session"));
	json_object_set_new(row, "account_privileges", privs);
	json_object_set_new(row, "totp_required", json_boolean(who->mfa_pending));
	json_object_set_new(row, "totp_enrol_required", json_boolean(who->enrol_only));
	if (who->kind == AUTH_SESSION)
		json_object_set_new(row, "csrf_token", json_string(who->csrf));
	call_reply(c, row);
}

void
op_whoami(struct call *c)
{
	static const char sql[] =
		"SELECT json_build_object('user', " USER_JSON ", 'account', " ACCOUNT_JSON ", "
		"'grants', coalesce((SELECT json_agg(" GRANT_JSON " ORDER BY g.id) FROM grants g "
		"WHERE g.user_id = u.id), '[]')) "
		"FROM users u JOIN accounts a ON a.id = u.account_id WHERE u.id = $1";
	call_sql_json_id(c, sql, c->who.user_id, whoami_loaded);
}
