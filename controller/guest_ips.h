/*
 * Guest addresses on the controller: the "ips" batches node agents send (validated here, stored
 * by one call of wr_guest_ips_store() per batch) and the address checks the vserver-ips
 * operations share.
 */
#ifndef WEBRACK_GUEST_IPS_H
#define WEBRACK_GUEST_IPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct server;

/* Addresses (and spoof records) kept per vServer: the most recently seen ones win. */
#define GUEST_IPS_PER_VSERVER 256
/* Allocated addresses per vServer. */
#define GUEST_IPS_ALLOC_MAX 64

/*
 * Canonical text of an address of family ("ipv4"/"ipv6", or NULL: either) into buf (>= 46
 * bytes); false when text is not a single host address of that family.
 */
bool guest_ips_canonical(const char *text, const char *family, char *buf, size_t len)
	__attribute__((warn_unused_result));

/*
 * Store an "ips" message (already proto-checked) from node node_id, named node in logs.
 * Returns false with why when an item is not a valid address of its family (the whole batch is
 * refused: the agent only sends what inet_ntop wrote).
 */
bool guest_ips_store(struct server *srv, int64_t node_id, const char *node, const json_t *msg,
		     char *why, size_t whylen) __attribute__((warn_unused_result));

#endif
