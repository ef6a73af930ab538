/*
 * Unit tests for controller/totp.c: the RFC 6238 SHA-1 vectors (truncated to 6 digits), the
 * verification window, replay rejection, refusal of codes that are not exactly six ASCII digits,
 * RFC 4648 base32 vectors and round trips, and the escaping in otpauth:// URIs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "totp.h"

/* RFC 6238 appendix B, SHA-1 seed. */
static const unsigned char rfc_secret[] = "12345678901234567890";
#define RFC_LEN 20

static void
test_code_rfc6238(void **state)
{
	static const struct {
		time_t t;
		const char *code;
	} vec[] = {
		{59, "287082"},		{1111111109, "081804"}, {1111111111, "050471"},
		{1234567890, "005924"}, {2000000000, "279037"},
	};
	char out[TOTP_DIGITS + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		int64_t step = (int64_t)vec[i].t / TOTP_STEP_SECONDS;

		assert_int_equal(totp_code(rfc_secret, RFC_LEN, step, out), 0);
		assert_string_equal(out, vec[i].code);
		assert_int_equal(totp_verify(rfc_secret, RFC_LEN, vec[i].code, vec[i].t, 0, -1),
				 step);
	}
}

static void
test_code_bad_args(void **state)
{
	char out[TOTP_DIGITS + 1];

	(void)state;
	assert_int_equal(totp_code(NULL, RFC_LEN, 1, out), -1);
	assert_int_equal(totp_code(rfc_secret, 0, 1, out), -1);
	assert_int_equal(totp_code(rfc_secret, RFC_LEN, -1, out), -1);
}

static void
test_verify_window(void **state)
{
	const time_t now = 1111111111;
	const int64_t cur = now / TOTP_STEP_SECONDS;
	char code[TOTP_DIGITS + 1];

	(void)state;
	for (int d = -2; d <= 2; d++) {
		int64_t want = (d >= -1 && d <= 1) ? cur + d : -1;

		assert_int_equal(totp_code(rfc_secret, RFC_LEN, cur + d, code), 0);
		assert_int_equal(totp_verify(rfc_secret, RFC_LEN, code, now, 1, -1), want);
		/* With a window of 0 only the current step matches. */
		assert_int_equal(totp_verify(rfc_secret, RFC_LEN, code, now, 0, -1),
				 d == 0 ? cur : -1);
		/* With ±2 all five match. */
		assert_int_equal(totp_verify(rfc_secret, RFC_LEN, code, now, 2, -1), cur + d);
	}
	assert_int_equal(totp_verify(rfc_secret, RFC_LEN, "050471", now, -1, -1), -1);
	assert_int_equal(totp_verify(rfc_secret, RFC_LEN, "050471", now, TOTP_MAX_WINDOW + 1, -1),
			 -1);
	assert_int_equal(totp_verify(rfc_secret, RFC_LEN, "050471", -1, 1, -1), -1);
}

static void
test_verify_wrong_secret(void **state)
{
	static const unsigned char other[] = "12345678901234567891";

	(void)state;
	assert_int_equal(totp_verify(other, RFC_LEN, "050471", 1111111111, 1, -1), -1);
	assert_int_equal(totp_verify(NULL, RFC_LEN, "050471", 1111111111, 1, -1), -1);
}

static void
test_verify_replay(void **state)
{
	const time_t now = 1111111111;
	const int64_t cur = now / TOTP_STEP_SECONDS;
	char prev[TOTP_DIGITS + 1], next[TOTP_DIGITS + 1];
	int64_t used;

	(void)state;
	used = totp_verify(rfc_secret, RFC_LEN, "050471", now, 1, -1);
	assert_int_equal(used, cur);
	/* The same code again, even later within the window: refused. */
	assert_int_equal(totp_verify(rfc_secret, RFC_LEN, "050471", now, 1, used), -1);
	assert_int_equal(totp_verify(rfc_secret, RFC_LEN, "050471", now + 29, 1, used), -1);
	/* An older code still inside the window: refused too. */
	assert_int_equal(totp_code(rfc_secret, RFC_LEN, cur - 1, prev), 0);
	assert_int_equal(totp_verify(rfc_secret, RFC_LEN, prev, now, 1, used), -1);
	/* The next step's code is fine, once. */
	assert_int_equal(totp_code(rfc_secret, RFC_LEN, cur + 1, next), 0);
	used = totp_verify(rfc_secret, RFC_LEN, next, now + TOTP_STEP_SECONDS, 1, used);
	assert_int_equal(used, cur + 1);
	assert_int_equal(totp_verify(rfc_secret, RFC_LEN, next, now + TOTP_STEP_SECONDS, 1, used),
			 -1);
}

static void
test_verify_code_format(void **state)
{
	/* The right code for T=59 is 287082; every variant here must be refused. */
	static const char *const bad[] = {
		"",
		"28708",
		"2870820",
		"28708a",
		" 287082",
		"287082 ",
		"+87082",
		"-87082",
		"287 082",
		"0x4614a",
		"28708\n",
		/* fullwidth 2 */
		("\xef\xbc\x92"
		 "87082"),
		"287082\n",
		"2870823",
		"aaaaaa",
		"      ",
	};

	(void)state;
	assert_int_equal(totp_verify(rfc_secret, RFC_LEN, "287082", 59, 0, -1), 1);
	assert_int_equal(totp_verify(rfc_secret, RFC_LEN, NULL, 59, 1, -1), -1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t rc = totp_verify(rfc_secret, RFC_LEN, bad[i], 59, 1, -1);

		if (rc != -1)
			fail_msg("code \"%s\" accepted as step %lld", bad[i], (long long)rc);
	}
}

static void
test_base32_vectors(void **state)
{
	/* RFC 4648 section 10, without the padding. */
	static const char *const vec[][2] = {
		{"", ""},
		{"f", "MY"},
		{"fo", "MZXQ"},
		{"foo", "MZXW6"},
		{"foob", "MZXW6YQ"},
		{"fooba", "MZXW6YTB"},
		{"foobar", "MZXW6YTBOI"},
	};
	unsigned char out[TOTP_MAX_SECRET_BYTES];
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		size_t n = strlen(vec[i][0]);
		char *s = totp_base32_encode((const unsigned char *)vec[i][0], n);

		assert_non_null(s);
		assert_string_equal(s, vec[i][1]);
		free(s);
		if (n == 0)
			continue;
		len = sizeof(out);
		assert_int_equal(totp_base32_decode(vec[i][1], out, &len), 0);
		assert_int_equal(len, n);
		assert_memory_equal(out, vec[i][0], n);
	}
	/* The RFC 6238 seed as authenticator apps show it. */
	{
		char *s = totp_base32_encode(rfc_secret, RFC_LEN);

		assert_non_null(s);
		assert_string_equal(s, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
		free(s);
	}
}

static void
test_base32_round_trip(void **state)
{
	unsigned char secret[TOTP_SECRET_BYTES], out[TOTP_MAX_SECRET_BYTES],
		big[TOTP_MAX_SECRET_BYTES];
	char *s;
	size_t len;

	(void)state;
	assert_int_equal(totp_new_secret(secret), 0);
	s = totp_base32_encode(secret, sizeof(secret));
	assert_non_null(s);
	assert_int_equal(strlen(s), 32);
	assert_int_equal(strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), 32);
	len = sizeof(out);
	assert_int_equal(totp_base32_decode(s, out, &len), 0);
	assert_int_equal(len, sizeof(secret));
	assert_memory_equal(out, secret, sizeof(secret));
	free(s);

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)(i * 37 + 11);
	for (size_t n = 1; n <= sizeof(big); n++) {
		s = totp_base32_encode(big, n);
		assert_non_null(s);
		assert_null(strchr(s, '='));
		len = sizeof(out);
		assert_int_equal(totp_base32_decode(s, out, &len), 0);
		assert_int_equal(len, n);
		assert_memory_equal(out, big, n);
		/* One byte too small a buffer must be refused, not overrun. */
		len = n - 1;
		assert_int_equal(totp_base32_decode(s, out, &len), -1);
		free(s);
	}
}

static void
test_base32_decode_bad(void **state)
{
	unsigned char out[TOTP_MAX_SECRET_BYTES];
	char longer[300];
	size_t len;

	(void)state;
	len = sizeof(out);
	assert_int_equal(totp_base32_decode("", out, &len), -1);
	len = sizeof(out);
	assert_int_equal(totp_base32_decode("MZXW1", out, &len), -1);
	len = sizeof(out);
	assert_int_equal(totp_base32_decode("MZXW6YTBO", out, &len), -1);
	len = sizeof(out);
	assert_int_equal(totp_base32_decode("MZ=XW", out, &len), -1);
	len = sizeof(out);
	assert_int_equal(totp_base32_decode(NULL, out, &len), -1);
	memset(longer, 'A', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	len = sizeof(out);
	assert_int_equal(totp_base32_decode(longer, out, &len), -1);
	/* Lower case is what some users type. */
	len = sizeof(out);
	assert_int_equal(totp_base32_decode("mzxw6ytboi", out, &len), 0);
	assert_int_equal(len, 6);
	assert_memory_equal(out, "foobar", 6);
}

static void
test_uri(void **state)
{
	char *u;

	(void)state;
	u = totp_uri("webrack", "alice", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
	assert_non_null(u);
	assert_string_equal(u,
			    "otpauth://totp/webrack:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
			    "&issuer=webrack&algorithm=SHA1&digits=6&period=30");
	free(u);

	u = totp_uri("Acme Hosting & Co", "bob@example.com:x/y?z=1#f+%~._-", "MZXW6YTBOI");
	assert_non_null(u);
	assert_string_equal(u, "otpauth://totp/Acme%20Hosting%20%26%20Co:"
			       "bob%40example.com%3Ax%2Fy%3Fz%3D1%23f%2B%25~._-"
			       "?secret=MZXW6YTBOI&issuer=Acme%20Hosting%20%26%20Co"
			       "&algorithm=SHA1&digits=6&period=30");
	free(u);

	/* UTF-8 is escaped byte by byte, with upper-case hex digits. */
	u = totp_uri("W\xc3\xa4rme", "j\xc3\xb6rg", "MY");
	assert_non_null(u);
	assert_string_equal(u, "otpauth://totp/W%C3%A4rme:j%C3%B6rg?secret=MY&issuer=W%C3%A4rme"
			       "&algorithm=SHA1&digits=6&period=30");
	free(u);

	assert_null(totp_uri(NULL, "alice", "MY"));
	assert_null(totp_uri("webrack", NULL, "MY"));
	assert_null(totp_uri("webrack", "alice", NULL));
	assert_null(totp_uri("", "alice", "MY"));
	assert_null(totp_uri("webrack", "", "MY"));
	{
		char longer[258];

		memset(longer, 'a', sizeof(longer) - 1);
		longer[sizeof(longer) - 1] = '\0';
		assert_null(totp_uri("webrack", longer, "MY"));
		longer[256] = '\0';
		u = totp_uri("webrack", longer, "MY");
		assert_non_null(u);
		free(u);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_code_rfc6238),
		cmocka_unit_test(test_code_bad_args),
		cmocka_unit_test(test_verify_window),
		cmocka_unit_test(test_verify_wrong_secret),
		cmocka_unit_test(test_verify_replay),
		cmocka_unit_test(test_verify_code_format),
		cmocka_unit_test(test_base32_vectors),
		cmocka_unit_test(test_base32_round_trip),
		cmocka_unit_test(test_base32_decode_bad),
		cmocka_unit_test(test_uri),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
