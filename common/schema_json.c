/*
 * Parameter schemas to JSON and back (see schema_json.h). The reading direction treats its input
 * as untrusted (it comes over the network into wrctl): every field is type-checked, counts and
 * nesting are capped, and a malformed description is refused as a whole.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_json.h"

#define DEPTH_MAX   8	 /* sub-schemas nest a few levels at most */
#define PARAMS_MAX  256	 /* per table */
#define CHOICES_MAX 1024 /* per enum */

static const char *const type_keys[] = {
	[PARAM_INT] = "int",	     [PARAM_STRING] = "string", [PARAM_SECRET] = "secret",
	[PARAM_TEXT] = "text",	     [PARAM_BOOL] = "bool",	[PARAM_ENUM] = "enum",
	[PARAM_ENUMSET] = "enumset", [PARAM_OBJECT] = "object", [PARAM_ARRAY] = "array",
	[PARAM_INTLIST] = "intlist",
};
#define N_TYPES (sizeof(type_keys) / sizeof(type_keys[0]))

const char *
schema_type_key(enum param_type t)
{
	return (unsigned)t < N_TYPES && type_keys[t] ? type_keys[t] : "unknown";
}

bool
schema_type_from_key(const char *key, enum param_type *out)
{
	for (size_t i = 0; key != NULL && i < N_TYPES; i++) {
		if (type_keys[i] != NULL && strcmp(type_keys[i], key) == 0) {
			*out = (enum param_type)i;
			return true;
		}
	}
	return false;
}

static json_t *to_json(const struct param *params, int depth);

static json_t *
param_to_json(const struct param *p, int depth)
{
	json_t *choices = json_null();

	if (p->choices != NULL) {
		choices = json_array();
		for (size_t i = 0; p->choices[i] != NULL; i++)
			json_array_append_new(choices, json_string(p->choices[i]));
	}
	json_t *o =
		json_pack("{s:s, s:s, s:s, s:b, s:b, s:I, s:I, s:o, s:s}", "name", p->name, "type",
			  schema_type_key(p->type), "type_name", schema_type_name(p), "required",
			  p->required, "nullable", p->nullable, "min", (json_int_t)p->min, "max",
			  (json_int_t)p->max, "choices", choices, "doc", p->doc ? p->doc : "");
	if (o != NULL && p->sub != NULL && depth < DEPTH_MAX)
		json_object_set_new(o, "params", to_json(p->sub, depth + 1));
	return o;
}

static json_t *
to_json(const struct param *params, int depth)
{
	json_t *a = json_array();

	for (const struct param *p = params; p != NULL && p->name != NULL; p++)
		json_array_append_new(a, param_to_json(p, depth));
	return a;
}

json_t *
schema_params_to_json(const struct param *params)
{
	return to_json(params, 0);
}

static void
free_table(struct param *params)
{
	if (params == NULL)
		return;
	for (struct param *p = params; p->name != NULL; p++) {
		free((char *)p->name);
		free((char *)p->doc);
		if (p->choices != NULL) {
			for (size_t i = 0; p->choices[i] != NULL; i++)
				free((char *)p->choices[i]);
			free((void *)p->choices);
		}
		free_table((struct param *)p->sub);
	}
	free(params);
}

void
schema_params_free(struct param *params)
{
	free_table(params);
}

static const char **
choices_from_json(const json_t *a, const char *name, char *why, size_t whylen)
{
	size_t n = json_array_size(a);

	if (!json_is_array(a) || n > CHOICES_MAX) {
		snprintf(why, whylen, "parameter '%.64s': choices must be an array", name);
		return NULL;
	}
	const char **c = calloc(n + 1, sizeof(*c));
	for (size_t i = 0; c != NULL && i < n; i++) {
		const char *s = json_string_value(json_array_get(a, i));
		if (s == NULL || (c[i] = strdup(s)) == NULL) {
			snprintf(why, whylen, "parameter '%.64s': choices must be strings", name);
			for (size_t j = 0; j < i; j++)
				free((char *)c[j]);
			free(c);
			return NULL;
		}
	}
	if (c == NULL)
		snprintf(why, whylen, "out of memory");
	return c;
}

static struct param *from_json(const json_t *array, int depth, char *why, size_t whylen);

static bool
param_from_json(struct param *p, const json_t *o, int depth, char *why, size_t whylen)
{
	const char *name = json_string_value(json_object_get(o, "name"));
	const char *type = json_string_value(json_object_get(o, "type"));
	const char *doc = json_string_value(json_object_get(o, "doc"));
	const json_t *min = json_object_get(o, "min"), *max = json_object_get(o, "max");
	const json_t *choices = json_object_get(o, "choices");
	const json_t *sub = json_object_get(o, "params");

	if (!json_is_object(o) || name == NULL || *name == '\0') {
		snprintf(why, whylen, "a parameter without a name");
		return false;
	}
	if (!schema_type_from_key(type, &p->type)) {
		snprintf(why, whylen, "parameter '%.64s' has an unknown type", name);
		return false;
	}
	if (!json_is_integer(min) || !json_is_integer(max)) {
		snprintf(why, whylen, "parameter '%.64s' lacks its bounds", name);
		return false;
	}
	p->name = strdup(name);
	p->doc = strdup(doc ? doc : "");
	p->required = json_is_true(json_object_get(o, "required"));
	p->nullable = json_is_true(json_object_get(o, "nullable"));
	p->min = json_integer_value(min);
	p->max = json_integer_value(max);
	if (p->name == NULL || p->doc == NULL) {
		snprintf(why, whylen, "out of memory");
		return false;
	}
	if (choices != NULL && !json_is_null(choices)) {
		p->choices = choices_from_json(choices, name, why, whylen);
		if (p->choices == NULL)
			return false;
	} else if (p->type == PARAM_ENUM || p->type == PARAM_ENUMSET) {
		snprintf(why, whylen, "parameter '%.64s' has no choices", name);
		return false;
	}
	if (sub != NULL) {
		p->sub = from_json(sub, depth + 1, why, whylen);
		if (p->sub == NULL)
			return false;
	}
	return true;
}

static struct param *
from_json(const json_t *array, int depth, char *why, size_t whylen)
{
	size_t n = json_array_size(array);

	if (!json_is_array(array) || n > PARAMS_MAX || depth > DEPTH_MAX) {
		snprintf(why, whylen, "a parameter table must be an array of at most %d entries",
			 PARAMS_MAX);
		return NULL;
	}
	/* calloc: the entry after the last one filled is always a PARAM_END. */
	struct param *t = calloc(n + 1, sizeof(*t));
	if (t == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!param_from_json(&t[i], json_array_get(array, i), depth, why, whylen)) {
			/* t[i] may be half filled: give it a name so free_table visits it. */
			if (t[i].name == NULL)
				t[i].name = strdup("");
			free_table(t);
			return NULL;
		}
	}
	return t;
}

struct param *
schema_params_from_json(const json_t *array, char *why, size_t whylen)
{
	return from_json(array, 0, why, whylen);
}
