/*
 * vserver-migrate and vserver-migrate-cancel. The first records a migrate task like any lifecycle
 * task (one active task per vServer) and livemig.c runs it; the second marks the running
 * migration cancelled in its task row (so a step not yet at the transfer stops there) and asks
 * the source node to cancel the transfer (the task then ends failed, saying who cancelled, and
 * the vServer keeps running where it was).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_ops.h"
#include "livemig.h"
#include "ops.h"
#include "rights.h"
#include "server.h"

static void
target_checked(struct call *c, json_t *row)
{
	if (row == NULL) {
		call_fail(c, API_NOT_FOUND, "no such node");
		return;
	}
	json_decref(row);
	op_vserver_enqueue(c);
}

static void
migrate_resolved(struct call *c)
{
	static const char sql[] = "SELECT json_build_object('id', id) FROM nodes WHERE id = $1";

	if (call_arg_has(c, "node_id")) {
		call_sql_json_id(c, sql, call_arg_int(c, "node_id", 0), target_checked);
		return;
	}
	op_vserver_enqueue(c);
}

void
op_vserver_migrate(struct call *c)
{
	call_resolve(c, "vserver", call_arg_int(c, "id", 0), PRIV_VSERVER_MIGRATE,
		     migrate_resolved);
}

static void
cancel_marked(struct call *c, json_t *row)
{
	if (row == NULL) {
		call_fail(c, API_CONFLICT, "no migration of this vServer is running");
		return;
	}
	const char *step = json_string_value(json_object_get(row, "step"));
	/* At the transfer the source must stop it; before, the task stops at its next step. */
	if (step != NULL && strcmp(step, "transfer") == 0)
		livemig_cancel(c->srv, json_integer_value(json_object_get(row, "task_id")),
			       json_integer_value(json_object_get(row, "source")), c->subject.id,
			       json_string_value(json_object_get(row, "reason")));
	json_object_del(row, "step");
	json_object_del(row, "source");
	json_object_del(row, "reason");
	call_reply(c, row);
}

static void
cancel_resolved(struct call *c)
{
	static const char sql[] =
		"UPDATE tasks SET params = coalesce(params, '{}') || jsonb_build_object('cancel', "
		"'cancelled by ' || $2) WHERE vserver_id = $1 AND action = 'vserver-migrate' AND "
		"status IN ('queued', 'running') RETURNING json_build_object('task_id', id, "
		"'status', status, 'step', step, 'source', coalesce((params->>'source')::bigint, "
		"0), "
		"'reason', params->>'cancel')";
	char vid[24];
	const char *params[] = {call_i64(vid, c->subject.id), c->who.username};

	call_sql_json(c, sql, 2, params, cancel_marked);
}

void
op_vserver_migrate_cancel(struct call *c)
{
	call_resolve(c, "vserver", call_arg_int(c, "id", 0), PRIV_VSERVER_MIGRATE, cancel_resolved);
}
