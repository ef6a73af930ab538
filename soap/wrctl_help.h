/*
 * wrctl's help texts and shell completion, both generated from the operation description and
 * the alias table, so they always match what the controller offers.
 */
#ifndef WEBRACK_WRCTL_HELP_H
#define WEBRACK_WRCTL_HELP_H

#include <stdio.h>

struct wrctl_ops;

/* wrctl --help (ops may be NULL when the controller is not reachable). */
void wrctl_help_usage(FILE *out, const struct wrctl_ops *ops);

/* wrctl help CMD: synopsis, summary, parameters, result. Returns an exit code. */
int wrctl_help_command(FILE *out, const struct wrctl_ops *ops, const char *command);

/* wrctl ops: every operation with its summary. */
void wrctl_help_ops(FILE *out, const struct wrctl_ops *ops);

/*
 * wrctl --complete WORD...: candidates for the last word (may be empty), one per line, given
 * the words before it (without "wrctl").
 */
void wrctl_help_complete(FILE *out, const struct wrctl_ops *ops, int nwords, char **words);

#endif
