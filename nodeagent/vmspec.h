/*
 * The node agent's description of one virtual machine: everything needed to build its QEMU
 * command line, with names already resolved to local paths and tap devices. The controller sends
 * it with vm.define; the agent validates it here (strictly: it comes from the network and parts
 * of it from tenants) and persists it as state_dir/vms/ID.json so a restarted agent knows its VMs.
 */
#ifndef WEBRACK_VMSPEC_H
#define WEBRACK_VMSPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define VMSPEC_MAX_VCPUS 64
#define VMSPEC_MAX_DISKS 8
#define VMSPEC_MAX_NICS	 4
#define VMSPEC_NAME_MAX	 63
#define VMSPEC_PATH_MAX	 1023
#define VMSPEC_TAP_MAX	 15 /* IFNAMSIZ - 1 */
/*
 * run_dir holds the QMP and VNC unix sockets, and sun_path is 108 bytes: "/qmp.sock" and
 * "/vnc.sock" plus the terminating NUL must still fit.
 */
#define VMSPEC_RUN_DIR_MAX (108 - 10)
#define VMSPEC_MIN_RAM_MB  16
#define VMSPEC_MAX_RAM_MB  (4LL * 1024 * 1024)

enum vm_accel {
	VM_ACCEL_KVM,
	VM_ACCEL_TCG,
};

enum vm_machine {
	VM_MACHINE_PC, /* i440fx: the default, IDE cdrom on the PIIX controller */
	VM_MACHINE_Q35,
};

enum vm_disk_bus {
	VM_DISK_VIRTIO,
};

enum vm_nic_model {
	VM_NIC_VIRTIO,
	VM_NIC_E1000,
};

struct vm_disk {
	char path[VMSPEC_PATH_MAX + 1]; /* a qcow2 file */
	enum vm_disk_bus bus;
};

struct vm_nic {
	char mac[18]; /* 52:54:00:xx:xx:xx, lower case */
	char tap[VMSPEC_TAP_MAX + 1];
	enum vm_nic_model model;
};

/* Plain value: no pointers, copy it with '='. */
struct vm_spec {
	int64_t id;
	char name[VMSPEC_NAME_MAX + 1];
	char uuid[37]; /* lower case */
	unsigned int vcpus;
	int cores[VMSPEC_MAX_VCPUS]; /* cores[i] = the dedicated host core of vCPU i */
	int64_t ram_mb;
	enum vm_machine machine;
	enum vm_accel accel;
	size_t ndisks;
	struct vm_disk disks[VMSPEC_MAX_DISKS];
	size_t nnics;
	struct vm_nic nics[VMSPEC_MAX_NICS];
	char iso[VMSPEC_PATH_MAX + 1]; /* "" = empty cdrom drive */
	char run_dir[VMSPEC_RUN_DIR_MAX + 1];
};

/*
 * Fill *spec from a JSON object, refusing anything not exactly as documented in vmspec.c.
 * On failure *spec is undefined and why names the offending field.
 */
bool vmspec_from_json(const json_t *obj, struct vm_spec *spec, char *why, size_t whylen)
	__attribute__((warn_unused_result));

/* The JSON form read by vmspec_from_json (new reference, NULL only when out of memory). */
json_t *vmspec_to_json(const struct vm_spec *spec);

/* Checks shared with other modules (e.g. the ISO path of vm.media). */
bool vmspec_path_ok(const char *path, char *why, size_t whylen, const char *what)
	__attribute__((warn_unused_result));
bool vmspec_mac_ok(const char *mac);
bool vmspec_tap_ok(const char *tap);
bool vmspec_name_ok(const char *name);

const char *vmspec_accel_name(enum vm_accel accel);
const char *vmspec_nic_model_name(enum vm_nic_model model);

#endif
