/*
 * Unit tests for controller/schema.c: every way a request's arguments can be wrong is refused
 * with a message naming the parameter, and nothing is coerced.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "schema.h"

static const char *const colours[] = {"red", "green", NULL};
static const struct param params[] = {
	{"id", PARAM_INT, true, false, 1, 100, NULL, "id"},
	{"name", PARAM_STRING, false, false, 2, 8, NULL, "name"},
	{"flag", PARAM_BOOL, false, false, 0, 0, NULL, "flag"},
	{"colour", PARAM_ENUM, false, false, 0, 0, colours, "colour"},
	{"colours", PARAM_ENUMSET, false, false, 1, 2, colours, "colours"},
	{"quota", PARAM_INT, false, true, 0, 10, NULL, "nullable"},
	PARAM_END,
};

static void
expect(const char *text, bool ok, const char *fragment)
{
	char why[256] = "";
	json_error_t err;
	json_t *args = json_loads(text, JSON_DECODE_ANY, &err);

	assert_non_null(args);
	assert_int_equal(schema_check(params, args, why, sizeof(why)), ok);
	if (fragment != NULL)
		assert_non_null(strstr(why, fragment));
	json_decref(args);
}

static void
test_valid(void **state)
{
	(void)state;
	expect("{\"id\": 5}", true, NULL);
	expect("{\"id\": 1, \"name\": \"ab\", \"flag\": false, \"colour\": \"red\", "
	       "\"colours\": [\"red\", \"green\"], \"quota\": null}",
	       true, NULL);
	expect("{\"id\": 100, \"quota\": 10}", true, NULL);
}

static void
test_missing_and_unknown(void **state)
{
	(void)state;
	expect("{}", false, "missing parameter 'id'");
	expect("{\"id\": 5, \"admin\": true}", false, "unknown parameter 'admin'");
	expect("[1, 2]", false, "JSON object");
	expect("\"id\"", false, "JSON object");
}

static void
test_no_coercion(void **state)
{
	(void)state;
	expect("{\"id\": \"5\"}", false, "'id' must be an integer");
	expect("{\"id\": 5.0}", false, "'id' must be an integer");
	expect("{\"id\": true}", false, "'id' must be an integer");
	expect("{\"id\": 5, \"name\": 12}", false, "'name' must be a string");
	expect("{\"id\": 5, \"flag\": 1}", false, "'flag' must be true or false");
	expect("{\"id\": null}", false, "'id' must not be null");
}

static void
test_ranges(void **state)
{
	(void)state;
	expect("{\"id\": 0}", false, "between 1 and 100");
	expect("{\"id\": 101}", false, "between 1 and 100");
	expect("{\"id\": -9223372036854775807}", false, "between");
	expect("{\"id\": 5, \"name\": \"a\"}", false, "2 to 8 bytes");
	expect("{\"id\": 5, \"name\": \"abcdefghi\"}", false, "2 to 8 bytes");
	expect("{\"id\": 5, \"quota\": 11}", false, "between 0 and 10");
}

static void
test_strings_and_enums(void **state)
{
	(void)state;
	expect("{\"id\": 5, \"name\": \"a\\nb\"}", false, "control characters");
	expect("{\"id\": 5, \"name\": \"a\\u0001\"}", false, "control characters");
	expect("{\"id\": 5, \"colour\": \"blue\"}", false, "'colour'");
	expect("{\"id\": 5, \"colours\": []}", false, "1 to 2 entries");
	expect("{\"id\": 5, \"colours\": [\"red\", \"red\"]}", false, "repeats");
	expect("{\"id\": 5, \"colours\": [\"red\", 3]}", false, "unknown entry");
	expect("{\"id\": 5, \"colours\": \"red\"}", false, "must be an array");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_missing_and_unknown),
		cmocka_unit_test(test_no_coercion),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_strings_and_enums),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
