/*
 * Unit tests for common/wsframe.c, the console's direct WebSocket frame writer: the header at
 * every length boundary (RFC 6455 section 5.2), and frames written into an evbuffer that a
 * libwslay client context (which refuses masked server frames) decodes back into the same
 * messages, with the input drained by exactly what was sent.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <wslay/wslay.h>

#include "wsframe.h"

static void
check_header(uint64_t len, const uint8_t *want, size_t want_len)
{
	uint8_t h[WSFRAME_HEADER_MAX];

	assert_int_equal(wsframe_header(h, WSFRAME_BINARY, len), want_len);
	assert_memory_equal(h, want, want_len);
}

static void
test_header(void **state)
{
	check_header(0, (const uint8_t[]){0x82, 0}, 2);
	check_header(125, (const uint8_t[]){0x82, 125}, 2);
	check_header(126, (const uint8_t[]){0x82, 126, 0, 126}, 4);
	check_header(65535, (const uint8_t[]){0x82, 126, 0xff, 0xff}, 4);
	check_header(65536, (const uint8_t[]){0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}, 10);
	check_header(0x123456789aULL,
		     (const uint8_t[]){0x82, 127, 0, 0, 0, 0x12, 0x34, 0x56, 0x78, 0x9a}, 10);
	uint8_t h[WSFRAME_HEADER_MAX];
	assert_int_equal(wsframe_header(h, 0x1, 5), 2);
	assert_int_equal(h[0], 0x81); /* FIN and the opcode, nothing else */
}

/* ---- decoding with libwslay as the client ---- */

struct sink {
	struct evbuffer *wire;
	uint8_t *got;
	size_t got_len, msgs;
	int last_opcode;
};

static ssize_t
recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
	struct sink *s = user;
	int n = evbuffer_remove(s->wire, buf, len);

	if (n <= 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	return n;
}

static ssize_t
send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *user)
{
	return (ssize_t)len;
}

static int
genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
	memset(buf, 0x5a, len);
	return 0;
}

static void
on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *m, void *user)
{
	struct sink *s = user;

	s->last_opcode = m->opcode;
	s->msgs++;
	if (m->msg_length == 0)
		return; /* wslay passes msg = NULL for an empty message */
	s->got = realloc(s->got, s->got_len + m->msg_length);
	assert_non_null(s->got);
	memcpy(s->got + s->got_len, m->msg, m->msg_length);
	s->got_len += m->msg_length;
}

static void
decode(struct sink *s)
{
	static const struct wslay_event_callbacks cbs = {recv_cb, send_cb, genmask_cb, NULL,
							 NULL,	  NULL,	   on_msg};
	wslay_event_context_ptr ctx;

	assert_int_equal(wslay_event_context_client_init(&ctx, &cbs, s), 0);
	wslay_event_config_set_max_recv_msg_length(ctx, 1 << 24);
	assert_int_equal(wslay_event_recv(ctx), 0);
	assert_int_equal(evbuffer_get_length(s->wire), 0);
	wslay_event_context_free(ctx);
}

static void
test_roundtrip(void **state)
{
	static const size_t sizes[] = {0, 1, 125, 126, 127, 65535, 65536, 65537, 300000};
	struct evbuffer *in = evbuffer_new();
	struct sink s = {.wire = evbuffer_new()};
	size_t total = 0;
	uint8_t *data;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		total += sizes[i];
	data = malloc(total);
	assert_non_null(data);
	for (size_t i = 0; i < total; i++)
		data[i] = (uint8_t)(i * 7 + i / 251);
	/* the input in many small pieces, as a TLS bufferevent leaves it */
	for (size_t off = 0; off < total; off += 1000)
		evbuffer_add(in, data + off, total - off < 1000 ? total - off : 1000);
	evbuffer_add(in, "tail", 4);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		assert_int_equal(wsframe_add_binary(s.wire, in, sizes[i]), 0);
	assert_int_equal(evbuffer_get_length(in), 4); /* drained by exactly what was framed */
	decode(&s);
	assert_int_equal(s.msgs, sizeof(sizes) / sizeof(sizes[0]));
	assert_int_equal(s.last_opcode, WSLAY_BINARY_FRAME);
	assert_int_equal(s.got_len, total);
	assert_memory_equal(s.got, data, total);
	free(s.got);
	free(data);
	evbuffer_free(s.wire);
	evbuffer_free(in);
}

static void
test_too_long(void **state)
{
	struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();

	evbuffer_add(in, "abc", 3);
	assert_int_equal(wsframe_add_binary(out, in, 4), -1);
	assert_int_equal(evbuffer_get_length(in), 3);  /* nothing drained */
	assert_int_equal(evbuffer_get_length(out), 0); /* nothing written */
	evbuffer_free(in);
	evbuffer_free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_too_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
