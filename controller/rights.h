/*
 * Rights evaluation: which privileges a user's grants give on one object. The only place where
 * the rule lives; the SQL side merely narrows lists to the caller's own account subtree.
 */
#ifndef WEBRACK_RIGHTS_H
#define WEBRACK_RIGHTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum priv {
	PRIV_ACCOUNT_VIEW = 1u << 0,
	PRIV_ACCOUNT_MANAGE = 1u << 1,
	PRIV_USER_MANAGE = 1u << 2,
	PRIV_VSERVER_VIEW = 1u << 3,
	PRIV_VSERVER_POWER = 1u << 4,
	PRIV_VSERVER_CONSOLE = 1u << 5,
	PRIV_VSERVER_EDIT = 1u << 6,
	PRIV_VSERVER_MIGRATE = 1u << 7,
	PRIV_IMAGE_MANAGE = 1u << 8,
	PRIV_STATS_VIEW = 1u << 9,
	PRIV_TASK_VIEW = 1u << 10,
	PRIV_AUDIT_VIEW = 1u << 11,
};
#define PRIV_ALL   ((1u << 12) - 1)
#define PRIV_COUNT 12

enum scope_type { SCOPE_ACCOUNT, SCOPE_VDC, SCOPE_VSERVER };
enum role { ROLE_ADMIN, ROLE_OPERATOR, ROLE_USER, ROLE_VIEWER };
#define ROLE_COUNT 4

struct grant {
	int64_t id;
	enum scope_type scope_type;
	int64_t scope_id;
	enum role role;
};

/* Where an object sits: its account's path from the root, its vDataCenter and vServer (0 = none).
 */
struct target {
	const int64_t *path;
	size_t path_len;
	int64_t vdc_id;
	int64_t vserver_id;
};

uint32_t rights_role_privs(enum role role);
/* Union of the privileges of every grant that applies to t, restricted by mask (API tokens). */
uint32_t rights_effective(const struct grant *grants, size_t n, const struct target *t,
			  uint32_t mask);
bool rights_grant_applies(const struct grant *g, const struct target *t);

const char *rights_priv_name(uint32_t priv); /* one bit */
bool rights_priv_parse(const char *name, uint32_t *out) __attribute__((warn_unused_result));
const char *rights_role_name(enum role role);
bool rights_role_parse(const char *name, enum role *out) __attribute__((warn_unused_result));
const char *rights_scope_name(enum scope_type s);
bool rights_scope_parse(const char *name, enum scope_type *out) __attribute__((warn_unused_result));

#endif
