/*
 * The controller's side of the node agent links: a mutual-TLS listener, one link per node
 * (identified by its certificate's CN), hello/inventory into the nodes table, heartbeats,
 * commands with replies, and events.
 */
#ifndef WEBRACK_AGENTS_H
#define WEBRACK_AGENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct server;

/* A command's outcome: ok with result, or an error code ("node_offline", "timeout", ...). */
typedef void (*agents_reply_fn)(void *arg, bool ok, json_t *result, const char *code,
				const char *message);

bool agents_start(struct server *srv) __attribute__((warn_unused_result));
void agents_stop(struct server *srv);

bool agents_node_online(struct server *srv, int64_t node_id);
/* Close the node's link if it was welcomed with an epoch below below_epoch (failover). */
void agents_close_node(struct server *srv, int64_t node_id, int64_t below_epoch,
		       const char *reason);
/* The ids of the connected nodes, sorted (for bsearch); malloc'd, *n entries. */
int64_t *agents_online_ids(struct server *srv, size_t *n);
bool agents_ids_contain(const int64_t *ids, size_t n, int64_t id);
/* Changes whenever the set of connected nodes may have changed (a link welcomed or closed). */
uint64_t agents_online_generation(struct server *srv);

/*
 * Send a command to a node; reply runs exactly once (also when the link drops or the command
 * times out). args is borrowed.
 */
void agents_command(struct server *srv, int64_t node_id, int64_t task_id, const char *op,
		    json_t *args, int timeout_seconds, agents_reply_fn reply, void *arg);

#endif
