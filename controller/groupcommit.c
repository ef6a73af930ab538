/*
 * Group commit (see groupcommit.h). The queue is a growable array; a batch is the queue's head
 * up to max_batch items, described as one JSON array parameter.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "groupcommit.h"
#include "log.h"

struct groupcommit {
	groupcommit_db_fn db;
	void *db_ctx;
	const char *sql;
	size_t max_batch;
	groupcommit_fill_fn fill;
	groupcommit_done_fn done;
	void **queue;
	size_t n, cap;
	void **batch; /* in flight */
	size_t nbatch;
	int *row_of; /* the batch's item index -> result row */
	bool busy;
	struct event *kick;
};

static void flush(struct groupcommit *g);

static void
on_kick(evutil_socket_t fd, short what, void *arg)
{
	flush(arg);
}

struct groupcommit *
groupcommit_new(struct event_base *base, groupcommit_db_fn db, void *db_ctx, const char *sql,
		size_t max_batch, groupcommit_fill_fn fill, groupcommit_done_fn done)
{
	struct groupcommit *g = calloc(1, sizeof(*g));

	if (g == NULL)
		return NULL;
	g->db = db;
	g->db_ctx = db_ctx;
	g->sql = sql;
	g->max_batch = max_batch ? max_batch : 1;
	g->fill = fill;
	g->done = done;
	g->batch = calloc(g->max_batch, sizeof(*g->batch));
	g->row_of = calloc(g->max_batch, sizeof(*g->row_of));
	g->kick = event_new(base, -1, 0, on_kick, g);
	if (g->batch == NULL || g->row_of == NULL || g->kick == NULL) {
		groupcommit_free(g);
		return NULL;
	}
	return g;
}

void
groupcommit_free(struct groupcommit *g)
{
	if (g == NULL)
		return;
	if (g->kick != NULL)
		event_free(g->kick);
	free(g->queue);
	free(g->batch);
	free(g->row_of);
	free(g);
}

void
groupcommit_add(struct groupcommit *g, void *item)
{
	if (g->n == g->cap) {
		size_t ncap = g->cap ? g->cap * 2 : 64;
		void **nq = realloc(g->queue, ncap * sizeof(*nq));
		if (nq == NULL) {
			struct db_result oom = {.status = DB_BUSY, .message = "out of memory"};
			g->done(item, &oom, -1);
			return;
		}
		g->queue = nq;
		g->cap = ncap;
	}
	g->queue[g->n++] = item;
	/* Batch whatever arrives in this loop pass: the flush runs after the current callbacks. */
	if (!g->busy && g->n == 1)
		event_active(g->kick, EV_TIMEOUT, 0);
}

static void
written(const struct db_result *res, void *arg)
{
	struct groupcommit *g = arg;
	size_t n = g->nbatch;

	for (size_t i = 0; i < n; i++)
		g->row_of[i] = -1;
	if (res->status == DB_OK)
		for (int r = 0; r < PQntuples(res->res); r++) {
			long i = strtol(PQgetvalue(res->res, r, 0), NULL, 10);
			if (i >= 0 && (size_t)i < n)
				g->row_of[i] = r;
		}
	g->busy = false;
	g->nbatch = 0;
	/* done() may queue new items (the next step): they join the next batch. */
	for (size_t i = 0; i < n; i++)
		g->done(g->batch[i], res, g->row_of[i]);
	if (!g->busy && g->n > 0)
		flush(g);
}

static void
flush(struct groupcommit *g)
{
	if (g->busy || g->n == 0)
		return;
	size_t n = g->n < g->max_batch ? g->n : g->max_batch;
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *o = g->fill(g->queue[i]);
		if (o == NULL)
			o = json_object();
		json_object_set_new(o, "i", json_integer((json_int_t)i));
		json_array_append_new(arr, o);
		g->batch[i] = g->queue[i];
	}
	memmove(g->queue, g->queue + n, (g->n - n) * sizeof(*g->queue));
	g->n -= n;
	g->nbatch = n;
	char *text = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	g->busy = true;
	if (text == NULL) {
		struct db_result oom = {.status = DB_BUSY, .message = "out of memory"};
		written(&oom, g);
		return;
	}
	const char *params[] = {text};
	db_query(g->db(g->db_ctx), g->sql, 1, params, written, g);
	free(text);
}
