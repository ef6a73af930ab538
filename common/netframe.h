/*
 * A pure parser of the Ethernet frames from which the node agent learns guest addresses: ARP
 * (requests, replies, gratuitous announcements and RFC 5227 probes) and IPv6 neighbour discovery
 * (neighbour solicitations including DAD, neighbour advertisements). No pcap, no sockets: bytes
 * in, at most one claimed address out, so it can be unit-tested and fuzzed on its own. Every
 * length is checked before a byte is read; a frame that does not parse says why.
 */
#ifndef WEBRACK_NETFRAME_H
#define WEBRACK_NETFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What kind of frame made the claim. */
enum netframe_kind {
	NETFRAME_ARP_REQUEST, /* sender protocol address of an ARP request */
	NETFRAME_ARP_REPLY,   /* sender protocol address of an ARP reply */
	NETFRAME_ARP_PROBE,   /* RFC 5227 probe: sender 0.0.0.0, target = the tentative address */
	NETFRAME_NDP_NS,      /* IPv6 source of a neighbour solicitation */
	NETFRAME_NDP_NS_DAD,  /* DAD: source ::, target = the tentative address */
	NETFRAME_NDP_NA,      /* target of a neighbour advertisement */
};

enum netframe_scope {
	NETFRAME_SCOPE_GLOBAL, /* anything routable, including private ranges and ULAs */
	NETFRAME_SCOPE_LINK,   /* 169.254.0.0/16, fe80::/10 */
};

/* The address a frame claims for its sender. */
struct netframe_claim {
	int family;	  /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* 4 bytes used for AF_INET */
	enum netframe_kind kind;
	enum netframe_scope scope;
	bool tentative;	 /* a probe or DAD: claimed, not yet in use */
	bool gratuitous; /* ARP with sender == target address */
	unsigned vlan;	 /* outermost 802.1Q VLAN id; 0 when untagged */
	uint8_t src_mac[6];
};

/* The shortest frame that can hold a claim: Ethernet + ARP. */
#define NETFRAME_MIN_LEN 42

/*
 * Parse one frame. 1: *out holds an address the sender claims; 0: a well-formed frame with
 * nothing to learn (another protocol, an ARP for another hardware type, a router solicitation,
 * a DAD probe of an unspecified or multicast address ...) with *why saying what; -1: a malformed
 * frame (truncated, wrong lengths, bad checksum) with *why saying what is wrong.
 */
int netframe_parse(const uint8_t *frame, size_t len, struct netframe_claim *out, const char **why)
	__attribute__((warn_unused_result));

/* "ipv4" / "ipv6". */
const char *netframe_family_name(int family);
const char *netframe_kind_name(enum netframe_kind kind);

/* The claim's address as text (inet_ntop) into buf of at least 46 bytes. */
const char *netframe_addr_text(const struct netframe_claim *c, char *buf, size_t len);

#endif
