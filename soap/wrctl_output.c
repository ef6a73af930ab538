/*
 * Result and error presentation for wrctl, and the mapping of API error codes to exit codes.
 * Table output never changes what a value is (no unit conversion, no rounding): a person reads
 * the same numbers a script gets from --output json.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wrctl.h"
#include "wrctl_config.h"
#include "wrctl_output.h"

#define COLUMNS_MAX   32
#define FLATTEN_DEPTH 6

int
wrctl_exit_for_code(const char *code)
{
	static const struct {
		const char *code;
		int exit;
	} map[] = {
		{"ok", WRCTL_OK},
		{"usage", WRCTL_USAGE},
		{"invalid", WRCTL_INVALID},
		{"too_large", WRCTL_INVALID},
		{"unauthenticated", WRCTL_DENIED},
		{"denied", WRCTL_DENIED},
		{"not_found", WRCTL_NOT_FOUND},
		{"conflict", WRCTL_CONFLICT},
		{"quota", WRCTL_CONFLICT},
		{"busy", WRCTL_UNAVAILABLE},
		{"throttled", WRCTL_UNAVAILABLE},
		{"unavailable", WRCTL_UNAVAILABLE},
		{"timeout", WRCTL_UNAVAILABLE},
		{"task_failed", WRCTL_TASK_FAILED},
		{"internal", WRCTL_INTERNAL},
		{"local", WRCTL_LOCAL},
	};
	for (size_t i = 0; code != NULL && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].code, code) == 0)
			return map[i].exit;
	return WRCTL_INTERNAL; /* a code this wrctl does not know yet */
}

void
wrctl_warn(const char *fmt, ...)
{
	va_list ap;

	fputs("wrctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static bool
is_scalar_list(const json_t *v)
{
	size_t i;
	json_t *e;

	if (!json_is_array(v))
		return false;
	json_array_foreach (v, i, e)
		if (json_is_object(e) || json_is_array(e))
			return false;
	return true;
}

void
wrctl_output_scalar(const json_t *v, char *buf, size_t len)
{
	size_t i, used = 0;
	json_t *e;

	buf[0] = '\0';
	if (v == NULL) { /* a field this row does not have */
		snprintf(buf, len, "-");
		return;
	}
	switch (json_typeof(v)) {
	case JSON_NULL:
		snprintf(buf, len, "-");
		return;
	case JSON_TRUE:
		snprintf(buf, len, "yes");
		return;
	case JSON_FALSE:
		snprintf(buf, len, "no");
		return;
	case JSON_INTEGER:
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return;
	case JSON_REAL:
		snprintf(buf, len, "%g", json_real_value(v));
		return;
	case JSON_STRING:
		snprintf(buf, len, "%s", json_string_value(v));
		return;
	case JSON_ARRAY:
		if (json_array_size(v) == 0) {
			snprintf(buf, len, "-");
			return;
		}
		if (is_scalar_list(v)) {
			json_array_foreach (v, i, e) {
				char one[256];
				wrctl_output_scalar(e, one, sizeof(one));
				int n = snprintf(buf + used, len - used, "%s%s", i ? "," : "", one);
				if (n < 0 || (size_t)n >= len - used)
					return;
				used += (size_t)n;
			}
			return;
		}
		/* a list of objects is shown as JSON, like an object */
		/* fall through */
	case JSON_OBJECT: {
		char *s = json_dumps(v, JSON_COMPACT);
		snprintf(buf, len, "%s", s ? s : "?");
		free(s);
		return;
	}
	}
}

/* Cells may come from any user (names, error texts): never print control characters. */
static void
sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

static void
cell(const json_t *v, char *buf, size_t len)
{
	wrctl_output_scalar(v, buf, len);
	sanitize(buf);
	if (strlen(buf) > WRCTL_CELL_MAX)
		memcpy(buf + WRCTL_CELL_MAX - 3, "...", 4);
}

static size_t
pick_columns(const json_t *items, const char *columns, char names[][64])
{
	size_t n = 0, i;
	json_t *item;

	if (columns != NULL) {
		for (const char *s = columns; *s != '\0' && n < COLUMNS_MAX;) {
			size_t len = strcspn(s, ",");
			snprintf(names[n++], 64, "%.*s", (int)(len < 63 ? len : 63), s);
			s += len;
			if (*s == ',')
				s++;
		}
		return n;
	}
	/* Every scalar field, in the order the items have them; private "_x" fields skipped. */
	json_array_foreach (items, i, item) {
		const char *key;
		json_t *v;
		json_object_foreach (item, key, v) {
			bool seen = false;
			if (key[0] == '_' || json_is_object(v) ||
			    (json_is_array(v) && !is_scalar_list(v)))
				continue;
			for (size_t k = 0; k < n && !seen; k++)
				seen = strcmp(names[k], key) == 0;
			if (!seen && n < COLUMNS_MAX)
				snprintf(names[n++], 64, "%s", key);
		}
	}
	return n;
}

void
wrctl_output_table(FILE *out, const json_t *items, const char *columns)
{
	char names[COLUMNS_MAX][64];
	size_t widths[COLUMNS_MAX];
	size_t ncol = pick_columns(items, columns, names), i;
	json_t *item;
	char buf[1024];

	if (ncol == 0)
		return;
	for (size_t c = 0; c < ncol; c++)
		widths[c] = strlen(names[c]);
	json_array_foreach (items, i, item) {
		for (size_t c = 0; c < ncol; c++) {
			cell(json_object_get(item, names[c]), buf, sizeof(buf));
			if (strlen(buf) > widths[c])
				widths[c] = strlen(buf);
		}
	}
	for (size_t c = 0; c < ncol; c++) {
		for (char *s = names[c]; *s; s++)
			fputc(*s >= 'a' && *s <= 'z' ? *s - 'a' + 'A' : *s, out);
		if (c + 1 < ncol)
			fprintf(out, "%*s", (int)(widths[c] - strlen(names[c]) + 2), "");
	}
	fputc('\n', out);
	json_array_foreach (items, i, item) {
		for (size_t c = 0; c < ncol; c++) {
			json_t *v = json_object_get(item, names[c]);
			cell(v, buf, sizeof(buf));
			if (c + 1 == ncol)
				fputs(buf, out);
			else if (json_is_integer(v) || json_is_real(v))
				fprintf(out, "%*s  ", (int)widths[c], buf);
			else
				fprintf(out, "%-*s  ", (int)widths[c], buf);
		}
		fputc('\n', out);
	}
}

static void
flatten(FILE *out, const char *prefix, const json_t *v, int depth)
{
	char key[512], buf[4096];

	if (depth < FLATTEN_DEPTH && json_is_object(v) && json_object_size(v) > 0) {
		const char *k;
		json_t *e;
		json_object_foreach ((json_t *)v, k, e) {
			if (k[0] == '_')
				continue;
			snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." : "", k);
			flatten(out, key, e, depth + 1);
		}
		return;
	}
	if (depth < FLATTEN_DEPTH && json_is_array(v) && !is_scalar_list(v)) {
		size_t i;
		json_t *e;
		json_array_foreach (v, i, e) {
			snprintf(key, sizeof(key), "%s[%zu]", prefix, i);
			flatten(out, key, e, depth + 1);
		}
		return;
	}
	wrctl_output_scalar(v, buf, sizeof(buf));
	/* Multi-line text (PEM) keeps its lines, indented under the key. */
	if (strchr(buf, '\n') != NULL && json_is_string(v)) {
		fprintf(out, "%s:\n", prefix);
		for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
			sanitize(line);
			fprintf(out, "    %s\n", line);
		}
		return;
	}
	sanitize(buf);
	fprintf(out, "%s: %s\n", prefix, buf);
}

void
wrctl_output_object(FILE *out, const json_t *obj)
{
	flatten(out, "", obj, 0);
}

void
wrctl_output_result(FILE *out, const json_t *result, int format, const char *columns)
{
	if (format == WRCTL_OUT_JSON) {
		json_dumpf(result, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', out);
		return;
	}
	const json_t *items = json_object_get(result, "items");
	if (json_is_array(items) && json_object_size(result) == 1) {
		wrctl_output_table(out, items, columns);
		return;
	}
	if (json_is_object(result) && json_object_size(result) == 0)
		return; /* "{}": nothing to show */
	wrctl_output_object(out, result);
}
