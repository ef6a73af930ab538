/*
 * Small replies every group of operations uses.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "call.h"
#include "ops.h"

void
ops_reply_items(struct call *c, json_t *items, uint32_t need)
{
	json_t *visible = call_filter_list(c, items, need);
	call_reply(c, json_pack("{s:o}", "items", visible));
}

void
ops_reply_object(struct call *c, json_t *obj)
{
	if (obj == NULL) {
		call_fail(c, API_NOT_FOUND, "%s not found",
			  c->subject.type ? c->subject.type : "object");
		return;
	}
	call_reply(c, obj);
}

void
ops_reply_changed(struct call *c, json_t *obj)
{
	if (obj == NULL) {
		call_fail(c, API_NOT_FOUND, "%s not found",
			  c->subject.type ? c->subject.type : "object");
		return;
	}
	/* Name the task after the object itself, while keeping the scope it was resolved under. */
	const char *name = json_string_value(json_object_get(obj, "name"));
	if (name == NULL)
		name = json_string_value(json_object_get(obj, "username"));
	if (name == NULL)
		name = json_string_value(json_object_get(obj, "role"));
	if (name != NULL)
		snprintf(c->subject.name, sizeof(c->subject.name), "%s", name);
	if (json_is_integer(json_object_get(obj, "id")))
		c->subject.id = json_integer_value(json_object_get(obj, "id"));
	call_reply(c, obj);
}

bool
ops_may_shape_account(struct call *c)
{
	const struct subject *s = &c->subject;
	size_t n = s->path_len > 1 ? s->path_len - 1 : s->path_len;

	return (call_privs(c, s->path, n, 0, 0) & PRIV_ACCOUNT_MANAGE) != 0;
}

void
ops_subject_new(struct call *c, const char *type, const char *name)
{
	c->subject.type = type;
	c->subject.id = 0;
	snprintf(c->subject.name, sizeof(c->subject.name), "%s", name ? name : "");
}

void
ops_subtree_listed(struct call *c, json_t *items)
{
	ops_reply_items(c, items, c->resolving.need);
}

void
ops_list_subtree_with(struct call *c, const char *sql, const char *filter_arg, uint32_t need,
		      const char *extra)
{
	char acct[24], filter[24];
	const char *params[] = {
		call_i64(acct, c->who.account_id),
		filter_arg ? call_arg_text(c, filter_arg, filter, sizeof(filter)) : NULL, extra};

	c->resolving.need = need;
	call_sql_json(c, sql, extra != NULL ? 3 : 2, params, ops_subtree_listed);
}

void
ops_list_subtree(struct call *c, const char *sql, const char *filter_arg, uint32_t need)
{
	ops_list_subtree_with(c, sql, filter_arg, need, NULL);
}
