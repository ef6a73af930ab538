/*
 * Account operations: the provider -> reseller -> customer tree and its quotas. An account is
 * shaped by its parent: creating, changing quotas of, disabling and deleting an account need
 * account.manage on the parent, so a customer can never raise its own quota.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "objects.h"
#include "ops.h"
#include "server.h"

static void
account_inserted(struct call *c, json_t *obj)
{
	c->subject.type = "account";
	ops_reply_changed(c, obj);
}

static void
create_in_parent(struct call *c)
{
	static const char sql[] =
		"INSERT INTO accounts AS a (parent_id, type, name, quota_cores, quota_ram_mb, "
		"quota_disk_gb, quota_vservers, require_2fa) VALUES ($1, $2, $3, $4, $5, $6, $7, "
		"coalesce($8::bool, false)) RETURNING " ACCOUNT_JSON;
	char b[8][24];
	const char *params[] = {
		call_arg_text(c, "parent_id", b[0], 24),
		call_arg_str(c, "type"),
		call_arg_str(c, "name"),
		call_arg_text(c, "quota_cores", b[1], 24),
		call_arg_text(c, "quota_ram_mb", b[2], 24),
		call_arg_text(c, "quota_disk_gb", b[3], 24),
		call_arg_text(c, "quota_vservers", b[4], 24),
		call_arg_text(c, "require_2fa", b[5], 24),
	};
	ops_subject_new(c, "account", call_arg_str(c, "name"));
	call_sql_json(c, sql, 8, params, account_inserted);
}

void
op_account_create(struct call *c)
{
	call_resolve(c, "account", call_arg_int(c, "parent_id", 0), PRIV_ACCOUNT_MANAGE,
		     create_in_parent);
}

void
op_account_list(struct call *c)
{
	static const char sql[] =
		"SELECT coalesce(json_agg(" ACCOUNT_JSON
		"::jsonb || jsonb_build_object('_scope', " SCOPE_JSON(
			"a.path", "0", "0", "0") ") ORDER BY a.id), '[]') FROM accounts a "
						 "WHERE a.path @> ARRAY[$1::bigint] AND "
						 "($2::bigint IS NULL OR a.parent_id = $2)";
	ops_list_subtree(c, sql, "parent_id", PRIV_ACCOUNT_VIEW);
}

static void
get_resolved(struct call *c)
{
	static const char sql[] = "SELECT " ACCOUNT_JSON " FROM accounts a WHERE a.id = $1";
	call_sql_json_id(c, sql, c->subject.id, ops_reply_object);
}

void
op_account_get(struct call *c)
{
	call_resolve(c, "account", call_arg_int(c, "id", 0), 0, get_resolved);
}

static void
update_resolved(struct call *c)
{
	static const char sql[] =
		"UPDATE accounts a SET "
		"name = coalesce($2, a.name), "
		"quota_cores = CASE WHEN $3::bool THEN $4::int ELSE a.quota_cores END, "
		"quota_ram_mb = CASE WHEN $5::bool THEN $6::int ELSE a.quota_ram_mb END, "
		"quota_disk_gb = CASE WHEN $7::bool THEN $8::int ELSE a.quota_disk_gb END, "
		"quota_vservers = CASE WHEN $9::bool THEN $10::int ELSE a.quota_vservers END, "
		"require_2fa = coalesce($11::bool, a.require_2fa), "
		"enabled = coalesce($12::bool, a.enabled) "
		"WHERE a.id = $1 RETURNING " ACCOUNT_JSON;
	char b[12][24];

	if (!ops_may_shape_account(c)) {
		call_fail(c, API_DENIED, "only the parent account's admins may change account '%s'",
			  c->subject.name);
		return;
	}
	if (c->subject.path_len == 1 && json_is_false(json_object_get(c->args, "enabled"))) {
		call_fail(c, API_CONFLICT, "the provider account cannot be disabled");
		return;
	}
	const char *params[] = {
		call_i64(b[0], c->subject.id),
		call_arg_str(c, "name"),
		call_arg_has(c, "quota_cores") ? "true" : "false",
		call_arg_text(c, "quota_cores", b[1], 24),
		call_arg_has(c, "quota_ram_mb") ? "true" : "false",
		call_arg_text(c, "quota_ram_mb", b[2], 24),
		call_arg_has(c, "quota_disk_gb") ? "true" : "false",
		call_arg_text(c, "quota_disk_gb", b[3], 24),
		call_arg_has(c, "quota_vservers") ? "true" : "false",
		call_arg_text(c, "quota_vservers", b[4], 24),
		call_arg_text(c, "require_2fa", b[5], 24),
		call_arg_text(c, "enabled", b[6], 24),
	};
	call_sql_json(c, sql, 12, params, ops_reply_changed);
}

void
op_account_update(struct call *c)
{
	call_resolve(c, "account", call_arg_int(c, "id", 0), 0, update_resolved);
}

static void
delete_resolved(struct call *c)
{
	static const char sql[] = "SELECT " ACCOUNT_JSON " FROM wr_account_delete($1) a";
	char id[24];

	if (!ops_may_shape_account(c) || c->subject.path_len == 1) {
		call_fail(c, API_DENIED, "only the parent account's admins may delete account '%s'",
			  c->subject.name);
		return;
	}
	const char *params[] = {call_i64(id, c->subject.id)};
	call_sql_json(c, sql, 1, params, ops_reply_changed);
}

void
op_account_delete(struct call *c)
{
	call_resolve(c, "account", call_arg_int(c, "id", 0), 0, delete_resolved);
}
