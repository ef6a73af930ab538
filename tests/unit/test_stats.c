/*
 * Unit tests for the agent's statistics parsers (nodeagent/stats.c), fed with fixtures of the
 * /proc files they read (tests/unit/golden/stats/): the aggregate CPU line, a vCPU thread's
 * utime+stime (also with ')' and spaces in the thread name), MemTotal/MemAvailable, the load,
 * RSS pages, and /proc/net/dev summed with an interface filter; and malformed input refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

static char text[16384];

static const char *
fixture(const char *name)
{
	char path[512];
	const char *srcdir = getenv("srcdir");
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/tests/unit/golden/stats/%s", srcdir ? srcdir : ".", name);
	f = fopen(path, "r");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	return text;
}

static void
test_proc_stat(void **state)
{
	struct stats_cpu cpu;

	(void)state;
	assert_true(stats_parse_proc_stat(fixture("proc_stat.txt"), &cpu));
	/* user nice system irq softirq steal; guest is inside user already */
	assert_int_equal(cpu.busy_ticks, 10132153ULL + 290696 + 3084719 + 0 + 25195 + 0);
	assert_int_equal(cpu.idle_ticks, 46828483ULL + 16683);
	/* an old kernel's four columns */
	assert_true(stats_parse_proc_stat("cpu  1 2 3 4\n", &cpu));
	assert_int_equal(cpu.busy_ticks, 6);
	assert_int_equal(cpu.idle_ticks, 4);
	assert_false(stats_parse_proc_stat("cpu0 1 2 3 4\n", &cpu));
	assert_false(stats_parse_proc_stat("cpu  1 2 x\n", &cpu));
	assert_false(stats_parse_proc_stat("", &cpu));
}

static void
test_task_stat(void **state)
{
	uint64_t ticks;

	(void)state;
	assert_true(stats_parse_task_stat(fixture("task_stat.txt"), &ticks));
	assert_int_equal(ticks, 1234 + 56);
	assert_true(stats_parse_task_stat(fixture("task_stat_parens.txt"), &ticks));
	assert_int_equal(ticks, 7 + 3);
	assert_false(stats_parse_task_stat("4242 (CPU 0/TCG R 1 2", &ticks));
	assert_false(stats_parse_task_stat("4242 (x) R 1 2 3", &ticks));
	assert_false(stats_parse_task_stat("", &ticks));
}

static void
test_meminfo_loadavg_statm(void **state)
{
	uint64_t total, avail, load, rss;

	(void)state;
	assert_true(stats_parse_meminfo(fixture("meminfo.txt"), &total, &avail));
	assert_int_equal(total, 16315208);
	assert_int_equal(avail, 9876543);
	assert_false(stats_parse_meminfo("MemTotal: 5 kB\nMemFree: 1 kB\n", &total, &avail));

	assert_true(stats_parse_loadavg(fixture("loadavg.txt"), &load));
	assert_int_equal(load, 520);
	assert_true(stats_parse_loadavg("12 1 1 1/1 1\n", &load));
	assert_int_equal(load, 12000);
	assert_false(stats_parse_loadavg("-1.00 0 0", &load));
	assert_false(stats_parse_loadavg("abc", &load));

	assert_true(stats_parse_statm(fixture("statm.txt"), &rss));
	assert_int_equal(rss, 7890);
	assert_false(stats_parse_statm("123456", &rss));
}

static bool
not_lo_tap_bridge(const char *name, void *arg)
{
	(*(int *)arg)++;
	return strcmp(name, "lo") != 0 && strncmp(name, "wrt", 3) != 0 &&
	       strcmp(name, "wrbr0") != 0;
}

static void
test_net_dev(void **state)
{
	struct stats_net net;
	int seen = 0;

	(void)state;
	assert_true(stats_parse_net_dev(fixture("net_dev.txt"), not_lo_tap_bridge, &seen, &net));
	assert_int_equal(seen, 5);
	assert_int_equal(net.rx_bytes, 123456789ULL + 100);
	assert_int_equal(net.rx_packets, 98765 + 1);
	assert_int_equal(net.tx_bytes, 987654321ULL + 200);
	assert_int_equal(net.tx_packets, 54321 + 2);
	assert_true(stats_parse_net_dev(fixture("net_dev.txt"), NULL, NULL, &net));
	assert_int_equal(net.rx_packets, 5000 + 98765 + 50 + 7 + 1);
	/* a truncated line */
	assert_false(stats_parse_net_dev("h1\nh2\n  eth0: 1 2 3\n", NULL, NULL, &net));
	assert_false(stats_parse_net_dev("h1\nh2\nnocolon 1 2\n", NULL, NULL, &net));
	assert_false(stats_parse_net_dev("h1\n", NULL, NULL, &net));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proc_stat),
		cmocka_unit_test(test_task_stat),
		cmocka_unit_test(test_meminfo_loadavg_statm),
		cmocka_unit_test(test_net_dev),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
