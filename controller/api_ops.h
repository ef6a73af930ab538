/*
 * The operation table: the single source of every API. The JSON binding, the SOAP binding and its
 * WSDL, wrctl and docs/API.md are all generated from it, so they cannot drift apart.
 */
#ifndef WEBRACK_API_OPS_H
#define WEBRACK_API_OPS_H

#include "call.h"
#include "schema.h"

enum op_flags {
	OP_MUTATES = 1 << 0,	/* changes state: task row + audit row */
	OP_PUBLIC = 1 << 1,	/* no authentication (login) */
	OP_PENDING_OK = 1 << 2, /* allowed while the second factor is pending */
	OP_ENROL_OK = 1 << 3,	/* allowed while TOTP enrolment is required */
	OP_NO_CSRF = 1 << 4,	/* login itself cannot carry a CSRF token */
	OP_NO_SOAP = 1 << 5,	/* session operations: not offered by the SOAP binding */
};

struct op {
	const char *name;
	const char *summary;
	unsigned flags;
	const struct param *params;
	const char *result; /* what the result holds, for the docs */
	void (*handler)(struct call *c);
	/*
	 * The fields of the result object, for the WSDL's output types and the SOAP encoder
	 * (conventions in api_results.h). NULL: the WSDL declares an open result (xsd:any).
	 */
	const struct param *result_schema;
};

extern const struct op api_ops[];

const struct op *api_op_find(const char *name);

/* Write docs/API.md (Markdown) for every operation. */
void api_ops_write_markdown(FILE *out);

#endif
