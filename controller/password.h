/*
 * Password hashing for user logins: argon2id in the PHC string format that libargon2 reads and
 * writes, so the parameters travel with each hash and can be raised later; a hash made with older
 * parameters is recognised by password_needs_rehash() and replaced after the next good login.
 * Hashing takes tens of milliseconds on purpose, so the controller calls these functions from the
 * worker pool, never from the event loop.
 */
#ifndef WEBRACK_PASSWORD_H
#define WEBRACK_PASSWORD_H

#include <stdbool.h>
#include <stdint.h>

struct password_params {
	uint32_t t_cost;      /* passes over memory */
	uint32_t m_cost_kib;  /* memory per hash, in KiB */
	uint32_t parallelism; /* lanes (and threads) */
};

/* OWASP Password Storage Cheat Sheet, argon2id second option: 19 MiB, 2 passes, 1 lane. Kept on
 * one line by hand: clang-format would lay the initialiser out as a four-line block. */
/* clang-format off */
#define PASSWORD_OWASP_PARAMS {.t_cost = 2, .m_cost_kib = 19456, .parallelism = 1}
/* clang-format on */

/*
 * Encoded "$argon2id$v=19$m=..,t=..,p=..$salt$hash" with a fresh 16-byte salt and a 32-byte hash;
 * malloc'd. NULL on error: pw or p NULL, parameters that libargon2 rejects or that exceed the
 * limits password_verify() enforces (t <= 64, m <= 1 GiB, p <= 64), no memory.
 */
char *password_hash(const char *pw, const struct password_params *p)
	__attribute__((warn_unused_result, malloc));

/*
 * 1 if pw matches encoded, 0 if it does not, -1 if encoded is not a well-formed argon2id v=19
 * string within the limits above (those bound the time and memory a forged row can make us spend),
 * or if hashing fails. Accepts any input, including NULL.
 */
int password_verify(const char *encoded, const char *pw) __attribute__((warn_unused_result));

/*
 * Whether encoded should be replaced by a new hash: it is not argon2id v=19, its t/m/p differ from
 * p, or its salt or hash length is not the one password_hash() produces.
 */
bool password_needs_rehash(const char *encoded, const struct password_params *p)
	__attribute__((warn_unused_result));

/*
 * Whether pw is acceptable as a new password: 10 to 1024 bytes, no control characters (bytes below
 * 0x20). On false, *why (if why is not NULL) points to a static English sentence for the user.
 */
bool password_policy_ok(const char *pw, const char **why) __attribute__((warn_unused_result));

#endif
