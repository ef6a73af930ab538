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
#include "link.h"
#include "log.h"

static void
cmd_node_ping(struct command *cmd)
{
	command_reply_ok(cmd, json_pack("{s:b}", "pong", 1));
}

static const struct param no_args[] = {PARAM_END};

/* Rows with a NULL handler are known ops the agent cannot run yet: "unsupported". */
const struct command_entry command_table[] = {
	{"node.ping", cmd_node_ping, no_args, "answers {\"pong\":true}"},
	{"vm.define", NULL, NULL, "VM spec: store state_dir/vms/ID.json"},
	{"vm.start", NULL, NULL, "start the VM's QEMU, pin, cont"},
	{"vm.shutdown", NULL, NULL, "ACPI shutdown {timeout}"},
	{"vm.stop", NULL, NULL, "hard stop"},
	{"vm.reset", NULL, NULL, "hard reset"},
	{"vm.pause", NULL, NULL, "pause the vCPUs"},
	{"vm.resume", NULL, NULL, "resume the vCPUs"},
	{"vm.undefine", NULL, NULL, "forget a stopped VM"},
	{"vm.media", NULL, NULL, "{iso_path or null}"},
	{"disk.create", NULL, NULL, "{storage, name, size_gb, backing?}"},
	{"disk.delete", NULL, NULL, "{storage, name}"},
	{"disk.grow", NULL, NULL, "{storage, name, size_gb}"},
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
