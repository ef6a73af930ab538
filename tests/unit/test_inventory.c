/*
 * Unit tests for nodeagent/inventory.c: the CPU list parser, the housekeeping/dedicated split,
 * /proc/meminfo and `qemu --version` parsing, running a (fake) QEMU with a timeout, and bridge
 * discovery in a fake /sys/class/net.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "inventory.h"

static bool set[INVENTORY_MAX_CPUS];

static void
expect_list(const char *text, int count, const char *fragment)
{
	char why[256] = "";
	int n = -1;
	bool ok = inventory_parse_cpulist(text, set, &n, why, sizeof(why));

	if (fragment == NULL && (!ok || n != count))
		fail_msg("'%s': ok %d count %d (%s)", text, ok, n, why);
	if (fragment != NULL && (ok || strstr(why, fragment) == NULL))
		fail_msg("'%s': ok %d, message '%s' lacks '%s'", text, ok, why, fragment);
}

static void
test_cpulist(void **state)
{
	(void)state;
	expect_list("0", 1, NULL);
	expect_list("0-3\n", 4, NULL);
	expect_list("0-3,8,10-11", 7, NULL);
	assert_true(set[0] && set[3] && !set[4] && set[8] && !set[9] && set[11]);
	expect_list("4095", 1, NULL);
	expect_list("", 0, "empty");
	expect_list("\n", 0, "empty");
	expect_list("4096", 0, "below 4096");
	expect_list("3-1", 0, "backwards");
	expect_list("0-2,2", 0, "core 2 is listed twice");
	expect_list("1,", 0, "expected a core number");
	expect_list("-1", 0, "expected a core number");
	expect_list("1-", 0, "expected a core number");
	expect_list("1 2", 0, "unexpected text");
	expect_list("a", 0, "expected a core number");
	expect_list("99999999999999999999", 0, "below 4096");
}

static void
online(struct inventory_cores *c, int n)
{
	memset(c, 0, sizeof(*c));
	for (int i = 0; i < n; i++)
		c->online[i] = true;
	c->online_count = n;
}

static void
test_core_split(void **state)
{
	static struct inventory_cores c;
	char why[256];

	(void)state;
	online(&c, 8);
	assert_true(inventory_core_split(&c, "0-1", NULL, why, sizeof(why)));
	assert_int_equal(c.nhousekeeping, 2);
	assert_int_equal(c.ndedicated, 6);
	assert_int_equal(c.dedicated[0], 2);
	assert_int_equal(c.dedicated[5], 7);

	assert_true(inventory_core_split(&c, "0", "4-5", why, sizeof(why)));
	assert_int_equal(c.ndedicated, 2);
	assert_int_equal(c.dedicated[1], 5);

	assert_false(inventory_core_split(&c, "0-2", "2-4", why, sizeof(why)));
	assert_non_null(strstr(why, "core 2 is in both"));
	assert_false(inventory_core_split(&c, "0", "7-8", why, sizeof(why)));
	assert_non_null(strstr(why, "dedicated_cores: core 8 is not online"));
	assert_false(inventory_core_split(&c, "9", NULL, why, sizeof(why)));
	assert_non_null(strstr(why, "housekeeping_cores: core 9 is not online"));
	assert_false(inventory_core_split(&c, "0-7", NULL, why, sizeof(why)));
	assert_non_null(strstr(why, "no core left"));
	assert_false(inventory_core_split(&c, "", NULL, why, sizeof(why)));
	assert_non_null(strstr(why, "housekeeping_cores: empty"));

	/* Holes in the online set (offlined CPUs) are respected. */
	c.online[3] = false;
	assert_true(inventory_core_split(&c, "0", NULL, why, sizeof(why)));
	assert_int_equal(c.ndedicated, 6);
	assert_int_equal(c.dedicated[2], 4);
}

static void
test_online_file(void **state)
{
	static struct inventory_cores c;
	char path[] = "/tmp/test_inventory_onlineXXXXXX", why[256];
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "0-2,5\n", 6), 6);
	close(fd);
	assert_true(inventory_online_cores(path, &c, why, sizeof(why)));
	assert_int_equal(c.online_count, 4);
	assert_true(c.online[5] && !c.online[4]);
	unlink(path);
	/* No file: falls back to sysconf, which always gives at least one core. */
	assert_true(inventory_online_cores("/nonexistent/online", &c, why, sizeof(why)));
	assert_true(c.online_count >= 1 && c.online[0]);
}

static void
test_meminfo(void **state)
{
	long long mb = 0;

	(void)state;
	assert_true(inventory_parse_meminfo("MemTotal:       16318540 kB\nMemFree: 1 kB\n", &mb));
	assert_int_equal(mb, 15936);
	assert_true(inventory_parse_meminfo("Foo: 1 kB\nMemTotal: 2048 kB\n", &mb));
	assert_int_equal(mb, 2);
	assert_false(inventory_parse_meminfo("MemFree: 1 kB\n", &mb));
	assert_false(inventory_parse_meminfo("MemTotal: lots\n", &mb));
	assert_false(inventory_parse_meminfo("MemTotal: 100 MB\n", &mb));
	assert_false(inventory_parse_meminfo("", &mb));
}

static void
test_qemu_version_text(void **state)
{
	char v[16];

	(void)state;
	assert_true(inventory_parse_qemu_version(
		"QEMU emulator version 7.2.11 (Debian 1:7.2+dfsg-7+deb12u6)\nCopyright (c)", v,
		sizeof(v)));
	assert_string_equal(v, "7.2.11");
	assert_true(inventory_parse_qemu_version("QEMU emulator version 8.0.0\n", v, sizeof(v)));
	assert_string_equal(v, "8.0.0");
	assert_false(inventory_parse_qemu_version("qemu-img version 7.2.11\n", v, sizeof(v)));
	assert_false(inventory_parse_qemu_version("QEMU emulator version x\n", v, sizeof(v)));
	assert_false(inventory_parse_qemu_version("QEMU emulator version 1.2.3.4.5.6.7.8.9.10.11\n",
						  v, sizeof(v)));
}

static char *
fake_qemu(const char *body)
{
	char *path = strdup("/tmp/test_inventory_qemuXXXXXX");
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	chmod(path, 0700);
	return path;
}

static void
test_qemu_run(void **state)
{
	char v[65], why[256];
	char *good = fake_qemu("[ \"$1\" = --version ] && echo 'QEMU emulator version 7.2.5 (x)'");
	char *slow = fake_qemu("exec sleep 10");
	char *bad = fake_qemu("echo 'something else'");
	struct timespec t0, t1;

	(void)state;
	assert_true(inventory_qemu_version(good, 2000, v, sizeof(v), why, sizeof(why)));
	assert_string_equal(v, "7.2.5");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_false(inventory_qemu_version(slow, 300, v, sizeof(v), why, sizeof(why)));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_non_null(strstr(why, "did not answer within 300 ms"));
	assert_true(t1.tv_sec - t0.tv_sec < 3);

	assert_false(inventory_qemu_version(bad, 2000, v, sizeof(v), why, sizeof(why)));
	assert_non_null(strstr(why, "no 'QEMU emulator version'"));
	assert_false(
		inventory_qemu_version("/nonexistent/qemu", 2000, v, sizeof(v), why, sizeof(why)));
	assert_non_null(strstr(why, "cannot run /nonexistent/qemu"));
	unlink(good);
	unlink(slow);
	unlink(bad);
	free(good);
	free(slow);
	free(bad);
}

static void
test_bridges(void **state)
{
	char root[] = "/tmp/test_inventory_netXXXXXX", path[256];
	json_t *list;

	(void)state;
	assert_non_null(mkdtemp(root));
	const char *dirs[] = {"eth0", "wrbr1", "wrbr1/bridge", "lo", "br0", "br0/bridge"};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", root, dirs[i]);
		assert_int_equal(mkdir(path, 0700), 0);
	}
	list = inventory_bridges(root);
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(json_string_value(json_array_get(list, 0)), "br0");
	assert_string_equal(json_string_value(json_array_get(list, 1)), "wrbr1");
	json_decref(list);
	for (size_t i = sizeof(dirs) / sizeof(dirs[0]); i-- > 0;) {
		snprintf(path, sizeof(path), "%s/%s", root, dirs[i]);
		rmdir(path);
	}
	rmdir(root);
	list = inventory_bridges(root); /* gone: an empty list, not a failure */
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpulist),		  cmocka_unit_test(test_core_split),
		cmocka_unit_test(test_online_file),	  cmocka_unit_test(test_meminfo),
		cmocka_unit_test(test_qemu_version_text), cmocka_unit_test(test_qemu_run),
		cmocka_unit_test(test_bridges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
