/* fuzz-sources: common/netframe.c */
/* fuzz-pkgs: */
/*
 * libFuzzer target for the ARP/NDP frame parser (common/netframe.c): any byte string is a frame a
 * guest could send through its tap. The parser must never read out of bounds, and whatever it
 * claims must be a well-formed address of the family it names.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "netframe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct netframe_claim c;
	const char *why = NULL;
	char text[64];

	int rc = netframe_parse(data, size, &c, &why);
	if (why == NULL || rc < -1 || rc > 1)
		abort();
	if (rc == 1) {
		if (c.family != AF_INET && c.family != AF_INET6)
			abort();
		if (netframe_addr_text(&c, text, sizeof(text))[0] == '?')
			abort();
		(void)netframe_kind_name(c.kind);
	}
	return 0;
}
