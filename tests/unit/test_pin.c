/*
 * Unit tests for nodeagent/pin.c: the cpuset list parser and formatter, pinning of real threads
 * (read back from /proc, as the agent's integration tests do with QEMU's vCPU threads), and the
 * cgroup code's refusal to touch anything that is not a cgroup v2 hierarchy.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/magic.h>

#include "pin.h"

static void
expect_parse(const char *text, const char *formatted)
{
	cpu_set_t set;
	char buf[256];

	if (!cpuset_parse(text, &set))
		fail_msg("'%s' refused", text);
	assert_true(cpuset_format(&set, buf, sizeof(buf)));
	assert_string_equal(buf, formatted);
}

static void
test_cpuset_parse(void **state)
{
	cpu_set_t set;

	expect_parse("0", "0");
	expect_parse("0-3,8", "0-3,8");
	expect_parse("8,0-3", "0-3,8");
	expect_parse("1,2,3,5", "1-3,5");
	expect_parse("0-0", "0");
	expect_parse("2-4,3-6", "2-6");
	expect_parse("1023", "1023");
	expect_parse("0-1023", "0-1023");

	assert_true(cpuset_parse("0-3,8", &set));
	assert_int_equal(CPU_COUNT(&set), 5);
	assert_true(CPU_ISSET(8, &set));
	assert_false(CPU_ISSET(4, &set));

	const char *bad[] = {"",     "a",  "3-1", "1,",	  ",1",	    "1 ,2",
			     "1, 2", " 1", "1\n", "1024", "0-1024", "1--2",
			     "-1",   "1-", "+1",  "0x1",  "1,,2",   "99999999999999999999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cpuset_parse(bad[i], &set))
			fail_msg("'%s' accepted", bad[i]);
}

static void
test_cpuset_format(void **state)
{
	cpu_set_t set;
	char buf[16];

	CPU_ZERO(&set);
	assert_true(cpuset_format(&set, buf, sizeof(buf)));
	assert_string_equal(buf, "");
	CPU_SET(5, &set);
	assert_true(cpuset_format(&set, buf, sizeof(buf)));
	assert_string_equal(buf, "5");
	for (int c = 10; c < 18; c += 2)
		CPU_SET(c, &set);
	assert_true(cpuset_format(&set, buf, sizeof(buf)));
	assert_string_equal(buf, "5,10,12,14,16");
	CPU_SET(17, &set); /* "5,10,12,14,16-17": 16 bytes + NUL, one too many */
	assert_false(cpuset_format(&set, buf, sizeof(buf)));
	assert_string_equal(buf, "");
	CPU_CLR(17, &set);
	CPU_SET(9, &set); /* "5,9-10,12,14,16": 15 bytes + NUL, fits exactly */
	assert_true(cpuset_format(&set, buf, sizeof(buf)));
	assert_string_equal(buf, "5,9-10,12,14,16");
	CPU_SET(30, &set);
	assert_false(cpuset_format(&set, buf, sizeof(buf)));
	assert_string_equal(buf, "");
	assert_false(cpuset_format(&set, buf, 0));
}

/* A thread that reports its tid and waits until told to stop. */
struct worker {
	pthread_t thread;
	pid_t tid;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	pthread_mutex_lock(&w->lock);
	w->tid = (pid_t)syscall(SYS_gettid);
	pthread_cond_broadcast(&w->cond);
	while (!w->stop)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void
worker_start(struct worker *w)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	assert_int_equal(pthread_create(&w->thread, NULL, worker_main, w), 0);
	pthread_mutex_lock(&w->lock);
	while (w->tid == 0)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
}

static void
worker_stop(struct worker *w)
{
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
}

static bool
two_cpus(void)
{
	cpu_set_t mine;

	if (sched_getaffinity(0, sizeof(mine), &mine) != 0 || !CPU_ISSET(0, &mine) ||
	    !CPU_ISSET(1, &mine)) {
		print_message("CPUs 0 and 1 are not both available: pinning test skipped\n");
		return false;
	}
	return true;
}

static void
test_pin_thread(void **state)
{
	struct worker w;
	char buf[256];

	if (!two_cpus()) {
		skip();
		return;
	}
	worker_start(&w);
	assert_int_equal(pin_thread(w.tid, 0), 0);
	assert_int_equal(pin_read_allowed(getpid(), w.tid, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "0");
	assert_int_equal(pin_thread(w.tid, 1), 0);
	assert_int_equal(pin_read_allowed(getpid(), w.tid, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1");

	assert_int_equal(pin_thread(w.tid, -1), -1);
	assert_int_equal(pin_thread(w.tid, CPU_SETSIZE), -1);
	assert_int_equal(pin_read_allowed(getpid(), w.tid, buf, 1), -1); /* buffer too small */
	worker_stop(&w);
	/*
	 * pthread_join returns when the thread cleared its tid, a moment before the kernel removes
	 * /proc/self/task/TID: wait (bounded) for that, then the read must fail.
	 */
	for (int i = 0; i < 200 && pin_read_allowed(getpid(), w.tid, buf, sizeof(buf)) == 0; i++)
		usleep(10000);
	assert_int_equal(pin_read_allowed(getpid(), w.tid, buf, sizeof(buf)), -1); /* gone */
}

static void
test_pin_others(void **state)
{
	struct worker vcpu, io;
	cpu_set_t all, housekeeping;
	char buf[256];

	if (!two_cpus()) {
		skip();
		return;
	}
	assert_int_equal(sched_getaffinity(0, sizeof(all), &all), 0);
	worker_start(&vcpu);
	worker_start(&io);
	assert_int_equal(pin_thread(vcpu.tid, 1), 0);
	assert_true(cpuset_parse("0", &housekeeping));

	/* Main thread and io move, the "vCPU" keeps its core. */
	int moved = pin_others(getpid(), &vcpu.tid, 1, &housekeeping);
	assert_true(moved >= 2);
	assert_int_equal(pin_read_allowed(getpid(), vcpu.tid, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1");
	assert_int_equal(pin_read_allowed(getpid(), io.tid, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "0");
	assert_int_equal(pin_read_allowed(getpid(), getpid(), buf, sizeof(buf)), 0);
	assert_string_equal(buf, "0");

	worker_stop(&vcpu);
	worker_stop(&io);
	assert_int_equal(sched_setaffinity(0, sizeof(all), &all), 0);
	assert_int_equal(pin_others(999999999, NULL, 0, &housekeeping), -1);
}

static bool
is_cgroup2(const char *path)
{
	struct statfs sfs;
	return statfs(path, &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC;
}

static void
test_cgroup_refuses_non_cgroup_fs(void **state)
{
	char dir[] = "/tmp/test_pin.XXXXXX";
	char path[128];
	struct stat st;
	cpu_set_t cpus;

	assert_true(cpuset_parse("0", &cpus));
	assert_non_null(mkdtemp(dir));
	/* A plain (writable) directory is not a cgroup: nothing may be created in it. */
	assert_int_equal(cgroup_vm_setup_at(dir, 42, &cpus, 1 << 30, getpid()),
			 CGROUP_NOT_WRITABLE);
	snprintf(path, sizeof(path), "%s/" CGROUP_SLICE, dir);
	assert_int_not_equal(stat(path, &st), 0);
	assert_int_equal(cgroup_vm_remove_at(dir, 42), CGROUP_NOT_WRITABLE);
	assert_int_equal(rmdir(dir), 0);
}

static void
test_cgroup_host(void **state)
{
	cpu_set_t cpus;
	char path[256], buf[256];

	assert_int_equal(sched_getaffinity(0, sizeof(cpus), &cpus), 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		pause();
		_exit(0);
	}
	enum cgroup_status st = cgroup_vm_setup(987654321, &cpus, 64 << 20, child);
	if (!is_cgroup2(CGROUP_ROOT)) {
		/* cgroup v1 or hybrid (as on the development machines): skipped, not failed. */
		assert_int_equal(st, CGROUP_NOT_WRITABLE);
		assert_int_not_equal(access(CGROUP_ROOT "/" CGROUP_SLICE "/vm-987654321", F_OK), 0);
	} else if (st == CGROUP_OK) {
		snprintf(path, sizeof(path),
			 CGROUP_ROOT "/" CGROUP_SLICE "/vm-987654321/memory.max");
		FILE *f = fopen(path, "r");
		assert_non_null(f);
		assert_non_null(fgets(buf, sizeof(buf), f));
		fclose(f);
		assert_string_equal(buf, "67108864\n");
	} else {
		print_message("cgroup v2 present but not usable here: status %d\n", st);
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	if (st == CGROUP_OK)
		assert_int_equal(cgroup_vm_remove(987654321), CGROUP_OK);
	/* Hybrid hosts: the cgroup2 mount exists but offers no cpuset/memory controllers. */
	if (!is_cgroup2(CGROUP_ROOT) && is_cgroup2("/sys/fs/cgroup/unified"))
		assert_int_equal(cgroup_vm_setup_at("/sys/fs/cgroup/unified", 1, &cpus, 0, child),
				 CGROUP_NOT_WRITABLE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpuset_parse),
		cmocka_unit_test(test_cpuset_format),
		cmocka_unit_test(test_pin_thread),
		cmocka_unit_test(test_pin_others),
		cmocka_unit_test(test_cgroup_refuses_non_cgroup_fs),
		cmocka_unit_test(test_cgroup_host),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
