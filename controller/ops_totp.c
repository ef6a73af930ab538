/*
 * TOTP enrolment: totp-enrol creates a secret that stays pending until totp-confirm proves the
 * authenticator has it (so a half-finished enrolment never locks anybody out); totp-disable needs
 * a current code, or user.manage over another user who lost the device.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "mfa.h"
#include "objects.h"
#include "ops.h"
#include "qrpng.h"
#include "secret.h"
#include "server.h"
#include "totp.h"

static void
self_subject(struct call *c)
{
	c->subject.type = "user";
	c->subject.id = c->who.user_id;
	snprintf(c->subject.name, sizeof(c->subject.name), "%s", c->who.username);
	memcpy(c->subject.path, c->who.path, sizeof(c->subject.path));
	c->subject.path_len = c->who.path_len;
	c->subject.set = true;
}

struct enrol {
	char *b32;
};

static void
enrol_free(void *p)
{
	struct enrol *e = p;
	if (e->b32)
		explicit_bzero(e->b32, strlen(e->b32));
	free(e->b32);
	free(e);
}

static void
enrol_stored(struct call *c, const PGresult *res)
{
	struct enrol *e = c->state;
	unsigned char *png = NULL;
	size_t png_len = 0;

	if (PQntuples(res) != 1) {
		call_fail(c, API_CONFLICT, "TOTP is already enabled; disable it first");
		return;
	}
	char *uri = totp_uri(c->srv->settings.totp_issuer, c->who.username, e->b32);
	if (uri == NULL || qrpng_encode(uri, &png, &png_len) != 0) {
		free(uri);
		call_fail(c, API_INTERNAL, "cannot build the enrolment QR code");
		return;
	}
	char *png64 = secret_base64(png, png_len);
	free(png);
	json_t *result = json_pack("{s:s, s:s, s:s*}", "otpauth_uri", uri, "secret_base32", e->b32,
				   "qr_png_base64", png64);
	free(uri);
	free(png64);
	call_reply(c, result);
}

void
op_totp_enrol(struct call *c)
{
	static const char sql[] = "UPDATE users SET totp_pending_secret = $2 WHERE id = $1 AND "
				  "NOT totp_enabled RETURNING id";
	unsigned char secret[TOTP_SECRET_BYTES];
	char uid[24];
	struct enrol *e = calloc(1, sizeof(*e));

	self_subject(c);
	if (e == NULL || totp_new_secret(secret) != 0 ||
	    (e->b32 = totp_base32_encode(secret, sizeof(secret))) == NULL) {
		if (e)
			enrol_free(e);
		call_fail(c, API_INTERNAL, "cannot create a TOTP secret");
		return;
	}
	explicit_bzero(secret, sizeof(secret));
	c->state = e;
	c->state_free = enrol_free;
	const char *params[] = {call_i64(uid, c->who.user_id), e->b32};
	call_sql(c, sql, 2, params, enrol_stored);
}

static void
confirmed(struct call *c, const PGresult *res)
{
	if (PQntuples(res) != 1) {
		call_fail(c, API_DENIED, "the code was already used");
		return;
	}
	call_reply(c, json_pack("{s:b}", "totp_enabled", 1));
}

static void
confirm_loaded(struct call *c, json_t *row)
{
	static const char sql[] =
		"WITH u AS (UPDATE users SET totp_secret = totp_pending_secret, totp_enabled = "
		"true, "
		"totp_pending_secret = NULL, totp_last_step = $2::bigint WHERE id = $1 AND "
		"totp_pending_secret IS NOT NULL AND totp_last_step < $2::bigint RETURNING id), "
		"s AS (UPDATE sessions SET enrol_only = false WHERE id = $3::bigint AND "
		"EXISTS (SELECT 1 FROM u)) SELECT id FROM u";
	char uid[24], st[24], sid[24];
	const char *pending = json_string_value(json_object_get(row, "pending"));

	if (pending == NULL) {
		json_decref(row);
		call_fail(c, API_CONFLICT, "no TOTP enrolment is pending; call totp-enrol first");
		return;
	}
	int64_t step = mfa_check(pending, call_arg_str(c, "code"),
				 json_integer_value(json_object_get(row, "last_step")));
	json_decref(row);
	if (step < 0) {
		call_fail(c, API_DENIED, "wrong code");
		return;
	}
	const char *params[] = {call_i64(uid, c->who.user_id), call_i64(st, step),
				call_i64(sid, c->who.session_id)};
	call_sql(c, sql, 3, params, confirmed);
}

void
op_totp_confirm(struct call *c)
{
	static const char sql[] = "SELECT json_build_object('pending', totp_pending_secret, "
				  "'last_step', totp_last_step) FROM users WHERE id = $1";
	char uid[24];
	const char *params[] = {call_i64(uid, c->who.user_id)};

	self_subject(c);
	call_sql_json(c, sql, 1, params, confirm_loaded);
}

static void
disabled(struct call *c, const PGresult *res)
{
	if (PQntuples(res) != 1) {
		call_fail(c, API_CONFLICT, "TOTP is not enabled (or the code was already used)");
		return;
	}
	call_reply(c, json_pack("{s:b}", "totp_enabled", 0));
}

static const char disable_sql[] =
	"UPDATE users SET totp_enabled = false, totp_secret = NULL, totp_pending_secret = NULL, "
	"totp_last_step = greatest(totp_last_step, coalesce($2::bigint, -1)) WHERE id = $1 AND "
	"totp_enabled AND ($2::bigint IS NULL OR totp_last_step < $2::bigint) RETURNING id";

static void
disable_self_loaded(struct call *c, json_t *row)
{
	char uid[24], st[24];
	int64_t step = -1;

	if (row != NULL)
		step = mfa_check(json_string_value(json_object_get(row, "secret")),
				 call_arg_str(c, "code"),
				 json_integer_value(json_object_get(row, "last_step")));
	json_decref(row);
	if (row == NULL) {
		call_fail(c, API_CONFLICT, "TOTP is not enabled");
		return;
	}
	if (step < 0) {
		call_fail(c, API_DENIED, "wrong code");
		return;
	}
	const char *params[] = {call_i64(uid, c->who.user_id), call_i64(st, step)};
	call_sql(c, disable_sql, 2, params, disabled);
}

static void
disable_other_resolved(struct call *c)
{
	char uid[24];
	const char *params[] = {call_i64(uid, c->subject.id), NULL};

	call_sql(c, disable_sql, 2, params, disabled);
}

void
op_totp_disable(struct call *c)
{
	static const char sql[] = "SELECT json_build_object('secret', totp_secret, 'last_step', "
				  "totp_last_step) FROM users WHERE id = $1 AND totp_enabled";
	int64_t target = call_arg_int(c, "user_id", c->who.user_id);
	char uid[24];

	if (target != c->who.user_id) {
		call_resolve(c, "user", target, PRIV_USER_MANAGE, disable_other_resolved);
		return;
	}
	if (call_arg_str(c, "code") == NULL) {
		call_fail(c, API_INVALID, "disabling your own TOTP needs a current code");
		return;
	}
	self_subject(c);
	const char *params[] = {call_i64(uid, c->who.user_id)};
	call_sql_json(c, sql, 1, params, disable_self_loaded);
}
