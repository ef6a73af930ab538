/*
 * Server-side TLS context construction. Kept apart from the HTTP code so that the console
 * listener (VeNCrypt) and the agent listener build their contexts the same way.
 */
#include "config.h"

#include <stdio.h>

#include <openssl/err.h>

#include "tls.h"

static void
describe_error(const char *what, const char *path, char *why, size_t whylen)
{
	char buf[256];
	unsigned long e = ERR_get_error();

	ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(why, whylen, "%s '%s': %s", what, path, e ? buf : "unknown error");
	ERR_clear_error();
}

SSL_CTX *
tls_server_ctx(const char *cert, const char *key, char *why, size_t whylen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		snprintf(why, whylen, "cannot create TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL") != 1) {
		describe_error("cipher list", "", why, whylen);
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		describe_error("cannot load certificate", cert, why, whylen);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		describe_error("cannot load private key", key, why, whylen);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		describe_error("private key does not match certificate", cert, why, whylen);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

bool
tls_check_pair(const char *cert, const char *key, char *why, size_t whylen)
{
	SSL_CTX *ctx = tls_server_ctx(cert, key, why, whylen);

	if (ctx == NULL)
		return false;
	SSL_CTX_free(ctx);
	return true;
}
