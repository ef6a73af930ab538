/*
 * Unit tests for nodeagent/storage.c (and the name helpers of tap.c): disk names and paths, the
 * qcow2 header reader, and create / grow / delete with the real qemu-img driven by a real event
 * loop, including idempotence ("exists with the same size" is success, another size is not),
 * refused shrinking, backing images and qemu-img's error text reaching the caller.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "agent_settings.h"
#include "storage.h"
#include "tap.h"

#define GIB (1024ULL * 1024 * 1024)

struct outcome {
	bool done;
	char code[32];
	char message[2048];
};

static void
record(const char *code, const char *message, void *arg)
{
	struct outcome *o = arg;

	o->done = true;
	snprintf(o->code, sizeof(o->code), "%s", code ? code : "");
	snprintf(o->message, sizeof(o->message), "%s", message ? message : "");
}

struct fixture {
	char dir[64];
	struct agent_settings s;
	struct event_base *base;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/wr-storage-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->s.storage_name = "local";
	f->s.storage_path = f->dir;
	f->s.qemu_binary = "/usr/bin/qemu-system-x86_64";
	f->base = event_base_new();
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	event_base_free(f->base);
	free(f);
	return 0;
}

static void
stop_loop(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

/* Run the loop until the outcome arrives (the callback may also have run synchronously). */
static void
wait_for(struct fixture *f, struct outcome *o)
{
	struct timeval tv = {30, 0};
	struct event *limit = evtimer_new(f->base, stop_loop, f->base);

	evtimer_add(limit, &tv);
	while (!o->done && evtimer_pending(limit, NULL))
		event_base_loop(f->base, EVLOOP_ONCE);
	event_free(limit);
	assert_true(o->done);
}

static uint64_t
size_of(struct fixture *f, const char *name)
{
	char path[256], why[256];
	uint64_t bytes = 0;

	snprintf(path, sizeof(path), "%s/%s.qcow2", f->dir, name);
	if (storage_qcow2_size(path, &bytes, why, sizeof(why)) != 0)
		fail_msg("%s", why);
	return bytes;
}

static void
test_names(void **state)
{
	char buf[16];

	assert_true(storage_name_ok("vs-12"));
	assert_true(storage_name_ok("a"));
	assert_false(storage_name_ok(""));
	assert_false(storage_name_ok("../x"));
	assert_false(storage_name_ok("Vs"));
	assert_false(storage_name_ok("a.qcow2"));
	assert_false(storage_name_ok("a b"));
	char long_name[80];
	memset(long_name, 'a', 64);
	long_name[64] = '\0';
	assert_false(storage_name_ok(long_name));
	long_name[63] = '\0';
	assert_true(storage_name_ok(long_name));

	assert_true(tap_name(42, 0, buf, sizeof(buf)));
	assert_string_equal(buf, "wrt42n0");
	assert_true(tap_name(9999999999LL, 3, buf, sizeof(buf)));
	assert_string_equal(buf, "wrt9999999999n3");
	assert_false(tap_name(99999999999LL, 3, buf, sizeof(buf))); /* 16 bytes */
	assert_false(tap_name(0, 0, buf, sizeof(buf)));
	assert_true(tap_bridge_name_ok("wrbr0"));
	assert_false(tap_bridge_name_ok("br 0"));
	assert_false(tap_bridge_name_ok(".."));
	assert_false(tap_bridge_name_ok("a-very-long-bridge"));
}

static void
test_disk_path(void **state)
{
	struct fixture *f = *state;
	char path[256], why[256], want[256];
	const char *code = NULL;

	assert_true(storage_disk_path(&f->s, "local", "vs-1", path, sizeof(path), &code, why,
				      sizeof(why)));
	snprintf(want, sizeof(want), "%s/vs-1.qcow2", f->dir);
	assert_string_equal(path, want);
	assert_false(storage_disk_path(&f->s, "nfs", "vs-1", path, sizeof(path), &code, why,
				       sizeof(why)));
	assert_string_equal(code, "unknown_storage");
	assert_false(storage_disk_path(&f->s, "local", "../etc/passwd", path, sizeof(path), &code,
				       why, sizeof(why)));
	assert_string_equal(code, "invalid");
}

static void
test_qcow2_header(void **state)
{
	struct fixture *f = *state;
	char path[256], why[256];
	uint64_t bytes;

	snprintf(path, sizeof(path), "%s/raw.qcow2", f->dir);
	FILE *fp = fopen(path, "w");
	fputs("this is not a qcow2 image at all, just text\n", fp);
	fclose(fp);
	assert_int_equal(storage_qcow2_size(path, &bytes, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "not a qcow2"));
	snprintf(path, sizeof(path), "%s/missing.qcow2", f->dir);
	assert_int_equal(storage_qcow2_size(path, &bytes, why, sizeof(why)), -1);
}

static void
test_create_grow_delete(void **state)
{
	struct fixture *f = *state;
	struct outcome o = {0};
	char path[256];
	struct stat st;

	storage_create(f->base, &f->s, "local", "vs-1", 2, NULL, record, &o);
	wait_for(f, &o);
	assert_string_equal(o.code, "");
	assert_int_equal(size_of(f, "vs-1"), 2 * GIB);
	snprintf(path, sizeof(path), "%s/vs-1.qcow2.part", f->dir);
	assert_int_not_equal(stat(path, &st), 0); /* renamed into place */

	/* idempotent: same size is success, another size an error naming it */
	memset(&o, 0, sizeof(o));
	storage_create(f->base, &f->s, "local", "vs-1", 2, NULL, record, &o);
	wait_for(f, &o);
	assert_string_equal(o.code, "");
	memset(&o, 0, sizeof(o));
	storage_create(f->base, &f->s, "local", "vs-1", 3, NULL, record, &o);
	wait_for(f, &o);
	assert_string_equal(o.code, "exists");
	assert_non_null(strstr(o.message, "exists with another size"));

	/* grow, grow to the same size, refuse to shrink */
	memset(&o, 0, sizeof(o));
	storage_grow(f->base, &f->s, "local", "vs-1", 5, record, &o);
	wait_for(f, &o);
	assert_string_equal(o.code, "");
	assert_int_equal(size_of(f, "vs-1"), 5 * GIB);
	memset(&o, 0, sizeof(o));
	storage_grow(f->base, &f->s, "local", "vs-1", 5, record, &o);
	wait_for(f, &o);
	assert_string_equal(o.code, "");
	memset(&o, 0, sizeof(o));
	storage_grow(f->base, &f->s, "local", "vs-1", 4, record, &o);
	wait_for(f, &o);
	assert_string_equal(o.code, "shrink");
	memset(&o, 0, sizeof(o));
	storage_grow(f->base, &f->s, "local", "nope", 4, record, &o);
	wait_for(f, &o);
	assert_string_equal(o.code, "not_found");

	/* a backing image: the overlay names it */
	memset(&o, 0, sizeof(o));
	storage_create(f->base, &f->s, "local", "vs-2", 5, "vs-1", record, &o);
	wait_for(f, &o);
	assert_string_equal(o.code, "");
	assert_int_equal(size_of(f, "vs-2"), 5 * GIB);
	memset(&o, 0, sizeof(o));
	storage_create(f->base, &f->s, "local", "vs-3", 5, "template-x", record, &o);
	wait_for(f, &o);
	assert_string_equal(o.code, "not_found");

	/* delete, twice */
	memset(&o, 0, sizeof(o));
	storage_delete(&f->s, "local", "vs-2", record, &o);
	assert_true(o.done);
	assert_string_equal(o.code, "");
	snprintf(path, sizeof(path), "%s/vs-2.qcow2", f->dir);
	assert_int_not_equal(stat(path, &st), 0);
	memset(&o, 0, sizeof(o));
	storage_delete(&f->s, "local", "vs-2", record, &o);
	assert_string_equal(o.code, "");
}

static void
test_qemu_img_error_reaches_caller(void **state)
{
	struct fixture *f = *state;
	struct outcome o = {0};
	char path[256];

	/* A backing "image" that is not qcow2: qemu-img refuses, and says why. */
	snprintf(path, sizeof(path), "%s/junk.qcow2", f->dir);
	FILE *fp = fopen(path, "w");
	fputs("junk\n", fp);
	fclose(fp);
	storage_create(f->base, &f->s, "local", "vs-9", 1, "junk", record, &o);
	wait_for(f, &o);
	assert_string_equal(o.code, "qemu_img");
	assert_non_null(strstr(o.message, "qemu-img create failed"));
	assert_true(strlen(o.message) > strlen("qemu-img create failed (exit 1): "));
	snprintf(path, sizeof(path), "%s/vs-9.qcow2.part", f->dir);
	struct stat st;
	assert_int_not_equal(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/vs-9.qcow2", f->dir);
	assert_int_not_equal(stat(path, &st), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_disk_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_qcow2_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_grow_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_qemu_img_error_reaches_caller, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
