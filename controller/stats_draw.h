/*
 * The statistics drawn and exported with librrd: a graph PNG of a metric (rrd_graph) and the
 * series behind it (rrd_xport). Blocking: for worker threads only (stats_graph.c, ops_stats.c).
 */
#ifndef WEBRACK_STATS_DRAW_H
#define WEBRACK_STATS_DRAW_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "stats_rrd.h"

/*
 * rrd is the file, daemon the rrdcached address or "", now the end of the range. The PNG is
 * malloc'd. The series: {start, end, step, metric, series: [{name, points: [number|null]}]}.
 * -1/NULL with err set; err is "no_data" when the object has no RRD (yet).
 */
int stats_draw_png(const char *rrd, const char *daemon, const struct stats_metric *m,
		   enum stats_range range, int64_t now, unsigned char **png, size_t *len, char *err,
		   size_t errlen) __attribute__((warn_unused_result));
/* The series are at the archive's own resolution: step seconds (stats_range_resolution()). */
json_t *stats_draw_series(const char *rrd, const char *daemon, const struct stats_metric *m,
			  enum stats_range range, long step, int64_t now, char *err, size_t errlen);

#endif
