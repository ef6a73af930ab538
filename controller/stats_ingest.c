/*
 * Ingesting "stats" messages (see stats_ingest.h). The node's own sample is written at once;
 * the vServer samples wait for one query that keeps only the vServers placed on the sending
 * node. Identity is the link's (its certificate's), never a field of the message.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "db.h"
#include "log.h"
#include "proto.h"
#include "server.h"
#include "stats_ingest.h"
#include "stats_rrd.h"

struct pending_vms {
	struct server *srv;
	int64_t node_id;
	char node[64];
	json_t *msg;
	bool has_node; /* node_update goes into the same batch */
	struct stats_update node_update;
};

static bool
fill(struct stats_update *u, enum stats_kind kind, int64_t id, int64_t time, const json_t *sample)
{
	memset(u, 0, sizeof(*u));
	u->kind = kind;
	u->id = id;
	u->time = time;
	return stats_rrd_update_line(kind, time, sample, u->line, sizeof(u->line));
}

static void
owned(const struct db_result *r, void *arg)
{
	struct pending_vms *p = arg;
	struct server *srv = p->srv;
	json_t *vms = json_object_get(p->msg, "vms");
	int64_t time = json_integer_value(json_object_get(p->msg, "time"));
	size_t n = 0, foreign = 0, i;
	json_t *e;

	if (r->status != DB_OK) {
		log_debug("stats: node %s: samples of %zu vServers dropped: %s", p->node,
			  json_array_size(vms), r->message ? r->message : "database unavailable");
		if (p->has_node) {
			struct stats_update *u = malloc(sizeof(*u));
			if (u != NULL) {
				*u = p->node_update;
				stats_writer_submit(srv->stats_writer, u, 1);
			}
		}
		goto out;
	}
	struct stats_update *items = calloc(json_array_size(vms) + 1, sizeof(*items));
	if (items == NULL)
		goto out;
	if (p->has_node)
		items[n++] = p->node_update;
	json_array_foreach (vms, i, e) {
		int64_t id = json_integer_value(json_object_get(e, "id"));
		bool mine = false;
		for (int row = 0; row < PQntuples(r->res) && !mine; row++)
			mine = strtoll(PQgetvalue(r->res, row, 0), NULL, 10) == id;
		if (!mine) {
			foreign++;
			continue;
		}
		if (fill(&items[n], STATS_VSERVER, id, time, e))
			n++;
	}
	if (foreign > 0)
		log_warn("stats: node %s sent samples of %zu vServers it does not run; ignored",
			 p->node, foreign);
	stats_writer_submit(srv->stats_writer, items, n);
out:
	json_decref(p->msg);
	free(p);
}

void
stats_ingest(struct server *srv, int64_t node_id, const char *node_name, json_t *msg)
{
	static const char sql[] =
		"SELECT id FROM vservers WHERE node_id = $1 AND id = ANY($2::bigint[])";
	int64_t time = json_integer_value(json_object_get(msg, "time"));
	json_t *node = json_object_get(msg, "node");
	json_t *vms = json_object_get(msg, "vms");

	struct stats_update nu;
	bool has_node = node != NULL && fill(&nu, STATS_NODE, node_id, time, node);

	if (srv->stats_writer == NULL)
		return;
	/* One batch per message: the node's update waits for the ownership query. */
	if (json_array_size(vms) == 0) {
		struct stats_update *u = has_node ? malloc(sizeof(*u)) : NULL;
		if (u != NULL) {
			*u = nu;
			stats_writer_submit(srv->stats_writer, u, 1);
		}
		return;
	}

	/* "{1,2,3}": at most PROTO_STATS_VMS ids of 20 digits */
	size_t cap = json_array_size(vms) * 22 + 3, used = 0, i;
	char *ids = malloc(cap);
	struct pending_vms *p = calloc(1, sizeof(*p));
	json_t *e;
	if (ids == NULL || p == NULL) {
		free(ids);
		free(p);
		return;
	}
	used += (size_t)snprintf(ids, cap, "{");
	json_array_foreach (vms, i, e)
		used += (size_t)snprintf(ids + used, cap - used, "%s%" JSON_INTEGER_FORMAT,
					 i ? "," : "",
					 json_integer_value(json_object_get(e, "id")));
	snprintf(ids + used, cap - used, "}");
	p->srv = srv;
	p->node_id = node_id;
	snprintf(p->node, sizeof(p->node), "%s", node_name);
	p->msg = json_incref(msg);
	p->has_node = has_node;
	if (has_node)
		p->node_update = nu;
	char nid[24];
	const char *params[] = {call_i64(nid, node_id), ids};
	db_query(srv->db, sql, 2, params, owned, p);
	free(ids);
}
