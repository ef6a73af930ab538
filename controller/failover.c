/*
 * The failover monitor. Every message from a node's link refreshes the node's "heard" time (in
 * memory, monotonic clock); a timer looks every TICK_MS at every known node, and one silent for
 * longer than its delay (failover_after, longer for an agent that reported a longer fence_after)
 * is handed to wr_node_fail() in one transaction: state 'dead', epoch + 1, vServers released,
 * 'vserver-failover' tasks queued for the failover vServers, task and audit rows for the rest.
 * The tasks then run in the lifecycle engine like a start (placement with reserve nodes, which
 * it prefers; a disk image still locked by a QEMU the old node did not kill is retried).
 *
 * Why the delay is safe: an agent counts as in contact with us only up to the *send* time of
 * the last heartbeat we echoed (nodeagent/fence.c), and we received that heartbeat after it was
 * sent, so the agent's fence deadline (that time + fence_after) always falls at least
 * failover_after - fence_after > failover_margin before ours (our last receipt + failover_after),
 * whatever the network delays. The margin covers the agent's timer granularity and QEMU's exit.
 *
 * At start-up every node that may run guests is given a full delay from the moment the nodes
 * were loaded: whatever happened while no controller ran, an agent that did not come back within
 * failover_after has fenced itself long ago.
 */
#include "monotime.h"
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>

#include "agents.h"
#include "call.h"
#include "capacity.h"
#include "db.h"
#include "failover.h"
#include "lifecycle.h"
#include "log.h"
#include "server.h"

#define TICK_MS		   200
#define SWEEP_SECONDS	   5.0 /* again for vServers that had a task in flight */
#define DB_RETRY_SECONDS   1.0
#define LOAD_RETRY_SECONDS 1

struct fo_node {
	int64_t id;
	double heard;	       /* monotonic seconds of the last message (or of the load) */
	long long fence_after; /* as the agent reported it; 0 = not reported */
	bool dead;	       /* declared dead (by us, or found so at load) */
	bool busy;	       /* a wr_node_fail() is in flight */
	double retry_at;       /* 0, or when to call wr_node_fail() again (leftovers, errors) */
};

/* Owner: the server (srv->failover), from failover_start() to failover_stop(). */
struct failover {
	struct server *srv;
	struct fo_node *nodes;
	size_t n, cap;
	bool loaded;
	struct event *tick;
	struct event *load_timer;
};

/* A wr_node_fail() in flight: the node is found again by id (the array may have moved). */
struct fail_call {
	struct failover *fo;
	int64_t node_id;
	bool declare;
};

/* Where id is or would go: fo->nodes is kept sorted by id (every agent message looks it up). */
static size_t
node_slot(const struct failover *fo, int64_t id)
{
	size_t lo = 0, hi = fo->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (fo->nodes[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct fo_node *
node_find(struct failover *fo, int64_t id)
{
	size_t i = node_slot(fo, id);

	return i < fo->n && fo->nodes[i].id == id ? &fo->nodes[i] : NULL;
}

/* The node's entry, made when first seen; NULL only when out of memory. */
static struct fo_node *
node_get(struct failover *fo, int64_t id, double heard)
{
	struct fo_node *nd = node_find(fo, id);

	if (nd != NULL)
		return nd;
	if (fo->n == fo->cap) {
		size_t ncap = fo->cap ? fo->cap * 2 : 16;
		struct fo_node *nn = realloc(fo->nodes, ncap * sizeof(*nn));
		if (nn == NULL)
			return NULL;
		fo->nodes = nn;
		fo->cap = ncap;
	}
	size_t at = node_slot(fo, id);
	memmove(&fo->nodes[at + 1], &fo->nodes[at], (fo->n - at) * sizeof(*nd));
	fo->n++;
	nd = &fo->nodes[at];
	memset(nd, 0, sizeof(*nd));
	nd->id = id;
	nd->heard = heard;
	return nd;
}

static double
delay_of(const struct settings *s, const struct fo_node *nd)
{
	/* Keep the configured gap between fencing and failover for an agent that fences later. */
	if (nd != NULL && nd->fence_after > s->node_fence_after)
		return (double)(nd->fence_after + (s->failover_after - s->node_fence_after));
	return (double)s->failover_after;
}

void
failover_heard(struct server *srv, int64_t node_id)
{
	struct fo_node *nd;

	if (srv->failover == NULL || node_id == 0)
		return;
	nd = node_get(srv->failover, node_id, now_mono());
	if (nd != NULL)
		nd->heard = now_mono();
}

void
failover_node_hello(struct server *srv, int64_t node_id, long long fence_after)
{
	const struct settings *s = &srv->settings;
	struct fo_node *nd;

	if (srv->failover == NULL)
		return;
	nd = node_get(srv->failover, node_id, now_mono());
	if (nd == NULL)
		return;
	nd->heard = now_mono();
	/* The hello re-registered it (state online, the VMs it must not run revoked). */
	nd->dead = false;
	nd->retry_at = 0;
	bool changed = fence_after != nd->fence_after;
	nd->fence_after = fence_after;
	if (changed && fence_after > s->node_fence_after)
		log_warn(
			"node %lld fences after %lld s, node_fence_after says %lld: it is declared "
			"dead only after %.0f s of silence",
			(long long)node_id, fence_after, s->node_fence_after, delay_of(s, nd));
}

/* ------------------------------------------------------------------ declaring */

static void
failed(const struct db_result *res, void *arg)
{
	struct fail_call *fc = arg;
	struct failover *fo = fc->fo;
	struct server *srv = fo->srv;
	struct fo_node *nd = node_find(fo, fc->node_id);
	json_t *out = NULL;

	if (nd != NULL)
		nd->busy = false;
	if (res->status != DB_OK || PQntuples(res->res) != 1 ||
	    (out = json_loads(PQgetvalue(res->res, 0, 0), 0, NULL)) == NULL) {
		log_error("failover: node %lld: %s; trying again", (long long)fc->node_id,
			  res->message ? res->message : "no answer from wr_node_fail");
		if (nd != NULL) {
			if (fc->declare)
				nd->dead = false; /* not declared: the next tick tries again */
			nd->retry_at = now_mono() + DB_RETRY_SECONDS;
		}
		free(fc);
		return;
	}
	const char *name = json_string_value(json_object_get(out, "name"));
	int64_t epoch = json_integer_value(json_object_get(out, "epoch"));
	json_t *tasks = json_object_get(out, "tasks");
	size_t nstopped = json_array_size(json_object_get(out, "stopped"));
	json_int_t waiting = json_integer_value(json_object_get(out, "waiting"));
	size_t i;
	json_t *t;

	if (json_is_true(json_object_get(out, "declared"))) {
		log_warn("failover: node %s declared dead (epoch now %lld): %zu vServer(s) restart "
			 "elsewhere, %zu stopped, %lld wait for their task",
			 name ? name : "?", (long long)epoch, json_array_size(tasks), nstopped,
			 (long long)waiting);
		/* A frozen agent's link may still be open: it must come back through a hello. */
		agents_close_node(srv, fc->node_id, epoch, "the node was declared dead");
	} else if (json_array_size(tasks) + nstopped > 0) {
		log_info("failover: node %s: %zu more vServer(s) restart elsewhere, %zu stopped",
			 name ? name : "?", json_array_size(tasks), nstopped);
	}
	if (json_array_size(tasks) + nstopped > 0 || fc->declare)
		capacity_invalidate(srv->capacity); /* cores and RAM released on the dead node */
	json_array_foreach (tasks, i, t)
		lifecycle_run(srv, json_integer_value(t));
	if (nd != NULL)
		nd->retry_at = nd->dead && waiting > 0 ? now_mono() + SWEEP_SECONDS : 0;
	json_decref(out);
	free(fc);
}

static void
node_fail(struct failover *fo, struct fo_node *nd, bool declare, double silent)
{
	static const char sql[] = "SELECT wr_node_fail($1, $2, $3)::text";
	struct fail_call *fc = malloc(sizeof(*fc));
	char id[24], reason[160];
	bool link_up = agents_node_online(fo->srv, nd->id);

	if (fc == NULL)
		return;
	fc->fo = fo;
	fc->node_id = nd->id;
	fc->declare = declare;
	snprintf(reason, sizeof(reason), "no heartbeat for %.1f s%s", silent,
		 link_up ? "; its link is still open, the agent may be frozen" : "");
	const char *params[] = {call_i64(id, nd->id), declare ? "true" : "false", reason};
	nd->busy = true;
	nd->retry_at = 0;
	if (declare) {
		nd->dead = true;
		log_warn("failover: node %lld: %s; declaring it dead", (long long)nd->id, reason);
	}
	db_query(fo->srv->db, sql, 3, params, failed, fc);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct failover *fo = arg;
	double now = now_mono();

	if (!fo->loaded || !db_is_up(fo->srv->db))
		return;
	for (size_t i = 0; i < fo->n; i++) {
		struct fo_node *nd = &fo->nodes[i];
		double silent = now - nd->heard;
		if (nd->busy)
			continue;
		if (!nd->dead && silent > delay_of(&fo->srv->settings, nd) &&
		    (nd->retry_at == 0 || now >= nd->retry_at))
			node_fail(fo, nd, true, silent);
		else if (nd->dead && nd->retry_at != 0 && now >= nd->retry_at)
			node_fail(fo, nd, false, silent);
	}
}

/* ------------------------------------------------------------------ fenced, not dead */

static void
fenced_restarted(const struct db_result *res, void *arg)
{
	struct server *srv = arg;
	json_t *tasks = NULL;
	size_t i;
	json_t *t;

	if (res->status != DB_OK || PQntuples(res->res) != 1 ||
	    (tasks = json_loads(PQgetvalue(res->res, 0, 0), 0, NULL)) == NULL) {
		log_error("failover: cannot restart fenced vServers: %s",
			  res->message ? res->message : "no answer");
		return;
	}
	if (json_array_size(tasks) > 0)
		log_warn("failover: %zu fenced failover vServer(s) start again on their node",
			 json_array_size(tasks));
	json_array_foreach (tasks, i, t)
		lifecycle_run(srv, json_integer_value(t));
	json_decref(tasks);
}

void
failover_node_fenced(struct server *srv, int64_t node_id, const char *vms)
{
	static const char sql[] = "SELECT wr_node_fenced_restart($1, $2::jsonb)::text";
	char id[24];
	const char *params[] = {call_i64(id, node_id), vms};

	/* Almost every hello has none: no statement for those. */
	if (vms == NULL || strstr(vms, "\"fenced\"") == NULL)
		return;
	db_query(srv->db, sql, 2, params, fenced_restarted, srv);
}

/* ------------------------------------------------------------------ loading */

static void load(struct failover *fo);

static void
on_load_retry(evutil_socket_t fd, short what, void *arg)
{
	load(arg);
}

static void
loaded(const struct db_result *res, void *arg)
{
	struct failover *fo = arg;
	double now = now_mono();

	if (res->status != DB_OK) {
		struct timeval tv = {LOAD_RETRY_SECONDS, 0};
		log_debug("failover: cannot load the nodes yet: %s",
			  res->message ? res->message : "-");
		evtimer_add(fo->load_timer, &tv);
		return;
	}
	for (int i = 0; i < PQntuples(res->res); i++) {
		int64_t id = strtoll(PQgetvalue(res->res, i, 0), NULL, 10);
		if (node_find(fo, id) != NULL)
			continue; /* said hello before the list came back */
		struct fo_node *nd = node_get(fo, id, now);
		if (nd != NULL && strcmp(PQgetvalue(res->res, i, 1), "dead") == 0) {
			nd->dead = true;
			nd->retry_at = now; /* vServers a previous run left placed there */
		}
	}
	fo->loaded = true;
	log_info("failover: watching %zu node(s); a node silent for %lld s is declared dead", fo->n,
		 fo->srv->settings.failover_after);
}

static void
load(struct failover *fo)
{
	static const char sql[] =
		"SELECT id, state FROM nodes WHERE state IN ('online', 'offline', 'dead')";

	db_query(fo->srv->db, sql, 0, NULL, loaded, fo);
}

bool
failover_start(struct server *srv)
{
	struct failover *fo = calloc(1, sizeof(*fo));
	struct timeval tick = {0, TICK_MS * 1000};

	if (fo == NULL)
		return false;
	fo->srv = srv;
	fo->tick = event_new(srv->base, -1, EV_PERSIST, on_tick, fo);
	fo->load_timer = evtimer_new(srv->base, on_load_retry, fo);
	if (fo->tick == NULL || fo->load_timer == NULL) {
		if (fo->tick)
			event_free(fo->tick);
		if (fo->load_timer)
			event_free(fo->load_timer);
		free(fo);
		return false;
	}
	srv->failover = fo;
	evtimer_add(fo->tick, &tick);
	load(fo);
	return true;
}

void
failover_stop(struct server *srv)
{
	struct failover *fo = srv->failover;

	if (fo == NULL)
		return;
	/* Only at exit, after the loop stopped: no callback of ours is pending any more. */
	event_free(fo->tick);
	event_free(fo->load_timer);
	free(fo->nodes);
	free(fo);
	srv->failover = NULL;
}
