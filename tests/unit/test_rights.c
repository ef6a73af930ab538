/*
 * Unit tests for controller/rights.c: grants reach down the account tree but never up or
 * sideways, vDataCenter and vServer grants reach only their object, roles carry exactly their
 * privileges, and token masks restrict.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rights.h"

/* provider 1 -> reseller 2 -> customer 3; reseller 2 -> customer 4; provider 1 -> customer 5 */
static const int64_t path_provider[] = {1};
static const int64_t path_reseller[] = {1, 2};
static const int64_t path_cust3[] = {1, 2, 3};
static const int64_t path_cust4[] = {1, 2, 4};
static const int64_t path_cust5[] = {1, 5};

#define T(p, vdc, vs)                                                                              \
	{                                                                                          \
		.path = p, .path_len = sizeof(p) / sizeof(p[0]), .vdc_id = vdc, .vserver_id = vs   \
	}

static void
test_account_grant_reaches_down_only(void **state)
{
	struct grant g = {.scope_type = SCOPE_ACCOUNT, .scope_id = 2, .role = ROLE_ADMIN};
	struct target reseller = T(path_reseller, 0, 0), cust3 = T(path_cust3, 0, 0),
		      provider = T(path_provider, 0, 0), cust5 = T(path_cust5, 0, 0),
		      vs_in_cust4 = T(path_cust4, 0, 77);

	(void)state;
	assert_int_equal(rights_effective(&g, 1, &reseller, PRIV_ALL), PRIV_ALL);
	assert_int_equal(rights_effective(&g, 1, &cust3, PRIV_ALL), PRIV_ALL);
	assert_int_equal(rights_effective(&g, 1, &vs_in_cust4, PRIV_ALL), PRIV_ALL);
	assert_int_equal(rights_effective(&g, 1, &provider, PRIV_ALL), 0);
	assert_int_equal(rights_effective(&g, 1, &cust5, PRIV_ALL), 0);
}

static void
test_vserver_grant_reaches_that_vserver_only(void **state)
{
	struct grant g = {.scope_type = SCOPE_VSERVER, .scope_id = 10, .role = ROLE_USER};
	struct target vs10 = T(path_cust3, 0, 10), vs11 = T(path_cust3, 0, 11),
		      account = T(path_cust3, 0, 0);
	uint32_t p;

	(void)state;
	p = rights_effective(&g, 1, &vs10, PRIV_ALL);
	assert_true(p & PRIV_VSERVER_VIEW);
	assert_true(p & PRIV_VSERVER_POWER);
	assert_false(p & PRIV_VSERVER_EDIT);
	assert_false(p & PRIV_USER_MANAGE);
	assert_int_equal(rights_effective(&g, 1, &vs11, PRIV_ALL), 0);
	assert_int_equal(rights_effective(&g, 1, &account, PRIV_ALL), 0);
}

static void
test_vdc_grant(void **state)
{
	struct grant g = {.scope_type = SCOPE_VDC, .scope_id = 7, .role = ROLE_OPERATOR};
	struct target in_vdc = T(path_cust3, 7, 20), other_vdc = T(path_cust3, 8, 21),
		      no_vdc = T(path_cust3, 0, 22);

	(void)state;
	assert_true(rights_effective(&g, 1, &in_vdc, PRIV_ALL) & PRIV_VSERVER_MIGRATE);
	assert_int_equal(rights_effective(&g, 1, &other_vdc, PRIV_ALL), 0);
	assert_int_equal(rights_effective(&g, 1, &no_vdc, PRIV_ALL), 0);
}

static void
test_grants_union_and_token_mask(void **state)
{
	struct grant g[] = {
		{.scope_type = SCOPE_ACCOUNT, .scope_id = 3, .role = ROLE_VIEWER},
		{.scope_type = SCOPE_VSERVER, .scope_id = 10, .role = ROLE_USER},
	};
	struct target vs10 = T(path_cust3, 0, 10);
	uint32_t p;

	(void)state;
	p = rights_effective(g, 2, &vs10, PRIV_ALL);
	assert_true(p & PRIV_ACCOUNT_VIEW);  /* from the viewer grant */
	assert_true(p & PRIV_VSERVER_POWER); /* from the user grant */
	p = rights_effective(g, 2, &vs10, PRIV_VSERVER_VIEW);
	assert_int_equal(p, PRIV_VSERVER_VIEW);
	assert_int_equal(rights_effective(g, 0, &vs10, PRIV_ALL), 0);
}

static void
test_roles_are_nested(void **state)
{
	uint32_t admin = rights_role_privs(ROLE_ADMIN), op = rights_role_privs(ROLE_OPERATOR),
		 user = rights_role_privs(ROLE_USER), viewer = rights_role_privs(ROLE_VIEWER);

	(void)state;
	assert_int_equal(admin, PRIV_ALL);
	assert_int_equal(op & admin, op);
	assert_int_equal(user & op, user);
	assert_int_equal(viewer & op, viewer);
	/* Only admins manage users, accounts and read the audit log. */
	assert_false(op & (PRIV_USER_MANAGE | PRIV_ACCOUNT_MANAGE | PRIV_AUDIT_VIEW));
	assert_false(user & PRIV_ACCOUNT_VIEW);
}

static void
test_names_round_trip(void **state)
{
	uint32_t bit;
	enum role r;
	enum scope_type s;

	(void)state;
	for (int i = 0; i < PRIV_COUNT; i++) {
		assert_true(rights_priv_parse(rights_priv_name(1u << i), &bit));
		assert_int_equal(bit, 1u << i);
	}
	assert_false(rights_priv_parse("vserver.everything", &bit));
	assert_true(rights_role_parse("operator", &r));
	assert_int_equal(r, ROLE_OPERATOR);
	assert_false(rights_role_parse("root", &r));
	assert_true(rights_scope_parse("vdc", &s));
	assert_int_equal(s, SCOPE_VDC);
	assert_false(rights_scope_parse("node", &s));
	assert_null(rights_priv_name(3)); /* not a single bit */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_account_grant_reaches_down_only),
		cmocka_unit_test(test_vserver_grant_reaches_that_vserver_only),
		cmocka_unit_test(test_vdc_grant),
		cmocka_unit_test(test_grants_union_and_token_mask),
		cmocka_unit_test(test_roles_are_nested),
		cmocka_unit_test(test_names_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
