/*
 * The configuration file reader shared by every webrack daemon. A daemon describes its keys in one
 * table (name, type, default, bounds, reloadable, help) and gets parsing, defaults, bounds checks,
 * error messages with file:line, and reload semantics from here; no daemon parses text itself.
 */
#ifndef WEBRACK_CONFFILE_H
#define WEBRACK_CONFFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum config_type {
	CONFIG_STRING, /* char *, any text */
	CONFIG_PATH,   /* char *, a file system path (must not be empty) */
	CONFIG_INT,    /* long long within [min, max] */
	CONFIG_BOOL,   /* bool: yes/no, true/false, on/off, 1/0 */
	CONFIG_ENUM,   /* int: index into choices[] */
};

struct config_key {
	const char *name;
	enum config_type type;
	size_t offset;	 /* of the member in the daemon's settings struct */
	const char *def; /* default as text; NULL = unset (strings) */
	long long min, max;
	const char *const *choices; /* CONFIG_ENUM: NULL-terminated */
	bool reloadable;
	const char *help;
};

#define CONFIG_END                                                                                 \
	{                                                                                          \
		NULL, 0, 0, NULL, 0, 0, NULL, false, NULL                                          \
	}

/* Errors collected while reading, so that -n reports all of them at once. */
struct config_errors {
	int count;
	FILE *out; /* where messages go as they are found */
};

void config_report(struct config_errors *errs, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Set every key of the table to its default. */
bool config_set_defaults(const struct config_key *table, void *settings, struct config_errors *errs)
	__attribute__((warn_unused_result));

/* Read FILE over the defaults; returns false if any error was reported. */
bool config_read_file(const struct config_key *table, void *settings, const char *file,
		      struct config_errors *errs) __attribute__((warn_unused_result));

/*
 * Move the reloadable keys of fresh into live; report (to the log) keys that changed but need a
 * restart. fresh keeps the old values afterwards and is freed by the caller.
 */
void config_apply_reload(const struct config_key *table, void *live, void *fresh);

void config_free(const struct config_key *table, void *settings);

/*
 * Split "host:port" or "[v6addr]:port" (an unbracketed IPv6 address is refused); the host is
 * written into host. For listen and connect addresses in every daemon's configuration.
 */
bool config_parse_hostport(const char *text, char *host, size_t hostlen, int *port)
	__attribute__((warn_unused_result));

/* Print "key = default  # help" for every key: used by --help-config and the docs. */
void config_print_table(const struct config_key *table, FILE *out);

#endif
