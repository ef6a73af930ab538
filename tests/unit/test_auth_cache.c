/*
 * Unit tests for controller/auth_cache.c: a principal comes back as stored until its deadline,
 * an invalidation forgets everything and refuses lookups that started before it (the
 * generation), the entry bound holds, and malformed keys are never stored.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "auth_cache.h"

static void
key_of(int n, char key[65])
{
	snprintf(key, 65, "%064x", n);
}

static struct principal
principal(int64_t user)
{
	struct principal p;

	memset(&p, 0, sizeof(p));
	p.kind = AUTH_TOKEN;
	p.user_id = user;
	snprintf(p.username, sizeof(p.username), "u%lld", (long long)user);
	p.path[0] = 1;
	p.path[1] = user;
	p.path_len = 2;
	p.ngrants = 1;
	p.grants[0] = (struct grant){
		.id = 9, .scope_type = SCOPE_ACCOUNT, .scope_id = user, .role = ROLE_VIEWER};
	p.token_mask = 0x5;
	p.token_id = 100 + user;
	return p;
}

static void
test_hit_until_deadline(void **state)
{
	struct auth_cache *ac = auth_cache_new(8);
	struct principal p = principal(7), got;
	char key[65];

	(void)state;
	key_of(1, key);
	assert_false(auth_cache_get(ac, key, 1000.0, &got));
	auth_cache_put(ac, key, auth_cache_generation(ac), 1000.0, 1010.0, &p);
	assert_int_equal(auth_cache_count(ac), 1);
	memset(&got, 0, sizeof(got));
	assert_true(auth_cache_get(ac, key, 1009.9, &got));
	assert_memory_equal(&got, &p, sizeof(p));
	/* Expired: gone, and removed. */
	assert_false(auth_cache_get(ac, key, 1010.0, &got));
	assert_int_equal(auth_cache_count(ac), 0);
	/* A deadline already past is not stored. */
	auth_cache_put(ac, key, auth_cache_generation(ac), 1000.0, 999.0, &p);
	assert_int_equal(auth_cache_count(ac), 0);
	auth_cache_free(ac);
}

static void
test_invalidate_and_generation(void **state)
{
	struct auth_cache *ac = auth_cache_new(8);
	struct principal p = principal(7), got;
	char k1[65], k2[65];

	(void)state;
	key_of(1, k1);
	key_of(2, k2);
	uint64_t g0 = auth_cache_generation(ac);
	auth_cache_put(ac, k1, g0, 0.0, 10.0, &p);
	assert_true(auth_cache_get(ac, k1, 1.0, &got));
	/* A lookup for k2 started before the change ... */
	uint64_t started = auth_cache_generation(ac);
	auth_cache_invalidate(ac);
	assert_false(auth_cache_get(ac, k1, 1.0, &got));
	assert_int_equal(auth_cache_count(ac), 0);
	/* ... and finished after it: its (possibly stale) answer is not kept. */
	auth_cache_put(ac, k2, started, 1.0, 10.0, &p);
	assert_false(auth_cache_get(ac, k2, 1.0, &got));
	/* A lookup started after the change is kept. */
	auth_cache_put(ac, k2, auth_cache_generation(ac), 1.0, 10.0, &p);
	assert_true(auth_cache_get(ac, k2, 1.0, &got));
	auth_cache_free(ac);
}

static void
test_keys_distinct_and_replace(void **state)
{
	struct auth_cache *ac = auth_cache_new(64);
	struct principal got;
	char key[65];

	(void)state;
	for (int i = 0; i < 40; i++) {
		struct principal p = principal(i + 1);
		key_of(i << 20, key); /* the same leading digits: one bucket */
		auth_cache_put(ac, key, auth_cache_generation(ac), 0.0, 10.0, &p);
	}
	assert_int_equal(auth_cache_count(ac), 40);
	for (int i = 0; i < 40; i++) {
		key_of(i << 20, key);
		assert_true(auth_cache_get(ac, key, 1.0, &got));
		assert_int_equal(got.user_id, i + 1);
	}
	/* Storing again under a key replaces. */
	struct principal p = principal(99);
	key_of(0, key);
	auth_cache_put(ac, key, auth_cache_generation(ac), 0.0, 10.0, &p);
	assert_int_equal(auth_cache_count(ac), 40);
	assert_true(auth_cache_get(ac, key, 1.0, &got));
	assert_int_equal(got.user_id, 99);
	auth_cache_free(ac);
}

static void
test_bounded(void **state)
{
	struct auth_cache *ac = auth_cache_new(4);
	struct principal p = principal(1), got;
	char key[65];

	(void)state;
	for (int i = 0; i < 4; i++) {
		key_of(i, key);
		auth_cache_put(ac, key, auth_cache_generation(ac), 0.0, 5.0 + i, &p);
	}
	/* Full of fresh entries: a newcomer is not cached. */
	key_of(10, key);
	auth_cache_put(ac, key, auth_cache_generation(ac), 1.0, 20.0, &p);
	assert_int_equal(auth_cache_count(ac), 4);
	assert_false(auth_cache_get(ac, key, 1.0, &got));
	/* Once some have expired, their room is reused. */
	auth_cache_put(ac, key, auth_cache_generation(ac), 6.5, 20.0, &p);
	assert_int_equal(auth_cache_count(ac), 3); /* two expired went, one came */
	assert_true(auth_cache_get(ac, key, 6.5, &got));
	auth_cache_free(ac);
}

static void
test_off_and_bad_keys(void **state)
{
	struct auth_cache *off = auth_cache_new(0), *ac = auth_cache_new(4);
	struct principal p = principal(1), got;
	char key[65];

	(void)state;
	key_of(1, key);
	auth_cache_put(off, key, auth_cache_generation(off), 0.0, 10.0, &p);
	assert_false(auth_cache_get(off, key, 1.0, &got));
	auth_cache_put(ac, "abc", auth_cache_generation(ac), 0.0, 10.0, &p);
	auth_cache_put(ac, NULL, auth_cache_generation(ac), 0.0, 10.0, &p);
	assert_int_equal(auth_cache_count(ac), 0);
	assert_false(auth_cache_get(ac, "abc", 1.0, &got));
	assert_false(auth_cache_get(NULL, key, 1.0, &got));
	auth_cache_invalidate(NULL);
	auth_cache_free(off);
	auth_cache_free(ac);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_until_deadline),
		cmocka_unit_test(test_invalidate_and_generation),
		cmocka_unit_test(test_keys_distinct_and_replace),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_off_and_bad_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
