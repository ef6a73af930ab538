/*
 * webrack-node's settings: the struct the agent's modules read and the one key table that fills it
 * from /etc/webrack/node.conf, plus the checks across keys (core lists, timeouts).
 */
#ifndef WEBRACK_AGENT_SETTINGS_H
#define WEBRACK_AGENT_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "conffile.h"

enum agent_accel {
	AGENT_ACCEL_AUTO = 0,
	AGENT_ACCEL_KVM,
	AGENT_ACCEL_TCG,
};

struct agent_settings {
	char *name;
	char *controller;
	char *state_dir;
	char *run_dir;
	char *housekeeping_cores;
	char *dedicated_cores; /* NULL: every online core that is not a housekeeping core */
	long long reserve_ram_mb;
	char *bridge;
	char *storage_name;
	char *storage_path;
	bool storage_shared;
	int accel; /* enum agent_accel */
	char *qemu_binary;
	long long heartbeat_interval;
	long long fence_after;
	int log_level; /* enum log_level */
	bool log_syslog;
	long long stats_interval;
	char *console_listen;	 /* NULL: no console endpoint */
	char *console_advertise; /* NULL: console_listen */
	long long ip_refresh;	 /* seconds between re-sends of a known guest address */
	char *migration_address; /* NULL: this node accepts no incoming migrations */
	char *watchdog_device;	 /* fed while the controller hears us (fence.c); NULL: none */
	bool serial_log;	 /* guests' COM1 to run_dir/vm-ID/serial.log (qemu_cmdline.h) */
};

extern const struct config_key agent_settings_table[];

/*
 * Defaults, then FILE, then the cross-key checks: the node name, the controller address, absolute
 * paths, the core lists (valid, disjoint, online, neither empty) and fence_after against the
 * heartbeat. Errors go to errs; false if there was any.
 */
bool agent_settings_load(struct agent_settings *s, const char *file, struct config_errors *errs)
	__attribute__((warn_unused_result));

void agent_settings_free(struct agent_settings *s);

/* A node name: 1..63 bytes of [A-Za-z0-9._-], starting with a letter or digit. */
bool agent_settings_valid_name(const char *name) __attribute__((warn_unused_result));

/* state_dir/leaf into buf; false if it does not fit. */
bool agent_settings_state_path(const struct agent_settings *s, const char *leaf, char *buf,
			       size_t len) __attribute__((warn_unused_result));

#endif
