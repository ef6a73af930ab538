/*
 * Asynchronous PostgreSQL for the event loop: a small pool of libpq connections, a bounded queue,
 * reconnect with backoff. A query's callback always runs later on the loop, never inside
 * db_query(), so callers need not guard against re-entry.
 */
#ifndef WEBRACK_DB_H
#define WEBRACK_DB_H

#include <stdbool.h>

#include <libpq-fe.h>

struct event_base;
struct db;

enum db_status {
	DB_OK,		/* res holds the rows */
	DB_SQL_ERROR,	/* the statement failed: sqlstate + message */
	DB_UNAVAILABLE, /* no connection to PostgreSQL */
	DB_BUSY,	/* the queue is full */
};

struct db_result {
	enum db_status status;
	const PGresult *res; /* DB_OK only; owned by db, valid during the callback */
	const char *sqlstate;
	const char *message;
};

typedef void (*db_callback)(const struct db_result *r, void *arg);

struct db *db_new(struct event_base *base, const char *conninfo, int pool_size, int queue_max);
void db_set_queue_max(struct db *db, int queue_max);

/*
 * Queries in flight per connection at most (pipeline mode; 1: one at a time). Each query is
 * still its own transaction, committed before its callback runs.
 */
#define DB_PIPELINE_DEPTH_DEFAULT 8
void db_set_pipeline_depth(struct db *db, int depth);

/*
 * Notifications. channel: NULL for "the session (re)started listening": whatever was notified
 * before may have been missed. extra: the payload (NULL in that case).
 */
typedef void (*db_notify_fn)(void *arg, const char *channel, const char *extra);

/*
 * Every session of every pool of the process (db and those made before or after it: the batch
 * pool too) LISTENs on channel (a static string, one channel per process) before its first
 * query, and cb hears every notification any session receives. A statement's own NOTIFY reaches
 * cb before the statement's callback runs (PostgreSQL delivers a session's own notifications
 * before its ReadyForQuery), so a change made through any pool is known before its caller is
 * answered.
 */
void db_listen(struct db *db, const char *channel, db_notify_fn cb, void *arg);
/* True when at least one session is up and every session that is up listens. */
bool db_listening(const struct db *db);
/* db_listening() for every pool that has a session up, and at least one such pool. */
bool db_listening_all(void);
bool db_is_up(const struct db *db);

/* sql must stay valid until the callback (a string literal); params are copied. */
void db_query(struct db *db, const char *sql, int nparams, const char *const *params,
	      db_callback cb, void *arg);

void db_free(struct db *db);

#endif
