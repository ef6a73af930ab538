/*
 * The job log and the audit log. Every state-changing call ends here: a task row (type, object,
 * action, user, start, end, status, info) and an audit row are written in one statement before
 * the answer goes out, so a user who sees the answer also sees the log entry.
 */
#ifndef WEBRACK_JOURNAL_H
#define WEBRACK_JOURNAL_H

#include "call.h"

/* Finish a call: log it when it changed (or failed to change) state, then answer. */
void journal_finish(struct call *c, enum api_error err, const char *message, json_t *result);

const char *journal_error_code(enum api_error err);

#endif
