/*
 * The agent's statistics sampler (see stats.h). A sampling round is asynchronous only where QMP
 * is involved: the round asks every running VM's QEMU for its vCPU threads and block statistics,
 * and is finished when all answers are in or its deadline passes, whichever comes first; a VM
 * whose QEMU did not answer in time is sent without those counters (the RRD records "unknown"
 * for them) instead of delaying everybody. Everything else is read from /proc and /sys when the
 * round finishes. Rounds are reference counted by their outstanding QMP requests, so a QEMU that
 * answers late (or a sampler freed meanwhile) never touches freed memory.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>
#include <net/if.h>

#include "link.h"
#include "log.h"
#include "proto.h"
#include "qmp.h"
#include "stats.h"
#include "tap.h"
#include "vm.h"

#define FILE_MAX (64 * 1024) /* /proc/net/dev of a node with a few hundred taps fits */

/* ---- parsers ---- */

static bool
parse_u64(const char **p, uint64_t *out)
{
	char *end;

	while (**p == ' ' || **p == '\t')
		(*p)++;
	if (**p < '0' || **p > '9')
		return false;
	errno = 0;
	unsigned long long v = strtoull(*p, &end, 10);
	if (errno != 0)
		return false;
	*out = v;
	*p = end;
	return true;
}

bool
stats_parse_proc_stat(const char *text, struct stats_cpu *out)
{
	/* cpu  user nice system idle iowait irq softirq steal [guest guest_nice] */
	const char *p = text;
	uint64_t f[8] = {0};
	int n = 0;

	if (strncmp(p, "cpu ", 4) != 0)
		return false;
	p += 4;
	/* Old kernels have fewer columns; at least user nice system idle are required. */
	while (n < 8 && parse_u64(&p, &f[n]))
		n++;
	if (n < 4)
		return false;
	/* guest time is already part of user time: not added again. */
	out->busy_ticks = f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
	out->idle_ticks = f[3] + f[4];
	return true;
}

bool
stats_parse_task_stat(const char *text, uint64_t *ticks)
{
	/* "pid (comm) state ppid ...": comm may hold spaces and ')', so start after the last ')'.
	 */
	const char *p = strrchr(text, ')');
	uint64_t utime = 0, stime = 0;

	if (p == NULL)
		return false;
	p++;
	/* After ")": field 3 (state) ... field 13, then utime (14) and stime (15). */
	while (*p == ' ')
		p++;
	if (*p == '\0' || *p == ' ')
		return false;
	p++; /* the one-character state */
	for (int field = 4; field <= 13; field++) {
		uint64_t skip;
		/* ppid etc. may be negative (tty_nr -1 is not, but be lenient) */
		while (*p == ' ')
			p++;
		if (*p == '-')
			p++;
		if (!parse_u64(&p, &skip))
			return false;
	}
	if (!parse_u64(&p, &utime) || !parse_u64(&p, &stime))
		return false;
	*ticks = utime + stime;
	return true;
}

static bool
meminfo_field(const char *text, const char *name, uint64_t *kb)
{
	size_t n = strlen(name);

	for (const char *line = text; line != NULL && *line != '\0';) {
		if (strncmp(line, name, n) == 0 && line[n] == ':') {
			const char *p = line + n + 1;
			return parse_u64(&p, kb);
		}
		line = strchr(line, '\n');
		if (line != NULL)
			line++;
	}
	return false;
}

bool
stats_parse_meminfo(const char *text, uint64_t *total_kb, uint64_t *available_kb)
{
	return meminfo_field(text, "MemTotal", total_kb) &&
	       meminfo_field(text, "MemAvailable", available_kb);
}

bool
stats_parse_loadavg(const char *text, uint64_t *load1_milli)
{
	/* "0.52 0.58 0.59 1/467 12345": digits, '.', up to two decimals, as the kernel prints */
	const char *p = text;
	uint64_t whole, frac = 0;
	int digits = 0;

	if (!parse_u64(&p, &whole))
		return false;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9' && digits < 3) {
			frac = frac * 10 + (uint64_t)(*p - '0');
			digits++;
			p++;
		}
	}
	if (*p != ' ' && !(*p >= '0' && *p <= '9'))
		return false;
	while (digits++ < 3)
		frac *= 10;
	*load1_milli = whole * 1000 + frac;
	return true;
}

bool
stats_parse_statm(const char *text, uint64_t *rss_pages)
{
	const char *p = text;
	uint64_t size;

	return parse_u64(&p, &size) && parse_u64(&p, rss_pages);
}

bool
stats_parse_net_dev(const char *text, stats_if_filter filter, void *arg, struct stats_net *sum)
{
	/* Two header lines, then "  name: rxbytes rxpackets errs drop fifo frame compressed
	 * multicast txbytes txpackets ..." */
	const char *line = text;
	int lines = 0;

	memset(sum, 0, sizeof(*sum));
	while (line != NULL && *line != '\0') {
		const char *next = strchr(line, '\n');
		if (lines++ >= 2) {
			const char *colon = strchr(line, ':');
			if (colon == NULL || (next != NULL && colon > next))
				return false;
			const char *name = line;
			while (*name == ' ')
				name++;
			char ifname[IFNAMSIZ];
			size_t n = (size_t)(colon - name);
			if (n == 0 || n >= sizeof(ifname))
				return false;
			memcpy(ifname, name, n);
			ifname[n] = '\0';
			const char *p = colon + 1;
			uint64_t f[10];
			for (int i = 0; i < 10; i++)
				if (!parse_u64(&p, &f[i]))
					return false;
			if (filter == NULL || filter(ifname, arg)) {
				sum->rx_bytes += f[0];
				sum->rx_packets += f[1];
				sum->tx_bytes += f[8];
				sum->tx_packets += f[9];
			}
		}
		line = next != NULL ? next + 1 : NULL;
	}
	return lines >= 2;
}

/* ---- reading files ---- */

/* Read a small file into buf (NUL-terminated); false if it cannot be read. */
static bool
read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t used = 0;

	if (fd < 0)
		return false;
	while (used + 1 < len) {
		ssize_t n = read(fd, buf + used, len - 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	close(fd);
	buf[used] = '\0';
	return used > 0;
}

static bool
read_u64(const char *path, uint64_t *v)
{
	char buf[64];
	const char *p = buf;

	return read_text(path, buf, sizeof(buf)) && parse_u64(&p, v);
}

static uint64_t
ticks_to_ms(uint64_t ticks)
{
	static long hz;

	if (hz <= 0)
		hz = sysconf(_SC_CLK_TCK);
	return hz > 0 ? ticks * 1000 / (uint64_t)hz : ticks * 10;
}

/* The node's own traffic: not loopback, not the guests' taps, not bridges (whose traffic is the
 * taps' and the uplink's again). */
static bool
node_interface(const char *ifname, void *arg)
{
	char path[128];
	struct stat st;

	(void)arg;
	if (strcmp(ifname, "lo") == 0 || strncmp(ifname, TAP_PREFIX, strlen(TAP_PREFIX)) == 0)
		return false;
	snprintf(path, sizeof(path), "/sys/class/net/%s/bridge", ifname);
	return stat(path, &st) != 0;
}

static json_t *
node_sample(void)
{
	char *buf = malloc(FILE_MAX);
	json_t *node = json_object();
	struct stats_cpu cpu;
	uint64_t a, b;
	struct stats_net net;

	if (buf == NULL || node == NULL) {
		free(buf);
		json_decref(node);
		return NULL;
	}
	if (read_text("/proc/stat", buf, FILE_MAX) && stats_parse_proc_stat(buf, &cpu)) {
		json_object_set_new(node, "cpu_busy_ms",
				    json_integer((json_int_t)ticks_to_ms(cpu.busy_ticks)));
		json_object_set_new(node, "cpu_idle_ms",
				    json_integer((json_int_t)ticks_to_ms(cpu.idle_ticks)));
	}
	if (read_text("/proc/loadavg", buf, FILE_MAX) && stats_parse_loadavg(buf, &a))
		json_object_set_new(node, "load1_milli", json_integer((json_int_t)a));
	if (read_text("/proc/meminfo", buf, FILE_MAX) && stats_parse_meminfo(buf, &a, &b)) {
		json_object_set_new(node, "mem_total_kb", json_integer((json_int_t)a));
		json_object_set_new(node, "mem_available_kb", json_integer((json_int_t)b));
	}
	if (read_text("/proc/net/dev", buf, FILE_MAX) &&
	    stats_parse_net_dev(buf, node_interface, NULL, &net)) {
		json_object_set_new(node, "net_rx_bytes", json_integer((json_int_t)net.rx_bytes));
		json_object_set_new(node, "net_tx_bytes", json_integer((json_int_t)net.tx_bytes));
		json_object_set_new(node, "net_rx_packets",
				    json_integer((json_int_t)net.rx_packets));
		json_object_set_new(node, "net_tx_packets",
				    json_integer((json_int_t)net.tx_packets));
	}
	free(buf);
	return node;
}

/* ---- rounds ---- */

struct round_vm {
	int64_t id;
	pid_t pid;
	int64_t ram_mb;
	size_t ntaps;
	char taps[VMSPEC_MAX_NICS][IFNAMSIZ];
	size_t ntids;
	pid_t tids[VMSPEC_MAX_VCPUS];
	bool cpus_ok;
	bool disk_ok;
	uint64_t rd_bytes, wr_bytes, rd_ops, wr_ops;
};

/* One sampling round. Owner: the sampler's list while it lives; freed when finished and no QMP
 * request refers to it any more. */
struct round {
	struct round *next;
	struct stats_sampler *s; /* NULL: abandoned (the sampler was freed) */
	int pending;		 /* QMP requests not yet answered */
	bool finished;
	int64_t time;
	struct event *deadline;
	size_t nvms;
	struct round_vm *vms;
};

struct req {
	struct round *r;
	size_t idx;
};

/* Owner: main(). */
struct stats_sampler {
	struct event_base *base;
	struct vms *vms;
	struct link *link;
	int interval;
	struct event *tick;
	struct round *rounds;
};

static void
round_unlink_free(struct round *r)
{
	if (r->s != NULL) {
		for (struct round **pp = &r->s->rounds; *pp != NULL; pp = &(*pp)->next) {
			if (*pp == r) {
				*pp = r->next;
				break;
			}
		}
	}
	if (r->deadline != NULL)
		event_free(r->deadline);
	free(r->vms);
	free(r);
}

static void
put_counter(json_t *o, const char *name, uint64_t v)
{
	json_object_set_new(o, name, json_integer((json_int_t)(v > (uint64_t)INT64_MAX ? 0 : v)));
}

static json_t *
vm_sample(const struct round_vm *v)
{
	json_t *o = json_pack("{s:I}", "id", (json_int_t)v->id);
	char path[128], buf[4096];
	uint64_t x;

	if (o == NULL)
		return NULL;
	put_counter(o, "ram_mb", (uint64_t)v->ram_mb);
	if (v->cpus_ok) {
		uint64_t ticks = 0;
		size_t found = 0;
		for (size_t i = 0; i < v->ntids; i++) {
			snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)v->pid,
				 (int)v->tids[i]);
			if (read_text(path, buf, sizeof(buf)) && stats_parse_task_stat(buf, &x)) {
				ticks += x;
				found++;
			}
		}
		/* A partial sum would look like a counter going backwards: all or nothing. */
		if (found == v->ntids && found > 0) {
			put_counter(o, "vcpus", found);
			put_counter(o, "cpu_ms", ticks_to_ms(ticks));
		}
	}
	snprintf(path, sizeof(path), "/proc/%d/statm", (int)v->pid);
	if (read_text(path, buf, sizeof(buf)) && stats_parse_statm(buf, &x))
		put_counter(o, "rss_kb", x * (uint64_t)(sysconf(_SC_PAGESIZE) / 1024));
	if (v->disk_ok) {
		put_counter(o, "disk_rd_bytes", v->rd_bytes);
		put_counter(o, "disk_wr_bytes", v->wr_bytes);
		put_counter(o, "disk_rd_ops", v->rd_ops);
		put_counter(o, "disk_wr_ops", v->wr_ops);
	}
	if (v->ntaps > 0) {
		/* A tap's rx is what the guest sent, its tx what the guest received. */
		static const char *const files[] = {"tx_bytes", "rx_bytes", "tx_packets",
						    "rx_packets"};
		static const char *const names[] = {"net_rx_bytes", "net_tx_bytes",
						    "net_rx_packets", "net_tx_packets"};
		for (size_t k = 0; k < 4; k++) {
			uint64_t sum = 0;
			bool all = true;
			for (size_t i = 0; i < v->ntaps && all; i++) {
				snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s",
					 v->taps[i], files[k]);
				all = read_u64(path, &x);
				sum += x;
			}
			if (all)
				put_counter(o, names[k], sum);
		}
	}
	return o;
}

static void
round_send(struct round *r)
{
	struct stats_sampler *s = r->s;
	json_t *node = node_sample();
	size_t i = 0;
	bool first = true;

	if (!link_is_up(s->link)) {
		json_decref(node);
		return;
	}
	/* At most PROTO_STATS_VMS VMs per message; the node's counters ride on the first. */
	do {
		json_t *vms = json_array();
		for (size_t n = 0; i < r->nvms && n < PROTO_STATS_VMS; i++, n++)
			json_array_append_new(vms, vm_sample(&r->vms[i]));
		json_t *msg = json_pack("{s:s, s:I, s:o}", "type", "stats", "time",
					(json_int_t)r->time, "vms", vms);
		if (msg != NULL && first && node != NULL)
			json_object_set(msg, "node", node);
		first = false;
		if (!link_send_stats(s->link, msg))
			break;
	} while (i < r->nvms);
	json_decref(node);
}

static void
round_finish(struct round *r)
{
	if (r->finished)
		return;
	r->finished = true;
	if (r->s != NULL)
		round_send(r);
	if (r->pending == 0)
		round_unlink_free(r);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct round *r = arg;
	if (r->pending > 0)
		log_debug("stats: %d QMP answers missing at the deadline", r->pending);
	round_finish(r);
}

static void
req_done(struct req *q)
{
	struct round *r = q->r;

	free(q);
	if (--r->pending > 0)
		return;
	if (!r->finished)
		round_finish(r);
	else
		round_unlink_free(r);
}

static void
on_cpus(struct qmp *qmp, const struct qmp_vcpu *vcpus, size_t n, const struct qmp_error *err,
	void *arg)
{
	struct req *q = arg;
	struct round_vm *v = &q->r->vms[q->idx];

	if (err == NULL && !q->r->finished) {
		v->ntids = 0;
		for (size_t i = 0; i < n && v->ntids < VMSPEC_MAX_VCPUS; i++)
			if (vcpus[i].thread_id > 0)
				v->tids[v->ntids++] = vcpus[i].thread_id;
		v->cpus_ok = v->ntids > 0;
	}
	req_done(q);
}

static void
on_blockstats(struct qmp *qmp, const struct qmp_blockstat *st, size_t n,
	      const struct qmp_error *err, void *arg)
{
	struct req *q = arg;
	struct round_vm *v = &q->r->vms[q->idx];

	if (err == NULL && !q->r->finished) {
		for (size_t i = 0; i < n; i++) {
			v->rd_bytes += st[i].rd_bytes;
			v->wr_bytes += st[i].wr_bytes;
			v->rd_ops += st[i].rd_ops;
			v->wr_ops += st[i].wr_ops;
		}
		v->disk_ok = true;
	}
	req_done(q);
}

static void
ask(struct round *r, size_t idx, struct qmp *qmp, bool cpus)
{
	struct req *q = malloc(sizeof(*q));
	int rc;

	if (q == NULL)
		return;
	q->r = r;
	q->idx = idx;
	r->pending++;
	rc = cpus ? qmp_query_cpus_fast(qmp, on_cpus, q)
		  : qmp_query_blockstats(qmp, on_blockstats, q);
	if (rc != 0) {
		r->pending--;
		free(q);
	}
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct stats_sampler *s = arg;
	size_t count = 0, i = 0;
	/* Half the interval, at most 2 s: a round never overlaps the next one's sending. */
	int ms = s->interval * 500 > 2000 ? 2000 : s->interval * 500;
	struct timeval deadline = {ms / 1000, (ms % 1000) * 1000};

	if (!link_is_up(s->link))
		return;
	for (struct vm *vm = s->vms->list; vm != NULL; vm = vm->next)
		count += (vm->state == VM_RUNNING || vm->state == VM_PAUSED) && vm->pid > 0;
	struct round *r = calloc(1, sizeof(*r));
	if (r == NULL || (count > 0 && (r->vms = calloc(count, sizeof(*r->vms))) == NULL)) {
		free(r);
		log_warn("stats: out of memory");
		return;
	}
	r->s = s;
	r->time = (int64_t)time(NULL);
	r->deadline = evtimer_new(s->base, on_deadline, r);
	if (r->deadline == NULL) {
		free(r->vms);
		free(r);
		return;
	}
	r->next = s->rounds;
	s->rounds = r;
	for (struct vm *vm = s->vms->list; vm != NULL && i < count; vm = vm->next) {
		if (!((vm->state == VM_RUNNING || vm->state == VM_PAUSED) && vm->pid > 0))
			continue;
		struct round_vm *v = &r->vms[i];
		v->id = vm->spec.id;
		v->pid = vm->pid;
		v->ram_mb = vm->run.ram_mb;
		for (size_t k = 0; k < vm->run.nnics && k < VMSPEC_MAX_NICS; k++)
			snprintf(v->taps[v->ntaps++], IFNAMSIZ, "%s", vm->run.nics[k].tap);
		i++;
	}
	r->nvms = i;
	/* Ask only after r->nvms is final: a failed send never calls back, a closed link may. */
	i = 0;
	for (struct vm *vm = s->vms->list; vm != NULL && i < r->nvms; vm = vm->next) {
		if (!((vm->state == VM_RUNNING || vm->state == VM_PAUSED) && vm->pid > 0))
			continue;
		if (vm->qmp != NULL && qmp_is_ready(vm->qmp)) {
			ask(r, i, vm->qmp, true);
			ask(r, i, vm->qmp, false);
		}
		i++;
	}
	if (r->pending == 0)
		round_finish(r);
	else
		evtimer_add(r->deadline, &deadline);
}

struct stats_sampler *
stats_new(struct event_base *base, struct vms *vms, struct link *link, int interval)
{
	struct stats_sampler *s = calloc(1, sizeof(*s));
	struct timeval tv = {interval < 1 ? 1 : interval, 0};

	if (s == NULL)
		return NULL;
	s->base = base;
	s->vms = vms;
	s->link = link;
	s->interval = interval < 1 ? 1 : interval;
	s->tick = event_new(base, -1, EV_PERSIST, on_tick, s);
	if (s->tick == NULL || event_add(s->tick, &tv) != 0) {
		stats_free(s);
		return NULL;
	}
	log_info("stats: sampling every %d s", s->interval);
	return s;
}

void
stats_free(struct stats_sampler *s)
{
	if (s == NULL)
		return;
	if (s->tick != NULL)
		event_free(s->tick);
	while (s->rounds != NULL) {
		struct round *r = s->rounds;
		s->rounds = r->next;
		r->s = NULL;
		r->finished = true;
		if (r->pending == 0)
			round_unlink_free(r);
		/* else: freed by the last QMP answer (qmp_free answers every request) */
	}
	free(s);
}
