/*
 * The command line of one operation mapped to its JSON arguments, driven only by the operation's
 * parameter schema: "--ram-mb 512" or "--ram_mb=512" becomes {"ram_mb": 512}; booleans take
 * "--flag", "--no-flag" or "--flag false"; "null" is JSON null for nullable parameters; lists are
 * comma-separated or repeated; objects and arrays are JSON text; "@FILE" reads a text parameter
 * from a file and "-" a secret from standard input. Positional words fill the named parameters in
 * order. The result passes schema_check() here, so bad input gets the server's own message
 * before anything is sent.
 */
#ifndef WEBRACK_WRCTL_ARGS_H
#define WEBRACK_WRCTL_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "schema.h"

/*
 * Called for every value before the type mapping: may turn a name into an id (vServer "web1" ->
 * 17). Returns 1 with *out set, 0 to map the text by type, or a wrctl exit code > 1 with why.
 */
typedef int (*wrctl_resolve_fn)(void *ctx, const struct param *p, const char *text, json_t **out,
				char *why, size_t whylen);

struct wrctl_args_ctx {
	wrctl_resolve_fn resolve; /* may be NULL */
	void *resolve_ctx;
	FILE *stdin_file; /* for "-" secrets; NULL = stdin */
};

/* The parameter a command-line name ("ram-mb" or "ram_mb") stands for, or NULL. */
const struct param *wrctl_args_param(const struct param *params, const char *cli_name);

/* One value mapped by type (new reference); NULL with why (the schema's wording). */
json_t *wrctl_args_value(const struct param *p, const char *text, FILE *stdin_file, char *why,
			 size_t whylen);

/*
 * Parse argv into args (an object the caller owns; --json '{...}' is merged first, then options
 * and positionals). positional: parameter names for positional words, NULL-terminated (or NULL).
 * Returns WRCTL_OK, WRCTL_USAGE (unknown option, extra word) or another exit code, with why.
 */
int wrctl_args_parse(const struct param *params, const char *const *positional, int argc,
		     char *const *argv, const struct wrctl_args_ctx *ctx, json_t *args, char *why,
		     size_t whylen);

/* schema_check() with the choices of an enum appended to its message. WRCTL_OK or INVALID. */
int wrctl_args_check(const struct param *params, const json_t *args, char *why, size_t whylen);

/* "--ram-mb": the command-line spelling of a parameter name. */
void wrctl_args_flag(const char *name, char *buf, size_t len);

#endif
