/* fuzz-sources: common/rfb.c */
/* fuzz-pkgs: */
/*
 * libFuzzer target for the strict RFB handshake parser (common/rfb.c): the first byte picks the
 * message, the rest is fed to it whole and at every split point (a parser must never read past
 * len, and an incomplete message must consume nothing).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rfb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
parse(uint8_t which, const uint8_t *p, size_t n, size_t *used)
{
	static const uint8_t allowed[] = {0, 1, 19};
	static const uint32_t subtypes[] = {RFB_VENCRYPT_X509PLAIN, RFB_VENCRYPT_TLSPLAIN};
	char why[RFB_REASON_MAX + 64], user[RFB_CRED_MAX + 1], pass[RFB_CRED_MAX + 1];
	uint8_t types[32], c8;
	size_t ntypes;
	uint32_t c32;
	struct rfb_server_init si;

	switch (which % 7) {
	case 0:
		return rfb_parse_version(p, n, used, why, sizeof(why));
	case 1:
		return rfb_parse_security_types(p, n, types, &ntypes, used, why, sizeof(why));
	case 2:
		return rfb_parse_security_result(p, n, used, why, sizeof(why));
	case 3:
		return rfb_parse_server_init(p, n, &si, used, why, sizeof(why));
	case 4:
		return rfb_parse_u8_choice(p, n, allowed, sizeof(allowed), &c8, used, why,
					   sizeof(why));
	case 5:
		return rfb_parse_vencrypt_choice(p, n, subtypes, 2, &c32, used, why, sizeof(why));
	default:
		return rfb_parse_plain_auth(p, n, user, sizeof(user), pass, sizeof(pass), used, why,
					    sizeof(why));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	/* A private copy of exactly the input, so ASan sees any read past its end. */
	size_t n = size - 1;
	uint8_t *p = malloc(n ? n : 1);
	size_t used = 0;

	if (p == NULL)
		return 0;
	memcpy(p, data + 1, n);
	int whole = parse(data[0], p, n, &used);
	if (whole == RFB_DONE && (used == 0 || used > n))
		abort();
	for (size_t i = 0; i < n; i++) {
		size_t u = 0;
		int st = parse(data[0], p, i, &u);
		/* a prefix of a complete message cannot be complete unless the message was shorter
		 */
		if (st == RFB_DONE && (u > i || (whole == RFB_DONE && u != used)))
			abort();
		if (st == RFB_DONE)
			break;
	}
	free(p);
	return 0;
}
