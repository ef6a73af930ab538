/*
 * Drawing and exporting statistics with librrd (see stats_draw.h). Runs on worker threads only,
 * one librrd call at a time.
 */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <rrd.h>

#include "stats_draw.h"

#define GRAPH_WIDTH  "640"
#define GRAPH_HEIGHT "180"

/* librrd's graphing (cairo, pango, its own option parser) is not meant for threads. */
static pthread_mutex_t rrd_lock = PTHREAD_MUTEX_INITIALIZER;

/* DEF/CDEF and the drawing or export lines of a metric; argv points into buf. */
static int
metric_args(const char *rrd, const struct stats_metric *m, bool graph, const char **argv, int argc,
	    int max, char *buf, size_t len)
{
	size_t used = 0;
	char escaped[1100];
	size_t k = 0;

	/* A ':' in the path would end the DEF's file name. */
	for (const char *p = rrd; *p != '\0' && k + 2 < sizeof(escaped); p++) {
		if (*p == ':')
			escaped[k++] = '\\';
		escaped[k++] = *p;
	}
	escaped[k] = '\0';
#define ADD(...)                                                                                   \
	do {                                                                                       \
		int n_ = snprintf(buf + used, len - used, __VA_ARGS__);                            \
		if (n_ < 0 || (size_t)n_ >= len - used || argc >= max)                             \
			return -1;                                                                 \
		argv[argc++] = buf + used;                                                         \
		used += (size_t)n_ + 1;                                                            \
	} while (0)
	for (size_t i = 0; i < 3 && m->ds[i] != NULL; i++)
		ADD("DEF:%s=%s:%s:AVERAGE", m->ds[i], escaped, m->ds[i]);
	for (size_t i = 0; i < 3 && m->series[i].name != NULL; i++) {
		const struct stats_series *s = &m->series[i];
		ADD("CDEF:s%zu=%s", i, s->rpn != NULL ? s->rpn : m->ds[0]);
		if (graph)
			ADD("LINE2:s%zu#%s:%s", i, s->color, s->legend);
		else
			ADD("XPORT:s%zu:%s", i, s->name);
	}
#undef ADD
	return argc;
}

static bool
missing(const char *rrd, const char *daemon, const char *rrd_error, char *err, size_t errlen)
{
	struct stat st;

	if ((daemon[0] == '\0' && stat(rrd, &st) != 0) ||
	    (rrd_error != NULL && strstr(rrd_error, "No such file") != NULL)) {
		snprintf(err, errlen, "no_data");
		return true;
	}
	return false;
}

int
stats_draw_png(const char *rrd, const char *daemon, const struct stats_metric *m,
	       enum stats_range range, int64_t now, unsigned char **png, size_t *len, char *err,
	       size_t errlen)
{
	const char *argv[48];
	char start[32], end[32], buf[4096];
	int argc = 0, rc = -1;

	if (missing(rrd, daemon, NULL, err, errlen))
		return -1;
	snprintf(start, sizeof(start), "%" PRId64, now - stats_range_seconds(range));
	snprintf(end, sizeof(end), "%" PRId64, now);
	argv[argc++] = "graph";
	argv[argc++] = "-";
	argv[argc++] = "--imgformat=PNG";
	argv[argc++] = "--start";
	argv[argc++] = start;
	argv[argc++] = "--end";
	argv[argc++] = end;
	argv[argc++] = "--width=" GRAPH_WIDTH;
	argv[argc++] = "--height=" GRAPH_HEIGHT;
	argv[argc++] = "--lower-limit=0";
	argv[argc++] = "--title";
	argv[argc++] = m->title;
	argv[argc++] = "--vertical-label";
	argv[argc++] = m->vlabel;
	if (daemon[0] != '\0') {
		argv[argc++] = "--daemon";
		argv[argc++] = daemon;
	}
	argc = metric_args(rrd, m, true, argv, argc, 48, buf, sizeof(buf));
	if (argc < 0) {
		snprintf(err, errlen, "graph definition too long");
		return -1;
	}
	pthread_mutex_lock(&rrd_lock);
	rrd_clear_error();
	rrd_info_t *info = rrd_graph_v(argc, (char **)argv);
	for (rrd_info_t *i = info; i != NULL; i = i->next) {
		if (strcmp(i->key, "image") == 0 && i->type == RD_I_BLO &&
		    i->value.u_blo.size > 0) {
			*png = malloc(i->value.u_blo.size);
			if (*png != NULL) {
				memcpy(*png, i->value.u_blo.ptr, i->value.u_blo.size);
				*len = i->value.u_blo.size;
				rc = 0;
			}
		}
	}
	if (rc != 0 && !missing(rrd, daemon, rrd_get_error(), err, errlen))
		snprintf(err, errlen, "rrd_graph: %s",
			 rrd_test_error() ? rrd_get_error() : "no image produced");
	rrd_info_free(info);
	rrd_clear_error();
	pthread_mutex_unlock(&rrd_lock);
	return rc;
}

json_t *
stats_draw_series(const char *rrd, const char *daemon, const struct stats_metric *m,
		  enum stats_range range, long res, int64_t now, char *err, size_t errlen)
{
	const char *argv[32];
	char start[32], end[32], buf[4096], stepbuf[32], maxrows[32];
	int argc = 0, xsize = 0;
	time_t t0 = 0, t1 = 0;
	unsigned long step = 0, cols = 0;
	char **legend = NULL;
	rrd_value_t *data = NULL;
	json_t *out = NULL;

	if (missing(rrd, daemon, NULL, err, errlen))
		return NULL;
	snprintf(start, sizeof(start), "%" PRId64, now - stats_range_seconds(range));
	snprintf(end, sizeof(end), "%" PRId64, now);
	/* One point per row of the archive that covers the range, not xport's 400 bins. */
	snprintf(stepbuf, sizeof(stepbuf), "%ld", res > 0 ? res : 1);
	snprintf(maxrows, sizeof(maxrows), "%ld",
		 stats_range_seconds(range) / (res > 0 ? res : 1) + 2);
	argv[argc++] = "xport";
	argv[argc++] = "--start";
	argv[argc++] = start;
	argv[argc++] = "--end";
	argv[argc++] = end;
	argv[argc++] = "--step";
	argv[argc++] = stepbuf;
	argv[argc++] = "--maxrows";
	argv[argc++] = maxrows;
	if (daemon[0] != '\0') {
		argv[argc++] = "--daemon";
		argv[argc++] = daemon;
	}
	argc = metric_args(rrd, m, false, argv, argc, 32, buf, sizeof(buf));
	if (argc < 0) {
		snprintf(err, errlen, "export definition too long");
		return NULL;
	}
	pthread_mutex_lock(&rrd_lock);
	rrd_clear_error();
	if (rrd_xport(argc, (char **)argv, &xsize, &t0, &t1, &step, &cols, &legend, &data) != 0) {
		if (!missing(rrd, daemon, rrd_get_error(), err, errlen))
			snprintf(err, errlen, "rrd_xport: %s", rrd_get_error());
		rrd_clear_error();
		pthread_mutex_unlock(&rrd_lock);
		return NULL;
	}
	rrd_clear_error();
	pthread_mutex_unlock(&rrd_lock);

	size_t rows = step > 0 && t1 > t0 ? (size_t)(t1 - t0) / step : 0;
	json_t *series = json_array();
	for (unsigned long col = 0; col < cols; col++) {
		json_t *points = json_array();
		for (size_t row = 0; row < rows; row++) {
			double v = data[row * cols + col];
			json_array_append_new(points, isnan(v) ? json_null() : json_real(v));
		}
		json_array_append_new(
			series, json_pack("{s:s, s:o}", "name", legend[col], "points", points));
	}
	out = json_pack("{s:I, s:I, s:I, s:s, s:o}", "start", (json_int_t)t0 + (json_int_t)step,
			"end", (json_int_t)t1, "step", (json_int_t)step, "metric", m->name,
			"series", series);
	for (unsigned long col = 0; col < cols; col++)
		free(legend[col]);
	free(legend);
	free(data);
	return out;
}
