/*
 * QR code to PNG, in memory: libqrencode computes the modules, libpng writes them through a write
 * callback into a growing heap buffer. libpng reports errors by longjmp; the setjmp lives in
 * qrpng_write(), whose own locals are never read after a longjmp, while everything that must be
 * freed belongs to qrpng_encode(), which cleans up on a single path whatever happened.
 */
#include "qrpng.h"

#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>
#include <qrencode.h>

#define QRPNG_MODULE_PX	    6
#define QRPNG_QUIET_MODULES 4

/* The PNG being written. */
struct qrpng_buf {
	unsigned char *data;
	size_t len;
	size_t cap;
};

static void
qrpng_write_data(png_structp png, png_bytep data, size_t len)
{
	struct qrpng_buf *b = png_get_io_ptr(png);

	if (len > b->cap - b->len) {
		size_t cap = b->cap != 0 ? b->cap : 1024;
		unsigned char *p;

		while (len > cap - b->len) {
			if (cap > SIZE_MAX / 2)
				png_error(png, "PNG too large");
			cap *= 2;
		}
		p = realloc(b->data, cap);
		if (p == NULL)
			png_error(png, "out of memory");
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
}

/* Without our own flush function libpng would install one that calls fflush() on the io pointer,
 * which here is not a FILE. Nothing to flush in memory. */
static void
qrpng_flush(png_structp png)
{
	(void)png;
}

/* libpng's default handlers print to stderr; callers log, so stay silent and just unwind. */
__attribute__((noreturn)) static void
qrpng_error(png_structp png, png_const_charp msg)
{
	(void)msg;
	png_longjmp(png, 1);
}

static void
qrpng_warning(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;
}

/*
 * Write the image of qr into png using row, a buffer of one packed 1-bit row of side pixels.
 * Returns -1 if libpng raised an error; the caller owns and frees everything.
 */
static int
qrpng_write(png_structp png, png_infop info, const QRcode *qr, unsigned char *row,
	    unsigned int side)
{
	size_t rowbytes = (side + 7) / 8;

	if (setjmp(png_jmpbuf(png)))
		return -1;
	png_set_IHDR(png, info, side, side, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	/* Long runs of identical bytes: filtering only gets in deflate's way. */
	png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
	png_set_compression_level(png, 9);
	png_write_info(png, info);
	for (unsigned int y = 0; y < side; y++) {
		int my = (int)(y / QRPNG_MODULE_PX) - QRPNG_QUIET_MODULES;

		/* In a 1-bit grayscale PNG a set bit is white: start white, clear dark modules. */
		memset(row, 0xff, rowbytes);
		for (unsigned int x = 0; x < side; x++) {
			int mx = (int)(x / QRPNG_MODULE_PX) - QRPNG_QUIET_MODULES;
			bool dark = my >= 0 && my < qr->width && mx >= 0 && mx < qr->width &&
				    (qr->data[my * qr->width + mx] & 1) != 0;

			if (dark)
				row[x / 8] &= (unsigned char)~(0x80u >> (x % 8));
		}
		png_write_row(png, row);
	}
	png_write_end(png, info);
	return 0;
}

int
qrpng_encode(const char *text, unsigned char **png, size_t *png_len)
{
	struct qrpng_buf buf = {0};
	png_structp ps = NULL;
	png_infop info = NULL;
	QRcode *qr = NULL;
	unsigned char *row = NULL;
	unsigned int side;
	int rc = -1;

	if (text == NULL || text[0] == '\0' || png == NULL || png_len == NULL)
		return -1;
	/* Version 0 lets libqrencode pick the smallest symbol; it fails with ERANGE when the text
	 * does not fit even in version 40. */
	qr = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M);
	if (qr == NULL || qr->width <= 0 || qr->width > 177)
		goto out;
	side = ((unsigned int)qr->width + 2 * QRPNG_QUIET_MODULES) * QRPNG_MODULE_PX;
	row = malloc((side + 7) / 8);
	if (row == NULL)
		goto out;
	ps = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, qrpng_error, qrpng_warning);
	if (ps == NULL)
		goto out;
	info = png_create_info_struct(ps);
	if (info == NULL)
		goto out;
	png_set_write_fn(ps, &buf, qrpng_write_data, qrpng_flush);
	if (qrpng_write(ps, info, qr, row, side) < 0)
		goto out;
	*png = buf.data;
	*png_len = buf.len;
	buf.data = NULL;
	rc = 0;
out:
	png_destroy_write_struct(&ps, &info);
	free(buf.data);
	free(row);
	QRcode_free(qr);
	return rc;
}
