/*
 * The placement rule. Hard constraints first, in the order an admin would check them: the node
 * is online and not in maintenance; reserve nodes only for failover; a vDataCenter's vServers
 * only on that vDataCenter's nodes and nobody else's vServers there; the anti-affinity group;
 * then cores, RAM and disk. Among the nodes left, a failover restart takes a reserve node
 * first; otherwise the one with the most free cores wins (ties: most free RAM, then the lowest
 * id), which spreads load and so limits what one node failure
 * takes down. When nothing fits, the message names the constraint that ruled the last
 * candidates out, so "no capacity" always says what is missing.
 */
#include "config.h"

#include <stdio.h>

#include "placement.h"

enum reject {
	REJ_NONE,
	REJ_OFFLINE,
	REJ_MAINTENANCE,
	REJ_RESERVE,
	REJ_VDC,
	REJ_EXCLUDED,
	REJ_DISK_NODE,
	REJ_AFFINITY,
	REJ_CORES,
	REJ_RAM,
	REJ_DISK,
};

static enum reject
check(const struct placement_node *nd, const struct placement_request *r)
{
	if (!nd->online)
		return REJ_OFFLINE;
	if (nd->maintenance)
		return REJ_MAINTENANCE;
	if (nd->reserve && !r->use_reserve)
		return REJ_RESERVE;
	if (nd->vdc_id != r->vdc_id)
		return REJ_VDC;
	if (r->exclude_id != 0 && nd->id == r->exclude_id)
		return REJ_EXCLUDED;
	if (r->only_id != 0 && nd->id != r->only_id)
		return REJ_DISK_NODE;
	if (r->anti_affinity && nd->group_members > 0)
		return REJ_AFFINITY;
	if (nd->free_cores < r->cores)
		return REJ_CORES;
	if (nd->free_ram_mb < r->ram_mb)
		return REJ_RAM;
	if (nd->free_disk_gb < r->disk_gb)
		return REJ_DISK;
	return REJ_NONE;
}

static bool
better(const struct placement_node *a, const struct placement_node *b,
       const struct placement_request *r)
{
	/* Failover goes to the nodes kept free for it first (controller/failover.c). */
	if (r->use_reserve && a->reserve != b->reserve)
		return a->reserve;
	if (a->free_cores != b->free_cores)
		return a->free_cores > b->free_cores;
	if (a->free_ram_mb != b->free_ram_mb)
		return a->free_ram_mb > b->free_ram_mb;
	return a->id < b->id;
}

static void
explain(const struct placement_node *nodes, size_t n, const struct placement_request *r,
	enum reject worst, char *why, size_t whylen)
{
	const struct placement_node *most = NULL;

	for (size_t i = 0; i < n; i++) {
		const struct placement_node *nd = &nodes[i];
		enum reject k = check(nd, r);
		if (k < REJ_CORES)
			continue;
		if (most == NULL || (worst == REJ_CORES && nd->free_cores > most->free_cores) ||
		    (worst == REJ_RAM && nd->free_ram_mb > most->free_ram_mb) ||
		    (worst == REJ_DISK && nd->free_disk_gb > most->free_disk_gb))
			most = nd;
	}
	switch (worst) {
	case REJ_CORES:
		snprintf(why, whylen,
			 "no usable node has %d free dedicated core%s; the most free are %d on %s",
			 r->cores, r->cores == 1 ? "" : "s", most ? most->free_cores : 0,
			 most ? most->name : "-");
		return;
	case REJ_RAM:
		snprintf(why, whylen,
			 "no usable node has %lld MB of free RAM; the most free is %lld MB on %s",
			 (long long)r->ram_mb, most ? (long long)most->free_ram_mb : 0LL,
			 most ? most->name : "-");
		return;
	case REJ_DISK:
		snprintf(why, whylen,
			 "no usable node has %lld GB of free disk; the most free is %lld GB on %s",
			 (long long)r->disk_gb, most ? (long long)most->free_disk_gb : 0LL,
			 most ? most->name : "-");
		return;
	case REJ_AFFINITY:
		snprintf(why, whylen,
			 "every node that fits already runs a vServer of the same anti-affinity "
			 "group");
		return;
	case REJ_EXCLUDED:
		snprintf(why, whylen, "no other node is available");
		return;
	case REJ_DISK_NODE:
		snprintf(why, whylen,
			 "its disk is on local storage of a node that is not usable now");
		return;
	case REJ_VDC:
		snprintf(why, whylen,
			 r->vdc_id ? "the vDataCenter has no usable node"
				   : "no shared node is usable (all are dedicated)");
		return;
	case REJ_RESERVE:
		snprintf(why, whylen, "only reserve nodes are left (kept free for failover)");
		return;
	case REJ_MAINTENANCE:
		snprintf(why, whylen, "every node is in maintenance");
		return;
	case REJ_OFFLINE:
	case REJ_NONE:
		snprintf(why, whylen, n ? "no node is online" : "no node has joined yet");
		return;
	}
}

int
placement_pick(const struct placement_node *nodes, size_t n, const struct placement_request *r,
	       char *why, size_t whylen)
{
	int best = -1;
	enum reject worst = REJ_NONE;

	for (size_t i = 0; i < n; i++) {
		enum reject k = check(&nodes[i], r);
		if (k != REJ_NONE) {
			/* Remember how far the best candidate got: that is what is missing. */
			if (k > worst)
				worst = k;
			continue;
		}
		if (best < 0 || better(&nodes[i], &nodes[best], r))
			best = (int)i;
	}
	if (best < 0)
		explain(nodes, n, r, worst, why, whylen);
	return best;
}
