/*
 * Authentication of API calls. Sessions and tokens are looked up by the SHA-256 of the secret the
 * client presents, so a stolen database dump holds no usable credential. Identity comes only from
 * these rows, never from the request body.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api_ops.h"
#include "auth.h"
#include "auth_cache.h"
#include "log.h"
#include "secret.h"
#include "server.h"
#include "vserver_cache.h"

static double
now_real(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

bool
auth_principal_from_json(struct principal *who, json_t *j)
{
	json_t *path = json_object_get(j, "path"), *grants = json_object_get(j, "grants");
	size_t i;
	json_t *e;

	if (!json_is_object(j) || !json_is_array(path) || !json_is_array(grants))
		return false;
	who->user_id = json_integer_value(json_object_get(j, "id"));
	snprintf(who->username, sizeof(who->username), "%s",
		 json_string_value(json_object_get(j, "username")) ?: "");
	who->account_id = json_integer_value(json_object_get(j, "account_id"));
	who->totp_enabled = json_is_true(json_object_get(j, "totp_enabled"));
	who->path_len = 0;
	json_array_foreach (path, i, e) {
		if (who->path_len >= MAX_PATH)
			return false;
		who->path[who->path_len++] = json_integer_value(e);
	}
	who->ngrants = 0;
	json_array_foreach (grants, i, e) {
		struct grant *g;
		if (who->ngrants >= MAX_GRANTS) {
			log_warn("user %s has more than %d grants; ignoring the rest",
				 who->username, MAX_GRANTS);
			break;
		}
		g = &who->grants[who->ngrants];
		g->id = json_integer_value(json_object_get(e, "id"));
		g->scope_id = json_integer_value(json_object_get(e, "scope_id"));
		const char *st = json_string_value(json_object_get(e, "scope_type"));
		const char *role = json_string_value(json_object_get(e, "role"));
		if (st == NULL || role == NULL || !rights_scope_parse(st, &g->scope_type) ||
		    !rights_role_parse(role, &g->role))
			return false;
		who->ngrants++;
	}
	return who->user_id > 0;
}

static void
authenticated(struct call *c, json_t *j)
{
	call_done_fn next = c->resolving.next;

	if (j == NULL) {
		call_fail(c, API_UNAUTHENTICATED, "not logged in, or the session or token expired");
		return;
	}
	struct principal *who = &c->who;
	bool ok = auth_principal_from_json(who, json_object_get(j, "user"));
	if (ok && c->bearer != NULL) {
		json_t *privs = json_object_get(j, "privileges");
		who->kind = AUTH_TOKEN;
		who->token_id = json_integer_value(json_object_get(j, "token_id"));
		who->token_mask = PRIV_ALL;
		if (json_is_array(privs)) {
			size_t i;
			json_t *e;
			who->token_mask = 0;
			json_array_foreach (privs, i, e) {
				uint32_t bit;
				if (json_is_string(e) &&
				    rights_priv_parse(json_string_value(e), &bit))
					who->token_mask |= bit;
			}
		}
		if (c->auth.cacheable) {
			/* Until the TTL or the token's expiry, whichever comes first. */
			double now = now_real();
			double until = now + (double)c->srv->settings.auth_cache_ttl;
			json_t *expires = json_object_get(j, "expires");
			if (json_is_number(expires) && json_number_value(expires) < until)
				until = json_number_value(expires);
			auth_cache_put(c->srv->auth_cache, c->auth.key, c->auth.gen, now, until,
				       who);
		}
	} else if (ok) {
		who->kind = AUTH_SESSION;
		who->token_mask = PRIV_ALL;
		who->session_id = json_integer_value(json_object_get(j, "session_id"));
		who->mfa_pending = json_is_true(json_object_get(j, "mfa_pending"));
		who->enrol_only = json_is_true(json_object_get(j, "enrol_only"));
		snprintf(who->csrf, sizeof(who->csrf), "%s",
			 json_string_value(json_object_get(j, "csrf")) ?: "");
	}
	json_decref(j);
	if (!ok) {
		log_error("malformed principal for %s", c->op->name);
		call_fail(c, API_INTERNAL, "internal error (logged)");
		return;
	}
	next(c);
}

void
auth_authenticate(struct call *c, call_done_fn next)
{
	static const char session_sql[] =
		"WITH s AS (UPDATE sessions SET last_seen = now() WHERE token_hash = $1 "
		"AND last_seen > now() - make_interval(secs => $2::int) "
		"AND created_at > now() - make_interval(secs => $3::int) "
		"RETURNING id, user_id, csrf_token, mfa_pending, enrol_only) "
		"SELECT json_build_object('session_id', s.id, 'csrf', s.csrf_token, "
		"'mfa_pending', s.mfa_pending, 'enrol_only', s.enrol_only, "
		"'user', " AUTH_PRINCIPAL_JSON ") "
		"FROM s JOIN users u ON u.id = s.user_id JOIN accounts a ON a.id = u.account_id "
		"WHERE " AUTH_ACCOUNT_ENABLED;
	/* Token use is audited, but at most once a minute per token, to keep scripts cheap. */
	static const char token_sql[] =
		"WITH t AS (SELECT * FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL "
		"AND expires_at > now()), "
		"touch AS (UPDATE api_tokens k SET last_used_at = now() FROM t WHERE k.id = t.id "
		"AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute') "
		"RETURNING k.id, k.user_id, k.name), "
		"aud AS (INSERT INTO audit (user_id, username, scope_path, event, object_type, "
		"object_id, detail, client_ip) SELECT u.id, u.username, a.path, 'token.use', "
		"'token', "
		"touch.id, touch.name, $2 FROM touch JOIN users u ON u.id = touch.user_id "
		"JOIN accounts a ON a.id = u.account_id) "
		"SELECT json_build_object('token_id', t.id, 'privileges', t.privileges, "
		"'expires', extract(epoch FROM t.expires_at)::float8, "
		"'user', " AUTH_PRINCIPAL_JSON ") "
		"FROM t JOIN users u ON u.id = t.user_id JOIN accounts a ON a.id = u.account_id "
		"WHERE " AUTH_ACCOUNT_ENABLED;
	char hash[65], idle[24], absolute[24];
	const struct settings *s = &c->srv->settings;

	c->resolving.next = next;
	if (c->bearer != NULL) {
		secret_sha256_hex(c->bearer, strlen(c->bearer), hash);
		if (auth_cache_usable(c->srv)) {
			if (auth_cache_get(c->srv->auth_cache, hash, now_real(), &c->who)) {
				next(c);
				return;
			}
			c->auth.cacheable = true;
			c->auth.gen = auth_cache_generation(c->srv->auth_cache);
			memcpy(c->auth.key, hash, sizeof(c->auth.key));
		}
		const char *params[] = {hash, c->client_ip};
		call_sql_json(c, token_sql, 2, params, authenticated);
		return;
	}
	if (c->session_cookie == NULL) {
		call_fail(c, API_UNAUTHENTICATED, "not logged in");
		return;
	}
	secret_sha256_hex(c->session_cookie, strlen(c->session_cookie), hash);
	const char *params[] = {hash, call_i64(idle, s->session_idle_timeout),
				call_i64(absolute, s->session_absolute_timeout)};
	call_sql_json(c, session_sql, 3, params, authenticated);
}

static void
throttle_checked(struct call *c, json_t *row)
{
	bool yes = json_is_true(json_object_get(row, "throttled"));

	if (yes) {
		log_warn("login for '%s' from %s throttled",
			 json_string_value(json_object_get(row, "username")) ?: "-", c->client_ip);
		json_decref(row);
		call_fail(c, API_THROTTLED, "too many failed logins; try again later");
		return;
	}
	json_decref(row);
	c->resolving.next(c);
}

void
auth_throttle_check(struct call *c, const char *username, call_done_fn next)
{
	static const char sql[] =
		"WITH th AS (SELECT (SELECT count(*) FROM login_failures WHERE lower(username) = "
		"lower($1) AND at > now() - make_interval(secs => $3::int)) >= $4::int OR "
		"(SELECT count(*) FROM login_failures WHERE client_ip = $2 AND at > now() - "
		"make_interval(secs => $3::int)) >= $5::int AS throttled), "
		"a AS (INSERT INTO audit (username, event, client_ip) SELECT $1, "
		"'login.throttled', $2 "
		"FROM th WHERE throttled) SELECT json_build_object('throttled', throttled, "
		"'username', $1::text) FROM th";
	const struct settings *s = &c->srv->settings;
	char win[24], mu[24], mi[24];
	const char *params[] = {username, c->client_ip, call_i64(win, s->login_window),
				call_i64(mu, s->login_max_user_failures),
				call_i64(mi, s->login_max_ip_failures)};

	c->resolving.next = next;
	call_sql_json(c, sql, 5, params, throttle_checked);
}

static void
failure_recorded(struct call *c, const PGresult *res)
{
	call_fail(c, API_UNAUTHENTICATED, "%s",
		  PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "authentication failed");
}

void
auth_login_failed(struct call *c, const char *username, const char *why, const char *message)
{
	static const char sql[] =
		"WITH f AS (INSERT INTO login_failures (username, client_ip) VALUES ($1, $2)) "
		"INSERT INTO audit (user_id, username, scope_path, event, detail, client_ip) "
		"VALUES (nullif($3, '0')::bigint, $1, $4::bigint[], 'login.failed', $5, $2) "
		"RETURNING $6::text";
	char uid[24], path[MAX_PATH * 24];
	const char *params[] = {
		username,
		c->client_ip,
		call_i64(uid, c->who.user_id),
		c->who.user_id ? call_path_text(c->who.path, c->who.path_len, path, sizeof(path))
			       : NULL,
		why,
		message};

	log_info("failed login for '%s' from %s: %s", username, c->client_ip, why);
	call_sql(c, sql, 6, params, failure_recorded);
}
/* Notifications about tables only the vServer cache depends on (sql/020_vserver_cache.sql). */
static bool
vserver_only(const char *table)
{
	static const char *const tables[] = {"vservers", "nics", "guest_ips", "isos", "nodes"};

	for (size_t i = 0; table != NULL && i < sizeof(tables) / sizeof(tables[0]); i++)
		if (strcmp(table, tables[i]) == 0)
			return true;
	return false;
}

/*
 * Any change to credentials or rights (sql/014_auth_cache.sql) or to what vserver-get returns
 * (sql/020_vserver_cache.sql), or a session that (re)started listening: forget every cached
 * vServer, and every cached principal unless the change was about vServers only.
 */
static void
notified(void *arg, const char *channel, const char *extra)
{
	struct server *srv = arg;

	vserver_cache_invalidate(srv->vserver_cache);
	if (channel != NULL && vserver_only(extra))
		return;

	if (channel != NULL)
		log_debug("auth cache: %s notified '%s': %zu entries dropped", channel,
			  extra ? extra : "", auth_cache_count(srv->auth_cache));
	else
		log_debug("auth cache: a database session (re)started listening: %zu entries "
			  "dropped",
			  auth_cache_count(srv->auth_cache));
	auth_cache_invalidate(srv->auth_cache);
}

bool
auth_start(struct server *srv)
{
	srv->auth_cache = auth_cache_new((size_t)srv->settings.auth_cache_entries);
	srv->vserver_cache = vserver_cache_new((size_t)srv->settings.vserver_cache_entries);
	if (srv->auth_cache == NULL || srv->vserver_cache == NULL)
		return false;
	db_listen(srv->db, AUTH_CACHE_CHANNEL, notified, srv);
	return true;
}

bool
auth_cache_usable(const struct server *srv)
{
	return srv->auth_cache != NULL && srv->settings.auth_cache_ttl > 0 &&
	       srv->settings.auth_cache_entries > 0 && db_listening_all();
}

bool
vserver_cache_usable(const struct server *srv)
{
	return srv->vserver_cache != NULL && srv->settings.vserver_cache_ttl > 0 &&
	       srv->settings.vserver_cache_entries > 0 && db_listening_all();
}
