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
 * A task (aliased k) with the vServer it is about, as the engine reads it before every step.
 * lock is "" or a locking clause for the vServer's row: a statement whose snapshot may predate
 * another task's end (vserver-start's INSERT waits on the one-active-task index for that end to
 * commit, then goes on with its older snapshot) reads the row FOR SHARE, which returns the
 * version that end wrote, so the new task does not start a vServer that is running already.
 */
#define LIFECYCLE_RUN_JSON_LOCKED(lock)                                                            \
	"json_build_object('action', k.action, 'step', k.step, 'params', k.params, "               \
	"'vserver_id', k.vserver_id, 'vs', (SELECT json_build_object('id', v.id, 'name', "         \
	"v.name, 'state', v.state, 'cores', v.cores, 'ram_mb', v.ram_mb, 'disk_gb', "              \
	"v.disk_gb, 'vdc_id', coalesce(v.vdc_id, 0), 'node_id', coalesce(v.node_id, 0), "          \
	"'anti_affinity', v.anti_affinity, 'disk_created', v.disk_created, "                       \
	"'disk_storage', v.disk_storage, 'iso', v.iso, 'template', v.template, "                   \
	"'disk_node_id', coalesce(v.disk_node_id, 0), 'disk_shared', coalesce((SELECT s.shared "   \
	"FROM node_storages s WHERE s.node_id = v.disk_node_id AND s.name = v.disk_storage), "     \
	"false)) FROM vservers v WHERE v.id = k.vserver_id" lock "))"
#define LIFECYCLE_RUN_JSON LIFECYCLE_RUN_JSON_LOCKED("")

/* Start running the task (already inserted as queued). */
void lifecycle_run(struct server *srv, int64_t task_id);

/* The same, with the task row already read (LIFECYCLE_RUN_JSON, parsed; stolen). */
void lifecycle_run_loaded(struct server *srv, int64_t task_id, json_t *row);

/* After start-up: resume every queued or running lifecycle task. */
void lifecycle_resume_all(struct server *srv);

/* A node reported an event about one of its VMs. */
void lifecycle_node_event(struct server *srv, int64_t node_id, int64_t vserver_id,
			  const char *event, const char *detail);

#endif
