/*
 * GET /api/v1/: a JSON description of the whole operation table (names, summaries, flags,
 * parameter schemas with their bounds and choices, result documentation). Generated from
 * api_ops[] at run time, so every operation added to the table appears in it; wrctl builds its
 * commands, argument parsing, help and completion from it.
 */
#ifndef WEBRACK_API_DESCRIBE_H
#define WEBRACK_API_DESCRIBE_H

#include <jansson.h>

struct evhttp_request;

/* Format version of the description; bump when a field changes meaning. */
#define API_DESCRIBE_VERSION 1

/* The whole table: {"version", "ops": [...]} (new reference). */
json_t *api_describe_json(void);

/* Answer GET/HEAD /api/v1/ with the description. */
void api_describe_handle(struct evhttp_request *req);

#endif
