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
 * After the source reported completion the controller needs the target's word (never stop a
 * source before the guest runs elsewhere):
 *   target  vm.migrate-status {wait: s} answers when the incoming guest runs (RESUME), its QEMU
 *           is gone, or after s seconds. vm.migrate-abort-in ends an incoming QEMU that never
 *           ran, atomically with respect to the switch-over: QMP "stop" first (during an
 *           incoming migration it clears QEMU's autostart, and its reply comes after any RESUME
 *           event, both being handled in QEMU's main loop), then, if no RESUME came, the QEMU
 *           goes; if the guest did run, it is resumed again and the reply says "running".
 *   source  vm.migrate-resume: cont of a source that completed a migration the target never
 *           ran, then announce-self so the LAN's bridges learn the guest's port back.
 *
 * A cancelled or failed incoming QEMU exits by itself; vm.c's exit path cleans up its taps.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent_settings.h"
#include "commands.h"
#include "link.h"
#include "log.h"
#include "qmp.h"
#include "qmp_migrate.h"
#include "vm.h"

#define PROGRESS_MS    500
#define FINAL_RETRIES  50 /* x FINAL_RETRY_MS: QEMU emits "completed" before it has the figures */
#define FINAL_RETRY_MS 2
#define ABORT_IN_SEC   5 /* a QEMU that does not answer "stop" within this did not start either */
#define URI_CHARS      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.:[]-"
#define TLS_ID	       "wrmigtls"
#define TLS_DIR	       "mig-tls" /* in the VM's run_dir: keys.psk while the stream needs it */
#define TLS_USER       "webrack"

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
	bool gone;   /* target: its QEMU exited */
	bool ran;    /* target: RESUME came while an abort was under way */
	int final_retries;
	int64_t started_ms;
	struct event tick;
	struct event bound;
	char tls_psk[65];		 /* hex; "" = plain TCP */
	void (*tls_then)(struct vm *vm); /* what follows the TLS set-up */
	/* target: a vm.migrate-status {wait} and a vm.migrate-abort-in waiting for the outcome */
	struct command *confirm, *abort_in;
	struct event confirm_ev, abort_ev;
};

static void on_tick(evutil_socket_t fd, short what, void *arg);
static void on_bound(evutil_socket_t fd, short what, void *arg);
static void on_confirm_wait(evutil_socket_t fd, short what, void *arg);
static void on_abort_wait(evutil_socket_t fd, short what, void *arg);
static void reply_confirm(struct vm_migration *m);

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

/* ---- TLS: the key file QEMU reads ---- */

static void
tls_path(const struct vm *vm, const char *leaf, char *buf, size_t len)
{
	snprintf(buf, len, "%s/" TLS_DIR "%s%s", vm->spec.run_dir, leaf[0] ? "/" : "", leaf);
}

static void
tls_forget(struct vm *vm)
{
	char path[VMSPEC_RUN_DIR_MAX + 32];

	tls_path(vm, "keys.psk", path, sizeof(path));
	unlink(path);
	tls_path(vm, "", path, sizeof(path));
	rmdir(path);
}

/* The optional tls_psk argument into m; false (replied "invalid") if it is not 64 hex digits. */
static bool
tls_arg(struct command *cmd, struct vm_migration *m)
{
	const char *hex = json_string_value(json_object_get(cmd->args, "tls_psk"));

	if (hex == NULL)
		return true;
	if (strlen(hex) != 64 || strspn(hex, "0123456789abcdef") != 64) {
		command_reply_error(cmd, "invalid", "tls_psk must be 64 lower-case hex digits");
		return false;
	}
	snprintf(m->tls_psk, sizeof(m->tls_psk), "%s", hex);
	return true;
}

/* run_dir/mig-tls/keys.psk = "webrack:HEX" (0600 in a 0700 directory); false with why. */
static bool
tls_write(struct vm *vm, const char *hex, char *why, size_t whylen)
{
	char path[VMSPEC_RUN_DIR_MAX + 32], line[100];
	int fd, n = snprintf(line, sizeof(line), TLS_USER ":%s\n", hex);

	tls_path(vm, "", path, sizeof(path));
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return false;
	}
	tls_path(vm, "keys.psk", path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write(fd, line, (size_t)n) != n) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return false;
	}
	close(fd);
	return true;
}

static void
mig_free(struct vm_migration *m)
{
	if (m == NULL)
		return;
	event_del(&m->tick);
	event_del(&m->bound);
	event_del(&m->confirm_ev);
	event_del(&m->abort_ev);
	if (m->confirm != NULL)
		reply_confirm(m);
	if (m->abort_in != NULL && m->ran)
		command_reply_error(m->abort_in, "running", "the guest ran on this node");
	else if (m->abort_in != NULL)
		command_reply_ok(m->abort_in, NULL); /* QEMU went before it ran the guest */
	m->abort_in = NULL;
	if (m->tls_psk[0] != '\0')
		tls_forget(m->vm);
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
	evtimer_assign(&m->confirm_ev, vm->vms->base, on_confirm_wait, m);
	evtimer_assign(&m->abort_ev, vm->vms->base, on_abort_wait, m);
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
		if (i != NULL && strcmp(i->status, "completed") == 0) {
			json_t *r = info_json(i, now_ms() - m->started_ms);
			if (r != NULL && m->postcopy_started)
				json_object_set_new(r, "postcopy_after_s",
						    json_integer(m->converge_seconds));
			command_reply_ok(cmd, r);
		} else if (m->cancel_code != NULL)
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

static void query_final(struct vm_migration *m);

static void
on_final_retry(evutil_socket_t fd, short what, void *arg)
{
	struct vm *vm = arg;

	/* ending was kept set while waiting, so that nothing else asked meanwhile: ask now
	 * (query_final() alone would return at once, and the tick found the end up to
	 * PROGRESS_MS later) */
	if (vm->mig != NULL && vm->mig->out) {
		vm->mig->ending = false;
		query_final(vm->mig);
	}
}

static void
on_final_info(struct qmp *q, const struct qmp_migration_info *i, const struct qmp_error *err,
	      void *arg)
{
	struct vm *vm = arg;
	struct vm_migration *m = vm->mig;
	struct timeval tv = {0, FINAL_RETRY_MS * 1000};

	if (m == NULL || !m->out)
		return;
	m->ending = false;
	/* The MIGRATION "completed" event comes a moment before QEMU computed total-time and
	 * downtime (migration_calculate_complete): ask again until they are there. */
	if (err == NULL && strcmp(i->status, "completed") == 0 && i->total_time_ms == 0 &&
	    m->final_retries++ < FINAL_RETRIES) {
		m->ending = true;
		event_base_once(vm->vms->base, -1, EV_TIMEOUT, on_final_retry, vm, &tv);
		return;
	}
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
		if (strcmp(i->status, "completed") == 0 && i->total_time_ms == 0)
			query_final(m); /* the figures are not there yet: ask until they are */
		else
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

/* ---- both: TLS for the stream (or explicitly none), then m->tls_then ---- */

static void
tls_failed(struct vm *vm, const char *what, const char *desc)
{
	char why[400];

	snprintf(why, sizeof(why), "%s: %s", what, desc);
	if (vm->mig != NULL && vm->mig->out) {
		struct qmp_error e = {"TLS", why};
		start_failed_out(vm, "TLS set-up", &e);
	} else {
		vm_start_failed(vm, why);
	}
}

static void
on_tls_set(struct qmp *q, const struct qmp_error *err, void *arg)
{
	struct vm *vm = arg;

	if (vm->mig == NULL)
		return;
	if (err != NULL)
		tls_failed(vm, "migrate-set-parameters tls-creds", err->desc);
	else
		vm->mig->tls_then(vm);
}

static void
on_tls_added(struct qmp *q, const struct qmp_error *err, void *arg)
{
	struct vm *vm = arg;

	if (vm->mig == NULL)
		return;
	if (err != NULL)
		tls_failed(vm, "object-add tls-creds-psk", err->desc);
	else if (qmp_migrate_set_tls(q, TLS_ID, on_tls_set, vm) != 0)
		tls_failed(vm, "migrate-set-parameters", "cannot send");
}

static void
on_tls_deleted(struct qmp *q, const struct qmp_error *err, void *arg)
{
	struct vm *vm = arg;
	struct vm_migration *m = vm->mig;
	char dir[VMSPEC_RUN_DIR_MAX + 32], why[300];

	/* err: there was none (the usual case) */
	if (m == NULL)
		return;
	if (m->tls_psk[0] == '\0') {
		if (qmp_migrate_set_tls(q, "", on_tls_set, vm) != 0)
			tls_failed(vm, "migrate-set-parameters", "cannot send");
		return;
	}
	tls_path(vm, "", dir, sizeof(dir));
	if (!tls_write(vm, m->tls_psk, why, sizeof(why)))
		tls_failed(vm, "the TLS key", why);
	else if (qmp_tls_psk_add(q, TLS_ID, dir, m->out ? TLS_USER : NULL, on_tls_added, vm) != 0)
		tls_failed(vm, "object-add", "cannot send");
}

/* A QEMU that migrated out before may hold the object of that migration: it goes first. */
static void
tls_setup(struct vm *vm, void (*then)(struct vm *vm))
{
	vm->mig->tls_then = then;
	if (qmp_object_del(vm->qmp, TLS_ID, on_tls_deleted, vm) != 0)
		tls_failed(vm, "object-del", "cannot send");
}

static void
out_migrate(struct vm *vm)
{
	if (qmp_migrate(vm->qmp, vm->mig->uri, on_migrate, vm) != 0)
		start_failed_out(vm, "migrate", NULL);
}

static void
on_params(struct qmp *q, const struct qmp_error *err, void *arg)
{
	struct vm *vm = arg;

	if (vm->mig == NULL)
		return;
	if (err != NULL)
		start_failed_out(vm, "migrate-set-parameters", err);
	else
		tls_setup(vm, out_migrate);
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
	if (!tls_arg(cmd, m)) {
		m->cmd = NULL;
		mig_free(m);
		return;
	}
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
in_listen(struct vm *vm)
{
	char uri[160];

	snprintf(uri, sizeof(uri), "tcp:%s:0", vm->vms->s->migration_address);
	if (qmp_migrate_incoming(vm->qmp, uri, on_incoming, vm) != 0)
		vm_start_failed(vm, "migrate-incoming: QMP unavailable");
}

static void
on_caps_in(struct qmp *q, const struct qmp_error *err, void *arg)
{
	struct vm *vm = arg;
	char why[300];

	if (vm->mig == NULL)
		return;
	if (err != NULL) {
		snprintf(why, sizeof(why), "migrate-set-capabilities: %s", err->desc);
		vm_start_failed(vm, why);
		return;
	}
	tls_setup(vm, in_listen);
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
	if (!tls_arg(cmd, m)) {
		mig_free(m);
		return;
	}
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
		if (m != NULL && m->abort_in != NULL) {
			/* too late to abort: QEMU "stop"s it, it runs here again (on_abort_stop) */
			log_warn("%s: the guest started here before the abort", vm->label);
			m->ran = true;
		} else {
			mig_free(m);
		}
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
	m->gone = true;
	mig_free(m);
}

/* ---- target: confirming or aborting after the source completed ---- */

/* The parked vm.migrate-status {wait}: how the incoming VM stands now. */
static void
reply_confirm(struct vm_migration *m)
{
	struct command *cmd = m->confirm;
	struct vm *vm = m->vm;
	bool qemu = !m->gone && vm_has_qemu(vm);

	m->confirm = NULL;
	event_del(&m->confirm_ev);
	command_reply_ok(cmd, json_pack("{s:s, s:s, s:b}", "status", "none", "vm_state",
					vm->incoming && qemu ? "incoming"
					: qemu		     ? vm_state_name(vm->state)
							     : "stopped",
					"qemu", qemu));
}

static void
on_confirm_wait(evutil_socket_t fd, short what, void *arg)
{
	struct vm_migration *m = arg;

	if (m->confirm != NULL)
		reply_confirm(m);
}

/* vm.migrate-status {wait}: wait for the incoming guest to run (or its QEMU to go). */
static bool
park_confirm(struct vm *vm, struct command *cmd, int wait)
{
	struct vm_migration *m = vm->mig;
	struct timeval tv = {wait, 0};

	if (wait <= 0 || !vm->incoming || m == NULL || m->out || !vm_has_qemu(vm))
		return false;
	if (m->confirm != NULL)
		command_reply_error(m->confirm, "superseded", "asked again");
	m->confirm = cmd;
	evtimer_add(&m->confirm_ev, &tv);
	return true;
}

static void
on_abort_resumed(struct qmp *q, const struct qmp_error *err, void *arg)
{
	struct vm *vm = arg;

	if (err != NULL)
		log_error("%s: cont after an abort that came too late: %s", vm->label, err->desc);
}

/* The reply to our "stop": from here on QEMU will not start the guest by itself. */
static void
on_abort_stop(struct qmp *q, const struct qmp_error *err, void *arg)
{
	struct vm *vm = arg;
	struct vm_migration *m = vm->mig;
	struct command *cmd;

	if (m == NULL || m->abort_in == NULL)
		return;
	cmd = m->abort_in;
	m->abort_in = NULL;
	event_del(&m->abort_ev);
	if (!vm->incoming) {
		/* RESUME came before our stop: the guest ran here, so here it stays. */
		(void)qmp_cont(q, on_abort_resumed, vm);
		mig_free(m);
		command_reply_error(cmd, "running", "the guest already runs on this node");
		return;
	}
	log_info("%s: the incoming guest never ran here; stopping its QEMU%s%s", vm->label,
		 err ? ": stop: " : "", err ? err->desc : "");
	vm_stop(vm, cmd); /* replies once QEMU exited; mig is released on the way */
}

static void
on_abort_wait(evutil_socket_t fd, short what, void *arg)
{
	struct vm_migration *m = arg;
	struct vm *vm = m->vm;
	struct command *cmd = m->abort_in;

	if (cmd == NULL)
		return;
	/* No answer to "stop" and no RESUME for ABORT_IN_SEC: QEMU's main loop, which would
	 * have started the guest and sent RESUME, is not running. */
	m->abort_in = NULL;
	log_warn("%s: no answer to stop within %d s; stopping the incoming QEMU", vm->label,
		 ABORT_IN_SEC);
	vm_stop(vm, cmd);
}

void
vm_cmd_migrate_abort_in(struct command *cmd)
{
	struct vm *vm = find_or_reply(cmd);
	struct timeval tv = {ABORT_IN_SEC, 0};

	if (vm == NULL)
		return;
	if (!vm_has_qemu(vm) && vm->state == VM_STOPPED) {
		/* its incoming QEMU went before RESUME (a guest that ran and crashed here is
		 * VM_CRASHED, restarting: that one "runs" here) */
		command_reply_ok(cmd, json_pack("{s:b}", "qemu", 0));
		return;
	}
	if (!vm->incoming || vm->mig == NULL || vm->mig->out) {
		command_reply_error(cmd, "running", "%s is %s: the guest runs on this node",
				    vm->label, vm_state_name(vm->state));
		return;
	}
	if (vm->mig->abort_in != NULL) {
		command_reply_error(cmd, "busy", "an abort is under way");
		return;
	}
	vm->mig->abort_in = cmd;
	evtimer_add(&vm->mig->abort_ev, &tv);
	if (vm->qmp == NULL || !qmp_is_ready(vm->qmp) ||
	    qmp_stop(vm->qmp, on_abort_stop, vm) != 0) {
		vm->mig->abort_in = NULL;
		event_del(&vm->mig->abort_ev);
		vm_stop(vm, cmd);
	}
}

/* ---- source: the target never ran the guest ---- */

static void
on_announced(struct qmp *q, const struct qmp_error *err, void *arg)
{
	struct vm *vm = arg;

	if (err != NULL)
		log_warn("%s: announce-self: %s", vm->label, err->desc);
}

static void
on_resumed(struct qmp *q, const struct qmp_error *err, void *arg)
{
	struct command *cmd = arg;
	struct vm *vm = vms_find(vms_of(cmd), json_integer_value(json_object_get(cmd->args, "id")));

	if (err != NULL) {
		/* e.g. "Failed to get write lock": another QEMU holds the disk */
		command_reply_error(cmd, "resume_failed", "cont: %s", err->desc);
		return;
	}
	if (vm != NULL) {
		vm->state = VM_RUNNING;
		log_info("%s: resumed here after a migration the target never ran", vm->label);
		if (qmp_announce_self(q, on_announced, vm) != 0)
			log_warn("%s: cannot send announce-self", vm->label);
	}
	command_reply_ok(cmd, NULL);
}

void
vm_cmd_migrate_resume(struct command *cmd)
{
	struct vm *vm = find_or_reply(cmd);

	if (vm == NULL)
		return;
	if (vm->state == VM_RUNNING) {
		command_reply_ok(cmd, json_pack("{s:b}", "already", 1));
		return;
	}
	if (vm->state != VM_PAUSED || vm->incoming || (vm->mig != NULL && vm->mig->out)) {
		command_reply_error(cmd, "not_paused", "%s is %s", vm->label,
				    vm_state_name(vm->state));
		return;
	}
	if (vm->qmp == NULL || !qmp_is_ready(vm->qmp)) {
		command_reply_error(cmd, "unavailable", "no QMP connection to %s", vm->label);
		return;
	}
	if (qmp_cont(vm->qmp, on_resumed, cmd) != 0)
		command_reply_error(cmd, "unavailable", "cannot send cont");
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
	if (park_confirm(vm, cmd, (int)json_integer_value(json_object_get(cmd->args, "wait"))))
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
