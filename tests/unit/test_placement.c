/*
 * Unit tests for controller/placement.c: every hard constraint, the spreading preference, and that
 * "no capacity" names what is missing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "placement.h"

#define NODE(i, nm, cores, ram)                                                                    \
	{                                                                                          \
		.id = i, .name = nm, .online = true, .free_cores = cores, .free_ram_mb = ram,      \
		.free_disk_gb = 1000                                                               \
	}

static void
test_spreads_to_most_free_cores(void **state)
{
	struct placement_node n[] = {NODE(1, "a", 4, 8192), NODE(2, "b", 6, 4096),
				     NODE(3, "c", 6, 8192)};
	struct placement_request r = {.cores = 2, .ram_mb = 1024, .disk_gb = 10};
	char why[256];

	(void)state;
	assert_int_equal(placement_pick(n, 3, &r, why, sizeof(why)), 2); /* c: 6 cores, more RAM */
}

static void
test_hard_constraints(void **state)
{
	struct placement_node n[] = {NODE(1, "a", 8, 8192), NODE(2, "b", 8, 8192)};
	struct placement_request r = {.cores = 2, .ram_mb = 1024, .disk_gb = 10};
	char why[256];

	(void)state;
	n[0].maintenance = true;
	assert_int_equal(placement_pick(n, 2, &r, why, sizeof(why)), 1);
	n[1].reserve = true;
	assert_int_equal(placement_pick(n, 2, &r, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "reserve"));
	r.use_reserve = true; /* failover */
	assert_int_equal(placement_pick(n, 2, &r, why, sizeof(why)), 1);
	n[1].online = false;
	assert_int_equal(placement_pick(n, 2, &r, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "maintenance"));
}

/* Failover prefers the reserve node even when an ordinary node has more room. */
static void
test_failover_prefers_reserve(void **state)
{
	struct placement_node n[] = {NODE(1, "big", 16, 16384), NODE(2, "spare", 2, 2048)};
	struct placement_request r = {.cores = 1, .ram_mb = 512, .disk_gb = 1};
	char why[256];

	(void)state;
	n[1].reserve = true;
	assert_int_equal(placement_pick(n, 2, &r, why, sizeof(why)), 0);
	r.use_reserve = true;
	assert_int_equal(placement_pick(n, 2, &r, why, sizeof(why)), 1);
	r.cores = 4; /* the reserve node is too small: any node with room */
	assert_int_equal(placement_pick(n, 2, &r, why, sizeof(why)), 0);
}

static void
test_vdc_is_exclusive_both_ways(void **state)
{
	struct placement_node n[] = {NODE(1, "shared", 8, 8192), NODE(2, "dedicated", 8, 8192)};
	struct placement_request r = {.cores = 1, .ram_mb = 512, .disk_gb = 1};
	char why[256];

	(void)state;
	n[1].vdc_id = 7;
	n[0].free_cores = 1; /* the dedicated node has more room, but is not ours */
	assert_int_equal(placement_pick(n, 2, &r, why, sizeof(why)), 0);
	r.vdc_id = 7;
	assert_int_equal(placement_pick(n, 2, &r, why, sizeof(why)), 1);
	r.vdc_id = 8;
	assert_int_equal(placement_pick(n, 2, &r, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "vDataCenter"));
}

static void
test_anti_affinity_and_exclude(void **state)
{
	struct placement_node n[] = {NODE(1, "a", 8, 8192), NODE(2, "b", 2, 8192)};
	struct placement_request r = {
		.cores = 2, .ram_mb = 512, .disk_gb = 1, .anti_affinity = true};
	char why[256];

	(void)state;
	n[0].group_members = 1;
	assert_int_equal(placement_pick(n, 2, &r, why, sizeof(why)), 1);
	n[1].group_members = 1;
	assert_int_equal(placement_pick(n, 2, &r, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "anti-affinity"));
	r.anti_affinity = false;
	r.exclude_id = 1;
	assert_int_equal(placement_pick(n, 2, &r, why, sizeof(why)), 1);
}

static void
test_local_disk_pins_the_node(void **state)
{
	struct placement_node n[] = {NODE(1, "a", 8, 8192), NODE(2, "b", 2, 8192)};
	struct placement_request r = {.cores = 1, .ram_mb = 512, .disk_gb = 1, .only_id = 2};
	char why[256];

	(void)state;
	assert_int_equal(placement_pick(n, 2, &r, why, sizeof(why)), 1);
	n[1].online = false;
	assert_int_equal(placement_pick(n, 2, &r, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "local storage"));
}

static void
test_no_capacity_says_what_is_missing(void **state)
{
	struct placement_node n[] = {NODE(1, "a", 2, 8192), NODE(2, "b", 3, 1024)};
	struct placement_request r = {.cores = 4, .ram_mb = 512, .disk_gb = 1};
	char why[256];

	(void)state;
	assert_int_equal(placement_pick(n, 2, &r, why, sizeof(why)), -1);
	assert_string_equal(why,
			    "no usable node has 4 free dedicated cores; the most free are 3 on b");
	r.cores = 1;
	r.ram_mb = 16384;
	assert_int_equal(placement_pick(n, 2, &r, why, sizeof(why)), -1);
	assert_string_equal(
		why, "no usable node has 16384 MB of free RAM; the most free is 8192 MB on a");
	assert_int_equal(placement_pick(n, 0, &r, why, sizeof(why)), -1);
	assert_string_equal(why, "no node has joined yet");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spreads_to_most_free_cores),
		cmocka_unit_test(test_hard_constraints),
		cmocka_unit_test(test_failover_prefers_reserve),
		cmocka_unit_test(test_vdc_is_exclusive_both_ways),
		cmocka_unit_test(test_anti_affinity_and_exclude),
		cmocka_unit_test(test_local_disk_pins_the_node),
		cmocka_unit_test(test_no_capacity_says_what_is_missing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
