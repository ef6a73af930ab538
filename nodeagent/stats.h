/*
 * The statistics sampler of the node agent. Every stats_interval seconds it reads the node's
 * counters (/proc/stat, /proc/loadavg, /proc/meminfo, /proc/net/dev) and, per running VM, the
 * CPU time of its vCPU threads (thread ids from QMP query-cpus-fast, times from
 * /proc/PID/task/TID/stat), the QEMU process's RSS, query-blockstats and its taps' counters, and
 * sends them as "stats" messages (common/proto.h). Only counters and gauges are sent; the
 * controller's RRDs turn them into rates. Nothing is buffered while the link is down.
 *
 * The parsers are separate, pure functions so that the unit tests can feed them fixtures.
 */
#ifndef WEBRACK_STATS_H
#define WEBRACK_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct link;
struct vms;

/* ---- parsers (text of a /proc or /sys file in, numbers out; false if malformed) ---- */

struct stats_cpu {
	uint64_t busy_ticks; /* user + nice + system + irq + softirq + steal */
	uint64_t idle_ticks; /* idle + iowait */
};
/* The aggregate "cpu " line of /proc/stat. */
bool stats_parse_proc_stat(const char *text, struct stats_cpu *out)
	__attribute__((warn_unused_result));

/* utime + stime (fields 14 and 15) of /proc/PID[/task/TID]/stat, in clock ticks. */
bool stats_parse_task_stat(const char *text, uint64_t *ticks) __attribute__((warn_unused_result));

/* MemTotal and MemAvailable of /proc/meminfo, in kB. */
bool stats_parse_meminfo(const char *text, uint64_t *total_kb, uint64_t *available_kb)
	__attribute__((warn_unused_result));

/* The 1-minute load of /proc/loadavg, times 1000. */
bool stats_parse_loadavg(const char *text, uint64_t *load1_milli)
	__attribute__((warn_unused_result));

/* The resident pages (second field) of /proc/PID/statm. */
bool stats_parse_statm(const char *text, uint64_t *rss_pages) __attribute__((warn_unused_result));

struct stats_net {
	uint64_t rx_bytes, rx_packets, tx_bytes, tx_packets;
};
/* Which /proc/net/dev interfaces count (the node: not lo, not taps, not bridges). */
typedef bool (*stats_if_filter)(const char *ifname, void *arg);
/* Sum the interfaces of /proc/net/dev that filter accepts (NULL: all). */
bool stats_parse_net_dev(const char *text, stats_if_filter filter, void *arg, struct stats_net *sum)
	__attribute__((warn_unused_result));

/* ---- the sampler ---- */

struct stats_sampler;

/* interval in seconds (>= 1). vms and link must outlive the sampler. */
struct stats_sampler *stats_new(struct event_base *base, struct vms *vms, struct link *link,
				int interval);
/* Stop sampling; a round still waiting for QMP answers is abandoned safely. */
void stats_free(struct stats_sampler *s);

#endif
