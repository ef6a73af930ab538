/*
 * Node inventory probes. Everything read from /sys, /proc or QEMU's output is parsed strictly and
 * with fixed-size buffers; a probe that fails leaves a clear reason rather than a guess, except
 * where the protocol has a neutral value (no QEMU answer: empty version).
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "agent_settings.h"
#include "inventory.h"
#include "log.h"

static bool
parse_cpu_number(const char **p, int *out)
{
	long n = 0;

	if (!isdigit((unsigned char)**p))
		return false;
	while (isdigit((unsigned char)**p)) {
		n = n * 10 + (**p - '0');
		if (n >= INVENTORY_MAX_CPUS)
			return false;
		(*p)++;
	}
	*out = (int)n;
	return true;
}

bool
inventory_parse_cpulist(const char *text, bool set[INVENTORY_MAX_CPUS], int *count, char *why,
			size_t whylen)
{
	const char *p = text;

	memset(set, 0, INVENTORY_MAX_CPUS * sizeof(bool));
	*count = 0;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0' || *p == '\n') {
		snprintf(why, whylen, "empty core list");
		return false;
	}
	for (;;) {
		int lo, hi;
		const char *start = p;

		if (!parse_cpu_number(&p, &lo)) {
			snprintf(why, whylen, "'%.32s': expected a core number below %d", start,
				 INVENTORY_MAX_CPUS);
			return false;
		}
		hi = lo;
		if (*p == '-') {
			p++;
			if (!parse_cpu_number(&p, &hi)) {
				snprintf(why, whylen, "'%.32s': expected a core number below %d",
					 start, INVENTORY_MAX_CPUS);
				return false;
			}
			if (hi < lo) {
				snprintf(why, whylen, "'%.*s': range runs backwards",
					 (int)(p - start), start);
				return false;
			}
		}
		for (int c = lo; c <= hi; c++) {
			if (set[c]) {
				snprintf(why, whylen, "core %d is listed twice", c);
				return false;
			}
			set[c] = true;
			(*count)++;
		}
		if (*p != ',')
			break;
		p++;
	}
	while (*p == ' ' || *p == '\t' || *p == '\n')
		p++;
	if (*p != '\0') {
		snprintf(why, whylen, "'%.32s': unexpected text in core list", p);
		return false;
	}
	return true;
}

/* Read a small text file whole; false with why on any error or if it does not fit. */
static bool
read_small_file(const char *path, char *buf, size_t len, char *why, size_t whylen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t used = 0;

	if (fd < 0) {
		snprintf(why, whylen, "cannot open %s: %s", path, strerror(errno));
		return false;
	}
	for (;;) {
		ssize_t n = read(fd, buf + used, len - 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(why, whylen, "cannot read %s: %s", path, strerror(errno));
			close(fd);
			return false;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used == len - 1) {
			snprintf(why, whylen, "%s is larger than %zu bytes", path, len - 1);
			close(fd);
			return false;
		}
	}
	close(fd);
	buf[used] = '\0';
	return true;
}

bool
inventory_online_cores(const char *path, struct inventory_cores *c, char *why, size_t whylen)
{
	char text[4096], inner[200];

	memset(c, 0, sizeof(*c));
	if (read_small_file(path, text, sizeof(text), inner, sizeof(inner))) {
		if (!inventory_parse_cpulist(text, c->online, &c->online_count, inner,
					     sizeof(inner))) {
			snprintf(why, whylen, "%s: %s", path, inner);
			return false;
		}
		return true;
	}
	/* No sysfs (containers, odd kernels): cores 0..n-1 are the best we know. */
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1 || n > INVENTORY_MAX_CPUS) {
		snprintf(why, whylen, "%s; and sysconf gives %ld online CPUs", inner, n);
		return false;
	}
	for (long i = 0; i < n; i++)
		c->online[i] = true;
	c->online_count = (int)n;
	return true;
}

/* Parse one configured list and check every core is online. */
static bool
parse_config_list(const struct inventory_cores *c, const char *key, const char *text,
		  bool set[INVENTORY_MAX_CPUS], int *count, char *why, size_t whylen)
{
	char inner[200];

	if (!inventory_parse_cpulist(text, set, count, inner, sizeof(inner))) {
		snprintf(why, whylen, "%s: %s", key, inner);
		return false;
	}
	for (int i = 0; i < INVENTORY_MAX_CPUS; i++) {
		if (set[i] && !c->online[i]) {
			snprintf(why, whylen, "%s: core %d is not online", key, i);
			return false;
		}
	}
	return true;
}

bool
inventory_core_split(struct inventory_cores *c, const char *housekeeping, const char *dedicated,
		     char *why, size_t whylen)
{
	bool hk[INVENTORY_MAX_CPUS], ded[INVENTORY_MAX_CPUS];
	int nhk, nded;

	c->nhousekeeping = c->ndedicated = 0;
	if (!parse_config_list(c, "housekeeping_cores", housekeeping, hk, &nhk, why, whylen))
		return false;
	if (dedicated != NULL) {
		if (!parse_config_list(c, "dedicated_cores", dedicated, ded, &nded, why, whylen))
			return false;
	} else {
		for (int i = 0; i < INVENTORY_MAX_CPUS; i++)
			ded[i] = c->online[i] && !hk[i];
	}
	for (int i = 0; i < INVENTORY_MAX_CPUS; i++) {
		if (hk[i] && ded[i]) {
			snprintf(why, whylen,
				 "core %d is in both housekeeping_cores and dedicated_cores", i);
			return false;
		}
		if (hk[i])
			c->housekeeping[c->nhousekeeping++] = i;
		if (ded[i])
			c->dedicated[c->ndedicated++] = i;
	}
	if (c->ndedicated == 0) {
		snprintf(why, whylen,
			 "dedicated_cores: no core left for guests (every online core "
			 "is a housekeeping core)");
		return false;
	}
	return true;
}

bool
inventory_parse_meminfo(const char *text, long long *total_mb)
{
	const char *p = text;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, "MemTotal:", 9) == 0) {
			char *end;
			errno = 0;
			long long kb = strtoll(p + 9, &end, 10);
			while (*end == ' ')
				end++;
			if (errno != 0 || kb <= 0 || strncmp(end, "kB", 2) != 0)
				return false;
			*total_mb = kb / 1024;
			return true;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return false;
}

bool
inventory_parse_qemu_version(const char *text, char *version, size_t len)
{
	static const char prefix[] = "QEMU emulator version ";
	const char *p = strstr(text, prefix);
	size_t n = 0;

	if (p == NULL)
		return false;
	p += sizeof(prefix) - 1;
	while (isdigit((unsigned char)p[n]) || p[n] == '.')
		n++;
	if (n == 0 || !isdigit((unsigned char)p[0]) || n >= len)
		return false;
	memcpy(version, p, n);
	version[n] = '\0';
	return true;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* In the child after fork: stdin and stderr to /dev/null, stdout to the pipe, then exec. */
static void
exec_child(const char *binary, int out_fd)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null < 0 || dup2(null, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(null, 2) < 0)
		_exit(127);
	execl(binary, binary, "--version", (char *)NULL);
	_exit(127);
}

bool
inventory_qemu_version(const char *binary, int timeout_ms, char *version, size_t len, char *why,
		       size_t whylen)
{
	char out[4096];
	size_t used = 0;
	int fds[2], status;
	bool timed_out = false;

	if (pipe2(fds, O_CLOEXEC) != 0) {
		snprintf(why, whylen, "pipe: %s", strerror(errno));
		return false;
	}
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(why, whylen, "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return false;
	}
	if (pid == 0)
		exec_child(binary, fds[1]);
	close(fds[1]);

	long long deadline = now_ms() + timeout_ms;
	for (;;) {
		long long left = deadline - now_ms();
		struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
		if (left <= 0) {
			timed_out = true;
			break;
		}
		int r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			timed_out = r == 0;
			break;
		}
		ssize_t n = read(fds[0], out + used, sizeof(out) - 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
		if (used == sizeof(out) - 1)
			break; /* the version is on the first line; the rest does not matter */
	}
	close(fds[0]);
	out[used] = '\0';
	if (timed_out)
		kill(pid, SIGKILL);
	else if (waitpid(pid, &status, WNOHANG) == 0)
		kill(pid, SIGKILL); /* closed stdout but lingers: do not wait for it */
	else
		goto reaped;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
reaped:
	if (timed_out) {
		snprintf(why, whylen, "%s --version did not answer within %d ms", binary,
			 timeout_ms);
		return false;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && used == 0) {
		snprintf(why, whylen, "cannot run %s", binary);
		return false;
	}
	if (!inventory_parse_qemu_version(out, version, len)) {
		snprintf(why, whylen, "%s --version: no 'QEMU emulator version' in its output",
			 binary);
		return false;
	}
	return true;
}

bool
inventory_kvm_usable(const char *dev, char *why, size_t whylen)
{
	int fd = open(dev, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		snprintf(why, whylen, "cannot open %s: %s", dev, strerror(errno));
		return false;
	}
	int v = ioctl(fd, KVM_GET_API_VERSION, 0);
	int err = errno;
	close(fd);
	if (v != KVM_API_VERSION) {
		snprintf(why, whylen, "%s: KVM_GET_API_VERSION gave %d (%s), expected %d", dev, v,
			 v < 0 ? strerror(err) : "wrong version", KVM_API_VERSION);
		return false;
	}
	return true;
}

static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *
inventory_bridges(const char *sys_net)
{
	char *names[256];
	size_t n = 0;
	json_t *list = json_array();
	DIR *d = opendir(sys_net);
	struct dirent *e;

	if (list == NULL)
		return NULL;
	if (d == NULL) {
		log_warn("cannot list %s: %s", sys_net, strerror(errno));
		return list;
	}
	while ((e = readdir(d)) != NULL && n < sizeof(names) / sizeof(names[0])) {
		char path[PATH_MAX];
		struct stat st;
		size_t len = strlen(e->d_name);
		if (e->d_name[0] == '.' || len < 1 || len > 15)
			continue;
		snprintf(path, sizeof(path), "%s/%s/bridge", sys_net, e->d_name);
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
		    (names[n] = strdup(e->d_name)) != NULL)
			n++;
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), compare_names);
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(list, json_string(names[i]));
		free(names[i]);
	}
	return list;
}

bool
inventory_collect(struct inventory *inv, const struct agent_settings *s, char *why, size_t whylen)
{
	char text[8192], inner[256];

	memset(inv, 0, sizeof(*inv));
	if (!inventory_online_cores(INVENTORY_CPU_ONLINE, &inv->cores, why, whylen) ||
	    !inventory_core_split(&inv->cores, s->housekeeping_cores, s->dedicated_cores, why,
				  whylen))
		return false;

	if (!read_small_file(INVENTORY_MEMINFO, text, sizeof(text), inner, sizeof(inner)) ||
	    !inventory_parse_meminfo(text, &inv->ram_total_mb)) {
		snprintf(why, whylen, "cannot read MemTotal from %s", INVENTORY_MEMINFO);
		return false;
	}
	inv->ram_guest_mb = inv->ram_total_mb - s->reserve_ram_mb;
	if (inv->ram_guest_mb < 0)
		inv->ram_guest_mb = 0;

	if (!inventory_qemu_version(s->qemu_binary, 5000, inv->qemu_version,
				    sizeof(inv->qemu_version), inner, sizeof(inner))) {
		log_warn("QEMU: %s; guests cannot start until it works", inner);
		inv->qemu_version[0] = '\0';
	}

	inv->kvm = inventory_kvm_usable(INVENTORY_KVM_DEV, inner, sizeof(inner));
	switch ((enum agent_accel)s->accel) {
	case AGENT_ACCEL_KVM:
		if (!inv->kvm) {
			snprintf(why, whylen, "accel = kvm, but KVM is not usable: %s", inner);
			return false;
		}
		inv->accel = "kvm";
		break;
	case AGENT_ACCEL_TCG:
		inv->accel = "tcg";
		break;
	case AGENT_ACCEL_AUTO:
		inv->accel = inv->kvm ? "kvm" : "tcg";
		if (!inv->kvm)
			log_info("KVM not usable (%s); guests run with tcg", inner);
		break;
	}
	log_info("node: %d cores online (%d housekeeping, %d dedicated), %lld MiB RAM (%lld for "
		 "guests), QEMU %s, kvm %s, accel %s",
		 inv->cores.online_count, inv->cores.nhousekeeping, inv->cores.ndedicated,
		 inv->ram_total_mb, inv->ram_guest_mb,
		 inv->qemu_version[0] ? inv->qemu_version : "unknown", inv->kvm ? "yes" : "no",
		 inv->accel);
	return true;
}

static json_t *
int_list(const int *v, int n)
{
	json_t *a = json_array();

	for (int i = 0; a != NULL && i < n; i++)
		json_array_append_new(a, json_integer(v[i]));
	return a;
}

static json_t *
storage_json(const struct agent_settings *s)
{
	struct statvfs st;
	long long free_gb = 0;

	if (statvfs(s->storage_path, &st) == 0)
		free_gb = (long long)((unsigned long long)st.f_bavail * st.f_frsize >> 30);
	else
		log_warn("storage %s: %s: %s", s->storage_name, s->storage_path, strerror(errno));
	return json_pack("{s:s, s:s, s:b, s:I}", "name", s->storage_name, "path", s->storage_path,
			 "shared", s->storage_shared, "free_gb", (json_int_t)free_gb);
}

json_t *
inventory_to_json(const struct inventory *inv, const struct agent_settings *s)
{
	json_t *j = json_pack(
		"{s:i, s:o, s:o, s:I, s:o, s:[o], s:s, s:b, s:s}", "cores", inv->cores.online_count,
		"housekeeping", int_list(inv->cores.housekeeping, inv->cores.nhousekeeping),
		"dedicated", int_list(inv->cores.dedicated, inv->cores.ndedicated), "ram_mb",
		(json_int_t)inv->ram_guest_mb, "bridges", inventory_bridges(INVENTORY_SYS_NET),
		"storages", storage_json(s), "qemu_version", inv->qemu_version, "kvm", inv->kvm,
		"accel", inv->accel);
	const char *console = s->console_advertise ? s->console_advertise : s->console_listen;

	/* Where controllers reach this node's console endpoint (nodeagent/console.c). */
	if (j != NULL && console != NULL)
		json_object_set_new(j, "console", json_string(console));
	/* The controller waits longer than this before it fails our guests over (failover.c). */
	if (j != NULL)
		json_object_set_new(j, "fence_after", json_integer(s->fence_after));
	return j;
}
