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
#include "lifecycle.h"
#include "objects.h"
#include "ops.h"
#include "server.h"

static void
queued(struct call *c, json_t *row)
{
	int64_t task = json_integer_value(json_object_get(row, "task_id"));
	struct server *srv = c->srv; /* the reply ends the call */

	call_reply(c, row);
	lifecycle_run(srv, task);
}

void
op_vserver_enqueue(struct call *c)
{
	static const char sql[] =
		"WITH k AS (INSERT INTO tasks (object_type, object_id, object_name, action, "
		"user_id, "
		"username, scope_path, scope_vdc, scope_vserver, status, step, vserver_id, params) "
		"VALUES ('vserver', $1, $2, $3, $4, $5, $6::bigint[], nullif($7, '0')::bigint, $1, "
		"'queued', 'begin', $1, $8::jsonb) RETURNING id), "
		"a AS (INSERT INTO audit (user_id, username, scope_path, event, object_type, "
		"object_id, detail, client_ip) SELECT $4, $5, $6::bigint[], $3, 'vserver', $1, "
		"'queued as task ' || k.id, $9 FROM k) "
		"SELECT json_build_object('task_id', k.id, 'status', 'queued') FROM k";
	const struct subject *s = &c->subject;
	char id[24], uid[24], vdc[24], path[MAX_PATH * 24];
	char *params_json = json_dumps(c->args, JSON_COMPACT);
	const char *params[] = {call_i64(id, s->id),
				s->name,
				c->op->name,
				call_i64(uid, c->who.user_id),
				c->who.username,
				call_path_text(s->path, s->path_len, path, sizeof(path)),
				call_i64(vdc, s->vdc_id),
				params_json,
				c->client_ip};

	call_sql_json(c, sql, 9, params, queued);
	free(params_json);
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
