/*
 * Unit tests for wrctl's argument mapping (soap/wrctl_args.c) and for the description round trip
 * it depends on (common/schema_json.c, soap/wrctl_describe.c): a parameter table written as JSON
 * and read back is the same table, and command-line words become exactly the JSON the schema
 * wants, or an error naming the parameter with a stable exit code.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "schema_json.h"
#include "wrctl.h"
#include "wrctl_args.h"
#include "wrctl_describe.h"

static const char *const roles[] = {"admin", "operator", "viewer", NULL};
static const struct param p_sub[] = {
	{"port", PARAM_INT, true, false, 1, 65535, NULL, "port"},
	PARAM_END,
};
static const struct param params[] = {
	{"id", PARAM_INT, true, false, 1, 1000000, NULL, "vServer"},
	{"ram_mb", PARAM_INT, false, false, 64, 4096, NULL, "RAM in MB"},
	{"quota", PARAM_INT, false, true, 0, 10, NULL, "null = unlimited"},
	{"name", PARAM_STRING, false, false, 1, 8, NULL, "name"},
	{"password", PARAM_SECRET, false, false, 1, 64, NULL, "secret"},
	{"pem", PARAM_TEXT, false, false, 1, 4096, NULL, "text"},
	{"enabled", PARAM_BOOL, false, false, 0, 0, NULL, "flag"},
	{"role", PARAM_ENUM, false, false, 0, 0, roles, "role"},
	{"privileges", PARAM_ENUMSET, false, false, 1, 3, roles, "set"},
	{"cores", PARAM_INTLIST, false, false, 0, 4, NULL, "core list"},
	{"extra", PARAM_OBJECT, false, false, 0, 0, NULL, "object", p_sub},
	PARAM_END,
};

/* The table as wrctl sees it: written to JSON (as webrackd does) and read back. */
static struct wrctl_ops ops;
static const struct param *cli;

static int
setup(void **state)
{
	char why[256];
	json_t *desc = json_pack("{s:i, s:[{s:s, s:s, s:o, s:s, s:b}]}", "version", 1, "ops",
				 "name", "thing-set", "summary", "Set a thing", "params",
				 schema_params_to_json(params), "result", "thing", "mutates", 1);

	assert_true(wrctl_ops_from_json(desc, &ops, why, sizeof(why)));
	json_decref(desc);
	cli = wrctl_ops_find(&ops, "thing-set")->params;
	return 0;
}

static int
teardown(void **state)
{
	wrctl_ops_free(&ops);
	return 0;
}

static void
test_round_trip(void **state)
{
	const struct wrctl_op *op = wrctl_ops_find(&ops, "thing-set");

	assert_non_null(op);
	assert_true(op->mutates);
	assert_false(op->public_op);
	assert_string_equal(op->summary, "Set a thing");
	assert_null(wrctl_ops_find(&ops, "nope"));
	size_t i;
	for (i = 0; params[i].name != NULL; i++) {
		const struct param *a = &params[i], *b = &cli[i];
		assert_string_equal(a->name, b->name);
		assert_int_equal(a->type, b->type);
		assert_int_equal(a->required, b->required);
		assert_int_equal(a->nullable, b->nullable);
		assert_int_equal(a->min, b->min);
		assert_int_equal(a->max, b->max);
		assert_string_equal(a->doc, b->doc);
		assert_int_equal(a->choices == NULL, b->choices == NULL);
		for (size_t k = 0; a->choices && a->choices[k]; k++)
			assert_string_equal(a->choices[k], b->choices[k]);
		assert_int_equal(a->sub == NULL, b->sub == NULL);
	}
	assert_null(cli[i].name);
	assert_string_equal(cli[10].sub[0].name, "port");
	assert_int_equal(cli[10].sub[0].max, 65535);
	assert_null(cli[10].sub[1].name);
}

static void
expect_bad_desc(const char *text, const char *fragment)
{
	char why[256] = "";
	json_error_t jerr;
	json_t *desc = json_loads(text, 0, &jerr);
	struct wrctl_ops o;

	assert_non_null(desc);
	assert_false(wrctl_ops_from_json(desc, &o, why, sizeof(why)));
	assert_non_null(strstr(why, fragment));
	assert_int_equal(o.n, 0);
	json_decref(desc);
}

static void
test_malformed_description(void **state)
{
	expect_bad_desc("{\"ops\": []}", "no list");
	expect_bad_desc("{\"ops\": [{\"summary\": \"x\", \"params\": []}]}", "no name");
	expect_bad_desc("{\"ops\": [{\"name\": \"a\", \"params\": [{\"name\": \"x\", \"type\": "
			"\"float\", \"min\": 0, \"max\": 1}]}]}",
			"unknown type");
	expect_bad_desc("{\"ops\": [{\"name\": \"a\", \"params\": [{\"name\": \"x\", \"type\": "
			"\"int\"}]}]}",
			"bounds");
	expect_bad_desc("{\"ops\": [{\"name\": \"a\", \"params\": [{\"name\": \"x\", \"type\": "
			"\"enum\", \"min\": 0, \"max\": 0, \"choices\": null}]}]}",
			"no choices");
	/* a bad second parameter frees the first one cleanly (ASan build) */
	expect_bad_desc(
		"{\"ops\": [{\"name\": \"a\", \"params\": [{\"name\": \"x\", \"type\": "
		"\"enum\", \"min\": 0, \"max\": 0, \"choices\": [\"a\"]}, {\"name\": \"y\", "
		"\"type\": \"enum\", \"min\": 0, \"max\": 0, \"choices\": [1]}]}]}",
		"must be strings");
}

/* Parse argv (NULL-terminated) with positional "id"; return the exit code, args in *out. */
static int
parse(json_t **out, char *why, size_t whylen, const char *const *positional,
      const struct wrctl_args_ctx *ctx, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;

	va_start(ap, ctx);
	for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 32;)
		argv[argc++] = a;
	va_end(ap);
	*out = json_object();
	why[0] = '\0';
	int rc = wrctl_args_parse(cli, positional, argc, argv, ctx, *out, why, whylen);
	if (rc == WRCTL_OK)
		rc = wrctl_args_check(cli, *out, why, whylen);
	return rc;
}

static const char *const pos_id[] = {"id", NULL};

static void
assert_json(json_t *got, const char *want_text)
{
	json_error_t jerr;
	json_t *want = json_loads(want_text, 0, &jerr);
	char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);

	assert_non_null(want);
	if (!json_equal(got, want))
		fail_msg("got %s, want %s", g, want_text);
	free(g);
	json_decref(want);
}

static void
test_types(void **state)
{
	char why[256];
	json_t *a;

	assert_int_equal(parse(&a, why, sizeof(why), pos_id, NULL, "7", "--ram-mb", "512",
			       "--quota=null", "--name", "web1", "--enabled", "--role", "viewer",
			       "--privileges", "admin,viewer", "--cores", "0,3", "--extra",
			       "{\"port\": 22}", NULL),
			 WRCTL_OK);
	assert_json(a, "{\"id\": 7, \"ram_mb\": 512, \"quota\": null, \"name\": \"web1\", "
		       "\"enabled\": true, \"role\": \"viewer\", \"privileges\": [\"admin\", "
		       "\"viewer\"], \"cores\": [0, 3], \"extra\": {\"port\": 22}}");
	json_decref(a);

	/* underscores and dashes are the same; --id works like the positional word */
	assert_int_equal(parse(&a, why, sizeof(why), NULL, NULL, "--id=9", "--ram_mb", "64",
			       "--quota", "3", NULL),
			 WRCTL_OK);
	assert_json(a, "{\"id\": 9, \"ram_mb\": 64, \"quota\": 3}");
	json_decref(a);
}

static void
test_booleans_and_lists(void **state)
{
	char why[256];
	json_t *a;

	assert_int_equal(parse(&a, why, sizeof(why), pos_id, NULL, "--enabled", "false", "1", NULL),
			 WRCTL_OK);
	assert_json(a, "{\"id\": 1, \"enabled\": false}");
	json_decref(a);
	assert_int_equal(parse(&a, why, sizeof(why), pos_id, NULL, "1", "--no-enabled", NULL),
			 WRCTL_OK);
	assert_json(a, "{\"id\": 1, \"enabled\": false}");
	json_decref(a);
	assert_int_equal(parse(&a, why, sizeof(why), pos_id, NULL, "1", "--enabled=yes", NULL),
			 WRCTL_OK);
	assert_json(a, "{\"id\": 1, \"enabled\": true}");
	json_decref(a);
	assert_int_equal(parse(&a, why, sizeof(why), pos_id, NULL, "1", "--enabled=maybe", NULL),
			 WRCTL_INVALID);
	assert_string_equal(why, "parameter 'enabled' must be true or false");
	json_decref(a);
	/* a repeated list option extends the list */
	assert_int_equal(parse(&a, why, sizeof(why), pos_id, NULL, "1", "--privileges", "admin",
			       "--privileges", "operator", NULL),
			 WRCTL_OK);
	assert_json(a, "{\"id\": 1, \"privileges\": [\"admin\", \"operator\"]}");
	json_decref(a);
	/* "--no-x" exists only for booleans */
	assert_int_equal(parse(&a, why, sizeof(why), pos_id, NULL, "1", "--no-name", NULL),
			 WRCTL_USAGE);
	json_decref(a);
}

static void
test_schema_messages(void **state)
{
	char why[256];
	json_t *a;

	assert_int_equal(parse(&a, why, sizeof(why), pos_id, NULL, "abc", NULL), WRCTL_INVALID);
	assert_string_equal(why, "parameter 'id' must be an integer");
	json_decref(a);
	assert_int_equal(parse(&a, why, sizeof(why), pos_id, NULL, "5x", NULL), WRCTL_INVALID);
	json_decref(a);
	assert_int_equal(parse(&a, why, sizeof(why), pos_id, NULL, "1", "--ram-mb", "32", NULL),
			 WRCTL_INVALID);
	assert_string_equal(why, "parameter 'ram_mb' must be between 64 and 4096");
	json_decref(a);
	/* null only where the schema allows it */
	assert_int_equal(parse(&a, why, sizeof(why), pos_id, NULL, "null", NULL), WRCTL_INVALID);
	assert_string_equal(why, "parameter 'id' must be an integer");
	json_decref(a);
	assert_int_equal(
		parse(&a, why, sizeof(why), pos_id, NULL, "1", "--name", "much-too-long", NULL),
		WRCTL_INVALID);
	assert_string_equal(why, "parameter 'name' must be 1 to 8 bytes long");
	json_decref(a);
	assert_int_equal(parse(&a, why, sizeof(why), pos_id, NULL, "1", "--role", "god", NULL),
			 WRCTL_INVALID);
	assert_string_equal(why, "parameter 'role' must be one of the documented values (admin, "
				 "operator, viewer)");
	json_decref(a);
	assert_int_equal(
		parse(&a, why, sizeof(why), pos_id, NULL, "1", "--privileges", "admin,admin", NULL),
		WRCTL_INVALID);
	assert_non_null(strstr(why, "repeats an entry"));
	json_decref(a);
	assert_int_equal(parse(&a, why, sizeof(why), pos_id, NULL, "1", "--cores", "1,x", NULL),
			 WRCTL_INVALID);
	json_decref(a);
	assert_int_equal(
		parse(&a, why, sizeof(why), pos_id, NULL, "1", "--extra", "{\"port\": 0}", NULL),
		WRCTL_INVALID);
	assert_string_equal(why, "parameter 'port' must be between 1 and 65535");
	json_decref(a);
	assert_int_equal(parse(&a, why, sizeof(why), pos_id, NULL, "1", "--extra", "{oops", NULL),
			 WRCTL_INVALID);
	assert_non_null(strstr(why, "must be JSON"));
	json_decref(a);
	assert_int_equal(parse(&a, why, sizeof(why), pos_id, NULL, "--name", "x", NULL),
			 WRCTL_INVALID);
	assert_string_equal(why, "missing parameter 'id'");
	json_decref(a);
}

static void
test_usage_errors(void **state)
{
	char why[256];
	json_t *a;

	assert_int_equal(parse(&a, why, sizeof(why), pos_id, NULL, "1", "--colour", "red", NULL),
			 WRCTL_USAGE);
	assert_non_null(strstr(why, "unknown option '--colour'"));
	json_decref(a);
	assert_int_equal(parse(&a, why, sizeof(why), pos_id, NULL, "1", "2", NULL), WRCTL_USAGE);
	assert_non_null(strstr(why, "unexpected argument '2'"));
	json_decref(a);
	assert_int_equal(parse(&a, why, sizeof(why), pos_id, NULL, "1", "--name", NULL),
			 WRCTL_USAGE);
	assert_non_null(strstr(why, "needs a value"));
	json_decref(a);
	assert_int_equal(parse(&a, why, sizeof(why), pos_id, NULL, "--json", "[1]", NULL),
			 WRCTL_USAGE);
	json_decref(a);
}

static void
test_json_merge_and_dashdash(void **state)
{
	char why[256];
	json_t *a;

	/* options next to --json win over its keys */
	assert_int_equal(parse(&a, why, sizeof(why), pos_id, NULL, "--json",
			       "{\"id\": 3, \"name\": \"a\"}", "--name", "b", NULL),
			 WRCTL_OK);
	assert_json(a, "{\"id\": 3, \"name\": \"b\"}");
	json_decref(a);
	/* after "--" a word that looks like an option is a positional value */
	static const char *const pos_name[] = {"id", "name", NULL};
	assert_int_equal(parse(&a, why, sizeof(why), pos_name, NULL, "4", "--", "--x", NULL),
			 WRCTL_OK);
	assert_json(a, "{\"id\": 4, \"name\": \"--x\"}");
	json_decref(a);
}

static void
test_secret_and_file(void **state)
{
	char why[256], path[] = "/tmp/wrctl-test-XXXXXX";
	json_t *a;
	char line[] = "s3cret-pass\nrest\n";
	FILE *in = fmemopen(line, strlen(line), "r");
	struct wrctl_args_ctx ctx = {NULL, NULL, in};

	assert_int_equal(parse(&a, why, sizeof(why), pos_id, &ctx, "1", "--password", "-", NULL),
			 WRCTL_OK);
	assert_json(a, "{\"id\": 1, \"password\": \"s3cret-pass\"}");
	json_decref(a);
	fclose(in);

	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "-----BEGIN X-----\nabc\n", 22), 22);
	close(fd);
	char opt[64];
	snprintf(opt, sizeof(opt), "@%s", path);
	assert_int_equal(parse(&a, why, sizeof(why), pos_id, NULL, "1", "--pem", opt, NULL),
			 WRCTL_OK);
	assert_json(a, "{\"id\": 1, \"pem\": \"-----BEGIN X-----\\nabc\\n\"}");
	json_decref(a);
	unlink(path);
	assert_int_equal(parse(&a, why, sizeof(why), pos_id, NULL, "1", "--pem", opt, NULL),
			 WRCTL_INVALID);
	assert_non_null(strstr(why, "cannot read"));
	json_decref(a);
}

/* A resolver that knows one vServer name; everything else is left to the type mapping. */
static int calls;
static int
fake_resolve(void *ctx, const struct param *p, const char *text, json_t **out, char *why,
	     size_t whylen)
{
	calls++;
	if (strcmp(p->name, "id") != 0 || strcmp(text, "7") == 0)
		return 0;
	if (strcmp(text, "web1") == 0) {
		*out = json_integer(17);
		return 1;
	}
	snprintf(why, whylen, "no vServer named '%s'", text);
	return WRCTL_NOT_FOUND;
}

static void
test_resolver(void **state)
{
	char why[256];
	json_t *a;
	struct wrctl_args_ctx ctx = {fake_resolve, NULL, NULL};

	calls = 0;
	assert_int_equal(parse(&a, why, sizeof(why), pos_id, &ctx, "web1", NULL), WRCTL_OK);
	assert_json(a, "{\"id\": 17}");
	json_decref(a);
	assert_int_equal(parse(&a, why, sizeof(why), pos_id, &ctx, "--id", "7", NULL), WRCTL_OK);
	assert_json(a, "{\"id\": 7}");
	json_decref(a);
	assert_int_equal(parse(&a, why, sizeof(why), pos_id, &ctx, "db9", NULL), WRCTL_NOT_FOUND);
	assert_string_equal(why, "no vServer named 'db9'");
	json_decref(a);
	assert_int_equal(calls, 3);
	/* a usage error is found before any name is looked up */
	assert_int_equal(parse(&a, why, sizeof(why), pos_id, &ctx, "web1", "extra", NULL),
			 WRCTL_USAGE);
	json_decref(a);
	assert_int_equal(calls, 3);
}

static void
test_flag_spelling(void **state)
{
	char buf[32];

	wrctl_args_flag("ram_mb", buf, sizeof(buf));
	assert_string_equal(buf, "--ram-mb");
	wrctl_args_flag("a_very_long_parameter_name_indeed", buf, 12);
	assert_string_equal(buf, "--a-very-lo");
	assert_ptr_equal(wrctl_args_param(cli, "ram-mb"), &cli[1]);
	assert_ptr_equal(wrctl_args_param(cli, "ram_mb"), &cli[1]);
	assert_null(wrctl_args_param(cli, "ram"));
	assert_null(wrctl_args_param(cli, "ram-mb-x"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_malformed_description),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_booleans_and_lists),
		cmocka_unit_test(test_schema_messages),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_json_merge_and_dashdash),
		cmocka_unit_test(test_secret_and_file),
		cmocka_unit_test(test_resolver),
		cmocka_unit_test(test_flag_spelling),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
