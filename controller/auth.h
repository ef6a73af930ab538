/*
 * Request authentication: turns a session cookie or a Bearer token into a principal (user, account
 * path, grants, token restrictions), enforcing session timeouts, token expiry and revocation.
 */
#ifndef WEBRACK_AUTH_H
#define WEBRACK_AUTH_H

#include <time.h>

#include "call.h"

#define SESSION_COOKIE "wr_session"

/*
 * webrackd start-up, after db_new(): create srv->auth_cache (settings auth_cache_ttl,
 * auth_cache_entries) and make the database pool listen for its invalidations.
 */
bool auth_start(struct server *srv) __attribute__((warn_unused_result));
/* True when the auth cache may be used now: on, and every database session listens. */
bool auth_cache_usable(const struct server *srv);
/*
 * The same for the vServer read cache (srv->vserver_cache, settings vserver_cache_ttl and
 * vserver_cache_entries), which auth_start() creates too: both are emptied by the
 * notifications of one channel (auth.c, notified()).
 */
bool vserver_cache_usable(const struct server *srv);

/*
 * Fill c->who from the credentials the binding stored in c; next runs only on success (at once,
 * before this returns, when an API token's principal is cached).
 */
void auth_authenticate(struct call *c, call_done_fn next);

/*
 * Login throttling, shared by login, login-totp and the SOAP UsernameToken: next runs when the
 * username and the client address are below their failure limits; otherwise the call is
 * answered throttled (and audited) without looking at the password.
 */
void auth_throttle_check(struct call *c, const char *username, call_done_fn next);

/*
 * Record a failed login (login_failures for throttling, an audit row naming why) and answer
 * unauthenticated with message. c->who names the user when known.
 */
void auth_login_failed(struct call *c, const char *username, const char *why, const char *message);

/* A WS-Security UsernameToken as the SOAP binding received it (strings live as long as c). */
struct auth_wsse {
	const char *username;
	const char *password;
	const char *nonce;
	time_t created;
};

/*
 * Authenticate c by a UsernameToken (auth_wsse.c): Created within soap_wsse_window, the
 * throttle, the nonce never seen before (PostgreSQL), then the password through the same
 * argon2 path as login. Users with TOTP (or who must enrol it) are refused: they use API tokens.
 * Sets who->kind = AUTH_PASSWORD; next runs only on success.
 */
void auth_wsse(struct call *c, const struct auth_wsse *cred, call_done_fn next);

/* Forget nonces whose Created can no longer pass the window (maintenance). */
void auth_wsse_cleanup(struct server *srv);

/* Fill c->who from a JSON principal as produced by the auth queries (also used by login). */
bool auth_principal_from_json(struct principal *who, json_t *j) __attribute__((warn_unused_result));

/* The SQL fragment building that JSON for users u joined with accounts a. */
#define AUTH_PRINCIPAL_JSON                                                                        \
	"json_build_object('id', u.id, 'username', u.username, 'account_id', u.account_id, "       \
	"'path', a.path, 'totp_enabled', u.totp_enabled, 'grants', "                               \
	"coalesce((SELECT json_agg(json_build_object('id', g.id, 'scope_type', g.scope_type, "     \
	"'scope_id', g.scope_id, 'role', g.role) ORDER BY g.id) FROM grants g "                    \
	"WHERE g.user_id = u.id), '[]'))"

/* Users whose account or any ancestor account is disabled cannot authenticate. */
#define AUTH_ACCOUNT_ENABLED                                                                       \
	"u.enabled AND NOT EXISTS (SELECT 1 FROM accounts x WHERE x.id = ANY(a.path) AND NOT "     \
	"x.enabled)"

#endif
