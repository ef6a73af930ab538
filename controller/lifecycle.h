/*
 * The vServer lifecycle engine: asynchronous tasks (start, shutdown, stop, reset, pause, resume,
 * park, unpark, delete) that run in steps against a node agent. Each step is idempotent and the
 * task row records the step reached, so a controller restarted in the middle resumes every task
 * from where it was, and nothing stays half-done: the task ends done, or failed with a reason.
 */
#ifndef WEBRACK_LIFECYCLE_H
#define WEBRACK_LIFECYCLE_H

#include <stdint.h>

struct server;

/* Start running the task (already inserted as queued). */
void lifecycle_run(struct server *srv, int64_t task_id);

/* After start-up: resume every queued or running lifecycle task. */
void lifecycle_resume_all(struct server *srv);

/* A node reported an event about one of its VMs. */
void lifecycle_node_event(struct server *srv, int64_t node_id, int64_t vserver_id,
			  const char *event, const char *detail);

#endif
