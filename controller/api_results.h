/*
 * Result schemas of the operation table: what each operation's result object carries, field by
 * field, so that the WSDL declares precise output types and the SOAP encoder writes the fields
 * in the declared order. The same struct param as for parameters, read with these conventions:
 *
 *   required     the field is always present (minOccurs=1); false for fields of unions
 *   nullable     the value may be null (nillable="true")
 *   PARAM_INT    min/max are the declared range (xsd:int when it fits 32 bits, else xsd:long)
 *   PARAM_STRING text (timestamps too: ISO 8601 as PostgreSQL writes them)
 *   PARAM_ENUM   one of choices; PARAM_ENUMSET a list of choices
 *   PARAM_OBJECT a nested object described by sub
 *   PARAM_ARRAY  a list of objects described by sub; without sub a list of strings
 *   PARAM_INTLIST a list of integers (ids, core numbers)
 * Lists are repeated elements; a null or empty list is no element at all.
 *
 * Every operation added later should point its result_schema at one of these (or its own);
 * the WSDL falls back to an open type where it is NULL.
 */
#ifndef WEBRACK_API_RESULTS_H
#define WEBRACK_API_RESULTS_H

#include "schema.h"

/* Choices shared by parameters and results. */
extern const char *const api_roles[], *const api_scopes[], *const api_nic_models[];
extern const char *const api_privileges[];
extern const char *const results_vserver_states[];
extern const char *const results_task_states[];

extern const struct param r_empty[];
extern const struct param r_account[], r_account_items[];
extern const struct param r_user[], r_user_items[];
extern const struct param r_grant[], r_grant_items[];
extern const struct param r_token[], r_token_items[], r_token_created[];
extern const struct param r_vdc[], r_vdc_items[];
extern const struct param r_vserver[], r_vserver_items[], r_vserver_or_task[];
extern const struct param r_node[], r_node_items[];
extern const struct param r_task[], r_task_items[], r_task_queued[];
extern const struct param r_audit_items[];
extern const struct param r_iso_items[], r_iso_rescan[];
extern const struct param r_login[], r_whoami[];
extern const struct param r_totp_enrol[], r_totp_state[];
extern const struct param r_node_join_token[], r_node_join[];
extern const struct param r_vserver_ips[], r_vserver_ips_allocated[];
extern const struct param r_console_ticket[];

#endif
