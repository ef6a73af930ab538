/*
 * A small pool of threads for work that must not run on the event loop (argon2id hashing,
 * rrd_graph, image conversion). Work runs on a thread; its completion runs back on the loop.
 */
#ifndef WEBRACK_WORKQ_H
#define WEBRACK_WORKQ_H

#include <stdbool.h>

struct event_base;
struct workq;

typedef void (*workq_work_fn)(void *arg); /* on a worker thread: touch only arg */
typedef void (*workq_done_fn)(void *arg); /* on the loop thread, after work */

struct workq *workq_new(struct event_base *base, int nthreads);
bool workq_submit(struct workq *wq, workq_work_fn work, workq_done_fn done, void *arg)
	__attribute__((warn_unused_result));
/* Finish queued work, join the threads, run pending completions, free. */
void workq_free(struct workq *wq);

#endif
