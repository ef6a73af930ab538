/*
 * `webrackd --create-admin NAME`: the first provider admin (and the provider account) on a fresh
 * installation, or a password reset for a locked-out provider admin. Blocking libpq, before the
 * loop exists.
 */
#ifndef WEBRACK_BOOTSTRAP_H
#define WEBRACK_BOOTSTRAP_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "settings.h"

bool bootstrap_admin(PGconn *pg, const struct settings *s, const char *username,
		     const char *password) __attribute__((warn_unused_result));

#endif
