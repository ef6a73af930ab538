/*
 * Unit tests for nodeagent/vmspec.c: a valid spec round-trips through JSON, and every field that
 * can be wrong is refused with a message naming it.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "vmspec.h"

static const char *const valid =
	"{\"id\": 42, \"name\": \"web1\", \"uuid\": \"0F8FAD5B-D9CB-469F-A165-70867728950E\","
	" \"cores\": [2, 3], \"ram_mb\": 1024, \"accel\": \"kvm\","
	" \"disks\": [{\"path\": \"/srv/a,b/web1.qcow2\", \"bus\": \"virtio\"}],"
	" \"nics\": [{\"mac\": \"52:54:00:12:34:56\", \"tap\": \"wr42n0\", \"model\": \"e1000\"}],"
	" \"iso\": \"/srv/iso/x.iso\", \"run_dir\": \"/run/webrack/vm-42\"}";

/* valid with one key replaced (value = NULL deletes it). */
static void
expect(const char *key, const char *value_json, bool ok, const char *fragment)
{
	struct vm_spec spec;
	char why[256] = "";
	json_t *obj = json_loads(valid, 0, NULL);

	assert_non_null(obj);
	if (value_json == NULL) {
		json_object_del(obj, key);
	} else {
		json_t *v = json_loads(value_json, JSON_DECODE_ANY, NULL);
		assert_non_null(v);
		json_object_set_new(obj, key, v);
	}
	bool got = vmspec_from_json(obj, &spec, why, sizeof(why));
	if (got != ok)
		fail_msg("%s=%s: got %d (%s)", key, value_json, got, why);
	if (fragment != NULL && strstr(why, fragment) == NULL)
		fail_msg("%s=%s: '%s' lacks '%s'", key, value_json, why, fragment);
	json_decref(obj);
}

static void
test_valid_roundtrip(void **state)
{
	struct vm_spec spec, again;
	char why[256] = "";
	json_t *obj = json_loads(valid, 0, NULL);

	assert_true(vmspec_from_json(obj, &spec, why, sizeof(why)));
	assert_int_equal(spec.id, 42);
	assert_string_equal(spec.name, "web1");
	assert_string_equal(spec.uuid, "0f8fad5b-d9cb-469f-a165-70867728950e"); /* lower-cased */
	assert_int_equal(spec.vcpus, 2);
	assert_int_equal(spec.cores[0], 2);
	assert_int_equal(spec.cores[1], 3);
	assert_int_equal(spec.ram_mb, 1024);
	assert_int_equal(spec.machine, VM_MACHINE_PC); /* default */
	assert_int_equal(spec.accel, VM_ACCEL_KVM);
	assert_int_equal(spec.ndisks, 1);
	assert_string_equal(spec.disks[0].path, "/srv/a,b/web1.qcow2");
	assert_int_equal(spec.nnics, 1);
	assert_int_equal(spec.nics[0].model, VM_NIC_E1000);
	assert_string_equal(spec.iso, "/srv/iso/x.iso");

	json_t *out = vmspec_to_json(&spec);
	assert_non_null(out);
	assert_true(vmspec_from_json(out, &again, why, sizeof(why)));
	assert_memory_equal(&spec, &again, sizeof(spec));
	json_decref(out);

	/* Without an ISO the key is left out, and that reads back as "no ISO". */
	spec.iso[0] = '\0';
	out = vmspec_to_json(&spec);
	assert_null(json_object_get(out, "iso"));
	assert_true(vmspec_from_json(out, &again, why, sizeof(why)));
	assert_string_equal(again.iso, "");
	json_decref(out);
	json_decref(obj);

	expect("iso", "null", true, NULL);
	expect("iso", NULL, true, NULL);
	expect("machine", "\"q35\"", true, NULL);
	expect("disks", "[]", true, NULL);
	expect("nics", "[]", true, NULL);
	expect("name", "\"A.b_c-9\"", true, NULL);
	expect("cores", "[1023]", true, NULL);
}

static void
test_schema_refusals(void **state)
{
	expect("id", "0", false, "'id'");
	expect("id", "\"42\"", false, "'id'");
	expect("name", NULL, false, "missing parameter 'name'");
	expect("extra", "1", false, "unknown parameter 'extra'");
	expect("ram_mb", "8", false, "'ram_mb'");
	expect("accel", "\"auto\"", false, "'accel'"); /* the agent resolves auto itself */
	expect("machine", "\"isapc\"", false, "'machine'");
	expect("cores", "[]", false, "'cores'");
	expect("cores", "[-1]", false, "'cores'");
	expect("disks", "[{\"path\": \"/a.qcow2\", \"bus\": \"ide\"}]", false, "'bus'");
	expect("disks", "[{\"path\": \"/a.qcow2\", \"bus\": \"virtio\", \"cache\": \"none\"}]",
	       false, "'cache'");
	expect("disks",
	       "[{\"path\":\"/1\",\"bus\":\"virtio\"},{\"path\":\"/2\",\"bus\":\"virtio\"},"
	       "{\"path\":\"/3\",\"bus\":\"virtio\"},{\"path\":\"/4\",\"bus\":\"virtio\"},"
	       "{\"path\":\"/5\",\"bus\":\"virtio\"},{\"path\":\"/6\",\"bus\":\"virtio\"},"
	       "{\"path\":\"/7\",\"bus\":\"virtio\"},{\"path\":\"/8\",\"bus\":\"virtio\"},"
	       "{\"path\":\"/9\",\"bus\":\"virtio\"}]",
	       false, "'disks'");
	expect("nics", "[{\"mac\": \"52:54:00:12:34:56\", \"tap\": \"t\", \"model\": \"rtl8139\"}]",
	       false, "'model'");
	expect("iso", "\"/a\\nb\"", false, "control characters");
}

static void
test_semantic_refusals(void **state)
{
	expect("name", "\"web 1\"", false, "'name'");
	expect("name", "\"web/1\"", false, "'name'");
	expect("name", "\"w\\u00e9b\"", false, "'name'");
	expect("uuid", "\"0f8fad5b-d9cb-469f-a165-70867728950g\"", false, "'uuid'");
	expect("uuid", "\"0f8fad5bd-9cb-469f-a165-70867728950e\"", false, "'uuid'");
	expect("cores", "[1, 2, 1]", false, "core 1 twice");
	expect("cores", "[1024]", false, "beyond");
	expect("nics", "[{\"mac\": \"52:54:00:12:34:5G\", \"tap\": \"t\", \"model\": \"virtio\"}]",
	       false, "nics[0].mac");
	expect("nics", "[{\"mac\": \"52:54:00:AB:34:56\", \"tap\": \"t\", \"model\": \"virtio\"}]",
	       false, "nics[0].mac");
	expect("nics", "[{\"mac\": \"02:54:00:12:34:56\", \"tap\": \"t\", \"model\": \"virtio\"}]",
	       false, "nics[0].mac");
	expect("nics", "[{\"mac\": \"52:54:00:12-34:56\", \"tap\": \"t\", \"model\": \"virtio\"}]",
	       false, "nics[0].mac");
	expect("nics",
	       "[{\"mac\": \"52:54:00:12:34:56\", \"tap\": \"Tap0\", \"model\": \"virtio\"}]",
	       false, "nics[0].tap");
	expect("nics",
	       "[{\"mac\": \"52:54:00:12:34:56\", \"tap\": \"t,x\", \"model\": \"virtio\"}]", false,
	       "nics[0].tap");
	expect("nics",
	       "[{\"mac\": \"52:54:00:12:34:56\", \"tap\": \"abcdefghijklmnop\", "
	       "\"model\": \"virtio\"}]",
	       false, "'tap'");
	expect("nics",
	       "[{\"mac\": \"52:54:00:12:34:56\", \"tap\": \"a\", \"model\": \"virtio\"},"
	       " {\"mac\": \"52:54:00:12:34:57\", \"tap\": \"a\", \"model\": \"virtio\"}]",
	       false, "repeats");
	expect("disks", "[{\"path\": \"relative.qcow2\", \"bus\": \"virtio\"}]", false,
	       "disks[0].path must be an absolute path");
	expect("disks", "[{\"path\": \"/srv/../etc/shadow\", \"bus\": \"virtio\"}]", false, "'..'");
	expect("disks", "[{\"path\": \"/srv/x/..\", \"bus\": \"virtio\"}]", false, "'..'");
	expect("disks", "[{\"path\": \"/srv//x\", \"bus\": \"virtio\"}]", false, "'//'");
	expect("disks", "[{\"path\": \"/srv/./x\", \"bus\": \"virtio\"}]", false, "'.'");
	expect("disks", "[{\"path\": \"/srv/x/\", \"bus\": \"virtio\"}]", false, "end with");
	expect("disks",
	       "[{\"path\": \"/a.qcow2\", \"bus\": \"virtio\"}, {\"path\": \"/a.qcow2\", \"bus\": "
	       "\"virtio\"}]",
	       false, "repeats");
	expect("disks", "[{\"path\": \"/srv/..x/a..b/.c\", \"bus\": \"virtio\"}]", true, NULL);
	expect("iso", "\"nbd:host:10809\"", false, "'iso' must be an absolute path");
	expect("run_dir", "\"/run/../tmp\"", false, "'run_dir'");
	/* The QMP socket path must fit in sun_path. */
	expect("run_dir",
	       "\"/run/webrack/"
	       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	       "aaaaaaaaaaaaaaaaa\"",
	       false, "'run_dir'");
}

static void
test_helpers(void **state)
{
	assert_true(vmspec_mac_ok("52:54:00:00:ff:0a"));
	assert_false(vmspec_mac_ok("52:54:00:00:ff:0a:"));
	assert_false(vmspec_mac_ok(""));
	assert_true(vmspec_tap_ok("wr-1"));
	assert_false(vmspec_tap_ok(""));
	assert_false(vmspec_tap_ok("wr_1"));
	assert_true(vmspec_name_ok("a"));
	assert_false(vmspec_name_ok(""));
	assert_string_equal(vmspec_accel_name(VM_ACCEL_TCG), "tcg");
	assert_string_equal(vmspec_nic_model_name(VM_NIC_VIRTIO), "virtio");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_roundtrip),
		cmocka_unit_test(test_schema_refusals),
		cmocka_unit_test(test_semantic_refusals),
		cmocka_unit_test(test_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
