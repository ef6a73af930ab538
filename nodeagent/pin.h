/*
 * CPU placement of a VM's QEMU: each vCPU thread on its own dedicated core, every other thread
 * (main loop, IO, workers) on the node's housekeeping cores, and, where cgroup v2 is writable,
 * the whole process in webrack.slice/vm-ID with cpuset.cpus and memory.max.
 *
 * Order matters: cgroup_vm_setup() first (a cpuset change may reset thread affinities, and
 * sched_setaffinity() to a core outside the cgroup's cpuset fails), then pin_others(), then
 * pin_thread() for each vCPU, then QMP "cont".
 */
#ifndef WEBRACK_PIN_H
#define WEBRACK_PIN_H

#include <sched.h> /* cpu_set_t: needs _GNU_SOURCE, which config.h defines */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Pin one thread (any process's) to one core. 0 or -1 (logged). */
int pin_thread(pid_t tid, int core) __attribute__((warn_unused_result));

/*
 * Put every thread of process pid that is not in vcpu_tids on the housekeeping set. Threads that
 * exit meanwhile are skipped. Returns the number of threads moved, -1 on error (logged).
 */
int pin_others(pid_t pid, const pid_t *vcpu_tids, size_t n, const cpu_set_t *housekeeping)
	__attribute__((warn_unused_result));

/* Cpus_allowed_list of /proc/PID/task/TID/status ("0-3,8"). 0 or -1. */
int pin_read_allowed(pid_t pid, pid_t tid, char *buf, size_t len)
	__attribute__((warn_unused_result));

/* "0-3,8" <-> cpu_set_t. parse refuses empty lists, spaces, reversed ranges, cores >= CPU_SETSIZE.
 */
bool cpuset_parse(const char *text, cpu_set_t *set) __attribute__((warn_unused_result));
/* Returns false when buf is too small. An empty set formats as "". */
bool cpuset_format(const cpu_set_t *set, char *buf, size_t len);

enum cgroup_status {
	CGROUP_ERROR = -1, /* cgroup v2 is there and writable, but a step failed (logged) */
	CGROUP_OK = 0,
	CGROUP_NOT_WRITABLE = 1, /* no cgroup v2 with cpuset+memory here, or read-only: skip */
};

#define CGROUP_ROOT  "/sys/fs/cgroup"
#define CGROUP_SLICE "webrack.slice"

/*
 * Create ROOT/webrack.slice/vm-ID (enabling the cpuset and memory controllers on the way down),
 * write cpuset.cpus (the VM's dedicated cores plus the housekeeping cores its other threads use),
 * memory.max (bytes, 0 = "max") and move pid into it.
 */
enum cgroup_status cgroup_vm_setup(int64_t vm_id, const cpu_set_t *cpus, int64_t mem_max_bytes,
				   pid_t pid) __attribute__((warn_unused_result));
/* Remove the VM's cgroup (its processes must have exited). Missing = success. */
enum cgroup_status cgroup_vm_remove(int64_t vm_id);

/* The same under another cgroup v2 mount point (tests). */
enum cgroup_status cgroup_vm_setup_at(const char *root, int64_t vm_id, const cpu_set_t *cpus,
				      int64_t mem_max_bytes, pid_t pid)
	__attribute__((warn_unused_result));
enum cgroup_status cgroup_vm_remove_at(const char *root, int64_t vm_id);

#endif
