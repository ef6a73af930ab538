/*
 * Validation of request arguments against an operation's parameter table. Type errors are never
 * coerced: "5" is not an integer and 1 is not a boolean, because a script that sends the wrong
 * type has a bug its author wants to hear about.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "schema.h"

static const struct param *
find_param(const struct param *params, const char *name)
{
	for (const struct param *p = params; p->name != NULL; p++)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

static bool
in_choices(const char *const *choices, const char *s)
{
	for (size_t i = 0; choices[i] != NULL; i++)
		if (strcmp(choices[i], s) == 0)
			return true;
	return false;
}

static bool
has_control_chars(const char *s, size_t len, bool lines_ok)
{
	for (size_t i = 0; i < len; i++) {
		if (lines_ok && (s[i] == '\n' || s[i] == '\r'))
			continue;
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return true;
	}
	return false;
}

static bool
check_one(const struct param *p, const json_t *v, char *why, size_t whylen)
{
	if (json_is_null(v)) {
		if (p->nullable)
			return true;
		snprintf(why, whylen, "parameter '%s' must not be null", p->name);
		return false;
	}
	switch (p->type) {
	case PARAM_INT: {
		if (!json_is_integer(v)) {
			snprintf(why, whylen, "parameter '%s' must be an integer", p->name);
			return false;
		}
		json_int_t n = json_integer_value(v);
		if (n < p->min || n > p->max) {
			snprintf(why, whylen, "parameter '%s' must be between %lld and %lld",
				 p->name, p->min, p->max);
			return false;
		}
		return true;
	}
	case PARAM_STRING:
	case PARAM_SECRET:
	case PARAM_TEXT: {
		if (!json_is_string(v)) {
			snprintf(why, whylen, "parameter '%s' must be a string", p->name);
			return false;
		}
		size_t len = json_string_length(v);
		if ((long long)len < p->min || (long long)len > p->max) {
			snprintf(why, whylen, "parameter '%s' must be %lld to %lld bytes long",
				 p->name, p->min, p->max);
			return false;
		}
		if (has_control_chars(json_string_value(v), len, p->type == PARAM_TEXT)) {
			snprintf(why, whylen, "parameter '%s' contains control characters",
				 p->name);
			return false;
		}
		return true;
	}
	case PARAM_BOOL:
		if (!json_is_boolean(v)) {
			snprintf(why, whylen, "parameter '%s' must be true or false", p->name);
			return false;
		}
		return true;
	case PARAM_ENUM:
		if (!json_is_string(v) || !in_choices(p->choices, json_string_value(v))) {
			snprintf(why, whylen, "parameter '%s' must be one of the documented values",
				 p->name);
			return false;
		}
		return true;
	case PARAM_ENUMSET: {
		if (!json_is_array(v)) {
			snprintf(why, whylen, "parameter '%s' must be an array", p->name);
			return false;
		}
		size_t n = json_array_size(v);
		if ((long long)n < p->min || (long long)n > p->max) {
			snprintf(why, whylen, "parameter '%s' must have %lld to %lld entries",
				 p->name, p->min, p->max);
			return false;
		}
		for (size_t i = 0; i < n; i++) {
			const json_t *e = json_array_get(v, i);
			if (!json_is_string(e) || !in_choices(p->choices, json_string_value(e))) {
				snprintf(why, whylen, "parameter '%s' has an unknown entry",
					 p->name);
				return false;
			}
			for (size_t j = 0; j < i; j++) {
				if (json_equal(e, json_array_get(v, j))) {
					snprintf(why, whylen, "parameter '%s' repeats an entry",
						 p->name);
					return false;
				}
			}
		}
		return true;
	}
	case PARAM_OBJECT:
		if (!json_is_object(v)) {
			snprintf(why, whylen, "parameter '%s' must be an object", p->name);
			return false;
		}
		return p->sub == NULL || schema_check(p->sub, v, why, whylen);
	case PARAM_ARRAY:
	case PARAM_INTLIST: {
		if (!json_is_array(v)) {
			snprintf(why, whylen, "parameter '%s' must be an array", p->name);
			return false;
		}
		size_t n = json_array_size(v);
		if ((long long)n < p->min || (long long)n > p->max) {
			snprintf(why, whylen, "parameter '%s' must have %lld to %lld entries",
				 p->name, p->min, p->max);
			return false;
		}
		for (size_t i = 0; i < n; i++) {
			const json_t *e = json_array_get(v, i);
			if (p->type == PARAM_INTLIST) {
				if (!json_is_integer(e) || json_integer_value(e) < 0 ||
				    json_integer_value(e) > 65535) {
					snprintf(why, whylen,
						 "parameter '%s' must hold integers 0..65535",
						 p->name);
					return false;
				}
			} else if (p->sub != NULL && !schema_check(p->sub, e, why, whylen)) {
				return false;
			}
		}
		return true;
	}
	}
	snprintf(why, whylen, "parameter '%s' has an unknown type", p->name);
	return false;
}

bool
schema_check(const struct param *params, const json_t *args, char *why, size_t whylen)
{
	const char *key;
	const json_t *v;

	if (!json_is_object(args)) {
		snprintf(why, whylen, "the request body must be a JSON object");
		return false;
	}
	json_object_foreach ((json_t *)args, key, v) {
		const struct param *p = find_param(params, key);
		if (p == NULL) {
			snprintf(why, whylen, "unknown parameter '%.64s'", key);
			return false;
		}
		if (!check_one(p, v, why, whylen))
			return false;
	}
	for (const struct param *p = params; p->name != NULL; p++) {
		if (p->required && json_object_get(args, p->name) == NULL) {
			snprintf(why, whylen, "missing parameter '%s'", p->name);
			return false;
		}
	}
	return true;
}

const char *
schema_type_name(const struct param *p)
{
	switch (p->type) {
	case PARAM_INT:
		return "integer";
	case PARAM_STRING:
	case PARAM_SECRET:
	case PARAM_TEXT:
		return "string";
	case PARAM_BOOL:
		return "boolean";
	case PARAM_ENUM:
		return "enum";
	case PARAM_ENUMSET:
		return "array of enum";
	case PARAM_OBJECT:
		return "object";
	case PARAM_ARRAY:
		return "array";
	case PARAM_INTLIST:
		return "array of integer";
	}
	return "?";
}
