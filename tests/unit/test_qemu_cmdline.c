/*
 * Golden-file tests of nodeagent/qemu_cmdline.c: every tests/unit/golden/qemu/NAME.json (a VM
 * spec) must produce exactly NAME.args (one argv element per line). A change of the command line
 * shows up as a diff of a reviewed file. WEBRACK_GOLDEN_UPDATE=1 rewrites the .args files instead
 * of comparing (review the diff before committing it). A NAME starting with "serial-log" is built
 * with the agent's serial_log = on, every other one with the options off.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu_cmdline.h"
#include "vmspec.h"

#define QEMU_BINARY "/usr/bin/qemu-system-x86_64"

static char *
golden_dir(void)
{
	const char *srcdir = getenv("srcdir"); /* set by automake's test driver */
	char *dir;

	assert_true(asprintf(&dir, "%s/tests/unit/golden/qemu", srcdir ? srcdir : ".") > 0);
	return dir;
}

static char *
read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0;

	if (f == NULL)
		return NULL;
	FILE *mem = open_memstream(&text, &len);
	assert_non_null(mem);
	int c;
	while ((c = getc(f)) != EOF)
		putc(c, mem);
	fclose(f);
	fclose(mem);
	return text;
}

static char *
argv_text(char **argv)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);

	assert_non_null(mem);
	for (char **p = argv; *p != NULL; p++) {
		assert_null(strchr(*p, '\n'));
		fprintf(mem, "%s\n", *p);
	}
	fclose(mem);
	return text;
}

static void
load_spec(const char *path, struct vm_spec *spec)
{
	char why[256] = "";
	json_error_t err;
	json_t *obj = json_load_file(path, JSON_REJECT_DUPLICATES, &err);

	if (obj == NULL)
		fail_msg("%s: %s", path, err.text);
	if (!vmspec_from_json(obj, spec, why, sizeof(why)))
		fail_msg("%s: %s", path, why);
	json_decref(obj);
}

static void
test_golden(void **state)
{
	char *dir = golden_dir();
	char *pattern;
	glob_t g;
	bool update = getenv("WEBRACK_GOLDEN_UPDATE") != NULL &&
		      strcmp(getenv("WEBRACK_GOLDEN_UPDATE"), "1") == 0;

	assert_true(asprintf(&pattern, "%s/*.json", dir) > 0);
	assert_int_equal(glob(pattern, 0, NULL, &g), 0);
	assert_true(g.gl_pathc >= 5);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		struct vm_spec spec;
		char *args_path = strdup(g.gl_pathv[i]);
		assert_non_null(args_path);
		strcpy(args_path + strlen(args_path) - strlen(".json"), ".args");

		load_spec(g.gl_pathv[i], &spec);
		const char *base = strrchr(g.gl_pathv[i], '/') + 1;
		struct qemu_options opt = {.serial_log = strncmp(base, "serial-log", 10) == 0};
		char **argv = qemu_cmdline(&spec, QEMU_BINARY, &opt);
		assert_non_null(argv);
		char *got = argv_text(argv);
		if (update) {
			FILE *f = fopen(args_path, "w");
			assert_non_null(f);
			fputs(got, f);
			fclose(f);
			print_message("rewrote %s\n", args_path);
		} else {
			char *want = read_file(args_path);
			if (want == NULL)
				fail_msg("%s missing (WEBRACK_GOLDEN_UPDATE=1 creates it)",
					 args_path);
			if (strcmp(want, got) != 0)
				fail_msg("%s differs from the generated command line:\n%s",
					 args_path, got);
			free(want);
		}
		free(got);
		qemu_cmdline_free(argv);
		free(args_path);
	}
	globfree(&g);
	free(pattern);
	free(dir);
}

static const char *
find_after(char **argv, const char *opt, const char *prefix)
{
	for (char **p = argv; *p != NULL && p[1] != NULL; p++)
		if (strcmp(*p, opt) == 0 && strncmp(p[1], prefix, strlen(prefix)) == 0)
			return p[1];
	return NULL;
}

/* Properties a golden file could silently lose when someone rewrites it without looking. */
static void
test_invariants(void **state)
{
	char *dir = golden_dir();
	char *path;
	struct vm_spec spec;

	assert_true(asprintf(&path, "%s/comma-paths.json", dir) > 0);
	load_spec(path, &spec);
	char **argv = qemu_cmdline(&spec, QEMU_BINARY, NULL);
	assert_non_null(argv);

	assert_string_equal(argv[0], QEMU_BINARY);
	/* Every ',' of a path is doubled inside key=value options ... */
	assert_string_equal(find_after(argv, "-blockdev", "driver=file,node-name=disk0-file"),
			    "driver=file,node-name=disk0-file,filename=/srv/st,,orage/x,,,,y/"
			    "disk,,id=evil,,driver=nbd.qcow2,discard=unmap");
	assert_non_null(strstr(find_after(argv, "-blockdev", "driver=file,node-name=cd0-file"),
			       "filename=/srv/iso/evil,,read-only=off,,file.filename=/etc/"
			       "shadow.iso,read-only=on"));
	assert_string_equal(find_after(argv, "-chardev", "socket"),
			    "socket,id=qmp,path=/run/web,,rack/vm-9/qmp.sock,server=on,wait=off");
	assert_string_equal(find_after(argv, "-vnc", "unix:"), "unix:/run/web,,rack/vm-9/vnc.sock");
	/* ... but not in -pidfile, whose argument is a plain file name. */
	assert_string_equal(find_after(argv, "-pidfile", "/"), "/run/web,rack/vm-9/qemu.pid");

	bool paused = false;
	for (char **p = argv; *p != NULL; p++) {
		assert_string_not_equal(*p, "-daemonize");
		assert_null(strstr(*p, "user,")); /* no slirp networking */
		if (strcmp(*p, "-S") == 0)
			paused = true;
	}
	assert_true(paused);
	assert_non_null(find_after(argv, "-sandbox",
				   "on,obsolete=deny,elevateprivileges=deny,"
				   "spawn=deny,resourcecontrol=deny"));
	/* The cdrom boots first when there is an ISO. */
	assert_non_null(find_after(argv, "-device", "ide-cd,id=" QEMU_CDROM_ID ",drive=cd0"));
	assert_non_null(strstr(find_after(argv, "-device", "ide-cd"), "bootindex=0"));
	assert_non_null(strstr(find_after(argv, "-device", "virtio-blk-pci"), "bootindex=1"));
	/* COM1 always exists (the same devices on every node: migration), on a null backend ... */
	assert_string_equal(find_after(argv, "-chardev", "null"), "null,id=serial0");
	assert_string_equal(find_after(argv, "-device", "isa-serial"),
			    "isa-serial,id=serial0,chardev=serial0");
	qemu_cmdline_free(argv);
	/* ... or appended to run_dir/serial.log, the path escaped like every other one. */
	argv = qemu_cmdline(&spec, QEMU_BINARY, &(struct qemu_options){.serial_log = true});
	assert_non_null(argv);
	assert_null(find_after(argv, "-chardev", "null"));
	assert_string_equal(find_after(argv, "-chardev", "file"),
			    "file,id=serial0,path=/run/web,,rack/vm-9/serial.log,append=on");
	assert_string_equal(find_after(argv, "-device", "isa-serial"),
			    "isa-serial,id=serial0,chardev=serial0");
	qemu_cmdline_free(argv);
	free(path);
	free(dir);
}

static void
test_escape(void **state)
{
	char buf[8];

	assert_true(qemu_opt_escape("a,b", buf, sizeof(buf)));
	assert_string_equal(buf, "a,,b");
	assert_true(qemu_opt_escape(",,,", buf, sizeof(buf)));
	assert_string_equal(buf, ",,,,,,");
	assert_false(qemu_opt_escape(",,,,", buf, sizeof(buf))); /* needs 9 bytes */
	assert_false(qemu_opt_escape("abcdefgh", buf, sizeof(buf)));
	assert_true(qemu_opt_escape("abcdefg", buf, sizeof(buf)));
	assert_true(qemu_opt_escape("", buf, sizeof(buf)));
	assert_string_equal(buf, "");
}

static void
test_kvm_vs_tcg_and_empty_cdrom(void **state)
{
	char *dir = golden_dir();
	char *path;
	struct vm_spec spec;

	assert_true(asprintf(&path, "%s/basic-kvm.json", dir) > 0);
	load_spec(path, &spec);
	char **argv = qemu_cmdline(&spec, "qemu", NULL);
	assert_string_equal(find_after(argv, "-machine", "pc"), "pc,accel=kvm");
	assert_string_equal(find_after(argv, "-cpu", ""), "host");
	assert_string_equal(find_after(argv, "-m", ""), "1024"); /* exactly ram_mb under KVM */
	/* No ISO: the cdrom exists but is empty, and disk0 boots first. */
	assert_string_equal(find_after(argv, "-device", "ide-cd"),
			    "ide-cd,id=cdrom0,bus=ide.1,unit=0");
	assert_non_null(strstr(find_after(argv, "-device", "virtio-blk-pci"), "bootindex=0"));
	qemu_cmdline_free(argv);

	spec.accel = VM_ACCEL_TCG;
	argv = qemu_cmdline(&spec, "qemu", NULL);
	assert_string_equal(find_after(argv, "-machine", "pc"), "pc,accel=tcg");
	assert_string_equal(find_after(argv, "-cpu", ""), "max");
	/* 8 KiB more under TCG: not a multiple of 64 pages (QEMU < 9.0 migration bug) */
	assert_string_equal(find_after(argv, "-m", ""), "1048584K");
	qemu_cmdline_free(argv);
	qemu_cmdline_free(NULL);
	free(path);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_invariants),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_kvm_vs_tcg_and_empty_cdrom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
