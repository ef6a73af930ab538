/*
 * The operation table as wrctl knows it: fetched from GET /api/v1/ and kept in a cache file
 * ($XDG_CACHE_HOME/webrack/wrctl-ops-<hash of the URL>.json) for a few minutes, so that a run of
 * wrctl costs one request and completion works without a round trip.
 */
#ifndef WEBRACK_WRCTL_DESCRIBE_H
#define WEBRACK_WRCTL_DESCRIBE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "schema.h"

struct wrctl_http;
struct wrctl_config;
struct wrctl_reply;

struct wrctl_op {
	char *name;
	char *summary;
	char *result; /* what the result holds (documentation) */
	bool mutates;
	bool public_op;
	struct param *params; /* rebuilt with schema_params_from_json() */
};

struct wrctl_ops {
	size_t n;
	struct wrctl_op *ops;
};

/* Build the table from a description ({"version", "ops": [...]}); false with why on bad input. */
bool wrctl_ops_from_json(const json_t *desc, struct wrctl_ops *out, char *why, size_t whylen)
	__attribute__((warn_unused_result));

const struct wrctl_op *wrctl_ops_find(const struct wrctl_ops *ops, const char *name);
const struct param *wrctl_op_param(const struct wrctl_op *op, const char *name);

void wrctl_ops_free(struct wrctl_ops *ops);

/*
 * Load the table: from the cache when it is fresh (or, with offline, whenever it exists), else
 * from the server (then the cache is rewritten). refresh skips the cache. false with r filled.
 */
bool wrctl_ops_load(struct wrctl_http *h, const struct wrctl_config *cfg, bool refresh,
		    bool offline, struct wrctl_ops *out, struct wrctl_reply *r)
	__attribute__((warn_unused_result));

#endif
