/*
 * The SOAP 1.1 envelope codec (document/literal): parses a request into the operation's name,
 * its arguments as JSON (checked against the operation's parameter schema) and the WS-Security
 * UsernameToken, and writes results and faults. Hardened for hostile input: no DOCTYPE, no
 * entities beyond the five predefined ones, no network, no XInclude, strict UTF-8 without NUL
 * bytes, limits on nesting, element count and text length, and unknown, duplicate or missing
 * elements are refused. Knows nothing of HTTP or the operation table (a lookup callback names
 * each operation's parameters), so the fuzzer and the unit tests link it alone.
 */
#ifndef WEBRACK_SOAP_ENVELOPE_H
#define WEBRACK_SOAP_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "schema.h"
#include "soap_names.h"

#define SOAP_NS_ENV   "http://schemas.xmlsoap.org/soap/envelope/"
#define SOAP_NS_ENV12 "http://www.w3.org/2003/05/soap-envelope"
#define SOAP_NS_XSI   "http://www.w3.org/2001/XMLSchema-instance"
#define SOAP_NS_XSD   "http://www.w3.org/2001/XMLSchema"
#define SOAP_NS_WR    "urn:webrack:soap:1"
#define SOAP_NS_WSSE                                                                               \
	"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
#define SOAP_NS_WSU                                                                                \
	"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
#define SOAP_WSSE_PASSWORD_TEXT                                                                    \
	"http://docs.oasis-open.org/wss/2004/01/"                                                  \
	"oasis-200401-wss-username-token-profile-1.0#PasswordText"

struct soap_limits {
	size_t max_depth;    /* element nesting; the Envelope is depth 1 */
	size_t max_elements; /* elements in the whole document */
	size_t max_text;     /* bytes of one text node or attribute value */
};

#define SOAP_LIMITS_DEFAULT                                                                        \
	{                                                                                          \
		32, 10000, 65536                                                                   \
	}

/* A WS-Security UsernameToken as found; strings owned by the request. */
struct soap_wsse {
	bool present;
	char *username;
	char *password;
	char *nonce;   /* base64 as sent, syntax checked */
	char *created; /* as sent */
	time_t created_at;
	bool has_created; /* created parsed as an xsd:dateTime */
};

/* Owner: the caller; soap_request_clear() releases it. */
struct soap_request {
	char operation[SOAP_NAME_MAX]; /* local name of the Body's element ("" until known) */
	json_t *args;
	struct soap_wsse wsse;
};

/* The parameter schema of a SOAP operation name, or NULL for an unknown operation. */
typedef const struct param *(*soap_lookup_fn)(const char *operation, void *arg);

/*
 * Parse buf (len bytes). On success req->args holds the arguments (snake_case keys, as the JSON
 * binding has them), already checked by schema_check(). On failure why says what is wrong, in
 * terms of the SOAP names; nothing is left allocated except req->operation.
 */
bool soap_envelope_parse(const char *buf, size_t len, const struct soap_limits *lim,
			 soap_lookup_fn lookup, void *arg, struct soap_request *req, char *why,
			 size_t whylen) __attribute__((warn_unused_result));

void soap_request_clear(struct soap_request *req);

/* An xsd:dateTime ("2026-01-02T03:04:05Z", fraction and offset allowed) as UTC seconds. */
bool soap_parse_datetime(const char *s, time_t *out) __attribute__((warn_unused_result));

/*
 * The response envelope for operation's result: <operationResponse> with the fields of schema
 * in its order, or every member of result when schema is NULL. malloc'ed, NUL-terminated; NULL
 * when out of memory.
 */
char *soap_envelope_response(const char *operation, const struct param *schema,
			     const json_t *result, size_t *len);

/* A fault: faultcode soap:<code> (e.g. "Client.NotFound"), faultstring message, and a detail
 * <wr:fault> with code and message. */
char *soap_envelope_fault(const char *code, const char *message, size_t *len);

#endif
