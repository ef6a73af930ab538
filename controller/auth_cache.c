/*
 * The authentication cache (see auth_cache.h): a chained hash table keyed by the token's SHA-256
 * in hex, bounded in entries, emptied by every wr_auth notification.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "auth_cache.h"

#define KEY_LEN 64

/* Owner: the table. */
struct entry {
	struct entry *next;
	char key[KEY_LEN + 1];
	double not_after;
	struct principal who;
};

/* Owner: struct server (srv->auth_cache). */
struct auth_cache {
	struct entry **buckets;
	size_t nbuckets; /* a power of two */
	size_t count, max;
	uint64_t generation;
};

struct auth_cache *
auth_cache_new(size_t max_entries)
{
	struct auth_cache *ac = calloc(1, sizeof(*ac));

	if (ac == NULL)
		return NULL;
	ac->max = max_entries;
	ac->nbuckets = 16;
	while (ac->nbuckets < 2 * max_entries)
		ac->nbuckets *= 2;
	ac->buckets = calloc(ac->nbuckets, sizeof(*ac->buckets));
	if (ac->buckets == NULL) {
		free(ac);
		return NULL;
	}
	ac->generation = 1;
	return ac;
}

static void
entry_free(struct entry *e)
{
	explicit_bzero(e, sizeof(*e));
	free(e);
}

static void
clear(struct auth_cache *ac)
{
	/* Notifications are frequent (sql/020 shares the channel): most find nothing to drop. */
	for (size_t i = 0; i < ac->nbuckets && ac->count > 0; i++) {
		struct entry *e = ac->buckets[i];
		while (e != NULL) {
			struct entry *next = e->next;
			entry_free(e);
			e = next;
		}
		ac->buckets[i] = NULL;
	}
	ac->count = 0;
}

void
auth_cache_free(struct auth_cache *ac)
{
	if (ac == NULL)
		return;
	clear(ac);
	free(ac->buckets);
	free(ac);
}

void
auth_cache_invalidate(struct auth_cache *ac)
{
	if (ac == NULL)
		return;
	clear(ac);
	ac->generation++;
}

uint64_t
auth_cache_generation(const struct auth_cache *ac)
{
	return ac != NULL ? ac->generation : 0;
}

size_t
auth_cache_count(const struct auth_cache *ac)
{
	return ac != NULL ? ac->count : 0;
}

/* The key is already a hash: its first hex digits spread well enough. */
static size_t
bucket_of(const struct auth_cache *ac, const char *key)
{
	uint64_t h = 0;

	for (int i = 0; i < 16 && key[i] != '\0'; i++)
		h = h * 16 + (uint64_t)(key[i] <= '9' ? key[i] - '0' : (key[i] | 0x20) - 'a' + 10);
	return (size_t)(h & (ac->nbuckets - 1));
}

static bool
key_ok(const char *key)
{
	return key != NULL && strlen(key) == KEY_LEN;
}

bool
auth_cache_get(struct auth_cache *ac, const char *key, double now, struct principal *who)
{
	if (ac == NULL || ac->max == 0 || !key_ok(key))
		return false;
	struct entry **pp = &ac->buckets[bucket_of(ac, key)];
	for (struct entry *e = *pp; e != NULL; pp = &e->next, e = e->next) {
		if (memcmp(e->key, key, KEY_LEN) != 0)
			continue;
		if (now >= e->not_after) {
			*pp = e->next;
			entry_free(e);
			ac->count--;
			return false;
		}
		*who = e->who;
		return true;
	}
	return false;
}

/* Full: drop what has expired; returns whether there is room now. */
static bool
make_room(struct auth_cache *ac, double now)
{
	for (size_t i = 0; i < ac->nbuckets && ac->count >= ac->max; i++) {
		struct entry **pp = &ac->buckets[i];
		while (*pp != NULL) {
			struct entry *e = *pp;
			if (now >= e->not_after) {
				*pp = e->next;
				entry_free(e);
				ac->count--;
			} else {
				pp = &e->next;
			}
		}
	}
	return ac->count < ac->max;
}

void
auth_cache_put(struct auth_cache *ac, const char *key, uint64_t gen, double now, double not_after,
	       const struct principal *who)
{
	if (ac == NULL || ac->max == 0 || gen != ac->generation || !key_ok(key) || not_after <= now)
		return;
	size_t b = bucket_of(ac, key);
	for (struct entry *e = ac->buckets[b]; e != NULL; e = e->next) {
		if (memcmp(e->key, key, KEY_LEN) == 0) {
			e->who = *who;
			e->not_after = not_after;
			return;
		}
	}
	if (ac->count >= ac->max && !make_room(ac, now))
		return; /* every entry is fresh: the newcomer is simply not cached */
	struct entry *e = malloc(sizeof(*e));
	if (e == NULL)
		return;
	memcpy(e->key, key, KEY_LEN + 1);
	e->not_after = not_after;
	e->who = *who;
	e->next = ac->buckets[b];
	ac->buckets[b] = e;
	ac->count++;
}
