/*
 * Unit tests for controller/password.c: hashes verify and reject, malformed or foreign encodings
 * are refused without crashing, parameter changes are noticed, and the password policy holds its
 * bounds. Costs are kept tiny (1 MiB, one pass) so the suite runs in well under a second.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "password.h"

static const struct password_params fast = {.t_cost = 1, .m_cost_kib = 1024, .parallelism = 1};

static void
test_hash_format(void **state)
{
	const char *prefix = "$argon2id$v=19$m=1024,t=1,p=1$";
	char *h1, *h2;

	(void)state;
	h1 = password_hash("correct horse battery", &fast);
	h2 = password_hash("correct horse battery", &fast);
	assert_non_null(h1);
	assert_non_null(h2);
	assert_memory_equal(h1, prefix, strlen(prefix));
	/* 16-byte salt = 22 base64 characters, 32-byte hash = 43. */
	assert_int_equal(strlen(h1), strlen(prefix) + 22 + 1 + 43);
	/* A fresh salt each time. */
	assert_string_not_equal(h1, h2);
	free(h1);
	free(h2);
}

static void
test_hash_owasp_params(void **state)
{
	const struct password_params owasp = PASSWORD_OWASP_PARAMS;
	char *h;

	(void)state;
	h = password_hash("correct horse battery", &owasp);
	assert_non_null(h);
	assert_memory_equal(h, "$argon2id$v=19$m=19456,t=2,p=1$", 31);
	assert_int_equal(password_verify(h, "correct horse battery"), 1);
	assert_false(password_needs_rehash(h, &owasp));
	free(h);
}

static void
test_verify(void **state)
{
	char *h;

	(void)state;
	h = password_hash("correct horse battery", &fast);
	assert_non_null(h);
	assert_int_equal(password_verify(h, "correct horse battery"), 1);
	assert_int_equal(password_verify(h, "correct horse batterz"), 0);
	assert_int_equal(password_verify(h, "correct horse battery "), 0);
	assert_int_equal(password_verify(h, ""), 0);
	assert_int_equal(password_verify(h, NULL), -1);
	free(h);
}

static void
test_hash_bad_args(void **state)
{
	const struct password_params zero_t = {.t_cost = 0, .m_cost_kib = 1024, .parallelism = 1};
	const struct password_params tiny_m = {.t_cost = 1, .m_cost_kib = 4, .parallelism = 1};
	const struct password_params zero_p = {.t_cost = 1, .m_cost_kib = 1024, .parallelism = 0};
	const struct password_params huge_m = {
		.t_cost = 1, .m_cost_kib = UINT32_MAX, .parallelism = 1};
	/* Just over our 1 GiB cap: libargon2 alone would accept it. */
	const struct password_params big_m = {.t_cost = 1, .m_cost_kib = 1048584, .parallelism = 1};
	const struct password_params big_t = {.t_cost = 65, .m_cost_kib = 8, .parallelism = 1};
	const struct password_params big_p = {.t_cost = 1, .m_cost_kib = 1024, .parallelism = 65};

	(void)state;
	assert_null(password_hash(NULL, &fast));
	assert_null(password_hash("correct horse battery", NULL));
	assert_null(password_hash("correct horse battery", &zero_t));
	assert_null(password_hash("correct horse battery", &tiny_m));
	assert_null(password_hash("correct horse battery", &zero_p));
	assert_null(password_hash("correct horse battery", &huge_m));
	assert_null(password_hash("correct horse battery", &big_m));
	assert_null(password_hash("correct horse battery", &big_t));
	assert_null(password_hash("correct horse battery", &big_p));
}

static void
test_verify_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"garbage",
		"$",
		"$argon2id",
		"$argon2id$",
		"$argon2id$v=19$",
		"$argon2id$v=19$m=1024,t=1,p=1",
		"$argon2id$v=19$m=1024,t=1,p=1$",
		"$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHRzb21lc2FsdA",
		"$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$",
		/* Reference argon2i vector: not argon2id, refused without hashing. */
		"$argon2i$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
		"$argon2d$v=19$m=1024,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		/* Version 0x10, wrong order, signs, leading zeros, junk after the hash. */
		"$argon2id$v=16$m=1024,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$m=1024,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$t=1,m=1024,p=1$c29tZXNhbHRzb21lc2FsdA$"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=+1024,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=01024,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA$",
		"$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHRz*21lc2FsdA$"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		/* Costs a forged row could use to exhaust memory or time: refused unhashed. */
		"$argon2id$v=19$m=4294967295,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=4294967296,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=1048584,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=1024,t=65,p=1$c29tZXNhbHRzb21lc2FsdA$"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=1024,t=1,p=65$c29tZXNhbHRzb21lc2FsdA$"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=1024,t=4294967295,p=1$c29tZXNhbHRzb21lc2FsdA$"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=1024,t=1,p=0$c29tZXNhbHRzb21lc2FsdA$"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=1024,t=0,p=1$c29tZXNhbHRzb21lc2FsdA$"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		/* Salt shorter than libargon2's minimum of 8 bytes. */
		"$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	};

	(void)state;
	assert_int_equal(password_verify(NULL, "correct horse battery"), -1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = password_verify(bad[i], "correct horse battery");

		if (rc != -1)
			fail_msg("password_verify(\"%s\") = %d, want -1", bad[i], rc);
	}
}

static void
test_verify_truncated(void **state)
{
	char *h, *cut;
	size_t len;

	(void)state;
	h = password_hash("correct horse battery", &fast);
	assert_non_null(h);
	len = strlen(h);
	cut = strdup(h);
	assert_non_null(cut);
	/* Every proper prefix must fail; prefixes that still end inside the hash field decode to a
	 * shorter hash and are a mismatch, every other one is malformed. */
	for (size_t i = 0; i < len; i++) {
		cut[i] = '\0';
		if (password_verify(cut, "correct horse battery") == 1)
			fail_msg("truncated to %zu bytes still verifies", i);
		memcpy(cut, h, len + 1);
	}
	/* Everything up to and including the '$' before the hash is malformed. */
	cut[strrchr(h, '$') - h + 1] = '\0';
	assert_int_equal(password_verify(cut, "correct horse battery"), -1);
	free(cut);

	/* Too long to be one of ours. */
	cut = malloc(4096);
	assert_non_null(cut);
	memset(cut, 'A', 4095);
	cut[4095] = '\0';
	memcpy(cut, h, len);
	assert_int_equal(password_verify(cut, "correct horse battery"), -1);
	free(cut);
	free(h);
}

static void
test_needs_rehash(void **state)
{
	const struct password_params more_t = {.t_cost = 2, .m_cost_kib = 1024, .parallelism = 1};
	const struct password_params more_m = {.t_cost = 1, .m_cost_kib = 2048, .parallelism = 1};
	const struct password_params more_p = {.t_cost = 1, .m_cost_kib = 1024, .parallelism = 2};
	const struct password_params owasp = PASSWORD_OWASP_PARAMS;
	char *h, *h2;

	(void)state;
	h = password_hash("correct horse battery", &fast);
	assert_non_null(h);
	assert_false(password_needs_rehash(h, &fast));
	assert_true(password_needs_rehash(h, &more_t));
	assert_true(password_needs_rehash(h, &more_m));
	assert_true(password_needs_rehash(h, &more_p));
	assert_true(password_needs_rehash(h, &owasp));
	assert_true(password_needs_rehash(h, NULL));

	/* After rehashing with the new parameters, the old password still verifies. */
	h2 = password_hash("correct horse battery", &more_m);
	assert_non_null(h2);
	assert_false(password_needs_rehash(h2, &more_m));
	assert_int_equal(password_verify(h2, "correct horse battery"), 1);
	free(h2);
	free(h);

	assert_true(password_needs_rehash(NULL, &fast));
	assert_true(password_needs_rehash("", &fast));
	assert_true(password_needs_rehash("garbage", &fast));
	assert_true(password_needs_rehash("$argon2i$v=19$m=1024,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$"
					  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
					  &fast));
	/* Right parameters, but an 8-byte salt or a 16-byte hash is not what we produce. */
	assert_true(password_needs_rehash("$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHQ$"
					  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
					  &fast));
	assert_true(password_needs_rehash(
		"$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$AAAAAAAAAAAAAAAAAAAAAA",
		&fast));
	assert_false(password_needs_rehash("$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$"
					   "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
					   &fast));
	/* Junk after the hash makes the whole string foreign. */
	assert_true(password_needs_rehash("$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$"
					  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA$x",
					  &fast));
}

static void
test_policy(void **state)
{
	char buf[1026];
	const char *why;

	(void)state;
	why = NULL;
	assert_false(password_policy_ok("short", &why));
	assert_non_null(why);
	why = NULL;
	assert_false(password_policy_ok("123456789", &why));
	assert_non_null(why);
	assert_false(password_policy_ok("", NULL));
	why = NULL;
	assert_false(password_policy_ok(NULL, &why));
	assert_non_null(why);

	why = NULL;
	assert_true(password_policy_ok("1234567890", &why));
	assert_null(why);
	assert_true(password_policy_ok("pässwörd wïth spaces", NULL));

	memset(buf, 'a', sizeof(buf));
	buf[1024] = '\0';
	assert_true(password_policy_ok(buf, NULL));
	buf[1024] = 'a';
	buf[1025] = '\0';
	why = NULL;
	assert_false(password_policy_ok(buf, &why));
	assert_non_null(why);

	why = NULL;
	assert_false(password_policy_ok("tab\there12345", &why));
	assert_non_null(why);
	assert_false(password_policy_ok("newline\n12345", NULL));
	assert_false(password_policy_ok("unit sep\x1f"
					"12345",
					NULL));
	assert_false(password_policy_ok("escape\x1b[0m12345", NULL));
	assert_true(password_policy_ok("space is ok 12345", NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_format),	 cmocka_unit_test(test_hash_owasp_params),
		cmocka_unit_test(test_verify),		 cmocka_unit_test(test_hash_bad_args),
		cmocka_unit_test(test_verify_malformed), cmocka_unit_test(test_verify_truncated),
		cmocka_unit_test(test_needs_rehash),	 cmocka_unit_test(test_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
