/*
 * The server side's WebSocket data frames (RFC 6455 section 5.2), written straight into an
 * evbuffer: a server's frames are never masked, so a frame is its header followed by the payload
 * as it is. The console proxy sends framebuffer data this way (one copy from its input into the
 * output, large contiguous frames, so TLS writes full records); libwslay keeps the reading side,
 * the control frames and the handshake messages.
 */
#ifndef WEBRACK_WSFRAME_H
#define WEBRACK_WSFRAME_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;

#define WSFRAME_HEADER_MAX 10
#define WSFRAME_BINARY	   0x2

/* Encode the header of a final, unmasked frame; returns its length (2, 4 or 10). */
size_t wsframe_header(uint8_t out[WSFRAME_HEADER_MAX], uint8_t opcode, uint64_t len);

/*
 * Append to out one binary frame carrying the first len bytes of in (len <= its length), which
 * are drained from in. 0 on success, -1 when out of memory (nothing appended, nothing drained).
 */
int wsframe_add_binary(struct evbuffer *out, struct evbuffer *in, size_t len)
	__attribute__((warn_unused_result));

#endif
