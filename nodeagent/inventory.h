/*
 * What a node offers: online cores split into housekeeping and dedicated ones, RAM, bridges,
 * storage free space, the QEMU version, whether KVM works and which accelerator guests get. The
 * slow or risky probes (running QEMU, opening /dev/kvm) happen once at start; the cheap ones
 * (bridges, free space) again for every hello. The parsers are separate functions so that unit
 * tests can feed them text.
 */
#ifndef WEBRACK_INVENTORY_H
#define WEBRACK_INVENTORY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define INVENTORY_MAX_CPUS   4096
#define INVENTORY_CPU_ONLINE "/sys/devices/system/cpu/online"
#define INVENTORY_MEMINFO    "/proc/meminfo"
#define INVENTORY_SYS_NET    "/sys/class/net"
#define INVENTORY_KVM_DEV    "/dev/kvm"

struct agent_settings;

struct inventory_cores {
	int online_count;
	bool online[INVENTORY_MAX_CPUS];
	int nhousekeeping, ndedicated;
	int housekeeping[INVENTORY_MAX_CPUS]; /* ascending */
	int dedicated[INVENTORY_MAX_CPUS];    /* ascending */
};

struct inventory {
	struct inventory_cores cores;
	long long ram_total_mb;
	long long ram_guest_mb; /* total minus reserve_ram_mb, never below 0 */
	char qemu_version[65];	/* "" when QEMU did not answer */
	bool kvm;		/* /dev/kvm opens and answers KVM_GET_API_VERSION */
	const char *accel;	/* "kvm" or "tcg": what guests will run with */
};

/*
 * Parse a CPU list such as "0-3,8,10-11" (the sysfs format, trailing newline allowed) into set[].
 * A core listed twice, a reversed range, a number >= INVENTORY_MAX_CPUS or an empty list is an
 * error naming the offending part.
 */
bool inventory_parse_cpulist(const char *text, bool set[INVENTORY_MAX_CPUS], int *count, char *why,
			     size_t whylen) __attribute__((warn_unused_result));

/* Online cores from path (INVENTORY_CPU_ONLINE), or 0..sysconf(_SC_NPROCESSORS_ONLN)-1. */
bool inventory_online_cores(const char *path, struct inventory_cores *c, char *why, size_t whylen)
	__attribute__((warn_unused_result));

/*
 * Fill c's housekeeping and dedicated lists from the configured texts (dedicated NULL: every
 * online core that is not housekeeping). Both must be non-empty, disjoint and online.
 */
bool inventory_core_split(struct inventory_cores *c, const char *housekeeping,
			  const char *dedicated, char *why, size_t whylen)
	__attribute__((warn_unused_result));

/* MemTotal of /proc/meminfo text, in MiB. */
bool inventory_parse_meminfo(const char *text, long long *total_mb)
	__attribute__((warn_unused_result));

/* "7.2.11" out of "QEMU emulator version 7.2.11 (Debian ...)". */
bool inventory_parse_qemu_version(const char *text, char *version, size_t len)
	__attribute__((warn_unused_result));

/* Run "binary --version" (fork/exec, no shell) and parse it; killed after timeout_ms. */
bool inventory_qemu_version(const char *binary, int timeout_ms, char *version, size_t len,
			    char *why, size_t whylen) __attribute__((warn_unused_result));

/* Whether dev (INVENTORY_KVM_DEV) opens and answers KVM_GET_API_VERSION with the known version. */
bool inventory_kvm_usable(const char *dev, char *why, size_t whylen)
	__attribute__((warn_unused_result));

/* Names of the bridges under sys_net (INVENTORY_SYS_NET), sorted; a JSON array of strings. */
json_t *inventory_bridges(const char *sys_net);

/*
 * The start-up probes: cores, RAM, QEMU, KVM and the accelerator. accel = kvm without a usable
 * /dev/kvm is an error (a production node must not quietly fall back to emulation).
 */
bool inventory_collect(struct inventory *inv, const struct agent_settings *s, char *why,
		       size_t whylen) __attribute__((warn_unused_result));

/* The hello's "inventory" object, with bridges and free space read now. */
json_t *inventory_to_json(const struct inventory *inv, const struct agent_settings *s);

#endif
