/*
 * The statistics RRDs: their layout (one file per object, its data sources and archives), the
 * metrics drawn from them, and the writer that applies the agents' samples through librrd or
 * rrdcached on the worker pool. Layout and line building are pure functions (unit-tested); the
 * writer never blocks the event loop and reports faults (full disk, duplicate or backward
 * timestamps) per object in the log, then carries on.
 */
#ifndef WEBRACK_STATS_RRD_H
#define WEBRACK_STATS_RRD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct server;
struct settings;

enum stats_kind { STATS_VSERVER, STATS_NODE };

const char *stats_kind_name(enum stats_kind kind);
bool stats_kind_parse(const char *name, enum stats_kind *kind) __attribute__((warn_unused_result));

/* One data source: its RRD name and type, and the message field it comes from. */
struct stats_ds {
	const char *name;  /* DS name in the RRD (<= 19 characters) */
	const char *type;  /* GAUGE or DERIVE (min 0: a reset reads as unknown, not a spike) */
	const char *field; /* field of the "stats" message (node or vms[]) */
	long long scale;   /* stored value = field * scale, or field / -scale when negative */
};

/* The data sources of a kind's RRD, in file order; *n entries. */
const struct stats_ds *stats_rrd_sources(enum stats_kind kind, size_t *n);

#define STATS_RRD_ARGS_MAX 32

/*
 * The DS and RRA definitions for rrd_create with the given step: AVERAGE and MAX archives
 * covering 24 h at the step, a week at 1 min, a month at 10 min, a year at 1 h and ten years
 * at 1 day. argv points into buf. Returns argc, or -1 when buf is too small.
 */
int stats_rrd_create_args(enum stats_kind kind, int step, const char **argv, char *buf,
			  size_t buflen) __attribute__((warn_unused_result));

/* "TIME:v1:v2:..." for rrd_update from a sample object ("U" for a field it lacks). */
bool stats_rrd_update_line(enum stats_kind kind, int64_t time, const json_t *sample, char *buf,
			   size_t len) __attribute__((warn_unused_result));

/* rrd_dir/KIND-ID.rrd */
bool stats_rrd_path(const char *rrd_dir, enum stats_kind kind, int64_t id, char *buf, size_t len)
	__attribute__((warn_unused_result));

/* ---- metrics (what graphs and stats-get show) ---- */

struct stats_series {
	const char *name;   /* in stats-get results */
	const char *rpn;    /* CDEF over the DS names, or NULL: the first ds itself */
	const char *legend; /* graph legend */
	const char *color;  /* RRGGBB */
};

struct stats_metric {
	enum stats_kind kind;
	const char *name;
	const char *title;
	const char *vlabel;
	const char *ds[3]; /* the DS the series need (DEF'd by name) */
	struct stats_series series[3];
};

/* NULL when the kind has no such metric. */
const struct stats_metric *stats_metric_find(enum stats_kind kind, const char *name);
/* Comma-separated metric names of a kind, for error messages and docs. */
const char *stats_metric_names(enum stats_kind kind);

enum stats_range { STATS_DAY, STATS_WEEK, STATS_MONTH, STATS_YEAR };
bool stats_range_parse(const char *name, enum stats_range *range)
	__attribute__((warn_unused_result));
long stats_range_seconds(enum stats_range range);
/* The resolution of the archive that covers range (day: the step itself, week: 1 min, ...). */
long stats_range_resolution(enum stats_range range, int step);

/* ---- the writer ---- */

/* One RRD update of a batch. */
struct stats_update {
	enum stats_kind kind;
	int64_t id;
	int64_t time;
	char line[512];
	char err[256]; /* filled by the worker on failure */
};

/* Updates queued beyond which new batches are dropped (and the drop is logged): about a
 * minute of 1,000 vServers at a 10 s step. */
#define STATS_WRITER_MAX_QUEUED 10000

struct stats_writer;

struct stats_writer *stats_writer_new(struct server *srv) __attribute__((warn_unused_result));
void stats_writer_free(struct stats_writer *w);

/* Apply n updates on the worker pool; takes ownership of items (malloc'd). false: dropped. */
bool stats_writer_submit(struct stats_writer *w, struct stats_update *items, size_t n);

/* Counters for the benchmark and the log: updates applied and failed, batches dropped. */
struct stats_writer_counts {
	uint64_t applied, failed, dropped;
};
void stats_writer_counts(const struct stats_writer *w, struct stats_writer_counts *out);

/* The rrdcached address ("" when writing directly), for rrd_graph/rrd_xport's --daemon. */
const char *stats_writer_daemon(const struct stats_writer *w);

#endif
