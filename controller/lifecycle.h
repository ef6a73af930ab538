/*
 * The vServer lifecycle engine: asynchronous tasks (start, shutdown, stop, reset, pause, resume,
 * park, unpark, delete) that run in steps against a node agent. Each step is idempotent and the
 * task row records the step reached, so a controller restarted in the middle resumes every task
 * from where it was, and nothing stays half-done: the task ends done, or failed with a reason.
 */
#ifndef WEBRACK_LIFECYCLE_H
#define WEBRACK_LIFECYCLE_H

#include <stdint.h>

#include <jansson.h>

struct server;

/*
 * A task (aliased k) with the vServer it is about, as the engine reads it before every step:
 * the 19 columns LIFECYCLE_RUN_COLUMNS, from "tasks k" (or a CTE k with its
 * columns) followed by LIFECYCLE_RUN_JOIN_LOCKED(lock); lifecycle_run_row() makes the engine's
 * row of them. Plain columns: building it as JSON in SQL took about a fifth of the CPU of the
 * statement that queues a burst's tasks (ops_lifecycle.c). lock is "" or a locking clause
 * for the vServer's row: a statement whose snapshot may predate another task's end
 * (vserver-start's INSERT waits on the one-active-task index for that end to commit, then goes
 * on with its older snapshot) reads the row FOR SHARE, which returns the version that end wrote,
 * so the new task does not start a vServer that is running already.
 */
#define LIFECYCLE_RUN_COLUMNS                                                                      \
	"k.action, k.step, k.params, k.vserver_id, v.id, v.name, v.state, v.cores, v.ram_mb, "     \
	"v.disk_gb, v.vdc_id, v.node_id, v.anti_affinity, v.disk_created, v.disk_storage, v.iso, " \
	"v.template, v.disk_node_id, (SELECT s.shared FROM node_storages s WHERE s.node_id = "     \
	"v.disk_node_id AND s.name = v.disk_storage)"
#define LIFECYCLE_RUN_JOIN_LOCKED(lock)                                                            \
	" LEFT JOIN LATERAL (SELECT * FROM vservers v WHERE v.id = k.vserver_id" lock ") v ON "    \
	"true"
#define LIFECYCLE_RUN_JOIN LIFECYCLE_RUN_JOIN_LOCKED("")

struct pg_result;
/* The engine's row (a JSON object) of LIFECYCLE_RUN_COLUMNS starting at column col. */
json_t *lifecycle_run_row(const struct pg_result *res, int row, int col);

/* Start running the task (already inserted as queued). */
void lifecycle_run(struct server *srv, int64_t task_id);

/* The same, with the task row already read (lifecycle_run_row(); stolen). */
void lifecycle_run_loaded(struct server *srv, int64_t task_id, json_t *row);

/* After start-up: resume every queued or running lifecycle task. */
void lifecycle_resume_all(struct server *srv);

/* A node reported an event about one of its VMs. */
void lifecycle_node_event(struct server *srv, int64_t node_id, int64_t vserver_id,
			  const char *event, const char *detail);

#endif
