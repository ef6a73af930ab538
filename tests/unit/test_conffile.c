/*
 * Unit tests for common/conffile.c: defaults, quoting and comments, every kind of error reported
 * with file:line (and all of them in one pass), bounds, and reload swapping only reloadable keys.
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

#include "conffile.h"

struct sample {
	char *name;
	char *path;
	long long count;
	bool flag;
	int mode;
};

static const char *const modes[] = {"fast", "safe", NULL};

static const struct config_key table[] = {
	{"name", CONFIG_STRING, offsetof(struct sample, name), "default name", 0, 0, NULL, true,
	 "a name"},
	{"path", CONFIG_PATH, offsetof(struct sample, path), NULL, 0, 0, NULL, false, "a path"},
	{"count", CONFIG_INT, offsetof(struct sample, count), "5", 1, 10, NULL, true, "a count"},
	{"flag", CONFIG_BOOL, offsetof(struct sample, flag), "no", 0, 0, NULL, false, "a flag"},
	{"mode", CONFIG_ENUM, offsetof(struct sample, mode), "safe", 0, 0, modes, true, "a mode"},
	CONFIG_END,
};

struct outcome {
	bool ok;
	int count;
	char messages[2048];
	struct sample s;
};

static void
load(const char *text, struct outcome *o)
{
	char file[] = "/tmp/test_conffile_XXXXXX";
	int fd = mkstemp(file);
	FILE *mem;
	char *buf = NULL;
	size_t len = 0;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	memset(o, 0, sizeof(*o));
	mem = open_memstream(&buf, &len);
	struct config_errors errs = {.out = mem};
	assert_true(config_set_defaults(table, &o->s, &errs));
	o->ok = config_read_file(table, &o->s, file, &errs);
	o->count = errs.count;
	fclose(mem);
	/* Strip the temporary file name so messages can be compared. */
	const char *p = buf;
	char *out = o->messages;
	while (*p && (size_t)(out - o->messages) < sizeof(o->messages) - 1) {
		if (strncmp(p, file, strlen(file)) == 0) {
			p += strlen(file);
			*out++ = 'F';
			continue;
		}
		*out++ = *p++;
	}
	*out = '\0';
	free(buf);
	unlink(file);
}

static void
test_defaults_and_values(void **state)
{
	struct outcome o;

	(void)state;
	load("# comment\n\nname = \"a \\\"quoted\\\" # not a comment\"\npath = /srv/x # trailing\n"
	     "count=7\nflag = yes\nmode = fast\n",
	     &o);
	assert_true(o.ok);
	assert_string_equal(o.s.name, "a \"quoted\" # not a comment");
	assert_string_equal(o.s.path, "/srv/x");
	assert_int_equal(o.s.count, 7);
	assert_true(o.s.flag);
	assert_int_equal(o.s.mode, 0);
	config_free(table, &o.s);

	load("", &o);
	assert_true(o.ok);
	assert_string_equal(o.s.name, "default name");
	assert_null(o.s.path);
	assert_int_equal(o.s.count, 5);
	assert_int_equal(o.s.mode, 1);
	config_free(table, &o.s);
}

static void
test_errors_reported_with_lines(void **state)
{
	struct outcome o;

	(void)state;
	load("count = 11\nbogus = 1\nflag = maybe\nmode = turbo\nname \"x\"\npath = \"open\n"
	     "count = 3x\npath =\n",
	     &o);
	assert_false(o.ok);
	assert_int_equal(o.count, 8);
	assert_non_null(strstr(o.messages, "F:1: count: '11' is out of range (allowed 1..10)"));
	assert_non_null(strstr(o.messages, "F:2: unknown key 'bogus'"));
	assert_non_null(strstr(o.messages, "F:3: flag: 'maybe' is not a boolean"));
	assert_non_null(strstr(o.messages, "F:4: mode: 'turbo' is not one of the allowed values "
					   "(fast|safe)"));
	assert_non_null(strstr(o.messages, "F:5: syntax error: expected '='"));
	assert_non_null(strstr(o.messages, "F:6: syntax error: unterminated quoted value"));
	assert_non_null(strstr(o.messages, "F:7: count: '3x' is not an integer"));
	assert_non_null(strstr(o.messages, "F:8: syntax error: missing value"));
	config_free(table, &o.s);
}

static void
test_missing_file(void **state)
{
	struct sample s = {0};
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	struct config_errors errs = {.out = mem};

	(void)state;
	assert_true(config_set_defaults(table, &s, &errs));
	assert_false(config_read_file(table, &s, "/nonexistent/webrack.conf", &errs));
	fclose(mem);
	assert_non_null(strstr(buf, "/nonexistent/webrack.conf: cannot open"));
	free(buf);
	config_free(table, &s);
}

static void
test_reload_swaps_only_reloadable(void **state)
{
	struct outcome live, fresh;

	(void)state;
	load("name = old\npath = /a\ncount = 2\nflag = no\n", &live);
	load("name = new\npath = /b\ncount = 9\nflag = yes\n", &fresh);
	config_apply_reload(table, &live.s, &fresh.s);
	assert_string_equal(live.s.name, "new");  /* reloadable */
	assert_int_equal(live.s.count, 9);	  /* reloadable */
	assert_string_equal(live.s.path, "/a");	  /* needs a restart */
	assert_false(live.s.flag);		  /* needs a restart */
	assert_string_equal(fresh.s.name, "old"); /* the old value is freed with fresh */
	config_free(table, &live.s);
	config_free(table, &fresh.s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_values),
		cmocka_unit_test(test_errors_reported_with_lines),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_reload_swaps_only_reloadable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
