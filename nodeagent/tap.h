/*
 * The tap devices of guest NICs: persistent taps named after the VM and the NIC index, up and
 * attached to a bridge that must already exist. The agent creates them before QEMU starts (QEMU
 * only opens them, script=no) and deletes them after QEMU has exited. Both operations are
 * idempotent, so a restarted agent or a retried command can simply run them again.
 */
#ifndef WEBRACK_TAP_H
#define WEBRACK_TAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every tap the agent owns starts with this; nothing else is ever deleted. */
#define TAP_PREFIX "wrt"

/* "wrt<vm_id>n<index>" into buf; false when it does not fit IFNAMSIZ-1 (15) bytes. */
bool tap_name(int64_t vm_id, size_t index, char *buf, size_t len)
	__attribute__((warn_unused_result));

/* A bridge name as the kernel accepts it: 1..15 of [A-Za-z0-9_.-]. */
bool tap_bridge_name_ok(const char *name) __attribute__((warn_unused_result));

/*
 * Create (or find) the persistent tap name, bring it up and put it into bridge (moving it out of
 * another bridge if needed). 0, or -1 with why ("bridge wrbr0 does not exist", ...).
 */
int tap_create(const char *name, const char *bridge, char *why, size_t whylen)
	__attribute__((warn_unused_result));

/* Delete the tap (a missing one is success). 0, or -1 with why (e.g. still open by QEMU). */
int tap_delete(const char *name, char *why, size_t whylen) __attribute__((warn_unused_result));

/* Whether the network device exists (in this network namespace). */
bool tap_exists(const char *name);

#endif
