/*
 * Rack servers: join tokens, joining (the CSR of a new node agent signed by the controller's CA),
 * listing and flags (maintenance, reserve, owning vDataCenter). Nodes are the provider's
 * hardware: only the provider's staff see and manage them.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca.h"
#include "capacity.h"
#include "log.h"
#include "objects.h"
#include "ops.h"
#include "secret.h"
#include "server.h"

#define JOIN_TOKEN_PREFIX "wrj_"
#define NODE_CERT_DAYS	  730

/* Provider staff: the privilege on the root account. Everyone else is refused. */
static bool
provider_may(struct call *c, uint32_t priv)
{
	int64_t root = c->who.path[0];

	if ((call_privs(c, &root, 1, 0, 0) & priv) != priv) {
		call_fail(c, API_DENIED, "nodes are managed by the provider's staff");
		return false;
	}
	c->subject.type = "node";
	c->subject.path[0] = root;
	c->subject.path_len = 1;
	c->subject.set = true;
	return true;
}

static void
token_created(struct call *c, json_t *row)
{
	char *token = c->state;

	json_object_set_new(row, "token", json_string(token));
	call_reply(c, row);
}

static void
token_free(void *p)
{
	if (p != NULL)
		explicit_bzero(p, strlen(p));
	free(p);
}

void
op_node_join_token_create(struct call *c)
{
	static const char sql[] =
		"INSERT INTO node_join_tokens (node_name, token_hash, created_by, expires_at) "
		"VALUES ($1, $2, $3, now() + interval '1 hour') "
		"RETURNING json_build_object('name', node_name, 'expires_at', expires_at)";
	char hash[65], uid[24];

	if (!provider_may(c, PRIV_ACCOUNT_MANAGE))
		return;
	snprintf(c->subject.name, sizeof(c->subject.name), "%s", call_arg_str(c, "name"));
	char *token = secret_new_token(JOIN_TOKEN_PREFIX, 32);
	if (token == NULL) {
		call_fail(c, API_INTERNAL, "cannot create a token");
		return;
	}
	c->state = token;
	c->state_free = token_free;
	secret_sha256_hex(token, strlen(token), hash);
	const char *params[] = {call_arg_str(c, "name"), hash, call_i64(uid, c->who.user_id)};
	call_sql_json(c, sql, 3, params, token_created);
}

struct join_state {
	char hash[65];
	char *cert_pem;
};

static void
join_state_free(void *p)
{
	struct join_state *js = p;
	free(js->cert_pem);
	free(js);
}

static void
joined(struct call *c, json_t *row)
{
	struct join_state *js = c->state;

	if (row == NULL) {
		call_fail(c, API_UNAUTHENTICATED, "invalid, used or expired join token");
		return;
	}
	char *ca = ca_cert_pem(c->srv->settings.ca_cert);
	if (ca == NULL) {
		json_decref(row);
		call_fail(c, API_INTERNAL, "cannot read the CA certificate");
		return;
	}
	log_info("node '%s' joined from %s", json_string_value(json_object_get(row, "name")),
		 c->client_ip);
	json_object_set_new(row, "cert_pem", json_string(js->cert_pem));
	json_object_set_new(row, "ca_pem", json_string(ca));
	json_object_set_new(row, "agent_listen", json_string(c->srv->settings.agent_listen));
	free(ca);
	call_reply(c, row);
}

static void
token_checked(struct call *c, json_t *name)
{
	/* The token is consumed in the same statement that records the node. */
	static const char sql[] =
		"WITH t AS (UPDATE node_join_tokens SET used_at = now() WHERE token_hash = $1 AND "
		"used_at IS NULL AND expires_at > now() RETURNING node_name, created_by), "
		"n AS (INSERT INTO nodes (name) SELECT node_name FROM t ON CONFLICT (name) DO "
		"UPDATE "
		"SET state = nodes.state RETURNING id, name), "
		"a AS (INSERT INTO audit (user_id, scope_path, event, object_type, object_id, "
		"detail, "
		"client_ip) SELECT t.created_by, (SELECT ARRAY[id] FROM accounts WHERE type = "
		"'provider'), 'node.join', 'node', n.id, n.name, $2 FROM t, n) "
		"SELECT json_build_object('node_id', id, 'name', name) FROM n";
	struct join_state *js = c->state;
	char why[256];

	if (!json_is_string(name)) {
		json_decref(name);
		call_fail(c, API_UNAUTHENTICATED, "invalid, used or expired join token");
		return;
	}
	js->cert_pem = ca_sign_csr(c->srv->settings.ca_cert, c->srv->settings.ca_key,
				   call_arg_str(c, "csr_pem"), json_string_value(name),
				   NODE_CERT_DAYS, why, sizeof(why));
	json_decref(name);
	if (js->cert_pem == NULL) {
		call_fail(c, API_INVALID, "%s", why);
		return;
	}
	const char *params[] = {js->hash, c->client_ip};
	call_sql_json(c, sql, 2, params, joined);
}

void
op_node_join(struct call *c)
{
	static const char sql[] = "SELECT to_json(node_name) FROM node_join_tokens WHERE "
				  "token_hash = $1 AND used_at IS NULL AND expires_at > now()";
	struct join_state *js = calloc(1, sizeof(*js));
	const char *token = call_arg_str(c, "token");

	if (js == NULL) {
		call_fail(c, API_BUSY, "out of memory");
		return;
	}
	c->state = js;
	c->state_free = join_state_free;
	if (c->srv->settings.ca_cert == NULL) {
		call_fail(c, API_UNAVAILABLE, "this controller has no CA configured (ca_cert)");
		return;
	}
	secret_sha256_hex(token, strlen(token), js->hash);
	const char *params[] = {js->hash};
	call_sql_json(c, sql, 1, params, token_checked);
}

static void
nodes_listed(struct call *c, json_t *items)
{
	call_reply(c, json_pack("{s:o}", "items", items ? items : json_array()));
}

void
op_node_list(struct call *c)
{
	static const char sql[] =
		"SELECT coalesce(json_agg(" NODE_JSON " ORDER BY n.name), '[]') FROM nodes n";

	if (!provider_may(c, PRIV_ACCOUNT_VIEW))
		return;
	call_sql_json(c, sql, 0, NULL, nodes_listed);
}

void
op_node_get(struct call *c)
{
	static const char sql[] = "SELECT " NODE_JSON " FROM nodes n WHERE n.id = $1";

	if (!provider_may(c, PRIV_ACCOUNT_VIEW))
		return;
	c->subject.type = "node";
	call_sql_json_id(c, sql, call_arg_int(c, "id", 0), ops_reply_object);
}

/* Maintenance, reserve and the owning vDataCenter decide placement: the scheduler reloads. */
static void
node_updated(struct call *c, json_t *obj)
{
	capacity_invalidate(c->srv->capacity);
	ops_reply_changed(c, obj);
}

void
op_node_update(struct call *c)
{
	static const char sql[] =
		"UPDATE nodes n SET maintenance = coalesce($2::bool, n.maintenance), "
		"reserve = coalesce($3::bool, n.reserve), "
		"vdc_id = CASE WHEN $4::bool THEN $5::bigint ELSE n.vdc_id END "
		"WHERE n.id = $1 RETURNING " NODE_JSON;
	char b[4][24];

	if (!provider_may(c, PRIV_ACCOUNT_MANAGE))
		return;
	c->subject.id = call_arg_int(c, "id", 0);
	const char *params[] = {
		call_arg_text(c, "id", b[0], 24), call_arg_text(c, "maintenance", b[1], 24),
		call_arg_text(c, "reserve", b[2], 24), call_arg_has(c, "vdc_id") ? "true" : "false",
		call_arg_text(c, "vdc_id", b[3], 24)};
	call_sql_json(c, sql, 5, params, node_updated);
}
