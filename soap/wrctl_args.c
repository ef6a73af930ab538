/*
 * Command-line words to JSON arguments by the parameter schema (see wrctl_args.h). Conversions
 * are strict, like the server's schema: "5x" is not an integer and "maybe" is not a boolean;
 * a wrong word is reported, never guessed.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wrctl.h"
#include "wrctl_args.h"

#define FILE_MAX (1024 * 1024) /* "@FILE" values: PEM requests and the like */

void
wrctl_args_flag(const char *name, char *buf, size_t len)
{
	size_t i = 0;

	if (len < 3)
		return;
	buf[0] = buf[1] = '-';
	for (i = 0; name[i] != '\0' && i + 3 < len; i++)
		buf[i + 2] = name[i] == '_' ? '-' : name[i];
	buf[i + 2] = '\0';
}

/* Compare a command-line name with a parameter name, '-' matching '_'. */
static bool
name_matches(const char *cli, size_t clilen, const char *name)
{
	size_t i;

	for (i = 0; i < clilen && name[i] != '\0'; i++) {
		char a = cli[i] == '-' ? '_' : cli[i];
		if (a != name[i])
			return false;
	}
	return i == clilen && name[i] == '\0';
}

static const struct param *
find_n(const struct param *params, const char *cli, size_t len)
{
	for (const struct param *p = params; p->name != NULL; p++)
		if (name_matches(cli, len, p->name))
			return p;
	return NULL;
}

const struct param *
wrctl_args_param(const struct param *params, const char *cli_name)
{
	return find_n(params, cli_name, strlen(cli_name));
}

static bool
parse_int(const char *text, long long *out)
{
	char *end;

	errno = 0;
	long long n = strtoll(text, &end, 10);
	if (*text == '\0' || *end != '\0' || errno == ERANGE || text[0] == '+' || text[0] == ' ')
		return false;
	*out = n;
	return true;
}

static int
parse_bool(const char *text)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcmp(text, yes[i]) == 0)
			return 1;
		if (strcmp(text, no[i]) == 0)
			return 0;
	}
	return -1;
}

static json_t *
read_file(const struct param *p, const char *path, char *why, size_t whylen)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t n = 0;

	if (f == NULL) {
		snprintf(why, whylen, "parameter '%s': cannot read %s: %s", p->name, path,
			 strerror(errno));
		return NULL;
	}
	buf = malloc(FILE_MAX + 1);
	if (buf != NULL)
		n = fread(buf, 1, FILE_MAX + 1, f);
	fclose(f);
	if (buf == NULL || n > FILE_MAX) {
		free(buf);
		snprintf(why, whylen, "parameter '%s': %s is larger than %d bytes", p->name, path,
			 FILE_MAX);
		return NULL;
	}
	json_t *v = json_stringn(buf, n);
	free(buf);
	if (v == NULL)
		snprintf(why, whylen, "parameter '%s': %s is not UTF-8 text", p->name, path);
	return v;
}

static json_t *
read_secret(const struct param *p, FILE *in, char *why, size_t whylen)
{
	char line[1100];

	if (fgets(line, sizeof(line), in ? in : stdin) == NULL) {
		snprintf(why, whylen, "parameter '%s': nothing on standard input", p->name);
		return NULL;
	}
	line[strcspn(line, "\r\n")] = '\0';
	json_t *v = json_string(line);
	explicit_bzero(line, sizeof(line));
	if (v == NULL)
		snprintf(why, whylen, "parameter '%s' must be a string", p->name);
	return v;
}

/* "a,b,c" -> ["a","b","c"] (strings) or [1,2,3] (ints); empty text = empty array. */
static json_t *
split_list(const struct param *p, const char *text, bool ints, char *why, size_t whylen)
{
	json_t *a = json_array();
	const char *s = text;

	while (*s != '\0') {
		size_t n = strcspn(s, ",");
		char word[256];
		snprintf(word, sizeof(word), "%.*s", (int)(n < 255 ? n : 255), s);
		if (ints) {
			long long v;
			if (!parse_int(word, &v)) {
				snprintf(why, whylen, "parameter '%s' must hold integers 0..65535",
					 p->name);
				json_decref(a);
				return NULL;
			}
			json_array_append_new(a, json_integer(v));
		} else {
			json_array_append_new(a, json_string(word));
		}
		s += n;
		if (*s == ',')
			s++;
	}
	return a;
}

json_t *
wrctl_args_value(const struct param *p, const char *text, FILE *stdin_file, char *why,
		 size_t whylen)
{
	json_error_t jerr;

	if (p->nullable && strcmp(text, "null") == 0)
		return json_null();
	switch (p->type) {
	case PARAM_INT: {
		long long n;
		if (!parse_int(text, &n)) {
			snprintf(why, whylen, "parameter '%s' must be an integer", p->name);
			return NULL;
		}
		return json_integer(n);
	}
	case PARAM_BOOL: {
		int b = parse_bool(text);
		if (b < 0) {
			snprintf(why, whylen, "parameter '%s' must be true or false", p->name);
			return NULL;
		}
		return json_boolean(b);
	}
	case PARAM_SECRET:
		if (strcmp(text, "-") == 0)
			return read_secret(p, stdin_file, why, whylen);
		break;
	case PARAM_TEXT:
		if (text[0] == '@' && text[1] != '\0')
			return read_file(p, text + 1, why, whylen);
		break;
	case PARAM_ENUMSET:
		return split_list(p, text, false, why, whylen);
	case PARAM_INTLIST:
		return split_list(p, text, true, why, whylen);
	case PARAM_OBJECT:
	case PARAM_ARRAY: {
		json_t *v = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
		if (v == NULL) {
			snprintf(why, whylen, "parameter '%s' must be JSON (%s)", p->name,
				 jerr.text);
		}
		return v;
	}
	case PARAM_STRING:
	case PARAM_ENUM:
		break;
	}
	json_t *v = json_string(text);
	if (v == NULL)
		snprintf(why, whylen, "parameter '%s' must be UTF-8 text", p->name);
	return v;
}

/* Store one value; a repeated list option extends the list, any other repeat is an error. */
static int
store(const struct param *p, const char *text, const struct wrctl_args_ctx *ctx, json_t *args,
      char *why, size_t whylen)
{
	json_t *v = NULL;

	if (ctx != NULL && ctx->resolve != NULL) {
		int rc = ctx->resolve(ctx->resolve_ctx, p, text, &v, why, whylen);
		if (rc > 1)
			return rc;
		if (rc != 1)
			v = NULL;
	}
	if (v == NULL)
		v = wrctl_args_value(p, text, ctx ? ctx->stdin_file : NULL, why, whylen);
	if (v == NULL)
		return WRCTL_INVALID;
	json_t *old = json_object_get(args, p->name);
	if (old != NULL && json_is_array(old) && json_is_array(v) &&
	    (p->type == PARAM_ENUMSET || p->type == PARAM_INTLIST)) {
		json_array_extend(old, v);
		json_decref(v);
		return WRCTL_OK;
	}
	json_object_set_new(args, p->name, v);
	return WRCTL_OK;
}

static int
merge_json(const char *text, json_t *args, char *why, size_t whylen)
{
	json_error_t jerr;
	json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);

	if (!json_is_object(v)) {
		snprintf(why, whylen, "--json needs a JSON object (%s)",
			 v ? "not an object" : jerr.text);
		json_decref(v);
		return WRCTL_USAGE;
	}
	json_object_update(args, v);
	json_decref(v);
	return WRCTL_OK;
}

/*
 * One walk over the words. The dry walk only checks the shape (options known, values present,
 * no extra words), so that a usage error is reported before any name is looked up.
 */
static int
walk(const struct param *params, const char *const *positional, int argc, char *const *argv,
     const struct wrctl_args_ctx *ctx, json_t *args, char *why, size_t whylen, bool dry)
{
	size_t npos = 0;
	bool options_done = false;
	int rc;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (!options_done && strcmp(a, "--") == 0) {
			options_done = true;
			continue;
		}
		if (options_done || strncmp(a, "--", 2) != 0 || a[2] == '\0') {
			if (positional == NULL || positional[npos] == NULL) {
				snprintf(why, whylen, "unexpected argument '%.64s'", a);
				return WRCTL_USAGE;
			}
			const struct param *p = wrctl_args_param(params, positional[npos++]);
			if (p == NULL) {
				snprintf(why, whylen, "the operation has no parameter '%s'",
					 positional[npos - 1]);
				return WRCTL_USAGE;
			}
			if (!dry && (rc = store(p, a, ctx, args, why, whylen)) != WRCTL_OK)
				return rc;
			continue;
		}
		if (strcmp(a, "--json") == 0) {
			i++; /* merged above */
			continue;
		}
		const char *name = a + 2, *eq = strchr(name, '=');
		size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
		const struct param *p = find_n(params, name, nlen);
		bool negated = false;
		if (p == NULL && eq == NULL && strncmp(name, "no-", 3) == 0) {
			p = find_n(params, name + 3, nlen - 3);
			negated = p != NULL && p->type == PARAM_BOOL;
			if (!negated)
				p = NULL;
		}
		if (p == NULL) {
			snprintf(why, whylen, "unknown option '--%.*s' (see wrctl help)", (int)nlen,
				 name);
			return WRCTL_USAGE;
		}
		const char *value;
		if (negated) {
			value = "false";
		} else if (eq != NULL) {
			value = eq + 1;
		} else if (p->type == PARAM_BOOL) {
			/* "--flag" alone is true; "--flag false" takes the word when it is one. */
			if (i + 1 < argc && parse_bool(argv[i + 1]) >= 0)
				value = argv[++i];
			else
				value = "true";
		} else if (i + 1 < argc) {
			value = argv[++i];
		} else {
			snprintf(why, whylen, "option '--%.*s' needs a value", (int)nlen, name);
			return WRCTL_USAGE;
		}
		if (!dry && (rc = store(p, value, ctx, args, why, whylen)) != WRCTL_OK)
			return rc;
	}
	return WRCTL_OK;
}

int
wrctl_args_parse(const struct param *params, const char *const *positional, int argc,
		 char *const *argv, const struct wrctl_args_ctx *ctx, json_t *args, char *why,
		 size_t whylen)
{
	int rc = walk(params, positional, argc, argv, ctx, args, why, whylen, true);

	if (rc != WRCTL_OK)
		return rc;
	/* --json first, so that options given next to it win. */
	for (int i = 0; i + 1 < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--json") == 0 &&
		    (rc = merge_json(argv[i + 1], args, why, whylen)) != WRCTL_OK)
			return rc;
	}
	return walk(params, positional, argc, argv, ctx, args, why, whylen, false);
}

int
wrctl_args_check(const struct param *params, const json_t *args, char *why, size_t whylen)
{
	if (schema_check(params, args, why, whylen))
		return WRCTL_OK;
	/* The schema's message names the parameter in quotes: add an enum's choices. */
	const char *q = strchr(why, '\'');
	const char *q2 = q ? strchr(q + 1, '\'') : NULL;
	const struct param *p = q2 ? find_n(params, q + 1, (size_t)(q2 - q - 1)) : NULL;
	if (p != NULL && p->choices != NULL && strstr(why, "missing") == NULL) {
		size_t len = strlen(why);
		for (size_t i = 0; p->choices[i] != NULL && len + 4 < whylen; i++) {
			snprintf(why + len, whylen - len, "%s%s", i ? ", " : " (", p->choices[i]);
			len = strlen(why);
		}
		if (len + 2 < whylen)
			snprintf(why + len, whylen - len, ")");
	}
	return WRCTL_INVALID;
}
