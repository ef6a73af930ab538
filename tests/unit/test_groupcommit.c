/*
 * Unit tests for controller/groupcommit.c, the layer above the database pool: db_query() is
 * replaced by a fake that records each statement's JSON parameter and answers when the test says
 * so, with rows built by libpq's own result constructors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "db.h"
#include "groupcommit.h"

/* ------------------------------------------------------------------ the fake pool */

static struct {
	int calls;
	json_t *param; /* the last statement's $1 */
	db_callback cb;
	void *arg;
} fake;

void
db_query(struct db *db, const char *sql, int nparams, const char *const *params, db_callback cb,
	 void *arg)
{
	(void)db;
	(void)sql;
	assert_int_equal(nparams, 1);
	assert_null(fake.cb); /* one statement in flight at a time */
	fake.calls++;
	json_decref(fake.param);
	fake.param = json_loads(params[0], 0, NULL);
	assert_non_null(fake.param);
	fake.cb = cb;
	fake.arg = arg;
}

static struct db *
the_db(void *ctx)
{
	(void)ctx;
	return NULL;
}

/* Answer the statement in flight with one row (column 0 = i) for each listed index. */
static void
answer(const int *rows, int n)
{
	PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	PGresAttDesc att = {.name = "i", .format = 0, .typid = 23, .typlen = 4, .atttypmod = -1};
	char buf[16];

	assert_int_equal(PQsetResultAttrs(res, 1, &att), 1);
	for (int r = 0; r < n; r++) {
		snprintf(buf, sizeof(buf), "%d", rows[r]);
		assert_int_equal(PQsetvalue(res, r, 0, buf, (int)strlen(buf)), 1);
	}
	struct db_result dr = {.status = DB_OK, .res = res};
	db_callback cb = fake.cb;
	fake.cb = NULL;
	cb(&dr, fake.arg);
	PQclear(res);
}

static void
answer_error(void)
{
	struct db_result dr = {.status = DB_SQL_ERROR, .sqlstate = "40P01", .message = "deadlock"};
	db_callback cb = fake.cb;
	fake.cb = NULL;
	cb(&dr, fake.arg);
}

/* ------------------------------------------------------------------ items */

struct item {
	int id;
	int done;		     /* times done() ran */
	int row;		     /* the row it got */
	bool failed;		     /* the statement failed */
	struct groupcommit *requeue; /* done() queues this item again there */
};

static json_t *
fill(void *p)
{
	return json_pack("{s:i}", "id", ((struct item *)p)->id);
}

static void
done(void *p, const struct db_result *res, int row)
{
	struct item *it = p;

	it->done++;
	it->row = row;
	it->failed = res->status != DB_OK;
}

static struct event_base *base;

static int
setup(void **state)
{
	(void)state;
	memset(&fake, 0, sizeof(fake));
	base = event_base_new();
	return base == NULL;
}

static int
teardown(void **state)
{
	(void)state;
	json_decref(fake.param);
	event_base_free(base);
	return 0;
}

static void
run_loop(void)
{
	event_base_loop(base, EVLOOP_NONBLOCK);
}

/* ------------------------------------------------------------------ tests */

static void
test_one_loop_pass_is_one_statement(void **state)
{
	struct groupcommit *g = groupcommit_new(base, the_db, NULL, "S", 100, fill, done);
	struct item it[5] = {{.id = 10}, {.id = 11}, {.id = 12}, {.id = 13}, {.id = 14}};

	(void)state;
	for (int i = 0; i < 5; i++)
		groupcommit_add(g, &it[i]);
	assert_int_equal(fake.calls, 0); /* never inside the caller */
	run_loop();
	assert_int_equal(fake.calls, 1);
	assert_int_equal(json_array_size(fake.param), 5);
	for (int i = 0; i < 5; i++) {
		json_t *o = json_array_get(fake.param, (size_t)i);
		assert_int_equal(json_integer_value(json_object_get(o, "i")), i);
		assert_int_equal(json_integer_value(json_object_get(o, "id")), 10 + i);
	}
	/* Rows in any order; item 3 gets none (e.g. a conflict). */
	int rows[] = {4, 0, 2, 1};
	answer(rows, 4);
	for (int i = 0; i < 5; i++)
		assert_int_equal(it[i].done, 1);
	assert_int_equal(it[0].row, 1);
	assert_int_equal(it[1].row, 3);
	assert_int_equal(it[2].row, 2);
	assert_int_equal(it[3].row, -1);
	assert_int_equal(it[4].row, 0);
	groupcommit_free(g);
}

static void
test_what_arrives_in_flight_is_the_next_batch(void **state)
{
	struct groupcommit *g = groupcommit_new(base, the_db, NULL, "S", 3, fill, done);
	struct item it[6] = {{.id = 0}, {.id = 1}, {.id = 2}, {.id = 3}, {.id = 4}, {.id = 5}};

	(void)state;
	groupcommit_add(g, &it[0]);
	run_loop();
	assert_int_equal(fake.calls, 1);
	for (int i = 1; i < 6; i++)
		groupcommit_add(g, &it[i]); /* while the first is in flight */
	run_loop();
	assert_int_equal(fake.calls, 1);
	int r0[] = {0};
	answer(r0, 1);
	assert_int_equal(it[0].done, 1);
	/* The next batch goes out at once, at most max_batch items. */
	assert_int_equal(fake.calls, 2);
	assert_int_equal(json_array_size(fake.param), 3);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(fake.param, 0), "id")),
			 1);
	int r1[] = {0, 1, 2};
	answer(r1, 3);
	assert_int_equal(fake.calls, 3);
	assert_int_equal(json_array_size(fake.param), 2);
	int r2[] = {0, 1};
	answer(r2, 2);
	for (int i = 0; i < 6; i++)
		assert_int_equal(it[i].done, 1);
	run_loop();
	assert_int_equal(fake.calls, 3); /* nothing left: no empty statement */
	groupcommit_free(g);
}

static void
test_failed_statement_fails_every_item_once(void **state)
{
	struct groupcommit *g = groupcommit_new(base, the_db, NULL, "S", 10, fill, done);
	struct item it[3] = {{.id = 0}, {.id = 1}, {.id = 2}};

	(void)state;
	for (int i = 0; i < 3; i++)
		groupcommit_add(g, &it[i]);
	run_loop();
	answer_error();
	for (int i = 0; i < 3; i++) {
		assert_int_equal(it[i].done, 1);
		assert_true(it[i].failed);
		assert_int_equal(it[i].row, -1);
	}
	groupcommit_free(g);
}

static void
requeue_done(void *p, const struct db_result *res, int row)
{
	struct item *it = p;

	done(p, res, row);
	if (it->requeue != NULL && it->done == 1)
		groupcommit_add(it->requeue, it); /* e.g. a task's next step */
}

static void
test_items_queued_by_done_join_the_next_batch(void **state)
{
	struct groupcommit *g = groupcommit_new(base, the_db, NULL, "S", 10, fill, requeue_done);
	struct item it[2] = {{.id = 0}, {.id = 1}};

	(void)state;
	it[0].requeue = g;
	it[1].requeue = g;
	groupcommit_add(g, &it[0]);
	groupcommit_add(g, &it[1]);
	run_loop();
	int r[] = {0, 1};
	answer(r, 2);
	/* Both came back from done() and form one new statement. */
	run_loop();
	assert_int_equal(fake.calls, 2);
	assert_int_equal(json_array_size(fake.param), 2);
	answer(r, 2);
	assert_int_equal(it[0].done, 2);
	assert_int_equal(it[1].done, 2);
	groupcommit_free(g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_one_loop_pass_is_one_statement, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_what_arrives_in_flight_is_the_next_batch,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_statement_fails_every_item_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_items_queued_by_done_join_the_next_batch,
						setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
