/*
 * Unit tests for common/secret.c: known vectors for SHA-256 and base64, the URL-safe alphabet of
 * base64url, the shape and uniqueness of tokens, and the result of the constant-time comparison.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "secret.h"

static void
test_sha256_vectors(void **state)
{
	char hex[SECRET_SHA256_HEX_SIZE];

	(void)state;
	secret_sha256_hex("abc", 3, hex);
	assert_string_equal(hex,
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	secret_sha256_hex("", 0, hex);
	assert_string_equal(hex,
			    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void
test_base64_vectors(void **state)
{
	/* RFC 4648 section 10. */
	static const char *const vec[][2] = {
		{"", ""},
		{"f", "Zg=="},
		{"fo", "Zm8="},
		{"foo", "Zm9v"},
		{"foob", "Zm9vYg=="},
		{"fooba", "Zm9vYmE="},
		{"foobar", "Zm9vYmFy"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		char *s = secret_base64(vec[i][0], strlen(vec[i][0]));

		assert_non_null(s);
		assert_string_equal(s, vec[i][1]);
		free(s);
	}
}

static void
test_base64_no_newlines(void **state)
{
	unsigned char buf[300];
	char *s;

	(void)state;
	memset(buf, 0xa5, sizeof(buf));
	s = secret_base64(buf, sizeof(buf));
	assert_non_null(s);
	assert_int_equal(strlen(s), 400);
	assert_null(strchr(s, '\n'));
	free(s);
}

static void
test_base64url_alphabet(void **state)
{
	/* 0xfb 0xff encodes to "+/8=" in standard base64. */
	static const unsigned char in[] = {0xfb, 0xff};
	unsigned char buf[256];
	char *s;

	(void)state;
	s = secret_base64url(in, sizeof(in));
	assert_non_null(s);
	assert_string_equal(s, "-_8");
	free(s);

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)i;
	/* Every length modulo 3, so every amount of padding that must be stripped. */
	for (size_t len = 0; len <= sizeof(buf); len++) {
		s = secret_base64url(buf, len);
		assert_non_null(s);
		assert_null(strpbrk(s, "+/=\n"));
		assert_int_equal(strlen(s), (len * 4 + 2) / 3);
		free(s);
	}
}

static void
test_random(void **state)
{
	unsigned char a[32], b[32], zero[32] = {0};
	unsigned char *big;
	size_t n = 100000, nonzero = 0;

	(void)state;
	assert_int_equal(secret_random(a, sizeof(a)), 0);
	assert_int_equal(secret_random(b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_memory_not_equal(a, zero, sizeof(a));

	/* Larger than one getrandom call is guaranteed to return: the whole buffer must be filled,
	 * so the tail cannot stay zero. */
	big = calloc(1, n);
	assert_non_null(big);
	assert_int_equal(secret_random(big, n), 0);
	for (size_t i = n - 1000; i < n; i++)
		nonzero += big[i] != 0;
	assert_true(nonzero > 900);
	free(big);
}

static void
test_new_token(void **state)
{
	char *t1, *t2;

	(void)state;
	t1 = secret_new_token("wr_", 32);
	t2 = secret_new_token("wr_", 32);
	assert_non_null(t1);
	assert_non_null(t2);
	assert_int_equal(strlen(t1), 3 + 43);
	assert_memory_equal(t1, "wr_", 3);
	assert_int_equal(
		strspn(t1 + 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
		43);
	assert_string_not_equal(t1, t2);
	free(t1);
	free(t2);

	t1 = secret_new_token("", 16);
	assert_non_null(t1);
	assert_int_equal(strlen(t1), 22);
	free(t1);

	assert_null(secret_new_token(NULL, 16));
	assert_null(secret_new_token("x", 0));
	assert_null(secret_new_token("x", 4097));
}

static void
test_equal(void **state)
{
	(void)state;
	assert_true(secret_equal("abcdef", "abcdef", 6));
	assert_false(secret_equal("abcdef", "abcdeg", 6));
	assert_false(secret_equal("xbcdef", "abcdef", 6));
	assert_true(secret_equal("abcdef", "abcdeg", 5));
	assert_true(secret_equal("a", "b", 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_base64_vectors),
		cmocka_unit_test(test_base64_no_newlines),
		cmocka_unit_test(test_base64url_alphabet),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_new_token),
		cmocka_unit_test(test_equal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
