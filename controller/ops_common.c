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
