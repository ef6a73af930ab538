/*
 * Random secrets, their text encodings and the hashes we store instead of them. Session ids, CSRF
 * tokens and API tokens are created here, handed to the client once, and only their SHA-256 is kept
 * in the database, so a stolen database dump does not let anyone in. Everything that compares a
 * secret must use secret_equal(), which does not leak through timing how many bytes matched.
 */
#ifndef WEBRACK_SECRET_H
#define WEBRACK_SECRET_H

#include <stdbool.h>
#include <stddef.h>

/* 64 hex digits and the terminating NUL. */
#define SECRET_SHA256_HEX_SIZE 65

/* Fill buf with len bytes from the kernel CSPRNG (getrandom); 0 on success, -1 on failure. */
int secret_random(void *buf, size_t len) __attribute__((warn_unused_result));

/* URL-safe base64 (RFC 4648 section 5) without padding; malloc'd, NULL on failure. */
char *secret_base64url(const void *buf, size_t len) __attribute__((warn_unused_result, malloc));

/* Standard base64 with padding and without line breaks; malloc'd, NULL on failure. */
char *secret_base64(const void *buf, size_t len) __attribute__((warn_unused_result, malloc));

/*
 * Lower-case hex SHA-256 of data. If libcrypto fails (it does not, short of a broken install), out
 * is the empty string, which no stored hash equals, so a lookup by it finds nothing.
 */
void secret_sha256_hex(const void *data, size_t len, char out[SECRET_SHA256_HEX_SIZE]);

/*
 * prefix followed by base64url of nbytes random bytes, e.g. secret_new_token("wr_", 32). The prefix
 * makes a leaked token recognisable (secret scanners, logs). malloc'd; NULL on failure, on a NULL
 * prefix or when nbytes is 0 or larger than 4096.
 */
char *secret_new_token(const char *prefix, size_t nbytes)
	__attribute__((warn_unused_result, malloc));

/* Whether the n bytes at a and b are equal, in time that depends only on n. */
bool secret_equal(const void *a, const void *b, size_t n) __attribute__((warn_unused_result));

#endif
