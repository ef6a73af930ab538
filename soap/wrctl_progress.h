/*
 * Waiting for a task (the answer of every long operation is {task_id, status}). On a terminal a
 * single progress line is redrawn in place; otherwise one plain line per status change, so logs
 * of scripts stay readable. Uses the server's task-wait when the operation table has it (one
 * request per few seconds), else polls task-get.
 */
#ifndef WEBRACK_WRCTL_PROGRESS_H
#define WEBRACK_WRCTL_PROGRESS_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

struct wrctl_http;
struct wrctl_ops;
struct wrctl_reply;

/* One status line: "task 42 vserver-start web1: running, 3.1 s". */
void wrctl_progress_line(const json_t *task, long long id, double seconds, char *buf, size_t len);

/*
 * Wait until task id is done or failed, or timeout_s passed. Returns WRCTL_OK (done),
 * WRCTL_TASK_FAILED, or the exit code of an error (timeout: WRCTL_UNAVAILABLE) with r filled;
 * *task is the last task object seen (new reference or NULL).
 */
int wrctl_progress_wait(struct wrctl_http *h, const struct wrctl_ops *ops, long long id,
			long long timeout_s, FILE *err, bool tty, json_t **task,
			struct wrctl_reply *r);

#endif
