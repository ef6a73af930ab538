/*
 * Grants: roles on scopes. Three rules keep tenants apart and rights from growing by themselves:
 * the granter needs user.manage on the scope; the granter must hold every privilege of the role
 * there (no escalation); and the scope must lie inside the grantee's own account subtree, so no
 * grant ever reaches into another tenant.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "objects.h"
#include "ops.h"
#include "server.h"

struct grant_state {
	int64_t grantee_account;
};

static void
granted(struct call *c, json_t *obj)
{
	/* The task is filed under the scope; its object is the grant. */
	c->subject.type = "grant";
	ops_reply_changed(c, obj);
}

static void
scope_resolved(struct call *c)
{
	static const char sql[] =
		"INSERT INTO grants AS g (user_id, scope_type, scope_id, role, created_by) "
		"VALUES ($1, $2, $3, $4, $5) RETURNING " GRANT_JSON;
	struct grant_state *gs = c->state;
	const char *role = call_arg_str(c, "role");
	enum role r;
	bool inside = false;
	char b[3][24];

	if (!rights_role_parse(role, &r)) {
		call_fail(c, API_INVALID, "unknown role '%s'", role);
		return;
	}
	if ((c->subject.privs & rights_role_privs(r)) != rights_role_privs(r)) {
		call_fail(c, API_DENIED,
			  "you cannot give the role '%s': it has privileges you lack", role);
		return;
	}
	for (size_t i = 0; i < c->subject.path_len; i++)
		if (c->subject.path[i] == gs->grantee_account)
			inside = true;
	if (!inside) {
		call_fail(c, API_INVALID,
			  "a grant must be on an object inside the user's own account");
		return;
	}
	const char *params[] = {
		call_arg_text(c, "user_id", b[0], 24), call_arg_str(c, "scope_type"),
		call_arg_text(c, "scope_id", b[1], 24), role, call_i64(b[2], c->who.user_id)};
	call_sql_json(c, sql, 5, params, granted);
}

static void
grantee_resolved(struct call *c)
{
	struct grant_state *gs = calloc(1, sizeof(*gs));

	if (gs == NULL) {
		call_fail(c, API_BUSY, "out of memory");
		return;
	}
	/* The grantee's account is the last element of its path. */
	gs->grantee_account = c->subject.path[c->subject.path_len - 1];
	c->state = gs;
	c->state_free = free;
	call_resolve(c, call_arg_str(c, "scope_type"), call_arg_int(c, "scope_id", 0),
		     PRIV_USER_MANAGE, scope_resolved);
}

void
op_grant(struct call *c)
{
	call_resolve(c, "user", call_arg_int(c, "user_id", 0), PRIV_USER_MANAGE, grantee_resolved);
}

static void
revoke_resolved(struct call *c)
{
	static const char sql[] = "DELETE FROM grants g WHERE g.id = $1 RETURNING " GRANT_JSON;
	call_sql_json_id(c, sql, c->subject.id, ops_reply_changed);
}

void
op_revoke(struct call *c)
{
	call_resolve(c, "grant", call_arg_int(c, "id", 0), PRIV_USER_MANAGE, revoke_resolved);
}

void
op_grant_list(struct call *c)
{
	static const char sql[] = "SELECT coalesce(json_agg(" GRANT_JSON
				  "::jsonb || jsonb_build_object('_scope', " SCOPE_JSON(
					  "a.path", "0", "0",
					  "u.id") ") ORDER BY g.id), '[]') "
						  "FROM grants g JOIN users u ON u.id = g.user_id "
						  "JOIN accounts a ON a.id = u.account_id "
						  "WHERE a.path @> ARRAY[$1::bigint] AND "
						  "($2::bigint IS NULL OR g.user_id = $2)";
	ops_list_subtree(c, sql, "user_id", PRIV_USER_MANAGE);
}
