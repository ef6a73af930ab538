/*
 * The messages of the agent link (docs/ARCHITECTURE.md, "Link protocol"), as schema tables for
 * both directions. Both ends run every received line through proto_check() before looking at a
 * single field, so a handler only ever sees a message of a known type with exactly its fields,
 * each of the right type and size.
 */
#ifndef WEBRACK_PROTO_H
#define WEBRACK_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "schema.h"

/* Who sent the message: each direction has its own set of types. */
enum proto_dir {
	PROTO_FROM_AGENT,
	PROTO_FROM_CONTROLLER,
};

enum proto_type {
	PROTO_INVALID = -1,
	/* agent -> controller */
	PROTO_HELLO,
	PROTO_HEARTBEAT,
	PROTO_EVENT,
	PROTO_REPLY,
	PROTO_STATS, /* statistics samples, see proto_stats_* below */
	PROTO_IPS,   /* guest addresses learned by the ARP/NDP sniffer */
	/* controller -> agent */
	PROTO_WELCOME,
	PROTO_COMMAND,
	PROTO_ERROR,
	PROTO_BEAT, /* a heartbeat echoed: proves to the agent that the controller hears it */
};

/* Bumped when a message changes incompatibly; sent as hello.version "webrack-node/X.Y.Z". */
#define PROTO_VERSION_MAX 64

/*
 * The CN of the client certificate webrackd presents to a node's console endpoint. A node name
 * cannot contain ':', so no node certificate can pass for it.
 */
#define PROTO_CONSOLE_CN "webrackd:console"

/* Sizes shared by both ends. */
#define PROTO_MAX_VMS	   4096
#define PROTO_MAX_CORES	   4096
#define PROTO_MAX_BRIDGES  256
#define PROTO_MAX_STORAGES 64
#define PROTO_NAME_MAX	   64	/* bridge, storage, op, error code */
#define PROTO_MESSAGE_MAX  1024 /* error messages, event details */

/* The VM states an agent reports in hello.vms (NULL-terminated). */
extern const char *const proto_vm_states[];
/* The events of an "event" message (NULL-terminated). */
extern const char *const proto_vm_events[];
/* What an agent may run its guests with. */
extern const char *const proto_accels[];

/*
 * A "stats" message: one per stats_interval with the node's counters and up to
 * PROTO_STATS_VMS VMs (a node with more sends several messages; "node" only in the first), so a
 * message stays far below the 64 KiB line cap. Counters only grow; rates are the RRD's job.
 */
#define PROTO_STATS_VMS 128

/*
 * An "ips" message: the addresses the sniffer learned (or refreshed) since the last batch, at
 * most PROTO_IPS_MAX items, plus the frames and claims its rate limits dropped meanwhile.
 */
#define PROTO_IPS_MAX 512
extern const char *const proto_ip_families[];

/* The schema of each message type (for docs and for tests). */
const struct param *proto_schema(enum proto_type type);

/*
 * Check a received message: its "type" must be one the sender's direction may send and the
 * message must match that type's schema exactly (no missing, extra or mistyped fields; replies
 * carry result when ok and error otherwise). Returns the type, or PROTO_INVALID with why set.
 */
enum proto_type proto_check(enum proto_dir dir, const json_t *msg, char *why, size_t whylen)
	__attribute__((warn_unused_result));

const char *proto_type_name(enum proto_type type);

#endif
