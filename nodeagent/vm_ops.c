/*
 * The handlers of the vm.* and disk.* rows of the command table. The link and commands.c have
 * already checked the message, the epoch and the arguments against the row's schema; here the
 * controller's view of a VM (storage + disk name, bridge, core numbers) is resolved into the
 * agent's own struct vm_spec (file paths, tap names, run_dir, accelerator) and validated again by
 * vmspec_from_json(), and the arguments are checked against this node (its storage, its
 * dedicated cores). Every handler replies exactly once, directly or through vm.c / storage.c.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "agent_settings.h"
#include "commands.h"
#include "inventory.h"
#include "log.h"
#include "storage.h"
#include "tap.h"
#include "vm.h"

#define GIB (1024LL * 1024 * 1024)

static struct vms *
vms_of(const struct command *cmd)
{
	return cmd->agent;
}

static int64_t
arg_int(const struct command *cmd, const char *key)
{
	return (int64_t)json_integer_value(json_object_get(cmd->args, key));
}

static const char *
arg_str(const struct command *cmd, const char *key)
{
	return json_string_value(json_object_get(cmd->args, key));
}

/* The VM named by args.id, or NULL after replying "not_defined". */
static struct vm *
find_or_reply(struct command *cmd)
{
	struct vm *vm = vms_find(vms_of(cmd), arg_int(cmd, "id"));

	if (vm == NULL)
		command_reply_error(cmd, "not_defined", "VM %lld is not defined on this node",
				    (long long)arg_int(cmd, "id"));
	return vm;
}

static bool
dedicated_core(const struct inventory *inv, json_int_t core)
{
	for (int i = 0; i < inv->cores.ndedicated; i++)
		if (inv->cores.dedicated[i] == core)
			return true;
	return false;
}

/*
 * The agent's spec JSON (vmspec.c's form) from vm.define's arguments; NULL with code/why.
 * Bridges are copied into bridges[].
 */
static json_t *
resolve_spec(const struct vms *vms, const json_t *args, char bridges[][IFNAMSIZ], const char **code,
	     char *why, size_t whylen)
{
	const struct agent_settings *s = vms->s;
	int64_t id = (int64_t)json_integer_value(json_object_get(args, "id"));
	json_t *disks = json_array(), *nics = json_array(), *v;
	char path[PATH_MAX], run_dir[PATH_MAX], tap[IFNAMSIZ];
	size_t i;

	*code = "invalid";
	if (disks == NULL || nics == NULL)
		goto fail;
	json_array_foreach (json_object_get(args, "cores"), i, v) {
		if (!dedicated_core(vms->inv, json_integer_value(v))) {
			snprintf(why, whylen, "core %lld is not a dedicated core of this node",
				 (long long)json_integer_value(v));
			goto fail;
		}
	}
	json_array_foreach (json_object_get(args, "disks"), i, v) {
		if (!storage_disk_path(s, json_string_value(json_object_get(v, "storage")),
				       json_string_value(json_object_get(v, "name")), path,
				       sizeof(path), code, why, whylen))
			goto fail;
		json_array_append_new(disks, json_pack("{s:s, s:O}", "path", path, "bus",
						       json_object_get(v, "bus")));
	}
	json_array_foreach (json_object_get(args, "nics"), i, v) {
		const char *bridge = json_string_value(json_object_get(v, "bridge"));
		if (!tap_name(id, i, tap, sizeof(tap))) {
			snprintf(why, whylen, "VM id %lld is too large for a tap name",
				 (long long)id);
			goto fail;
		}
		if (!tap_bridge_name_ok(bridge)) {
			snprintf(why, whylen, "nics[%zu].bridge is not a valid interface name", i);
			goto fail;
		}
		snprintf(bridges[i], IFNAMSIZ, "%s", bridge);
		json_array_append_new(nics,
				      json_pack("{s:O, s:s, s:O}", "mac", json_object_get(v, "mac"),
						"tap", tap, "model", json_object_get(v, "model")));
	}
	int n = snprintf(run_dir, sizeof(run_dir), "%s/vm-%lld", s->run_dir, (long long)id);
	if (n < 0 || n > VMSPEC_RUN_DIR_MAX) {
		snprintf(why, whylen, "run_dir %s/vm-ID is too long for a unix socket path",
			 s->run_dir);
		goto fail;
	}
	const json_t *iso = json_object_get(args, "iso");
	return json_pack("{s:I, s:O, s:O, s:O, s:O, s:s, s:s, s:o, s:o, s:s, s:O}", "id",
			 (json_int_t)id, "name", json_object_get(args, "name"), "uuid",
			 json_object_get(args, "uuid"), "cores", json_object_get(args, "cores"),
			 "ram_mb", json_object_get(args, "ram_mb"), "machine", "pc", "accel",
			 vms->inv->accel, "disks", disks, "nics", nics, "run_dir", run_dir, "iso",
			 iso != NULL ? iso : json_null());
fail:
	json_decref(disks);
	json_decref(nics);
	return NULL;
}

void
vm_cmd_define(struct command *cmd)
{
	struct vms *vms = vms_of(cmd);
	char bridges[VMSPEC_MAX_NICS][IFNAMSIZ] = {{0}};
	char why[512];
	const char *code = "invalid";
	struct vm_spec spec;
	json_t *obj = resolve_spec(vms, cmd->args, bridges, &code, why, sizeof(why));

	if (obj == NULL) {
		command_reply_error(cmd, code, "%s", why);
		return;
	}
	bool valid = vmspec_from_json(obj, &spec, why, sizeof(why));
	json_decref(obj);
	if (!valid) {
		command_reply_error(cmd, "invalid", "%s", why);
		return;
	}
	struct vm *vm = vms_find(vms, spec.id);
	if (vm == NULL) {
		vm = vm_add(vms, &spec, bridges);
		if (vm == NULL) {
			command_reply_error(cmd, "internal", "out of memory");
			return;
		}
		if (vm_persist(vm, why, sizeof(why)) != 0) {
			char ignored[256];
			if (vm_remove(vm, ignored, sizeof(ignored)) != 0)
				log_warn("%s", ignored);
			command_reply_error(cmd, "internal", "%s", why);
			return;
		}
		log_info("%s defined", vm->label);
		command_reply_ok(cmd, NULL);
		return;
	}
	/* Redefinition: the new spec applies from the next start; a running QEMU keeps vm->run. */
	struct vm_spec old = vm->spec;
	char old_bridges[VMSPEC_MAX_NICS][IFNAMSIZ];
	memcpy(old_bridges, vm->bridges, sizeof(old_bridges));
	vm->spec = spec;
	memcpy(vm->bridges, bridges, sizeof(vm->bridges));
	if (vm_persist(vm, why, sizeof(why)) != 0) {
		vm->spec = old;
		memcpy(vm->bridges, old_bridges, sizeof(old_bridges));
		command_reply_error(cmd, "internal", "%s", why);
		return;
	}
	log_info("%s redefined%s", vm->label,
		 vm_has_qemu(vm) ? " (applies at the next start)" : "");
	command_reply_ok(cmd, NULL);
}

void
vm_cmd_undefine(struct command *cmd)
{
	struct vm *vm = vms_find(vms_of(cmd), arg_int(cmd, "id"));
	char why[512];

	if (vm == NULL) {
		command_reply_ok(cmd, json_pack("{s:b}", "already", 1));
		return;
	}
	if (vm_has_qemu(vm)) {
		command_reply_error(cmd, "running", "stop VM %lld before undefining it",
				    (long long)vm->spec.id);
		return;
	}
	if (vm_remove(vm, why, sizeof(why)) != 0) {
		command_reply_error(cmd, "internal", "%s", why);
		return;
	}
	command_reply_ok(cmd, NULL);
}

void
vm_cmd_start(struct command *cmd)
{
	struct vm *vm = find_or_reply(cmd);

	if (vm != NULL)
		vm_start(vm, cmd);
}

void
vm_cmd_stop(struct command *cmd)
{
	struct vm *vm = vms_find(vms_of(cmd), arg_int(cmd, "id"));

	if (vm == NULL)
		command_reply_ok(cmd, json_pack("{s:b}", "already", 1));
	else
		vm_stop(vm, cmd);
}

void
vm_cmd_shutdown(struct command *cmd)
{
	struct vm *vm = vms_find(vms_of(cmd), arg_int(cmd, "id"));

	if (vm == NULL)
		command_reply_ok(cmd, json_pack("{s:b}", "already", 1));
	else
		vm_shutdown(vm, cmd, (int)arg_int(cmd, "timeout"));
}

void
vm_cmd_reset(struct command *cmd)
{
	struct vm *vm = find_or_reply(cmd);

	if (vm != NULL)
		vm_qmp_simple(vm, cmd, "reset");
}

void
vm_cmd_pause(struct command *cmd)
{
	struct vm *vm = find_or_reply(cmd);

	if (vm != NULL)
		vm_qmp_simple(vm, cmd, "pause");
}

void
vm_cmd_resume(struct command *cmd)
{
	struct vm *vm = find_or_reply(cmd);

	if (vm != NULL)
		vm_qmp_simple(vm, cmd, "resume");
}

void
vm_cmd_media(struct command *cmd)
{
	struct vm *vm = find_or_reply(cmd);
	const char *iso = arg_str(cmd, "iso");
	char why[256], old[sizeof(vm->spec.iso)];

	if (vm == NULL)
		return;
	if (iso != NULL && !vmspec_path_ok(iso, why, sizeof(why), "parameter 'iso'")) {
		command_reply_error(cmd, "invalid", "%s", why);
		return;
	}
	snprintf(old, sizeof(old), "%s", vm->spec.iso);
	snprintf(vm->spec.iso, sizeof(vm->spec.iso), "%s", iso != NULL ? iso : "");
	if (vm_persist(vm, why, sizeof(why)) != 0) {
		snprintf(vm->spec.iso, sizeof(vm->spec.iso), "%s", old);
		command_reply_error(cmd, "internal", "%s", why);
		return;
	}
	if (vm->state == VM_RUNNING || vm->state == VM_PAUSED)
		vm_media(vm, cmd);
	else
		command_reply_ok(cmd, json_pack("{s:b}", "next_start", 1));
}

/* ---- disks ---- */

static void
storage_done(const char *code, const char *message, void *arg)
{
	struct command *cmd = arg;

	if (code == NULL)
		command_reply_ok(cmd, NULL);
	else
		command_reply_error(cmd, code, "%s", message);
}

/* The VM whose running QEMU has path open, and which of its disks it is. */
static struct vm *
qemu_using(const struct vms *vms, const char *path, size_t *disk)
{
	for (struct vm *vm = vms->list; vm != NULL; vm = vm->next) {
		if (!vm_has_qemu(vm))
			continue;
		for (size_t i = 0; i < vm->run.ndisks; i++) {
			if (strcmp(vm->run.disks[i].path, path) == 0) {
				*disk = i;
				return vm;
			}
		}
	}
	return NULL;
}

void
vm_cmd_disk_create(struct command *cmd)
{
	struct vms *vms = vms_of(cmd);

	storage_create(vms->base, vms->s, arg_str(cmd, "storage"), arg_str(cmd, "name"),
		       arg_int(cmd, "size_gb"), arg_str(cmd, "backing"), storage_done, cmd);
}

void
vm_cmd_disk_delete(struct command *cmd)
{
	struct vms *vms = vms_of(cmd);
	char path[PATH_MAX], why[256];
	const char *code;
	size_t disk;
	struct vm *vm;

	if (!storage_disk_path(vms->s, arg_str(cmd, "storage"), arg_str(cmd, "name"), path,
			       sizeof(path), &code, why, sizeof(why))) {
		command_reply_error(cmd, code, "%s", why);
		return;
	}
	if ((vm = qemu_using(vms, path, &disk)) != NULL) {
		command_reply_error(cmd, "in_use", "disk %s is in use by running %s",
				    arg_str(cmd, "name"), vm->label);
		return;
	}
	storage_delete(vms->s, arg_str(cmd, "storage"), arg_str(cmd, "name"), storage_done, cmd);
}

void
vm_cmd_disk_grow(struct command *cmd)
{
	struct vms *vms = vms_of(cmd);
	char path[PATH_MAX], why[PATH_MAX + 64];
	const char *code;
	int64_t gb = arg_int(cmd, "size_gb");
	uint64_t have;
	size_t disk;
	struct vm *vm;

	if (!storage_disk_path(vms->s, arg_str(cmd, "storage"), arg_str(cmd, "name"), path,
			       sizeof(path), &code, why, sizeof(why))) {
		command_reply_error(cmd, code, "%s", why);
		return;
	}
	if ((vm = qemu_using(vms, path, &disk)) == NULL) {
		storage_grow(vms->base, vms->s, arg_str(cmd, "storage"), arg_str(cmd, "name"), gb,
			     storage_done, cmd);
		return;
	}
	/* Online: QEMU grows the image itself (block_resize); qemu-img must not touch it. */
	if (storage_qcow2_size(path, &have, why, sizeof(why)) != 0) {
		command_reply_error(cmd, "invalid", "%s", why);
		return;
	}
	if (have > (uint64_t)gb * GIB) {
		command_reply_error(cmd, "shrink",
				    "disk %s is larger than %lld GiB; disks only grow",
				    arg_str(cmd, "name"), (long long)gb);
		return;
	}
	if (have == (uint64_t)gb * GIB) {
		command_reply_ok(cmd, NULL);
		return;
	}
	vm_block_resize(vm, cmd, disk, gb * GIB);
}
