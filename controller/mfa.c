/*
 * TOTP verification against stored secrets. See mfa.h for the replay rule.
 */
#include "config.h"

#include <string.h>
#include <time.h>

#include "mfa.h"
#include "totp.h"

int64_t
mfa_check(const char *secret_b32, const char *code, int64_t last_step)
{
	unsigned char secret[TOTP_MAX_SECRET_BYTES];
	size_t len = sizeof(secret);
	int64_t step;

	if (secret_b32 == NULL || code == NULL)
		return -1;
	if (totp_base32_decode(secret_b32, secret, &len) != 0)
		return -1;
	step = totp_verify(secret, len, code, time(NULL), MFA_WINDOW, last_step);
	explicit_bzero(secret, sizeof(secret));
	return step;
}
