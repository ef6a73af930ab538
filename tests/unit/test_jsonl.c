/*
 * Unit tests for common/jsonl.c: lines split over several reads, several lines in one read, the
 * length cap (exactly at it, over it with and without a newline), and every kind of line that is
 * not one JSON object.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "jsonl.h"

static enum jsonl_status
read_one(struct evbuffer *in, json_t **out, char *why)
{
	return jsonl_read(in, out, why, 256);
}

static void
test_partial_line(void **state)
{
	struct evbuffer *in = evbuffer_new();
	json_t *msg;
	char why[256];

	(void)state;
	evbuffer_add_printf(in, "{\"type\":");
	assert_int_equal(read_one(in, &msg, why), JSONL_AGAIN);
	assert_null(msg);
	assert_int_equal(evbuffer_get_length(in), 8); /* nothing consumed */
	evbuffer_add_printf(in, "\"heartbeat\",\"seq\":1}");
	assert_int_equal(read_one(in, &msg, why), JSONL_AGAIN);
	evbuffer_add_printf(in, "\n");
	assert_int_equal(read_one(in, &msg, why), JSONL_OK);
	assert_string_equal(json_string_value(json_object_get(msg, "type")), "heartbeat");
	assert_int_equal(evbuffer_get_length(in), 0);
	json_decref(msg);
	evbuffer_free(in);
}

static void
test_several_lines(void **state)
{
	struct evbuffer *in = evbuffer_new();
	json_t *msg;
	char why[256];

	(void)state;
	evbuffer_add_printf(in, "{\"a\":1}\n{\"a\":2}\r\n{\"a\":3}\n{\"a\":");
	for (int i = 1; i <= 3; i++) {
		assert_int_equal(read_one(in, &msg, why), JSONL_OK);
		assert_int_equal(json_integer_value(json_object_get(msg, "a")), i);
		json_decref(msg);
	}
	assert_int_equal(read_one(in, &msg, why), JSONL_AGAIN);
	evbuffer_free(in);
}

static void
test_bad_lines_are_consumed(void **state)
{
	static const struct {
		const char *line;
		const char *fragment;
	} cases[] = {
		{"[1,2]", "JSON object"},
		{"\"text\"", "JSON object"},
		{"42", "JSON object"},
		{"null", "JSON object"},
		{"not json", "invalid JSON"},
		{"{\"a\":1} trailing", "invalid JSON"},
		{"{\"a\":1,\"a\":2}", "invalid JSON"},	  /* duplicate key */
		{"{\"a\":\"\xff\xfe\"}", "invalid JSON"}, /* invalid UTF-8 */
		{"{\"a\":\"\xc0\xaf\"}", "invalid JSON"}, /* overlong encoding */
		{"{\"a\":\"\\u0000\"}", "invalid JSON"},  /* NUL escape */
		{"", "empty line"},
	};
	struct evbuffer *in = evbuffer_new();
	json_t *msg;
	char why[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		evbuffer_add_printf(in, "%s\n{\"ok\":true}\n", cases[i].line);
		why[0] = '\0';
		assert_int_equal(read_one(in, &msg, why), JSONL_BAD);
		assert_null(msg);
		if (strstr(why, cases[i].fragment) == NULL)
			fail_msg("line '%s': %s", cases[i].line, why);
		/* The bad line is gone and the next one reads normally. */
		assert_int_equal(read_one(in, &msg, why), JSONL_OK);
		json_decref(msg);
	}
	/* A raw NUL byte inside a line. */
	evbuffer_add(in, "{\"a\":\"x\0y\"}\n", 12);
	assert_int_equal(read_one(in, &msg, why), JSONL_BAD);
	assert_int_equal(evbuffer_get_length(in), 0);
	evbuffer_free(in);
}

/* A line of exactly n bytes (before the newline) that is a valid object. */
static void
add_line_of(struct evbuffer *in, size_t n, bool newline)
{
	char *s = malloc(n + 1);

	memset(s, 'a', n);
	memcpy(s, "{\"p\":\"", 6);
	memcpy(s + n - 2, "\"}", 2);
	s[n] = '\n';
	evbuffer_add(in, s, n + (newline ? 1 : 0));
	free(s);
}

static void
test_length_cap(void **state)
{
	struct evbuffer *in = evbuffer_new();
	json_t *msg;
	char why[256];

	(void)state;
	add_line_of(in, JSONL_MAX_LINE, true);
	assert_int_equal(read_one(in, &msg, why), JSONL_OK);
	json_decref(msg);

	add_line_of(in, JSONL_MAX_LINE + 1, true);
	assert_int_equal(read_one(in, &msg, why), JSONL_TOO_LONG);
	assert_non_null(strstr(why, "longer than 65536"));
	evbuffer_drain(in, evbuffer_get_length(in));

	/* Without a newline: refused as soon as more than the cap is buffered. */
	add_line_of(in, JSONL_MAX_LINE, false);
	assert_int_equal(read_one(in, &msg, why), JSONL_AGAIN);
	evbuffer_add(in, "x", 1);
	assert_int_equal(read_one(in, &msg, why), JSONL_TOO_LONG);
	evbuffer_free(in);
}

static void
test_write(void **state)
{
	struct evbuffer *out = evbuffer_new();
	json_t *msg = json_pack("{s:s, s:s}", "type", "event", "detail", "line1\nline2 \xc3\xa4");
	char buf[256];
	json_t *back;

	(void)state;
	assert_true(jsonl_write(out, msg));
	size_t n = evbuffer_remove(out, buf, sizeof(buf) - 1);
	buf[n] = '\0';
	/* One line: the embedded newline is escaped, the only '\n' ends the message. */
	assert_ptr_equal(strchr(buf, '\n'), buf + n - 1);
	assert_non_null(strstr(buf, "\"type\":\"event\"")); /* compact: no blanks */
	evbuffer_add(out, buf, n);
	assert_int_equal(jsonl_read(out, &back, buf, sizeof(buf)), JSONL_OK);
	assert_true(json_equal(msg, back));
	json_decref(back);

	/* Too large to be read by the peer: refused, nothing written. */
	char *big = malloc(JSONL_MAX_LINE + 1);
	memset(big, 'b', JSONL_MAX_LINE);
	big[JSONL_MAX_LINE] = '\0';
	json_object_set_new(msg, "detail", json_string(big));
	assert_false(jsonl_write(out, msg));
	assert_int_equal(evbuffer_get_length(out), 0);
	free(big);
	json_decref(msg);
	evbuffer_free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_partial_line),
		cmocka_unit_test(test_several_lines),
		cmocka_unit_test(test_bad_lines_are_consumed),
		cmocka_unit_test(test_length_cap),
		cmocka_unit_test(test_write),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
