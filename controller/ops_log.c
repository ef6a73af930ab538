/*
 * The job log (tasks) and the audit log, listed per rights: task.view on the object a task was
 * about, audit.view on the account an event belongs to; users always see their own events.
 * Newest first. The candidate rows come from the caller's own account subtree; the rights filter
 * is the same C code as everywhere else, and paging is applied after it.
 */
#include "config.h"

#include "objects.h"
#include "ops.h"
#include "server.h"

#define LOG_SCAN_MAX "5000"

static void
page_and_reply(struct call *c, json_t *items, uint32_t need)
{
	json_t *visible = call_filter_list(c, items, need);
	int64_t offset = call_arg_int(c, "offset", 0), limit = call_arg_int(c, "limit", 100);
	json_t *page = json_array();

	for (size_t i = (size_t)offset; i < json_array_size(visible) && limit > 0; i++, limit--)
		json_array_append(page, json_array_get(visible, i));
	json_decref(visible);
	call_reply(c, json_pack("{s:o}", "items", page));
}

static void
tasks_listed(struct call *c, json_t *items)
{
	page_and_reply(c, items, PRIV_TASK_VIEW);
}

void
op_task_list(struct call *c)
{
	static const char sql[] =
		"SELECT coalesce(json_agg(x.j ORDER BY x.id DESC), '[]') FROM (SELECT "
		"k.id, " TASK_JSON "::jsonb || jsonb_build_object('_scope', " SCOPE_JSON(
			"k.scope_path", "k.scope_vdc", "k.scope_vserver",
			"0") ") AS j "
			     "FROM tasks k WHERE k.scope_path @> ARRAY[$1::bigint] "
			     "AND ($2::text IS NULL OR k.object_type = $2) "
			     "AND ($3::bigint IS NULL OR k.object_id = $3) "
			     "ORDER BY k.id DESC LIMIT " LOG_SCAN_MAX ") x";
	char acct[24], oid[24];
	const char *params[] = {call_i64(acct, c->who.account_id), call_arg_str(c, "object_type"),
				call_arg_text(c, "object_id", oid, sizeof(oid))};

	call_sql_json(c, sql, 3, params, tasks_listed);
}

static void
task_get_resolved(struct call *c)
{
	static const char sql[] = "SELECT " TASK_JSON " FROM tasks k WHERE k.id = $1";
	char id[24];
	const char *params[] = {call_i64(id, c->subject.id)};

	call_sql_json(c, sql, 1, params, ops_reply_object);
}

void
op_task_get(struct call *c)
{
	call_resolve(c, "task", call_arg_int(c, "id", 0), 0, task_get_resolved);
}

static void
audit_listed(struct call *c, json_t *items)
{
	page_and_reply(c, items, PRIV_AUDIT_VIEW);
}

void
op_audit_list(struct call *c)
{
	/* Events without a place in the tree (unknown user names) belong to the provider. */
	static const char sql[] =
		"SELECT coalesce(json_agg(x.j ORDER BY x.id DESC), '[]') FROM (SELECT "
		"e.id, " AUDIT_JSON "::jsonb || jsonb_build_object('_scope', " SCOPE_JSON(
			"coalesce(e.scope_path, ARRAY[$2::bigint])", "0", "0",
			"e.user_id") ") AS j "
				     "FROM audit e WHERE coalesce(e.scope_path, ARRAY[$2::bigint]) "
				     "@> ARRAY[$1::bigint] "
				     "AND ($3::bigint IS NULL OR e.id < $3) AND ($4::text IS NULL "
				     "OR e.event = $4) "
				     "ORDER BY e.id DESC LIMIT " LOG_SCAN_MAX ") x";
	char acct[24], root[24], before[24];
	const char *params[] = {call_i64(acct, c->who.account_id), call_i64(root, c->who.path[0]),
				call_arg_text(c, "before_id", before, sizeof(before)),
				call_arg_str(c, "event")};

	call_sql_json(c, sql, 4, params, audit_listed);
}
