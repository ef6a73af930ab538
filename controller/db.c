/*
 * The PostgreSQL pool. Each connection is a small state machine driven by libpq's non-blocking
 * API (PQconnectStart/PQconnectPoll, PQsendQueryParams/PQflush/PQconsumeInput) with one event
 * re-armed on PQsocket() before every wait, since the socket changes across reconnects. A
 * connection that breaks fails its query with DB_UNAVAILABLE and comes back on its own after an
 * exponential backoff; while none is up, queries fail at once so callers can answer 503 instead of
 * hanging.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "db.h"
#include "log.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define PREPARED_MAX   512 /* per connection; beyond that, statements run unprepared */

struct query {
	struct query *next;
	const char *sql;
	int nparams;
	char **params;
	db_callback cb;
	void *arg;
};

enum conn_state { CONN_DOWN, CONN_CONNECTING, CONN_IDLE, CONN_BUSY };

/* Owned by struct db; the PGconn is replaced on every reconnect. */
struct conn {
	struct db *db;
	int index;
	enum conn_state state;
	PGconn *pg;
	struct event ev;    /* socket readiness */
	struct event timer; /* reconnect backoff */
	bool ev_added;
	int backoff_ms;
	struct query *q; /* in flight while CONN_BUSY */
	PGresult *res;	 /* first result of q */
	/* Statements prepared on this connection, by the hash of their text (see conn_send). */
	uint64_t prepared[PREPARED_MAX];
	int nprepared;
	bool preparing; /* q's statement is being prepared; its execution follows */
};

/* Owner: webrackd's main(). */
struct db {
	struct event_base *base;
	char *conninfo;
	int nconns;
	struct conn *conns;
	struct query *head, *tail;
	int queued, queue_max;
	bool was_up;
};

static void conn_connect(struct conn *c);
static void conn_dispatch(struct db *db);
static void conn_prepared(struct conn *c);

static void
query_free(struct query *q)
{
	for (int i = 0; i < q->nparams; i++)
		free(q->params[i]);
	free(q->params);
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

static void
conn_wait(struct conn *c, short what)
{
	if (c->ev_added)
		event_del(&c->ev);
	event_assign(&c->ev, c->db->base, PQsocket(c->pg), what, conn_on_socket, c);
	event_add(&c->ev, NULL);
	c->ev_added = true;
}

static void
conn_down(struct conn *c, const char *reason)
{
	struct db *db = c->db;

	if (c->ev_added) {
		event_del(&c->ev);
		c->ev_added = false;
	}
	if (c->res != NULL) {
		PQclear(c->res);
		c->res = NULL;
	}
	if (c->q != NULL) {
		/* Deferred: conn_down can run inside db_query() via conn_send(). */
		query_fail_later(db, c->q, DB_UNAVAILABLE);
		c->q = NULL;
	}
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
conn_ready(struct conn *c)
{
	struct db *db = c->db;

	if (c->ev_added) {
		event_del(&c->ev);
		c->ev_added = false;
	}
	c->state = CONN_IDLE;
	c->backoff_ms = BACKOFF_MIN_MS;
	if (!db->was_up)
		log_info("connected to PostgreSQL (connection %d)", c->index);
	db->was_up = true;
	/* Watch an idle connection too, so that a server shutdown is noticed before the next query.
	 */
	conn_wait(c, EV_READ | EV_PERSIST);
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
	default: {
		char reason[256];
		snprintf(reason, sizeof(reason), "%s", PQerrorMessage(c->pg));
		reason[strcspn(reason, "\n")] = '\0';
		conn_down(c, reason);
		return;
	}
	}
}

static void
conn_connect(struct conn *c)
{
	c->nprepared = 0; /* a new session knows no prepared statements */
	c->preparing = false;
	c->pg = PQconnectStart(c->db->conninfo);
	if (c->pg == NULL) {
		conn_down(c, "out of memory");
		return;
	}
	if (PQstatus(c->pg) == CONNECTION_BAD) {
		char reason[256];
		snprintf(reason, sizeof(reason), "%s", PQerrorMessage(c->pg));
		reason[strcspn(reason, "\n")] = '\0';
		conn_down(c, reason);
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

static void
conn_finish_query(struct conn *c)
{
	struct query *q = c->q;
	PGresult *res = c->res;
	struct db_result r = {0};

	c->q = NULL;
	c->res = NULL;
	c->state = CONN_IDLE;
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
	if (res)
		PQclear(res);
	if (PQstatus(c->pg) != CONNECTION_OK) {
		conn_down(c, "connection lost");
		return;
	}
	conn_wait(c, EV_READ | EV_PERSIST);
	conn_dispatch(c->db);
}

static void
conn_read(struct conn *c)
{
	if (PQconsumeInput(c->pg) != 1) {
		char reason[256];
		snprintf(reason, sizeof(reason), "%s", PQerrorMessage(c->pg));
		reason[strcspn(reason, "\n")] = '\0';
		conn_down(c, reason);
		return;
	}
	if (c->state == CONN_IDLE) {
		/* Nothing was asked: drop notices; a broken connection shows in PQstatus. */
		PGnotify *n;
		while ((n = PQnotifies(c->pg)) != NULL)
			PQfreemem(n);
		if (PQstatus(c->pg) != CONNECTION_OK)
			conn_down(c, "connection lost while idle");
		return;
	}
	while (!PQisBusy(c->pg)) {
		PGresult *res = PQgetResult(c->pg);
		if (res == NULL) {
			if (c->preparing)
				conn_prepared(c);
			else
				conn_finish_query(c);
			return;
		}
		if (c->res == NULL)
			c->res = res;
		else
			PQclear(res); /* one statement per query: later results are not expected */
	}
	conn_wait(c, EV_READ);
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
		if (what & EV_WRITE) {
			int f = PQflush(c->pg);
			if (f < 0) {
				conn_down(c, "cannot send query");
				return;
			}
			conn_wait(c, f == 1 ? EV_READ | EV_WRITE : EV_READ);
			if (!(what & EV_READ))
				return;
		}
		conn_read(c);
		return;
	case CONN_IDLE:
		conn_read(c);
		return;
	case CONN_DOWN:
		return;
	}
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

static void
conn_sent(struct conn *c, int ok)
{
	if (ok != 1) {
		char reason[256];
		snprintf(reason, sizeof(reason), "%s", PQerrorMessage(c->pg));
		reason[strcspn(reason, "\n")] = '\0';
		conn_down(c, reason);
		return;
	}
	int f = PQflush(c->pg);
	if (f < 0) {
		conn_down(c, "cannot send query");
		return;
	}
	conn_wait(c, f == 1 ? EV_READ | EV_WRITE : EV_READ);
}

static void
conn_execute_prepared(struct conn *c)
{
	struct query *q = c->q;
	char name[24];

	snprintf(name, sizeof(name), "wr%016llx", (unsigned long long)sql_hash(q->sql));
	conn_sent(c, PQsendQueryPrepared(c->pg, name, q->nparams, (const char *const *)q->params,
					 NULL, NULL, 0));
}

/*
 * Every statement is prepared once per connection and then executed by name, so PostgreSQL
 * parses and plans it once instead of on every call (most of the cost of the small statements
 * webrackd runs). The first use costs one more round trip: Parse, then Bind/Execute.
 */
static void
conn_send(struct conn *c, struct query *q)
{
	uint64_t h = sql_hash(q->sql);
	char name[24];

	c->q = q;
	c->state = CONN_BUSY;
	if (is_prepared(c, h)) {
		conn_execute_prepared(c);
		return;
	}
	if (c->nprepared == PREPARED_MAX) {
		conn_sent(c, PQsendQueryParams(c->pg, q->sql, q->nparams, NULL,
					       (const char *const *)q->params, NULL, NULL, 0));
		return;
	}
	snprintf(name, sizeof(name), "wr%016llx", (unsigned long long)h);
	c->preparing = true;
	conn_sent(c, PQsendPrepare(c->pg, name, q->sql, q->nparams, NULL));
}

/* The Parse of q's statement has been answered: execute it, or report why it failed. */
static void
conn_prepared(struct conn *c)
{
	PGresult *res = c->res;

	c->preparing = false;
	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
		conn_finish_query(c); /* the callback gets the Parse error */
		return;
	}
	PQclear(res);
	c->res = NULL;
	c->prepared[c->nprepared++] = sql_hash(c->q->sql);
	conn_execute_prepared(c);
}

static void
conn_dispatch(struct db *db)
{
	for (int i = 0; i < db->nconns && db->head != NULL; i++) {
		struct conn *c = &db->conns[i];
		if (c->state != CONN_IDLE)
			continue;
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
	db->conninfo = strdup(conninfo);
	db->conns = calloc((size_t)pool_size, sizeof(struct conn));
	if (db->conninfo == NULL || db->conns == NULL) {
		free(db->conninfo);
		free(db->conns);
		free(db);
		return NULL;
	}
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
db_set_queue_max(struct db *db, int queue_max)
{
	db->queue_max = queue_max;
}

void
db_free(struct db *db)
{
	if (db == NULL)
		return;
	for (int i = 0; i < db->nconns; i++) {
		struct conn *c = &db->conns[i];
		evtimer_del(&c->timer);
		if (c->ev_added)
			event_del(&c->ev);
		if (c->res)
			PQclear(c->res);
		if (c->q) {
			struct db_result r = {.status = DB_UNAVAILABLE, .message = "shutting down"};
			c->q->cb(&r, c->q->arg);
			query_free(c->q);
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
