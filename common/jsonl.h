/*
 * JSON-lines framing for the agent link, shared by the controller and the node agent: one JSON
 * object per '\n'-terminated line, UTF-8, at most JSONL_MAX_LINE bytes before the newline. The
 * reader never buffers more than that: a peer that sends a longer line is broken or hostile, and
 * the caller closes the link on JSONL_TOO_LONG instead of waiting for the end of it.
 */
#ifndef WEBRACK_JSONL_H
#define WEBRACK_JSONL_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/buffer.h>
#include <jansson.h>

#define JSONL_MAX_LINE 65536

enum jsonl_status {
	JSONL_OK,	/* *out holds one JSON object (new reference) */
	JSONL_AGAIN,	/* no complete line yet; wait for more input */
	JSONL_BAD,	/* a complete line that is not a JSON object; it was consumed */
	JSONL_TOO_LONG, /* a line over JSONL_MAX_LINE: close the link */
};

/*
 * Take the next line from in and parse it. Duplicate keys, invalid UTF-8, NUL bytes, trailing
 * garbage and non-object values are JSONL_BAD with the reason in why; the bad line is consumed so
 * the caller can answer and go on reading.
 */
enum jsonl_status jsonl_read(struct evbuffer *in, json_t **out, char *why, size_t whylen)
	__attribute__((warn_unused_result));

/*
 * Append msg as compact JSON and '\n' to out. False (nothing appended) if it cannot be encoded
 * or would exceed JSONL_MAX_LINE, so that we never send what the peer must refuse.
 */
bool jsonl_write(struct evbuffer *out, const json_t *msg) __attribute__((warn_unused_result));

#endif
