/*
 * Random secrets, their base64 encodings and SHA-256 digests, on top of getrandom(2) and OpenSSL's
 * libcrypto. Kept in common/ because the controller, the node agent and the SOAP front end all mint
 * or check tokens the same way; see secret.h for the contract of each function.
 */
#include "secret.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

/* Tokens are 16..64 bytes in practice; the cap keeps a caller's arithmetic mistake from turning
 * into a huge allocation. */
#define SECRET_TOKEN_MAX_BYTES 4096

int
secret_random(void *buf, size_t len)
{
	unsigned char *p = buf;

	/* getrandom may return fewer bytes than asked for requests above 256 bytes when a signal
	 * arrives, so loop until everything is filled. Flags 0 blocks only until the pool is first
	 * initialised at boot, which is what we want: never hand out predictable secrets. */
	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

char *
secret_base64(const void *buf, size_t len)
{
	char *out;
	int n;

	/* EVP_EncodeBlock takes and returns int: refuse anything whose encoding would not fit. */
	if (len > (size_t)INT_MAX / 4 * 3 - 3)
		return NULL;
	out = malloc((len + 2) / 3 * 4 + 1);
	if (out == NULL)
		return NULL;
	/* EVP_EncodeBlock, unlike the EVP_Encode* stream functions, inserts no newlines. */
	n = EVP_EncodeBlock((unsigned char *)out, buf, (int)len);
	if (n < 0) {
		free(out);
		return NULL;
	}
	out[n] = '\0';
	return out;
}

char *
secret_base64url(const void *buf, size_t len)
{
	char *out = secret_base64(buf, len);
	char *p;

	if (out == NULL)
		return NULL;
	/* Same alphabet apart from two characters, and the padding is only ever at the end. */
	for (p = out; *p != '\0' && *p != '='; p++) {
		if (*p == '+')
			*p = '-';
		else if (*p == '/')
			*p = '_';
	}
	*p = '\0';
	return out;
}

/*
 * SHA-256 fetched once: EVP_sha256() makes every EVP_Digest() look the algorithm up again in
 * OpenSSL 3's provider store (a lock and a property query, a third of the digest's cost for a
 * token). Falls back to EVP_sha256() if the fetch fails. The fetched method lives until exit.
 */
static EVP_MD *sha256_fetched;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void
sha256_fetch(void)
{
	sha256_fetched = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *
sha256_md(void)
{
	pthread_once(&sha256_once, sha256_fetch);
	return sha256_fetched != NULL ? sha256_fetched : EVP_sha256();
}

void
secret_sha256_hex(const void *data, size_t len, char out[SECRET_SHA256_HEX_SIZE])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(data, len, md, &mdlen, sha256_md(), NULL) != 1 || mdlen != 32) {
		out[0] = '\0';
		return;
	}
	for (unsigned int i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0x0f];
	}
	out[2 * mdlen] = '\0';
}

char *
secret_new_token(const char *prefix, size_t nbytes)
{
	unsigned char raw[SECRET_TOKEN_MAX_BYTES];
	char *enc = NULL, *token = NULL;
	size_t plen, elen;

	if (prefix == NULL || nbytes == 0 || nbytes > sizeof(raw))
		return NULL;
	if (secret_random(raw, nbytes) < 0)
		goto out;
	enc = secret_base64url(raw, nbytes);
	if (enc == NULL)
		goto out;
	plen = strlen(prefix);
	elen = strlen(enc);
	if (plen > SIZE_MAX - elen - 1)
		goto out;
	token = malloc(plen + elen + 1);
	if (token == NULL)
		goto out;
	memcpy(token, prefix, plen);
	memcpy(token + plen, enc, elen + 1);
out:
	/* The raw bytes and the intermediate encoding are the secret itself: do not leave copies
	 * behind on the stack or in freed heap memory. */
	OPENSSL_cleanse(raw, nbytes);
	if (enc != NULL) {
		OPENSSL_cleanse(enc, strlen(enc));
		free(enc);
	}
	return token;
}

bool
secret_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}
