/*
 * ARP and IPv6 neighbour discovery frames, parsed by hand with a bounds check before every read
 * (see netframe.h). The rules are those a neighbour applies before believing a frame (RFC 826,
 * RFC 5227, RFC 4861 section 7.1): a frame a real neighbour would discard teaches us nothing
 * either, so it is reported as malformed instead of being learned.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "netframe.h"

#define ETH_HDR	       14
#define ETHERTYPE_ARP  0x0806
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8
#define MAX_VLAN_TAGS  2
#define ARP_LEN	       28
#define IPV6_HDR       40
#define ICMPV6	       58
#define ND_NS	       135
#define ND_NA	       136
#define ND_MIN_LEN     24 /* type, code, checksum, flags/reserved, target */

static uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static bool
v4_usable(const uint8_t *a)
{
	if (a[0] == 0 || a[0] == 127 || a[0] >= 224) /* this network, loopback, multicast, E */
		return false;
	return true;
}

static bool
v6_is_unspecified(const uint8_t *a)
{
	static const uint8_t zero[16];
	return memcmp(a, zero, 16) == 0;
}

static bool
v6_usable(const uint8_t *a)
{
	static const uint8_t loopback[16] = {[15] = 1};
	static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};

	if (a[0] == 0xff || v6_is_unspecified(a) || memcmp(a, loopback, 16) == 0 ||
	    memcmp(a, mapped, 12) == 0)
		return false;
	return true;
}

static int
parse_arp(const uint8_t *p, size_t len, struct netframe_claim *out, const char **why)
{
	if (len < ARP_LEN) {
		*why = "truncated ARP packet";
		return -1;
	}
	if (be16(p) != 1 || be16(p + 2) != 0x0800) {
		*why = "ARP for another hardware or protocol type";
		return 0;
	}
	if (p[4] != 6 || p[5] != 4) {
		*why = "ARP with wrong address lengths";
		return -1;
	}
	uint16_t op = be16(p + 6);
	if (op != 1 && op != 2) {
		*why = "ARP operation other than request or reply";
		return 0;
	}
	const uint8_t *spa = p + 14, *tpa = p + 24;
	static const uint8_t zero[4];

	out->family = AF_INET;
	if (memcmp(spa, zero, 4) == 0) {
		/* RFC 5227 probe: the target is the address the sender wants. */
		if (op != 1) {
			*why = "ARP reply from 0.0.0.0";
			return -1;
		}
		if (!v4_usable(tpa)) {
			*why = "ARP probe for an address no host can have";
			return 0;
		}
		memcpy(out->addr, tpa, 4);
		out->kind = NETFRAME_ARP_PROBE;
		out->tentative = true;
	} else {
		if (!v4_usable(spa)) {
			*why = "ARP from an address no host can have";
			return 0;
		}
		memcpy(out->addr, spa, 4);
		out->kind = op == 1 ? NETFRAME_ARP_REQUEST : NETFRAME_ARP_REPLY;
		out->gratuitous = memcmp(spa, tpa, 4) == 0;
	}
	out->scope = (out->addr[0] == 169 && out->addr[1] == 254) ? NETFRAME_SCOPE_LINK
								  : NETFRAME_SCOPE_GLOBAL;
	return 1;
}

/* The ICMPv6 checksum over the pseudo header (RFC 8200 section 8.1) and the message. */
static bool
icmp6_checksum_ok(const uint8_t *ip6, const uint8_t *icmp, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 8; i < IPV6_HDR; i += 2) /* source and destination */
		sum += be16(ip6 + i);
	sum += (uint32_t)(len >> 16) + (uint32_t)(len & 0xffff);
	sum += ICMPV6;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += be16(icmp + i);
	if (len & 1)
		sum += (uint32_t)icmp[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

static int
parse_ndp(const uint8_t *p, size_t len, struct netframe_claim *out, const char **why)
{
	if (len < IPV6_HDR) {
		*why = "truncated IPv6 header";
		return -1;
	}
	if ((p[0] >> 4) != 6) {
		*why = "IPv6 ethertype with another IP version";
		return -1;
	}
	size_t plen = be16(p + 4);
	if (plen > len - IPV6_HDR) {
		*why = "IPv6 payload length beyond the frame";
		return -1;
	}
	if (p[6] != ICMPV6) {
		*why = "IPv6 packet that is not ICMPv6 without extension headers";
		return 0;
	}
	const uint8_t *icmp = p + IPV6_HDR, *src = p + 8, *dst = p + 24;
	if (plen < 1 || (icmp[0] != ND_NS && icmp[0] != ND_NA)) {
		*why = "ICMPv6 other than neighbour solicitation or advertisement";
		return plen < 1 ? -1 : 0;
	}
	if (plen < ND_MIN_LEN) {
		*why = "truncated neighbour discovery message";
		return -1;
	}
	if (p[7] != 255 || icmp[1] != 0) {
		*why = "neighbour discovery with hop limit other than 255 or a non-zero code";
		return -1;
	}
	if (!icmp6_checksum_ok(p, icmp, plen)) {
		*why = "bad ICMPv6 checksum";
		return -1;
	}
	for (size_t off = ND_MIN_LEN; off < plen;) {
		if (plen - off < 2 || icmp[off + 1] == 0 || icmp[off + 1] * 8u > plen - off) {
			*why = "malformed neighbour discovery option";
			return -1;
		}
		off += icmp[off + 1] * 8u;
	}
	const uint8_t *target = icmp + 8;
	if (target[0] == 0xff) {
		*why = "neighbour discovery for a multicast target";
		return -1;
	}
	out->family = AF_INET6;
	if (icmp[0] == ND_NA) {
		memcpy(out->addr, target, 16);
		out->kind = NETFRAME_NDP_NA;
	} else if (v6_is_unspecified(src)) {
		if (dst[0] != 0xff) {
			*why = "DAD solicitation not sent to a multicast address";
			return -1;
		}
		memcpy(out->addr, target, 16);
		out->kind = NETFRAME_NDP_NS_DAD;
		out->tentative = true;
	} else {
		memcpy(out->addr, src, 16);
		out->kind = NETFRAME_NDP_NS;
	}
	if (!v6_usable(out->addr)) {
		*why = "neighbour discovery for an address no host can have";
		return 0;
	}
	out->scope = (out->addr[0] == 0xfe && (out->addr[1] & 0xc0) == 0x80)
			     ? NETFRAME_SCOPE_LINK
			     : NETFRAME_SCOPE_GLOBAL;
	return 1;
}

int
netframe_parse(const uint8_t *frame, size_t len, struct netframe_claim *out, const char **why)
{
	size_t off = 12;
	uint16_t type;
	int tags = 0;

	memset(out, 0, sizeof(*out));
	*why = "";
	if (frame == NULL || len < ETH_HDR) {
		*why = "truncated Ethernet header";
		return -1;
	}
	memcpy(out->src_mac, frame + 6, 6);
	for (;;) {
		if (len - off < 2) {
			*why = "truncated VLAN tag";
			return -1;
		}
		type = be16(frame + off);
		off += 2;
		if (type != ETHERTYPE_VLAN && type != ETHERTYPE_QINQ)
			break;
		if (++tags > MAX_VLAN_TAGS) {
			*why = "more than two VLAN tags";
			return -1;
		}
		if (len - off < 2) {
			*why = "truncated VLAN tag";
			return -1;
		}
		if (tags == 1)
			out->vlan = be16(frame + off) & 0x0fff;
		off += 2;
	}
	if (type == ETHERTYPE_ARP)
		return parse_arp(frame + off, len - off, out, why);
	if (type == ETHERTYPE_IPV6)
		return parse_ndp(frame + off, len - off, out, why);
	*why = "neither ARP nor IPv6";
	return 0;
}

const char *
netframe_family_name(int family)
{
	return family == AF_INET6 ? "ipv6" : "ipv4";
}

const char *
netframe_kind_name(enum netframe_kind kind)
{
	switch (kind) {
	case NETFRAME_ARP_REQUEST:
		return "arp request";
	case NETFRAME_ARP_REPLY:
		return "arp reply";
	case NETFRAME_ARP_PROBE:
		return "arp probe";
	case NETFRAME_NDP_NS:
		return "neighbour solicitation";
	case NETFRAME_NDP_NS_DAD:
		return "dad solicitation";
	case NETFRAME_NDP_NA:
		return "neighbour advertisement";
	}
	return "?";
}

const char *
netframe_addr_text(const struct netframe_claim *c, char *buf, size_t len)
{
	if (inet_ntop(c->family, c->addr, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
	return buf;
}
