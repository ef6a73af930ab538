/*
 * Cached node capacity and batched placement. One batch at a time is in flight: while its
 * commit runs, new requests queue up and form the next batch, so the commit rate adapts to the
 * load (one request per batch when idle, hundreds under a burst) the way group commit does.
 *
 * The cache is loaded from the node_capacity view (and the anti-affinity groups placed on each
 * node), changed by every placement this controller commits, and reloaded when someone calls
 * capacity_invalidate(), when a commit reports a conflict, when a request finds no room on a
 * cache older than a second (the room may have been freed behind its back), and at the latest
 * every CACHE_MAX_AGE seconds.
 *
 * A batch is committed by wr_place_batch() (sql/016_placement_sets.sql, now 021), which for
 * start tasks also prepares the rest of the start (NIC, step, the VM definition's parts, which
 * start_info() puts together) in the same transaction; its statements run on the batch pool
 * (capacity_db()).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "agents.h"
#include "call.h"
#include "capacity.h"
#include "db.h"
#include "log.h"
#include "server.h"

#define BATCH_MAX	     512
#define BATCH_POOL	     3 /* placement, task rows, task ends: one statement each at a time */
#define ATTEMPTS	     3
#define CACHE_MAX_AGE	     30.0
#define NO_ROOM_RELOAD_AFTER 1.0

struct pending {
	struct pending *next;
	int64_t vserver_id;
	int64_t task_id; /* the start task the placement is for, 0 = none */
	struct placement_request req;
	char *group;
	int attempts;
	bool reloaded;	   /* decided once more on a fresh cache after finding no room */
	int64_t placed_on; /* capacity_prepare(): the node it is placed on already, no decision */
	size_t pick;	   /* index of the chosen node within the batch */
	capacity_placed_fn done;
	void *arg;
};

struct group_count {
	int64_t node_id;
	char *group;
	int count;
};

struct capacity {
	struct server *srv;
	struct db *db;		      /* the batch pool (capacity_db()) */
	struct placement_node *nodes; /* sorted by id */
	bool *db_online;	      /* the nodes table says online; the link must agree */
	size_t n;
	uint64_t online_gen; /* agents_online_generation() nodes[].online was computed for */
	struct group_count *groups;
	size_t ngroups, groups_cap;
	bool valid;
	double loaded_at;
	bool busy; /* a load or a commit is in flight */
	struct pending *head, **tail;
	struct pending **batch;
	size_t nbatch;
	struct event *kick;
};

static void process(struct capacity *cap);

static double
now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
on_kick(evutil_socket_t fd, short what, void *arg)
{
	process(arg);
}

struct capacity *
capacity_new(struct server *srv)
{
	struct capacity *cap = calloc(1, sizeof(*cap));

	if (cap == NULL)
		return NULL;
	cap->srv = srv;
	cap->tail = &cap->head;
	cap->batch = calloc(BATCH_MAX, sizeof(*cap->batch));
	cap->kick = event_new(srv->base, -1, 0, on_kick, cap);
	cap->db = db_new(srv->base, srv->settings.db, BATCH_POOL, (int)srv->settings.db_queue_max);
	if (cap->db != NULL)
		db_set_pipeline_depth(cap->db, 1);
	if (cap->batch == NULL || cap->kick == NULL) {
		capacity_free(cap);
		return NULL;
	}
	return cap;
}

static void
clear_nodes(struct capacity *cap)
{
	for (size_t i = 0; i < cap->n; i++)
		free((char *)cap->nodes[i].name);
	free(cap->nodes);
	free(cap->db_online);
	cap->nodes = NULL;
	cap->db_online = NULL;
	cap->n = 0;
	cap->online_gen = 0; /* never a generation: computed again for the next batch */
	for (size_t i = 0; i < cap->ngroups; i++)
		free(cap->groups[i].group);
	free(cap->groups);
	cap->groups = NULL;
	cap->ngroups = cap->groups_cap = 0;
}

static void
pending_free(struct pending *p)
{
	free(p->group);
	free(p);
}

void
capacity_free(struct capacity *cap)
{
	if (cap == NULL)
		return;
	/* Only at exit, after the loop stopped: the waiting tasks resume at the next start. */
	while (cap->head != NULL) {
		struct pending *p = cap->head;
		cap->head = p->next;
		pending_free(p);
	}
	clear_nodes(cap);
	free(cap->batch);
	if (cap->kick != NULL)
		event_free(cap->kick);
	/*
	 * The batch pool is left to the process's exit: freeing it answers its statements in
	 * flight, whose callbacks lead into the engine and into API calls that the rest of the
	 * teardown may still feed.
	 */
	free(cap);
}

struct db *
capacity_db(void *ctx)
{
	struct server *srv = ctx;
	struct capacity *cap = srv->capacity;

	return cap != NULL && cap->db != NULL && db_is_up(cap->db) ? cap->db : srv->db;
}

void
capacity_invalidate(struct capacity *cap)
{
	cap->valid = false;
}

static void
enqueue(struct capacity *cap, struct pending *p)
{
	p->next = NULL;
	*cap->tail = p;
	cap->tail = &p->next;
	if (!cap->busy)
		event_active(cap->kick, EV_TIMEOUT, 0);
}

void
capacity_place(struct capacity *cap, int64_t vserver_id, int64_t start_task,
	       const struct placement_request *req, const char *anti_affinity,
	       capacity_placed_fn done, void *arg)
{
	struct pending *p = calloc(1, sizeof(*p));

	if (p == NULL || (anti_affinity != NULL && (p->group = strdup(anti_affinity)) == NULL)) {
		free(p);
		done(arg, 0, NULL, "out of memory", NULL);
		return;
	}
	p->vserver_id = vserver_id;
	p->task_id = start_task;
	p->req = *req;
	p->req.anti_affinity = anti_affinity != NULL;
	p->done = done;
	p->arg = arg;
	enqueue(cap, p);
}

void
capacity_prepare(struct capacity *cap, int64_t vserver_id, int64_t node_id, int64_t start_task,
		 capacity_placed_fn done, void *arg)
{
	struct pending *p = calloc(1, sizeof(*p));

	if (p == NULL) {
		done(arg, 0, NULL, "out of memory", NULL);
		return;
	}
	p->vserver_id = vserver_id;
	p->task_id = start_task;
	p->placed_on = node_id;
	p->done = done;
	p->arg = arg;
	enqueue(cap, p);
}

static int
cmp_node(const void *key, const void *elem)
{
	int64_t id = *(const int64_t *)key, other = ((const struct placement_node *)elem)->id;
	return (id > other) - (id < other);
}

/* Fail every queued request (the cache cannot be loaded). */
static void
fail_queue(struct capacity *cap, const char *error)
{
	struct pending *p = cap->head;

	cap->head = NULL;
	cap->tail = &cap->head;
	while (p != NULL) {
		struct pending *next = p->next;
		p->done(p->arg, 0, NULL, error, NULL);
		pending_free(p);
		p = next;
	}
}

/* ------------------------------------------------------------------ loading */

static struct group_count *
group_find(struct capacity *cap, int64_t node_id, const char *group)
{
	for (size_t i = 0; i < cap->ngroups; i++)
		if (cap->groups[i].node_id == node_id && strcmp(cap->groups[i].group, group) == 0)
			return &cap->groups[i];
	return NULL;
}

static bool
group_add(struct capacity *cap, int64_t node_id, const char *group, int count)
{
	struct group_count *g = group_find(cap, node_id, group);

	if (g != NULL) {
		g->count += count;
		return true;
	}
	if (cap->ngroups == cap->groups_cap) {
		size_t ncap = cap->groups_cap ? cap->groups_cap * 2 : 64;
		struct group_count *ng = realloc(cap->groups, ncap * sizeof(*ng));
		if (ng == NULL)
			return false;
		cap->groups = ng;
		cap->groups_cap = ncap;
	}
	g = &cap->groups[cap->ngroups];
	g->group = strdup(group);
	if (g->group == NULL)
		return false;
	g->node_id = node_id;
	g->count = count;
	cap->ngroups++;
	return true;
}

static void
load_failed(struct capacity *cap, const struct db_result *res)
{
	char error[300];

	snprintf(error, sizeof(error), "cannot read node capacity: %s",
		 res->message ? res->message : "database error");
	log_error("scheduler: %s", error);
	clear_nodes(cap);
	cap->valid = false;
	cap->busy = false;
	fail_queue(cap, error);
}

static void
groups_loaded(const struct db_result *res, void *arg)
{
	struct capacity *cap = arg;

	if (res->status != DB_OK) {
		load_failed(cap, res);
		return;
	}
	for (int i = 0; i < PQntuples(res->res); i++) {
		if (!group_add(cap, strtoll(PQgetvalue(res->res, i, 0), NULL, 10),
			       PQgetvalue(res->res, i, 1), atoi(PQgetvalue(res->res, i, 2)))) {
			struct db_result oom = {.status = DB_SQL_ERROR, .message = "out of memory"};
			load_failed(cap, &oom);
			return;
		}
	}
	cap->valid = true;
	cap->loaded_at = now_seconds();
	cap->busy = false;
	log_debug("scheduler: capacity of %zu nodes loaded", cap->n);
	process(cap);
}

static void
nodes_loaded(const struct db_result *res, void *arg)
{
	static const char sql[] = "SELECT node_id, anti_affinity, count(*) FROM vservers WHERE "
				  "anti_affinity IS NOT NULL AND node_id IS NOT NULL GROUP BY 1, 2";
	struct capacity *cap = arg;

	if (res->status != DB_OK) {
		load_failed(cap, res);
		return;
	}
	clear_nodes(cap);
	size_t n = (size_t)PQntuples(res->res);
	cap->nodes = calloc(n + 1, sizeof(*cap->nodes));
	cap->db_online = calloc(n + 1, sizeof(*cap->db_online));
	if (cap->nodes == NULL || cap->db_online == NULL) {
		struct db_result oom = {.status = DB_SQL_ERROR, .message = "out of memory"};
		load_failed(cap, &oom);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const PGresult *r = res->res;
		struct placement_node *nd = &cap->nodes[cap->n];
		nd->name = strdup(PQgetvalue(r, (int)i, 1));
		if (nd->name == NULL)
			break;
		nd->id = strtoll(PQgetvalue(r, (int)i, 0), NULL, 10);
		cap->db_online[cap->n] = PQgetvalue(r, (int)i, 2)[0] == 't';
		nd->maintenance = PQgetvalue(r, (int)i, 3)[0] == 't';
		nd->reserve = PQgetvalue(r, (int)i, 4)[0] == 't';
		nd->vdc_id = strtoll(PQgetvalue(r, (int)i, 5), NULL, 10);
		nd->free_cores = atoi(PQgetvalue(r, (int)i, 6));
		nd->free_ram_mb = strtoll(PQgetvalue(r, (int)i, 7), NULL, 10);
		nd->free_disk_gb = strtoll(PQgetvalue(r, (int)i, 8), NULL, 10);
		cap->n++;
	}
	db_query(cap->srv->db, sql, 0, NULL, groups_loaded, cap);
}

static void
load(struct capacity *cap)
{
	static const char sql[] = "SELECT id, name, online, maintenance, reserve, vdc_id, "
				  "free_cores, free_ram_mb, free_disk_gb FROM node_capacity "
				  "ORDER BY id";
	cap->busy = true;
	db_query(cap->srv->db, sql, 0, NULL, nodes_loaded, cap);
}

/* ------------------------------------------------------------------ deciding */

/* Decide one request against the cache; on success take the room from the cache. */
static int
decide(struct capacity *cap, struct pending *p, char *why, size_t whylen)
{
	if (p->group != NULL)
		for (size_t i = 0; i < cap->ngroups; i++) {
			if (strcmp(cap->groups[i].group, p->group) != 0)
				continue;
			for (size_t k = 0; k < cap->n; k++)
				if (cap->nodes[k].id == cap->groups[i].node_id)
					cap->nodes[k].group_members = cap->groups[i].count;
		}
	int pick = placement_pick(cap->nodes, cap->n, &p->req, why, whylen);
	if (p->group != NULL)
		for (size_t k = 0; k < cap->n; k++)
			cap->nodes[k].group_members = 0;
	if (pick < 0)
		return -1;
	struct placement_node *nd = &cap->nodes[pick];
	nd->free_cores -= p->req.cores;
	nd->free_ram_mb -= p->req.ram_mb;
	nd->free_disk_gb -= p->req.disk_gb;
	if (p->group != NULL && !group_add(cap, nd->id, p->group, 1))
		cap->valid = false; /* the next decision reloads the groups */
	return pick;
}

static int
cmp_batch(const void *a, const void *b)
{
	const struct pending *x = *(struct pending *const *)a, *y = *(struct pending *const *)b;
	return x->pick != y->pick ? (x->pick < y->pick ? -1 : 1)
				  : (x->vserver_id < y->vserver_id ? -1 : 1);
}

static void committed(const struct db_result *res, void *arg);

static void
decide_batch(struct capacity *cap)
{
	static const char sql[] =
		"SELECT code, error, task_active, disk_created, storage, name, uuid, cores, "
		"ram_mb, "
		"iso, bridge, macs, models FROM wr_place_batch($1::bigint[], $2::bigint[], "
		"$3::bigint[]) ORDER BY i";
	struct pending *again = NULL, **again_tail = &again;
	double age = now_seconds() - cap->loaded_at;
	uint64_t gen = agents_online_generation(cap->srv);
	char why[256];

	/* Only when a link came or went since the last batch (or the cache was loaded). */
	if (gen != cap->online_gen) {
		size_t nonline = 0;
		int64_t *online = agents_online_ids(cap->srv, &nonline);
		for (size_t i = 0; i < cap->n; i++)
			cap->nodes[i].online =
				cap->db_online[i] && online != NULL &&
				agents_ids_contain(online, nonline, cap->nodes[i].id);
		cap->online_gen = online != NULL ? gen : 0;
		free(online);
	}

	cap->nbatch = 0;
	while (cap->head != NULL && cap->nbatch < BATCH_MAX) {
		struct pending *p = cap->head;
		cap->head = p->next;
		if (cap->head == NULL)
			cap->tail = &cap->head;
		if (p->placed_on != 0) {
			const struct placement_node *nd = bsearch(&p->placed_on, cap->nodes, cap->n,
								  sizeof(*cap->nodes), cmp_node);
			if (nd == NULL) {
				/* Not in the cache (a new node): the engine takes the long road. */
				cap->valid = false;
				p->done(p->arg, -1, NULL, NULL, NULL);
				pending_free(p);
				continue;
			}
			p->pick = (size_t)(nd - cap->nodes);
			cap->batch[cap->nbatch++] = p;
			continue;
		}
		int pick = decide(cap, p, why, sizeof(why));
		if (pick >= 0) {
			p->pick = (size_t)pick;
			cap->batch[cap->nbatch++] = p;
		} else if (!p->reloaded && age > NO_ROOM_RELOAD_AFTER) {
			/* Room may have been freed since the load: decide once more, fresh. */
			p->reloaded = true;
			p->next = NULL;
			*again_tail = p;
			again_tail = &p->next;
		} else {
			char error[300];
			snprintf(error, sizeof(error), "no capacity: %s", why);
			p->done(p->arg, 0, NULL, error, NULL);
			pending_free(p);
		}
	}
	if (again != NULL) {
		cap->valid = false;
		*again_tail = cap->head;
		if (cap->head == NULL)
			cap->tail = again_tail;
		cap->head = again;
	}
	if (cap->nbatch == 0) {
		process(cap);
		return;
	}

	/* Nodes in id order: every transaction that locks several nodes does it in that order. */
	qsort(cap->batch, cap->nbatch, sizeof(*cap->batch), cmp_batch);
	size_t len = cap->nbatch * 21 + 3;
	char *vs = malloc(len), *nd = malloc(len), *tk = malloc(len);
	if (vs == NULL || nd == NULL || tk == NULL) {
		free(vs);
		free(nd);
		free(tk);
		struct db_result oom = {.status = DB_SQL_ERROR, .message = "out of memory"};
		cap->busy = true;
		committed(&oom, cap);
		return;
	}
	size_t ov = 0, on = 0, ot = 0;
	vs[ov++] = '{';
	nd[on++] = '{';
	tk[ot++] = '{';
	for (size_t i = 0; i < cap->nbatch; i++) {
		const struct pending *p = cap->batch[i];
		ov += (size_t)snprintf(vs + ov, len - ov, "%s%lld", i ? "," : "",
				       (long long)p->vserver_id);
		on += (size_t)snprintf(nd + on, len - on, "%s%lld", i ? "," : "",
				       (long long)cap->nodes[p->pick].id);
		ot += (size_t)snprintf(tk + ot, len - ot, "%s%lld", i ? "," : "",
				       (long long)p->task_id);
	}
	snprintf(vs + ov, len - ov, "}");
	snprintf(nd + on, len - on, "}");
	snprintf(tk + ot, len - ot, "}");
	const char *params[] = {vs, nd, tk};
	cap->busy = true;
	db_query(capacity_db(cap->srv), sql, 3, params, committed, cap);
	free(vs);
	free(nd);
	free(tk);
}

/*
 * The elements of a one-dimensional array column ("{4,5}") whose elements need no quoting
 * (integers, MAC addresses, NIC models), as JSON integers or strings; NULL if it is not one.
 */
static json_t *
array_col(const PGresult *res, int row, int col, bool integers)
{
	const char *s = PQgetvalue(res, row, col);
	size_t len = strlen(s);
	json_t *out = json_array();

	if (out == NULL || PQgetisnull(res, row, col) || len < 2 || s[0] != '{' ||
	    s[len - 1] != '}' || strpbrk(s, "\"\\") != NULL) {
		json_decref(out);
		return NULL;
	}
	for (const char *e = s + 1; e < s + len - 1;) {
		size_t n = strcspn(e, ",}");
		char *end = NULL;
		json_t *v = NULL;
		if (integers) {
			long long x = strtoll(e, &end, 10);
			if (end == e + n)
				v = json_integer(x);
		} else if (n > 0) {
			v = json_stringn(e, n);
		}
		if (v == NULL || json_array_append_new(out, v) != 0) {
			json_decref(out);
			return NULL;
		}
		e += n + (e[n] == ',');
	}
	return out;
}

static json_t *
text_col(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? json_null() : json_string(PQgetvalue(res, row, col));
}

/*
 * What wr_place_batch() prepared for a start (sql/021_placement_leaner.sql), as the engine
 * takes it (lifecycle.c, start_placed()): disk_created, storage, task_active and the VM
 * definition the node gets, {id, name, uuid, cores, ram_mb, disks, nics, iso} in that order,
 * the same as 018 built in SQL. NULL for a row without a start part; {"task_active": false}
 * when the task ended meanwhile.
 */
static json_t *
start_info(const PGresult *res, int row, int64_t vserver_id)
{
	if (PQgetisnull(res, row, 2))
		return NULL;
	if (PQgetvalue(res, row, 2)[0] != 't')
		return json_pack("{s:b}", "task_active", 0);
	char disk[32];
	json_t *cores = array_col(res, row, 7, true);
	json_t *macs = array_col(res, row, 11, false), *models = array_col(res, row, 12, false);
	json_t *nics = NULL;
	snprintf(disk, sizeof(disk), "vs-%lld", (long long)vserver_id);
	if (macs != NULL && models != NULL && json_array_size(macs) == json_array_size(models) &&
	    (nics = json_array()) != NULL) {
		for (size_t k = 0; k < json_array_size(macs); k++)
			json_array_append_new(nics, json_pack("{s:O, s:O, s:o}", "mac",
							      json_array_get(macs, k), "model",
							      json_array_get(models, k), "bridge",
							      text_col(res, row, 10)));
	}
	json_decref(macs);
	json_decref(models);
	/* A part missing (out of memory, or no NIC): the definition says null, as in SQL. */
	return json_pack("{s:b, s:o, s:b, s:{s:I, s:o, s:o, s:o, s:I, s:[{s:o, s:s, s:s}], s:o, "
			 "s:o}}",
			 "disk_created", PQgetvalue(res, row, 3)[0] == 't', "storage",
			 text_col(res, row, 4), "task_active", 1, "spec", "id",
			 (json_int_t)vserver_id, "name", text_col(res, row, 5), "uuid",
			 text_col(res, row, 6), "cores", cores ? cores : json_null(), "ram_mb",
			 (json_int_t)strtoll(PQgetvalue(res, row, 8), NULL, 10), "disks", "storage",
			 text_col(res, row, 4), "name", disk, "bus", "virtio", "nics",
			 nics ? nics : json_null(), "iso", text_col(res, row, 9));
}

/* A request that did not commit: decide it again (on a reloaded cache) or give up. */
static void
retry_or_fail(struct capacity *cap, struct pending *p, const char *error)
{
	cap->valid = false;
	if (++p->attempts < ATTEMPTS) {
		enqueue(cap, p);
		return;
	}
	p->done(p->arg, 0, NULL, error, NULL);
	pending_free(p);
}

static void
committed(const struct db_result *res, void *arg)
{
	struct capacity *cap = arg;
	bool whole = res->status == DB_OK && PQntuples(res->res) == (int)cap->nbatch;
	char error[300];

	cap->busy = false;
	if (!whole) {
		snprintf(error, sizeof(error), "placement failed: %s",
			 res->message ? res->message : "database error");
		log_warn("scheduler: batch of %zu placements not committed: %s", cap->nbatch,
			 error);
	}
	for (size_t i = 0; i < cap->nbatch; i++) {
		struct pending *p = cap->batch[i];
		const struct placement_node *nd = &cap->nodes[p->pick];
		if (!whole) {
			/* Nothing of the batch committed (deadlock, connection lost): again. */
			retry_or_fail(cap, p, error);
			continue;
		}
		const char *code = PQgetvalue(res->res, (int)i, 0);
		const char *msg = PQgetvalue(res->res, (int)i, 1);
		if (PQgetisnull(res->res, (int)i, 0)) {
			json_t *info = start_info(res->res, (int)i, p->vserver_id);
			p->done(p->arg, nd->id, nd->name, NULL, info);
			json_decref(info);
			pending_free(p);
		} else if (strcmp(code, "WRPLD") == 0) {
			cap->valid = false; /* the room taken in the cache was not used */
			p->done(p->arg, -1, NULL, NULL, NULL);
			pending_free(p);
		} else if (strcmp(code, "WRCON") == 0) {
			/* Another placement took the room between the load and the commit. */
			snprintf(error, sizeof(error), "placement failed: %s", msg);
			retry_or_fail(cap, p, error);
		} else {
			snprintf(error, sizeof(error), "placement failed: %s", msg);
			p->done(p->arg, 0, NULL, error, NULL);
			pending_free(p);
		}
	}
	cap->nbatch = 0;
	process(cap);
}

static void
process(struct capacity *cap)
{
	if (cap->busy || cap->head == NULL)
		return;
	if (!cap->valid || now_seconds() - cap->loaded_at > CACHE_MAX_AGE) {
		load(cap);
		return;
	}
	decide_batch(cap);
}
