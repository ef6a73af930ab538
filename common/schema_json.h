/*
 * The JSON form of a parameter schema, both ways: webrackd describes its operation table with it
 * (GET /api/v1/) and wrctl rebuilds struct param tables from that description, so that the client
 * validates with the very same schema_check() and messages as the server. Both directions live
 * here so that they cannot drift apart.
 *
 * One parameter: {"name", "type", "type_name", "required", "nullable", "min", "max", "choices"
 * (array or null), "doc", "params" (sub-schema, only when there is one)}.
 */
#ifndef WEBRACK_SCHEMA_JSON_H
#define WEBRACK_SCHEMA_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "schema.h"

/* The machine name of a type ("int", "string", "enumset", ...) and back (false: unknown). */
const char *schema_type_key(enum param_type t);
bool schema_type_from_key(const char *key, enum param_type *out)
	__attribute__((warn_unused_result));

/* A parameter table as a JSON array (new reference). */
json_t *schema_params_to_json(const struct param *params);

/*
 * A parameter table rebuilt from its JSON form: a PARAM_END-terminated array that owns every
 * string (free it with schema_params_free). NULL with why filled on malformed input.
 */
struct param *schema_params_from_json(const json_t *array, char *why, size_t whylen);
void schema_params_free(struct param *params);

#endif
