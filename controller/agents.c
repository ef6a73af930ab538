/*
 * Agent links on the controller. A node proves who it is with the client certificate the CA
 * signed at join time; its CN is the node name and the only identity the link has, so a hello
 * naming another node is refused. Everything a node sends is size- and schema-checked
 * (common/jsonl.c, common/proto.c); bad messages get an error answer, and a node that keeps
 * sending them is disconnected. Heartbeats are kept in memory and written to the nodes table in
 * one statement every few seconds, so a thousand nodes cost one UPDATE, not a thousand.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "agents.h"
#include "ca.h"
#include "call.h"
#include "capacity.h"
#include "db.h"
#include "failover.h"
#include "guest_ips.h"
#include "jsonl.h"
#include "lifecycle.h"
#include "livemig.h"
#include "log.h"
#include "proto.h"
#include "server.h"
#include "stats_ingest.h"
#include "tls.h"

#define HEARTBEAT_SECONDS     1
#define FLUSH_SECONDS	      3
#define HELLO_TIMEOUT_SECONDS 10
#define BAD_MESSAGES_MAX      100
#define AGENT_OUTPUT_MAX      (4 * 1024 * 1024)

struct pending {
	struct pending *next;
	uint64_t id;
	agents_reply_fn reply;
	void *arg;
	struct event *timer;
	struct agent_link *link;
};

/* Owned by the server's list; freed when the connection ends. */
struct agent_link {
	struct agent_link *next;
	struct server *srv;
	struct bufferevent *bev;
	struct event *hello_timer;
	char cn[64];
	int64_t node_id; /* 0 until the hello was accepted */
	int64_t epoch;
	bool beat; /* a heartbeat arrived since the last flush */
	int bad;
	struct pending *pending;
	uint64_t next_id;
	bool closing;
	uint64_t serial; /* tells a new link from a freed one at the same address */
};

/* A database answer about a link that may have closed meanwhile. */
struct link_ref {
	struct server *srv;
	struct agent_link *l;
	uint64_t serial;
	char *vms;	       /* hello: the VMs the node reported, as JSON text */
	long long fence_after; /* hello: the agent's fence_after, 0 when not reported */
};

static struct agent_link *
link_ref_get(struct link_ref *ref)
{
	for (struct agent_link *x = ref->srv->agent_links; x != NULL; x = x->next)
		if (x == ref->l && x->serial == ref->serial && !x->closing)
			return x;
	return NULL;
}

static void link_close(struct agent_link *l, const char *reason);

static void
send_msg(struct agent_link *l, json_t *msg)
{
	struct evbuffer *out = bufferevent_get_output(l->bev);

	if (evbuffer_get_length(out) > AGENT_OUTPUT_MAX) {
		json_decref(msg);
		link_close(l, "the node does not read its messages");
		return;
	}
	if (!jsonl_write(out, msg))
		log_error("node %s: cannot encode a message", l->cn);
	json_decref(msg);
}

static void
send_error(struct agent_link *l, const char *code, const char *message)
{
	send_msg(l,
		 json_pack("{s:s, s:s, s:s}", "type", "error", "code", code, "message", message));
}

static void
pending_finish(struct pending *p, bool ok, json_t *result, const char *code, const char *msg)
{
	struct agent_link *l = p->link;

	for (struct pending **pp = &l->pending; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	event_free(p->timer);
	p->reply(p->arg, ok, result, code, msg);
	free(p);
}

static void
offline_done(const struct db_result *r, void *arg)
{
	if (r->status != DB_OK)
		log_warn("cannot mark a node offline: %s", r->message ? r->message : "-");
}

/*
 * The last link found per node id (modulo the size), so that a command to one of a thousand
 * nodes does not walk the whole list; link_free() forgets a link it frees.
 */
#define LINK_CACHE_SIZE 4096
static struct agent_link *link_cache[LINK_CACHE_SIZE];

/* Changes whenever a node's link is welcomed or closes (agents_online_generation()). */
static uint64_t online_generation = 1;

static void
link_free(struct agent_link *l)
{
	for (struct agent_link **pp = &l->srv->agent_links; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	}
	if (l->hello_timer)
		event_free(l->hello_timer);
	bufferevent_free(l->bev);
	if (link_cache[(uint64_t)l->node_id % LINK_CACHE_SIZE] == l)
		link_cache[(uint64_t)l->node_id % LINK_CACHE_SIZE] = NULL;
	free(l);
}

static void
link_close(struct agent_link *l, const char *reason)
{
	if (l->closing)
		return;
	l->closing = true;
	if (l->node_id != 0)
		online_generation++;
	log_info("node %s: link closed: %s", l->cn[0] ? l->cn : "(unidentified)", reason);
	while (l->pending != NULL)
		pending_finish(l->pending, false, NULL, "node_offline",
			       "the node's link closed before it answered");
	if (l->node_id != 0) {
		static const char sql[] = "UPDATE nodes SET state = 'offline' WHERE id = $1 AND "
					  "state = 'online'";
		char id[24];
		const char *params[] = {call_i64(id, l->node_id)};
		db_query(l->srv->db, sql, 1, params, offline_done, NULL);
	}
	link_free(l);
}

static struct agent_link *
link_of_node(struct server *srv, int64_t node_id)
{
	struct agent_link **slot = &link_cache[(uint64_t)node_id % LINK_CACHE_SIZE];

	if (*slot != NULL && (*slot)->node_id == node_id && !(*slot)->closing &&
	    (*slot)->srv == srv)
		return *slot;
	for (struct agent_link *l = srv->agent_links; l != NULL; l = l->next)
		if (l->node_id == node_id && !l->closing) {
			*slot = l;
			return l;
		}
	return NULL;
}

void
agents_close_node(struct server *srv, int64_t node_id, int64_t below_epoch, const char *reason)
{
	struct agent_link *l = link_of_node(srv, node_id);

	if (l != NULL && l->epoch < below_epoch)
		link_close(l, reason);
}

bool
agents_node_online(struct server *srv, int64_t node_id)
{
	return link_of_node(srv, node_id) != NULL;
}

static int
cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

bool
agents_ids_contain(const int64_t *ids, size_t n, int64_t id)
{
	return bsearch(&id, ids, n, sizeof(*ids), cmp_id) != NULL;
}

uint64_t
agents_online_generation(struct server *srv)
{
	(void)srv;
	return online_generation;
}

int64_t *
agents_online_ids(struct server *srv, size_t *n)
{
	size_t count = 0, i = 0;
	int64_t *ids;

	for (struct agent_link *l = srv->agent_links; l != NULL; l = l->next)
		count++;
	ids = calloc(count + 1, sizeof(*ids));
	if (ids == NULL) {
		*n = 0;
		return NULL;
	}
	for (struct agent_link *l = srv->agent_links; l != NULL; l = l->next)
		if (l->node_id != 0 && !l->closing)
			ids[i++] = l->node_id;
	qsort(ids, i, sizeof(*ids), cmp_id);
	*n = i;
	return ids;
}

static void
synced(const struct db_result *r, void *arg)
{
	if (r->status != DB_OK)
		log_warn("cannot sync VM states from a hello: %s", r->message ? r->message : "-");
}

/*
 * What the node runs is the truth about its vServers' power state (a guest may have stopped
 * while the link was down); vServers with a task in progress are left to their task.
 */
static void
sync_vm_states(struct agent_link *l, const char *vms)
{
	static const char sql[] =
		"UPDATE vservers v SET state = x.state FROM (SELECT (e->>'id')::bigint AS id, "
		"CASE e->>'state' WHEN 'running' THEN 'running' WHEN 'paused' THEN 'paused' "
		"WHEN 'stopped' THEN 'stopped' WHEN 'defined' THEN 'stopped' END AS state "
		"FROM jsonb_array_elements($2::jsonb) e) x WHERE v.id = x.id AND v.node_id = $1 "
		"AND x.state IS NOT NULL AND v.state <> x.state AND v.state NOT IN ('parked', "
		"'defined') AND NOT EXISTS (SELECT 1 FROM tasks k WHERE k.vserver_id = v.id AND "
		"k.status IN ('queued', 'running'))";
	char id[24];
	const char *params[] = {call_i64(id, l->node_id), vms ? vms : "[]"};

	db_query(l->srv->db, sql, 2, params, synced, NULL);
}

static void
hello_stored(const struct db_result *r, void *arg)
{
	struct link_ref *ref = arg;
	struct agent_link *l = link_ref_get(ref);
	char *vms = ref->vms;
	long long ref_fence_after = ref->fence_after;

	free(ref);
	if (l == NULL) {
		free(vms);
		return; /* closed while the inventory was being stored */
	}
	if (r->status != DB_OK || PQntuples(r->res) != 1) {
		send_error(l, "not_found",
			   r->status == DB_OK ? "this node has not joined (node-join)"
					      : "the controller cannot store the inventory now");
		link_close(l, r->status == DB_OK ? "unknown node" : "database unavailable");
		return;
	}
	int64_t node_id = strtoll(PQgetvalue(r->res, 0, 0), NULL, 10);
	struct agent_link *old = link_of_node(l->srv, node_id);
	if (old != NULL && old != l)
		link_close(old, "replaced by a new link from the same node");
	l->node_id = node_id;
	online_generation++;
	l->epoch = strtoll(PQgetvalue(r->res, 0, 1), NULL, 10);
	json_t *welcome = json_pack("{s:s, s:I, s:i}", "type", "welcome", "epoch",
				    (json_int_t)l->epoch, "heartbeat_interval", HEARTBEAT_SECONDS);
	/* Declared dead meanwhile: the VMs it must no longer run (controller/failover.c). */
	json_t *revoked = json_loads(PQgetvalue(r->res, 0, 2), 0, NULL);
	if (json_array_size(revoked) > 0) {
		log_warn("node %s comes back after it was declared dead: %zu VM(s) revoked", l->cn,
			 json_array_size(revoked));
		json_object_set(welcome, "revoked", revoked);
	}
	json_decref(revoked);
	send_msg(l, welcome);
	failover_node_hello(l->srv, node_id, ref_fence_after);
	log_info("node %s (id %lld) online, epoch %lld", l->cn, (long long)l->node_id,
		 (long long)l->epoch);
	/* Its inventory (cores, RAM, storages) may have changed. */
	capacity_invalidate(l->srv->capacity);
	sync_vm_states(l, vms);
	failover_node_fenced(l->srv, node_id, vms);
	free(vms);
}

static void
on_hello(struct agent_link *l, json_t *msg)
{
	static const char sql[] =
		"WITH inv AS (SELECT $2::jsonb AS j), "
		"n AS (UPDATE nodes SET state = 'online', cores = (j->>'cores')::int, "
		"housekeeping = ARRAY(SELECT jsonb_array_elements_text(j->'housekeeping')::int), "
		"dedicated = ARRAY(SELECT jsonb_array_elements_text(j->'dedicated')::int), "
		"ram_mb = (j->>'ram_mb')::bigint, "
		"bridges = ARRAY(SELECT jsonb_array_elements_text(j->'bridges')), "
		"qemu_version = j->>'qemu_version', kvm = (j->>'kvm')::bool, accel = j->>'accel', "
		"agent_version = $3, last_seen = now(), console_endpoint = j->>'console' "
		"FROM inv WHERE name = $1 "
		"RETURNING nodes.id, nodes.epoch), "
		"gone AS (DELETE FROM node_storages s USING n WHERE s.node_id = n.id AND s.name <> "
		"ALL(ARRAY(SELECT x->>'name' FROM inv, jsonb_array_elements(j->'storages') x))), "
		"st AS (INSERT INTO node_storages (node_id, name, path, shared, free_gb) "
		"SELECT n.id, x->>'name', x->>'path', (x->>'shared')::bool, "
		"(x->>'free_gb')::bigint "
		"FROM n, inv, jsonb_array_elements(j->'storages') x ON CONFLICT (node_id, name) DO "
		"UPDATE SET path = EXCLUDED.path, shared = EXCLUDED.shared, free_gb = "
		"EXCLUDED.free_gb) "
		"SELECT id, epoch, wr_node_revoked(id, $4::bigint, $5::jsonb)::text FROM n";

	if (l->node_id != 0) {
		send_error(l, "invalid", "hello was already sent");
		return;
	}
	char *inv = json_dumps(json_object_get(msg, "inventory"), JSON_COMPACT);
	char epoch[24];
	const char *params[] = {l->cn, inv, json_string_value(json_object_get(msg, "version")),
				call_i64(epoch, json_integer_value(json_object_get(msg, "epoch"))),
				NULL};
	if (l->hello_timer) {
		event_free(l->hello_timer);
		l->hello_timer = NULL;
	}
	struct link_ref *ref = malloc(sizeof(*ref));
	if (inv == NULL || ref == NULL) {
		free(inv);
		free(ref);
		link_close(l, "out of memory");
		return;
	}
	ref->srv = l->srv;
	ref->l = l;
	ref->serial = l->serial;
	ref->vms = json_dumps(json_object_get(msg, "vms"), JSON_COMPACT);
	ref->fence_after = json_integer_value(
		json_object_get(json_object_get(msg, "inventory"), "fence_after"));
	params[4] = ref->vms ? ref->vms : "[]";
	db_query(l->srv->db, sql, 5, params, hello_stored, ref);
	free(inv);
}

static void
on_reply(struct agent_link *l, json_t *msg)
{
	uint64_t id = (uint64_t)json_integer_value(json_object_get(msg, "id"));

	for (struct pending *p = l->pending; p != NULL; p = p->next) {
		if (p->id != id)
			continue;
		if (json_is_true(json_object_get(msg, "ok"))) {
			pending_finish(p, true, json_object_get(msg, "result"), NULL, NULL);
		} else {
			json_t *err = json_object_get(msg, "error");
			pending_finish(p, false, NULL,
				       json_string_value(json_object_get(err, "code")),
				       json_string_value(json_object_get(err, "message")));
		}
		return;
	}
	log_warn("node %s: reply to unknown command %llu", l->cn, (unsigned long long)id);
}

static void
on_message(struct agent_link *l, json_t *msg)
{
	char why[256];
	enum proto_type t = proto_check(PROTO_FROM_AGENT, msg, why, sizeof(why));

	if (t == PROTO_INVALID) {
		log_warn("node %s: bad message: %s", l->cn, why);
		send_error(l, "invalid", why);
		if (++l->bad > BAD_MESSAGES_MAX)
			link_close(l, "too many bad messages");
		return;
	}
	if (t != PROTO_HELLO && l->node_id == 0) {
		send_error(l, "invalid", "hello first");
		return;
	}
	failover_heard(l->srv, l->node_id);
	switch (t) {
	case PROTO_HELLO:
		on_hello(l, msg);
		return;
	case PROTO_HEARTBEAT:
		l->beat = true;
		/* The echo is the agent's proof of contact (nodeagent/fence.c). */
		send_msg(l, json_pack("{s:s, s:O}", "type", "heartbeat", "seq",
				      json_object_get(msg, "seq")));
		return;
	case PROTO_REPLY:
		on_reply(l, msg);
		return;
	case PROTO_IPS:
		if (!guest_ips_store(l->srv, l->node_id, l->cn, msg, why, sizeof(why))) {
			log_warn("node %s: bad ips message: %s", l->cn, why);
			send_error(l, "invalid", why);
		}
		return;
	case PROTO_STATS:
		stats_ingest(l->srv, l->node_id, l->cn, msg);
		return;
	case PROTO_EVENT:
		if (strcmp(json_string_value(json_object_get(msg, "event")), "migration") == 0) {
			livemig_node_event(l->srv, l->node_id,
					   json_integer_value(json_object_get(msg, "vm")),
					   json_string_value(json_object_get(msg, "detail")));
			return;
		}
		lifecycle_node_event(l->srv, l->node_id,
				     json_integer_value(json_object_get(msg, "vm")),
				     json_string_value(json_object_get(msg, "event")),
				     json_string_value(json_object_get(msg, "detail")));
		log_info("node %s: vServer %lld %s%s%s", l->cn,
			 (long long)json_integer_value(json_object_get(msg, "vm")),
			 json_string_value(json_object_get(msg, "event")),
			 json_object_get(msg, "detail") ? ": " : "",
			 json_string_value(json_object_get(msg, "detail")) ?: "");
		return;
	default:
		send_error(l, "invalid", "not a message an agent sends");
		return;
	}
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct agent_link *l = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char why[256];

	for (;;) {
		json_t *msg = NULL;
		enum jsonl_status st = jsonl_read(in, &msg, why, sizeof(why));
		switch (st) {
		case JSONL_AGAIN:
			return;
		case JSONL_TOO_LONG:
			link_close(l, "line too long");
			return;
		case JSONL_BAD:
			send_error(l, "invalid", why);
			if (++l->bad > BAD_MESSAGES_MAX) {
				link_close(l, "too many bad messages");
				return;
			}
			continue;
		case JSONL_OK:
			on_message(l, msg);
			json_decref(msg);
			if (l->closing)
				return;
			continue;
		}
	}
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct agent_link *l = arg;

	if (what & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(bev);
		if (!tls_peer_cn(ssl, l->cn, sizeof(l->cn))) {
			link_close(l, "no verified client certificate");
			return;
		}
		log_debug("node %s: TLS up", l->cn);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		char reason[128];
		unsigned long e = bufferevent_get_openssl_error(bev);
		if (e != 0)
			ERR_error_string_n(e, reason, sizeof(reason));
		else
			snprintf(reason, sizeof(reason), "%s",
				 what & BEV_EVENT_EOF	    ? "the node closed the connection"
				 : what & BEV_EVENT_TIMEOUT ? "no data from the node"
							    : strerror(errno));
		link_close(l, reason);
	}
}

static void
on_hello_timeout(evutil_socket_t fd, short what, void *arg)
{
	link_close(arg, "no hello in time");
}

static void
on_accept(struct evconnlistener *lst, evutil_socket_t fd, struct sockaddr *sa, int socklen,
	  void *arg)
{
	struct server *srv = arg;
	struct agent_link *l = calloc(1, sizeof(*l));
	SSL *ssl = SSL_new(srv->agent_tls);
	struct timeval hello = {HELLO_TIMEOUT_SECONDS, 0};
	/* Three missed heartbeats and more: the link is dead even if TCP does not know yet. */
	struct timeval idle = {HEARTBEAT_SECONDS * 10, 0};

	if (l == NULL || ssl == NULL) {
		free(l);
		SSL_free(ssl);
		evutil_closesocket(fd);
		return;
	}
	l->srv = srv;
	l->bev = bufferevent_openssl_socket_new(srv->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
						BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (l->bev == NULL) {
		free(l);
		evutil_closesocket(fd);
		return;
	}
	l->serial = ++srv->agent_serial;
	l->next = srv->agent_links;
	srv->agent_links = l;
	bufferevent_setcb(l->bev, on_read, NULL, on_event, l);
	bufferevent_set_timeouts(l->bev, &idle, NULL);
	bufferevent_enable(l->bev, EV_READ | EV_WRITE);
	l->hello_timer = evtimer_new(srv->base, on_hello_timeout, l);
	evtimer_add(l->hello_timer, &hello);
}

static void
flush_done(const struct db_result *r, void *arg)
{
	if (r->status != DB_OK)
		log_debug("heartbeat flush skipped: %s", r->message ? r->message : "-");
}

static void
on_flush(evutil_socket_t fd, short what, void *arg)
{
	/*
	 * Rows locked in id order, like the scheduler's batches: no deadlock between the two. NO
	 * KEY UPDATE (what the UPDATE takes anyway), so foreign-key checks on nodes (a disk's node,
	 * a vCPU's core) are not held up while the thousand rows are written; SKIP LOCKED, so the
	 * flush never queues behind a placement batch (holding the rows it already has, which
	 * stalled the next batches): a node being placed on gets its last_seen at the next flush.
	 */
	static const char sql[] =
		"UPDATE nodes SET last_seen = now() WHERE id IN (SELECT id FROM "
		"nodes WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE "
		"SKIP LOCKED)";
	struct server *srv = arg;
	size_t count = 0, cap, used;
	char *ids;

	for (struct agent_link *l = srv->agent_links; l != NULL; l = l->next)
		count += l->beat && l->node_id != 0;
	if (count == 0)
		return;
	cap = count * 24 + 3;
	ids = malloc(cap);
	if (ids == NULL)
		return;
	used = (size_t)snprintf(ids, cap, "{");
	for (struct agent_link *l = srv->agent_links; l != NULL; l = l->next) {
		if (!l->beat || l->node_id == 0)
			continue;
		used += (size_t)snprintf(ids + used, cap - used, "%s%lld", used > 1 ? "," : "",
					 (long long)l->node_id);
		l->beat = false;
	}
	snprintf(ids + used, cap - used, "}");
	const char *params[] = {ids};
	db_query(srv->db, sql, 1, params, flush_done, NULL);
	free(ids);
}

static void
on_command_timeout(evutil_socket_t fd, short what, void *arg)
{
	pending_finish(arg, false, NULL, "timeout", "the node did not answer in time");
}

struct deferred_failure {
	agents_reply_fn reply;
	void *arg;
};

static void
fire_offline(evutil_socket_t fd, short what, void *p)
{
	struct deferred_failure *d = p;
	d->reply(d->arg, false, NULL, "node_offline", "the node is not connected");
	free(d);
}

void
agents_command(struct server *srv, int64_t node_id, int64_t task_id, const char *op, json_t *args,
	       int timeout_seconds, agents_reply_fn reply, void *arg)
{
	struct agent_link *l = link_of_node(srv, node_id);
	struct timeval tv = {timeout_seconds, 0};

	if (l == NULL) {
		/* Answer later, never inside the caller. */
		struct deferred_failure *d = malloc(sizeof(*d));
		if (d != NULL) {
			d->reply = reply;
			d->arg = arg;
			if (event_base_once(srv->base, -1, EV_TIMEOUT, fire_offline, d, NULL) == 0)
				return;
			free(d);
		}
		reply(arg, false, NULL, "node_offline", "the node is not connected");
		return;
	}
	struct pending *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		reply(arg, false, NULL, "busy", "out of memory");
		return;
	}
	p->id = ++l->next_id;
	p->reply = reply;
	p->arg = arg;
	p->link = l;
	p->timer = evtimer_new(srv->base, on_command_timeout, p);
	evtimer_add(p->timer, &tv);
	p->next = l->pending;
	l->pending = p;
	send_msg(l, json_pack("{s:s, s:I, s:I, s:I, s:s, s:O}", "type", "command", "id",
			      (json_int_t)p->id, "task", (json_int_t)task_id, "epoch",
			      (json_int_t)l->epoch, "op", op, "args", args ? args : json_object()));
}

bool
agents_start(struct server *srv)
{
	const struct settings *s = &srv->settings;
	char why[256], host[256];
	int port;
	struct timeval flush = {FLUSH_SECONDS, 0};

	if (s->ca_cert == NULL) {
		log_warn("no ca_cert configured: node agents cannot connect");
		return true;
	}
	if (!config_parse_hostport(s->agent_listen, host, sizeof(host), &port))
		return false;
	/* Agents verify the listener against the node CA and the address they dial. */
	char names[1024], hostname[256] = "";
	gethostname(hostname, sizeof(hostname) - 1);
	if (s->agent_names != NULL)
		snprintf(names, sizeof(names), "%s", s->agent_names);
	else
		snprintf(names, sizeof(names), "%s,localhost,127.0.0.1,%s",
			 strcmp(host, "0.0.0.0") && strcmp(host, "::") ? host : "localhost",
			 hostname);
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	if (!ca_issue_server(s->ca_cert, s->ca_key, names, &cert, &key, why, sizeof(why))) {
		log_error("agent listener: %s", why);
		return false;
	}
	srv->agent_tls = tls_server_ctx_mutual_mem(cert, key, s->ca_cert, why, sizeof(why));
	X509_free(cert);
	EVP_PKEY_free(key);
	if (srv->agent_tls == NULL) {
		log_error("agent listener: %s", why);
		return false;
	}
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);
	char spec[300];
	snprintf(spec, sizeof(spec), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
	if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)&ss, &sslen) != 0) {
		log_error("agent_listen: '%s' is not a numeric address", s->agent_listen);
		return false;
	}
	srv->agent_listener = evconnlistener_new_bind(srv->base, on_accept, srv,
						      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
						      128, (struct sockaddr *)&ss, sslen);
	if (srv->agent_listener == NULL) {
		log_error("cannot listen for agents on %s: %s", s->agent_listen, strerror(errno));
		return false;
	}
	srv->agent_flush = event_new(srv->base, -1, EV_PERSIST, on_flush, srv);
	evtimer_add(srv->agent_flush, &flush);
	log_info("listening for node agents on %s", s->agent_listen);
	return true;
}

void
agents_stop(struct server *srv)
{
	while (srv->agent_links != NULL)
		link_close(srv->agent_links, "controller shutting down");
	if (srv->agent_listener != NULL)
		evconnlistener_free(srv->agent_listener);
	if (srv->agent_flush != NULL)
		event_free(srv->agent_flush);
	SSL_CTX_free(srv->agent_tls);
	srv->agent_listener = NULL;
	srv->agent_flush = NULL;
	srv->agent_tls = NULL;
}
