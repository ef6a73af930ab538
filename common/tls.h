/*
 * TLS contexts for every webrack daemon: TLS 1.2 or newer, modern ciphers, certificates and keys
 * from the configuration; mutual TLS between controller and node agents.
 */
#ifndef WEBRACK_TLS_H
#define WEBRACK_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

SSL_CTX *tls_server_ctx(const char *cert, const char *key, char *why, size_t whylen);

/* A server context that also requires a client certificate signed by ca (the agent listener). */
SSL_CTX *tls_server_ctx_mutual(const char *cert, const char *key, const char *ca, char *why,
			       size_t whylen);

/* The same with a certificate and key held in memory (copied). */
SSL_CTX *tls_server_ctx_mutual_mem(X509 *cert, EVP_PKEY *key, const char *ca, char *why,
				   size_t whylen);

/*
 * A client context that verifies the server against ca (and its name, see tls_client_expect) and
 * presents cert/key when given (the node agent).
 */
SSL_CTX *tls_client_ctx(const char *cert, const char *key, const char *ca, char *why,
			size_t whylen);

/* The verified peer certificate's common name; false if there is none. */
bool tls_peer_cn(SSL *ssl, char *out, size_t len) __attribute__((warn_unused_result));

/*
 * TLS 1.3 suites in the order AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305 (OpenSSL's default
 * puts AES-256-GCM first): with AES-NI AES-128-GCM costs about 10% less CPU per byte, which
 * matters on bulk links (the console endpoint). With SSL_OP_CIPHER_SERVER_PREFERENCE (every
 * context here) a server context decides. False if OpenSSL refused the list.
 */
bool tls_ctx_prefer_aes128(SSL_CTX *ctx) __attribute__((warn_unused_result));

/* Load cert + key into a throwaway context: both parse and belong together. */
bool tls_check_pair(const char *cert, const char *key, char *why, size_t whylen)
	__attribute__((warn_unused_result));

#endif
