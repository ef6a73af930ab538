/*
 * Command dispatch. The table is the one place that lists what the agent can do; the QEMU driver
 * fills in the handlers of the vm.* and disk.* rows. Every path through commands_dispatch() ends
 * in exactly one reply, so the controller's task never waits for an answer that cannot come.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "console.h"
#include "link.h"
#include "log.h"
#include "storage.h"
#include "vm.h"
#include "vmspec.h"

static void
cmd_node_ping(struct command *cmd)
{
	command_reply_ok(cmd, json_pack("{s:b}", "pong", 1));
}

static const struct param no_args[] = {PARAM_END};

/*
 * Argument schemas: sizes and types only; what needs this node's view (storage names, dedicated
 * cores, paths) is checked by the handlers in vm_ops.c.
 */
static const char *const bus_names[] = {"virtio", NULL};
static const char *const nic_models[] = {"virtio", "e1000", NULL};

static const struct param define_disk[] = {
	{"storage", PARAM_STRING, true, false, 1, PROTO_NAME_MAX, NULL, "storage name"},
	{"name", PARAM_STRING, true, false, 1, STORAGE_NAME_MAX, NULL, "disk name"},
	{"bus", PARAM_ENUM, true, false, 0, 0, bus_names, "disk bus"},
	PARAM_END,
};

static const struct param define_nic[] = {
	{"mac", PARAM_STRING, true, false, 17, 17, NULL, "52:54:00:xx:xx:xx"},
	{"bridge", PARAM_STRING, true, false, 1, VMSPEC_TAP_MAX, NULL, "bridge on this node"},
	{"model", PARAM_ENUM, true, false, 0, 0, nic_models, "virtio or e1000"},
	PARAM_END,
};

static const struct param define_args[] = {
	{"id", PARAM_INT, true, false, 1, INT64_MAX, NULL, "vServer id"},
	{"name", PARAM_STRING, true, false, 1, VMSPEC_NAME_MAX, NULL, "guest name"},
	{"uuid", PARAM_STRING, true, false, 36, 36, NULL, "SMBIOS UUID"},
	{"cores", PARAM_INTLIST, true, false, 1, VMSPEC_MAX_VCPUS, NULL, "host core per vCPU"},
	{"ram_mb", PARAM_INT, true, false, VMSPEC_MIN_RAM_MB, VMSPEC_MAX_RAM_MB, NULL, "RAM"},
	{"disks", PARAM_ARRAY, true, false, 0, VMSPEC_MAX_DISKS, NULL, "disks", define_disk},
	{"nics", PARAM_ARRAY, true, false, 0, VMSPEC_MAX_NICS, NULL, "NICs", define_nic},
	{"iso", PARAM_STRING, false, true, 2, VMSPEC_PATH_MAX, NULL, "ISO path or null"},
	PARAM_END,
};

static const struct param id_args[] = {
	{"id", PARAM_INT, true, false, 1, INT64_MAX, NULL, "vServer id"},
	PARAM_END,
};

static const struct param shutdown_args[] = {
	{"id", PARAM_INT, true, false, 1, INT64_MAX, NULL, "vServer id"},
	{"timeout", PARAM_INT, true, false, 1, 3600, NULL, "seconds to wait for the guest"},
	PARAM_END,
};

static const struct param media_args[] = {
	{"id", PARAM_INT, true, false, 1, INT64_MAX, NULL, "vServer id"},
	{"iso", PARAM_STRING, true, true, 2, VMSPEC_PATH_MAX, NULL, "ISO path, null ejects"},
	PARAM_END,
};

static const struct param disk_create_args[] = {
	{"storage", PARAM_STRING, true, false, 1, PROTO_NAME_MAX, NULL, "storage name"},
	{"name", PARAM_STRING, true, false, 1, STORAGE_NAME_MAX, NULL, "disk name"},
	{"size_gb", PARAM_INT, true, false, 1, STORAGE_MAX_GB, NULL, "virtual size in GiB"},
	{"backing", PARAM_STRING, false, false, 1, STORAGE_NAME_MAX, NULL, "backing image name"},
	PARAM_END,
};

static const struct param disk_args[] = {
	{"storage", PARAM_STRING, true, false, 1, PROTO_NAME_MAX, NULL, "storage name"},
	{"name", PARAM_STRING, true, false, 1, STORAGE_NAME_MAX, NULL, "disk name"},
	PARAM_END,
};

static const struct param disk_grow_args[] = {
	{"storage", PARAM_STRING, true, false, 1, PROTO_NAME_MAX, NULL, "storage name"},
	{"name", PARAM_STRING, true, false, 1, STORAGE_NAME_MAX, NULL, "disk name"},
	{"size_gb", PARAM_INT, true, false, 1, STORAGE_MAX_GB, NULL, "new virtual size in GiB"},
	PARAM_END,
};

static const struct param console_allow_args[] = {
	{"vm", PARAM_INT, true, false, 1, INT64_MAX, NULL, "vServer id"},
	{"token_hash", PARAM_STRING, true, false, 64, 64, NULL, "SHA-256 of the token, hex"},
	{"expires_in", PARAM_INT, true, false, 1, 60, NULL, "seconds the token stays valid"},
	PARAM_END,
};

static const struct param migrate_in_args[] = {
	{"id", PARAM_INT, true, false, 1, INT64_MAX, NULL, "vServer id"},
	{"postcopy", PARAM_BOOL, true, false, 0, 0, NULL, "allow a switch to post-copy"},
	{"tls_psk", PARAM_STRING, false, false, 64, 64, NULL,
	 "hex key: the stream over TLS (tls-creds-psk), the same key on both sides"},
	PARAM_END,
};

static const struct param migrate_out_args[] = {
	{"id", PARAM_INT, true, false, 1, INT64_MAX, NULL, "vServer id"},
	{"uri", PARAM_STRING, true, false, 8, 150, NULL, "tcp:HOST:PORT from vm.migrate-in"},
	{"downtime_ms", PARAM_INT, true, false, 1, 60000, NULL, "downtime limit"},
	{"bandwidth_mbps", PARAM_INT, true, false, 0, 1000000, NULL, "Mbit/s, 0 = unlimited"},
	{"auto_converge", PARAM_BOOL, true, false, 0, 0, NULL, "throttle a busy guest"},
	{"postcopy", PARAM_BOOL, true, false, 0, 0, NULL, "switch to post-copy at the bound"},
	{"converge_seconds", PARAM_INT, true, false, 0, 86400, NULL,
	 "bound for the pre-copy phase, 0 = none"},
	{"tls_psk", PARAM_STRING, false, false, 64, 64, NULL,
	 "hex key: the stream over TLS (tls-creds-psk), the same key on both sides"},
	PARAM_END,
};

static const struct param migrate_status_args[] = {
	{"id", PARAM_INT, true, false, 1, INT64_MAX, NULL, "vServer id"},
	{"wait", PARAM_INT, false, false, 0, 60, NULL,
	 "target: answer once the incoming guest runs or its QEMU is gone, at most this long"},
	PARAM_END,
};

static const struct param migrate_cancel_args[] = {
	{"id", PARAM_INT, true, false, 1, INT64_MAX, NULL, "vServer id"},
	{"reason", PARAM_STRING, false, false, 1, 200, NULL, "why (in the task's info)"},
	PARAM_END,
};

/* Rows with a NULL handler are known ops the agent cannot run yet: "unsupported". */
const struct command_entry command_table[] = {
	{"node.ping", cmd_node_ping, no_args, "answers {\"pong\":true}"},
	{"vm.define", vm_cmd_define, define_args, "VM spec: store state_dir/vms/ID.json"},
	{"vm.start", vm_cmd_start, id_args, "start the VM's QEMU, pin, cont"},
	{"vm.shutdown", vm_cmd_shutdown, shutdown_args, "ACPI shutdown {timeout}"},
	{"vm.stop", vm_cmd_stop, id_args, "hard stop"},
	{"vm.reset", vm_cmd_reset, id_args, "hard reset"},
	{"vm.pause", vm_cmd_pause, id_args, "pause the vCPUs"},
	{"vm.resume", vm_cmd_resume, id_args, "resume the vCPUs"},
	{"vm.undefine", vm_cmd_undefine, id_args, "forget a stopped VM"},
	{"vm.media", vm_cmd_media, media_args, "{id, iso or null}"},
	{"vm.migrate-in", vm_cmd_migrate_in, migrate_in_args,
	 "start QEMU -incoming defer, pin, listen; replies {uri}"},
	{"vm.migrate-out", vm_cmd_migrate_out, migrate_out_args,
	 "migrate to uri; replies when it ended"},
	{"vm.migrate-cancel", vm_cmd_migrate_cancel, migrate_cancel_args,
	 "cancel an outgoing migration"},
	{"vm.migrate-status", vm_cmd_migrate_status, migrate_status_args, "query-migrate"},
	{"vm.migrate-abort-in", vm_cmd_migrate_abort_in, id_args,
	 "end an incoming QEMU that never ran the guest (error \"running\" if it did)"},
	{"vm.migrate-resume", vm_cmd_migrate_resume, id_args,
	 "cont a source whose completed migration the target never ran, then announce-self"},
	{"disk.create", vm_cmd_disk_create, disk_create_args, "{storage, name, size_gb, backing?}"},
	{"disk.delete", vm_cmd_disk_delete, disk_args, "{storage, name}"},
	{"disk.grow", vm_cmd_disk_grow, disk_grow_args, "{storage, name, size_gb}"},
	{"console.allow", console_cmd_allow, console_allow_args,
	 "{vm, token_hash, expires_in}: one console connection to the VM's VNC"},
	{NULL, NULL, NULL, NULL},
};

static const struct command_entry *
find_entry(const char *op)
{
	for (const struct command_entry *e = command_table; e->op != NULL; e++)
		if (strcmp(e->op, op) == 0)
			return e;
	return NULL;
}

static void
command_free(struct command *cmd)
{
	json_decref(cmd->args);
	free(cmd);
}

void
command_reply_ok(struct command *cmd, json_t *result)
{
	if (result == NULL)
		result = json_object();
	log_debug("command %lld (%s, task %lld): ok", (long long)cmd->id, cmd->op,
		  (long long)cmd->task);
	link_send_reply(cmd->link, cmd->generation, cmd->id, result, NULL, NULL);
	command_free(cmd);
}

void
command_reply_error(struct command *cmd, const char *code, const char *fmt, ...)
{
	char message[PROTO_MESSAGE_MAX + 1];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	log_info("command %lld (%s, task %lld) failed: %s: %s", (long long)cmd->id, cmd->op,
		 (long long)cmd->task, code, message);
	link_send_reply(cmd->link, cmd->generation, cmd->id, NULL, code, message);
	command_free(cmd);
}

void
commands_dispatch(struct link *link, unsigned generation, const json_t *msg, void *agent)
{
	struct command *cmd = calloc(1, sizeof(*cmd));
	const json_t *task = json_object_get(msg, "task");
	char why[256];

	if (cmd == NULL) {
		link_send_reply(link, generation, json_integer_value(json_object_get(msg, "id")),
				NULL, "internal", "out of memory");
		return;
	}
	cmd->link = link;
	cmd->generation = generation;
	cmd->agent = agent;
	cmd->id = json_integer_value(json_object_get(msg, "id"));
	cmd->task = json_is_integer(task) ? json_integer_value(task) : 0;
	cmd->epoch = json_integer_value(json_object_get(msg, "epoch"));
	snprintf(cmd->op, sizeof(cmd->op), "%s", json_string_value(json_object_get(msg, "op")));
	cmd->args = json_incref(json_object_get(msg, "args"));

	const struct command_entry *e = find_entry(cmd->op);
	if (e == NULL || e->handler == NULL) {
		command_reply_error(cmd, "unsupported", "this agent does not support op '%s'",
				    cmd->op);
		return;
	}
	if (e->args != NULL && !schema_check(e->args, cmd->args, why, sizeof(why))) {
		command_reply_error(cmd, "invalid", "%s", why);
		return;
	}
	log_debug("command %lld (%s, task %lld, epoch %lld)", (long long)cmd->id, cmd->op,
		  (long long)cmd->task, (long long)cmd->epoch);
	e->handler(cmd);
}
