/*
 * The stats-get operation: the numbers behind a statistics graph, for scripts and wrctl. Same
 * rights and metrics as the graph route (stats_graph.c); rrd_xport runs on the worker pool.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "ops.h"
#include "server.h"
#include "stats_draw.h"
#include "stats_graph.h"
#include "workq.h"

/* The call's state while rrd_xport runs. */
struct xport {
	struct call *c;
	enum stats_kind kind;
	int64_t id;
	const struct stats_metric *metric;
	enum stats_range range;
	long step;
	char rrd[1024];
	char daemon[256];
	json_t *result;
	char err[512];
};

static void
xport_free(void *p)
{
	struct xport *x = p;
	json_decref(x->result);
	free(x);
}

static void
xport_work(void *arg)
{
	struct xport *x = arg;

	x->result = stats_draw_series(x->rrd, x->daemon, x->metric, x->range, x->step,
				      (int64_t)time(NULL), x->err, sizeof(x->err));
}

static void
xport_done(void *arg)
{
	struct xport *x = arg;
	struct call *c = x->c;

	if (x->result != NULL) {
		json_t *r = x->result;
		x->result = NULL;
		call_reply(c, r);
	} else if (strcmp(x->err, "no_data") == 0) {
		call_fail(c, API_NOT_FOUND, "no statistics recorded for this %s yet",
			  stats_kind_name(x->kind));
	} else {
		log_warn("stats: export of %s %" PRId64 " %s: %s", stats_kind_name(x->kind), x->id,
			 x->metric->name, x->err);
		call_fail(c, API_INTERNAL, "the statistics could not be read (logged)");
	}
}

static void
allowed(struct call *c)
{
	struct xport *x = c->state;

	if (!stats_rrd_path(c->srv->settings.rrd_dir, x->kind, x->id, x->rrd, sizeof(x->rrd))) {
		call_fail(c, API_INTERNAL, "rrd_dir is too long");
		return;
	}
	snprintf(x->daemon, sizeof(x->daemon), "%s", stats_writer_daemon(c->srv->stats_writer));
	x->step = stats_range_resolution(x->range, (int)c->srv->settings.stats_step);
	if (!workq_submit(c->srv->workq, xport_work, xport_done, x))
		call_fail(c, API_BUSY, "the controller is busy; try again shortly");
}

void
op_stats_get(struct call *c)
{
	struct xport *x = calloc(1, sizeof(*x));
	const char *range = call_arg_str(c, "range");

	if (x == NULL) {
		call_fail(c, API_BUSY, "out of memory");
		return;
	}
	x->c = c;
	c->state = x;
	c->state_free = xport_free;
	/* kind and range are enums of the schema: parsing cannot fail here. */
	if (!stats_kind_parse(call_arg_str(c, "kind"), &x->kind) ||
	    !stats_range_parse(range != NULL ? range : "day", &x->range)) {
		call_fail(c, API_INVALID, "kind or range out of range");
		return;
	}
	x->id = call_arg_int(c, "id", 0);
	x->metric = stats_metric_find(x->kind, call_arg_str(c, "metric"));
	if (x->metric == NULL) {
		call_fail(c, API_INVALID, "unknown metric '%s' for a %s (%s)",
			  call_arg_str(c, "metric"), stats_kind_name(x->kind),
			  stats_metric_names(x->kind));
		return;
	}
	stats_check_access(c, x->kind, x->id, allowed);
}
