/*
 * Roles, privileges and grant evaluation. A grant on an account reaches everything below that
 * account; a grant on a vDataCenter reaches the vDataCenter and its vServers; a grant on a vServer
 * reaches that vServer only. Nothing reaches upwards or sideways.
 */
#include "config.h"

#include <string.h>

#include "rights.h"

static const char *const priv_names[PRIV_COUNT] = {
	"account.view",	 "account.manage",  "user.manage",  "vserver.view",
	"vserver.power", "vserver.console", "vserver.edit", "vserver.migrate",
	"image.manage",	 "stats.view",	    "task.view",    "audit.view",
};

static const char *const role_names[ROLE_COUNT] = {"admin", "operator", "user", "viewer"};
static const char *const scope_names[] = {"account", "vdc", "vserver"};

uint32_t
rights_role_privs(enum role role)
{
	switch (role) {
	case ROLE_ADMIN:
		return PRIV_ALL;
	case ROLE_OPERATOR:
		return PRIV_ACCOUNT_VIEW | PRIV_VSERVER_VIEW | PRIV_VSERVER_POWER |
		       PRIV_VSERVER_CONSOLE | PRIV_VSERVER_EDIT | PRIV_VSERVER_MIGRATE |
		       PRIV_IMAGE_MANAGE | PRIV_STATS_VIEW | PRIV_TASK_VIEW;
	case ROLE_USER:
		return PRIV_VSERVER_VIEW | PRIV_VSERVER_POWER | PRIV_VSERVER_CONSOLE |
		       PRIV_STATS_VIEW | PRIV_TASK_VIEW;
	case ROLE_VIEWER:
		return PRIV_ACCOUNT_VIEW | PRIV_VSERVER_VIEW | PRIV_STATS_VIEW | PRIV_TASK_VIEW;
	}
	return 0;
}

bool
rights_grant_applies(const struct grant *g, const struct target *t)
{
	switch (g->scope_type) {
	case SCOPE_ACCOUNT:
		for (size_t i = 0; i < t->path_len; i++)
			if (t->path[i] == g->scope_id)
				return true;
		return false;
	case SCOPE_VDC:
		return t->vdc_id != 0 && t->vdc_id == g->scope_id;
	case SCOPE_VSERVER:
		return t->vserver_id != 0 && t->vserver_id == g->scope_id;
	}
	return false;
}

uint32_t
rights_effective(const struct grant *grants, size_t n, const struct target *t, uint32_t mask)
{
	uint32_t privs = 0;

	for (size_t i = 0; i < n; i++)
		if (rights_grant_applies(&grants[i], t))
			privs |= rights_role_privs(grants[i].role);
	return privs & mask;
}

const char *
rights_priv_name(uint32_t priv)
{
	for (int i = 0; i < PRIV_COUNT; i++)
		if (priv == (1u << i))
			return priv_names[i];
	return NULL;
}

bool
rights_priv_parse(const char *name, uint32_t *out)
{
	for (int i = 0; i < PRIV_COUNT; i++) {
		if (strcmp(name, priv_names[i]) == 0) {
			*out = 1u << i;
			return true;
		}
	}
	return false;
}

const char *
rights_role_name(enum role role)
{
	return (unsigned)role < ROLE_COUNT ? role_names[role] : NULL;
}

bool
rights_role_parse(const char *name, enum role *out)
{
	for (int i = 0; i < ROLE_COUNT; i++) {
		if (strcmp(name, role_names[i]) == 0) {
			*out = (enum role)i;
			return true;
		}
	}
	return false;
}

const char *
rights_scope_name(enum scope_type s)
{
	return (unsigned)s < 3 ? scope_names[s] : NULL;
}

bool
rights_scope_parse(const char *name, enum scope_type *out)
{
	for (int i = 0; i < 3; i++) {
		if (strcmp(name, scope_names[i]) == 0) {
			*out = (enum scope_type)i;
			return true;
		}
	}
	return false;
}
