/*
 * RRD layout and writer (see stats_rrd.h). Rates are the RRD's business: the agents send
 * counters that only grow, stored as DERIVE with a minimum of 0, so a counter that starts again
 * from zero (a restarted QEMU, a re-created tap) is one unknown sample instead of a spike.
 *
 * The writer groups a stats message's updates into one job for the worker pool. Each update is
 * independent: a failing object (no space to create its file, a timestamp not newer than its
 * last one) is logged with its name and the rest of the batch and every later batch go on.
 * Through rrdcached the worker threads take turns on librrd's one client connection.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <rrd.h>
#include <rrd_client.h>

#include "log.h"
#include "server.h"
#include "stats_rrd.h"
#include "workq.h"

#define ERRORS_PER_BATCH 5 /* log lines per failing batch; the rest are counted */
#define REPORT_SECONDS	 60
#define HEARTBEAT_STEPS	 6 /* a DS without samples for this many steps is unknown */

static const char *const kind_names[] = {[STATS_VSERVER] = "vserver", [STATS_NODE] = "node"};

const char *
stats_kind_name(enum stats_kind kind)
{
	return kind == STATS_NODE ? "node" : "vserver";
}

bool
stats_kind_parse(const char *name, enum stats_kind *kind)
{
	for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++) {
		if (strcmp(name, kind_names[i]) == 0) {
			*kind = (enum stats_kind)i;
			return true;
		}
	}
	return false;
}

static const struct stats_ds vserver_ds[] = {
	{"cpu", "DERIVE", "cpu_ms", 1}, /* ms of CPU per second: 1000 = one core busy */
	{"vcpus", "GAUGE", "vcpus", 1},
	{"rss", "GAUGE", "rss_kb", 1024},    /* bytes */
	{"ram", "GAUGE", "ram_mb", 1048576}, /* bytes */
	{"disk_rd", "DERIVE", "disk_rd_bytes", 1},
	{"disk_wr", "DERIVE", "disk_wr_bytes", 1},
	{"disk_rd_ops", "DERIVE", "disk_rd_ops", 1},
	{"disk_wr_ops", "DERIVE", "disk_wr_ops", 1},
	{"net_rx", "DERIVE", "net_rx_bytes", 1},
	{"net_tx", "DERIVE", "net_tx_bytes", 1},
	{"net_rx_pkts", "DERIVE", "net_rx_packets", 1},
	{"net_tx_pkts", "DERIVE", "net_tx_packets", 1},
};

static const struct stats_ds node_ds[] = {
	{"cpu_busy", "DERIVE", "cpu_busy_ms", 1},
	{"cpu_idle", "DERIVE", "cpu_idle_ms", 1},
	{"load1", "GAUGE", "load1_milli", -1000},
	{"mem_total", "GAUGE", "mem_total_kb", 1024},
	{"mem_avail", "GAUGE", "mem_available_kb", 1024},
	{"net_rx", "DERIVE", "net_rx_bytes", 1},
	{"net_tx", "DERIVE", "net_tx_bytes", 1},
	{"net_rx_pkts", "DERIVE", "net_rx_packets", 1},
	{"net_tx_pkts", "DERIVE", "net_tx_packets", 1},
};

const struct stats_ds *
stats_rrd_sources(enum stats_kind kind, size_t *n)
{
	if (kind == STATS_NODE) {
		*n = sizeof(node_ds) / sizeof(node_ds[0]);
		return node_ds;
	}
	*n = sizeof(vserver_ds) / sizeof(vserver_ds[0]);
	return vserver_ds;
}

/* Archive resolutions (seconds per row) and how long each covers. */
static const struct {
	long resolution, covers;
} archives[] = {
	{0, 86400},		   /* the step itself, 24 h */
	{60, 7 * 86400},	   /* 1 min, a week */
	{600, 31 * 86400},	   /* 10 min, a month */
	{3600, 366 * 86400},	   /* 1 h, a year */
	{86400, 10 * 366 * 86400}, /* 1 day, ten years */
};

int
stats_rrd_create_args(enum stats_kind kind, int step, const char **argv, char *buf, size_t buflen)
{
	size_t nds, used = 0;
	const struct stats_ds *ds = stats_rrd_sources(kind, &nds);
	int argc = 0;

	if (step < 1)
		return -1;
#define ADD(...)                                                                                   \
	do {                                                                                       \
		int k_ = snprintf(buf + used, buflen - used, __VA_ARGS__);                         \
		if (k_ < 0 || (size_t)k_ >= buflen - used || argc >= STATS_RRD_ARGS_MAX)           \
			return -1;                                                                 \
		argv[argc++] = buf + used;                                                         \
		used += (size_t)k_ + 1;                                                            \
	} while (0)
	for (size_t i = 0; i < nds; i++)
		ADD("DS:%s:%s:%d:0:U", ds[i].name, ds[i].type, step * HEARTBEAT_STEPS);
	for (size_t i = 0; i < sizeof(archives) / sizeof(archives[0]); i++) {
		long pdp = archives[i].resolution / step;
		if (pdp < 1)
			pdp = 1;
		long rows = archives[i].covers / (pdp * step);
		ADD("RRA:AVERAGE:0.5:%ld:%ld", pdp, rows);
		ADD("RRA:MAX:0.5:%ld:%ld", pdp, rows);
	}
#undef ADD
	return argc;
}

bool
stats_rrd_update_line(enum stats_kind kind, int64_t time, const json_t *sample, char *buf,
		      size_t len)
{
	size_t nds, used;
	const struct stats_ds *ds = stats_rrd_sources(kind, &nds);
	int k = snprintf(buf, len, "%" PRId64, time);

	if (k < 0 || (size_t)k >= len)
		return false;
	used = (size_t)k;
	for (size_t i = 0; i < nds; i++) {
		json_t *v = json_object_get(sample, ds[i].field);
		if (!json_is_integer(v) || json_integer_value(v) < 0) {
			k = snprintf(buf + used, len - used, ":U");
		} else {
			long long x = json_integer_value(v);
			if (ds[i].scale < 0)
				k = snprintf(buf + used, len - used, ":%lld.%03lld",
					     x / -ds[i].scale, x % -ds[i].scale);
			else if (x > LLONG_MAX / ds[i].scale)
				k = snprintf(buf + used, len - used, ":U");
			else
				k = snprintf(buf + used, len - used, ":%lld", x * ds[i].scale);
		}
		if (k < 0 || (size_t)k >= len - used)
			return false;
		used += (size_t)k;
	}
	return true;
}

bool
stats_rrd_path(const char *rrd_dir, enum stats_kind kind, int64_t id, char *buf, size_t len)
{
	int k = snprintf(buf, len, "%s/%s-%" PRId64 ".rrd", rrd_dir, stats_kind_name(kind), id);
	return k > 0 && (size_t)k < len;
}

/* ---- metrics ---- */

static const struct stats_metric metrics[] = {
	{STATS_VSERVER,
	 "cpu",
	 "CPU",
	 "% of one core",
	 {"cpu"},
	 {{"cpu_percent", "cpu,10,/", "vCPUs busy", "D62728"}}},
	{STATS_VSERVER,
	 "memory",
	 "Memory",
	 "bytes",
	 {"rss", "ram"},
	 {{"rss_bytes", "rss", "resident (QEMU)", "1F77B4"},
	  {"ram_bytes", "ram", "configured", "7F7F7F"}}},
	{STATS_VSERVER,
	 "disk",
	 "Disk throughput",
	 "bytes/s",
	 {"disk_rd", "disk_wr"},
	 {{"read_bytes_per_s", "disk_rd", "read", "2CA02C"},
	  {"write_bytes_per_s", "disk_wr", "write", "FF7F0E"}}},
	{STATS_VSERVER,
	 "diskops",
	 "Disk operations",
	 "ops/s",
	 {"disk_rd_ops", "disk_wr_ops"},
	 {{"read_ops_per_s", "disk_rd_ops", "reads", "2CA02C"},
	  {"write_ops_per_s", "disk_wr_ops", "writes", "FF7F0E"}}},
	{STATS_VSERVER,
	 "net",
	 "Network traffic",
	 "bytes/s",
	 {"net_rx", "net_tx"},
	 {{"rx_bytes_per_s", "net_rx", "received", "1F77B4"},
	  {"tx_bytes_per_s", "net_tx", "sent", "9467BD"}}},
	{STATS_VSERVER,
	 "packets",
	 "Network packets",
	 "packets/s",
	 {"net_rx_pkts", "net_tx_pkts"},
	 {{"rx_packets_per_s", "net_rx_pkts", "received", "1F77B4"},
	  {"tx_packets_per_s", "net_tx_pkts", "sent", "9467BD"}}},
	{STATS_NODE,
	 "cpu",
	 "CPU",
	 "% of all cores",
	 {"cpu_busy", "cpu_idle"},
	 {{"cpu_percent", "cpu_busy,cpu_busy,cpu_idle,+,/,100,*", "busy", "D62728"}}},
	{STATS_NODE,
	 "load",
	 "Load",
	 "runnable tasks",
	 {"load1"},
	 {{"load1", "load1", "1-minute load", "8C564B"}}},
	{STATS_NODE,
	 "memory",
	 "Memory",
	 "bytes",
	 {"mem_total", "mem_avail"},
	 {{"used_bytes", "mem_total,mem_avail,-", "used", "1F77B4"},
	  {"total_bytes", "mem_total", "total", "7F7F7F"}}},
	{STATS_NODE,
	 "net",
	 "Network traffic",
	 "bytes/s",
	 {"net_rx", "net_tx"},
	 {{"rx_bytes_per_s", "net_rx", "received", "1F77B4"},
	  {"tx_bytes_per_s", "net_tx", "sent", "9467BD"}}},
	{STATS_NODE,
	 "packets",
	 "Network packets",
	 "packets/s",
	 {"net_rx_pkts", "net_tx_pkts"},
	 {{"rx_packets_per_s", "net_rx_pkts", "received", "1F77B4"},
	  {"tx_packets_per_s", "net_tx_pkts", "sent", "9467BD"}}},
};

const struct stats_metric *
stats_metric_find(enum stats_kind kind, const char *name)
{
	for (size_t i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++)
		if (metrics[i].kind == kind && strcmp(metrics[i].name, name) == 0)
			return &metrics[i];
	return NULL;
}

const char *
stats_metric_names(enum stats_kind kind)
{
	return kind == STATS_NODE ? "cpu, load, memory, net, packets"
				  : "cpu, memory, disk, diskops, net, packets";
}

static const char *const range_names[] = {
	[STATS_DAY] = "day", [STATS_WEEK] = "week", [STATS_MONTH] = "month", [STATS_YEAR] = "year"};

bool
stats_range_parse(const char *name, enum stats_range *range)
{
	for (size_t i = 0; i < sizeof(range_names) / sizeof(range_names[0]); i++) {
		if (strcmp(name, range_names[i]) == 0) {
			*range = (enum stats_range)i;
			return true;
		}
	}
	return false;
}

long
stats_range_seconds(enum stats_range range)
{
	switch (range) {
	case STATS_DAY:
		return 86400;
	case STATS_WEEK:
		return 7 * 86400;
	case STATS_MONTH:
		return 31 * 86400;
	case STATS_YEAR:
		return 366 * 86400;
	}
	return 86400;
}

long
stats_range_resolution(enum stats_range range, int step)
{
	long res = archives[range < STATS_YEAR ? (size_t)range : 3].resolution;
	long pdp = res / (step > 0 ? step : 1);

	return (pdp < 1 ? 1 : pdp) * (step > 0 ? step : 1);
}

/* ---- the writer ---- */

/* Owner: main() through the server (srv->stats_writer). Counters and jobs: loop thread only;
 * the client pool: under lock, used by worker threads. */
struct stats_writer {
	struct server *srv;
	char *rrd_dir;
	char *daemon; /* NULL: librrd directly */
	int step;
	int jobs;
	size_t queued; /* updates in submitted, unfinished batches */
	uint64_t applied, failed, dropped;
	time_t drop_logged;
	time_t reported;
	pthread_mutex_t lock; /* the rrdcached connection (worker threads) */
};

struct batch {
	struct stats_writer *w;
	struct stats_update *items;
	size_t n;
};

static void
take_error(struct stats_update *u, const char *what)
{
	int saved = errno;
	const char *e = rrd_get_error();

	/* Some librrd paths (a short write on a full disk) fail without an error text. */
	snprintf(u->err, sizeof(u->err), "%s: %s", what,
		 e != NULL && *e ? e
		 : saved != 0	 ? strerror(saved)
				 : "failed");
	rrd_clear_error();
}

/* The bytes an RRD of this layout takes (the archives' rows; the header is small). */
static uint64_t
rrd_size(enum stats_kind kind, int step)
{
	size_t nds;
	uint64_t rows = 0;

	stats_rrd_sources(kind, &nds);
	for (size_t i = 0; i < sizeof(archives) / sizeof(archives[0]); i++) {
		long pdp = archives[i].resolution / step < 1 ? 1 : archives[i].resolution / step;
		rows += 2 * (uint64_t)(archives[i].covers / (pdp * step));
	}
	return rows * nds * sizeof(double);
}

/* librrd fails a short write on a full disk without an error text: say what happened. */
static void
explain_create_failure(struct stats_writer *w, struct stats_update *u)
{
	struct statvfs vfs;

	if (statvfs(w->rrd_dir, &vfs) != 0)
		return;
	uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	if (avail < rrd_size(u->kind, w->step))
		snprintf(u->err, sizeof(u->err),
			 "create: No space left on device (%" PRIu64 " KiB free in %s, the RRD "
			 "needs %" PRIu64 " KiB)",
			 avail / 1024, w->rrd_dir, rrd_size(u->kind, w->step) / 1024);
}

static void
write_direct(struct stats_writer *w, struct stats_update *u, const char *path)
{
	struct stat st;
	const char *argv[STATS_RRD_ARGS_MAX];
	char buf[2048];
	const char *line = u->line;

	rrd_clear_error();
	errno = 0;
	if (stat(path, &st) != 0) {
		errno = 0;
		int argc = stats_rrd_create_args(u->kind, w->step, argv, buf, sizeof(buf));
		/* no_overwrite: two batches racing for a new object create it once */
		if (argc < 0 || rrd_create_r2(path, (unsigned long)w->step, (time_t)u->time - 1, 1,
					      NULL, NULL, argc, argv) != 0) {
			take_error(u, "create");
			explain_create_failure(w, u);
			/* Created meanwhile by another batch: fine. Else a failed create
			 * (disk full) may leave a stub that every later update would trip
			 * over: remove it, the next sample tries again. */
			if (strstr(u->err, "exists") == NULL) {
				unlink(path);
				return;
			}
			u->err[0] = '\0';
		}
	}
	if (rrd_update_r(path, NULL, 1, &line) != 0)
		take_error(u, "update");
}

static void
write_cached(struct stats_writer *w, struct stats_update *u, const char *path)
{
	const char *line = u->line;

	rrd_clear_error();
	if (rrdc_update(path, 1, &line) == 0)
		return;
	const char *e = rrd_get_error();
	if (e == NULL || (strstr(e, "No such file") == NULL && strstr(e, "stat") == NULL)) {
		take_error(u, "rrdcached update");
		return;
	}
	const char *argv[STATS_RRD_ARGS_MAX];
	char buf[2048];
	int argc = stats_rrd_create_args(u->kind, w->step, argv, buf, sizeof(buf));
	rrd_clear_error();
	if (argc < 0 ||
	    rrdc_create(path, (unsigned long)w->step, (time_t)u->time - 1, 1, argc, argv) != 0) {
		take_error(u, "rrdcached create");
		return;
	}
	if (rrdc_update(path, 1, &line) != 0)
		take_error(u, "rrdcached update");
}

static void
batch_work(void *arg)
{
	struct batch *b = arg;
	struct stats_writer *w = b->w;
	char path[1024];

	/* librrd has one rrdcached connection per process: one batch at a time uses it. */
	if (w->daemon != NULL) {
		pthread_mutex_lock(&w->lock);
		rrd_clear_error();
		if (!rrdc_is_connected(w->daemon) && rrdc_connect(w->daemon) != 0) {
			for (size_t i = 0; i < b->n; i++)
				take_error(&b->items[i], "cannot connect to rrdcached");
			pthread_mutex_unlock(&w->lock);
			return;
		}
	}
	for (size_t i = 0; i < b->n; i++) {
		struct stats_update *u = &b->items[i];
		if (!stats_rrd_path(w->rrd_dir, u->kind, u->id, path, sizeof(path))) {
			snprintf(u->err, sizeof(u->err), "path too long");
			continue;
		}
		if (w->daemon != NULL)
			write_cached(w, u, path);
		else
			write_direct(w, u, path);
	}
	if (w->daemon != NULL)
		pthread_mutex_unlock(&w->lock);
}

static void
batch_done(void *arg)
{
	struct batch *b = arg;
	struct stats_writer *w = b->w;
	size_t failed = 0;

	w->jobs--;
	w->queued -= b->n;
	for (size_t i = 0; i < b->n; i++) {
		struct stats_update *u = &b->items[i];
		if (u->err[0] == '\0') {
			w->applied++;
			continue;
		}
		w->failed++;
		if (failed++ < ERRORS_PER_BATCH)
			log_warn("stats: %s %" PRId64 ": %s (sample at %" PRId64 " skipped)",
				 stats_kind_name(u->kind), u->id, u->err, u->time);
	}
	time_t now = time(NULL);
	if (now - w->reported >= REPORT_SECONDS) {
		/* bench/stats reads these lines: cumulative counts, once a minute */
		log_info("stats: %" PRIu64 " RRD updates applied, %" PRIu64 " failed, %" PRIu64
			 " batches dropped",
			 w->applied, w->failed, w->dropped);
		w->reported = now;
	}
	if (failed > ERRORS_PER_BATCH)
		log_warn("stats: %zu more RRD updates of this batch failed",
			 failed - ERRORS_PER_BATCH);
	free(b->items);
	free(b);
}

bool
stats_writer_submit(struct stats_writer *w, struct stats_update *items, size_t n)
{
	struct batch *b;

	if (n == 0) {
		free(items);
		return true;
	}
	if (w->queued + n > STATS_WRITER_MAX_QUEUED || (b = malloc(sizeof(*b))) == NULL) {
		time_t now = time(NULL);
		w->dropped++;
		if (now != w->drop_logged) {
			log_warn(
				"stats: RRD writes fall behind (%zu updates in %d batches queued): "
				"%zu samples dropped (%" PRIu64 " batches so far)",
				w->queued, w->jobs, n, w->dropped);
			w->drop_logged = now;
		}
		free(items);
		return false;
	}
	b->w = w;
	b->items = items;
	b->n = n;
	if (!workq_submit(w->srv->workq, batch_work, batch_done, b)) {
		w->dropped++;
		free(items);
		free(b);
		return false;
	}
	w->jobs++;
	w->queued += n;
	return true;
}

/* mkdir -p with mode 0750 for what it creates. */
static bool
make_dirs(const char *dir)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return false;
	}
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0750) != 0 && errno != EEXIST)
			return false;
		*p = '/';
	}
	return mkdir(path, 0750) == 0 || errno == EEXIST;
}

struct stats_writer *
stats_writer_new(struct server *srv)
{
	const struct settings *s = &srv->settings;
	struct stats_writer *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	w->srv = srv;
	w->step = (int)s->stats_step;
	w->rrd_dir = strdup(s->rrd_dir);
	w->daemon = s->rrdcached_address != NULL && *s->rrdcached_address
			    ? strdup(s->rrdcached_address)
			    : NULL;
	pthread_mutex_init(&w->lock, NULL);
	if (w->rrd_dir == NULL) {
		stats_writer_free(w);
		return NULL;
	}
	if (w->daemon == NULL && !make_dirs(w->rrd_dir))
		log_warn("stats: cannot create rrd_dir %s: %s; no statistics are written",
			 w->rrd_dir, strerror(errno));
	log_info("stats: RRDs in %s%s%s, step %d s", w->rrd_dir,
		 w->daemon ? " through rrdcached at " : "", w->daemon ? w->daemon : "", w->step);
	return w;
}

/* Call after the worker pool is drained (workq_free ran every completion). */
void
stats_writer_free(struct stats_writer *w)
{
	if (w == NULL)
		return;
	if (w->daemon != NULL)
		rrdc_disconnect();
	pthread_mutex_destroy(&w->lock);
	free(w->rrd_dir);
	free(w->daemon);
	free(w);
}

void
stats_writer_counts(const struct stats_writer *w, struct stats_writer_counts *out)
{
	out->applied = w->applied;
	out->failed = w->failed;
	out->dropped = w->dropped;
}

const char *
stats_writer_daemon(const struct stats_writer *w)
{
	return w->daemon != NULL ? w->daemon : "";
}
