/*
 * The strict RFB 3.8 / VeNCrypt handshake parser (see rfb.h). Both sides of the console proxy
 * use it: the controller toward viewers and toward QEMU. Anything that is not exactly what the
 * protocol allows at this point is an error with a reason; a message that is not complete yet
 * consumes nothing.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rfb.h"

static int fail(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return RFB_ERROR;
}

void
rfb_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

uint32_t
rfb_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t
get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Printable text of a reason string from the peer: control characters become '?'. */
static void
copy_reason(char *out, size_t outlen, const uint8_t *p, size_t n)
{
	size_t i;

	if (outlen == 0)
		return;
	for (i = 0; i < n && i + 1 < outlen; i++)
		out[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
	out[i] = '\0';
}

int
rfb_parse_version(const uint8_t *buf, size_t len, size_t *used, char *why, size_t whylen)
{
	static const char want[] = "RFB 000.000\n";

	/* Check the prefix as it arrives, so garbage is refused without waiting for 12 bytes. */
	for (size_t i = 0; i < len && i < RFB_VERSION_LEN; i++) {
		bool digit = want[i] == '0';
		if (digit ? (buf[i] < '0' || buf[i] > '9') : buf[i] != (uint8_t)want[i])
			return fail(why, whylen, "not an RFB protocol version string");
	}
	if (len < RFB_VERSION_LEN)
		return RFB_MORE;
	if (memcmp(buf, "RFB 003.008\n", RFB_VERSION_LEN) != 0)
		return fail(why, whylen, "unsupported RFB version %.11s (only 3.8)",
			    (const char *)buf);
	*used = RFB_VERSION_LEN;
	return RFB_DONE;
}

/* A u32 length followed by that many bytes of reason: RFB_ERROR with it, or RFB_MORE. */
static int
reason_message(const uint8_t *buf, size_t len, const char *what, char *why, size_t whylen)
{
	char reason[RFB_REASON_MAX + 1];

	if (len < 4)
		return RFB_MORE;
	uint32_t n = rfb_get_u32(buf);
	if (n > RFB_REASON_MAX)
		return fail(why, whylen, "%s: reason of %u bytes is too long", what, n);
	if (len < 4 + (size_t)n)
		return RFB_MORE;
	copy_reason(reason, sizeof(reason), buf + 4, n);
	return fail(why, whylen, "%s: %s", what, reason);
}

int
rfb_parse_security_types(const uint8_t *buf, size_t len, uint8_t *types, size_t *ntypes,
			 size_t *used, char *why, size_t whylen)
{
	if (len < 1)
		return RFB_MORE;
	if (buf[0] == 0)
		return reason_message(buf + 1, len - 1, "the server refused the connection", why,
				      whylen);
	if (buf[0] > 32)
		return fail(why, whylen, "%u security types is absurd", buf[0]);
	if (len < 1 + (size_t)buf[0])
		return RFB_MORE;
	for (size_t i = 0; i < buf[0]; i++) {
		if (buf[1 + i] == RFB_SEC_INVALID)
			return fail(why, whylen, "security type 0 in the list");
		types[i] = buf[1 + i];
	}
	*ntypes = buf[0];
	*used = 1 + (size_t)buf[0];
	return RFB_DONE;
}

int
rfb_parse_security_result(const uint8_t *buf, size_t len, size_t *used, char *why, size_t whylen)
{
	if (len < 4)
		return RFB_MORE;
	uint32_t r = rfb_get_u32(buf);
	if (r == 0) {
		*used = 4;
		return RFB_DONE;
	}
	if (r != 1)
		return fail(why, whylen, "invalid security result %u", r);
	return reason_message(buf + 4, len - 4, "authentication failed", why, whylen);
}

int
rfb_parse_server_init(const uint8_t *buf, size_t len, struct rfb_server_init *si, size_t *used,
		      char *why, size_t whylen)
{
	if (len < RFB_SERVERINIT_MIN)
		return RFB_MORE;
	si->width = get_u16(buf);
	si->height = get_u16(buf + 2);
	si->bpp = buf[4];
	si->depth = buf[5];
	si->big_endian = buf[6];
	si->true_colour = buf[7];
	si->name_len = rfb_get_u32(buf + 20);
	if (si->width == 0 || si->height == 0 || si->width > RFB_DIM_MAX ||
	    si->height > RFB_DIM_MAX)
		return fail(why, whylen, "framebuffer %ux%u is out of range", si->width,
			    si->height);
	if (si->bpp != 8 && si->bpp != 16 && si->bpp != 32)
		return fail(why, whylen, "%u bits per pixel is not allowed", si->bpp);
	if (si->depth == 0 || si->depth > si->bpp)
		return fail(why, whylen, "depth %u with %u bits per pixel", si->depth, si->bpp);
	if (si->big_endian > 1 || si->true_colour > 1)
		return fail(why, whylen, "pixel format flags must be 0 or 1");
	if (si->name_len > RFB_NAME_MAX)
		return fail(why, whylen, "desktop name of %u bytes is too long", si->name_len);
	if (len < RFB_SERVERINIT_MIN + (size_t)si->name_len)
		return RFB_MORE;
	*used = RFB_SERVERINIT_MIN + si->name_len;
	return RFB_DONE;
}

int
rfb_parse_u8_choice(const uint8_t *buf, size_t len, const uint8_t *allowed, size_t n, uint8_t *out,
		    size_t *used, char *why, size_t whylen)
{
	if (len < 1)
		return RFB_MORE;
	for (size_t i = 0; i < n; i++) {
		if (buf[0] == allowed[i]) {
			*out = buf[0];
			*used = 1;
			return RFB_DONE;
		}
	}
	return fail(why, whylen, "value %u was not offered", buf[0]);
}

int
rfb_parse_vencrypt_version(const uint8_t *buf, size_t len, size_t *used, char *why, size_t whylen)
{
	if (len < 2)
		return RFB_MORE;
	if (buf[0] != 0 || buf[1] != 2)
		return fail(why, whylen, "VeNCrypt version %u.%u is not supported (only 0.2)",
			    buf[0], buf[1]);
	*used = 2;
	return RFB_DONE;
}

int
rfb_parse_vencrypt_choice(const uint8_t *buf, size_t len, const uint32_t *allowed, size_t n,
			  uint32_t *out, size_t *used, char *why, size_t whylen)
{
	if (len < 4)
		return RFB_MORE;
	uint32_t v = rfb_get_u32(buf);
	for (size_t i = 0; i < n; i++) {
		if (v == allowed[i]) {
			*out = v;
			*used = 4;
			return RFB_DONE;
		}
	}
	return fail(why, whylen, "VeNCrypt subtype %u was not offered", v);
}

static bool
copy_cred(char *out, size_t outlen, const uint8_t *p, size_t n)
{
	if (n + 1 > outlen || memchr(p, '\0', n) != NULL)
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

int
rfb_parse_plain_auth(const uint8_t *buf, size_t len, char *user, size_t userlen, char *pass,
		     size_t passlen, size_t *used, char *why, size_t whylen)
{
	if (len < 8)
		return RFB_MORE;
	uint32_t ulen = rfb_get_u32(buf), plen = rfb_get_u32(buf + 4);
	if (ulen > RFB_CRED_MAX || plen > RFB_CRED_MAX)
		return fail(why, whylen, "credentials longer than %d bytes", RFB_CRED_MAX);
	if (len < 8 + (size_t)ulen + plen)
		return RFB_MORE;
	if (!copy_cred(user, userlen, buf + 8, ulen) ||
	    !copy_cred(pass, passlen, buf + 8 + ulen, plen))
		return fail(why, whylen, "credentials do not fit or contain NUL");
	*used = 8 + (size_t)ulen + plen;
	return RFB_DONE;
}

size_t
rfb_build_failure(uint8_t *out, size_t cap, const char *reason)
{
	size_t n = strlen(reason);

	if (cap < 8)
		return 0;
	if (n > cap - 8)
		n = cap - 8;
	rfb_put_u32(out, 1);
	rfb_put_u32(out + 4, (uint32_t)n);
	memcpy(out + 8, reason, n);
	return 8 + n;
}
