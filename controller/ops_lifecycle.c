/*
 * The vServer power and placement operations. Each one checks rights, records a queued task
 * (one active task per vServer, enforced by a unique index) and answers at once with its id; the
 * lifecycle engine (lifecycle.c) does the work and the job log shows how it ends.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_ops.h"
#include "capacity.h"
#include "groupcommit.h"
#include "lifecycle.h"
#include "objects.h"
#include "ops.h"
#include "server.h"

/*
 * The task rows of many calls in one statement (groupcommit.c): one commit for a whole burst of
 * starts. A vServer that already has an active task (the unique index; or twice in the batch)
 * gets no row back and its call is a conflict, like a lone INSERT's unique violation. The
 * statement returns the task as the engine reads it, so the task starts without a reload. The
 * row is 'running' from the start: the engine takes the task in the same loop pass (a start's
 * first step is its placement), and a row that needs no queued -> running change lets the
 * placement batch's UPDATE of its step be HOT (sql/018_placement_lean.sql). The call's answer
 * still says "queued": the task is accepted, its work has not happened yet.
 */
static const char enqueue_sql[] =
	"WITH x AS (SELECT DISTINCT ON (vs) * FROM jsonb_to_recordset($1::jsonb) AS x(i integer, "
	"vs bigint, name text, action text, uid bigint, username text, path bigint[], vdc bigint, "
	"params jsonb, ip text) ORDER BY vs, i), "
	"k AS (INSERT INTO tasks (object_type, object_id, object_name, action, user_id, "
	"username, scope_path, scope_vdc, scope_vserver, status, step, vserver_id, params) "
	"SELECT 'vserver', x.vs, x.name, x.action, x.uid, x.username, x.path, "
	"nullif(x.vdc, 0), x.vs, 'running', 'begin', x.vs, x.params FROM x ORDER BY x.i "
	"ON CONFLICT (vserver_id) WHERE status IN ('queued', 'running') AND vserver_id IS NOT "
	"NULL DO NOTHING RETURNING *), "
	"a AS (INSERT INTO audit (user_id, username, scope_path, event, object_type, "
	"object_id, detail, client_ip) SELECT x.uid, x.username, x.path, x.action, 'vserver', "
	"x.vs, 'queued as task ' || k.id, x.ip FROM k JOIN x ON x.vs = k.vserver_id) "
	"SELECT x.i, k.id, " LIFECYCLE_RUN_COLUMNS /* lifecycle.h */
	" FROM k JOIN x ON x.vs = k.vserver_id" LIFECYCLE_RUN_JOIN_LOCKED(" FOR SHARE");

#define ENQUEUE_BATCH_MAX 512

static struct groupcommit *enqueues;

static json_t *
enqueue_fill(void *item)
{
	struct call *c = item;
	const struct subject *s = &c->subject;
	json_t *path = json_array();

	for (size_t i = 0; i < s->path_len; i++)
		json_array_append_new(path, json_integer((json_int_t)s->path[i]));
	return json_pack("{s:I, s:s, s:s, s:I, s:s, s:o, s:I, s:O, s:s}", "vs", (json_int_t)s->id,
			 "name", s->name, "action", c->op->name, "uid", (json_int_t)c->who.user_id,
			 "username", c->who.username, "path", path, "vdc", (json_int_t)s->vdc_id,
			 "params", c->args, "ip", c->client_ip);
}

static void
enqueued(void *item, const struct db_result *res, int row)
{
	struct call *c = item;
	struct server *srv = c->srv; /* the reply ends the call */

	if (res->status != DB_OK) {
		call_fail_db(c, res);
		return;
	}
	if (row < 0) {
		call_fail(c, API_CONFLICT, "another task is still running for this vServer");
		return;
	}
	int64_t task = strtoll(PQgetvalue(res->res, row, 1), NULL, 10);
	json_t *run = lifecycle_run_row(res->res, row, 2);
	call_reply(c, json_pack("{s:I, s:s}", "task_id", (json_int_t)task, "status", "queued"));
	lifecycle_run_loaded(srv, task, run);
}

void
op_vserver_enqueue(struct call *c)
{
	if (enqueues == NULL)
		enqueues = groupcommit_new(c->srv->base, capacity_db, c->srv, enqueue_sql,
					   ENQUEUE_BATCH_MAX, enqueue_fill, enqueued);
	if (enqueues == NULL) {
		call_fail(c, API_BUSY, "out of memory");
		return;
	}
	groupcommit_add(enqueues, c);
}

void
op_vserver_power(struct call *c)
{
	call_resolve(c, "vserver", call_arg_int(c, "id", 0), PRIV_VSERVER_POWER,
		     op_vserver_enqueue);
}

void
op_vserver_placement(struct call *c)
{
	call_resolve(c, "vserver", call_arg_int(c, "id", 0), PRIV_VSERVER_EDIT, op_vserver_enqueue);
}

static void
resized(struct call *c, json_t *row)
{
	bool grow = json_is_true(json_object_get(row, "grow_disk"));

	json_decref(row);
	if (grow) {
		/* The disk file must grow on its node (online when the guest runs). */
		c->own_task = true;
		op_vserver_enqueue(c);
		return;
	}
	call_sql_json_id(c, "SELECT " VSERVER_JSON " FROM vservers v WHERE v.id = $1",
			 c->subject.id, ops_reply_changed);
}

static void
resize_resolved(struct call *c)
{
	static const char sql[] = "SELECT wr_vserver_resize($1, $2, $3, $4)::json";
	char b[4][24];
	const char *params[] = {call_i64(b[0], c->subject.id), call_arg_text(c, "cores", b[1], 24),
				call_arg_text(c, "ram_mb", b[2], 24),
				call_arg_text(c, "disk_gb", b[3], 24)};

	call_sql_json(c, sql, 4, params, resized);
}

void
op_vserver_resize(struct call *c)
{
	call_resolve(c, "vserver", call_arg_int(c, "id", 0), PRIV_VSERVER_EDIT, resize_resolved);
}
