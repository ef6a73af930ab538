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

#include <jansson.h>

#include "placement.h"

struct server;
struct capacity;

/*
 * A placement's outcome: node_id > 0 once the vServer's cores are committed on that node;
 * -1 when the vServer turned out to be placed already (the caller's view of it is stale: read
 * it again); otherwise 0 and error says why (no capacity: what is missing; or a database
 * error). For a
 * placement made for a start task, info (borrowed, NULL otherwise) is what wr_place_batch()
 * prepared in the same transaction: {disk_created, storage, task_active, spec} (the task's step
 * is then 'disk' or 'define', its vServer has a NIC, spec is the VM definition for vm.define),
 * or {task_active: false} when the task ended before its batch.
 */
typedef void (*capacity_placed_fn)(void *arg, int64_t node_id, const char *node_name,
				   const char *error, json_t *info);

struct capacity *capacity_new(struct server *srv);
void capacity_free(struct capacity *cap);

/*
 * Place a vServer: decide with req against the cached capacity, commit, call done exactly once.
 * anti_affinity is the vServer's group name or NULL (req->anti_affinity must agree). start_task
 * is the id of the start task the placement is for (0: a bare placement, e.g. unpark).
 */
void capacity_place(struct capacity *cap, int64_t vserver_id, int64_t start_task,
		    const struct placement_request *req, const char *anti_affinity,
		    capacity_placed_fn done, void *arg);

/*
 * A start of a vServer that is placed already on node_id (stopped; it keeps its cores): no
 * decision, but the start's part of wr_place_batch() in the next batch. done as above (node_id
 * on success; -1 when it is no longer placed there).
 */
void capacity_prepare(struct capacity *cap, int64_t vserver_id, int64_t node_id, int64_t start_task,
		      capacity_placed_fn done, void *arg);

/* Something changed capacity behind the cache's back (unplace, inventory, node flags): reload. */
void capacity_invalidate(struct capacity *cap);

/*
 * The pool for the scheduler's and the task engine's batch statements (placement batches, task
 * rows, task ends): a few connections of their own without pipelining, so that a long batch (or
 * one waiting for a node's row lock) never holds up the API's queries queued behind it on a
 * shared connection. srv->db while that pool is not connected. ctx is the struct server.
 */
struct db *capacity_db(void *srv);

#endif
