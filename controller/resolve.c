/*
 * Resolving an object named by id into its place in the tenant tree, and the one rule of
 * visibility: an object the caller holds no view privilege on is "not found", exactly like one
 * that does not exist, so ids of other tenants reveal nothing. A visible object the caller may not
 * change is "denied".
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api_ops.h"
#include "call.h"
#include "log.h"

struct kind {
	const char *name;
	const char *sql; /* $1 = id; columns: path, vdc, vserver, name, owner user */
	uint32_t view;	 /* any of these privileges makes the object visible */
	bool self_visible;
};

static const struct kind kinds[] = {
	{"account", "SELECT path, 0, 0, name, 0 FROM accounts WHERE id = $1", PRIV_ACCOUNT_VIEW,
	 false},
	{"user",
	 "SELECT a.path, 0, 0, u.username, u.id FROM users u JOIN accounts a ON a.id = "
	 "u.account_id "
	 "WHERE u.id = $1",
	 PRIV_ACCOUNT_VIEW | PRIV_USER_MANAGE, true},
	{"vdc",
	 "SELECT a.path, d.id, 0, d.name, 0 FROM vdcs d JOIN accounts a ON a.id = d.account_id "
	 "WHERE d.id = $1",
	 PRIV_ACCOUNT_VIEW | PRIV_VSERVER_VIEW, false},
	{"vserver",
	 "SELECT a.path, coalesce(v.vdc_id, 0), v.id, v.name, 0 FROM vservers v "
	 "JOIN accounts a ON a.id = v.account_id WHERE v.id = $1",
	 PRIV_VSERVER_VIEW, false},
	{"grant",
	 "SELECT a.path, 0, 0, g.role, g.user_id FROM grants g JOIN users u ON u.id = g.user_id "
	 "JOIN accounts a ON a.id = u.account_id WHERE g.id = $1",
	 PRIV_USER_MANAGE, true},
	{"token",
	 "SELECT a.path, 0, 0, t.name, t.user_id FROM api_tokens t JOIN users u ON u.id = "
	 "t.user_id "
	 "JOIN accounts a ON a.id = u.account_id WHERE t.id = $1 AND t.revoked_at IS NULL",
	 0, true},
	{"task",
	 "SELECT scope_path, coalesce(scope_vdc, 0), coalesce(scope_vserver, 0), "
	 "coalesce(object_name, ''), 0 FROM tasks WHERE id = $1",
	 PRIV_TASK_VIEW, false},
};

static void
resolved(struct call *c, const PGresult *res)
{
	struct subject *s = &c->subject;
	const struct kind *k = c->resolving.kind;
	uint32_t need = c->resolving.need;
	call_done_fn next = c->resolving.next;

	if (PQntuples(res) != 1 || !call_parse_path(PQgetvalue(res, 0, 0), s->path, &s->path_len)) {
		call_fail(c, API_NOT_FOUND, "%s not found", k->name);
		return;
	}
	s->type = k->name;
	s->vdc_id = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	s->vserver_id = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	snprintf(s->name, sizeof(s->name), "%s", PQgetvalue(res, 0, 3));
	s->owner_user_id = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
	s->privs = call_privs(c, s->path, s->path_len, s->vdc_id, s->vserver_id);
	s->set = true;

	bool self = k->self_visible && s->owner_user_id == c->who.user_id;
	if ((s->privs & k->view) == 0 && !self) {
		/* Same words as for a missing object: nothing may tell the two apart. */
		call_fail(c, API_NOT_FOUND, "%s not found", k->name);
		return;
	}
	if ((s->privs & need) != need) {
		call_fail(c, API_DENIED, "you may not do this to %s '%s'", k->name, s->name);
		return;
	}
	next(c);
}

void
call_resolve(struct call *c, const char *kind, int64_t id, uint32_t need, call_done_fn next)
{
	const struct kind *k = NULL;
	char idbuf[24];

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i].name, kind) == 0)
			k = &kinds[i];
	if (k == NULL) {
		log_error("unknown object kind '%s'", kind);
		call_fail(c, API_INTERNAL, "internal error (logged)");
		return;
	}
	memset(&c->subject, 0, sizeof(c->subject));
	c->subject.id = id;
	c->resolving.kind = k;
	c->resolving.need = need;
	c->resolving.next = next;
	const char *params[] = {call_i64(idbuf, id)};
	call_sql(c, k->sql, 1, params, resolved);
}
