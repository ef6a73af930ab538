/*
 * Node enrolment. Nothing is written to state_dir until the controller's answer has been checked:
 * the certificate must carry our public key and our name and chain to the returned CA, so a
 * failed or hostile join leaves the node exactly as it was. The token is the credential, so it is
 * only ever sent over verified TLS unless the admin explicitly asks otherwise
 * (--insecure-first-join), and then the certificate's fingerprint is printed for checking.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "agent_settings.h"
#include "join.h"

#define REPLY_MAX_BYTES (1024 * 1024)
#define TOKEN_MAX	512

struct buffer {
	char *data;
	size_t len;
	bool too_large;
};

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
fail(const char *fmt, ...)
{
	va_list ap;

	fputs("webrack-node join: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const char *
ssl_error(void)
{
	static char buf[256];
	unsigned long e = ERR_get_error();

	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return e ? buf : "unknown error";
}

/* ---- key and CSR ---- */

static char *
bio_to_string(BIO *bio)
{
	char *data;
	long n = BIO_get_mem_data(bio, &data);
	char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;

	if (s != NULL) {
		memcpy(s, data, (size_t)n);
		s[n] = '\0';
	}
	return s;
}

static char *
make_csr(EVP_PKEY *key, const char *name)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *subject = X509_NAME_new();
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem = NULL;

	if (req == NULL || subject == NULL || bio == NULL || X509_REQ_set_version(req, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, (const unsigned char *)name,
				       -1, -1, 0) != 1 ||
	    X509_REQ_set_subject_name(req, subject) != 1 || X509_REQ_set_pubkey(req, key) != 1 ||
	    X509_REQ_sign(req, key, EVP_sha256()) <= 0 || PEM_write_bio_X509_REQ(bio, req) != 1)
		fail("cannot create the certificate request: %s", ssl_error());
	else
		pem = bio_to_string(bio);
	BIO_free(bio);
	X509_NAME_free(subject);
	X509_REQ_free(req);
	return pem;
}

static char *
key_to_pem(EVP_PKEY *key)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem = NULL;

	if (bio != NULL && PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1)
		pem = bio_to_string(bio);
	BIO_free(bio);
	return pem;
}

/* ---- HTTPS ---- */

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct buffer *b = arg;
	size_t n = size * nmemb;

	if (b->len + n > REPLY_MAX_BYTES) {
		b->too_large = true;
		return 0;
	}
	char *grown = realloc(b->data, b->len + n + 1);
	if (grown == NULL)
		return 0;
	b->data = grown;
	memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

/* Print the SHA-256 fingerprint and public key pin of the certificate the server showed. */
static void
print_server_certificate(CURL *curl)
{
	struct curl_certinfo *ci = NULL;

	if (curl_easy_getinfo(curl, CURLINFO_CERTINFO, &ci) != CURLE_OK || ci == NULL ||
	    ci->num_of_certs < 1) {
		fail("warning: could not obtain the controller's certificate");
		return;
	}
	for (struct curl_slist *s = ci->certinfo[0]; s != NULL; s = s->next) {
		if (strncmp(s->data, "Cert:", 5) != 0)
			continue;
		BIO *bio = BIO_new_mem_buf(s->data + 5, -1);
		X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
		unsigned char md[EVP_MAX_MD_SIZE], *der = NULL;
		unsigned int mdlen = 0;
		if (cert != NULL && X509_digest(cert, EVP_sha256(), md, &mdlen) == 1) {
			fprintf(stderr, "controller certificate SHA-256 fingerprint: ");
			for (unsigned int i = 0; i < mdlen; i++)
				fprintf(stderr, "%02X%s", md[i], i + 1 < mdlen ? ":" : "\n");
			int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
			unsigned char b64[4 * EVP_MAX_MD_SIZE];
			if (n > 0 &&
			    EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL) == 1 &&
			    EVP_EncodeBlock(b64, md, (int)mdlen) > 0)
				fprintf(stderr,
					"controller public key pin (for --pin): sha256//%s\n", b64);
			OPENSSL_free(der);
		}
		X509_free(cert);
		BIO_free(bio);
		return;
	}
}

/* POST body to url; the reply body in reply, HTTP status in *status. */
static bool
post_json(const struct join_options *opt, const char *url, const char *body, struct buffer *reply,
	  long *status)
{
	CURL *curl = curl_easy_init();
	struct curl_slist *headers = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode rc;

	if (curl == NULL) {
		fail("cannot initialise libcurl");
		return false;
	}
	headers = curl_slist_append(headers, "Content-Type: application/json");
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, reply);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (opt->ca_file != NULL)
		curl_easy_setopt(curl, CURLOPT_CAINFO, opt->ca_file);
	if (opt->pin != NULL) {
		/* The pin names the key itself: no CA is needed (self-signed controllers). */
		curl_easy_setopt(curl, CURLOPT_PINNEDPUBLICKEY, opt->pin);
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (opt->insecure) {
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
		curl_easy_setopt(curl, CURLOPT_CERTINFO, 1L);
	}
	rc = curl_easy_perform(curl);
	if (opt->insecure && rc != CURLE_COULDNT_CONNECT && rc != CURLE_COULDNT_RESOLVE_HOST)
		print_server_certificate(curl);
	if (rc != CURLE_OK) {
		if (reply->too_large)
			fail("%s: the reply is larger than %d bytes", url, REPLY_MAX_BYTES);
		else if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
			 rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH)
			fail("%s: the controller's certificate is not trusted: %s\n"
			     "  use --ca FILE (the controller's CA or its HTTPS certificate) or "
			     "--pin sha256//...",
			     url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
		else
			fail("%s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
	} else {
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
	}
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	return rc == CURLE_OK;
}

/* ---- checking the answer ---- */

/*
 * The result must hold cert_pem, ca_pem and agent_listen; a "name" must be ours. Other fields
 * (node_id, ...) are the controller's business and ignored: this answer comes once, from a
 * verified server, and an agent must not fail to join because the controller says more. PEM has
 * newlines, which schema_check() refuses in strings, so the object is checked by hand; the PEM
 * parser and check_certificate() then judge the content.
 */
static bool
check_result(const json_t *result, const char *name, char *why, size_t whylen)
{
	static const struct {
		const char *name;
		size_t max;
	} fields[] = {{"cert_pem", 65536}, {"ca_pem", 65536}, {"agent_listen", 300}};
	const json_t *v;

	if (!json_is_object(result)) {
		snprintf(why, whylen, "result must be an object");
		return false;
	}
	for (size_t i = 0; i < 3; i++) {
		v = json_object_get(result, fields[i].name);
		if (!json_is_string(v) || json_string_length(v) < 1 ||
		    json_string_length(v) > fields[i].max ||
		    strlen(json_string_value(v)) != json_string_length(v)) {
			snprintf(why, whylen, "'%s' must be a string of 1 to %zu bytes",
				 fields[i].name, fields[i].max);
			return false;
		}
	}
	for (const char *c = json_string_value(json_object_get(result, "agent_listen")); *c != '\0';
	     c++) {
		if ((unsigned char)*c <= 0x20 || *c == 0x7f) {
			snprintf(why, whylen, "'agent_listen' is not host:port");
			return false;
		}
	}
	v = json_object_get(result, "name");
	if (v != NULL && (!json_is_string(v) || strcmp(json_string_value(v), name) != 0)) {
		snprintf(why, whylen, "it names another node");
		return false;
	}
	return true;
}

static X509 *
parse_cert(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

	BIO_free(bio);
	return cert;
}

/* The certificate is ours (key, name), a client certificate, and chains to ca. */
static bool
check_certificate(const char *cert_pem, const char *ca_pem, EVP_PKEY *key, const char *name)
{
	X509 *cert = parse_cert(cert_pem), *ca = parse_cert(ca_pem);
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	char cn[256] = "";
	bool ok = false;

	/* PEM strings hold no NULs or control characters beyond newlines (schema + PEM). */
	if (cert == NULL || ca == NULL) {
		fail("the controller's answer holds no valid certificate%s",
		     cert == NULL ? "" : " for the CA");
	} else if (X509_check_private_key(cert, key) != 1) {
		fail("the certificate does not belong to the key we sent");
	} else if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn,
					     sizeof(cn)) <= 0 ||
		   strcmp(cn, name) != 0) {
		fail("the certificate names '%s', not this node '%s'", cn, name);
	} else if (store == NULL || ctx == NULL || X509_STORE_add_cert(store, ca) != 1 ||
		   X509_STORE_CTX_init(ctx, store, cert, NULL) != 1 ||
		   X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT) != 1) {
		fail("cannot check the certificate: %s", ssl_error());
	} else if (X509_verify_cert(ctx) != 1) {
		fail("the certificate does not verify against the returned CA: %s",
		     X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	} else {
		ok = true;
	}
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(cert);
	X509_free(ca);
	return ok;
}

/* Interpret the HTTP answer; on success *result is the reply's result object (borrowed). */
static bool
check_reply(const char *url, const char *name, long status, const struct buffer *reply,
	    json_t **doc, json_t **result)
{
	json_error_t err;
	char why[256];

	*doc = reply->data ? json_loadb(reply->data, reply->len, JSON_REJECT_DUPLICATES, &err)
			   : NULL;
	if (*doc == NULL || !json_is_object(*doc)) {
		if (status == 404)
			fail("%s: not found (is this the controller's HTTPS address, and does it "
			     "support node-join?)",
			     url);
		else
			fail("%s: HTTP %ld with a body that is not a JSON object", url, status);
		return false;
	}
	const json_t *ok = json_object_get(*doc, "ok");
	const json_t *error = json_object_get(*doc, "error");
	if (!json_is_true(ok)) {
		const char *code = json_string_value(json_object_get(error, "code"));
		const char *message = json_string_value(json_object_get(error, "message"));
		fail("the controller refused: %s (%s, HTTP %ld)", message ? message : "no message",
		     code ? code : "no code", status);
		return false;
	}
	*result = json_object_get(*doc, "result");
	if (!check_result(*result, name, why, sizeof(why))) {
		fail("the controller's answer is malformed: %s", why);
		return false;
	}
	return true;
}

/* ---- files ---- */

static bool
write_file(const char *dir, const char *leaf, const char *data, mode_t mode)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	size_t len = strlen(data);
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, leaf);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, leaf);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len || fsync(fd) != 0 ||
	    fchmod(fd, mode) != 0) {
		fail("cannot write %s: %s", tmp, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		return false;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		fail("cannot rename %s to %s: %s", tmp, path, strerror(errno));
		unlink(tmp);
		return false;
	}
	return true;
}

static bool
make_dirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return false;
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(buf, mode) != 0 && errno != EEXIST) {
				fail("cannot create %s: %s", buf, strerror(errno));
				return false;
			}
			*p = c;
			if (c == '\0')
				return true;
		}
	}
}

static char *
read_token(const char *arg)
{
	char buf[TOKEN_MAX + 2];

	if (strcmp(arg, "-") != 0)
		return strdup(arg);
	if (fgets(buf, sizeof(buf), stdin) == NULL)
		return NULL;
	buf[strcspn(buf, "\r\n")] = '\0';
	char *t = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return t;
}

int
join_run(const struct agent_settings *s, const struct join_options *opt)
{
	char crt_path[PATH_MAX], url[2048];
	EVP_PKEY *key = NULL;
	char *csr = NULL, *key_pem = NULL, *token = NULL, *body = NULL;
	struct buffer reply = {0};
	json_t *doc = NULL, *result = NULL, *req = NULL;
	long status = 0;
	int rc = 1;

	size_t ulen = strlen(opt->url);
	while (ulen > 0 && opt->url[ulen - 1] == '/')
		ulen--;
	if (strncmp(opt->url, "https://", 8) != 0 || ulen <= 8) {
		fail("'%s' is not an https:// URL (the token must not travel in clear text)",
		     opt->url);
		return 2;
	}
	snprintf(url, sizeof(url), "%.*s/api/v1/node-join", (int)ulen, opt->url);
	if (!agent_settings_state_path(s, "node.crt", crt_path, sizeof(crt_path)))
		return 1;
	if (access(crt_path, F_OK) == 0) {
		fail("%s exists: this node has already joined. To join again (e.g. under a new "
		     "name), remove node.crt, node.key and ca.crt from %s first.",
		     crt_path, s->state_dir);
		return 1;
	}
	token = read_token(opt->token);
	if (token == NULL || token[0] == '\0' || strlen(token) > TOKEN_MAX) {
		fail("no usable join token given");
		goto out;
	}
	if (opt->insecure)
		fprintf(stderr,
			"webrack-node join: WARNING: --insecure-first-join: the controller's "
			"certificate is NOT verified.\n  Compare the fingerprint printed below "
			"with "
			"`openssl x509 -noout -fingerprint -sha256 -in TLS_CERT` on the "
			"controller;\n"
			"  if they differ, the token went to someone else: delete this node there "
			"and create a new token.\n");
	if (!make_dirs(s->state_dir, 0700))
		goto out;

	key = EVP_EC_gen("P-256");
	if (key == NULL) {
		fail("cannot create a P-256 key: %s", ssl_error());
		goto out;
	}
	if ((csr = make_csr(key, s->name)) == NULL || (key_pem = key_to_pem(key)) == NULL)
		goto out;
	req = json_pack("{s:s, s:s}", "token", token, "csr_pem", csr);
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	if (body == NULL) {
		fail("cannot encode the request (is the token valid UTF-8?)");
		goto out;
	}
	if (!post_json(opt, url, body, &reply, &status) ||
	    !check_reply(url, s->name, status, &reply, &doc, &result))
		goto out;

	const char *cert_pem = json_string_value(json_object_get(result, "cert_pem"));
	const char *ca_pem = json_string_value(json_object_get(result, "ca_pem"));
	const char *agent_listen = json_string_value(json_object_get(result, "agent_listen"));
	if (!check_certificate(cert_pem, ca_pem, key, s->name))
		goto out;
	/* node.crt last: its presence is what marks the node as joined. */
	if (!write_file(s->state_dir, "node.key", key_pem, 0600) ||
	    !write_file(s->state_dir, "ca.crt", ca_pem, 0644) ||
	    !write_file(s->state_dir, "node.crt", cert_pem, 0644))
		goto out;
	printf("joined as node '%s'; key, certificate and CA stored in %s\n", s->name,
	       s->state_dir);
	if (strcmp(agent_listen, s->controller) != 0)
		printf("note: the controller's agent listener is %s, but this configuration says "
		       "controller = %s\n",
		       agent_listen, s->controller);
	rc = 0;
out:
	if (token != NULL) {
		explicit_bzero(token, strlen(token));
		free(token);
	}
	if (body != NULL) {
		explicit_bzero(body, strlen(body));
		free(body);
	}
	if (key_pem != NULL) {
		explicit_bzero(key_pem, strlen(key_pem));
		free(key_pem);
	}
	json_decref(req);
	json_decref(doc);
	free(reply.data);
	free(csr);
	EVP_PKEY_free(key);
	return rc;
}
