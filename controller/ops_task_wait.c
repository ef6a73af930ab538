/*
 * task-wait: answer with a task once it has finished (done or failed), or when the timeout
 * runs out, whichever comes first. The call stays parked on a timer that re-reads the row every
 * half second, so waiting costs the loop nothing; a controller that starts draining answers its
 * waiters at once with the task as it is.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "objects.h"
#include "ops.h"
#include "server.h"

#define POLL_MS 500

/* Owner: c->state. */
struct wait_state {
	struct event *timer;
	struct timespec deadline; /* CLOCK_MONOTONIC */
};

static void
wait_state_free(void *p)
{
	struct wait_state *ws = p;

	if (ws == NULL)
		return;
	if (ws->timer != NULL)
		event_free(ws->timer);
	free(ws);
}

static long
ms_left(const struct wait_state *ws)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(ws->deadline.tv_sec - now.tv_sec) * 1000 +
	       (ws->deadline.tv_nsec - now.tv_nsec) / 1000000;
}

static void check(struct call *c);

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	check(arg);
}

static void
loaded(struct call *c, json_t *task)
{
	struct wait_state *ws = c->state;
	const char *status = json_string_value(json_object_get(task, "status"));
	long left = ms_left(ws);

	if (task == NULL || status == NULL || strcmp(status, "done") == 0 ||
	    strcmp(status, "failed") == 0 || left <= 0 || c->srv->draining) {
		ops_reply_object(c, task);
		return;
	}
	json_decref(task);
	long ms = left < POLL_MS ? left : POLL_MS;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	evtimer_add(ws->timer, &tv);
}

static void
check(struct call *c)
{
	static const char sql[] = "SELECT " TASK_JSON " FROM tasks k WHERE k.id = $1";

	call_sql_json_id(c, sql, c->subject.id, loaded);
}

static void
resolved(struct call *c)
{
	struct wait_state *ws = calloc(1, sizeof(*ws));
	int64_t timeout = call_arg_int(c, "timeout_seconds", 60);

	if (ws == NULL || (ws->timer = evtimer_new(c->srv->base, on_timer, c)) == NULL) {
		free(ws);
		call_fail(c, API_BUSY, "out of memory");
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &ws->deadline);
	ws->deadline.tv_sec += timeout;
	c->state = ws;
	c->state_free = wait_state_free;
	check(c);
}

void
op_task_wait(struct call *c)
{
	call_resolve(c, "task", call_arg_int(c, "id", 0), 0, resolved);
}
