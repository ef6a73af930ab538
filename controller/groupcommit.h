/*
 * Group commit of small statements: items queue up and are written by one statement per batch.
 * One batch is in flight at a time; what arrives meanwhile forms the next one, so a quiet
 * controller writes each item at once (no added delay) and a busy one writes hundreds per
 * statement and per commit. The statement gets $1 = a JSON array with one object per item (what
 * the fill function adds, plus "i": the item's index) and returns at most one row per item whose
 * first column is that index; done() then runs for every item, with its row or -1.
 */
#ifndef WEBRACK_GROUPCOMMIT_H
#define WEBRACK_GROUPCOMMIT_H

#include <stddef.h>

#include <jansson.h>

#include "db.h"

struct event_base;
struct groupcommit;

/* The pool the next batch goes to (called at every flush). */
typedef struct db *(*groupcommit_db_fn)(void *ctx);

/* Describe one item as a JSON object (its fields; "i" is added). */
typedef json_t *(*groupcommit_fill_fn)(void *item);
/* The item's outcome: res of the whole statement, and the item's row (-1: no row). */
typedef void (*groupcommit_done_fn)(void *item, const struct db_result *res, int row);

/* sql must stay valid (a string literal). NULL when out of memory. */
struct groupcommit *groupcommit_new(struct event_base *base, groupcommit_db_fn db, void *db_ctx,
				    const char *sql, size_t max_batch, groupcommit_fill_fn fill,
				    groupcommit_done_fn done);
/* Queue an item; done() runs later on the loop, exactly once (also on failure). */
void groupcommit_add(struct groupcommit *g, void *item);
/* At exit only: queued items are dropped without done(). */
void groupcommit_free(struct groupcommit *g);

#endif
