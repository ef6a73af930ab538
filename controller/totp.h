/*
 * Time-based one-time passwords (RFC 6238, HMAC-SHA1, 6 digits, 30-second steps: the parameters
 * every authenticator app understands) for the second login factor: secrets, their base32 text
 * form, the otpauth:// URI shown as a QR code at enrolment, and code verification with a tolerance
 * window and replay rejection. The caller stores the step returned by totp_verify() and passes it
 * back as last_step next time, so a code is never accepted twice.
 */
#ifndef WEBRACK_TOTP_H
#define WEBRACK_TOTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define TOTP_SECRET_BYTES 20
#define TOTP_STEP_SECONDS 30
#define TOTP_DIGITS	  6
/* Largest window totp_verify() accepts: ±10 steps is already five minutes each way. */
#define TOTP_MAX_WINDOW 10
/* Largest secret totp_base32_decode() and the code functions accept. */
#define TOTP_MAX_SECRET_BYTES 64

/* A fresh random secret; 0/-1. */
int totp_new_secret(unsigned char secret[TOTP_SECRET_BYTES]) __attribute__((warn_unused_result));

/* RFC 4648 base32 without padding, as authenticator apps expect; malloc'd, NULL on failure. */
char *totp_base32_encode(const unsigned char *secret, size_t len)
	__attribute__((warn_unused_result, malloc));

/*
 * Decode base32 (upper or lower case, padding and spaces tolerated) into out, whose size the caller
 * passes in *out_len and which should hold TOTP_MAX_SECRET_BYTES; on success *out_len is the number
 * of bytes written. -1 on invalid or empty input or when the result does not fit.
 */
int totp_base32_decode(const char *b32, unsigned char *out, size_t *out_len)
	__attribute__((warn_unused_result));

/*
 * otpauth://totp/ISSUER:ACCOUNT?secret=..&issuer=..&algorithm=SHA1&digits=6&period=30 with issuer
 * and account percent-encoded (RFC 3986: everything but unreserved characters). malloc'd; NULL on
 * failure or when an argument is NULL, empty or longer than 256 bytes.
 */
char *totp_uri(const char *issuer, const char *account_name, const char *secret_b32)
	__attribute__((warn_unused_result, malloc));

/* The code for time step `step` (unix time / TOTP_STEP_SECONDS), NUL-terminated; 0/-1. */
int totp_code(const unsigned char *secret, size_t len, int64_t step, char out[TOTP_DIGITS + 1])
	__attribute__((warn_unused_result));

/*
 * The time step code matches, or -1. code must be exactly TOTP_DIGITS ASCII digits; the steps
 * tried are now/30 - window .. now/30 + window (0 <= window <= TOTP_MAX_WINDOW), and only those
 * greater than last_step, so a code already used, or one older than it, is refused. Pass -1 as
 * last_step when no code was used yet.
 */
int64_t totp_verify(const unsigned char *secret, size_t len, const char *code, time_t now,
		    int window, int64_t last_step) __attribute__((warn_unused_result));

#endif
