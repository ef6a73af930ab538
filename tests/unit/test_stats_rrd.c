/*
 * Unit tests for the statistics RRDs (controller/stats_rrd.c, stats_draw.c): the archive layout
 * for the default and the smallest step, update lines from samples (missing fields, scaling,
 * overflow), the metric table against the data sources; then a real RRD in a temporary
 * directory: created from those arguments, updated, read back with rrd_fetch, the faults
 * librrd reports (same timestamp twice, time going backwards), and a graph PNG and an export
 * drawn from it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rrd.h>

#include "stats_draw.h"
#include "stats_rrd.h"

static bool
has_arg(const char **argv, int argc, const char *want)
{
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], want) == 0)
			return true;
	return false;
}

static void
test_layout(void **state)
{
	const char *argv[STATS_RRD_ARGS_MAX];
	char buf[2048];
	size_t nds;

	(void)state;
	int argc = stats_rrd_create_args(STATS_VSERVER, 10, argv, buf, sizeof(buf));
	stats_rrd_sources(STATS_VSERVER, &nds);
	assert_int_equal(argc, (int)nds + 10);
	assert_true(has_arg(argv, argc, "DS:cpu:DERIVE:60:0:U"));
	assert_true(has_arg(argv, argc, "DS:rss:GAUGE:60:0:U"));
	/* 24 h at the step, a week at 1 min, a month at 10 min, a year at 1 h, 10 years at 1 day */
	assert_true(has_arg(argv, argc, "RRA:AVERAGE:0.5:1:8640"));
	assert_true(has_arg(argv, argc, "RRA:MAX:0.5:1:8640"));
	assert_true(has_arg(argv, argc, "RRA:AVERAGE:0.5:6:10080"));
	assert_true(has_arg(argv, argc, "RRA:MAX:0.5:60:4464"));
	assert_true(has_arg(argv, argc, "RRA:AVERAGE:0.5:360:8784"));
	assert_true(has_arg(argv, argc, "RRA:MAX:0.5:8640:3660"));

	argc = stats_rrd_create_args(STATS_NODE, 1, argv, buf, sizeof(buf));
	stats_rrd_sources(STATS_NODE, &nds);
	assert_int_equal(argc, (int)nds + 10);
	assert_true(has_arg(argv, argc, "RRA:AVERAGE:0.5:1:86400"));
	assert_true(has_arg(argv, argc, "RRA:AVERAGE:0.5:60:10080"));
	assert_true(has_arg(argv, argc, "DS:load1:GAUGE:6:0:U"));

	assert_int_equal(stats_rrd_create_args(STATS_NODE, 10, argv, buf, 40), -1);
	assert_int_equal(stats_rrd_create_args(STATS_NODE, 0, argv, buf, sizeof(buf)), -1);
}

static void
test_update_line(void **state)
{
	char line[512];
	json_t *s;

	(void)state;
	s = json_pack("{s:I, s:I, s:I, s:I}", "id", 7, "cpu_ms", 1500, "rss_kb", 2, "net_rx_bytes",
		      (json_int_t)9000000000LL);
	assert_true(stats_rrd_update_line(STATS_VSERVER, 1700000000, s, line, sizeof(line)));
	/* cpu vcpus rss ram disk_rd disk_wr disk_rd_ops disk_wr_ops net_rx net_tx pkts pkts */
	assert_string_equal(line, "1700000000:1500:U:2048:U:U:U:U:U:9000000000:U:U:U");
	json_decref(s);

	s = json_pack("{s:I, s:I, s:I}", "load1_milli", 2590, "mem_total_kb", 1, "cpu_busy_ms",
		      (json_int_t)(LLONG_MAX / 2));
	assert_true(stats_rrd_update_line(STATS_NODE, 5, s, line, sizeof(line)));
	assert_string_equal(line, "5:4611686018427387903:U:2.590:1024:U:U:U:U:U");
	json_decref(s);

	/* a scaled value that would overflow is unknown, not wrapped */
	s = json_pack("{s:I}", "mem_total_kb", (json_int_t)(LLONG_MAX / 2));
	assert_true(stats_rrd_update_line(STATS_NODE, 5, s, line, sizeof(line)));
	assert_string_equal(line, "5:U:U:U:U:U:U:U:U:U");
	assert_false(stats_rrd_update_line(STATS_NODE, 5, s, line, 8));
	json_decref(s);
}

static void
test_metrics(void **state)
{
	static const char *const vs[] = {"cpu", "memory", "disk", "diskops", "net", "packets"};
	static const char *const nd[] = {"cpu", "load", "memory", "net", "packets"};
	size_t nds;

	(void)state;
	for (int k = 0; k < 2; k++) {
		enum stats_kind kind = k ? STATS_NODE : STATS_VSERVER;
		const struct stats_ds *ds = stats_rrd_sources(kind, &nds);
		size_t n = k ? 5 : 6;
		for (size_t i = 0; i < n; i++) {
			const struct stats_metric *m = stats_metric_find(kind, k ? nd[i] : vs[i]);
			assert_non_null(m);
			assert_non_null(strstr(stats_metric_names(kind), m->name));
			for (size_t d = 0; d < 3 && m->ds[d] != NULL; d++) {
				bool found = false;
				for (size_t j = 0; j < nds; j++)
					found |= strcmp(ds[j].name, m->ds[d]) == 0;
				assert_true(found);
			}
		}
	}
	assert_null(stats_metric_find(STATS_NODE, "diskops"));
	assert_null(stats_metric_find(STATS_VSERVER, "../x"));
	enum stats_kind kind;
	enum stats_range range;
	assert_true(stats_kind_parse("node", &kind));
	assert_int_equal(kind, STATS_NODE);
	assert_false(stats_kind_parse("nodes", &kind));
	assert_true(stats_range_parse("year", &range));
	assert_int_equal(stats_range_seconds(range), 366 * 86400);
	assert_int_equal(stats_range_resolution(range, 10), 3600);
	assert_int_equal(stats_range_resolution(STATS_DAY, 10), 10);
	assert_int_equal(stats_range_resolution(STATS_WEEK, 1), 60);
	assert_int_equal(stats_range_resolution(STATS_WEEK, 120), 120);
	assert_false(stats_range_parse("decade", &range));
	char path[64];
	assert_true(stats_rrd_path("/var/rrd", STATS_VSERVER, 42, path, sizeof(path)));
	assert_string_equal(path, "/var/rrd/vserver-42.rrd");
	assert_false(stats_rrd_path("/var/rrd", STATS_VSERVER, 42, path, 10));
}

static void
test_real_rrd(void **state)
{
	char dir[] = "/tmp/wt-rrd-XXXXXX";
	char path[256], buf[2048], line[512];
	const char *argv[STATS_RRD_ARGS_MAX];
	const char *up[1] = {line};
	int64_t t0 = (int64_t)time(NULL) - 600;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_true(stats_rrd_path(dir, STATS_VSERVER, 1, path, sizeof(path)));
	int argc = stats_rrd_create_args(STATS_VSERVER, 10, argv, buf, sizeof(buf));
	assert_int_equal(rrd_create_r2(path, 10, (time_t)t0 - 1, 1, NULL, NULL, argc, argv), 0);

	/* 1000 ms of CPU per 10 s = 100 ms/s = 10 % of one core */
	for (int i = 0; i <= 60; i++) {
		json_t *s =
			json_pack("{s:I, s:I}", "cpu_ms", (json_int_t)(i * 1000), "ram_mb", 256);
		assert_true(
			stats_rrd_update_line(STATS_VSERVER, t0 + i * 10, s, line, sizeof(line)));
		json_decref(s);
		assert_int_equal(rrd_update_r(path, NULL, 1, up), 0);
	}
	/* the same timestamp again, and one going backwards: refused, the file stays usable */
	rrd_clear_error();
	assert_int_not_equal(rrd_update_r(path, NULL, 1, up), 0);
	assert_non_null(strstr(rrd_get_error(), "illegal attempt to update"));
	snprintf(line, sizeof(line), "%lld:U:U:U:U:U:U:U:U:U:U:U:U", (long long)t0);
	rrd_clear_error();
	assert_int_not_equal(rrd_update_r(path, NULL, 1, up), 0);
	rrd_clear_error();

	time_t start = (time_t)t0 + 100, end = (time_t)t0 + 500;
	unsigned long step = 10, nds;
	char **names;
	rrd_value_t *data;
	assert_int_equal(rrd_fetch_r(path, "AVERAGE", &start, &end, &step, &nds, &names, &data), 0);
	assert_int_equal(step, 10);
	assert_string_equal(names[0], "cpu");
	assert_true(fabs(data[0] - 100.0) < 0.001);
	assert_true(fabs(data[3] - 256.0 * 1048576) < 1);
	for (unsigned long i = 0; i < nds; i++)
		free(names[i]);
	free(names);
	free(data);

	/* a graph and the numbers behind it */
	unsigned char *png = NULL;
	size_t len = 0;
	char err[256] = "";
	const struct stats_metric *m = stats_metric_find(STATS_VSERVER, "cpu");
	assert_int_equal(
		stats_draw_png(path, "", m, STATS_DAY, t0 + 600, &png, &len, err, sizeof(err)), 0);
	assert_true(len > 1000);
	assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
	free(png);
	json_t *x = stats_draw_series(path, "", m, STATS_DAY, 10, t0 + 600, err, sizeof(err));
	assert_non_null(x);
	json_t *series = json_array_get(json_object_get(x, "series"), 0);
	assert_string_equal(json_string_value(json_object_get(series, "name")), "cpu_percent");
	json_t *points = json_object_get(series, "points");
	bool ten = false;
	for (size_t i = 0; i < json_array_size(points); i++)
		ten |= json_is_real(json_array_get(points, i)) &&
		       fabs(json_real_value(json_array_get(points, i)) - 10.0) < 0.01;
	assert_true(ten);
	json_decref(x);

	/* no RRD yet: "no_data", not an error */
	assert_true(stats_rrd_path(dir, STATS_VSERVER, 2, path, sizeof(path)));
	assert_null(stats_draw_series(path, "", m, STATS_DAY, 10, t0, err, sizeof(err)));
	assert_string_equal(err, "no_data");
	assert_int_not_equal(
		stats_draw_png(path, "", m, STATS_DAY, t0, &png, &len, err, sizeof(err)), 0);
	assert_string_equal(err, "no_data");

	assert_true(stats_rrd_path(dir, STATS_VSERVER, 1, path, sizeof(path)));
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_update_line),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_real_rrd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
