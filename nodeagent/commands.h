/*
 * The agent's command table: one row per op the controller may send (name, handler, argument
 * schema, usage). The link checks the message and the epoch; this module checks the op's
 * arguments, calls the handler and makes sure every command gets exactly one reply. Ops without
 * a handler yet (the QEMU driver plugs them in) answer "unsupported".
 */
#ifndef WEBRACK_COMMANDS_H
#define WEBRACK_COMMANDS_H

#include <stdbool.h>

#include <jansson.h>

#include "proto.h"
#include "schema.h"

struct link;

/*
 * One command in flight. Owner: the handler it was given to, until it calls command_reply_ok() or
 * command_reply_error() (exactly once), which frees it. A handler that works asynchronously
 * keeps the pointer and replies later; if the link dropped meanwhile the reply is discarded (the
 * controller learns the outcome from the next hello's vms).
 */
struct command {
	struct link *link;
	unsigned generation; /* of the link connection the command came on */
	json_int_t id;
	json_int_t task; /* 0 when the command belongs to no task */
	json_int_t epoch;
	char op[PROTO_NAME_MAX + 1];
	json_t *args; /* own reference; already checked against the row's schema */
	void *agent;  /* the agent's state, as given to link_new() */
};

typedef void (*command_handler)(struct command *cmd);

struct command_entry {
	const char *op;
	command_handler handler; /* NULL: answered "unsupported" */
	const struct param *args;
	const char *usage;
};

extern const struct command_entry command_table[];

/* Run a command message that passed proto_check() and the epoch check. */
void commands_dispatch(struct link *link, unsigned generation, const json_t *msg, void *agent);

/* Reply ok with result (reference stolen; NULL means {}), and free cmd. */
void command_reply_ok(struct command *cmd, json_t *result);

/* Reply ok=false with a stable code and a message, and free cmd. */
void command_reply_error(struct command *cmd, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
