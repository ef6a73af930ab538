/*
 * The controller's certificate authority: it signs node certificates at join time, and the agent
 * listener trusts exactly the certificates it signed. The CA key never leaves the controller.
 */
#ifndef WEBRACK_CA_H
#define WEBRACK_CA_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* Create a P-256 CA key (0600) and a self-signed certificate valid for ten years. */
bool ca_init(const char *cert_path, const char *key_path, const char *common_name, char *why,
	     size_t whylen) __attribute__((warn_unused_result));

/*
 * Check a PEM CSR (signature, P-256 or RSA >= 2048 key, CN == expect_cn) and issue a client
 * certificate for it valid `days` days. Returns the PEM (malloc'd) or NULL with why set.
 */
char *ca_sign_csr(const char *ca_cert_path, const char *ca_key_path, const char *csr_pem,
		  const char *expect_cn, int days, char *why, size_t whylen);

/*
 * A server certificate for the agent listener, signed by the CA and naming every address in
 * names (comma-separated DNS names and IP addresses), with a fresh P-256 key. Made at every
 * start, never written to disk: agents trust the CA, not this certificate.
 */
bool ca_issue_server(const char *ca_cert_path, const char *ca_key_path, const char *names,
		     X509 **cert, EVP_PKEY **key, char *why, size_t whylen)
	__attribute__((warn_unused_result));

/*
 * A client certificate (EKU clientAuth) with CN cn and a fresh P-256 key, signed by the CA, valid
 * one year; made at every start and kept in memory (webrackd's console client, PROTO_CONSOLE_CN).
 */
bool ca_issue_client(const char *ca_cert_path, const char *ca_key_path, const char *cn, X509 **cert,
		     EVP_PKEY **key, char *why, size_t whylen) __attribute__((warn_unused_result));

/* The CA certificate as PEM text (malloc'd), for joining nodes. */
char *ca_cert_pem(const char *ca_cert_path);

#endif
