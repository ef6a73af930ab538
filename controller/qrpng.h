/*
 * Render a short text (the otpauth:// URI at TOTP enrolment) as a QR code PNG held in memory, so
 * the portal can show it as a data: URI or an image response without the secret ever touching the
 * disk or a third-party service.
 */
#ifndef WEBRACK_QRPNG_H
#define WEBRACK_QRPNG_H

#include <stddef.h>

/*
 * QR code of text (error correction level M, 8-bit mode) with a 4-module quiet zone at 6 pixels
 * per module, as a 1-bit grayscale PNG. On success *png is a malloc'd buffer of *png_len bytes and
 * 0 is returned; on failure (text NULL, empty or too long for a QR code, no memory) -1, and *png
 * and *png_len are left unchanged.
 */
int qrpng_encode(const char *text, unsigned char **png, size_t *png_len)
	__attribute__((warn_unused_result));

#endif
