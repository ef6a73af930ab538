/*
 * Unit tests for common/proto.c: a valid example of every message type in each direction, and
 * every kind of bad input refused with a message naming the problem: unknown type, type of the
 * other direction, missing, extra and mistyped fields, nested inventory and vm entries, and
 * replies whose ok does not match result/error.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "proto.h"

#define INVENTORY                                                                                  \
	"{\"cores\":4,\"housekeeping\":[0],\"dedicated\":[1,2,3],\"ram_mb\":15000,"                \
	"\"bridges\":[\"wrbr0\"],\"storages\":[{\"name\":\"local\",\"path\":\"/srv\","             \
	"\"shared\":false,\"free_gb\":100}],\"qemu_version\":\"7.2.11\",\"kvm\":true,"             \
	"\"accel\":\"kvm\"}"
#define HELLO_WITH(inv, vms)                                                                       \
	"{\"type\":\"hello\",\"version\":\"webrack-node/0.1.0\",\"epoch\":0,\"inventory\":" inv    \
	",\"vms\":" vms "}"

static void
expect(enum proto_dir dir, const char *text, enum proto_type want, const char *fragment)
{
	char why[256] = "";
	json_error_t err;
	json_t *msg = json_loads(text, JSON_DECODE_ANY, &err);

	if (msg == NULL)
		fail_msg("test JSON does not parse: %s: %s", text, err.text);
	enum proto_type got = proto_check(dir, msg, why, sizeof(why));
	if (got != want)
		fail_msg("%s: got %s (%s), want %s", text, proto_type_name(got), why,
			 proto_type_name(want));
	if (fragment != NULL && strstr(why, fragment) == NULL)
		fail_msg("%s: message '%s' lacks '%s'", text, why, fragment);
	json_decref(msg);
}

#define AGENT(text, want, frag)	     expect(PROTO_FROM_AGENT, text, want, frag)
#define CONTROLLER(text, want, frag) expect(PROTO_FROM_CONTROLLER, text, want, frag)

static void
test_valid_agent_messages(void **state)
{
	(void)state;
	AGENT(HELLO_WITH(INVENTORY, "[]"), PROTO_HELLO, NULL);
	AGENT(HELLO_WITH(INVENTORY, "[{\"id\":7,\"state\":\"running\",\"pid\":1234},"
				    "{\"id\":8,\"state\":\"stopped\",\"pid\":0}]"),
	      PROTO_HELLO, NULL);
	AGENT("{\"type\":\"heartbeat\",\"seq\":0}", PROTO_HEARTBEAT, NULL);
	AGENT("{\"type\":\"event\",\"vm\":7,\"event\":\"crashed\",\"detail\":\"exit 1\"}",
	      PROTO_EVENT, NULL);
	AGENT("{\"type\":\"reply\",\"id\":3,\"ok\":true,\"result\":{\"pong\":true}}", PROTO_REPLY,
	      NULL);
	AGENT("{\"type\":\"reply\",\"id\":3,\"ok\":false,\"error\":{\"code\":\"stale_epoch\","
	      "\"message\":\"epoch 3 < 5\"}}",
	      PROTO_REPLY, NULL);
}

static void
test_valid_controller_messages(void **state)
{
	(void)state;
	CONTROLLER("{\"type\":\"welcome\",\"epoch\":5,\"heartbeat_interval\":1}", PROTO_WELCOME,
		   NULL);
	CONTROLLER("{\"type\":\"command\",\"id\":1,\"task\":9,\"epoch\":5,\"op\":\"vm.start\","
		   "\"args\":{\"id\":7}}",
		   PROTO_COMMAND, NULL);
	CONTROLLER("{\"type\":\"command\",\"id\":1,\"task\":null,\"epoch\":5,\"op\":\"node.ping\","
		   "\"args\":{}}",
		   PROTO_COMMAND, NULL);
	CONTROLLER("{\"type\":\"command\",\"id\":1,\"task\":0,\"epoch\":5,\"op\":\"node.ping\","
		   "\"args\":{}}",
		   PROTO_COMMAND, NULL);
	CONTROLLER("{\"type\":\"error\",\"code\":\"invalid\",\"message\":\"bad\"}", PROTO_ERROR,
		   NULL);
	/* Failover: the heartbeat echo and the VMs revoked from a node declared dead. */
	CONTROLLER("{\"type\":\"heartbeat\",\"seq\":1}", PROTO_BEAT, NULL);
	CONTROLLER("{\"type\":\"welcome\",\"epoch\":6,\"heartbeat_interval\":1,"
		   "\"revoked\":[{\"id\":7},{\"id\":9}]}",
		   PROTO_WELCOME, NULL);
	CONTROLLER("{\"type\":\"welcome\",\"epoch\":6,\"heartbeat_interval\":1,"
		   "\"revoked\":[7]}",
		   PROTO_INVALID, NULL);
	CONTROLLER("{\"type\":\"heartbeat\",\"seq\":-1}", PROTO_INVALID, "'seq' must be between");
}

static void
test_types(void **state)
{
	(void)state;
	AGENT("{\"type\":\"welcome\",\"epoch\":5,\"heartbeat_interval\":1}", PROTO_INVALID,
	      "unknown message type 'welcome'");
	CONTROLLER("{\"type\":\"stats\",\"time\":1,\"vms\":[]}", PROTO_INVALID,
		   "unknown message type 'stats'");
	AGENT("{\"type\":\"bogus\"}", PROTO_INVALID, "unknown message type 'bogus'");
	AGENT("{\"seq\":1}", PROTO_INVALID, "string 'type'");
	AGENT("{\"type\":3,\"seq\":1}", PROTO_INVALID, "string 'type'");
	AGENT("[{\"type\":\"heartbeat\"}]", PROTO_INVALID, "JSON object");
	AGENT("\"heartbeat\"", PROTO_INVALID, "JSON object");
}

static void
test_missing_extra_wrong(void **state)
{
	(void)state;
	AGENT("{\"type\":\"heartbeat\"}", PROTO_INVALID, "missing parameter 'seq'");
	AGENT("{\"type\":\"heartbeat\",\"seq\":1,\"node\":\"n1\"}", PROTO_INVALID,
	      "unknown parameter 'node'");
	AGENT("{\"type\":\"heartbeat\",\"seq\":\"1\"}", PROTO_INVALID, "must be an integer");
	AGENT("{\"type\":\"heartbeat\",\"seq\":-1}", PROTO_INVALID, "'seq' must be between");
	AGENT("{\"type\":\"heartbeat\",\"seq\":1.5}", PROTO_INVALID, "must be an integer");
	AGENT("{\"type\":\"event\",\"vm\":7,\"event\":\"exploded\",\"detail\":\"\"}", PROTO_INVALID,
	      "'event'");
	AGENT("{\"type\":\"event\",\"vm\":0,\"event\":\"started\",\"detail\":\"\"}", PROTO_INVALID,
	      "'vm'");
	AGENT("{\"type\":\"event\",\"vm\":7,\"event\":\"started\",\"detail\":\"a\\nb\"}",
	      PROTO_INVALID, "control characters");
	AGENT("{\"type\":\"event\",\"vm\":7,\"event\":\"started\"}", PROTO_INVALID,
	      "missing parameter 'detail'");
	CONTROLLER("{\"type\":\"welcome\",\"epoch\":5}", PROTO_INVALID,
		   "missing parameter 'heartbeat_interval'");
	CONTROLLER("{\"type\":\"welcome\",\"epoch\":5,\"heartbeat_interval\":0}", PROTO_INVALID,
		   "'heartbeat_interval' must be between 1 and 60");
	CONTROLLER("{\"type\":\"welcome\",\"epoch\":true,\"heartbeat_interval\":1}", PROTO_INVALID,
		   "'epoch' must be an integer");
	CONTROLLER("{\"type\":\"command\",\"id\":1,\"task\":9,\"epoch\":5,\"op\":\"vm.start\"}",
		   PROTO_INVALID, "missing parameter 'args'");
	CONTROLLER("{\"type\":\"command\",\"id\":1,\"task\":9,\"epoch\":5,\"op\":\"vm.start\","
		   "\"args\":[]}",
		   PROTO_INVALID, "'args' must be an object");
	CONTROLLER("{\"type\":\"command\",\"id\":1,\"task\":9,\"epoch\":-1,\"op\":\"x\","
		   "\"args\":{}}",
		   PROTO_INVALID, "'epoch'");
	CONTROLLER("{\"type\":\"command\",\"id\":1,\"task\":9,\"epoch\":1,\"op\":\"\","
		   "\"args\":{}}",
		   PROTO_INVALID, "'op'");
	CONTROLLER("{\"type\":\"error\",\"code\":\"invalid\"}", PROTO_INVALID,
		   "missing parameter 'message'");
}

static void
test_nested(void **state)
{
	(void)state;
	AGENT(HELLO_WITH("{}", "[]"), PROTO_INVALID, "missing parameter 'cores'");
	AGENT(HELLO_WITH(INVENTORY, "{}"), PROTO_INVALID, "'vms' must be an array");
	AGENT(HELLO_WITH(INVENTORY, "[{\"id\":7,\"state\":\"dancing\",\"pid\":1}]"), PROTO_INVALID,
	      "'state'");
	AGENT(HELLO_WITH(INVENTORY, "[{\"id\":7,\"state\":\"running\"}]"), PROTO_INVALID,
	      "missing parameter 'pid'");
	AGENT(HELLO_WITH(INVENTORY, "[7]"), PROTO_INVALID, "JSON object");
	AGENT(HELLO_WITH("{\"cores\":4,\"housekeeping\":[0],\"dedicated\":[1],\"ram_mb\":1,"
			 "\"bridges\":[3],\"storages\":[],\"qemu_version\":\"\",\"kvm\":false,"
			 "\"accel\":\"tcg\"}",
			 "[]"),
	      PROTO_INVALID, "'bridges' must hold strings");
	AGENT(HELLO_WITH("{\"cores\":4,\"housekeeping\":[0],\"dedicated\":[1],\"ram_mb\":1,"
			 "\"bridges\":[\"a\\u0001\"],\"storages\":[],\"qemu_version\":\"\","
			 "\"kvm\":false,\"accel\":\"tcg\"}",
			 "[]"),
	      PROTO_INVALID, "control characters");
	AGENT(HELLO_WITH("{\"cores\":4,\"housekeeping\":[],\"dedicated\":[1],\"ram_mb\":1,"
			 "\"bridges\":[],\"storages\":[],\"qemu_version\":\"\",\"kvm\":false,"
			 "\"accel\":\"tcg\"}",
			 "[]"),
	      PROTO_INVALID, "'housekeeping'");
	AGENT(HELLO_WITH("{\"cores\":4,\"housekeeping\":[0],\"dedicated\":[-1],\"ram_mb\":1,"
			 "\"bridges\":[],\"storages\":[],\"qemu_version\":\"\",\"kvm\":false,"
			 "\"accel\":\"tcg\"}",
			 "[]"),
	      PROTO_INVALID, "'dedicated'");
	AGENT(HELLO_WITH("{\"cores\":4,\"housekeeping\":[0],\"dedicated\":[1],\"ram_mb\":1,"
			 "\"bridges\":[],\"storages\":[{\"name\":\"s\",\"path\":\"/s\","
			 "\"shared\":\"no\",\"free_gb\":1}],\"qemu_version\":\"\",\"kvm\":false,"
			 "\"accel\":\"tcg\"}",
			 "[]"),
	      PROTO_INVALID, "'shared' must be true or false");
	AGENT(HELLO_WITH("{\"cores\":4,\"housekeeping\":[0],\"dedicated\":[1],\"ram_mb\":1,"
			 "\"bridges\":[],\"storages\":[],\"qemu_version\":\"\",\"kvm\":false,"
			 "\"accel\":\"auto\"}",
			 "[]"),
	      PROTO_INVALID, "'accel'");
	AGENT(HELLO_WITH("{\"cores\":4,\"housekeeping\":[0],\"dedicated\":[1],\"ram_mb\":1,"
			 "\"bridges\":[],\"storages\":[],\"qemu_version\":\"\",\"kvm\":false,"
			 "\"accel\":\"tcg\",\"gpu\":true}",
			 "[]"),
	      PROTO_INVALID, "unknown parameter 'gpu'");
}

static void
test_reply_consistency(void **state)
{
	(void)state;
	AGENT("{\"type\":\"reply\",\"id\":3,\"ok\":true}", PROTO_INVALID, "must carry 'result'");
	AGENT("{\"type\":\"reply\",\"id\":3,\"ok\":false}", PROTO_INVALID, "must carry 'error'");
	AGENT("{\"type\":\"reply\",\"id\":3,\"ok\":true,\"result\":{},\"error\":{\"code\":\"x\","
	      "\"message\":\"\"}}",
	      PROTO_INVALID, "no 'error'");
	AGENT("{\"type\":\"reply\",\"id\":3,\"ok\":false,\"result\":{},\"error\":{\"code\":\"x\","
	      "\"message\":\"\"}}",
	      PROTO_INVALID, "no 'result'");
	AGENT("{\"type\":\"reply\",\"id\":3,\"ok\":false,\"error\":{\"code\":\"\",\"message\":\"\"}"
	      "}",
	      PROTO_INVALID, "'code'");
	AGENT("{\"type\":\"reply\",\"id\":3,\"ok\":true,\"result\":5}", PROTO_INVALID,
	      "'result' must be an object");
	AGENT("{\"type\":\"reply\",\"ok\":true,\"result\":{}}", PROTO_INVALID,
	      "missing parameter 'id'");
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(proto_type_name(PROTO_HELLO), "hello");
	assert_string_equal(proto_type_name(PROTO_ERROR), "error");
	assert_string_equal(proto_type_name(PROTO_INVALID), "invalid");
	assert_non_null(proto_schema(PROTO_COMMAND));
	assert_null(proto_schema(PROTO_INVALID));
}

static void
test_stats(void **state)
{
	(void)state;
	AGENT("{\"type\":\"stats\",\"time\":1700000000,\"vms\":[]}", PROTO_STATS, NULL);
	AGENT("{\"type\":\"stats\",\"time\":1700000000,\"node\":{\"cpu_busy_ms\":5,"
	      "\"load1_milli\":250},\"vms\":[{\"id\":7,\"cpu_ms\":10,\"net_rx_bytes\":0}]}",
	      PROTO_STATS, NULL);
	AGENT("{\"type\":\"stats\",\"vms\":[]}", PROTO_INVALID, "time");
	AGENT("{\"type\":\"stats\",\"time\":1,\"vms\":[{\"cpu_ms\":1}]}", PROTO_INVALID, "id");
	AGENT("{\"type\":\"stats\",\"time\":1,\"vms\":[{\"id\":1,\"cpu_ms\":-1}]}", PROTO_INVALID,
	      "cpu_ms");
	AGENT("{\"type\":\"stats\",\"time\":1,\"vms\":[{\"id\":1,\"bogus\":1}]}", PROTO_INVALID,
	      "bogus");
	AGENT("{\"type\":\"stats\",\"time\":1,\"node\":{\"load\":1.5},\"vms\":[]}", PROTO_INVALID,
	      "load");
	CONTROLLER("{\"type\":\"stats\",\"time\":1,\"vms\":[]}", PROTO_INVALID, NULL);

	/* more than PROTO_STATS_VMS entries: refused (the agent splits them) */
	json_t *vms = json_array();
	for (int i = 0; i <= PROTO_STATS_VMS; i++)
		json_array_append_new(vms, json_pack("{s:i}", "id", i + 1));
	json_t *msg = json_pack("{s:s, s:i, s:o}", "type", "stats", "time", 1, "vms", vms);
	char why[256];
	assert_int_equal(proto_check(PROTO_FROM_AGENT, msg, why, sizeof(why)), PROTO_INVALID);
	json_array_remove(json_object_get(msg, "vms"), 0);
	assert_int_equal(proto_check(PROTO_FROM_AGENT, msg, why, sizeof(why)), PROTO_STATS);
	json_decref(msg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_agent_messages),
		cmocka_unit_test(test_valid_controller_messages),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_missing_extra_wrong),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_reply_consistency),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_stats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
