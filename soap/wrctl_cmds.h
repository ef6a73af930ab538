/*
 * wrctl's commands: every operation of the server by its own name ("wrctl vserver-get --id 7")
 * and virsh/xm-style aliases with positional arguments ("wrctl info web1"). Both go through
 * wrctl_cmd_run(): map the arguments by the operation's schema, resolve names to ids, call,
 * wait for the task, print.
 */
#ifndef WEBRACK_WRCTL_CMDS_H
#define WEBRACK_WRCTL_CMDS_H

#include <stdbool.h>
#include <stdio.h>

#include "wrctl_describe.h"

struct wrctl_config;
struct wrctl_http;

enum wrctl_alias_flags {
	ALIAS_OWN_ACCOUNT = 1 << 0, /* account_id defaults to the caller's account */
	ALIAS_CONSOLE = 1 << 1,	    /* print the console ticket for people */
	ALIAS_SCREENSHOT = 1 << 2,  /* grab a PNG through the console proxy */
};

struct wrctl_alias {
	const char *name;
	const char *op;
	const char *positional; /* parameter names for positional words; NULL: the required ones */
	const char *defaults;	/* "name=value,..." applied before the command line */
	const char *columns;	/* table columns of a list; NULL: every scalar field */
	unsigned flags;
	const char *usage; /* positional part of the synopsis, e.g. "VS ISO" */
};

extern const struct wrctl_alias wrctl_aliases[];

const struct wrctl_alias *wrctl_alias_find(const char *name);

/* Everything a command needs; owned by main(). */
struct wrctl_ctx {
	struct wrctl_config *cfg;
	struct wrctl_http *http;
	struct wrctl_ops *ops;
	bool no_wait;
	bool tty; /* stderr is a terminal: progress line in place */
	FILE *out;
	FILE *err;
};

/* The positional parameter names of a command (alias or operation), NULL-terminated, in buf. */
size_t wrctl_cmd_positional(const struct wrctl_alias *alias, const struct wrctl_op *op,
			    const char **names, size_t max, char *buf, size_t buflen);

/* Run one command; returns the exit code. argv holds what follows the command word. */
int wrctl_cmd_run(struct wrctl_ctx *ctx, const char *command, int argc, char **argv);

#endif
