/*
 * Building QEMU's argv. Choices and why:
 * - -nodefaults -no-user-config: only the devices listed here exist, nothing from /etc/qemu.
 * - -S: vCPUs start paused so the agent can read their thread ids (query-cpus-fast), pin them to
 *   their dedicated cores and only then send "cont".
 * - -sandbox with every deny: QEMU may not spawn, elevate or change scheduling itself; the agent
 *   does the pinning from outside.
 * - QMP and VNC on unix sockets only; no network backend but the tenant's taps (script=no).
 * - disks as -blockdev (file node "diskN-file" + qcow2 node "diskN"): a filename given to
 *   driver=file is a file name and nothing else, unlike -drive file= which would interpret
 *   protocol prefixes and json: pseudo-filenames. The stable node names let block_resize find
 *   the disk.
 * - an IDE cdrom that always exists (IDE is not hot-pluggable), so an ISO can be inserted and
 *   ejected while the VM runs.
 * - under TCG the RAM is 8 KiB larger than ram_mb (-m in KiB): QEMU before 9.0 loses guest
 *   writes during a live migration under TCG. Its dirty-bitmap sync takes a fast path for a RAM
 *   block whose size is a multiple of 64 pages, and that path forgets to re-arm the vCPUs' TLB
 *   dirty tracking (upstream 03bfc2188f, "physmem: Fix migration dirty bitmap coherency with TCG
 *   memory access", not in Debian's 7.2): a store through a TLB entry the vCPU still holds is
 *   not recorded, the page is not sent again, and the target runs the guest with stale pages (a
 *   guest kernel oops in its timers, a reboot with panic=-1, or a hang). A size that is not a
 *   multiple of 256 KiB makes QEMU take the per-page path, which re-arms the TLB. KVM tracks
 *   dirty pages itself and gets ram_mb exactly. docs/ARCHITECTURE.md, "Live migration".
 * - one serial port (COM1) that always exists, on a null backend or, with the agent's
 *   serial_log = on, appended to run_dir/serial.log (a debugging aid: QEMU's file backend has no
 *   size bound). The device does not depend on the setting: source and target of a migration
 *   must have the same devices, and two nodes may be configured differently.
 * Escaping: values inside a key=value,... option have ',' doubled (qemu_opt_escape). Options whose
 * argument is a plain string (-pidfile, -uuid) are passed verbatim: doubling there would change
 * the value. Tenant input reaches only the name (already restricted to [A-Za-z0-9._-]) and the
 * file paths, which the golden tests exercise with commas.
 */
#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu_cmdline.h"

/* Extra RAM under TCG, so that its size is not a multiple of 64 pages (see above). */
#define TCG_RAM_PAD_KIB 8

/* The largest escaped value: every byte a ','. */
#define ESC_MAX (2 * VMSPEC_PATH_MAX + 1)

/* The argv under construction; "failed" makes every later add a no-op (one check at the end). */
struct argv_builder {
	char **v;
	size_t n, cap;
	bool failed;
};

static void add(struct argv_builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
add(struct argv_builder *b, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (b->failed)
		return;
	if (b->n + 2 > b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 64;
		char **v = realloc(b->v, cap * sizeof(*v));
		if (v == NULL) {
			b->failed = true;
			return;
		}
		b->v = v;
		b->cap = cap;
	}
	va_start(ap, fmt);
	int r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0) {
		b->failed = true;
		return;
	}
	b->v[b->n++] = s;
	b->v[b->n] = NULL;
}

bool
qemu_opt_escape(const char *src, char *dst, size_t dstlen)
{
	size_t j = 0;

	for (size_t i = 0; src[i] != '\0'; i++) {
		size_t need = src[i] == ',' ? 2 : 1;
		if (j + need >= dstlen)
			return false;
		dst[j++] = src[i];
		if (src[i] == ',')
			dst[j++] = ',';
	}
	if (j >= dstlen)
		return false;
	dst[j] = '\0';
	return true;
}

/* Escape into buf or mark the build failed (cannot happen for validated specs). */
static const char *
esc(struct argv_builder *b, const char *src, char *buf)
{
	if (!qemu_opt_escape(src, buf, ESC_MAX)) {
		b->failed = true;
		return "";
	}
	return buf;
}

void
qemu_disk_node_name(size_t i, char *buf, size_t len)
{
	snprintf(buf, len, "disk%zu", i);
}

static void
add_disks(struct argv_builder *b, const struct vm_spec *spec, unsigned int first_bootindex)
{
	char e[ESC_MAX];
	char node[32];

	for (size_t i = 0; i < spec->ndisks; i++) {
		qemu_disk_node_name(i, node, sizeof(node));
		add(b, "-blockdev");
		add(b, "driver=file,node-name=%s-file,filename=%s,discard=unmap", node,
		    esc(b, spec->disks[i].path, e));
		add(b, "-blockdev");
		add(b, "driver=qcow2,node-name=%s,file=%s-file,discard=unmap", node, node);
		add(b, "-device");
		/* VM_DISK_VIRTIO is the only bus so far. */
		add(b, "virtio-blk-pci,id=virtio-%s,drive=%s,bootindex=%zu", node, node,
		    first_bootindex + i);
	}
}

static void
add_cdrom(struct argv_builder *b, const struct vm_spec *spec)
{
	char e[ESC_MAX];

	/* ide.1 unit 0: the secondary master on pc's PIIX, AHCI port 1 on q35. */
	if (spec->iso[0] == '\0') {
		add(b, "-device");
		add(b, "ide-cd,id=" QEMU_CDROM_ID ",bus=ide.1,unit=0");
		return;
	}
	add(b, "-blockdev");
	add(b, "driver=file,node-name=cd0-file,filename=%s,read-only=on", esc(b, spec->iso, e));
	add(b, "-blockdev");
	add(b, "driver=raw,node-name=cd0,file=cd0-file,read-only=on");
	add(b, "-device");
	add(b, "ide-cd,id=" QEMU_CDROM_ID ",drive=cd0,bus=ide.1,unit=0,bootindex=0");
}

static void
add_nics(struct argv_builder *b, const struct vm_spec *spec)
{
	static const char *const device[] = {
		[VM_NIC_VIRTIO] = "virtio-net-pci",
		[VM_NIC_E1000] = "e1000",
	};
	char e[ESC_MAX];

	for (size_t i = 0; i < spec->nnics; i++) {
		const struct vm_nic *nic = &spec->nics[i];
		add(b, "-netdev");
		add(b, "tap,id=net%zu,ifname=%s,script=no,downscript=no", i, esc(b, nic->tap, e));
		add(b, "-device");
		add(b, "%s,id=nic%zu,netdev=net%zu,mac=%s", device[nic->model], i, i,
		    esc(b, nic->mac, e));
	}
}

static void
add_serial(struct argv_builder *b, const struct vm_spec *spec, const struct qemu_options *opt)
{
	char e[ESC_MAX];

	add(b, "-chardev");
	if (opt != NULL && opt->serial_log)
		add(b, "file,id=serial0,path=%s/" QEMU_SERIAL_LOG ",append=on",
		    esc(b, spec->run_dir, e));
	else
		add(b, "null,id=serial0");
	add(b, "-device");
	add(b, "isa-serial,id=serial0,chardev=serial0");
}

char **
qemu_cmdline(const struct vm_spec *spec, const char *qemu_binary, const struct qemu_options *opt)
{
	struct argv_builder b = {0};
	char e[ESC_MAX];

	add(&b, "%s", qemu_binary);
	add(&b, "-name");
	add(&b, "guest=%s,debug-threads=on", esc(&b, spec->name, e));
	add(&b, "-uuid");
	add(&b, "%s", spec->uuid);
	add(&b, "-nodefaults");
	add(&b, "-no-user-config");
	add(&b, "-machine");
	add(&b, "%s,accel=%s", spec->machine == VM_MACHINE_Q35 ? "q35" : "pc",
	    vmspec_accel_name(spec->accel));
	add(&b, "-cpu");
	add(&b, "%s", spec->accel == VM_ACCEL_KVM ? "host" : "max");
	add(&b, "-smp");
	add(&b, "%u", spec->vcpus);
	add(&b, "-m");
	if (spec->accel == VM_ACCEL_TCG)
		add(&b, "%lldK", (long long)spec->ram_mb * 1024 + TCG_RAM_PAD_KIB);
	else
		add(&b, "%lld", (long long)spec->ram_mb);
	add(&b, "-S");
	add(&b, "-sandbox");
	add(&b, "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
	add(&b, "-chardev");
	add(&b, "socket,id=qmp,path=%s/" QEMU_QMP_SOCKET ",server=on,wait=off",
	    esc(&b, spec->run_dir, e));
	add(&b, "-mon");
	add(&b, "chardev=qmp,mode=control");
	add(&b, "-vnc");
	add(&b, "unix:%s/" QEMU_VNC_SOCKET, esc(&b, spec->run_dir, e));
	add(&b, "-pidfile");
	add(&b, "%s/" QEMU_PID_FILE, spec->run_dir);
	add(&b, "-display");
	add(&b, "none");
	add(&b, "-device");
	add(&b, "VGA,id=video0");
	add_serial(&b, spec, opt);
	add_cdrom(&b, spec);
	add_disks(&b, spec, spec->iso[0] != '\0' ? 1 : 0);
	add_nics(&b, spec);

	if (b.failed) {
		qemu_cmdline_free(b.v);
		return NULL;
	}
	return b.v;
}

void
qemu_cmdline_free(char **argv)
{
	if (argv == NULL)
		return;
	for (char **p = argv; *p != NULL; p++)
		free(*p);
	free(argv);
}
