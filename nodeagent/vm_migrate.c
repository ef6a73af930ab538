/*
 * Live migration on the node (DESIGN §6). Both ends are driven by the controller's migrate task
 * (controller/livemig.c), one command at a time:
 *
 *   target  vm.define (the spec with the reserved cores), then vm.migrate-in: QEMU is started
 *           like any other but without -S and with -incoming defer, its vCPU threads are pinned
 *           (vm.c does that before anything else happens), then migrate-incoming on
 *           migration_address port 0; the reply names the port the kernel gave. When the last
 *           RAM arrived QEMU starts the guest by itself (no -S), RESUME marks it running.
 *   source  vm.migrate-out: capabilities (events, auto-converge, postcopy-ram), parameters
 *           (downtime-limit, max-bandwidth), migrate. The reply waits for the end (completed,
 *           failed, cancelled, or not converged within the bound, which switches to post-copy
 *           when enabled and cancels otherwise). Meanwhile every MIGRATION event and a tick
 *           every PROGRESS_MS send a "migration" event with the progress to the controller.
 *           vm.migrate-cancel and vm.migrate-status work at any time, also on a QEMU this
 *           agent re-attached to after a restart (QEMU migrates without us; query-migrate
 *           still tells how it ended).
 *
 * A cancelled or failed incoming QEMU exits by itself; vm.c's exit path cleans up its taps.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent_settings.h"
#include "commands.h"
#include "link.h"
#include "log.h"
#include "qmp.h"
#include "qmp_migrate.h"
#include "vm.h"

#define PROGRESS_MS 500
#define URI_CHARS   "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.:[]-"

/* Owner: its vm (vm->mig), freed by finish() or vm_migrate_release(). */
struct vm_migration {
	struct vm *vm;
	bool out;
	struct command *cmd; /* out: waits for the end; in: vm.c's waiter until listening */
	bool postcopy, postcopy_started, auto_converge;
	int converge_seconds;
	int64_t downtime_ms, bandwidth_mbps;
	char uri[160];
	const char *cancel_code; /* set when we cancel: why the reply is an error */
	char cancel_reason[256];
	bool ending; /* the final query-migrate is on its way */
	int64_t started_ms;
	struct event tick;
	struct event bound;
};

static void on_tick(evutil_socket_t fd, short what, void *arg);
static void on_bound(evutil_socket_t fd, short what, void *arg);

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct vms *
vms_of(const struct command *cmd)
{
	return cmd->agent;
}

static struct vm *
find_or_reply(struct command *cmd)
{
	json_int_t id = json_integer_value(json_object_get(cmd->args, "id"));
	struct vm *vm = vms_find(vms_of(cmd), id);

	if (vm == NULL)
		command_reply_error(cmd, "not_defined", "VM %lld is not defined on this node",
				    (long long)id);
	return vm;
}

static void
mig_free(struct vm_migration *m)
{
	if (m == NULL)
		return;
	event_del(&m->tick);
	event_del(&m->bound);
	if (m->vm->mig == m)
		m->vm->mig = NULL;
	free(m);
}

static struct vm_migration *
mig_new(struct vm *vm, bool out)
{
	struct vm_migration *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->vm = vm;
	m->out = out;
	m->started_ms = now_ms();
	evtimer_assign(&m->tick, vm->vms->base, on_tick, m);
	evtimer_assign(&m->bound, vm->vms->base, on_bound, m);
	vm->mig = m;
	return m;
}

static json_t *
info_json(const struct qmp_migration_info *i, int64_t elapsed_ms)
{
	int64_t dirty = i->dirty_pages_rate * (i->page_size > 0 ? i->page_size : 4096);
	int percent = 0;

	if (strcmp(i->status, "completed") == 0)
		percent = 100;
	else if (i->total > 0)
		percent = (int)((i->total - (i->remaining < i->total ? i->remaining : i->total)) *
				100 / i->total);
	return json_pack("{s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:i, s:I}",
			 "status", i->status, "percent", percent, "transferred",
			 (json_int_t)i->transferred, "remaining", (json_int_t)i->remaining, "total",
			 (json_int_t)i->total, "dirty_rate", (json_int_t)dirty,
			 "expected_downtime_ms", (json_int_t)i->expected_downtime_ms, "downtime_ms",
			 (json_int_t)i->downtime_ms, "total_ms", (json_int_t)i->total_time_ms,
			 "setup_ms", (json_int_t)i->setup_time_ms, "mbps", (int)i->mbps, "throttle",
			 i->cpu_throttle_percentage, "elapsed_ms", (json_int_t)elapsed_ms);
}

static void
send_progress(struct vm_migration *m, const struct qmp_migration_info *i)
{
	json_t *p = info_json(i, now_ms() - m->started_ms);
	char *text = p != NULL ? json_dumps(p, JSON_COMPACT) : NULL;

	if (text != NULL && m->vm->vms->link != NULL)
		link_send_event(m->vm->vms->link, (long long)m->vm->spec.id, "migration", text);
	free(text);
	json_decref(p);
}

/* ---- source: the end of a migration ---- */

/* Reply to the waiting vm.migrate-out with the outcome, and forget the migration. */
static void
finish(struct vm_migration *m, const struct qmp_migration_info *i)
{
	struct command *cmd = m->cmd;

	m->cmd = NULL;
	if (i != NULL)
		send_progress(m, i);
	log_info("%s: migration out %s%s%s", m->vm->label, i ? i->status : "ended",
		 i && i->error_desc[0] ? ": " : "", i ? i->error_desc : "");
	if (cmd != NULL) {
		if (i != NULL && strcmp(i->status, "completed") == 0)
			command_reply_ok(cmd, info_json(i, now_ms() - m->started_ms));
		else if (m->cancel_code != NULL)
			command_reply_error(cmd, m->cancel_code, "%s", m->cancel_reason);
		else if (i != NULL && strcmp(i->status, "cancelled") == 0)
			command_reply_error(cmd, "cancelled", "the migration was cancelled");
		else
			command_reply_error(cmd, "migration_failed", "%s",
					    i && i->error_desc[0]
						    ? i->error_desc
						    : "QEMU reports the migration failed");
	}
	mig_free(m);
}

static void
on_final_info(struct qmp *q, const struct qmp_migration_info *i, const struct qmp_error *err,
	      void *arg)
{
	struct vm *vm = arg;
	struct vm_migration *m = vm->mig;

	if (m == NULL || !m->out)
		return;
	m->ending = false;
	if (err != NULL) {
		if (m->cmd != NULL)
			command_reply_error(m->cmd, "unavailable", "query-migrate: %s", err->desc);
		m->cmd = NULL;
		mig_free(m);
		return;
	}
	if (qmp_migrate_active(i->status))
		return; /* the tick or the next event looks again */
	finish(m, i);
}

static void
query_final(struct vm_migration *m)
{
	if (m->ending || m->vm->qmp == NULL)
		return;
	m->ending = qmp_query_migrate(m->vm->qmp, on_final_info, m->vm) == 0;
}

static void
on_tick_info(struct qmp *q, const struct qmp_migration_info *i, const struct qmp_error *err,
	     void *arg)
{
	struct vm *vm = arg;
	struct vm_migration *m = vm->mig;

	if (m == NULL || !m->out || err != NULL)
		return;
	log_debug("%s: migration %s, %lld of %lld bytes, %lld remaining", vm->label, i->status,
		  (long long)i->transferred, (long long)i->total, (long long)i->remaining);
	if (!qmp_migrate_active(i->status) && strcmp(i->status, "none") != 0) {
		finish(m, i);
		return;
	}
	send_progress(m, i);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct vm_migration *m = arg;
	struct timeval tv = {0, PROGRESS_MS * 1000};

	if (m->vm->qmp != NULL && qmp_is_ready(m->vm->qmp))
		(void)qmp_query_migrate(m->vm->qmp, on_tick_info, m->vm);
	evtimer_add(&m->tick, &tv);
}

static void
on_cancel_sent(struct qmp *q, const struct qmp_error *err, void *arg)
{
	struct vm *vm = arg;

	if (err != NULL)
		log_warn("%s: migrate_cancel: %s: %s", vm->label, err->cls, err->desc);
}

static void
on_postcopy(struct qmp *q, const struct qmp_error *err, void *arg)
{
	struct vm *vm = arg;
	struct vm_migration *m = vm->mig;

	if (err == NULL || m == NULL)
		return;
	log_warn("%s: migrate-start-postcopy: %s; cancelling", vm->label, err->desc);
	m->cancel_code = "not_converged";
	snprintf(m->cancel_reason, sizeof(m->cancel_reason),
		 "did not converge within %d s and post-copy could not start: %s",
		 m->converge_seconds, err->desc);
	(void)qmp_migrate_cancel(q, on_cancel_sent, vm);
}

static void
on_bound_info(struct qmp *q, const struct qmp_migration_info *i, const struct qmp_error *err,
	      void *arg)
{
	struct vm *vm = arg;
	struct vm_migration *m = vm->mig;

	if (m == NULL || !m->out || err != NULL || !qmp_migrate_active(i->status))
		return;
	if (m->postcopy && !m->postcopy_started) {
		log_info("%s: no convergence within %d s: switching to post-copy", vm->label,
			 m->converge_seconds);
		m->postcopy_started = true;
		(void)qmp_migrate_start_postcopy(q, on_postcopy, vm);
		return;
	}
	if (strcmp(i->status, "postcopy-active") == 0)
		return; /* post-copy always ends: the guest runs on the target already */
	m->cancel_code = "not_converged";
	snprintf(m->cancel_reason, sizeof(m->cancel_reason),
		 "did not converge within %d s (%lld MiB still dirty, guest dirties %lld MiB/s, "
		 "expected downtime %lld ms); cancelled",
		 m->converge_seconds, (long long)(i->remaining >> 20),
		 (long long)((i->dirty_pages_rate * (i->page_size ? i->page_size : 4096)) >> 20),
		 (long long)i->expected_downtime_ms);
	log_warn("%s: %s", vm->label, m->cancel_reason);
	(void)qmp_migrate_cancel(q, on_cancel_sent, vm);
}

static void
on_bound(evutil_socket_t fd, short what, void *arg)
{
	struct vm_migration *m = arg;

	if (m->vm->qmp != NULL)
		(void)qmp_query_migrate(m->vm->qmp, on_bound_info, m->vm);
}

/* ---- source: starting ---- */

static void
start_failed_out(struct vm *vm, const char *what, const struct qmp_error *err)
{
	struct vm_migration *m = vm->mig;

	if (m == NULL)
		return;
	if (m->cmd != NULL)
		command_reply_error(m->cmd, "migration_failed", "%s: %s", what,
				    err ? err->desc : "QMP unavailable");
	m->cmd = NULL;
	mig_free(m);
}

static void
on_migrate(struct qmp *q, const struct qmp_error *err, void *arg)
{
	struct vm *vm = arg;
	struct vm_migration *m = vm->mig;
	struct timeval tick = {0, PROGRESS_MS * 1000};
	struct timeval bound = {m ? m->converge_seconds : 0, 0};

	if (m == NULL)
		return;
	if (err != NULL) {
		start_failed_out(vm, "migrate", err);
		return;
	}
	log_info("%s: migrating to %s", vm->label, m->uri);
	evtimer_add(&m->tick, &tick);
	if (m->converge_seconds > 0)
		evtimer_add(&m->bound, &bound);
}

static void
on_params(struct qmp *q, const struct qmp_error *err, void *arg)
{
	struct vm *vm = arg;

	if (vm->mig == NULL)
		return;
	if (err != NULL || qmp_migrate(q, vm->mig->uri, on_migrate, vm) != 0)
		start_failed_out(vm, "migrate-set-parameters", err);
}

static void
on_caps_out(struct qmp *q, const struct qmp_error *err, void *arg)
{
	struct vm *vm = arg;
	struct vm_migration *m = vm->mig;

	if (m == NULL)
		return;
	if (err != NULL ||
	    qmp_migrate_set_parameters(q, m->downtime_ms,
				       m->bandwidth_mbps > 0 ? m->bandwidth_mbps * 1000 * 1000 / 8
							     : QMP_MIGRATE_UNLIMITED_BPS,
				       on_params, vm) != 0)
		start_failed_out(vm, "migrate-set-capabilities", err);
}

/* The state QEMU is in decides: a migration already going on is followed, a finished one told. */
static void
on_out_info(struct qmp *q, const struct qmp_migration_info *i, const struct qmp_error *err,
	    void *arg)
{
	struct vm *vm = arg;
	struct vm_migration *m = vm->mig;
	struct timeval tick = {0, PROGRESS_MS * 1000};

	if (m == NULL)
		return;
	if (err != NULL) {
		start_failed_out(vm, "query-migrate", err);
		return;
	}
	if (qmp_migrate_active(i->status)) {
		log_info("%s: a migration is in progress already: following it", vm->label);
		evtimer_add(&m->tick, &tick);
		return;
	}
	/* Completed and paused: our own migration out (a QEMU that migrated in and runs also
	 * says "completed", about the incoming one). */
	if (strcmp(i->status, "completed") == 0 && vm->state == VM_PAUSED) {
		finish(m, i);
		return;
	}
	struct qmp_migrate_caps caps = {
		.events = true,
		.auto_converge = m->auto_converge,
		.postcopy_ram = m->postcopy,
	};
	if (qmp_migrate_set_capabilities(q, &caps, on_caps_out, vm) != 0)
		start_failed_out(vm, "migrate-set-capabilities", NULL);
}

void
vm_cmd_migrate_out(struct command *cmd)
{
	struct vm *vm = find_or_reply(cmd);
	const char *uri = json_string_value(json_object_get(cmd->args, "uri"));
	struct vm_migration *m;

	if (vm == NULL)
		return;
	if (vm->mig != NULL && vm->mig->out) {
		/* The controller asks again (it restarted, or the link dropped): this one waits. */
		if (vm->mig->cmd != NULL)
			command_reply_error(vm->mig->cmd, "superseded", "asked again");
		vm->mig->cmd = cmd;
		return;
	}
	if ((vm->state != VM_RUNNING && vm->state != VM_PAUSED) || vm->incoming) {
		command_reply_error(cmd, "not_running", "%s is %s", vm->label,
				    vm_state_name(vm->state));
		return;
	}
	if (vm->qmp == NULL || !qmp_is_ready(vm->qmp)) {
		command_reply_error(cmd, "unavailable", "no QMP connection to %s", vm->label);
		return;
	}
	if (strncmp(uri, "tcp:", 4) != 0 || strspn(uri + 4, URI_CHARS) != strlen(uri + 4)) {
		command_reply_error(cmd, "invalid", "uri must be tcp:HOST:PORT");
		return;
	}
	if ((m = mig_new(vm, true)) == NULL) {
		command_reply_error(cmd, "internal", "out of memory");
		return;
	}
	m->cmd = cmd;
	m->postcopy = json_is_true(json_object_get(cmd->args, "postcopy"));
	m->auto_converge = json_is_true(json_object_get(cmd->args, "auto_converge"));
	m->downtime_ms = json_integer_value(json_object_get(cmd->args, "downtime_ms"));
	m->bandwidth_mbps = json_integer_value(json_object_get(cmd->args, "bandwidth_mbps"));
	m->converge_seconds =
		(int)json_integer_value(json_object_get(cmd->args, "converge_seconds"));
	snprintf(m->uri, sizeof(m->uri), "%s", uri);
	if (qmp_query_migrate(vm->qmp, on_out_info, vm) != 0)
		start_failed_out(vm, "query-migrate", NULL);
}

/* ---- target ---- */

int
vm_migrate_argv(char ***argvp)
{
	char **argv = *argvp;
	size_t n = 0, k = 0;

	while (argv[n] != NULL)
		n++;
	char **v = realloc(argv, (n + 3) * sizeof(*v));
	if (v == NULL)
		return -1;
	*argvp = v;
	/* Without -S QEMU starts the guest itself the moment the last page arrived. */
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i], "-S") == 0)
			free(v[i]);
		else
			v[k++] = v[i];
	}
	v[k] = strdup("-incoming");
	v[k + 1] = strdup("defer");
	v[k + 2] = NULL;
	if (v[k] == NULL || v[k + 1] == NULL) {
		free(v[k]);
		free(v[k + 1]);
		v[k] = NULL;
		return -1;
	}
	return 0;
}

static void
on_listen_info(struct qmp *q, const struct qmp_migration_info *i, const struct qmp_error *err,
	       void *arg)
{
	struct vm *vm = arg;
	struct vm_migration *m = vm->mig;
	char why[300];

	if (m == NULL)
		return;
	if (err != NULL || i->listen_port == 0) {
		snprintf(why, sizeof(why), "query-migrate: %s",
			 err ? err->desc : "QEMU does not say which port it listens on");
		vm_start_failed(vm, why);
		return;
	}
	snprintf(m->uri, sizeof(m->uri), "tcp:%s:%d", vm->vms->s->migration_address,
		 i->listen_port);
	event_del(&vm->deadline_ev); /* it waits for the stream now, as long as it takes */
	log_info("%s: pinned and waiting for the migration on %s", vm->label, m->uri);
	struct command *cmd = vm->waiter;
	vm->waiter = NULL;
	if (cmd != NULL)
		command_reply_ok(cmd, json_pack("{s:s, s:i}", "uri", m->uri, "pid", (int)vm->pid));
}

static void
on_incoming(struct qmp *q, const struct qmp_error *err, void *arg)
{
	struct vm *vm = arg;
	char why[300];

	if (err != NULL || qmp_query_migrate(q, on_listen_info, vm) != 0) {
		snprintf(why, sizeof(why), "migrate-incoming: %s",
			 err ? err->desc : "QMP unavailable");
		vm_start_failed(vm, why);
	}
}

static void
on_caps_in(struct qmp *q, const struct qmp_error *err, void *arg)
{
	struct vm *vm = arg;
	char uri[160], why[300];

	snprintf(uri, sizeof(uri), "tcp:%s:0", vm->vms->s->migration_address);
	if (err != NULL || qmp_migrate_incoming(q, uri, on_incoming, vm) != 0) {
		snprintf(why, sizeof(why), "migrate-set-capabilities: %s",
			 err ? err->desc : "QMP unavailable");
		vm_start_failed(vm, why);
	}
}

void
vm_migrate_pinned(struct vm *vm)
{
	struct qmp_migrate_caps caps = {.events = true,
					.postcopy_ram = vm->mig != NULL && vm->mig->postcopy};

	if (vm->mig == NULL) {
		vm_start_failed(vm, "no incoming migration is expected");
		return;
	}
	if (qmp_migrate_set_capabilities(vm->qmp, &caps, on_caps_in, vm) != 0)
		vm_start_failed(vm, "cannot send migrate-set-capabilities");
}

void
vm_cmd_migrate_in(struct command *cmd)
{
	struct vm *vm = find_or_reply(cmd);
	const char *addr = vms_of(cmd)->s->migration_address;
	struct vm_migration *m;

	if (vm == NULL)
		return;
	if (addr == NULL || addr[0] == '\0') {
		command_reply_error(cmd, "no_migration_address",
				    "this node accepts no migrations (migration_address is unset)");
		return;
	}
	if (vm->incoming && vm->mig != NULL && vm->mig->uri[0] != '\0' && vm->waiter == NULL) {
		/* Asked again (the controller restarted): still listening on the same port. */
		command_reply_ok(cmd,
				 json_pack("{s:s, s:i}", "uri", vm->mig->uri, "pid", (int)vm->pid));
		return;
	}
	if (vm_has_qemu(vm) || vm->incoming) {
		command_reply_error(cmd, "busy", "%s is %s", vm->label, vm_state_name(vm->state));
		return;
	}
	if ((m = mig_new(vm, false)) == NULL) {
		command_reply_error(cmd, "internal", "out of memory");
		return;
	}
	m->postcopy = json_is_true(json_object_get(cmd->args, "postcopy"));
	vm->incoming = true;
	vm_start(vm, cmd); /* replies: on_listen_info(), or start_failed with QEMU's reason */
	if (!vm_has_qemu(vm)) {
		vm->incoming = false;
		mig_free(vm->mig);
	}
}

/* ---- both ---- */

void
vm_migrate_qmp_event(struct vm *vm, const char *name, const json_t *data)
{
	struct vm_migration *m = vm->mig;

	if (strcmp(name, "RESUME") == 0 && vm->incoming) {
		/* The last page arrived and QEMU started the guest: it runs here now. */
		vm->incoming = false;
		vm->state = VM_RUNNING;
		vm->nrestarts = 0;
		mig_free(m);
		log_info("%s: migrated in, running (pid %d)", vm->label, (int)vm->pid);
		if (vm->vms->link != NULL)
			link_send_event(vm->vms->link, (long long)vm->spec.id, "started",
					"migrated in");
		return;
	}
	if (strcmp(name, "MIGRATION") != 0 || m == NULL || !m->out)
		return;
	const char *status = json_string_value(json_object_get(data, "status"));
	if (status == NULL)
		return;
	log_debug("%s: MIGRATION %s", vm->label, status);
	if (!qmp_migrate_active(status) && strcmp(status, "none") != 0)
		query_final(m);
	else if (vm->qmp != NULL)
		(void)qmp_query_migrate(vm->qmp, on_tick_info, vm);
}

void
vm_migrate_release(struct vm *vm, const char *why)
{
	struct vm_migration *m = vm->mig;

	vm->incoming = false;
	if (m == NULL)
		return;
	if (m->out && m->cmd != NULL)
		command_reply_error(m->cmd, "migration_failed", "%s during the migration", why);
	m->cmd = NULL;
	mig_free(m);
}

static void
on_status_info(struct qmp *q, const struct qmp_migration_info *i, const struct qmp_error *err,
	       void *arg)
{
	struct command *cmd = arg;

	if (err != NULL) {
		command_reply_error(cmd, "unavailable", "query-migrate: %s", err->desc);
		return;
	}
	struct vm *vm = vms_find(vms_of(cmd), json_integer_value(json_object_get(cmd->args, "id")));
	json_t *r = info_json(i, 0);
	if (r != NULL && i->error_desc[0])
		json_object_set_new(r, "error", json_string(i->error_desc));
	if (r != NULL && vm != NULL) {
		json_object_set_new(
			r, "vm_state",
			json_string(vm->incoming ? "incoming" : vm_state_name(vm->state)));
		json_object_set_new(r, "qemu", json_boolean(vm_has_qemu(vm)));
	}
	command_reply_ok(cmd, r);
}

void
vm_cmd_migrate_status(struct command *cmd)
{
	struct vm *vm = find_or_reply(cmd);

	if (vm == NULL)
		return;
	if (!vm_has_qemu(vm) || vm->qmp == NULL || !qmp_is_ready(vm->qmp)) {
		command_reply_ok(cmd, json_pack("{s:s, s:s, s:b}", "status", "none", "vm_state",
						vm_state_name(vm->state), "qemu", vm_has_qemu(vm)));
		return;
	}
	if (qmp_query_migrate(vm->qmp, on_status_info, cmd) != 0)
		command_reply_error(cmd, "unavailable", "cannot send query-migrate");
}

void
vm_cmd_migrate_cancel(struct command *cmd)
{
	struct vm *vm = find_or_reply(cmd);
	const char *reason = json_string_value(json_object_get(cmd->args, "reason"));

	if (vm == NULL)
		return;
	if (vm->incoming) {
		/* The target side: nothing arrived that matters; stopping QEMU is vm.stop's job. */
		command_reply_ok(cmd, json_pack("{s:b}", "incoming", 1));
		return;
	}
	if (vm->qmp == NULL || !qmp_is_ready(vm->qmp)) {
		command_reply_error(cmd, "unavailable", "no QMP connection to %s", vm->label);
		return;
	}
	if (vm->mig != NULL && vm->mig->out && vm->mig->cancel_code == NULL) {
		vm->mig->cancel_code = "cancelled";
		snprintf(vm->mig->cancel_reason, sizeof(vm->mig->cancel_reason), "%s",
			 reason ? reason : "cancelled on request");
	}
	log_info("%s: cancelling the migration: %s", vm->label, reason ? reason : "on request");
	if (qmp_migrate_cancel(vm->qmp, on_cancel_sent, vm) != 0) {
		command_reply_error(cmd, "unavailable", "cannot send migrate_cancel");
		return;
	}
	command_reply_ok(cmd, NULL);
}
