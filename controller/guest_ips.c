/*
 * Storing the guest addresses node agents learn from ARP/NDP. An agent already deduplicates and
 * rate-limits (nodeagent/sniffer.c); the controller checks every item again (an agent is trusted
 * with its own vServers only: the SQL ignores items for vServers not placed on that node), turns
 * the batch into one JSON parameter and stores it with one statement, so a batch costs one round
 * trip however many addresses it holds. Spoof attempts come back from the statement and are
 * logged here; their audit rows and the pg_notify event are written by the statement itself.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "call.h"
#include "db.h"
#include "guest_ips.h"
#include "log.h"
#include "server.h"

bool
guest_ips_canonical(const char *text, const char *family, char *buf, size_t len)
{
	unsigned char addr[16];
	int af;

	if (text == NULL)
		return false;
	if (family == NULL)
		af = strchr(text, ':') != NULL ? AF_INET6 : AF_INET;
	else if (strcmp(family, "ipv4") == 0)
		af = AF_INET;
	else if (strcmp(family, "ipv6") == 0)
		af = AF_INET6;
	else
		return false;
	if (inet_pton(af, text, addr) != 1)
		return false;
	return inet_ntop(af, addr, buf, (socklen_t)len) != NULL;
}

struct store_ctx {
	char node[64];
};

static void
stored(const struct db_result *r, void *arg)
{
	struct store_ctx *ctx = arg;
	json_t *res = NULL;
	size_t i;
	json_t *s;

	if (r->status != DB_OK || PQntuples(r->res) != 1) {
		log_warn("node %s: guest addresses not stored: %s", ctx->node,
			 r->message ? r->message : "no result");
		goto out;
	}
	res = json_loads(PQgetvalue(r->res, 0, 0), 0, NULL);
	json_array_foreach (json_object_get(res, "spoofs"), i, s) {
		if (json_is_true(json_object_get(s, "audited")))
			log_warn("node %s: vServer %lld claimed %s, which is not allocated to it "
				 "(spoof attempt, not stored)",
				 ctx->node,
				 (long long)json_integer_value(json_object_get(s, "vserver_id")),
				 json_string_value(json_object_get(s, "address")));
	}
	if (json_integer_value(json_object_get(res, "ignored")) > 0)
		log_warn("node %s: %lld guest address(es) for vServers not placed there ignored",
			 ctx->node, (long long)json_integer_value(json_object_get(res, "ignored")));
	log_debug("node %s: %lld guest address(es) stored", ctx->node,
		  (long long)json_integer_value(json_object_get(res, "stored")));
out:
	json_decref(res);
	free(ctx);
}

bool
guest_ips_store(struct server *srv, int64_t node_id, const char *node, const json_t *msg, char *why,
		size_t whylen)
{
	static const char sql[] = "SELECT wr_guest_ips_store($1, $2::jsonb, $3)";
	const json_t *items = json_object_get(msg, "items");
	long long dropped = json_integer_value(json_object_get(msg, "dropped"));
	json_t *clean = json_array();
	size_t i;
	const json_t *e;
	char buf[64];

	if (clean == NULL) {
		snprintf(why, whylen, "out of memory");
		return false;
	}
	json_array_foreach (items, i, e) {
		const char *fam = json_string_value(json_object_get(e, "family"));
		if (!guest_ips_canonical(json_string_value(json_object_get(e, "address")), fam, buf,
					 sizeof(buf))) {
			snprintf(why, whylen, "items[%zu]: not an %s host address", i, fam);
			json_decref(clean);
			return false;
		}
		json_array_append_new(clean,
				      json_pack("{s:O, s:s, s:O}", "vm", json_object_get(e, "vm"),
						"address", buf, "tentative",
						json_object_get(e, "tentative")));
	}
	/* The agent logs its own drop summaries (at most every 10 s); here only for debugging. */
	if (dropped > 0)
		log_debug("node %s: its sniffer dropped %lld claim(s) by rate limit since its last "
			  "batch",
			  node, dropped);
	if (json_array_size(clean) == 0) {
		json_decref(clean);
		return true;
	}
	char *text = json_dumps(clean, JSON_COMPACT);
	struct store_ctx *ctx = calloc(1, sizeof(*ctx));
	json_decref(clean);
	if (text == NULL || ctx == NULL) {
		free(text);
		free(ctx);
		snprintf(why, whylen, "out of memory");
		return false;
	}
	snprintf(ctx->node, sizeof(ctx->node), "%s", node);
	char nid[24], cap[24];
	const char *params[] = {call_i64(nid, node_id), text, call_i64(cap, GUEST_IPS_PER_VSERVER)};
	db_query(srv->db, sql, 3, params, stored, ctx);
	free(text);
	return true;
}
