/*
 * argon2id password hashes on top of libargon2. libargon2 parses encoded hashes itself, but it
 * trusts the cost parameters it finds there, so a forged or corrupted row with m=4294967295 would
 * make one login try to allocate terabytes. Every encoded string is therefore first checked by a
 * strict parser of our own (argon2id, v=19, bounded t/m/p and length) before libargon2 sees it; the
 * same parser tells password_needs_rehash() which parameters a hash was made with.
 */
#include "password.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <argon2.h>

#include "secret.h"

#define PASSWORD_SALT_BYTES 16
#define PASSWORD_HASH_BYTES 32

/* Upper bounds on what we hash or verify: generous for any sane configuration, small enough that a
 * hostile row cannot stall a worker for long or exhaust memory. */
#define PASSWORD_MAX_T_COST	 64
#define PASSWORD_MAX_M_COST_KIB	 (1024 * 1024)
#define PASSWORD_MAX_PARALLELISM 64
/* Our own hashes are about 100 bytes; anything much longer is not one of them. */
#define PASSWORD_MAX_ENCODED 512

#define PASSWORD_MIN_LEN 10
#define PASSWORD_MAX_LEN 1024

#define PASSWORD_PREFIX "$argon2id$v=19$"

/* What a well-formed encoded hash says about itself. */
struct password_encoded {
	struct password_params params;
	size_t salt_len; /* decoded bytes */
	size_t hash_len; /* decoded bytes */
};

static bool
password_params_ok(const struct password_params *p)
{
	return p->t_cost >= 1 && p->t_cost <= PASSWORD_MAX_T_COST && p->parallelism >= 1 &&
	       p->parallelism <= PASSWORD_MAX_PARALLELISM && p->m_cost_kib >= 8 * p->parallelism &&
	       p->m_cost_kib <= PASSWORD_MAX_M_COST_KIB;
}

/* Parse "<key>=<decimal>" at *s, advancing past it. No sign, no leading zeros, fits uint32_t. */
static bool
password_parse_param(const char **s, const char *key, uint32_t *val)
{
	size_t klen = strlen(key);
	const char *p = *s;
	uint64_t v = 0;
	int digits = 0;

	if (strncmp(p, key, klen) != 0 || p[klen] != '=')
		return false;
	p += klen + 1;
	if (p[0] == '0' && p[1] >= '0' && p[1] <= '9')
		return false;
	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return false;
		p++;
		digits++;
	}
	if (digits == 0)
		return false;
	*val = (uint32_t)v;
	*s = p;
	return true;
}

/* Decoded length of an unpadded standard base64 field ending at '$' or NUL; false if the field has
 * a character outside the alphabet or a length no encoding produces. */
static bool
password_parse_b64(const char **s, size_t *decoded)
{
	const char *p = *s;
	size_t n;

	while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
	       *p == '+' || *p == '/')
		p++;
	n = (size_t)(p - *s);
	if (n == 0 || n % 4 == 1)
		return false;
	*decoded = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
	*s = p;
	return true;
}

static bool
password_parse(const char *encoded, struct password_encoded *e)
{
	const char *s = encoded;

	if (encoded == NULL || strnlen(encoded, PASSWORD_MAX_ENCODED + 1) > PASSWORD_MAX_ENCODED)
		return false;
	if (strncmp(s, PASSWORD_PREFIX, strlen(PASSWORD_PREFIX)) != 0)
		return false;
	s += strlen(PASSWORD_PREFIX);
	if (!password_parse_param(&s, "m", &e->params.m_cost_kib) || *s++ != ',' ||
	    !password_parse_param(&s, "t", &e->params.t_cost) || *s++ != ',' ||
	    !password_parse_param(&s, "p", &e->params.parallelism) || *s++ != '$')
		return false;
	if (!password_parse_b64(&s, &e->salt_len) || *s++ != '$')
		return false;
	if (!password_parse_b64(&s, &e->hash_len) || *s != '\0')
		return false;
	return password_params_ok(&e->params);
}

char *
password_hash(const char *pw, const struct password_params *p)
{
	unsigned char salt[PASSWORD_SALT_BYTES];
	char *encoded;
	size_t pwlen, enclen;

	if (pw == NULL || p == NULL || !password_params_ok(p))
		return NULL;
	pwlen = strlen(pw);
	if (pwlen > ARGON2_MAX_PWD_LENGTH)
		return NULL;
	if (secret_random(salt, sizeof(salt)) < 0)
		return NULL;
	/* argon2_encodedlen counts the terminating NUL. */
	enclen = argon2_encodedlen(p->t_cost, p->m_cost_kib, p->parallelism, sizeof(salt),
				   PASSWORD_HASH_BYTES, Argon2_id);
	encoded = malloc(enclen);
	if (encoded == NULL)
		return NULL;
	if (argon2id_hash_encoded(p->t_cost, p->m_cost_kib, p->parallelism, pw, pwlen, salt,
				  sizeof(salt), PASSWORD_HASH_BYTES, encoded,
				  enclen) != ARGON2_OK) {
		free(encoded);
		return NULL;
	}
	return encoded;
}

int
password_verify(const char *encoded, const char *pw)
{
	struct password_encoded e;
	size_t pwlen;

	if (pw == NULL || !password_parse(encoded, &e))
		return -1;
	pwlen = strlen(pw);
	if (pwlen > ARGON2_MAX_PWD_LENGTH)
		return -1;
	/* argon2id_verify compares in constant time. Any other error (salt or hash too short
	 * for libargon2, no memory) means we cannot say the password is right. */
	switch (argon2id_verify(encoded, pw, pwlen)) {
	case ARGON2_OK:
		return 1;
	case ARGON2_VERIFY_MISMATCH:
		return 0;
	default:
		return -1;
	}
}

bool
password_needs_rehash(const char *encoded, const struct password_params *p)
{
	struct password_encoded e;

	if (p == NULL || !password_parse(encoded, &e))
		return true;
	return e.params.t_cost != p->t_cost || e.params.m_cost_kib != p->m_cost_kib ||
	       e.params.parallelism != p->parallelism || e.salt_len != PASSWORD_SALT_BYTES ||
	       e.hash_len != PASSWORD_HASH_BYTES;
}

bool
password_policy_ok(const char *pw, const char **why)
{
	const char *msg = NULL;
	size_t len;

	if (pw == NULL) {
		msg = "a password is required";
		goto out;
	}
	/* strnlen so that a hostile, very long string costs no more than the cap to reject. */
	len = strnlen(pw, PASSWORD_MAX_LEN + 1);
	if (len < PASSWORD_MIN_LEN) {
		msg = "the password must be at least 10 characters long";
		goto out;
	}
	if (len > PASSWORD_MAX_LEN) {
		msg = "the password must be at most 1024 bytes long";
		goto out;
	}
	/* Control characters cannot be typed reliably on every device and would end up in forms,
	 * terminals and logs. An embedded NUL cannot be seen here, pw being a C string: the caller
	 * must refuse a decoded JSON string whose length differs from its strlen(). */
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)pw[i] < 0x20) {
			msg = "the password must not contain control characters";
			goto out;
		}
	}
out:
	if (msg != NULL && why != NULL)
		*why = msg;
	return msg == NULL;
}
