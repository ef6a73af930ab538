/*
 * Unit tests for controller/qrpng.c: the output is a PNG that libpng reads back as a square
 * black-and-white image of the promised geometry (quiet zone, 6 px modules, finder pattern in the
 * corner), different texts give different images, and impossible inputs fail cleanly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "qrpng.h"

#define MODULE_PX 6
#define QUIET_PX  (4 * MODULE_PX)

/* A decoded 8-bit grayscale image. */
struct gray {
	unsigned int side;
	unsigned char *px;
};

static void
gray_decode(const unsigned char *png, size_t len, struct gray *g)
{
	png_image img;

	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	assert_true(png_image_begin_read_from_memory(&img, png, len));
	assert_int_equal(img.width, img.height);
	img.format = PNG_FORMAT_GRAY;
	g->side = img.width;
	g->px = malloc(PNG_IMAGE_SIZE(img));
	assert_non_null(g->px);
	assert_true(png_image_finish_read(&img, NULL, g->px, 0, NULL));
	png_image_free(&img);
}

static unsigned char
gray_at(const struct gray *g, unsigned int x, unsigned int y)
{
	return g->px[(size_t)y * g->side + x];
}

static void
encode_decode(const char *text, struct gray *g)
{
	static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	unsigned char *png = NULL;
	size_t len = 0;

	assert_int_equal(qrpng_encode(text, &png, &len), 0);
	assert_non_null(png);
	assert_true(len > sizeof(sig));
	assert_memory_equal(png, sig, sizeof(sig));
	gray_decode(png, len, g);
	free(png);
}

static void
test_geometry(void **state)
{
	const char *uri = "otpauth://totp/webrack:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
			  "&issuer=webrack&algorithm=SHA1&digits=6&period=30";
	struct gray g;
	size_t black = 0, white = 0, other = 0;

	(void)state;
	encode_decode(uri, &g);
	assert_true(g.side > 100);
	assert_int_equal(g.side % MODULE_PX, 0);
	/* Side = (21 + 4 * version + 8) modules. */
	assert_int_equal((g.side / MODULE_PX - 8 - 21) % 4, 0);
	for (size_t i = 0; i < (size_t)g.side * g.side; i++) {
		if (g.px[i] == 0)
			black++;
		else if (g.px[i] == 255)
			white++;
		else
			other++;
	}
	assert_true(black > 0);
	assert_true(white > 0);
	assert_int_equal(other, 0);

	/* The quiet zone is white all round. */
	for (unsigned int i = 0; i < g.side; i++) {
		for (unsigned int q = 0; q < QUIET_PX; q++) {
			assert_int_equal(gray_at(&g, i, q), 255);
			assert_int_equal(gray_at(&g, i, g.side - 1 - q), 255);
			assert_int_equal(gray_at(&g, q, i), 255);
			assert_int_equal(gray_at(&g, g.side - 1 - q, i), 255);
		}
	}
	/* Top-left finder pattern: dark outer ring, light ring, dark 3x3 centre, each module a
	 * uniform 6x6 block. */
	for (unsigned int y = 0; y < 7 * MODULE_PX; y++) {
		for (unsigned int x = 0; x < 7 * MODULE_PX; x++) {
			unsigned int mx = x / MODULE_PX, my = y / MODULE_PX;
			int ring = mx < my ? (int)mx : (int)my;
			int dark;

			if (6 - (int)mx < ring)
				ring = 6 - (int)mx;
			if (6 - (int)my < ring)
				ring = 6 - (int)my;
			dark = ring != 1;
			assert_int_equal(gray_at(&g, QUIET_PX + x, QUIET_PX + y), dark ? 0 : 255);
		}
	}
	free(g.px);
}

static void
test_different_texts(void **state)
{
	struct gray a, b, c;

	(void)state;
	encode_decode("otpauth://totp/webrack:alice?secret=MZXW6YTBOI", &a);
	encode_decode("otpauth://totp/webrack:alicf?secret=MZXW6YTBOI", &b);
	encode_decode("otpauth://totp/webrack:alice?secret=MZXW6YTBOI", &c);
	assert_int_equal(a.side, b.side);
	assert_memory_not_equal(a.px, b.px, (size_t)a.side * a.side);
	/* Deterministic: the same text gives the same image. */
	assert_int_equal(a.side, c.side);
	assert_memory_equal(a.px, c.px, (size_t)a.side * a.side);
	free(a.px);
	free(b.px);
	free(c.px);
}

static void
test_sizes(void **state)
{
	struct gray small, large;
	char text[2001];

	(void)state;
	encode_decode("x", &small);
	/* Version 1 (21 modules) plus the quiet zone. */
	assert_int_equal(small.side, (21 + 8) * MODULE_PX);
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	encode_decode(text, &large);
	assert_true(large.side > small.side);
	assert_int_equal(large.side % MODULE_PX, 0);
	free(small.px);
	free(large.px);
}

static void
test_failures(void **state)
{
	unsigned char *png = (unsigned char *)"untouched";
	size_t len = 42;
	char *huge;

	(void)state;
	assert_int_equal(qrpng_encode(NULL, &png, &len), -1);
	assert_int_equal(qrpng_encode("", &png, &len), -1);
	assert_int_equal(qrpng_encode("x", NULL, &len), -1);
	assert_int_equal(qrpng_encode("x", &png, NULL), -1);
	/* More than version 40 at level M holds (2331 bytes). */
	huge = malloc(4000);
	assert_non_null(huge);
	memset(huge, 'x', 3999);
	huge[3999] = '\0';
	assert_int_equal(qrpng_encode(huge, &png, &len), -1);
	free(huge);
	assert_string_equal((const char *)png, "untouched");
	assert_int_equal(len, 42);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_geometry),
		cmocka_unit_test(test_different_texts),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
