/*
 * Task and audit rows for finished calls. A call that changed state, or tried to and failed for a
 * reason other than bad input or missing rights (conflict, quota, internal), leaves a task row the
 * user sees in the job log and an audit row. Refused calls (invalid, denied, not found) leave no
 * task: they changed nothing and must not reveal other tenants' objects in anyone's log.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_ops.h"
#include "db.h"
#include "journal.h"
#include "log.h"
#include "server.h"

static const char *const error_codes[] = {
	[API_OK] = "ok",
	[API_INVALID] = "invalid",
	[API_UNAUTHENTICATED] = "unauthenticated",
	[API_DENIED] = "denied",
	[API_NOT_FOUND] = "not_found",
	[API_CONFLICT] = "conflict",
	[API_QUOTA] = "quota",
	[API_TOO_LARGE] = "too_large",
	[API_THROTTLED] = "throttled",
	[API_BUSY] = "busy",
	[API_UNAVAILABLE] = "unavailable",
	[API_INTERNAL] = "internal",
};

const char *
journal_error_code(enum api_error err)
{
	return (unsigned)err < sizeof(error_codes) / sizeof(error_codes[0]) ? error_codes[err]
									    : "internal";
}

struct pending_answer {
	struct call *c;
	enum api_error err;
	char *message;
	json_t *result;
};

static void
answer(struct pending_answer *pa)
{
	pa->c->respond(pa->c, pa->err, pa->message, pa->result);
	free(pa->message);
	free(pa);
}

static void
journal_written(const struct db_result *r, void *p)
{
	struct pending_answer *pa = p;

	if (r->status != DB_OK)
		log_error("op %s by %s: cannot write the task log: %s", pa->c->op->name,
			  pa->c->who.username, r->message ? r->message : "-");
	answer(pa);
}

static bool
worth_a_task(const struct call *c, enum api_error err)
{
	if (c->op == NULL || !(c->op->flags & OP_MUTATES) || c->who.user_id == 0 || c->own_task)
		return false;
	return err == API_OK || err == API_CONFLICT || err == API_QUOTA || err == API_INTERNAL;
}

void
journal_finish(struct call *c, enum api_error err, const char *message, json_t *result)
{
	static const char sql[] =
		"WITH t AS (INSERT INTO tasks (object_type, object_id, object_name, action, "
		"user_id, "
		"username, scope_path, scope_vdc, scope_vserver, started_at, ended_at, status, "
		"info) "
		"VALUES ($1, nullif($2, '0')::bigint, $3, $4, $5, $6, $7::bigint[], "
		"nullif($8, '0')::bigint, nullif($9, '0')::bigint, to_timestamp($10::float8), "
		"now(), "
		"$11, $12) RETURNING id) "
		"INSERT INTO audit (user_id, username, scope_path, event, object_type, object_id, "
		"detail, client_ip) SELECT $5, $6, $7::bigint[], $4, $1, nullif($2, '0')::bigint, "
		"$12, $13 FROM t";
	struct pending_answer *pa = calloc(1, sizeof(*pa));

	if (pa == NULL) {
		c->respond(c, API_INTERNAL, "out of memory", NULL);
		json_decref(result);
		return;
	}
	pa->c = c;
	pa->err = err;
	pa->message = message ? strdup(message) : NULL;
	pa->result = result;
	if (!worth_a_task(c, err)) {
		answer(pa);
		return;
	}

	const struct subject *s = &c->subject;
	char noun[32], id[24], uid[24], vdc[24], vs[24], started[32], path[MAX_PATH * 24];
	const char *type = s->type;
	if (type == NULL) {
		/* No object resolved (e.g. the caller's own token): file it under the caller. */
		snprintf(noun, sizeof(noun), "%.*s", (int)strcspn(c->op->name, "-"), c->op->name);
		type = noun;
	}
	snprintf(started, sizeof(started), "%.3f", c->started);
	const char *params[] = {
		type,
		call_i64(id, s->id),
		s->name,
		c->op->name,
		call_i64(uid, c->who.user_id),
		c->who.username,
		s->set ? call_path_text(s->path, s->path_len, path, sizeof(path))
		       : call_path_text(c->who.path, c->who.path_len, path, sizeof(path)),
		call_i64(vdc, s->vdc_id),
		call_i64(vs, s->vserver_id),
		started,
		err == API_OK ? "done" : "failed",
		err == API_OK ? (message ? message : "") : pa->message,
		c->client_ip,
	};
	db_query(c->srv->db, sql, 13, params, journal_written, pa);
}
