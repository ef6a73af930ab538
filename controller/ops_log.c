/*
 * The job log (tasks) and the audit log, listed per rights: task.view on the object a task was
 * about, audit.view on the account an event belongs to. Newest first. The query narrows to the
 * scopes on which the caller's grants carry the privilege (so paging happens in SQL and old rows
 * stay reachable); the C rights filter then checks every row once more.
 */
#include "config.h"

#include "objects.h"
#include "ops.h"
#include "server.h"

#define SCOPES_MAX (MAX_GRANTS * 24)

static void
tasks_listed(struct call *c, json_t *items)
{
	ops_reply_items(c, items, PRIV_TASK_VIEW);
}

void
op_task_list(struct call *c)
{
	static const char sql[] =
		"SELECT coalesce(json_agg(x.j ORDER BY x.id DESC), '[]') FROM (SELECT "
		"k.id, " TASK_JSON "::jsonb || jsonb_build_object('_scope', " SCOPE_JSON(
			"k.scope_path", "k.scope_vdc", "k.scope_vserver",
			"0") ") AS j "
			     "FROM tasks k WHERE (k.scope_path && $1::bigint[] OR k.scope_vdc = "
			     "ANY($2::bigint[]) OR k.scope_vserver = ANY($3::bigint[])) "
			     "AND ($4::text IS NULL OR k.object_type = $4) "
			     "AND ($5::bigint IS NULL OR k.object_id = $5) "
			     "ORDER BY k.id DESC LIMIT $6 OFFSET $7) x";
	char accounts[SCOPES_MAX], vdcs[SCOPES_MAX], vservers[SCOPES_MAX], oid[24], lim[24],
		off[24];

	if (!call_scopes_with(c, PRIV_TASK_VIEW, accounts, vdcs, vservers, SCOPES_MAX)) {
		call_reply(c, json_pack("{s:[]}", "items"));
		return;
	}
	const char *params[] = {accounts,
				vdcs,
				vservers,
				call_arg_str(c, "object_type"),
				call_arg_text(c, "object_id", oid, sizeof(oid)),
				call_i64(lim, call_arg_int(c, "limit", 100)),
				call_i64(off, call_arg_int(c, "offset", 0))};
	call_sql_json(c, sql, 7, params, tasks_listed);
}

static void
task_get_resolved(struct call *c)
{
	static const char sql[] = "SELECT " TASK_JSON " FROM tasks k WHERE k.id = $1";
	call_sql_json_id(c, sql, c->subject.id, ops_reply_object);
}

void
op_task_get(struct call *c)
{
	call_resolve(c, "task", call_arg_int(c, "id", 0), 0, task_get_resolved);
}

static void
audit_listed(struct call *c, json_t *items)
{
	ops_reply_items(c, items, PRIV_AUDIT_VIEW);
}

void
op_audit_list(struct call *c)
{
	/* Events without a place in the tree (unknown user names) belong to the provider. */
	static const char sql[] =
		"SELECT coalesce(json_agg(x.j ORDER BY x.id DESC), '[]') FROM (SELECT "
		"e.id, " AUDIT_JSON "::jsonb || jsonb_build_object('_scope', " SCOPE_JSON(
			"coalesce(e.scope_path, ARRAY[$2::bigint])", "0", "0",
			"0") ") AS j "
			     "FROM audit e WHERE coalesce(e.scope_path, ARRAY[$2::bigint]) && "
			     "$1::bigint[] AND ($3::bigint IS NULL OR e.id < $3) "
			     "AND ($4::text IS NULL OR e.event = $4) "
			     "ORDER BY e.id DESC LIMIT $5 OFFSET $6) x";
	char accounts[SCOPES_MAX], vdcs[SCOPES_MAX], vservers[SCOPES_MAX], root[24], before[24],
		lim[24], off[24];

	if (!call_scopes_with(c, PRIV_AUDIT_VIEW, accounts, vdcs, vservers, SCOPES_MAX) ||
	    accounts[1] == '}') {
		call_fail(c, API_DENIED, "reading the audit log needs the audit.view privilege");
		return;
	}
	const char *params[] = {accounts,
				call_i64(root, c->who.path[0]),
				call_arg_text(c, "before_id", before, sizeof(before)),
				call_arg_str(c, "event"),
				call_i64(lim, call_arg_int(c, "limit", 100)),
				call_i64(off, call_arg_int(c, "offset", 0))};
	call_sql_json(c, sql, 6, params, audit_listed);
}
