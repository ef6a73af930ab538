/*
 * WebSocket data frames from the server (see wsframe.h).
 */
#include "config.h"

#include <string.h>

#include <event2/buffer.h>

#include "wsframe.h"

size_t
wsframe_header(uint8_t out[WSFRAME_HEADER_MAX], uint8_t opcode, uint64_t len)
{
	out[0] = (uint8_t)(0x80 | (opcode & 0x0f)); /* FIN, no extensions */
	if (len < 126) {
		out[1] = (uint8_t)len;
		return 2;
	}
	if (len <= 0xffff) {
		out[1] = 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		return 4;
	}
	out[1] = 127;
	for (int i = 0; i < 8; i++)
		out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
	return 10;
}

int
wsframe_add_binary(struct evbuffer *out, struct evbuffer *in, size_t len)
{
	uint8_t h[WSFRAME_HEADER_MAX];
	size_t hl = wsframe_header(h, WSFRAME_BINARY, len);
	struct evbuffer_iovec v;

	if (len > evbuffer_get_length(in))
		return -1;
	/*
	 * Header and payload contiguous in one place of out: the TLS layer writes each piece of
	 * the output as records of its own, so a separate header would cost a tiny record.
	 */
	if (evbuffer_reserve_space(out, (ev_ssize_t)(hl + len), &v, 1) != 1)
		return -1;
	memcpy(v.iov_base, h, hl);
	if (len > 0 && evbuffer_copyout(in, (char *)v.iov_base + hl, len) != (ev_ssize_t)len)
		return -1; /* reserved space is simply not committed */
	v.iov_len = hl + len;
	if (evbuffer_commit_space(out, &v, 1) != 0)
		return -1;
	evbuffer_drain(in, len);
	return 0;
}
