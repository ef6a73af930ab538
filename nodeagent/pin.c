/*
 * Thread pinning (sched_setaffinity on thread ids from QMP and /proc) and the VM's cgroup v2.
 *
 * The cgroup part must never do harm on hosts without cgroup v2: /sys/fs/cgroup may be a tmpfs
 * (cgroup v1 or hybrid layouts), where mkdir would "work" and create nothing but clutter. So the
 * mount is identified by its filesystem magic first, and the cpuset and memory controllers must be
 * offered by the root; otherwise the answer is CGROUP_NOT_WRITABLE, logged at info level,
 * and the VM runs with thread pinning only.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include "log.h"
#include "pin.h"

int
pin_thread(pid_t tid, int core)
{
	cpu_set_t set;

	if (core < 0 || core >= CPU_SETSIZE) {
		log_error("thread %d: core %d out of range", (int)tid, core);
		return -1;
	}
	CPU_ZERO(&set);
	CPU_SET(core, &set);
	if (sched_setaffinity(tid, sizeof(set), &set) != 0) {
		log_error("thread %d: cannot pin to core %d: %s", (int)tid, core, strerror(errno));
		return -1;
	}
	return 0;
}

static bool
is_vcpu(pid_t tid, const pid_t *vcpu_tids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (vcpu_tids[i] == tid)
			return true;
	return false;
}

int
pin_others(pid_t pid, const pid_t *vcpu_tids, size_t n, const cpu_set_t *housekeeping)
{
	char path[64];
	struct dirent *de;
	int moved = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *dir = opendir(path);
	if (dir == NULL) {
		log_error("process %d: cannot list threads: %s", (int)pid, strerror(errno));
		return -1;
	}
	while ((de = readdir(dir)) != NULL) {
		char *end;
		errno = 0;
		long tid = strtol(de->d_name, &end, 10);
		if (de->d_name[0] < '0' || de->d_name[0] > '9' || *end != '\0' || errno != 0 ||
		    tid <= 0 || tid > INT32_MAX)
			continue;
		if (is_vcpu((pid_t)tid, vcpu_tids, n))
			continue;
		if (sched_setaffinity((pid_t)tid, sizeof(*housekeeping), housekeeping) != 0) {
			if (errno == ESRCH) /* the thread exited meanwhile */
				continue;
			log_error("process %d thread %ld: cannot move to housekeeping cores: %s",
				  (int)pid, tid, strerror(errno));
			closedir(dir);
			return -1;
		}
		moved++;
	}
	closedir(dir);
	return moved;
}

int
pin_read_allowed(pid_t pid, pid_t tid, char *buf, size_t len)
{
	char path[64], line[512];
	int ret = -1;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)tid);
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		static const char key[] = "Cpus_allowed_list:";
		if (strncmp(line, key, sizeof(key) - 1) != 0)
			continue;
		char *v = line + sizeof(key) - 1;
		v += strspn(v, " \t");
		v[strcspn(v, "\n")] = '\0';
		if (strlen(v) < len) {
			memcpy(buf, v, strlen(v) + 1);
			ret = 0;
		}
		break;
	}
	fclose(f);
	return ret;
}

/* One decimal core number < CPU_SETSIZE; advances *p. */
static bool
parse_core(const char **p, int *core)
{
	long v = 0;
	const char *s = *p;

	if (*s < '0' || *s > '9')
		return false;
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (*s - '0');
		if (v >= CPU_SETSIZE)
			return false;
		s++;
	}
	*core = (int)v;
	*p = s;
	return true;
}

bool
cpuset_parse(const char *text, cpu_set_t *set)
{
	const char *p = text;

	CPU_ZERO(set);
	for (;;) {
		int lo, hi;
		if (!parse_core(&p, &lo))
			return false;
		hi = lo;
		if (*p == '-') {
			p++;
			if (!parse_core(&p, &hi) || hi < lo)
				return false;
		}
		for (int c = lo; c <= hi; c++)
			CPU_SET(c, set);
		if (*p == '\0')
			return true;
		if (*p != ',')
			return false;
		p++;
	}
}

bool
cpuset_format(const cpu_set_t *set, char *buf, size_t len)
{
	size_t used = 0;

	if (len == 0)
		return false;
	buf[0] = '\0';
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, set))
			continue;
		int hi = c;
		while (hi + 1 < CPU_SETSIZE && CPU_ISSET(hi + 1, set))
			hi++;
		int n = hi == c ? snprintf(buf + used, len - used, "%s%d", used ? "," : "", c)
				: snprintf(buf + used, len - used, "%s%d-%d", used ? "," : "", c,
					   hi);
		if (n < 0 || (size_t)n >= len - used) {
			buf[0] = '\0';
			return false;
		}
		used += (size_t)n;
		c = hi;
	}
	return true;
}

/* ---- cgroup v2 ---- */

static int
write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		log_error("%s: %s", path, strerror(errno));
		return -1;
	}
	ssize_t n = write(fd, value, strlen(value));
	int saved = errno;
	close(fd);
	if (n != (ssize_t)strlen(value)) {
		log_error("%s: cannot write '%s': %s", path, value,
			  n < 0 ? strerror(saved) : "short");
		return -1;
	}
	return 0;
}

static bool
read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return false;
	buf[n] = '\0';
	return true;
}

/* Whether a space-separated controller list names ctl. */
static bool
has_word(const char *list, const char *ctl)
{
	size_t n = strlen(ctl);
	for (const char *p = list; (p = strstr(p, ctl)) != NULL; p += n) {
		bool start = p == list || p[-1] == ' ';
		bool end = p[n] == '\0' || p[n] == ' ' || p[n] == '\n';
		if (start && end)
			return true;
	}
	return false;
}

/* Make sure dir's children get the cpuset and memory controllers. */
static int
enable_controllers(const char *dir)
{
	char path[700], cur[512];

	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", dir);
	if (!read_small(path, cur, sizeof(cur))) {
		log_error("%s: %s", path, strerror(errno));
		return -1;
	}
	if (has_word(cur, "cpuset") && has_word(cur, "memory"))
		return 0;
	return write_file(path, "+cpuset +memory");
}

/*
 * CGROUP_OK when root is a writable cgroup v2 hierarchy whose root offers cpuset and memory.
 * A negative answer is logged at info: it is a property of the host, not a failure.
 */
static enum cgroup_status
cgroup_usable(const char *root)
{
	struct statfs sfs;
	char path[320], ctl[512];
	const char *why = NULL;

	if (statfs(root, &sfs) != 0 || sfs.f_type != CGROUP2_SUPER_MAGIC)
		why = "is not a cgroup v2 mount";
	else if (access(root, W_OK) != 0)
		why = "is not writable";
	else {
		snprintf(path, sizeof(path), "%s/cgroup.controllers", root);
		if (!read_small(path, ctl, sizeof(ctl)) || !has_word(ctl, "cpuset") ||
		    !has_word(ctl, "memory"))
			why = "does not offer the cpuset and memory controllers";
	}
	if (why == NULL)
		return CGROUP_OK;
	log_info("%s %s: the VM runs without its own cgroup (pinning only)", root, why);
	return CGROUP_NOT_WRITABLE;
}

enum cgroup_status
cgroup_vm_setup_at(const char *root, int64_t vm_id, const cpu_set_t *cpus, int64_t mem_max_bytes,
		   pid_t pid)
{
	char slice[512], dir[600], path[700], value[4096];
	enum cgroup_status st;

	if (strlen(root) > 256) {
		log_error("cgroup root too long: %s", root);
		return CGROUP_ERROR;
	}
	st = cgroup_usable(root);
	if (st != CGROUP_OK)
		return st;
	snprintf(slice, sizeof(slice), "%s/" CGROUP_SLICE, root);
	snprintf(dir, sizeof(dir), "%s/vm-%" PRId64, slice, vm_id);
	if (enable_controllers(root) != 0)
		return CGROUP_ERROR;
	if (mkdir(slice, 0755) != 0 && errno != EEXIST) {
		log_error("%s: %s", slice, strerror(errno));
		return CGROUP_ERROR;
	}
	if (enable_controllers(slice) != 0)
		return CGROUP_ERROR;
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		log_error("%s: %s", dir, strerror(errno));
		return CGROUP_ERROR;
	}
	if (!cpuset_format(cpus, value, sizeof(value)) || value[0] == '\0') {
		log_error("vm %" PRId64 ": empty or oversized cpuset", vm_id);
		return CGROUP_ERROR;
	}
	snprintf(path, sizeof(path), "%s/cpuset.cpus", dir);
	if (write_file(path, value) != 0)
		return CGROUP_ERROR;
	snprintf(path, sizeof(path), "%s/memory.max", dir);
	if (mem_max_bytes > 0)
		snprintf(value, sizeof(value), "%" PRId64, mem_max_bytes);
	else
		snprintf(value, sizeof(value), "max");
	if (write_file(path, value) != 0)
		return CGROUP_ERROR;
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(value, sizeof(value), "%d", (int)pid);
	if (write_file(path, value) != 0)
		return CGROUP_ERROR;
	log_info("vm %" PRId64 ": QEMU %d in %s", vm_id, (int)pid, dir);
	return CGROUP_OK;
}

enum cgroup_status
cgroup_vm_remove_at(const char *root, int64_t vm_id)
{
	char dir[600];
	enum cgroup_status st;

	if (strlen(root) > 256) {
		log_error("cgroup root too long: %s", root);
		return CGROUP_ERROR;
	}
	st = cgroup_usable(root);
	if (st != CGROUP_OK)
		return st;
	snprintf(dir, sizeof(dir), "%s/" CGROUP_SLICE "/vm-%" PRId64, root, vm_id);
	if (rmdir(dir) != 0 && errno != ENOENT) {
		log_error("%s: %s", dir, strerror(errno));
		return CGROUP_ERROR;
	}
	return CGROUP_OK;
}

enum cgroup_status
cgroup_vm_setup(int64_t vm_id, const cpu_set_t *cpus, int64_t mem_max_bytes, pid_t pid)
{
	return cgroup_vm_setup_at(CGROUP_ROOT, vm_id, cpus, mem_max_bytes, pid);
}

enum cgroup_status
cgroup_vm_remove(int64_t vm_id)
{
	return cgroup_vm_remove_at(CGROUP_ROOT, vm_id);
}
