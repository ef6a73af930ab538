/*
 * Reads "key = value" configuration files against a daemon's key table. Values are bare words or
 * double-quoted strings with \" and \\ escapes; '#' starts a comment outside quotes. Every problem
 * is reported with file:line and reading goes on, so `-n` shows an admin every mistake in one run.
 */
#include "config.h"

#include "conffile.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define CONFIG_LINE_MAX 4096

void
config_report(struct config_errors *errs, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	errs->count++;
	if (errs->out == NULL)
		return;
	if (line > 0)
		fprintf(errs->out, "%s:%d: ", file, line);
	else
		fprintf(errs->out, "%s: ", file);
	va_start(ap, fmt);
	vfprintf(errs->out, fmt, ap);
	va_end(ap);
	fputc('\n', errs->out);
}

static void *
member(void *settings, const struct config_key *k)
{
	return (char *)settings + k->offset;
}

static bool
parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

/* Store one value; the message (if any) describes why it was refused. */
static bool
store_value(const struct config_key *k, void *settings, const char *v, const char **why)
{
	switch (k->type) {
	case CONFIG_STRING:
	case CONFIG_PATH: {
		char **slot = member(settings, k);
		if (k->type == CONFIG_PATH && *v == '\0') {
			*why = "must not be empty";
			return false;
		}
		char *copy = strdup(v);
		if (copy == NULL) {
			*why = "out of memory";
			return false;
		}
		free(*slot);
		*slot = copy;
		return true;
	}
	case CONFIG_INT: {
		char *end;
		errno = 0;
		long long n = strtoll(v, &end, 10);
		if (*v == '\0' || *end != '\0' || errno == ERANGE) {
			*why = "is not an integer";
			return false;
		}
		if (n < k->min || n > k->max) {
			*why = "is out of range";
			return false;
		}
		*(long long *)member(settings, k) = n;
		return true;
	}
	case CONFIG_BOOL:
		if (!parse_bool(v, member(settings, k))) {
			*why = "is not a boolean (yes/no)";
			return false;
		}
		return true;
	case CONFIG_ENUM:
		for (int i = 0; k->choices[i] != NULL; i++) {
			if (strcmp(v, k->choices[i]) == 0) {
				*(int *)member(settings, k) = i;
				return true;
			}
		}
		*why = "is not one of the allowed values";
		return false;
	}
	*why = "has an unknown type";
	return false;
}

static void
report_refusal(struct config_errors *errs, const char *file, int line, const struct config_key *k,
	       const char *v, const char *why)
{
	if (k->type == CONFIG_INT) {
		config_report(errs, file, line, "%s: '%s' %s (allowed %lld..%lld)", k->name, v, why,
			      k->min, k->max);
	} else if (k->type == CONFIG_ENUM) {
		char list[512] = "";
		for (int i = 0; k->choices[i] != NULL; i++) {
			if (i > 0)
				strncat(list, "|", sizeof(list) - strlen(list) - 1);
			strncat(list, k->choices[i], sizeof(list) - strlen(list) - 1);
		}
		config_report(errs, file, line, "%s: '%s' %s (%s)", k->name, v, why, list);
	} else {
		config_report(errs, file, line, "%s: '%s' %s", k->name, v, why);
	}
}

bool
config_set_defaults(const struct config_key *table, void *settings, struct config_errors *errs)
{
	bool ok = true;

	for (const struct config_key *k = table; k->name != NULL; k++) {
		const char *why = NULL;
		if (k->def == NULL)
			continue;
		if (!store_value(k, settings, k->def, &why)) {
			/* A bad default is a programming error: say so loudly. */
			config_report(errs, "(defaults)", 0, "%s: default '%s' %s", k->name, k->def,
				      why);
			ok = false;
		}
	}
	return ok;
}

static const struct config_key *
find_key(const struct config_key *table, const char *name)
{
	for (const struct config_key *k = table; k->name != NULL; k++)
		if (strcmp(k->name, name) == 0)
			return k;
	return NULL;
}

/*
 * Split one line into key and value in place. Returns 0 for a blank/comment line, 1 for a pair,
 * -1 with *why set for a syntax error.
 */
static int
split_line(char *line, char **key, char **value, const char **why)
{
	char *p = line;

	while (isspace((unsigned char)*p))
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	*key = p;
	while (isalnum((unsigned char)*p) || *p == '_')
		p++;
	if (p == *key) {
		*why = "expected a key name";
		return -1;
	}
	char *key_end = p;
	while (isspace((unsigned char)*p))
		p++;
	if (*p != '=') {
		*why = "expected '=' after the key";
		return -1;
	}
	*key_end = '\0';
	p++;
	while (isspace((unsigned char)*p))
		p++;

	if (*p == '"') {
		char *out = ++p;
		*value = out;
		for (;;) {
			if (*p == '\0') {
				*why = "unterminated quoted value";
				return -1;
			}
			if (*p == '"')
				break;
			if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
				p++;
			*out++ = *p++;
		}
		p++;
		*out = '\0';
		while (isspace((unsigned char)*p))
			p++;
		if (*p != '\0' && *p != '#') {
			*why = "unexpected text after the quoted value";
			return -1;
		}
		return 1;
	}

	*value = p;
	char *end = p;
	while (*p != '\0' && !(*p == '#' && (p == *value || isspace((unsigned char)p[-1])))) {
		if (!isspace((unsigned char)*p))
			end = p + 1;
		p++;
	}
	*end = '\0';
	if (**value == '\0') {
		*why = "missing value";
		return -1;
	}
	return 1;
}

bool
config_read_file(const struct config_key *table, void *settings, const char *file,
		 struct config_errors *errs)
{
	char line[CONFIG_LINE_MAX + 2];
	int lineno = 0, before = errs->count;
	FILE *f = fopen(file, "r");

	if (f == NULL) {
		config_report(errs, file, 0, "cannot open: %s", strerror(errno));
		return false;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *key, *value;
		const char *why = NULL;
		size_t len = strlen(line);

		lineno++;
		if (len > CONFIG_LINE_MAX) {
			config_report(errs, file, lineno, "line longer than %d bytes",
				      CONFIG_LINE_MAX);
			/* Skip the rest of the over-long line. */
			while (len > 0 && line[len - 1] != '\n' &&
			       fgets(line, sizeof(line), f) != NULL)
				len = strlen(line);
			continue;
		}
		if (memchr(line, '\0', len) != NULL || strlen(line) != len) {
			config_report(errs, file, lineno, "NUL byte in line");
			continue;
		}
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';

		int r = split_line(line, &key, &value, &why);
		if (r == 0)
			continue;
		if (r < 0) {
			config_report(errs, file, lineno, "syntax error: %s", why);
			continue;
		}
		const struct config_key *k = find_key(table, key);
		if (k == NULL) {
			config_report(errs, file, lineno, "unknown key '%s'", key);
			continue;
		}
		if (!store_value(k, settings, value, &why))
			report_refusal(errs, file, lineno, k, value, why);
	}
	if (ferror(f))
		config_report(errs, file, 0, "read error: %s", strerror(errno));
	fclose(f);
	return errs->count == before;
}

static bool
values_equal(const struct config_key *k, void *a, void *b)
{
	switch (k->type) {
	case CONFIG_STRING:
	case CONFIG_PATH: {
		const char *x = *(char **)member(a, k), *y = *(char **)member(b, k);
		if (x == NULL || y == NULL)
			return x == y;
		return strcmp(x, y) == 0;
	}
	case CONFIG_INT:
		return *(long long *)member(a, k) == *(long long *)member(b, k);
	case CONFIG_BOOL:
		return *(bool *)member(a, k) == *(bool *)member(b, k);
	case CONFIG_ENUM:
		return *(int *)member(a, k) == *(int *)member(b, k);
	}
	return false;
}

static size_t
value_size(const struct config_key *k)
{
	switch (k->type) {
	case CONFIG_STRING:
	case CONFIG_PATH:
		return sizeof(char *);
	case CONFIG_INT:
		return sizeof(long long);
	case CONFIG_BOOL:
		return sizeof(bool);
	case CONFIG_ENUM:
		return sizeof(int);
	}
	return 0;
}

void
config_apply_reload(const struct config_key *table, void *live, void *fresh)
{
	for (const struct config_key *k = table; k->name != NULL; k++) {
		if (values_equal(k, live, fresh))
			continue;
		if (!k->reloadable) {
			log_warn("%s changed; it takes effect after a restart", k->name);
			continue;
		}
		/* Swap so that the caller frees the old value along with fresh. */
		unsigned char tmp[sizeof(long long)];
		size_t n = value_size(k);
		memcpy(tmp, member(live, k), n);
		memcpy(member(live, k), member(fresh, k), n);
		memcpy(member(fresh, k), tmp, n);
	}
}

void
config_free(const struct config_key *table, void *settings)
{
	for (const struct config_key *k = table; k->name != NULL; k++) {
		if (k->type == CONFIG_STRING || k->type == CONFIG_PATH) {
			char **slot = member(settings, k);
			free(*slot);
			*slot = NULL;
		}
	}
}

void
config_print_table(const struct config_key *table, FILE *out)
{
	for (const struct config_key *k = table; k->name != NULL; k++) {
		fprintf(out, "%-26s %-10s %s%s\n", k->name, k->def ? k->def : "(unset)", k->help,
			k->reloadable ? " [reloadable]" : "");
	}
}

bool
config_parse_hostport(const char *text, char *host, size_t hostlen, int *port)
{
	const char *colon, *h = text;
	size_t n;

	if (*text == '[') {
		const char *close = strchr(text, ']');
		if (close == NULL || close[1] != ':')
			return false;
		h = text + 1;
		n = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL || memchr(text, ':', (size_t)(colon - text)) != NULL)
			return false;
		n = (size_t)(colon - text);
	}
	if (n == 0 || n >= hostlen)
		return false;
	memcpy(host, h, n);
	host[n] = '\0';

	char *end;
	errno = 0;
	long p = strtol(colon + 1, &end, 10);
	if (!isdigit((unsigned char)colon[1]) || *end != '\0' || errno != 0 || p < 1 || p > 65535)
		return false;
	*port = (int)p;
	return true;
}
