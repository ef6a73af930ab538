/*
 * The state of one webrackd process: its settings, loop, database pool, worker pool and HTTP
 * listener. One instance, owned by main(), passed to every module that needs it.
 */
#ifndef WEBRACK_SERVER_H
#define WEBRACK_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "settings.h"

struct event_base;
struct evhttp;
struct evhttp_bound_socket;
struct db;
struct workq;
struct evconnlistener;
struct agent_link;
struct stats_writer;
struct stats_graph_cache;
struct failover;
struct auth_cache;
struct vserver_cache;

struct server {
	const char *config_file;
	struct settings settings;
	struct event_base *base;
	struct db *db;
	struct workq *workq;
	SSL_CTX *tls;
	struct evhttp *http;
	struct evhttp_bound_socket *listener;
	int inflight; /* API calls not yet answered */
	bool draining;
	struct event *drain_timer;
	struct event *maint_timer;
	struct event *resume_timer;
	SSL_CTX *agent_tls;
	struct evconnlistener *agent_listener;
	struct event *agent_flush;
	struct agent_link *agent_links; /* live node links, see agents.c */
	struct capacity *capacity;	/* the scheduler's cache, see capacity.c */
	uint64_t agent_serial;
	double started;			       /* CLOCK_REALTIME seconds at start-up */
	struct stats_writer *stats_writer;     /* RRD writes, see stats_rrd.c */
	struct stats_graph_cache *stats_cache; /* recent graph PNGs, see stats_graph.c */
	struct console *console;	       /* console proxy, see console.c */
	struct failover *failover;	       /* the failover monitor, see failover.c */
	struct auth_cache *auth_cache;	       /* token → principal, see auth_cache.c */
	struct vserver_cache *vserver_cache;   /* recent vserver-get reads, see vserver_cache.c */
};

/* Called when an API call finishes; completes a drain when it was the last one. */
void server_call_done(struct server *srv);

#endif
