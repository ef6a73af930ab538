/*
 * wrctl, the command line of webrack: what its modules share. wrctl speaks the JSON binding
 * (POST /api/v1/<op>) with an API token and is driven by the operation table's description
 * (GET /api/v1/), so every operation of the server is a command without a change here.
 *
 * Modules: wrctl_config (file + environment), wrctl_http (libcurl transport), wrctl_describe
 * (the description and its cache), wrctl_args (command line -> JSON arguments), wrctl_output
 * (table / JSON), wrctl_cmds (virsh/xm aliases, name resolution, the one code path that runs an
 * operation), wrctl_progress (waiting for tasks), wrctl.c (main, help, completion).
 */
#ifndef WEBRACK_WRCTL_H
#define WEBRACK_WRCTL_H

#include <stdbool.h>
#include <stddef.h>

/* Exit codes, one per error class (documented in wrctl(1)). */
enum wrctl_exit {
	WRCTL_OK = 0,
	WRCTL_USAGE = 1,       /* bad command line, unknown command or option */
	WRCTL_INVALID = 2,     /* invalid / too_large: the arguments were refused */
	WRCTL_DENIED = 3,      /* unauthenticated / denied */
	WRCTL_NOT_FOUND = 4,   /* not_found (also another tenant's object) */
	WRCTL_CONFLICT = 5,    /* conflict / quota */
	WRCTL_UNAVAILABLE = 6, /* unavailable / busy / throttled / timeout / cannot connect */
	WRCTL_TASK_FAILED = 7, /* the operation's task ended "failed" */
	WRCTL_INTERNAL = 8,    /* internal server error, or an answer wrctl cannot read */
	WRCTL_LOCAL = 9,       /* local trouble: configuration, files */
};

/* The exit code of an API error code ("not_found" -> WRCTL_NOT_FOUND ...). */
int wrctl_exit_for_code(const char *code);

/* Print "wrctl: <message>" to stderr. */
void wrctl_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
