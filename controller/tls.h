/*
 * TLS contexts of webrackd's listeners: TLS 1.2 or newer, modern ciphers, certificate and key from
 * the configuration.
 */
#ifndef WEBRACK_TLS_H
#define WEBRACK_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

SSL_CTX *tls_server_ctx(const char *cert, const char *key, char *why, size_t whylen);

/* Load cert + key into a throwaway context: both parse and belong together. */
bool tls_check_pair(const char *cert, const char *key, char *why, size_t whylen)
	__attribute__((warn_unused_result));

#endif
