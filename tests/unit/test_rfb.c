/*
 * Unit tests for common/rfb.c, the strict RFB handshake parser: every message complete, split at
 * every byte (RFB_MORE, nothing consumed), and refused when wrong: bad version strings, absurd
 * counts and lengths, values that were not offered, NUL in credentials.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "rfb.h"

static char why[2048];

/* Every proper prefix of msg is incomplete; the whole is done with used == len. */
static void
check_prefixes(int (*parse)(const uint8_t *, size_t, size_t *), const uint8_t *msg, size_t len)
{
	size_t used = 0;

	for (size_t i = 0; i < len; i++)
		assert_int_equal(parse(msg, i, &used), RFB_MORE);
	assert_int_equal(parse(msg, len, &used), RFB_DONE);
	assert_int_equal(used, len);
}

static int
p_version(const uint8_t *b, size_t n, size_t *used)
{
	return rfb_parse_version(b, n, used, why, sizeof(why));
}

static void
test_version(void **state)
{
	size_t used = 0;

	(void)state;
	check_prefixes(p_version, (const uint8_t *)"RFB 003.008\n", 12);
	assert_int_equal(
		rfb_parse_version((const uint8_t *)"RFB 003.003\n", 12, &used, why, sizeof(why)),
		RFB_ERROR);
	assert_non_null(strstr(why, "only 3.8"));
	assert_int_equal(
		rfb_parse_version((const uint8_t *)"RFB 003.008\r", 12, &used, why, sizeof(why)),
		RFB_ERROR);
	/* garbage is refused at once, without waiting for twelve bytes */
	assert_int_equal(rfb_parse_version((const uint8_t *)"GET ", 4, &used, why, sizeof(why)),
			 RFB_ERROR);
	assert_int_equal(rfb_parse_version((const uint8_t *)"RFB 0x3", 7, &used, why, sizeof(why)),
			 RFB_ERROR);
	assert_int_equal(rfb_parse_version((const uint8_t *)"rfb", 3, &used, why, sizeof(why)),
			 RFB_ERROR);
}

static uint8_t types[32];
static size_t ntypes;

static int
p_sectypes(const uint8_t *b, size_t n, size_t *used)
{
	return rfb_parse_security_types(b, n, types, &ntypes, used, why, sizeof(why));
}

static void
test_security_types(void **state)
{
	static const uint8_t ok[] = {2, 1, 19};
	static const uint8_t zero_type[] = {1, 0};
	static const uint8_t too_many[] = {33};
	static const uint8_t refused[] = {0, 0, 0, 0, 4, 'n', 'o', 'p', 'e'};
	static const uint8_t refused_huge[] = {0, 0x7f, 0xff, 0xff, 0xff};
	size_t used = 0;

	(void)state;
	check_prefixes(p_sectypes, ok, sizeof(ok));
	assert_int_equal(ntypes, 2);
	assert_int_equal(types[1], 19);
	assert_int_equal(p_sectypes(zero_type, sizeof(zero_type), &used), RFB_ERROR);
	assert_int_equal(p_sectypes(too_many, sizeof(too_many), &used), RFB_ERROR);
	assert_non_null(strstr(why, "absurd"));
	assert_int_equal(p_sectypes(refused, sizeof(refused) - 1, &used), RFB_MORE);
	assert_int_equal(p_sectypes(refused, sizeof(refused), &used), RFB_ERROR);
	assert_non_null(strstr(why, "nope"));
	assert_int_equal(p_sectypes(refused_huge, sizeof(refused_huge), &used), RFB_ERROR);
	assert_non_null(strstr(why, "too long"));
}

static int
p_result(const uint8_t *b, size_t n, size_t *used)
{
	return rfb_parse_security_result(b, n, used, why, sizeof(why));
}

static void
test_security_result(void **state)
{
	static const uint8_t ok[] = {0, 0, 0, 0};
	static const uint8_t bad_value[] = {0, 0, 0, 7};
	static const uint8_t failed[] = {0, 0, 0, 1, 0, 0, 0, 3, 'b', '\n', 'd'};
	uint8_t built[64];
	size_t used = 0;

	(void)state;
	check_prefixes(p_result, ok, sizeof(ok));
	assert_int_equal(p_result(bad_value, sizeof(bad_value), &used), RFB_ERROR);
	assert_int_equal(p_result(failed, 10, &used), RFB_MORE);
	assert_int_equal(p_result(failed, sizeof(failed), &used), RFB_ERROR);
	assert_non_null(strstr(why, "b?d")); /* control characters are not passed on */
	/* what we send parses as what we meant */
	size_t n = rfb_build_failure(built, sizeof(built), "ticket refused");
	assert_int_equal(n, 8 + 14);
	assert_int_equal(p_result(built, n, &used), RFB_ERROR);
	assert_non_null(strstr(why, "ticket refused"));
	assert_int_equal(rfb_build_failure(built, 4, "x"), 0);
}

static struct rfb_server_init si;

static int
p_init(const uint8_t *b, size_t n, size_t *used)
{
	return rfb_parse_server_init(b, n, &si, used, why, sizeof(why));
}

static void
make_init(uint8_t *b, uint16_t w, uint16_t h, uint8_t bpp, uint8_t depth, uint32_t name_len)
{
	memset(b, 0, RFB_SERVERINIT_MIN);
	b[0] = (uint8_t)(w >> 8);
	b[1] = (uint8_t)w;
	b[2] = (uint8_t)(h >> 8);
	b[3] = (uint8_t)h;
	b[4] = bpp;
	b[5] = depth;
	b[7] = 1;
	rfb_put_u32(b + 20, name_len);
}

static void
test_server_init(void **state)
{
	uint8_t b[RFB_SERVERINIT_MIN + 8];
	size_t used = 0;

	(void)state;
	make_init(b, 720, 400, 32, 24, 8);
	memcpy(b + RFB_SERVERINIT_MIN, "QEMU (x)", 8);
	check_prefixes(p_init, b, sizeof(b));
	assert_int_equal(si.width, 720);
	assert_int_equal(si.height, 400);
	assert_int_equal(si.name_len, 8);
	make_init(b, 0, 400, 32, 24, 0);
	assert_int_equal(p_init(b, RFB_SERVERINIT_MIN, &used), RFB_ERROR);
	make_init(b, 20000, 400, 32, 24, 0);
	assert_int_equal(p_init(b, RFB_SERVERINIT_MIN, &used), RFB_ERROR);
	make_init(b, 720, 400, 24, 24, 0);
	assert_int_equal(p_init(b, RFB_SERVERINIT_MIN, &used), RFB_ERROR);
	make_init(b, 720, 400, 16, 24, 0);
	assert_int_equal(p_init(b, RFB_SERVERINIT_MIN, &used), RFB_ERROR);
	make_init(b, 720, 400, 32, 24, 0xffffffffu); /* absurd name length: refused at once */
	assert_int_equal(p_init(b, RFB_SERVERINIT_MIN, &used), RFB_ERROR);
	assert_non_null(strstr(why, "too long"));
	make_init(b, 720, 400, 32, 24, 0);
	b[6] = 2; /* big-endian flag must be 0 or 1 */
	assert_int_equal(p_init(b, RFB_SERVERINIT_MIN, &used), RFB_ERROR);
}

static void
test_choices(void **state)
{
	static const uint8_t allowed[] = {1};
	static const uint32_t subtypes[] = {RFB_VENCRYPT_X509PLAIN};
	uint8_t c8 = 0, sub[4];
	uint32_t c32 = 0;
	size_t used = 0;

	(void)state;
	assert_int_equal(rfb_parse_u8_choice(NULL, 0, allowed, 1, &c8, &used, why, sizeof(why)),
			 RFB_MORE);
	assert_int_equal(rfb_parse_u8_choice((const uint8_t *)"\001", 1, allowed, 1, &c8, &used,
					     why, sizeof(why)),
			 RFB_DONE);
	assert_int_equal(c8, 1);
	assert_int_equal(rfb_parse_u8_choice((const uint8_t *)"\002", 1, allowed, 1, &c8, &used,
					     why, sizeof(why)),
			 RFB_ERROR);
	assert_int_equal(
		rfb_parse_vencrypt_version((const uint8_t *)"\000\002", 2, &used, why, sizeof(why)),
		RFB_DONE);
	assert_int_equal(
		rfb_parse_vencrypt_version((const uint8_t *)"\000\001", 2, &used, why, sizeof(why)),
		RFB_ERROR);
	assert_int_equal(
		rfb_parse_vencrypt_version((const uint8_t *)"\000", 1, &used, why, sizeof(why)),
		RFB_MORE);
	rfb_put_u32(sub, RFB_VENCRYPT_X509PLAIN);
	assert_int_equal(
		rfb_parse_vencrypt_choice(sub, 3, subtypes, 1, &c32, &used, why, sizeof(why)),
		RFB_MORE);
	assert_int_equal(
		rfb_parse_vencrypt_choice(sub, 4, subtypes, 1, &c32, &used, why, sizeof(why)),
		RFB_DONE);
	assert_int_equal(c32, 262);
	rfb_put_u32(sub, RFB_VENCRYPT_PLAIN); /* plain text: never accepted */
	assert_int_equal(
		rfb_parse_vencrypt_choice(sub, 4, subtypes, 1, &c32, &used, why, sizeof(why)),
		RFB_ERROR);
}

static char user[RFB_CRED_MAX + 1], pass[RFB_CRED_MAX + 1];

static int
p_plain(const uint8_t *b, size_t n, size_t *used)
{
	return rfb_parse_plain_auth(b, n, user, sizeof(user), pass, sizeof(pass), used, why,
				    sizeof(why));
}

static void
test_plain_auth(void **state)
{
	uint8_t b[8 + 6 + 10];
	size_t used = 0;

	(void)state;
	rfb_put_u32(b, 6);
	rfb_put_u32(b + 4, 10);
	memcpy(b + 8, "ticket", 6);
	memcpy(b + 14, "wrc_secret", 10);
	check_prefixes(p_plain, b, sizeof(b));
	assert_string_equal(user, "ticket");
	assert_string_equal(pass, "wrc_secret");
	b[16] = '\0'; /* NUL inside the password */
	assert_int_equal(p_plain(b, sizeof(b), &used), RFB_ERROR);
	rfb_put_u32(b + 4, 0x10000); /* absurd length: refused before waiting for it */
	assert_int_equal(p_plain(b, 8, &used), RFB_ERROR);
	rfb_put_u32(b, 0);
	rfb_put_u32(b + 4, 0);
	assert_int_equal(p_plain(b, 8, &used), RFB_DONE);
	assert_string_equal(pass, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version),		cmocka_unit_test(test_security_types),
		cmocka_unit_test(test_security_result), cmocka_unit_test(test_server_init),
		cmocka_unit_test(test_choices),		cmocka_unit_test(test_plain_auth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
