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
	{"vserver", "SELECT " RESOLVE_VSERVER_COLS " FROM " RESOLVE_VSERVER_FROM, PRIV_VSERVER_VIEW,
	 false},
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

/* The rights check on c->subject (resolved, privs not yet set); false when answered. */
static bool
check_subject(struct call *c)
{
	struct subject *s = &c->subject;
	const struct kind *k = c->resolving.kind;
	uint32_t need = c->resolving.need;

	s->privs = call_privs(c, s->path, s->path_len, s->vdc_id, s->vserver_id);
	s->set = true;

	bool self = k->self_visible && s->owner_user_id == c->who.user_id;
	if ((s->privs & k->view) == 0 && !self) {
		/* Same words as for a missing object: nothing may tell the two apart. */
		call_fail(c, API_NOT_FOUND, "%s not found", k->name);
		return false;
	}
	if ((s->privs & need) != need) {
		call_fail(c, API_DENIED, "you may not do this to %s '%s'", k->name, s->name);
		return false;
	}
	return true;
}

/* The rights check on a resolve row; false when the call has been answered. */
static bool
check(struct call *c, const PGresult *res)
{
	struct subject *s = &c->subject;
	const struct kind *k = c->resolving.kind;

	if (PQntuples(res) != 1 || !call_parse_path(PQgetvalue(res, 0, 0), s->path, &s->path_len)) {
		call_fail(c, API_NOT_FOUND, "%s not found", k->name);
		return false;
	}
	s->type = k->name;
	s->vdc_id = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	s->vserver_id = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	snprintf(s->name, sizeof(s->name), "%s", PQgetvalue(res, 0, 3));
	s->owner_user_id = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
	return check_subject(c);
}

static void
resolved(struct call *c, const PGresult *res)
{
	if (check(c, res))
		c->resolving.next(c);
}

/*
 * Columns after the sixth are members of the object, named by the column (JSON each), except
 * those whose name starts with '_': the callback reads them from c->resolving.row.
 */
static void
fetched(struct call *c, const PGresult *res)
{
	json_t *obj, *member;

	if (!check(c, res) || !call_json_column(c, res, 5, &obj))
		return;
	for (int col = 6; col < PQnfields(res) && json_is_object(obj); col++) {
		if (PQfname(res, col)[0] == '_')
			continue;
		if (!call_json_column(c, res, col, &member)) {
			json_decref(obj);
			return;
		}
		json_object_set_new(obj, PQfname(res, col), member ? member : json_null());
	}
	c->resolving.row = res;
	c->resolving.fetched(c, obj); /* may end the call: c is not touched after */
}

static bool
start(struct call *c, const char *kind, int64_t id, uint32_t need)
{
	const struct kind *k = NULL;

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i].name, kind) == 0)
			k = &kinds[i];
	if (k == NULL) {
		log_error("unknown object kind '%s'", kind);
		call_fail(c, API_INTERNAL, "internal error (logged)");
		return false;
	}
	memset(&c->subject, 0, sizeof(c->subject));
	c->subject.id = id;
	c->resolving.kind = k;
	c->resolving.need = need;
	return true;
}

void
call_resolve(struct call *c, const char *kind, int64_t id, uint32_t need, call_done_fn next)
{
	char idbuf[24];

	if (!start(c, kind, id, need))
		return;
	c->resolving.next = next;
	const char *params[] = {call_i64(idbuf, id)};
	call_sql(c, ((const struct kind *)c->resolving.kind)->sql, 1, params, resolved);
}

void
call_resolve_fetch(struct call *c, const char *kind, int64_t id, uint32_t need, const char *sql,
		   int n, const char **params, call_json_fn next)
{
	char idbuf[24];

	if (!start(c, kind, id, need))
		return;
	c->resolving.fetched = next;
	params[0] = call_i64(idbuf, id);
	call_sql(c, sql, n, params, fetched);
}

bool
call_resolved_from(struct call *c, const char *kind, const struct subject *s, uint32_t need)
{
	if (!start(c, kind, s->id, need))
		return false;
	c->subject = *s;
	c->subject.type = ((const struct kind *)c->resolving.kind)->name;
	return check_subject(c);
}
