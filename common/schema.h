/*
 * Schemas of JSON objects and their validation: API operation parameters and the messages of the
 * agent link. Every request's arguments pass
 * schema_check() before a handler sees them: unknown keys, wrong types, missing required keys,
 * out-of-range numbers, over-long or control-character strings are refused with a message that
 * names the parameter.
 */
#ifndef WEBRACK_SCHEMA_H
#define WEBRACK_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

enum param_type {
	PARAM_INT,     /* integer in [min, max] */
	PARAM_STRING,  /* string of min..max bytes, no control characters */
	PARAM_SECRET,  /* like STRING, never logged or echoed */
	PARAM_TEXT,    /* like STRING, but line breaks allowed (PEM, descriptions) */
	PARAM_BOOL,    /* true / false */
	PARAM_ENUM,    /* one of choices */
	PARAM_ENUMSET, /* array of distinct choices, min..max entries */
	PARAM_OBJECT,  /* JSON object, checked by its own schema (sub) when given */
	PARAM_ARRAY,   /* JSON array of min..max entries; objects checked against sub */
	PARAM_INTLIST, /* array of min..max integers, each within [0, 65535] */
};

struct param {
	const char *name;
	enum param_type type;
	bool required;
	bool nullable; /* JSON null accepted (e.g. "unlimited" quotas) */
	long long min, max;
	const char *const *choices;
	const char *doc;
	const struct param *sub; /* PARAM_OBJECT / PARAM_ARRAY of objects */
};

#define PARAM_END                                                                                  \
	{                                                                                          \
		NULL, 0, false, false, 0, 0, NULL, NULL, NULL                                      \
	}

bool schema_check(const struct param *params, const json_t *args, char *why, size_t whylen)
	__attribute__((warn_unused_result));

const char *schema_type_name(const struct param *p);

#endif
