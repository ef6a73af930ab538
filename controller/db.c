/*
 * The PostgreSQL pool. Each connection is a small state machine driven by libpq's non-blocking
 * API (PQconnectStart/PQconnectPoll, then pipeline mode: PQsendQueryPrepared + PQpipelineSync,
 * PQflush, PQconsumeInput). While connecting, one event is re-armed on PQsocket() before every
 * wait, since the socket changes across reconnects; once up, a persistent read event and a
 * write event added only while libpq has unsent output.
 *
 * Pipelining: a connection carries up to `depth` queries at once, each followed by its own Sync,
 * so each is still its own implicit transaction with its own outcome (an error in one does not
 * touch the next), committed before its callback runs, exactly as one query at a time. A new
 * query goes to the connection with the fewest in flight, so a slow statement delays others only
 * when every connection is busy. What it saves: PostgreSQL finds the next query waiting when it
 * finishes one instead of sleeping until webrackd has read the answer and sent the next, and
 * webrackd reads several answers per wake-up.
 *
 * A connection that breaks fails its queries with DB_UNAVAILABLE and comes back on its own after
 * an exponential backoff; while none is up, queries fail at once so callers can answer 503
 * instead of hanging.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "db.h"
#include "log.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define PREPARED_MAX   512 /* per connection; beyond that, statements run unprepared */

/* Where a query in flight is in its results: [Parse], Bind/Execute, Sync. */
enum phase { PH_PREPARE, PH_EXEC, PH_SYNC };

struct query {
	struct query *next; /* in the pool's queue, then in its connection's pipeline */
	const char *sql;
	int nparams;
	char **params;
	db_callback cb;
	void *arg;
	bool raw; /* sent unprepared (LISTEN) */
	enum phase phase;
	PGresult *res; /* its outcome: the first result of Execute, or the failed Parse */
};

enum conn_state { CONN_DOWN, CONN_CONNECTING, CONN_IDLE, CONN_BUSY };

/* Owned by struct db; the PGconn is replaced on every reconnect. */
struct conn {
	struct db *db;
	int index;
	enum conn_state state; /* CONN_BUSY: queries in flight */
	PGconn *pg;
	struct event ev;    /* connecting: one-shot, re-armed; up: persistent read */
	struct event wev;   /* up: added while libpq has unsent output */
	struct event timer; /* reconnect backoff */
	bool ev_added;
	bool wev_added;
	bool listen_sent; /* LISTEN for db->channel sent on this session */
	bool listening;	  /* ... and done */
	int backoff_ms;
	struct query *head, *tail; /* in flight, in order */
	int inflight;
	/* Statements prepared on this connection, by the hash of their text (see conn_send). */
	uint64_t prepared[PREPARED_MAX];
	int nprepared;
};

/* Owner: webrackd's main(). */
struct db {
	struct event_base *base;
	char *conninfo;
	int nconns;
	struct conn *conns;
	struct query *head, *tail;
	int queued, queue_max;
	int depth; /* queries in flight per connection at most */
	bool was_up;
	/* db_listen(): every session LISTENs on channel before its first query. */
	const char *channel;
	db_notify_fn notify;
	void *notify_arg;
};

/*
 * Every pool of the process, and the listener db_listen() installed: pools made before or
 * after it listen alike, so a change committed through any of them (the API's pool, the batch
 * pool) is heard before its caller's callback runs.
 */
#define POOLS_MAX 8
static struct db *pools[POOLS_MAX];
static struct {
	const char *channel;
	db_notify_fn notify;
	void *arg;
} listener;

static void conn_connect(struct conn *c);
static void conn_dispatch(struct db *db);
static void conn_listen(struct conn *c);
static void conn_send(struct conn *c, struct query *q);

static void
query_free(struct query *q)
{
	for (int i = 0; i < q->nparams; i++)
		free(q->params[i]);
	free(q->params);
	if (q->res != NULL)
		PQclear(q->res);
	free(q);
}

/* Deferred failures: the callback must not run inside db_query(). */
struct deferred {
	struct query *q;
	enum db_status status;
};

static void
deferred_fire(evutil_socket_t fd, short what, void *p)
{
	struct deferred *d = p;
	struct db_result r = {.status = d->status,
			      .message = d->status == DB_BUSY ? "database queue is full"
							      : "database is unavailable"};
	d->q->cb(&r, d->q->arg);
	query_free(d->q);
	free(d);
}

static void
query_fail_later(struct db *db, struct query *q, enum db_status status)
{
	struct deferred *d = malloc(sizeof(*d));

	if (d != NULL) {
		d->q = q;
		d->status = status;
		if (event_base_once(db->base, -1, EV_TIMEOUT, deferred_fire, d, NULL) == 0)
			return;
		free(d);
	}
	/* Out of memory: failing synchronously is the lesser evil. */
	struct db_result r = {.status = status, .message = "database is unavailable"};
	q->cb(&r, q->arg);
	query_free(q);
}

bool
db_is_up(const struct db *db)
{
	for (int i = 0; i < db->nconns; i++)
		if (db->conns[i].state == CONN_IDLE || db->conns[i].state == CONN_BUSY)
			return true;
	return false;
}

static void
fail_queue_if_down(struct db *db)
{
	if (db_is_up(db))
		return;
	while (db->head != NULL) {
		struct query *q = db->head;
		db->head = q->next;
		db->queued--;
		query_fail_later(db, q, DB_UNAVAILABLE);
	}
	db->tail = NULL;
	if (db->was_up)
		log_error("lost every connection to PostgreSQL; answering 503 until it is back");
	db->was_up = false;
}

static void conn_on_socket(evutil_socket_t fd, short what, void *p);

/* Connecting: wait once for what libpq asked. */
static void
conn_wait(struct conn *c, short what)
{
	if (c->ev_added)
		event_del(&c->ev);
	event_assign(&c->ev, c->db->base, PQsocket(c->pg), what, conn_on_socket, c);
	event_add(&c->ev, NULL);
	c->ev_added = true;
}

/* Up: want (or not) to hear when the socket takes more output. */
static void
conn_want_write(struct conn *c, bool on)
{
	if (on && !c->wev_added) {
		event_add(&c->wev, NULL);
		c->wev_added = true;
	} else if (!on && c->wev_added) {
		event_del(&c->wev);
		c->wev_added = false;
	}
}

/* Tell db_listen()'s callback about the notifications libpq has collected. */
static void
conn_notifies(struct conn *c)
{
	struct db *db = c->db;
	PGnotify *n;

	while ((n = PQnotifies(c->pg)) != NULL) {
		if (db->notify != NULL)
			db->notify(db->notify_arg, n->relname, n->extra);
		PQfreemem(n);
	}
}

static void
conn_down(struct conn *c, const char *reason)
{
	struct db *db = c->db;

	if (c->ev_added) {
		event_del(&c->ev);
		c->ev_added = false;
	}
	conn_want_write(c, false);
	c->listening = false;
	/* Deferred: conn_down can run inside db_query() via conn_send(). */
	while (c->head != NULL) {
		struct query *q = c->head;
		c->head = q->next;
		query_fail_later(db, q, DB_UNAVAILABLE);
	}
	c->tail = NULL;
	c->inflight = 0;
	if (c->pg != NULL) {
		PQfinish(c->pg);
		c->pg = NULL;
	}
	if (c->state != CONN_CONNECTING || c->backoff_ms == BACKOFF_MIN_MS)
		log_warn("db connection %d down: %s; retrying in %d ms", c->index, reason,
			 c->backoff_ms);
	c->state = CONN_DOWN;
	struct timeval tv = {c->backoff_ms / 1000, (c->backoff_ms % 1000) * 1000};
	evtimer_add(&c->timer, &tv);
	c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
	fail_queue_if_down(db);
}

static void
conn_down_pq(struct conn *c)
{
	char reason[256];

	snprintf(reason, sizeof(reason), "%s", c->pg ? PQerrorMessage(c->pg) : "no connection");
	reason[strcspn(reason, "\n")] = '\0';
	conn_down(c, reason);
}

static void
conn_ready(struct conn *c)
{
	struct db *db = c->db;

	if (c->ev_added) {
		event_del(&c->ev);
		c->ev_added = false;
	}
	if (PQenterPipelineMode(c->pg) != 1) {
		conn_down_pq(c);
		return;
	}
	c->state = CONN_IDLE;
	c->backoff_ms = BACKOFF_MIN_MS;
	if (!db->was_up)
		log_info("connected to PostgreSQL (connection %d)", c->index);
	db->was_up = true;
	/* Watch an idle connection too, so that a server shutdown is noticed before the next query.
	 */
	event_assign(&c->ev, db->base, PQsocket(c->pg), EV_READ | EV_PERSIST, conn_on_socket, c);
	event_assign(&c->wev, db->base, PQsocket(c->pg), EV_WRITE | EV_PERSIST, conn_on_socket, c);
	event_add(&c->ev, NULL);
	c->ev_added = true;
	conn_dispatch(db);
}

static void
conn_poll_connect(struct conn *c)
{
	switch (PQconnectPoll(c->pg)) {
	case PGRES_POLLING_READING:
		conn_wait(c, EV_READ);
		return;
	case PGRES_POLLING_WRITING:
		conn_wait(c, EV_WRITE);
		return;
	case PGRES_POLLING_OK:
		if (PQsetnonblocking(c->pg, 1) != 0) {
			conn_down(c, "cannot make the connection non-blocking");
			return;
		}
		conn_ready(c);
		return;
	default:
		conn_down_pq(c);
		return;
	}
}

static void
conn_connect(struct conn *c)
{
	c->nprepared = 0; /* a new session knows no prepared statements */
	c->listen_sent = false;
	c->listening = false;
	c->pg = PQconnectStart(c->db->conninfo);
	if (c->pg == NULL) {
		conn_down(c, "out of memory");
		return;
	}
	if (PQstatus(c->pg) == CONNECTION_BAD) {
		conn_down_pq(c);
		return;
	}
	c->state = CONN_CONNECTING;
	conn_poll_connect(c);
}

static void
conn_on_timer(evutil_socket_t fd, short what, void *p)
{
	conn_connect(p);
}

/* FNV-1a: statement texts name their prepared statements. */
static uint64_t
sql_hash(const char *sql)
{
	uint64_t h = 14695981039346656037ULL;
	for (const unsigned char *p = (const unsigned char *)sql; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h;
}

static bool
is_prepared(const struct conn *c, uint64_t h)
{
	for (int i = 0; i < c->nprepared; i++)
		if (c->prepared[i] == h)
			return true;
	return false;
}

/* A Parse failed: the statement is not prepared on this session after all. */
static void
forget_prepared(struct conn *c, uint64_t h)
{
	for (int i = 0; i < c->nprepared; i++) {
		if (c->prepared[i] == h) {
			c->prepared[i] = c->prepared[--c->nprepared];
			return;
		}
	}
}

/* A query's outcome to its caller. q has left the pipeline. */
static void
query_finish(struct query *q)
{
	PGresult *res = q->res;
	struct db_result r = {0};

	switch (res ? PQresultStatus(res) : PGRES_FATAL_ERROR) {
	case PGRES_TUPLES_OK:
	case PGRES_COMMAND_OK:
		r.status = DB_OK;
		r.res = res;
		break;
	default:
		r.status = DB_SQL_ERROR;
		r.sqlstate = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
		r.message = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
		if (r.sqlstate == NULL)
			r.sqlstate = "XX000";
		if (r.message == NULL)
			r.message = "query failed";
		/* Connection-level failures (class 08, admin shutdown) mean the server is gone. */
		if (strncmp(r.sqlstate, "08", 2) == 0 || strncmp(r.sqlstate, "57P", 3) == 0)
			r.status = DB_UNAVAILABLE;
		break;
	}
	q->cb(&r, q->arg);
	query_free(q);
}

/*
 * Take the results libpq has parsed, in pipeline order: per query [Parse result, NULL], Execute
 * result(s), NULL, then PGRES_PIPELINE_SYNC, after which the query is committed and answered.
 * Returns false when the connection went down meanwhile (c must not be touched then).
 */
static bool
conn_results(struct conn *c)
{
	while (c->head != NULL && c->pg != NULL && !PQisBusy(c->pg)) {
		struct query *q = c->head;
		PGresult *res = PQgetResult(c->pg);

		switch (q->phase) {
		case PH_PREPARE:
			if (res == NULL) {
				q->phase = PH_EXEC;
			} else if (PQresultStatus(res) != PGRES_COMMAND_OK) {
				forget_prepared(c, sql_hash(q->sql));
				q->res = res; /* the caller gets the Parse error */
			} else {
				PQclear(res);
			}
			break;
		case PH_EXEC:
			/* One statement per query; a second result is the "aborted" after a
			 * failed Parse. */
			if (res == NULL)
				q->phase = PH_SYNC;
			else if (q->res == NULL)
				q->res = res;
			else
				PQclear(res);
			break;
		case PH_SYNC:
			if (res == NULL) {
				conn_down(c, "pipeline out of step");
				return false;
			}
			if (PQresultStatus(res) != PGRES_PIPELINE_SYNC) {
				if (q->res == NULL)
					q->res = res;
				else
					PQclear(res);
				break;
			}
			PQclear(res);
			c->head = q->next;
			if (c->head == NULL) {
				c->tail = NULL;
				c->state = CONN_IDLE;
			}
			c->inflight--;
			/*
			 * libpq parses notifications while it looks for results: the query's
			 * own (sent before its ReadyForQuery) may be among them by now.
			 */
			conn_notifies(c);
			query_finish(q);
			/* The callback may have queued more here, or found the session broken. */
			if (c->state == CONN_DOWN)
				return false;
			break;
		}
	}
	return true;
}

static void
conn_read(struct conn *c)
{
	if (PQconsumeInput(c->pg) != 1) {
		conn_down_pq(c);
		return;
	}
	/*
	 * Notifications first, and again before every query's callback (conn_results): those a
	 * statement's own commit raised (a session hears its own NOTIFY before the statement's
	 * ReadyForQuery) reach db_listen()'s callback before the statement's caller does.
	 */
	conn_notifies(c);
	if (c->head == NULL) {
		/* Nothing was asked; a broken connection shows in PQstatus. */
		if (PQstatus(c->pg) != CONNECTION_OK)
			conn_down(c, "connection lost while idle");
		return;
	}
	if (!conn_results(c))
		return;
	if (PQstatus(c->pg) != CONNECTION_OK) {
		conn_down(c, "connection lost");
		return;
	}
	conn_dispatch(c->db);
}

static void
conn_on_socket(evutil_socket_t fd, short what, void *p)
{
	struct conn *c = p;

	switch (c->state) {
	case CONN_CONNECTING:
		conn_poll_connect(c);
		return;
	case CONN_BUSY:
	case CONN_IDLE:
		if (what & EV_WRITE) {
			int f = PQflush(c->pg);
			if (f < 0) {
				conn_down(c, "cannot send query");
				return;
			}
			conn_want_write(c, f == 1);
		}
		if (what & EV_READ)
			conn_read(c);
		return;
	case CONN_DOWN:
		return;
	}
}

/*
 * Every statement is prepared once per connection and then executed by name, so PostgreSQL
 * parses and plans it once instead of on every call (most of the cost of the small statements
 * webrackd runs). The first use sends the Parse ahead of the execution in the same pipeline; the
 * statement counts as prepared from then on (a later query may follow it at once), and is
 * forgotten again should the Parse fail.
 */
static void
conn_send(struct conn *c, struct query *q)
{
	uint64_t h = sql_hash(q->sql);
	char name[24];
	int ok;

	q->next = NULL;
	q->phase = PH_EXEC;
	if (c->tail)
		c->tail->next = q;
	else
		c->head = q;
	c->tail = q;
	c->inflight++;
	c->state = CONN_BUSY;
	snprintf(name, sizeof(name), "wr%016llx", (unsigned long long)h);
	if (q->raw) {
		ok = PQsendQueryParams(c->pg, q->sql, 0, NULL, NULL, NULL, NULL, 0);
	} else if (is_prepared(c, h)) {
		ok = PQsendQueryPrepared(c->pg, name, q->nparams, (const char *const *)q->params,
					 NULL, NULL, 0);
	} else if (c->nprepared == PREPARED_MAX) {
		ok = PQsendQueryParams(c->pg, q->sql, q->nparams, NULL,
				       (const char *const *)q->params, NULL, NULL, 0);
	} else {
		q->phase = PH_PREPARE;
		c->prepared[c->nprepared++] = h;
		ok = PQsendPrepare(c->pg, name, q->sql, q->nparams, NULL) &&
		     PQsendQueryPrepared(c->pg, name, q->nparams, (const char *const *)q->params,
					 NULL, NULL, 0);
	}
	if (ok != 1 || PQpipelineSync(c->pg) != 1) {
		conn_down_pq(c);
		return;
	}
	int f = PQflush(c->pg);
	if (f < 0) {
		conn_down(c, "cannot send query");
		return;
	}
	conn_want_write(c, f == 1);
}

static void
listened(const struct db_result *r, void *arg)
{
	struct conn *c = arg;
	struct db *db = c->db;

	if (r->status != DB_OK) {
		log_error("db connection %d: LISTEN %s failed: %s", c->index, db->channel,
			  r->message ? r->message : "-");
		return; /* conn_down (if it broke) retries; else the session stays non-listening */
	}
	c->listening = true;
	/* Whatever was notified while this session was not listening is unknown: say so. */
	if (db->notify != NULL)
		db->notify(db->notify_arg, NULL, NULL);
}

/*
 * Before its first query, a fresh session LISTENs: first in its pipeline, so it is in effect
 * before any query sent after it runs.
 */
static void
conn_listen(struct conn *c)
{
	struct db *db = c->db;
	struct query *q = calloc(1, sizeof(*q));
	static char sql[80];

	if (q == NULL || (q->params = calloc(1, sizeof(char *))) == NULL) {
		free(q);
		conn_down(c, "out of memory");
		return;
	}
	snprintf(sql, sizeof(sql), "LISTEN %s", db->channel);
	c->listen_sent = true;
	q->sql = sql;
	q->raw = true;
	q->cb = listened;
	q->arg = c;
	conn_send(c, q);
}

/* The connection that is up and has the fewest queries in flight below the depth, or NULL. */
static struct conn *
conn_pick(struct db *db)
{
	struct conn *best = NULL;

	for (int i = 0; i < db->nconns; i++) {
		struct conn *c = &db->conns[i];
		if ((c->state == CONN_IDLE || c->state == CONN_BUSY) && c->inflight < db->depth &&
		    (best == NULL || c->inflight < best->inflight))
			best = c;
	}
	return best;
}

static void
conn_dispatch(struct db *db)
{
	struct conn *c;

	for (int i = 0; db->channel != NULL && i < db->nconns; i++) {
		c = &db->conns[i];
		if ((c->state == CONN_IDLE || c->state == CONN_BUSY) && !c->listen_sent)
			conn_listen(c);
	}
	while (db->head != NULL && (c = conn_pick(db)) != NULL) {
		struct query *q = db->head;
		db->head = q->next;
		if (db->head == NULL)
			db->tail = NULL;
		db->queued--;
		conn_send(c, q);
	}
}

void
db_query(struct db *db, const char *sql, int nparams, const char *const *params, db_callback cb,
	 void *arg)
{
	struct query *q = calloc(1, sizeof(*q));

	if (q == NULL) {
		struct db_result r = {.status = DB_BUSY, .message = "out of memory"};
		cb(&r, arg);
		return;
	}
	q->sql = sql;
	q->cb = cb;
	q->arg = arg;
	q->params = calloc((size_t)(nparams > 0 ? nparams : 1), sizeof(char *));
	if (q->params == NULL) {
		query_fail_later(db, q, DB_BUSY);
		return;
	}
	for (int i = 0; i < nparams; i++) {
		if (params[i] != NULL && (q->params[i] = strdup(params[i])) == NULL) {
			query_fail_later(db, q, DB_BUSY);
			return;
		}
		q->nparams = i + 1;
	}
	q->nparams = nparams;

	if (!db_is_up(db)) {
		query_fail_later(db, q, DB_UNAVAILABLE);
		return;
	}
	if (db->queued >= db->queue_max) {
		query_fail_later(db, q, DB_BUSY);
		return;
	}
	if (db->tail)
		db->tail->next = q;
	else
		db->head = q;
	db->tail = q;
	db->queued++;
	conn_dispatch(db);
}

struct db *
db_new(struct event_base *base, const char *conninfo, int pool_size, int queue_max)
{
	struct db *db = calloc(1, sizeof(*db));

	if (db == NULL)
		return NULL;
	db->base = base;
	db->queue_max = queue_max;
	db->depth = DB_PIPELINE_DEPTH_DEFAULT;
	db->conninfo = strdup(conninfo);
	db->conns = calloc((size_t)pool_size, sizeof(struct conn));
	if (db->conninfo == NULL || db->conns == NULL) {
		free(db->conninfo);
		free(db->conns);
		free(db);
		return NULL;
	}
	int slot = 0;
	while (slot < POOLS_MAX && pools[slot] != NULL)
		slot++;
	if (slot == POOLS_MAX) { /* a pool that could not listen would break the caches */
		log_error("more than %d database pools", POOLS_MAX);
		free(db->conninfo);
		free(db->conns);
		free(db);
		return NULL;
	}
	pools[slot] = db;
	db->channel = listener.channel;
	db->notify = listener.notify;
	db->notify_arg = listener.arg;
	db->nconns = pool_size;
	for (int i = 0; i < pool_size; i++) {
		struct conn *c = &db->conns[i];
		c->db = db;
		c->index = i;
		c->backoff_ms = BACKOFF_MIN_MS;
		evtimer_assign(&c->timer, base, conn_on_timer, c);
		conn_connect(c);
	}
	return db;
}

void
db_listen(struct db *db, const char *channel, db_notify_fn cb, void *arg)
{
	listener.channel = channel;
	listener.notify = cb;
	listener.arg = arg;
	db->channel = channel;
	db->notify = cb;
	db->notify_arg = arg;
	for (int i = 0; i < POOLS_MAX; i++) {
		if (pools[i] == NULL)
			continue;
		pools[i]->channel = channel;
		pools[i]->notify = cb;
		pools[i]->notify_arg = arg;
		conn_dispatch(pools[i]); /* idle sessions now; busy ones when they are done */
	}
}

bool
db_listening_all(void)
{
	bool any = false;

	for (int i = 0; i < POOLS_MAX; i++) {
		if (pools[i] == NULL)
			continue;
		/* A pool that has no session up runs nothing, so it cannot miss anything. */
		bool up = false;
		for (int k = 0; k < pools[i]->nconns; k++) {
			enum conn_state st = pools[i]->conns[k].state;
			up = up || st == CONN_IDLE || st == CONN_BUSY;
		}
		if (!up)
			continue;
		if (!db_listening(pools[i]))
			return false;
		any = true;
	}
	return any;
}

bool
db_listening(const struct db *db)
{
	bool any = false;

	if (db->channel == NULL)
		return false;
	for (int i = 0; i < db->nconns; i++) {
		const struct conn *c = &db->conns[i];
		if (c->state != CONN_IDLE && c->state != CONN_BUSY)
			continue;
		if (!c->listening)
			return false;
		any = true;
	}
	return any;
}

void
db_set_queue_max(struct db *db, int queue_max)
{
	db->queue_max = queue_max;
}

void
db_set_pipeline_depth(struct db *db, int depth)
{
	db->depth = depth < 1 ? 1 : depth;
	conn_dispatch(db);
}

void
db_free(struct db *db)
{
	if (db == NULL)
		return;
	for (int i = 0; i < POOLS_MAX; i++)
		if (pools[i] == db)
			pools[i] = NULL;
	for (int i = 0; i < db->nconns; i++) {
		struct conn *c = &db->conns[i];
		evtimer_del(&c->timer);
		if (c->ev_added)
			event_del(&c->ev);
		if (c->wev_added)
			event_del(&c->wev);
		while (c->head != NULL) {
			struct query *q = c->head;
			struct db_result r = {.status = DB_UNAVAILABLE, .message = "shutting down"};
			c->head = q->next;
			q->cb(&r, q->arg);
			query_free(q);
		}
		if (c->pg)
			PQfinish(c->pg);
	}
	while (db->head) {
		struct query *q = db->head;
		db->head = q->next;
		struct db_result r = {.status = DB_UNAVAILABLE, .message = "shutting down"};
		q->cb(&r, q->arg);
		query_free(q);
	}
	free(db->conns);
	free(db->conninfo);
	free(db);
}
