/*
 * Task waiting with a deadline (see wrctl_progress.h). The deadline is wrctl's own
 * (wait_timeout / --wait-timeout): the task itself goes on in the controller when wrctl gives up,
 * and the message says so and names the task to look at later.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "wrctl.h"
#include "wrctl_describe.h"
#include "wrctl_http.h"
#include "wrctl_progress.h"

#define TTY_STEP_SECONDS   2 /* redraw the line at least this often */
#define PLAIN_STEP_SECONDS 30

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
nap(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	nanosleep(&ts, NULL);
}

static const char *
str_or(const json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s && *s ? s : dflt;
}

void
wrctl_progress_line(const json_t *task, long long id, double seconds, char *buf, size_t len)
{
	const char *status = str_or(task, "status", "queued");
	const char *info = str_or(task, "info", NULL);

	snprintf(buf, len, "task %lld %s %s: %s, %.1f s%s%s", id, str_or(task, "action", "?"),
		 str_or(task, "object_name", ""), status, seconds, info ? " - " : "",
		 info ? info : "");
	for (char *s = buf; *s; s++)
		if ((unsigned char)*s < 0x20)
			*s = ' ';
}

static bool
finished(const json_t *task)
{
	const char *s = json_string_value(json_object_get(task, "status"));
	return s != NULL && (strcmp(s, "done") == 0 || strcmp(s, "failed") == 0);
}

int
wrctl_progress_wait(struct wrctl_http *h, const struct wrctl_ops *ops, long long id,
		    long long timeout_s, FILE *err, bool tty, json_t **task, struct wrctl_reply *r)
{
	const struct wrctl_op *waitop = wrctl_ops_find(ops, "task-wait");
	const struct param *tp = waitop ? wrctl_op_param(waitop, "timeout_seconds") : NULL;
	double start = now_s(), deadline = start + (double)timeout_s, poll = 0.2;
	char line[512], last_status[32] = "";
	int rc = WRCTL_OK;

	*task = NULL;
	for (;;) {
		json_t *args;
		double left = deadline - now_s();
		if (waitop != NULL && tp != NULL) {
			long long step = tty ? TTY_STEP_SECONDS : PLAIN_STEP_SECONDS;
			if (step > (long long)left)
				step = left > 0 ? (long long)left : 0;
			if (step > tp->max)
				step = tp->max;
			if (step < tp->min)
				step = tp->min;
			args = json_pack("{s:I, s:I}", "id", (json_int_t)id, "timeout_seconds",
					 (json_int_t)step);
			wrctl_http_call(h, "task-wait", args, r);
		} else {
			args = json_pack("{s:I}", "id", (json_int_t)id);
			wrctl_http_call(h, "task-get", args, r);
		}
		json_decref(args);
		if (r->exit != WRCTL_OK) {
			rc = r->exit;
			break;
		}
		json_decref(*task);
		*task = r->result;
		r->result = NULL;
		const char *status = json_string_value(json_object_get(*task, "status"));
		wrctl_progress_line(*task, id, now_s() - start, line, sizeof(line));
		if (tty) {
			fprintf(err, "\r\033[K%s", line);
			fflush(err);
		} else if (status != NULL && strcmp(status, last_status) != 0) {
			fprintf(err, "%s\n", line);
			snprintf(last_status, sizeof(last_status), "%s", status);
		}
		if (finished(*task)) {
			rc = strcmp(status, "done") == 0 ? WRCTL_OK : WRCTL_TASK_FAILED;
			break;
		}
		if (now_s() >= deadline) {
			wrctl_reply_fail(r, "timeout",
					 "task %lld is still %s after %lld s; it goes on in the "
					 "controller (wrctl task %lld)",
					 id, status ? status : "pending", timeout_s, id);
			rc = r->exit;
			break;
		}
		if (waitop == NULL) {
			nap(poll);
			if (poll < 1.0)
				poll *= 1.5;
		}
	}
	if (tty)
		fputc('\n', err);
	return rc;
}
