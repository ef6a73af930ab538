/*
 * The authentication cache: the SHA-256 of an API token → the principal it authenticated as,
 * for a few seconds, so that a script's calls do not each pay a database round trip to
 * authenticate. Correctness rests on invalidation, not on the short lifetime: triggers on
 * api_tokens, users, accounts and grants (sql/014_auth_cache.sql) NOTIFY wr_auth, every session
 * of the pool LISTENs, and any notification empties the cache. A change made through this
 * controller is heard before its caller is answered (db_listen()), so a revoked token, a
 * disabled user or account, a removed grant fail the very next call. Lookups racing with a change
 * are not stored (a generation counter), and nothing is cached while a session of the pool does
 * not listen.
 */
#ifndef WEBRACK_AUTH_CACHE_H
#define WEBRACK_AUTH_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "call.h"

#define AUTH_CACHE_CHANNEL "wr_auth"

struct auth_cache;

/* At most max_entries principals (0: the cache is off). */
struct auth_cache *auth_cache_new(size_t max_entries);
void auth_cache_free(struct auth_cache *ac);

/* Forget everything, and refuse to store lookups that started before. */
void auth_cache_invalidate(struct auth_cache *ac);

/* The generation a lookup started in; auth_cache_put() stores only if it is still current. */
uint64_t auth_cache_generation(const struct auth_cache *ac);

/*
 * The principal cached under key (a SHA-256 in hex) if it is there and valid at now (seconds,
 * CLOCK_REALTIME): copied into who.
 */
bool auth_cache_get(struct auth_cache *ac, const char *key, double now, struct principal *who);

/* Remember who under key until not_after (seconds), if gen is still current. */
void auth_cache_put(struct auth_cache *ac, const char *key, uint64_t gen, double now,
		    double not_after, const struct principal *who);

size_t auth_cache_count(const struct auth_cache *ac);

#endif
