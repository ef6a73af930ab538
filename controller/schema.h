/*
 * Parameter schemas of API operations and their validation. Every request's arguments pass
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
	PARAM_BOOL,    /* true / false */
	PARAM_ENUM,    /* one of choices */
	PARAM_ENUMSET, /* array of distinct choices, min..max entries */
};

struct param {
	const char *name;
	enum param_type type;
	bool required;
	bool nullable; /* JSON null accepted (e.g. "unlimited" quotas) */
	long long min, max;
	const char *const *choices;
	const char *doc;
};

#define PARAM_END                                                                                  \
	{                                                                                          \
		NULL, 0, false, false, 0, 0, NULL, NULL                                            \
	}

bool schema_check(const struct param *params, const json_t *args, char *why, size_t whylen)
	__attribute__((warn_unused_result));

const char *schema_type_name(const struct param *p);

#endif
