/*
 * Request authentication: turns a session cookie or a Bearer token into a principal (user, account
 * path, grants, token restrictions), enforcing session timeouts, token expiry and revocation.
 */
#ifndef WEBRACK_AUTH_H
#define WEBRACK_AUTH_H

#include "call.h"

#define SESSION_COOKIE "wr_session"

/* Fill c->who from the credentials the binding stored in c; next runs only on success. */
void auth_authenticate(struct call *c, call_done_fn next);

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
