/*
 * vServer lifecycle tasks. A task is a row (status, step, params) and, while it runs, a struct
 * run in memory. Every step persists the next step name before it is taken, and every step is
 * idempotent on both sides (placing an already placed vServer, creating an existing disk of the
 * same size, defining a defined VM, starting a running one are all no-ops), so resuming a task
 * after a controller restart simply runs its current step again.
 *
 * Steps that talk to a node retry for a while when the node is not connected (an agent that
 * restarts comes back within seconds); a node that stays away fails the task with that reason.
 *
 * A start takes a shorter road (docs/ARCHITECTURE.md, "Starts in sets"): its placement batch
 * saves the step and prepares the NIC and the definition, the node commands follow in memory,
 * and the task's end is group-committed with those of other tasks (groupcommit.c). The saved
 * step is never ahead of what was done, so a resumed start walks the steps below.
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
#include "groupcommit.h"
#include "lifecycle.h"
#include "livemig.h"
#include "log.h"
#include "placement.h"
#include "server.h"

#define NODE_RETRY_SECONDS 5
#define NODE_RETRY_MAX	   12 /* one minute of a missing node before the task fails */
#define COMMAND_TIMEOUT	   60

#define RUN_COLUMNS	 LIFECYCLE_RUN_COLUMNS
#define RUN_JOIN	 LIFECYCLE_RUN_JOIN
#define FINISH_BATCH_MAX 1024

/* Owner: the engine, from lifecycle_run() until finish(). */
struct run {
	struct server *srv;
	int64_t task_id;
	int64_t vserver_id;
	char action[32];
	char step[32];
	json_t *vs;	/* the vServer row as loaded for this step */
	json_t *params; /* the task's parameters */
	int node_attempts;
	const char *cmd_op; /* the node command being retried */
	json_t *cmd_args;
	const char *cmd_next;
	void (*cmd_then)(struct run *r); /* instead of going to step cmd_next */
	int cmd_timeout;
	/* A start placed by wr_place_batch(): the definition and the disk's storage it prepared. */
	json_t *spec;
	char *storage;
	bool disk_made; /* this run created the disk: recorded with the task's end */
	bool booting;	/* in the set of vServers whose start is under way (below) */
	struct run *next_booting;
	/* Its end, as the batched finish writes it. */
	bool ok;
	char *info;
	const char *state;
};

static void advance(struct run *r);
static void load(struct run *r);
static void loaded(const struct db_result *res, void *arg);
static void take_row(struct run *r, json_t *row);

/*
 * The vServers whose start is under way on the fast path (start_placed() to the task's end).
 * Their node's "started" event cannot change anything: the task is active, and it records the
 * running state itself when it ends, so the event costs no statement.
 */
#define BOOTING_BUCKETS 4096
static struct run *booting[BOOTING_BUCKETS];

static void
booting_add(struct run *r)
{
	struct run **b = &booting[(uint64_t)r->vserver_id % BOOTING_BUCKETS];

	r->next_booting = *b;
	*b = r;
	r->booting = true;
}

static void
booting_remove(struct run *r)
{
	for (struct run **pp = &booting[(uint64_t)r->vserver_id % BOOTING_BUCKETS]; *pp != NULL;
	     pp = &(*pp)->next_booting)
		if (*pp == r) {
			*pp = r->next_booting;
			break;
		}
	r->booting = false;
}

static bool
booting_has(int64_t vserver_id)
{
	for (struct run *r = booting[(uint64_t)vserver_id % BOOTING_BUCKETS]; r != NULL;
	     r = r->next_booting)
		if (r->vserver_id == vserver_id)
			return true;
	return false;
}

static void
run_free(struct run *r)
{
	if (r->booting)
		booting_remove(r);
	json_decref(r->vs);
	json_decref(r->params);
	json_decref(r->cmd_args);
	json_decref(r->spec);
	free(r->storage);
	free(r->info);
	free(r);
}

static int64_t
vs_int(const struct run *r, const char *key)
{
	return (int64_t)json_integer_value(json_object_get(r->vs, key));
}

static bool
vs_bool(const struct run *r, const char *key)
{
	return json_is_true(json_object_get(r->vs, key));
}

static const char *
vs_str(const struct run *r, const char *key)
{
	return json_string_value(json_object_get(r->vs, key));
}

/* ------------------------------------------------------------------ finishing */

static void
finished(void *item, const struct db_result *res, int row)
{
	struct run *r = item;

	if (res->status != DB_OK)
		log_error("task %lld: cannot record its end: %s", (long long)r->task_id,
			  res->message ? res->message : "-");
	run_free(r);
}

static json_t *
finish_fill(void *item)
{
	struct run *r = item;

	return json_pack("{s:I, s:I, s:s, s:s, s:s?, s:s?}", "id", (json_int_t)r->task_id, "vs",
			 (json_int_t)r->vserver_id, "status", r->ok ? "done" : "failed", "info",
			 r->info ? r->info : "", "state", r->state, "storage",
			 r->disk_made ? r->storage : NULL);
}

/*
 * Task ends, group-committed: status, info, the vServer's new state (NULL: unchanged) and its
 * error text, a disk this run created, and an audit row, for many tasks in one statement. The
 * "= ANY(ARRAY(...))" conditions let the planner use the primary keys (a join with the
 * recordset alone was planned as a scan of the whole tasks table).
 */
static const char finish_sql[] =
	"WITH x AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(i integer, id bigint, "
	"vs bigint, status text, info text, state text, storage text)), "
	"k AS (UPDATE tasks t SET status = x.status, ended_at = now(), info = x.info, step = NULL "
	"FROM x WHERE t.id = x.id AND t.id = ANY(ARRAY(SELECT id FROM x)) "
	"RETURNING t.user_id, t.username, t.scope_path, t.action, "
	"x.status AS xstatus, x.info AS xinfo, x.vs AS xvs), "
	"v AS (UPDATE vservers v SET state = coalesce(x.state, v.state), "
	"error = CASE WHEN x.status = 'failed' THEN x.info ELSE NULL END, "
	"disk_created = v.disk_created OR x.storage IS NOT NULL, "
	"disk_storage = coalesce(x.storage, v.disk_storage), "
	"disk_node_id = CASE WHEN x.storage IS NULL THEN v.disk_node_id ELSE v.node_id END "
	"FROM x WHERE v.id = x.vs AND v.id = ANY(ARRAY(SELECT vs FROM x))) "
	"INSERT INTO audit (user_id, username, scope_path, event, object_type, object_id, "
	"detail) SELECT k.user_id, k.username, k.scope_path, k.action || '.' || k.xstatus, "
	"'vserver', k.xvs, k.xinfo FROM k";

static struct groupcommit *finishes;

/*
 * End the task: status, info, the vServer's new state (NULL: unchanged) and its error text, and
 * an audit row, in one (batched) statement.
 */
static void
finish(struct run *r, bool ok, const char *info, const char *state)
{
	r->ok = ok;
	free(r->info);
	r->info = strdup(info ? info : "");
	r->state = state;

	/* These release or change cores and RAM behind the scheduler's cache. */
	if (strcmp(r->action, "vserver-park") == 0 || strcmp(r->action, "vserver-delete") == 0 ||
	    strcmp(r->action, "vserver-resize") == 0)
		capacity_invalidate(r->srv->capacity);
	log_info("task %lld (%s vServer %lld) %s%s%s", (long long)r->task_id, r->action,
		 (long long)r->vserver_id, ok ? "done" : "failed", info && *info ? ": " : "",
		 info ? info : "");
	/* A console stays open only while the guest runs where it ran (tickets: SQL trigger). */
	if (state != NULL && strcmp(state, "running") != 0 && strcmp(state, "paused") != 0)
		console_revoke_vserver(r->srv, r->vserver_id, "the vServer stopped or moved");
	if (finishes == NULL)
		finishes = groupcommit_new(r->srv->base, capacity_db, r->srv, finish_sql,
					   FINISH_BATCH_MAX, finish_fill, finished);
	if (finishes == NULL) {
		log_error("task %lld: out of memory; it resumes at the next start",
			  (long long)r->task_id);
		run_free(r);
		return;
	}
	groupcommit_add(finishes, r);
}

static void fail(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
fail(struct run *r, const char *fmt, ...)
{
	char info[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(info, sizeof(info), fmt, ap);
	va_end(ap);
	finish(r, false, info, NULL);
}

/* ------------------------------------------------------------------ steps */

/*
 * Persist the next step and reload the task and its vServer in one statement, then take the
 * step. If the database is away the task stays at its saved step and resumes at the next start.
 */
static void
goto_step(struct run *r, const char *step)
{
	static const char sql[] =
		"WITH k AS (UPDATE tasks SET step = $2, status = 'running' WHERE id = $1 AND "
		"status "
		"IN ('queued', 'running') RETURNING *) SELECT " RUN_COLUMNS " FROM k" RUN_JOIN;
	char tid[24];
	const char *params[] = {call_i64(tid, r->task_id), step};

	snprintf(r->step, sizeof(r->step), "%s", step);
	db_query(r->srv->db, sql, 2, params, loaded, r);
}

static void
sql_then(const struct db_result *res, void *arg)
{
	struct run *r = arg;

	if (res->status != DB_OK) {
		fail(r, "%s", res->message ? res->message : "database error");
		return;
	}
	goto_step(r, r->cmd_next);
}

/* Run a statement with $1 = vServer id, then go to step next. */
static void
sql_step(struct run *r, const char *sql, const char *next)
{
	char vid[24];
	const char *params[] = {call_i64(vid, r->vserver_id)};

	r->cmd_next = next;
	db_query(r->srv->db, sql, 1, params, sql_then, r);
}

static void send_command(struct run *r);

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	send_command(arg);
}

static void
command_replied(void *arg, bool ok, json_t *result, const char *code, const char *message)
{
	struct run *r = arg;

	if (ok) {
		r->node_attempts = 0;
		if (r->cmd_then != NULL)
			r->cmd_then(r);
		else
			goto_step(r, r->cmd_next);
		return;
	}
	/*
	 * image_locked: another QEMU still has the disk open, e.g. on a node declared dead whose
	 * frozen agent could not fence it yet (controller/failover.c); it is retried like a
	 * missing node, so the guest starts once the old QEMU is gone and never runs twice.
	 */
	if (code != NULL &&
	    (strcmp(code, "node_offline") == 0 || strcmp(code, "timeout") == 0 ||
	     strcmp(code, "image_locked") == 0) &&
	    ++r->node_attempts < NODE_RETRY_MAX) {
		struct timeval tv = {NODE_RETRY_SECONDS, 0};
		log_info("task %lld: node not answering (%s); retrying %s", (long long)r->task_id,
			 code, r->cmd_op);
		event_base_once(r->srv->base, -1, EV_TIMEOUT, on_retry, r, &tv);
		return;
	}
	if (code != NULL && strcmp(code, "shutdown_timeout") == 0) {
		fail(r, "the guest did not power off in time; it is still running (use stop to "
			"force it off)");
		return;
	}
	fail(r, "%s on the node failed: %s%s%s", r->cmd_op, code ? code : "error",
	     message ? ": " : "", message ? message : "");
}

static void
send_command(struct run *r)
{
	agents_command(r->srv, vs_int(r, "node_id"), r->task_id, r->cmd_op, r->cmd_args,
		       r->cmd_timeout, command_replied, r);
}

/* Send a command to the vServer's node (args stolen), then go to step next. */
static void
node_step(struct run *r, const char *op, json_t *args, int timeout, const char *next)
{
	json_decref(r->cmd_args);
	r->cmd_op = op;
	r->cmd_args = args;
	r->cmd_next = next;
	r->cmd_then = NULL;
	r->cmd_timeout = timeout;
	r->node_attempts = 0;
	send_command(r);
}

/* Send a command to the vServer's node (args stolen), then continue with then(). */
static void
node_then(struct run *r, const char *op, json_t *args, void (*then)(struct run *r))
{
	json_decref(r->cmd_args);
	r->cmd_op = op;
	r->cmd_args = args;
	r->cmd_next = NULL;
	r->cmd_then = then;
	r->cmd_timeout = COMMAND_TIMEOUT;
	r->node_attempts = 0;
	send_command(r);
}

static json_t *
vm_id_args(const struct run *r)
{
	return json_pack("{s:I}", "id", (json_int_t)r->vserver_id);
}

/* ------------------------------------------------------------------ placement */

static void start_placed(struct run *r, json_t *info);

static void
placed(void *arg, int64_t node_id, const char *node_name, const char *error, json_t *info)
{
	struct run *r = arg;

	if (node_id < 0) {
		/* Placed by a task that ended after this one was read: look again. */
		log_info("task %lld: vServer %lld is placed already; reading it again",
			 (long long)r->task_id, (long long)r->vserver_id);
		load(r);
		return;
	}
	if (node_id == 0) {
		fail(r, "%s", error);
		return;
	}
	log_info("task %lld: vServer %lld goes to node %s", (long long)r->task_id,
		 (long long)r->vserver_id, node_name);
	if (info != NULL) {
		json_object_set_new(r->vs, "node_id", json_integer(node_id));
		start_placed(r, info);
		return;
	}
	goto_step(r, r->cmd_next);
}

/* A start of a vServer placed already: its part of the next placement batch is done. */
static void
prepared(void *arg, int64_t node_id, const char *node_name, const char *error, json_t *info)
{
	struct run *r = arg;

	if (node_id > 0 && info != NULL) {
		start_placed(r, info);
		return;
	}
	if (node_id == 0) {
		fail(r, "%s", error);
		return;
	}
	goto_step(r, r->cmd_next); /* the long road, on a fresh read of the vServer */
}

/*
 * Place the vServer (unless it is placed already), then go to step next. A start's placement
 * (start = true) also prepares the rest of the start in the same transaction (start_placed()),
 * also for a vServer placed already.
 */
static void
place(struct run *r, const char *next, bool start)
{
	if (vs_int(r, "node_id") != 0) {
		if (!start) {
			goto_step(r, next);
			return;
		}
		r->cmd_next = next;
		capacity_prepare(r->srv->capacity, r->vserver_id, vs_int(r, "node_id"), r->task_id,
				 prepared, r);
		return;
	}
	struct placement_request req = {
		.cores = (int)vs_int(r, "cores"),
		.ram_mb = vs_int(r, "ram_mb"),
		.disk_gb = vs_bool(r, "disk_created") ? 0 : vs_int(r, "disk_gb"),
		.vdc_id = vs_int(r, "vdc_id"),
		/* A failover restart may (and prefers to) use reserve nodes. */
		.use_reserve = strcmp(r->action, "vserver-failover") == 0,
		/* A disk on local (not shared) storage ties the vServer to its node. */
		.only_id = vs_bool(r, "disk_created") && !vs_bool(r, "disk_shared")
				   ? vs_int(r, "disk_node_id")
				   : 0,
	};
	r->cmd_next = next;
	capacity_place(r->srv->capacity, r->vserver_id, start ? r->task_id : 0, &req,
		       vs_str(r, "anti_affinity"), placed, r);
}

/* ------------------------------------------------------------------ disks and definition */

static void
storage_loaded(const struct db_result *res, void *arg)
{
	struct run *r = arg;
	char name[32];

	if (res->status != DB_OK || PQntuples(res->res) != 1) {
		fail(r, "the node reports no storage for the vServer's disk");
		return;
	}
	snprintf(name, sizeof(name), "vs-%lld", (long long)r->vserver_id);
	/* Remembered before the command: a resumed task re-creates on the same storage. */
	json_object_set_new(r->params, "storage", json_string(PQgetvalue(res->res, 0, 0)));
	json_t *args = json_pack("{s:s, s:s, s:I}", "storage", PQgetvalue(res->res, 0, 0), "name",
				 name, "size_gb", (json_int_t)vs_int(r, "disk_gb"));
	if (vs_str(r, "template") != NULL)
		json_object_set_new(args, "backing", json_string(vs_str(r, "template")));
	node_step(r, "disk.create", args, COMMAND_TIMEOUT, "disk_made");
}

static void
make_disk(struct run *r)
{
	static const char sql[] =
		"SELECT s.name FROM node_storages s JOIN vservers v ON v.node_id = s.node_id "
		"WHERE v.id = $1 AND (v.disk_storage IS NULL OR s.name = v.disk_storage) "
		"ORDER BY s.shared DESC, s.name LIMIT 1";
	char vid[24];
	const char *params[] = {call_i64(vid, r->vserver_id)};

	if (vs_bool(r, "disk_created")) {
		goto_step(r, "define");
		return;
	}
	db_query(r->srv->db, sql, 1, params, storage_loaded, r);
}

static void
disk_made(struct run *r)
{
	static const char sql[] = "UPDATE vservers SET disk_created = true, disk_storage = $2, "
				  "disk_node_id = node_id WHERE id = $1";
	char vid[24];
	const char *params[] = {call_i64(vid, r->vserver_id),
				json_string_value(json_object_get(r->params, "storage"))};

	r->cmd_next = "define";
	db_query(r->srv->db, sql, 2, params, sql_then, r);
}

static void
spec_loaded(const struct db_result *res, void *arg)
{
	struct run *r = arg;

	if (res->status != DB_OK || PQntuples(res->res) != 1) {
		fail(r, "cannot build the VM definition: %s", res->message ? res->message : "-");
		return;
	}
	json_t *spec = json_loads(PQgetvalue(res->res, 0, 0), 0, NULL);
	if (spec == NULL) {
		fail(r, "cannot build the VM definition");
		return;
	}
	node_step(r, "vm.define", spec, COMMAND_TIMEOUT, "boot");
}

/* The VM as the node must run it; one NIC with a controller-allocated MAC is made on first use. */
static void
define(struct run *r)
{
	static const char sql[] =
		"WITH nic AS (INSERT INTO nics (vserver_id, mac, model) SELECT v.id, "
		"wr_next_mac(), "
		"v.nic_model FROM vservers v WHERE v.id = $1 AND NOT EXISTS (SELECT 1 FROM nics "
		"WHERE vserver_id = $1) RETURNING mac, model), "
		"all_nics AS (SELECT mac, model FROM nics WHERE vserver_id = $1 UNION ALL "
		"SELECT mac, model FROM nic) "
		"SELECT json_build_object('id', v.id, 'name', v.name, 'uuid', v.uuid, "
		"'cores', (SELECT json_agg(c.core ORDER BY c.vcpu) FROM vcpu_cores c "
		"WHERE c.vserver_id = v.id), 'ram_mb', v.ram_mb, "
		"'disks', json_build_array(json_build_object('storage', v.disk_storage, 'name', "
		"'vs-' || v.id, 'bus', 'virtio')), "
		"'nics', (SELECT json_agg(json_build_object('mac', n.mac::text, 'bridge', "
		"coalesce(nd.bridges[1], 'wrbr0'), 'model', n.model)) FROM all_nics n), "
		"'iso', v.iso) FROM vservers v JOIN nodes nd ON nd.id = v.node_id WHERE v.id = $1";
	char vid[24];
	const char *params[] = {call_i64(vid, r->vserver_id)};

	db_query(r->srv->db, sql, 1, params, spec_loaded, r);
}

/* ------------------------------------------------------------------ a start, in memory */

/*
 * After wr_place_batch() the task's step is 'disk' (or 'define' when the disk exists), the
 * vServer has its NIC and info holds the storage and the VM definition, so the node commands
 * follow one another without a database round trip; the task's end (with the disk this run made)
 * is the next write. Every command is idempotent, so a controller killed in between resumes from
 * the saved step and sends them again.
 */
static void start_boot(struct run *r);
static void start_started(struct run *r);

static void
start_define(struct run *r)
{
	node_then(r, "vm.define", json_incref(r->spec), start_boot);
}

static void
start_disk_made(struct run *r)
{
	r->disk_made = true;
	start_define(r);
}

static void
start_boot(struct run *r)
{
	node_then(r, "vm.start", vm_id_args(r), start_started);
}

static void
start_started(struct run *r)
{
	finish(r, true, "", "running");
}

static void
start_placed(struct run *r, json_t *info)
{
	const char *storage = json_string_value(json_object_get(info, "storage"));
	json_t *spec = json_object_get(info, "spec");

	if (!json_is_true(json_object_get(info, "task_active"))) {
		log_warn("task %lld is gone or finished", (long long)r->task_id);
		run_free(r);
		return;
	}
	if (storage == NULL || !json_is_object(spec)) {
		fail(r, "the node reports no storage for the vServer's disk");
		return;
	}
	json_decref(r->spec);
	r->spec = json_incref(spec);
	free(r->storage);
	r->storage = strdup(storage);
	if (r->storage == NULL) {
		fail(r, "out of memory");
		return;
	}
	booting_add(r);
	if (json_is_true(json_object_get(info, "disk_created"))) {
		start_define(r);
		return;
	}
	char name[32];
	snprintf(name, sizeof(name), "vs-%lld", (long long)r->vserver_id);
	json_t *args = json_pack("{s:s, s:s, s:I}", "storage", storage, "name", name, "size_gb",
				 (json_int_t)vs_int(r, "disk_gb"));
	if (vs_str(r, "template") != NULL)
		json_object_set_new(args, "backing", json_string(vs_str(r, "template")));
	node_then(r, "disk.create", args, start_disk_made);
}

/* ------------------------------------------------------------------ the actions */

static const char unplace_sql[] = "SELECT wr_unplace_vserver($1)";
static const char delete_sql[] = "DELETE FROM vservers WHERE id = $1";

static bool
state_is(const struct run *r, const char *a, const char *b)
{
	const char *s = vs_str(r, "state");
	return s != NULL && (strcmp(s, a) == 0 || (b != NULL && strcmp(s, b) == 0));
}

static void
act_start(struct run *r)
{
	if (strcmp(r->step, "begin") == 0) {
		if (state_is(r, "running", NULL)) {
			finish(r, true, "already running", NULL);
			return;
		}
		if (state_is(r, "paused", NULL)) {
			finish(r, false, "the vServer is paused; resume it", NULL);
			return;
		}
		place(r, "disk", true);
	} else if (strcmp(r->step, "disk") == 0) {
		make_disk(r);
	} else if (strcmp(r->step, "disk_made") == 0) {
		disk_made(r);
	} else if (strcmp(r->step, "define") == 0) {
		define(r);
	} else if (strcmp(r->step, "boot") == 0) {
		node_step(r, "vm.start", vm_id_args(r), COMMAND_TIMEOUT, "started");
	} else if (strcmp(r->step, "started") == 0) {
		finish(r, true, "", "running");
	} else {
		fail(r, "unknown step %s", r->step);
	}
}

/* Stop-like actions: one command, then a state. */
static void
act_simple(struct run *r, const char *op, const char *need_a, const char *need_b,
	   const char *already, const char *state)
{
	if (strcmp(r->step, "begin") == 0) {
		if (already != NULL && state_is(r, already, NULL)) {
			finish(r, true, "nothing to do", NULL);
			return;
		}
		if (strcmp(already ? already : "", "stopped") == 0 &&
		    (vs_int(r, "node_id") == 0 || state_is(r, "defined", "parked"))) {
			finish(r, true, "not running", NULL);
			return;
		}
		if (need_a != NULL && !state_is(r, need_a, need_b)) {
			fail(r, "the vServer is %s", vs_str(r, "state"));
			return;
		}
		if (vs_int(r, "node_id") == 0) {
			fail(r, "the vServer has not been started on any node");
			return;
		}
		json_t *args = vm_id_args(r);
		int timeout = COMMAND_TIMEOUT;
		if (strcmp(op, "vm.shutdown") == 0) {
			int64_t t = json_integer_value(json_object_get(r->params, "timeout"));
			if (t <= 0)
				t = 60;
			json_object_set_new(args, "timeout", json_integer(t));
			timeout = (int)t + 15;
		}
		node_step(r, op, args, timeout, "done");
	} else if (strcmp(r->step, "done") == 0) {
		finish(r, true, "", state);
	} else {
		fail(r, "unknown step %s", r->step);
	}
}

static void
act_park(struct run *r)
{
	if (strcmp(r->step, "begin") == 0) {
		if (state_is(r, "parked", NULL)) {
			finish(r, true, "already parked", NULL);
			return;
		}
		if (state_is(r, "defined", NULL)) {
			finish(r, true, "never started: it holds no cores or RAM", NULL);
			return;
		}
		if (!state_is(r, "stopped", "defined")) {
			fail(r, "stop the vServer before parking it (it is %s)",
			     vs_str(r, "state"));
			return;
		}
		if (vs_int(r, "node_id") == 0) {
			goto_step(r, "release");
			return;
		}
		node_step(r, "vm.undefine", vm_id_args(r), COMMAND_TIMEOUT, "release");
	} else if (strcmp(r->step, "release") == 0) {
		sql_step(r, unplace_sql, "parked");
	} else if (strcmp(r->step, "parked") == 0) {
		finish(r, true, "cores and RAM released", "parked");
	} else {
		fail(r, "unknown step %s", r->step);
	}
}

static void
act_unpark(struct run *r)
{
	if (strcmp(r->step, "begin") == 0) {
		if (!state_is(r, "parked", NULL)) {
			fail(r, "the vServer is not parked (it is %s)", vs_str(r, "state"));
			return;
		}
		place(r, "unparked", false);
	} else if (strcmp(r->step, "unparked") == 0) {
		finish(r, true, "", "stopped");
	} else {
		fail(r, "unknown step %s", r->step);
	}
}

static void
act_delete(struct run *r)
{
	char name[32];

	snprintf(name, sizeof(name), "vs-%lld", (long long)r->vserver_id);
	if (strcmp(r->step, "begin") == 0) {
		if (vs_int(r, "node_id") == 0) {
			goto_step(r, "disk");
			return;
		}
		node_step(r, "vm.stop", vm_id_args(r), COMMAND_TIMEOUT, "undefine");
	} else if (strcmp(r->step, "undefine") == 0) {
		node_step(r, "vm.undefine", vm_id_args(r), COMMAND_TIMEOUT, "disk");
	} else if (strcmp(r->step, "disk") == 0) {
		if (!vs_bool(r, "disk_created") || vs_int(r, "node_id") == 0) {
			/* A parked vServer's disk stays on shared storage no node is asked about.
			 */
			goto_step(r, "release");
			return;
		}
		node_step(
			r, "disk.delete",
			json_pack("{s:s, s:s}", "storage", vs_str(r, "disk_storage"), "name", name),
			COMMAND_TIMEOUT, "release");
	} else if (strcmp(r->step, "release") == 0) {
		sql_step(r, delete_sql, "deleted");
	} else if (strcmp(r->step, "deleted") == 0) {
		finish(r, true, "", NULL);
	} else {
		fail(r, "unknown step %s", r->step);
	}
}

/* Grow the disk file on its node; QEMU's block_resize when the guest runs is the agent's part. */
static void
act_resize(struct run *r)
{
	char name[32];

	snprintf(name, sizeof(name), "vs-%lld", (long long)r->vserver_id);
	if (strcmp(r->step, "begin") == 0) {
		int64_t node = vs_int(r, "disk_node_id");
		if (node == 0) {
			finish(r, true, "the disk is made with the new size at the next start",
			       NULL);
			return;
		}
		json_object_set_new(r->vs, "node_id", json_integer(node));
		node_step(r, "disk.grow",
			  json_pack("{s:s, s:s, s:I}", "storage", vs_str(r, "disk_storage"), "name",
				    name, "size_gb", (json_int_t)vs_int(r, "disk_gb")),
			  COMMAND_TIMEOUT, "done");
	} else if (strcmp(r->step, "done") == 0) {
		finish(r, true, "", NULL);
	} else {
		fail(r, "unknown step %s", r->step);
	}
}

/* Attach or detach media: the database first, then the running QEMU. */
static void
act_media(struct run *r)
{
	static const char set_sql[] = "UPDATE vservers SET iso = (SELECT path FROM isos WHERE id = "
				      "nullif($2, '0')::bigint) "
				      "WHERE id = $1";

	if (strcmp(r->step, "begin") == 0) {
		char vid[24], iso[24];
		const char *params[] = {
			call_i64(vid, r->vserver_id),
			call_i64(iso, json_integer_value(json_object_get(r->params, "iso_id")))};
		r->cmd_next = "media";
		db_query(r->srv->db, set_sql, 2, params, sql_then, r);
	} else if (strcmp(r->step, "media") == 0) {
		if (vs_int(r, "node_id") == 0 || !state_is(r, "running", "paused")) {
			finish(r, true, "takes effect at the next start", NULL);
			return;
		}
		json_t *args = vm_id_args(r);
		json_object_set(args, "iso", json_object_get(r->vs, "iso"));
		node_step(r, "vm.media", args, COMMAND_TIMEOUT, "done");
	} else if (strcmp(r->step, "done") == 0) {
		finish(r, true, "", NULL);
	} else {
		fail(r, "unknown step %s", r->step);
	}
}

static void
advance(struct run *r)
{
	const char *a = r->action;

	if (strcmp(a, "vserver-start") == 0 || strcmp(a, "vserver-failover") == 0)
		act_start(r);
	else if (strcmp(a, "vserver-stop") == 0)
		act_simple(r, "vm.stop", NULL, NULL, "stopped", "stopped");
	else if (strcmp(a, "vserver-shutdown") == 0)
		act_simple(r, "vm.shutdown", "running", "paused", "stopped", "stopped");
	else if (strcmp(a, "vserver-reset") == 0)
		act_simple(r, "vm.reset", "running", NULL, NULL, "running");
	else if (strcmp(a, "vserver-pause") == 0)
		act_simple(r, "vm.pause", "running", NULL, "paused", "paused");
	else if (strcmp(a, "vserver-resume") == 0)
		act_simple(r, "vm.resume", "paused", NULL, "running", "running");
	else if (strcmp(a, "vserver-park") == 0)
		act_park(r);
	else if (strcmp(a, "vserver-unpark") == 0)
		act_unpark(r);
	else if (strcmp(a, "vserver-delete") == 0)
		act_delete(r);
	else if (strcmp(a, "vserver-resize") == 0)
		act_resize(r);
	else if (strcmp(a, "vserver-attach-iso") == 0 || strcmp(a, "vserver-detach-iso") == 0)
		act_media(r);
	else if (strcmp(a, "vserver-migrate") == 0) {
		/* Live migration has its own steps (livemig.c); a resumed one goes there too. */
		struct server *srv = r->srv;
		int64_t task = r->task_id;
		run_free(r);
		livemig_run(srv, task);
	} else
		fail(r, "unknown action %s", a);
}

/* ------------------------------------------------------------------ loading and resuming */

static void
loaded(const struct db_result *res, void *arg)
{
	struct run *r = arg;

	if (res->status != DB_OK) {
		log_error("task %lld: cannot load: %s; it resumes at the next start",
			  (long long)r->task_id, res->message ? res->message : "-");
		run_free(r);
		return;
	}
	if (PQntuples(res->res) != 1) {
		log_warn("task %lld is gone or finished", (long long)r->task_id);
		run_free(r);
		return;
	}
	take_row(r, lifecycle_run_row(res->res, 0, 0));
}

/* The task row as lifecycle_run_row() makes it (stolen): remember it and take the step. */
static void
take_row(struct run *r, json_t *row)
{
	json_t *vs = json_object_get(row, "vs");
	r->vserver_id = json_integer_value(json_object_get(row, "vserver_id"));
	snprintf(r->action, sizeof(r->action), "%s",
		 json_string_value(json_object_get(row, "action")) ?: "");
	snprintf(r->step, sizeof(r->step), "%s",
		 json_string_value(json_object_get(row, "step")) ?: "begin");
	if (r->params == NULL) {
		r->params = json_incref(json_object_get(row, "params"));
		if (!json_is_object(r->params)) {
			json_decref(r->params);
			r->params = json_object();
		}
	}
	json_decref(r->vs);
	r->vs = json_incref(vs);
	json_decref(row);
	if (!json_is_object(r->vs)) {
		if (strcmp(r->action, "vserver-delete") == 0)
			finish(r, true, "", NULL);
		else
			fail(r, "the vServer no longer exists");
		return;
	}
	advance(r);
}

static void
load(struct run *r)
{
	static const char sql[] =
		"SELECT " RUN_COLUMNS " FROM tasks k" RUN_JOIN " WHERE k.id = $1 AND "
		"k.status IN ('queued', 'running')";
	char tid[24];
	const char *params[] = {call_i64(tid, r->task_id)};

	db_query(r->srv->db, sql, 1, params, loaded, r);
}

static json_t *
col_text(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? json_null() : json_string(PQgetvalue(res, row, col));
}

/* An integer column; NULL is 0 (no vDC, no node), as the engine reads it. */
static json_t *
col_int(const PGresult *res, int row, int col)
{
	return json_integer(
		PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10));
}

static json_t *
col_bool(const PGresult *res, int row, int col)
{
	return json_boolean(!PQgetisnull(res, row, col) && PQgetvalue(res, row, col)[0] == 't');
}

json_t *
lifecycle_run_row(const PGresult *res, int row, int col)
{
	const int c = col;
	json_t *params = NULL, *vs = json_null();

	if (!PQgetisnull(res, row, c + 2))
		params = json_loads(PQgetvalue(res, row, c + 2), 0, NULL);
	if (!PQgetisnull(res, row, c + 4))
		vs = json_pack(
			"{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
			"s:o, s:o}",
			"id", col_int(res, row, c + 4), "name", col_text(res, row, c + 5), "state",
			col_text(res, row, c + 6), "cores", col_int(res, row, c + 7), "ram_mb",
			col_int(res, row, c + 8), "disk_gb", col_int(res, row, c + 9), "vdc_id",
			col_int(res, row, c + 10), "node_id", col_int(res, row, c + 11),
			"anti_affinity", col_text(res, row, c + 12), "disk_created",
			col_bool(res, row, c + 13), "disk_storage", col_text(res, row, c + 14),
			"iso", col_text(res, row, c + 15), "template", col_text(res, row, c + 16),
			"disk_node_id", col_int(res, row, c + 17), "disk_shared",
			col_bool(res, row, c + 18));
	return json_pack("{s:o, s:o, s:o, s:o, s:o}", "action", col_text(res, row, c), "step",
			 col_text(res, row, c + 1), "params", params ? params : json_null(),
			 "vserver_id",
			 PQgetisnull(res, row, c + 3) ? json_null() : col_int(res, row, c + 3),
			 "vs", vs ? vs : json_null());
}

void
lifecycle_run_loaded(struct server *srv, int64_t task_id, json_t *row)
{
	struct run *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		log_error("task %lld: out of memory; it resumes at the next start",
			  (long long)task_id);
		json_decref(row);
		return;
	}
	r->srv = srv;
	r->task_id = task_id;
	take_row(r, row);
}

void
lifecycle_run(struct server *srv, int64_t task_id)
{
	struct run *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		log_error("task %lld: out of memory; it resumes at the next start",
			  (long long)task_id);
		return;
	}
	r->srv = srv;
	r->task_id = task_id;
	load(r);
}

static void
active_loaded(const struct db_result *res, void *arg)
{
	struct server *srv = arg;

	if (res->status != DB_OK) {
		log_error("cannot list unfinished tasks: %s", res->message ? res->message : "-");
		return;
	}
	for (int i = 0; i < PQntuples(res->res); i++) {
		int64_t id = strtoll(PQgetvalue(res->res, i, 0), NULL, 10);
		log_info("resuming task %lld", (long long)id);
		lifecycle_run(srv, id);
	}
}

void
lifecycle_resume_all(struct server *srv)
{
	/*
	 * Only tasks an earlier process left behind: the ones this process queued are already
	 * running here, and running a task twice would send every command twice.
	 */
	static const char sql[] =
		"SELECT id FROM tasks WHERE status IN ('queued', 'running') AND "
		"vserver_id IS NOT NULL AND started_at < to_timestamp($1::float8) "
		"ORDER BY id";
	char since[32];
	const char *params[] = {since};

	snprintf(since, sizeof(since), "%.3f", srv->started);
	db_query(srv->db, sql, 1, params, active_loaded, srv);
}

static void
event_stored(const struct db_result *res, void *arg)
{
	if (res->status != DB_OK)
		log_warn("cannot record a node event: %s", res->message ? res->message : "-");
}

void
lifecycle_node_event(struct server *srv, int64_t node_id, int64_t vserver_id, const char *event,
		     const char *detail)
{
	/* Only the node the vServer is placed on may change its state. */
	static const char sql[] =
		"UPDATE vservers SET state = $3, error = nullif($4, '') WHERE id = $1 AND "
		"node_id = $2 AND NOT EXISTS (SELECT 1 FROM tasks WHERE vserver_id = $1 AND status "
		"IN ('queued', 'running'))";
	const char *state = NULL;
	char vid[24], nid[24];

	if (strcmp(event, "stopped") == 0 || strcmp(event, "gave_up") == 0)
		state = strcmp(event, "gave_up") == 0 ? "error" : "stopped";
	else if (strcmp(event, "started") == 0 || strcmp(event, "restarted") == 0)
		state = "running";
	if (state == NULL)
		return;
	if (strcmp(state, "running") == 0 && booting_has(vserver_id))
		return;
	if (strcmp(state, "running") != 0)
		console_revoke_vserver(srv, vserver_id, "the vServer stopped");
	const char *params[] = {call_i64(vid, vserver_id), call_i64(nid, node_id), state,
				detail ? detail : ""};
	db_query(srv->db, sql, 4, params, event_stored, NULL);
}
