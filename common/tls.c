/*
 * TLS context construction, kept in one place so that the HTTPS, console and agent listeners and
 * the node agent's client all get the same protocol floor, ciphers and verification.
 */
#include "config.h"

#include <stdio.h>

#include <openssl/err.h>
#include <openssl/x509.h>

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

static SSL_CTX *
new_ctx(const SSL_METHOD *method, char *why, size_t whylen)
{
	SSL_CTX *ctx = SSL_CTX_new(method);

	if (ctx == NULL) {
		snprintf(why, whylen, "cannot create TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL") != 1) {
		describe_error("cipher list", "", why, whylen);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static bool
load_pair(SSL_CTX *ctx, const char *cert, const char *key, char *why, size_t whylen)
{
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		describe_error("cannot load certificate", cert, why, whylen);
		return false;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		describe_error("cannot load private key", key, why, whylen);
		return false;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		describe_error("private key does not match certificate", cert, why, whylen);
		return false;
	}
	return true;
}

static bool
load_ca(SSL_CTX *ctx, const char *ca, char *why, size_t whylen)
{
	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		describe_error("cannot load CA certificate", ca, why, whylen);
		return false;
	}
	return true;
}

SSL_CTX *
tls_server_ctx(const char *cert, const char *key, char *why, size_t whylen)
{
	SSL_CTX *ctx = new_ctx(TLS_server_method(), why, whylen);

	if (ctx != NULL && !load_pair(ctx, cert, key, why, whylen)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

SSL_CTX *
tls_server_ctx_mutual(const char *cert, const char *key, const char *ca, char *why, size_t whylen)
{
	SSL_CTX *ctx = tls_server_ctx(cert, key, why, whylen);

	if (ctx == NULL)
		return NULL;
	if (!load_ca(ctx, ca, why, whylen)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	return ctx;
}

SSL_CTX *
tls_server_ctx_mutual_mem(X509 *cert, EVP_PKEY *key, const char *ca, char *why, size_t whylen)
{
	SSL_CTX *ctx = new_ctx(TLS_server_method(), why, whylen);

	if (ctx == NULL)
		return NULL;
	if (SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		describe_error("cannot use the certificate", "(memory)", why, whylen);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (!load_ca(ctx, ca, why, whylen)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	return ctx;
}

SSL_CTX *
tls_client_ctx(const char *cert, const char *key, const char *ca, char *why, size_t whylen)
{
	SSL_CTX *ctx = new_ctx(TLS_client_method(), why, whylen);

	if (ctx == NULL)
		return NULL;
	if ((cert != NULL && !load_pair(ctx, cert, key, why, whylen)) ||
	    (ca != NULL && !load_ca(ctx, ca, why, whylen))) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, ca != NULL ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	return ctx;
}

bool
tls_peer_cn(SSL *ssl, char *out, size_t len)
{
	X509 *peer = SSL_get1_peer_certificate(ssl);
	bool ok = false;

	if (peer == NULL)
		return false;
	if (SSL_get_verify_result(ssl) == X509_V_OK &&
	    X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, out, (int)len) >
		    0)
		ok = true;
	X509_free(peer);
	return ok;
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

bool
tls_ctx_prefer_aes128(SSL_CTX *ctx)
{
	return SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
					     "TLS_CHACHA20_POLY1305_SHA256") == 1;
}
