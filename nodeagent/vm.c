/*
 * The VM supervisor's life cycle. A VM's QEMU is forked here (never -daemonize, its own session,
 * umask 0177, affinity = housekeeping cores before exec, output appended to run_dir/qemu.log),
 * started with -S, reached over QMP, its vCPU threads pinned to their dedicated cores, then
 * "cont". An exit is noticed through a pidfd on the event loop, for our children and for QEMUs
 * adopted from a previous agent alike (those are not our children, so SIGCHLD/waitpid cannot see
 * them; one mechanism for both keeps one exit path). What the exit means depends on what was
 * asked (vm->want): a stop or shutdown ends in "stopped", a guest power-off too (QMP SHUTDOWN was
 * seen), anything else is a crash, restarted after 1, 2, 4, 8, 16 s, at most VM_MAX_RESTARTS
 * times in VM_RESTART_WINDOW_SEC, then left stopped with "gave_up".
 *
 * Signals go through pidfd_send_signal(): a pid number alone may have been reused by the time a
 * timer fires, the pidfd may not.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent_settings.h"
#include "commands.h"
#include "inventory.h"
#include "link.h"
#include "log.h"
#include "pin.h"
#include "proto.h"
#include "qemu_cmdline.h"
#include "qmp.h"
#include "sniffer.h"
#include "storage.h"
#include "tap.h"
#include "vm.h"

#define SOCKET_POLL_MS 10 /* a stat() while QEMU starts: cheap, and every start waits for it */
#define RECONNECT_SEC  1

#define SERIAL_LOG_ROTATE (1024 * 1024) /* bytes of serial.log rotated at a QEMU start */

static void vm_exited(evutil_socket_t fd, short what, void *arg);
static void on_poll(evutil_socket_t fd, short what, void *arg);
static void on_deadline(evutil_socket_t fd, short what, void *arg);
static void qmp_connect_now(struct vm *vm);

static int64_t
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

const char *
vm_state_name(enum vm_state state)
{
	static const char *const names[] = {
		[VM_DEFINED] = "defined",
		[VM_STARTING] = "starting",
		[VM_RUNNING] = "running",
		[VM_PAUSED] = "paused",
		[VM_SHUTTING_DOWN] = "shutting_down",
		[VM_STOPPED] = "stopped",
		[VM_CRASHED] = "crashed",
	};
	return names[state];
}

bool
vm_has_qemu(const struct vm *vm)
{
	return vm->pid > 0;
}

static void
send_event(struct vm *vm, const char *event, const char *detail)
{
	log_info("%s: event %s%s%s", vm->label, event, detail[0] ? ": " : "", detail);
	if (vm->vms->link != NULL)
		link_send_event(vm->vms->link, (long long)vm->spec.id, event, detail);
}

static void
run_path(const struct vm *vm, const char *leaf, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", vm->spec.run_dir, leaf);
}

static void
spec_path(const struct vms *vms, int64_t id, const char *suffix, char *buf, size_t len)
{
	snprintf(buf, len, "%s/vms/%lld.json%s", vms->s->state_dir, (long long)id, suffix);
}

/* The last line QEMU wrote to qemu.log (its error message, typically). */
static void
log_tail(const struct vm *vm, char *buf, size_t len)
{
	char path[PATH_MAX], data[1024];
	int fd;
	ssize_t n = 0;

	buf[0] = '\0';
	run_path(vm, "qemu.log", path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	off_t size = lseek(fd, 0, SEEK_END);
	if (size > 0 &&
	    lseek(fd, size > (off_t)sizeof(data) - 1 ? size - (off_t)sizeof(data) + 1 : 0,
		  SEEK_SET) >= 0)
		n = read(fd, data, sizeof(data) - 1);
	close(fd);
	if (n <= 0)
		return;
	data[n] = '\0';
	while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == '\r'))
		data[--n] = '\0';
	char *line = strrchr(data, '\n');
	line = line != NULL ? line + 1 : data;
	if (strncmp(line, "--- webrack-node", 16) == 0)
		return; /* our own start marker: QEMU said nothing */
	for (char *p = line; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	size_t l = strlen(line);
	if (l >= len)
		l = len - 1;
	memcpy(buf, line, l);
	buf[l] = '\0';
}

/* ---- list ---- */

struct vms *
vms_new(struct event_base *base, const struct agent_settings *s, const struct inventory *inv,
	void *owner)
{
	struct vms *vms = calloc(1, sizeof(*vms));

	if (vms == NULL)
		return NULL;
	vms->base = base;
	vms->s = s;
	vms->inv = inv;
	vms->owner = owner;
	CPU_ZERO(&vms->housekeeping);
	for (int i = 0; i < inv->cores.nhousekeeping; i++)
		if (inv->cores.housekeeping[i] < CPU_SETSIZE)
			CPU_SET(inv->cores.housekeeping[i], &vms->housekeeping);
	return vms;
}

void
vms_set_link(struct vms *vms, struct link *link)
{
	vms->link = link;
}

void *
vms_owner(const struct vms *vms)
{
	return vms->owner;
}

struct vm *
vms_find(const struct vms *vms, int64_t id)
{
	for (struct vm *vm = vms->list; vm != NULL; vm = vm->next)
		if (vm->spec.id == id)
			return vm;
	return NULL;
}

struct vm *
vm_add(struct vms *vms, const struct vm_spec *spec, char bridges[][IFNAMSIZ])
{
	struct vm *vm = calloc(1, sizeof(*vm));

	if (vm == NULL)
		return NULL;
	vm->vms = vms;
	vm->spec = *spec;
	vm->run = *spec;
	memcpy(vm->bridges, bridges, sizeof(vm->bridges[0]) * spec->nnics);
	snprintf(vm->label, sizeof(vm->label), "vm-%lld", (long long)spec->id);
	vm->state = VM_DEFINED;
	vm->pidfd = -1;
	evtimer_assign(&vm->poll_ev, vms->base, on_poll, vm);
	evtimer_assign(&vm->deadline_ev, vms->base, on_deadline, vm);
	vm->next = vms->list;
	vms->list = vm;
	return vm;
}

static void
unlink_vm(struct vm *vm)
{
	for (struct vm **p = &vm->vms->list; *p != NULL; p = &(*p)->next) {
		if (*p == vm) {
			*p = vm->next;
			return;
		}
	}
}

static void
set_deadline(struct vm *vm, int seconds)
{
	struct timeval tv = {seconds, 0};

	evtimer_add(&vm->deadline_ev, &tv);
}

static void
set_poll(struct vm *vm, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	evtimer_add(&vm->poll_ev, &tv);
}

/* ---- spec files ---- */

int
vm_persist(const struct vm *vm, char *why, size_t whylen)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	json_t *bridges = json_array();
	json_t *spec = vmspec_to_json(&vm->spec);
	json_t *doc = NULL;
	char *text = NULL;
	int fd = -1, rc = -1;

	for (size_t i = 0; bridges != NULL && i < vm->spec.nnics; i++)
		json_array_append_new(bridges, json_string(vm->bridges[i]));
	if (spec == NULL || bridges == NULL) {
		json_decref(spec);
		json_decref(bridges);
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	doc = json_pack("{s:o, s:o}", "spec", spec, "bridges", bridges);
	text = doc != NULL ? json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;
	if (text == NULL) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	spec_path(vm->vms, vm->spec.id, "", path, sizeof(path));
	spec_path(vm->vms, vm->spec.id, ".tmp", tmp, sizeof(tmp));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(why, whylen, "cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	size_t len = strlen(text);
	if (write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
		snprintf(why, whylen, "cannot write %s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, path) != 0) {
		snprintf(why, whylen, "cannot rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(text);
	json_decref(doc);
	return rc;
}

/* Parse one spec file; a VM in VM_STOPPED, or NULL (logged). */
static struct vm *
load_file(struct vms *vms, const char *path, int64_t expect_id)
{
	char why[256], bridges[VMSPEC_MAX_NICS][IFNAMSIZ] = {{0}};
	json_error_t jerr;
	struct vm_spec spec;
	struct vm *vm = NULL;
	json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	const json_t *b = json_object_get(doc, "bridges");

	if (doc == NULL) {
		log_error("%s: %s (line %d)", path, jerr.text, jerr.line);
		return NULL;
	}
	if (json_object_size(doc) != 2 || !json_is_array(b)) {
		log_error("%s: not a VM spec file", path);
		goto out;
	}
	if (!vmspec_from_json(json_object_get(doc, "spec"), &spec, why, sizeof(why))) {
		log_error("%s: %s", path, why);
		goto out;
	}
	if (spec.id != expect_id || json_array_size(b) != spec.nnics) {
		log_error("%s: id or bridges do not match the file", path);
		goto out;
	}
	for (size_t i = 0; i < spec.nnics; i++) {
		const char *name = json_string_value(json_array_get(b, i));
		if (name == NULL || !tap_bridge_name_ok(name)) {
			log_error("%s: bad bridge name", path);
			goto out;
		}
		snprintf(bridges[i], sizeof(bridges[i]), "%s", name);
	}
	vm = vm_add(vms, &spec, bridges);
	if (vm != NULL)
		vm->state = VM_STOPPED;
out:
	json_decref(doc);
	return vm;
}

/* ---- QEMU exit ---- */

/* Close QMP; callbacks of pending commands run now, and see vm->qmp already NULL. */
static void
drop_qmp(struct vm *vm)
{
	struct qmp *q = vm->qmp;

	vm->qmp = NULL;
	if (q != NULL)
		qmp_free(q);
}

static void
release_qemu(struct vm *vm)
{
	char path[PATH_MAX], why[256];

	drop_qmp(vm);
	vm_migrate_release(vm, "QEMU exited");
	if (vm->pid_ev_added) {
		event_del(&vm->pid_ev);
		vm->pid_ev_added = false;
	}
	if (vm->pidfd >= 0) {
		close(vm->pidfd);
		vm->pidfd = -1;
	}
	event_del(&vm->poll_ev);
	event_del(&vm->deadline_ev);
	vm->pid = 0;
	sniffers_vm_down(vm->vms->sniffers, vm->spec.id);
	for (size_t i = 0; i < vm->run.nnics; i++)
		if (tap_delete(vm->run.nics[i].tap, why, sizeof(why)) != 0)
			log_warn("%s: %s", vm->label, why);
	if (cgroup_vm_remove(vm->spec.id) == CGROUP_ERROR)
		log_warn("%s: cannot remove its cgroup", vm->label);
	run_path(vm, QEMU_PID_FILE, path, sizeof(path));
	unlink(path);
	run_path(vm, QEMU_QMP_SOCKET, path, sizeof(path));
	unlink(path);
	run_path(vm, QEMU_VNC_SOCKET, path, sizeof(path));
	unlink(path);
}

static void
reply_waiter_ok(struct vm *vm, json_t *result)
{
	struct command *cmd = vm->waiter;

	vm->waiter = NULL;
	if (cmd != NULL)
		command_reply_ok(cmd, result);
	else
		json_decref(result);
}

static void reply_waiter_error(struct vm *vm, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
reply_waiter_error(struct vm *vm, const char *code, const char *fmt, ...)
{
	struct command *cmd = vm->waiter;
	char msg[PROTO_MESSAGE_MAX + 1];
	va_list ap;

	vm->waiter = NULL;
	if (cmd == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	command_reply_error(cmd, code, "%s", msg);
}

static void
schedule_restart(struct vm *vm, const char *why)
{
	int64_t now = now_sec();
	int kept = 0;

	for (int i = 0; i < vm->nrestarts; i++)
		if (now - vm->restarts[i] < VM_RESTART_WINDOW_SEC)
			vm->restarts[kept++] = vm->restarts[i];
	vm->nrestarts = kept;
	if (vm->nrestarts >= VM_MAX_RESTARTS) {
		char detail[PROTO_MESSAGE_MAX + 1];
		vm->state = VM_STOPPED;
		snprintf(detail, sizeof(detail), "%d restarts within %d s; left stopped (%s)",
			 VM_MAX_RESTARTS, VM_RESTART_WINDOW_SEC, why);
		send_event(vm, "gave_up", detail);
		return;
	}
	int delay = 1 << vm->nrestarts;
	vm->restarts[vm->nrestarts++] = now;
	vm->state = VM_CRASHED;
	log_info("%s: restarting in %d s (restart %d of %d)", vm->label, delay, vm->nrestarts,
		 VM_MAX_RESTARTS);
	set_deadline(vm, delay);
}

static void
describe_status(const struct vm *vm, int status, bool known, char *buf, size_t len)
{
	if (!known)
		snprintf(buf, len, "QEMU (pid %d) exited", (int)vm->pid);
	else if (WIFEXITED(status))
		snprintf(buf, len, "QEMU (pid %d) exited with status %d", (int)vm->pid,
			 WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "QEMU (pid %d) was killed by signal %d (%s)", (int)vm->pid,
			 WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "QEMU (pid %d) ended", (int)vm->pid);
}

static void
vm_exited(evutil_socket_t fd, short what, void *arg)
{
	struct vm *vm = arg;
	char how[128], tail[384];
	int status = 0;
	bool known = false;

	if (vm->is_child) {
		pid_t r = waitpid(vm->pid, &status, WNOHANG);
		if (r == 0) {
			/* Readable once the last thread exited, a moment before the zombie is
			 * reapable: look again shortly rather than spin on the pidfd. */
			struct timeval tv = {0, 10000};
			event_del(&vm->pid_ev);
			event_base_once(vm->vms->base, -1, EV_TIMEOUT, vm_exited, vm, &tv);
			return;
		}
		known = r == vm->pid;
	}
	describe_status(vm, status, known, how, sizeof(how));
	log_info("%s: %s", vm->label, how);
	log_tail(vm, tail, sizeof(tail));
	enum vm_state was = vm->state;
	enum vm_want want = vm->want;
	bool guest_off = vm->guest_shutdown;
	release_qemu(vm);
	vm->want = VM_WANT_RUN;

	if (want == VM_WANT_STOP || want == VM_WANT_SHUTDOWN || guest_off) {
		vm->state = VM_STOPPED;
		vm->nrestarts = 0;
		vm->restarting = false;
		send_event(vm, "stopped",
			   want == VM_WANT_STOP	      ? "stopped by the agent"
			   : want == VM_WANT_SHUTDOWN ? "the guest shut down"
						      : "the guest powered off");
		reply_waiter_ok(vm, NULL);
		return;
	}
	if (want == VM_WANT_FAILED || was == VM_STARTING) {
		char msg[PROTO_MESSAGE_MAX + 1];
		if (want == VM_WANT_FAILED)
			snprintf(msg, sizeof(msg), "%s%s%s", vm->fail, tail[0] ? "; QEMU: " : "",
				 tail);
		else
			snprintf(msg, sizeof(msg), "%s during start%s%s", how, tail[0] ? ": " : "",
				 tail);
		/* Another QEMU holds the disk (a node declared dead that did not fence yet):
		 * a stable code, so the controller retries instead of failing (lifecycle.c). */
		reply_waiter_error(vm,
				   strstr(msg, "\"write\" lock") ||
						   strstr(msg, "another process using the image")
					   ? "image_locked"
					   : "start_failed",
				   "%s", msg);
		if (vm->restarting) {
			send_event(vm, "crashed", msg);
			schedule_restart(vm, msg);
		} else {
			vm->state = VM_STOPPED;
		}
		return;
	}
	char detail[PROTO_MESSAGE_MAX + 1];
	snprintf(detail, sizeof(detail), "%s%s%s", how, tail[0] ? ": " : "", tail);
	send_event(vm, "crashed", detail);
	reply_waiter_error(vm, "crashed", "%s", detail);
	schedule_restart(vm, how);
}

static int
signal_qemu(struct vm *vm, int sig)
{
	if (vm->pidfd < 0)
		return -1;
	if (syscall(SYS_pidfd_send_signal, vm->pidfd, sig, NULL, 0) != 0) {
		log_warn("%s: cannot send signal %d to QEMU: %s", vm->label, sig, strerror(errno));
		return -1;
	}
	return 0;
}

/* Give up a start: kill QEMU; vm_exited() replies with why. */
static void start_failed(struct vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
start_failed(struct vm *vm, const char *fmt, ...)
{
	va_list ap;

	if (vm->want == VM_WANT_FAILED || vm->want == VM_WANT_STOP)
		return;
	va_start(ap, fmt);
	vsnprintf(vm->fail, sizeof(vm->fail), fmt, ap);
	va_end(ap);
	log_warn("%s: start failed: %s", vm->label, vm->fail);
	vm->want = VM_WANT_FAILED;
	event_del(&vm->poll_ev);
	event_del(&vm->deadline_ev);
	signal_qemu(vm, SIGKILL);
}

void
vm_start_failed(struct vm *vm, const char *why)
{
	start_failed(vm, "%s", why);
}

void
vm_kill_fenced(struct vm *vm)
{
	event_del(&vm->deadline_ev); /* no crash restart, no start deadline */
	if (!vm_has_qemu(vm)) {
		if (vm->state == VM_CRASHED)
			vm->state = VM_STOPPED;
		return;
	}
	vm->want = VM_WANT_STOP; /* its exit is a stop, never a crash to restart */
	vm->fenced = true;
	event_del(&vm->poll_ev);
	signal_qemu(vm, SIGKILL);
}

/* ---- QMP ---- */

static void
on_qmp_event(struct qmp *q, const char *name, const json_t *data, int64_t sec, int64_t usec,
	     void *arg)
{
	struct vm *vm = arg;

	vm_migrate_qmp_event(vm, name, data);
	if (strcmp(name, "RESET") == 0) {
		/* the admin (and tests) must be able to tell a guest that rebooted itself */
		log_info("%s: QEMU reports RESET (guest: %s, reason: %s)", vm->label,
			 json_is_true(json_object_get(data, "guest")) ? "true" : "false",
			 json_string_value(json_object_get(data, "reason")) ?: "?");
	} else if (strcmp(name, "SHUTDOWN") == 0) {
		vm->guest_shutdown = true;
		log_info("%s: QEMU reports SHUTDOWN (%s)", vm->label,
			 json_string_value(json_object_get(data, "reason")) ?: "?");
	} else if (strcmp(name, "STOP") == 0 && vm->state == VM_RUNNING) {
		vm->state = VM_PAUSED;
	} else if (strcmp(name, "RESUME") == 0 && vm->state == VM_PAUSED) {
		vm->state = VM_RUNNING;
	}
}

static void
on_qmp_gone(struct qmp *q, const char *reason, void *arg)
{
	struct vm *vm = arg;

	if (q != vm->qmp)
		return; /* an old connection the agent closed itself */
	if (vm->state == VM_STARTING && vm->pid > 0 && qmp_qemu_version(q)[0] == '\0') {
		/*
		 * QEMU binds qmp.sock a moment before it listens on it: a connect in between is
		 * refused. Try again while QEMU lives; the start deadline bounds it, and QEMU's
		 * exit ends it (pidfd).
		 */
		log_debug("%s: QMP not listening yet (%s); retrying", vm->label, reason);
		set_poll(vm, SOCKET_POLL_MS);
		return;
	}
	if (vm->state == VM_STARTING) {
		start_failed(vm, "lost QMP during start: %s", reason);
		return;
	}
	/* QEMU is probably exiting (the pidfd will say so); if not, connect again. */
	if (vm->pid > 0 && vm->want != VM_WANT_FAILED)
		set_poll(vm, RECONNECT_SEC * 1000);
}

static void
on_status(struct qmp *q, const struct qmp_status *st, const struct qmp_error *err, void *arg)
{
	struct vm *vm = arg;

	if (err != NULL) {
		if (vm->state == VM_STARTING)
			start_failed(vm, "query-status: %s: %s", err->cls, err->desc);
		return;
	}
	if (vm->state == VM_STARTING) {
		if (!st->running) {
			start_failed(vm, "the guest is '%s' after cont", st->status);
			return;
		}
		event_del(&vm->deadline_ev);
		vm->state = VM_RUNNING;
		char detail[64];
		snprintf(detail, sizeof(detail), "pid %d", (int)vm->pid);
		send_event(vm, vm->restarting ? "restarted" : "started", detail);
		vm->restarting = false;
		reply_waiter_ok(vm, json_pack("{s:i}", "pid", (int)vm->pid));
		return;
	}
	/* An adopted QEMU: learn whether it runs or is paused. */
	if (vm->state == VM_RUNNING || vm->state == VM_PAUSED) {
		vm->state = st->running ? VM_RUNNING : VM_PAUSED;
		log_info("%s: QEMU pid %d is %s", vm->label, (int)vm->pid, st->status);
	}
}

static void
on_cont(struct qmp *q, const struct qmp_error *err, void *arg)
{
	struct vm *vm = arg;

	if (err != NULL) {
		start_failed(vm, "cont: %s: %s", err->cls, err->desc);
		return;
	}
	if (qmp_query_status(q, on_status, vm) != 0)
		start_failed(vm, "cannot send query-status");
}

/* cgroup, then the other threads, then each vCPU: see pin.h for why in this order. */
static int
place_threads(struct vm *vm, const struct qmp_vcpu *vcpus, size_t n, char *why, size_t whylen)
{
	pid_t tids[VMSPEC_MAX_VCPUS];
	cpu_set_t all = vm->vms->housekeeping;

	if (n != vm->run.vcpus) {
		snprintf(why, whylen, "QEMU reports %zu vCPUs, %u expected", n, vm->run.vcpus);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (vcpus[i].cpu_index < 0 || (unsigned)vcpus[i].cpu_index >= vm->run.vcpus) {
			snprintf(why, whylen, "QEMU reports vCPU index %d", vcpus[i].cpu_index);
			return -1;
		}
		for (size_t j = 0; j < i; j++) {
			if (tids[j] == vcpus[i].thread_id) {
				snprintf(why, whylen,
					 "cannot pin: vCPUs %d and %d share thread %d (no "
					 "thread per vCPU)",
					 vcpus[j].cpu_index, vcpus[i].cpu_index,
					 (int)vcpus[i].thread_id);
				return -1;
			}
		}
		tids[i] = vcpus[i].thread_id;
		CPU_SET(vm->run.cores[vcpus[i].cpu_index], &all);
	}
	int64_t mem = (vm->run.ram_mb + vm->run.ram_mb / 8 + 512) * 1024 * 1024;
	if (cgroup_vm_setup(vm->spec.id, &all, mem, vm->pid) == CGROUP_ERROR) {
		snprintf(why, whylen, "cannot set up the VM's cgroup");
		return -1;
	}
	if (pin_others(vm->pid, tids, n, &vm->vms->housekeeping) < 0) {
		snprintf(why, whylen, "cannot move QEMU's threads to the housekeeping cores");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		int core = vm->run.cores[vcpus[i].cpu_index];
		if (pin_thread(tids[i], core) != 0) {
			snprintf(why, whylen, "cannot pin vCPU %d (thread %d) to core %d",
				 vcpus[i].cpu_index, (int)tids[i], core);
			return -1;
		}
		log_info("%s: vCPU %d (thread %d) pinned to core %d", vm->label, vcpus[i].cpu_index,
			 (int)tids[i], core);
	}
	return 0;
}

static void
on_vcpus(struct qmp *q, const struct qmp_vcpu *vcpus, size_t n, const struct qmp_error *err,
	 void *arg)
{
	struct vm *vm = arg;
	char why[256];

	if (err != NULL) {
		start_failed(vm, "query-cpus-fast: %s: %s", err->cls, err->desc);
		return;
	}
	if (place_threads(vm, vcpus, n, why, sizeof(why)) != 0) {
		start_failed(vm, "%s", why);
		return;
	}
	if (vm->incoming) {
		vm_migrate_pinned(vm); /* pinned before any RAM arrives */
		return;
	}
	if (qmp_cont(q, on_cont, vm) != 0)
		start_failed(vm, "cannot send cont");
}

static void
on_qmp_ready(struct qmp *q, void *arg)
{
	struct vm *vm = arg;

	vm->polls = 0;
	if (vm->state == VM_STARTING) {
		if (qmp_query_cpus_fast(q, on_vcpus, vm) != 0)
			start_failed(vm, "cannot send query-cpus-fast");
	} else if (qmp_query_status(q, on_status, vm) != 0) {
		log_warn("%s: cannot query the status", vm->label);
	}
}

static const struct qmp_callbacks qmp_cbs = {on_qmp_ready, on_qmp_event, on_qmp_gone};

static void
qmp_connect_now(struct vm *vm)
{
	char path[PATH_MAX];

	drop_qmp(vm);
	vm->qmp = qmp_new(vm->vms->base, vm->label, &qmp_cbs, vm);
	run_path(vm, QEMU_QMP_SOCKET, path, sizeof(path));
	if (vm->qmp == NULL || qmp_connect(vm->qmp, path) != 0) {
		if (vm->state == VM_STARTING) {
			start_failed(vm, "cannot connect to QMP at %s", path);
		} else {
			log_warn("%s: cannot connect to QMP; retrying", vm->label);
			set_poll(vm, RECONNECT_SEC * 1000);
		}
	}
}

/* While starting: wait for QEMU to create qmp.sock. Otherwise: reconnect after a lost QMP. */
static void
on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct vm *vm = arg;
	char path[PATH_MAX];
	struct stat st;

	if (vm->pid <= 0)
		return;
	run_path(vm, QEMU_QMP_SOCKET, path, sizeof(path));
	if (vm->state == VM_STARTING && stat(path, &st) != 0) {
		set_poll(vm, SOCKET_POLL_MS);
		return;
	}
	qmp_connect_now(vm);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct vm *vm = arg;
	char tail[384];

	if (vm->pid > 0 && vm->want == VM_WANT_STOP) {
		log_warn("%s: QEMU did not exit within %d s; SIGKILL", vm->label, VM_STOP_KILL_SEC);
		signal_qemu(vm, SIGKILL);
	} else if (vm->state == VM_STARTING) {
		log_tail(vm, tail, sizeof(tail));
		start_failed(vm, "QEMU was not running within %d s%s%s", VM_START_SEC,
			     tail[0] ? ": " : "", tail);
	} else if (vm->state == VM_SHUTTING_DOWN) {
		char detail[96];
		vm->state = vm->before_shutdown;
		vm->want = VM_WANT_RUN;
		snprintf(detail, sizeof(detail), "the guest did not power off in time");
		send_event(vm, "shutdown_timeout", detail);
		reply_waiter_error(vm, "shutdown_timeout", "%s", detail);
	} else if (vm->state == VM_CRASHED && vm->pid == 0) {
		vm->restarting = true;
		vm_start(vm, NULL);
	}
}

/* ---- start ---- */

static int
make_run_dir(struct vm *vm, char *why, size_t whylen)
{
	char path[PATH_MAX];
	struct stat st;

	if (mkdir(vm->spec.run_dir, 0700) != 0 && errno != EEXIST) {
		snprintf(why, whylen, "cannot create %s: %s", vm->spec.run_dir, strerror(errno));
		return -1;
	}
	if (lstat(vm->spec.run_dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
		snprintf(why, whylen, "%s is not a directory of ours", vm->spec.run_dir);
		return -1;
	}
	if ((st.st_mode & 0777) != 0700)
		chmod(vm->spec.run_dir, 0700);
	static const char *const stale[] = {QEMU_QMP_SOCKET, QEMU_VNC_SOCKET, QEMU_PID_FILE};
	for (size_t i = 0; i < sizeof(stale) / sizeof(stale[0]); i++) {
		run_path(vm, stale[i], path, sizeof(path));
		unlink(path);
	}
	/* serial_log: QEMU appends without a bound; keep one previous file of up to 1 MiB. */
	run_path(vm, QEMU_SERIAL_LOG, path, sizeof(path));
	if (stat(path, &st) == 0 && st.st_size > SERIAL_LOG_ROTATE) {
		char old[PATH_MAX];
		run_path(vm, QEMU_SERIAL_LOG ".old", old, sizeof(old));
		rename(path, old);
	}
	return 0;
}

/* Fork and exec QEMU; the pid, or -1 with why. */
static pid_t
spawn_qemu(struct vm *vm, char **argv, char *why, size_t whylen)
{
	char path[PATH_MAX], header[128];
	time_t t = time(NULL);
	struct tm tm;

	run_path(vm, "qemu.log", path, sizeof(path));
	int logfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (logfd < 0) {
		snprintf(why, whylen, "cannot open %.400s: %s", path, strerror(errno));
		return -1;
	}
	gmtime_r(&t, &tm);
	int n = (int)strftime(header, sizeof(header), "--- webrack-node starts QEMU %FT%TZ\n", &tm);
	if (n > 0 && write(logfd, header, (size_t)n) < 0)
		log_debug("%s: cannot write qemu.log", vm->label);

	pid_t pid = fork();
	if (pid == 0) {
		/* Own session: a signal to the agent's process group never reaches the guest. */
		setsid();
		/* 0177, not 077: QEMU binds the QMP and VNC sockets with 0777 & ~umask, and they
		 * are documented as 0600 (the run_dir itself is 0700 anyway). */
		umask(0177);
		sched_setaffinity(0, sizeof(vm->vms->housekeeping), &vm->vms->housekeeping);
		storage_child_fds(logfd);
		execv(argv[0], argv);
		_exit(127);
	}
	close(logfd);
	if (pid < 0)
		snprintf(why, whylen, "cannot fork: %s", strerror(errno));
	return pid;
}

static int
watch_pid(struct vm *vm, pid_t pid, bool child)
{
	vm->pid = pid;
	vm->is_child = child;
	vm->pidfd = storage_pidfd_open(pid);
	if (vm->pidfd < 0) {
		log_error("%s: pidfd_open(%d): %s", vm->label, (int)pid, strerror(errno));
		return -1;
	}
	event_assign(&vm->pid_ev, vm->vms->base, vm->pidfd, EV_READ | EV_PERSIST, vm_exited, vm);
	if (event_add(&vm->pid_ev, NULL) != 0)
		return -1;
	vm->pid_ev_added = true;
	return 0;
}

void
vm_start(struct vm *vm, struct command *cmd)
{
	char why[512];
	char **argv = NULL;

	switch (vm->state) {
	case VM_RUNNING:
	case VM_PAUSED:
	case VM_SHUTTING_DOWN:
		if (cmd != NULL)
			command_reply_ok(
				cmd, json_pack("{s:i, s:b}", "pid", (int)vm->pid, "already", 1));
		return;
	case VM_STARTING:
		if (cmd != NULL)
			command_reply_error(cmd, "busy", "%s is starting already", vm->label);
		return;
	case VM_CRASHED:
		event_del(&vm->deadline_ev); /* a restart is due: this start is it */
		vm->restarting = cmd == NULL;
		break;
	case VM_DEFINED:
	case VM_STOPPED:
		vm->restarting = false;
		break;
	}
	if (cmd != NULL)
		vm->nrestarts = 0;
	vm->fenced = false;
	vm->run = vm->spec;
	for (size_t i = 0; i < vm->run.nnics; i++) {
		if (tap_create(vm->run.nics[i].tap, vm->bridges[i], why, sizeof(why)) != 0)
			goto fail;
	}
	if (make_run_dir(vm, why, sizeof(why)) != 0)
		goto fail;
	argv = qemu_cmdline(&vm->run, vm->vms->s->qemu_binary,
			    &(struct qemu_options){.serial_log = vm->vms->s->serial_log});
	if (argv != NULL && vm->incoming && vm_migrate_argv(&argv) != 0) {
		qemu_cmdline_free(argv);
		argv = NULL;
	}
	if (argv == NULL) {
		snprintf(why, sizeof(why), "cannot build the QEMU command line");
		goto fail;
	}
	pid_t pid = spawn_qemu(vm, argv, why, sizeof(why));
	qemu_cmdline_free(argv);
	if (pid < 0)
		goto fail;
	vm->state = VM_STARTING;
	sniffers_vm_up(vm->vms->sniffers, &vm->run);
	vm->want = VM_WANT_RUN;
	vm->guest_shutdown = false;
	vm->fail[0] = '\0';
	vm->waiter = cmd;
	vm->polls = 0;
	log_info("%s: QEMU started, pid %d%s", vm->label, (int)pid,
		 vm->restarting ? " (restart after a crash)" : "");
	if (watch_pid(vm, pid, true) != 0) {
		/* Without a pidfd we would never learn of its exit: do not let it run. */
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		release_qemu(vm);
		vm->waiter = NULL;
		snprintf(why, sizeof(why), "cannot watch QEMU (pidfd)");
		goto fail;
	}
	set_deadline(vm, VM_START_SEC);
	set_poll(vm, SOCKET_POLL_MS);
	return;
fail:
	log_warn("%s: cannot start: %s", vm->label, why);
	for (size_t i = 0; i < vm->run.nnics; i++) {
		char why2[256];
		if (tap_delete(vm->run.nics[i].tap, why2, sizeof(why2)) != 0)
			log_warn("%s: %s", vm->label, why2);
	}
	if (cmd != NULL)
		command_reply_error(cmd, "start_failed", "%s", why);
	if (vm->restarting) {
		send_event(vm, "crashed", why);
		schedule_restart(vm, why);
	} else if (vm->state == VM_CRASHED) {
		vm->state = VM_STOPPED;
	}
}

/* ---- stop, shutdown ---- */

static void
on_quit(struct qmp *q, const struct qmp_error *err, void *arg)
{
	struct vm *vm = arg;

	/* "Disconnected" is the normal outcome: QEMU closes the socket as it exits. */
	if (err != NULL && strcmp(err->cls, "Disconnected") != 0 && vm->pid > 0)
		signal_qemu(vm, SIGTERM);
}

void
vm_stop(struct vm *vm, struct command *cmd)
{
	if (!vm_has_qemu(vm)) {
		event_del(&vm->deadline_ev); /* no restart after a crash either */
		if (vm->state == VM_CRASHED)
			vm->state = VM_STOPPED;
		command_reply_ok(cmd, json_pack("{s:b}", "already", 1));
		return;
	}
	if (vm->want == VM_WANT_STOP || vm->want == VM_WANT_FAILED) {
		command_reply_error(cmd, "busy", "%s is being stopped already", vm->label);
		return;
	}
	if (vm->state == VM_STARTING)
		reply_waiter_error(vm, "interrupted", "stopped before it was running");
	else if (vm->state == VM_SHUTTING_DOWN)
		reply_waiter_error(vm, "interrupted", "stopped before the guest powered off");
	vm->waiter = cmd;
	vm->want = VM_WANT_STOP;
	event_del(&vm->poll_ev);
	if (vm->qmp == NULL || !qmp_is_ready(vm->qmp) || qmp_quit(vm->qmp, on_quit, vm) != 0)
		signal_qemu(vm, SIGTERM);
	set_deadline(vm, VM_STOP_KILL_SEC);
}

static void
on_powerdown(struct qmp *q, const struct qmp_error *err, void *arg)
{
	struct vm *vm = arg;

	if (err != NULL && vm->state == VM_SHUTTING_DOWN && vm->want == VM_WANT_SHUTDOWN) {
		event_del(&vm->deadline_ev);
		vm->state = vm->before_shutdown;
		vm->want = VM_WANT_RUN;
		reply_waiter_error(vm, "qmp", "system_powerdown: %s", err->desc);
	}
}

void
vm_shutdown(struct vm *vm, struct command *cmd, int timeout_sec)
{
	if (!vm_has_qemu(vm)) {
		event_del(&vm->deadline_ev);
		if (vm->state == VM_CRASHED)
			vm->state = VM_STOPPED;
		command_reply_ok(cmd, json_pack("{s:b}", "already", 1));
		return;
	}
	if (vm->state != VM_RUNNING && vm->state != VM_PAUSED) {
		command_reply_error(cmd, "busy", "%s is %s", vm->label, vm_state_name(vm->state));
		return;
	}
	if (vm->qmp == NULL || !qmp_is_ready(vm->qmp)) {
		command_reply_error(cmd, "unavailable", "no QMP connection to %s", vm->label);
		return;
	}
	vm->before_shutdown = vm->state;
	vm->state = VM_SHUTTING_DOWN;
	vm->want = VM_WANT_SHUTDOWN;
	vm->waiter = cmd;
	if (qmp_system_powerdown(vm->qmp, on_powerdown, vm) != 0) {
		vm->state = vm->before_shutdown;
		vm->want = VM_WANT_RUN;
		reply_waiter_error(vm, "unavailable", "cannot send system_powerdown");
		return;
	}
	set_deadline(vm, timeout_sec);
}

/* ---- simple QMP commands ---- */

/* A command waiting for one QMP reply. Owner: the QMP callback. */
struct qmp_op {
	struct vm *vm;
	struct command *cmd;
	enum vm_state then; /* the state on success (or the current one) */
};

static void
on_simple_done(struct qmp *q, const struct qmp_error *err, void *arg)
{
	struct qmp_op *op = arg;

	if (err != NULL) {
		command_reply_error(op->cmd,
				    strcmp(err->cls, "Disconnected") == 0 ? "unavailable" : "qmp",
				    "%s: %s", err->cls, err->desc);
	} else {
		if (op->vm->state == VM_RUNNING || op->vm->state == VM_PAUSED)
			op->vm->state = op->then;
		command_reply_ok(op->cmd, NULL);
	}
	free(op);
}

static struct qmp_op *
qmp_op_new(struct vm *vm, struct command *cmd)
{
	if (vm->state != VM_RUNNING && vm->state != VM_PAUSED) {
		command_reply_error(cmd, "not_running", "%s is %s", vm->label,
				    vm_state_name(vm->state));
		return NULL;
	}
	if (vm->qmp == NULL || !qmp_is_ready(vm->qmp)) {
		command_reply_error(cmd, "unavailable", "no QMP connection to %s", vm->label);
		return NULL;
	}
	struct qmp_op *op = calloc(1, sizeof(*op));
	if (op == NULL) {
		command_reply_error(cmd, "internal", "out of memory");
		return NULL;
	}
	op->vm = vm;
	op->cmd = cmd;
	op->then = vm->state;
	return op;
}

static void
submitted(struct qmp_op *op, int rc)
{
	if (rc != 0) {
		command_reply_error(op->cmd, "unavailable", "cannot send the QMP command");
		free(op);
	}
}

void
vm_qmp_simple(struct vm *vm, struct command *cmd, const char *what)
{
	struct qmp_op *op;

	if (strcmp(what, "pause") == 0 && vm->state == VM_PAUSED) {
		command_reply_ok(cmd, json_pack("{s:b}", "already", 1));
		return;
	}
	if (strcmp(what, "resume") == 0 && vm->state == VM_RUNNING) {
		command_reply_ok(cmd, json_pack("{s:b}", "already", 1));
		return;
	}
	if ((op = qmp_op_new(vm, cmd)) == NULL)
		return;
	if (strcmp(what, "pause") == 0) {
		op->then = VM_PAUSED;
		submitted(op, qmp_stop(vm->qmp, on_simple_done, op));
	} else if (strcmp(what, "resume") == 0) {
		op->then = VM_RUNNING;
		submitted(op, qmp_cont(vm->qmp, on_simple_done, op));
	} else {
		submitted(op, qmp_system_reset(vm->qmp, on_simple_done, op));
	}
}

void
vm_media(struct vm *vm, struct command *cmd)
{
	struct qmp_op *op = qmp_op_new(vm, cmd);

	if (op == NULL)
		return;
	if (vm->spec.iso[0] != '\0')
		submitted(op, qmp_change_medium(vm->qmp, vm->spec.iso, on_simple_done, op));
	else
		submitted(op, qmp_eject(vm->qmp, on_simple_done, op));
}

void
vm_block_resize(struct vm *vm, struct command *cmd, size_t disk, int64_t bytes)
{
	char node[32];
	struct qmp_op *op = qmp_op_new(vm, cmd);

	if (op == NULL)
		return;
	qemu_disk_node_name(disk, node, sizeof(node));
	submitted(op, qmp_block_resize(vm->qmp, node, bytes, on_simple_done, op));
}

/* ---- adoption after an agent restart ---- */

/* Whether pid is the QEMU of vm: its command line names vm's QMP socket. */
static bool
is_our_qemu(const struct vm *vm, pid_t pid)
{
	char path[64], want[PATH_MAX], buf[16384];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	if (!qemu_opt_escape(vm->spec.run_dir, want, sizeof(want) - 32))
		return false;
	strcat(want, "/" QEMU_QMP_SOCKET ",");
	/* The arguments are NUL-separated: look at each. */
	for (char *p = buf; p < buf + n; p += strlen(p) + 1)
		if (strstr(p, want) != NULL)
			return true;
	return false;
}

static void
adopt(struct vm *vm)
{
	char path[PATH_MAX], text[32];
	FILE *f;
	long pid = 0;

	run_path(vm, QEMU_PID_FILE, path, sizeof(path));
	f = fopen(path, "re");
	if (f == NULL)
		return;
	if (fgets(text, sizeof(text), f) != NULL) {
		char *end;
		pid = strtol(text, &end, 10);
		if (end == text || (*end != '\n' && *end != '\0') || pid <= 1 || pid > INT_MAX)
			pid = 0;
	}
	fclose(f);
	if (pid == 0 || !is_our_qemu(vm, (pid_t)pid)) {
		log_info("%s: no QEMU of ours running (pid file says %ld)", vm->label, pid);
		return;
	}
	if (watch_pid(vm, (pid_t)pid, false) != 0 || !is_our_qemu(vm, (pid_t)pid)) {
		/* Exited between the two looks, or no pidfd: leave it alone. */
		release_qemu(vm);
		return;
	}
	vm->state = VM_RUNNING; /* until query-status says otherwise */
	vm->want = VM_WANT_RUN;
	vm->run = vm->spec;
	sniffers_vm_up(vm->vms->sniffers, &vm->run);
	log_info("%s: re-attached to running QEMU pid %ld", vm->label, pid);
	qmp_connect_now(vm);
}

static int
make_dir(const char *path, mode_t mode)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(buf, c == '\0' ? mode : 0755) != 0 && errno != EEXIST) {
				log_error("cannot create %s: %s", buf, strerror(errno));
				return -1;
			}
			*p = c;
			if (c == '\0')
				return 0;
		}
	}
}

int
vms_load(struct vms *vms)
{
	char dir[PATH_MAX], path[PATH_MAX + 300];
	struct dirent *e;
	int count = 0;

	snprintf(dir, sizeof(dir), "%s/vms", vms->s->state_dir);
	/* The storage path too: the inventory reports its free space from the first hello on. */
	if (make_dir(dir, 0700) != 0 || make_dir(vms->s->run_dir, 0755) != 0 ||
	    make_dir(vms->s->storage_path, 0755) != 0)
		return -1;
	DIR *d = opendir(dir);
	if (d == NULL) {
		log_error("cannot read %s: %s", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		char *end;
		long long id = strtoll(e->d_name, &end, 10);
		if (id <= 0 || strcmp(end, ".json") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		struct vm *vm = load_file(vms, path, id);
		if (vm == NULL)
			continue;
		count++;
		adopt(vm);
	}
	closedir(d);
	log_info("%d VM(s) defined on this node", count);
	return count;
}

/* ---- hello, removal, teardown ---- */

json_t *
vms_hello(const struct vms *vms)
{
	json_t *list = json_array();

	for (const struct vm *vm = vms->list; list != NULL && vm != NULL; vm = vm->next) {
		json_t *e = json_pack("{s:I, s:s, s:i}", "id", (json_int_t)vm->spec.id, "state",
				      vm_state_name(vm->state), "pid", (int)vm->pid);
		/* The controller restarts a fenced failover vServer where it was (failover.c). */
		if (e != NULL && vm->fenced && !vm_has_qemu(vm))
			json_object_set_new(e, "fenced", json_true());
		json_array_append_new(list, e);
	}
	return list;
}

static void
vm_free(struct vm *vm)
{
	if (vm->waiter != NULL)
		reply_waiter_error(vm, "unavailable", "the agent is exiting");
	sniffers_vm_down(vm->vms->sniffers, vm->spec.id);
	drop_qmp(vm);
	vm_migrate_release(vm, "the agent is exiting");
	if (vm->pid_ev_added)
		event_del(&vm->pid_ev);
	if (vm->pidfd >= 0)
		close(vm->pidfd);
	event_del(&vm->poll_ev);
	event_del(&vm->deadline_ev);
	free(vm);
}

int
vm_remove(struct vm *vm, char *why, size_t whylen)
{
	char path[PATH_MAX];

	if (vm_has_qemu(vm)) {
		snprintf(why, whylen, "%s is %s", vm->label, vm_state_name(vm->state));
		return -1;
	}
	for (size_t i = 0; i < vm->spec.nnics; i++)
		if (tap_delete(vm->spec.nics[i].tap, why, whylen) != 0)
			return -1;
	spec_path(vm->vms, vm->spec.id, "", path, sizeof(path));
	if (unlink(path) != 0 && errno != ENOENT) {
		snprintf(why, whylen, "cannot delete %s: %s", path, strerror(errno));
		return -1;
	}
	static const char *const files[] = {"qemu.log", QEMU_PID_FILE, QEMU_SERIAL_LOG,
					    QEMU_SERIAL_LOG ".old"};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		run_path(vm, files[i], path, sizeof(path));
		unlink(path);
	}
	if (rmdir(vm->spec.run_dir) != 0 && errno != ENOENT)
		log_warn("%s: cannot remove %s: %s", vm->label, vm->spec.run_dir, strerror(errno));
	if (cgroup_vm_remove(vm->spec.id) == CGROUP_ERROR)
		log_warn("%s: cannot remove its cgroup", vm->label);
	log_info("%s undefined", vm->label);
	unlink_vm(vm);
	vm_free(vm);
	return 0;
}

void
vms_free(struct vms *vms)
{
	if (vms == NULL)
		return;
	while (vms->list != NULL) {
		struct vm *vm = vms->list;
		vms->list = vm->next;
		vm_free(vm);
	}
	free(vms);
}
