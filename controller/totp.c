/*
 * TOTP for the second login factor, on top of liboath for HOTP and base32 and of secret.c for
 * randomness and constant-time comparison. liboath wants oath_init() called once before use; a
 * pthread_once guard does it on first use so that callers on the worker pool and on the event loop
 * need no start-up ordering. The guard and its result are the only static state: they are written
 * once, under pthread_once, and read-only afterwards.
 */
#include "totp.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <liboath/oath.h>

#include "secret.h"

/* A base32 TOTP secret of TOTP_MAX_SECRET_BYTES is 103 characters; allow spaces and padding. */
#define TOTP_MAX_B32_LEN 256
/* Longest issuer, account name or secret totp_uri() accepts: the URI ends up in a QR code, which
 * holds about 2300 bytes, and every byte may grow to three when escaped. */
#define TOTP_MAX_URI_FIELD 256

static pthread_once_t totp_once = PTHREAD_ONCE_INIT;
static int totp_init_rc = -1;

static void
totp_init_once(void)
{
	totp_init_rc = oath_init() == OATH_OK ? 0 : -1;
}

static int
totp_init(void)
{
	if (pthread_once(&totp_once, totp_init_once) != 0)
		return -1;
	return totp_init_rc;
}

int
totp_new_secret(unsigned char secret[TOTP_SECRET_BYTES])
{
	return secret_random(secret, TOTP_SECRET_BYTES);
}

char *
totp_base32_encode(const unsigned char *secret, size_t len)
{
	char *out = NULL;
	size_t outlen = 0;
	char *pad;

	if (secret == NULL || totp_init() < 0)
		return NULL;
	if (oath_base32_encode((const char *)secret, len, &out, &outlen) != OATH_OK ||
	    out == NULL) {
		free(out);
		return NULL;
	}
	/* Authenticator apps and otpauth URIs want no padding; it is only ever at the end. */
	pad = strchr(out, '=');
	if (pad != NULL)
		*pad = '\0';
	return out;
}

int
totp_base32_decode(const char *b32, unsigned char *out, size_t *out_len)
{
	char *dec = NULL;
	size_t declen = 0, inlen;
	int rc = -1;

	if (b32 == NULL || out == NULL || out_len == NULL || totp_init() < 0)
		return -1;
	/* Length cap before parsing: the string may come from a user. */
	inlen = strnlen(b32, TOTP_MAX_B32_LEN + 1);
	if (inlen == 0 || inlen > TOTP_MAX_B32_LEN)
		return -1;
	if (oath_base32_decode(b32, inlen, &dec, &declen) != OATH_OK || dec == NULL)
		goto out;
	/* An empty secret (input of only spaces or padding) would make every code predictable. */
	if (declen == 0 || declen > *out_len)
		goto out;
	memcpy(out, dec, declen);
	*out_len = declen;
	rc = 0;
out:
	if (dec != NULL) {
		explicit_bzero(dec, declen);
		free(dec);
	}
	return rc;
}

/*
 * Percent-encode src into dst (RFC 3986: only unreserved characters stay as they are) and return
 * the encoded length; with dst NULL only count, so the caller can size the buffer with the same
 * rule it fills it with.
 */
static size_t
totp_pct_encode(char *dst, const char *src)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (const unsigned char *s = (const unsigned char *)src; *s != '\0'; s++) {
		bool unreserved = (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
				  (*s >= '0' && *s <= '9') || *s == '-' || *s == '.' || *s == '_' ||
				  *s == '~';

		if (unreserved) {
			if (dst != NULL)
				dst[n] = (char)*s;
			n++;
		} else {
			if (dst != NULL) {
				dst[n] = '%';
				dst[n + 1] = hex[*s >> 4];
				dst[n + 2] = hex[*s & 0x0f];
			}
			n += 3;
		}
	}
	return n;
}

char *
totp_uri(const char *issuer, const char *account_name, const char *secret_b32)
{
	static const char scheme[] = "otpauth://totp/";
	static const char tail[] = "&algorithm=SHA1&digits=6&period=30";
	size_t ilen, alen, slen, total;
	char *uri, *p;

	if (issuer == NULL || account_name == NULL || secret_b32 == NULL || issuer[0] == '\0' ||
	    account_name[0] == '\0' || secret_b32[0] == '\0')
		return NULL;
	/* The caps also keep the length arithmetic below far from overflow. */
	if (strnlen(issuer, TOTP_MAX_URI_FIELD + 1) > TOTP_MAX_URI_FIELD ||
	    strnlen(account_name, TOTP_MAX_URI_FIELD + 1) > TOTP_MAX_URI_FIELD ||
	    strnlen(secret_b32, TOTP_MAX_URI_FIELD + 1) > TOTP_MAX_URI_FIELD)
		return NULL;
	ilen = totp_pct_encode(NULL, issuer);
	alen = totp_pct_encode(NULL, account_name);
	slen = totp_pct_encode(NULL, secret_b32);
	total = strlen(scheme) + ilen + 1 + alen + strlen("?secret=") + slen + strlen("&issuer=") +
		ilen + strlen(tail) + 1;
	uri = malloc(total);
	if (uri == NULL)
		return NULL;
	/* The issuer appears twice on purpose: the label prefix is what old apps read, the
	 * parameter is what the Key URI format recommends. The secret is base32 and needs no
	 * escaping, but encoding it costs nothing and keeps a bad caller from breaking the URI. */
	p = stpcpy(uri, scheme);
	p += totp_pct_encode(p, issuer);
	*p++ = ':';
	p += totp_pct_encode(p, account_name);
	p = stpcpy(p, "?secret=");
	p += totp_pct_encode(p, secret_b32);
	p = stpcpy(p, "&issuer=");
	p += totp_pct_encode(p, issuer);
	stpcpy(p, tail);
	return uri;
}

int
totp_code(const unsigned char *secret, size_t len, int64_t step, char out[TOTP_DIGITS + 1])
{
	if (secret == NULL || len == 0 || len > TOTP_MAX_SECRET_BYTES || step < 0 ||
	    totp_init() < 0)
		return -1;
	/* TOTP is HOTP with the time step as the counter (RFC 6238 section 4.2). */
	if (oath_hotp_generate((const char *)secret, len, (uint64_t)step, TOTP_DIGITS, false,
			       OATH_HOTP_DYNAMIC_TRUNCATION, out) != OATH_OK)
		return -1;
	return 0;
}

static bool
totp_code_well_formed(const char *code)
{
	for (int i = 0; i < TOTP_DIGITS; i++) {
		if (code[i] < '0' || code[i] > '9')
			return false;
	}
	return code[TOTP_DIGITS] == '\0';
}

int64_t
totp_verify(const unsigned char *secret, size_t len, const char *code, time_t now, int window,
	    int64_t last_step)
{
	char expect[TOTP_DIGITS + 1];
	int64_t cur, matched = -1;

	if (secret == NULL || code == NULL || now < 0 || window < 0 || window > TOTP_MAX_WINDOW)
		return -1;
	if (!totp_code_well_formed(code))
		return -1;
	cur = (int64_t)now / TOTP_STEP_SECONDS;
	/* Try every step of the window without stopping at a match, so the time taken does not
	 * tell an attacker which step, if any, the code belonged to. The oldest match is kept. */
	for (int64_t step = cur - window; step <= cur + window; step++) {
		if (step < 0 || step <= last_step)
			continue;
		if (totp_code(secret, len, step, expect) < 0) {
			matched = -1;
			break;
		}
		if (secret_equal(expect, code, TOTP_DIGITS) && matched < 0)
			matched = step;
	}
	explicit_bzero(expect, sizeof(expect));
	return matched;
}
