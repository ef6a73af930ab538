/*
 * The QEMU command line of one VM, built from a validated struct vm_spec. This is the only place
 * that knows QEMU's option syntax; the device ids and block node names it chooses are exported
 * so that QMP commands (block_resize, blockdev-change-medium) address the same objects.
 */
#ifndef WEBRACK_QEMU_CMDLINE_H
#define WEBRACK_QEMU_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>

#include "vmspec.h"

/* qdev id of the IDE cdrom drive; it always exists (empty when the spec has no ISO). */
#define QEMU_CDROM_ID "cdrom0"

/* File names inside spec->run_dir. */
#define QEMU_QMP_SOCKET "qmp.sock"
#define QEMU_VNC_SOCKET "vnc.sock"
#define QEMU_PID_FILE	"qemu.pid"
#define QEMU_SERIAL_LOG "serial.log" /* the guest's serial console, with serial_log = on */

/* Node-wide choices that are not part of a VM's spec (agent settings). */
struct qemu_options {
	/*
	 * Every VM has one serial port (COM1, qdev id "serial0"), so the device set, and with it
	 * the migration stream, is the same whatever a node's setting: off connects it to a null
	 * backend, on appends what the guest writes to run_dir/serial.log.
	 */
	bool serial_log;
};

/*
 * A malloc'd, NULL-terminated argv for execv(), argv[0] = qemu_binary; NULL when out of memory.
 * opt may be NULL (every option off).
 * Free it with qemu_cmdline_free(). The process must be started with umask 077 (the QMP and VNC
 * sockets are created by QEMU and must end up 0600) and is never daemonized.
 */
char **qemu_cmdline(const struct vm_spec *spec, const char *qemu_binary,
		    const struct qemu_options *opt);
void qemu_cmdline_free(char **argv);

/*
 * Block node name of disk i ("disk0", ...): the qcow2 format node, the one block_resize grows.
 */
void qemu_disk_node_name(size_t i, char *buf, size_t len);

/*
 * Copy src into dst doubling every ',' (QEMU's option syntax: key=value,key=value). Returns false
 * when dst is too small.
 */
bool qemu_opt_escape(const char *src, char *dst, size_t dstlen);

#endif
