/*
 * Guest addresses of a vServer: vserver-ips lists what the node agents learned from ARP/NDP
 * (with first/last sighting and a stale flag after ip_stale_after), the allocated addresses and
 * the spoof attempts; vserver-ips-allocate sets the allocation. Allocations decide what a guest
 * may claim, so only the provider's staff set them: a customer allocating an address would
 * otherwise turn another tenant's legitimate use of it into a "spoof".
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "guest_ips.h"
#include "ops.h"
#include "server.h"

static void
ips_resolved(struct call *c)
{
	static const char sql[] =
		"SELECT json_build_object('id', $1::bigint, 'items', coalesce((SELECT "
		"json_agg(json_build_object('address', host(g.address), 'family', CASE "
		"family(g.address) WHEN 4 THEN 'ipv4' ELSE 'ipv6' END, 'scope', g.scope, "
		"'tentative', g.tentative, 'first_seen', g.first_seen, 'last_seen', g.last_seen, "
		"'stale', g.last_seen <= now() - make_interval(secs => $2::int)) ORDER BY "
		"family(g.address), g.address) FROM guest_ips g WHERE g.vserver_id = $1), '[]'), "
		"'allocated', coalesce((SELECT json_agg(host(a.address) ORDER BY a.address) FROM "
		"guest_ip_allocations a WHERE a.vserver_id = $1), '[]'), "
		"'spoofs', coalesce((SELECT json_agg(json_build_object('address', host(s.address), "
		"'claims', s.claims, 'first_seen', s.first_seen, 'last_seen', s.last_seen) ORDER "
		"BY "
		"s.last_seen DESC) FROM guest_ip_spoofs s WHERE s.vserver_id = $1), '[]'))";
	char id[24], stale[24];
	const char *params[] = {call_i64(id, c->subject.id),
				call_i64(stale, c->srv->settings.ip_stale_after)};

	call_sql_json(c, sql, 2, params, ops_reply_object);
}

void
op_vserver_ips(struct call *c)
{
	call_resolve(c, "vserver", call_arg_int(c, "id", 0), 0, ips_resolved);
}

static void
allocated(struct call *c, json_t *obj)
{
	ops_reply_changed(c, obj);
}

static void
allocate_resolved(struct call *c)
{
	/*
	 * Keep the allocations that stay, add the new ones (an address allocated to another
	 * vServer violates the unique index: conflict), and forget learned addresses that the new
	 * allocation turns into spoofs, here and on other vServers.
	 */
	static const char sql[] =
		"WITH want AS (SELECT DISTINCT x::inet AS address FROM unnest($2::text[]) x), "
		"del AS (DELETE FROM guest_ip_allocations g WHERE g.vserver_id = $1 AND g.address "
		"NOT IN (SELECT address FROM want)), "
		"ins AS (INSERT INTO guest_ip_allocations (vserver_id, address) SELECT $1, address "
		"FROM want ON CONFLICT (vserver_id, address) DO NOTHING), "
		"mine AS (DELETE FROM guest_ips g WHERE g.vserver_id = $1 AND g.scope = 'global' "
		"AND "
		"EXISTS (SELECT 1 FROM want) AND g.address NOT IN (SELECT address FROM want)), "
		"theirs AS (DELETE FROM guest_ips g WHERE g.vserver_id <> $1 AND g.address IN "
		"(SELECT address FROM want)) "
		"SELECT json_build_object('id', v.id, 'name', v.name, 'allocated', (SELECT "
		"coalesce(json_agg(host(address) ORDER BY address), '[]') FROM want)) "
		"FROM vservers v WHERE v.id = $1";
	int64_t root = c->who.path[0];
	const json_t *list = json_object_get(c->args, "addresses");
	char arr[GUEST_IPS_ALLOC_MAX * 48 + 3], one[64], id[24];
	size_t i, off = 0;
	const json_t *e;

	if ((call_privs(c, &root, 1, 0, 0) & PRIV_VSERVER_EDIT) == 0) {
		call_fail(c, API_DENIED, "guest addresses are allocated by the provider's staff");
		return;
	}
	if (json_array_size(list) > GUEST_IPS_ALLOC_MAX) {
		call_fail(c, API_INVALID, "at most %d addresses", GUEST_IPS_ALLOC_MAX);
		return;
	}
	arr[off++] = '{';
	json_array_foreach (list, i, e) {
		if (!guest_ips_canonical(json_string_value(e), NULL, one, sizeof(one))) {
			call_fail(c, API_INVALID, "addresses[%zu] is not an IPv4 or IPv6 address",
				  i);
			return;
		}
		off += (size_t)snprintf(arr + off, sizeof(arr) - off, "%s%s", i ? "," : "", one);
	}
	snprintf(arr + off, sizeof(arr) - off, "}");
	const char *params[] = {call_i64(id, c->subject.id), arr};
	call_sql_json(c, sql, 2, params, allocated);
}

void
op_vserver_ips_allocate(struct call *c)
{
	call_resolve(c, "vserver", call_arg_int(c, "id", 0), PRIV_VSERVER_EDIT, allocate_resolved);
}
