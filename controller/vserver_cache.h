/*
 * The vServer read cache: a vServer as vserver-get returns it (the object and the columns of its
 * rights check), kept in memory for a few seconds so that a script polling one vServer does not
 * cost a PostgreSQL statement per call. The caller's rights are still decided on every call from
 * its own principal (controller/resolve.c), only the object's place and contents are cached.
 * Correctness rests on invalidation, exactly like the auth cache (auth_cache.h): triggers on
 * vservers, nics, guest_ips, isos, nodes (sql/020_vserver_cache.sql) and accounts (sql/014)
 * NOTIFY wr_auth, every session of every pool LISTENs, and any notification empties this cache
 * before the statement that caused it is answered. Reads racing with a change are not stored
 * (a generation counter); nothing is cached while a session does not listen. Guest addresses
 * age out without any write, so an entry also ends when its first fresh address goes stale.
 */
#ifndef WEBRACK_VSERVER_CACHE_H
#define WEBRACK_VSERVER_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "call.h"

struct vserver_cache;

/* At most max_entries vServers (0: the cache is off). */
struct vserver_cache *vserver_cache_new(size_t max_entries);
void vserver_cache_free(struct vserver_cache *vc);

/* Forget everything, and refuse to store reads that started before. */
void vserver_cache_invalidate(struct vserver_cache *vc);

/* The generation a read started in; vserver_cache_put() stores only if it is still current. */
uint64_t vserver_cache_generation(const struct vserver_cache *vc);

/*
 * The vServer id if it is cached, valid at now (seconds, CLOCK_MONOTONIC) and was read with the
 * same stale_after (ip_stale_after): its place into *s (privs not set) and a new reference to
 * its object into *obj.
 */
bool vserver_cache_get(struct vserver_cache *vc, int64_t id, double now, long long stale_after,
		       struct subject *s, json_t **obj);

/*
 * Remember the vServer s->id (s as resolved, obj as read) until not_after (CLOCK_MONOTONIC), if
 * gen is still current; takes a reference of its own to obj.
 */
void vserver_cache_put(struct vserver_cache *vc, uint64_t gen, double now, double not_after,
		       long long stale_after, const struct subject *s, json_t *obj);

size_t vserver_cache_count(const struct vserver_cache *vc);

#endif
