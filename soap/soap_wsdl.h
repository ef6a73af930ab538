/*
 * The WSDL (SOAP 1.1, document/literal wrapped) generated from the operation table: one
 * request element per operation with its parameters as precisely typed elements, one response
 * element from the operation's result schema, one fault element. Also the operation lookup by
 * SOAP name and the SOAP part of docs/API.md, so that everything follows the same table.
 */
#ifndef WEBRACK_SOAP_WSDL_H
#define WEBRACK_SOAP_WSDL_H

#include <stdio.h>

#include "api_ops.h"

/* The default endpoint written into the installed WSDL file. */
#define SOAP_DEFAULT_LOCATION "https://localhost:8443/soap"

/* Write the WSDL naming location as the endpoint; false on a write error. */
bool soap_wsdl_write(FILE *out, const char *location);

/* The WSDL as a malloc'ed string (len set), or NULL when out of memory. */
char *soap_wsdl_generate(const char *location, size_t *len);

/* The operation a SOAP name stands for; NULL if none (or not offered over SOAP). */
const struct op *soap_op_find(const char *soap_name);

/* docs/API.md: the operation's SOAP name and an example request (or why there is none). */
void soap_wsdl_write_doc(FILE *out, const struct op *op);

/* Operations offered over SOAP that lack a result schema (WSDL falls back to xsd:any). */
void soap_wsdl_list_open_results(FILE *out);

#endif
