/*
 * Live migration tasks (action "vserver-migrate"): reserve the target's cores, start the target
 * QEMU waiting for the stream, migrate, switch node and cores in one transaction (the task ends
 * there), then stop the source; or, on any failure, clean the target up and leave the vServer
 * running where it was. Not to be confused with migrate.c, the database schema migrations.
 */
#ifndef WEBRACK_LIVEMIG_H
#define WEBRACK_LIVEMIG_H

#include <stdint.h>

struct server;

/* Run (or resume) the migrate task task_id; lifecycle.c hands its migrate tasks over here. */
void livemig_run(struct server *srv, int64_t task_id);

/* Finish the source cleanups (QEMU, tap, definition) of migrations that an earlier process ended
 * and left unfinished (params.source_cleanup); at startup, once the database is up. */
void livemig_resume_cleanups(struct server *srv);

/* A node's "migration" event: the progress of the vServer's outgoing migration (JSON text). */
void livemig_node_event(struct server *srv, int64_t node_id, int64_t vserver_id,
			const char *detail);

/* Ask the source to cancel the migration of task_id (vm.migrate-cancel); fire and forget. */
void livemig_cancel(struct server *srv, int64_t task_id, int64_t source_node, int64_t vserver_id,
		    const char *reason);

#endif
