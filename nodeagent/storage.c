/*
 * Disk images on the node's storage. qemu-img does the work because it knows qcow2 (backing
 * files, preallocation, resizing) and is the same code QEMU uses; the agent runs it with fork/exec
 * and a fixed argv (no shell: names are validated, but a shell would still be one more parser of
 * tenant-influenced strings), collects its output through a pipe and learns of its exit through a
 * pidfd on the event loop, so a slow NFS never stalls the agent's heartbeats.
 *
 * create writes NAME.qcow2.part and renames it into place only when qemu-img succeeded: a killed
 * qemu-img or agent never leaves a half-made image behind under the final name, which matters
 * because "the image already exists with the requested size" is taken as success.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent_settings.h"
#include "log.h"
#include "storage.h"

#define GIB (1024ULL * 1024 * 1024)

bool
storage_name_ok(const char *name)
{
	size_t len = strlen(name);

	if (len < 1 || len > STORAGE_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
	}
	return true;
}

bool
storage_disk_path(const struct agent_settings *s, const char *storage, const char *name, char *buf,
		  size_t len, const char **code, char *why, size_t whylen)
{
	if (strcmp(storage, s->storage_name) != 0) {
		*code = "unknown_storage";
		snprintf(why, whylen, "this node has no storage '%.64s' (it has '%s')", storage,
			 s->storage_name);
		return false;
	}
	if (!storage_name_ok(name)) {
		*code = "invalid";
		snprintf(why, whylen, "disk name must be 1 to %d of [a-z0-9-]", STORAGE_NAME_MAX);
		return false;
	}
	int n = snprintf(buf, len, "%s/%s.qcow2", s->storage_path, name);
	if (n < 0 || (size_t)n >= len) {
		*code = "invalid";
		snprintf(why, whylen, "disk path too long");
		return false;
	}
	return true;
}

static uint64_t
be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

int
storage_qcow2_size(const char *path, uint64_t *bytes, char *why, size_t whylen)
{
	unsigned char h[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		snprintf(why, whylen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	ssize_t n = read(fd, h, sizeof(h));
	close(fd);
	/* magic "QFI\xfb", version 2 or 3 (big endian), size at offset 24. */
	if (n != (ssize_t)sizeof(h) || memcmp(h, "QFI\xfb", 4) != 0 || h[4] || h[5] || h[6] ||
	    (h[7] != 2 && h[7] != 3)) {
		snprintf(why, whylen, "%s is not a qcow2 image", path);
		return -1;
	}
	*bytes = be64(h + 24);
	return 0;
}

int
storage_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

void
storage_child_fds(int out_fd)
{
	sigset_t none;
	int null = open("/dev/null", O_RDONLY);

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (null >= 0 && null != 0) {
		dup2(null, 0);
		close(null);
	}
	if (out_fd >= 0) {
		dup2(out_fd, 1);
		dup2(out_fd, 2);
		if (out_fd > 2)
			close(out_fd);
	}
	/* close_range(3, ~0U, 0): everything the agent had open (TLS socket, QMP sockets, pidfds)
	 */
	if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0)
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
}

/* ---- one qemu-img run ---- */

/* Owner: itself, from job_start() until job_finish() frees it. */
struct job {
	pid_t pid;
	int pidfd, outfd;
	struct event *pid_ev, *out_ev, *timer;
	char out[STORAGE_OUTPUT_MAX + 1];
	size_t outlen;
	bool timed_out;
	char path[PATH_MAX];	 /* the image */
	char part[PATH_MAX + 8]; /* create: the temporary name renamed to path on success */
	char what[16];		 /* "create", "resize" */
	storage_cb cb;
	void *arg;
};

static void
job_drain(struct job *j)
{
	char buf[1024];
	ssize_t n;

	while ((n = read(j->outfd, buf, sizeof(buf))) > 0) {
		size_t room = STORAGE_OUTPUT_MAX - j->outlen;
		size_t take = (size_t)n < room ? (size_t)n : room;
		memcpy(j->out + j->outlen, buf, take);
		j->outlen += take;
		j->out[j->outlen] = '\0';
	}
	if (n == 0 && j->out_ev != NULL)
		event_del(j->out_ev); /* EOF: a level-triggered pipe would fire forever */
}

static void
job_free(struct job *j)
{
	if (j->pid_ev)
		event_free(j->pid_ev);
	if (j->out_ev)
		event_free(j->out_ev);
	if (j->timer)
		event_free(j->timer);
	if (j->pidfd >= 0)
		close(j->pidfd);
	if (j->outfd >= 0)
		close(j->outfd);
	free(j);
}

/* Output as one line for an error message: newlines become "; ". */
static void
one_line(char *s)
{
	size_t len = strlen(s);

	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == ' '))
		s[--len] = '\0';
	for (char *p = s; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
}

static void
job_exited(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;
	int status = 0;

	if (waitpid(j->pid, &status, WNOHANG) == 0) {
		/*
		 * The pidfd turns readable when the last thread has exited, a moment before the
		 * process is a reapable zombie: look again shortly instead of spinning on it.
		 */
		struct timeval tv = {0, 10000};
		event_del(j->pid_ev);
		event_base_once(event_get_base(j->pid_ev), -1, EV_TIMEOUT, job_exited, j, &tv);
		return;
	}
	job_drain(j);
	one_line(j->out);
	if (j->timed_out) {
		if (j->part[0])
			unlink(j->part);
		log_warn("qemu-img %s %s: killed after %d s", j->what, j->path,
			 STORAGE_QEMU_IMG_SEC);
		j->cb("timeout", "qemu-img did not finish in time", j->arg);
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char msg[STORAGE_OUTPUT_MAX + 64];
		if (j->part[0])
			unlink(j->part);
		snprintf(msg, sizeof(msg), "qemu-img %s failed (%s %d): %s", j->what,
			 WIFEXITED(status) ? "exit" : "signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
			 j->out[0] ? j->out : "no output");
		log_warn("%s: %s", j->path, msg);
		j->cb("qemu_img", msg, j->arg);
	} else if (j->part[0] && rename(j->part, j->path) != 0) {
		char msg[PATH_MAX + 64];
		snprintf(msg, sizeof(msg), "cannot rename %s: %s", j->part, strerror(errno));
		unlink(j->part);
		j->cb("internal", msg, j->arg);
	} else {
		log_info("qemu-img %s %s: done", j->what, j->path);
		j->cb(NULL, NULL, j->arg);
	}
	job_free(j);
}

static void
job_output(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;

	job_drain(j);
}

static void
job_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;

	j->timed_out = true;
	kill(j->pid, SIGKILL); /* the pidfd reports the exit */
}

/* Start argv; on failure calls cb and frees j. */
static void
job_start(struct event_base *base, struct job *j, char *const argv[])
{
	struct timeval tv = {STORAGE_QEMU_IMG_SEC, 0};
	int pipefd[2];

	j->pidfd = j->outfd = -1;
	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) != 0) {
		j->cb("internal", "cannot create a pipe", j->arg);
		job_free(j);
		return;
	}
	j->outfd = pipefd[0];
	j->pid = fork();
	if (j->pid == 0) {
		storage_child_fds(pipefd[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pipefd[1]);
	if (j->pid < 0) {
		j->cb("internal", "cannot fork", j->arg);
		job_free(j);
		return;
	}
	j->pidfd = storage_pidfd_open(j->pid);
	j->pid_ev = j->pidfd >= 0 ? event_new(base, j->pidfd, EV_READ | EV_PERSIST, job_exited, j)
				  : NULL;
	j->out_ev = event_new(base, j->outfd, EV_READ | EV_PERSIST, job_output, j);
	j->timer = evtimer_new(base, job_timeout, j);
	if (j->pid_ev == NULL || j->out_ev == NULL || j->timer == NULL ||
	    event_add(j->pid_ev, NULL) != 0 || event_add(j->out_ev, NULL) != 0 ||
	    evtimer_add(j->timer, &tv) != 0) {
		log_error("qemu-img %s: cannot watch pid %d: %s", j->what, (int)j->pid,
			  strerror(errno));
		kill(j->pid, SIGKILL);
		waitpid(j->pid, NULL, 0); /* SIGKILLed: returns at once */
		j->cb("internal", "cannot watch qemu-img", j->arg);
		job_free(j);
		return;
	}
	log_debug("qemu-img %s %s: pid %d", j->what, j->path, (int)j->pid);
}

static void
qemu_img_path(const struct agent_settings *s, char *buf, size_t len)
{
	/* qemu-img lives next to qemu-system-x86_64 (both from Debian's qemu packages). */
	const char *slash = strrchr(s->qemu_binary, '/');
	int dirlen = slash != NULL ? (int)(slash - s->qemu_binary) : 0;

	snprintf(buf, len, "%.*s/qemu-img", dirlen, s->qemu_binary);
}

static struct job *
job_new(const char *what, const char *path, storage_cb cb, void *arg)
{
	struct job *j = calloc(1, sizeof(*j));

	if (j == NULL) {
		cb("internal", "out of memory", arg);
		return NULL;
	}
	snprintf(j->what, sizeof(j->what), "%s", what);
	snprintf(j->path, sizeof(j->path), "%s", path);
	j->cb = cb;
	j->arg = arg;
	j->pidfd = j->outfd = -1;
	return j;
}

/* mkdir -p of the storage path (0755: QEMU may run as another user one day). */
static int
make_dirs(const char *dir, char *why, size_t whylen)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", dir);
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
				snprintf(why, whylen, "cannot create %s: %s", buf, strerror(errno));
				return -1;
			}
			*p = c;
			if (c == '\0')
				return 0;
		}
	}
}

void
storage_create(struct event_base *base, const struct agent_settings *s, const char *storage,
	       const char *name, int64_t size_gb, const char *backing, storage_cb cb, void *arg)
{
	char path[PATH_MAX], bpath[PATH_MAX], tool[PATH_MAX], size[32], why[PATH_MAX + 128];
	const char *code = "invalid";
	struct stat st;
	uint64_t have;

	if (!storage_disk_path(s, storage, name, path, sizeof(path), &code, why, sizeof(why)) ||
	    (backing != NULL && !storage_disk_path(s, storage, backing, bpath, sizeof(bpath), &code,
						   why, sizeof(why)))) {
		cb(code, why, arg);
		return;
	}
	if (size_gb < 1 || size_gb > STORAGE_MAX_GB) {
		cb("invalid", "size_gb out of range", arg);
		return;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISREG(st.st_mode) ||
		    storage_qcow2_size(path, &have, why, sizeof(why)) != 0) {
			cb("exists", "exists and is not a qcow2 image", arg);
			return;
		}
		if (have != (uint64_t)size_gb * GIB) {
			snprintf(why, sizeof(why),
				 "disk %s exists with another size (%" PRIu64
				 " bytes, not %lld GiB)",
				 name, have, (long long)size_gb);
			cb("exists", why, arg);
			return;
		}
		log_info("disk %s exists with %lld GiB already", path, (long long)size_gb);
		cb(NULL, NULL, arg);
		return;
	}
	if (backing != NULL && (lstat(bpath, &st) != 0 || !S_ISREG(st.st_mode))) {
		snprintf(why, sizeof(why), "backing image %s does not exist", backing);
		cb("not_found", why, arg);
		return;
	}
	if (make_dirs(s->storage_path, why, sizeof(why)) != 0) {
		cb("internal", why, arg);
		return;
	}
	struct job *j = job_new("create", path, cb, arg);
	if (j == NULL)
		return;
	snprintf(j->part, sizeof(j->part), "%s.part", path);
	unlink(j->part); /* a leftover of a killed run */
	qemu_img_path(s, tool, sizeof(tool));
	snprintf(size, sizeof(size), "%lldG", (long long)size_gb);
	char *argv_plain[] = {tool, "create", "-q", "-f", "qcow2", j->part, size, NULL};
	char *argv_backed[] = {tool,  "create", "-q",	 "-f",	  "qcow2", "-b",
			       bpath, "-F",	"qcow2", j->part, size,	   NULL};
	log_info("creating disk %s (%lld GiB%s%s)", path, (long long)size_gb,
		 backing ? ", backing " : "", backing ? backing : "");
	job_start(base, j, backing != NULL ? argv_backed : argv_plain);
}

void
storage_delete(const struct agent_settings *s, const char *storage, const char *name, storage_cb cb,
	       void *arg)
{
	char path[PATH_MAX], why[PATH_MAX + 128];
	const char *code = "invalid";

	if (!storage_disk_path(s, storage, name, path, sizeof(path), &code, why, sizeof(why))) {
		cb(code, why, arg);
		return;
	}
	if (unlink(path) != 0 && errno != ENOENT) {
		snprintf(why, sizeof(why), "cannot delete %s: %s", path, strerror(errno));
		cb("internal", why, arg);
		return;
	}
	log_info("disk %s deleted", path);
	cb(NULL, NULL, arg);
}

void
storage_grow(struct event_base *base, const struct agent_settings *s, const char *storage,
	     const char *name, int64_t size_gb, storage_cb cb, void *arg)
{
	char path[PATH_MAX], tool[PATH_MAX], size[32], why[PATH_MAX + 128];
	const char *code = "invalid";
	uint64_t have;

	if (!storage_disk_path(s, storage, name, path, sizeof(path), &code, why, sizeof(why))) {
		cb(code, why, arg);
		return;
	}
	if (size_gb < 1 || size_gb > STORAGE_MAX_GB) {
		cb("invalid", "size_gb out of range", arg);
		return;
	}
	if (storage_qcow2_size(path, &have, why, sizeof(why)) != 0) {
		cb(errno == ENOENT ? "not_found" : "invalid", why, arg);
		return;
	}
	if (have == (uint64_t)size_gb * GIB) {
		cb(NULL, NULL, arg);
		return;
	}
	if (have > (uint64_t)size_gb * GIB) {
		snprintf(why, sizeof(why), "disk %s is larger than %lld GiB; disks only grow", name,
			 (long long)size_gb);
		cb("shrink", why, arg);
		return;
	}
	struct job *j = job_new("resize", path, cb, arg);
	if (j == NULL)
		return;
	qemu_img_path(s, tool, sizeof(tool));
	snprintf(size, sizeof(size), "%lldG", (long long)size_gb);
	char *argv[] = {tool, "resize", "-q", "-f", "qcow2", path, size, NULL};
	log_info("growing disk %s to %lld GiB", path, (long long)size_gb);
	job_start(base, j, argv);
}
