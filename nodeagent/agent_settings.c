/*
 * The table of webrack-node's configuration keys and the checks across keys. Adding a key means
 * one row here and one member in struct agent_settings; parsing, bounds, -n and reload come from
 * common/conffile.c.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_settings.h"
#include "inventory.h"

#define OFF(m) offsetof(struct agent_settings, m)

static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};
static const char *const accels[] = {"auto", "kvm", "tcg", NULL};

const struct config_key agent_settings_table[] = {
	{"name", CONFIG_STRING, OFF(name), NULL, 0, 0, NULL, false,
	 "node name: the CN of the node certificate (required)"},
	{"controller", CONFIG_STRING, OFF(controller), "127.0.0.1:8444", 0, 0, NULL, false,
	 "host:port of the controller's agent listener ([v6]:port for IPv6)"},
	{"state_dir", CONFIG_PATH, OFF(state_dir), "/var/lib/webrack-node", 0, 0, NULL, false,
	 "node key, certificates, epoch and VM specs"},
	{"run_dir", CONFIG_PATH, OFF(run_dir), "/run/webrack-node", 0, 0, NULL, false,
	 "QMP and VNC sockets and pid files of the guests"},
	{"housekeeping_cores", CONFIG_STRING, OFF(housekeeping_cores), "0", 0, 0, NULL, false,
	 "cores for the agent and QEMU's emulator and IO threads (e.g. 0-1)"},
	{"dedicated_cores", CONFIG_STRING, OFF(dedicated_cores), NULL, 0, 0, NULL, false,
	 "cores handed exclusively to vCPUs (default: every other online core)"},
	{"reserve_ram_mb", CONFIG_INT, OFF(reserve_ram_mb), "1024", 0, 1LL << 30, NULL, false,
	 "RAM in MiB kept for the host; the rest is offered to guests"},
	{"bridge", CONFIG_STRING, OFF(bridge), "wrbr0", 0, 0, NULL, false,
	 "default bridge for guest NICs"},
	{"storage_name", CONFIG_STRING, OFF(storage_name), "local", 0, 0, NULL, false,
	 "name of the storage, as the controller knows it"},
	{"storage_path", CONFIG_PATH, OFF(storage_path), "/var/lib/webrack-node/images", 0, 0, NULL,
	 false, "directory holding the disk images"},
	{"storage_shared", CONFIG_BOOL, OFF(storage_shared), "no", 0, 0, NULL, false,
	 "whether every node sees the same storage_path (NFS, Ceph): needed for migration"},
	{"accel", CONFIG_ENUM, OFF(accel), "auto", 0, 0, accels, false,
	 "auto (kvm when /dev/kvm works, else tcg), kvm or tcg"},
	{"qemu_binary", CONFIG_PATH, OFF(qemu_binary), "/usr/bin/qemu-system-x86_64", 0, 0, NULL,
	 false, "the QEMU system emulator"},
	{"heartbeat_interval", CONFIG_INT, OFF(heartbeat_interval), "1", 1, 60, NULL, false,
	 "seconds between heartbeats until the controller's welcome says otherwise"},
	{"fence_after", CONFIG_INT, OFF(fence_after), "10", 2, 3600, NULL, false,
	 "seconds without the controller after which the node fences itself"},
	{"log_level", CONFIG_ENUM, OFF(log_level), "info", 0, 0, log_levels, true,
	 "error, warn, info or debug"},
	{"log_syslog", CONFIG_BOOL, OFF(log_syslog), "no", 0, 0, NULL, false,
	 "log to syslog instead of stderr"},
	{"stats_interval", CONFIG_INT, OFF(stats_interval), "10", 1, 3600, NULL, false,
	 "seconds between statistics samples sent to the controller"},
	{"console_listen", CONFIG_STRING, OFF(console_listen), NULL, 0, 0, NULL, false,
	 "host:port of the console endpoint for controllers (mutual TLS); unset: no console"},
	{"console_advertise", CONFIG_STRING, OFF(console_advertise), NULL, 0, 0, NULL, false,
	 "host:port controllers dial for the console (default: console_listen)"},
	{"ip_refresh", CONFIG_INT, OFF(ip_refresh), "60", 1, 86400, NULL, false,
	 "seconds after which a guest address seen again is re-sent to the controller (its "
	 "last_seen); keep it well below the controller's ip_stale_after"},
	{"migration_address", CONFIG_STRING, OFF(migration_address), NULL, 0, 0, NULL, false,
	 "address (IPv4 or host name) other nodes reach this node on for incoming live "
	 "migrations; unset: the node accepts none"},
	{"watchdog_device", CONFIG_PATH, OFF(watchdog_device), NULL, 0, 0, NULL, false,
	 "a watchdog (e.g. /dev/watchdog) fed only while the controller hears this node: a "
	 "node that loses it, or an agent that hangs, is reset after fence_after; unset: none"},
	{"serial_log", CONFIG_BOOL, OFF(serial_log), "no", 0, 0, NULL, false,
	 "append each guest's serial console (COM1) to run_dir/vm-ID/serial.log: a debugging "
	 "aid (the file grows while the guest writes; it is rotated only at a QEMU start)"},
	CONFIG_END,
};

bool
agent_settings_valid_name(const char *name)
{
	size_t n = strlen(name);

	if (n < 1 || n > 63 || !isalnum((unsigned char)name[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && strchr("._-", name[i]) == NULL)
			return false;
	return true;
}

bool
agent_settings_state_path(const struct agent_settings *s, const char *leaf, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", s->state_dir, leaf);
	return n > 0 && (size_t)n < len;
}

static void
check_absolute(struct config_errors *errs, const char *file, const char *key, const char *path)
{
	if (path != NULL && path[0] != '/')
		config_report(errs, file, 0, "%s: '%s' is not an absolute path", key, path);
}

static void
check_cores(const struct agent_settings *s, const char *file, struct config_errors *errs)
{
	struct inventory_cores cores;
	char why[256];

	if (!inventory_online_cores(INVENTORY_CPU_ONLINE, &cores, why, sizeof(why))) {
		config_report(errs, file, 0, "%s", why);
		return;
	}
	if (!inventory_core_split(&cores, s->housekeeping_cores, s->dedicated_cores, why,
				  sizeof(why)))
		config_report(errs, file, 0, "%s", why);
}

bool
agent_settings_load(struct agent_settings *s, const char *file, struct config_errors *errs)
{
	int before = errs->count;
	char host[256];
	int port;

	memset(s, 0, sizeof(*s));
	if (!config_set_defaults(agent_settings_table, s, errs))
		return false;
	if (!config_read_file(agent_settings_table, s, file, errs))
		return false;

	if (s->name == NULL)
		config_report(errs, file, 0,
			      "name is required (the node's name, as given to "
			      "node-join-token-create)");
	else if (!agent_settings_valid_name(s->name))
		config_report(errs, file, 0,
			      "name: '%s' is not a node name (1 to 63 letters, digits, '.', '_', "
			      "'-')",
			      s->name);
	if (!config_parse_hostport(s->controller, host, sizeof(host), &port))
		config_report(errs, file, 0, "controller: '%s' is not host:port", s->controller);
	check_absolute(errs, file, "state_dir", s->state_dir);
	check_absolute(errs, file, "run_dir", s->run_dir);
	check_absolute(errs, file, "storage_path", s->storage_path);
	check_absolute(errs, file, "qemu_binary", s->qemu_binary);
	check_absolute(errs, file, "watchdog_device", s->watchdog_device);
	if (!agent_settings_valid_name(s->storage_name))
		config_report(errs, file, 0, "storage_name: '%s' is not a valid name",
			      s->storage_name);
	if (!agent_settings_valid_name(s->bridge) || strlen(s->bridge) > 15)
		config_report(errs, file, 0, "bridge: '%s' is not an interface name", s->bridge);
	if (s->fence_after < 2 * s->heartbeat_interval)
		config_report(errs, file, 0,
			      "fence_after (%lld) must be at least twice heartbeat_interval (%lld)",
			      s->fence_after, s->heartbeat_interval);
	check_cores(s, file, errs);
	if (s->console_listen != NULL &&
	    !config_parse_hostport(s->console_listen, host, sizeof(host), &port))
		config_report(errs, file, 0, "console_listen: '%s' is not host:port",
			      s->console_listen);
	if (s->console_advertise != NULL &&
	    !config_parse_hostport(s->console_advertise, host, sizeof(host), &port))
		config_report(errs, file, 0, "console_advertise: '%s' is not host:port",
			      s->console_advertise);
	return errs->count == before;
}

void
agent_settings_free(struct agent_settings *s)
{
	config_free(agent_settings_table, s);
}
