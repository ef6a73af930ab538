/*
 * API tokens for scripts: shown once at creation, stored as SHA-256, expiring, revocable, and
 * optionally restricted to a subset of the owner's privileges. Tokens belong to their user alone;
 * a token cannot mint further tokens.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "objects.h"
#include "ops.h"
#include "secret.h"
#include "server.h"

#define TOKEN_PREFIX "wrt_"

static void
token_inserted(struct call *c, json_t *obj)
{
	char *secret = c->state;

	if (obj == NULL) {
		call_fail(c, API_INTERNAL, "internal error (logged)");
		return;
	}
	c->subject.type = "token";
	c->subject.id = json_integer_value(json_object_get(obj, "id"));
	snprintf(c->subject.name, sizeof(c->subject.name), "%s",
		 json_string_value(json_object_get(obj, "name")));
	call_reply(c, json_pack("{s:o, s:s}", "token", obj, "secret", secret));
}

static void
secret_free(void *p)
{
	if (p != NULL)
		explicit_bzero(p, strlen(p));
	free(p);
}

void
op_token_create(struct call *c)
{
	static const char sql[] =
		"INSERT INTO api_tokens AS t (user_id, name, token_hash, privileges, expires_at) "
		"VALUES ($1, $2, $3, $4::text[], now() + make_interval(days => $5::int)) "
		"RETURNING " TOKEN_JSON;
	char uid[24], days[24], hash[65], privs[1024];

	/* A token never mints tokens; a password (session or SOAP UsernameToken) must. */
	if (c->who.kind != AUTH_SESSION && c->who.kind != AUTH_PASSWORD) {
		call_fail(c, API_DENIED, "tokens are created from a logged-in session");
		return;
	}
	char *secret = secret_new_token(TOKEN_PREFIX, 32);
	if (secret == NULL) {
		call_fail(c, API_INTERNAL, "cannot create a token");
		return;
	}
	c->state = secret;
	c->state_free = secret_free;
	secret_sha256_hex(secret, strlen(secret), hash);
	const char *params[] = {call_i64(uid, c->who.user_id), call_arg_str(c, "name"), hash,
				call_arg_text(c, "privileges", privs, sizeof(privs)),
				call_i64(days, call_arg_int(c, "expires_days", 90))};
	call_sql_json(c, sql, 5, params, token_inserted);
}

static void
listed(struct call *c, json_t *items)
{
	call_reply(c, json_pack("{s:o}", "items", items ? items : json_array()));
}

void
op_token_list(struct call *c)
{
	static const char sql[] =
		"SELECT coalesce(json_agg(" TOKEN_JSON " ORDER BY t.id), '[]') FROM api_tokens t "
		"WHERE t.user_id = $1 AND t.revoked_at IS NULL AND t.expires_at > now()";
	call_sql_json_id(c, sql, c->who.user_id, listed);
}

static void
revoke_resolved(struct call *c)
{
	static const char sql[] =
		"UPDATE api_tokens t SET revoked_at = now() WHERE t.id = $1 AND t.user_id = $2 "
		"RETURNING " TOKEN_JSON;
	char id[24], uid[24];
	const char *params[] = {call_i64(id, c->subject.id), call_i64(uid, c->who.user_id)};

	call_sql_json(c, sql, 2, params, ops_reply_changed);
}

void
op_token_revoke(struct call *c)
{
	/* Only the owner sees a token: anyone else's is "not found". */
	call_resolve(c, "token", call_arg_int(c, "id", 0), 0, revoke_resolved);
}
