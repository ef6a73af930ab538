/*
 * JSON-lines reader and writer on libevent evbuffers. The length cap is checked before any byte is
 * copied or parsed, so a peer cannot make us buffer or parse more than one capped line at a time.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonl.h"

enum jsonl_status
jsonl_read(struct evbuffer *in, json_t **out, char *why, size_t whylen)
{
	size_t eol_len = 0;
	struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);

	*out = NULL;
	if (eol.pos < 0) {
		/* No newline yet: more than the cap buffered can never become a valid line. */
		if (evbuffer_get_length(in) > JSONL_MAX_LINE) {
			snprintf(why, whylen, "line longer than %d bytes", JSONL_MAX_LINE);
			return JSONL_TOO_LONG;
		}
		return JSONL_AGAIN;
	}
	size_t len = (size_t)eol.pos;
	if (len > JSONL_MAX_LINE) {
		snprintf(why, whylen, "line longer than %d bytes", JSONL_MAX_LINE);
		return JSONL_TOO_LONG;
	}

	const char *line = (const char *)evbuffer_pullup(in, (ev_ssize_t)(len + eol_len));
	enum jsonl_status st = JSONL_BAD;
	json_error_t err;
	json_t *v = NULL;

	if (line == NULL) {
		snprintf(why, whylen, "out of memory");
	} else if (len == 0) {
		snprintf(why, whylen, "empty line");
	} else if ((v = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err)) ==
		   NULL) {
		snprintf(why, whylen, "invalid JSON at byte %d: %s", err.position, err.text);
	} else if (!json_is_object(v)) {
		snprintf(why, whylen, "a message must be a JSON object");
		json_decref(v);
	} else {
		*out = v;
		st = JSONL_OK;
	}
	evbuffer_drain(in, len + eol_len);
	return st;
}

bool
jsonl_write(struct evbuffer *out, const json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	bool ok = false;

	if (text == NULL)
		return false;
	size_t len = strlen(text);
	/* JSON_COMPACT escapes control characters, so text holds no newline of its own. */
	if (len <= JSONL_MAX_LINE && evbuffer_expand(out, len + 1) == 0 &&
	    evbuffer_add(out, text, len) == 0 && evbuffer_add(out, "\n", 1) == 0)
		ok = true;
	free(text);
	return ok;
}
