/*
 * Graph PNGs and series of the statistics RRDs (see stats_graph.h). A request runs as a struct
 * call like an API operation, so authentication and rights are exactly the operations' ones;
 * only the answer differs (image/png instead of JSON). No CSRF token is asked for: the route
 * only reads, an <img> cannot send headers, and the session cookie is SameSite=Strict.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api_json.h"
#include "api_ops.h"
#include "auth.h"
#include "http.h"
#include "log.h"
#include "server.h"
#include "stats_draw.h"
#include "stats_graph.h"
#include "workq.h"

#define CACHE_ENTRIES 64

/* ---- rights ---- */

void
stats_check_access(struct call *c, enum stats_kind kind, int64_t id, call_done_fn next)
{
	if (kind == STATS_VSERVER) {
		call_resolve(c, "vserver", id, PRIV_STATS_VIEW, next);
		return;
	}
	/* Nodes are the provider's hardware: its staff (stats.view on the root account) only. */
	int64_t root = c->who.path_len > 0 ? c->who.path[0] : 0;
	if (root == 0 || (call_privs(c, &root, 1, 0, 0) & PRIV_STATS_VIEW) == 0) {
		call_fail(c, API_NOT_FOUND, "node not found");
		return;
	}
	c->subject.type = "node";
	c->subject.id = id;
	c->subject.path[0] = root;
	c->subject.path_len = 1;
	c->subject.set = true;
	next(c);
}

/* ---- cache (loop thread only) ---- */

struct cache_entry {
	char key[96];
	unsigned char *png;
	size_t len;
	time_t expires;
};

/* Owner: the server (srv->stats_cache); freed at exit. */
struct stats_graph_cache {
	struct cache_entry e[CACHE_ENTRIES];
};

static struct cache_entry *
cache_find(struct server *srv, const char *key)
{
	time_t now = time(NULL);

	if (srv->stats_cache == NULL)
		return NULL;
	for (size_t i = 0; i < CACHE_ENTRIES; i++) {
		struct cache_entry *e = &srv->stats_cache->e[i];
		if (e->png != NULL && e->expires > now && strcmp(e->key, key) == 0)
			return e;
	}
	return NULL;
}

static void
cache_put(struct server *srv, const char *key, const unsigned char *png, size_t len)
{
	time_t now = time(NULL);
	struct cache_entry *slot = NULL;

	if (srv->stats_cache == NULL &&
	    (srv->stats_cache = calloc(1, sizeof(*srv->stats_cache))) == NULL)
		return;
	/* An expired entry, else the one expiring first. */
	for (size_t i = 0; i < CACHE_ENTRIES; i++) {
		struct cache_entry *e = &srv->stats_cache->e[i];
		if (slot == NULL || e->png == NULL || e->expires <= now ||
		    e->expires < slot->expires)
			slot = e;
		if (e->png == NULL || e->expires <= now)
			break;
	}
	unsigned char *copy = malloc(len);
	if (copy == NULL)
		return;
	memcpy(copy, png, len);
	free(slot->png);
	snprintf(slot->key, sizeof(slot->key), "%s", key);
	slot->png = copy;
	slot->len = len;
	slot->expires = now + STATS_GRAPH_CACHE_SECONDS;
}

void
stats_graph_cache_free(struct server *srv)
{
	if (srv->stats_cache == NULL)
		return;
	for (size_t i = 0; i < CACHE_ENTRIES; i++)
		free(srv->stats_cache->e[i].png);
	free(srv->stats_cache);
	srv->stats_cache = NULL;
}

/* ---- the route ---- */

/* The graph request's own data: c->state. */
struct graph {
	enum stats_kind kind;
	int64_t id;
	const struct stats_metric *metric;
	enum stats_range range;
	char key[96];
	char rrd[1024];
	char daemon[256];
	unsigned char *png;
	size_t len;
	char err[512];
	struct call *c;
};

static void
graph_free(void *p)
{
	struct graph *g = p;
	free(g->png);
	free(g);
}

static void
send_png(struct evhttp_request *req, const unsigned char *png, size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *out = evbuffer_new();

	http_add_security_headers(req);
	evhttp_add_header(h, "Content-Type", "image/png");
	evhttp_add_header(h, "Cache-Control", "private, max-age=10");
	evbuffer_add(out, png, len);
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
}

/* c->respond: the PNG in c->state on success, the API's JSON error otherwise. */
static void
graph_respond(struct call *c, enum api_error err, const char *message, json_t *result)
{
	struct graph *g = c->state;
	struct server *srv = c->srv;

	json_decref(result);
	if (err == API_OK && g != NULL && g->png != NULL)
		send_png(c->binding, g->png, g->len);
	else
		api_json_send_error(c->binding, err == API_OK ? API_INTERNAL : err,
				    message ? message : "");
	api_json_call_free(c);
	server_call_done(srv);
}

static void
render_work(void *arg)
{
	struct graph *g = arg;

	if (stats_draw_png(g->rrd, g->daemon, g->metric, g->range, (int64_t)time(NULL), &g->png,
			   &g->len, g->err, sizeof(g->err)) != 0)
		g->png = NULL;
}

static void
render_done(void *arg)
{
	struct graph *g = arg;
	struct call *c = g->c;

	if (g->png != NULL) {
		cache_put(c->srv, g->key, g->png, g->len);
		call_reply(c, NULL);
	} else if (strcmp(g->err, "no_data") == 0) {
		call_fail(c, API_NOT_FOUND, "no statistics recorded for this %s yet",
			  stats_kind_name(g->kind));
	} else {
		log_warn("stats: graph of %s %" PRId64 " %s: %s", stats_kind_name(g->kind), g->id,
			 g->metric->name, g->err);
		call_fail(c, API_INTERNAL, "the graph could not be drawn (logged)");
	}
}

static void
allowed(struct call *c)
{
	struct graph *g = c->state;
	struct cache_entry *e = cache_find(c->srv, g->key);

	if (e != NULL) {
		g->png = malloc(e->len);
		if (g->png != NULL) {
			memcpy(g->png, e->png, e->len);
			g->len = e->len;
			call_reply(c, NULL);
			return;
		}
	}
	if (!stats_rrd_path(c->srv->settings.rrd_dir, g->kind, g->id, g->rrd, sizeof(g->rrd))) {
		call_fail(c, API_INTERNAL, "rrd_dir is too long");
		return;
	}
	snprintf(g->daemon, sizeof(g->daemon), "%s", stats_writer_daemon(c->srv->stats_writer));
	if (!workq_submit(c->srv->workq, render_work, render_done, g))
		call_fail(c, API_BUSY, "the controller is busy; try again shortly");
}

static void
authenticated(struct call *c)
{
	struct graph *g = c->state;

	if (c->who.mfa_pending || c->who.enrol_only) {
		call_fail(c, API_UNAUTHENTICATED, "log in completely first");
		return;
	}
	stats_check_access(c, g->kind, g->id, allowed);
}

/* "vserver/12/cpu.png" into g; false with why for a malformed path. */
static bool
parse_rest(const char *rest, struct graph *g, char *why, size_t whylen)
{
	char kind[16], metric[32];
	long long id;
	int end = 0;

	if (sscanf(rest, "%15[a-z]/%lld/%31[a-z].png%n", kind, &id, metric, &end) != 3 ||
	    rest[end] != '\0' || id < 1) {
		snprintf(why, whylen,
			 "use /stats/<vserver|node>/<id>/<metric>.png?range=day|week|"
			 "month|year");
		return false;
	}
	if (!stats_kind_parse(kind, &g->kind)) {
		snprintf(why, whylen, "unknown kind '%s' (vserver or node)", kind);
		return false;
	}
	g->id = id;
	g->metric = stats_metric_find(g->kind, metric);
	if (g->metric == NULL) {
		snprintf(why, whylen, "unknown metric '%s' (%s)", metric,
			 stats_metric_names(g->kind));
		return false;
	}
	return true;
}

void
stats_graph_handle(struct server *srv, struct evhttp_request *req, const char *rest)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	struct evkeyvalq q;
	char why[256];
	const char *range = "day";
	struct graph *g = calloc(1, sizeof(*g));

	if (g == NULL) {
		api_json_send_error(req, API_BUSY, "out of memory");
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
	    evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		free(g);
		api_json_send_error(req, API_INVALID, "use GET");
		return;
	}
	if (!parse_rest(rest, g, why, sizeof(why))) {
		free(g);
		api_json_send_error(req, API_INVALID, why);
		return;
	}
	TAILQ_INIT(&q);
	if (query != NULL && evhttp_parse_query_str(query, &q) == 0) {
		const char *r = evhttp_find_header(&q, "range");
		if (r != NULL && strlen(r) < 16)
			snprintf(why, sizeof(why), "%s", r);
		else
			snprintf(why, sizeof(why), "%s", r != NULL ? "?" : "day");
		range = why;
	}
	if (!stats_range_parse(range, &g->range)) {
		evhttp_clear_headers(&q);
		free(g);
		api_json_send_error(req, API_INVALID, "range must be day, week, month or year");
		return;
	}
	evhttp_clear_headers(&q);
	snprintf(g->key, sizeof(g->key), "%s/%" PRId64 "/%s/%d", stats_kind_name(g->kind), g->id,
		 g->metric->name, (int)g->range);

	struct call *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		free(g);
		api_json_send_error(req, API_BUSY, "out of memory");
		return;
	}
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	c->started = (double)now.tv_sec + now.tv_nsec / 1e9;
	c->srv = srv;
	c->op = api_op_find("stats-get"); /* same rights, never journaled (read-only) */
	c->args = json_object();
	c->binding = req;
	c->respond = graph_respond;
	c->state = g;
	c->state_free = graph_free;
	g->c = c;
	srv->inflight++;
	api_json_take_credentials(c, req);
	auth_authenticate(c, authenticated);
}
