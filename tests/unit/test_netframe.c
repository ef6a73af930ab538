/*
 * Unit tests for common/netframe.c: ARP requests, replies, gratuitous announcements and probes,
 * IPv6 neighbour solicitations (also DAD) and advertisements are learned with the right address,
 * kind and scope; VLAN tags are walked; and every way a frame can be cut short or lie about its
 * lengths is refused as malformed (-1) at every truncation point, never read past its end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "netframe.h"

struct frame {
	uint8_t b[256];
	size_t len;
};

static void
put(struct frame *f, const void *p, size_t n)
{
	memcpy(f->b + f->len, p, n);
	f->len += n;
}

static void
put16(struct frame *f, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	put(f, b, 2);
}

static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x77, 0x00, 0x01};
static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static void
eth(struct frame *f, uint16_t type)
{
	f->len = 0;
	put(f, bcast, 6);
	put(f, mac, 6);
	put16(f, type);
}

static struct frame
arp(uint16_t op, const char *spa, const char *tpa)
{
	struct frame f;
	uint8_t a[4];

	eth(&f, 0x0806);
	put16(&f, 1);
	put16(&f, 0x0800);
	f.b[f.len++] = 6;
	f.b[f.len++] = 4;
	put16(&f, op);
	put(&f, mac, 6);
	assert_int_equal(inet_pton(AF_INET, spa, a), 1);
	put(&f, a, 4);
	put(&f, bcast, 6);
	assert_int_equal(inet_pton(AF_INET, tpa, a), 1);
	put(&f, a, 4);
	return f;
}

/* An NS or NA with an optional link-layer address option and a correct checksum. */
static struct frame
ndp(uint8_t type, const char *src, const char *dst, const char *target, bool option)
{
	struct frame f;
	uint8_t s[16], d[16], t[16];
	size_t plen = 24 + (option ? 8 : 0);

	assert_int_equal(inet_pton(AF_INET6, src, s), 1);
	assert_int_equal(inet_pton(AF_INET6, dst, d), 1);
	assert_int_equal(inet_pton(AF_INET6, target, t), 1);
	eth(&f, 0x86dd);
	size_t ip = f.len;
	put16(&f, 0x6000);
	put16(&f, 0);
	put16(&f, (uint16_t)plen);
	f.b[f.len++] = 58;
	f.b[f.len++] = 255;
	put(&f, s, 16);
	put(&f, d, 16);
	size_t icmp = f.len;
	f.b[f.len++] = type;
	f.b[f.len++] = 0;
	put16(&f, 0);
	put16(&f, type == 136 ? 0x6000 : 0);
	put16(&f, 0);
	put(&f, t, 16);
	if (option) {
		f.b[f.len++] = type == 135 ? 1 : 2;
		f.b[f.len++] = 1;
		put(&f, mac, 6);
	}
	uint32_t sum = 0;
	for (size_t i = ip + 8; i < icmp; i += 2)
		sum += (uint32_t)(f.b[i] << 8 | f.b[i + 1]);
	sum += (uint32_t)plen + 58;
	for (size_t i = icmp; i < icmp + plen; i += 2)
		sum += (uint32_t)(f.b[i] << 8 | f.b[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	f.b[icmp + 2] = (uint8_t)(~sum >> 8);
	f.b[icmp + 3] = (uint8_t)~sum;
	return f;
}

static void
expect_claim(const struct frame *f, const char *addr, enum netframe_kind kind, bool tentative,
	     enum netframe_scope scope)
{
	struct netframe_claim c;
	const char *why;
	char text[64];

	int rc = netframe_parse(f->b, f->len, &c, &why);
	if (rc != 1)
		fail_msg("want a claim of %s, got %d (%s)", addr, rc, why);
	assert_string_equal(netframe_addr_text(&c, text, sizeof(text)), addr);
	assert_int_equal(c.kind, kind);
	assert_int_equal(c.tentative, tentative);
	assert_int_equal(c.scope, scope);
	assert_memory_equal(c.src_mac, mac, 6);
}

static void
expect_rc(const uint8_t *b, size_t len, int want, const char *fragment)
{
	struct netframe_claim c;
	const char *why = NULL;
	/* A heap copy of exactly len bytes, so ASan catches any read past the end. */
	uint8_t *copy = malloc(len ? len : 1);

	assert_non_null(copy);
	if (len)
		memcpy(copy, b, len);
	int rc = netframe_parse(copy, len, &c, &why);
	free(copy);
	assert_non_null(why);
	if (rc != want)
		fail_msg("len %zu: got %d (%s), want %d", len, rc, why, want);
	if (fragment != NULL && strstr(why, fragment) == NULL)
		fail_msg("'%s' lacks '%s'", why, fragment);
}

static void
test_arp(void **state)
{
	(void)state;
	struct frame f = arp(1, "10.9.0.5", "10.9.0.1");
	expect_claim(&f, "10.9.0.5", NETFRAME_ARP_REQUEST, false, NETFRAME_SCOPE_GLOBAL);
	f = arp(2, "10.9.0.5", "10.9.0.1");
	expect_claim(&f, "10.9.0.5", NETFRAME_ARP_REPLY, false, NETFRAME_SCOPE_GLOBAL);

	struct netframe_claim c;
	const char *why;
	f = arp(1, "10.9.0.7", "10.9.0.7");
	assert_int_equal(netframe_parse(f.b, f.len, &c, &why), 1);
	assert_true(c.gratuitous);
	assert_int_equal(c.family, AF_INET);
	assert_string_equal(netframe_family_name(c.family), "ipv4");

	f = arp(1, "0.0.0.0", "10.9.0.8"); /* RFC 5227 probe */
	expect_claim(&f, "10.9.0.8", NETFRAME_ARP_PROBE, true, NETFRAME_SCOPE_GLOBAL);
	f = arp(1, "169.254.3.4", "169.254.3.4");
	expect_claim(&f, "169.254.3.4", NETFRAME_ARP_REQUEST, false, NETFRAME_SCOPE_LINK);

	/* Padded to the Ethernet minimum: the padding is ignored. */
	f = arp(1, "10.9.0.5", "10.9.0.1");
	memset(f.b + f.len, 0, 60 - f.len);
	f.len = 60;
	expect_claim(&f, "10.9.0.5", NETFRAME_ARP_REQUEST, false, NETFRAME_SCOPE_GLOBAL);
}

static void
test_arp_nothing_to_learn(void **state)
{
	(void)state;
	struct frame f = arp(1, "127.0.0.1", "10.9.0.1");
	expect_rc(f.b, f.len, 0, "no host");
	f = arp(1, "224.0.0.1", "10.9.0.1");
	expect_rc(f.b, f.len, 0, "no host");
	f = arp(1, "0.0.0.0", "0.0.0.0");
	expect_rc(f.b, f.len, 0, "no host");
	f = arp(3, "10.9.0.5", "10.9.0.1"); /* RARP request */
	expect_rc(f.b, f.len, 0, "operation");
	f = arp(2, "0.0.0.0", "10.9.0.1");
	expect_rc(f.b, f.len, -1, "0.0.0.0");
	f = arp(1, "10.9.0.5", "10.9.0.1");
	f.b[15] = 6; /* htype 6 (IEEE 802) */
	expect_rc(f.b, f.len, 0, "hardware");
	f = arp(1, "10.9.0.5", "10.9.0.1");
	f.b[18] = 16; /* plen */
	expect_rc(f.b, f.len, -1, "lengths");
	f = arp(1, "10.9.0.5", "10.9.0.1");
	f.b[12] = 0x08;
	f.b[13] = 0x00; /* IPv4 */
	expect_rc(f.b, f.len, 0, "neither");
}

static void
test_truncated_everywhere(void **state)
{
	(void)state;
	struct frame frames[] = {
		arp(1, "10.9.0.5", "10.9.0.1"),
		ndp(135, "2001:db8::5", "ff02::1:ff00:1", "2001:db8::1", true),
		ndp(135, "::", "ff02::1:ff00:5", "2001:db8::5", false),
		ndp(136, "2001:db8::5", "ff02::1", "2001:db8::5", true),
	};
	for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++)
		for (size_t len = 0; len < frames[i].len; len++)
			expect_rc(frames[i].b, len, -1, NULL);
	expect_rc(NULL, 0, -1, "truncated");
}

static void
test_vlan(void **state)
{
	(void)state;
	struct frame a = arp(1, "10.9.0.5", "10.9.0.1"), f;
	struct netframe_claim c;
	const char *why;

	/* One 802.1Q tag (VLAN 42) between the MACs and the ARP ethertype. */
	f.len = 0;
	put(&f, a.b, 12);
	put16(&f, 0x8100);
	put16(&f, 0x2000 | 42);
	put(&f, a.b + 12, a.len - 12);
	assert_int_equal(netframe_parse(f.b, f.len, &c, &why), 1);
	assert_int_equal(c.vlan, 42);

	/* Three tags: refused. */
	f.len = 0;
	put(&f, a.b, 12);
	for (int i = 0; i < 3; i++) {
		put16(&f, 0x8100);
		put16(&f, 7);
	}
	put(&f, a.b + 12, a.len - 12);
	expect_rc(f.b, f.len, -1, "VLAN");
	for (size_t len = 12; len < 20; len++)
		expect_rc(f.b, len, -1, NULL);
}

static void
test_ndp(void **state)
{
	(void)state;
	struct frame f = ndp(135, "2001:db8::5", "ff02::1:ff00:1", "2001:db8::1", true);
	expect_claim(&f, "2001:db8::5", NETFRAME_NDP_NS, false, NETFRAME_SCOPE_GLOBAL);
	f = ndp(135, "::", "ff02::1:ff00:5", "2001:db8::5", false);
	expect_claim(&f, "2001:db8::5", NETFRAME_NDP_NS_DAD, true, NETFRAME_SCOPE_GLOBAL);
	f = ndp(136, "fe80::5054:ff:fe77:1", "ff02::1", "fe80::5054:ff:fe77:1", true);
	expect_claim(&f, "fe80::5054:ff:fe77:1", NETFRAME_NDP_NA, false, NETFRAME_SCOPE_LINK);
	f = ndp(136, "2001:db8::5", "2001:db8::1", "fd00::5", false);
	expect_claim(&f, "fd00::5", NETFRAME_NDP_NA, false, NETFRAME_SCOPE_GLOBAL);
}

static void
test_ndp_malformed(void **state)
{
	(void)state;
	struct frame f = ndp(135, "2001:db8::5", "ff02::1:ff00:1", "2001:db8::1", true);
	f.b[14 + 40 + 4] ^= 1; /* payload changed after the checksum */
	expect_rc(f.b, f.len, -1, "checksum");

	f = ndp(135, "2001:db8::5", "ff02::1:ff00:1", "2001:db8::1", true);
	f.b[14 + 7] = 64; /* hop limit: from off-link */
	expect_rc(f.b, f.len, -1, "hop limit");

	f = ndp(135, "2001:db8::5", "ff02::1:ff00:1", "2001:db8::1", true);
	f.b[14 + 5] = 200; /* payload length beyond the frame */
	expect_rc(f.b, f.len, -1, "payload length");

	f = ndp(135, "2001:db8::5", "ff02::1:ff00:1", "2001:db8::1", true);
	f.b[14] = 0x40; /* IPv4 version nibble */
	expect_rc(f.b, f.len, -1, "version");

	/* An option of length 0 (the RFC's infinite loop) and one running past the end. */
	f = ndp(135, "2001:db8::5", "ff02::1:ff00:1", "2001:db8::1", true);
	f.b[14 + 40 + 25] = 0;
	expect_rc(f.b, f.len, -1, NULL);
	f = ndp(135, "2001:db8::5", "ff02::1:ff00:1", "2001:db8::1", true);
	f.b[14 + 40 + 25] = 2;
	expect_rc(f.b, f.len, -1, NULL);

	f = ndp(136, "2001:db8::5", "ff02::1", "ff02::1", false);
	expect_rc(f.b, f.len, -1, "multicast target");
	f = ndp(135, "::", "2001:db8::1", "2001:db8::5", false);
	expect_rc(f.b, f.len, -1, "DAD");
	f = ndp(135, "::1", "ff02::1:ff00:1", "2001:db8::1", false);
	expect_rc(f.b, f.len, 0, "no host");
	f = ndp(133, "fe80::1", "ff02::2", "::", false); /* router solicitation */
	expect_rc(f.b, f.len, 0, "other than");
}

static void
test_random_garbage(void **state)
{
	(void)state;
	uint8_t buf[128];
	unsigned seed = 1;

	/* Random bytes behind valid ethertypes: never a crash, and any claim has a family. */
	for (int i = 0; i < 20000; i++) {
		size_t len = (size_t)(rand_r(&seed) % (int)sizeof(buf));
		for (size_t j = 0; j < len; j++)
			buf[j] = (uint8_t)rand_r(&seed);
		if (len >= 14) {
			buf[12] = (i & 1) ? 0x08 : 0x86;
			buf[13] = (i & 1) ? 0x06 : 0xdd;
		}
		struct netframe_claim c;
		const char *why;
		int rc = netframe_parse(buf, len, &c, &why);
		assert_true(rc >= -1 && rc <= 1);
		if (rc == 1)
			assert_true(c.family == AF_INET || c.family == AF_INET6);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arp),
		cmocka_unit_test(test_arp_nothing_to_learn),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_vlan),
		cmocka_unit_test(test_ndp),
		cmocka_unit_test(test_ndp_malformed),
		cmocka_unit_test(test_random_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
