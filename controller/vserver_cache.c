/*
 * The vServer read cache (see vserver_cache.h): a chained hash table keyed by the vServer's id,
 * bounded in entries, emptied by every notification of the caches' channel.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "vserver_cache.h"

/* Owner: the table. */
struct entry {
	struct entry *next;		   /* in its bucket */
	struct entry *all_next, *all_prev; /* every entry, so that emptying costs O(entries) */
	double not_after;
	long long stale_after;
	struct subject s;
	json_t *obj; /* immutable once stored: replies only read it */
};

/* Owner: struct server (srv->vserver_cache). */
struct vserver_cache {
	struct entry **buckets;
	size_t nbuckets; /* a power of two */
	struct entry *all;
	size_t count, max;
	uint64_t generation;
};

static size_t bucket_of(const struct vserver_cache *vc, int64_t id);

struct vserver_cache *
vserver_cache_new(size_t max_entries)
{
	struct vserver_cache *vc = calloc(1, sizeof(*vc));

	if (vc == NULL)
		return NULL;
	vc->max = max_entries;
	vc->nbuckets = 16;
	while (vc->nbuckets < 2 * max_entries)
		vc->nbuckets *= 2;
	vc->buckets = calloc(vc->nbuckets, sizeof(*vc->buckets));
	if (vc->buckets == NULL) {
		free(vc);
		return NULL;
	}
	vc->generation = 1;
	return vc;
}

/* Unlinks e from the list of all entries (the caller unlinks it from its bucket) and frees it. */
static void
entry_free(struct vserver_cache *vc, struct entry *e)
{
	if (e->all_prev != NULL)
		e->all_prev->all_next = e->all_next;
	else
		vc->all = e->all_next;
	if (e->all_next != NULL)
		e->all_next->all_prev = e->all_prev;
	json_decref(e->obj);
	free(e);
	vc->count--;
}

/* Every notification empties the cache: its cost follows the entries, not the buckets. */
static void
clear(struct vserver_cache *vc)
{
	while (vc->all != NULL) {
		struct entry *e = vc->all;
		vc->buckets[bucket_of(vc, e->s.id)] = NULL;
		entry_free(vc, e);
	}
}

void
vserver_cache_free(struct vserver_cache *vc)
{
	if (vc == NULL)
		return;
	clear(vc);
	free(vc->buckets);
	free(vc);
}

void
vserver_cache_invalidate(struct vserver_cache *vc)
{
	if (vc == NULL)
		return;
	clear(vc);
	vc->generation++;
}

uint64_t
vserver_cache_generation(const struct vserver_cache *vc)
{
	return vc != NULL ? vc->generation : 0;
}

size_t
vserver_cache_count(const struct vserver_cache *vc)
{
	return vc != NULL ? vc->count : 0;
}

static size_t
bucket_of(const struct vserver_cache *vc, int64_t id)
{
	uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ull;

	return (size_t)(h >> 32) & (vc->nbuckets - 1);
}

bool
vserver_cache_get(struct vserver_cache *vc, int64_t id, double now, long long stale_after,
		  struct subject *s, json_t **obj)
{
	if (vc == NULL || vc->max == 0)
		return false;
	struct entry **pp = &vc->buckets[bucket_of(vc, id)];
	for (struct entry *e = *pp; e != NULL; pp = &e->next, e = e->next) {
		if (e->s.id != id)
			continue;
		if (now >= e->not_after || e->stale_after != stale_after) {
			*pp = e->next;
			entry_free(vc, e);
			return false;
		}
		*s = e->s;
		*obj = json_incref(e->obj);
		return true;
	}
	return false;
}

/* Full: drop what has expired; returns whether there is room now. */
static bool
make_room(struct vserver_cache *vc, double now)
{
	for (size_t i = 0; i < vc->nbuckets && vc->count >= vc->max; i++) {
		struct entry **pp = &vc->buckets[i];
		while (*pp != NULL) {
			struct entry *e = *pp;
			if (now >= e->not_after) {
				*pp = e->next;
				entry_free(vc, e);
			} else {
				pp = &e->next;
			}
		}
	}
	return vc->count < vc->max;
}

void
vserver_cache_put(struct vserver_cache *vc, uint64_t gen, double now, double not_after,
		  long long stale_after, const struct subject *s, json_t *obj)
{
	if (vc == NULL || vc->max == 0 || gen != vc->generation || not_after <= now ||
	    !json_is_object(obj))
		return;
	size_t b = bucket_of(vc, s->id);
	for (struct entry *e = vc->buckets[b]; e != NULL; e = e->next) {
		if (e->s.id == s->id) {
			json_decref(e->obj);
			e->obj = json_incref(obj);
			e->s = *s;
			e->not_after = not_after;
			e->stale_after = stale_after;
			return;
		}
	}
	if (vc->count >= vc->max && !make_room(vc, now))
		return; /* every entry is fresh: the newcomer is simply not cached */
	struct entry *e = malloc(sizeof(*e));
	if (e == NULL)
		return;
	e->s = *s;
	e->obj = json_incref(obj);
	e->not_after = not_after;
	e->stale_after = stale_after;
	e->next = vc->buckets[b];
	vc->buckets[b] = e;
	e->all_prev = NULL;
	e->all_next = vc->all;
	if (vc->all != NULL)
		vc->all->all_prev = e;
	vc->all = e;
	vc->count++;
}
