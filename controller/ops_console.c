/*
 * vserver-console-ticket: a one-time password for one console open of a vServer the caller may
 * use the console of. The ticket is returned once and stored only as its SHA-256, bound to the
 * caller and the vServer, valid console_ticket_seconds (at most 60); redeeming it (console.c)
 * consumes it, and a vServer that stops or moves loses its tickets (sql/007_console.sql).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "ops.h"
#include "secret.h"
#include "server.h"

static void
free_ticket(void *p)
{
	json_decref(p);
}

static void
ticket_stored(struct call *c, json_t *row)
{
	const char *state = json_string_value(json_object_get(row, "state"));
	char origin[512], host[256], url[1024];
	int port;
	json_t *ticket_j = c->state;

	if (row == NULL) {
		call_fail(c, API_NOT_FOUND, "vserver not found");
		return;
	}
	if (!json_is_true(json_object_get(row, "issued"))) {
		if (state != NULL && strcmp(state, "running") != 0 && strcmp(state, "paused") != 0)
			call_fail(c, API_CONFLICT,
				  "the vServer is %s; its console exists only while "
				  "it runs",
				  state);
		else
			call_fail(c, API_CONFLICT,
				  "the vServer's node has no console endpoint (console_listen)");
		json_decref(row);
		return;
	}
	json_decref(row);
	const char *ticket = json_string_value(ticket_j);
	console_public_origin(c->srv, origin, sizeof(origin));
	snprintf(url, sizeof(url), "%s/console/%lld#ticket=%s", origin, (long long)c->subject.id,
		 ticket);
	console_vnc_address(c->srv, host, sizeof(host), &port);
	call_reply(c, json_pack("{s:s, s:I, s:s, s:o, s:o}", "ticket", ticket, "expires_in",
				(json_int_t)c->srv->settings.console_ticket_seconds, "url", url,
				"vencrypt_host", port ? json_string(host) : json_null(),
				"vencrypt_port", port ? json_integer(port) : json_null()));
}

static void
console_resolved(struct call *c)
{
	static const char sql[] =
		"WITH old AS (DELETE FROM console_tickets WHERE expires_at < now() - interval '1 "
		"hour'), "
		"v AS (SELECT v.id, v.state, n.console_endpoint FROM vservers v LEFT JOIN nodes n "
		"ON n.id = v.node_id WHERE v.id = $1), "
		"t AS (INSERT INTO console_tickets (hash, user_id, vserver_id, expires_at) SELECT "
		"$2, $3, v.id, now() + make_interval(secs => $4::int) FROM v WHERE v.state IN "
		"('running', 'paused') AND v.console_endpoint IS NOT NULL RETURNING 1) "
		"SELECT json_build_object('state', v.state, 'issued', EXISTS (SELECT 1 FROM t)) "
		"FROM v";
	char *ticket = secret_new_token(CONSOLE_TICKET_PREFIX, 24);
	char hash[SECRET_SHA256_HEX_SIZE], vid[24], uid[24], secs[24];

	if (ticket == NULL) {
		call_fail(c, API_INTERNAL, "cannot make a ticket");
		return;
	}
	secret_sha256_hex(ticket, strlen(ticket), hash);
	c->state = json_string(ticket);
	c->state_free = free_ticket;
	free(ticket);
	const char *params[] = {call_i64(vid, c->subject.id), hash, call_i64(uid, c->who.user_id),
				call_i64(secs, c->srv->settings.console_ticket_seconds)};
	call_sql_json(c, sql, 4, params, ticket_stored);
}

void
op_vserver_console_ticket(struct call *c)
{
	call_resolve(c, "vserver", call_arg_int(c, "id", 0), PRIV_VSERVER_CONSOLE,
		     console_resolved);
}
