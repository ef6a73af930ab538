/*
 * The scheduler's view of the rack: every node's free dedicated cores, RAM and disk, kept in
 * memory and updated by the placements this controller commits, and the queue of placements
 * waiting to be decided. Decisions are taken in batches against the cached capacity (no database
 * read per decision) and committed in one statement per batch; the database's constraints stay
 * the arbiter, so a decision taken on a stale cache fails as a conflict, the cache is reloaded
 * and the vServer is decided again.
 */
#ifndef WEBRACK_CAPACITY_H
#define WEBRACK_CAPACITY_H

#include <stdbool.h>
#include <stdint.h>

#include "placement.h"

struct server;
struct capacity;

/*
 * A placement's outcome: node_id > 0 once the vServer's cores are committed on that node;
 * otherwise 0 and error says why (no capacity: what is missing; or a database error).
 */
typedef void (*capacity_placed_fn)(void *arg, int64_t node_id, const char *node_name,
				   const char *error);

struct capacity *capacity_new(struct server *srv);
void capacity_free(struct capacity *cap);

/*
 * Place a vServer: decide with req against the cached capacity, commit, call done exactly once.
 * anti_affinity is the vServer's group name or NULL (req->anti_affinity must agree).
 */
void capacity_place(struct capacity *cap, int64_t vserver_id, const struct placement_request *req,
		    const char *anti_affinity, capacity_placed_fn done, void *arg);

/* Something changed capacity behind the cache's back (unplace, inventory, node flags): reload. */
void capacity_invalidate(struct capacity *cap);

#endif
