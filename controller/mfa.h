/*
 * Second-factor checks shared by login, login-totp and the TOTP operations: a code is checked
 * against a user's base32 secret within one time step either way and must be newer than the last
 * step used (the caller stores the returned step with a conditional UPDATE, so replays lose even
 * when two requests race).
 */
#ifndef WEBRACK_MFA_H
#define WEBRACK_MFA_H

#include <stdint.h>

#define MFA_WINDOW 1

/* The matched time step, or -1. */
int64_t mfa_check(const char *secret_b32, const char *code, int64_t last_step);

#endif
