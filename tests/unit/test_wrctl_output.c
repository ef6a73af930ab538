/*
 * Unit tests for wrctl's output (soap/wrctl_output.c, soap/wrctl_progress.c): tables, flattened
 * objects, JSON passthrough, the progress line and the mapping of API error codes to exit codes.
 * Output is captured in memory and compared byte for byte.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wrctl.h"
#include "wrctl_config.h"
#include "wrctl_output.h"
#include "wrctl_progress.h"

static json_t *
J(const char *text)
{
	json_error_t jerr;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
	if (v == NULL)
		fail_msg("bad test JSON %s: %s", text, jerr.text);
	return v;
}

/* Run one output function into a string (caller frees). */
static char *
render(const char *result, int format, const char *columns)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	json_t *v = J(result);

	wrctl_output_result(f, v, format, columns);
	fclose(f);
	json_decref(v);
	return buf;
}

static void
expect_render(const char *result, int format, const char *columns, const char *want)
{
	char *got = render(result, format, columns);
	if (strcmp(got, want) != 0)
		fail_msg("got:\n%s\nwant:\n%s", got, want);
	free(got);
}

static void
test_scalars(void **state)
{
	static const struct {
		const char *json, *text;
	} cases[] = {
		{"null", "-"},
		{"true", "yes"},
		{"false", "no"},
		{"42", "42"},
		{"-7", "-7"},
		{"1.5", "1.5"},
		{"\"web1\"", "web1"},
		{"[]", "-"},
		{"[1, 2]", "1,2"},
		{"[\"a\", null]", "a,-"},
		{"{\"a\": 1}", "{\"a\":1}"},
		{"[{\"a\": 1}]", "[{\"a\":1}]"},
	};
	char buf[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *v = J(cases[i].json);
		wrctl_output_scalar(v, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].text);
		json_decref(v);
	}
}

static void
test_table_columns(void **state)
{
	const char *items = "{\"items\": [{\"id\": 3, \"name\": \"web1\", \"state\": \"running\", "
			    "\"cores\": 2, \"macs\": [\"52:54:00:00:00:01\"], \"_scope\": {}},"
			    "{\"id\": 12, \"name\": \"db\", \"state\": \"stopped\", \"cores\": 16, "
			    "\"macs\": null, \"extra\": true}]}";

	/* chosen columns; numbers right-aligned, text left-aligned, last column not padded */
	expect_render(items, WRCTL_OUT_TABLE, "id,name,state,node",
		      "ID  NAME  STATE    NODE\n"
		      " 3  web1  running  -\n"
		      "12  db    stopped  -\n");
	/* every scalar field, in first-seen order; "_" fields and objects are left out */
	expect_render(items, WRCTL_OUT_TABLE, NULL,
		      "ID  NAME  STATE    CORES  MACS               EXTRA\n"
		      " 3  web1  running      2  52:54:00:00:00:01  -\n"
		      "12  db    stopped     16  -                  yes\n");
	/* an empty list prints the header only when the columns are known */
	expect_render("{\"items\": []}", WRCTL_OUT_TABLE, "id,name", "ID  NAME\n");
	expect_render("{\"items\": []}", WRCTL_OUT_TABLE, NULL, "");
}

static void
test_table_cells_are_safe(void **state)
{
	char *got = render("{\"items\": [{\"name\": \"a\\u001b[31mb\\nc\", \"info\": "
			   "\"0123456789012345678901234567890123456789012345678901234567\"}]}",
			   WRCTL_OUT_TABLE, NULL);

	assert_null(strchr(got, '\033'));
	assert_non_null(strstr(got, "a [31mb c"));
	/* cut at WRCTL_CELL_MAX with "..." */
	assert_non_null(strstr(got, "012345678901234567890123456789012345678901234..."));
	free(got);
}

static void
test_object_flattened(void **state)
{
	expect_render("{\"token\": {\"id\": 7, \"name\": \"ci\", \"privileges\": [\"a\", \"b\"]}, "
		      "\"secret\": \"wrt_x\", \"grants\": [{\"role\": \"admin\"}, {\"role\": "
		      "\"viewer\"}], \"_scope\": 1, \"none\": null}",
		      WRCTL_OUT_TABLE, NULL,
		      "token.id: 7\n"
		      "token.name: ci\n"
		      "token.privileges: a,b\n"
		      "secret: wrt_x\n"
		      "grants[0].role: admin\n"
		      "grants[1].role: viewer\n"
		      "none: -\n");
	/* multi-line text keeps its lines */
	expect_render("{\"pem\": \"L1\\nL2\\n\"}", WRCTL_OUT_TABLE, NULL, "pem:\n    L1\n    L2\n");
	expect_render("{}", WRCTL_OUT_TABLE, NULL, "");
}

static void
test_json_passthrough(void **state)
{
	char *got = render("{\"items\": [{\"id\": 1, \"name\": \"x\"}]}", WRCTL_OUT_JSON, "id");
	json_error_t jerr;
	json_t *back = json_loads(got, 0, &jerr);
	json_t *want = J("{\"items\": [{\"id\": 1, \"name\": \"x\"}]}");

	assert_non_null(back);
	assert_true(json_equal(back, want));
	assert_int_equal(got[strlen(got) - 1], '\n');
	json_decref(back);
	json_decref(want);
	free(got);
}

static void
test_exit_codes(void **state)
{
	assert_int_equal(wrctl_exit_for_code("ok"), 0);
	assert_int_equal(wrctl_exit_for_code("invalid"), 2);
	assert_int_equal(wrctl_exit_for_code("too_large"), 2);
	assert_int_equal(wrctl_exit_for_code("unauthenticated"), 3);
	assert_int_equal(wrctl_exit_for_code("denied"), 3);
	assert_int_equal(wrctl_exit_for_code("not_found"), 4);
	assert_int_equal(wrctl_exit_for_code("conflict"), 5);
	assert_int_equal(wrctl_exit_for_code("quota"), 5);
	assert_int_equal(wrctl_exit_for_code("busy"), 6);
	assert_int_equal(wrctl_exit_for_code("throttled"), 6);
	assert_int_equal(wrctl_exit_for_code("unavailable"), 6);
	assert_int_equal(wrctl_exit_for_code("timeout"), 6);
	assert_int_equal(wrctl_exit_for_code("task_failed"), 7);
	assert_int_equal(wrctl_exit_for_code("internal"), 8);
	assert_int_equal(wrctl_exit_for_code("local"), 9);
	assert_int_equal(wrctl_exit_for_code("something-new"), 8);
	assert_int_equal(wrctl_exit_for_code(NULL), 8);
}

static void
test_progress_line(void **state)
{
	char buf[256];
	json_t *t = J("{\"id\": 42, \"action\": \"vserver-start\", \"object_name\": \"web1\", "
		      "\"status\": \"running\", \"info\": null}");

	wrctl_progress_line(t, 42, 3.14, buf, sizeof(buf));
	assert_string_equal(buf, "task 42 vserver-start web1: running, 3.1 s");
	json_decref(t);
	t = J("{\"status\": \"failed\", \"action\": \"vserver-stop\", \"info\": \"no\\nnode\"}");
	wrctl_progress_line(t, 7, 0, buf, sizeof(buf));
	assert_string_equal(buf, "task 7 vserver-stop : failed, 0.0 s - no node");
	json_decref(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_table_columns),
		cmocka_unit_test(test_table_cells_are_safe),
		cmocka_unit_test(test_object_flattened),
		cmocka_unit_test(test_json_passthrough),
		cmocka_unit_test(test_exit_codes),
		cmocka_unit_test(test_progress_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
