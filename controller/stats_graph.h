/*
 * Statistics out of the RRDs: graph PNGs at /stats/<vserver|node>/<id>/<metric>.png?range=...
 * (rrd_graph) and the numbers behind them (rrd_xport, for the stats-get operation). librrd runs
 * on the worker pool only, one call at a time (its graphing stack is not made for threads);
 * recent PNGs are cached for a few seconds. Rights come first, before the cache: stats.view on
 * the vServer; for nodes, stats.view on the provider's root account. An object the caller may
 * not see is "not found", exactly like a missing one.
 */
#ifndef WEBRACK_STATS_GRAPH_H
#define WEBRACK_STATS_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "call.h"
#include "stats_rrd.h"

struct server;
struct evhttp_request;

#define STATS_GRAPH_CACHE_SECONDS 10

/* GET /stats/REST (REST = "vserver/12/cpu.png"); the query may carry range=day|week|... */
void stats_graph_handle(struct server *srv, struct evhttp_request *req, const char *rest);

/* Free the PNG cache (at exit). */
void stats_graph_cache_free(struct server *srv);

/* Rights: stats.view on the object; next runs only when allowed (c->subject is set). */
void stats_check_access(struct call *c, enum stats_kind kind, int64_t id, call_done_fn next);

#endif
