/*
 * The failover monitor: when each node was last heard from, and what happens to a node that stays
 * silent for failover_after seconds (docs/ARCHITECTURE.md, "Failover"): it is declared dead, its
 * epoch is bumped, its failover vServers are restarted elsewhere as 'vserver-failover' tasks
 * (reserve nodes first) and the others are marked stopped with the reason, all in one
 * transaction (wr_node_fail, sql/012_failover.sql).
 */
#ifndef WEBRACK_FAILOVER_H
#define WEBRACK_FAILOVER_H

#include <stdbool.h>
#include <stdint.h>

struct server;

/* Start the monitor (srv->failover); false when out of memory. */
bool failover_start(struct server *srv) __attribute__((warn_unused_result));
void failover_stop(struct server *srv);

/* Anything arrived from the node's link (hello, heartbeat, reply, event...). */
void failover_heard(struct server *srv, int64_t node_id);

/*
 * The node said hello: its agent's fence_after (0: not reported). A node that fences later than
 * node_fence_after is given correspondingly longer before it is declared dead.
 */
void failover_node_hello(struct server *srv, int64_t node_id, long long fence_after);

/*
 * The node's hello reported VMs (JSON text) it killed by self-fencing without being declared
 * dead: its failover vServers among them are started there again.
 */
void failover_node_fenced(struct server *srv, int64_t node_id, const char *vms);

#endif
