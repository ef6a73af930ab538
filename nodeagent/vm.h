/*
 * The VM supervisor: every VM the controller defined on this node, its QEMU process (started
 * here, or found running and adopted after an agent restart), the QMP connection to it, and what
 * happens when QEMU exits (a requested stop, a guest power-off, or a crash that is restarted with
 * backoff). vm.c holds the life cycle; vm_ops.c the command handlers of the command table.
 */
#ifndef WEBRACK_VM_H
#define WEBRACK_VM_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <jansson.h>
#include <net/if.h>

#include "vmspec.h"

struct agent_settings;
struct command;
struct console;
struct inventory;
struct link;
struct qmp;

#define VM_START_SEC	      45  /* fork to "running" (the controller waits 60 s) */
#define VM_STOP_KILL_SEC      5	  /* quit/SIGTERM, then SIGKILL */
#define VM_MAX_RESTARTS	      5	  /* crash restarts ... */
#define VM_RESTART_WINDOW_SEC 600 /* ... within this many seconds, then gave_up */
#define VM_SPEC_FILE_MAX      (64 * 1024)

/* Names as in proto_vm_states. */
enum vm_state {
	VM_DEFINED,  /* defined, never started by this agent */
	VM_STARTING, /* QEMU forked, not yet pinned and running */
	VM_RUNNING,
	VM_PAUSED,
	VM_SHUTTING_DOWN, /* ACPI power button pressed, waiting for the guest */
	VM_STOPPED,
	VM_CRASHED, /* exited unexpectedly, a restart is scheduled */
};

/* What an exit of QEMU means right now. */
enum vm_want {
	VM_WANT_RUN,	  /* nothing asked: an exit is a crash (unless the guest powered off) */
	VM_WANT_STOP,	  /* vm.stop: quit, then SIGTERM/SIGKILL */
	VM_WANT_SHUTDOWN, /* vm.shutdown: the guest was asked to power off */
	VM_WANT_FAILED,	  /* the start failed; QEMU was killed */
};

/* All VMs of the node. Owner: main(); lives as long as the agent. */
struct vms {
	struct event_base *base;
	const struct agent_settings *s;
	const struct inventory *inv;
	struct link *link; /* may be NULL (tests, start-up): events are then only logged */
	void *owner;	   /* main's agent state, see vms_owner() */
	cpu_set_t housekeeping;
	struct vm *list;
	struct console *console;   /* the console endpoint (console.c), NULL when off */
	struct sniffers *sniffers; /* the ARP/NDP sniffers (sniffer.c), NULL when off */
};

/* One VM. Owner: its struct vms (list); freed by vm.undefine or vms_free(). */
struct vm {
	struct vm *next;
	struct vms *vms;
	char label[32];	     /* "vm-42" in log lines */
	struct vm_spec spec; /* as defined (state_dir/vms/ID.json) */
	char bridges[VMSPEC_MAX_NICS][IFNAMSIZ];
	struct vm_spec run; /* what the current QEMU was started with */
	enum vm_state state;
	enum vm_state before_shutdown;
	enum vm_want want;
	pid_t pid;     /* 0: no QEMU */
	bool is_child; /* forked by this agent (waitpid gives the status) or adopted */
	int pidfd;     /* -1 when no QEMU */
	bool pid_ev_added;
	struct event pid_ev;	  /* pidfd readable: QEMU exited */
	struct event poll_ev;	  /* waiting for qmp.sock / reconnecting QMP */
	struct event deadline_ev; /* start deadline, kill escalation, shutdown timeout, restart */
	int polls;
	struct qmp *qmp;
	bool guest_shutdown;	/* QMP SHUTDOWN seen: the exit that follows is no crash */
	bool restarting;	/* the current start is a crash restart */
	char fail[512];		/* why the start failed (VM_WANT_FAILED) */
	struct command *waiter; /* vm.start / vm.stop / vm.shutdown waiting for the outcome */
	int64_t restarts[VM_MAX_RESTARTS]; /* monotonic seconds of recent crash restarts */
	int nrestarts;
	bool incoming;		  /* started with -incoming defer, not yet running (vm_migrate.c) */
	struct vm_migration *mig; /* a migration in or out in flight (vm_migrate.c), or NULL */
	bool fenced; /* killed by self-fencing (fence.c); said in the hello until started again */
};

struct vms *vms_new(struct event_base *base, const struct agent_settings *s,
		    const struct inventory *inv, void *owner);
void vms_set_link(struct vms *vms, struct link *link);
void *vms_owner(const struct vms *vms);

/*
 * Read state_dir/vms/ *.json and adopt every QEMU still running from a previous agent (checked by
 * its pid file and /proc/PID/cmdline), without touching it. Returns the number of VMs, -1 when
 * the directories cannot be made.
 */
int vms_load(struct vms *vms);

/* The hello's "vms": [{id, state, pid}]. */
json_t *vms_hello(const struct vms *vms);

/* Detach from every QEMU (they keep running) and free everything. */
void vms_free(struct vms *vms);

/* ---- used by vm_ops.c ---- */
struct vm *vms_find(const struct vms *vms, int64_t id);
/* A VM for a freshly defined spec, in state VM_DEFINED; NULL when out of memory. */
struct vm *vm_add(struct vms *vms, const struct vm_spec *spec, char bridges[][IFNAMSIZ]);
/* Remove a VM without QEMU: its spec file, run_dir, taps; frees vm. 0 or -1 with why. */
int vm_remove(struct vm *vm, char *why, size_t whylen) __attribute__((warn_unused_result));
/* Write the spec file atomically (tmp + fsync + rename). */
int vm_persist(const struct vm *vm, char *why, size_t whylen) __attribute__((warn_unused_result));
bool vm_has_qemu(const struct vm *vm);
const char *vm_state_name(enum vm_state state);

/* The long operations: each replies to cmd exactly once (cmd NULL: no reply, a restart). */
void vm_start(struct vm *vm, struct command *cmd);
void vm_stop(struct vm *vm, struct command *cmd);
void vm_shutdown(struct vm *vm, struct command *cmd, int timeout_sec);
/* Self-fencing (fence.c): SIGKILL its QEMU (the exit counts as a stop) and cancel a restart. */
void vm_kill_fenced(struct vm *vm);
/* QMP commands of a running VM: reset, pause, resume, media. */
void vm_qmp_simple(struct vm *vm, struct command *cmd, const char *what);
void vm_media(struct vm *vm, struct command *cmd);
void vm_block_resize(struct vm *vm, struct command *cmd, size_t disk, int64_t bytes);

/* Command handlers (vm_ops.c), named in the command table. */
void vm_cmd_define(struct command *cmd);
void vm_cmd_undefine(struct command *cmd);
void vm_cmd_start(struct command *cmd);
void vm_cmd_stop(struct command *cmd);
void vm_cmd_shutdown(struct command *cmd);
void vm_cmd_reset(struct command *cmd);
void vm_cmd_pause(struct command *cmd);
void vm_cmd_resume(struct command *cmd);
void vm_cmd_media(struct command *cmd);
void vm_cmd_disk_create(struct command *cmd);
void vm_cmd_disk_delete(struct command *cmd);
void vm_cmd_disk_grow(struct command *cmd);

/* Give up a start in progress (QEMU is killed; the waiter gets start_failed with why). */
void vm_start_failed(struct vm *vm, const char *why);

/* Live migration (vm_migrate.c): hooks called by vm.c ... */
/* Turn a normal command line into an incoming one: no -S, -incoming defer. 0 or -1. */
int vm_migrate_argv(char ***argv) __attribute__((warn_unused_result));
/* An incoming VM's vCPUs are pinned: listen for the migration stream, then reply. */
void vm_migrate_pinned(struct vm *vm);
/* Every QMP event of the VM (MIGRATION, RESUME ...). */
void vm_migrate_qmp_event(struct vm *vm, const char *name, const json_t *data);
/* QEMU is gone or the VM is freed: end the migration state (replying to a waiting command). */
void vm_migrate_release(struct vm *vm, const char *why);
/* ... and the command handlers. */
void vm_cmd_migrate_in(struct command *cmd);
void vm_cmd_migrate_out(struct command *cmd);
void vm_cmd_migrate_cancel(struct command *cmd);
void vm_cmd_migrate_status(struct command *cmd);
void vm_cmd_migrate_abort_in(struct command *cmd);
void vm_cmd_migrate_resume(struct command *cmd);

#endif
