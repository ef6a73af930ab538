/*
 * The agent's one link to the controller: mutual TLS to `controller`, hello with inventory and
 * VMs, the welcome, heartbeats, commands (epoch-fenced) and their replies, events. Any failure
 * drops the connection with a logged reason and reconnects with exponential backoff (0.5 s
 * doubling to 10 s); the struct link itself lives as long as the agent.
 */
#ifndef WEBRACK_LINK_H
#define WEBRACK_LINK_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>
#include <jansson.h>

struct agent_settings;
struct link;

struct link_callbacks {
	json_t *(*inventory)(void *arg); /* the hello's "inventory" (new reference) */
	json_t *(*vms)(void *arg);	 /* the hello's "vms" (new reference) */
	void *arg;			 /* also handed to command handlers as cmd->agent */
};

/* Bad messages from the controller within a minute before the link is dropped. */
#define LINK_MAX_ERRORS_PER_MINUTE 100

/*
 * Load node.crt, node.key, ca.crt and the stored epoch from state_dir; false with why if the node
 * has not joined or the files are unusable. settings must outlive the link.
 */
struct link *link_new(struct event_base *base, const struct agent_settings *s,
		      const struct link_callbacks *cb, char *why, size_t whylen);

/* Start connecting (now) and keep the link up until link_free(). */
void link_start(struct link *link);

/* Close the connection (without touching any VM) and free everything. */
void link_free(struct link *link);

/* Report heartbeats and revoked VMs to the self-fencing module (fence.c); NULL: none. */
struct fence;
void link_set_fence(struct link *link, struct fence *fence);

/* Whether the controller has welcomed us on the current connection. */
bool link_is_up(const struct link *link);

/* The highest epoch accepted so far (persisted in state_dir/epoch). */
long long link_epoch(const struct link *link);

/* Send an event about a VM; false (and logged at debug) when the link is not up. */
bool link_send_event(struct link *link, long long vm, const char *event, const char *detail);

/* Send a "stats" message (stolen); false (and dropped) when the link is not up. */
bool link_send_stats(struct link *link, json_t *msg);

/* Send an "ips" message (stolen); false (and dropped) when the link is not up. */
bool link_send_ips(struct link *link, json_t *msg);

/*
 * Send the reply to command id received on connection generation; dropped when that connection
 * is gone. result (stolen) when ok, code + message otherwise.
 */
bool link_send_reply(struct link *link, unsigned generation, long long id, json_t *result,
		     const char *code, const char *message);

#endif
