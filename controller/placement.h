/*
 * Placement: which node a vServer goes to. A pure decision over a snapshot of the nodes, so it is
 * unit-tested and benchmarked without a database; committing the decision (taking the cores) is
 * one SQL statement whose unique constraint catches a race, after which the caller decides again.
 */
#ifndef WEBRACK_PLACEMENT_H
#define WEBRACK_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct placement_node {
	int64_t id;
	const char *name;
	bool online;
	bool maintenance;
	bool reserve;
	int64_t vdc_id; /* 0 = shared by all customers */
	int free_cores;
	int64_t free_ram_mb;
	int64_t free_disk_gb;
	int group_members; /* vServers of the request's anti-affinity group already there */
};

struct placement_request {
	int cores;
	int64_t ram_mb;
	int64_t disk_gb;
	int64_t vdc_id;	    /* the vServer's vDataCenter, 0 = none */
	bool use_reserve;   /* failover may use reserve nodes */
	bool anti_affinity; /* refuse nodes with group_members > 0 */
	int64_t exclude_id; /* a node not to use (the source of a migration), 0 = none */
	int64_t only_id;    /* the only node allowed (its disk is there, not shared), 0 = any */
};

/*
 * The index of the chosen node, or -1 with why saying what is missing (e.g. "no online node
 * has 4 free dedicated cores; the most free are 2 on node-b").
 */
int placement_pick(const struct placement_node *nodes, size_t n, const struct placement_request *r,
		   char *why, size_t whylen) __attribute__((warn_unused_result));

#endif
