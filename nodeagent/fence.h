/*
 * Self-fencing (docs/ARCHITECTURE.md, "Failover"): a node that has lost the controller for
 * fence_after seconds SIGKILLs every guest it runs, because by then the controller may restart
 * them elsewhere; and, when a watchdog_device is configured, the device is fed only while the
 * controller hears us, so a node whose agent hangs is reset by the hardware. Also forgets the VMs
 * the controller revokes in its welcome after the node was declared dead.
 */
#ifndef WEBRACK_FENCE_H
#define WEBRACK_FENCE_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>
#include <jansson.h>

struct agent_settings;
struct vms;
struct fence;

/*
 * Start watching; the clock starts now (a guest adopted after a restart is fenced too if the
 * controller is not heard within fence_after). NULL with why when out of memory.
 */
struct fence *fence_new(struct event_base *base, const struct agent_settings *s, struct vms *vms,
			char *why, size_t whylen);

/* Stop; a watchdog is disarmed (magic close), so a stopped agent does not reset the node. */
void fence_free(struct fence *f);

/*
 * Heartbeat seq left for the controller now / came back echoed. Contact counts up to the send
 * time of the echoed heartbeat: the controller received it after that, so our deadline always
 * falls before the controller's (controller/failover.c).
 */
void fence_heartbeat_sent(struct fence *f, long long seq);
void fence_heartbeat_echoed(struct fence *f, long long seq);

/* The welcome's "revoked" ([{id}]): kill their QEMUs if any and forget their specs. */
void fence_revoke(struct fence *f, const json_t *revoked);

/* Whether the guests were killed and no contact came back since. */
bool fence_is_fenced(const struct fence *f);

#endif
