/*
 * Live migration tasks. Like the lifecycle engine (lifecycle.c) a task is a row whose step is
 * persisted before it is taken, together with what the steps learned so far (task params:
 * source, target, the target's listening uri, the outcome), so a restarted controller resumes a
 * migration where it was; every step is idempotent on the node too.
 *
 *   begin       check (running, shared disk), pick the target (placement_pick() unless named)
 *   reserve     wr_migration_reserve(): the target's cores as "incoming" vcpu_cores rows + RAM,
 *               in the statement that persists the step with the target
 *   define      vm.define on the target with the reserved cores
 *   incoming    vm.migrate-in: QEMU -incoming defer, pinned, listening; we learn its uri.
 *               Neither define nor incoming is persisted before it is taken: a resumed reserve
 *               defines again and a started vm.migrate-in answers "busy": abort.
 *   transfer    vm.migrate-out on the source; its reply comes when the migration ended.
 *               Meanwhile the source sends "migration" events: progress into the task row.
 *               A target that drops off cancels the migration (its QEMU exits by itself).
 *   follow      the source's agent was lost during the transfer: QEMU migrates without it, so
 *               the target tells how it ended (running there = completed)
 *   confirm     the target reports the guest running (never stop a source before that); the
 *               target agent answers when the guest runs, its QEMU went, or after
 *               CONFIRM_WAIT_SEC. When it answers "not running" the guest never ran there:
 *               abort_in, source_resume (below). When it does not answer: confirm_lost.
 *   confirm_lost  the target is unreachable, so nobody can say whether the guest runs there:
 *               wait until its agent is back (confirm again) or the node is declared dead
 *               (its agent fenced its QEMUs first: resume the source), at most
 *               CONFIRM_LOST_SEC; then the task fails and the vServer is left paused on the
 *               source, saying so (resuming it could run the guest twice).
 *   abort_in    the target ends its incoming QEMU unless the guest already ran there (then:
 *               switch); source_resume: cont + announce-self on the source (retried while
 *               the disk lock is still held), then abort_undefine, release.
 *   switch      wr_migration_switch(): node + cores, and the task done with QEMU's figures, in
 *               one statement (not persisted as a step: a resumed confirm/follow/abort_in asks
 *               the target again); consoles revoked
 *   after it    source_cleanup(): the source QEMU (paused since the switch-over) and its
 *               definition go after the task's end; params.source_cleanup marks it until then
 *               (livemig_resume_cleanups() after a restart). Steps source_stop,
 *               source_undefine and done of earlier versions resume as switch.
 *   abort, abort_undefine, release   any failure: the target's QEMU and definition go, the
 *               reservation is given back, the vServer keeps running on the source.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "agents.h"
#include "call.h"
#include "capacity.h"
#include "console.h"
#include "db.h"
#include "livemig.h"
#include "log.h"
#include "placement.h"
#include "secret.h"
#include "server.h"

#define NODE_RETRY_SECONDS    2
#define NODE_RETRY_MAX	      30 /* a minute of a missing node before the step gives up */
#define COMMAND_TIMEOUT	      60
#define FOLLOW_POLL_MS	      500
#define CONFIRM_WAIT_SEC      10  /* the target's answer after the source completed */
#define CONFIRM_LOST_SEC      120 /* an unreachable target: back, or declared dead */
#define RESUME_RETRIES	      10  /* x 1 s: the source's cont (the disk lock may linger) */
#define DEFAULT_DOWNTIME_MS   100
#define DEFAULT_CONVERGE_SEC  120
#define TRANSFER_TIMEOUT_XTRA 600 /* past the convergence bound: post-copy, completion */

/* The task (aliased k) with its vServer and node names, as read before every step. */
#define MIG_JSON                                                                                   \
	"json_build_object('action', k.action, 'step', k.step, 'params', k.params, "               \
	"'vserver_id', k.vserver_id, 'source_name', (SELECT name FROM nodes WHERE id = "           \
	"(k.params->>'source')::bigint), 'target_name', (SELECT name FROM nodes WHERE id = "       \
	"(k.params->>'target')::bigint), 'vs', (SELECT json_build_object('id', v.id, 'state', "    \
	"v.state, 'cores', v.cores, 'ram_mb', v.ram_mb, 'vdc_id', coalesce(v.vdc_id, 0), "         \
	"'node_id', coalesce(v.node_id, 0), 'anti_affinity', v.anti_affinity, 'disk_shared', "     \
	"coalesce((SELECT s.shared FROM node_storages s WHERE s.node_id = v.disk_node_id AND "     \
	"s.name = v.disk_storage), false)) FROM vservers v WHERE v.id = k.vserver_id))"

/* Owner: the engine, from livemig_run() until finish(). */
struct mig {
	struct server *srv;
	int64_t task_id;
	int64_t vserver_id;
	char step[32];
	json_t *row;	/* the task as loaded for this step (MIG_JSON) */
	json_t *params; /* the task's params, written back at every step */
	/* the node command in flight */
	int64_t cmd_node;
	const char *cmd_op;
	json_t *cmd_args;
	int cmd_timeout;
	int attempts;
	void (*cmd_done)(struct mig *m, bool ok, json_t *result, const char *code,
			 const char *message);
	struct event *watch; /* transfer: is the target still there? */
	bool target_lost;
	bool no_retry; /* the command in flight is not retried when its node is offline */
	int polls;
};

static void goto_step(struct mig *m, const char *step);

static void
mig_free(struct mig *m)
{
	if (m->watch != NULL)
		event_free(m->watch);
	json_decref(m->row);
	json_decref(m->params);
	json_decref(m->cmd_args);
	free(m);
}

static const json_t *
vs(const struct mig *m)
{
	return json_object_get(m->row, "vs");
}

static int64_t
vs_int(const struct mig *m, const char *key)
{
	return (int64_t)json_integer_value(json_object_get(vs(m), key));
}

static int64_t
p_int(const struct mig *m, const char *key)
{
	return (int64_t)json_integer_value(json_object_get(m->params, key));
}

static const char *
p_str(const struct mig *m, const char *key)
{
	return json_string_value(json_object_get(m->params, key));
}

static const char *
node_name(const struct mig *m, const char *which)
{
	return json_string_value(json_object_get(m->row, which)) ?: "?";
}

/* ------------------------------------------------------------------ finishing */

static void
finished(const struct db_result *res, void *arg)
{
	struct mig *m = arg;

	if (res->status != DB_OK)
		log_error("task %lld: cannot record its end: %s", (long long)m->task_id,
			  res->message ? res->message : "-");
	mig_free(m);
}

/* End the task (the vServer's state is the switch's business) with an audit row. */
static void
finish(struct mig *m, bool ok, const char *info)
{
	static const char sql[] =
		"WITH k AS (UPDATE tasks SET status = $2, ended_at = now(), info = $3, step = "
		"NULL, "
		"params = coalesce(params, '{}') || $5::jsonb WHERE id = $1 RETURNING *) "
		"INSERT INTO audit (user_id, username, scope_path, event, object_type, object_id, "
		"detail) SELECT k.user_id, k.username, k.scope_path, k.action || '.' || $2, "
		"'vserver', $4, $3 FROM k";
	char tid[24], vid[24];
	char *params;

	if (json_object_get(m->params, "tls_psk") != NULL)
		json_object_set_new(m->params, "tls_psk", json_null()); /* its stream is over */
	params = json_dumps(m->params, JSON_COMPACT);
	const char *args[] = {call_i64(tid, m->task_id), ok ? "done" : "failed", info,
			      call_i64(vid, m->vserver_id), params ? params : "{}"};

	log_info("task %lld (migrate vServer %lld) %s: %s", (long long)m->task_id,
		 (long long)m->vserver_id, ok ? "done" : "failed", info);
	db_query(m->srv->db, sql, 5, args, finished, m);
	free(params);
}

static void fail(struct mig *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A failure before anything was started anywhere. */
static void
fail(struct mig *m, const char *fmt, ...)
{
	char info[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(info, sizeof(info), fmt, ap);
	va_end(ap);
	finish(m, false, info);
}

static void abort_with(struct mig *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A failure once the target may hold something: clean it up, then fail with the reason. */
static void
abort_with(struct mig *m, const char *fmt, ...)
{
	char reason[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (p_str(m, "reason") == NULL)
		json_object_set_new(m->params, "reason", json_string(reason));
	goto_step(m, "abort");
}

/* ------------------------------------------------------------------ node commands */

static void send_command(struct mig *m);

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	send_command(arg);
}

static void
command_replied(void *arg, bool ok, json_t *result, const char *code, const char *message)
{
	struct mig *m = arg;

	if (!ok && code != NULL &&
	    (strcmp(code, "node_offline") == 0 || strcmp(code, "timeout") == 0) &&
	    strcmp(m->cmd_op, "vm.migrate-out") != 0 && !m->no_retry &&
	    ++m->attempts < NODE_RETRY_MAX) {
		struct timeval tv = {NODE_RETRY_SECONDS, 0};
		log_info("task %lld: node %lld not answering (%s); retrying %s",
			 (long long)m->task_id, (long long)m->cmd_node, code, m->cmd_op);
		event_base_once(m->srv->base, -1, EV_TIMEOUT, on_retry, m, &tv);
		return;
	}
	m->attempts = 0;
	m->cmd_done(m, ok, result, code ? code : "error", message ? message : "");
}

static void
send_command(struct mig *m)
{
	agents_command(m->srv, m->cmd_node, m->task_id, m->cmd_op, m->cmd_args, m->cmd_timeout,
		       command_replied, m);
}

/* Send op (args stolen) to node; done runs once with the outcome (offline nodes retried). */
static void
node_cmd(struct mig *m, int64_t node, const char *op, json_t *args, int timeout,
	 void (*done)(struct mig *, bool, json_t *, const char *, const char *))
{
	json_decref(m->cmd_args);
	m->cmd_node = node;
	m->cmd_op = op;
	m->cmd_args = args;
	m->cmd_timeout = timeout;
	m->cmd_done = done;
	m->attempts = 0;
	send_command(m);
}

static json_t *
id_args(const struct mig *m)
{
	return json_pack("{s:I}", "id", (json_int_t)m->vserver_id);
}

/*
 * vServers whose source cleanup (after their migration's end) still runs in this process. A
 * new migration of such a vServer waits for it in begin (the old source may be its target,
 * where the paused QEMU must go first). One active task per vServer: one waiter at most.
 */
struct pending {
	int64_t vserver_id;
	struct mig *waiter;
	struct pending *next;
};

static struct pending *pending_cleanups;

static struct pending **
pending_find(int64_t vserver_id)
{
	struct pending **p = &pending_cleanups;

	while (*p != NULL && (*p)->vserver_id != vserver_id)
		p = &(*p)->next;
	return p;
}

static void do_begin(struct mig *m);

static void
pending_end(int64_t vserver_id)
{
	struct pending **p = pending_find(vserver_id), *e = *p;

	if (e == NULL)
		return;
	*p = e->next;
	if (e->waiter != NULL)
		do_begin(e->waiter);
	free(e);
}

/* ------------------------------------------------------------------ begin: pick the target */

static void do_reserve(struct mig *m);
static void do_confirm(struct mig *m);
static void persist_step(struct mig *m, const char *step);
static void do_define(struct mig *m);
static void do_incoming(struct mig *m);

static void
nodes_loaded(const struct db_result *res, void *arg)
{
	struct mig *m = arg;
	char why[256];

	if (res->status != DB_OK) {
		fail(m, "cannot read node capacity: %s", res->message ? res->message : "-");
		return;
	}
	size_t n = (size_t)PQntuples(res->res);
	struct placement_node *nodes = calloc(n + 1, sizeof(*nodes));
	if (nodes == NULL) {
		fail(m, "out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const PGresult *r = res->res;
		struct placement_node *nd = &nodes[i];
		nd->id = strtoll(PQgetvalue(r, (int)i, 0), NULL, 10);
		nd->name = PQgetvalue(r, (int)i, 1);
		nd->online =
			PQgetvalue(r, (int)i, 2)[0] == 't' && agents_node_online(m->srv, nd->id);
		nd->maintenance = PQgetvalue(r, (int)i, 3)[0] == 't';
		nd->reserve = PQgetvalue(r, (int)i, 4)[0] == 't';
		nd->vdc_id = strtoll(PQgetvalue(r, (int)i, 5), NULL, 10);
		nd->free_cores = atoi(PQgetvalue(r, (int)i, 6));
		nd->free_ram_mb = strtoll(PQgetvalue(r, (int)i, 7), NULL, 10);
		nd->free_disk_gb = strtoll(PQgetvalue(r, (int)i, 8), NULL, 10);
		nd->group_members = atoi(PQgetvalue(r, (int)i, 9));
	}
	struct placement_request req = {
		.cores = (int)vs_int(m, "cores"),
		.ram_mb = vs_int(m, "ram_mb"),
		.vdc_id = vs_int(m, "vdc_id"),
		.anti_affinity = json_is_string(json_object_get(vs(m), "anti_affinity")),
		.exclude_id = vs_int(m, "node_id"),
	};
	int pick = placement_pick(nodes, n, &req, why, sizeof(why));
	if (pick < 0) {
		free(nodes);
		fail(m, "no capacity: %s", why);
		return;
	}
	json_object_set_new(m->params, "target", json_integer(nodes[pick].id));
	free(nodes);
	do_reserve(m);
}

static void
do_begin(struct mig *m)
{
	static const char sql[] =
		"SELECT c.id, c.name, c.online, c.maintenance, c.reserve, c.vdc_id, c.free_cores, "
		"c.free_ram_mb, c.free_disk_gb, (SELECT count(*) FROM vservers o WHERE o.node_id = "
		"c.id AND o.anti_affinity = v.anti_affinity AND o.id <> v.id) FROM node_capacity "
		"c, "
		"vservers v WHERE v.id = $1 ORDER BY c.id";
	const char *state = json_string_value(json_object_get(vs(m), "state"));
	char vid[24];
	const char *params[] = {call_i64(vid, m->vserver_id)};

	struct pending *e = *pending_find(m->vserver_id);
	if (e != NULL && e->waiter == NULL) {
		log_info("task %lld: waits for the previous migration's source cleanup",
			 (long long)m->task_id);
		e->waiter = m;
		return;
	}
	if (state == NULL || strcmp(state, "running") != 0 || vs_int(m, "node_id") == 0) {
		fail(m, "only a running vServer can be migrated (it is %s)", state ? state : "-");
		return;
	}
	if (!json_is_true(json_object_get(vs(m), "disk_shared"))) {
		fail(m, "the vServer's disk is on storage that is not shared: live migration "
			"needs shared storage");
		return;
	}
	json_object_set_new(m->params, "source", json_integer(vs_int(m, "node_id")));
	if (p_int(m, "node_id") != 0) {
		if (p_int(m, "node_id") == vs_int(m, "node_id")) {
			fail(m, "the vServer already runs on that node");
			return;
		}
		if (!agents_node_online(m->srv, p_int(m, "node_id"))) {
			fail(m, "the target node is not connected");
			return;
		}
		json_object_set_new(m->params, "target", json_integer(p_int(m, "node_id")));
		do_reserve(m);
		return;
	}
	db_query(m->srv->db, sql, 1, params, nodes_loaded, m);
}

/* ------------------------------------------------------------------ reserve, define, incoming */

static void
reserved(const struct db_result *res, void *arg)
{
	struct mig *m = arg;

	if (res->status != DB_OK) {
		fail(m, "%s", res->message ? res->message : "database error");
		return;
	}
	if (PQntuples(res->res) != 1) {
		log_warn("task %lld is gone or finished", (long long)m->task_id);
		mig_free(m);
		return;
	}
	capacity_invalidate(m->srv->capacity);
	snprintf(m->step, sizeof(m->step), "reserve");
	do_define(m);
}

/*
 * One statement persists step "reserve" with the target and takes the reservation, so a
 * restarted controller resumes with the same target (wr_migration_reserve() is idempotent for
 * this task and target). The next step, define, is not persisted: a resumed "reserve" defines
 * again, and vm.define is idempotent on the node.
 */
static void
do_reserve(struct mig *m)
{
	static const char sql[] =
		"WITH k AS (UPDATE tasks SET step = 'reserve', status = 'running', params = "
		"coalesce(params, '{}') || $4::jsonb WHERE id = $3 AND status IN ('queued', "
		"'running') RETURNING id) SELECT wr_migration_reserve($1, $2, $3) FROM k";
	char vid[24], nid[24], tid[24];
	char *p = json_dumps(m->params, JSON_COMPACT);
	const char *params[] = {call_i64(vid, m->vserver_id), call_i64(nid, p_int(m, "target")),
				call_i64(tid, m->task_id), p ? p : "{}"};

	db_query(m->srv->db, sql, 4, params, reserved, m);
	free(p);
}

static void
defined(struct mig *m, bool ok, json_t *result, const char *code, const char *message)
{
	/* Not persisted either: a resumed reserve gets "busy" from a started vm.migrate-in and
	 * aborts, as a resumed incoming step would. */
	if (ok)
		do_incoming(m);
	else
		abort_with(m, "defining the VM on the target failed: %s: %s", code, message);
}

static void
spec_loaded(const struct db_result *res, void *arg)
{
	struct mig *m = arg;
	json_t *spec;

	if (res->status != DB_OK || PQntuples(res->res) != 1 ||
	    (spec = json_loads(PQgetvalue(res->res, 0, 0), 0, NULL)) == NULL) {
		abort_with(m, "cannot build the VM definition: %s",
			   res->message ? res->message : "-");
		return;
	}
	node_cmd(m, p_int(m, "target"), "vm.define", spec, COMMAND_TIMEOUT, defined);
}

/* The VM as the target must run it: the reserved ("incoming") cores. */
static void
do_define(struct mig *m)
{
	static const char sql[] =
		"SELECT json_build_object('id', v.id, 'name', v.name, 'uuid', v.uuid, "
		"'cores', (SELECT json_agg(c.core ORDER BY c.vcpu) FROM vcpu_cores c "
		"WHERE c.vserver_id = v.id AND c.incoming), 'ram_mb', v.ram_mb, "
		"'disks', json_build_array(json_build_object('storage', v.disk_storage, 'name', "
		"'vs-' || v.id, 'bus', 'virtio')), "
		"'nics', (SELECT json_agg(json_build_object('mac', n.mac::text, 'bridge', "
		"coalesce(nd.bridges[1], 'wrbr0'), 'model', n.model) ORDER BY n.id) FROM nics n "
		"WHERE n.vserver_id = v.id), 'iso', v.iso) FROM vservers v JOIN nodes nd ON nd.id "
		"= $2 WHERE v.id = $1";
	char vid[24], nid[24];
	const char *params[] = {call_i64(vid, m->vserver_id), call_i64(nid, p_int(m, "target"))};

	db_query(m->srv->db, sql, 2, params, spec_loaded, m);
}

static void
listening(struct mig *m, bool ok, json_t *result, const char *code, const char *message)
{
	const char *uri = json_string_value(json_object_get(result, "uri"));

	if (!ok || uri == NULL) {
		abort_with(m, "the target QEMU did not start: %s: %s", code, message);
		return;
	}
	json_object_set_new(m->params, "uri", json_string(uri));
	goto_step(m, "transfer");
}

/* migration_tls: a fresh pre-shared key for this migration's stream, kept in the task's params
 * (task-get does not show them) until the task ends. */
static bool
tls_key(struct mig *m)
{
	unsigned char key[32];
	char hex[2 * sizeof(key) + 1];

	if (!m->srv->settings.migration_tls || p_str(m, "tls_psk") != NULL)
		return true;
	if (secret_random(key, sizeof(key)) != 0)
		return false;
	for (size_t i = 0; i < sizeof(key); i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	json_object_set_new(m->params, "tls_psk", json_string(hex));
	return true;
}

static void
with_tls(struct mig *m, json_t *args)
{
	if (args != NULL && p_str(m, "tls_psk") != NULL)
		json_object_set_new(args, "tls_psk", json_string(p_str(m, "tls_psk")));
}

static void
do_incoming(struct mig *m)
{
	json_t *args = json_pack("{s:I, s:b}", "id", (json_int_t)m->vserver_id, "postcopy",
				 json_is_true(json_object_get(m->params, "postcopy")));

	if (!tls_key(m)) {
		json_decref(args);
		abort_with(m, "no random key for the TLS migration stream");
		return;
	}
	with_tls(m, args);
	node_cmd(m, p_int(m, "target"), "vm.migrate-in", args, COMMAND_TIMEOUT, listening);
}

/* ------------------------------------------------------------------ transfer */

static void
on_watch(evutil_socket_t fd, short what, void *arg)
{
	struct mig *m = arg;

	if (m->target_lost || agents_node_online(m->srv, p_int(m, "target")))
		return;
	m->target_lost = true;
	log_warn("task %lld: the target node went away during the transfer: cancelling",
		 (long long)m->task_id);
	livemig_cancel(m->srv, m->task_id, p_int(m, "source"), m->vserver_id,
		       "the target node's agent was lost during the transfer");
}

static void
transferred(struct mig *m, bool ok, json_t *result, const char *code, const char *message)
{
	if (m->watch != NULL)
		event_del(m->watch);
	if (ok) {
		/* The target answers at the guest's RESUME, which is still to come: ask now and
		 * persist the step meanwhile (a resumed transfer finds the migration over). */
		json_object_set(m->params, "result", result);
		persist_step(m, "confirm");
		snprintf(m->step, sizeof(m->step), "confirm");
		m->polls = 0;
		do_confirm(m);
	} else if (strcmp(code, "node_offline") == 0 || strcmp(code, "timeout") == 0 ||
		   strcmp(code, "superseded") == 0) {
		log_warn("task %lld: lost the source during the transfer (%s): following the "
			 "migration from the target",
			 (long long)m->task_id, code);
		json_object_set_new(m->params, "source_lost", json_true());
		goto_step(m, "follow");
	} else {
		/* cancelled: the message is the reason given (a user, the lost target) */
		abort_with(m, "%s%s",
			   strcmp(code, "migration_failed") == 0 ? "migration failed: " : "",
			   message);
	}
}

static void
do_transfer(struct mig *m)
{
	int64_t converge = json_object_get(m->params, "converge_seconds")
				   ? p_int(m, "converge_seconds")
				   : DEFAULT_CONVERGE_SEC;
	json_t *ac = json_object_get(m->params, "auto_converge");
	json_t *args = json_pack("{s:I, s:s, s:I, s:I, s:b, s:b, s:I}", "id",
				 (json_int_t)m->vserver_id, "uri", p_str(m, "uri"), "downtime_ms",
				 (json_int_t)(p_int(m, "downtime_ms") > 0 ? p_int(m, "downtime_ms")
									  : DEFAULT_DOWNTIME_MS),
				 "bandwidth_mbps", (json_int_t)p_int(m, "bandwidth_mbps"),
				 "auto_converge", ac == NULL || json_is_true(ac), "postcopy",
				 json_is_true(json_object_get(m->params, "postcopy")),
				 "converge_seconds", (json_int_t)converge);
	struct timeval tv = {1, 0};

	if (args == NULL || p_str(m, "uri") == NULL) {
		json_decref(args);
		abort_with(m, "the target's address is unknown");
		return;
	}
	with_tls(m, args);
	if (m->watch == NULL)
		m->watch = event_new(m->srv->base, -1, EV_PERSIST, on_watch, m);
	if (m->watch != NULL)
		event_add(m->watch, &tv);
	node_cmd(m, p_int(m, "source"), "vm.migrate-out", args,
		 (int)(converge > 0 ? converge : 3600) + TRANSFER_TIMEOUT_XTRA, transferred);
}

static void do_follow(struct mig *m);
static void do_switch(struct mig *m);

static void
on_follow_again(evutil_socket_t fd, short what, void *arg)
{
	do_follow(arg);
}

/* The source's agent is away: the target's side says how the migration goes. */
static void
followed(struct mig *m, bool ok, json_t *result, const char *code, const char *message)
{
	const char *state = json_string_value(json_object_get(result, "vm_state"));
	struct timeval tv = {0, FOLLOW_POLL_MS * 1000};

	if (!ok) {
		abort_with(m,
			   "lost the source's agent during the transfer and the target does not "
			   "answer: %s: %s",
			   code, message);
		return;
	}
	if (state != NULL && strcmp(state, "running") == 0) {
		do_switch(m);
		return;
	}
	if (!json_is_true(json_object_get(result, "qemu"))) {
		abort_with(m, "the migration failed while the source's agent was away (the target "
			      "QEMU exited)");
		return;
	}
	event_base_once(m->srv->base, -1, EV_TIMEOUT, on_follow_again, m, &tv);
}

static void
do_follow(struct mig *m)
{
	node_cmd(m, p_int(m, "target"), "vm.migrate-status", id_args(m), COMMAND_TIMEOUT, followed);
}

/* ------------------------------------------------------------------ switch and source */

/* The task's info once the vServer runs on the target. */
static void
done_info(const struct mig *m, char *info, size_t size)
{
	const json_t *r = json_object_get(m->params, "result");
	char postcopy[64] = "";

	if (json_object_get(r, "postcopy_after_s") != NULL)
		snprintf(postcopy, sizeof(postcopy), ", switched to post-copy after %lld s",
			 (long long)json_integer_value(json_object_get(r, "postcopy_after_s")));
	if (r != NULL)
		snprintf(info, size,
			 "migrated from %s to %s (QEMU: %lld ms total, %lld ms downtime, %lld MiB "
			 "sent%s)",
			 node_name(m, "source_name"), node_name(m, "target_name"),
			 (long long)json_integer_value(json_object_get(r, "total_ms")),
			 (long long)json_integer_value(json_object_get(r, "downtime_ms")),
			 (long long)(json_integer_value(json_object_get(r, "transferred")) >> 20),
			 postcopy);
	else
		snprintf(info, size,
			 "migrated from %s to %s (completed while the source's agent was away)",
			 node_name(m, "source_name"), node_name(m, "target_name"));
}

static void
cleanup_recorded(const struct db_result *res, void *arg)
{
	struct mig *m = arg;

	if (res->status != DB_OK)
		log_error("task %lld: cannot record the source's cleanup: %s; it is retried at the "
			  "next start",
			  (long long)m->task_id, res->message ? res->message : "-");
	int64_t vserver_id = m->vserver_id;
	mig_free(m);
	pending_end(vserver_id);
}

/* The source's QEMU and definition are gone (or could not be removed: said in the info). */
static void
cleanup_done(struct mig *m)
{
	static const char sql[] =
		"UPDATE tasks SET params = params - 'source_cleanup' || CASE WHEN $2 = '' THEN "
		"'{}'::jsonb ELSE jsonb_build_object('cleanup_error', $2::text) END, info = info "
		"|| "
		"coalesce('; ' || nullif($2, ''), '') WHERE id = $1";
	char tid[24];
	const char *args[] = {call_i64(tid, m->task_id), p_str(m, "cleanup_error") ?: ""};

	db_query(m->srv->db, sql, 2, args, cleanup_recorded, m);
}

static void
note_cleanup(struct mig *m, const char *what, const char *code, const char *message)
{
	char text[400];

	snprintf(text, sizeof(text), "%s: %s: %s", what, code, message);
	log_warn("task %lld: %s", (long long)m->task_id, text);
	json_object_set_new(m->params, "cleanup_error", json_string(text));
}

static void
source_undefined(struct mig *m, bool ok, json_t *result, const char *code, const char *message)
{
	if (!ok && strcmp(code, "not_defined") != 0)
		note_cleanup(m, "undefining the VM on the source", code, message);
	cleanup_done(m);
}

static void
source_stopped(struct mig *m, bool ok, json_t *result, const char *code, const char *message)
{
	if (!ok) {
		note_cleanup(m, "stopping the source QEMU", code, message);
		cleanup_done(m);
		return;
	}
	node_cmd(m, p_int(m, "source"), "vm.undefine", id_args(m), COMMAND_TIMEOUT,
		 source_undefined);
}

/*
 * After the switch: the source's QEMU (paused since the switch-over, its disk released to the
 * target) and definition go. The task is done already; params.source_cleanup, written in the
 * switch's statement, stays until this ends, and livemig_resume_cleanups() finishes it after
 * a controller restart. Never on the node the vServer runs on (a resumed cleanup after the
 * vServer came back there).
 */
static void
source_cleanup(struct mig *m)
{
	struct pending *e = *pending_find(m->vserver_id) ? NULL : calloc(1, sizeof(*e));

	if (e != NULL) {
		e->vserver_id = m->vserver_id;
		e->next = pending_cleanups;
		pending_cleanups = e;
	}
	m->attempts = 0;
	m->no_retry = false;
	if (vs_int(m, "node_id") == p_int(m, "source")) {
		log_warn("task %lld: the vServer runs on the source node again: its cleanup is "
			 "void",
			 (long long)m->task_id);
		cleanup_done(m);
		return;
	}
	node_cmd(m, p_int(m, "source"), "vm.stop", id_args(m), COMMAND_TIMEOUT, source_stopped);
}

static void
switched(const struct db_result *res, void *arg)
{
	struct mig *m = arg;

	if (res->status != DB_OK) {
		/* The guest runs on the target already: retry at the next start, never undo. */
		log_error("task %lld: the switch failed: %s; it resumes at the next start",
			  (long long)m->task_id, res->message ? res->message : "-");
		mig_free(m);
		return;
	}
	capacity_invalidate(m->srv->capacity);
	console_revoke_vserver(m->srv, m->vserver_id, "the vServer moved to another node");
	if (PQntuples(res->res) != 1) {
		log_warn("task %lld is gone or finished", (long long)m->task_id);
		mig_free(m);
		return;
	}
	/* m->row's vServer is as read before the switch: it is on the target now. */
	json_object_set_new((json_t *)vs(m), "node_id", json_integer(p_int(m, "target")));
	log_info("task %lld (migrate vServer %lld) done: %s", (long long)m->task_id,
		 (long long)m->vserver_id, PQgetvalue(res->res, 0, 0));
	source_cleanup(m);
}

/*
 * One transaction: node, cores and state switch (wr_migration_switch()), the task is done
 * (with its audit row) and notes the source's cleanup, which follows after the task's end.
 * Reached without persisting a "switch" step: a restarted controller asks the target again
 * (confirm, follow, abort_in), and a guest running there switches.
 */
static void
do_switch(struct mig *m)
{
	static const char sql[] =
		"WITH s AS (SELECT wr_migration_switch($1, $2) AS node), k AS (UPDATE tasks SET "
		"status = 'done', ended_at = now(), info = $3, step = NULL, params = "
		"coalesce(params, '{}') || $4::jsonb FROM s WHERE id = $2 AND status IN ('queued', "
		"'running') RETURNING tasks.*), a AS (INSERT INTO audit (user_id, username, "
		"scope_path, event, object_type, object_id, detail) SELECT k.user_id, k.username, "
		"k.scope_path, k.action || '.done', 'vserver', $5, $3 FROM k) SELECT $3 FROM k";
	char vid[24], tid[24], oid[24], info[512];
	char *params;

	snprintf(m->step, sizeof(m->step), "switch");
	done_info(m, info, sizeof(info));
	if (json_object_get(m->params, "tls_psk") != NULL)
		json_object_set_new(m->params, "tls_psk", json_null()); /* its stream is over */
	json_object_set_new(m->params, "source_cleanup", json_true());
	params = json_dumps(m->params, JSON_COMPACT);
	const char *args[] = {call_i64(vid, m->vserver_id), call_i64(tid, m->task_id), info,
			      params ? params : "{}", call_i64(oid, m->vserver_id)};

	db_query(m->srv->db, sql, 5, args, switched, m);
	free(params);
}

static void
confirmed(struct mig *m, bool ok, json_t *result, const char *code, const char *message)
{
	const char *state = json_string_value(json_object_get(result, "vm_state"));

	if (!ok && strcmp(code, "not_defined") != 0) {
		log_warn("task %lld: the target does not confirm: %s: %s", (long long)m->task_id,
			 code, message);
		json_object_set_new(m->params, "lost_error", json_string(message));
		goto_step(m, "confirm_lost");
		return;
	}
	if (state != NULL && strcmp(state, "running") == 0) {
		do_switch(m);
		return;
	}
	/* The target's agent answers and its QEMU did not start the guest: it never ran there. */
	json_object_set_new(m->params, "resume_source", json_true());
	if (p_str(m, "reason") == NULL) {
		char reason[300];
		if (json_is_true(json_object_get(result, "qemu")))
			snprintf(reason, sizeof(reason),
				 "the source reports the migration completed, but the target did "
				 "not start the guest within %d s",
				 CONFIRM_WAIT_SEC);
		else
			snprintf(reason, sizeof(reason),
				 "the source reports the migration completed, but the target QEMU "
				 "exited without starting the guest");
		json_object_set_new(m->params, "reason", json_string(reason));
	}
	goto_step(m, "abort_in");
}

static void
do_confirm(struct mig *m)
{
	m->no_retry = true; /* offline: confirm_lost decides */
	node_cmd(m, p_int(m, "target"), "vm.migrate-status",
		 json_pack("{s:I, s:i}", "id", (json_int_t)m->vserver_id, "wait", CONFIRM_WAIT_SEC),
		 CONFIRM_WAIT_SEC + COMMAND_TIMEOUT, confirmed);
}

/* ------------------------------------------------------------------ an unreachable target */

static void do_confirm_lost(struct mig *m);

static void
on_lost_again(evutil_socket_t fd, short what, void *arg)
{
	do_confirm_lost(arg);
}

/* Neither confirmed nor declared dead within the bound: leave the source paused, say so. */
static void
paused_recorded(const struct db_result *res, void *arg)
{
	struct mig *m = arg;

	if (res->status != DB_OK)
		log_error("task %lld: cannot record the vServer paused: %s", (long long)m->task_id,
			  res->message ? res->message : "-");
	fail(m, "%s", p_str(m, "reason") ?: "the target did not confirm");
}

static void
leave_paused(struct mig *m, const char *why)
{
	static const char sql[] = "UPDATE vservers SET state = 'paused', error = $2 WHERE id = $1";
	char vid[24], reason[512];
	const char *args[] = {call_i64(vid, m->vserver_id), reason};

	snprintf(reason, sizeof(reason), "%s; the vServer is left paused on %s", why,
		 node_name(m, "source_name"));
	json_object_set_new(m->params, "reason", json_string(reason));
	db_query(m->srv->db, sql, 2, args, paused_recorded, m);
}

static void
target_state_read(const struct db_result *res, void *arg)
{
	struct mig *m = arg;
	struct timeval tv = {1, 0};
	char why[400];

	if (res->status == DB_OK && PQntuples(res->res) == 1 &&
	    strcmp(PQgetvalue(res->res, 0, 0), "dead") == 0) {
		/* Declared dead only after failover_after > fence_after + margin: its agent
		 * killed its QEMUs before (DESIGN §6). But the guest most likely ran there after
		 * the source completed, writing to its disk: the source's RAM is stale, so it is
		 * not resumed; it goes, and the vServer boots from its disk when started again. */
		json_object_set_new(m->params, "target_dead", json_true());
		json_object_set_new(
			m->params, "reason",
			json_string(
				"the source reports the migration completed, but the target node "
				"was declared dead before it confirmed; the guest may have run "
				"there, so its memory on the source is stale"));
		goto_step(m, "dead_stop");
		return;
	}
	if (agents_node_online(m->srv, p_int(m, "target")) && p_int(m, "lost_rounds") < 10) {
		/* back (or answering with an error: a few more rounds, then a decision) */
		json_object_set_new(m->params, "lost_rounds",
				    json_integer(p_int(m, "lost_rounds") + 1));
		goto_step(m, json_is_true(json_object_get(m->params, "resume_source")) ? "abort_in"
										       : "confirm");
		return;
	}
	if (++m->polls >= CONFIRM_LOST_SEC || p_int(m, "lost_rounds") >= 10) {
		snprintf(why, sizeof(why),
			 "the source reports the migration completed, but the target node %s "
			 "neither confirmed nor was declared dead within %d s (%s), so the guest "
			 "may run there; if it never ran on %s, vserver-resume; otherwise its "
			 "memory here is stale: vserver-stop and vserver-start (it boots from its "
			 "disk)",
			 node_name(m, "target_name"), CONFIRM_LOST_SEC,
			 p_str(m, "lost_error") ?: "not connected", node_name(m, "target_name"));
		leave_paused(m, why);
		return;
	}
	event_base_once(m->srv->base, -1, EV_TIMEOUT, on_lost_again, m, &tv);
}

static void
do_confirm_lost(struct mig *m)
{
	static const char sql[] = "SELECT state FROM nodes WHERE id = $1";
	char nid[24];
	const char *args[] = {call_i64(nid, p_int(m, "target"))};

	db_query(m->srv->db, sql, 1, args, target_state_read, m);
}

/* ------------------------------------------------------------------ the guest never ran there */

static void
aborted_in(struct mig *m, bool ok, json_t *result, const char *code, const char *message)
{
	if (ok) {
		goto_step(m, "source_resume");
	} else if (strcmp(code, "running") == 0) {
		/* It started there after all: it stays there. */
		log_warn("task %lld: the guest runs on the target after all: switching",
			 (long long)m->task_id);
		json_object_set_new(m->params, "resume_source", json_null());
		json_object_set_new(m->params, "reason", json_null());
		do_switch(m);
	} else if (strcmp(code, "not_defined") == 0) {
		goto_step(m, "source_resume");
	} else {
		log_warn("task %lld: aborting the incoming QEMU: %s: %s", (long long)m->task_id,
			 code, message);
		json_object_set_new(m->params, "lost_error", json_string(message));
		goto_step(m, "confirm_lost");
	}
}

/* The target was declared dead: the source's paused QEMU goes, the vServer is stopped. */
static void
dead_recorded(const struct db_result *res, void *arg)
{
	struct mig *m = arg;

	if (res->status != DB_OK)
		note_cleanup(m, "recording the vServer stopped", "database",
			     res->message ? res->message : "-");
	goto_step(m, "release");
}

static void
dead_stopped(struct mig *m, bool ok, json_t *result, const char *code, const char *message)
{
	static const char sql[] = "UPDATE vservers SET state = 'stopped', error = $2 WHERE id = $1";
	char vid[24];
	const char *args[] = {call_i64(vid, m->vserver_id), p_str(m, "reason") ?: "-"};

	if (!ok && strcmp(code, "not_defined") != 0) {
		/* paused, never resumed: the vServer stays paused there, with the reason */
		char why[600];
		snprintf(why, sizeof(why), "%s; stopping it on %s failed: %s: %s",
			 p_str(m, "reason") ?: "-", node_name(m, "source_name"), code, message);
		leave_paused(m, why);
		return;
	}
	json_object_set_new(m->params, "stopped_source", json_true());
	db_query(m->srv->db, sql, 2, args, dead_recorded, m);
}

static void do_source_resume(struct mig *m);

static void
on_resume_again(evutil_socket_t fd, short what, void *arg)
{
	do_source_resume(arg);
}

static void
source_resumed(struct mig *m, bool ok, json_t *result, const char *code, const char *message)
{
	struct timeval tv = {1, 0};
	char why[600];

	if (ok) {
		json_object_set_new(m->params, "resumed", json_true());
		goto_step(m, "abort_undefine");
		return;
	}
	if (strcmp(code, "resume_failed") == 0 && ++m->polls < RESUME_RETRIES) {
		event_base_once(m->srv->base, -1, EV_TIMEOUT, on_resume_again, m, &tv);
		return;
	}
	snprintf(why, sizeof(why), "%s; resuming it on %s failed: %s: %s",
		 p_str(m, "reason") ?: "the target did not run the guest",
		 node_name(m, "source_name"), code, message);
	leave_paused(m, why);
}

static void
do_source_resume(struct mig *m)
{
	node_cmd(m, p_int(m, "source"), "vm.migrate-resume", id_args(m), COMMAND_TIMEOUT,
		 source_resumed);
}

/* ------------------------------------------------------------------ abort */

static void
target_stopped(struct mig *m, bool ok, json_t *result, const char *code, const char *message)
{
	if (!ok && strcmp(code, "not_defined") != 0)
		note_cleanup(m, "stopping the target QEMU", code, message);
	goto_step(m, "abort_undefine");
}

static void
target_undefined(struct mig *m, bool ok, json_t *result, const char *code, const char *message)
{
	if (!ok && strcmp(code, "not_defined") != 0)
		note_cleanup(m, "undefining the VM on the target", code, message);
	goto_step(m, "release");
}

static void
released(const struct db_result *res, void *arg)
{
	struct mig *m = arg;

	capacity_invalidate(m->srv->capacity);
	if (res->status != DB_OK)
		note_cleanup(m, "releasing the reserved cores", "database",
			     res->message ? res->message : "-");
	fail(m, "%s; the vServer %s %s%s%s", p_str(m, "reason") ?: "failed",
	     json_is_true(json_object_get(m->params, "stopped_source"))
		     ? "was stopped (its next start boots it from its disk) on"
	     : json_is_true(json_object_get(m->params, "resumed")) ? "was resumed and runs on"
								   : "keeps running on",
	     node_name(m, "source_name"), p_str(m, "cleanup_error") ? "; " : "",
	     p_str(m, "cleanup_error") ?: "");
}

static void
do_release(struct mig *m)
{
	static const char sql[] = "SELECT wr_migration_release($1, $2)";
	char vid[24], tid[24];
	const char *params[] = {call_i64(vid, m->vserver_id), call_i64(tid, m->task_id)};

	db_query(m->srv->db, sql, 2, params, released, m);
}

/* ------------------------------------------------------------------ steps */

static bool
is(const struct mig *m, const char *step)
{
	return strcmp(m->step, step) == 0;
}

static void
advance(struct mig *m)
{
	const char *cancel = p_str(m, "cancel");

	/* A cancel before the transfer: nothing moved yet. */
	if (cancel != NULL && (is(m, "begin") || is(m, "reserve") || is(m, "define") ||
			       is(m, "incoming") || is(m, "transfer"))) {
		if (is(m, "begin"))
			fail(m, "%s", cancel);
		else
			abort_with(m, "%s", cancel);
		return;
	}
	if (is(m, "begin"))
		do_begin(m);
	else if (is(m, "reserve"))
		do_reserve(m);
	else if (is(m, "define"))
		do_define(m);
	else if (is(m, "incoming"))
		do_incoming(m);
	else if (is(m, "transfer"))
		do_transfer(m);
	else if (is(m, "follow"))
		do_follow(m);
	else if (is(m, "switch"))
		do_switch(m);
	else if (is(m, "source_stop") || is(m, "source_undefine") || is(m, "done"))
		do_switch(m); /* steps of earlier versions, after the switch: ends the task */
	else if (is(m, "confirm"))
		do_confirm(m);
	else if (is(m, "confirm_lost"))
		do_confirm_lost(m);
	else if (is(m, "abort_in"))
		node_cmd(m, p_int(m, "target"), "vm.migrate-abort-in", id_args(m), COMMAND_TIMEOUT,
			 aborted_in);
	else if (is(m, "source_resume"))
		do_source_resume(m);
	else if (is(m, "dead_stop"))
		node_cmd(m, p_int(m, "source"), "vm.stop", id_args(m), COMMAND_TIMEOUT,
			 dead_stopped);
	else if (is(m, "abort"))
		node_cmd(m, p_int(m, "target"), "vm.stop", id_args(m), COMMAND_TIMEOUT,
			 target_stopped);
	else if (is(m, "abort_undefine"))
		node_cmd(m, p_int(m, "target"), "vm.undefine", id_args(m), COMMAND_TIMEOUT,
			 target_undefined);
	else if (is(m, "release"))
		do_release(m);
	else
		fail(m, "unknown step %s", m->step);
}

/* m's task as MIG_JSON made it; false when its vServer is gone. */
static bool
load_row(struct mig *m, const char *text)
{
	json_decref(m->row);
	m->row = json_loads(text, 0, NULL);
	json_t *params = json_object_get(m->row, "params");
	json_decref(m->params);
	m->params = json_is_object(params) ? json_deep_copy(params) : json_object();
	m->vserver_id = json_integer_value(json_object_get(m->row, "vserver_id"));
	snprintf(m->step, sizeof(m->step), "%s",
		 json_string_value(json_object_get(m->row, "step")) ?: "begin");
	return m->params != NULL && json_is_object(vs(m));
}

static void
loaded(const struct db_result *res, void *arg)
{
	struct mig *m = arg;

	if (res->status != DB_OK) {
		log_error("task %lld: cannot load: %s; it resumes at the next start",
			  (long long)m->task_id, res->message ? res->message : "-");
		mig_free(m);
		return;
	}
	if (PQntuples(res->res) != 1) {
		log_warn("task %lld is gone or finished", (long long)m->task_id);
		mig_free(m);
		return;
	}
	if (!load_row(m, PQgetvalue(res->res, 0, 0))) {
		fail(m, "the vServer no longer exists");
		return;
	}
	m->polls = 0;
	m->no_retry = false;
	advance(m);
}

/* Persist the step and what was learned, reload, take the step. */
static void
goto_step(struct mig *m, const char *step)
{
	static const char sql[] =
		"WITH k AS (UPDATE tasks SET step = $2, status = 'running', params = "
		"coalesce(params, '{}') || $3::jsonb WHERE id = $1 AND status IN ('queued', "
		"'running') RETURNING *) SELECT " MIG_JSON " FROM k";
	char tid[24];
	char *params = json_dumps(m->params, JSON_COMPACT);
	const char *args[] = {call_i64(tid, m->task_id), step, params ? params : "{}"};

	db_query(m->srv->db, sql, 3, args, loaded, m);
	free(params);
}

static void
step_persisted(const struct db_result *res, void *arg)
{
	int64_t *task = arg;

	if (res->status != DB_OK)
		log_warn("task %lld: cannot persist its step: %s", (long long)*task,
			 res->message ? res->message : "-");
	free(task);
}

/*
 * Persist the step and what was learned without waiting for it (goto_step() without the
 * reload): for a step whose command goes out at once. A later end of the task wins, the
 * UPDATE only touches a task still running.
 */
static void
persist_step(struct mig *m, const char *step)
{
	static const char sql[] = "UPDATE tasks SET step = $2, status = 'running', params = "
				  "coalesce(params, '{}') || "
				  "$3::jsonb WHERE id = $1 AND status IN ('queued', 'running')";
	int64_t *task = malloc(sizeof(*task));
	char tid[24];
	char *params = json_dumps(m->params, JSON_COMPACT);
	const char *args[] = {call_i64(tid, m->task_id), step, params ? params : "{}"};

	if (task != NULL) {
		*task = m->task_id;
		db_query(m->srv->db, sql, 3, args, step_persisted, task);
	}
	free(params);
}

void
livemig_run(struct server *srv, int64_t task_id)
{
	static const char sql[] = "SELECT " MIG_JSON " FROM tasks k WHERE k.id = $1 AND "
				  "k.status IN ('queued', 'running')";
	struct mig *m = calloc(1, sizeof(*m));
	char tid[24];
	const char *params[] = {call_i64(tid, task_id)};

	if (m == NULL) {
		log_error("task %lld: out of memory; it resumes at the next start",
			  (long long)task_id);
		return;
	}
	m->srv = srv;
	m->task_id = task_id;
	db_query(srv->db, sql, 1, params, loaded, m);
}

static void
cleanups_loaded(const struct db_result *res, void *arg)
{
	struct server *srv = arg;

	if (res->status != DB_OK) {
		log_error("cannot read the migrations' pending source cleanups: %s",
			  res->message ? res->message : "-");
		return;
	}
	for (int i = 0; i < PQntuples(res->res); i++) {
		struct mig *m = calloc(1, sizeof(*m));
		if (m == NULL)
			return;
		m->srv = srv;
		m->task_id = strtoll(PQgetvalue(res->res, i, 0), NULL, 10);
		if (!load_row(m, PQgetvalue(res->res, i, 1))) {
			cleanup_done(m); /* the vServer is gone: nothing of it runs anywhere */
			continue;
		}
		log_info("task %lld: the source's cleanup after the migration resumes",
			 (long long)m->task_id);
		source_cleanup(m);
	}
}

void
livemig_resume_cleanups(struct server *srv)
{
	/* Only what an earlier process left behind; this one's cleanups run already. */
	static const char sql[] =
		"SELECT k.id, " MIG_JSON " FROM tasks k WHERE k.action = 'vserver-migrate' AND "
		"k.status = 'done' AND k.params ? 'source_cleanup' AND k.ended_at < "
		"to_timestamp($1::float8)";
	char since[32];
	const char *params[] = {since};

	snprintf(since, sizeof(since), "%.3f", srv->started);
	db_query(srv->db, sql, 1, params, cleanups_loaded, srv);
}

/* ------------------------------------------------------------------ events and cancel */

static void
progress_stored(const struct db_result *res, void *arg)
{
	if (res->status != DB_OK)
		log_warn("cannot record migration progress: %s", res->message ? res->message : "-");
}

void
livemig_node_event(struct server *srv, int64_t node_id, int64_t vserver_id, const char *detail)
{
	/* Only the migration's source reports its progress. */
	static const char sql[] =
		"UPDATE tasks SET progress = $3::jsonb, info = $4 WHERE vserver_id = $1 AND "
		"action = 'vserver-migrate' AND status = 'running' AND (params->>'source')::bigint "
		"= $2";
	json_t *p = json_loads(detail ? detail : "", 0, NULL);
	char vid[24], nid[24], info[256];

	if (!json_is_object(p)) {
		log_warn("node %lld: malformed migration progress for vServer %lld",
			 (long long)node_id, (long long)vserver_id);
		json_decref(p);
		return;
	}
	snprintf(info, sizeof(info),
		 "%s: %lld%%, %lld of %lld MiB sent, %lld MiB remaining, dirty %lld KiB/s, "
		 "expected downtime %lld ms",
		 json_string_value(json_object_get(p, "status")) ?: "?",
		 (long long)json_integer_value(json_object_get(p, "percent")),
		 (long long)(json_integer_value(json_object_get(p, "transferred")) >> 20),
		 (long long)(json_integer_value(json_object_get(p, "total")) >> 20),
		 (long long)(json_integer_value(json_object_get(p, "remaining")) >> 20),
		 (long long)(json_integer_value(json_object_get(p, "dirty_rate")) >> 10),
		 (long long)json_integer_value(json_object_get(p, "expected_downtime_ms")));
	json_decref(p);
	const char *params[] = {call_i64(vid, vserver_id), call_i64(nid, node_id), detail, info};
	db_query(srv->db, sql, 4, params, progress_stored, NULL);
}

static void
cancel_replied(void *arg, bool ok, json_t *result, const char *code, const char *message)
{
	int64_t *task = arg;

	if (!ok)
		log_warn("task %lld: cancel not delivered: %s: %s", (long long)*task,
			 code ? code : "-", message ? message : "-");
	free(task);
}

void
livemig_cancel(struct server *srv, int64_t task_id, int64_t source_node, int64_t vserver_id,
	       const char *reason)
{
	int64_t *task = malloc(sizeof(*task));
	json_t *args = json_pack("{s:I, s:s}", "id", (json_int_t)vserver_id, "reason", reason);

	if (task == NULL || args == NULL) {
		free(task);
		json_decref(args);
		return;
	}
	*task = task_id;
	agents_command(srv, source_node, task_id, "vm.migrate-cancel", args, COMMAND_TIMEOUT,
		       cancel_replied, task);
	json_decref(args);
}
