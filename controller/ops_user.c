/*
 * User operations. Users belong to one account and are managed by holders of user.manage there;
 * every user may read and change itself (name, e-mail, password with the old one). A new
 * password is hashed on the worker pool, never on the loop.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hashing.h"
#include "objects.h"
#include "ops.h"
#include "password.h"
#include "server.h"

static bool
policy_ok(struct call *c, const char *pw)
{
	const char *why = NULL;

	if (!password_policy_ok(pw, &why)) {
		call_fail(c, API_INVALID, "password: %s", why ? why : "not acceptable");
		return false;
	}
	return true;
}

static void
user_inserted(struct call *c, json_t *obj)
{
	c->subject.type = "user";
	ops_reply_changed(c, obj);
}

static void
create_hashed(struct call *c, const char *hash)
{
	static const char sql[] =
		"WITH u AS (INSERT INTO users (account_id, username, password_hash, email, "
		"display_name) VALUES ($1, $2, $3, $4, $5) RETURNING *), "
		"g AS (INSERT INTO grants (user_id, scope_type, scope_id, role, created_by) "
		"SELECT u.id, 'account', $1::bigint, $6::text, $7::bigint FROM u WHERE $6::text IS "
		"NOT NULL) "
		"SELECT " USER_JSON " FROM u";
	char acct[24], by[24];
	const char *params[] = {call_i64(acct, c->subject.id),
				call_arg_str(c, "username"),
				hash,
				call_arg_str(c, "email"),
				call_arg_str(c, "display_name"),
				call_arg_str(c, "role"),
				call_i64(by, c->who.user_id)};

	ops_subject_new(c, "user", call_arg_str(c, "username"));
	call_sql_json(c, sql, 7, params, user_inserted);
}

static void
create_resolved(struct call *c)
{
	const char *role = call_arg_str(c, "role");
	enum role r;

	if (role != NULL && rights_role_parse(role, &r) &&
	    (c->subject.privs & rights_role_privs(r)) != rights_role_privs(r)) {
		call_fail(c, API_DENIED,
			  "you cannot give the role '%s': it has privileges you lack", role);
		return;
	}
	if (!policy_ok(c, call_arg_str(c, "password")))
		return;
	hashing_hash(c, call_arg_str(c, "password"), create_hashed);
}

void
op_user_create(struct call *c)
{
	call_resolve(c, "account", call_arg_int(c, "account_id", 0), PRIV_USER_MANAGE,
		     create_resolved);
}

void
op_user_list(struct call *c)
{
	static const char sql[] =
		"SELECT coalesce(json_agg(" USER_JSON
		"::jsonb || jsonb_build_object('_scope', " SCOPE_JSON(
			"a.path", "0", "0",
			"u.id") ") ORDER BY u.id), '[]') "
				"FROM users u JOIN accounts a ON a.id = u.account_id "
				"WHERE a.path @> ARRAY[$1::bigint] AND ($2::bigint IS NULL OR "
				"u.account_id = $2)";
	ops_list_subtree(c, sql, "account_id", PRIV_USER_MANAGE | PRIV_ACCOUNT_VIEW);
}

static void
get_resolved(struct call *c)
{
	static const char sql[] = "SELECT " USER_JSON " FROM users u WHERE u.id = $1";
	call_sql_json_id(c, sql, c->subject.id, ops_reply_object);
}

void
op_user_get(struct call *c)
{
	call_resolve(c, "user", call_arg_int(c, "id", 0), 0, get_resolved);
}

static bool
is_self(const struct call *c)
{
	return c->subject.id == c->who.user_id;
}

static void
update_resolved(struct call *c)
{
	static const char sql[] =
		"WITH u AS (UPDATE users SET email = CASE WHEN $2::bool THEN $3 ELSE email END, "
		"display_name = CASE WHEN $4::bool THEN $5 ELSE display_name END, "
		"enabled = coalesce($6::bool, enabled) WHERE id = $1 RETURNING *), "
		"s AS (DELETE FROM sessions WHERE user_id = $1 AND $6::bool = false) "
		"SELECT " USER_JSON " FROM u";
	char id[24], en[8];
	bool manage = (c->subject.privs & PRIV_USER_MANAGE) != 0;

	if (!manage && !is_self(c)) {
		call_fail(c, API_DENIED, "you may not change user '%s'", c->subject.name);
		return;
	}
	if (call_arg_has(c, "enabled") && (!manage || is_self(c))) {
		call_fail(c, API_DENIED, "users cannot enable or disable themselves");
		return;
	}
	const char *params[] = {
		call_i64(id, c->subject.id),	 call_arg_has(c, "email") ? "true" : "false",
		call_arg_str(c, "email"),	 call_arg_has(c, "display_name") ? "true" : "false",
		call_arg_str(c, "display_name"), call_arg_text(c, "enabled", en, sizeof(en))};
	call_sql_json(c, sql, 6, params, ops_reply_changed);
}

void
op_user_update(struct call *c)
{
	call_resolve(c, "user", call_arg_int(c, "id", 0), 0, update_resolved);
}

static void
delete_resolved(struct call *c)
{
	static const char sql[] = "DELETE FROM users u WHERE u.id = $1 RETURNING " USER_JSON;
	char id[24];

	if (is_self(c)) {
		call_fail(c, API_CONFLICT, "you cannot delete yourself");
		return;
	}
	const char *params[] = {call_i64(id, c->subject.id)};
	call_sql_json(c, sql, 1, params, ops_reply_changed);
}

void
op_user_delete(struct call *c)
{
	call_resolve(c, "user", call_arg_int(c, "id", 0), PRIV_USER_MANAGE, delete_resolved);
}

/* Changing a password ends the user's other sessions. */
static void
password_hashed(struct call *c, const char *hash)
{
	static const char sql[] =
		"WITH u AS (UPDATE users SET password_hash = $2 WHERE id = $1 RETURNING *), "
		"s AS (DELETE FROM sessions WHERE user_id = $1 AND id <> $3::bigint) "
		"SELECT " USER_JSON " FROM u";
	char id[24], sid[24];
	const char *params[] = {call_i64(id, c->subject.id), hash,
				call_i64(sid, c->who.session_id)};

	call_sql_json(c, sql, 3, params, ops_reply_changed);
}

static void
old_password_checked(struct call *c, int match, const char *rehash)
{
	if (!match) {
		call_fail(c, API_DENIED, "the old password is wrong");
		return;
	}
	hashing_hash(c, call_arg_str(c, "password"), password_hashed);
}

static void
old_hash_loaded(struct call *c, json_t *hash)
{
	if (!json_is_string(hash)) {
		json_decref(hash);
		call_fail(c, API_NOT_FOUND, "user not found");
		return;
	}
	hashing_verify(c, json_string_value(hash), call_arg_str(c, "old_password"),
		       old_password_checked);
	json_decref(hash);
}

static void
set_password_resolved(struct call *c)
{
	static const char sql[] = "SELECT to_json(password_hash) FROM users WHERE id = $1";
	char id[24];

	if (!policy_ok(c, call_arg_str(c, "password")))
		return;
	if (!is_self(c)) {
		if (!(c->subject.privs & PRIV_USER_MANAGE)) {
			call_fail(c, API_DENIED, "you may not set the password of '%s'",
				  c->subject.name);
			return;
		}
		hashing_hash(c, call_arg_str(c, "password"), password_hashed);
		return;
	}
	if (call_arg_str(c, "old_password") == NULL) {
		call_fail(c, API_INVALID, "changing your own password needs old_password");
		return;
	}
	const char *params[] = {call_i64(id, c->subject.id)};
	call_sql_json(c, sql, 1, params, old_hash_loaded);
}

void
op_user_set_password(struct call *c)
{
	call_resolve(c, "user", call_arg_int(c, "id", 0), 0, set_password_resolved);
}
