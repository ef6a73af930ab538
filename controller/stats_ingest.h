/*
 * The controller's side of the agents' "stats" messages: which objects a message may update
 * (the node itself, and only the vServers the database places on that node: a node cannot
 * write another node's guests' statistics), turned into one batch for the RRD writer.
 */
#ifndef WEBRACK_STATS_INGEST_H
#define WEBRACK_STATS_INGEST_H

#include <stdint.h>

#include <jansson.h>

struct server;

/* msg has passed proto_check() as PROTO_STATS; it is borrowed. */
void stats_ingest(struct server *srv, int64_t node_id, const char *node_name, json_t *msg);

#endif
