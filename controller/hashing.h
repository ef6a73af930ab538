/*
 * argon2id off the event loop: hashing and verification run on the worker pool (each costs tens
 * of milliseconds by design) and continue the call on the loop when done.
 */
#ifndef WEBRACK_HASHING_H
#define WEBRACK_HASHING_H

#include "call.h"

/* hash: the new encoded hash, or NULL when hashing failed (the call has been answered). */
typedef void (*hashing_hash_fn)(struct call *c, const char *hash);
/* match: 1/0; rehash: a fresh hash when the stored one used old parameters, else NULL. */
typedef void (*hashing_verify_fn)(struct call *c, int match, const char *rehash);

void hashing_hash(struct call *c, const char *password, hashing_hash_fn next);

/*
 * Verify password against encoded; encoded NULL (no such user) verifies against a throwaway hash
 * so that the answer takes as long as for a real user.
 */
void hashing_verify(struct call *c, const char *encoded, const char *password,
		    hashing_verify_fn next);

#endif
