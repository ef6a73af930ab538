/*
 * A minimal CA with OpenSSL 3: key generation, self-signed root, CSR checking and signing. Node
 * certificates carry CN = node name, extendedKeyUsage clientAuth and no CA rights; the serial is
 * random (128 bits) as RFC 5280 recommends.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca.h"

#define CSR_MAX_BYTES 16384

static void
ssl_why(char *why, size_t whylen, const char *what)
{
	char buf[200];
	unsigned long e = ERR_get_error();

	ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(why, whylen, "%s%s%s", what, e ? ": " : "", e ? buf : "");
	ERR_clear_error();
}

static bool
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return false;
	bool ok = X509_add_ext(cert, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok;
}

static bool
random_serial(X509 *cert)
{
	BIGNUM *bn = BN_new();
	bool ok = bn != NULL && BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
		  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL;
	BN_free(bn);
	return ok;
}

static bool
write_pem_file(const char *path, mode_t mode, bool key, void *obj)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	bool ok;

	if (f == NULL) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	ok = key ? PEM_write_PrivateKey(f, obj, NULL, NULL, 0, NULL, NULL) == 1
		 : PEM_write_X509(f, obj) == 1;
	return fclose(f) == 0 && ok;
}

bool
ca_init(const char *cert_path, const char *key_path, const char *common_name, char *why,
	size_t whylen)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = X509_new();
	bool ok = false;

	if (key == NULL || cert == NULL) {
		ssl_why(why, whylen, "cannot generate the CA key");
		goto out;
	}
	X509_set_version(cert, 2);
	X509_gmtime_adj(X509_getm_notBefore(cert), -300);
	X509_gmtime_adj(X509_getm_notAfter(cert), 10L * 365 * 86400);
	X509_set_pubkey(cert, key);
	X509_NAME *name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)common_name,
				   -1, -1, 0);
	X509_set_issuer_name(cert, name);
	if (!random_serial(cert) ||
	    !add_ext(cert, cert, NID_basic_constraints, "critical,CA:TRUE") ||
	    !add_ext(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    !add_ext(cert, cert, NID_subject_key_identifier, "hash") ||
	    X509_sign(cert, key, EVP_sha256()) == 0) {
		ssl_why(why, whylen, "cannot build the CA certificate");
		goto out;
	}
	if (!write_pem_file(key_path, 0600, true, key) ||
	    !write_pem_file(cert_path, 0644, false, cert)) {
		snprintf(why, whylen, "cannot write %s or %s", key_path, cert_path);
		goto out;
	}
	ok = true;
out:
	EVP_PKEY_free(key);
	X509_free(cert);
	return ok;
}

static void *
read_pem(const char *path, bool key)
{
	FILE *f = fopen(path, "r");
	void *obj;

	if (f == NULL)
		return NULL;
	obj = key ? (void *)PEM_read_PrivateKey(f, NULL, NULL, NULL)
		  : (void *)PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return obj;
}

static bool
key_acceptable(EVP_PKEY *k)
{
	switch (EVP_PKEY_get_base_id(k)) {
	case EVP_PKEY_EC:
		return EVP_PKEY_get_bits(k) >= 256;
	case EVP_PKEY_RSA:
		return EVP_PKEY_get_bits(k) >= 2048;
	case EVP_PKEY_ED25519:
		return true;
	}
	return false;
}

char *
ca_sign_csr(const char *ca_cert_path, const char *ca_key_path, const char *csr_pem,
	    const char *expect_cn, int days, char *why, size_t whylen)
{
	X509 *ca = read_pem(ca_cert_path, false), *cert = NULL;
	EVP_PKEY *ca_key = read_pem(ca_key_path, true), *pub = NULL;
	X509_REQ *req = NULL;
	BIO *in = NULL, *out = NULL;
	char *pem = NULL, cn[256];

	if (ca == NULL || ca_key == NULL) {
		snprintf(why, whylen, "the controller's CA cannot be read");
		goto out;
	}
	if (strlen(csr_pem) > CSR_MAX_BYTES ||
	    (in = BIO_new_mem_buf(csr_pem, (int)strlen(csr_pem))) == NULL ||
	    (req = PEM_read_bio_X509_REQ(in, NULL, NULL, NULL)) == NULL) {
		snprintf(why, whylen, "csr_pem is not a PEM certificate request");
		goto out;
	}
	pub = X509_REQ_get_pubkey(req);
	if (pub == NULL || X509_REQ_verify(req, pub) != 1) {
		snprintf(why, whylen, "the certificate request's signature does not verify");
		goto out;
	}
	if (!key_acceptable(pub)) {
		snprintf(why, whylen, "the node key must be P-256 (or RSA >= 2048, Ed25519)");
		goto out;
	}
	if (X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req), NID_commonName, cn,
				      sizeof(cn)) <= 0 ||
	    strcmp(cn, expect_cn) != 0) {
		snprintf(why, whylen, "the request's CN must be the node name '%s'", expect_cn);
		goto out;
	}
	cert = X509_new();
	X509_set_version(cert, 2);
	X509_gmtime_adj(X509_getm_notBefore(cert), -300);
	X509_gmtime_adj(X509_getm_notAfter(cert), (long)days * 86400);
	X509_set_pubkey(cert, pub);
	X509_NAME *subject = X509_NAME_new();
	X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, (const unsigned char *)expect_cn,
				   -1, -1, 0);
	X509_set_subject_name(cert, subject);
	X509_NAME_free(subject);
	X509_set_issuer_name(cert, X509_get_subject_name(ca));
	if (!random_serial(cert) ||
	    !add_ext(cert, ca, NID_basic_constraints, "critical,CA:FALSE") ||
	    !add_ext(cert, ca, NID_key_usage, "critical,digitalSignature") ||
	    !add_ext(cert, ca, NID_ext_key_usage, "clientAuth") ||
	    !add_ext(cert, ca, NID_authority_key_identifier, "keyid") ||
	    X509_sign(cert, ca_key, EVP_sha256()) == 0) {
		ssl_why(why, whylen, "cannot sign the node certificate");
		goto out;
	}
	out = BIO_new(BIO_s_mem());
	if (out != NULL && PEM_write_bio_X509(out, cert) == 1) {
		char *data;
		long n = BIO_get_mem_data(out, &data);
		pem = strndup(data, (size_t)n);
	}
	if (pem == NULL)
		snprintf(why, whylen, "out of memory");
out:
	BIO_free(in);
	BIO_free(out);
	X509_REQ_free(req);
	EVP_PKEY_free(pub);
	X509_free(cert);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	return pem;
}

char *
ca_cert_pem(const char *ca_cert_path)
{
	FILE *f = fopen(ca_cert_path, "r");
	char *buf;
	size_t n;

	if (f == NULL)
		return NULL;
	buf = calloc(1, 65536);
	if (buf != NULL) {
		n = fread(buf, 1, 65535, f);
		buf[n] = '\0';
	}
	fclose(f);
	return buf;
}

/*
 * A leaf certificate signed by the CA for a fresh P-256 key: CN cn, extended key usage eku
 * ("serverAuth" or "clientAuth"), subjectAltName san when not NULL; what names it in errors.
 */
static bool
issue(const char *ca_cert_path, const char *ca_key_path, const char *cn, const char *eku,
      const char *san, const char *what, X509 **cert_out, EVP_PKEY **key_out, char *why,
      size_t whylen)
{
	X509 *ca = read_pem(ca_cert_path, false), *cert = X509_new();
	EVP_PKEY *ca_key = read_pem(ca_key_path, true), *key = EVP_EC_gen("P-256");
	X509_NAME *subject = X509_NAME_new();
	bool ok = false;

	if (ca == NULL || ca_key == NULL || key == NULL || cert == NULL || subject == NULL) {
		snprintf(why, whylen, "cannot read the CA or make a key");
		goto out;
	}
	X509_set_version(cert, 2);
	X509_gmtime_adj(X509_getm_notBefore(cert), -300);
	X509_gmtime_adj(X509_getm_notAfter(cert), 365L * 86400);
	X509_set_pubkey(cert, key);
	X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
				   0);
	X509_set_subject_name(cert, subject);
	X509_set_issuer_name(cert, X509_get_subject_name(ca));
	if (!random_serial(cert) ||
	    !add_ext(cert, ca, NID_basic_constraints, "critical,CA:FALSE") ||
	    !add_ext(cert, ca, NID_key_usage, "critical,digitalSignature") ||
	    !add_ext(cert, ca, NID_ext_key_usage, eku) ||
	    (san != NULL && !add_ext(cert, ca, NID_subject_alt_name, san)) ||
	    X509_sign(cert, ca_key, EVP_sha256()) == 0) {
		char msg[128];
		snprintf(msg, sizeof(msg), "cannot sign the %s certificate", what);
		ssl_why(why, whylen, msg);
		goto out;
	}
	*cert_out = cert;
	*key_out = key;
	cert = NULL;
	key = NULL;
	ok = true;
out:
	X509_NAME_free(subject);
	X509_free(ca);
	X509_free(cert);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	return ok;
}

bool
ca_issue_server(const char *ca_cert_path, const char *ca_key_path, const char *names,
		X509 **cert_out, EVP_PKEY **key_out, char *why, size_t whylen)
{
	char san[2048] = "", first[256] = "";

	/* "a,b,10.0.0.1" -> "DNS:a,DNS:b,IP:10.0.0.1" */
	char *copy = strdup(names), *save = NULL;
	if (copy == NULL) {
		snprintf(why, whylen, "out of memory");
		return false;
	}
	for (char *tok = strtok_r(copy, ", ", &save); tok != NULL;
	     tok = strtok_r(NULL, ", ", &save)) {
		unsigned char buf[16];
		bool ip = inet_pton(AF_INET, tok, buf) == 1 || inet_pton(AF_INET6, tok, buf) == 1;
		size_t used = strlen(san);
		snprintf(san + used, sizeof(san) - used, "%s%s:%s", used ? "," : "",
			 ip ? "IP" : "DNS", tok);
		if (first[0] == '\0')
			snprintf(first, sizeof(first), "%s", tok);
	}
	free(copy);
	if (san[0] == '\0') {
		snprintf(why, whylen, "no names for the agent listener certificate");
		return false;
	}
	return issue(ca_cert_path, ca_key_path, first, "serverAuth", san, "agent listener",
		     cert_out, key_out, why, whylen);
}

bool
ca_issue_client(const char *ca_cert_path, const char *ca_key_path, const char *cn, X509 **cert_out,
		EVP_PKEY **key_out, char *why, size_t whylen)
{
	return issue(ca_cert_path, ca_key_path, cn, "clientAuth", NULL, "console client", cert_out,
		     key_out, why, whylen);
}
