/*
 * Unit tests for controller/vserver_cache.c: a vServer comes back as stored (its place and a
 * reference to the same object) until its deadline and only for the ip_stale_after it was read
 * with; an invalidation forgets everything and refuses reads that started before it (the
 * generation); the entry bound holds; objects are released exactly once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "vserver_cache.h"

static struct subject
subject(int64_t id)
{
	struct subject s;

	memset(&s, 0, sizeof(s));
	s.type = "vserver";
	s.id = id;
	s.vserver_id = id;
	s.vdc_id = 7;
	s.path[0] = 1;
	s.path[1] = 3;
	s.path_len = 2;
	snprintf(s.name, sizeof(s.name), "vs%lld", (long long)id);
	return s;
}

static json_t *
object(int64_t id)
{
	return json_pack("{s:I, s:s}", "id", (json_int_t)id, "state", "running");
}

static void
test_get_put(void **state)
{
	struct vserver_cache *vc = vserver_cache_new(8);
	struct subject s = subject(5), got;
	json_t *obj = object(5), *out = NULL;
	uint64_t gen = vserver_cache_generation(vc);

	assert_false(vserver_cache_get(vc, 5, 100.0, 3600, &got, &out));
	vserver_cache_put(vc, gen, 100.0, 110.0, 3600, &s, obj);
	assert_int_equal(vserver_cache_count(vc), 1);
	assert_int_equal(obj->refcount, 2);
	assert_true(vserver_cache_get(vc, 5, 109.9, 3600, &got, &out));
	assert_ptr_equal(out, obj);
	assert_int_equal(obj->refcount, 3);
	json_decref(out);
	assert_string_equal(got.name, "vs5");
	assert_int_equal(got.vdc_id, 7);
	assert_int_equal(got.path_len, 2);
	assert_int_equal(got.path[1], 3);
	/* another id, another ip_stale_after, the deadline */
	assert_false(vserver_cache_get(vc, 6, 101.0, 3600, &got, &out));
	assert_false(vserver_cache_get(vc, 5, 101.0, 60, &got, &out)); /* and dropped */
	assert_int_equal(vserver_cache_count(vc), 0);
	assert_int_equal(obj->refcount, 1);
	vserver_cache_put(vc, gen, 100.0, 110.0, 3600, &s, obj);
	assert_false(vserver_cache_get(vc, 5, 110.0, 3600, &got, &out));
	assert_int_equal(vserver_cache_count(vc), 0);
	/* already over: not stored */
	vserver_cache_put(vc, gen, 100.0, 100.0, 3600, &s, obj);
	assert_int_equal(vserver_cache_count(vc), 0);
	/* a second put replaces */
	json_t *newer = object(5);
	vserver_cache_put(vc, gen, 100.0, 110.0, 3600, &s, obj);
	vserver_cache_put(vc, gen, 100.0, 120.0, 3600, &s, newer);
	assert_int_equal(vserver_cache_count(vc), 1);
	assert_int_equal(obj->refcount, 1);
	assert_true(vserver_cache_get(vc, 5, 115.0, 3600, &got, &out));
	assert_ptr_equal(out, newer);
	json_decref(out);
	vserver_cache_free(vc);
	assert_int_equal(obj->refcount, 1);
	assert_int_equal(newer->refcount, 1);
	json_decref(obj);
	json_decref(newer);
}

static void
test_invalidate(void **state)
{
	struct vserver_cache *vc = vserver_cache_new(64);
	struct subject got;
	json_t *objs[40], *out;
	uint64_t gen = vserver_cache_generation(vc);

	for (int i = 0; i < 40; i++) {
		struct subject s = subject(i + 1);
		objs[i] = object(i + 1);
		vserver_cache_put(vc, gen, 0.0, 10.0, 3600, &s, objs[i]);
	}
	assert_int_equal(vserver_cache_count(vc), 40);
	uint64_t before = vserver_cache_generation(vc);
	vserver_cache_invalidate(vc);
	assert_int_equal(vserver_cache_count(vc), 0);
	for (int i = 0; i < 40; i++) {
		assert_int_equal(objs[i]->refcount, 1);
		assert_false(vserver_cache_get(vc, i + 1, 1.0, 3600, &got, &out));
	}
	/* a read that started before the invalidation is not stored */
	struct subject s = subject(1);
	vserver_cache_put(vc, before, 1.0, 10.0, 3600, &s, objs[0]);
	assert_int_equal(vserver_cache_count(vc), 0);
	vserver_cache_put(vc, vserver_cache_generation(vc), 1.0, 10.0, 3600, &s, objs[0]);
	assert_int_equal(vserver_cache_count(vc), 1);
	/* emptied again, and entries added after it are found */
	vserver_cache_invalidate(vc);
	vserver_cache_put(vc, vserver_cache_generation(vc), 1.0, 10.0, 3600, &s, objs[0]);
	assert_true(vserver_cache_get(vc, 1, 2.0, 3600, &got, &out));
	json_decref(out);
	vserver_cache_free(vc);
	for (int i = 0; i < 40; i++) {
		assert_int_equal(objs[i]->refcount, 1);
		json_decref(objs[i]);
	}
}

static void
test_bound(void **state)
{
	struct vserver_cache *vc = vserver_cache_new(3);
	struct subject got;
	json_t *obj = object(1), *out;
	uint64_t gen = vserver_cache_generation(vc);

	for (int i = 1; i <= 3; i++) {
		struct subject s = subject(i);
		vserver_cache_put(vc, gen, 0.0, i == 1 ? 5.0 : 50.0, 3600, &s, obj);
	}
	struct subject s4 = subject(4);
	vserver_cache_put(vc, gen, 1.0, 50.0, 3600, &s4, obj); /* full, nothing expired */
	assert_int_equal(vserver_cache_count(vc), 3);
	assert_false(vserver_cache_get(vc, 4, 2.0, 3600, &got, &out));
	vserver_cache_put(vc, gen, 6.0, 50.0, 3600, &s4, obj); /* vServer 1 has expired */
	assert_int_equal(vserver_cache_count(vc), 3);
	assert_true(vserver_cache_get(vc, 4, 7.0, 3600, &got, &out));
	json_decref(out);
	assert_false(vserver_cache_get(vc, 1, 7.0, 3600, &got, &out));
	vserver_cache_free(vc);
	assert_int_equal(obj->refcount, 1);
	json_decref(obj);

	/* off */
	vc = vserver_cache_new(0);
	struct subject s = subject(1);
	obj = object(1);
	vserver_cache_put(vc, vserver_cache_generation(vc), 0.0, 10.0, 3600, &s, obj);
	assert_false(vserver_cache_get(vc, 1, 1.0, 3600, &got, &out));
	vserver_cache_free(vc);
	assert_int_equal(obj->refcount, 1);
	json_decref(obj);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_put),
		cmocka_unit_test(test_invalidate),
		cmocka_unit_test(test_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
