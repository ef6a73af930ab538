/* fuzz-sources: soap/soap_envelope.c soap/soap_names.c common/schema.c */
/* fuzz-pkgs: libxml-2.0 jansson */
/*
 * libFuzzer target for the SOAP envelope codec (soap/soap_envelope.c): any byte string is a
 * request body from the network. Parsing must never crash, leak or read out of bounds; when it
 * accepts, the arguments satisfy the schema and a response written from them is produced; when
 * it refuses, it says why and leaves nothing allocated.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "soap_envelope.h"

static const char *const colours[] = {"red", "green", NULL};
static const struct param p_inner[] = {
	{"n", PARAM_INT, true, false, 0, 9, NULL, "n", NULL},
	PARAM_END,
};
static const struct param p_thing[] = {
	{"id", PARAM_INT, true, false, 1, 9223372036854775807LL, NULL, "id", NULL},
	{"name", PARAM_STRING, false, false, 1, 64, NULL, "name", NULL},
	{"secret", PARAM_SECRET, false, false, 1, 64, NULL, "secret", NULL},
	{"text", PARAM_TEXT, false, false, 0, 4096, NULL, "text", NULL},
	{"flag", PARAM_BOOL, false, false, 0, 0, NULL, "flag", NULL},
	{"colour", PARAM_ENUM, false, false, 0, 0, colours, "colour", NULL},
	{"colours", PARAM_ENUMSET, false, false, 1, 2, colours, "colours", NULL},
	{"quota", PARAM_INT, false, true, 0, 10, NULL, "nullable", NULL},
	{"cores", PARAM_INTLIST, false, false, 0, 8, NULL, "cores", NULL},
	{"inner", PARAM_OBJECT, false, false, 0, 0, NULL, "inner", p_inner},
	{"items", PARAM_ARRAY, false, false, 0, 4, NULL, "items", p_inner},
	PARAM_END,
};

static const struct param *
lookup(const char *name, void *arg)
{
	if (strcmp(name, "getThing") == 0)
		return p_thing;
	if (strcmp(name, "whoami") == 0)
		return p_thing + 11; /* no parameters */
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct soap_limits lim = SOAP_LIMITS_DEFAULT;
	struct soap_request req;
	char why[256];

	if (soap_envelope_parse((const char *)data, size, &lim, lookup, NULL, &req, why,
				sizeof(why))) {
		if (!schema_check(lookup(req.operation, NULL), req.args, why, sizeof(why)))
			abort(); /* accepted arguments must satisfy their schema */
		size_t len;
		char *xml = soap_envelope_response(req.operation, p_thing, req.args, &len);
		char *raw = soap_envelope_response(req.operation, NULL, req.args, &len);
		free(xml);
		free(raw);
		soap_request_clear(&req);
	} else {
		if (why[0] == '\0' || req.args != NULL)
			abort(); /* a refusal names its reason and keeps nothing */
	}
	return 0;
}
