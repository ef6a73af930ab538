/*
 * Schemas of the agent link's messages. The tables are the protocol's reference: a field is added
 * here first, then on both ends. A few rules are beyond what a schema table says (arrays of
 * strings, a reply's result-or-error) and are checked by hand after schema_check().
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"

const char *const proto_vm_states[] = {"defined", "starting",	   "running",
				       "paused",  "shutting_down", "stopped",
				       "crashed", "migrating",	   NULL};
const char *const proto_vm_events[] = {"started", "stopped",	      "crashed",   "restarted",
				       "gave_up", "shutdown_timeout", "migration", NULL};
const char *const proto_accels[] = {"kvm", "tcg", NULL};

/* Type names are stored in the tables only as the first row's doc, see type_row(). */
#define TYPE_ROW                                                                                   \
	{                                                                                          \
		"type", PARAM_STRING, true, false, 1, 16, NULL, "message type", NULL               \
	}

static const struct param storage_params[] = {
	{"name", PARAM_STRING, true, false, 1, PROTO_NAME_MAX, NULL, "storage name", NULL},
	{"path", PARAM_STRING, true, false, 1, 4096, NULL, "path on the node", NULL},
	{"shared", PARAM_BOOL, true, false, 0, 0, NULL, "visible to every node", NULL},
	{"free_gb", PARAM_INT, true, false, 0, LLONG_MAX, NULL, "free space in GiB", NULL},
	PARAM_END,
};

static const struct param inventory_params[] = {
	{"cores", PARAM_INT, true, false, 1, PROTO_MAX_CORES, NULL, "online CPUs", NULL},
	{"housekeeping", PARAM_INTLIST, true, false, 1, PROTO_MAX_CORES, NULL,
	 "cores for emulator and IO threads and the agent", NULL},
	{"dedicated", PARAM_INTLIST, true, false, 0, PROTO_MAX_CORES, NULL,
	 "cores handed exclusively to vCPUs", NULL},
	{"ram_mb", PARAM_INT, true, false, 0, LLONG_MAX, NULL,
	 "RAM available to guests (total minus reserve_ram_mb)", NULL},
	{"bridges", PARAM_ARRAY, true, false, 0, PROTO_MAX_BRIDGES, NULL,
	 "names of the bridges present", NULL},
	{"storages", PARAM_ARRAY, true, false, 0, PROTO_MAX_STORAGES, NULL, "storage paths",
	 storage_params},
	{"qemu_version", PARAM_STRING, true, false, 0, 64, NULL, "empty if QEMU did not answer",
	 NULL},
	{"kvm", PARAM_BOOL, true, false, 0, 0, NULL, "whether /dev/kvm is usable", NULL},
	{"accel", PARAM_ENUM, true, false, 0, 0, proto_accels, "what guests will run with", NULL},
	{"console", PARAM_STRING, false, false, 3, 262, NULL,
	 "host:port of the console endpoint (absent: none)", NULL},
	{"fence_after", PARAM_INT, false, false, 1, 86400, NULL,
	 "seconds without the controller after which the node kills its guests", NULL},
	PARAM_END,
};

static const struct param vm_params[] = {
	{"id", PARAM_INT, true, false, 1, LLONG_MAX, NULL, "vServer id", NULL},
	{"state", PARAM_ENUM, true, false, 0, 0, proto_vm_states, "VM state", NULL},
	{"pid", PARAM_INT, true, false, 0, INT_MAX, NULL, "QEMU pid, 0 when not running", NULL},
	{"fenced", PARAM_BOOL, false, false, 0, 0, NULL,
	 "killed by self-fencing and not started since", NULL},
	PARAM_END,
};

static const struct param error_params[] = {
	{"code", PARAM_STRING, true, false, 1, PROTO_NAME_MAX, NULL, "stable error code", NULL},
	{"message", PARAM_STRING, true, false, 0, PROTO_MESSAGE_MAX, NULL, "human text", NULL},
	PARAM_END,
};

static const struct param hello_params[] = {
	TYPE_ROW,
	{"version", PARAM_STRING, true, false, 1, PROTO_VERSION_MAX, NULL, "agent version", NULL},
	{"epoch", PARAM_INT, true, false, 0, LLONG_MAX, NULL, "highest epoch accepted", NULL},
	{"inventory", PARAM_OBJECT, true, false, 0, 0, NULL, "the node's resources",
	 inventory_params},
	{"vms", PARAM_ARRAY, true, false, 0, PROTO_MAX_VMS, NULL, "supervised QEMUs", vm_params},
	PARAM_END,
};

static const struct param heartbeat_params[] = {
	TYPE_ROW,
	{"seq", PARAM_INT, true, false, 0, LLONG_MAX, NULL, "counts up from 0 per link", NULL},
	PARAM_END,
};

static const struct param event_params[] = {
	TYPE_ROW,
	{"vm", PARAM_INT, true, false, 1, LLONG_MAX, NULL, "vServer id", NULL},
	{"event", PARAM_ENUM, true, false, 0, 0, proto_vm_events, "what happened", NULL},
	{"detail", PARAM_STRING, true, false, 0, PROTO_MESSAGE_MAX, NULL, "human text", NULL},
	PARAM_END,
};

static const struct param reply_params[] = {
	TYPE_ROW,
	{"id", PARAM_INT, true, false, 1, LLONG_MAX, NULL, "the command's id", NULL},
	{"ok", PARAM_BOOL, true, false, 0, 0, NULL, "success", NULL},
	{"result", PARAM_OBJECT, false, false, 0, 0, NULL, "when ok", NULL},
	{"error", PARAM_OBJECT, false, false, 0, 0, NULL, "when not ok", error_params},
	PARAM_END,
};

#define COUNTER(name, doc)                                                                         \
	{                                                                                          \
		name, PARAM_INT, false, false, 0, LLONG_MAX, NULL, doc, NULL                       \
	}

static const struct param stats_node_params[] = {
	COUNTER("cpu_busy_ms", "CPU time of all cores not idle (/proc/stat), ms"),
	COUNTER("cpu_idle_ms", "idle and iowait time of all cores, ms"),
	COUNTER("load1_milli", "1-minute load average x 1000"),
	COUNTER("mem_total_kb", "MemTotal"),
	COUNTER("mem_available_kb", "MemAvailable"),
	COUNTER("net_rx_bytes", "received by the node's own interfaces (not lo, taps, bridges)"),
	COUNTER("net_tx_bytes", "sent by them"),
	COUNTER("net_rx_packets", "packets received"),
	COUNTER("net_tx_packets", "packets sent"),
	PARAM_END,
};

/* Every counter but the id is optional: what could not be read this time is left out. */
static const struct param stats_vm_params[] = {
	{"id", PARAM_INT, true, false, 1, LLONG_MAX, NULL, "vServer id", NULL},
	COUNTER("vcpus", "vCPU threads found"),
	COUNTER("cpu_ms", "CPU time of the vCPU threads, ms"),
	COUNTER("rss_kb", "resident memory of the QEMU process"),
	COUNTER("ram_mb", "configured RAM"),
	COUNTER("disk_rd_bytes", "query-blockstats, all disks"),
	COUNTER("disk_wr_bytes", "query-blockstats, all disks"),
	COUNTER("disk_rd_ops", "read operations"),
	COUNTER("disk_wr_ops", "write operations"),
	COUNTER("net_rx_bytes", "received by the guest (its taps' tx)"),
	COUNTER("net_tx_bytes", "sent by the guest (its taps' rx)"),
	COUNTER("net_rx_packets", "packets received by the guest"),
	COUNTER("net_tx_packets", "packets sent by the guest"),
	PARAM_END,
};

static const struct param stats_params[] = {
	TYPE_ROW,
	{"time", PARAM_INT, true, false, 1, LLONG_MAX, NULL, "sampling time, Unix seconds", NULL},
	{"node", PARAM_OBJECT, false, false, 0, 0, NULL, "the node's own counters",
	 stats_node_params},
	{"vms", PARAM_ARRAY, true, false, 0, PROTO_STATS_VMS, NULL, "running VMs", stats_vm_params},
	PARAM_END,
};

const char *const proto_ip_families[] = {"ipv4", "ipv6", NULL};

static const struct param ip_item_params[] = {
	{"vm", PARAM_INT, true, false, 1, LLONG_MAX, NULL, "vServer id (the tap it came through)",
	 NULL},
	{"family", PARAM_ENUM, true, false, 0, 0, proto_ip_families, "address family", NULL},
	{"address", PARAM_STRING, true, false, 2, 45, NULL, "as inet_ntop writes it", NULL},
	{"tentative", PARAM_BOOL, true, false, 0, 0, NULL, "an ARP probe or IPv6 DAD", NULL},
	PARAM_END,
};

static const struct param ips_params[] = {
	TYPE_ROW,
	{"items", PARAM_ARRAY, true, false, 0, PROTO_IPS_MAX, NULL, "learned addresses",
	 ip_item_params},
	{"dropped", PARAM_INT, true, false, 0, LLONG_MAX, NULL,
	 "claims dropped by rate limits since the last batch", NULL},
	PARAM_END,
};

static const struct param revoked_params[] = {
	{"id", PARAM_INT, true, false, 1, LLONG_MAX, NULL, "vServer id", NULL},
	PARAM_END,
};

static const struct param beat_params[] = {
	TYPE_ROW,
	{"seq", PARAM_INT, true, false, 0, LLONG_MAX, NULL, "the seq of the heartbeat answered",
	 NULL},
	PARAM_END,
};

static const struct param welcome_params[] = {
	TYPE_ROW,
	{"epoch", PARAM_INT, true, false, 0, LLONG_MAX, NULL, "the node's current epoch", NULL},
	{"heartbeat_interval", PARAM_INT, true, false, 1, 60, NULL, "seconds between heartbeats",
	 NULL},
	{"revoked", PARAM_ARRAY, false, false, 0, PROTO_MAX_VMS, NULL,
	 "VMs the node must no longer run (it was declared dead meanwhile)", revoked_params},
	PARAM_END,
};

static const struct param command_params[] = {
	TYPE_ROW,
	{"id", PARAM_INT, true, false, 1, LLONG_MAX, NULL, "command id, echoed in the reply", NULL},
	{"task", PARAM_INT, true, true, 0, LLONG_MAX, NULL, "task id (0 or null: no task)", NULL},
	{"epoch", PARAM_INT, true, false, 0, LLONG_MAX, NULL, "fencing token", NULL},
	{"op", PARAM_STRING, true, false, 1, PROTO_NAME_MAX, NULL, "operation", NULL},
	{"args", PARAM_OBJECT, true, false, 0, 0, NULL, "checked by the op's own schema", NULL},
	PARAM_END,
};

static const struct param proto_error_params[] = {
	TYPE_ROW,
	{"code", PARAM_STRING, true, false, 1, PROTO_NAME_MAX, NULL, "stable error code", NULL},
	{"message", PARAM_STRING, true, false, 0, PROTO_MESSAGE_MAX, NULL, "human text", NULL},
	PARAM_END,
};

static const struct {
	const char *name;
	enum proto_dir dir;
	const struct param *params;
} types[] = {
	[PROTO_HELLO] = {"hello", PROTO_FROM_AGENT, hello_params},
	[PROTO_HEARTBEAT] = {"heartbeat", PROTO_FROM_AGENT, heartbeat_params},
	[PROTO_EVENT] = {"event", PROTO_FROM_AGENT, event_params},
	[PROTO_REPLY] = {"reply", PROTO_FROM_AGENT, reply_params},
	[PROTO_STATS] = {"stats", PROTO_FROM_AGENT, stats_params},
	[PROTO_IPS] = {"ips", PROTO_FROM_AGENT, ips_params},
	[PROTO_WELCOME] = {"welcome", PROTO_FROM_CONTROLLER, welcome_params},
	[PROTO_COMMAND] = {"command", PROTO_FROM_CONTROLLER, command_params},
	[PROTO_ERROR] = {"error", PROTO_FROM_CONTROLLER, proto_error_params},
	[PROTO_BEAT] = {"heartbeat", PROTO_FROM_CONTROLLER, beat_params},
};

#define NTYPES (sizeof(types) / sizeof(types[0]))

const struct param *
proto_schema(enum proto_type type)
{
	if (type < 0 || (size_t)type >= NTYPES)
		return NULL;
	return types[type].params;
}

const char *
proto_type_name(enum proto_type type)
{
	if (type < 0 || (size_t)type >= NTYPES)
		return "invalid";
	return types[type].name;
}

/* Names (bridges) are strings without control characters, as schema_check() demands of fields. */
static bool
check_name_list(const json_t *list, const char *field, char *why, size_t whylen)
{
	size_t i;
	const json_t *e;

	json_array_foreach (list, i, e) {
		if (!json_is_string(e) || json_string_length(e) < 1 ||
		    json_string_length(e) > PROTO_NAME_MAX) {
			snprintf(why, whylen, "parameter '%s' must hold strings of 1 to %d bytes",
				 field, PROTO_NAME_MAX);
			return false;
		}
		for (const char *s = json_string_value(e); *s != '\0'; s++) {
			if ((unsigned char)*s < 0x20 || *s == 0x7f) {
				snprintf(why, whylen, "parameter '%s' contains control characters",
					 field);
				return false;
			}
		}
		/* strlen shorter than the JSON length means an embedded NUL. */
		if (strlen(json_string_value(e)) != json_string_length(e)) {
			snprintf(why, whylen, "parameter '%s' contains control characters", field);
			return false;
		}
	}
	return true;
}

static bool
check_reply(const json_t *msg, char *why, size_t whylen)
{
	bool ok = json_is_true(json_object_get(msg, "ok"));
	bool has_result = json_object_get(msg, "result") != NULL;
	bool has_error = json_object_get(msg, "error") != NULL;

	if (ok && (!has_result || has_error)) {
		snprintf(why, whylen, "a reply with ok=true must carry 'result' and no 'error'");
		return false;
	}
	if (!ok && (!has_error || has_result)) {
		snprintf(why, whylen, "a reply with ok=false must carry 'error' and no 'result'");
		return false;
	}
	return true;
}

enum proto_type
proto_check(enum proto_dir dir, const json_t *msg, char *why, size_t whylen)
{
	const json_t *t = json_object_get(msg, "type");

	if (!json_is_object(msg)) {
		snprintf(why, whylen, "a message must be a JSON object");
		return PROTO_INVALID;
	}
	if (!json_is_string(t)) {
		snprintf(why, whylen, "a message needs a string 'type'");
		return PROTO_INVALID;
	}
	for (size_t i = 0; i < NTYPES; i++) {
		if (types[i].dir != dir || strcmp(types[i].name, json_string_value(t)) != 0)
			continue;
		if (!schema_check(types[i].params, msg, why, whylen))
			return PROTO_INVALID;
		if (i == PROTO_HELLO &&
		    !check_name_list(json_object_get(json_object_get(msg, "inventory"), "bridges"),
				     "bridges", why, whylen))
			return PROTO_INVALID;
		if (i == PROTO_REPLY && !check_reply(msg, why, whylen))
			return PROTO_INVALID;
		return (enum proto_type)i;
	}
	snprintf(why, whylen, "unknown message type '%.32s'", json_string_value(t));
	return PROTO_INVALID;
}
