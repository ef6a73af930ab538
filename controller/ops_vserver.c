/*
 * vDataCenters and vServer records. In this layer a vServer is its definition and its share of
 * the account quotas; placing it on a node, its disks and its QEMU come with the node agent. The
 * quota check and the insert are one PL/pgSQL call (wr_vserver_create) that locks the account
 * path, so concurrent creations cannot overrun a quota together.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "auth.h"
#include "monotime.h"
#include "objects.h"
#include "ops.h"
#include "server.h"
#include "vserver_cache.h"

static void
vdc_created(struct call *c, json_t *obj)
{
	c->subject.type = "vdc";
	ops_reply_changed(c, obj);
}

static void
vdc_create_resolved(struct call *c)
{
	static const char sql[] = "INSERT INTO vdcs AS d (account_id, name) VALUES ($1, $2) "
				  "RETURNING " VDC_JSON;
	char id[24];

	if (!ops_may_shape_account(c)) {
		call_fail(c, API_DENIED,
			  "vDataCenters are assigned by the parent account's admins");
		return;
	}
	const char *params[] = {call_i64(id, c->subject.id), call_arg_str(c, "name")};
	ops_subject_new(c, "vdc", call_arg_str(c, "name"));
	call_sql_json(c, sql, 2, params, vdc_created);
}

void
op_vdc_create(struct call *c)
{
	call_resolve(c, "account", call_arg_int(c, "account_id", 0), 0, vdc_create_resolved);
}

void
op_vdc_list(struct call *c)
{
	static const char sql[] = "SELECT coalesce(json_agg(" VDC_JSON
				  "::jsonb || jsonb_build_object('_scope', " SCOPE_JSON(
					  "a.path", "d.id", "0",
					  "0") ") ORDER BY d.id), '[]') "
					       "FROM vdcs d JOIN accounts a ON a.id = d.account_id "
					       "WHERE a.path @> ARRAY[$1::bigint] AND ($2::bigint "
					       "IS NULL OR d.account_id = $2)";
	ops_list_subtree(c, sql, "account_id", PRIV_ACCOUNT_VIEW | PRIV_VSERVER_VIEW);
}

static void
vdc_get_resolved(struct call *c)
{
	static const char sql[] = "SELECT " VDC_JSON " FROM vdcs d WHERE d.id = $1";
	call_sql_json_id(c, sql, c->subject.id, ops_reply_object);
}

void
op_vdc_get(struct call *c)
{
	call_resolve(c, "vdc", call_arg_int(c, "id", 0), 0, vdc_get_resolved);
}

static void
vdc_delete_resolved(struct call *c)
{
	static const char sql[] = "DELETE FROM vdcs d WHERE d.id = $1 RETURNING " VDC_JSON;
	char id[24];
	if (!ops_may_shape_account(c)) {
		call_fail(c, API_DENIED, "vDataCenters are removed by the parent account's admins");
		return;
	}
	const char *params[] = {call_i64(id, c->subject.id)};
	call_sql_json(c, sql, 1, params, ops_reply_changed);
}

void
op_vdc_delete(struct call *c)
{
	call_resolve(c, "vdc", call_arg_int(c, "id", 0), 0, vdc_delete_resolved);
}

static void
vserver_created(struct call *c, json_t *obj)
{
	c->subject.type = "vserver";
	/* File the creation under the new vServer too, so its own grantees see it in the log. */
	if (obj != NULL)
		c->subject.vserver_id = json_integer_value(json_object_get(obj, "id"));
	ops_reply_changed(c, obj);
}

static void
vserver_create_resolved(struct call *c)
{
	static const char sql[] =
		"SELECT " VSERVER_JSON
		" FROM wr_vserver_set_failover((SELECT id FROM wr_vserver_create($1, "
		"$2, $3, $4, $5, $6, $7, $8, $9)), coalesce($10::bool, false)) v";
	char b[6][24];
	const char *params[] = {call_i64(b[0], c->subject.id),
				call_arg_text(c, "vdc_id", b[1], 24),
				call_arg_str(c, "name"),
				call_arg_text(c, "cores", b[2], 24),
				call_arg_text(c, "ram_mb", b[3], 24),
				call_arg_text(c, "disk_gb", b[4], 24),
				call_arg_str(c, "template"),
				call_arg_str(c, "nic_model"),
				call_arg_str(c, "anti_affinity"),
				call_arg_text(c, "failover", b[5], 24)};

	ops_subject_new(c, "vserver", call_arg_str(c, "name"));
	call_sql_json(c, sql, 10, params, vserver_created);
}

void
op_vserver_create(struct call *c)
{
	call_resolve(c, "account", call_arg_int(c, "account_id", 0), PRIV_VSERVER_EDIT,
		     vserver_create_resolved);
}

/* The fresh guest addresses (objects.h) with the stale age as $2 (vserver-get), $3 (the list). */
#define FRESH_IPS_P2 VSERVER_FRESH_IPS("$2")
#define FRESH_IPS_P3 VSERVER_FRESH_IPS("$3")

void
op_vserver_list(struct call *c)
{
	/* "ips" as in vserver-get: the portal shows each vServer's addresses in its list. */
	static const char sql[] =
		"SELECT coalesce(json_agg(" VSERVER_JSON "::jsonb || "
		"jsonb_build_object('ips', " FRESH_IPS_P3 ", '_scope', " SCOPE_JSON(
			"a.path", "v.vdc_id", "v.id",
			"0") ") ORDER BY v.id), '[]') "
			     "FROM vservers v JOIN accounts a ON a.id = v.account_id "
			     "WHERE a.path @> ARRAY[$1::bigint] AND ($2::bigint IS NULL OR "
			     "v.account_id = $2)";
	char stale[24];

	ops_list_subtree_with(c, sql, "account_id", PRIV_VSERVER_VIEW,
			      call_i64(stale, c->srv->settings.ip_stale_after));
}

/* A vServer read from PostgreSQL: answer, and keep it for the next reads (vserver_cache.c). */
static void
vserver_got(struct call *c, json_t *obj)
{
	struct server *srv = c->srv;
	const PGresult *res = c->resolving.row;
	int col = res != NULL ? PQfnumber(res, "_fresh_for") : -1;

	if (obj != NULL && col >= 0 && vserver_cache_usable(srv)) {
		/* Until the first fresh address goes stale, from before PostgreSQL's now(). */
		double until = c->resolving.cache_sent + (double)srv->settings.vserver_cache_ttl;
		if (!PQgetisnull(res, 0, col)) {
			double fresh_for = strtod(PQgetvalue(res, 0, col), NULL);
			if (c->resolving.cache_sent + fresh_for < until)
				until = c->resolving.cache_sent + fresh_for;
		}
		vserver_cache_put(srv->vserver_cache, c->resolving.cache_gen, now_mono(), until,
				  srv->settings.ip_stale_after, &c->subject, obj);
	}
	ops_reply_object(c, obj);
}

void
op_vserver_get(struct call *c)
{
	/*
	 * The rights check's row and the vServer in one statement: the most frequent read of the
	 * API costs one round trip. "ips": the fresh guest addresses (controller/ops_ip.c,
	 * sql/008_guest_ips.sql), as a subquery of the statement rather than a call of
	 * wr_guest_ips_fresh(): a function's call and its plan cost PostgreSQL two to three times
	 * the subquery, and this is the only read that needs the list. "_fresh_for": seconds until
	 * the first of them goes stale (NULL: none), which bounds the cached copy's life.
	 */
	static const char sql[] =
		"SELECT " RESOLVE_VSERVER_COLS ", " VSERVER_JSON ", " FRESH_IPS_P2 " AS ips, "
		"(SELECT extract(epoch FROM min(g.last_seen) + make_interval(secs => $2::int) - "
		"now()) "
		"FROM guest_ips g WHERE g.vserver_id = v.id AND g.scope = 'global' AND "
		"g.last_seen > now() - make_interval(secs => $2::int)) AS _fresh_for "
		"FROM " RESOLVE_VSERVER_FROM;
	struct server *srv = c->srv;
	int64_t id = call_arg_int(c, "id", 0);
	char stale[24];
	const char *params[] = {NULL, call_i64(stale, srv->settings.ip_stale_after)};
	struct subject cached;
	json_t *obj;

	if (vserver_cache_usable(srv)) {
		double now = now_mono();
		if (vserver_cache_get(srv->vserver_cache, id, now, srv->settings.ip_stale_after,
				      &cached, &obj)) {
			if (call_resolved_from(c, "vserver", &cached, 0))
				ops_reply_object(c, obj);
			else
				json_decref(obj);
			return;
		}
		c->resolving.cache_gen = vserver_cache_generation(srv->vserver_cache);
		c->resolving.cache_sent = now;
	}
	call_resolve_fetch(c, "vserver", id, 0, sql, 2, params, vserver_got);
}

/* The failover flag (sql/012_failover.sql); read by the failover monitor when a node dies. */
static void
vserver_update_resolved(struct call *c)
{
	static const char sql[] =
		"SELECT " VSERVER_JSON " FROM wr_vserver_set_failover($1, $2::bool) v";
	char id[24], b[24];
	const char *params[] = {call_i64(id, c->subject.id), call_arg_text(c, "failover", b, 24)};

	call_sql_json(c, sql, 2, params, ops_reply_changed);
}

void
op_vserver_update(struct call *c)
{
	call_resolve(c, "vserver", call_arg_int(c, "id", 0), PRIV_VSERVER_EDIT,
		     vserver_update_resolved);
}

static void
vserver_deleted(struct call *c, json_t *obj)
{
	if (obj == NULL) {
		/* It has a node or a disk: the lifecycle engine takes it down step by step. */
		c->own_task = true;
		op_vserver_enqueue(c);
		return;
	}
	ops_reply_changed(c, obj);
}

static void
vserver_delete_resolved(struct call *c)
{
	static const char sql[] = "DELETE FROM vservers v WHERE v.id = $1 AND v.node_id IS NULL "
				  "AND NOT v.disk_created RETURNING " VSERVER_JSON;

	call_sql_json_id(c, sql, c->subject.id, vserver_deleted);
}

void
op_vserver_delete(struct call *c)
{
	call_resolve(c, "vserver", call_arg_int(c, "id", 0), PRIV_VSERVER_EDIT,
		     vserver_delete_resolved);
}
