/*
 * How each kind of object looks in API results, as SQL that builds its JSON. One definition per
 * kind, used by every operation that returns such an object, so results cannot differ between
 * get, list, create and update.
 */
#ifndef WEBRACK_OBJECTS_H
#define WEBRACK_OBJECTS_H

/* Accounts aliased "a". */
#define ACCOUNT_JSON                                                                               \
	"json_build_object('id', a.id, 'parent_id', a.parent_id, 'name', a.name, 'type', a.type, " \
	"'path', a.path, 'quota_cores', a.quota_cores, 'quota_ram_mb', a.quota_ram_mb, "           \
	"'quota_disk_gb', a.quota_disk_gb, 'quota_vservers', a.quota_vservers, "                   \
	"'require_2fa', a.require_2fa, 'enabled', a.enabled, 'created_at', a.created_at)"

/* Users aliased "u". */
#define USER_JSON                                                                                  \
	"json_build_object('id', u.id, 'account_id', u.account_id, 'username', u.username, "       \
	"'email', u.email, 'display_name', u.display_name, 'enabled', u.enabled, "                 \
	"'totp_enabled', u.totp_enabled, 'created_at', u.created_at)"

/* Grants aliased "g". */
#define GRANT_JSON                                                                                 \
	"json_build_object('id', g.id, 'user_id', g.user_id, 'scope_type', g.scope_type, "         \
	"'scope_id', g.scope_id, 'role', g.role, 'created_at', g.created_at)"

/* API tokens aliased "t"; never the secret or its hash. */
#define TOKEN_JSON                                                                                 \
	"json_build_object('id', t.id, 'name', t.name, 'privileges', t.privileges, "               \
	"'created_at', t.created_at, 'expires_at', t.expires_at, 'last_used_at', t.last_used_at)"

/* vDataCenters aliased "d". */
#define VDC_JSON                                                                                   \
	"json_build_object('id', d.id, 'account_id', d.account_id, 'name', d.name, "               \
	"'created_at', d.created_at)"

/* vServers aliased "v". */
#define VSERVER_JSON                                                                               \
	"json_build_object('id', v.id, 'account_id', v.account_id, 'vdc_id', v.vdc_id, "           \
	"'name', v.name, 'cores', v.cores, 'ram_mb', v.ram_mb, 'disk_gb', v.disk_gb, "             \
	"'state', v.state, 'node_id', v.node_id, 'nic_model', v.nic_model, 'template', "           \
	"v.template, "                                                                             \
	"'anti_affinity', v.anti_affinity, 'failover', v.failover, 'error', v.error, "             \
	"'created_at', v.created_at, "                                                             \
	"'node', (SELECT nd.name FROM nodes nd WHERE nd.id = v.node_id), 'macs', "                 \
	"(SELECT json_agg(n.mac::text ORDER BY n.id) FROM nics n WHERE n.vserver_id = v.id), "     \
	"'iso', (SELECT i.name FROM isos i WHERE i.path = v.iso))"

/*
 * A vServer's (aliased "v") fresh guest addresses as a JSON array (controller/ops_ip.c,
 * sql/008_guest_ips.sql): global scope, seen within the last `stale` seconds (a parameter).
 */
#define VSERVER_FRESH_IPS(stale)                                                                   \
	"(SELECT coalesce(json_agg(host(g.address) ORDER BY family(g.address), g.address), '[]') " \
	"FROM guest_ips g WHERE g.vserver_id = v.id AND g.scope = 'global' AND "                   \
	"g.last_seen > now() - make_interval(secs => " stale "::int))"

/* Tasks aliased "k". */
#define TASK_JSON                                                                                  \
	"json_build_object('id', k.id, 'type', k.object_type, 'object_type', k.object_type, "      \
	"'object_id', k.object_id, 'object_name', k.object_name, 'action', k.action, "             \
	"'user_id', k.user_id, 'username', k.username, 'started_at', k.started_at, "               \
	"'ended_at', k.ended_at, 'status', k.status, 'info', k.info, 'progress', "                 \
	"k.progress::text)"

/* Audit rows aliased "e". */
#define AUDIT_JSON                                                                                 \
	"json_build_object('id', e.id, 'at', e.at, 'user_id', e.user_id, 'username', e.username, " \
	"'event', e.event, 'object_type', e.object_type, 'object_id', e.object_id, "               \
	"'detail', e.detail, 'client_ip', e.client_ip)"

/* Nodes aliased "n"; used_cores counts the vCPUs placed on them. */
#define NODE_JSON                                                                                  \
	"json_build_object('id', n.id, 'name', n.name, 'state', n.state, 'epoch', n.epoch, "       \
	"'cores', n.cores, 'housekeeping', n.housekeeping, 'dedicated', n.dedicated, "             \
	"'used_cores', (SELECT count(*) FROM vcpu_cores c WHERE c.node_id = n.id), "               \
	"'ram_mb', n.ram_mb, 'bridges', n.bridges, 'qemu_version', n.qemu_version, "               \
	"'kvm', n.kvm, 'accel', n.accel, 'reserve', n.reserve, 'maintenance', n.maintenance, "     \
	"'vdc_id', n.vdc_id, 'agent_version', n.agent_version, 'last_seen', n.last_seen, "         \
	"'storages', coalesce((SELECT json_agg(json_build_object('name', s.name, 'path', s.path, " \
	"'shared', s.shared, 'free_gb', s.free_gb) ORDER BY s.name) FROM node_storages s "         \
	"WHERE s.node_id = n.id), '[]'), 'created_at', n.created_at)"

/* The "_scope" member list filters use: place in the tree, and an owner for self-visibility. */
#define SCOPE_JSON(path, vdc, vserver, user)                                                       \
	"json_build_object('path', " path ", 'vdc', coalesce(" vdc                                 \
	", 0), 'vserver', coalesce(" vserver ", 0), 'user', coalesce(" user ", 0))"

#endif
